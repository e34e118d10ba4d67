//! The cache layer the nodes share (Redis in practice: `sb_redis::RedisCache`), behind each
//! node's own cache: a node that misses locally asks it before computing, and stores what it
//! computed there for the others.
//!
//! Its entries are checked against **change stamps** kept beside them: every committed write
//! sets the stamps of what it changed to a new value of one increasing sequence, before the
//! write is acknowledged ([`SharedCache::bump`]). A computation notes the sequence before it
//! starts (the `since` of its fill, returned by the miss); its entry is served only while no
//! stamp of what it read is newer. So a write committed during the computation, or any time
//! later, hides the entry once its stamps are set, and in any case before it is acknowledged.
//!
//! Stamps of one table form one group: `t` (any change of the table), `w` (a change not
//! confined to rows) and `r<slot>` (rows, hashed into the slots of the node caches). The
//! group named [`GLOBAL`] holds `any` (any change at all) and `all` (a change of everything:
//! schema, raw SQL, or a node that may have written without stamping).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{Changed, Deps, row_slot};

/// The group of stamps that are not a table's.
pub const GLOBAL: &str = "";

/// Stamps of one group: a table, or [`GLOBAL`] (the empty name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamps {
    pub group: String,
    pub fields: Vec<String>,
}

/// The answer of [`SharedCache::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedGet {
    /// The stored entry, still fresh.
    Hit(String),
    /// No fresh entry; `seq` is the sequence now (the `since` of a fill).
    Miss { seq: u64 },
}

/// A cache shared by the nodes of a cluster (see the module docs).
#[async_trait::async_trait]
pub trait SharedCache: Send + Sync + 'static {
    /// The entry at `key` if none of the stamps it was stored with is newer than its `since`.
    async fn get(&self, key: &str) -> Result<SharedGet, String>;
    /// Stores `value` at `key` for an answer computed after the sequence was `since`, which read
    /// what `reads` names; nothing is stored when one of those stamps is already newer.
    async fn put(
        &self,
        key: &str,
        since: u64,
        reads: &[Stamps],
        value: String,
    ) -> Result<(), String>;
    /// Sets the stamps `changed` names to the next value of the sequence.
    async fn bump(&self, changed: &[Stamps]) -> Result<(), String>;
}

fn group<'a>(out: &'a mut Vec<Stamps>, name: &str) -> &'a mut Vec<String> {
    let at = match out.iter().position(|s| s.group == name) {
        Some(at) => at,
        None => {
            out.push(Stamps { group: name.to_owned(), fields: Vec::new() });
            out.len() - 1
        }
    };
    &mut out[at].fields
}

fn add(out: &mut Vec<Stamps>, name: &str, field: String) {
    let fields = group(out, name);
    if !fields.contains(&field) {
        fields.push(field);
    }
}

/// The stamps a committed write sets.
pub(crate) fn written(changed: &Changed) -> Vec<Stamps> {
    let mut out = Vec::new();
    match changed {
        Changed::All => {
            add(&mut out, GLOBAL, "all".into());
        }
        Changed::Tables { tables, rows } => {
            for t in tables {
                add(&mut out, t, "t".into());
                add(&mut out, t, "w".into());
            }
            for (t, id) in rows {
                add(&mut out, t, "t".into());
                add(&mut out, t, format!("r{}", row_slot(t, id)));
            }
        }
    }
    add(&mut out, GLOBAL, "any".into());
    out
}

/// The stamps an entry that depends on `deps` is checked against.
pub(crate) fn read(deps: &Deps) -> Vec<Stamps> {
    let mut out = Vec::new();
    add(&mut out, GLOBAL, "all".into());
    match deps {
        Deps::Any => add(&mut out, GLOBAL, "any".into()),
        Deps::On { tables, rows } => {
            for t in tables {
                add(&mut out, t, "t".into());
            }
            for (t, id) in rows {
                add(&mut out, t, "w".into());
                add(&mut out, t, format!("r{}", row_slot(t, id)));
            }
        }
    }
    out
}

/// What a shared entry holds: the answer and what it depends on (so that the node taking it
/// keeps it in its own cache under the same dependencies).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Blob {
    pub(crate) deps: Deps,
    pub(crate) value: Json,
}

/// Entries larger than this are kept in the node caches only.
pub(crate) const MAX_SHARED_BYTES: usize = 256 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    fn names(stamps: &[Stamps]) -> Vec<String> {
        let mut out: Vec<String> = stamps
            .iter()
            .flat_map(|s| s.fields.iter().map(move |f| format!("{}.{f}", s.group)))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_write_meets_exactly_the_entries_it_can_make_stale() {
        let slot = |id: &str| format!("r{}", row_slot("posts", id));
        let view = read(&Deps::On {
            tables: Box::new([]),
            rows: Box::new([("posts".into(), "p1".into())]),
        });
        let list = read(&Deps::On { tables: Box::new(["posts".into()]), rows: Box::new([]) });
        let raw = read(&Deps::Any);
        let overlap = |w: &[Stamps], r: &[Stamps]| {
            r.iter().any(|rs| {
                w.iter().any(|ws| {
                    ws.group == rs.group && ws.fields.iter().any(|f| rs.fields.contains(f))
                })
            })
        };
        let row_p1 =
            written(&Changed::Tables { tables: vec![], rows: vec![("posts".into(), "p1".into())] });
        let row_p2 =
            written(&Changed::Tables { tables: vec![], rows: vec![("posts".into(), "p2".into())] });
        let whole = written(&Changed::Tables { tables: vec!["posts".into()], rows: vec![] });
        let other = written(&Changed::Tables { tables: vec!["users".into()], rows: vec![] });
        let all = written(&Changed::All);
        assert!(overlap(&row_p1, &view) && overlap(&row_p1, &list) && overlap(&row_p1, &raw));
        if slot("p1") != slot("p2") {
            assert!(!overlap(&row_p2, &view), "another row keeps the view");
        }
        assert!(overlap(&row_p2, &list), "any row change reaches the list");
        assert!(overlap(&whole, &view) && overlap(&whole, &list));
        assert!(!overlap(&other, &view) && !overlap(&other, &list) && overlap(&other, &raw));
        assert!(overlap(&all, &view) && overlap(&all, &list) && overlap(&all, &raw));
        assert_eq!(names(&whole), [".any", "posts.t", "posts.w"]);
    }
}
