//! Running a script through Lua's C API: the hot path of EVAL, EVALSHA and FCALL.
//!
//! Why raw: mlua guards every API call with a protected call that allocates two C closures, and a
//! script run through it cost ~15 such calls (KEYS/ARGV, two scoped `redis.call` closures, the hook,
//! registry values), which with the garbage they leave was ~60% of the server's CPU under EVALSHA -P16
//! (perf profile, bench/compare.sh --scripts). Here a run is one `lua_pcall` on the main thread, of a
//! C function pinned in the registry, with the prelude's error handler (no mlua call, no Lua-level
//! wrapper: those were a quarter of the instructions of a lock release, callgrind): KEYS and ARGV are
//! built with the C API, scripts are pinned in the registry with their environment set at compile
//! time, `redis.call`, `redis.pcall` and `redis.setresp` are plain C functions registered once, the
//! count hook is installed once, and the result is encoded straight from the Lua stack into RESP.
//!
//! The running script's state (its dispatcher, RESP level, buffers, watchdog) is a `Frame` that the C
//! functions find through a thread-local pointer, set for exactly the duration of `run` (a script runs
//! on one thread from start to end; `busy` moves the runtime's core away, never the script).
//!
//! Lua errors are `longjmp`s. Every function here that may raise one (directly, or through an
//! allocation that hits the memory cap) keeps no value with a destructor in its own stack frame across
//! that call: owned buffers live in the `Frame`, reached through the pointer, so a raise skips only
//! plain frames and leaks nothing.

use bytes::Bytes;
use mlua::{Function, Lua, ffi};
use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::time::Instant;

use super::busy::{HOOK_EVERY, HookVerdict, Watchdog};
use crate::protocol::{ReplyBuf, Resp};

/// Deepest table nesting converted either way; deeper (or cyclic) tables give an error.
const MAX_DEPTH: usize = 128;

/// What `redis.call` runs a command with: the command line and a buffer for its reply (in the
/// script's RESP level). An error is returned as Redis's text (`CODE message`, or a bare message that
/// gets `ERR`).
pub type Dispatch<'a> = dyn FnMut(&[Bytes], &mut ReplyBuf) -> Result<(), String> + 'a;

/// The state of the script running on this thread.
pub struct Frame<'a> {
    dispatch: &'a mut Dispatch<'a>,
    /// Absent only in unit tests (no server).
    watchdog: Option<Watchdog>,
    /// `redis.setresp` level (2 or 3).
    resp: u8,
    /// The hook stopped the script; from then on it raises on every line.
    stopped: Option<&'static str>,
    /// Scratch space reused by every `redis.call` of the run.
    argv: Vec<Bytes>,
    reply: ReplyBuf,
    text: String,
}

impl<'a> Frame<'a> {
    pub fn new(dispatch: &'a mut Dispatch<'a>, watchdog: Option<Watchdog>) -> Self {
        Frame {
            dispatch,
            watchdog,
            resp: 2,
            stopped: None,
            argv: Vec::new(),
            reply: ReplyBuf {
                buf: Vec::new(),
                resp: Resp::V2,
            },
            text: String::new(),
        }
    }
}

/// How a run ended.
pub enum Outcome {
    /// The script returned; its reply, encoded for the caller.
    Reply(ReplyBuf),
    /// The script raised an error: its message, and the chunk and line it was raised at.
    Raised {
        message: String,
        place: Option<(String, i64)>,
    },
    /// It raised something that is not an error table (a string, or another value: `None`).
    RaisedValue(Option<String>),
}

