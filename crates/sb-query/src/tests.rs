//! Resolver tests.
//!
//! * `units`: pure pieces (affinity, LIKE escaping, macros) and error cases.
//! * `shape`: the structure of compiled trees (joins, EXISTS wrapping, multi-match).
//! * `exec`: execution on the real SQLite and PostgreSQL backends (`db`) against the shared
//!   `fixture`, with the expected ids of `reference_cases` recorded from the reference
//!   PocketBase.
//! * `eval`: the in-memory evaluator against the SQL path on both backends.
//! * `snapshots`: the SQL rendered for both dialects, side by side.

mod db;
mod eval;
mod exec;
mod fixture;
mod harness;
mod reference_cases;
mod shape;
mod snapshots;
mod units;
