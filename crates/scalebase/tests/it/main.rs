//! Integration tests of the whole server: in-process, on port 0, once per storage backend
//! (`sb_testkit::sbtest_http!` / `sbtest!`). One module per API area.

mod collections;
mod common;
mod errors;
mod expand;
mod fields;
mod http;
mod list;
mod mfa;
mod oauth2;
mod records;
mod schema_changes;
mod superusers;
mod views;
