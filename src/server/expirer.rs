//! Active expiry: every few milliseconds, each shard's timing wheel yields the keys that are due, and each
//! is deleted as a write: one unit (one revision, a DEL record per key) per batch of a shard, in bounded batches so a million keys
//! expiring at once never stall other clients. Reads already treat expired keys as absent; this makes
//! them go away (and their events fire) within a tick of their deadline. This is the task that ticks; the
//! deletions are the apply path's (`commands::expire_due`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::commands::expire_due;
use crate::server::Server;

/// How often the expirer looks at the wheels.
const TICK: Duration = Duration::from_millis(10);

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
            crate::commands::coordination::lease::expire_due(&server);
        }
        let now = server.now_ms();
        // Locks and semaphores whose holders lapse by time wake their waiters (`Blocking::wake_at`).
        let wakes = server.blocking.due_wakes(now);
        if !wakes.is_empty() {
            crate::commands::serve_ready(&server, wakes);
        }
        server.blocking.expire(now);
        server.stats.sample(now);
    }
}
