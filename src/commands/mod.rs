//! Commands: the generated table, dispatch, and the handler families.
//!
//! **Apply path.** A handler parses its arguments into a typed request, then runs against the keyspace with
//! a `Ctx` that carries `now_ms` (read once, before the command runs) and a `Txn`: the unit of writes,
//! which hands out the unit's single revision and collects its records (deterministic argv: absolute
//! times, no randomness) and per-key changes. A handler writes its reply into the connection's buffer
//! and does no other I/O. When the unit ends, dispatch commits it to the committed stream
//! (`crate::commit`), the one commit point; dispatch records the command's own argv when the handler did
//! not record a rewritten form. Keys are stamped in one place (`Ctx::stamp`, `upsert`, `stamp_removed`),
//! which is also where their change records are made. Expiry is a write of its own: a command that
//! meets an expired key commits its deletion as a separate unit before its own (see `Ctx::reap`).

pub mod bitmaps;
pub mod connection;
pub mod coordination;
pub mod dump;
pub mod error;
pub mod functions;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod keyspecs;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod table;
pub mod tracking;
pub mod transactions;
pub mod typed;
pub mod unblock;
pub mod zsets;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub use error::{CmdResult, CommandError};
use table::{CommandSpec, flags};

use crate::clients::ClientInfo;
use crate::commit::{Change, ChangeKind, Record, Unit};
use crate::keyspace::{Db, Entry, Shard};
use crate::protocol::ReplyBuf;
use crate::state::State;
use crate::state::blocking::{TimeoutReply, WaitResult};

/// A command handler: reads `ctx.argv`, writes the reply into `ctx.out`.
pub type Handler = fn(&mut Ctx<'_>) -> CmdResult;

/// CLIENT REPLY state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Set while running the command whose reply is skipped.
    Skipping,
}

/// The per-connection state a command may change.
pub struct Client {
    pub db: usize,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    /// Close the connection once the current reply is written (QUIT, protocol errors).
    pub close_after_reply: bool,
    pub info: Arc<ClientInfo>,
    /// Commands queued since MULTI (None outside a transaction).
    pub multi: Option<Vec<transactions::Queued>>,
    /// A command was refused while queueing: EXEC must abort.
    pub multi_error: bool,
    /// WATCHed keys: (db, key, what WATCH saw).
    pub watched: Vec<(usize, Bytes, transactions::Watched)>,
    /// CLIENT TRACKING state.
    pub tracking: crate::notify::tracking::ClientTracking,
    /// Revision of the last unit this client committed: the ticket its replies wait on when
    /// acknowledgements wait for commit (`CommitLog::acks_wait_for_commit`).
    pub last_revision: u64,
}

impl Client {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Self {
        Client {
            db: 0,
            authenticated,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            info,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            tracking: Default::default(),
            last_revision: 0,
        }
    }
}

/// One atomic unit of writes: a command, a whole script or EXEC, a blocked client's re-run. It owns the
/// unit's revision (taken on the first change, so a unit that changes nothing takes none), its records
/// and its changes, until `commit_unit` hands them to the committed stream.
#[derive(Default)]
pub struct Txn {
    revision: Option<u64>,
    /// Replay: the revision the log says this unit had.
    forced_revision: Option<u64>,
    /// True once the handler recorded its own (rewritten) argv.
    logged: bool,
    /// Changes are built: decided when the revision is taken, from whether the committed stream was
    /// active at that moment (`crate::commit` explains why then).
    recording: bool,
    /// Records are built too (a reader replays them), decided at the same moment.
    logging: bool,
    /// The unit's deterministic commands, in apply order.
    pub records: Vec<Record>,
    /// The unit's per-key changes, in apply order (`Change::sub` is the index).
    pub changes: Vec<Change>,
    /// Keys this unit created as lists or sorted sets, or appended to as streams: blocked clients
    /// waiting on them are served once the unit finished.
    pub ready: Vec<(usize, Bytes)>,
    /// Whether a blocking command may park the client (false inside MULTI, scripts, and when a waiter's
    /// command is re-run on its behalf).
    pub may_block: bool,
    /// Set by a blocking command that found nothing to take.
    pub block: Option<BlockOn>,
    /// Set when a blocking command found nothing but could not block (it replied as on timeout).
    pub would_block: bool,
    /// Number of stamps so far (each `Ctx::revision` call), so EXEC can tell which of its commands
    /// wrote.
    pub stamps: u64,
    /// True while a parked command is run again on its waiter's behalf (`serve_ready`).
    pub waiter: bool,
    /// Keyspace events and changed keys, published once the unit committed (`notify::unit_done`).
    pub notes: crate::notify::Notes,
}

/// What a blocking command waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    /// Absolute server-clock deadline in ms; 0 = forever.
    pub deadline_ms: u64,
    pub timeout_reply: TimeoutReply,
    /// The command the waiter re-runs, when it is not the one received (XREAD's `$` resolved to the
    /// stream's last ID at the time it blocked).
    pub argv: Option<Vec<Bytes>>,
}

impl Txn {
    pub fn new() -> Self {
        Txn {
            may_block: true,
            ..Default::default()
        }
    }

    /// A unit replayed from a log, with the revision the log records.
    pub fn replay(revision: u64) -> Self {
        Txn {
            forced_revision: Some(revision),
            ..Default::default()
        }
    }
}

/// Everything a handler sees.
pub struct Ctx<'a> {
    /// The shared state; never the server itself, so the apply path reaches no socket or task.
    pub state: &'a State,
    pub client: &'a mut Client,
    pub argv: &'a [Bytes],
    pub out: &'a mut ReplyBuf,
    pub now_ms: u64,
    pub txn: &'a mut Txn,
    pub spec: &'static CommandSpec,
}

