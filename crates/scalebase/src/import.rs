//! `scalebase import pocketbase PB_DATA_DIR`: imports a PocketBase (v0.23 or later) data
//! directory into a Scalebase deployment (SQLite or PostgreSQL).
//!
//! What comes over: every collection definition of PocketBase's `_collections` (fields, rules,
//! indexes, options — token secrets included, so PocketBase's tokens stay valid — and view
//! collections as definitions), through `PUT /api/collections/import`'s semantics
//! (PocketBase's system collections and `users` are updated in place; into an empty deployment
//! with `deleteMissing`, so a built-in `users` PocketBase no longer has is dropped); every row
//! of every base and auth collection (users and superusers with their bcrypt password hashes
//! as they are: Scalebase verifies bcrypt and rehashes at the next login), in PocketBase's
//! insertion order; the files
//! the records name (`storage/<collectionId>/<recordId>/<name>`; thumbs are made again on
//! demand); and the settings (`_params` key `settings`). Settings PocketBase stored encrypted
//! (`--encryptionEnv`) cannot be read: they are skipped with a warning, and the target keeps its
//! own. Request logs (`auxiliary.db`) are not imported.
//!
//! **Atomic.** PocketBase's database is only read (opened read-only). Files are copied first,
//! under their final keys, into the target's file store (local or S3, as its settings say),
//! each read back and compared by SHA-256; then one transaction on the target imports the
//! collections, writes every row and the settings, reads every imported table back and
//! compares row counts and checksums ([`crate::transfer`]), and commits only when all match.
//! Any failure rolls the transaction back and deletes the files this run stored, so the target
//! is left as it was.
//!
//! A target that already holds data (collections besides the built-in ones, or any record) is
//! refused unless `force` is set; then the imported collections are upserted over the existing
//! ones and imported records replace the records with the same id.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use futures::StreamExt;
use sb_core::App;
use sb_schema::{Collection, FieldKind};
use sb_sql::{Delete, Expr, FromItem, Select, SelectItem, Stmt, Ty, Value};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::transfer::{self, Checksum, Kind, Reader, TableSum};

/// The id PocketBase (and Scalebase) give the default `users` collection.
const USERS_ID: &str = "_pb_users_auth_";

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// PocketBase's data directory (holding `data.db` and `storage/`).
    pub pb_dir: PathBuf,
    /// Import even when the target already holds data.
    pub force: bool,
}

/// One imported table: PocketBase's rows and what the target holds after the import.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub collection: String,
    pub source: TableSum,
    pub target: TableSum,
}

/// What happened to the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsOutcome {
    Imported,
    /// PocketBase had none stored (it was never changed from its defaults).
    Absent,
    /// Not imported, and why.
    Skipped(String),
}

