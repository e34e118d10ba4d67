//! Collections, fields and record values: the data model of the PocketBase API.
//!
//! * [`model`]: [`Collection`], [`Field`], [`FieldKind`] and their JSON form (which is both the
//!   API shape and the persisted form in the `_collections` table).
//! * [`validate`]: checks a collection definition (names, options, rules are left to the
//!   caller's rule compiler) and produces PocketBase error codes.
//! * [`record`]: per-field input coercion, zero values, modifiers and value validation with the
//!   exact PocketBase error codes and messages.
//! * [`datetime`], [`ids`]: the wire date format and id generation.
//!
//! Pure: no I/O. Checks that need the database (relation existence, uniqueness) live in
//! `sb-core`.

pub mod datetime;
pub mod errors;
pub mod ids;
pub mod model;
pub mod record;
pub mod validate;

pub use errors::{ErrorMap, FieldError};
pub use model::*;