impl<'a> Ctx<'a> {
    /// The current database.
    #[inline]
    pub fn db(&self) -> &'a Db {
        self.state.keyspace.db(self.client.db)
    }

    /// The revision of this unit of writes, taken on first use. Whether the unit records is decided
    /// right after the counter moves (the order `CommitLog::activate` relies on).
    #[inline]
    pub fn revision(&mut self) -> u64 {
        self.txn.stamps += 1;
        if let Some(r) = self.txn.revision {
            return r;
        }
        let r = match self.txn.forced_revision {
            Some(r) => {
                self.state.keyspace.observe_revision(r);
                r
            }
            None => self.state.keyspace.next_revision(),
        };
        self.txn.recording = self.state.log.is_active();
        self.txn.logging = self.txn.recording && self.state.log.wants_records();
        self.txn.revision = Some(r);
        r
    }

    /// Stamps a change to `entry` (in its locked shard of the current db): the unit's revision, one more
    /// version, and a `put` in the unit's changes. Every modification of an existing key goes through
    /// here or `upsert`.
    #[inline]
    pub fn stamp(&mut self, entry: &mut Entry) {
        let prev = entry.mod_revision;
        let revision = self.revision();
        entry.touch(revision);
        if self.txn.recording {
            let value = self.captured(&entry.value);
            let db = self.client.db;
            self.change(ChangeKind::Put, db, &entry.key, prev, value);
        }
    }

    /// `stamp`, counting one version per unit: a command recorded as several records that each touch
    /// the key when replayed (XREADGROUP as CREATECONSUMER + XCLAIMs + SETID) changed it once.
    #[inline]
    pub fn stamp_once(&mut self, entry: &mut Entry) {
        if self.txn.revision == Some(entry.mod_revision) {
            self.txn.stamps += 1;
        } else {
            self.stamp(entry);
        }
    }

    /// Stamps the removal of `key` (whose last `mod_revision` was `prev`) from database `db`: the
    /// unit's revision and a `del` in its changes. The caller removed the entry.
    #[inline]
    pub fn stamp_removed(&mut self, db: usize, key: &[u8], prev: u64) {
        self.revision();
        if self.txn.recording {
            self.change(ChangeKind::Del, db, key, prev, None);
        }
    }

    /// Appends a change to the unit (recording units only).
    fn change(&mut self, kind: ChangeKind, db: usize, key: &[u8], prev: u64, value: Option<Bytes>) {
        let sub = self.txn.changes.len() as u32;
        self.txn.changes.push(Change {
            sub,
            kind,
            db,
            key: Bytes::copy_from_slice(key),
            prev_revision: prev,
            value,
        });
    }

    /// A string value's bytes, when the committed stream captures values (a watcher exists).
    fn captured(&self, value: &crate::keyspace::Value) -> Option<Bytes> {
        if !self.state.log.capture_values() {
            return None;
        }
        value.as_str().map(|mut s| s.with(Bytes::copy_from_slice))
    }

    /// Records the deterministic form of this command's write (e.g. `SET k v PXAT <abs>` for `SET k v EX
    /// 10`). Without it, dispatch records the argv as received.
    pub fn log(&mut self, argv: Vec<Bytes>) {
        self.txn.logged = true;
        if self.txn.logging {
            self.txn.records.push(Record {
                db: self.client.db,
                argv,
            });
        }
    }

    /// Marks that this command's write needs no log record of its own (it logged nothing or several).
    pub fn log_nothing(&mut self) {
        self.txn.logged = true;
    }

    /// Whether this unit builds per-key changes (the committed stream is read).
    #[inline]
    pub fn recording(&self) -> bool {
        self.txn.recording
    }

    /// Whether this unit builds its records (a reader replays them): handlers that rewrite their argv
    /// (`Ctx::log`) build it only then.
    #[inline]
    pub fn logging(&self) -> bool {
        self.txn.logging
    }

    /// Deletes `key` (current db) if it has expired, as a write of its own, before the command changes
    /// it (see `reap_in`). Reads never do this: they treat an expired key as absent, and the expirer
    /// commits its deletion within a tick.
    pub fn reap(&mut self, shard: &mut Shard, hash: u64, key: &[u8]) {
        let db = self.client.db;
        self.reap_in(db, shard, hash, key);
    }

    /// `reap` for a key of database `db`. The deletion is a unit of its own with its own revision,
    /// committed at once under the caller's shard guard (so it precedes the command's unit in the
    /// stream), while the command has not taken its revision yet, which is always so for a single-key
    /// command. EXEC, scripts and multi-key writes reap their declared keys before they start
    /// (`pre_reap`); a key they did not declare that turns out expired mid-unit is deleted inside the
    /// unit, as a `DEL` record and an `Expired` change of its revision (the one case an expiry shares a
    /// revision, and what keeps the stream replayable).
    pub fn reap_in(&mut self, db: usize, shard: &mut Shard, hash: u64, key: &[u8]) {
        let expired = shard
            .get(hash, key)
            .is_some_and(|e| e.is_expired(self.now_ms));
        if !expired {
            return;
        }
        let Some(entry) = shard.remove(hash, key) else {
            return;
        };
        if self.txn.forced_revision.is_some() {
            // Replay: this is the replayed expiry unit's own DEL meeting its key expired at the unit's
            // time (a live key never expires inside a replayed unit: its expiry was a unit before it).
            self.stamp_removed(db, key, entry.mod_revision);
            return;
        }
        self.expired(db, key, entry.mod_revision);
    }

    /// Reports that `key` (in the current db) now has something a blocked client may take (a stream
    /// that grew; list and sorted-set creations are reported by `upsert` itself).
    pub fn signal_ready(&mut self, key: &[u8]) {
        if !self.state.blocking.is_empty() {
            self.txn
                .ready
                .push((self.client.db, Bytes::copy_from_slice(key)));
        }
    }

    /// Parses a blocking command's timeout (seconds, fractional allowed; 0 = forever) into an absolute
    /// deadline on the server clock, with Redis's errors.
    pub fn parse_block_timeout(&self, arg: &[u8]) -> Result<u64, CommandError> {
        let secs = crate::util::numbers::parse_f64(arg).ok_or(CommandError::TimeoutNotFloat)?;
        if secs < 0.0 {
            return Err(CommandError::TimeoutNegative);
        }
        let ms = (secs * 1000.0).ceil();
        if !ms.is_finite() || ms > (i64::MAX / 2) as f64 {
            return Err(CommandError::TimeoutOutOfRange);
        }
        Ok(if ms == 0.0 {
            0
        } else {
            self.now_ms + ms as u64
        })
    }

    /// Parks the client on `keys` until one of them can serve it or `deadline_ms` passes (0 = never).
    /// Where blocking is not allowed (MULTI, scripts, a re-run for a waiter) it replies as if the
    /// timeout had expired at once, as Redis does.
    pub fn block_on(&mut self, keys: Vec<Bytes>, deadline_ms: u64, timeout_reply: TimeoutReply) {
        self.block_on_as(keys, deadline_ms, timeout_reply, None);
    }

    /// As `block_on`, with the command the waiter re-runs when it differs from the one received.
    pub fn block_on_as(
        &mut self,
        keys: Vec<Bytes>,
        deadline_ms: u64,
        timeout_reply: TimeoutReply,
        argv: Option<Vec<Bytes>>,
    ) {
        if self.txn.may_block {
            self.txn.block = Some(BlockOn {
                keys,
                deadline_ms,
                timeout_reply,
                argv,
            });
        } else {
            self.txn.would_block = true;
            write_timeout_reply(self.out, timeout_reply);
        }
    }

    /// Commits the expiry of `key`, just removed from database `db` (its last `mod_revision` was
    /// `prev`): a unit of its own when this unit has no revision yet, else inside this unit (`reap_in`).
    /// Its event goes out with this unit's, before them.
    pub fn expired(&mut self, db: usize, key: &[u8], prev: u64) {
        if self.txn.revision.is_none() {
            let mut batch = ExpiryBatch::new(self.now_ms);
            batch.delete(self.state, db, key, prev);
            self.client.last_revision = self.client.last_revision.max(batch.commit(self.state));
            self.txn.notes.events.append(&mut batch.notes.events);
            self.txn.notes.changed.append(&mut batch.notes.changed);
            return;
        }
        self.state
            .stats
            .expired_keys
            .fetch_add(1, Ordering::Relaxed);
        crate::notify::key_expired(self.state.outlets(), &mut self.txn.notes, db, key);
        self.revision();
        if self.txn.recording {
            let (record, change) = expiry(db, key, prev, self.txn.changes.len());
            if self.txn.logging {
                self.txn.records.push(record);
            }
            self.txn.changes.push(change);
        }
    }

    /// Records keyspace event `event` of class `class` (`notify::class`) on `key` in the current db; it is
    /// published after the unit commits. Costs one relaxed load when notifications are off.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.client.db;
        crate::notify::record(
            self.state.outlets(),
            &mut self.txn.notes,
            db,
            class,
            event,
            key,
        );
    }

    /// `notify` for a key in database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_db(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        crate::notify::record(
            self.state.outlets(),
            &mut self.txn.notes,
            db,
            class,
            event,
            key,
        );
    }

    /// Whether reads by this client refresh a key's access time (CLIENT NO-TOUCH turns that off).
    #[inline]
    pub fn touches(&self) -> bool {
        !self.client.info.no_touch.load(Ordering::Relaxed)
    }

    /// The LRU clock now (OBJECT IDLETIME).
    #[inline]
    pub fn lru(&self) -> u32 {
        self.state.lru_clock(self.now_ms)
    }

    #[inline]
    pub fn arg(&self, i: usize) -> &'a [u8] {
        &self.argv[i]
    }

    #[inline]
    pub fn hit(&self, found: bool, key: &[u8]) {
        let s = &self.state.stats;
        if found {
            s.keyspace_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            s.keyspace_misses.fetch_add(1, Ordering::Relaxed);
            // A read miss is announced at once, as Redis's lookup does (there is no write to wait for).
            crate::notify::key_miss(self.state.outlets(), self.client.db, key);
        }
    }
}

