//! Scripting commands (Redis group `scripting`): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! LOAD|EXISTS|FLUSH|KILL, and the dispatcher behind `redis.call` / `redis.pcall`.
//!
//! Atomicity: dispatch runs these commands under the exclusive side of `Server::exec_lock` (as EXEC), so
//! no other client observes a half-run script. Revision seam: every command a script calls shares the
//! script's `Txn`, so the script is one revision, and each command that wrote is logged with it, in order.
//! Time limit: a Lua count hook drives `scripting::busy::Watchdog` (busy-reply-threshold, leaving the
//! worker thread, SCRIPT KILL); see `scripting::busy` for the whole design.

use bytes::Bytes;
use mlua::{Function, Value};
use std::sync::atomic::Ordering;

use super::table::flags;
use super::{CmdResult, CommandError, Ctx, resolve};
use crate::protocol::{ReplyBuf, Resp};
use crate::scripting::{Engine, busy, lua_error_text, lua_to_reply, reply_to_lua, sha1_hex};

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
    let mut engine = ctx.server.scripting.engine.lock();
    let sha = cache(&mut engine, body)?;
    publish_count(ctx.server, &engine);
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
pub fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let engine = ctx.server.scripting.engine.lock();
    ctx.out.array(ctx.argv.len() - 2);
    for sha in &ctx.argv[2..] {
        let key = String::from_utf8_lossy(sha).to_ascii_lowercase();
        ctx.out.int(engine.scripts.contains_key(&key) as i64);
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
    let mut engine = ctx.server.scripting.engine.lock();
    engine.scripts.clear();
    engine.shebang_flags.clear();
    publish_count(ctx.server, &engine);
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL: stops the running EVAL script unless it wrote (runs beside a busy script, unlocked).
pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    ctx.server
        .scripting
        .run
        .request_kill(true)
        .map_err(|e| CommandError::Custom(e.into()))?;
    ctx.out.ok();
    Ok(())
}

/// Publishes the cache size for INFO.
fn publish_count(server: &crate::server::Server, engine: &Engine) {
    server
        .scripting
        .cached_scripts
        .store(engine.scripts.len() as u64, Ordering::Relaxed);
}

/// Compiles and caches `body` (a no-op when cached), returning its sha.
fn cache(engine: &mut Engine, body: &[u8]) -> Result<String, CommandError> {
    let sha = sha1_hex(body);
    if !engine.scripts.contains_key(&sha) {
        let (flags, header) = crate::scripting::functions::parse_eval_shebang(body)
            .map_err(|e| CommandError::Custom(format!("ERR {e}")))?;
        // The shebang line is skipped but its line feed kept, so line numbers stay the user's.
        let f = engine
            .compile(&body[header..])
            .map_err(CommandError::Custom)?;
        engine.scripts.insert(sha.clone(), f);
        if let Some(flags) = flags {
            engine.shebang_flags.insert(sha.clone(), flags);
        }
    }
    Ok(sha)
}

/// Parses `numkeys` (argument 2) with Redis's errors; `bad` is the error for a non-integer.
pub(crate) fn parse_numkeys(ctx: &Ctx, bad: &str) -> Result<usize, CommandError> {
    let numkeys = crate::util::numbers::parse_i64(ctx.arg(2))
        .ok_or_else(|| CommandError::Custom(bad.into()))?;
    if numkeys > (ctx.argv.len() - 3) as i64 {
        return Err(CommandError::Custom(
            "ERR Number of keys can't be greater than number of args".into(),
        ));
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
    let server = ctx.server;
    let mut engine = server.scripting.engine.lock();
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(ctx.arg(1)).to_ascii_lowercase();
        if !engine.scripts.contains_key(&sha) {
            return Err(CommandError::Custom(NOSCRIPT.into()));
        }
        sha
    } else {
        let sha = cache(&mut engine, ctx.arg(1))?;
        publish_count(server, &engine);
        sha
    };
    let Some(func) = engine.scripts.get(&sha).cloned() else {
        return Err(CommandError::Custom(NOSCRIPT.into()));
    };
    // A `#!lua` shebang opts out of compatibility mode: its flags decide read-only-ness, and a script
    // that may write is refused by the _RO variants up front, as Redis 7 does.
    let read_only = match engine.shebang_flags.get(&sha) {
        None => read_only,
        Some(flags) => {
            let no_writes = flags & crate::scripting::functions::NO_WRITES != 0;
            if read_only && !no_writes {
                return Err(CommandError::Custom(
                    "ERR Can not execute a script with write flag using *_ro command.".into(),
                ));
            }
            read_only || no_writes
        }
    };
    run_script(
        ctx,
        &engine,
        Target::Eval(func),
        busy::Kind::Eval,
        sha,
        nk,
        read_only,
    )
}

/// What runs: an EVAL script (KEYS/ARGV as globals) or a library function (keys and args as its two
/// parameters).
pub(crate) enum Target {
    Eval(Function),
    Function(Function),
}

