//! sb-testkit