thread_local! {
    static CURRENT: Cell<*mut c_void> = const { Cell::new(ptr::null_mut()) };
    /// While a library's code loads (FUNCTION LOAD), the time it must finish by.
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Bounds the Lua code run on this thread until dropped: past the deadline the hook raises
/// "FUNCTION LOAD timeout".
pub struct LoadDeadline(());

impl LoadDeadline {
    pub fn set(deadline: Instant) -> Self {
        LOAD_DEADLINE.with(|d| d.set(Some(deadline)));
        LoadDeadline(())
    }
}

impl Drop for LoadDeadline {
    fn drop(&mut self) {
        LOAD_DEADLINE.with(|d| d.set(None));
    }
}

/// Clears the thread's frame pointer however `run` ends.
struct Installed(*mut c_void);

impl Drop for Installed {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The frame of the script running on this thread, if any.
///
/// # Safety
/// The pointer is valid while `run` is on the stack (it is cleared before `run` returns), and only
/// the C functions called from inside that run dereference it, one at a time.
unsafe fn frame<'x>() -> Option<&'x mut Frame<'x>> {
    let p = CURRENT.with(|c| c.get()) as *mut Frame<'x>;
    // SAFETY: see above; null when no script runs on this thread.
    unsafe { p.as_mut() }
}

/// Registers `redis.call`, `redis.pcall` and `redis.setresp` in `redis` and installs the count hook.
/// Called once when the state is built.
pub fn install(lua: &Lua, redis: &mlua::Table) -> mlua::Result<()> {
    // SAFETY: the functions follow the C API's contract (they only touch their own stack slots and
    // raise with lua_error after their owned values are gone).
    unsafe {
        redis.raw_set("call", lua.create_c_function(redis_call)?)?;
        redis.raw_set("pcall", lua.create_c_function(redis_pcall)?)?;
        redis.raw_set("setresp", lua.create_c_function(redis_setresp)?)?;
        // SAFETY: sets the main thread's hook; coroutines created later inherit it.
        lua.exec_raw::<()>((), |l| {
            ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, HOOK_EVERY as c_int);
        })?;
    }
    Ok(())
}

/// A compiled Lua function pinned in the registry, so a run pushes it with one raw read.
pub struct Pinned(mlua::RegistryKey);

impl Pinned {
    pub fn new(lua: &Lua, f: &Function) -> mlua::Result<Self> {
        lua.create_registry_value(f.clone()).map(Pinned)
    }
}

/// The main thread of the scripting state.
struct MainThread(*mut ffi::lua_State);

// SAFETY: the pointer is only dereferenced by `run`, which callers reach through the `Engine` that owns
// the `Lua` this thread belongs to; the engine sits behind the server's scripting mutex, so one
// thread at a time uses the state, as with the `Lua` itself.
unsafe impl Send for MainThread {}

/// What every run needs from the state, pinned in the registry when the state is built: the
/// prelude's error handler, EVAL's `scope` table (where KEYS and ARGV go) and `trampoline`.
pub struct Entry {
    main: MainThread,
    handler: mlua::RegistryKey,
    scope: mlua::RegistryKey,
    trampoline: mlua::RegistryKey,
}

impl Entry {
    pub fn new(lua: &Lua, handler: &Function, scope: &mlua::Table) -> mlua::Result<Self> {
        let mut main = ptr::null_mut();
        // SAFETY: only reads the state pointer; runs nothing.
        unsafe { lua.exec_raw::<()>((), |l| main = l)? };
        // SAFETY: `trampoline` follows the C API's contract (see its comment).
        let trampoline = unsafe { lua.create_c_function(trampoline)? };
        Ok(Entry {
            main: MainThread(main),
            handler: lua.create_registry_value(handler.clone())?,
            scope: lua.create_registry_value(scope.clone())?,
            trampoline: lua.create_registry_value(trampoline)?,
        })
    }
}

/// What runs: an EVAL script (KEYS and ARGV as globals) or a library function (keys and args as its
/// two parameters).
#[derive(Clone, Copy)]
pub enum Call<'p> {
    Eval(&'p Pinned),
    Function(&'p Pinned),
}

/// What `trampoline` runs, handed over as a light userdata.
struct Params<'a> {
    /// Registry slot of the function.
    func: c_int,
    /// EVAL's `scope` slot, or None for a library function.
    scope: Option<c_int>,
    keys: &'a [Bytes],
    args: &'a [Bytes],
    reply: *mut ReplyBuf,
    fp: *mut c_void,
}

