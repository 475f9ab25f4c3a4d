//! Function commands (Redis 7 `FUNCTION ...`, `FCALL`, `FCALL_RO`): libraries of Lua functions loaded
//! with FUNCTION LOAD, kept as server state and called by name.
//!
//! Apply path: FUNCTION LOAD, DELETE, FLUSH and RESTORE change server state, so each takes a revision
//! and is logged with its argv as received (dispatch does that for a write that logged nothing itself);
//! replaying them in order rebuilds the same libraries. A failed one changes nothing and is not logged.
//! FCALL is logged as EVAL is: as the writes its function made. The Lua side (headers, registration,
//! collisions, the DUMP payload) lives in `scripting::functions`.

use std::sync::atomic::Ordering;

use super::scripting::{parse_numkeys, run_script};
use super::{CmdResult, CommandError, Ctx, is_kw};
use crate::scripting::busy;
use crate::scripting::functions::{FLAG_NAMES, NO_WRITES, dump, undump};
use crate::scripting::runner::Call;

fn err(msg: impl Into<String>) -> CommandError {
    CommandError::Custom(format!("ERR {}", msg.into()))
}

fn subcommand_syntax(sub: &str) -> CommandError {
    CommandError::UnknownSubcommandOrArity {
        sub: sub.to_string(),
        container: "FUNCTION".into(),
    }
}

/// Publishes the library and function counts FUNCTION STATS reads without the engine lock.
fn update_counts(ctx: &Ctx, counts: (usize, usize)) {
    let s = &ctx.state.scripting;
    s.libraries_count.store(counts.0 as u64, Ordering::Relaxed);
    s.functions_count.store(counts.1 as u64, Ordering::Relaxed);
}

