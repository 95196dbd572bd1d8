//! Concurrent revocation checks share Redis round trips: each check hands
//! its keys to one task, which sends every check waiting at that moment as
//! a single `MGET` and hands each its values back. Alone, a check goes out
//! at once; under load one round trip serves many handshakes, so the
//! per-request cost of the client (a channel hop, a reply to parse, a
//! write) is paid once per batch rather than once per handshake.

use redis::aio::ConnectionManager;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wsauth::StoreError;

use crate::store_error;

/// The checks one `MGET` carries at most.
const MAX_BATCH: usize = 128;

/// How long one `MGET` may take before every check in it fails.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The keys of one check; its answer holds each key's value, in order.
pub(crate) type Keys = [String; 4];
type Values = [Option<i64>; 4];

struct Check {
    keys: Keys,
    answer: oneshot::Sender<Result<Values, StoreError>>,
}

/// The handle of the batching task; the task ends with the last handle.
#[derive(Debug, Clone)]
pub(crate) struct MgetBatcher {
    checks: mpsc::Sender<Check>,
}

impl MgetBatcher {
    /// Starts the task on the current Tokio runtime.
    pub(crate) fn start(conn: ConnectionManager) -> Self {
        let (checks, waiting) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(serve(conn, waiting));
        Self { checks }
    }

    /// The values of `keys` (absent keys are `None`).
    pub(crate) async fn get(&self, keys: Keys) -> Result<Values, StoreError> {
        let (answer, answered) = oneshot::channel();
        let stopped = || StoreError("redis: the revocation check task stopped".into());
        self.checks.send(Check { keys, answer }).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn serve(mut conn: ConnectionManager, mut waiting: mpsc::Receiver<Check>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut mget = redis::cmd("MGET");
        for check in &batch {
            for key in &check.keys {
                mget.arg(key);
            }
        }
        let reply = tokio::time::timeout(TIMEOUT, mget.query_async::<Vec<Option<i64>>>(&mut conn));
        match reply.await {
            Ok(Ok(values)) if values.len() == 4 * batch.len() => {
                for (check, v) in batch.drain(..).zip(values.chunks_exact(4)) {
                    let _ = check.answer.send(Ok([v[0], v[1], v[2], v[3]]));
                }
            }
            outcome => {
                let message = match outcome {
                    Ok(Ok(_)) => "redis: MGET answered the wrong number of values".to_owned(),
                    Ok(Err(e)) => store_error(e).0,
                    Err(_) => format!("redis: no answer within {} s", TIMEOUT.as_secs()),
                };
                for check in batch.drain(..) {
                    let _ = check.answer.send(Err(StoreError(message.clone())));
                }
            }
        }
    }
}
