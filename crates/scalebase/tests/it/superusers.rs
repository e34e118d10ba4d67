//! Tests: superusers.
