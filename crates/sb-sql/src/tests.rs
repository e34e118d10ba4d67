//! Rendering tests: each case renders both dialects.
