//! The `fields` response picker (spec §1.10).
