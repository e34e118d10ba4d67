//! The in-memory catalog of collections: an immutable snapshot swapped as a whole after every
//! schema change, so request handlers read it without locks held across awaits.

use std::collections::HashMap;
use std::sync::Arc;

use sb_schema::Collection;

/// A consistent set of collection definitions.
#[derive(Debug, Default)]
pub struct Catalog {
    /// In creation order (the order `GET /api/collections` lists them by default).
    ordered: Vec<Arc<Collection>>,
    by_id: HashMap<String, Arc<Collection>>,
    by_name: HashMap<String, Arc<Collection>>,
    cache_profile: crate::cache::CacheProfile,
}

impl Catalog {
    pub fn new(mut collections: Vec<Collection>) -> Self {
        collections.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        let ordered: Vec<Arc<Collection>> = collections.into_iter().map(Arc::new).collect();
        let by_id = ordered.iter().map(|c| (c.id.clone(), c.clone())).collect();
        let by_name = ordered.iter().map(|c| (c.name.clone(), c.clone())).collect();
        let cache_profile = crate::cache::CacheProfile::of(&ordered);
        Catalog { ordered, by_id, by_name, cache_profile }
    }

    /// What the rules of these collections mean for caching (see `cache.rs`).
    pub(crate) fn cache_profile(&self) -> &crate::cache::CacheProfile {
        &self.cache_profile
    }

    /// A collection by id or name (spec §1.1: both are accepted in paths); names match
    /// case-insensitively, as in PocketBase.
    pub fn get(&self, id_or_name: &str) -> Option<&Arc<Collection>> {
        self.by_id
            .get(id_or_name)
            .or_else(|| self.by_name.get(id_or_name))
            .or_else(|| self.get_name_ci(id_or_name))
    }

    pub fn all(&self) -> &[Arc<Collection>] {
        &self.ordered
    }

    /// A collection whose name equals `name` case-insensitively.
    pub fn get_name_ci(&self, name: &str) -> Option<&Arc<Collection>> {
        self.ordered.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

impl sb_query::CollectionLookup for Catalog {
    fn find(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        self.get(id_or_name).cloned()
    }

    fn all(&self) -> Vec<Arc<Collection>> {
        self.ordered.clone()
    }
}