/// Formats the argument list of an unknown-command error as Redis does: `'a' 'b' ` up to 128 characters.
fn args_preview(argv: &[Bytes]) -> String {
    let mut s = String::new();
    for a in argv {
        if s.len() >= 128 {
            break;
        }
        let room = 128 - s.len();
        let text = String::from_utf8_lossy(&a[..a.len().min(room)]).into_owned();
        s.push('\'');
        s.push_str(&text);
        s.push_str("' ");
    }
    s
}

fn truncated(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned()
}

/// Resolves argv to a spec: the command, or its subcommand for containers. Errors as Redis words them.
pub fn resolve(argv: &[Bytes]) -> Result<&'static CommandSpec, CommandError> {
    let Some(name) = argv.first() else {
        return Err(CommandError::Syntax);
    };
    let Some(spec) = table::lookup(name) else {
        return Err(CommandError::UnknownCommand {
            name: truncated(name),
            args: args_preview(&argv[1..]),
        });
    };
    if spec.subcommands.is_empty() || (spec.handler.is_some() && argv.len() == 1) {
        return Ok(spec);
    }
    let Some(sub) = argv.get(1) else {
        return Err(CommandError::WrongArity {
            command: spec.name.to_string(),
        });
    };
    spec.subcommand(sub)
        .ok_or_else(|| CommandError::UnknownSubcommand {
            sub: truncated(sub),
            container: spec.name.to_uppercase(),
        })
}

