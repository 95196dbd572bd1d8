//! The data directory and the secrets in it: the directory 0700, the key and
//! database files 0600. Found readable by others, they are tightened when
//! this process owns them (with a warning); otherwise the server refuses to
//! start and says how to fix it.

use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` with mode 0700, or makes sure an existing one is private.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()));
    }
    tighten(dir, 0o700)
}

/// Makes sure an existing file holding secrets is readable by its owner only.
pub fn private_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() { tighten(path, 0o600) } else { Ok(()) }
}

/// A SQLite database file and its companions beside it (`-wal`, `-shm`).
pub fn private_database(path: &Path) -> anyhow::Result<()> {
    private_file(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        private_file(Path::new(&companion))?;
    }
    Ok(())
}

fn tighten(path: &Path, mode: u32) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot inspect {}", path.display()))?;
    if meta.permissions().mode() & 0o077 == 0 {
        return Ok(());
    }
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if me != Some(meta.uid()) {
        anyhow::bail!(
            "{} is readable by other users and owned by another user (uid {}); as its owner run: chmod {:o} {}",
            path.display(),
            meta.uid(),
            mode,
            path.display()
        );
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "was readable by other users; restricted it");
    Ok(())
}
