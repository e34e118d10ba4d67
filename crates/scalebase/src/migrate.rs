//! `scalebase migrate --to postgres://…`: moves a Scalebase SQLite deployment to an empty
//! PostgreSQL database, row for row.
//!
//! **Atomic.** Everything is written in one PostgreSQL transaction: the schema
//! ([`sb_core::prepare_copy_target`]: system tables, then the tables, indexes and views of the
//! source's stored collection definitions), every row of every table of the source's
//! `data.db` in insertion order (so ids, values and the listing order are kept; `_rowid` is
//! assigned in that order), and then the verification: each table is read back inside the
//! transaction and its row count and checksum ([`crate::transfer`]) compared with the
//! source's. Only when every table matches does the transaction commit; any error or mismatch
//! leaves the target database as empty as it was.
//!
//! What stays where it is: uploaded files (the file store is the data directory's `storage/`
//! or S3, shared by both deployments) and the request logs (`auxiliary.db`; PostgreSQL keeps
//! its own in the `_scalebase_logs` schema). The source should not be serving while it is
//! copied: writes made meanwhile may or may not be carried over.
//!
//! `--verify-only` compares an existing target with the source the same way, writing nothing.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, bail};
use sb_sql::{Expr, FromItem, OrderBy, Select, SelectItem, Stmt, Value};
use sb_store::{Store, Tx};

use crate::config::{Database, StorageConfig};
use crate::transfer::{self, Checksum, Kind, Reader, TableSum};

/// The PostgreSQL column of insertion order (`sb_sql`'s rendering of `Expr::RowId`).
const PG_ROWID: &str = "_rowid";

/// What to do.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// The target database URL (`postgres://…`).
    pub to: String,
    /// Compare an already migrated target with the source; write nothing.
    pub verify_only: bool,
}

/// One table's counts and checksums on both sides.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: String,
    pub source: TableSum,
    pub target: TableSum,
}

impl TableReport {
    pub fn matches(&self) -> bool {
        self.source == self.target
    }
}

/// The outcome of a migration or a verification.
#[derive(Debug, Clone)]
pub struct MigrateReport {
    pub tables: Vec<TableReport>,
}

impl MigrateReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.source.rows).sum()
    }

    fn mismatches(&self) -> Vec<&TableReport> {
        self.tables.iter().filter(|t| !t.matches()).collect()
    }
}

impl fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.tables.iter().map(|t| t.table.len()).max().unwrap_or(5).max(5);
        writeln!(
            f,
            "{:width$}  {:>10}  {:>10}  {:16}  {:16}",
            "table", "source", "target", "source sha256", "target sha256"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "{:width$}  {:>10}  {:>10}  {:16}  {:16}  {}",
                t.table,
                t.source.rows,
                t.target.rows,
                t.source.short(),
                t.target.short(),
                if t.matches() { "ok" } else { "MISMATCH" }
            )?;
        }
        Ok(())
    }
}

