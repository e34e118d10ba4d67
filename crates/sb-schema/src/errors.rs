//! Validation errors in the PocketBase shape: `{"code": ..., "message": ..., "params"?: {...}}`,
//! nested by key (`{"fields": {"1": {"values": {...}}}}`).

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

    /// The JSON error item.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::String(self.code.into()));
        m.insert("message".into(), Value::String(self.message.clone()));
        if !self.params.is_empty() {
            m.insert("params".into(), Value::Object(self.params.clone()));
        }
        Value::Object(m)
    }
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
                for (k, v) in errs.entries {
                    if !existing.entries.iter().any(|(ek, _)| *ek == k) {
                        existing.entries.push((k, v));
                    }
                }
            }
            return;
        }
        self.entries.push((key, ErrorNode::Nested(errs)));
    }

    pub fn get(&self, key: &str) -> Option<&ErrorNode> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The JSON `data` object of an error response.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, node) in &self.entries {
            let v = match node {
                ErrorNode::Leaf(e) => e.to_json(),
                ErrorNode::Nested(n) => n.to_json(),
            };
            m.insert(k.clone(), v);
        }
        Value::Object(m)
    }
}
