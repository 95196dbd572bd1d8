//! Whether this node has caught up with what other nodes revoked. The bus
//! delivers only to a node subscribed when an event is published, and a
//! revocation whose Redis write failed reached only the database. So after
//! every (re)subscription the node reloads every revocation from the
//! database into its mirror (through the one inbound path,
//! `wsauth-domain`'s `inbound.rs`), closes (4003) the live sockets of what
//! it had not heard of, and until it has done so for the current subscription it
//! refuses revocation checks (503): a node that may have missed a
//! revocation serves nothing that depends on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wsauth::cluster::{BusState, RevocationBus};
use wsauth_redis::RedisBus;

use wsauth_domain::inbound::{Inbound, News};

/// How often the bus's subscription is looked at.
const WATCH_INTERVAL: Duration = Duration::from_millis(50);

/// The subscription this node has caught up to.
#[derive(Default)]
pub(super) struct CatchUp {
    bus: OnceLock<RedisBus>,
    /// The bus's subscription count at the last completed reload (0: none).
    caught_up_to: AtomicU64,
}

impl CatchUp {
    /// Whether the bus is subscribed and the mirror was reloaded since.
    pub(super) fn is_current(&self) -> bool {
        let Some(bus) = self.bus.get() else { return false };
        let caught_up_to = self.caught_up_to.load(Ordering::SeqCst);
        bus.state() == BusState::Current && caught_up_to == bus.subscriptions()
    }

    /// Reloads everything if the bus subscribed since the last reload, and
    /// closes the sockets of what it learned.
    async fn catch_up(&self, bus: &RedisBus, inbound: &Inbound) {
        let subscription = bus.subscriptions();
        if bus.state() != BusState::Current
            || subscription == self.caught_up_to.load(Ordering::SeqCst)
        {
            return;
        }
        match inbound.received(News::MaybeMissed).await {
            Ok(()) => {
                self.caught_up_to.store(subscription, Ordering::SeqCst);
                tracing::info!("caught up with revocations made while the bus was away");
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload revocations; retrying"),
        }
    }

    /// Follows `bus`: catches up once now, then after every resubscription,
    /// until `shutdown`.
    pub(super) async fn follow(
        self: Arc<Self>,
        bus: RedisBus,
        inbound: Inbound,
        shutdown: CancellationToken,
    ) {
        let bus = self.bus.get_or_init(|| bus).clone();
        self.catch_up(&bus, &inbound).await;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(WATCH_INTERVAL);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = every.tick() => {}
                }
                self.catch_up(&bus, &inbound).await;
            }
        });
    }
}
