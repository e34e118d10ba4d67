//! sb-core