/// Runs `call` with `keys` and `args` and `frame` as the running script, and converts what it
/// returned (its first value). `resp3_caller` is the protocol the reply is written in.
///
/// The run is one protected call of `trampoline` with the prelude's handler as message handler, made
/// straight on the main thread: no mlua call, no closure allocated, no Lua-level wrapper.
pub fn run(
    entry: &Entry,
    call: Call<'_>,
    keys: &[Bytes],
    args: &[Bytes],
    frame: &mut Frame<'_>,
    resp3_caller: bool,
) -> Outcome {
    let mut reply = ReplyBuf {
        buf: Vec::with_capacity(64),
        resp: if resp3_caller { Resp::V3 } else { Resp::V2 },
    };
    let fp = frame as *mut Frame<'_> as *mut c_void;
    let previous = CURRENT.with(|c| c.replace(fp));
    let _installed = Installed(previous);
    let (func, scope) = match call {
        Call::Eval(p) => (p.0.id(), Some(entry.scope.id())),
        Call::Function(p) => (p.0.id(), None),
    };
    let params = Params {
        func,
        scope,
        keys,
        args,
        reply: &mut reply,
        fp,
    };
    let l = entry.main.0;
    // SAFETY: the main thread's stack is at its base between runs (mlua restores it after each of its
    // own calls), so the three pushes fit in the slots Lua guarantees without growing it; registry
    // reads and light userdata do not allocate, so nothing here raises outside the protected call.
    // `params` outlives the call and only `trampoline` reads it.
    unsafe {
        let base = ffi::lua_gettop(l);
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, entry.handler.id());
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, entry.trampoline.id());
        ffi::lua_pushlightuserdata(l, &params as *const Params<'_> as *mut c_void);
        let status = ffi::lua_pcall(l, 1, 0, base + 1);
        let raised = (status != ffi::LUA_OK).then(|| read_error(l, ffi::lua_gettop(l)));
        if (*(fp as *mut Frame<'_>)).stopped.take().is_some() {
            // The hook raises on every line once it stopped a script; back to counting.
            ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, HOOK_EVERY as c_int);
        }
        ffi::lua_settop(l, base);
        raised.unwrap_or(Outcome::Reply(reply))
    }
}

/// The body of a run, inside its protected call: sets KEYS and ARGV (EVAL) or passes them (functions),
/// calls the script and encodes its first result into the reply.
unsafe extern "C-unwind" fn trampoline(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called only by `run`, with its `Params` as the one argument; every call below may raise,
    // and this frame holds only references and copies (nothing with a destructor).
    unsafe {
        let p = &*(ffi::lua_touserdata(l, 1) as *const Params<'_>);
        ffi::lua_settop(l, 0);
        match p.scope {
            Some(scope) => {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, scope);
                ffi::lua_pushlstring_(l, c"KEYS".as_ptr(), 4);
                push_array(l, p.keys);
                ffi::lua_rawset(l, 1);
                ffi::lua_pushlstring_(l, c"ARGV".as_ptr(), 4);
                push_array(l, p.args);
                ffi::lua_rawset(l, 1);
                ffi::lua_settop(l, 0);
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, p.func);
                ffi::lua_call(l, 0, 1);
            }
            None => {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, p.func);
                push_array(l, p.keys);
                push_array(l, p.args);
                ffi::lua_call(l, 2, 1);
            }
        }
        let out = &mut *p.reply;
        if encode(l, 1, 0, out, frame_resp(p.fp)).is_err() {
            out.buf.clear();
            out.error("ERR reached lua stack limit");
        }
        0
    }
}

