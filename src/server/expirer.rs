//! Active expiry: every few milliseconds, each shard's timing wheel yields the keys that are due, and each
//! is deleted as a write: one unit (one revision, a DEL record per key) per batch of a shard, in bounded batches so a million keys
//! expiring at once never stall other clients. Reads already treat expired keys as absent; this makes
//! them go away (and their events fire) within a tick of their deadline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::commands::ExpiryBatch;
use crate::keyspace::db::SHARDS;
use crate::server::Server;

/// How often the expirer looks at the wheels.
const TICK: Duration = Duration::from_millis(10);
/// Wheel entries handled per shard lock; the lock is released between batches.
const BATCH: usize = 128;

/// Runs until shutdown.
pub async fn run(server: Arc<Server>) {
    let mut shutdown = server.shutdown.subscribe();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        if server.active_expire.load(Ordering::Relaxed) {
            expire_due(&server);
        }
        let now = server.now_ms();
        server.blocking.expire(now);
        server.stats.sample(now);
    }
}

/// Deletes every key due at the server's current time. Returns how many were deleted. Each batch of one
/// shard is one unit of the committed stream (one revision for up to `BATCH` keys).
pub fn expire_due(server: &Server) -> usize {
    let now = server.now_ms();
    // CLIENT PAUSE stops expiry too, as in Redis: keys only look expired until it ends.
    if server.pubsub.pause.mode(now) != crate::pubsub::pause::PauseMode::Off {
        return 0;
    }
    let mut total = 0;
    let mut keys = Vec::new();
    for (dbi, db) in server.keyspace.dbs().iter().enumerate() {
        for si in 0..SHARDS {
            loop {
                // Not in the middle of an EXEC: a transaction sees one instant of time. While a script or
                // EXEC holds the lock, this tick is skipped rather than parking a runtime worker.
                let Some(_shared) = server.exec_lock.try_read() else {
                    return total;
                };
                let mut shard = db.lock(si);
                if shard.next_deadline().is_none_or(|d| d > now) {
                    break;
                }
                keys.clear();
                let more = shard.due_keys(now, BATCH, &mut keys);
                let mut batch = ExpiryBatch::new(now);
                for key in &keys {
                    // Re-checked under the same lock: the key may have been persisted or rewritten.
                    let hash = db.hash(key);
                    total += usize::from(batch.reap(server, dbi, &mut shard, hash, key, now));
                }
                // Committed under the shard guard, like any unit that took its revision there.
                batch.commit(server);
                drop(shard);
                // Events and invalidations leave once the shard is unlocked.
                crate::notify::unit_done(server.outlets(), None, &mut batch.notes);
                if !more {
                    break;
                }
            }
        }
    }
    total
}
