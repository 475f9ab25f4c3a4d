//! List values.

use std::collections::VecDeque;

use crate::keyspace::SmallBytes;

/// A list. `listpack` while small, `quicklist` once past `list-max-listpack-size`, as Redis reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListValue {
    pub items: VecDeque<SmallBytes>,
    pub big: bool,
}

impl ListValue {
    pub fn encoding(&self) -> &'static str {
        if self.big { "quicklist" } else { "listpack" }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