/// The RESP level of the frame behind `fp`.
///
/// # Safety
/// `fp` points at the live frame of this thread's run.
unsafe fn frame_resp(fp: *mut c_void) -> u8 {
    // SAFETY: per the contract.
    unsafe { (*(fp as *mut Frame<'_>)).resp }
}

/// Pushes a sequence table of `items` as strings.
///
/// # Safety
/// `l` is a valid state with room for two more slots; may raise a memory error (holding nothing).
unsafe fn push_array(l: *mut ffi::lua_State, items: &[Bytes]) {
    // SAFETY: plain C API calls on our own slots.
    unsafe {
        ffi::lua_createtable(l, items.len().min(i32::MAX as usize) as c_int, 0);
        for (i, item) in items.iter().enumerate() {
            ffi::lua_pushlstring_(l, item.as_ptr() as *const _, item.len());
            ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
        }
    }
}

/// Pushes a literal key and raw-gets it from the table at absolute index `t`; returns its type.
///
/// # Safety
/// `t` is an absolute index of a table; the key names are interned by the prelude, so pushing them
/// does not allocate.
unsafe fn raw_field(l: *mut ffi::lua_State, t: c_int, key: &'static str) -> c_int {
    // SAFETY: C API calls on our own slots.
    unsafe {
        ffi::lua_pushlstring_(l, key.as_ptr() as *const _, key.len());
        ffi::lua_rawget_(l, t);
        ffi::lua_type(l, -1)
    }
}

/// The string at `idx` (which must be a string).
///
/// # Safety
/// The returned slice lives while the value stays on the stack.
unsafe fn string_at<'s>(l: *mut ffi::lua_State, idx: c_int) -> &'s [u8] {
    let mut len = 0usize;
    // SAFETY: lua_tolstring on a string value does not convert or allocate.
    unsafe {
        let p = ffi::lua_tolstring(l, idx, &mut len);
        if p.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(p as *const u8, len)
    }
}

/// The error a run raised, read from the value at `idx`.
///
/// # Safety
/// `idx` is absolute; reads only.
unsafe fn read_error(l: *mut ffi::lua_State, idx: c_int) -> Outcome {
    // SAFETY: reads of our own slots; raw_field's keys are interned.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TTABLE => {
                let message = if raw_field(l, idx, "err") == ffi::LUA_TSTRING {
                    String::from_utf8_lossy(string_at(l, -1)).into_owned()
                } else {
                    "ERR unknown error".to_string()
                };
                ffi::lua_settop(l, idx);
                let place = if raw_field(l, idx, "source") == ffi::LUA_TSTRING {
                    let source = String::from_utf8_lossy(string_at(l, -1)).into_owned();
                    if raw_field(l, idx, "line") == ffi::LUA_TNUMBER {
                        Some((source, ffi::lua_tonumber(l, -1) as i64))
                    } else {
                        None
                    }
                } else {
                    None
                };
                ffi::lua_settop(l, idx);
                Outcome::Raised { message, place }
            }
            ffi::LUA_TSTRING => Outcome::RaisedValue(Some(
                String::from_utf8_lossy(string_at(l, idx)).into_owned(),
            )),
            _ => Outcome::RaisedValue(None),
        }
    }
}

/// Too deep (or cyclic) to convert.
struct TooDeep;

/// Writes the Lua value at absolute index `idx` as a reply, with Redis's Lua -> RESP rules: strings
/// are bulk, numbers truncate to integers, tables with `err`/`ok`/`double`/`map`/`set` are those
/// types, other tables are arrays up to their first nil; booleans follow the script's RESP `level` (at
/// 2, true is `:1` and false a null; at 3 they stay booleans, `:1`/`:0` for a RESP2 caller).
///
/// # Safety
/// `idx` is absolute. Uses raw reads only (no metamethods run); may raise only a memory error from
/// growing the stack, holding nothing then.
unsafe fn encode(
    l: *mut ffi::lua_State,
    idx: c_int,
    depth: usize,
    out: &mut ReplyBuf,
    level: u8,
) -> Result<(), TooDeep> {
    if depth > MAX_DEPTH {
        return Err(TooDeep);
    }
    // SAFETY: C API reads of our own slots; every push is popped before returning.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TSTRING => out.bulk(string_at(l, idx)),
            ffi::LUA_TNUMBER => out.int(ffi::lua_tonumber(l, idx) as i64),
            ffi::LUA_TBOOLEAN => {
                let b = ffi::lua_toboolean(l, idx) != 0;
                match (level, b) {
                    (3, _) if out.is_resp3() => out.boolean(b),
                    (3, _) | (_, true) => out.int(b as i64),
                    _ => out.null(),
                }
            }
            ffi::LUA_TTABLE => {
                ffi::luaL_checkstack(l, 4, c"too many nested values".as_ptr());
                let top = ffi::lua_gettop(l);
                let r = encode_table(l, idx, depth, out, level);
                ffi::lua_settop(l, top);
                return r;
            }
            _ => out.null(),
        }
    }
    Ok(())
}

