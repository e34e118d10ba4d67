//! Per-field record value handling: input coercion, zero values, modifiers and validation with
//! PocketBase's error codes and messages (spec §2.4, §3.9).
