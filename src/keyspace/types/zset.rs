//! Sorted set values: members ordered by (score, member), with a member -> score index.

use hashbrown::HashMap;
use std::collections::BTreeSet;

use crate::keyspace::SmallBytes;

/// A score with the total order Redis uses (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set. `listpack` while small, `skiplist` once past the `zset-max-listpack-*` limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSetValue {
    pub scores: HashMap<SmallBytes, f64>,
    pub order: BTreeSet<(Score, SmallBytes)>,
    pub big: bool,
}

impl ZSetValue {
    pub fn encoding(&self) -> &'static str {
        if self.big { "skiplist" } else { "listpack" }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}
