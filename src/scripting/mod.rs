//! Lua scripting engine: the one sandboxed Lua 5.1 state of a server, the script cache by SHA1, and the
//! conversions between Lua values and RESP replies as Redis 7 defines them.
//!
//! The state runs one script at a time (a `parking_lot::Mutex`; EVAL also holds the exclusive exec lock).
//! Sandbox: only base, table, string and math are loaded (no os, io, package, loadfile, dofile, load of
//! bytecode), plus `redis`, `cjson`, `cmsgpack`, `struct` and `bit`. Scripts run with a proxy environment, so reading an
//! undeclared global and writing any global fail with Redis's errors, and nothing a script does to its
//! globals survives into the next script. Dispatch of `redis.call` lives in `commands::scripting`; this
//! module only knows Lua.

pub mod busy;
pub mod cache;
pub mod cjson;
pub mod functions;
mod msgpack;
pub mod runner;
mod structlib;

use mlua::{Function, LightUserData, Lua, LuaOptions, StdLib, Table, Value};
use parking_lot::Mutex;

/// Lua's `setpause`: a collection cycle starts when the heap reaches this percentage of the live heap
/// after the last one.
const GC_PAUSE: i32 = 200;

/// Upper bound of the Lua heap: a runaway allocation errors instead of taking the server down.
pub const MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// The server's scripting state.
pub struct Scripting {
    pub engine: Mutex<Engine>,
    /// The script running now (busy state, SCRIPT KILL). Read without the engine lock.
    pub run: busy::RunState,
    /// Loaded function libraries and functions (FUNCTION STATS reads these without the engine lock).
    pub libraries_count: std::sync::atomic::AtomicU64,
    pub functions_count: std::sync::atomic::AtomicU64,
    /// Scripts in the EVAL cache (INFO memory's number_of_cached_scripts), readable without the lock.
    pub cached_scripts: std::sync::atomic::AtomicU64,
    /// Bytes of their bodies (used_memory_scripts) and of the Lua heap after the last run or cache
    /// change (used_memory_lua), readable without the lock.
    pub scripts_bytes: std::sync::atomic::AtomicU64,
    pub lua_bytes: std::sync::atomic::AtomicU64,
}

impl Default for Scripting {
    fn default() -> Self {
        Self::new()
    }
}

impl Scripting {
    /// A fresh sandboxed state with an empty script cache.
    pub fn new() -> Self {
        let engine = Engine::new();
        let lua_bytes = engine.lua.used_memory() as u64;
        Scripting {
            engine: Mutex::new(engine),
            run: busy::RunState::default(),
            libraries_count: Default::default(),
            functions_count: Default::default(),
            cached_scripts: Default::default(),
            scripts_bytes: Default::default(),
            lua_bytes: lua_bytes.into(),
        }
    }
}

/// The Lua state, its helpers and the script cache.
pub struct Engine {
    pub lua: Lua,
    /// The EVAL script cache.
    pub scripts: cache::ScriptCache,
    /// `run(f, env)`: runs `f` in `env` under an error handler, returns (ok, value-or-error-table).
    pub runner: Function,
    /// What scripting/runner.rs runs EVAL scripts and FCALL functions with.
    pub entry: runner::Entry,
    /// The environment every EVAL script gets when it is compiled.
    eval_env: Table,
    /// Where `redis.call`/`redis.pcall` find the dispatcher of the running script.
    pub hooks: Table,
    /// Function libraries (FUNCTION LOAD) and their functions.
    pub libs: functions::Libraries,
}

/// Lua-side plumbing (Concord's own): environments, the error handler and the call wrappers.
const PRELUDE: &str = r#"
local hooks, G = ...
local err_where = hooks.err_where
local gsub = string.gsub
local rawget, rawset, setmetatable, getmetatable, tostring, type, error, xpcall, setfenv, pairs =
      rawget, rawset, setmetatable, getmetatable, tostring, type, error, xpcall, setfenv, pairs
-- Keys the C side reads results by: kept alive, so looking them up never allocates.
hooks.pinned = {'err', 'ok', 'double', 'map', 'set', 'source', 'line', 'KEYS', 'ARGV'}
-- redis.call raises its error table as is; any other error becomes one.
local function handler(e)
  if type(e) ~= 'table' then
    -- Errors raised by Concord's Rust helpers arrive wrapped: keep only the message, as Redis
    -- shows it.
    local msg = gsub(gsub(tostring(e), '^runtime error: ', ''), '\nstack traceback:.*$', '')
    e = {err = 'ERR ' .. msg}
  end
  local line, source = err_where()
  if line then e.source = source; e.line = line end
  return e
