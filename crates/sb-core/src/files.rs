//! The file storage of the application (local directory, or S3 when `settings.s3.enabled`,
//! switched at run time) and file serving (spec §8.2): lookup of the file among the record's
//! file fields, protected files behind the view rule and a file token, cached thumbs.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use sb_files::{FileStore, Key, S3Config, ThumbSpec};
use sb_query::RequestInfo;
use sb_schema::{Collection, FieldKind, record};
use sb_sql::{Expr, FromItem, Select, SelectItem, Stmt};
use serde_json::Value as Json;

use crate::records::view::load_record;
use crate::records::{compile_rule, holds_value, is_superuser};
use crate::{App, CoreError, CoreResult};

/// Content types that get thumbs.
const THUMB_TYPES: &[&str] = &["image/png", "image/jpg", "image/jpeg", "image/gif", "image/webp"];
/// Bytes read to sniff a stored file's type.
const SNIFF_LEN: u64 = 3072;
/// Thumbs generated at once (each may hold a decoded image of up to `sb_files::MAX_ALLOC`).
const THUMB_CONCURRENCY: usize = 2;

/// The storage currently in use, rebuilt when `settings.s3` changes.
pub(crate) struct Storage {
    local_root: std::path::PathBuf,
    current: parking_lot::Mutex<Option<(Json, FileStore)>>,
    thumb_slots: tokio::sync::Semaphore,
}

impl Storage {
    pub(crate) fn new(local_root: std::path::PathBuf) -> Storage {
        Storage {
            local_root,
            current: parking_lot::Mutex::new(None),
            thumb_slots: tokio::sync::Semaphore::new(THUMB_CONCURRENCY),
        }
    }
}

/// The store `s3` settings (PocketBase's `s3` object) select: S3 when `enabled`, else the local
/// directory `local_root`; kept in `cache` and rebuilt only when the settings change.
pub(crate) fn cached_store(
    cache: &parking_lot::Mutex<Option<(Json, FileStore)>>,
    s3: &Json,
    local_root: &std::path::Path,
) -> CoreResult<FileStore> {
    let enabled = s3.get("enabled").and_then(Json::as_bool).unwrap_or(false);
    let wanted = if enabled { s3.clone() } else { Json::Null };
    let mut current = cache.lock();
    if let Some((config, store)) = current.as_ref()
        && *config == wanted
    {
        return Ok(store.clone());
    }
    let store = if enabled {
        let text = |k: &str| s3.get(k).and_then(Json::as_str).unwrap_or("").to_owned();
        FileStore::s3(&S3Config {
            bucket: text("bucket"),
            region: text("region"),
            endpoint: text("endpoint"),
            access_key: text("accessKey"),
            secret: text("secret"),
            force_path_style: s3.get("forcePathStyle").and_then(Json::as_bool).unwrap_or(false),
        })
    } else {
        FileStore::local(local_root)
    }
    .map_err(CoreError::internal)?;
    *current = Some((wanted, store.clone()));
    Ok(store)
}

/// A file ready to be served.
pub struct ServedFile {
    store: FileStore,
    key: Key,
    /// The name the file is served under (`<thumb>_<name>` for thumbs).
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// The whole content when it was read already (fresh thumbs).
    cached: Option<Bytes>,
}

impl ServedFile {
    /// The content, or `range` of it.
    pub async fn read(&self, range: Option<Range<u64>>) -> CoreResult<Bytes> {
        if let Some(all) = &self.cached {
            let r = range.unwrap_or(0..all.len() as u64);
            return Ok(all.slice(r.start as usize..r.end as usize));
        }
        self.store
            .get(&self.key, range)
            .await
            .map_err(CoreError::internal)?
            .ok_or_else(CoreError::not_found)
    }

    /// The content, or `range` of it, as a stream read while it is sent.
    pub async fn stream(
        &self,
        range: Option<Range<u64>>,
    ) -> CoreResult<futures::stream::BoxStream<'static, std::io::Result<Bytes>>> {
        use futures::StreamExt;
        if let Some(all) = &self.cached {
            let r = range.unwrap_or(0..all.len() as u64);
            let part = all.slice(r.start as usize..r.end as usize);
            return Ok(futures::stream::once(async move { Ok(part) }).boxed());
        }
        let chunks = self
            .store
            .get_stream(&self.key, range)
            .await
            .map_err(CoreError::internal)?
            .ok_or_else(CoreError::not_found)?;
        Ok(chunks.map(|c| c.map_err(std::io::Error::other)).boxed())
    }

    /// Whether browsers may show it inline.
    pub fn inline(&self) -> bool {
        sb_files::is_inline(&self.content_type)
    }
}

