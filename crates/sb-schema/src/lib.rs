//! Collections, fields and record values: the data model of the PocketBase API.
//!
//! * [`model`]: [`Collection`], [`Field`], [`FieldKind`], constructors with PocketBase's
//!   defaults and the `scaffolds` templates.
//! * [`json`]: their JSON form (the API shape; the persisted form in `_collections` adds the
//!   secrets), lenient loading of create/PATCH bodies ([`Collection::from_json`],
//!   [`merge_patch`]) with [`LoadError`] for malformed input.
//! * [`validate`]: normalises ([`validate::prepare`]) and checks ([`validate::validate`]) a
//!   collection definition with PocketBase's error codes; rule expressions are left to the
//!   caller's rule compiler.
//! * [`record`]: per-field input coercion, zero values, modifiers and value validation with the
//!   exact PocketBase error codes and messages.
//! * [`datetime`], [`ids`]: the wire date format and id generation.
//!
//! Pure: no I/O. Checks that need the database (relation existence, uniqueness) live in
//! `sb-core`.

pub mod datetime;
pub mod errors;
mod formats;
mod goregex;
pub mod ids;
mod index;
pub mod json;
pub mod model;
pub mod record;
pub mod validate;

pub use errors::{ErrorMap, ErrorNode, FieldError, LoadError};
pub use formats::is_email;
pub use json::merge_patch;
pub use model::*;

#[cfg(test)]
mod tests;