end
-- Every read-only view a script can reach, so the metatable and raw-access functions refuse them.
local protected = setmetatable({}, {__mode = 'k'})
-- The metamethods every read-only view shares.
local function refuse_write() error('Attempt to modify a readonly table', 2) end
local function undeclared(n)
  error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 0)
end
local function readonly(t)
  local view = setmetatable({}, {
    __index = t,
    __newindex = refuse_write,
    __metatable = false,
  })
  protected[view] = true
  return view
end
local locked_mt = readonly({})
local guarded = {
  setmetatable = function(t, mt)
    if protected[t] then error('Attempt to modify a readonly table', 2) end
    return setmetatable(t, mt)
  end,
  getmetatable = function(t)
    if protected[t] then return locked_mt end
    return getmetatable(t)
  end,
  rawset = function(t, k, v)
    if protected[t] then error('Attempt to modify a readonly table', 2) end
    return rawset(t, k, v)
  end,
}
local frozen = {}
for _, name in ipairs({'cjson', 'cmsgpack', 'struct', 'bit', 'string', 'table', 'math'}) do
  if G[name] then frozen[name] = readonly(G[name]) end
end
for name, f in pairs(guarded) do frozen[name] = f end
frozen.redis = setmetatable({}, {
  __index = G.redis,
  __newindex = refuse_write,
  __metatable = false,
})
protected[frozen.redis] = true
-- getmetatable('') answers a read-only view, so the real string metatable and library stay out of
-- reach (method calls on strings still use the real one).
local string_mt = getmetatable('')
if string_mt then
  string_mt.__metatable = readonly({__index = frozen.string})
end
-- The one environment every EVAL script runs in (set on each script once, when it is compiled). It
-- holds no state of its own (writes are refused). Reads hit `scope`, a flat copy of what scripts may
-- see (the frozen libraries over the globals), so a global lookup is a table hit, not a Lua call; a
-- miss raises. KEYS and ARGV are the current run's: scripting/runner.rs sets them in `scope` before
-- each run (and leaves them until the next one overwrites them).
local scope = {}
for k, v in pairs(G) do
  if k ~= 'setfenv' and k ~= 'getfenv' then scope[k] = v end
end
for k, v in pairs(frozen) do scope[k] = v end
setmetatable(scope, {__index = function(_, n) undeclared(n) end})
local eval_env = setmetatable({}, {
  __index = scope,
  __newindex = refuse_write,
  __metatable = false,
})
scope._G = eval_env
protected[eval_env] = true
local function run(f, env)
  setfenv(f, env)
  return xpcall(f, handler)
end
-- A function library's globals: while its code loads, only the loading API (`redis.register_function`,
-- `redis.log`, versions); once loaded, what a script sees, without KEYS/ARGV.
local function make_lib_env(load_api)
  local mt = {
    __index = function(_, n)
      if n == 'redis' then return load_api end
      undeclared(n)
    end,
    __newindex = refuse_write,
    __metatable = false,
  }
  local view = setmetatable({}, mt)
  protected[view] = true
  -- Once loaded, the library's functions read globals from a flat copy of what scripts see (a
  -- table hit per lookup, as for EVAL), with its own _G.
  local function loaded()
    local lib_scope = {}
    for k, v in pairs(scope) do
      if k ~= 'KEYS' and k ~= 'ARGV' then lib_scope[k] = v end
    end
    lib_scope._G = view
    mt.__index = setmetatable(lib_scope, getmetatable(scope))
  end
  return view, loaded
end
-- The loading API table: unknown fields raise as undeclared globals do.
local function make_load_api(fields)
  local view = setmetatable({}, {
    __index = function(_, n)
      local v = fields[n]
      if v == nil then
        undeclared(n)
      end
      return v
    end,
    __newindex = refuse_write,
    __metatable = false,
  })
  protected[view] = true
  return view
