//! The keyspace: numbered databases of sharded tables, and the global revision (the revision seam).
//!
//! The revision `R` is one `u64` for the whole server, bumped once per committed write (a command, a whole
//! script or EXEC, one expiry). Keys carry `create_revision`, `mod_revision` and `version` (see `Entry`).
//! This module stores; it does not decide what a command means: `commands/` does that and stamps changes.

pub mod db;
pub mod entry;
pub mod lazyfree;
pub mod leases;
pub mod rdb;
pub mod shard;
pub mod small_bytes;
pub mod types;
pub mod value;
pub mod wheel;

use hashbrown::DefaultHashBuilder;
use std::sync::atomic::{AtomicU64, Ordering};

pub use db::{Db, ShardSet};
pub use entry::Entry;
pub use shard::Shard;
pub use small_bytes::SmallBytes;
pub use value::Value;

/// All databases plus the global revision.
pub struct Keyspace {
    dbs: Box<[Db]>,
    revision: AtomicU64,
    /// Leases and the keys attached to them (they outlive FLUSHALL, as etcd's do).
    pub leases: leases::Leases,
}

impl Keyspace {
    pub fn new(databases: usize, now_ms: u64) -> Self {
        // One hasher (random seed) for every db, so a key hashes alike in all of them (MOVE, SWAPDB).
        let hasher = DefaultHashBuilder::default();
        Keyspace {
            dbs: (0..databases)
                .map(|_| Db::new(now_ms, hasher.clone()))
                .collect(),
            revision: AtomicU64::new(0),
            leases: Default::default(),
        }
    }

    #[inline]
    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// The current revision (KV.REV).
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }

    /// Takes the next revision for a write that changed something.
    #[inline]
    pub fn next_revision(&self) -> u64 {
        self.revision.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Moves the revision up to at least `revision` (replay of a logged write).
    pub fn observe_revision(&self, revision: u64) {
        self.revision.fetch_max(revision, Ordering::SeqCst);
    }
}