/// The outcome of an import.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Collection definitions imported (views included).
    pub collections: usize,
    pub tables: Vec<TableReport>,
    /// Files stored (and verified) by this run.
    pub files_copied: u64,
    pub file_bytes: u64,
    /// Files already present under the same key in the target (`force` imports), left as they
    /// were.
    pub files_present: u64,
    pub settings: SettingsOutcome,
    /// Things skipped (files a record names that PocketBase did not have, unknown columns).
    pub warnings: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.tables.iter().map(|t| t.collection.len()).max().unwrap_or(10).max(10);
        writeln!(
            f,
            "{:width$}  {:>10}  {:>10}  {:16}  {:16}",
            "collection", "source", "target", "source sha256", "target sha256"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "{:width$}  {:>10}  {:>10}  {:16}  {:16}  {}",
                t.collection,
                t.source.rows,
                t.target.rows,
                t.source.short(),
                t.target.short(),
                if t.source == t.target { "ok" } else { "MISMATCH" }
            )?;
        }
        writeln!(
            f,
            "{} collections; {} files copied ({} bytes, sha256 verified){}",
            self.collections,
            self.files_copied,
            self.file_bytes,
            if self.files_present > 0 {
                format!(", {} already present", self.files_present)
            } else {
                String::new()
            }
        )?;
        let settings = match &self.settings {
            SettingsOutcome::Imported => "imported".to_owned(),
            SettingsOutcome::Absent => "none stored (defaults kept)".to_owned(),
            SettingsOutcome::Skipped(why) => format!("skipped: {why}"),
        };
        writeln!(f, "settings: {settings}")?;
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Imports `options.pb_dir` into the application `app` (see the module docs).
pub async fn import_pocketbase(app: &App, options: &ImportOptions) -> anyhow::Result<ImportReport> {
    let pb = PocketBase::open(&options.pb_dir)?;
    let definitions = pb.collections().await?;
    let collections = parse_collections(&definitions)?;
    let mut warnings = Vec::new();
    let settings = pb.settings().await?;
    if !options.force {
        refuse_non_empty(app).await?;
    }
    let files = pb.referenced_files(&collections, &mut warnings).await?;
    let store = app.file_store().map_err(core)?;
    let mut copied = Copied { store: store.clone(), keys: Vec::new() };
    let outcome = async {
        let (present, bytes) = copy_files(&store, &files, &mut copied.keys).await?;
        let (tables, settings) = import_rows(
            app,
            &pb,
            &definitions,
            &collections,
            settings,
            options.force,
            &mut warnings,
        )
        .await?;
        Ok::<_, anyhow::Error>((present, bytes, tables, settings))
    }
    .await;
    match outcome {
        Ok((files_present, file_bytes, tables, settings)) => Ok(ImportReport {
            collections: collections.len(),
            tables,
            files_copied: copied.keys.len() as u64,
            file_bytes,
            files_present,
            settings,
            warnings,
        }),
        Err(e) => {
            copied.remove().await;
            Err(e)
        }
    }
}

/// Checks that `dir` is a PocketBase (v0.23+) data directory whose database can be read, so
/// that a wrong path is refused before the target is even opened.
pub fn check_pocketbase_dir(dir: &Path) -> anyhow::Result<()> {
    PocketBase::open(dir).map(drop)
}

/// A `CoreError` as a readable error (with its field errors).
fn core(e: sb_core::CoreError) -> anyhow::Error {
    match e {
        sb_core::CoreError::BadRequest { message, data } if !data.is_empty() => {
            anyhow::anyhow!("{message} {}", data.to_json())
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// Refuses a target holding collections besides the built-in ones, or any record.
async fn refuse_non_empty(app: &App) -> anyhow::Result<()> {
    let catalog = app.catalog();
    let mut extra = Vec::new();
    let mut filled = Vec::new();
    for c in catalog.all() {
        if !c.system && c.id != USERS_ID {
            extra.push(c.name.clone());
        }
        if c.is_view() {
            continue;
        }
        let n = count_rows(&mut Reader::Store(app.store().as_ref()), &c.name).await?;
        if n > 0 {
            filled.push(format!("{} ({n})", c.name));
        }
    }
    if extra.is_empty() && filled.is_empty() {
        return Ok(());
    }
    let mut what = Vec::new();
    if !extra.is_empty() {
        what.push(format!("collections {}", extra.join(", ")));
    }
    if !filled.is_empty() {
        what.push(format!("records in {}", filled.join(", ")));
    }
    bail!(
        "the target Scalebase already has data ({}); import into an empty deployment, or pass \
         --force to import on top of it (imported collections are updated, records with the \
         same id replaced)",
        what.join("; ")
    )
}

async fn count_rows(reader: &mut Reader<'_>, table: &str) -> anyhow::Result<i64> {
    let rows = reader
        .query(&Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::CountStar, alias: None }],
            from: Some(FromItem::Table { name: table.into(), alias: None }),
            ..Default::default()
        }))
        .await
        .with_context(|| format!("cannot count the records of {table:?}"))?;
    Ok(rows.rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0))
}

