//! The `cmsgpack` library for scripts: `cmsgpack.pack(...)` and `cmsgpack.unpack(s)` with lua-cmsgpack's
//! mapping (a table whose keys are exactly 1..n is an array, any other table a map; integral numbers are
//! integers, others doubles; strings are msgpack str). Written from the MessagePack specification.

use mlua::{Lua, Table, ffi};
use std::cell::UnsafeCell;
use std::ffi::c_int;

/// Deepest nesting packed; deeper tables pack as nil, as lua-cmsgpack does.
const MAX_DEPTH: usize = 16;
/// Deepest nesting unpacked; deeper input is an error, not a stack overflow.
const MAX_UNPACK_DEPTH: usize = 128;

// The functions are Lua C functions working on the stack directly: through mlua every table, string and
// field set of a result was a protected call allocating two closures (BullMQ unpacks its job options on
// every add). They may raise (memory errors, bad input), so, as in runner.rs, no frame here holds a
// value with a destructor across a Lua call: `pack` writes into a thread-local scratch buffer.

thread_local! {
    static SCRATCH: UnsafeCell<Vec<u8>> = const { UnsafeCell::new(Vec::new()) };
}

/// Builds the `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // SAFETY: each function follows the C API's contract (see the module comment).
    unsafe {
        t.raw_set("pack", lua.create_c_function(pack_fn)?)?;
        t.raw_set("unpack", lua.create_c_function(unpack_fn)?)?;
        t.raw_set("unpack_limit", lua.create_c_function(unpack_limit_fn)?)?;
        t.raw_set("unpack_one", lua.create_c_function(unpack_one_fn)?)?;
    }
    Ok(t)
}

/// `cmsgpack.pack(v, ...)`: every argument packed, concatenated.
unsafe extern "C-unwind" fn pack_fn(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: reads its own arguments; the buffer is thread-local (not in this frame), and nothing
    // re-enters this function while it is borrowed (packing runs no Lua code).
    unsafe {
        let n = ffi::lua_gettop(l);
        if n == 0 {
            return ffi::luaL_argerror(l, 0, c"MessagePack pack needs input.".as_ptr());
        }
        let out = &mut *SCRATCH.with(|c| c.get());
        out.clear();
        for i in 1..=n {
            pack(l, i, out, 0);
        }
        ffi::lua_pushlstring_(l, out.as_ptr() as *const _, out.len());
        if out.capacity() > 1 << 20 {
            // Not worth keeping after one huge value; freed before the next pack.
            out.clear();
            out.shrink_to(1 << 16);
        }
        1
    }
}

/// `cmsgpack.unpack(s)`: every object in `s`.
unsafe extern "C-unwind" fn unpack_fn(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: `s` stays on the stack (argument 1) while its bytes are read.
    unsafe {
        let b = check_string(l, 1);
        ffi::lua_settop(l, 1);
        let mut pos = 0;
        let mut count = 0;
        while pos < b.len() {
            if let Err(msg) = unpack_one_value(l, b, &mut pos, 0) {
                return raise_here(l, msg);
            }
            count += 1;
        }
        count
    }
}

/// `cmsgpack.unpack_limit(s, limit, offset)`: up to `limit` objects (0 = all) from byte `offset`;
/// returns the offset to continue from (-1 once the input is used up), then the objects.
unsafe extern "C-unwind" fn unpack_limit_fn(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: see `unpack_limited`.
    unsafe {
        let limit = opt_int(l, 2);
        let offset = opt_int(l, 3);
        unpack_limited(l, limit, offset)
    }
}

/// `cmsgpack.unpack_one(s, offset)`: `unpack_limit(s, 1, offset)`.
unsafe extern "C-unwind" fn unpack_one_fn(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: see `unpack_limited`.
    unsafe {
        let offset = opt_int(l, 2);
        unpack_limited(l, 1, offset)
    }
}

/// # Safety
/// Called from a Lua C function whose argument 1 is the input.
unsafe fn unpack_limited(l: *mut ffi::lua_State, limit: i64, offset: i64) -> c_int {
    // SAFETY: `s` stays on the stack (argument 1) while its bytes are read.
    unsafe {
        let b = check_string(l, 1);
        if offset < 0 || offset as usize > b.len() {
            return raise_here(l, "Start offset greater than input length");
        }
        ffi::lua_settop(l, 1);
        ffi::lua_pushnil(l); // the offset, set below
        let mut pos = offset as usize;
        let mut count: i64 = 0;
        while pos < b.len() && (limit <= 0 || count < limit) {
            if let Err(msg) = unpack_one_value(l, b, &mut pos, 0) {
                return raise_here(l, msg);
            }
            count += 1;
        }
        let next = if pos >= b.len() { -1 } else { pos as i64 };
        ffi::lua_pushnumber(l, next as ffi::lua_Number);
        ffi::lua_replace(l, 2);
        ffi::lua_gettop(l) - 1
    }
}