/// FUNCTION LOAD [REPLACE] function-code
pub fn function_load(ctx: &mut Ctx) -> CmdResult {
    let mut replace = false;
    let last = ctx.argv.len() - 1;
    for a in &ctx.argv[2..last] {
        if is_kw(a, "REPLACE") {
            replace = true;
            continue;
        }
        return Err(err(format!(
            "Unknown option given: {}",
            String::from_utf8_lossy(a)
        )));
    }
    if last < 2 {
        return Err(err("Function code is missing"));
    }
    let code = ctx.arg(last);
    let mut engine = ctx.state.scripting.engine.lock();
    let engine = &mut *engine;
    // Redis checks the header and the name before compiling anything.
    let (engine_name, name, _) =
        crate::scripting::functions::parse_library_header(code).map_err(err)?;
    if crate::scripting::functions::valid_name(&name)
        && engine_name.eq_ignore_ascii_case("lua")
        && !replace
        && engine.libs.libraries.contains_key(&name)
    {
        return Err(err(format!("Library '{name}' already exists")));
    }
    let lib = engine
        .libs
        .compile(&engine.lua, &engine.runner, code)
        .map_err(err)?;
    let name = lib.name.clone();
    engine.libs.join(vec![lib], replace).map_err(err)?;
    update_counts(ctx, engine.libs.counts());
    ctx.revision();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION DELETE library-name
pub fn function_delete(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    let mut engine = ctx.state.scripting.engine.lock();
    if !engine.libs.delete(&name) {
        return Err(err("Library not found"));
    }
    // Frees the registry slots that pinned its functions, so Lua can collect them.
    engine.lua.expire_registry_values();
    update_counts(ctx, engine.libs.counts());
    // Under the engine lock, as every library change, so the stream orders them as applied.
    ctx.revision();
    drop(engine);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC|SYNC]
pub fn function_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.argv.len() {
        2 => {}
        3 if is_kw(ctx.arg(2), "ASYNC") || is_kw(ctx.arg(2), "SYNC") => {}
        3 => return Err(err("FUNCTION FLUSH only supports SYNC|ASYNC option")),
        _ => return Err(subcommand_syntax("flush")),
    }
    let mut engine = ctx.state.scripting.engine.lock();
    engine.libs.flush();
    engine.lua.expire_registry_values();
    update_counts(ctx, (0, 0));
    ctx.revision();
    drop(engine);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
pub fn function_list(ctx: &mut Ctx) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < ctx.argv.len() {
        let a = ctx.arg(i);
        if !with_code && is_kw(a, "WITHCODE") {
            with_code = true;
        } else if pattern.is_none() && is_kw(a, "LIBRARYNAME") {
            if i + 1 >= ctx.argv.len() {
                return Err(err("library name argument was not given"));
            }
            i += 1;
            pattern = Some(ctx.arg(i));
        } else {
            return Err(err(format!(
                "Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let engine = ctx.state.scripting.engine.lock();
    let libs: Vec<_> = engine
        .libs
        .libraries
        .values()
        .filter(|l| {
            pattern.is_none_or(|p| crate::util::glob::glob_match(p, l.name.as_bytes(), true))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in lib.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .filter(|(bit, _)| f.flags & bit != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

/// FUNCTION DUMP
pub fn function_dump(ctx: &mut Ctx) -> CmdResult {
    let engine = ctx.state.scripting.engine.lock();
    let payload = dump(engine.libs.libraries.values());
    drop(engine);
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
pub fn function_restore(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() > 4 {
        return Err(subcommand_syntax("restore"));
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy = match ctx.argv.get(3) {
        None => Policy::Append,
        Some(p) if is_kw(p, "APPEND") => Policy::Append,
        Some(p) if is_kw(p, "REPLACE") => Policy::Replace,
        Some(p) if is_kw(p, "FLUSH") => Policy::Flush,
        Some(_) => {
            return Err(err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    let Some(codes) = undump(ctx.arg(2)) else {
        return Err(err("DUMP payload version or checksum are wrong"));
    };
    let mut engine = ctx.state.scripting.engine.lock();
    let engine = &mut *engine;
    let mut libs = Vec::with_capacity(codes.len());
    for code in &codes {
        libs.push(
            engine
                .libs
                .compile(&engine.lua, &engine.runner, code)
                .map_err(err)?,
        );
    }
    // The payload must be consistent in itself before it meets the loaded set.
    let mut names = std::collections::HashSet::new();
    let mut fnames = std::collections::HashSet::new();
    for lib in &libs {
        if !names.insert(lib.name.clone()) {
            return Err(err(format!("Library {} already exists", lib.name)));
        }
        for f in lib.functions.keys() {
            if !fnames.insert(f.clone()) {
                return Err(err(format!("Function {f} already exists")));
            }
        }
    }
    if policy == Policy::Flush {
        engine.libs.flush();
    }
    engine
        .libs
        .join(libs, policy == Policy::Replace)
        .map_err(err)?;
    update_counts(ctx, engine.libs.counts());
    ctx.revision();
    ctx.out.ok();
    Ok(())
}

/// FUNCTION STATS: runs beside a busy script (ALLOW_BUSY), so it reads only lock-free state.
pub fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let s = &ctx.state.scripting;
    if s.run.kind() == Some(busy::Kind::Eval) {
        return Err(CommandError::Custom(busy::BUSY_EVAL.into()));
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match s.run.running() {
        Some((name, argv)) if s.run.kind().is_some() => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(argv.len());
            for a in &argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(s.run.running_ms() as i64);
        }
        _ => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(s.libraries_count.load(Ordering::Relaxed) as i64);
    out.bulk(b"functions_count");
    out.int(s.functions_count.load(Ordering::Relaxed) as i64);
    Ok(())
}

/// FUNCTION KILL: stops the running function unless it wrote (runs beside a busy script, unlocked).
pub fn function_kill(ctx: &mut Ctx) -> CmdResult {
    ctx.state
        .scripting
        .run
        .request_kill(false)
        .map_err(|e| CommandError::Custom(e.into()))?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION HELP
pub fn function_help(ctx: &mut Ctx) -> CmdResult {
    super::keys::help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}

/// FCALL function numkeys [key ...] [arg ...]
pub fn fcall(ctx: &mut Ctx) -> CmdResult {
    call(ctx, false)
}

/// FCALL_RO function numkeys [key ...] [arg ...]
pub fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    call(ctx, true)
}

fn call(ctx: &mut Ctx, ro: bool) -> CmdResult {
    let state = ctx.state;
    let engine = state.scripting.engine.lock();
    let name = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let Some(f) = engine.libs.function(&name) else {
        return Err(err("Function not found"));
    };
    let (func, flags) = (f.func.clone(), f.flags);
    let nk = parse_numkeys(ctx, "ERR Bad number of keys provided")?;
    let no_writes = flags & NO_WRITES != 0;
    if ro && !no_writes {
        return Err(CommandError::WriteScriptInReadOnly);
    }
    run_script(
        ctx,
        &engine,
        Call::Function(&func),
        busy::Kind::Function,
        &name,
        nk,
        ro || no_writes,
    )
}
