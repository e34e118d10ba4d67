//! File fields of record writes (spec §3.9, §3.10): uploads applied to the field values under
//! generated names, their validation (existing names, count, size, sniffed MIME type), storing
//! them before the database write and removing what a write replaced or a delete left behind
//! once the transaction has committed.

use std::sync::Arc;

use sb_schema::{Collection, Field, FieldError, FieldKind, FileOptions, record};
use serde_json::{Map, Value as Json};

use super::db::{Db, RecordFiles};
use super::write::RecordInput;
use crate::App;
use crate::error::{CoreError, CoreResult};

const DEFAULT_MAX_SIZE: i64 = 5 << 20;

/// One upload of the request, under the name it will be stored as.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub field: String,
    pub name: String,
    pub original_name: String,
    pub bytes: bytes::Bytes,
}

/// The uploads of one record write.
#[derive(Debug, Clone, Default)]
pub(crate) struct Uploads(pub Vec<Upload>);

impl Uploads {
    fn of_field<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Upload> + 'a {
        self.0.iter().filter(move |u| u.field == field)
    }
}

/// Applies the uploaded files of `input` to `data` (after the plain and modifier keys):
/// a plain `field` part replaces the value, unless the same body also sets `field`, whose
/// names are then kept; `field+` appends and `+field` prepends. Parts that name no file field
/// are ignored, and so are hidden fields for non-superusers (as their plain keys are).
pub(crate) fn apply_uploads(
    c: &Collection,
    data: &mut Map<String, Json>,
    input: &RecordInput,
    superuser: bool,
) -> Uploads {
    let mut uploads = Uploads::default();
    // Plain parts first, then prepends and appends (increasing key length, spec §3.9).
    let mut parts: Vec<&(String, crate::UploadedFile)> = input.files.iter().collect();
    parts.sort_by_key(|(key, _)| key.len());
    let mut replaced = std::collections::HashSet::new();
    for (key, file) in parts {
        let (name, modifier) = record::parse_modifier_key(key);
        let Some(field) = c.field(name) else { continue };
        let FieldKind::File(_) = &field.kind else { continue };
        if field.hidden && !superuser {
            continue;
        }
        let detected = sb_files::content_type(&file.bytes[..file.bytes.len().min(3072)], "");
        let stored = sb_files::stored_name(&file.original_name, extension_for(&detected));
        uploads.0.push(Upload {
            field: field.name.clone(),
            name: stored.clone(),
            original_name: file.original_name.clone(),
            bytes: file.bytes.clone(),
        });
        let current = record::to_unique_strings(data.get(&field.name).unwrap_or(&Json::Null));
        let mut names = match modifier {
            Some(record::Modifier::Prepend) => [vec![stored], current].concat(),
            Some(record::Modifier::Add) => [current, vec![stored]].concat(),
            Some(_) => continue,
            None if !field.kind.is_multiple() => vec![stored],
            None => {
                let keep = input.data.contains_key(&field.name) || replaced.contains(&field.name);
                replaced.insert(field.name.clone());
                if keep { [current, vec![stored]].concat() } else { vec![stored] }
            }
        };
        if !field.kind.is_multiple() {
            names = names.split_off(names.len().saturating_sub(1));
        }
        data.insert(field.name.clone(), record::normalize(field, &Json::from(names)));
    }
    uploads
}

/// The extension of a sniffed type, for uploads whose name has none.
fn extension_for(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or("");
    match essence {
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "image/svg+xml" => ".svg",
        "application/pdf" => ".pdf",
        "application/json" => ".json",
        "text/plain" => ".txt",
        "text/html" => ".html",
        _ => "",
    }
}

/// Validates a file field's new value: names that are neither already attached nor uploaded
/// now, the number of files, and every upload's size and sniffed MIME type (spec §2.4).
pub(crate) fn check_field(
    f: &Field,
    o: &FileOptions,
    value: &Json,
    before: &[String],
    uploads: &Uploads,
) -> Option<FieldError> {
    let names = record::to_unique_strings(value);
    let invalid: Vec<String> = names
        .iter()
        .filter(|n| !before.contains(n) && !uploads.of_field(&f.name).any(|u| &u.name == *n))
        .cloned()
        .collect();
    if !invalid.is_empty() {
        return Some(
            FieldError::new(
                "validation_invalid_file",
                format!("Invalid new files: [{}].", invalid.join(" ")),
            )
            .with_param("invalidFiles", invalid),
        );
    }
    let max = o.max_select.max(1);
    if names.len() as i64 > max {
        return Some(
            FieldError::new(
                "validation_too_many_files",
                format!("The maximum allowed files is {max}."),
            )
            .with_param("maxSelect", max),
        );
    }
    let max_size = if o.max_size > 0 { o.max_size } else { DEFAULT_MAX_SIZE };
    for u in uploads.of_field(&f.name).filter(|u| names.contains(&u.name)) {
        if u.bytes.len() as i64 > max_size {
            return Some(
                FieldError::new(
                    "validation_file_size_limit",
                    format!(
                        "Failed to upload {} - the maximum allowed file size is {max_size} bytes.",
                        u.original_name
                    ),
                )
                .with_param("file", u.original_name.clone())
                .with_param("maxSize", max_size),
            );
        }
        if !o.mime_types.is_empty() {
            let detected = sb_files::content_type(&u.bytes[..u.bytes.len().min(3072)], "");
            if !sb_files::mime_matches(&detected, &o.mime_types) {
                return Some(FieldError::new(
                    "validation_invalid_mime_type",
                    format!("{:?} mime type must be one of: {}.", u.name, o.mime_types.join(", ")),
                ));
            }
        }
    }
    None
}

