//! Time, the only place Concord reads the system clock (the time seam).
//!
//! Every command reads `now_ms` once, before it runs, and passes it down; apply code never calls a clock.
//! Tests and the `DEBUG CLOCK` command (behind `enable-debug-command`) move a manual offset or freeze time,
//! so TTL behaviour is tested without sleeping.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of Unix time in milliseconds.
pub trait Clock: Send + Sync {
    /// The current Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// The current Unix time in microseconds (for TIME); defaults to `now_ms * 1000`.
    fn now_us(&self) -> u64 {
        self.now_ms().saturating_mul(1000)
    }
}

/// The system clock, plus an offset and an optional freeze that only tests and `DEBUG CLOCK` touch.
#[derive(Debug, Default)]
pub struct ServerClock {
    offset_ms: AtomicI64,
    frozen: AtomicBool,
    frozen_at_ms: AtomicU64,
}

fn system_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl ServerClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops time at its current value (until `unfreeze`); `advance` still moves it.
    pub fn freeze(&self) {
        let now = self.now_ms();
        self.frozen_at_ms.store(now, Ordering::SeqCst);
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Lets time run again from where it stands now.
    pub fn unfreeze(&self) {
        if self.frozen.swap(false, Ordering::SeqCst) {
            let at = self.frozen_at_ms.load(Ordering::SeqCst) as i64;
            let sys = (system_us() / 1000) as i64;
            self.offset_ms.store(at - sys, Ordering::SeqCst);
        }
    }

    /// Moves time forward (or back, with a negative delta) by `delta_ms`.
    pub fn advance(&self, delta_ms: i64) {
        if self.frozen.load(Ordering::SeqCst) {
            let at = self.frozen_at_ms.load(Ordering::SeqCst) as i64;
            self.frozen_at_ms
                .store(at.saturating_add(delta_ms).max(0) as u64, Ordering::SeqCst);
        } else {
            self.offset_ms.fetch_add(delta_ms, Ordering::SeqCst);
        }
    }

    /// Sets the current time to `at_ms` (keeping the frozen state).
    pub fn set(&self, at_ms: u64) {
        let now = self.now_ms() as i64;
        self.advance(at_ms as i64 - now);
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }
}

impl Clock for ServerClock {
    fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    fn now_us(&self) -> u64 {
        if self.frozen.load(Ordering::Relaxed) {
            return self
                .frozen_at_ms
                .load(Ordering::Relaxed)
                .saturating_mul(1000);
        }
        let off = self.offset_ms.load(Ordering::Relaxed);
        (system_us() as i64)
            .saturating_add(off.saturating_mul(1000))
            .max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_only_moves_when_advanced() {
        let c = ServerClock::new();
        c.freeze();
        let t = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now_ms(), t);
        c.advance(1000);
        assert_eq!(c.now_ms(), t + 1000);
        c.set(42);
        assert_eq!(c.now_ms(), 42);
    }

    #[test]
    fn unfreezing_keeps_the_moved_time() {
        let c = ServerClock::new();
        c.freeze();
        c.advance(3_600_000);
        let t = c.now_ms();
        c.unfreeze();
        assert!(c.now_ms() >= t && c.now_ms() < t + 1000);
    }
}