/// What a file request asks for.
#[derive(Debug, Default, Clone)]
pub struct FileRequest {
    pub thumb: String,
    /// The `?token=` file token.
    pub token: String,
}

impl App {
    /// The file store in use: S3 when `settings.s3.enabled`, else the local directory.
    pub fn file_store(&self) -> CoreResult<FileStore> {
        let settings = self.settings();
        let s3 = settings.get(&["s3"]).cloned().unwrap_or(Json::Null);
        cached_store(&self.storage.current, &s3, &self.storage.local_root)
    }

    /// `GET /api/files/COLL/RID/FILENAME` (spec §8.2): the file (or its thumb) if the record
    /// holds it and, for protected files, the file token's principal may view the record.
    pub async fn serve_file(
        &self,
        collection: &str,
        record_id: &str,
        filename: &str,
        request: &FileRequest,
    ) -> CoreResult<ServedFile> {
        let catalog = self.catalog();
        let c = catalog.get(collection).cloned().ok_or_else(CoreError::not_found)?;
        if !sb_files::is_valid_component(record_id) || !sb_files::is_valid_component(filename) {
            return Err(CoreError::not_found());
        }
        let record = load_record(self.store.as_ref(), &c, record_id, None)
            .await?
            .ok_or_else(CoreError::not_found)?;
        let field = c
            .fields
            .iter()
            .find(|f| {
                matches!(f.kind, FieldKind::File(_))
                    && record::to_unique_strings(record.data.get(&f.name).unwrap_or(&Json::Null))
                        .iter()
                        .any(|n| n == filename)
            })
            .ok_or_else(CoreError::not_found)?;
        let FieldKind::File(options) = &field.kind else { return Err(CoreError::not_found()) };
        if options.protected && !self.may_view_protected(&c, record_id, &request.token).await? {
            return Err(CoreError::not_found());
        }
        // View records keep their files in the source record's folder.
        let (owner_collection, owner_id) = if c.is_view() {
            self.view_file_owner(&c, &field.name, record_id, filename).await?
        } else {
            (c.id.clone(), record_id.to_owned())
        };
        let store = self.file_store()?;
        let key = Key::new(&[&owner_collection, &owner_id, filename])
            .map_err(|_| CoreError::not_found())?;
        let meta = store
            .head(&key)
            .await
            .map_err(CoreError::internal)?
            .ok_or_else(CoreError::not_found)?;
        let head = store
            .get(&key, Some(0..meta.size.min(SNIFF_LEN)))
            .await
            .map_err(CoreError::internal)?
            .ok_or_else(CoreError::not_found)?;
        let content_type = sb_files::content_type(&head, filename);
        let original = ServedFile {
            store: store.clone(),
            key,
            name: filename.to_owned(),
            content_type: content_type.clone(),
            size: meta.size,
            last_modified: meta.last_modified,
            cached: None,
        };
        let thumb = request.thumb.as_str();
        let allowed = thumb == "100x100" || options.thumbs.iter().any(|t| t == thumb);
        let Some(spec) = ThumbSpec::parse(thumb).filter(|_| allowed) else { return Ok(original) };
        if !THUMB_TYPES.contains(&content_type.as_str()) {
            return Ok(original);
        }
        match self
            .thumb(&store, &original, &owner_collection, &owner_id, filename, thumb, spec)
            .await
        {
            Ok(served) => Ok(served),
            Err(e) => {
                tracing::debug!(error = %e, file = filename, thumb, "thumb failed; serving the original");
                Ok(original)
            }
        }
    }

