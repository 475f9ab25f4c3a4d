//! Hash values: field -> value.

use hashbrown::HashMap;

use crate::keyspace::SmallBytes;

/// A hash. `listpack` while small (as Redis reports it), `hashtable` once it has outgrown the
/// `hash-max-listpack-*` limits; like Redis, it never goes back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashValue {
    pub map: HashMap<SmallBytes, SmallBytes>,
    pub big: bool,
}

impl HashValue {
    pub fn encoding(&self) -> &'static str {
        if self.big { "hashtable" } else { "listpack" }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
