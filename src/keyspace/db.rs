//! `Db`: one numbered database (SELECT n), split into shards by key hash. Each shard is a mutex held only
//! for the few hundred nanoseconds a command needs, never across an `.await`; commands that touch several
//! shards take them in ascending index order through `lock_many`, so they cannot deadlock.

use hashbrown::DefaultHashBuilder;
use parking_lot::{Mutex, MutexGuard};
use std::hash::BuildHasher;

use super::shard::Shard;

/// Shards per database: a power of two, several per core so that two workers rarely meet on one lock.
pub const SHARDS: usize = 16;

/// A shard on its own cache lines, so two cores locking neighbouring shards do not share a line.
#[repr(align(128))]
pub struct ShardSlot(pub Mutex<Shard>);

/// One numbered database.
pub struct Db {
    shards: Box<[ShardSlot]>,
    hasher: DefaultHashBuilder,
}

impl Db {
    pub fn new(now_ms: u64, hasher: DefaultHashBuilder) -> Self {
        Db {
            shards: (0..SHARDS)
                .map(|_| ShardSlot(Mutex::new(Shard::new(now_ms))))
                .collect(),
            hasher,
        }
    }

    /// The key's hash; the same value locates its shard and its table bucket.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard index for a hash. hashbrown uses the low bits (bucket) and the top 7 (tag); the shard
    /// takes bits from the middle so the three stay independent.
    #[inline]
    pub fn shard_index(hash: u64) -> usize {
        (hash >> 40) as usize & (SHARDS - 1)
    }

    /// The hash of `key` and its locked shard.
    #[inline]
    pub fn lock_key(&self, key: &[u8]) -> (u64, MutexGuard<'_, Shard>) {
        let h = self.hash(key);
        (h, self.shards[Self::shard_index(h)].0.lock())
    }

    #[inline]
    pub fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.shards[index].0.lock()
    }

    /// Locks the shards of all `keys` in ascending shard order (the one lock order of the keyspace).
    pub fn lock_many<'a, K: AsRef<[u8]>>(&'a self, keys: &[K]) -> ShardSet<'a> {
        let mut idx: Vec<usize> = keys
            .iter()
            .map(|k| Self::shard_index(self.hash(k.as_ref())))
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let guards = idx.iter().map(|&i| (i, self.shards[i].0.lock())).collect();
        ShardSet { db: self, guards }
    }

    /// Locks every shard, in order (FLUSHDB, SWAPDB, DBSIZE-exact operations).
    pub fn lock_all(&self) -> ShardSet<'_> {
        let guards = (0..SHARDS).map(|i| (i, self.shards[i].0.lock())).collect();
        ShardSet { db: self, guards }
    }

    pub fn hasher(&self) -> &DefaultHashBuilder {
        &self.hasher
    }

    /// Number of keys (including expired ones not yet deleted, as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (keys, keys with an expiry) for INFO keyspace.
    pub fn counts(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(k, e), s| {
            let g = s.0.lock();
            (k + g.len(), e + g.expiring())
        })
    }

    /// Approximate bytes of table and wheel overhead (INFO memory).
    pub fn overhead_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.lock().overhead_bytes())
            .sum()
    }
}

/// Several shards of one database, locked in ascending order.
pub struct ShardSet<'a> {
    db: &'a Db,
    guards: Vec<(usize, MutexGuard<'a, Shard>)>,
}

impl ShardSet<'_> {
    /// The locked shard holding `hash`. Panics only if the key was not among those locked, which is a bug
    /// in the calling command, never a consequence of input.
    pub fn shard(&mut self, hash: u64) -> &mut Shard {
        let i = Db::shard_index(hash);
        let pos = self
            .guards
            .binary_search_by_key(&i, |(j, _)| *j)
            .expect("shard of a key that was locked");
        &mut self.guards[pos].1
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.db.hash(key)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Shard> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }
}
