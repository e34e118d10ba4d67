//! System tables, built-in collections and the migrations that create them.
//!
//! Migrations are named steps applied once, in order, each inside the transaction that records
//! it in `_migrations`; a new release appends steps and never edits applied ones.
//!
//! Nodes sharing one PostgreSQL database may start together: the migration transaction first
//! takes the schema lock ([`SCHEMA_LOCK`], a transaction-scoped advisory lock), so the second
//! node waits, then finds the steps applied. Collection changes take the same lock.

use sb_schema::Collection;
use sb_sql::{
    ColumnDef, ColumnType, CreateTable, Expr, FromItem, Insert, Select, SelectItem, Stmt, Value,
};
use sb_store::{Store, Tx};
use serde_json::json;

use crate::error::{CoreError, CoreResult};

pub const COLLECTIONS_TABLE: &str = "_collections";
pub const PARAMS_TABLE: &str = "_params";
pub const MIGRATIONS_TABLE: &str = "_migrations";
/// One row (`id` = `epoch`) counting the writes a node could not tell the others about over the
/// cluster transport (`cluster.rs`: every node polls it).
pub const CLUSTER_EPOCH_TABLE: &str = "_clusterEpoch";

/// Key of the lock that serialises migrations and collection changes across processes.
pub const SCHEMA_LOCK: i64 = 0x5CA1_5C4E;

pub const SUPERUSERS: &str = "_superusers";
pub const SUPERUSERS_ID: &str = "pbc_3142635823";

fn col(name: &str, ty: ColumnType, primary_key: bool) -> ColumnDef {
    let default = match ty {
        ColumnType::Text if !primary_key => Some(Value::Text(String::new())),
        ColumnType::Bool => Some(Value::Bool(false)),
        ColumnType::Integer | ColumnType::Number => Some(Value::Int(0)),
        _ => None,
    };
    ColumnDef { name: name.into(), ty, primary_key, not_null: ty != ColumnType::Json, default }
}

fn system_table(name: &str, columns: Vec<ColumnDef>) -> Stmt {
    // `_collections` is listed like a collection (in insertion order), so it has the insertion
    // order key of collection tables.
    let rowid = name == COLLECTIONS_TABLE;
    Stmt::CreateTable(CreateTable { name: name.into(), if_not_exists: true, rowid, columns })
}

/// One migration step.
struct Migration {
    name: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { name: "0001_init" },
    Migration { name: "0002_cron_runs" },
    Migration { name: "0003_cluster_epoch" },
];

/// Applies pending migrations inside `tx`. Returns the names applied.
pub async fn migrate(tx: &mut dyn Tx) -> CoreResult<Vec<&'static str>> {
    tx.lock(SCHEMA_LOCK).await?;
    tx.execute(&system_table(
        MIGRATIONS_TABLE,
        vec![col("file", ColumnType::Text, true), col("applied", ColumnType::Integer, false)],
    ))
    .await?;
    let rows = tx
        .query(&Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::bare("file"), alias: None }],
            from: Some(FromItem::Table { name: MIGRATIONS_TABLE.into(), alias: None }),
            ..Default::default()
        }))
        .await?;
    let applied: Vec<String> =
        rows.rows.into_iter().filter_map(|mut r| r.pop().and_then(Value::into_string)).collect();
    let mut done = Vec::new();
    for m in MIGRATIONS {
        if applied.iter().any(|a| a == m.name) {
            continue;
        }
        match m.name {
            "0001_init" => init(tx).await?,
            "0002_cron_runs" => {
                tx.execute(&system_table(
                    crate::crons::CRON_RUNS_TABLE,
                    vec![
                        col("id", ColumnType::Text, true),
                        col("node", ColumnType::Text, false),
                        col("created", ColumnType::Text, false),
                    ],
                ))
                .await?;
            }
            "0003_cluster_epoch" => {
                tx.execute(&system_table(
                    CLUSTER_EPOCH_TABLE,
                    vec![col("id", ColumnType::Text, true), col("n", ColumnType::Integer, false)],
                ))
                .await?;
                tx.execute(&Stmt::Insert(Insert {
                    table: CLUSTER_EPOCH_TABLE.into(),
                    columns: vec!["id".into(), "n".into()],
                    values: vec![Expr::param("epoch"), Expr::param(0i64)],
                }))
                .await?;
            }
            other => return Err(CoreError::internal(format!("unknown migration {other}"))),
        }
        tx.execute(&Stmt::Insert(Insert {
            table: MIGRATIONS_TABLE.into(),
            columns: vec!["file".into(), "applied".into()],
            values: vec![Expr::param(m.name), Expr::param(chrono::Utc::now().timestamp_micros())],
        }))
        .await?;
        done.push(m.name);
    }
    Ok(done)
}

