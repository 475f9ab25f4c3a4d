//! The client registry: what CLIENT LIST, CLIENT KILL and INFO clients read about every connection, and
//! the per-client halves of the pub/sub registry (`ClientSubs`) and of client tracking (`tracking_flag`).
//! A leaf: pub/sub, tracking and the apply path reach connections through it, never through `server`.
//!
//! A connection owns its `Client` (db, auth, reply mode); the registry holds the shared `ClientInfo` half,
//! whose hot fields are atomics so a command never takes a lock to update them.
//!
//! `ClientInfo` is also how anything outside a connection reaches it: `push` queues already-encoded RESP
//! bytes (pub/sub messages, MONITOR lines, tracking invalidations) that the connection task writes between
//! replies, under the `client-output-buffer-limit` of the client's class.

use bytes::Bytes;
use hashbrown::HashSet;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::Notify;
use tracing::warn;

use crate::config::{ObufClass, ObufLimits};

/// The tracking bits of `ClientInfo::tracking` (CLIENT LIST flags), kept by `notify::tracking`.
pub mod tracking_flag {
    pub const ON: u8 = 1;
    pub const BROKEN_REDIRECT: u8 = 2;
    pub const BCAST: u8 = 4;
    /// The CLIENT LIST letters, in Redis's order.
    pub const LETTERS: [(u8, char); 3] = [(ON, 't'), (BROKEN_REDIRECT, 'R'), (BCAST, 'B')];
}

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: a glob matched against PUBLISH's channel.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

impl Kind {
    /// The kind's slot in per-kind arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Kind::Channel => 0,
            Kind::Pattern => 1,
            Kind::Shard => 2,
        }
    }
}

/// One client's subscriptions (held in its `ClientInfo`; the pub/sub registry holds the other half).
#[derive(Default)]
pub struct ClientSubs {
    sets: [HashSet<Bytes>; 3],
}

impl ClientSubs {
    /// The client's subscriptions of one kind, in no particular order.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Bytes> {
        self.sets[kind.index()].iter()
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.sets[kind.index()].len()
    }

    /// The set of one kind, for the pub/sub registry to change (under the client's `subs` lock).
    pub(crate) fn set_mut(&mut self, kind: Kind) -> &mut HashSet<Bytes> {
        &mut self.sets[kind.index()]
    }
}

/// Bytes pushed to a connection that its task has not taken yet.
#[derive(Default)]
struct PushQueue {
    buf: Vec<u8>,
    /// When the output buffer first went over the soft limit (reset once it is back under).
    soft_since: Option<Instant>,
}

/// The shared, observable half of a connection.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created_ms: u64,
    pub last_interaction_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    /// Spec id + 1 of the last command run (0 = none).
    pub last_cmd: AtomicUsize,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// CLIENT TRACKING as CLIENT LIST shows it (`tracking_flag` bits: on, broken redirect,
    /// BCAST) and its redirect target (0 = none); kept by notify::tracking.
    pub tracking: AtomicU8,
    pub tracking_redir: AtomicU64,
    pub qbuf: AtomicUsize,
    /// Pushed bytes not yet written to the socket (queued, or taken by the task and being written).
    pub obuf: AtomicUsize,
    /// Subscription counts (CLIENT LIST sub/psub/ssub); any non-zero puts the client in pub/sub mode.
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
    /// KV.WATCH / ELECT.OBSERVE watches: like subscriptions, they put a RESP2 client in watch
    /// (subscribe) mode and its output buffer in the `pubsub` class.
    pub watches: AtomicUsize,
    /// Watches still replaying history: the connection asks for more each time its output drained.
    pub catching_up: AtomicUsize,
    /// The client's channels, patterns and shard channels (the pub/sub registry's other half).
    pub subs: Mutex<ClientSubs>,
    /// Set by MONITOR.
    pub monitor: AtomicBool,
    killed: AtomicBool,
    kill: Notify,
    pushes: Mutex<PushQueue>,
    has_pushes: AtomicBool,
    push_ready: Notify,
    /// None for internal clients (replay, blocked-command re-runs): no limits.
    limits: Option<Arc<ObufLimits>>,
}

