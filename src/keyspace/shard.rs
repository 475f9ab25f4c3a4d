//! `Shard`: one lock's worth of keys. A hashbrown table of boxed entries, the expiry wheel for the keys
//! that have a TTL, and the counters INFO reads. The shard knows nothing of revisions or logging: the
//! command layer decides what a change means and stamps it (the apply-path seam lives there).

use hashbrown::HashTable;

use super::entry::Entry;
use super::wheel::Wheel;

/// Slots of `Shard::removed_created`.
const REMOVAL_SLOTS: usize = 128;

/// Keys whose hash falls in this shard.
pub struct Shard {
    table: HashTable<Box<Entry>>,
    wheel: Wheel,
    /// Number of entries with an expiry set (INFO keyspace `expires=`).
    expiring: usize,
    /// Bumped whenever entries may have moved between buckets (growth, in-place rehash, clear), so a SCAN
    /// cursor taken before knows to restart this shard (duplicates are allowed, misses are not).
    layout_epoch: u32,
    /// For each slot (key hash modulo REMOVAL_SLOTS), the highest `create_revision` of a key removed from
    /// it. A key absent both at WATCH and at EXEC was created and removed in between exactly when its
    /// slot moved past the revision WATCH saw (other keys sharing the slot can only cause a false abort,
    /// which WATCH allows; a stale key reaped in between was created before, so it does not abort).
    removed_created: Box<[u64; REMOVAL_SLOTS]>,
}

impl Shard {
    pub fn new(now_ms: u64) -> Self {
        Shard {
            table: HashTable::new(),
            wheel: Wheel::new(now_ms),
            expiring: 0,
            layout_epoch: 0,
            removed_created: Box::new([0; REMOVAL_SLOTS]),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn expiring(&self) -> usize {
        self.expiring
    }

    /// The entry for `key`, expired or not.
    #[inline]
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table
            .find(hash, |e| e.key.as_slice() == key)
            .map(|b| &**b)
    }

    #[inline]
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.table
            .find_mut(hash, |e| e.key.as_slice() == key)
            .map(|b| &mut **b)
    }

    /// The entry for `key` if it exists and has not expired at `now_ms`.
    #[inline]
    pub fn get_live(&self, hash: u64, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.get(hash, key).filter(|e| !e.is_expired(now_ms))
    }

    #[inline]
    pub fn get_live_mut(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.get_mut(hash, key).filter(|e| !e.is_expired(now_ms))
    }

    /// Inserts an entry for a key that must be absent; schedules its expiry.
    pub fn insert(&mut self, hash: u64, entry: Entry, hasher: impl Fn(&[u8]) -> u64) -> &mut Entry {
        if entry.expires_at_ms != 0 {
            self.expiring += 1;
            self.wheel.insert(entry.expires_at_ms, hash);
        }
        // hashbrown rehashes (grows or reorganises in place) exactly when an insert finds no room left.
        if self.table.capacity() == self.table.len() {
            self.layout_epoch = self.layout_epoch.wrapping_add(1);
        }
        let slot = self
            .table
            .insert_unique(hash, Box::new(entry), |e| hasher(e.key.as_slice()));
        slot.into_mut()
    }

