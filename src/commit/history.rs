//! The retained window of the committed stream: the last N units, in revision order, for readers that
//! start from a past revision (DEBUG LOG FROM today, KV.WATCH FROMREV next). Bounded by a unit count
//! (`watch-history`); the oldest unit leaves as a new one arrives.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Unit;

/// The last `limit` committed units, within `max_bytes`.
#[derive(Default)]
pub struct History {
    limit: AtomicUsize,
    /// Memory bound (0 = none): the oldest units leave while the window holds more.
    max_bytes: AtomicUsize,
    units: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    units: VecDeque<Arc<Unit>>,
    /// Approximate bytes the units hold (`unit_bytes`).
    bytes: usize,
}

impl Window {
    fn pop_front(&mut self) {
        if let Some(u) = self.units.pop_front() {
            self.bytes -= unit_bytes(&u);
        }
    }

    /// Drops the oldest units while over either bound (the newest always stays).
    fn trim(&mut self, limit: usize, max_bytes: usize) {
        while self.units.len() > limit
            || (max_bytes != 0 && self.bytes > max_bytes && self.units.len() > 1)
        {
            self.pop_front();
        }
    }
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
        self.units.lock().trim(units, self.max_bytes());
    }

    /// Sets the memory bound (0 = none); the oldest units leave at once if the window is over it.
    pub fn set_max_bytes(&self, bytes: usize) {
        self.max_bytes.store(bytes, Ordering::Relaxed);
        self.units.lock().trim(self.limit(), bytes);
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes.load(Ordering::Relaxed)
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
        q.bytes += unit_bytes(&unit);
        q.units.push_back(unit);
        q.trim(limit, self.max_bytes());
    }

    /// Up to `count` retained units with revision >= `revision`, oldest first.
    pub fn from(&self, revision: u64, count: usize) -> Vec<Arc<Unit>> {
        let q = self.units.lock();
        let start = q.units.partition_point(|u| u.revision < revision);
        q.units.range(start..).take(count).cloned().collect()
    }

    /// The retained unit of `revision`, if any.
    pub fn unit(&self, revision: u64) -> Option<Arc<Unit>> {
        let q = self.units.lock();
        let i = q.units.partition_point(|u| u.revision < revision);
        q.units.get(i).filter(|u| u.revision == revision).cloned()
    }

    /// The oldest retained revision, if any.
    pub fn oldest(&self) -> Option<u64> {
        self.units.lock().units.front().map(|u| u.revision)
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
        let oldest = q.units.front().map_or(next, |u| u.revision);
        // Revision 0 is no unit: reading from it misses nothing when unit 1 is retained.
        if revision.max(1) < oldest {
            return Err(HistoryError::Compacted { revision, oldest });
        }
        let start = q.units.partition_point(|u| u.revision < revision);
        Ok(q.units.range(start..).take(count).cloned().collect())
    }

    /// (units kept, approximate bytes they hold) for INFO.
    pub fn usage(&self) -> (usize, usize) {
        let q = self.units.lock();
        (q.units.len(), q.bytes)
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
