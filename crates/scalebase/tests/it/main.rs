//! Integration tests of the whole server: in-process, on port 0, once per storage backend
//! (`sb_testkit::sbtest_http!` / `sbtest!`). One module per API area.

mod auth_tokens;
mod auth_mail;
mod collections;
mod common;
mod errors;
mod expand;
mod fields;
mod file_token;
mod hardening;
mod http;
mod list;
mod rate_limits;
mod otp;
mod records;
mod rules_matrix;
mod schema_changes;
mod settings;
mod superusers;
mod views;
