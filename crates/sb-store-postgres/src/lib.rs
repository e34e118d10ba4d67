//! sb-store-postgres
