//! The committed stream (the apply-path seam): every unit of writes leaves the apply path here as one
//! framed `Unit {revision, now_ms, records, changes}`, published in strict revision order with no gap and
//! no repeat, whatever the concurrency. The AOF writer, watches and later Raft replication are `Reader`s
//! of this stream; no handler calls them.
//!
//! **Why a reorder step.** A unit takes its revision under its shard guards, at its first change, so the
//! revisions of two units that touch one key are in the order they touched it. But a unit finishes (and
//! commits) after its guards are dropped, so unit 6 may reach `commit` before unit 5. `commit` therefore
//! parks a unit whose predecessor has not committed yet and publishes it right after that predecessor.
//! Units in flight at once are bounded by the runtime's worker threads (a unit never awaits), so the
//! parked set stays tiny.
//!
//! **Who must commit.** Every unit that took a revision while the log was active commits exactly once
//! (`Txn` drops into `commit` on every path, including a handler that panicked). Activation uses the
//! revision counter's own ordering to pick its first revision: a unit decides whether to record when it
//! takes its revision (a SeqCst load of `active` after the SeqCst fetch-add of the counter), and
//! `activate` stores `active` before it reads the counter. So a unit that saw "inactive" took a revision
//! below the log's start, and every revision from the start on belongs to a unit that saw "active": no
//! gap, and no need to stop the world to start the log.
//!
//! **Cost when nobody reads.** While no reader is attached and no history is kept, `is_active` is false:
//! units build no records and never reach this module (one relaxed load per write).
//!
//! **Time.** `now_ms` is the unit's clock reading; two units racing across a millisecond boundary can
//! take their revisions in the opposite order of their readings, so the published `now_ms` is the max of
//! the unit's own and its predecessor's. Records carry absolute times, so replay never depends on it.
//!
//! **Completion tickets.** `published` is the highest revision published in order; `wait_for(rev)`
//! completes once it reaches `rev`. A connection waits on its batch's highest revision before it writes
//! the replies when `acks_wait_for_commit` is set (an `appendfsync always` writer or Raft commit will hold
//! the watermark back to what is durable); a waiter costs nothing when there is none.

pub mod history;

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub use history::{History, HistoryError};

/// One deterministic command of a unit: applying `argv` to database `db` reproduces its part of the
/// change (absolute times, no randomness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

impl Record {
    /// The record with its arguments in one allocation of its own. A command's arguments are slices
    /// of its connection's read buffer; a unit kept in the history must not pin those buffers.
    fn detach(&mut self) {
        let total = self.argv.iter().map(|a| a.len()).sum();
        let mut buf = bytes::BytesMut::with_capacity(total);
        for a in &self.argv {
            buf.extend_from_slice(a);
        }
        let mut all = buf.freeze();
        for a in self.argv.iter_mut() {
            *a = all.split_to(a.len());
        }
    }
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created or modified (value, expiry or metadata).
    Put,
    /// Deleted by a command.
    Del,
    /// Deleted because its expiry passed (an expiry unit).
    Expired,
    /// Databases `db` and `other` swapped contents (SWAPDB): every key of both changed at once. `key` is
    /// empty; a watcher of either database re-reads it.
    SwapDb { other: usize },
}

impl ChangeKind {
    /// The event name a watch sends (`put`/`del`), or `expired`/`swapdb`.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Put => "put",
            ChangeKind::Del => "del",
            ChangeKind::Expired => "expired",
            ChangeKind::SwapDb { .. } => "swapdb",
        }
    }
}

/// One per-key change inside a unit, in apply order. `sub` is its position in the unit (etcd's
/// `Revision{main, sub}`), which orders the events of one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sub: u32,
    pub kind: ChangeKind,
    pub db: usize,
    pub key: Bytes,
    /// The key's `mod_revision` before this change (0 when it did not exist): a watch that wants the
    /// previous value finds it at that revision in the history, so values are never kept twice.
    pub prev_revision: u64,
    /// The new value of a string put, captured only while `CommitLog::capture_values` is set (the
    /// history is kept for watches); None otherwise, for deletes and for other types.
    pub value: Option<Bytes>,
}

/// One committed unit of writes: a command, an EXEC, a script, a FUNCTION call, a blocked client's
/// re-run, or an expiry batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub revision: u64,
    pub now_ms: u64,
    pub records: Vec<Record>,
    pub changes: Vec<Change>,
}

/// A consumer of the committed stream. `committed` is called once per unit, in revision order, on the
/// thread that completed the order; it must not block for long (hand the unit to a task or thread).
pub trait Reader: Send + Sync {
    fn committed(&self, unit: &Arc<Unit>);
}