/// Raises `msg` prefixed with the calling script's position (`user_script:1: `), as luaL_error does.
///
/// # Safety
/// Does not return; the caller must hold nothing with a destructor.
unsafe fn raise_here(l: *mut ffi::lua_State, msg: &'static str) -> c_int {
    // SAFETY: pushes two strings and raises.
    unsafe {
        ffi::luaL_where(l, 1);
        ffi::lua_pushlstring_(l, msg.as_ptr() as *const _, msg.len());
        ffi::lua_concat(l, 2);
        ffi::lua_error(l)
    }
}

/// The string argument at `idx`; raises Lua's "bad argument" error for anything else (a number is
/// converted in place, as luaL_checklstring does).
///
/// # Safety
/// The slice lives while the value stays on the stack.
unsafe fn check_string<'s>(l: *mut ffi::lua_State, idx: c_int) -> &'s [u8] {
    let mut len = 0usize;
    // SAFETY: luaL_checklstring raises on a non-string; the pointer is Lua's, valid per the contract.
    unsafe {
        let p = ffi::luaL_checklstring(l, idx, &mut len);
        std::slice::from_raw_parts(p as *const u8, len)
    }
}

/// An optional integer argument (absent or nil: 0).
///
/// # Safety
/// Called from a Lua C function; raises on a non-number.
unsafe fn opt_int(l: *mut ffi::lua_State, idx: c_int) -> i64 {
    // SAFETY: plain reads; luaL_checknumber raises Lua's "bad argument" error.
    unsafe {
        if ffi::lua_isnoneornil(l, idx) != 0 {
            0
        } else {
            ffi::luaL_checknumber(l, idx) as i64
        }
    }
}

/// Packs the value at absolute index `idx`.
///
/// # Safety
/// `idx` is absolute. Raw reads only: runs no metamethod and raises nothing.
unsafe fn pack(l: *mut ffi::lua_State, idx: c_int, out: &mut Vec<u8>, depth: usize) {
    // SAFETY: raw reads of `idx`, and of the pairs pushed (and popped) here.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, idx) != 0 {
                0xc3
            } else {
                0xc2
            }),
            ffi::LUA_TNUMBER => {
                let n = ffi::lua_tonumber(l, idx);
                if n.fract() == 0.0 && n.abs() < 9.2e18 {
                    pack_int(n as i64, out);
                } else if (n as f32) as f64 == n {
                    out.push(0xca);
                    out.extend_from_slice(&(n as f32).to_be_bytes());
                } else {
                    out.push(0xcb);
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            ffi::LUA_TSTRING => {
                let mut n = 0usize;
                let p = ffi::lua_tolstring(l, idx, &mut n);
                if n < 32 {
                    out.push(0xa0 | n as u8);
                } else if n <= 0xff {
                    out.push(0xd9);
                    out.push(n as u8);
                } else if n <= 0xffff {
                    out.push(0xda);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                } else {
                    out.push(0xdb);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
                out.extend_from_slice(std::slice::from_raw_parts(p as *const u8, n));
            }
            ffi::LUA_TTABLE if depth < MAX_DEPTH && ffi::lua_checkstack(l, 3) != 0 => {
                let len = ffi::lua_objlen(l, idx);
                let mut count = 0usize;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, idx) != 0 {
                    count += 1;
                    ffi::lua_settop(l, -2);
                }
                if count == len && len > 0 {
                    header(out, len, 0x90, 0xdc);
                    for i in 1..=len {
                        ffi::lua_rawgeti_(l, idx, i as c_int);
                        pack(l, ffi::lua_gettop(l), out, depth + 1);
                        ffi::lua_settop(l, -2);
                    }
                } else {
                    header(out, count, 0x80, 0xde);
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, idx) != 0 {
                        let top = ffi::lua_gettop(l);
                        pack(l, top - 1, out, depth + 1);
                        pack(l, top, out, depth + 1);
                        ffi::lua_settop(l, -2);
                    }
                }
            }
            // nil, too deep, or a type msgpack cannot carry: nil, as lua-cmsgpack does.
            _ => out.push(0xc0),
        }
    }
}

/// An array or map header: fix form below 16 entries, else the 16- or 32-bit form.
fn header(out: &mut Vec<u8>, n: usize, fix: u8, wide: u8) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_int(i: i64, out: &mut Vec<u8>) {
    if (0..128).contains(&i) {
        out.push(i as u8);
    } else if (-32..0).contains(&i) {
        out.push(i as i8 as u8);
    } else if i >= 0 {
        if i <= 0xff {
            out.push(0xcc);
            out.push(i as u8);
        } else if i <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(i as u16).to_be_bytes());
        } else if i <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(i as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(i as u64).to_be_bytes());
        }
    } else if i >= -128 {
        out.push(0xd0);
        out.push(i as i8 as u8);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

const MISSING: &str = "Missing bytes in input.";

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], &'static str> {
    let s = b.get(*pos..pos.saturating_add(n)).ok_or(MISSING)?;
    *pos += n;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | x as u64)
}