/// `encode` for a table at absolute index `t`.
///
/// # Safety
/// As `encode`; leaves pushed values for the caller to pop.
unsafe fn encode_table(
    l: *mut ffi::lua_State,
    t: c_int,
    depth: usize,
    out: &mut ReplyBuf,
    level: u8,
) -> Result<(), TooDeep> {
    // SAFETY: as `encode`.
    unsafe {
        if raw_field(l, t, "err") == ffi::LUA_TSTRING {
            let msg = String::from_utf8_lossy(string_at(l, -1));
            out.error(&msg);
            return Ok(());
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, t, "ok") == ffi::LUA_TSTRING {
            let msg = String::from_utf8_lossy(string_at(l, -1)).replace(['\r', '\n'], " ");
            out.simple(&msg);
            return Ok(());
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, t, "double") == ffi::LUA_TNUMBER {
            out.double(ffi::lua_tonumber(l, -1));
            return Ok(());
        }
        ffi::lua_pop(l, 1);
        for (field, set) in [("map", false), ("set", true)] {
            if raw_field(l, t, field) == ffi::LUA_TTABLE {
                return encode_pairs(l, ffi::lua_gettop(l), set, depth, out, level);
            }
            ffi::lua_pop(l, 1);
        }
        let mut n = 0;
        while n < i32::MAX as usize {
            ffi::lua_rawgeti_(l, t, (n + 1) as c_int);
            let nil = ffi::lua_type(l, -1) == ffi::LUA_TNIL;
            ffi::lua_pop(l, 1);
            if nil {
                break;
            }
            n += 1;
        }
        out.array(n);
        for i in 1..=n {
            ffi::lua_rawgeti_(l, t, i as c_int);
            encode(l, ffi::lua_gettop(l), depth + 1, out, level)?;
            ffi::lua_pop(l, 1);
        }
    }
    Ok(())
}

/// Writes the table at absolute index `m` as a RESP3 map (`set` false: each key then its value) or set
/// (`set` true: the keys whose value is true).
///
/// # Safety
/// As `encode`; leaves the stack as it found it.
unsafe fn encode_pairs(
    l: *mut ffi::lua_State,
    m: c_int,
    set: bool,
    depth: usize,
    out: &mut ReplyBuf,
    level: u8,
) -> Result<(), TooDeep> {
    // SAFETY: lua_next over a table we do not modify; every push is popped.
    unsafe {
        let n = count_pairs(l, m, set);
        if set {
            out.set(n);
        } else {
            out.map(n);
        }
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, m) != 0 {
            let v = ffi::lua_gettop(l);
            if !set || is_true(l, v) {
                encode(l, v - 1, depth + 1, out, level)?;
            }
            if !set {
                encode(l, v, depth + 1, out, level)?;
            }
            ffi::lua_pop(l, 1);
        }
    }
    Ok(())
}

/// True when the value at `idx` is the boolean true.
unsafe fn is_true(l: *mut ffi::lua_State, idx: c_int) -> bool {
    // SAFETY: reads only.
    unsafe { ffi::lua_type(l, idx) == ffi::LUA_TBOOLEAN && ffi::lua_toboolean(l, idx) != 0 }
}

/// Entries of the table at `t` (only those whose value is true when `only_true`).
unsafe fn count_pairs(l: *mut ffi::lua_State, t: c_int, only_true: bool) -> usize {
    let mut n = 0;
    // SAFETY: lua_next over a table we do not modify.
    unsafe {
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, t) != 0 {
            if !only_true || is_true(l, -1) {
                n += 1;
            }
            ffi::lua_pop(l, 1);
        }
    }
    n
}

/// `redis.call`: runs the command, raising its error.
unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe { call(l, true) }
}

/// `redis.pcall`: runs the command, returning its error as a table.
unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe { call(l, false) }
}

/// Shared body of `redis.call` and `redis.pcall`.
///
/// # Safety
/// Called from Lua. Holds only borrowed values across the C API calls that may raise.
unsafe fn call(l: *mut ffi::lua_State, raise: bool) -> c_int {
    // SAFETY: the frame pointer is valid for the run (see `frame`).
    let Some(frame) = (unsafe { frame() }) else {
        return unsafe { raise_str(l, "redis.call can only be used from a running script") };
    };
    let outcome = unsafe { dispatch(l, frame) };
    // SAFETY: pushes the result on our own slots; a raise skips only this plain frame.
    unsafe {
        ffi::lua_settop(l, 0);
        match outcome {
            Ok(()) => {
                let resp3 = frame.resp == 3;
                let mut pos = 0;
                let buf: &[u8] = &frame.reply.buf;
                ffi::luaL_checkstack(l, 4, c"too many nested values".as_ptr());
                let is_err = buf.first() == Some(&b'-');
                if push_reply(l, buf, &mut pos, resp3, 0).is_err() {
                    ffi::lua_settop(l, 0);
                    push_error_table(l, b"ERR reply too deep to convert");
                } else if is_err && raise {
                    ffi::lua_error(l);
                }
                1
            }
            Err(()) => {
                push_error_table(l, frame.text.as_bytes());
                if raise {
                    ffi::lua_error(l);
                }
                1
            }
        }
    }
}