/// The ordered stream of committed units and its readers.
#[derive(Default)]
pub struct CommitLog {
    /// Units must be recorded and committed (some reader or the history consumes them).
    active: AtomicBool,
    /// Capture string values in `Change::value` (the history is kept, for watches to replay).
    capture_values: AtomicBool,
    /// Units carry their records (a reader replays them: DEBUG LOG, later the AOF and Raft). Without
    /// one, units carry only their changes, which is all watches need, at about half the cost.
    records: AtomicBool,
    /// Connections wait for their units' tickets before writing replies.
    acks_wait: AtomicBool,
    /// Highest revision published in order (the completion watermark).
    published: AtomicU64,
    /// Tasks waiting in `wait_for`; the commit path only wakes anyone when this is non-zero.
    waiters: AtomicUsize,
    woken: tokio::sync::Notify,
    state: Mutex<State>,
    history: Arc<History>,
}

#[derive(Default)]
struct State {
    /// The next revision to publish; revisions below it are published or predate activation.
    next: u64,
    /// Units committed before their predecessor, by revision.
    parked: BTreeMap<u64, Unit>,
    last_now_ms: u64,
    readers: Vec<Arc<dyn Reader>>,
}

impl CommitLog {
    /// Whether units must be built and committed. Read by a unit right after it takes its revision.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    /// Starts the stream at the first revision taken from now on. `current_revision` reads the
    /// keyspace's revision counter; it is called after `active` is set (see the module comment).
    pub fn activate(&self, current_revision: impl FnOnce() -> u64) {
        let mut st = self.state.lock();
        if self.active.swap(true, Ordering::SeqCst) {
            return;
        }
        let start = current_revision() + 1;
        st.next = start;
        st.parked.clear();
        self.published.store(start - 1, Ordering::SeqCst);
    }

    /// Attaches a reader (the AOF writer, watches, replication) and activates the stream.
    pub fn attach(&self, reader: Arc<dyn Reader>, current_revision: impl FnOnce() -> u64) {
        self.state.lock().readers.push(reader);
        self.activate(current_revision);
    }

    /// Keeps the last `units` units in memory for `history()` readers (DEBUG LOG, later KV.WATCH
    /// FROMREV), and activates the stream. 0 keeps none.
    /// The window holds string values too (a watch replaying FROMREV sends them), so values are
    /// captured while it is kept.
    pub fn retain(&self, units: usize, current_revision: impl FnOnce() -> u64) {
        self.history.set_limit(units);
        if units > 0 {
            self.set_capture_values(true);
            self.activate(current_revision);
        }
    }

    /// The retained window.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The retained window, for a reader that looks up past units (a watch's previous values).
    pub fn history_handle(&self) -> Arc<History> {
        self.history.clone()
    }

    /// Up to `count` retained units from `revision` on, oldest first (DEBUG LOG, later KV.WATCH
    /// FROMREV); `Compacted` when units from `revision` on are no longer all retained.
    pub fn read(&self, revision: u64, count: usize) -> Result<Vec<Arc<Unit>>, HistoryError> {
        self.history.read(revision, count, self.published() + 1)
    }

    /// Whether string values are captured in changes.
    #[inline]
    pub fn capture_values(&self) -> bool {
        self.capture_values.load(Ordering::Relaxed)
    }

    pub fn set_capture_values(&self, on: bool) {
        self.capture_values.store(on, Ordering::Relaxed);
    }

    /// Whether units carry their records. Read with `is_active` when a unit takes its revision.
    #[inline]
    pub fn wants_records(&self) -> bool {
        self.records.load(Ordering::SeqCst)
    }

    /// Makes units carry their records from the next revision on (set before a replaying reader starts).
    pub fn set_records(&self, on: bool) {
        self.records.store(on, Ordering::SeqCst);
    }

    /// Whether a connection must wait for its units' tickets before it writes their replies.
    #[inline]
    pub fn acks_wait_for_commit(&self) -> bool {
        self.acks_wait.load(Ordering::Relaxed)
    }

    pub fn set_acks_wait_for_commit(&self, on: bool) {
        self.acks_wait.store(on, Ordering::Relaxed);
    }

