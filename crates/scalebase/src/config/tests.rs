use std::path::PathBuf;

use super::*;

fn file(text: &str) -> FileConfig {
    toml::from_str(text).expect("valid test config")
}

#[test]
fn defaults_apply_when_nothing_is_given() {
    let c = ServeArgs::default().resolve(&FileConfig::default()).unwrap();
    assert_eq!(c.http.to_string(), "127.0.0.1:8090");
    assert_eq!(c.storage.dir, PathBuf::from("./sb_data"));
    assert_eq!(
        c.storage.database,
        Database::Sqlite {
            path: PathBuf::from("./sb_data/data.db"),
            synchronous_full: true,
            readers: None
        }
    );
    assert_eq!(c.body_limit, 32 << 20);
    assert!(!c.log_json);
    assert!(!c.access_log, "no line per request unless asked");
}

#[test]
fn the_access_log_comes_from_the_flag_or_the_file() {
    let on = ServeArgs { access_log: true, ..Default::default() };
    assert!(on.resolve(&FileConfig::default()).unwrap().access_log);
    assert!(ServeArgs::default().resolve(&file("access_log = true\n")).unwrap().access_log);
    assert!(!ServeArgs::default().resolve(&file("access_log = false\n")).unwrap().access_log);
}

#[test]
fn file_overrides_defaults_and_args_override_file() {
    let f = file(
        "http = \"127.0.0.1:9000\"\ndir = \"/data\"\nsynchronous = \"normal\"\nbody_limit = 10\n",
    );
    let c = ServeArgs::default().resolve(&f).unwrap();
    assert_eq!(c.http.to_string(), "127.0.0.1:9000");
    assert_eq!(c.body_limit, 10);
    assert_eq!(
        c.storage.database,
        Database::Sqlite {
            path: PathBuf::from("/data/data.db"),
            synchronous_full: false,
            readers: None
        }
    );
    let args = ServeArgs {
        http: Some("127.0.0.1:9100".into()),
        storage: StorageArgs {
            db: Some("postgres://u@h/db".into()),
            pg_pool_size: Some(4),
            ..Default::default()
        },
        ..Default::default()
    };
    let c = args.resolve(&f).unwrap();
    assert_eq!(c.http.to_string(), "127.0.0.1:9100");
    assert_eq!(
        c.storage.database,
        Database::Postgres { url: "postgres://u@h/db".into(), pool_size: 4, replicas: vec![] }
    );
}

fn replicas_of(args: &StorageArgs, f: &FileConfig) -> Vec<String> {
    match args.resolve(f).unwrap().database {
        Database::Postgres { replicas, .. } => replicas,
        other => panic!("not PostgreSQL: {other:?}"),
    }
}

#[test]
fn read_replicas_come_from_flags_env_lists_or_the_file() {
    let db = Some("postgres://u@p/db".to_owned());
    // Repeated flags; a comma-separated value (the environment's form); multi-host URLs whole.
    let args = StorageArgs {
        db: db.clone(),
        db_replica: Some(vec![
            "postgres://u@r1/db".into(),
            "postgres://u@r2/db, postgresql://u@r3:5432,r4:5433/db?x=1".into(),
        ]),
        ..Default::default()
    };
    assert_eq!(
        replicas_of(&args, &FileConfig::default()),
        ["postgres://u@r1/db", "postgres://u@r2/db", "postgresql://u@r3:5432,r4:5433/db?x=1"]
    );
    let f = file("db = \"postgres://u@p/db\"\ndb_replica = [\"postgres://u@f1/db\"]\n");
    assert_eq!(replicas_of(&StorageArgs::default(), &f), ["postgres://u@f1/db"]);
    // Flags win over the file.
    let args =
        StorageArgs { db_replica: Some(vec!["postgres://u@r9/db".into()]), ..Default::default() };
    assert_eq!(replicas_of(&args, &f), ["postgres://u@r9/db"]);
    assert!(
        replicas_of(&StorageArgs { db, ..Default::default() }, &FileConfig::default()).is_empty()
    );
}

#[test]
fn read_replicas_need_postgres_urls_and_a_postgres_database() {
    let args = StorageArgs {
        db: Some("postgres://u@p/db".into()),
        db_replica: Some(vec!["mysql://r/db".into()]),
        ..Default::default()
    };
    assert!(args.resolve(&FileConfig::default()).is_err());
    let sqlite =
        StorageArgs { db_replica: Some(vec!["postgres://u@r/db".into()]), ..Default::default() };
    assert!(sqlite.resolve(&FileConfig::default()).is_err());
}

#[test]
fn bad_values_are_errors() {
    assert!(
        ServeArgs { http: Some("nope".into()), ..Default::default() }
            .resolve(&FileConfig::default())
            .is_err()
    );
    let bad_sync = StorageArgs { synchronous: Some("off".into()), ..Default::default() };
    assert!(bad_sync.resolve(&FileConfig::default()).is_err());
    let bad_db = StorageArgs { db: Some("mysql://x".into()), ..Default::default() };
    assert!(bad_db.resolve(&FileConfig::default()).is_err());
    assert!(toml::from_str::<FileConfig>("unknown_key = 1").is_err());
}

#[test]
fn missing_default_file_is_fine_but_missing_explicit_file_is_not() {
    assert!(FileConfig::load(Some(std::path::Path::new("/nonexistent/scalebase.toml"))).is_err());
}

#[test]
fn otlp_export_is_off_by_default_and_layered_when_given() {
    let none = ServeArgs::default().resolve(&FileConfig::default()).unwrap();
    assert_eq!(none.otlp, None);
    let file: FileConfig =
        toml::from_str("otlp_endpoint = \"http://127.0.0.1:4318\"\notlp_service_name = \"api\"")
            .unwrap();
    let from_file = ServeArgs::default().resolve(&file).unwrap();
    assert_eq!(
        from_file.otlp,
        Some(Otlp { endpoint: "http://127.0.0.1:4318".into(), service_name: "api".into() })
    );
    let flag =
        ServeArgs { otlp_endpoint: Some("https://otel.internal".into()), ..Default::default() };
    let c = flag.resolve(&FileConfig::default()).unwrap();
    assert_eq!(c.otlp.unwrap().service_name, "scalebase");
    let bad = ServeArgs { otlp_endpoint: Some("otel:4318".into()), ..Default::default() };
    assert!(bad.resolve(&FileConfig::default()).is_err());
}

#[test]
fn the_replica_flag_repeats_on_the_command_line() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        storage: StorageArgs,
    }
    let cli = <Cli as clap::Parser>::try_parse_from([
        "scalebase",
        "--db",
        "postgres://u@p/db",
        "--db-replica",
        "postgres://u@r1/db",
        "--db-replica",
        "postgres://u@r2/db,postgres://u@r3/db",
    ])
    .unwrap();
    assert_eq!(
        replicas_of(&cli.storage, &FileConfig::default()),
        ["postgres://u@r1/db", "postgres://u@r2/db", "postgres://u@r3/db"]
    );
}