end
return run, handler, scope, eval_env, make_lib_env, make_load_api
"#;

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// Builds the sandboxed state. Failing here is a build defect (fixed Lua text), so it panics with
    /// a message rather than serving without scripting.
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(e) => e,
            Err(e) => panic!("Lua scripting state failed to initialise: {e}"),
        }
    }

    fn try_new() -> mlua::Result<Self> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        // Lua's default pause, as Redis runs it. 4x marked the live heap a third as often, but once
        // runs stopped leaving mlua's closures behind, the bigger heap cost more in cold allocations
        // than the marking saved (bench/bullmq.mjs, 2x vs 4x: ~10% less server CPU per job).
        lua.gc_set_mode(mlua::state::GcMode::Incremental(
            mlua::state::GcIncParams::default().pause(GC_PAUSE),
        ));
        let g = lua.globals();
        for name in [
            "dofile",
            "loadfile",
            "load",
            "loadstring",
            "print",
            "require",
            "module",
            "collectgarbage",
            "gcinfo",
            "newproxy",
            "getfenv",
            "setfenv",
        ] {
            if name == "setfenv" || name == "getfenv" {
                continue;
            }
            g.raw_set(name, Value::Nil)?;
        }
        // loadstring is kept by Redis but refuses bytecode; give a text-only version.
        let loadstring =
            lua.create_function(|lua, (code, name): (mlua::LuaString, Option<String>)| {
                let bytes = code.as_bytes().to_vec();
                if bytes.first() == Some(&0x1b) {
                    return Ok((
                        Value::Nil,
                        Some("bytecode loading is not allowed".to_string()),
                    ));
                }
                match lua
                    .load(&bytes[..])
                    .set_name(name.unwrap_or_else(|| "=(loadstring)".into()))
                    .set_mode(mlua::chunk::ChunkMode::Text)
                    .into_function()
                {
                    Ok(f) => Ok((Value::Function(f), None)),
                    Err(e) => Ok((Value::Nil, Some(lua_error_text(&e)))),
                }
            })?;
        g.raw_set("loadstring", loadstring)?;

        let redis = lua.create_table()?;
        install_redis_lib(&lua, &redis)?;
        runner::install(&lua, &redis)?;
        g.raw_set("redis", redis)?;
        g.raw_set("cjson", cjson::library(&lua)?)?;
        g.raw_set("bit", bit_lib(&lua)?)?;
        g.raw_set("cmsgpack", msgpack::library(&lua)?)?;
        g.raw_set("struct", structlib::library(&lua)?)?;

        let hooks = lua.create_table()?;
        hooks.raw_set(
            "err_where",
            lua.create_function(|lua, ()| Ok(script_line(lua)))?,
        )?;
        let (runner, handler, scope, eval_env, make_lib_env, make_load_api): (
            Function,
            Function,
            Table,
            Table,
            Function,
            Function,
        ) = lua
            .load(PRELUDE)
            .set_name("=concord")
            .call((hooks.clone(), g.clone()))?;
        let registering = functions::Registering::default();
        let load_api = functions::load_api(&lua, &make_load_api, &registering)?;

        // setfenv stays reachable only through the prelude's upvalues.
        g.raw_set("setfenv", Value::Nil)?;
        g.raw_set("getfenv", Value::Nil)?;
        let entry = runner::Entry::new(&lua, &handler, &scope)?;
        Ok(Engine {
            lua,
            scripts: Default::default(),
            runner,
            entry,
            eval_env,
            hooks,
            libs: functions::Libraries {
                make_lib_env,
                load_api,
                registering,
                libraries: Default::default(),
                functions: Default::default(),
            },
        })
    }

    /// Compiles `body` under Redis's chunk name into a script ready to run in the EVAL environment,
    /// or returns Redis's compile error text.
    pub fn compile(&self, body: &[u8]) -> Result<runner::Pinned, String> {
        if body.first() == Some(&0x1b) {
            return Err(
                "ERR Error compiling script (new function): user_script: bytecode loading is not allowed"
                    .into(),
            );
        }
        let failed = |e: mlua::Error| {
            format!(
                "ERR Error compiling script (new function): {}",
                lua_error_text(&e)
            )
        };
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(failed)?;
        f.set_environment(self.eval_env.clone()).map_err(failed)?;
        runner::Pinned::new(&self.lua, &f).map_err(failed)
    }
}

/// The current line and chunk name of the innermost script or function frame on the stack.
fn script_line(lua: &Lua) -> (Option<usize>, Option<String>) {
    for level in 1..200 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            match src.source.as_deref() {
                Some(s @ ("@user_script" | "@user_function")) => {
                    Some((d.current_line(), s.to_string()))
                }
                _ => None,
            }
        });
        match found {
            None => return (None, None),
            Some(Some((line, source))) => return (line, Some(source)),
            Some(None) => {}
        }
    }
    (None, None)
}