/// Reads the call's arguments into the frame and runs the command. On `Err`, the frame's `text` holds
/// Redis's error message (with its code).
///
/// # Safety
/// Reads only (`lua_tolstring` is used on strings, never on numbers, so nothing is converted).
unsafe fn dispatch(l: *mut ffi::lua_State, frame: &mut Frame<'_>) -> Result<(), ()> {
    frame.argv.clear();
    frame.text.clear();
    // SAFETY: reads of the call's arguments.
    let n = unsafe { ffi::lua_gettop(l) };
    if n == 0 {
        frame
            .text
            .push_str("ERR Please specify at least one argument for this redis lib call");
        return Err(());
    }
    for i in 1..=n {
        // SAFETY: as above.
        match unsafe { ffi::lua_type(l, i) } {
            ffi::LUA_TSTRING => frame
                .argv
                .push(Bytes::copy_from_slice(unsafe { string_at(l, i) })),
            ffi::LUA_TNUMBER => frame.argv.push(Bytes::from(format_number(unsafe {
                ffi::lua_tonumber(l, i)
            }))),
            _ => {
                frame
                    .text
                    .push_str("ERR Lua redis lib command arguments must be strings or integers");
                return Err(());
            }
        }
    }
    frame.reply.buf.clear();
    frame.reply.resp = if frame.resp == 3 { Resp::V3 } else { Resp::V2 };
    let (argv, reply) = (&frame.argv, &mut frame.reply);
    let dispatch = &mut *frame.dispatch;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(argv, reply)));
    frame.argv.clear();
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(msg)) => {
            error_text(&msg, &mut frame.text);
            Err(())
        }
        Err(_) => {
            frame
                .text
                .push_str("ERR internal error running the command");
            Err(())
        }
    }
}

/// Redis's form of a `redis.call` error: a leading `-` is dropped, a message that does not start with
/// an upper-case code gets `ERR`.
fn error_text(msg: &str, into: &mut String) {
    let msg = msg.trim_end_matches(['\r', '\n']);
    if let Some(rest) = msg.strip_prefix('-') {
        into.push_str(rest);
        return;
    }
    let coded = msg
        .split(' ')
        .next()
        .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    if !coded {
        into.push_str("ERR ");
    }
    into.push_str(msg);
}

/// Lua numbers become arguments as Redis formats them (`%.17g`); integral ones print as integers.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 && (n != 0.0 || n.is_sign_positive()) {
        return itoa::Buffer::new().format(n as i64).to_string();
    }
    super::cjson::format_g(n, 17)
}

/// Pushes `{err = msg}`.
///
/// # Safety
/// May raise a memory error; `msg` must not be owned by the caller's frame.
unsafe fn push_error_table(l: *mut ffi::lua_State, msg: &[u8]) {
    // SAFETY: C API pushes on our own slots.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushlstring_(l, msg.as_ptr() as *const _, msg.len());
        ffi::lua_setfield(l, -2, c"err".as_ptr());
    }
}

/// Raises a plain error message.
///
/// # Safety
/// Does not return; the caller must hold nothing with a destructor.
unsafe fn raise_str(l: *mut ffi::lua_State, msg: &'static str) -> c_int {
    // SAFETY: as above.
    unsafe {
        ffi::lua_pushlstring_(l, msg.as_ptr() as *const _, msg.len());
        ffi::lua_error(l)
    }
}

/// Too deep or not RESP.
struct BadReply;