/// Runs one command inside an enclosing unit of writes (a queued command in EXEC, a `redis.call` in a
/// script): it shares the unit's `Txn`, so its changes take the unit's revision; a command that wrote is
/// logged with it and the keys it wrote are checked for blocked clients. Counts the call; the caller
/// reports an error its own way.
pub(crate) fn run_in_unit(
    ctx: &mut Ctx,
    spec: &'static CommandSpec,
    handler: Handler,
    argv: &[Bytes],
    out: Option<&mut ReplyBuf>,
) -> CmdResult {
    let stamps_before = ctx.txn.stamps;
    ctx.txn.logged = false;
    // A script's reads track its declared keys (Redis remembers the caller's command); EXEC's track
    // each command's own.
    let keys_of = if ctx.spec.has(flags::CONCORD_RUNS_QUEUE) {
        (spec, argv)
    } else {
        (ctx.spec, ctx.argv)
    };
    tracking::before_command(ctx.state, ctx.client, spec, keys_of);
    let result = {
        let mut sub = Ctx {
            state: ctx.state,
            client: &mut *ctx.client,
            argv,
            out: match out {
                Some(o) => o,
                None => &mut *ctx.out,
            },
            now_ms: ctx.now_ms,
            txn: &mut *ctx.txn,
            spec,
        };
        handler(&mut sub)
    };
    if ctx.state.pubsub.monitors.active() {
        // A command of a script shows as `[db lua]`, one inside EXEC as the client's.
        let from_script = !ctx.spec.has(flags::CONCORD_RUNS_QUEUE);
        pubsub::feed_monitors_in_unit(ctx.state, ctx.client, spec, from_script, argv);
    }
    ctx.state.stats.commands[spec.id]
        .calls
        .fetch_add(1, Ordering::Relaxed);
    let wrote = ctx.txn.stamps > stamps_before;
    tracking::after_command(
        ctx.state,
        ctx.client,
        spec,
        argv,
        &mut ctx.txn.notes,
        wrote,
        false,
    );
    if wrote {
        if !ctx.txn.logged && ctx.logging() {
            ctx.txn.records.push(Record {
                db: ctx.client.db,
                argv: argv.to_vec(),
            });
        }
        if !ctx.state.blocking.is_empty() {
            let db = ctx.client.db;
            written_keys_ready(ctx.state, db, spec, argv, &mut ctx.txn.ready);
        }
    }
    result
}

/// Writes what a blocking command replies when its wait ends without data.
pub fn write_timeout_reply(out: &mut ReplyBuf, r: TimeoutReply) {
    match r {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::Null => out.null(),
    }
}

/// Runs one command for a client: lookup, arity and auth checks, the handler, statistics, and the commit of its unit.
/// Returns what to wait for when a blocking command found nothing to take (nothing was written then).
pub fn execute(
    state: &State,
    client: &mut Client,
    out: &mut ReplyBuf,
    argv: &[Bytes],
) -> Option<BlockOn> {
    let spec = match resolve(argv) {
        Ok(s) => s,
        Err(e) => {
            client.multi_error |= client.multi.is_some();
            reject(state, out, None, &e);
            return None;
        }
    };
    if !spec.arity_ok(argv.len()) {
        let e = CommandError::WrongArity {
            command: spec.name.to_string(),
        };
        client.multi_error |= client.multi.is_some();
        reject(state, out, Some(spec), &e);
        return None;
    }
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        client.multi_error |= client.multi.is_some();
        reject(state, out, Some(spec), &CommandError::NoAuth);
        return None;
    }
    // A script past busy-reply-threshold: only ALLOW_BUSY commands (scripting/busy.rs).
    if let Err(e) = scripting::refuse_if_busy(state, spec, client) {
        reject(state, out, Some(spec), &e);
        return None;
    }
    // RESP2 subscribe mode allows only the (un)subscribe family, PING, QUIT and RESET (pubsub.rs).
    if let Some(e) = pubsub::subscribe_mode_error(client, spec) {
        client.multi_error |= client.multi.is_some();
        reject(state, out, Some(spec), &e);
        return None;
    }
    if let Some(queue) = client.multi.as_mut()
        && !transactions::runs_inside_multi(spec)
    {
        if spec.has(flags::NO_MULTI) {
            client.multi_error = true;
            let e = CommandError::NotAllowedInTransaction;
            reject(state, out, Some(spec), &e);
        } else if spec.has(flags::CONCORD_GUARD)
            && let Err(e) = coordination::kv::parse_condition(argv)
        {
            // A malformed guard is refused when queued, so EXEC never meets one.
            client.multi_error = true;
            reject(state, out, Some(spec), &e);
        } else {
            queue.push(transactions::Queued {
                spec,
                argv: argv.to_vec(),
            });
            out.simple("QUEUED");
        }
        return None;
    }
    let Some(handler) = spec.handler else {
        // A container called without a subcommand it knows is handled in resolve; a spec with neither
        // handler nor subcommands is refused by build.rs.
        reject(state, out, Some(spec), &CommandError::Syntax);
        return None;
    };
    if state.pubsub.monitors.active() {
        pubsub::feed_monitors(state, client, spec, argv, true);
    }
    let started = Instant::now();
    let mut txn = Txn::new();
    let now_ms = state.now_ms();
    tracking::before_command(state, client, spec, (spec, argv));
    let result = {
        // Every command runs under the shared side of the exec lock; EXEC and scripts take the exclusive
        // side so no other client sees them half-applied. Waiting does not hold a runtime worker, and a
        // busy script answers -BUSY (scripting/busy.rs).
        let _guard = match scripting::acquire(state, spec, client) {
            Ok(g) => g,
            Err(e) => {
                reject(state, out, Some(spec), &e);
                return None;
            }
        };
        let mut ctx = Ctx {
            state,
            client,
            argv,
            out,
            now_ms,
            txn: &mut txn,
            spec,
        };
        pre_reap(&mut ctx);
        handler(&mut ctx)
    };
    let stat = &state.stats.commands[spec.id];
    if let Err(e) = &result {
        out.error(&e.message());
        state.stats.count_error(&e.code());
        stat.failed.fetch_add(1, Ordering::Relaxed);
    }
    if state.pubsub.monitors.active() {
        pubsub::feed_monitors(state, client, spec, argv, false);
    }
    if let Some(revision) = commit_unit(state, client.db, now_ms, argv, &mut txn) {
        client.last_revision = revision;
    }
    let wrote = txn.revision.is_some();
    tracking::after_command(state, client, spec, argv, &mut txn.notes, wrote, true);
    crate::notify::unit_done(state.outlets(), Some(client.info.id), &mut txn.notes);
    stat.calls.fetch_add(1, Ordering::Relaxed);
    stat.usec
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    state
        .stats
        .commands_processed
        .fetch_add(1, Ordering::Relaxed);
    client.info.last_cmd.store(spec.id + 1, Ordering::Relaxed);
    if txn.revision.is_some() && !state.blocking.is_empty() {
        written_keys_ready(state, client.db, spec, argv, &mut txn.ready);
    }
    let ready = std::mem::take(&mut txn.ready);
    if !ready.is_empty() {
        serve_ready(state, ready);
    }
    txn.block
}

