//! Backups (spec §8.7): zips of the data (the database and the local file storage), kept in
//! `<dataDir>/backups` or in the S3 bucket of `settings.backups.s3`.
//!
//! A backup never stops writes: the database is copied with the store's online snapshot
//! (SQLite's backup API, one read transaction, so the copy is the database as of one commit),
//! then the local storage folder is copied. Files are written before the database rows that
//! name them, so every file the snapshot references exists already; deletes of local files
//! wait in a queue while a backup runs (see [`App::delete_stored`]), so none of them disappears
//! before it is copied.
//!
//! A restore is staged here and applied by the process's host (`scalebase::run`): the archive is
//! checked and extracted into a folder beside the data, the host is asked to restart
//! ([`App::restore_requested`]), and it then stops serving, closes the store, swaps the files and
//! opens a new `App` on them — keeping the old data until the new one opens.
//!
//! PostgreSQL has no file to copy: every route answers a 400 that points to `pg_dump`.

mod archive;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use sb_files::{ByteStream, FileMeta, FileStore, Key};
use sb_schema::{ErrorMap, FieldError};
use serde_json::{Value as Json, json};
use tokio::io::AsyncWriteExt;

use crate::{App, CoreError, CoreResult};

/// Prefix of the names of backups made by the `__pbAutoBackup__` job.
pub const AUTO_PREFIX: &str = "@auto_pb_backup_";
/// The id of the automatic backups job.
pub const AUTO_BACKUP_JOB: &str = "__pbAutoBackup__";

const BUSY: &str = "Try again later - another backup/restore process has already been started.";
const MISSING: &str = "Missing or invalid backup file.";
const POSTGRES: &str = "Backups are not available with the PostgreSQL database: back it up with \
     pg_dump and restore it with pg_restore (or the database service's own snapshots).";

/// Local file deletes held back while a backup runs (`None`: none running); `true` marks a
/// folder (everything under the key).
pub(crate) type DeleteQueue = Arc<Mutex<Option<Vec<(Key, bool)>>>>;

/// Backup state of one application.
pub(crate) struct Backups {
    /// The data folder: `backups/` (local backups) and the temporary folders live in it.
    data_dir: PathBuf,
    /// The local file storage folder, copied into backups.
    storage_dir: PathBuf,
    /// The name of the backup being created or restored (one at a time).
    active: Mutex<Option<String>>,
    /// Local file deletes held back while a backup copies the storage folder.
    deferred: DeleteQueue,
    /// The backups store, rebuilt when `settings.backups.s3` changes.
    current: Mutex<Option<(Json, FileStore)>>,
    /// The extracted restore waiting for the host to apply it.
    pending: Mutex<Option<StagedRestore>>,
    restart: tokio::sync::Notify,
}

impl Backups {
    pub(crate) fn new(data_dir: PathBuf, storage_dir: PathBuf) -> Backups {
        Backups {
            data_dir,
            storage_dir,
            active: Mutex::new(None),
            deferred: Arc::new(Mutex::new(None)),
            current: Mutex::new(None),
            pending: Mutex::new(None),
            restart: tokio::sync::Notify::new(),
        }
    }
}

/// A restore ready to be applied: `dir/data.db` and `dir/storage/` replace the current ones.
#[derive(Debug)]
pub struct StagedRestore {
    /// The backup's key (for logs).
    pub key: String,
    /// The extracted data.
    pub dir: PathBuf,
    /// Removed once the restore is applied or given up.
    pub temp: PathBuf,
}

/// A backup being downloaded.
pub struct BackupDownload {
    pub name: String,
    pub meta: FileMeta,
    pub body: ByteStream,
}

/// Releases the active slot when dropped.
struct ActiveGuard<'a>(&'a Backups);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        *self.0.active.lock() = None;
    }
}

impl App {
    /// Whether this database can be backed up here (SQLite).
    pub fn backups_available(&self) -> bool {
        self.store.can_snapshot()
    }

