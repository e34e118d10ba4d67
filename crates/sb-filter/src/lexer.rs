//! Tokens of the filter language (spec §4.1).
