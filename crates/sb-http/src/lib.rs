//! sb-http
