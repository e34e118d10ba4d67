//! Integration tests of the whole server: in-process, on port 0, once per storage backend
//! (`sb_testkit::sbtest_http!` / `sbtest!`). One module per API area.

mod auth_mail;
mod auth_tokens;
mod backups;
mod batch;
mod cache;
mod cluster;
mod collections;
mod common;
mod crons;
mod errors;
mod expand;
mod fields;
mod file_token;
mod files;
mod gateway;
mod hardening;
mod http;
mod list;
mod logs;
mod mfa;
mod migrate_tools;
mod oauth2;
mod observe;
mod otp;
mod rate_limits;
mod realtime;
mod records;
mod replicas;
mod rules_matrix;
mod scale_out;
mod schema_changes;
mod settings;
mod superusers;
mod traces;
mod views;