    /// The highest revision published in order.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// The commit point: `unit` (which took its revision while the stream was active) joins the stream,
    /// now if every earlier revision is published, else as soon as they are. Returns its revision, the
    /// unit's completion ticket for `wait_for`.
    pub fn commit(&self, mut unit: Unit) -> u64 {
        let revision = unit.revision;
        unit.records.iter_mut().for_each(Record::detach);
        let mut st = self.state.lock();
        if !self.active.load(Ordering::Relaxed) || revision < st.next {
            // Taken before the stream started (or replayed below it): not part of this stream.
            return revision;
        }
        if revision != st.next {
            st.parked.insert(revision, unit);
            return revision;
        }
        loop {
            unit.now_ms = unit.now_ms.max(st.last_now_ms);
            st.last_now_ms = unit.now_ms;
            let unit_arc = Arc::new(unit);
            for r in &st.readers {
                r.committed(&unit_arc);
            }
            self.history.push(unit_arc);
            st.next += 1;
            let next = st.next;
            match st.parked.remove(&next) {
                Some(u) => unit = u,
                None => break,
            }
        }
        self.published.store(st.next - 1, Ordering::Release);
        drop(st);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.woken.notify_waiters();
        }
        revision
    }

    /// Completes once `revision` is published (at once when it already is, or when the stream is
    /// inactive).
    pub async fn wait_for(&self, revision: u64) {
        loop {
            if !self.is_active() || self.published() >= revision {
                return;
            }
            let notified = self.woken.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.waiters.fetch_add(1, Ordering::SeqCst);
            if self.published() >= revision {
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            notified.await;
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Units committed out of order and still waiting for a predecessor (INFO, tests).
    pub fn parked(&self) -> usize {
        self.state.lock().parked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(revision: u64, now_ms: u64) -> Unit {
        Unit {
            revision,
            now_ms,
            records: vec![Record {
                db: 0,
                argv: vec![Bytes::from(format!("u{revision}"))],
            }],
            changes: Vec::new(),
        }
    }

    struct Collect(Mutex<Vec<u64>>);
    impl Reader for Collect {
        fn committed(&self, unit: &Arc<Unit>) {
            self.0.lock().push(unit.revision);
        }
    }

    #[test]
    fn units_committed_out_of_order_are_published_in_revision_order() {
        let log = CommitLog::default();
        let seen = Arc::new(Collect(Mutex::new(Vec::new())));
        log.attach(seen.clone(), || 0);
        log.commit(unit(2, 10));
        log.commit(unit(3, 10));
        assert!(seen.0.lock().is_empty(), "2 and 3 wait for 1");
        assert_eq!(log.parked(), 2);
        assert_eq!(log.published(), 0);
        log.commit(unit(1, 10));
        assert_eq!(*seen.0.lock(), vec![1, 2, 3]);
        assert_eq!(log.published(), 3);
        assert_eq!(log.parked(), 0);
    }

    #[test]
    fn published_now_ms_never_decreases() {
        let log = CommitLog::default();
        log.retain(10, || 0);
        log.commit(unit(1, 100));
        log.commit(unit(2, 99));
        log.commit(unit(3, 101));
        let times: Vec<u64> = log.history().from(1, 10).iter().map(|u| u.now_ms).collect();
        assert_eq!(times, vec![100, 100, 101]);
    }

    #[test]
    fn revisions_taken_before_activation_are_not_part_of_the_stream() {
        let log = CommitLog::default();
        log.retain(10, || 7);
        log.commit(unit(7, 1));
        log.commit(unit(8, 1));
        let revs: Vec<u64> = log
            .history()
            .from(0, 10)
            .iter()
            .map(|u| u.revision)
            .collect();
        assert_eq!(revs, vec![8]);
    }

    #[test]
    fn concurrent_committers_publish_every_revision_once_in_order() {
        let log = Arc::new(CommitLog::default());
        let seen = Arc::new(Collect(Mutex::new(Vec::new())));
        log.attach(seen.clone(), || 0);
        let counter = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (log, counter) = (log.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        let r = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        if r % 7 == 0 {
                            std::thread::yield_now();
                        }
                        log.commit(unit(r, r));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("committer thread");
        }
        let seen = seen.0.lock();
        assert_eq!(seen.len(), 16_000);
        assert!(seen.iter().enumerate().all(|(i, r)| *r == i as u64 + 1));
    }

    #[test]
    fn a_committed_record_does_not_share_its_arguments_buffer() {
        let log = CommitLog::default();
        log.retain(10, || 0);
        let read_buffer = Bytes::from(b"SETkeyvalue".to_vec());
        let argv = vec![
            read_buffer.slice(0..3),
            read_buffer.slice(3..6),
            read_buffer.slice(6..11),
        ];
        log.commit(Unit {
            revision: 1,
            now_ms: 0,
            records: vec![Record { db: 0, argv }],
            changes: Vec::new(),
        });
        let kept = log.history().from(1, 1);
        let args = &kept[0].records[0].argv;
        assert_eq!(args[0], b"SET"[..]);
        assert_eq!(args[2], b"value"[..]);
        let within = |a: &Bytes| {
            let r = read_buffer.as_ptr_range();
            r.contains(&a.as_ptr())
        };
        assert!(
            !args.iter().any(within),
            "a kept record points into the read buffer"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ticket_completes_only_when_every_earlier_unit_is_published() {
        let log = Arc::new(CommitLog::default());
        log.retain(10, || 0);
        log.commit(unit(2, 1));
        let waiter = {
            let log = log.clone();
            tokio::spawn(async move { log.wait_for(2).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "ticket 2 must wait for unit 1");
        log.commit(unit(1, 1));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("ticket completes once 1 is published")
            .expect("waiter task");
        // An already published revision completes at once.
        log.wait_for(1).await;
    }
}
