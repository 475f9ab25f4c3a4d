//! Blocking commands' wait lists (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...).
//!
//! A command that finds nothing to take parks its connection here, on every key it named, in arrival
//! order. A write that creates one of those keys (or adds to a stream) reports it as *ready*; once that
//! write finished, `serve_ready` runs the oldest waiter's command again, on the waiter's behalf, in the
//! writer's task, and hands the waiter its reply. A waiter is claimed (removed from every list) before its
//! command runs, so an element is never served twice, and put back in its place if the command found
//! nothing after all (another waiter took it). Timeouts are deadlines on the server clock, checked by the
//! expirer's tick, so tests move time with DEBUG CLOCK instead of sleeping.

use bytes::Bytes;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::oneshot;

use crate::protocol::Resp;

/// How a wait ended.
#[derive(Debug)]
pub enum WaitResult {
    /// The command ran for the waiter: these are its reply bytes, and the revision of the unit the
    /// re-run committed (0 if it wrote nothing), the ticket the reply waits on.
    Served(Vec<u8>, u64),
    /// The deadline passed.
    TimedOut,
}

/// What a timed-out blocking command replies (Redis uses a null array for most).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    NullArray,
    Null,
}

/// One parked command.
pub struct Waiter {
    pub seq: u64,
    pub client_id: u64,
    pub db: usize,
    pub keys: Vec<Bytes>,
    pub argv: Vec<Bytes>,
    pub resp: Resp,
    /// Absolute server-clock deadline in ms; 0 = wait forever.
    pub deadline_ms: u64,
    tx: Mutex<Option<oneshot::Sender<WaitResult>>>,
}

impl Waiter {
    /// Delivers the outcome; false if the waiter was already completed or its connection is gone.
    fn complete(&self, r: WaitResult) -> bool {
        match self.tx.lock().take() {
            Some(tx) => tx.send(r).is_ok(),
            None => false,
        }
    }
}

#[derive(Default)]
struct State {
    next_seq: u64,
    /// (db, key) -> waiters by arrival.
    by_key: HashMap<(usize, Bytes), VecDeque<Arc<Waiter>>>,
    /// seq -> waiter, for cancellation and timeouts.
    by_seq: BTreeMap<u64, Arc<Waiter>>,
    /// (deadline, seq) of waiters with a deadline.
    deadlines: BTreeMap<(u64, u64), ()>,
    /// (at, db, key): keys whose waiters are re-run at a moment something lapses by time without a
    /// write (a semaphore holder's deadline), see `wake_at`.
    wakes: std::collections::BTreeSet<(u64, usize, Bytes)>,
}

impl State {
    fn unlink(&mut self, w: &Waiter) {
        self.by_seq.remove(&w.seq);
        if w.deadline_ms != 0 {
            self.deadlines.remove(&(w.deadline_ms, w.seq));
        }
        for k in &w.keys {
            let id = (w.db, k.clone());
            if let Some(q) = self.by_key.get_mut(&id) {
                // Usually the oldest (a waiter being served); else wherever it stands.
                if q.front().is_some_and(|x| x.seq == w.seq) {
                    q.pop_front();
                } else {
                    q.retain(|x| x.seq != w.seq);
                }
                if q.is_empty() {
                    self.by_key.remove(&id);
                }
            }
        }
    }

    fn link(&mut self, w: Arc<Waiter>) {
        for k in &w.keys {
            let q = self.by_key.entry((w.db, k.clone())).or_default();
            // Keep arrival order even when a claimed waiter is put back (usually at the front; a new
            // waiter goes at the back).
            if q.back().is_none_or(|x| x.seq < w.seq) {
                q.push_back(w.clone());
            } else {
                let pos = q.iter().position(|x| x.seq > w.seq).unwrap_or(q.len());
                q.insert(pos, w.clone());
            }
        }
        if w.deadline_ms != 0 {
            self.deadlines.insert((w.deadline_ms, w.seq), ());
        }
        self.by_seq.insert(w.seq, w);
    }
}

/// All parked commands.
#[derive(Default)]
pub struct Blocking {
    state: Mutex<State>,
    count: AtomicUsize,
}

/// A registered wait; dropping it (the connection went away) removes the waiter.
pub struct WaitHandle<'a> {
    blocking: &'a Blocking,
    pub seq: u64,
    pub rx: oneshot::Receiver<WaitResult>,
}

