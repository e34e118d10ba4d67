//! Tests: collections.