/// Every file name held by the record's file fields.
pub(crate) fn file_names(c: &Collection, data: &Map<String, Json>) -> Vec<String> {
    c.fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::File(_)))
        .flat_map(|f| record::to_unique_strings(data.get(&f.name).unwrap_or(&Json::Null)))
        .collect()
}

impl App {
    /// Writes the uploads that ended up in the record's values, before the database write.
    /// On failure the ones already written are removed again; inside a transaction they are
    /// noted in its journal first, so a rollback removes them too.
    pub(crate) async fn store_uploads(
        &self,
        db: &mut Db<'_>,
        c: &Arc<Collection>,
        record_id: &str,
        data: &Map<String, Json>,
        uploads: &Uploads,
    ) -> CoreResult<()> {
        let kept = file_names(c, data);
        let names: Vec<String> =
            uploads.0.iter().filter(|u| kept.contains(&u.name)).map(|u| u.name.clone()).collect();
        if names.is_empty() {
            return Ok(());
        }
        db.note_stored(|| RecordFiles {
            collection: c.clone(),
            record_id: record_id.to_owned(),
            names: names.clone(),
        });
        let store = self.file_store()?;
        let mut written = Vec::new();
        for u in uploads.0.iter().filter(|u| names.contains(&u.name)) {
            let key = sb_files::Key::new(&[&c.id, record_id, &u.name])
                .map_err(|_| CoreError::bad_request("Invalid file name."))?;
            if let Err(e) = store.put(&key, u.bytes.clone()).await {
                self.remove_files(c, record_id, &written).await;
                return Err(CoreError::internal(e));
            }
            written.push(u.name.clone());
        }
        Ok(())
    }

    /// Removes files of a record (and their thumbs); failures are logged.
    pub(crate) async fn remove_files(&self, c: &Collection, record_id: &str, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let store = match self.file_store() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "file storage unavailable; files left behind");
                return;
            }
        };
        for name in names {
            let (Ok(key), Ok(thumbs)) = (
                sb_files::Key::new(&[&c.id, record_id, name]),
                sb_files::Key::new(&[&c.id, record_id, &format!("thumbs_{name}")]),
            ) else {
                continue;
            };
            if let Err(e) = self.delete_stored(&store, &key, false).await {
                tracing::error!(error = %e, file = key.as_str(), "cannot delete a file");
            }
            if let Err(e) = self.delete_stored(&store, &thumbs, true).await {
                tracing::error!(error = %e, file = thumbs.as_str(), "cannot delete thumbs");
            }
        }
    }

    /// Removes the files an update replaced or removed: now when it has committed, or once
    /// the transaction it is part of commits.
    pub(crate) async fn remove_replaced_files(
        &self,
        db: &mut Db<'_>,
        c: &Arc<Collection>,
        record_id: &str,
        before: &Map<String, Json>,
        after: &Map<String, Json>,
    ) {
        let now = file_names(c, after);
        let gone: Vec<String> =
            file_names(c, before).into_iter().filter(|n| !now.contains(n)).collect();
        if gone.is_empty() {
            return;
        }
        if db.commits_each_write() {
            self.remove_files(c, record_id, &gone).await;
        } else {
            db.note_replaced(RecordFiles {
                collection: c.clone(),
                record_id: record_id.to_owned(),
                names: gone,
            });
        }
    }

    /// Removes each record's files of `list` (a transaction's journal, after its end).
    pub(crate) async fn remove_journal_files(&self, list: &[RecordFiles]) {
        for f in list {
            self.remove_files(&f.collection, &f.record_id, &f.names).await;
        }
    }
}

impl App {
    /// Removes a whole collection folder (after a collection delete or truncate commits).
    pub(crate) async fn remove_folder(&self, collection_id: &str) {
        let Ok(prefix) = sb_files::Key::new(&[collection_id]) else { return };
        match self.file_store() {
            Ok(store) => {
                if let Err(e) = self.delete_stored(&store, &prefix, true).await {
                    tracing::error!(error = %e, folder = prefix.as_str(), "cannot delete files");
                }
            }
            Err(e) => tracing::error!(error = %e, "file storage unavailable; files left behind"),
        }
    }
}

/// Whether a collection has file fields (deletes of others touch no storage).
pub(crate) fn has_file_fields(c: &Collection) -> bool {
    c.fields.iter().any(|f| matches!(f.kind, FieldKind::File(_)))
}

impl App {
    /// Removes the folders of deleted records with file fields, in the background (the
    /// deletes have committed; a failure is logged).
    pub(crate) fn remove_deleted_files(self: &App, changes: &[super::changes::RecordChange]) {
        let folders: Vec<(String, String)> = changes
            .iter()
            .filter(|ch| {
                ch.action == super::changes::ChangeAction::Delete
                    && has_file_fields(&ch.record.collection)
            })
            .map(|ch| (ch.record.collection.id.clone(), ch.record.id().to_owned()))
            .collect();
        if folders.is_empty() {
            return;
        }
        let Ok(store) = self.file_store() else {
            tracing::error!("file storage unavailable; files of deleted records left behind");
            return;
        };
        let queue = self.delete_queue();
        tokio::spawn(async move {
            for (collection_id, record_id) in folders {
                let Ok(prefix) = sb_files::Key::new(&[&collection_id, &record_id]) else {
                    continue;
                };
                let deleted = crate::backups::delete_or_defer(&queue, &store, &prefix, true).await;
                if let Err(e) = deleted {
                    tracing::error!(error = %e, folder = prefix.as_str(), "cannot delete record files");
                }
            }
        });
    }
}