impl Drop for WaitHandle<'_> {
    fn drop(&mut self) {
        self.blocking.cancel(self.seq);
    }
}

impl Blocking {
    /// Number of parked connections (INFO clients `blocked_clients`).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of keys with at least one waiter (INFO `total_blocking_keys`).
    pub fn key_count(&self) -> usize {
        self.state.lock().by_key.len()
    }

    /// True if someone waits on `key` in `db` (cheap pre-check for writers).
    pub fn is_waited(&self, db: usize, key: &[u8]) -> bool {
        if self.is_empty() {
            return false;
        }
        self.state
            .lock()
            .by_key
            .contains_key(&(db, Bytes::copy_from_slice(key)))
    }

    /// Every (db, key) someone waits on (re-checked after FLUSHDB, FLUSHALL and SWAPDB).
    pub fn waited_keys(&self) -> Vec<(usize, Bytes)> {
        if self.is_empty() {
            return Vec::new();
        }
        self.state.lock().by_key.keys().cloned().collect()
    }

    /// Whether some waiter on `(db, key)` runs a command for which `f(argv)` holds.
    pub fn any_waiter(&self, db: usize, key: &[u8], f: impl Fn(&[Bytes]) -> bool) -> bool {
        if self.is_empty() {
            return false;
        }
        self.state
            .lock()
            .by_key
            .get(&(db, Bytes::copy_from_slice(key)))
            .is_some_and(|q| q.iter().any(|w| f(&w.argv)))
    }

    /// Number of parked commands for which `f(argv)` holds (INFO).
    pub fn count_matching(&self, f: impl Fn(&[Bytes]) -> bool) -> usize {
        if self.is_empty() {
            return 0;
        }
        self.state
            .lock()
            .by_seq
            .values()
            .filter(|w| f(&w.argv))
            .count()
    }