impl ClientInfo {
    pub fn new(id: u64, addr: String, laddr: String, now_ms: u64) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            created_ms: now_ms,
            last_interaction_ms: AtomicU64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_cmd: AtomicUsize::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            tracking: AtomicU8::new(0),
            tracking_redir: AtomicU64::new(0),
            qbuf: AtomicUsize::new(0),
            obuf: AtomicUsize::new(0),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            watches: AtomicUsize::new(0),
            catching_up: AtomicUsize::new(0),
            subs: Mutex::new(ClientSubs::default()),
            monitor: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            pushes: Mutex::new(PushQueue::default()),
            has_pushes: AtomicBool::new(false),
            push_ready: Notify::new(),
            limits: None,
        }
    }

    /// Whether the client has any subscription (channel, pattern or shard channel): in RESP2 that
    /// restricts the commands it may send, and its output buffer class is `pubsub`.
    #[inline]
    pub fn in_pubsub(&self) -> bool {
        self.sub.load(Ordering::Relaxed) != 0
            || self.psub.load(Ordering::Relaxed) != 0
            || self.ssub.load(Ordering::Relaxed) != 0
            || self.watches.load(Ordering::Relaxed) != 0
    }

    /// The protocol the client speaks (2 or 3).
    #[inline]
    pub fn resp3(&self) -> bool {
        self.resp.load(Ordering::Relaxed) == 3
    }

    /// Queues `bytes` (complete RESP values, encoded for this client's protocol) to be written to the
    /// connection after the reply it is writing, if any, and wakes its task. Returns false if the client
    /// is gone or was just disconnected because this push took its output buffer over the hard limit of
    /// its class (`pubsub` while subscribed, else `normal`), or over the soft limit for longer than its
    /// seconds; its queued bytes are dropped then.
    pub fn push(&self, bytes: &[u8]) -> bool {
        if self.is_killed() {
            return false;
        }
        let mut q = self.pushes.lock();
        q.buf.extend_from_slice(bytes);
        let used = self.obuf.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if self.over_limit(used, &mut q) {
            q.buf = Vec::new();
            drop(q);
            self.obuf.store(0, Ordering::Relaxed);
            warn!(
                client = self.id,
                addr = %self.addr,
                bytes = used,
                "client scheduled to be closed ASAP for overcoming of output buffer limits"
            );
            self.kill();
            return false;
        }
        let wake = q.buf.len() == bytes.len();
        self.has_pushes.store(true, Ordering::Release);
        drop(q);
        // One wake-up per batch: the task takes everything queued when it runs.
        if wake {
            self.push_ready.notify_one();
        }
        true
    }

    /// Checks the output buffer limit after a command added `pending` bytes of replies (plus any
    /// pushes they include) that are not written yet. On a breach the client is killed (its replies
    /// are to be dropped unsent, as Redis does) and true is returned.
    pub fn replies_over_limit(&self, pending: usize) -> bool {
        let mut q = self.pushes.lock();
        let used = pending + q.buf.len();
        if !self.over_limit(used, &mut q) {
            return false;
        }
        q.buf = Vec::new();
        drop(q);
        warn!(
            client = self.id,
            addr = %self.addr,
            bytes = used,
            "client closed for overcoming of output buffer limits"
        );
        self.kill();
        true
    }

    /// When the soft limit, if it is breached now, runs out (None if it is not breached): a client
    /// stuck writing is checked then even if nothing more is pushed to it.
    pub fn soft_limit_deadline(&self) -> Option<Instant> {
        let limits = self.limits.as_ref()?;
        let since = self.pushes.lock().soft_since?;
        let (_, _, secs) = limits.get(self.obuf_class());
        Some(since + std::time::Duration::from_secs(secs + 1))
    }

    /// Kills the client if its soft limit breach has lasted longer than allowed; returns whether.
    pub fn soft_limit_expired(&self) -> bool {
        let Some(limits) = &self.limits else {
            return false;
        };
        let (_, soft, secs) = limits.get(self.obuf_class());
        let q = self.pushes.lock();
        let expired = soft != 0 && q.soft_since.is_some_and(|t| t.elapsed().as_secs() > secs);
        drop(q);
        if expired {
            warn!(client = self.id, addr = %self.addr, "client closed: output buffer soft limit");
            self.kill();
        }
        expired
    }

    fn obuf_class(&self) -> ObufClass {
        if self.in_pubsub() {
            ObufClass::Pubsub
        } else {
            ObufClass::Normal
        }
    }

    fn over_limit(&self, used: usize, q: &mut PushQueue) -> bool {
        let Some(limits) = &self.limits else {
            return false;
        };
        let (hard, soft, secs) = limits.get(self.obuf_class());
        let used = used as u64;
        if hard != 0 && used >= hard {
            return true;
        }
        if soft != 0 && used >= soft {
            // As Redis: the first push over the soft limit starts the clock; it is a breach only once
            // the buffer stayed over it for more than `secs` seconds.
            match q.soft_since {
                None => q.soft_since = Some(Instant::now()),
                Some(t) => return t.elapsed().as_secs() > secs,
            }
        } else {
            q.soft_since = None;
        }
        false
    }

    /// Whether pushes are waiting (cheap; checked between commands).
    #[inline]
    pub fn has_pushes(&self) -> bool {
        self.has_pushes.load(Ordering::Acquire)
    }

    /// Moves every queued push to the end of `out` and returns how many bytes moved. They stay counted
    /// in `obuf` until `pushes_written` says they reached the socket.
    pub fn take_pushes(&self, out: &mut Vec<u8>) -> usize {
        let mut q = self.pushes.lock();
        self.has_pushes.store(false, Ordering::Release);
        let n = q.buf.len();
        if out.is_empty() {
            // Swap rather than copy: the queue keeps the (empty) buffer `out` had.
            std::mem::swap(out, &mut q.buf);
        } else {
            out.extend_from_slice(&q.buf);
            q.buf.clear();
        }
        n
    }

    /// Reports that `n` pushed bytes were written to the socket.
    pub fn pushes_written(&self, n: usize) {
        if n != 0 {
            let _ = self
                .obuf
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(n))
                });
        }
    }

    /// Resolves when something was pushed since the last wake-up, or the client was killed (may
    /// resolve with nothing queued).
    pub async fn pushed(&self) {
        self.push_ready.notified().await
    }

    /// Asks the connection to close (CLIENT KILL, SHUTDOWN). It finishes its current batch first.
    /// An idle connection waits only on `pushed`, so that is woken too.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill.notify_one();
        self.push_ready.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves when `kill` is called.
    pub async fn killed(&self) {
        if self.is_killed() {
            return;
        }
        self.kill.notified().await
    }

    /// One CLIENT LIST / CLIENT INFO line (without the trailing newline), in Redis's field order.
    pub fn describe(&self, now_ms: u64, cmd_name: &str) -> String {
        let text = |m: &Mutex<Option<Vec<u8>>>| {
            m.lock()
                .as_deref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let age = now_ms.saturating_sub(self.created_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000;
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if self.in_pubsub() {
            flags.push('P');
        }
        let tracking = self.tracking.load(Ordering::Relaxed);
        for (bit, c) in tracking_flag::LETTERS {
            if tracking & bit != 0 {
                flags.push(c);
            }
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let obuf = self.obuf.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={age} idle={idle} flags={flags} db={} sub={} psub={} \
             ssub={} multi=-1 qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll={} \
             omem={obuf} tot-mem={} events=r cmd={cmd_name} user=default redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.id + 7,
            text(&self.name),
            self.db.load(Ordering::Relaxed),
            self.sub.load(Ordering::Relaxed),
            self.psub.load(Ordering::Relaxed),
            self.ssub.load(Ordering::Relaxed),
            usize::from(obuf != 0),
            16384 + qbuf + obuf,
            if tracking & tracking_flag::ON != 0 {
                self.tracking_redir.load(Ordering::Relaxed) as i64
            } else {
                -1
            },
            self.resp.load(Ordering::Relaxed),
            text(&self.lib_name),
            text(&self.lib_ver),
        )
    }
}

/// All live connections, by id.
#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// The configured output buffer limits, given to every registered connection.
    limits: Option<Arc<ObufLimits>>,
}

impl ClientRegistry {
    /// A registry whose connections obey `limits` (the config's `client-output-buffer-limit`).
    pub fn with_limits(limits: Arc<ObufLimits>) -> Self {
        ClientRegistry {
            limits: Some(limits),
            ..Default::default()
        }
    }

    /// Registers a new connection and returns its info.
    pub fn register(&self, addr: String, laddr: String, now_ms: u64) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let mut info = ClientInfo::new(id, addr, laddr, now_ms);
        info.limits = self.limits.clone();
        let info = Arc::new(info);
        self.clients.lock().insert(id, info.clone());
        info
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every client, in id order.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Asks every connection to close.
    pub fn kill_all(&self) {
        for c in self.snapshot() {
            c.kill();
        }
    }
}
