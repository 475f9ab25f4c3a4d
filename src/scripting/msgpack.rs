//! The `cmsgpack` library for scripts: `cmsgpack.pack(...)` and `cmsgpack.unpack(s)` with lua-cmsgpack's
//! mapping (a table whose keys are exactly 1..n is an array, any other table a map; integral numbers are
//! integers, others doubles; strings are msgpack str). Written from the MessagePack specification.

use mlua::{Lua, Table, Value, Variadic};

/// Deepest nesting packed or unpacked; deeper input is an error, not a stack overflow.
const MAX_DEPTH: usize = 16;

/// Builds the `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, vals: Variadic<Value>| {
            if vals.is_empty() {
                return Err(mlua::Error::RuntimeError(
                    "MessagePack pack needs input.".into(),
                ));
            }
            let mut out = Vec::new();
            for v in vals.iter() {
                pack(v, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut pos = 0;
            let mut vals = Vec::new();
            while pos < bytes.len() {
                vals.push(unpack(lua, &bytes, &mut pos, 0)?);
            }
            Ok(Variadic::from_iter(vals))
        })?,
    )?;
    // unpack_limit(s, limit, offset) / unpack_one(s, offset): up to `limit` objects (0 = all) from byte
    // `offset`; returns the offset to continue from (-1 once the input is used up), then the objects.
    let limited = |lua: &Lua, s: mlua::LuaString, limit: i64, offset: i64| {
        let bytes = s.as_bytes();
        if offset < 0 || offset as usize > bytes.len() {
            return Err(mlua::Error::RuntimeError(
                "Start offset greater than input length".into(),
            ));
        }
        let mut pos = offset as usize;
        let mut vals = vec![Value::Nil];
        while pos < bytes.len() && (limit <= 0 || (vals.len() as i64) <= limit) {
            vals.push(unpack(lua, &bytes, &mut pos, 0)?);
        }
        vals[0] = Value::Integer(if pos >= bytes.len() { -1 } else { pos as i64 });
        Ok(Variadic::from_iter(vals))
    };
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            move |lua, (s, limit, offset): (mlua::LuaString, Option<i64>, Option<i64>)| {
                limited(lua, s, limit.unwrap_or(0), offset.unwrap_or(0))
            },
        )?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(move |lua, (s, offset): (mlua::LuaString, Option<i64>)| {
            limited(lua, s, 1, offset.unwrap_or(0))
        })?,
    )?;
    Ok(t)
}

fn pack(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(*i, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.2e18 {
                pack_int(*n as i64, out);
            } else if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
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
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_DEPTH => {
            let len = t.raw_len();
            let mut count = 0usize;
            for pair in t.clone().pairs::<Value, Value>() {
                pair?;
                count += 1;
            }
            if count == len && len > 0 {
                header(out, len, 0x90, 0xdc);
                for i in 1..=len {
                    pack(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
            } else {
                header(out, count, 0x80, 0xde);
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    pack(&k, out, depth + 1)?;
                    pack(&val, out, depth + 1)?;
                }
            }
        }
        // Too deep, or a type msgpack cannot carry: nil, as lua-cmsgpack does.
        _ => out.push(0xc0),
    }
    Ok(())
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

fn bad() -> mlua::Error {
    mlua::Error::RuntimeError("Missing bytes in input.".into())
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let s = b.get(*pos..*pos + n).ok_or_else(bad)?;
    *pos += n;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | x as u64)
}

fn unpack(lua: &Lua, b: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > 128 {
        return Err(mlua::Error::RuntimeError(
            "MessagePack input too deep.".into(),
        ));
    }
    let tag = take(b, pos, 1)?[0];
    let num = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => num(tag as f64),
        0xe0..=0xff => num(tag as i8 as f64),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
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
            Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let n = match tag {
                0x90..=0x9f => (tag & 0x0f) as usize,
                0xdc => be(take(b, pos, 2)?) as usize,
                _ => be(take(b, pos, 4)?) as usize,
            };
            let t = lua.create_table()?;
            for i in 1..=n {
                t.raw_set(i, unpack(lua, b, pos, depth + 1)?)?;
            }
            Ok(Value::Table(t))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let n = match tag {
                0x80..=0x8f => (tag & 0x0f) as usize,
                0xde => be(take(b, pos, 2)?) as usize,
                _ => be(take(b, pos, 4)?) as usize,
            };
            let t = lua.create_table()?;
            for _ in 0..n {
                let k = unpack(lua, b, pos, depth + 1)?;
                let v = unpack(lua, b, pos, depth + 1)?;
                if !matches!(k, Value::Nil) {
                    t.raw_set(k, v)?;
                }
            }
            Ok(Value::Table(t))
        }
        _ => Err(mlua::Error::RuntimeError(
            "Bad data format in input.".into(),
        )),
    }
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
        let lua = Lua::new();
        let mut pos = 0;
        assert!(unpack(&lua, &[0xcd, 0x01], &mut pos, 0).is_err());
        let mut pos = 0;
        assert!(unpack(&lua, &[0xdb, 0xff, 0xff, 0xff, 0xff], &mut pos, 0).is_err());
    }
}
