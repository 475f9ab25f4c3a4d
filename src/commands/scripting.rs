//! Scripting commands (Redis group `scripting`): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! LOAD|EXISTS|FLUSH|KILL, the dispatcher behind `redis.call` / `redis.pcall`, and the `-BUSY` gate
//! dispatch passes before every command (`acquire`, `refuse_if_busy`).
//!
//! Atomicity: dispatch runs these commands under the exclusive side of `State::exec_lock` (as EXEC), so
//! no other client observes a half-run script. Revision seam: every command a script calls shares the
//! script's `Txn`, so the script is one revision, and each command that wrote is logged with it, in order.
//! Time limit: a Lua count hook drives `scripting::busy::Watchdog` (busy-reply-threshold, leaving the
//! worker thread, SCRIPT KILL); see `scripting::busy` for the whole design.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::table::{CommandSpec, flags};
use super::{Client, CmdResult, CommandError, Ctx, resolve};
use crate::protocol::ReplyBuf;
use crate::scripting::cache::{self, Sha};
use crate::scripting::runner::{self, Call, Frame, Outcome};
use crate::scripting::{Engine, busy};
use crate::state::State;

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// EVAL script numkeys [key ...] [arg ...]
pub fn eval(ctx: &mut Ctx) -> CmdResult {
    run(ctx, false, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
pub fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    run(ctx, false, true)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
pub fn evalsha(ctx: &mut Ctx) -> CmdResult {
    run(ctx, true, false)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
pub fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    run(ctx, true, true)
}

/// SCRIPT LOAD script
pub fn script_load(ctx: &mut Ctx) -> CmdResult {
    let body = ctx.arg(2);
    let mut engine = ctx.state.scripting.engine.lock();
    let sha = cache(&mut engine, body)?;
    publish_count(ctx.state, &engine);
    ctx.out.bulk(&sha);
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
pub fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let engine = ctx.state.scripting.engine.lock();
    ctx.out.array(ctx.argv.len() - 2);
    for sha in &ctx.argv[2..] {
        ctx.out.int(engine.scripts.contains(sha) as i64);
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC|SYNC]
pub fn script_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.argv.len() {
        2 => {}
        3 if super::is_kw(ctx.arg(2), "async") || super::is_kw(ctx.arg(2), "sync") => {}
        _ => {
            return Err(CommandError::Custom(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option".into(),
            ));
        }
    }
    let mut engine = ctx.state.scripting.engine.lock();
    engine.scripts.clear();
    // Frees the registry slots that pinned the scripts, so Lua can collect them.
    engine.lua.expire_registry_values();
    publish_count(ctx.state, &engine);
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL: stops the running EVAL script unless it wrote (runs beside a busy script, unlocked).
pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    ctx.state
        .scripting
        .run
        .request_kill(true)
        .map_err(|e| CommandError::Custom(e.into()))?;
    ctx.out.ok();
    Ok(())
}

/// Publishes the cache size for INFO.
fn publish_count(state: &State, engine: &Engine) {
    let s = &state.scripting;
    s.cached_scripts
        .store(engine.scripts.len() as u64, Ordering::Relaxed);
    s.scripts_bytes
        .store(engine.scripts.body_bytes() as u64, Ordering::Relaxed);
    s.lua_bytes
        .store(engine.lua.used_memory() as u64, Ordering::Relaxed);
}

/// Compiles and caches `body` (a no-op when cached), returning its sha.
fn cache(engine: &mut Engine, body: &[u8]) -> Result<Sha, CommandError> {
    if let Some(sha) = engine.scripts.sha_of_body(body) {
        return Ok(sha);
    }
    let sha = cache::sha_of(body);
    if !engine.scripts.contains(&sha) {
        let (flags, header) = crate::scripting::functions::parse_eval_shebang(body)
            .map_err(|e| CommandError::Custom(format!("ERR {e}")))?;
        // The shebang line is skipped but its line feed kept, so line numbers stay the user's.
        let func = engine
            .compile(&body[header..])
            .map_err(CommandError::Custom)?;
        engine
            .scripts
            // A copy: the argument may share the connection's read buffer.
            .insert(
                sha,
                Bytes::copy_from_slice(body),
                cache::Script { func, flags },
            );
    }
    Ok(sha)
}

/// Parses `numkeys` (argument 2) with Redis's errors; `bad` is the error for a non-integer.
pub(crate) fn parse_numkeys(ctx: &Ctx, bad: &str) -> Result<usize, CommandError> {
    let numkeys = crate::util::numbers::parse_i64(ctx.arg(2))
        .ok_or_else(|| CommandError::Custom(bad.into()))?;
    if numkeys > (ctx.argv.len() - 3) as i64 {
        return Err(CommandError::NumkeysExceedArgs);
    }
    if numkeys < 0 {
        return Err(CommandError::Custom(
            "ERR Number of keys can't be negative".into(),
        ));
    }
    Ok(numkeys as usize)
}

fn run(ctx: &mut Ctx, by_sha: bool, read_only: bool) -> CmdResult {
    let nk = parse_numkeys(ctx, "ERR value is not an integer or out of range")?;
    let state = ctx.state;
    let mut engine = state.scripting.engine.lock();
    let sha = if by_sha {
        match engine.scripts.get(ctx.arg(1)) {
            Some((sha, _)) => *sha,
            None => return Err(CommandError::Custom(NOSCRIPT.into())),
        }
    } else {
        let sha = cache(&mut engine, ctx.arg(1))?;
        publish_count(state, &engine);
        sha
    };
    let Some((_, script)) = engine.scripts.get(&sha) else {
        return Err(CommandError::Custom(NOSCRIPT.into()));
    };
    // A `#!lua` shebang opts out of compatibility mode: its flags decide read-only-ness, and a script
    // that may write is refused by the _RO variants up front, as Redis 7 does.
    let read_only = match script.flags {
        None => read_only,
        Some(flags) => {
            let no_writes = flags & crate::scripting::functions::NO_WRITES != 0;
            if read_only && !no_writes {
                return Err(CommandError::WriteScriptInReadOnly);
            }
            read_only || no_writes
        }
    };
    run_script(
        ctx,
        &engine,
        Call::Eval(&script.func),
        busy::Kind::Eval,
        cache::sha_str(&sha),
        nk,
        read_only,
    )
}

/// Runs a script or function for EVAL*/FCALL*: one unit of writes, the reply written to the client.
/// `name` is the sha or function name errors mention.
pub(crate) fn run_script(
    ctx: &mut Ctx,
    engine: &Engine,
    call: Call<'_>,
    kind: busy::Kind,
    name: &str,
    nk: usize,
    read_only: bool,
) -> CmdResult {
    let state = ctx.state;
    let saved_db = ctx.client.db;
    ctx.txn.may_block = false;
    let argv = ctx.argv;
    let (keys, args) = argv[3..].split_at(nk);
    let resp3 = ctx.out.is_resp3();
    let running = state.scripting.run.begin(kind, name, argv);
    let threshold = state.config.busy_reply_threshold_ms.load(Ordering::Relaxed);
    let watchdog = busy::Watchdog::new(
        state.scripting.run.clone(),
        state.shutdown.subscribe(),
        running.started,
        threshold,
    );
    let outcome = {
        let mut dispatch =
            |argv: &[Bytes], out: &mut ReplyBuf| redis_call(ctx, argv, out, read_only);
        let mut frame = Frame::new(&mut dispatch, Some(watchdog));
        runner::run(&engine.entry, call, keys, args, &mut frame, resp3)
    };
    drop(running);
    // Lua 5.1 has no emergency collection: garbage left by a script that hit the memory cap would
    // make the next script fail, so collect once the heap is past half the cap.
    let lua_bytes = engine.lua.used_memory();
    if lua_bytes > crate::scripting::MEMORY_LIMIT / 2 {
        let _ = engine.lua.gc_collect();
    }
    state
        .scripting
        .lua_bytes
        .store(lua_bytes as u64, Ordering::Relaxed);
    ctx.client.db = saved_db;
    // Each called command logged itself; the script is not logged on top.
    ctx.log_nothing();
    let error = match outcome {
        Outcome::Reply(reply) => {
            if let Some(rest) = reply.buf.strip_prefix(b"-") {
                // Scripts' own error replies count in errorstats under their code, as in Redis.
                let end = rest
                    .iter()
                    .position(|&b| b == b' ' || b == b'\r')
                    .unwrap_or(rest.len());
                state
                    .stats
                    .count_error(&String::from_utf8_lossy(&rest[..end]));
            }
            ctx.out.raw(&reply.buf);
            return Ok(());
        }
        Outcome::Raised { message, place } => match place {
            Some((source, line)) => format!("{message} script: {name}, on {source}:{line}."),
            None => message,
        },
        Outcome::RaisedValue(Some(msg)) => format!("ERR Error running script {name}, {msg}"),
        Outcome::RaisedValue(None) => {
            format!("ERR Error running script {name}, execution failure")
        }
    };
    let code = error.split(' ').next().unwrap_or("ERR");
    state.stats.count_error(code);
    ctx.out.error(&error);
    Ok(())
}

/// One `redis.call`/`redis.pcall`: checks as Redis does, then runs the command on the script's `Txn`,
/// its reply written to `out`. An error is returned as its text.
fn redis_call(
    ctx: &mut Ctx,
    argv: &[Bytes],
    out: &mut ReplyBuf,
    read_only: bool,
) -> Result<(), String> {
    let Ok(spec) = resolve(argv) else {
        return Err("Unknown Redis command called from script".into());
    };
    if !spec.arity_ok(argv.len()) {
        return Err("Wrong number of args calling Redis command from script".into());
    }
    if spec.has(flags::NOSCRIPT) {
        return Err("This Redis command is not allowed from script".into());
    }
    // PUBLISH and the like (MAY_REPLICATE) count as writes here, as in Redis.
    if read_only && (spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE)) {
        return Err("Write commands are not allowed from read-only scripts.".into());
    }
    let Some(handler) = spec.handler else {
        return Err("Unknown Redis command called from script".into());
    };
    if spec.has(flags::WRITE) {
        // As Redis: once a write command ran, the script can no longer be killed.
        ctx.state.scripting.run.mark_wrote();
    }
    if spec.has(flags::CONCORD_NO_SCRIPT_BLOCK)
        && argv
            .iter()
            .take_while(|a| !super::is_kw(a, "streams"))
            .any(|a| super::is_kw(a, "block"))
    {
        return Err(format!(
            "{} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&argv[0])
        ));
    }
    if let Err(e) = super::run_in_unit(ctx, spec, handler, argv, Some(out)) {
        ctx.state.stats.count_error(&e.code());
        ctx.state.stats.commands[spec.id]
            .failed
            .fetch_add(1, Ordering::Relaxed);
        return Err(e.message());
    }
    Ok(())
}

// ---- The `-BUSY` gate dispatch passes before every command (the lock mechanics: scripting::busy). ----

/// The `-BUSY` error for a script of `kind`.
pub fn busy_error(kind: busy::Kind) -> CommandError {
    CommandError::Custom(
        match kind {
            busy::Kind::Eval => busy::BUSY_EVAL,
            busy::Kind::Function => busy::BUSY_FUNCTION,
        }
        .into(),
    )
}

/// Whether `spec` runs under the exclusive side of the exec lock (scripts and EXEC: `CONCORD_EXCLUSIVE`).
pub fn is_exclusive(spec: &CommandSpec) -> bool {
    spec.has(flags::CONCORD_EXCLUSIVE)
}

/// Refuses a command with `-BUSY` while a script is busy, unless its spec allows it (Redis checks this
/// before queueing inside MULTI too).
pub fn refuse_if_busy(
    state: &State,
    spec: &CommandSpec,
    client: &mut Client,
) -> Result<(), CommandError> {
    match state.scripting.run.busy() {
        Some(kind) if !spec.has(flags::ALLOW_BUSY) => Err(refused(client, spec, kind)),
        _ => Ok(()),
    }
}

/// The error for a command refused because a script is busy. As in Redis, a refused EXEC aborts the
/// transaction (`EXECABORT ... BUSY ...`, MULTI state and WATCHes dropped) so half of it never runs; any
/// other command refused inside MULTI makes EXEC abort.
pub fn refused(client: &mut Client, spec: &CommandSpec, kind: busy::Kind) -> CommandError {
    let busy = busy_error(kind).message();
    if spec.has(flags::CONCORD_RUNS_QUEUE) && client.multi.is_some() {
        client.multi = None;
        client.multi_error = false;
        client.watched.clear();
        return CommandError::Custom(format!(
            "EXECABORT Transaction discarded because of: {busy}"
        ));
    }
    client.multi_error |= client.multi.is_some();
    CommandError::Custom(busy)
}

/// Takes the side of the exec lock `spec` runs under, without parking a runtime worker on a long wait,
/// and answers `-BUSY` when the script holding it runs past busy-reply-threshold.
pub fn acquire<'a>(
    state: &'a State,
    spec: &CommandSpec,
    client: &mut Client,
) -> Result<busy::ExecGuard<'a>, CommandError> {
    busy::acquire(
        &state.exec_lock,
        &state.scripting.run,
        is_exclusive(spec),
        spec.has(flags::ALLOW_BUSY),
    )
    .map_err(|kind| refused(client, spec, kind))
}