    /// Removes `key`'s entry, expired or not.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Box<Entry>> {
        let found = self
            .table
            .find_entry(hash, |e| e.key.as_slice() == key)
            .ok()?;
        let (entry, _) = found.remove();
        if entry.expires_at_ms != 0 {
            self.expiring -= 1;
        }
        let slot = &mut self.removed_created[hash as usize % REMOVAL_SLOTS];
        *slot = (*slot).max(entry.create_revision);
        Some(entry)
    }

    /// The highest create_revision of any key removed from `hash`'s slot (see `removed_created`).
    pub fn removed_created(&self, hash: u64) -> u64 {
        self.removed_created[hash as usize % REMOVAL_SLOTS]
    }

    /// Sets (or clears, with 0) the expiry of `key`, keeping the wheel and counters right. Returns false if
    /// the key is absent.
    pub fn set_expiry(&mut self, hash: u64, key: &[u8], expires_at_ms: u64) -> bool {
        let Some(e) = self.table.find_mut(hash, |e| e.key.as_slice() == key) else {
            return false;
        };
        let before = e.expires_at_ms;
        e.expires_at_ms = expires_at_ms;
        match (before != 0, expires_at_ms != 0) {
            (false, true) => self.expiring += 1,
            (true, false) => self.expiring -= 1,
            _ => {}
        }
        // A changed deadline gets a new wheel entry; the old one finds a later deadline when it fires
        // and is dropped then, which costs less than finding it now.
        if expires_at_ms != 0 && expires_at_ms != before {
            self.wheel.insert(expires_at_ms, hash);
        }
        true
    }

    /// Keys due to expire at `now_ms`, at most `limit` wheel entries' worth. Returns the keys (their
    /// entries are left in place: the caller deletes them as writes) and whether more may be due.
    pub fn due_keys(&mut self, now_ms: u64, limit: usize, out: &mut Vec<Vec<u8>>) -> bool {
        let mut fired = Vec::new();
        let more = self.wheel.poll(now_ms, limit, &mut fired);
        for (_, hash) in fired {
            // A hash can be shared by several keys, and a key's deadline can have moved: re-check each.
            for e in self.table.iter_hash(hash) {
                if e.is_expired(now_ms) {
                    out.push(e.key.to_vec());
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        more
    }

    /// A lower bound of the next expiry deadline in this shard.
    pub fn next_deadline(&self) -> Option<u64> {
        self.wheel.next_deadline()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.layout_epoch = self.layout_epoch.wrapping_add(1);
        self.table = HashTable::new();
        self.wheel.clear();
        self.expiring = 0;
    }

    /// Swaps contents with another shard (SWAPDB); both layouts count as changed.
    pub fn swap_contents(&mut self, other: &mut Shard) {
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.wheel, &mut other.wheel);
        std::mem::swap(&mut self.expiring, &mut other.expiring);
        self.layout_epoch = self.layout_epoch.wrapping_add(1);
        other.layout_epoch = other.layout_epoch.wrapping_add(1);
    }

    /// Takes every entry out, leaving the shard empty (FLUSH ASYNC frees them off the hot path).
    pub fn take_table(&mut self) -> HashTable<Box<Entry>> {
        self.layout_epoch = self.layout_epoch.wrapping_add(1);
        self.wheel.clear();
        self.expiring = 0;
        std::mem::take(&mut self.table)
    }

    /// Iterates entries in table order (SCAN, KEYS, RANDOMKEY).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter().map(|b| &**b)
    }

    /// The layout epoch (see the field).
    pub fn layout_epoch(&self) -> u32 {
        self.layout_epoch
    }

    /// Visits buckets from `start` in physical order, calling `f` for each entry, until at least `min_entries`
    /// entries were visited or the table ends. Returns the next bucket index, or None at the end.
    /// Entries never move between buckets unless `layout_epoch` changes, which is what makes this a
    /// stateless cursor.
    pub fn scan_from(
        &self,
        start: usize,
        min_entries: usize,
        mut f: impl FnMut(&Entry),
    ) -> Option<usize> {
        let n = self.table.num_buckets();
        let mut seen = 0;
        let mut i = start;
        while i < n {
            if let Some(e) = self.table.get_bucket(i) {
                f(e);
                seen += 1;
            }
            i += 1;
            if seen >= min_entries {
                break;
            }
        }
        (i < n).then_some(i)
    }

    /// The entry in bucket `index`, if occupied (RANDOMKEY).
    pub fn bucket(&self, index: usize) -> Option<&Entry> {
        self.table.get_bucket(index).map(|b| &**b)
    }

    pub fn num_buckets(&self) -> usize {
        self.table.num_buckets()
    }

    /// Approximate bytes used by the table and wheel (INFO memory).
    pub fn overhead_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<Box<Entry>>() + 1) + self.wheel.heap_bytes()
    }
}
