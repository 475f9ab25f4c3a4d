//! Set values.

use hashbrown::HashSet;

use crate::keyspace::SmallBytes;

/// Redis's set encodings, which `OBJECT ENCODING` reports and Redis's tests check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetEncoding {
    #[default]
    Intset,
    Listpack,
    Hashtable,
}

/// A set of members.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetValue {
    pub members: HashSet<SmallBytes>,
    pub encoding: SetEncoding,
}

impl SetValue {
    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            SetEncoding::Intset => "intset",
            SetEncoding::Listpack => "listpack",
            SetEncoding::Hashtable => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}