/// Runs a script or function for EVAL*/FCALL*: one unit of writes, the reply written to the client.
/// `name` is the sha or function name errors mention.
pub(crate) fn run_script(
    ctx: &mut Ctx,
    engine: &Engine,
    target: Target,
    kind: busy::Kind,
    name: String,
    nk: usize,
    read_only: bool,
) -> CmdResult {
    let server = ctx.server;
    let keys: Vec<Bytes> = ctx.argv[3..3 + nk].to_vec();
    let args: Vec<Bytes> = ctx.argv[3 + nk..].to_vec();
    let saved_db = ctx.client.db;
    ctx.txn.may_block = false;
    let outcome = execute_script(engine, ctx, target, kind, &name, &keys, &args, read_only);
    ctx.client.db = saved_db;
    // Each called command logged itself; the script is not logged on top.
    ctx.log_nothing();
    let reply = match outcome {
        Ok(r) => r,
        Err(e) => crate::scripting::ScriptReply::Error(format!(
            "ERR Error running script {name}, {}",
            lua_error_text(&e)
        )),
    };
    if let crate::scripting::ScriptReply::Error(msg) = &reply {
        // Scripts' own error replies count in errorstats under their code, as in Redis.
        let code = msg.split(' ').next().unwrap_or("ERR");
        server.stats.count_error(code);
    }
    reply.write(ctx.out);
    Ok(())
}

/// Runs `target` with its keys and args and a `redis.call` bound to this command's context.
#[allow(clippy::too_many_arguments)]
fn execute_script(
    engine: &Engine,
    ctx: &mut Ctx,
    target: Target,
    kind: busy::Kind,
    name: &str,
    keys: &[Bytes],
    args: &[Bytes],
    read_only: bool,
) -> mlua::Result<crate::scripting::ScriptReply> {
    let lua = &engine.lua;
    lua.set_named_registry_value("concord_resp", 2)?;
    let keys_t = lua.create_sequence_from(
        keys.iter()
            .map(|k| lua.create_string(k))
            .collect::<mlua::Result<Vec<_>>>()?,
    )?;
    let args_t = lua.create_sequence_from(
        args.iter()
            .map(|k| lua.create_string(k))
            .collect::<mlua::Result<Vec<_>>>()?,
    )?;
    let server = ctx.server;
    let run = &server.scripting.run;
    let running = run.begin(kind, name.to_string(), ctx.argv.to_vec());
    let threshold = server
        .config
        .busy_reply_threshold_ms
        .load(Ordering::Relaxed);
    let watchdog = parking_lot::Mutex::new(busy::Watchdog::new(server, running.started, threshold));
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(busy::HOOK_EVERY),
        move |lua, _| match watchdog.lock().tick() {
            busy::HookVerdict::Continue => Ok(mlua::VmState::Continue),
            busy::HookVerdict::Stop(msg) => {
                // From now on every line raises again, so a pcall in the script cannot swallow it.
                lua.set_hook(mlua::HookTriggers::EVERY_LINE, move |_, _| {
                    Err(mlua::Error::RuntimeError(msg.to_string()))
                })?;
                Err(mlua::Error::RuntimeError(msg.to_string()))
            }
        },
    )?;
    let ctx = std::cell::RefCell::new(ctx);
    let reply = lua.scope(|scope| {
        let call = scope.create_function(|lua, (raise, argv): (bool, mlua::Variadic<Value>)| {
            let mut ctx = ctx
                .try_borrow_mut()
                .map_err(|_| mlua::Error::RuntimeError("redis.call re-entered".into()))?;
            redis_call(lua, &mut ctx, raise, &argv, read_only)
        })?;
        let call_raise = scope.create_function(|lua, argv: mlua::Variadic<Value>| {
            let mut ctx = ctx
                .try_borrow_mut()
                .map_err(|_| mlua::Error::RuntimeError("redis.call re-entered".into()))?;
            let (ok, v) = redis_call(lua, &mut ctx, true, &argv, read_only)?;
            if ok {
                return Ok(v);
            }
            engine.hooks.raw_set("last_err", v)?;
            Err(mlua::Error::RuntimeError(
                crate::scripting::CALL_ERR_MARKER.into(),
            ))
        })?;
        let (ok, v): (bool, Value) = match target {
            // One call into Lua sets the hooks, runs and clears them (see the prelude's run_eval).
            Target::Eval(func) => engine
                .run_eval
                .call((func, call, call_raise, keys_t, args_t))?,
            Target::Function(func) => {
                engine.hooks.raw_set("call", call)?;
                engine.hooks.raw_set("call_raise", call_raise)?;
                let r = engine.libs.call_fn.call((func, keys_t, args_t))?;
                engine.hooks.raw_set("call", Value::Nil)?;
                r
            }
        };
        if ok {
            let level: i64 = lua.named_registry_value("concord_resp").unwrap_or(2);
            return Ok(lua_to_reply(&v).at_script_resp(level));
        }
        Ok(script_error(&v, name))
    });
    engine.hooks.raw_set("call", Value::Nil)?;
    engine.hooks.raw_set("call_raise", Value::Nil)?;
    engine.hooks.raw_set("last_err", Value::Nil)?;
    lua.remove_hook();
    drop(running);
    // Lua 5.1 has no emergency collection: garbage left by a script that hit the memory cap would
    // make the next script fail, so collect once the heap is past half the cap.
    if lua.used_memory() > crate::scripting::MEMORY_LIMIT / 2 {
        lua.gc_collect()?;
    }
    reply
}