/// Parses PocketBase's definitions as Scalebase collections (to know each table's fields).
fn parse_collections(definitions: &[Json]) -> anyhow::Result<Vec<Collection>> {
    definitions
        .iter()
        .map(|d| {
            Collection::from_json(d).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read PocketBase's collection {}: {}",
                    d["name"],
                    if e.is_validation() {
                        e.errors().to_json().to_string()
                    } else {
                        e.message().to_owned()
                    }
                )
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// A file to copy: its PocketBase path and its key in the target.
struct FileCopy {
    path: PathBuf,
    key: sb_files::Key,
    size: u64,
}

/// The files this run stored, removed again if the import fails.
struct Copied {
    store: sb_files::FileStore,
    keys: Vec<sb_files::Key>,
}

impl Copied {
    async fn remove(&mut self) {
        for key in self.keys.drain(..) {
            if let Err(e) = self.store.delete(&key).await {
                eprintln!("warning: cannot remove {} after the failed import: {e}", key.as_str());
            }
        }
    }
}

/// Copies `files` into `store` (keys already there are left alone and counted), verifying each
/// copy by reading it back; returns the count of present files and the bytes copied.
async fn copy_files(
    store: &sb_files::FileStore,
    files: &[FileCopy],
    created: &mut Vec<sb_files::Key>,
) -> anyhow::Result<(u64, u64)> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = transfer::bar(total, "files", true);
    let mut present = 0;
    let mut bytes = 0;
    for f in files {
        let failed =
            |e: sb_files::StoreError| anyhow::anyhow!("cannot store {}: {e}", f.key.as_str());
        if store.exists(&f.key).await.map_err(failed)? {
            present += 1;
            bar.inc(f.size);
            continue;
        }
        let source = sha256_file(&f.path).await?;
        store.put_file(&f.key, &f.path).await.map_err(failed)?;
        created.push(f.key.clone());
        let mut hasher = Sha256::new();
        let mut stream =
            store.get_stream(&f.key, None).await.map_err(failed)?.ok_or_else(|| {
                anyhow::anyhow!("{} is missing right after it was stored", f.key.as_str())
            })?;
        while let Some(chunk) = stream.next().await {
            hasher.update(chunk.map_err(failed)?);
        }
        if hasher.finalize().as_slice() != source.as_slice() {
            bail!("the stored copy of {} differs from PocketBase's file", f.path.display());
        }
        bytes += f.size;
        bar.inc(f.size);
    }
    bar.finish_and_clear();
    Ok((present, bytes))
}

async fn sha256_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n =
            file.read(&mut buf).await.with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_vec())
}

// ---------------------------------------------------------------------------------------------
// The database transaction
// ---------------------------------------------------------------------------------------------

async fn import_rows(
    app: &App,
    pb: &PocketBase,
    definitions: &[Json],
    collections: &[Collection],
    settings: Option<Result<Json, String>>,
    force: bool,
    warnings: &mut Vec<String>,
) -> anyhow::Result<(Vec<TableReport>, SettingsOutcome)> {
    let mut change = app.begin_bulk_schema_change().await.map_err(core)?;
    let outcome = async {
        // Into an empty deployment, PocketBase's set replaces the built-in one (its `users`
        // may have been deleted or replaced); on top of existing data nothing else is removed.
        change.import_collections(definitions, !force).await.map_err(core)?;
        let mut tables = Vec::new();
        for pb_collection in collections.iter().filter(|c| !c.is_view()) {
            let Some(target) =
                change.collections().iter().find(|c| c.id == pb_collection.id).cloned()
            else {
                bail!("the collection {:?} is missing after its import", pb_collection.name);
            };
            tables.push(import_table(pb, change.tx(), &target, force, warnings).await?);
        }
        let settings = match settings {
            None => SettingsOutcome::Absent,
            Some(Err(why)) => {
                warnings.push(format!("settings not imported: {why}"));
                SettingsOutcome::Skipped(why)
            }
            Some(Ok(json)) => {
                change.replace_settings(&json).await.map_err(core)?;
                SettingsOutcome::Imported
            }
        };
        let bad: Vec<&str> =
            tables.iter().filter(|t| t.source != t.target).map(|t| t.collection.as_str()).collect();
        if !bad.is_empty() {
            bail!("verification failed: the imported rows differ in {}", bad.join(", "));
        }
        Ok((tables, settings))
    }
    .await;
    match outcome {
        Ok(done) => {
            change.commit().await.map_err(core)?;
            Ok(done)
        }
        Err(e) => {
            change.rollback().await;
            Err(e)
        }
    }
}

