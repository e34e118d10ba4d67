//! Tests: schema_changes.