    /// Parks a command on its keys.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        &self,
        client_id: u64,
        db: usize,
        keys: Vec<Bytes>,
        argv: Vec<Bytes>,
        resp: Resp,
        deadline_ms: u64,
    ) -> WaitHandle<'_> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state.lock();
        st.next_seq += 1;
        let seq = st.next_seq;
        let w = Arc::new(Waiter {
            seq,
            client_id,
            db,
            keys,
            argv,
            resp,
            deadline_ms,
            tx: Mutex::new(Some(tx)),
        });
        st.link(w);
        self.count.fetch_add(1, Ordering::Relaxed);
        WaitHandle {
            blocking: self,
            seq,
            rx,
        }
    }

    /// Removes a waiter (disconnect, or its wait ended).
    pub fn cancel(&self, seq: u64) {
        let mut st = self.state.lock();
        if let Some(w) = st.by_seq.get(&seq).cloned() {
            st.unlink(&w);
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Takes the oldest waiter on `(db, key)` out of every list, or None.
    pub fn claim_first(&self, db: usize, key: &Bytes) -> Option<Arc<Waiter>> {
        let mut st = self.state.lock();
        let w = st.by_key.get(&(db, key.clone()))?.front()?.clone();
        st.unlink(&w);
        self.count.fetch_sub(1, Ordering::Relaxed);
        Some(w)
    }

    /// Puts a claimed waiter back in its place (its command found nothing after all).
    pub fn unclaim(&self, w: Arc<Waiter>) {
        let mut st = self.state.lock();
        st.link(w);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Completes a claimed waiter. Returns false if its connection is gone (the result is dropped).
    pub fn deliver(&self, w: &Waiter, r: WaitResult) -> bool {
        w.complete(r)
    }

    /// Ends the wait of the client `client_id` from outside (CLIENT UNBLOCK), handing it `r`. Returns
    /// the parked command's argv, or None if that client is not parked here (unknown, not blocked, or
    /// its command is being re-run for it at this very moment, in which case it is served normally).
    pub fn unblock(&self, client_id: u64, r: WaitResult) -> Option<Vec<Bytes>> {
        if self.is_empty() {
            return None;
        }
        let w = {
            let mut st = self.state.lock();
            let w = st
                .by_seq
                .values()
                .find(|w| w.client_id == client_id)
                .cloned()?;
            st.unlink(&w);
            self.count.fetch_sub(1, Ordering::Relaxed);
            w
        };
        w.complete(r).then(|| w.argv.clone())
    }

    /// Asks for the waiters on `(db, key)` to be re-run at `at_ms`: something they wait for lapses then
    /// without a write that would wake them (a semaphore or reader holder reaching its deadline).
    pub fn wake_at(&self, db: usize, key: Bytes, at_ms: u64) {
        self.state.lock().wakes.insert((at_ms, db, key));
    }

    /// Takes the wake timers due at `now_ms`: the keys whose waiters should be re-run (keys nobody
    /// waits on any more are dropped).
    pub fn due_wakes(&self, now_ms: u64) -> Vec<(usize, Bytes)> {
        let mut st = self.state.lock();
        if st.wakes.first().is_none_or(|(at, _, _)| *at > now_ms) {
            return Vec::new();
        }
        let later = st.wakes.split_off(&(now_ms + 1, 0, Bytes::new()));
        let due = std::mem::replace(&mut st.wakes, later);
        let mut keys: Vec<(usize, Bytes)> = Vec::new();
        for (_, db, key) in due {
            let id = (db, key);
            if st.by_key.contains_key(&id) && !keys.contains(&id) {
                keys.push(id);
            }
        }
        keys
    }

    /// Times out every waiter whose deadline is at or before `now_ms`. Returns how many.
    pub fn expire(&self, now_ms: u64) -> usize {
        if self.is_empty() {
            return 0;
        }
        let due: Vec<Arc<Waiter>> = {
            let mut st = self.state.lock();
            let seqs: Vec<u64> = st
                .deadlines
                .range(..=(now_ms, u64::MAX))
                .map(|((_, s), _)| *s)
                .collect();
            let mut out = Vec::new();
            for s in seqs {
                if let Some(w) = st.by_seq.get(&s).cloned() {
                    st.unlink(&w);
                    self.count.fetch_sub(1, Ordering::Relaxed);
                    out.push(w);
                }
            }
            out
        };
        for w in &due {
            w.complete(WaitResult::TimedOut);
        }
        due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    #[test]
    fn waiters_are_claimed_in_arrival_order() {
        let bl = Blocking::default();
        let h1 = bl.register(1, 0, vec![b("k")], vec![], Resp::V2, 0);
        let h2 = bl.register(2, 0, vec![b("k"), b("j")], vec![], Resp::V2, 0);
        assert_eq!(bl.len(), 2);
        let w = bl.claim_first(0, &b("k")).unwrap();
        assert_eq!(w.client_id, 1);
        bl.unclaim(w);
        assert_eq!(bl.claim_first(0, &b("k")).unwrap().client_id, 1);
        // The second waiter is claimed through either of its keys, and only once.
        assert_eq!(bl.claim_first(0, &b("j")).unwrap().client_id, 2);
        assert!(bl.claim_first(0, &b("k")).is_none());
        drop((h1, h2));
        assert_eq!(bl.len(), 0);
    }

    #[test]
    fn dropping_the_handle_removes_the_waiter() {
        let bl = Blocking::default();
        let h = bl.register(1, 0, vec![b("k")], vec![], Resp::V2, 0);
        drop(h);
        assert!(bl.claim_first(0, &b("k")).is_none());
        assert_eq!(bl.key_count(), 0);
    }

    #[test]
    fn unblock_completes_only_a_parked_client() {
        let bl = Blocking::default();
        let mut h = bl.register(7, 0, vec![b("k")], vec![], Resp::V2, 0);
        assert!(bl.unblock(8, WaitResult::TimedOut).is_none());
        assert!(bl.unblock(7, WaitResult::TimedOut).is_some());
        assert!(matches!(h.rx.try_recv(), Ok(WaitResult::TimedOut)));
        assert!(bl.unblock(7, WaitResult::TimedOut).is_none());
        assert_eq!(bl.len(), 0);
        assert_eq!(bl.key_count(), 0);
    }

    #[test]
    fn deadlines_time_out_only_due_waiters() {
        let bl = Blocking::default();
        let mut h1 = bl.register(1, 0, vec![b("k")], vec![], Resp::V2, 100);
        let _h2 = bl.register(2, 0, vec![b("k")], vec![], Resp::V2, 200);
        assert_eq!(bl.expire(150), 1);
        assert!(matches!(h1.rx.try_recv(), Ok(WaitResult::TimedOut)));
        assert_eq!(bl.len(), 1);
    }
}