/// Copies one PocketBase table into the target's table of the same collection (inside the
/// import transaction) and checksums both.
async fn import_table(
    pb: &PocketBase,
    tx: &mut dyn sb_store::Tx,
    target: &Collection,
    force: bool,
    warnings: &mut Vec<String>,
) -> anyhow::Result<TableReport> {
    let pb_columns = pb.columns(&target.name).await?;
    let mut columns = Vec::new();
    let mut kinds = Vec::new();
    for column in &pb_columns {
        match target.field(column) {
            Some(f) => {
                columns.push(column.clone());
                kinds.push(Kind::of_storage(f.kind.storage()));
            }
            None => warnings.push(format!(
                "{}.{column}: PocketBase's column has no field in the collection; not imported",
                target.name
            )),
        }
    }
    let id_at = columns
        .iter()
        .position(|c| c == "id")
        .with_context(|| format!("PocketBase's table {:?} has no id column", target.name))?;
    let total = pb.count(&target.name).await?;
    let bar = transfer::bar(total, format!("records {}", target.name), false);
    let mut source = Checksum::ordered();
    let mut ids = HashSet::new();
    let mut after = i64::MIN;
    loop {
        let (rows, last) = pb.page(&target.name, &columns, after).await?;
        if rows.is_empty() {
            break;
        }
        after = last;
        let mut batch = Vec::with_capacity(rows.len());
        for row in rows {
            let values = row
                .into_iter()
                .zip(&kinds)
                .zip(&columns)
                .map(|((v, kind), column)| {
                    transfer::convert(*kind, v)
                        .map_err(|e| anyhow::anyhow!("{}.{column}: {e}", target.name))
                })
                .collect::<anyhow::Result<Vec<Value>>>()?;
            source.add(&values);
            if force {
                let id = values[id_at].clone();
                tx.execute(&Stmt::Delete(Delete {
                    table: target.name.clone(),
                    where_: Some(Expr::eq(Expr::bare("id"), Expr::Param(id.clone()), Ty::Text)),
                }))
                .await?;
                ids.insert(id.into_string().unwrap_or_default());
            }
            batch.push(values);
        }
        let n = batch.len() as u64;
        let size = transfer::batch_rows(columns.len());
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(size));
            let rows = std::mem::replace(&mut batch, rest);
            tx.execute(&transfer::insert_rows(&target.name, &columns, rows))
                .await
                .with_context(|| format!("cannot write records of {:?}", target.name))?;
        }
        bar.inc(n);
    }
    bar.finish_and_clear();
    // Read back what the target holds, in insertion order (only the imported records, when
    // importing on top of existing ones).
    let mut copy = Checksum::ordered();
    let mut after = i64::MIN;
    loop {
        let (rows, last) =
            transfer::read_page(&mut Reader::Tx(&mut *tx), &target.name, &columns, after, true)
                .await?;
        if rows.is_empty() {
            break;
        }
        after = last;
        for row in rows {
            if force && !ids.contains(row[id_at].as_str().unwrap_or_default()) {
                continue;
            }
            let values = row
                .into_iter()
                .zip(&kinds)
                .map(|(v, kind)| transfer::convert(*kind, v).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<Value>>>()?;
            copy.add(&values);
        }
    }
    Ok(TableReport {
        collection: target.name.clone(),
        source: source.finish(),
        target: copy.finish(),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading PocketBase's data directory
// ---------------------------------------------------------------------------------------------

/// PocketBase's `data.db`, opened read-only, with one read transaction held throughout (so the
/// import reads one snapshot), and its `storage/` folder.
struct PocketBase {
    dir: PathBuf,
    conn: Arc<Mutex<rusqlite::Connection>>,
}

/// Quotes an identifier for PocketBase's SQLite.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PocketBase {
    fn open(dir: &Path) -> anyhow::Result<PocketBase> {
        if !dir.exists() {
            bail!("the PocketBase data directory {} does not exist", dir.display());
        }
        if !dir.is_dir() {
            bail!(
                "{} is not a directory (expected PocketBase's data directory, pb_data)",
                dir.display()
            );
        }
        let db = dir.join("data.db");
        if !db.is_file() {
            bail!(
                "{} is not a PocketBase data directory: it has no data.db (expected the pb_data folder)",
                dir.display()
            );
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&db, flags)
            .with_context(|| format!("cannot open {}", db.display()))?;
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('_collections')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| {
                anyhow::anyhow!("{} is not a readable SQLite database: {e}", db.display())
            })?;
        if columns.is_empty() {
            bail!(
                "{} is not a PocketBase data directory: data.db has no _collections table",
                dir.display()
            );
        }
        if columns.iter().any(|c| c == "schema") && !columns.iter().any(|c| c == "fields") {
            bail!(
                "{} holds a PocketBase older than v0.23 (collections with a `schema` column); \
                 upgrade it with PocketBase v0.23 or later first",
                dir.display()
            );
        }
        for needed in ["fields", "options", "indexes"] {
            if !columns.iter().any(|c| c == needed) {
                bail!(
                    "{} is not a PocketBase v0.23+ data directory: _collections has no {needed} column",
                    dir.display()
                );
            }
        }
        conn.execute_batch("BEGIN").context("cannot start a read transaction on data.db")?;
        Ok(PocketBase { dir: dir.to_path_buf(), conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs a query on a blocking thread.
    async fn query(&self, sql: String, params: Vec<Value>) -> anyhow::Result<Vec<Vec<Value>>> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| anyhow::anyhow!("the PocketBase reader failed"))?;
            let mut stmt =
                conn.prepare(&sql).with_context(|| format!("PocketBase's data.db: {sql}"))?;
            let n = stmt.column_count();
            let bound: Vec<rusqlite::types::Value> = params
                .into_iter()
                .map(|v| match v {
                    Value::Null => rusqlite::types::Value::Null,
                    Value::Int(i) => rusqlite::types::Value::Integer(i),
                    Value::Float(f) => rusqlite::types::Value::Real(f),
                    Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(b)),
                    Value::Text(s) | Value::Json(s) => rusqlite::types::Value::Text(s),
                })
                .collect();
            let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    values.push(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => Value::Null,
                        rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                        rusqlite::types::ValueRef::Real(f) => Value::Float(f),
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            Value::Text(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                out.push(values);
            }
            Ok(out)
        })
        .await
        .context("the PocketBase reader stopped")?
    }

    /// The collection definitions in PocketBase's JSON form, in creation order.
    async fn collections(&self) -> anyhow::Result<Vec<Json>> {
        let rows = self
            .query(
                "SELECT id, name, type, system, fields, indexes, listRule, viewRule, createRule, \
                 updateRule, deleteRule, options, created, updated FROM _collections \
                 ORDER BY created, rowid"
                    .into(),
                Vec::new(),
            )
            .await?;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let parse = |v: &Value, what: &str, name: &str| -> anyhow::Result<Json> {
            serde_json::from_str(v.as_str().unwrap_or("null"))
                .with_context(|| format!("PocketBase's collection {name:?} has invalid {what}"))
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name = text(&row[1]).unwrap_or_default();
            let mut def = match parse(&row[11], "options", &name)? {
                Json::Object(m) => m,
                Json::Null => serde_json::Map::new(),
                _ => bail!("PocketBase's collection {name:?} has invalid options"),
            };
            let rule = |v: &Value| text(v).map_or(Json::Null, Json::String);
            let fields = json!({
                "id": text(&row[0]),
                "name": name,
                "type": text(&row[2]),
                "system": row[3].as_i64().unwrap_or(0) != 0,
                "fields": parse(&row[4], "fields", &name)?,
                "indexes": parse(&row[5], "indexes", &name)?,
                "listRule": rule(&row[6]),
                "viewRule": rule(&row[7]),
                "createRule": rule(&row[8]),
                "updateRule": rule(&row[9]),
                "deleteRule": rule(&row[10]),
                "created": text(&row[12]),
                "updated": text(&row[13]),
            });
            if let Json::Object(m) = fields {
                def.extend(m);
            }
            out.push(Json::Object(def));
        }
        Ok(out)
    }

    /// The stored settings: `None` when PocketBase has none, `Err` (with the reason) when they
    /// cannot be read as JSON (encrypted with `--encryptionEnv`).
    async fn settings(&self) -> anyhow::Result<Option<Result<Json, String>>> {
        let has_params = !self
            .query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_params'".into(),
                Vec::new(),
            )
            .await?
            .is_empty();
        if !has_params {
            return Ok(None);
        }
        let rows = self
            .query(
                "SELECT value FROM _params WHERE id = ?".into(),
                vec![Value::Text("settings".into())],
            )
            .await?;
        let Some(value) = rows.into_iter().next().and_then(|r| r.into_iter().next()) else {
            return Ok(None);
        };
        let text = value.as_str().unwrap_or_default();
        Ok(Some(match serde_json::from_str::<Json>(text) {
            Ok(json @ Json::Object(_)) => Ok(json),
            _ => {
                Err("PocketBase stored them encrypted (--encryptionEnv), so they cannot be read; \
                      set them again in Scalebase"
                    .to_owned())
            }
        }))
    }

    /// The columns of a table, in order.
    async fn columns(&self, table: &str) -> anyhow::Result<Vec<String>> {
        let rows = self
            .query("SELECT name FROM pragma_table_info(?)".into(), vec![Value::Text(table.into())])
            .await?;
        let columns: Vec<String> =
            rows.into_iter().filter_map(|r| r.into_iter().next()?.into_string()).collect();
        if columns.is_empty() {
            bail!("PocketBase's data.db has no table for the collection {table:?}");
        }
        Ok(columns)
    }

    async fn count(&self, table: &str) -> anyhow::Result<u64> {
        let rows = self.query(format!("SELECT COUNT(*) FROM {}", ident(table)), Vec::new()).await?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0) as u64)
    }

    /// One page of a table in insertion order, after rowid `after`.
    async fn page(
        &self,
        table: &str,
        columns: &[String],
        after: i64,
    ) -> anyhow::Result<(Vec<Vec<Value>>, i64)> {
        let list: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let sql = format!(
            "SELECT rowid, {} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT {}",
            list.join(", "),
            ident(table),
            transfer::PAGE
        );
        let mut rows = self.query(sql, vec![Value::Int(after)]).await?;
        let mut last = after;
        for row in &mut rows {
            last = row.remove(0).as_i64().unwrap_or(last);
        }
        Ok((rows, last))
    }

    /// The files the records of `collections` name, with their sizes; a named file PocketBase
    /// does not have is a warning (PocketBase would answer 404 for it too).
    async fn referenced_files(
        &self,
        collections: &[Collection],
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<Vec<FileCopy>> {
        let mut out = Vec::new();
        for c in collections.iter().filter(|c| !c.is_view()) {
            let file_fields: Vec<String> = c
                .fields
                .iter()
                .filter(|f| matches!(f.kind, FieldKind::File(_)))
                .map(|f| f.name.clone())
                .collect();
            if file_fields.is_empty() {
                continue;
            }
            let mut columns = vec!["id".to_owned()];
            columns.extend(file_fields);
            let mut after = i64::MIN;
            loop {
                let (rows, last) = self.page(&c.name, &columns, after).await?;
                if rows.is_empty() {
                    break;
                }
                after = last;
                for row in rows {
                    let id = row[0].as_str().unwrap_or_default().to_owned();
                    for value in &row[1..] {
                        for name in file_names(value) {
                            self.add_file(c, &id, &name, &mut out, warnings).await?;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn add_file(
        &self,
        c: &Collection,
        record_id: &str,
        name: &str,
        out: &mut Vec<FileCopy>,
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let Ok(key) = sb_files::Key::new(&[&c.id, record_id, name]) else {
            warnings.push(format!(
                "{}/{record_id}: file name {name:?} is not a valid key; skipped",
                c.name
            ));
            return Ok(());
        };
        let path = self.dir.join("storage").join(&c.id).join(record_id).join(name);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => {
                out.push(FileCopy { path, key, size: meta.len() });
            }
            _ => warnings.push(format!(
                "{}/{record_id}: the file {name:?} is not in PocketBase's storage; skipped",
                c.name
            )),
        }
        Ok(())
    }
}

/// The file names a file column holds: one name, or a JSON array of names.
fn file_names(value: &Value) -> Vec<String> {
    let Some(text) = value.as_str() else { return Vec::new() };
    if text.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
    }
    if text.is_empty() { Vec::new() } else { vec![text.to_owned()] }
}
