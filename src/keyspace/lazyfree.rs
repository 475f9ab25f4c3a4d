//! Lazy freeing: big values leave the keyspace at once and are dropped on a background thread, so
//! UNLINK, FLUSHDB/FLUSHALL ASYNC (and DEL with `lazyfree-lazy-user-del yes`) never hold a shard lock,
//! or the client that sent them, for the time it takes to free millions of allocations.
//!
//! One long-lived thread drains a channel; it is started on first use. Small values are not worth the
//! hand-off (Redis's threshold is 64 allocations) and are dropped in place.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, OnceLock};

use super::Value;

/// A value whose freeing costs more allocations than this goes to the background thread.
pub const LAZYFREE_THRESHOLD: usize = 64;

type Garbage = Box<dyn Send>;

/// The background freer and its counters (INFO memory: lazyfree_pending_objects, lazyfreed_objects).
#[derive(Default)]
pub struct LazyFree {
    tx: OnceLock<Sender<Garbage>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    pending: AtomicU64,
    freed: AtomicU64,
}

impl LazyFree {
    /// Drops `garbage` on the background thread.
    pub fn free<T: Send + 'static>(&self, garbage: T) {
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = channel::<Garbage>();
            let counters = self.counters.clone();
            let spawned = std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || {
                    for g in rx {
                        drop(g);
                        counters.pending.fetch_sub(1, Ordering::Relaxed);
                        counters.freed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the lazyfree thread; freeing in place");
            }
            tx
        });
        self.counters.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(returned) = tx.send(Box::new(garbage)) {
            // No thread to take it: free it here rather than leak it.
            drop(returned);
            self.counters.pending.fetch_sub(1, Ordering::Relaxed);
            self.counters.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Objects handed over and not yet freed.
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// Objects freed by the background thread since start.
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Relaxed)
    }
}

impl Value {
    /// Roughly how many allocations freeing this value takes (Redis's "free effort").
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Str(_) | Value::RawStr(_) | Value::Int(_) => 1,
            Value::Hash(h) => h.len(),
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => usize::try_from(s.len()).unwrap_or(usize::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_garbage_is_counted_once_the_thread_drops_it() {
        let lf = LazyFree::default();
        for _ in 0..10 {
            lf.free(vec![0u8; 1024]);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lf.freed() < 10 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(lf.freed(), 10);
        assert_eq!(lf.pending(), 0);
    }
}