/// Pushes the object at `pos` of `b`, or returns the error to raise.
///
/// # Safety
/// `b` is anchored (a string on the stack); may raise a memory error or Lua's NaN-key error, holding
/// nothing with a destructor.
unsafe fn unpack_one_value(
    l: *mut ffi::lua_State,
    b: &[u8],
    pos: &mut usize,
    depth: usize,
) -> Result<(), &'static str> {
    if depth > MAX_UNPACK_DEPTH {
        return Err("MessagePack input too deep.");
    }
    // SAFETY: pushes onto our own slots, after making room for them.
    unsafe {
        if ffi::lua_checkstack(l, 3) == 0 {
            return Err("MessagePack input too deep.");
        }
        let tag = take(b, pos, 1)?[0];
        let num = |n: f64| ffi::lua_pushnumber(l, n);
        match tag {
            0x00..=0x7f => num(tag as f64),
            0xe0..=0xff => num(tag as i8 as f64),
            0xc0 => ffi::lua_pushnil(l),
            0xc2 => ffi::lua_pushboolean(l, 0),
            0xc3 => ffi::lua_pushboolean(l, 1),
            0xcc => num(be(take(b, pos, 1)?) as f64),
            0xcd => num(be(take(b, pos, 2)?) as f64),
            0xce => num(be(take(b, pos, 4)?) as f64),
            0xcf => num(be(take(b, pos, 8)?) as f64),
            0xd0 => num(be(take(b, pos, 1)?) as u8 as i8 as f64),
            0xd1 => num(be(take(b, pos, 2)?) as u16 as i16 as f64),
            0xd2 => num(be(take(b, pos, 4)?) as u32 as i32 as f64),
            0xd3 => num(be(take(b, pos, 8)?) as i64 as f64),
            0xca => num(f32::from_bits(be(take(b, pos, 4)?) as u32) as f64),
            0xcb => num(f64::from_bits(be(take(b, pos, 8)?))),
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
                let n = match tag {
                    0xa0..=0xbf => (tag & 0x1f) as usize,
                    0xd9 | 0xc4 => be(take(b, pos, 1)?) as usize,
                    0xda | 0xc5 => be(take(b, pos, 2)?) as usize,
                    _ => be(take(b, pos, 4)?) as usize,
                };
                let s = take(b, pos, n)?;
                ffi::lua_pushlstring_(l, s.as_ptr() as *const _, s.len());
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match tag {
                    0x90..=0x9f => (tag & 0x0f) as usize,
                    0xdc => be(take(b, pos, 2)?) as usize,
                    _ => be(take(b, pos, 4)?) as usize,
                };
                // Every element takes at least a byte: a hostile count cannot preallocate more.
                let room = n.min(b.len() - *pos).min(i32::MAX as usize);
                ffi::lua_createtable(l, room as c_int, 0);
                for i in 1..=n {
                    unpack_one_value(l, b, pos, depth + 1)?;
                    ffi::lua_rawseti_(l, -2, i.min(i32::MAX as usize) as c_int);
                }
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = match tag {
                    0x80..=0x8f => (tag & 0x0f) as usize,
                    0xde => be(take(b, pos, 2)?) as usize,
                    _ => be(take(b, pos, 4)?) as usize,
                };
                let room = n.min((b.len() - *pos) / 2).min(i32::MAX as usize);
                ffi::lua_createtable(l, 0, room as c_int);
                for _ in 0..n {
                    unpack_one_value(l, b, pos, depth + 1)?;
                    unpack_one_value(l, b, pos, depth + 1)?;
                    // A nil (or NaN) key raises Lua's "table index is nil", as in Redis.
                    ffi::lua_rawset(l, -3);
                }
            }
            _ => return Err("Bad data format in input."),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_the_smallest_msgpack_form() {
        let mut out = Vec::new();
        pack_int(5, &mut out);
        pack_int(-1, &mut out);
        pack_int(200, &mut out);
        pack_int(-200, &mut out);
        assert_eq!(out, vec![0x05, 0xff, 0xcc, 200, 0xd1, 0xff, 0x38]);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        assert_eq!(take(&[0xcd, 0x01], &mut 1, 2), Err(MISSING));
        assert_eq!(take(&[1, 2], &mut 0, usize::MAX), Err(MISSING));
    }
}