/// Formats a raised error as Redis: `<msg> script: <sha>, on @user_script:<line>.`
fn script_error(v: &Value, sha: &str) -> crate::scripting::ScriptReply {
    let Value::Table(t) = v else {
        let msg = match v {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".into(),
        };
        return crate::scripting::ScriptReply::Error(format!(
            "ERR Error running script {sha}, {msg}"
        ));
    };
    let msg: String = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".into(),
    };
    let source: Option<String> = t.raw_get("source").ok();
    let line: Option<i64> = t.raw_get("line").ok();
    let mut text = msg;
    if let (Some(src), Some(line)) = (source, line) {
        text.push_str(&format!(" script: {sha}, on {src}:{line}."));
    }
    crate::scripting::ScriptReply::Error(text)
}

fn err_table(lua: &mlua::Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    let t = lua.create_table()?;
    let msg = msg.trim_end_matches(['\r', '\n']);
    let full =
        if let Some(rest) = msg.strip_prefix('-') {
            rest.to_string()
        } else if msg.split(' ').next().is_some_and(|c| {
            !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        }) {
            msg.to_string()
        } else {
            format!("ERR {msg}")
        };
    t.raw_set("err", full)?;
    Ok((false, Value::Table(t)))
}

/// One `redis.call`/`redis.pcall`: checks as Redis does, then runs the command on the script's `Txn`.
/// Returns (true, value) or (false, error table); `call` raises the table, `pcall` returns it.
fn redis_call(
    lua: &mlua::Lua,
    ctx: &mut Ctx,
    _raise: bool,
    args: &[Value],
    read_only: bool,
) -> mlua::Result<(bool, Value)> {
    if args.is_empty() {
        return err_table(
            lua,
            "Please specify at least one argument for this redis lib call",
        );
    }
    let mut argv: Vec<Bytes> = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) => argv.push(Bytes::from(i.to_string())),
            Value::Number(n) => argv.push(Bytes::from(format_g17(*n))),
            _ => {
                return err_table(
                    lua,
                    "Lua redis lib command arguments must be strings or integers",
                );
            }
        }
    }
    let spec = match resolve(&argv) {
        Ok(s) => s,
        Err(_) => return err_table(lua, "Unknown Redis command called from script"),
    };
    if !spec.arity_ok(argv.len()) {
        return err_table(
            lua,
            "Wrong number of args calling Redis command from script",
        );
    }
    if spec.has(flags::NOSCRIPT) {
        return err_table(lua, "This Redis command is not allowed from script");
    }
    // PUBLISH and the like (MAY_REPLICATE) count as writes here, as in Redis.
    if read_only && (spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE)) {
        return err_table(
            lua,
            "Write commands are not allowed from read-only scripts.",
        );
    }
    let Some(handler) = spec.handler else {
        return err_table(lua, "Unknown Redis command called from script");
    };
    if spec.has(flags::WRITE) {
        // As Redis: once a write command ran, the script can no longer be killed.
        ctx.server.scripting.run.mark_wrote();
    }
    if matches!(spec.name, "xread" | "xreadgroup")
        && argv
            .iter()
            .take_while(|a| !super::is_kw(a, "streams"))
            .any(|a| super::is_kw(a, "block"))
    {
        let msg = format!(
            "{} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&argv[0])
        );
        return err_table(lua, &msg);
    }
    let resp3 = lua.named_registry_value::<i64>("concord_resp").unwrap_or(2) == 3;
    let mut out = ReplyBuf::new(if resp3 { Resp::V3 } else { Resp::V2 });
    let result = super::run_in_unit(ctx, spec, handler, &argv, Some(&mut out));
    let stat = &ctx.server.stats.commands[spec.id];
    if let Err(e) = result {
        ctx.server.stats.count_error(&e.code());
        stat.failed.fetch_add(1, Ordering::Relaxed);
        return err_table(lua, &e.message());
    }
    let (v, is_err) = reply_to_lua(lua, &out.buf, resp3)?;
    Ok((!is_err, v))
}

/// Lua numbers become arguments as Redis formats them (`%.17g`).
fn format_g17(n: f64) -> String {
    crate::scripting::cjson::format_g(n, 17)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_format_without_fraction() {
        assert_eq!(format_g17(10.0), "10");
        assert_eq!(format_g17(-3.0), "-3");
    }
}