    /// `canBackup` of the superuser health answer: available and none running.
    pub fn can_backup(&self) -> bool {
        self.backups_available() && self.backups.active.lock().is_none()
    }

    fn require_backups(&self) -> CoreResult<()> {
        if self.backups_available() { Ok(()) } else { Err(CoreError::bad_request(POSTGRES)) }
    }

    fn start_active(&self, name: &str) -> CoreResult<ActiveGuard<'_>> {
        let mut active = self.backups.active.lock();
        if active.is_some() {
            return Err(CoreError::bad_request(BUSY));
        }
        *active = Some(name.to_owned());
        Ok(ActiveGuard(&self.backups))
    }

    /// The store backups are kept in: S3 when `settings.backups.s3.enabled`, else
    /// `<dataDir>/backups`.
    fn backups_store(&self) -> CoreResult<FileStore> {
        let settings = self.settings();
        let s3 = settings.get(&["backups", "s3"]).cloned().unwrap_or(Json::Null);
        let local = self.backups.data_dir.join("backups");
        crate::files::cached_store(&self.backups.current, &s3, &local)
    }

    /// A temporary folder inside the data folder (same filesystem, so renames work).
    fn temp_dir(&self, prefix: &str) -> CoreResult<tempfile::TempDir> {
        std::fs::create_dir_all(&self.backups.data_dir).map_err(CoreError::internal)?;
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&self.backups.data_dir)
            .map_err(CoreError::internal)
    }

    /// `GET /api/backups`: `[{key, size, modified}]` by key.
    pub async fn list_backups(&self) -> CoreResult<Json> {
        self.require_backups()?;
        let mut items = self.backup_files().await?;
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Json::Array(
            items
                .into_iter()
                .map(|(key, meta)| {
                    json!({
                        "modified": sb_schema::datetime::format(meta.last_modified),
                        "key": key,
                        "size": meta.size,
                    })
                })
                .collect(),
        ))
    }

    async fn backup_files(&self) -> CoreResult<Vec<(String, FileMeta)>> {
        let files = self.backups_store()?.list_root().await.map_err(CoreError::internal)?;
        // Objects being written locally (`name#n`) and names no key may have are not backups.
        Ok(files
            .into_iter()
            .filter(|(k, _)| !k.contains('#') && sb_files::is_valid_component(k))
            .collect())
    }

    /// `POST /api/backups`: creates a backup named `name` (or the default name) now.
    pub async fn create_backup(&self, name: Option<&str>) -> CoreResult<()> {
        self.require_backups()?;
        if self.backups.active.lock().is_some() {
            return Err(CoreError::bad_request(BUSY));
        }
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let store = self.backups_store()?;
                if let Some(err) = check_new_name(n, &store).await? {
                    let mut data = ErrorMap::new();
                    data.insert("name", err);
                    return Err(CoreError::validation(
                        "An error occurred while validating the submitted data.",
                        data,
                    ));
                }
                n.to_owned()
            }
            None => self.default_backup_name("pb_backup_"),
        };
        self.write_backup(&name).await
    }

    /// `pb_backup_<snake_case appName>_<UTC YYYYMMDDHHMMSS>.zip` (PocketBase's names).
    fn default_backup_name(&self, prefix: &str) -> String {
        let settings = self.settings();
        let app_name = settings.get(&["meta", "appName"]).and_then(Json::as_str).unwrap_or("");
        let mut snake = snake_case(app_name);
        snake.truncate(50);
        format!("{prefix}{snake}_{}.zip", chrono::Utc::now().format("%Y%m%d%H%M%S"))
    }

    /// Makes the archive and stores it as `name`.
    async fn write_backup(&self, name: &str) -> CoreResult<()> {
        let key = Key::new(&[name]).map_err(|_| CoreError::bad_request(MISSING))?;
        let _active = self.start_active(name)?;
        let started = std::time::Instant::now();
        let temp = self.temp_dir(".sb_backup_")?;
        let db = temp.path().join("data.db");
        let zip = temp.path().join("backup.zip");
        // Hold local deletes from the snapshot on, so the storage copy has every file the
        // snapshot references.
        *self.backups.deferred.lock() = Some(Vec::new());
        let made = async {
            self.store.snapshot(&db).await.map_err(|e| {
                CoreError::internal(format!("database snapshot failed: {}", e.message))
            })?;
            let storage = self.backups.storage_dir.clone();
            let (zip_path, db_path) = (zip.clone(), db.clone());
            tokio::task::spawn_blocking(move || {
                archive::create(&zip_path, &db_path, Some(&storage))
            })
            .await
            .map_err(CoreError::internal)?
            .map_err(|e| CoreError::internal(format!("writing the backup archive failed: {e}")))
        }
        .await;
        self.release_deferred_deletes().await;
        made?;
        std::fs::remove_file(&db).ok();
        self.backups_store()?.put_file(&key, &zip).await.map_err(CoreError::internal)?;
        tracing::info!(backup = name, elapsed = ?started.elapsed(), "backup created");
        Ok(())
    }

    /// Runs the deletes held back during a backup.
    async fn release_deferred_deletes(&self) {
        let held = self.backups.deferred.lock().take().unwrap_or_default();
        if held.is_empty() {
            return;
        }
        let Ok(store) = FileStore::local(&self.backups.storage_dir) else { return };
        for (key, folder) in held {
            let done =
                if folder { store.delete_prefix(&key).await } else { store.delete(&key).await };
            if let Err(e) = done {
                tracing::error!(error = %e, file = key.as_str(), "cannot delete a file");
            }
        }
    }

    /// Deletes a stored file (`folder`: everything under the key). While a backup copies the
    /// local storage, deletes of local files are queued and run when it ends.
    pub(crate) async fn delete_stored(
        &self,
        store: &FileStore,
        key: &Key,
        folder: bool,
    ) -> Result<(), sb_files::StoreError> {
        delete_or_defer(&self.backups.deferred, store, key, folder).await
    }

    /// A handle for deletes made from spawned tasks (see [`App::delete_stored`]).
    pub(crate) fn delete_queue(&self) -> DeleteQueue {
        self.backups.deferred.clone()
    }

    /// `GET /api/backups/KEY?token=`: the backup, for a superuser's file token.
    pub async fn download_backup(&self, token: &str, key: &str) -> CoreResult<BackupDownload> {
        let auth = if token.is_empty() { None } else { self.authenticate_file_token(token).await };
        if !auth.is_some_and(|a| a.is_superuser()) {
            return Err(CoreError::Forbidden(
                "Insufficient permissions to access the resource.".into(),
            ));
        }
        self.require_backups()?;
        let key_ = Key::new(&[key]).map_err(|_| CoreError::not_found())?;
        let (meta, body) = self
            .backups_store()?
            .get_stream_with_meta(&key_)
            .await
            .map_err(CoreError::internal)?
            .ok_or_else(CoreError::not_found)?;
        Ok(BackupDownload { name: key.to_owned(), meta, body })
    }

    /// `DELETE /api/backups/KEY`.
    pub async fn delete_backup(&self, key: &str) -> CoreResult<()> {
        self.require_backups()?;
        if self.backups.active.lock().as_deref() == Some(key) {
            return Err(CoreError::bad_request(
                "The backup is currently being used and cannot be deleted.",
            ));
        }
        let missing = || {
            CoreError::bad_request(format!(
                "Invalid or already deleted backup file. Raw error: \n[key: {key}] not found."
            ))
        };
        let key_ = Key::new(&[key]).map_err(|_| missing())?;
        let store = self.backups_store()?;
        if !store.exists(&key_).await.map_err(CoreError::internal)? {
            return Err(missing());
        }
        store.delete(&key_).await.map_err(CoreError::internal)
    }

    /// `POST /api/backups/upload`: stores an uploaded archive under its file name (without
    /// any folder part). The content must be a zip.
    pub async fn upload_backup(
        &self,
        file_name: &str,
        body: impl Stream<Item = Result<Bytes, String>> + Unpin + Send,
    ) -> CoreResult<()> {
        self.require_backups()?;
        let name = file_name.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
        let invalid = |err: FieldError| {
            let mut data = ErrorMap::new();
            data.insert("file", err);
            CoreError::validation("An error occurred while validating the submitted data.", data)
        };
        let key = Key::new(&[&name]).map_err(|_| invalid(FieldError::match_invalid()))?;
        let store = self.backups_store()?;
        if store.exists(&key).await.map_err(CoreError::internal)? {
            return Err(invalid(FieldError::new(
                "validation_backup_name_exists",
                "Backup file with the specified name already exists.",
            )));
        }
        let temp = self.temp_dir(".sb_upload_")?;
        let path = temp.path().join("upload.zip");
        let body = body.map(|c| {
            c.map_err(|_| {
                CoreError::bad_request("An error occurred while loading the submitted data.")
            })
        });
        let head = write_stream(&path, body).await?;
        // A zip starts with a local file header, or is an empty archive.
        if head[..] != *b"PK\x03\x04" && head[..] != *b"PK\x05\x06" {
            return Err(invalid(FieldError::new(
                "validation_invalid_mime_type",
                format!("{name:?} mime type must be one of: application/zip."),
            )));
        }
        store.put_file(&key, &path).await.map_err(CoreError::internal)
    }

    /// `POST /api/backups/KEY/restore`: checks and extracts the backup, then asks the host to
    /// restart on it ([`App::restore_requested`]). The slot stays taken until then.
    pub async fn restore_backup(&self, key: &str) -> CoreResult<()> {
        self.require_backups()?;
        let key_ = Key::new(&[key]).map_err(|_| CoreError::bad_request(MISSING))?;
        let active = self.start_active(key)?;
        let temp = self.temp_dir(".sb_restore_")?;
        let archive_path = temp.path().join("backup.zip");
        let (_, body) = self
            .backups_store()?
            .get_stream_with_meta(&key_)
            .await
            .map_err(CoreError::internal)?
            .ok_or_else(|| CoreError::bad_request(MISSING))?;
        write_stream(&archive_path, body.map(|c| c.map_err(CoreError::internal))).await?;
        let dir = temp.path().join("data");
        let (a, d) = (archive_path.clone(), dir.clone());
        tokio::task::spawn_blocking(move || archive::extract(&a, &d, archive::Limits::default()))
            .await
            .map_err(CoreError::internal)?
            .map_err(|e| CoreError::bad_request(format!("{MISSING} Raw error: \n{e}.")))?;
        std::fs::remove_file(&archive_path).ok();
        let temp = temp.keep();
        *self.backups.pending.lock() = Some(StagedRestore { key: key.to_owned(), dir, temp });
        // The slot stays taken: this app serves only until the host restarts it.
        std::mem::forget(active);
        self.backups.restart.notify_one();
        tracing::info!(backup = key, "restore staged; restarting");
        Ok(())
    }

    /// Resolves once a restore is staged (the host then stops serving and calls
    /// [`App::take_staged_restore`]).
    pub async fn restore_requested(&self) {
        self.backups.restart.notified().await;
    }

    /// The staged restore, if any.
    pub fn take_staged_restore(&self) -> Option<StagedRestore> {
        self.backups.pending.lock().take()
    }

    /// The `__pbAutoBackup__` job: a backup named `@auto_pb_backup_...`, then only the newest
    /// `backups.cronMaxKeep` automatic backups are kept (0: all).
    pub(crate) async fn auto_backup(&self) -> CoreResult<()> {
        self.require_backups()?;
        let name = self.default_backup_name(AUTO_PREFIX);
        self.write_backup(&name).await?;
        let keep =
            self.settings().get(&["backups", "cronMaxKeep"]).and_then(Json::as_u64).unwrap_or(0)
                as usize;
        if keep == 0 {
            return Ok(());
        }
        let mut autos: Vec<_> = self
            .backup_files()
            .await?
            .into_iter()
            .filter(|(k, _)| k.starts_with(AUTO_PREFIX))
            .collect();
        autos.sort_by(|a, b| b.1.last_modified.cmp(&a.1.last_modified).then(b.0.cmp(&a.0)));
        let store = self.backups_store()?;
        for (key, _) in autos.into_iter().skip(keep) {
            if let Ok(k) = Key::new(&[&key])
                && let Err(e) = store.delete(&k).await
            {
                tracing::error!(backup = %key, error = %e, "cannot delete an old auto backup");
            }
        }
        Ok(())
    }
}