/// After a write, every key it named that a client waits on is re-checked, as Redis signals keys that
/// are added, replaced or deleted: a key RENAMEd into place can serve a BLPOP, a stream deleted or
/// replaced under an XREADGROUP answers it with an error. A waiter that still finds nothing goes back in
/// line. FLUSHDB/FLUSHALL/SWAPDB re-check every waited key. A key now holding a type no blocking command
/// takes from (string, hash, set) is re-checked only for XREADGROUP waiters, which Redis unblocks with an
/// error, so list and sorted-set waiters never see WRONGTYPE from it.
fn written_keys_ready(
    state: &State,
    db: usize,
    spec: &CommandSpec,
    argv: &[Bytes],
    ready: &mut Vec<(usize, Bytes)>,
) {
    let mut keys: Vec<(usize, Bytes)> = Vec::new();
    if spec.has(flags::CONCORD_TOUCHES_ALL_KEYS) {
        keys = state.blocking.waited_keys();
    } else if spec.has(flags::WRITE) {
        range_keys(spec, argv, |key| {
            if state.blocking.is_waited(db, key) {
                keys.push((db, key.clone()));
            }
        });
    }
    let now = state.now_ms();
    for (db, key) in keys {
        let (takes_from, holders) = {
            let (hash, shard) = state.keyspace.db(db).lock_key(&key);
            match shard.get_live(hash, &key, now).map(|e| &e.value) {
                None => (true, false),
                Some(v) => (
                    matches!(
                        v,
                        crate::keyspace::Value::List(_)
                            | crate::keyspace::Value::ZSet(_)
                            | crate::keyspace::Value::Stream(_)
                    ),
                    matches!(v, crate::keyspace::Value::Hash(_)),
                ),
            }
        };
        // Lock, semaphore and election waiters can proceed only once the key is gone or a holder of
        // a shared lock or semaphore (a hash) left: a key now holding an exclusive lock (a string)
        // wakes none of them, so a hand-over does not re-run the next waiter for nothing.
        if takes_from
            || state.blocking.any_waiter(db, &key, |w| {
                w.first().is_some_and(|c| {
                    c.eq_ignore_ascii_case(b"xreadgroup")
                        || (holders
                            && table::lookup(c)
                                .is_some_and(|s| s.has(flags::CONCORD_WAITS_ON_CHANGE)))
                })
            })
        {
            ready.push((db, key));
        }
    }
}

/// True when a re-run BLMOVE/BRPOPLPUSH failed with WRONGTYPE because of its destination: its source
/// (the ready key) still holds a list. Redis then answers the waiter with the error and leaves the
/// element in the source, instead of keeping it blocked.
fn destination_wrongtype(state: &State, argv: &[Bytes], db: usize, key: &Bytes, now: u64) -> bool {
    let moves = argv.first().is_some_and(|c| {
        c.eq_ignore_ascii_case(b"blmove") || c.eq_ignore_ascii_case(b"brpoplpush")
    });
    if !moves {
        return false;
    }
    let (hash, shard) = state.keyspace.db(db).lock_key(key);
    matches!(
        shard.get_live(hash, key, now).map(|e| &e.value),
        Some(crate::keyspace::Value::List(_))
    )
}

/// Serves blocked clients waiting on keys that just became ready, oldest first: each waiter's command is
/// run again on its behalf (it cannot block now); if it took something, its reply is delivered and the
/// keys its own write made ready are served in turn; if not, it goes back to its place once every waiter
/// on the key had its turn.
pub fn serve_ready(state: &State, ready: Vec<(usize, Bytes)>) {
    let mut work: std::collections::VecDeque<(usize, Bytes)> = ready.into();
    while let Some((db, key)) = work.pop_front() {
        // Waiters that stay blocked on this key go back in line once the key is done, so the ones
        // behind them are still served.
        let mut stay = Vec::new();
        while let Some(w) = state.blocking.claim_first(db, &key) {
            let info = Arc::new(ClientInfo::new(
                w.client_id,
                String::new(),
                String::new(),
                0,
            ));
            let mut client = Client::new(info, true);
            client.db = w.db;
            let mut out = ReplyBuf::new(w.resp);
            let Ok(spec) = resolve(&w.argv) else { break };
            let Some(handler) = spec.handler else { break };
            let now_ms = state.now_ms();
            let mut txn = Txn::new();
            txn.may_block = false;
            txn.waiter = true;
            let result = {
                let _shared = crate::scripting::busy::shared(&state.exec_lock);
                let mut ctx = Ctx {
                    state,
                    client: &mut client,
                    argv: &w.argv,
                    out: &mut out,
                    now_ms,
                    txn: &mut txn,
                    spec,
                };
                handler(&mut ctx)
            };
            // Committed whatever comes next: a re-run that wrote and still keeps its client waiting
            // (a consumer created, nothing to read) is a unit too, and the stream has no gaps.
            let ticket = commit_unit(state, w.db, now_ms, &w.argv, &mut txn).unwrap_or(0);
            // A list or sorted-set waiter whose key now holds another type keeps waiting, as in Redis
            // (say LPUSH, DEL, SET inside one EXEC); only XREADGROUP is unblocked by errors.
            if matches!(result, Err(CommandError::WrongType))
                && !w.argv[0].eq_ignore_ascii_case(b"xreadgroup")
                && !destination_wrongtype(state, &w.argv, db, &key, now_ms)
            {
                stay.push(w);
                continue;
            }
            if let Err(e) = &result {
                // An error ends the wait (XREADGROUP's UNBLOCKED/NOGROUP): counted as Redis counts a
                // failed blocked command.
                out.error(&e.message());
                state.stats.count_error(&e.code());
                state.stats.commands[spec.id]
                    .failed
                    .fetch_add(1, Ordering::Relaxed);
            }
            // Found nothing after all: another waiter took it. Back in line; this key is drained.
            // Nothing for this one (another waiter took it, or its command waits for something else,
            // as XREAD does on a deleted stream while XREADGROUP is answered): the others still get
            // their turn.
            if txn.would_block {
                stay.push(w);
                // Locks and semaphores hand over strictly in line: one that still cannot proceed
                // keeps everyone behind it waiting (no reader overtakes a waiting writer).
                if spec.has(flags::CONCORD_WAITS_ON_CHANGE) {
                    break;
                }
                continue;
            }
            let wrote = txn.revision.is_some();
            tracking::after_command(
                state,
                &mut client,
                spec,
                &w.argv,
                &mut txn.notes,
                wrote,
                true,
            );
            work.extend(std::mem::take(&mut txn.ready));
            state
                .blocking
                .deliver(&w, WaitResult::Served(out.buf, ticket));
            // After the reply, so the waiter sees its invalidations after its answer, as in Redis.
            crate::notify::unit_done(state.outlets(), Some(w.client_id), &mut txn.notes);
        }
        for w in stay {
            state.blocking.unclaim(w);
        }
    }
}

