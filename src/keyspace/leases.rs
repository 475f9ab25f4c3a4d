//! Leases: a time to live that many keys share (etcd's leases, the session behind locks and elections).
//!
//! A lease is an id, its granted time to live and an absolute deadline. Keys attach to it by (db, key)
//! and the incarnation they had when attached (their `create_revision`), so a key deleted and made
//! again is no longer the lease's: the link is simply stale and ignored. That keeps the link out of every
//! key's entry (which sits at its size guard) and out of every write's path: nothing but lease commands
//! and the lease's own end ever looks here.
//!
//! This module only stores. Ending a lease deletes its keys as one unit of the committed stream: the
//! commands layer (`coordination::lease`) does that, and the expirer asks `due` which leases are up.

use bytes::Bytes;
use hashbrown::{HashMap, HashSet};
use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One live lease.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The time to live it was granted with (ms): KEEPALIVE renews to this.
    pub ttl_ms: u64,
    /// Absolute server-clock ms at which it ends.
    pub deadline_ms: u64,
    /// Attached keys: (db, key) -> the key's `create_revision` when attached.
    pub keys: HashMap<(usize, Bytes), u64>,
    /// Keys of shared locks and semaphores with a holder under this lease: their waiters are woken
    /// when it ends (the holder itself names its lease, so this is only for wake-ups).
    pub holder_keys: HashSet<(usize, Bytes)>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    leases: HashMap<u64, Lease>,
    /// (deadline, id) of every lease, soonest first.
    deadlines: BTreeSet<(u64, u64)>,
    /// (db, key) -> (lease id, create_revision): which lease a key incarnation belongs to.
    links: HashMap<(usize, Bytes), (u64, u64)>,
}

/// The lease registry.
#[derive(Default)]
pub struct Leases {
    state: Mutex<State>,
    live: AtomicUsize,
}

/// The registry, locked: what a lease operation holds while it takes its revision and changes leases,
/// so lease changes apply in the order of their revisions (it is taken after the shard locks of the
/// keys involved, never before).
pub struct LeaseTable<'a> {
    s: MutexGuard<'a, State>,
    live: &'a AtomicUsize,
}

