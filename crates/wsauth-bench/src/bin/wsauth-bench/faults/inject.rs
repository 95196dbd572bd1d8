//! Making the database fail and recover: its write lock held by another
//! connection, or the disk under it filled (a tmpfs of 256 MiB at most,
//! checked before a byte is written).

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Fault, FaultsArgs};

/// Makes the database fail and recover.
pub(super) enum Injector {
    Lock(PathBuf),
    Full { database: PathBuf, filler: PathBuf },
}

/// What keeps the fault in place.
pub(super) enum Held {
    Lock(sqlx::SqliteConnection),
    Full(PathBuf),
}

impl Injector {
    pub(super) async fn prepare(args: &FaultsArgs) -> anyhow::Result<Self> {
        let database = args.database.clone().context("faults needs --database")?;
        if !database.is_file() {
            bail!("{} is not a database file", database.display());
        }
        match args.fault {
            Fault::Lock => Ok(Self::Lock(database)),
            Fault::Full => {
                let dir = args.fill_dir.clone().context("--fault full needs --fill-dir")?;
                check_small_tmpfs(&dir)?;
                Ok(Self::Full { database, filler: dir.join("wsauth-bench-filler") })
            }
        }
    }

    pub(super) async fn inject(&self) -> anyhow::Result<Held> {
        match self {
            Self::Lock(db) => {
                let mut conn = connect(db).await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await?;
                Ok(Held::Lock(conn))
            }
            Self::Full { database, filler } => {
                use std::io::Write;
                truncate_log(database).await?;
                let mut file = std::fs::File::create(filler)?;
                let chunk = vec![0u8; 1 << 16];
                // 256 MiB at most (checked), in 64 KiB writes.
                for _ in 0..4200 {
                    match file.write(&chunk) {
                        Ok(n) if n == chunk.len() => {}
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                            return Ok(Held::Full(filler.clone()));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                bail!("the disk did not fill up")
            }
        }
    }

    pub(super) async fn clear(&self, held: Held) -> anyhow::Result<()> {
        match held {
            Held::Lock(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await?;
            }
            Held::Full(filler) => std::fs::remove_file(filler)?,
        }
        Ok(())
    }
}

async fn connect(db: &Path) -> anyhow::Result<sqlx::SqliteConnection> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
    Ok(sqlx::ConnectOptions::connect(&options).await?)
}

/// Checkpoints the server's write-ahead log and truncates it to nothing
/// (retried while a reader is in the way).
async fn truncate_log(db: &Path) -> anyhow::Result<()> {
    let mut conn = connect(db).await?;
    for _ in 0..50 {
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut conn).await?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the write-ahead log could not be checkpointed")
}

/// Refuses to fill anything but a tmpfs of at most 256 MiB.
fn check_small_tmpfs(dir: &Path) -> anyhow::Result<()> {
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%T %b %S"])
        .arg(dir)
        .output()
        .context("cannot run stat")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let size = match fields.as_slice() {
        [kind, blocks, block_size] if *kind == "tmpfs" => {
            blocks.parse::<u64>()?.saturating_mul(block_size.parse::<u64>()?)
        }
        _ => bail!("{} is not on a tmpfs ({text}): refusing to fill it", dir.display()),
    };
    if size > 256 << 20 {
        bail!(
            "the tmpfs at {} holds {size} bytes: refusing to fill more than 256 MiB",
            dir.display()
        );
    }
    Ok(())
}