    /// The cached thumb, generated (on a blocking thread, a bounded number at once) and stored
    /// on first request.
    #[allow(clippy::too_many_arguments)]
    async fn thumb(
        &self,
        store: &FileStore,
        original: &ServedFile,
        collection_id: &str,
        record_id: &str,
        filename: &str,
        thumb: &str,
        spec: ThumbSpec,
    ) -> CoreResult<ServedFile> {
        let thumb_name = format!("{thumb}_{filename}");
        let key = Key::new(&[collection_id, record_id, &format!("thumbs_{filename}"), &thumb_name])
            .map_err(CoreError::internal)?;
        let served = |size, last_modified, content_type: String, cached| ServedFile {
            store: store.clone(),
            key: key.clone(),
            name: thumb_name.clone(),
            content_type,
            size,
            last_modified,
            cached,
        };
        if let Some(meta) = store.head(&key).await.map_err(CoreError::internal)? {
            let head = store
                .get(&key, Some(0..meta.size.min(SNIFF_LEN)))
                .await
                .map_err(CoreError::internal)?
                .unwrap_or_default();
            let ct = sb_files::content_type(&head, &thumb_name);
            return Ok(served(meta.size, meta.last_modified, ct, None));
        }
        let _slot = self.storage.thumb_slots.acquire().await.map_err(CoreError::internal)?;
        let source = original.read(None).await?;
        let (bytes, ct) = tokio::task::spawn_blocking(move || sb_files::make_thumb(&source, spec))
            .await
            .map_err(CoreError::internal)?
            .map_err(CoreError::internal)?;
        let bytes = Bytes::from(bytes);
        store.put(&key, bytes.clone()).await.map_err(CoreError::internal)?;
        Ok(served(bytes.len() as u64, chrono::Utc::now(), ct.to_owned(), Some(bytes)))
    }

    /// The view rule check of a protected file: `@request.context = "protectedFile"`, the
    /// principal taken only from the file token.
    async fn may_view_protected(
        &self,
        c: &Arc<Collection>,
        id: &str,
        token: &str,
    ) -> CoreResult<bool> {
        let auth = if token.is_empty() { None } else { self.authenticate_file_token(token).await };
        let req = RequestInfo {
            context: "protectedFile".into(),
            method: "GET".into(),
            auth,
            ..Default::default()
        };
        if is_superuser(&req) {
            return Ok(true);
        }
        let Some(rule) = c.view_rule.as_deref() else { return Ok(false) };
        if rule.is_empty() {
            return Ok(true);
        }
        let catalog = self.catalog();
        let condition = compile_rule(&catalog, c, rule, "t", &req)?;
        self.exists_where(c, id, condition).await
    }

    /// The source record holding a view record's file (as PocketBase finds it): the view's
    /// column must read straight from a file field of a base collection (through aliases and
    /// views of views), and the source record is the one whose field holds the file name.
    async fn view_file_owner(
        &self,
        view: &Collection,
        field: &str,
        _record_id: &str,
        filename: &str,
    ) -> CoreResult<(String, String)> {
        let catalog = self.catalog();
        let Some((source, source_field)) = crate::views::column_source(view, field, catalog.all())
        else {
            tracing::debug!(view = %view.name, field, "a view file column without a source field");
            return Err(CoreError::not_found());
        };
        let Some(f) = source.field(&source_field) else { return Err(CoreError::not_found()) };
        if !matches!(f.kind, FieldKind::File(_)) {
            return Err(CoreError::not_found());
        }
        let holds = holds_value("t", &source_field, f.kind.is_multiple(), filename);
        let select = Select {
            columns: vec![SelectItem::Expr { expr: Expr::col("t", "id"), alias: None }],
            from: Some(FromItem::Table { name: source.name.clone(), alias: Some("t".into()) }),
            where_: Some(holds),
            limit: Some(1),
            ..Default::default()
        };
        let rows = self.store.query(&Stmt::Select(select)).await?;
        match rows.rows.into_iter().next().and_then(|r| r.into_iter().next()?.into_string()) {
            Some(id) => Ok((source.id.clone(), id)),
            None => Err(CoreError::not_found()),
        }
    }
}

impl App {
    /// The keys (`<collection id>/<record id>/<name>`) of every file stored for a collection.
    pub async fn stored_files(&self, collection_id: &str) -> CoreResult<Vec<String>> {
        let prefix = Key::new(&[collection_id]).map_err(CoreError::internal)?;
        self.file_store()?.keys_under(&prefix).await.map_err(CoreError::internal)
    }

    /// Whether `name` (a file, or `thumbs_<file>/<thumb>_<file>`) is stored for a record.
    pub async fn stored_file_exists(
        &self,
        collection_id: &str,
        record_id: &str,
        name: &str,
    ) -> CoreResult<bool> {
        let mut parts = vec![collection_id, record_id];
        parts.extend(name.split('/'));
        let key = Key::new(&parts).map_err(CoreError::internal)?;
        self.file_store()?.exists(&key).await.map_err(CoreError::internal)
    }
}