/// The bare message of a Lua error (no "syntax error:" / "runtime error:" prefix, no traceback).
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// `redis.*` helpers that need no dispatcher (call/pcall are added by the prelude).
fn install_redis_lib(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, msg: mlua::LuaString| {
            let t = lua.create_table()?;
            // As Redis: "-CODE msg" keeps its code, a single word or empty text gets "ERR".
            let s = msg.to_string_lossy();
            let body = s.strip_prefix('-').unwrap_or(&s);
            let (code, text) = body.split_once(' ').unwrap_or(("ERR", body));
            t.raw_set("err", format!("{code} {}", text.trim_matches(['\r', '\n'])))?;
            Ok(t)
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, msg: mlua::LuaString| {
            let t = lua.create_table()?;
            t.raw_set("ok", msg)?;
            Ok(t)
        })?,
    )?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: mlua::Variadic<Value>| match args.first() {
            Some(Value::String(s)) if args.len() == 1 => Ok(sha1_hex(&s.as_bytes())),
            Some(Value::Integer(i)) if args.len() == 1 => Ok(sha1_hex(i.to_string().as_bytes())),
            Some(Value::Number(n)) if args.len() == 1 => Ok(sha1_hex(n.to_string().as_bytes())),
            _ => Err(mlua::Error::RuntimeError(
                "wrong number of arguments".into(),
            )),
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, (level, msg): (i64, mlua::Variadic<Value>)| {
            let text: Vec<String> = msg
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.to_string_lossy(),
                    other => format!("{other:?}"),
                })
                .collect();
            tracing::info!(level, "script: {}", text.join(" "));
            Ok(())
        })?,
    )?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, v)?;
    }
    // Effects replication is the only mode since Redis 7: replicate_commands answers true, set_repl
    // is accepted and changes nothing (each write is logged with the script's revision anyway).
    redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.raw_set("set_repl", lua.create_function(|_, _: i64| Ok(()))?)?;
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, v)?;
    }
    let breakpoint = lua.create_function(|_, ()| Ok(false))?;
    redis.raw_set("breakpoint", breakpoint)?;
    redis.raw_set("debug", lua.create_function(|_, ()| Ok(()))?)?;
    redis.raw_set("REDIS_VERSION", "7.0.15")?;
    redis.raw_set("REDIS_VERSION_NUM", 0x07000f)?;
    Ok(())
}

/// Lower-case hex SHA1 of `data` (script ids, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// `cjson.null`: a NULL light userdata, as lua-cjson uses.
fn json_null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// The `bit` library (LuaBitOp semantics: 32-bit signed results).
fn bit_lib(lua: &Lua) -> mlua::Result<Table> {
    fn tobit(n: f64) -> i32 {
        // LuaBitOp normalises through 2^52+2^51 rounding; wrapping the integer part is equivalent
        // for the integral inputs scripts use.
        (n as i64) as i32
    }
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, n: f64| Ok(tobit(n)))?)?;
    t.raw_set("bnot", lua.create_function(|_, n: f64| Ok(!tobit(n)))?)?;
    t.raw_set(
        "band",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(-1i32, |a, &b| a & tobit(b)))
        })?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0i32, |a, &b| a | tobit(b)))
        })?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0i32, |a, &b| a ^ tobit(b)))
        })?,
    )?;
    t.raw_set(
        "lshift",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok(tobit(a).wrapping_shl((tobit(n) & 31) as u32))
        })?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok(((tobit(a) as u32) >> ((tobit(n) & 31) as u32)) as i32)
        })?,
    )?;
    t.raw_set(
        "arshift",
        lua.create_function(|_, (a, n): (f64, f64)| Ok(tobit(a) >> ((tobit(n) & 31) as u32)))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (a, n): (f64, Option<f64>)| {
            let n = n.map(tobit).unwrap_or(8);
            let upper = n < 0;
            let width = n.unsigned_abs().clamp(1, 8) as usize;
            let v = tobit(a) as u32;
            let s = if upper {
                format!("{v:08X}")
            } else {
                format!("{v:08x}")
            };
            Ok(s[8 - width..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_empty_script_matches_redis() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
}
