//! The object store behind file fields: a local directory or an S3-compatible bucket, through
//! `object_store`, addressed only by [`Key`]s made of validated components.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use crate::names::is_valid_component;

/// An object's content, chunk by chunk.
pub type ByteStream = futures::stream::BoxStream<'static, Result<Bytes, StoreError>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid storage key component")]
    InvalidKey,
    #[error("file storage: {0}")]
    Backend(String),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// A storage key: one or more validated components joined by `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(Path);

impl Key {
    /// Builds a key; every component must pass [`is_valid_component`] (no separators, no
    /// leading dot, so no `.`/`..`), which makes escaping the storage root impossible.
    pub fn new(parts: &[&str]) -> Result<Key, StoreError> {
        if parts.is_empty() || !parts.iter().all(|p| is_valid_component(p)) {
            return Err(StoreError::InvalidKey);
        }
        Path::parse(parts.join("/")).map(Key).map_err(|_| StoreError::InvalidKey)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

/// Size and modification time of a stored object.
#[derive(Debug, Clone)]
pub struct FileMeta {
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// Settings of an S3-compatible backend (PocketBase's `settings.s3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
    pub force_path_style: bool,
}

/// A file store (cheap to clone).
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
    label: &'static str,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({})", self.label)
    }
}

impl FileStore {
    /// Files under a local directory (created when missing). Writes go to a temporary file
    /// renamed into place, so readers never see a partial file.
    pub fn local(root: &std::path::Path) -> Result<FileStore, StoreError> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::Backend(e.to_string()))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(root)?
            .with_automatic_cleanup(true);
        Ok(FileStore { inner: Arc::new(fs), label: "local" })
    }

    /// Files in an S3-compatible bucket. Requests are bounded in time.
    pub fn s3(config: &S3Config) -> Result<FileStore, StoreError> {
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key)
            .with_secret_access_key(&config.secret)
            .with_virtual_hosted_style_request(!config.force_path_style)
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_allow_http(true)
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(60)),
            )
            .with_retry(object_store::RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(30),
                ..Default::default()
            });
        if !config.endpoint.is_empty() {
            builder = builder.with_endpoint(config.endpoint.trim_end_matches('/'));
        }
        Ok(FileStore { inner: Arc::new(builder.build()?), label: "s3" })
    }

    /// Whether this is the local directory backend.
    pub fn is_local(&self) -> bool {
        self.label == "local"
    }

    pub async fn put(&self, key: &Key, bytes: Bytes) -> Result<(), StoreError> {
        self.inner.put(&key.0, PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    /// The object's metadata; `None` when it does not exist.
    pub async fn head(&self, key: &Key) -> Result<Option<FileMeta>, StoreError> {
        match self.inner.head(&key.0).await {
            Ok(m) => Ok(Some(FileMeta { size: m.size, last_modified: m.last_modified })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, key: &Key) -> Result<bool, StoreError> {
        Ok(self.head(key).await?.is_some())
    }

    /// The whole object, or `range` of it; `None` when it does not exist.
    pub async fn get(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> Result<Option<Bytes>, StoreError> {
        let result = match range {
            Some(r) if r.is_empty() => return Ok(Some(Bytes::new())),
            Some(r) => self.inner.get_range(&key.0, r).await,
            None => match self.inner.get(&key.0).await {
                Ok(g) => g.bytes().await,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The object, or `range` of it, as a stream of chunks (read as the receiver takes
    /// them, never whole into memory); `None` when it does not exist.
    pub async fn get_stream(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> Result<Option<ByteStream>, StoreError> {
        if range.as_ref().is_some_and(Range::is_empty) {
            return Ok(Some(futures::stream::empty().boxed()));
        }
        let options = object_store::GetOptions {
            range: range.map(object_store::GetRange::Bounded),
            ..Default::default()
        };
        match self.inner.get_opts(&key.0, options).await {
            Ok(found) => Ok(Some(found.into_stream().map(|c| c.map_err(StoreError::from)).boxed())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes one object (a missing object is not an error).
    pub async fn delete(&self, key: &Key) -> Result<(), StoreError> {
        match self.inner.delete(&key.0).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The keys of every object under `prefix` (a "folder"), sorted.
    pub async fn keys_under(&self, prefix: &Key) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> =
            self.paths_under(prefix).await?.iter().map(ToString::to_string).collect();
        keys.sort();
        Ok(keys)
    }

    /// The paths of every object under `prefix`; a missing folder has none.
    async fn paths_under(&self, prefix: &Key) -> Result<Vec<Path>, StoreError> {
        let mut listing = self.inner.list(Some(&prefix.0));
        let mut paths = Vec::new();
        while let Some(item) = listing.next().await {
            match item {
                Ok(meta) => paths.push(meta.location),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(paths)
    }

    /// Deletes every object under `prefix` (a "folder").
    pub async fn delete_prefix(&self, prefix: &Key) -> Result<(), StoreError> {
        for key in self.paths_under(prefix).await? {
            match self.inner.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The objects directly at the root of the store (no "folders"), with their metadata.
    pub async fn list_root(&self) -> Result<Vec<(String, FileMeta)>, StoreError> {
        let listing = self.inner.list_with_delimiter(None).await?;
        Ok(listing
            .objects
            .into_iter()
            .map(|m| {
                let meta = FileMeta { size: m.size, last_modified: m.last_modified };
                (m.location.to_string(), meta)
            })
            .collect())
    }

    /// The whole object as a stream of chunks, with its metadata; `None` when it does not exist.
    pub async fn get_stream_with_meta(
        &self,
        key: &Key,
    ) -> Result<Option<(FileMeta, ByteStream)>, StoreError> {
        match self.inner.get(&key.0).await {
            Ok(g) => {
                let meta = FileMeta { size: g.meta.size, last_modified: g.meta.last_modified };
                let stream = g.into_stream().map(|c| c.map_err(StoreError::from)).boxed();
                Ok(Some((meta, stream)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the local file at `path` under `key`, in parts (never whole in memory).
    pub async fn put_file(&self, key: &Key, path: &std::path::Path) -> Result<(), StoreError> {
        use tokio::io::AsyncReadExt;
        let backend = |e: std::io::Error| StoreError::Backend(e.to_string());
        let mut file = tokio::fs::File::open(path).await.map_err(backend)?;
        let upload = self.inner.put_multipart(&key.0).await?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    writer.abort().await.ok();
                    return Err(backend(e));
                }
            };
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }
}
