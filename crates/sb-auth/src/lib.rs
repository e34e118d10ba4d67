//! sb-auth
