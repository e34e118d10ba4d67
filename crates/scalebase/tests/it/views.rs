//! Tests: views.
