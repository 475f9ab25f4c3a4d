//! The retained window of the committed stream: the last N units, in revision order, for readers that
//! start from a past revision (DEBUG LOG FROM today, KV.WATCH FROMREV next). Bounded by a unit count
//! (`watch-history`); the oldest unit leaves as a new one arrives.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Unit;

/// The last `limit` committed units.
#[derive(Default)]
pub struct History {
    limit: AtomicUsize,
    units: Mutex<VecDeque<Arc<Unit>>>,
}

/// Why a range of the history cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryError {
    /// `revision` is older than the oldest retained unit (`oldest`).
    Compacted { revision: u64, oldest: u64 },
}

impl History {
    /// Sets the number of units kept; a smaller limit drops the oldest at once.
    pub fn set_limit(&self, units: usize) {
        self.limit.store(units, Ordering::Relaxed);
        let mut q = self.units.lock();
        while q.len() > units {
            q.pop_front();
        }
    }

    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Appends the next unit in revision order (called by the commit path only).
    pub(super) fn push(&self, unit: Arc<Unit>) {
        let limit = self.limit();
        if limit == 0 {
            return;
        }
        let mut q = self.units.lock();
        if q.len() >= limit {
            q.pop_front();
        }
        q.push_back(unit);
    }

    /// Up to `count` retained units with revision >= `revision`, oldest first.
    pub fn from(&self, revision: u64, count: usize) -> Vec<Arc<Unit>> {
        let q = self.units.lock();
        let start = q.partition_point(|u| u.revision < revision);
        q.range(start..).take(count).cloned().collect()
    }

    /// As `from`, but a `revision` older than the window is an error rather than a silent gap. `next` is
    /// the next revision the stream will publish (what is oldest when nothing is retained).
    pub fn read(
        &self,
        revision: u64,
        count: usize,
        next: u64,
    ) -> Result<Vec<Arc<Unit>>, HistoryError> {
        let q = self.units.lock();
        let oldest = q.front().map_or(next, |u| u.revision);
        // Revision 0 is no unit: reading from it misses nothing when unit 1 is retained.
        if revision.max(1) < oldest {
            return Err(HistoryError::Compacted { revision, oldest });
        }
        let start = q.partition_point(|u| u.revision < revision);
        Ok(q.range(start..).take(count).cloned().collect())
    }

    /// (units kept, approximate bytes they hold) for INFO.
    pub fn usage(&self) -> (usize, usize) {
        let q = self.units.lock();
        let bytes = q.iter().map(|u| unit_bytes(u)).sum();
        (q.len(), bytes)
    }
}

/// Approximate heap bytes of a unit.
fn unit_bytes(u: &Unit) -> usize {
    let records: usize = u
        .records
        .iter()
        .map(|r| 32 + r.argv.iter().map(|a| a.len() + 32).sum::<usize>())
        .sum();
    let changes: usize = u
        .changes
        .iter()
        .map(|c| 80 + c.key.len() + c.value.as_ref().map_or(0, |v| v.len()))
        .sum();
    std::mem::size_of::<Unit>() + 16 + records + changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(revision: u64) -> Arc<Unit> {
        Arc::new(Unit {
            revision,
            now_ms: 0,
            records: Vec::new(),
            changes: Vec::new(),
        })
    }

    #[test]
    fn the_window_keeps_the_newest_units() {
        let h = History::default();
        h.set_limit(3);
        for r in 1..=5 {
            h.push(unit(r));
        }
        let revs: Vec<u64> = h.from(0, 10).iter().map(|u| u.revision).collect();
        assert_eq!(revs, vec![3, 4, 5]);
        assert_eq!(h.from(4, 1)[0].revision, 4);
        assert_eq!(
            h.read(2, 10, 6),
            Err(HistoryError::Compacted {
                revision: 2,
                oldest: 3
            })
        );
        assert_eq!(h.read(3, 10, 6).map(|v| v.len()), Ok(3));
        assert_eq!(h.read(9, 10, 6).map(|v| v.len()), Ok(0));
    }

    #[test]
    fn nothing_is_compacted_before_the_first_unit() {
        let h = History::default();
        h.set_limit(3);
        assert_eq!(h.read(1, 10, 1).map(|v| v.len()), Ok(0));
        h.push(unit(1));
        assert_eq!(h.read(0, 10, 2).map(|v| v.len()), Ok(1));
    }
}
