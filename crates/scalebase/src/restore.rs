//! Applying a staged backup restore (see `sb_core::backups`): with the old application
//! stopped and its store closed, the database file and the storage folder are moved aside,
//! the restored ones moved in, and a new application is opened on them. If that fails, the
//! restored files are removed, the previous ones moved back and reopened: a failed restore
//! leaves the data as it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use sb_core::App;
use sb_core::backups::StagedRestore;

use crate::config::{Database, StorageConfig};

/// Swaps the staged data in and returns the application opened on it (or on the previous
/// data when the restored one cannot be opened).
pub async fn apply(
    app: Arc<App>,
    staged: StagedRestore,
    storage: &StorageConfig,
) -> anyhow::Result<Arc<App>> {
    let Database::Sqlite { path: db, .. } = &storage.database else {
        bail!("a restore was staged on a database other than SQLite");
    };
    app.close_logs().await;
    app.store().close().await;
    drop(app);
    tracing::info!(backup = %staged.key, "restoring a backup");
    let (new_db, new_storage) = sb_core::backups::staged_paths(&staged);
    let previous = staged.temp.join("previous");
    let mut targets = Targets::new(db, &storage.dir.join("storage"), &previous);
    let outcome = match targets.swap_in(&new_db, &new_storage) {
        Ok(()) => match crate::open_app(storage).await {
            Ok(app) => Ok(app),
            Err(e) => Err(e.context("the restored data cannot be opened")),
        },
        Err(e) => Err(e.context("cannot move the restored data in place")),
    };
    let app = match outcome {
        Ok(app) => {
            tracing::info!(backup = %staged.key, "backup restored");
            app
        }
        Err(e) => {
            tracing::error!(backup = %staged.key, error = format!("{e:#}"), "restore failed; the previous data is kept");
            targets
                .put_back()
                .context("cannot put the previous data back after a failed restore")?;
            crate::open_app(storage).await?
        }
    };
    if let Err(e) = std::fs::remove_dir_all(&staged.temp) {
        tracing::warn!(dir = %staged.temp.display(), error = %e, "cannot remove the restore's temporary folder");
    }
    Ok(app)
}

/// The live paths a restore replaces, where their previous versions are kept, and a journal
/// of what was moved (so undoing touches only that).
struct Targets {
    /// (live path, where the previous one is kept)
    items: Vec<(PathBuf, PathBuf)>,
    /// Items moved aside.
    aside: Vec<usize>,
    /// Restored paths moved in.
    placed: Vec<PathBuf>,
}

impl Targets {
    fn new(db: &Path, storage: &Path, previous: &Path) -> Targets {
        let side = |suffix: &str| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        let items = vec![
            (db.to_path_buf(), previous.join("data.db")),
            (side("-wal"), previous.join("data.db-wal")),
            (side("-shm"), previous.join("data.db-shm")),
            (storage.to_path_buf(), previous.join("storage")),
        ];
        Targets { items, aside: Vec::new(), placed: Vec::new() }
    }

    /// Moves the current data aside and the restored data in.
    fn swap_in(&mut self, new_db: &Path, new_storage: &Path) -> anyhow::Result<()> {
        for (i, (live, kept)) in self.items.iter().enumerate() {
            if std::fs::symlink_metadata(live).is_ok() {
                move_path(live, kept)
                    .with_context(|| format!("moving {} aside", live.display()))?;
                self.aside.push(i);
            }
        }
        let db = self.items[0].0.clone();
        move_path(new_db, &db)
            .with_context(|| format!("moving the restored database to {}", db.display()))?;
        self.placed.push(db);
        let storage = self.items[3].0.clone();
        if new_storage.exists() {
            move_path(new_storage, &storage)
                .with_context(|| format!("moving the restored files to {}", storage.display()))?;
            self.placed.push(storage);
        }
        Ok(())
    }

    /// Undoes [`Targets::swap_in`] (also a partial one): removes what it moved in (and the
    /// database's side files the failed open made), moves back what it moved aside.
    fn put_back(&self) -> anyhow::Result<()> {
        let mut gone = self.placed.clone();
        if !self.placed.is_empty() {
            // Side files now belong to the restored database (the old ones were moved aside).
            gone.extend([self.items[1].0.clone(), self.items[2].0.clone()]);
        }
        for path in gone {
            remove(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        for &i in &self.aside {
            let (live, kept) = &self.items[i];
            move_path(kept, live).with_context(|| format!("moving {} back", live.display()))?;
        }
        Ok(())
    }
}

/// Renames; a file on another filesystem (a database outside the data folder) is copied and
/// synced, then the source removed.
fn move_path(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if from.is_file() && e.kind() == std::io::ErrorKind::CrossesDevices => {
            std::fs::copy(from, to)?;
            std::fs::File::open(to)?.sync_all()?;
            std::fs::remove_file(from)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Finishes or undoes a restore a crash interrupted, and removes the temporary folders backups
/// leave in the data folder (`.sb_backup_*`, `.sb_upload_*`, `.sb_restore_*`). Run before the
/// store is opened. A restore whose database was not moved in yet is undone (the previous files
/// go back where they are missing); one whose database was moved in is completed.
pub fn recover(storage: &StorageConfig) -> anyhow::Result<()> {
    let Database::Sqlite { path: db, .. } = &storage.database else { return Ok(()) };
    let Ok(entries) = std::fs::read_dir(&storage.dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let temp = entry.path();
        if name.starts_with(".sb_restore_") {
            let previous = temp.join("previous");
            let staged = temp.join("data");
            let targets = Targets::new(db, &storage.dir.join("storage"), &previous);
            // Undo unless the restored database is in place: its file was not moved in yet,
            // or a failed restore was being undone (the live database is gone, the previous
            // one kept).
            let undo = staged.join("data.db").exists()
                || (std::fs::symlink_metadata(db).is_err() && previous.join("data.db").exists());
            if undo {
                for (live, kept) in &targets.items {
                    if kept.exists() && std::fs::symlink_metadata(live).is_err() {
                        tracing::warn!(path = %live.display(), "undoing an interrupted restore");
                        move_path(kept, live)?;
                    }
                }
            } else if staged.join("storage").exists() && !storage.dir.join("storage").exists() {
                tracing::warn!("completing an interrupted restore");
                move_path(&staged.join("storage"), &storage.dir.join("storage"))?;
            }
        } else if !(name.starts_with(".sb_backup_") || name.starts_with(".sb_upload_")) {
            continue;
        }
        std::fs::remove_dir_all(&temp)
            .with_context(|| format!("cannot remove {}", temp.display()))?;
    }
    Ok(())
}
