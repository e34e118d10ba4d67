//! Tests: expand.