/// Writes the chunks of `body` to the new file `path` (synced); returns its first 4 bytes.
async fn write_stream(
    path: &std::path::Path,
    mut body: impl Stream<Item = CoreResult<Bytes>> + Unpin,
) -> CoreResult<Vec<u8>> {
    let mut out = tokio::fs::File::create_new(path).await.map_err(CoreError::internal)?;
    let mut head = Vec::with_capacity(4);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if head.len() < 4 {
            head.extend(chunk.iter().take(4 - head.len()));
        }
        out.write_all(&chunk).await.map_err(CoreError::internal)?;
    }
    out.sync_all().await.map_err(CoreError::internal)?;
    Ok(head)
}

/// Deletes `key` from `store`, or queues it while a backup copies the local storage.
pub(crate) async fn delete_or_defer(
    queue: &Mutex<Option<Vec<(Key, bool)>>>,
    store: &FileStore,
    key: &Key,
    folder: bool,
) -> Result<(), sb_files::StoreError> {
    if store.is_local()
        && let Some(held) = queue.lock().as_mut()
    {
        held.push((key.clone(), folder));
        return Ok(());
    }
    if folder { store.delete_prefix(key).await } else { store.delete(key).await }
}

/// PocketBase's checks of a requested backup name: 1–150 characters, `^[a-z0-9_-]+\.zip$`,
/// not taken.
async fn check_new_name(name: &str, store: &FileStore) -> CoreResult<Option<FieldError>> {
    let len = name.chars().count();
    if !(1..=150).contains(&len) {
        return Ok(Some(FieldError::length_out_of_range(1, 150)));
    }
    let stem = name.strip_suffix(".zip").unwrap_or("");
    let valid = !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Ok(Some(FieldError::match_invalid()));
    }
    let key = Key::new(&[name]).map_err(|_| CoreError::bad_request(MISSING))?;
    if store.exists(&key).await.map_err(CoreError::internal)? {
        return Ok(Some(FieldError::new(
            "validation_backup_name_exists",
            "The backup file name is invalid or already exists.",
        )));
    }
    Ok(None)
}

/// PocketBase's `inflector.Snakecase`: words split at anything but ASCII letters and digits,
/// an underscore before an upper-case letter that follows a lower-case one, lower-cased.
pub(crate) fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for word in s.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push('_');
        }
        let mut prev_upper = true;
        for (i, c) in word.chars().enumerate() {
            let upper = c.is_ascii_uppercase();
            if upper && i > 0 && !prev_upper {
                out.push('_');
            }
            prev_upper = upper;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Where a staged restore's files go (see `scalebase::restore`).
pub fn staged_paths(staged: &StagedRestore) -> (PathBuf, PathBuf) {
    (staged.dir.join(archive::DB_ENTRY), staged.dir.join(archive::STORAGE_ENTRY))
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_is_pocketbase_s() {
        assert_eq!(snake_case("Acme"), "acme");
        assert_eq!(snake_case("My CoolApp x"), "my_cool_app_x");
        assert_eq!(snake_case("test_app"), "test_app");
        assert_eq!(snake_case("HTTPServer"), "httpserver");
        assert_eq!(snake_case("héllo wörld"), "h_llo_w_rld");
        assert_eq!(snake_case(""), "");
    }
}
