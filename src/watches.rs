//! The watch registry behind KV.WATCH and ELECT.OBSERVE (their commands are in
//! `commands::coordination::watch`): watches of a key or a prefix, live or replayed from a past
//! revision, and watches of an election key that report changes of leader.
//!
//! The registry is a reader of the committed stream (`commit::Reader`): every unit reaches it once, in
//! revision order, and each matching watch gets the unit's events as one push (events of one revision
//! arrive together, in apply order). Pushes go through the client's output buffer and its limit
//! (`pubsub` class): a watcher that does not read is disconnected there, and resumes with FROMREV.
//!
//! No gap and no duplicate between replay and live: a new watch is registered *catching up* (units
//! delivered meanwhile are parked on it, in order) with a cursor at FROMREV. Catching up sends the
//! retained units from the cursor, then the parked ones past it, under the watch's lock, in chunks:
//! the first after the reply, each next one when the connection has written the last
//! (`Watches::catch_up`), so a long replay flows at the client's pace and never meets its output
//! limit. The watch goes live when nothing is left. Without FROMREV the cursor starts after the
//! revision published when the command started, so a unit committing during registration is never
//! lost either.

use bytes::Bytes;
use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::clients::ClientInfo;
use crate::commit::{Change, ChangeKind, CommitLog, History, HistoryError, Reader, Unit};

/// Bytes of replayed events a catching-up watch adds to its client's output per turn: the rest
/// follows as the socket drains (`Watches::catch_up`), so a replay never meets the output limit.
const CATCH_UP_CHUNK: usize = 64 * 1024;
/// Units a watch may have waiting while it catches up; a watch that falls further behind is cut.
const MAX_PENDING: usize = 100_000;

/// The least history kept once anyone watches (even with `watch-history 0`): the window a watch
/// needs to join the live stream without a gap.
const MIN_HISTORY: usize = 1024;

/// What a watch reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// KV.WATCH: every put and del.
    Kv { prev_kv: bool },
    /// ELECT.OBSERVE: each change of leader.
    Elect,
}

/// One watch of one client.
pub struct Watch {
    pub id: u64,
    client: Arc<ClientInfo>,
    db: usize,
    key: Bytes,
    prefix: bool,
    mode: Mode,
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    catching_up: bool,
    /// While catching up: the next revision to send.
    cursor: u64,
    /// Units delivered while catching up, in order (bounded by `MAX_PENDING`).
    pending: std::collections::VecDeque<Arc<Unit>>,
    /// ELECT.OBSERVE: the leader last reported (None: no leader).
    leader: Option<(Bytes, u64)>,
}

impl Watch {
    fn matches(&self, c: &Change) -> bool {
        c.db == self.db
            && !matches!(c.kind, ChangeKind::SwapDb { .. })
            && if self.prefix {
                c.key.starts_with(&self.key)
            } else {
                c.key == self.key
            }
    }

    /// Appends this watch's events for `unit` to `out`; returns how many.
    fn encode(
        &self,
        st: &mut WatchState,
        unit: &Unit,
        history: &History,
        tails: &mut Tails,
        out: &mut Vec<u8>,
    ) -> u64 {
        let resp3 = self.client.resp3();
        let mut n = 0;
        for c in unit.changes.iter().filter(|c| self.matches(c)) {
            let put = matches!(c.kind, ChangeKind::Put);
            match self.mode {
                Mode::Kv { prev_kv } => {
                    header(out, resp3, 7);
                    bulk(out, b"kv.watch");
                    int(out, self.id);
                    // Everything after the watch id is the same for every watcher of this change
                    // speaking this protocol: encoded once per unit.
                    let slot = tails.slot(c.sub, resp3, prev_kv);
                    if slot.is_empty() {
                        let prev = if prev_kv && c.prev_revision != 0 {
                            previous_value(history, unit, c)
                        } else {
                            None
                        };
                        int(slot, unit.revision);
                        bulk(slot, if put { b"put" } else { b"del" });
                        bulk(slot, &c.key);
                        bulk_or_nil(slot, resp3, if put { c.value.as_deref() } else { None });
                        bulk_or_nil(slot, resp3, prev.as_deref());
                    }
                    out.extend_from_slice(slot);
                }
                Mode::Elect => {
                    let now = if put {
                        let token = match &st.leader {
                            Some((_, t)) if c.prev_revision != 0 => *t,
                            _ => unit.revision,
                        };
                        Some((c.value.clone().unwrap_or_default(), token))
                    } else {
                        None
                    };
                    if now == st.leader {
                        continue;
                    }
                    st.leader = now;
                    header(out, resp3, 6);
                    bulk(out, b"elect.observe");
                    int(out, self.id);
                    int(out, unit.revision);
                    bulk(out, &self.key);
                    match &st.leader {
                        Some((leader, token)) => {
                            bulk(out, leader);
                            int(out, *token);
                        }
                        None => {
                            nil(out, resp3);
                            nil(out, resp3);
                        }
                    }
                }
            }
            n += 1;
        }
        n
    }
}