/// Pushes one reply parsed from `buf` at `pos` with Redis's RESP -> Lua rules (null bulk/array is
/// false in RESP2, nil in RESP3; status `{ok=}`, error `{err=}`, integers numbers, RESP3 types as
/// `{map=}`, `{set=}`, `{double=}`, `{big_number=}`, `{verbatim_string=}`).
///
/// # Safety
/// Pushes exactly one value on success; may raise a memory error, holding nothing.
unsafe fn push_reply(
    l: *mut ffi::lua_State,
    buf: &[u8],
    pos: &mut usize,
    resp3: bool,
    depth: usize,
) -> Result<(), BadReply> {
    if depth > MAX_DEPTH {
        return Err(BadReply);
    }
    let kind = *buf.get(*pos).ok_or(BadReply)?;
    *pos += 1;
    let line = read_line(buf, pos)?;
    // SAFETY: C API pushes on our own slots (the caller checked stack room for this level).
    unsafe {
        ffi::luaL_checkstack(l, 4, c"too many nested values".as_ptr());
        match kind {
            b'+' => push_single(l, "ok", line),
            b'-' => push_single(l, "err", line),
            b':' => ffi::lua_pushnumber(l, parse_int(line)? as f64),
            b'$' | b'=' => {
                let n = parse_int(line)?;
                if n < 0 {
                    push_null(l, resp3);
                    return Ok(());
                }
                let end = pos.checked_add(n as usize).ok_or(BadReply)?;
                let data = buf.get(*pos..end).ok_or(BadReply)?;
                *pos = end + 2;
                if kind == b'=' {
                    ffi::lua_createtable(l, 0, 1);
                    ffi::lua_createtable(l, 0, 2);
                    let (format, text) = (
                        data.get(..3).unwrap_or_default(),
                        data.get(4..).unwrap_or_default(),
                    );
                    ffi::lua_pushlstring_(l, format.as_ptr() as *const _, format.len());
                    ffi::lua_setfield(l, -2, c"format".as_ptr());
                    ffi::lua_pushlstring_(l, text.as_ptr() as *const _, text.len());
                    ffi::lua_setfield(l, -2, c"string".as_ptr());
                    ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
                } else {
                    ffi::lua_pushlstring_(l, data.as_ptr() as *const _, data.len());
                }
            }
            b'*' | b'>' => {
                let n = parse_int(line)?;
                if n < 0 {
                    push_null(l, resp3);
                    return Ok(());
                }
                ffi::lua_createtable(l, n.min(1024) as c_int, 0);
                for i in 0..n {
                    push_reply(l, buf, pos, resp3, depth + 1)?;
                    ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
                }
            }
            b'%' | b'~' => {
                let n = parse_int(line)?.max(0);
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, n.min(1024) as c_int);
                for _ in 0..n {
                    push_reply(l, buf, pos, resp3, depth + 1)?;
                    if kind == b'%' {
                        push_reply(l, buf, pos, resp3, depth + 1)?;
                    } else {
                        ffi::lua_pushboolean(l, 1);
                    }
                    ffi::lua_rawset(l, -3);
                }
                let field = if kind == b'%' { c"map" } else { c"set" };
                ffi::lua_setfield(l, -2, field.as_ptr());
            }
            b'_' => ffi::lua_pushnil(l),
            b'#' => ffi::lua_pushboolean(l, (line == b"t") as c_int),
            b',' => {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, crate::util::numbers::parse_f64(line).unwrap_or(0.0));
                ffi::lua_setfield(l, -2, c"double".as_ptr());
            }
            b'(' => push_single(l, "big_number", line),
            _ => return Err(BadReply),
        }
    }
    Ok(())
}

/// Pushes `{field = text}`.
unsafe fn push_single(l: *mut ffi::lua_State, field: &'static str, text: &[u8]) {
    // SAFETY: C API pushes on our own slots.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushlstring_(l, field.as_ptr() as *const _, field.len());
        ffi::lua_pushlstring_(l, text.as_ptr() as *const _, text.len());
        ffi::lua_rawset(l, -3);
    }
}

/// A null reply: false in RESP2 (as Redis 2..6 scripts expect), nil in RESP3.
unsafe fn push_null(l: *mut ffi::lua_State, resp3: bool) {
    // SAFETY: one push.
    unsafe {
        if resp3 {
            ffi::lua_pushnil(l);
        } else {
            ffi::lua_pushboolean(l, 0);
        }
    }
}

fn read_line<'b>(buf: &'b [u8], pos: &mut usize) -> Result<&'b [u8], BadReply> {
    let rest = buf.get(*pos..).ok_or(BadReply)?;
    let end = memchr_crlf(rest).ok_or(BadReply)?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

fn parse_int(b: &[u8]) -> Result<i64, BadReply> {
    crate::util::numbers::parse_i64(b).ok_or(BadReply)
}

/// `redis.setresp(level)`.
unsafe extern "C-unwind" fn redis_setresp(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state; raises hold nothing.
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            return raise_str(l, "redis.setresp() requires one argument.");
        }
        let v = ffi::lua_tonumber(l, 1);
        if v != 2.0 && v != 3.0 {
            return raise_str(l, "RESP version must be 2 or 3.");
        }
        if let Some(frame) = frame() {
            frame.resp = v as u8;
        }
        0
    }
}