/// Runs a command the server issues itself (the expirer ending a lease) as a unit of its own, in
/// database `db`: committed, its events published and the clients it made ready served, as any
/// client's command. Returns its reply.
pub fn run_internal(state: &State, db: usize, argv: &[Bytes]) -> Vec<u8> {
    let mut out = ReplyBuf::new(crate::protocol::Resp::V2);
    let Ok(spec) = resolve(argv) else {
        return out.buf;
    };
    let Some(handler) = spec.handler else {
        return out.buf;
    };
    let info = Arc::new(ClientInfo::new(0, String::new(), String::new(), 0));
    let mut client = Client::new(info, true);
    client.db = db;
    let now_ms = state.now_ms();
    let mut txn = Txn::new();
    txn.may_block = false;
    let result = {
        let _shared = crate::scripting::busy::shared(&state.exec_lock);
        let mut ctx = Ctx {
            state,
            client: &mut client,
            argv,
            out: &mut out,
            now_ms,
            txn: &mut txn,
            spec,
        };
        handler(&mut ctx)
    };
    if let Err(e) = result {
        out.error(&e.message());
    }
    commit_unit(state, db, now_ms, argv, &mut txn);
    crate::notify::unit_done(state.outlets(), None, &mut txn.notes);
    let ready = std::mem::take(&mut txn.ready);
    if !ready.is_empty() {
        serve_ready(state, ready);
    }
    out.buf
}

/// The commit point of a unit that ran in database `db` as `argv` at `now_ms`: when it took a revision
/// while the committed stream was active, its records (the argv verbatim when the handler recorded no
/// rewritten form) and changes go to the stream as one unit. Returns the unit's revision (its
/// completion ticket) when it wrote.
#[inline]
pub(crate) fn commit_unit(
    state: &State,
    db: usize,
    now_ms: u64,
    argv: &[Bytes],
    txn: &mut Txn,
) -> Option<u64> {
    let revision = txn.revision?;
    if txn.recording {
        publish_unit(state, db, now_ms, argv, txn, revision);
    }
    Some(revision)
}

/// `commit_unit` while the committed stream is read.
#[inline(never)]
fn publish_unit(
    state: &State,
    db: usize,
    now_ms: u64,
    argv: &[Bytes],
    txn: &mut Txn,
    revision: u64,
) {
    if !txn.logged && txn.logging {
        txn.records.push(Record {
            db,
            argv: argv.to_vec(),
        });
    }
    state.log.commit(Unit {
        revision,
        now_ms,
        records: std::mem::take(&mut txn.records),
        changes: std::mem::take(&mut txn.changes),
    });
}

/// Deletions of expired keys made as one unit of their own (one revision, however many keys and
/// shards): the expirer's batches, a command's lazy expiry, `pre_reap`. The caller holds the shard guard
/// of every key it deletes until `commit`, and publishes `notes` after dropping them.
pub struct ExpiryBatch {
    now_ms: u64,
    revision: Option<u64>,
    recording: bool,
    logging: bool,
    records: Vec<Record>,
    changes: Vec<Change>,
    pub notes: crate::notify::Notes,
}

impl ExpiryBatch {
    pub fn new(now_ms: u64) -> Self {
        ExpiryBatch {
            now_ms,
            revision: None,
            recording: false,
            logging: false,
            records: Vec::new(),
            changes: Vec::new(),
            notes: Default::default(),
        }
    }

    /// Records the expiry of `key`, just removed from database `db` (last `mod_revision` `prev`).
    pub fn delete(&mut self, state: &State, db: usize, key: &[u8], prev: u64) {
        if self.revision.is_none() {
            self.revision = Some(state.keyspace.next_revision());
            self.recording = state.log.is_active();
            self.logging = self.recording && state.log.wants_records();
        }
        state.stats.expired_keys.fetch_add(1, Ordering::Relaxed);
        crate::notify::key_expired(state.outlets(), &mut self.notes, db, key);
        if self.recording {
            let (record, change) = expiry(db, key, prev, self.changes.len());
            if self.logging {
                self.records.push(record);
            }
            self.changes.push(change);
        }
    }

    /// Deletes `key` from its locked `shard` of database `db` if it has expired at `now`, as part of
    /// this batch (the check is made under the guard: another client may have reaped or rewritten it).
    pub fn reap(
        &mut self,
        state: &State,
        db: usize,
        shard: &mut Shard,
        hash: u64,
        key: &[u8],
        now: u64,
    ) -> bool {
        if shard.get(hash, key).is_some_and(|e| e.is_expired(now))
            && let Some(entry) = shard.remove(hash, key)
        {
            self.delete(state, db, key, entry.mod_revision);
            return true;
        }
        false
    }

    /// Commits the batch (if it deleted anything) and returns its revision, or 0.
    pub fn commit(&mut self, state: &State) -> u64 {
        let Some(revision) = self.revision.take() else {
            return 0;
        };
        if self.recording {
            state.log.commit(Unit {
                revision,
                now_ms: self.now_ms,
                records: std::mem::take(&mut self.records),
                changes: std::mem::take(&mut self.changes),
            });
        }
        revision
    }
}

