//! The state the apply path reads and writes (`State`): config, keyspace, clock, the committed stream,
//! statistics, the blocking, pub/sub, notification and client registries, the script engine and the
//! exec lock. Commands and scripts see the server only through it (`Ctx::state`); the network side
//! (`server`) owns it behind an `Arc` and adds sockets and tasks. It imports the leaf modules below it and
//! never `commands` or `server`, so the apply path and the committed stream are reachable without them.

pub mod blocking;

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::watch;

use crate::clients::ClientRegistry;
use crate::clock::{Clock, ServerClock};
use crate::config::Config;
use crate::keyspace::Keyspace;

/// Per-command counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// Server-wide counters (INFO stats).
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    /// Locks, semaphore slots and leaderships granted (LOCK.ACQUIRE, SEM.ACQUIRE, ELECT.CAMPAIGN).
    pub lock_acquisitions: AtomicU64,
    pub commands: Box<[CmdStat]>,
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// (ms, commands_processed) samples for instantaneous_ops_per_sec, newest last.
    samples: Mutex<std::collections::VecDeque<(u64, u64)>>,
}

impl Stats {
    /// Counters for `commands` command specs (indexed by `CommandSpec::id`).
    fn new(commands: usize) -> Self {
        Stats {
            commands: (0..commands).map(|_| CmdStat::default()).collect(),
            ..Default::default()
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for a in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.expired_keys,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
            &self.lock_acquisitions,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        for c in self.commands.iter() {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Ordering::Relaxed);
            }
        }
        self.errors.lock().clear();
    }

    /// Takes an ops sample (called by the expirer tick); keeps about the last second and a half.
    pub fn sample(&self, now_ms: u64) {
        let mut s = self.samples.lock();
        if s.back().is_some_and(|(t, _)| now_ms < t + 100) {
            return;
        }
        s.push_back((now_ms, self.commands_processed.load(Ordering::Relaxed)));
        while s.len() > 16 {
            s.pop_front();
        }
    }

    /// Commands per second over the sampled window.
    pub fn ops_per_sec(&self) -> u64 {
        let s = self.samples.lock();
        match (s.front(), s.back()) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => (c1 - c0) * 1000 / (t1 - t0),
            _ => 0,
        }
    }

    pub fn count_error(&self, code: &str) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        *self.errors.lock().entry(code.to_string()).or_default() += 1;
    }
}

/// State shared by every connection and every unit of the apply path.
pub struct State {
    pub config: Config,
    pub keyspace: Keyspace,
    pub clock: Arc<ServerClock>,
    pub clients: ClientRegistry,
    pub stats: Stats,
    /// The committed stream: every unit of writes, in revision order (the apply-path seam).
    pub log: crate::commit::CommitLog,
    pub blocking: blocking::Blocking,
    /// False after `DEBUG SET-ACTIVE-EXPIRE 0`: the expirer's ticks stop deleting keys (reads still treat
    /// them as absent; `DEBUG EXPIRE-NOW` still reaps).
    pub active_expire: std::sync::atomic::AtomicBool,
    /// Frees big values off the hot path (UNLINK, FLUSH ASYNC).
    pub lazyfree: crate::keyspace::lazyfree::LazyFree,
    /// Keyspace notifications and client tracking.
    pub notify: crate::notify::Notify,
    /// Shared by every command, exclusive for EXEC (isolation of transactions).
    pub exec_lock: parking_lot::RwLock<()>,
    pub scripting: crate::scripting::Scripting,
    /// Pub/sub subscribers, MONITOR clients, CLIENT PAUSE.
    pub pubsub: crate::pubsub::PubSub,
    /// KV.WATCH and ELECT.OBSERVE watchers: a reader of the committed stream, attached at the first.
    pub watches: Arc<crate::watches::Watches>,
    pub started_ms: u64,
    pub started: Instant,
    pub run_id: String,
    pub debug_enabled: bool,
    /// Set to true to stop the server (SHUTDOWN, signals).
    pub shutdown: watch::Sender<bool>,
    /// The port actually bound (differs from config when `--port 0`).
    pub bound_port: AtomicU64,
}

impl State {
    /// The state of a server started with `config` on `clock`, whose command table has
    /// `command_count` specs (the statistics keep one slot per spec).
    pub fn new(config: Config, clock: Arc<ServerClock>, command_count: usize) -> State {
        let now = clock.now_ms();
        let databases = config.get_u64("databases").max(1) as usize;
        let debug_enabled = config
            .get("enable-debug-command")
            .is_some_and(|v| v != "no");
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
            .collect();
        let obuf_limits = config.obuf_limits.clone();
        // KV.WATCH FROMREV and DEBUG LOG read the retained window, kept from startup so that a
        // revision a client has seen can be watched from (`watch-history 0` turns it off, and the
        // stream then costs nothing until a watch starts it).
        let history = config.get_u64("watch-history") as usize;
        let history_bytes = config.get_u64("watch-history-max-memory") as usize;
        let state = State {
            keyspace: Keyspace::new(databases, now),
            config,
            clock,
            clients: ClientRegistry::with_limits(obuf_limits),
            stats: Stats::new(command_count),
            log: Default::default(),
            blocking: blocking::Blocking::default(),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            lazyfree: Default::default(),
            notify: Default::default(),
            exec_lock: parking_lot::RwLock::new(()),
            scripting: crate::scripting::Scripting::new(),
            pubsub: crate::pubsub::PubSub::new(),
            watches: Default::default(),
            started_ms: now,
            started: Instant::now(),
            run_id,
            debug_enabled,
            shutdown: watch::channel(false).0,
            bound_port: AtomicU64::new(0),
        };
        state.log.history().set_max_bytes(history_bytes);
        // DEBUG LOG replays records; watches need only changes.
        state.log.set_records(debug_enabled);
        state.log.retain(history, || state.keyspace.revision());
        state
    }

    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The server's LRU clock in seconds (OBJECT IDLETIME), from the injectable clock: Unix seconds, so
    /// an idle time set by RESTORE IDLETIME may exceed the uptime, as in Redis.
    #[inline]
    pub fn lru_clock(&self, now_ms: u64) -> u32 {
        (now_ms / 1000) as u32
    }

    /// What notifications and tracking deliver through.
    #[inline]
    pub fn outlets(&self) -> crate::notify::Outlets<'_> {
        crate::notify::Outlets {
            config: &self.config,
            clients: &self.clients,
            pubsub: &self.pubsub,
            tracking: &self.notify.tracking,
        }
    }

    /// Asks the server to stop.
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
