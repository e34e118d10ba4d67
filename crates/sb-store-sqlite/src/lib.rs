//! sb-store-sqlite