/// The encoded tails of one unit's events (revision, kind, key, value, previous value), by change,
/// protocol and PREVKV, shared by every watch the unit is delivered to.
#[derive(Default)]
struct Tails(Vec<Vec<u8>>);

impl Tails {
    fn slot(&mut self, sub: u32, resp3: bool, prev_kv: bool) -> &mut Vec<u8> {
        let i = sub as usize * 4 + usize::from(resp3) * 2 + usize::from(prev_kv);
        if self.0.len() <= i {
            self.0.resize_with(i + 1, Vec::new);
        }
        &mut self.0[i]
    }
}

/// The value `c.key` had before change `c` (at `c.prev_revision`), from the unit itself or the
/// retained history; None once that revision is compacted, or for non-string values.
fn previous_value(history: &History, unit: &Unit, c: &Change) -> Option<Bytes> {
    let same_key = |p: &&Change| p.db == c.db && p.key == c.key;
    if c.prev_revision == unit.revision {
        return unit.changes[..c.sub as usize]
            .iter()
            .rev()
            .find(same_key)
            .and_then(|p| p.value.clone());
    }
    let past = history.unit(c.prev_revision)?;
    past.changes.iter().rev().find(same_key)?.value.clone()
}

fn header(out: &mut Vec<u8>, resp3: bool, n: usize) {
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn int(out: &mut Vec<u8>, n: u64) {
    out.push(b':');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn nil(out: &mut Vec<u8>, resp3: bool) {
    out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" });
}

fn bulk_or_nil(out: &mut Vec<u8>, resp3: bool, b: Option<&[u8]>) {
    match b {
        Some(b) => bulk(out, b),
        None => nil(out, resp3),
    }
}

#[derive(Default)]
struct Registry {
    exact: HashMap<(usize, Bytes), Vec<Arc<Watch>>>,
    prefixes: Vec<Arc<Watch>>,
    by_id: HashMap<u64, Arc<Watch>>,
}

/// Every watch of the server (`Server::watches`).
#[derive(Default)]
pub struct Watches {
    reg: RwLock<Registry>,
    count: AtomicUsize,
    next_id: AtomicU64,
    /// Set once the registry reads the stream (before it is attached, so `committed` never waits).
    history: std::sync::OnceLock<Arc<History>>,
    attaching: Mutex<()>,
    events: AtomicU64,
}

impl Reader for Watches {
    fn committed(&self, unit: &Arc<Unit>) {
        if self.count.load(Ordering::Acquire) == 0 || unit.changes.is_empty() {
            return;
        }
        let Some(history) = self.history.get() else {
            return;
        };
        let mut hits: Vec<Arc<Watch>> = Vec::new();
        {
            let reg = self.reg.read();
            for c in &unit.changes {
                if let Some(ws) = reg.exact.get(&(c.db, c.key.clone())) {
                    hits.extend(ws.iter().cloned());
                }
                hits.extend(reg.prefixes.iter().filter(|w| w.matches(c)).cloned());
            }
        }
        // A watch matching several changes of the unit gets them all in one push.
        if unit.changes.len() > 1 {
            hits.sort_unstable_by_key(|w| w.id);
            hits.dedup_by_key(|w| w.id);
        }
        let mut buf = Vec::new();
        let mut tails = Tails::default();
        for w in hits {
            let mut st = w.state.lock();
            if st.catching_up {
                if st.pending.len() >= MAX_PENDING {
                    drop(st);
                    w.client.kill();
                    continue;
                }
                st.pending.push_back(unit.clone());
                continue;
            }
            buf.clear();
            let n = w.encode(&mut st, unit, history, &mut tails, &mut buf);
            drop(st);
            if n > 0 {
                self.events.fetch_add(n, Ordering::Relaxed);
                // Over its output limit the client is disconnected (and its watches dropped then).
                w.client.push(&buf);
            }
        }
    }
}

impl Watches {
    /// Number of watches (INFO).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events sent so far (INFO).
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Makes the registry a reader of the committed stream `log` (once), keeping at least `units` of
    /// history; `revision` reads the keyspace's revision counter.
    pub fn attach(
        self: &Arc<Self>,
        log: &CommitLog,
        units: usize,
        revision: impl Fn() -> u64,
    ) -> Arc<History> {
        let _once = self.attaching.lock();
        if let Some(h) = self.history.get() {
            return h.clone();
        }
        let handle = log.history_handle();
        let _ = self.history.set(handle.clone());
        let units = units.max(MIN_HISTORY);
        if log.history().limit() < units {
            log.retain(units, &revision);
        }
        log.set_capture_values(true);
        log.attach(self.clone(), &revision);
        handle
    }

    /// Registers a new watch, catching up from revision `from`.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        &self,
        client: Arc<ClientInfo>,
        db: usize,
        key: Bytes,
        prefix: bool,
        mode: Mode,
        from: u64,
        leader: Option<(Bytes, u64)>,
    ) -> Arc<Watch> {
        let w = Arc::new(Watch {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            client,
            db,
            key,
            prefix,
            mode,
            state: Mutex::new(WatchState {
                catching_up: true,
                cursor: from,
                pending: Default::default(),
                leader,
            }),
        });
        self.register(w.clone());
        w
    }

    fn register(&self, w: Arc<Watch>) {
        let mut reg = self.reg.write();
        if w.prefix {
            reg.prefixes.push(w.clone());
        } else {
            reg.exact
                .entry((w.db, w.key.clone()))
                .or_default()
                .push(w.clone());
        }
        w.client.watches.fetch_add(1, Ordering::Relaxed);
        reg.by_id.insert(w.id, w);
        self.count.fetch_add(1, Ordering::Release);
    }

    /// Removes watch `id` if `client` owns it (any client when None).
    pub fn remove(&self, id: u64, client: Option<u64>) -> bool {
        let mut reg = self.reg.write();
        let Some(w) = reg.by_id.get(&id).cloned() else {
            return false;
        };
        if client.is_some_and(|c| c != w.client.id) {
            return false;
        }
        reg.by_id.remove(&id);
        if w.prefix {
            reg.prefixes.retain(|x| x.id != id);
        } else if let Some(list) = reg.exact.get_mut(&(w.db, w.key.clone())) {
            list.retain(|x| x.id != id);
            if list.is_empty() {
                reg.exact.remove(&(w.db, w.key.clone()));
            }
        }
        w.client.watches.fetch_sub(1, Ordering::Relaxed);
        self.count.fetch_sub(1, Ordering::Release);
        true
    }

    /// Ids of the watches of client `client`.
    pub fn of_client(&self, client: u64) -> Vec<u64> {
        let reg = self.reg.read();
        reg.by_id
            .values()
            .filter(|w| w.client.id == client)
            .map(|w| w.id)
            .collect()
    }

    /// Drops every watch of a client that disconnected or was RESET.
    pub fn drop_client(&self, client: &ClientInfo) {
        if client.watches.load(Ordering::Relaxed) == 0 {
            return;
        }
        for id in self.of_client(client.id) {
            self.remove(id, Some(client.id));
        }
    }

    /// Writes the next chunk of a catching-up watch's events to `out`: retained units from its
    /// cursor, then those delivered to it meanwhile. Goes live once nothing is left (everything up to
    /// `published` sent). Returns whether it is still catching up. A watch whose next unit has left the
    /// history (it fell too far behind) is cut: its client resumes with FROMREV and gets COMPACTED.
    pub fn advance(&self, w: &Watch, history: &History, published: u64, out: &mut Vec<u8>) -> bool {
        let mut st = w.state.lock();
        let mut sent = 0;
        let mut spins = 0;
        while st.catching_up && out.len() < CATCH_UP_CHUNK {
            let first_pending = st.pending.front().map(|u| u.revision);
            if first_pending.is_some_and(|p| st.cursor >= p) {
                if let Some(u) = st.pending.pop_front()
                    && u.revision >= st.cursor
                {
                    st.cursor = u.revision + 1;
                    sent += w.encode(&mut st, &u, history, &mut Tails::default(), out);
                }
                continue;
            }
            let units = match history.read(st.cursor, 256, published + 1) {
                Ok(units) => units,
                Err(HistoryError::Compacted { .. }) => {
                    drop(st);
                    w.client.kill();
                    return false;
                }
            };
            let units: Vec<_> = units
                .into_iter()
                .take_while(|u| first_pending.is_none_or(|p| u.revision < p))
                .collect();
            if units.is_empty() {
                match first_pending {
                    Some(p) => st.cursor = p,
                    None if st.cursor > published => st.catching_up = false,
                    None => {
                        // A unit published before this watch registered is still on its way into
                        // the history (a moment's work under the log's lock).
                        spins += 1;
                        if spins > 10_000 {
                            break;
                        }
                        parking_lot::MutexGuard::unlocked(&mut st, std::thread::yield_now);
                    }
                }
                continue;
            }
            for u in units {
                st.cursor = u.revision + 1;
                sent += w.encode(&mut st, &u, history, &mut Tails::default(), out);
                if out.len() >= CATCH_UP_CHUNK {
                    break;
                }
            }
        }
        self.events.fetch_add(sent, Ordering::Relaxed);
        st.catching_up
    }

    /// Sends the next chunk of every catching-up watch of `client` (called by its connection each
    /// time its output has been written).
    pub fn catch_up(&self, client: &ClientInfo, published: u64) {
        let Some(history) = self.history.get() else {
            return;
        };
        let behind: Vec<Arc<Watch>> = {
            let reg = self.reg.read();
            reg.by_id
                .values()
                .filter(|w| w.client.id == client.id && w.state.lock().catching_up)
                .cloned()
                .collect()
        };
        let mut buf = Vec::new();
        let mut still = 0;
        for w in behind {
            buf.clear();
            if self.advance(&w, history, published, &mut buf) {
                still += 1;
            }
            if !buf.is_empty() {
                w.client.push(&buf);
            }
        }
        client.catching_up.store(still, Ordering::Relaxed);
    }
}