impl Leases {
    /// Number of leases not yet ended (expired leases count until the expirer ends them).
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Locks the registry for a change.
    pub fn lock(&self) -> LeaseTable<'_> {
        LeaseTable {
            s: self.state.lock(),
            live: &self.live,
        }
    }

    /// The lease, if it exists and has not reached its deadline at `now_ms`.
    pub fn get(&self, id: u64, now_ms: u64) -> Option<Lease> {
        self.lock().get(id, now_ms)
    }

    /// Whether lease `id` is live at `now_ms`.
    pub fn is_live(&self, id: u64, now_ms: u64) -> bool {
        self.lock().is_live(id, now_ms)
    }

    /// The deadline of lease `id`, if it exists (even past it, until it is ended).
    pub fn deadline(&self, id: u64) -> Option<u64> {
        self.state.lock().leases.get(&id).map(|l| l.deadline_ms)
    }

    /// The lease a key incarnation is attached to, if any (and still live at `now_ms`).
    pub fn lease_of(
        &self,
        db: usize,
        key: &[u8],
        create_revision: u64,
        now_ms: u64,
    ) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        self.lock().lease_of(db, key, create_revision, now_ms)
    }

    /// The deadline of the lease a key incarnation is attached to, if any.
    pub fn deadline_of(
        &self,
        db: usize,
        key: &[u8],
        create_revision: u64,
        now_ms: u64,
    ) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let t = self.lock();
        let id = t.lease_of(db, key, create_revision, now_ms)?;
        t.s.leases.get(&id).map(|l| l.deadline_ms)
    }

    /// Notes that a holder of the lock or semaphore at (db, key) is held by lease `id`.
    pub fn note_holder(&self, id: u64, db: usize, key: &[u8]) {
        let mut s = self.state.lock();
        if let Some(l) = s.leases.get_mut(&id) {
            l.holder_keys.insert((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Ids of leases whose deadline is at or before `now_ms`, soonest first.
    pub fn due(&self, now_ms: u64) -> Vec<u64> {
        if self.is_empty() {
            return Vec::new();
        }
        let s = self.state.lock();
        s.deadlines
            .iter()
            .take_while(|(d, _)| *d <= now_ms)
            .map(|(_, id)| *id)
            .collect()
    }

    /// Ids of the leases live at `now_ms`, in id order.
    pub fn list(&self, now_ms: u64) -> Vec<u64> {
        let s = self.state.lock();
        let mut ids: Vec<u64> = s
            .leases
            .iter()
            .filter(|(_, l)| l.deadline_ms > now_ms)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Number of key links held (INFO: attached keys).
    pub fn attached(&self) -> usize {
        self.state.lock().links.len()
    }
}

impl LeaseTable<'_> {
    /// The id a new lease granted at revision `revision` gets: never one given before. Ids follow the
    /// revision, which never goes backwards (across restarts too, once it is persisted), so an id is
    /// not re-issued even when a lost log tail forgets the grant.
    pub fn next_id(&self, revision: u64) -> u64 {
        self.s.next_id.max(revision).max(1)
    }

    /// Whether lease `id` exists (even past its deadline, until it is ended).
    pub fn exists(&self, id: u64) -> bool {
        self.s.leases.contains_key(&id)
    }

    /// Creates lease `id` (from `next_id`, or from the log on replay).
    pub fn grant(&mut self, id: u64, ttl_ms: u64, deadline_ms: u64) {
        let s = &mut *self.s;
        s.next_id = s.next_id.max(id.saturating_add(1));
        let lease = Lease {
            ttl_ms,
            deadline_ms,
            keys: HashMap::new(),
            holder_keys: HashSet::new(),
        };
        if let Some(old) = s.leases.insert(id, lease) {
            s.deadlines.remove(&(old.deadline_ms, id));
        }
        s.deadlines.insert((deadline_ms, id));
        self.live.store(s.leases.len(), Ordering::Relaxed);
    }

    /// The lease, if it exists and has not reached its deadline at `now_ms`.
    pub fn get(&self, id: u64, now_ms: u64) -> Option<Lease> {
        self.s
            .leases
            .get(&id)
            .filter(|l| l.deadline_ms > now_ms)
            .cloned()
    }

    /// Whether lease `id` is live at `now_ms`.
    pub fn is_live(&self, id: u64, now_ms: u64) -> bool {
        self.s
            .leases
            .get(&id)
            .is_some_and(|l| l.deadline_ms > now_ms)
    }

    /// Moves a live lease's deadline. False if the lease is gone or past its deadline at `now_ms`.
    pub fn renew(&mut self, id: u64, deadline_ms: u64, now_ms: u64) -> bool {
        let s = &mut *self.s;
        let Some(l) = s.leases.get_mut(&id).filter(|l| l.deadline_ms > now_ms) else {
            return false;
        };
        let old = std::mem::replace(&mut l.deadline_ms, deadline_ms);
        s.deadlines.remove(&(old, id));
        s.deadlines.insert((deadline_ms, id));
        true
    }

    /// Attaches a key incarnation to lease `id` (moving it from any lease it had). False if the lease
    /// is gone or past its deadline.
    pub fn attach(
        &mut self,
        id: u64,
        db: usize,
        key: &[u8],
        create_revision: u64,
        now_ms: u64,
    ) -> bool {
        let s = &mut *self.s;
        if s.leases.get(&id).is_none_or(|l| l.deadline_ms <= now_ms) {
            return false;
        }
        let k = (db, Bytes::copy_from_slice(key));
        if let Some((old, _)) = s.links.insert(k.clone(), (id, create_revision))
            && old != id
            && let Some(l) = s.leases.get_mut(&old)
        {
            l.keys.remove(&k);
        }
        if let Some(l) = s.leases.get_mut(&id) {
            l.keys.insert(k, create_revision);
        }
        true
    }

    /// The lease a key incarnation is attached to, if any (and still live at `now_ms`).
    pub fn lease_of(
        &self,
        db: usize,
        key: &[u8],
        create_revision: u64,
        now_ms: u64,
    ) -> Option<u64> {
        let (id, rev) = *self.s.links.get(&(db, Bytes::copy_from_slice(key)))?;
        (rev == create_revision && self.is_live(id, now_ms)).then_some(id)
    }

    /// The keys attached to lease `id` (with the incarnation each was attached as).
    pub fn keys_of(&self, id: u64) -> Option<HashMap<(usize, Bytes), u64>> {
        self.s.leases.get(&id).map(|l| l.keys.clone())
    }

    /// Ends lease `id`, returning it (with its attached keys) if it existed. Links of its keys that still
    /// point at it are dropped.
    pub fn end(&mut self, id: u64) -> Option<Lease> {
        let s = &mut *self.s;
        let lease = s.leases.remove(&id)?;
        s.deadlines.remove(&(lease.deadline_ms, id));
        for k in lease.keys.keys() {
            if s.links.get(k).is_some_and(|(l, _)| *l == id) {
                s.links.remove(k);
            }
        }
        self.live.store(s.leases.len(), Ordering::Relaxed);
        Some(lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_revisions_and_are_never_reused() {
        let l = Leases::default();
        let mut t = l.lock();
        let a = t.next_id(5);
        assert_eq!(a, 5);
        t.grant(a, 100, 1100);
        assert_eq!(t.next_id(5), 6);
        t.end(a);
        assert_eq!(t.next_id(3), 6);
        assert_eq!(t.next_id(9), 9);
    }

    #[test]
    fn links_follow_the_key_incarnation() {
        let l = Leases::default();
        l.lock().grant(1, 100, 1100);
        assert!(l.lock().attach(1, 0, b"k", 7, 1000));
        assert_eq!(l.lease_of(0, b"k", 7, 1000), Some(1));
        // The key was deleted and made again: a new incarnation is not the lease's.
        assert_eq!(l.lease_of(0, b"k", 9, 1000), None);
        // Past the deadline the lease is gone for readers, before the expirer ends it.
        assert_eq!(l.lease_of(0, b"k", 7, 1100), None);
        assert_eq!(l.due(1100), vec![1]);
        let ended = l.lock().end(1).map(|x| x.keys.len());
        assert_eq!(ended, Some(1));
        assert_eq!(l.attached(), 0);
    }

    #[test]
    fn attaching_moves_a_key_between_leases() {
        let l = Leases::default();
        let mut t = l.lock();
        t.grant(1, 100, 1100);
        t.grant(2, 100, 1200);
        t.attach(1, 0, b"k", 7, 0);
        t.attach(2, 0, b"k", 7, 0);
        assert_eq!(t.keys_of(1).map(|k| k.len()), Some(0));
        assert_eq!(t.keys_of(2).map(|k| k.len()), Some(1));
        assert!(t.renew(2, 5000, 0));
        drop(t);
        assert_eq!(l.due(1200), vec![1]);
        assert!(!l.lock().attach(3, 0, b"x", 1, 0));
    }
}