async fn init(tx: &mut dyn Tx) -> CoreResult<()> {
    tx.execute(&system_table(
        COLLECTIONS_TABLE,
        vec![
            col("id", ColumnType::Text, true),
            col("name", ColumnType::Text, false),
            col("type", ColumnType::Text, false),
            col("system", ColumnType::Bool, false),
            col("definition", ColumnType::Json, false),
            col("created", ColumnType::Text, false),
            col("updated", ColumnType::Text, false),
        ],
    ))
    .await?;
    tx.execute(&system_table(
        PARAMS_TABLE,
        vec![
            col("id", ColumnType::Text, true),
            col("value", ColumnType::Json, false),
            col("created", ColumnType::Text, false),
            col("updated", ColumnType::Text, false),
        ],
    ))
    .await?;
    let mut created: Vec<Collection> = Vec::new();
    for def in builtin_collections() {
        let collection = crate::collections::create_in_tx(tx, def, &created).await?;
        created.push(collection);
    }
    Ok(())
}

/// The collections of a fresh install (spec §2.6), in PocketBase's creation order (which is
/// also the default listing order).
fn builtin_collections() -> Vec<serde_json::Value> {
    let owner_rule = "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId";
    // `created`/`updated` are system fields of the system collections only.
    let autodates = |system: bool| {
        vec![
            json!({"name": "created", "type": "autodate", "system": system, "onCreate": true, "onUpdate": false}),
            json!({"name": "updated", "type": "autodate", "system": system, "onCreate": true, "onUpdate": true}),
        ]
    };
    // Auth collections list their system fields first, as PocketBase's auth factory does.
    let auth_fields = |custom: Vec<serde_json::Value>, system: bool| {
        let mut fields: Vec<serde_json::Value> = std::iter::once(sb_schema::Field::id_field())
            .chain(sb_schema::auth_system_fields())
            .map(|f| f.to_json())
            .collect();
        fields.extend(custom);
        fields.extend(autodates(system));
        fields
    };
    let system_fields = |custom: Vec<serde_json::Value>| {
        let mut fields = custom;
        fields.extend(autodates(true));
        fields
    };
    let text = |name: &str| json!({"name": name, "type": "text", "system": true, "required": true});
    let auth_indexes = |id: &str, table: &str| {
        [sb_schema::names::TOKEN_KEY, sb_schema::names::EMAIL]
            .map(|f| sb_schema::system_unique_index(f, id, table))
    };
    vec![
        json!({
            "id": "pbc_2279338944", "name": "_mfas", "type": "base", "system": true,
            "listRule": owner_rule, "viewRule": owner_rule,
            "fields": system_fields(vec![text("collectionRef"), text("recordRef"), text("method")]),
            "indexes": [
                "CREATE INDEX `idx_mfas_collectionRef_recordRef` ON `_mfas` (collectionRef,recordRef)"
            ],
        }),
        json!({
            "id": "pbc_1638494021", "name": "_otps", "type": "base", "system": true,
            "listRule": owner_rule, "viewRule": owner_rule,
            "fields": system_fields(vec![
                text("collectionRef"),
                text("recordRef"),
                json!({"name": "password", "type": "password", "system": true, "hidden": true, "required": true, "cost": 8}),
                json!({"name": "sentTo", "type": "text", "system": true, "hidden": true}),
            ]),
            "indexes": [
                "CREATE INDEX `idx_otps_collectionRef_recordRef` ON `_otps` (collectionRef, recordRef)"
            ],
        }),
        json!({
            "id": "pbc_2281828961", "name": "_externalAuths", "type": "base", "system": true,
            "listRule": owner_rule, "viewRule": owner_rule, "deleteRule": owner_rule,
            "fields": system_fields(vec![
                text("collectionRef"),
                text("recordRef"),
                text("provider"),
                text("providerId"),
            ]),
            "indexes": [
                "CREATE UNIQUE INDEX `idx_externalAuths_record_provider` ON `_externalAuths` (collectionRef, recordRef, provider)",
                "CREATE UNIQUE INDEX `idx_externalAuths_collection_provider` ON `_externalAuths` (collectionRef, provider, providerId)"
            ],
        }),
        json!({
            "id": "pbc_4275539003", "name": "_authOrigins", "type": "base", "system": true,
            "listRule": owner_rule, "viewRule": owner_rule, "deleteRule": owner_rule,
            "fields": system_fields(vec![text("collectionRef"), text("recordRef"), text("fingerprint")]),
            "indexes": [
                "CREATE UNIQUE INDEX `idx_authOrigins_unique_pairs` ON `_authOrigins` (collectionRef, recordRef, fingerprint)"
            ],
        }),
        json!({
            "id": SUPERUSERS_ID, "name": SUPERUSERS, "type": "auth", "system": true,
            "authRule": "", "authToken": {"duration": 86400},
            "fields": auth_fields(vec![], true),
            "indexes": auth_indexes(SUPERUSERS_ID, SUPERUSERS),
        }),
        json!({
            "id": "_pb_users_auth_", "name": "users", "type": "auth",
            "listRule": "id = @request.auth.id", "viewRule": "id = @request.auth.id",
            "createRule": "", "updateRule": "id = @request.auth.id", "deleteRule": "id = @request.auth.id",
            "fields": auth_fields(vec![
                json!({"name": "name", "type": "text", "max": 255}),
                json!({"name": "avatar", "type": "file", "maxSelect": 1, "mimeTypes": ["image/jpeg", "image/png", "image/svg+xml", "image/gif", "image/webp"]}),
            ], false),
            "indexes": auth_indexes("_pb_users_auth_", "users"),
            "oauth2": {"mappedFields": {"name": "name", "avatarURL": "avatar"}},
        }),
    ]
}

