//! File storage for record file fields: a backend-neutral object store (local directory or
//! S3-compatible) addressed by validated keys, stored-name generation, content sniffing and
//! bounded image thumbnails.
//!
//! Keys are built only from validated components (`<collectionId>/<recordId>/<name>`), so a
//! client-supplied name can never address anything outside its record's folder.

mod names;
mod sniff;
mod store;
mod thumbs;

pub use names::{is_valid_component, random_suffix, stored_name};
pub use sniff::{content_type, is_inline, mime_matches};
pub use store::{ByteStream, FileMeta, FileStore, Key, S3Config, StoreError};
pub use thumbs::{ThumbError, ThumbSpec, make_thumb};

#[cfg(test)]
mod tests;