/// Migrates (or, with `verify_only`, verifies) the SQLite deployment `source` to `options.to`.
/// Returns the per-table report; a mismatch is an error (carrying the report in its text).
pub async fn migrate(
    source: &StorageConfig,
    options: &MigrateOptions,
) -> anyhow::Result<MigrateReport> {
    let Database::Sqlite { path, .. } = &source.database else {
        bail!("migrate copies a SQLite deployment, but the source (--db) is a PostgreSQL database");
    };
    if !path.is_file() {
        bail!(
            "no Scalebase database at {}: give the source data directory with --dir (or --db sqlite://PATH)",
            path.display()
        );
    }
    if !(options.to.starts_with("postgres://") || options.to.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL (postgres://…), not {:?}", options.to);
    }
    // Opening the application applies pending system migrations, so the source has the schema
    // this version creates on the target.
    let app = crate::open_app(source).await?;
    let target_config = StorageConfig {
        dir: source.dir.clone(),
        database: Database::Postgres {
            url: options.to.clone(),
            pool_size: 4,
            replicas: Vec::new(),
        },
        query_timeout: source.query_timeout,
        cache_bytes: 0,
    };
    let target = crate::open_store(&target_config).await;
    let result = match target {
        Ok(target) => {
            let result = run(app.store().as_ref(), target.as_ref(), options).await;
            target.close().await;
            result
        }
        Err(e) => Err(e),
    };
    app.close_logs().await;
    app.store().close().await;
    result
}

async fn run(
    source: &dyn Store,
    target: &dyn Store,
    options: &MigrateOptions,
) -> anyhow::Result<MigrateReport> {
    let tables = source_tables(source).await?;
    if options.verify_only {
        let columns = target_columns(&mut Reader::Store(target)).await?;
        let plan = plan(source, &tables, &columns).await?;
        let report = compare(source, &mut Reader::Store(target), &plan, false).await?;
        return check(report);
    }
    let existing = count(
        &mut Reader::Store(target),
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .await?;
    if existing > 0 {
        bail!(
            "the target database is not empty ({existing} tables or views in its schema); \
             migrate needs an empty PostgreSQL database"
        );
    }
    let collections = source_collections(source).await?;
    let mut tx = target.begin().await.context("cannot start a transaction on the target")?;
    let outcome = async {
        sb_core::prepare_copy_target(tx.as_mut(), &collections)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the schema on the target: {e}"))?;
        let columns = target_columns(&mut Reader::Tx(tx.as_mut())).await?;
        let plan = plan(source, &tables, &columns).await?;
        let report = compare(source, &mut Reader::Tx(tx.as_mut()), &plan, true).await?;
        check(report)
    }
    .await;
    match outcome {
        Ok(report) => {
            tx.commit().await.context("cannot commit the target transaction")?;
            Ok(report)
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(e)
        }
    }
}

/// A mismatch is an error.
fn check(report: MigrateReport) -> anyhow::Result<MigrateReport> {
    let bad = report.mismatches();
    if bad.is_empty() {
        return Ok(report);
    }
    let names: Vec<&str> = bad.iter().map(|t| t.table.as_str()).collect();
    bail!(
        "verification failed: the target differs from the source in {}\n{report}",
        names.join(", ")
    )
}

/// The tables of the source's `data.db` (views excluded: they are created from their
/// collection definitions).
async fn source_tables(source: &dyn Store) -> anyhow::Result<Vec<String>> {
    let rows = source
        .query(&Stmt::Raw {
            sql: "SELECT name FROM sqlite_master WHERE type = 'table' \
                  AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
                .into(),
            params: Vec::new(),
        })
        .await
        .context("cannot list the source's tables")?;
    Ok(rows.rows.into_iter().filter_map(|r| r.into_iter().next()?.into_string()).collect())
}

/// The source's collection definitions in creation order (the order of `_collections`).
async fn source_collections(source: &dyn Store) -> anyhow::Result<Vec<sb_schema::Collection>> {
    let rows = source
        .query(&Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::bare("definition"), alias: None }],
            from: Some(FromItem::Table { name: "_collections".into(), alias: None }),
            order_by: vec![OrderBy { expr: Expr::RowId { table: None }, desc: false }],
            ..Default::default()
        }))
        .await
        .context("cannot read the source's collections")?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.rows {
        let text = row.into_iter().next().and_then(Value::into_string).unwrap_or_default();
        let json: serde_json::Value =
            serde_json::from_str(&text).context("corrupt collection definition in the source")?;
        let c = sb_schema::Collection::from_json(&json).map_err(|e| {
            anyhow::anyhow!("corrupt collection definition in the source: {}", e.message())
        })?;
        out.push(c);
    }
    Ok(out)
}

/// Runs a `SELECT COUNT(*) …` written for the target.
async fn count(reader: &mut Reader<'_>, sql: &str) -> anyhow::Result<i64> {
    let rows = reader.query(&Stmt::Raw { sql: sql.into(), params: Vec::new() }).await?;
    Ok(rows.rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0))
}

/// The base tables of the target's schema and their columns' kinds, in column order.
async fn target_columns(
    reader: &mut Reader<'_>,
) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
    let rows = reader
        .query(&Stmt::Raw {
            sql: "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
                  FROM information_schema.columns c JOIN information_schema.tables t \
                  ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                  WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
                  ORDER BY c.table_name, c.ordinal_position"
                .into(),
            params: Vec::new(),
        })
        .await
        .context("cannot read the target's columns")?;
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for row in rows.rows {
        let mut it = row.into_iter().map(|v| v.into_string().unwrap_or_default());
        let (table, column, ty) = (
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
        );
        out.entry(table).or_default().push((column, ty));
    }
    Ok(out)
}

/// How one table is copied: its columns (the source's, in order) with their target kinds, and
/// whether the target keeps an insertion order for it.
struct TablePlan {
    table: String,
    columns: Vec<String>,
    kinds: Vec<Kind>,
    ordered: bool,
    rows: u64,
}

