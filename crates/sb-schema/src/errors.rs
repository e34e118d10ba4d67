//! Validation errors in the PocketBase shape: `{"code": ..., "message": ..., "params"?: {...}}`,
//! nested by key (`{"fields": {"1": {"values": {...}}}}`).
//!
//! PocketBase builds these with ozzo-validation and serialises Go maps, so object keys come out
//! sorted; [`ErrorMap::to_json`] and [`FieldError::to_json`] sort keys the same way. The
//! constructors below reproduce the generic ozzo messages (`validation_required`,
//! `validation_length_out_of_range`, ...) that PocketBase returns verbatim.

use serde_json::{Map, Value};

/// One failed check.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    /// Validator parameters (`{"min": 8}`); empty when the validator has none.
    pub params: Map<String, Value>,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        FieldError { code, message: message.into(), params: Map::new() }
    }

    pub fn with_param(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.params.insert(key.to_owned(), value.into());
        self
    }

    pub fn required() -> Self {
        FieldError::new("validation_required", "Cannot be blank.")
    }

    /// `""` where `null` or a non-empty value is expected (`manageRule`).
    pub fn nil_or_not_empty() -> Self {
        FieldError::new("validation_nil_or_not_empty_required", "Cannot be blank.")
    }

    /// A value that must be `null` (view collection create/update/delete rules).
    pub fn nil() -> Self {
        FieldError::new("validation_nil", "Must be blank.")
    }

    /// A value that must be empty (e.g. `exceptDomains` when `onlyDomains` is set).
    pub fn empty() -> Self {
        FieldError::new("validation_empty", "Must be blank.")
    }

    /// A string whose length (in characters) is outside `min..=max`.
    pub fn length_out_of_range(min: i64, max: i64) -> Self {
        FieldError::new(
            "validation_length_out_of_range",
            format!("The length must be between {min} and {max}."),
        )
        .with_param("max", max)
        .with_param("min", min)
    }

    pub fn match_invalid() -> Self {
        FieldError::new("validation_match_invalid", "Must be in a valid format.")
    }

    pub fn in_invalid() -> Self {
        FieldError::new("validation_in_invalid", "Must be a valid value.")
    }

    pub fn not_in_invalid() -> Self {
        FieldError::new("validation_not_in_invalid", "Must not be in list.")
    }

    /// ozzo's `Min` rule: the value is below `threshold`.
    pub fn min_threshold(threshold: impl Into<Value>) -> Self {
        let threshold = threshold.into();
        FieldError::new(
            "validation_min_greater_equal_than_required",
            format!("Must be no less than {}.", display_value(&threshold)),
        )
        .with_param("threshold", threshold)
    }

    /// ozzo's `Max` rule: the value is above `threshold`.
    pub fn max_threshold(threshold: impl Into<Value>) -> Self {
        let threshold = threshold.into();
        FieldError::new(
            "validation_max_less_equal_than_required",
            format!("Must be no greater than {}.", display_value(&threshold)),
        )
        .with_param("threshold", threshold)
    }

    pub fn values_mismatch() -> Self {
        FieldError::new("validation_values_mismatch", "Values don't match.")
    }

    /// The JSON error item (params keys sorted, as PocketBase's Go maps are).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::String(self.code.into()));
        m.insert("message".into(), Value::String(self.message.clone()));
        if !self.params.is_empty() {
            m.insert("params".into(), Value::Object(sorted(&self.params)));
        }
        Value::Object(m)
    }
}

/// A value as it appears inside a message: strings without quotes, numbers as written.
fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn sorted(m: &Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A tree of errors keyed by field name / list index (as a string).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorMap {
    entries: Vec<(String, ErrorNode)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorNode {
    Leaf(FieldError),
    Nested(ErrorMap),
}

impl ErrorMap {
    pub fn new() -> Self {
        ErrorMap::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records an error for `key`; the first error recorded for a key wins.
    pub fn insert(&mut self, key: impl Into<String>, err: FieldError) {
        let key = key.into();
        if !self.entries.iter().any(|(k, _)| *k == key) {
            self.entries.push((key, ErrorNode::Leaf(err)));
        }
    }

    /// Records a nested error map for `key` (merged with an existing nested map).
    pub fn insert_nested(&mut self, key: impl Into<String>, errs: ErrorMap) {
        if errs.is_empty() {
            return;
        }
        let key = key.into();
        if let Some((_, node)) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            if let ErrorNode::Nested(existing) = node {
                existing.merge(errs);
            }
            return;
        }
        self.entries.push((key, ErrorNode::Nested(errs)));
    }

    /// Records a leaf or nested node for `key` (first leaf wins, nested maps merge).
    pub fn insert_node(&mut self, key: impl Into<String>, node: ErrorNode) {
        match node {
            ErrorNode::Leaf(e) => self.insert(key, e),
            ErrorNode::Nested(m) => self.insert_nested(key, m),
        }
    }

    /// Adds every entry of `other` that is not already present (nested maps are merged).
    pub fn merge(&mut self, other: ErrorMap) {
        for (k, node) in other.entries {
            self.insert_node(k, node);
        }
    }

    pub fn get(&self, key: &str) -> Option<&ErrorNode> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The leaf error at a `.`-separated path (`"fields.1.values"`), if any.
    pub fn leaf(&self, path: &str) -> Option<&FieldError> {
        let mut map = self;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            match (map.get(part)?, parts.peek().is_some()) {
                (ErrorNode::Nested(m), true) => map = m,
                (ErrorNode::Leaf(e), false) => return Some(e),
                _ => return None,
            }
        }
        None
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The JSON `data` object of an error response (keys sorted at every level).
    pub fn to_json(&self) -> Value {
        let mut entries: Vec<&(String, ErrorNode)> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut m = Map::new();
        for (k, node) in entries {
            let v = match node {
                ErrorNode::Leaf(e) => e.to_json(),
                ErrorNode::Nested(n) => n.to_json(),
            };
            m.insert(k.clone(), v);
        }
        Value::Object(m)
    }
}

/// Why a collection JSON document could not be loaded (before any validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// The `type`/`name` pre-read of a create body failed (not an object, a non-string value,
    /// or the same key twice in different letter case). PocketBase answers 400
    /// `"Failed to load the collection type data due to invalid formatting."`.
    InvalidTypeData,
    /// A value of the wrong JSON type, or a field with a missing/unknown `type`. PocketBase
    /// answers 400 `"Failed to load the submitted data due to invalid formatting."`.
    InvalidFormat,
    /// `type` is a string other than `base`/`auth`/`view`. PocketBase reports this as the
    /// validation error [`LoadError::errors`] (`{"type": validation_in_invalid}`) with the
    /// usual "Failed to create/update collection." message.
    UnknownCollectionType,
}

impl LoadError {
    /// The top-level message of the 400 response for the two formatting errors.
    pub fn message(self) -> &'static str {
        match self {
            LoadError::InvalidTypeData => {
                "Failed to load the collection type data due to invalid formatting."
            }
            LoadError::InvalidFormat | LoadError::UnknownCollectionType => {
                "Failed to load the submitted data due to invalid formatting."
            }
        }
    }

    /// The `data` of the response: empty for formatting errors, the `type` error otherwise.
    pub fn errors(self) -> ErrorMap {
        let mut m = ErrorMap::new();
        if self == LoadError::UnknownCollectionType {
            m.insert("type", FieldError::in_invalid());
        }
        m
    }

    /// True when PocketBase reports this as a validation failure rather than a format error.
    pub fn is_validation(self) -> bool {
        self == LoadError::UnknownCollectionType
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for LoadError {}