fn select_definitions() -> Stmt {
    Stmt::Select(Select {
        columns: vec![SelectItem::Expr { expr: Expr::bare("definition"), alias: None }],
        from: Some(FromItem::Table { name: COLLECTIONS_TABLE.into(), alias: None }),
        ..Default::default()
    })
}

fn parse_definitions(rows: sb_store::Rows) -> CoreResult<Vec<Collection>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.rows {
        let text = row.into_iter().next().and_then(Value::into_string).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CoreError::internal(format!("corrupt collection definition: {e}")))?;
        let c = Collection::from_json(&json)
            .map_err(|e| CoreError::internal(format!("corrupt collection definition: {e:?}")))?;
        out.push(c);
    }
    Ok(out)
}

/// Loads every stored collection definition.
pub async fn load_collections(store: &dyn sb_store::Store) -> CoreResult<Vec<Collection>> {
    parse_definitions(store.query(&select_definitions()).await?)
}

/// Loads every collection definition as `tx` sees it (after taking [`SCHEMA_LOCK`], the
/// current state even when another process changed it).
pub async fn load_collections_tx(tx: &mut dyn Tx) -> CoreResult<Vec<Collection>> {
    parse_definitions(tx.query(&select_definitions()).await?)
}

fn epoch_row() -> Expr {
    Expr::eq(Expr::bare("id"), Expr::param("epoch"), sb_sql::Ty::Text)
}

/// The count of writes nodes could not tell the cluster about (`cluster.rs`).
pub(crate) async fn cluster_epoch(store: &dyn Store) -> CoreResult<u64> {
    let rows = store
        .query(&Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::bare("n"), alias: None }],
            from: Some(FromItem::Table { name: CLUSTER_EPOCH_TABLE.into(), alias: None }),
            where_: Some(epoch_row()),
            ..Default::default()
        }))
        .await?;
    let n = rows.rows.into_iter().next().and_then(|mut r| r.pop()).and_then(|v| v.as_i64());
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// Counts one more write the cluster transport could not carry.
pub(crate) async fn bump_cluster_epoch(store: &dyn Store) -> CoreResult<()> {
    let n = Expr::Arith {
        op: sb_sql::ArithOp::Add,
        lhs: Box::new(Expr::bare("n")),
        rhs: Box::new(Expr::param(1i64)),
    };
    store
        .write(&[Stmt::Update(sb_sql::Update {
            table: CLUSTER_EPOCH_TABLE.into(),
            set: vec![("n".into(), n)],
            where_: Some(epoch_row()),
        })])
        .await?;
    Ok(())
}

/// Prepares an empty database to receive a row-for-row copy of another Scalebase database
/// (`scalebase migrate`), inside `tx`: the system tables as the migrations create them, then
/// the tables, indexes and views of `collections` (the source's stored definitions, in creation
/// order, used as they are), and no rows at all — the built-in collections and the migration
/// records the migrations wrote are removed again, since the copy brings the source's own.
pub async fn prepare_copy_target(tx: &mut dyn Tx, collections: &[Collection]) -> CoreResult<()> {
    migrate(tx).await?;
    for c in load_collections_tx(tx).await? {
        tx.execute(&Stmt::DropTable { name: c.name, if_exists: true }).await?;
    }
    let system = [COLLECTIONS_TABLE, MIGRATIONS_TABLE, PARAMS_TABLE, crate::crons::CRON_RUNS_TABLE];
    for table in system.into_iter().chain([CLUSTER_EPOCH_TABLE]) {
        tx.execute(&Stmt::Delete(sb_sql::Delete { table: table.into(), where_: None })).await?;
    }
    // Tables first: views read from them (and from the views created before them).
    let (views, tables): (Vec<&Collection>, Vec<&Collection>) =
        collections.iter().partition(|c| c.is_view());
    for c in tables.into_iter().chain(views) {
        crate::collections::create_storage(tx, c, "Failed to create collection.").await?;
    }
    Ok(())
}
