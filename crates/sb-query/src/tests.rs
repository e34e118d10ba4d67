//! Resolver tests.
//!
//! * `units`: pure pieces (affinity, LIKE escaping, macros) and error cases.
//! * `shape`: the structure of compiled trees (joins, EXISTS wrapping, multi-match).
//! * `exec`: execution on SQLite and PostgreSQL against the shared `fixture`, with the
//!   expected ids of `reference_cases` recorded from the reference PocketBase.

mod exec;
mod fixture;
mod harness;
mod reference_cases;
mod shape;
mod units;