/// Wheel entries the active expirer handles per shard lock; the lock is released between batches.
const EXPIRE_BATCH: usize = 128;

/// Deletes every key due at the server's current time. Returns how many were deleted. Each batch of one
/// shard is one unit of the committed stream (one revision for up to `EXPIRE_BATCH` keys).
pub fn expire_due(state: &State) -> usize {
    let now = state.now_ms();
    // CLIENT PAUSE stops expiry too, as in Redis: keys only look expired until it ends.
    if state.pubsub.pause.mode(now) != crate::pubsub::pause::PauseMode::Off {
        return 0;
    }
    let mut total = 0;
    let mut keys = Vec::new();
    for (dbi, db) in state.keyspace.dbs().iter().enumerate() {
        for si in 0..crate::keyspace::db::SHARDS {
            loop {
                // Not in the middle of an EXEC: a transaction sees one instant of time. While a script or
                // EXEC holds the lock, this tick is skipped rather than parking a runtime worker.
                let Some(_shared) = state.exec_lock.try_read() else {
                    return total;
                };
                let mut shard = db.lock(si);
                if shard.next_deadline().is_none_or(|d| d > now) {
                    break;
                }
                keys.clear();
                let more = shard.due_keys(now, EXPIRE_BATCH, &mut keys);
                let mut batch = ExpiryBatch::new(now);
                for key in &keys {
                    // Re-checked under the same lock: the key may have been persisted or rewritten.
                    let hash = db.hash(key);
                    total += usize::from(batch.reap(state, dbi, &mut shard, hash, key, now));
                }
                // Committed under the shard guard, like any unit that took its revision there.
                batch.commit(state);
                drop(shard);
                // Events and invalidations leave once the shard is unlocked; clients waiting for
                // these keys to go (lock waiters) are served then.
                crate::notify::unit_done(state.outlets(), None, &mut batch.notes);
                if !state.blocking.is_empty() {
                    let ready: Vec<_> = keys
                        .iter()
                        .filter(|k| state.blocking.is_waited(dbi, k))
                        .map(|k| (dbi, Bytes::copy_from_slice(k)))
                        .collect();
                    if !ready.is_empty() {
                        drop(_shared);
                        serve_ready(state, ready);
                    }
                }
                if !more {
                    break;
                }
            }
        }
    }
    total
}

/// The record (`DEL key`) and the change (`Expired`, at sub-index `sub`) of one key's expiry.
fn expiry(db: usize, key: &[u8], prev: u64, sub: usize) -> (Record, Change) {
    let key = Bytes::copy_from_slice(key);
    let change = Change {
        sub: sub as u32,
        kind: ChangeKind::Expired,
        db,
        key: key.clone(),
        prev_revision: prev,
        value: None,
    };
    let record = Record {
        db,
        argv: vec![Bytes::from_static(b"DEL"), key],
    };
    (record, change)
}

/// Before a unit that could meet an expired key after it took its revision starts (EXEC, a script, a
/// write naming several keys), the expired keys it declares are deleted as one expiry unit of their own,
/// so its own unit never contains an expiry (`Ctx::reap_in`). Single-key writes need none: their reap
/// comes before their first change.
#[inline]
fn pre_reap(ctx: &mut Ctx) {
    let spec = ctx.spec;
    if spec.has(flags::CONCORD_RUNS_QUEUE)
        || (!spec.has(flags::READONLY)
            && (spec.has(flags::CONCORD_SCRIPT)
                || (spec.first_key > 0 && (spec.last_key < 0 || spec.last_key > spec.first_key))))
    {
        reap_declared(ctx);
    }
}

/// `pre_reap` for a unit that declares keys.
#[inline(never)]
fn reap_declared(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let (now, db) = (ctx.now_ms, ctx.client.db);
    let ks = &ctx.state.keyspace;
    // The common case finds nothing: one lookup per declared key, no allocation.
    let mut expired: Vec<(usize, Bytes)> = Vec::new();
    let mut check = |db: usize, key: &Bytes| {
        if db < ks.db_count() {
            let (hash, shard) = ks.db(db).lock_key(key);
            if shard.get(hash, key).is_some_and(|e| e.is_expired(now)) {
                expired.push((db, key.clone()));
            }
        }
    };
    if spec.has(flags::CONCORD_RUNS_QUEUE) {
        let Some(queued) = ctx.client.multi.as_ref() else {
            return;
        };
        let mut qdb = db;
        for transactions::Queued { spec: qspec, argv } in queued {
            if qspec.name == "select" {
                if let Some(i) = argv.get(1).and_then(|a| crate::util::numbers::parse_i64(a)) {
                    qdb = usize::try_from(i).unwrap_or(qdb);
                }
                continue;
            }
            if !qspec.has(flags::READONLY) {
                declared_keys(qspec, argv, |k| check(qdb, k));
            }
        }
    } else {
        declared_keys(spec, ctx.argv, |k| check(db, k));
    }
    if expired.is_empty() {
        return;
    }
    let mut batch = ExpiryBatch::new(now);
    expired.sort_unstable();
    expired.dedup();
    for (dbi, key) in &expired {
        let (hash, mut shard) = ks.db(*dbi).lock_key(key);
        batch.reap(ctx.state, *dbi, &mut shard, hash, key, now);
    }
    let revision = batch.commit(ctx.state);
    ctx.client.last_revision = ctx.client.last_revision.max(revision);
    ctx.txn.notes.events.append(&mut batch.notes.events);
    ctx.txn.notes.changed.append(&mut batch.notes.changed);
}

/// The keys `argv` declares, cheaply (this runs before every script and multi-key write): a script's
/// `numkeys` keys, else the spec's first/last/step range. Keys found only by keyword (SORT ... STORE,
/// XREADGROUP ... STREAMS) are not included; such a key found expired mid-unit is deleted inside the
/// unit (`Ctx::reap_in`).
fn declared_keys(spec: &CommandSpec, argv: &[Bytes], f: impl FnMut(&Bytes)) {
    if spec.has(flags::CONCORD_SCRIPT) {
        let n = argv
            .get(2)
            .and_then(|a| crate::util::numbers::parse_i64(a))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        argv.iter().skip(3).take(n).for_each(f);
        return;
    }
    range_keys(spec, argv, f);
}