/// The count hook (every `HOOK_EVERY` instructions; every line once a script was stopped): drives the
/// running script's watchdog (busy state, hand-off, SCRIPT KILL, shutdown).
unsafe extern "C-unwind" fn hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: the frame pointer is valid for the run; raises hold nothing.
    unsafe {
        let Some(frame) = frame() else {
            if LOAD_DEADLINE
                .with(|d| d.get())
                .is_some_and(|d| Instant::now() > d)
            {
                raise_str(l, "FUNCTION LOAD timeout");
            }
            return;
        };
        let msg = match frame.stopped {
            Some(msg) => msg,
            // A panic must not unwind through Lua's C frames: treat it as a stop.
            None => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                frame.watchdog.as_mut().map(Watchdog::tick)
            }))
            .unwrap_or(Some(HookVerdict::Stop(
                "Script stopped: internal error in the hook",
            ))) {
                None | Some(HookVerdict::Continue) => return,
                Some(HookVerdict::Stop(msg)) => {
                    frame.stopped = Some(msg);
                    // From now on every line raises again, so a pcall in the script cannot swallow it.
                    ffi::lua_sethook(
                        l,
                        Some(hook),
                        ffi::LUA_MASKCOUNT | ffi::LUA_MASKLINE,
                        HOOK_EVERY as c_int,
                    );
                    msg
                }
            },
        };
        raise_str(l, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripting::Engine;

    /// Runs `body` as an EVAL script whose `redis.call` answers `reply` (raw RESP), returning the
    /// encoded result and the commands the script sent.
    fn eval(body: &str, reply: &'static [u8]) -> (Vec<u8>, Vec<Vec<Bytes>>) {
        let engine = Engine::new();
        let script = engine.compile(body.as_bytes()).expect("compiles");
        let mut sent = Vec::new();
        let mut dispatch = |argv: &[Bytes], out: &mut ReplyBuf| {
            sent.push(argv.to_vec());
            out.raw(reply);
            Ok(())
        };
        let out = {
            let mut frame = Frame::new(&mut dispatch, None);
            run(
                &engine.entry,
                Call::Eval(&script),
                &[],
                &[],
                &mut frame,
                false,
            )
        };
        match out {
            Outcome::Reply(r) => (r.buf, sent),
            _ => panic!("script raised"),
        }
    }

    #[test]
    fn numbers_truncate_and_tables_stop_at_first_nil() {
        assert_eq!(
            eval("return {1.9, 2, nil, 4}", b"").0,
            b"*2\r\n:1\r\n:2\r\n"
        );
    }

    #[test]
    fn null_bulk_becomes_false_and_numbers_format_as_redis() {
        let (out, sent) = eval(
            "return {redis.call('get', 10, 1.5, -0.0) == false, redis.call('x', 1e20)}",
            b"$-1\r\n",
        );
        assert_eq!(out, b"*2\r\n:1\r\n$-1\r\n");
        assert_eq!(
            sent[0],
            [&b"get"[..], b"10", b"1.5", b"-0"].map(Bytes::from_static)
        );
        assert_eq!(sent[1], [&b"x"[..], b"1e+20"].map(Bytes::from_static));
    }

    #[test]
    fn resp3_types_round_trip_through_lua() {
        let (out, _) = eval(
            "redis.setresp(3) local r = redis.call('x') return {r.map['a'], r.map['b'].double, r.map['c']}",
            b"%3\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,2.5\r\n$1\r\nc\r\n#t\r\n",
        );
        assert_eq!(out, b"*3\r\n:1\r\n:2\r\n:1\r\n");
    }

    #[test]
    fn cyclic_tables_give_the_stack_limit_error() {
        let (out, _) = eval("local a = {} a[1] = a return a", b"");
        assert_eq!(out, b"-ERR reached lua stack limit\r\n");
    }

    #[test]
    fn call_errors_raise_tables_that_pcall_returns() {
        let (out, _) = eval(
            "local ok, e = pcall(redis.call, 'x') return {tostring(ok), e.err, redis.pcall('x').err}",
            b"-WRONGTYPE bad\r\n",
        );
        assert_eq!(
            out,
            b"*3\r\n$5\r\nfalse\r\n$13\r\nWRONGTYPE bad\r\n$13\r\nWRONGTYPE bad\r\n"
        );
    }
}
