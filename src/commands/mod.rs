//! Commands: the generated table, dispatch, and the handler families.
//!
//! **Apply path.** A handler parses its arguments into a typed request, then runs against the keyspace with
//! a `Ctx` that carries `now_ms` (read once, before the command runs) and a `Txn` that hands out the
//! command's single revision and collects its effects. A handler writes its reply into the connection's
//! buffer and does no other I/O; what it changed leaves as `Effect::Write` records whose argv is absolute
//! and deterministic (no relative TTLs, no "now"), so replaying them on an empty keyspace, with their
//! revisions, reproduces the state. Dispatch logs the command's own argv when the handler did not log a
//! rewritten form.

pub mod bitmaps;
pub mod connection;
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
pub mod transactions;
pub mod typed;
pub mod unblock;
pub mod zsets;

pub use crate::notify::commands as notify_cmds;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub use error::{CmdResult, CommandError};
use table::{CommandSpec, flags};

use crate::keyspace::{Db, Shard};
use crate::protocol::ReplyBuf;
use crate::server::blocking::{TimeoutReply, WaitResult};
use crate::server::{ClientInfo, Server};

/// A command handler: reads `ctx.argv`, writes the reply into `ctx.out`.
pub type Handler = fn(&mut Ctx<'_>) -> CmdResult;

/// What a committed write leaves behind for the log, replication and watchers.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Applying `argv` to database `db` at `now_ms` as revision `revision` reproduces the change.
    Write {
        db: usize,
        revision: u64,
        now_ms: u64,
        argv: Vec<Bytes>,
    },
}

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
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queueing: EXEC must abort.
    pub multi_error: bool,
    /// WATCHed keys: (db, key, what WATCH saw).
    pub watched: Vec<(usize, Bytes, transactions::Watched)>,
    /// CLIENT TRACKING state.
    pub tracking: crate::notify::tracking::ClientTracking,
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
        }
    }
}

/// One atomic unit of writes: a command, or later a whole script or EXEC. It owns the unit's revision
/// (taken on the first change, so a command that changes nothing takes none) and its effects.
#[derive(Default)]
pub struct Txn {
    revision: Option<u64>,
    /// Replay: the revision the log says this unit had.
    forced_revision: Option<u64>,
    /// True once the handler logged its own (rewritten) argv.
    logged: bool,
    recording: bool,
    pub effects: Vec<Effect>,
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
    /// Number of changes stamped so far (each `Ctx::revision` call), so EXEC can tell which of its
    /// commands wrote.
    pub changes: u64,
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
    pub fn new(recording: bool) -> Self {
        Txn {
            recording,
            may_block: true,
            ..Default::default()
        }
    }

    /// A unit replayed from a log, with the revision the log records.
    pub fn replay(revision: u64) -> Self {
        Txn {
            forced_revision: Some(revision),
            recording: true,
            ..Default::default()
        }
    }

    pub fn revision_taken(&self) -> Option<u64> {
        self.revision
    }
}