/// The keys in the spec's first/last/step range (Redis's legacy key positions).
fn range_keys(spec: &CommandSpec, argv: &[Bytes], mut f: impl FnMut(&Bytes)) {
    if spec.first_key <= 0 || spec.step <= 0 {
        return;
    }
    let argc = argv.len() as i32;
    let last = if spec.last_key < 0 {
        argc + spec.last_key
    } else {
        spec.last_key
    };
    let mut i = spec.first_key;
    while i <= last && i < argc {
        f(&argv[i as usize]);
        i += spec.step;
    }
}

fn reject(state: &State, out: &mut ReplyBuf, spec: Option<&CommandSpec>, e: &CommandError) {
    out.error(&e.message());
    state.stats.count_error(&e.code());
    if let Some(s) = spec {
        state.stats.commands[s.id]
            .rejected
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Replays one committed unit (from the stream, later the AOF or the Raft log) at its recorded revision
/// and time: its records run in order as one unit with the unit's revision, as EXEC runs its queue.
/// Returns each record's reply, for checking.
pub fn replay(state: &State, unit: &Unit) -> Vec<Vec<u8>> {
    let info = Arc::new(ClientInfo::new(
        0,
        String::new(),
        String::new(),
        unit.now_ms,
    ));
    let mut client = Client::new(info, true);
    let mut out = ReplyBuf::new(crate::protocol::Resp::V2);
    let mut txn = Txn::replay(unit.revision);
    let mut replies = Vec::with_capacity(unit.records.len());
    for record in &unit.records {
        client.db = record.db;
        out.buf.clear();
        let spec = match resolve(&record.argv) {
            Ok(spec) => spec,
            Err(e) => {
                out.error(&e.message());
                replies.push(std::mem::take(&mut out.buf));
                continue;
            }
        };
        let Some(handler) = spec.handler else {
            out.error(&CommandError::Syntax.message());
            replies.push(std::mem::take(&mut out.buf));
            continue;
        };
        let mut ctx = Ctx {
            state,
            client: &mut client,
            argv: &record.argv,
            out: &mut out,
            now_ms: unit.now_ms,
            txn: &mut txn,
            spec,
        };
        if let Err(e) = handler(&mut ctx) {
            out.error(&e.message());
        }
        replies.push(std::mem::take(&mut out.buf));
    }
    // A replayed unit joins this server's own stream as it was.
    if txn.revision.is_some() && txn.recording {
        state.log.commit(unit.clone());
    }
    replies
}

/// What a write does to a key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Leave it as it is (KEEPTTL, APPEND, INCR).
    Keep,
    /// Remove it (a plain SET).
    Clear,
    /// Expire at this absolute Unix ms.
    At(u64),
}

impl Ctx<'_> {
    /// Stores `value` at `key` in a locked shard, creating the key or replacing its value, and stamps the
    /// change with this unit's revision. The caller has reaped an expired key already.
    pub fn upsert(
        &mut self,
        shard: &mut Shard,
        hash: u64,
        key: &[u8],
        value: crate::keyspace::Value,
        ttl: Ttl,
    ) {
        let lru = self.lru();
        if let Some(e) = shard.get_mut(hash, key) {
            e.value = value;
            self.stamp(e);
            e.access_s = lru;
            match ttl {
                Ttl::Keep => {}
                Ttl::Clear => {
                    if e.expires_at_ms != 0 {
                        shard.set_expiry(hash, key, 0);
                    }
                }
                Ttl::At(at) => {
                    shard.set_expiry(hash, key, at);
                }
            }
        } else {
            let at = match ttl {
                Ttl::At(at) => at,
                Ttl::Keep | Ttl::Clear => 0,
            };
            if matches!(
                value,
                crate::keyspace::Value::List(_) | crate::keyspace::Value::ZSet(_)
            ) && !self.state.blocking.is_empty()
            {
                self.txn
                    .ready
                    .push((self.client.db, Bytes::copy_from_slice(key)));
            }
            self.notify(crate::notify::class::NEW, "new", key);
            let revision = self.revision();
            let entry = Entry::new(key, value, at, revision, lru);
            let db = self.db();
            let e = shard.insert(hash, entry, |k| db.hash(k));
            if self.txn.recording {
                let value = self.captured(&e.value);
                let dbi = self.client.db;
                self.change(ChangeKind::Put, dbi, key, 0, value);
            }
        }
    }

    /// Deletes `key` from a locked shard (any type), stamping the change. Returns whether it existed.
    pub fn delete(&mut self, shard: &mut Shard, hash: u64, key: &[u8]) -> bool {
        self.reap(shard, hash, key);
        match shard.remove(hash, key) {
            Some(entry) => {
                let db = self.client.db;
                self.stamp_removed(db, key, entry.mod_revision);
                true
            }
            None => false,
        }
    }

    /// `delete` for DEL (`unlink` false) and UNLINK: a big value goes to the background freer instead
    /// of being freed under the shard lock, always for UNLINK, for DEL when lazyfree-lazy-user-del is
    /// on (the config is read only for big values, keeping small DELs cheap).
    pub fn delete_user(&mut self, shard: &mut Shard, hash: u64, key: &[u8], unlink: bool) -> bool {
        self.reap(shard, hash, key);
        match shard.remove(hash, key) {
            Some(entry) => {
                let db = self.client.db;
                self.stamp_removed(db, key, entry.mod_revision);
                let effort = entry.value.free_effort();
                if effort > crate::keyspace::lazyfree::LAZYFREE_THRESHOLD
                    && (unlink || self.state.config.get_bool("lazyfree-lazy-user-del"))
                {
                    self.state.lazyfree.free(entry);
                }
                true
            }
            None => false,
        }
    }
}

/// Parses an integer argument as Redis does (`ERR value is not an integer or out of range`).
pub fn parse_int(arg: &[u8]) -> Result<i64, CommandError> {
    crate::util::numbers::parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is_kw(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}
