//! Validation and normalisation of collection definitions (spec §2.3–2.5).