/// Everything a handler sees.
pub struct Ctx<'a> {
    pub server: &'a Server,
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
        self.server.keyspace.db(self.client.db)
    }

    /// The revision of this unit of writes, taken on first use.
    #[inline]
    pub fn revision(&mut self) -> u64 {
        self.txn.changes += 1;
        if let Some(r) = self.txn.revision {
            return r;
        }
        let r = match self.txn.forced_revision {
            Some(r) => {
                self.server.keyspace.observe_revision(r);
                r
            }
            None => self.server.keyspace.next_revision(),
        };
        self.txn.revision = Some(r);
        r
    }

    /// Records the deterministic form of this command's write (e.g. `SET k v PXAT <abs>` for `SET k v EX
    /// 10`). Without it, dispatch logs the argv as received.
    pub fn log(&mut self, argv: Vec<Bytes>) {
        self.txn.logged = true;
        if self.txn.recording
            && let Some(revision) = self.txn.revision
        {
            self.txn.effects.push(Effect::Write {
                db: self.client.db,
                revision,
                now_ms: self.now_ms,
                argv,
            });
        }
    }

    /// Marks that this command's write needs no log record of its own (it logged nothing or several).
    pub fn log_nothing(&mut self) {
        self.txn.logged = true;
    }

    #[inline]
    pub fn recording(&self) -> bool {
        self.txn.recording
    }

    /// Deletes `key` if it has expired, as a write of its own (own revision, logged as DEL), before the
    /// command changes it. Reads never do this: they treat an expired key as absent.
    pub fn reap(&mut self, shard: &mut Shard, hash: u64, key: &[u8]) {
        let expired = shard
            .get(hash, key)
            .is_some_and(|e| e.is_expired(self.now_ms));
        if expired {
            shard.remove(hash, key);
            self.expired(self.client.db, key);
        }
    }

    /// Reports that `key` (in the current db) now has something a blocked client may take (a stream
    /// that grew; list and sorted-set creations are reported by `upsert` itself).
    pub fn signal_ready(&mut self, key: &[u8]) {
        if !self.server.blocking.is_empty() {
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

    /// Records the expiry of a key that was just removed from database `db`.
    pub fn expired(&mut self, db: usize, key: &[u8]) {
        let ks = &self.server.keyspace;
        let revision = match self.txn.forced_revision {
            Some(_) => ks.revision() + 1,
            None => ks.next_revision(),
        };
        ks.observe_revision(revision);
        self.server
            .stats
            .expired_keys
            .fetch_add(1, Ordering::Relaxed);
        crate::notify::key_expired(self.server, &mut self.txn.notes, db, key);
        if self.txn.recording {
            self.txn.effects.push(Effect::Write {
                db,
                revision,
                now_ms: self.now_ms,
                argv: vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
            });
        }
    }

    /// Records keyspace event `event` of class `class` (`notify::class`) on `key` in the current db; it is
    /// published after the unit commits. Costs one relaxed load when notifications are off.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.client.db;
        crate::notify::record(self.server, &mut self.txn.notes, db, class, event, key);
    }

    /// `notify` for a key in database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_db(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        crate::notify::record(self.server, &mut self.txn.notes, db, class, event, key);
    }

    /// Whether reads by this client refresh a key's access time (CLIENT NO-TOUCH turns that off).
    #[inline]
    pub fn touches(&self) -> bool {
        !self.client.info.no_touch.load(Ordering::Relaxed)
    }

    /// The LRU clock now (OBJECT IDLETIME).
    #[inline]
    pub fn lru(&self) -> u32 {
        self.server.lru_clock(self.now_ms)
    }

    #[inline]
    pub fn arg(&self, i: usize) -> &'a [u8] {
        &self.argv[i]
    }

    #[inline]
    pub fn hit(&self, found: bool, key: &[u8]) {
        let s = &self.server.stats;
        if found {
            s.keyspace_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            s.keyspace_misses.fetch_add(1, Ordering::Relaxed);
            // A read miss is announced at once, as Redis's lookup does (there is no write to wait for).
            crate::notify::key_miss(self.server, self.client.db, key);
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
    let changes_before = ctx.txn.changes;
    ctx.txn.logged = false;
    // A script's reads track its declared keys (Redis remembers the caller's command); EXEC's track
    // each command's own.
    let keys_of = if ctx.spec.name == "exec" {
        (spec, argv)
    } else {
        (ctx.spec, ctx.argv)
    };
    crate::notify::before_command(ctx.server, ctx.client, spec, keys_of);
    let result = {
        let mut sub = Ctx {
            server: ctx.server,
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
    if ctx.server.pubsub.monitors.active() {
        // A command of a script shows as `[db lua]`, one inside EXEC as the client's.
        let from_script = ctx.spec.name != "exec";
        pubsub::feed_monitors_in_unit(ctx.server, ctx.client, spec, from_script, argv);
    }
    ctx.server.stats.commands[spec.id]
        .calls
        .fetch_add(1, Ordering::Relaxed);
    let wrote = ctx.txn.changes > changes_before;
    crate::notify::after_command(
        ctx.server,
        ctx.client,
        spec,
        argv,
        &mut ctx.txn.notes,
        wrote,
        false,
    );
    if ctx.txn.changes > changes_before {
        if !ctx.txn.logged
            && ctx.recording()
            && let Some(revision) = ctx.txn.revision_taken()
        {
            ctx.txn.effects.push(Effect::Write {
                db: ctx.client.db,
                revision,
                now_ms: ctx.now_ms,
                argv: argv.to_vec(),
            });
        }
        if !ctx.server.blocking.is_empty() {
            let db = ctx.client.db;
            written_keys_ready(ctx.server, db, spec, argv, &mut ctx.txn.ready);
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

/// Runs one command for a client: lookup, arity and auth checks, the handler, statistics and effects.
/// Returns what to wait for when a blocking command found nothing to take (nothing was written then).
pub fn execute(
    server: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    argv: &[Bytes],
) -> Option<BlockOn> {
    let spec = match resolve(argv) {
        Ok(s) => s,
        Err(e) => {
            client.multi_error |= client.multi.is_some();
            reject(server, out, None, &e);
            return None;
        }
    };
    if !spec.arity_ok(argv.len()) {
        let e = CommandError::WrongArity {
            command: spec.name.to_string(),
        };
        client.multi_error |= client.multi.is_some();
        reject(server, out, Some(spec), &e);
        return None;
    }
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        client.multi_error |= client.multi.is_some();
        reject(server, out, Some(spec), &CommandError::NoAuth);
        return None;
    }
    // A script past busy-reply-threshold: only ALLOW_BUSY commands (scripting/busy.rs).
    if let Err(e) = crate::scripting::busy::refuse_if_busy(server, spec, client) {
        reject(server, out, Some(spec), &e);
        return None;
    }
    // RESP2 subscribe mode allows only the (un)subscribe family, PING, QUIT and RESET (pubsub.rs).
    if let Some(e) = pubsub::subscribe_mode_error(client, spec.name) {
        client.multi_error |= client.multi.is_some();
        reject(server, out, Some(spec), &e);
        return None;
    }
    if let Some(queue) = client.multi.as_mut()
        && !transactions::runs_inside_multi(spec)
    {
        if spec.has(flags::NO_MULTI) {
            client.multi_error = true;
            let e = CommandError::Custom("ERR Command not allowed inside a transaction".into());
            reject(server, out, Some(spec), &e);
        } else {
            queue.push(argv.to_vec());
            out.simple("QUEUED");
        }
        return None;
    }
    let Some(handler) = spec.handler else {
        // A container called without a subcommand it knows is handled in resolve; a spec with neither
        // handler nor subcommands is refused by build.rs.
        reject(server, out, Some(spec), &CommandError::Syntax);
        return None;
    };
    if server.pubsub.monitors.active() {
        pubsub::feed_monitors(server, client, spec, argv, true);
    }
    let started = Instant::now();
    let mut txn = Txn::new(server.effects.is_recording());
    let now_ms = server.now_ms();
    crate::notify::before_command(server, client, spec, (spec, argv));
    let result = {
        // Every command runs under the shared side of the exec lock; EXEC and scripts take the exclusive
        // side so no other client sees them half-applied. Waiting does not hold a runtime worker, and a
        // busy script answers -BUSY (scripting/busy.rs).
        let _guard = match crate::scripting::busy::acquire(server, spec, client) {
            Ok(g) => g,
            Err(e) => {
                reject(server, out, Some(spec), &e);
                return None;
            }
        };
        let mut ctx = Ctx {
            server,
            client,
            argv,
            out,
            now_ms,
            txn: &mut txn,
            spec,
        };
        handler(&mut ctx)
    };
    let stat = &server.stats.commands[spec.id];
    if let Err(e) = &result {
        out.error(&e.message());
        server.stats.count_error(&e.code());
        stat.failed.fetch_add(1, Ordering::Relaxed);
    }
    if server.pubsub.monitors.active() {
        pubsub::feed_monitors(server, client, spec, argv, false);
    }
    finish_txn(server, client.db, now_ms, argv, &mut txn);
    let wrote = txn.revision.is_some();
    crate::notify::after_command(server, client, spec, argv, &mut txn.notes, wrote, true);
    crate::notify::unit_done(server, Some(client.info.id), &mut txn.notes);
    stat.calls.fetch_add(1, Ordering::Relaxed);
    stat.usec
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    server
        .stats
        .commands_processed
        .fetch_add(1, Ordering::Relaxed);
    client.info.last_cmd.store(spec.id + 1, Ordering::Relaxed);
    if txn.revision.is_some() && !server.blocking.is_empty() {
        written_keys_ready(server, client.db, spec, argv, &mut txn.ready);
    }
    let ready = std::mem::take(&mut txn.ready);
    if !ready.is_empty() {
        serve_ready(server, ready);
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
    server: &Server,
    db: usize,
    spec: &CommandSpec,
    argv: &[Bytes],
    ready: &mut Vec<(usize, Bytes)>,
) {
    let mut keys: Vec<(usize, Bytes)> = Vec::new();
    if matches!(spec.name, "flushdb" | "flushall" | "swapdb") {
        keys = server.blocking.waited_keys();
    } else if spec.has(flags::WRITE) && spec.first_key > 0 && spec.step > 0 {
        let argc = argv.len() as i32;
        let last = if spec.last_key < 0 {
            argc + spec.last_key
        } else {
            spec.last_key
        };
        let mut i = spec.first_key;
        while i <= last && i < argc {
            let key = &argv[i as usize];
            if server.blocking.is_waited(db, key) {
                keys.push((db, key.clone()));
            }
            i += spec.step;
        }
    }
    let now = server.now_ms();
    for (db, key) in keys {
        let takes_from = {
            let (hash, shard) = server.keyspace.db(db).lock_key(&key);
            match shard.get_live(hash, &key, now).map(|e| &e.value) {
                None => true,
                Some(v) => matches!(
                    v,
                    crate::keyspace::Value::List(_)
                        | crate::keyspace::Value::ZSet(_)
                        | crate::keyspace::Value::Stream(_)
                ),
            }
        };
        if takes_from
            || server.blocking.any_waiter(db, &key, |w| {
                w.first()
                    .is_some_and(|c| c.eq_ignore_ascii_case(b"xreadgroup"))
            })
        {
            ready.push((db, key));
        }
    }
}

/// True when a re-run BLMOVE/BRPOPLPUSH failed with WRONGTYPE because of its destination: its source
/// (the ready key) still holds a list. Redis then answers the waiter with the error and leaves the
/// element in the source, instead of keeping it blocked.
fn destination_wrongtype(
    server: &Server,
    argv: &[Bytes],
    db: usize,
    key: &Bytes,
    now: u64,
) -> bool {
    let moves = argv.first().is_some_and(|c| {
        c.eq_ignore_ascii_case(b"blmove") || c.eq_ignore_ascii_case(b"brpoplpush")
    });
    if !moves {
        return false;
    }
    let (hash, shard) = server.keyspace.db(db).lock_key(key);
    matches!(
        shard.get_live(hash, key, now).map(|e| &e.value),
        Some(crate::keyspace::Value::List(_))
    )
}

/// Serves blocked clients waiting on keys that just became ready, oldest first: each waiter's command is
/// run again on its behalf (it cannot block now); if it took something, its reply is delivered and the
/// keys its own write made ready are served in turn; if not, it goes back to its place once every waiter
/// on the key had its turn.
pub fn serve_ready(server: &Server, ready: Vec<(usize, Bytes)>) {
    let mut work: std::collections::VecDeque<(usize, Bytes)> = ready.into();
    while let Some((db, key)) = work.pop_front() {
        // Waiters that stay blocked on this key go back in line once the key is done, so the ones
        // behind them are still served.
        let mut stay = Vec::new();
        while let Some(w) = server.blocking.claim_first(db, &key) {
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
            let now_ms = server.now_ms();
            let mut txn = Txn::new(server.effects.is_recording());
            txn.may_block = false;
            txn.waiter = true;
            let result = {
                let _shared = crate::scripting::busy::shared(server);
                let mut ctx = Ctx {
                    server,
                    client: &mut client,
                    argv: &w.argv,
                    out: &mut out,
                    now_ms,
                    txn: &mut txn,
                    spec,
                };
                handler(&mut ctx)
            };
            // A list or sorted-set waiter whose key now holds another type keeps waiting, as in Redis
            // (say LPUSH, DEL, SET inside one EXEC); only XREADGROUP is unblocked by errors.
            if matches!(result, Err(CommandError::WrongType))
                && !w.argv[0].eq_ignore_ascii_case(b"xreadgroup")
                && !destination_wrongtype(server, &w.argv, db, &key, now_ms)
            {
                stay.push(w);
                continue;
            }
            if let Err(e) = &result {
                // An error ends the wait (XREADGROUP's UNBLOCKED/NOGROUP): counted as Redis counts a
                // failed blocked command.
                out.error(&e.message());
                server.stats.count_error(&e.code());
                server.stats.commands[spec.id]
                    .failed
                    .fetch_add(1, Ordering::Relaxed);
            }
            // Found nothing after all: another waiter took it. Back in line; this key is drained.
            // Nothing for this one (another waiter took it, or its command waits for something else,
            // as XREAD does on a deleted stream while XREADGROUP is answered): the others still get
            // their turn.
            if txn.would_block {
                stay.push(w);
                continue;
            }
            finish_txn(server, w.db, now_ms, &w.argv, &mut txn);
            let wrote = txn.revision.is_some();
            crate::notify::after_command(
                server,
                &mut client,
                spec,
                &w.argv,
                &mut txn.notes,
                wrote,
                true,
            );
            work.extend(std::mem::take(&mut txn.ready));
            server.blocking.deliver(&w, WaitResult::Served(out.buf));
            // After the reply, so the waiter sees its invalidations after its answer, as in Redis.
            crate::notify::unit_done(server, Some(w.client_id), &mut txn.notes);
        }
        for w in stay {
            server.blocking.unclaim(w);
        }
    }
}

/// Publishes a finished unit's effects, logging the argv verbatim when the handler wrote without logging.
fn finish_txn(server: &Server, db: usize, now_ms: u64, argv: &[Bytes], txn: &mut Txn) {
    if !txn.recording {
        return;
    }
    if let Some(revision) = txn.revision
        && !txn.logged
    {
        txn.effects.push(Effect::Write {
            db,
            revision,
            now_ms,
            argv: argv.to_vec(),
        });
    }
    server.effects.append(&mut txn.effects);
}

fn reject(server: &Server, out: &mut ReplyBuf, spec: Option<&CommandSpec>, e: &CommandError) {
    out.error(&e.message());
    server.stats.count_error(&e.code());
    if let Some(s) = spec {
        server.stats.commands[s.id]
            .rejected
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Replays one logged write (from the effect log, later the AOF or Raft log) at its recorded revision and
/// time. Returns the reply bytes, for checking.
pub fn replay(server: &Server, effect: &Effect) -> Vec<u8> {
    let Effect::Write {
        db,
        revision,
        now_ms,
        argv,
    } = effect;
    let info = Arc::new(ClientInfo::new(0, String::new(), String::new(), *now_ms));
    let mut client = Client::new(info, true);
    client.db = *db;
    let mut out = ReplyBuf::new(crate::protocol::Resp::V2);
    let Ok(spec) = resolve(argv) else {
        return b"-ERR unknown".to_vec();
    };
    let Some(handler) = spec.handler else {
        return b"-ERR no handler".to_vec();
    };
    let mut txn = Txn::replay(*revision);
    let mut ctx = Ctx {
        server,
        client: &mut client,
        argv,
        out: &mut out,
        now_ms: *now_ms,
        txn: &mut txn,
        spec,
    };
    if let Err(e) = handler(&mut ctx) {
        out.error(&e.message());
    }
    out.buf
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
        let revision = self.revision();
        let lru = self.lru();
        if let Some(e) = shard.get_mut(hash, key) {
            e.value = value;
            e.touch(revision);
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
            ) && !self.server.blocking.is_empty()
            {
                self.txn
                    .ready
                    .push((self.client.db, Bytes::copy_from_slice(key)));
            }
            self.notify(crate::notify::class::NEW, "new", key);
            let entry = crate::keyspace::Entry::new(key, value, at, revision, lru);
            let db = self.db();
            shard.insert(hash, entry, |k| db.hash(k));
        }
    }

    /// Deletes `key` from a locked shard (any type), stamping the change. Returns whether it existed.
    pub fn delete(&mut self, shard: &mut Shard, hash: u64, key: &[u8]) -> bool {
        self.reap(shard, hash, key);
        if shard.remove(hash, key).is_some() {
            self.revision();
            true
        } else {
            false
        }
    }

    /// `delete` for DEL (`unlink` false) and UNLINK: a big value goes to the background freer instead
    /// of being freed under the shard lock, always for UNLINK, for DEL when lazyfree-lazy-user-del is
    /// on (the config is read only for big values, keeping small DELs cheap).
    pub fn delete_user(&mut self, shard: &mut Shard, hash: u64, key: &[u8], unlink: bool) -> bool {
        self.reap(shard, hash, key);
        match shard.remove(hash, key) {
            Some(entry) => {
                self.revision();
                let effort = entry.value.free_effort();
                if effort > crate::keyspace::lazyfree::LAZYFREE_THRESHOLD
                    && (unlink || self.server.config.get_bool("lazyfree-lazy-user-del"))
                {
                    self.server.lazyfree.free(entry);
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
