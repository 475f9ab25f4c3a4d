//! CLIENT PAUSE / UNPAUSE: while a pause is on, client commands it covers wait (they are not refused)
//! until it ends; WRITE covers only commands that may write or replicate, ALL covers every command.
//!
//! Checking costs one relaxed atomic load while no pause is on.

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// What a pause covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseMode {
    Off = 0,
    Write = 1,
    All = 2,
}

/// The server's pause state.
#[derive(Default)]
pub struct Pause {
    mode: AtomicU8,
    /// Server-clock ms when the pause ends.
    until_ms: AtomicU64,
    ended: Notify,
    /// Clients whose command is held right now (counted in INFO blocked_clients, as Redis does).
    held: AtomicUsize,
}

/// Counts a held client for as long as it lives.
pub struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pause {
    /// The pause in force at `now_ms` (Off once its end time passed).
    #[inline]
    pub fn mode(&self, now_ms: u64) -> PauseMode {
        match self.mode.load(Ordering::Relaxed) {
            0 => PauseMode::Off,
            m => {
                if now_ms >= self.until_ms.load(Ordering::Relaxed) {
                    PauseMode::Off
                } else if m == 1 {
                    PauseMode::Write
                } else {
                    PauseMode::All
                }
            }
        }
    }

    /// Whether any pause is set (it may have expired already): the cheap check.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.mode.load(Ordering::Relaxed) != 0
    }

    /// CLIENT PAUSE: as Redis, a new pause never shortens or weakens one in force; it extends it.
    pub fn pause(&self, mode: PauseMode, until_ms: u64, now_ms: u64) {
        let current = self.mode(now_ms);
        let new_mode = mode.max(current);
        let until = if current == PauseMode::Off {
            until_ms
        } else {
            until_ms.max(self.until_ms.load(Ordering::Relaxed))
        };
        self.until_ms.store(until, Ordering::Relaxed);
        self.mode.store(new_mode as u8, Ordering::Release);
        // Waiters re-check: a mode change from ALL to ALL+later end needs no wake, but a cheap wake is fine.
        self.ended.notify_waiters();
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        self.mode.store(0, Ordering::Release);
        self.ended.notify_waiters();
    }

    /// Server-clock ms when the current pause ends.
    pub fn until_ms(&self) -> u64 {
        self.until_ms.load(Ordering::Relaxed)
    }

    /// Number of clients whose command a pause holds.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Marks a client as held until the returned guard drops.
    pub fn hold(&self) -> Held<'_> {
        self.held.fetch_add(1, Ordering::Relaxed);
        Held(&self.held)
    }

    /// A future that resolves on the next UNPAUSE or PAUSE. Create it (and `enable` it) before
    /// checking `mode`, so a change in between is not missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.ended.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_extends_and_never_weakens() {
        let p = Pause::default();
        assert_eq!(p.mode(0), PauseMode::Off);
        p.pause(PauseMode::All, 100, 0);
        p.pause(PauseMode::Write, 200, 10);
        assert_eq!(p.mode(50), PauseMode::All);
        assert_eq!(p.mode(150), PauseMode::All);
        assert_eq!(p.mode(200), PauseMode::Off);
        p.pause(PauseMode::Write, 300, 250);
        assert_eq!(p.mode(260), PauseMode::Write);
        p.unpause();
        assert_eq!(p.mode(260), PauseMode::Off);
    }
}