async fn plan(
    source: &dyn Store,
    tables: &[String],
    target: &BTreeMap<String, Vec<(String, String)>>,
) -> anyhow::Result<Vec<TablePlan>> {
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        let Some(target_columns) = target.get(table) else {
            bail!(
                "the source table {table:?} has no counterpart on the target \
                 (it is neither a system table nor a collection's table)"
            );
        };
        let columns = source.table_columns(table).await?;
        let mut kinds = Vec::with_capacity(columns.len());
        for column in &columns {
            let Some((_, ty)) = target_columns.iter().find(|(c, _)| c == column) else {
                bail!("the target table {table:?} has no column {column:?}");
            };
            let Some(kind) = Kind::of_pg_type(ty) else {
                bail!("the target column {table}.{column} has an unexpected type {ty}");
            };
            kinds.push(kind);
        }
        if let Some((extra, _)) =
            target_columns.iter().find(|(c, _)| c != PG_ROWID && !columns.contains(c))
        {
            bail!("the target table {table:?} has a column {extra:?} the source has not");
        }
        let ordered = target_columns.iter().any(|(c, _)| c == PG_ROWID);
        let rows = source
            .query(&Stmt::Select(Select {
                columns: vec![SelectItem::Expr { expr: Expr::CountStar, alias: None }],
                from: Some(FromItem::Table { name: table.clone(), alias: None }),
                ..Default::default()
            }))
            .await?
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .unwrap_or(0);
        out.push(TablePlan { table: table.clone(), columns, kinds, ordered, rows: rows as u64 });
    }
    Ok(out)
}

/// Reads every planned table of the source (copying each row into `target` when `copy` is
/// set, when `target` must be a transaction) and then the target's, returning both checksums.
async fn compare(
    source: &dyn Store,
    target: &mut Reader<'_>,
    plan: &[TablePlan],
    copy: bool,
) -> anyhow::Result<MigrateReport> {
    let mut tables = Vec::with_capacity(plan.len());
    for p in plan {
        let verb = if copy { "copying" } else { "reading" };
        let bar = transfer::bar(p.rows, format!("{verb} {}", p.table), false);
        let mut sum = if p.ordered { Checksum::ordered() } else { Checksum::unordered() };
        let mut after = i64::MIN;
        loop {
            let (rows, last) =
                transfer::read_page(&mut Reader::Store(source), &p.table, &p.columns, after, true)
                    .await?;
            if rows.is_empty() {
                break;
            }
            after = last;
            let mut batch = Vec::with_capacity(rows.len());
            for row in rows {
                let values = convert_row(p, row)?;
                sum.add(&values);
                batch.push(values);
            }
            let n = batch.len() as u64;
            if copy && let Reader::Tx(tx) = target {
                insert(&mut **tx, p, batch).await?;
            }
            bar.inc(n);
        }
        bar.finish_and_clear();
        let source_sum = sum.finish();
        let target_sum = target_sum(target, p).await?;
        tables.push(TableReport { table: p.table.clone(), source: source_sum, target: target_sum });
    }
    Ok(MigrateReport { tables })
}

fn convert_row(p: &TablePlan, row: Vec<Value>) -> anyhow::Result<Vec<Value>> {
    row.into_iter()
        .zip(&p.kinds)
        .zip(&p.columns)
        .map(|((v, kind), column)| {
            transfer::convert(*kind, v).map_err(|e| anyhow::anyhow!("{}.{column}: {e}", p.table))
        })
        .collect()
}

/// Writes `rows` to the target's copy of the table, in order, a batch per statement.
async fn insert(tx: &mut dyn Tx, p: &TablePlan, mut rows: Vec<Vec<Value>>) -> anyhow::Result<()> {
    let size = transfer::batch_rows(p.columns.len());
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(size));
        let batch = std::mem::replace(&mut rows, rest);
        tx.execute(&transfer::insert_rows(&p.table, &p.columns, batch))
            .await
            .with_context(|| format!("cannot write rows of {:?} to the target", p.table))?;
    }
    Ok(())
}

/// The checksum of the target's copy of a table, read in insertion order when it has one.
async fn target_sum(target: &mut Reader<'_>, p: &TablePlan) -> anyhow::Result<TableSum> {
    let bar = transfer::bar(p.rows, format!("verifying {}", p.table), false);
    let mut sum = if p.ordered { Checksum::ordered() } else { Checksum::unordered() };
    let mut after = i64::MIN;
    loop {
        let (rows, last) =
            transfer::read_page(target, &p.table, &p.columns, after, p.ordered).await?;
        let done = rows.is_empty() || !p.ordered;
        bar.inc(rows.len() as u64);
        for row in rows {
            sum.add(&convert_row(p, row)?);
        }
        if done {
            break;
        }
        after = last;
    }
    bar.finish_and_clear();
    Ok(sum.finish())
}
