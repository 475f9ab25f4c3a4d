//! The `cjson` library for scripts, matching the lua-cjson build Redis bundles: `encode` writes numbers
//! with `%.14g`, escapes `/` and control bytes as lua-cjson does, passes other bytes through untouched,
//! encodes an empty table as `{}`, refuses excessively sparse arrays, NaN/Inf (unless
//! `encode_invalid_numbers(true)`) and nesting past `encode_max_depth` (default 1000); `decode` maps JSON
//! null to `cjson.null` and honours `decode_max_depth`. The tuning switches keep their value for the
//! life of the Lua state, as in Redis.

use mlua::{Lua, Table, Value};
use parking_lot::Mutex;
use std::sync::Arc;

use super::json_null;

/// lua-cjson's defaults.
const DEFAULT_MAX_DEPTH: i64 = 1000;
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

struct Config {
    encode_max_depth: i64,
    decode_max_depth: i64,
    encode_invalid_numbers: bool,
    sparse_convert: bool,
    sparse_ratio: usize,
    sparse_safe: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_max_depth: DEFAULT_MAX_DEPTH,
            decode_max_depth: DEFAULT_MAX_DEPTH,
            encode_invalid_numbers: false,
            sparse_convert: false,
            sparse_ratio: SPARSE_RATIO,
            sparse_safe: SPARSE_SAFE,
        }
    }
}

/// Formats `n` as C's `printf("%.<prec>g")` does.
pub fn format_g(n: f64, prec: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{n:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn fail(what: &str, why: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("Cannot serialise {what}: {why}"))
}

fn number_into(out: &mut Vec<u8>, n: f64, cfg: &Config) -> mlua::Result<()> {
    if !n.is_finite() && !cfg.encode_invalid_numbers {
        return Err(fail("number", "must not be NaN or Inf"));
    }
    out.extend_from_slice(format_g(n, 14).as_bytes());
    Ok(())
}

/// The array length lua-cjson would use for `t`, or None when it is to be an object.
fn array_length(t: &Table, cfg: &Config) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k.floor() == k && k >= 1.0 {
            max = max.max(k as usize);
            items += 1;
        } else {
            return Ok(None);
        }
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(fail("table", "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

/// A table being written: an array by index, or an object by its (key, value) pairs.
enum Frame {
    Array {
        t: Table,
        next: usize,
        len: usize,
    },
    Object {
        items: std::vec::IntoIter<(Value, Value)>,
        first: bool,
    },
}

/// Writes `root` as JSON. Iterative (an explicit stack of open tables), so nesting up to
/// `encode_max_depth` costs heap, not the thread's stack.
fn encode_into(out: &mut Vec<u8>, root: &Value, cfg: &Config) -> mlua::Result<()> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending = Some(root.clone());
    loop {
        if let Some(v) = pending.take() {
            match v {
                Value::Nil => out.extend_from_slice(b"null"),
                Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
                Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Value::Integer(i) => number_into(out, i as f64, cfg)?,
                Value::Number(n) => number_into(out, n, cfg)?,
                Value::String(s) => escape_into(out, &s.as_bytes()),
                Value::Table(t) => {
                    let depth = stack.len() as i64 + 1;
                    if depth > cfg.encode_max_depth {
                        return Err(mlua::Error::RuntimeError(format!(
                            "Cannot serialise, excessive nesting ({depth})"
                        )));
                    }
                    match array_length(&t, cfg)? {
                        Some(len) if len > 0 => {
                            out.push(b'[');
                            stack.push(Frame::Array { t, next: 1, len });
                        }
                        _ => {
                            out.push(b'{');
                            let items = t
                                .pairs::<Value, Value>()
                                .collect::<mlua::Result<Vec<_>>>()?;
                            stack.push(Frame::Object {
                                items: items.into_iter(),
                                first: true,
                            });
                        }
                    }
                }
                other => return Err(fail(other.type_name(), "type not supported")),
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        match top {
            Frame::Array { t, next, len } => {
                if *next > *len {
                    out.push(b']');
                    stack.pop();
                } else {
                    if *next > 1 {
                        out.push(b',');
                    }
                    pending = Some(t.raw_get(*next)?);
                    *next += 1;
                }
            }
            Frame::Object { items, first } => match items.next() {
                None => {
                    out.push(b'}');
                    stack.pop();
                }
                Some((k, v)) => {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    match &k {
                        Value::String(s) => escape_into(out, &s.as_bytes()),
                        Value::Integer(i) => escape_into(out, format_g(*i as f64, 14).as_bytes()),
                        Value::Number(n) => escape_into(out, format_g(*n, 14).as_bytes()),
                        _ => return Err(fail("table", "table key must be a number or string")),
                    }
                    out.push(b':');
                    pending = Some(v);
                }
            },
        }
    }
}

fn json_depth(j: &serde_json::Value) -> i64 {
    match j {
        serde_json::Value::Array(a) => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(m) => 1 + m.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn json_to_lua(lua: &Lua, j: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match j {
        serde_json::Value::Null => json_null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0)?;
            for (i, e) in a.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, e)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(m) => {
            let t = lua.create_table_with_capacity(0, m.len())?;
            for (k, e) in m {
                t.raw_set(k.as_str(), json_to_lua(lua, e)?)?;
            }
            Value::Table(t)
        }
    })
}

/// Builds the `cjson` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let cfg = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    t.raw_set("null", json_null())?;
    // Switches that only tune lua-cjson's buffers or precision: accepted, nothing to change.
    for name in ["encode_keep_buffer", "encode_number_precision"] {
        t.raw_set(
            name,
            lua.create_function(|_, _: mlua::Variadic<Value>| Ok(()))?,
        )?;
    }
    let depth_switch = |pick: fn(&mut Config) -> &mut i64| {
        let cfg = cfg.clone();
        lua.create_function(move |_, n: Option<i64>| {
            let mut c = cfg.lock();
            let slot = pick(&mut c);
            if let Some(n) = n {
                if n < 1 {
                    return Err(mlua::Error::RuntimeError(
                        "bad argument #1 to '?' (expected integer between 1 and 2147483647)".into(),
                    ));
                }
                *slot = n;
            }
            Ok(*slot)
        })
    };
    t.raw_set(
        "encode_max_depth",
        depth_switch(|c| &mut c.encode_max_depth)?,
    )?;
    t.raw_set(
        "decode_max_depth",
        depth_switch(|c| &mut c.decode_max_depth)?,
    )?;
    {
        let cfg = cfg.clone();
        t.raw_set(
            "encode_invalid_numbers",
            lua.create_function(move |_, v: Option<Value>| {
                let mut c = cfg.lock();
                if let Some(v) = v {
                    c.encode_invalid_numbers = matches!(v, Value::Boolean(true))
                        || matches!(&v, Value::String(s) if s.as_bytes().as_ref() == b"on");
                }
                Ok(c.encode_invalid_numbers)
            })?,
        )?;
    }
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(|_, _: mlua::Variadic<Value>| Ok(true))?,
    )?;
    {
        let cfg = cfg.clone();
        t.raw_set(
            "encode_sparse_array",
            lua.create_function(
                move |_, (convert, ratio, safe): (Option<bool>, Option<i64>, Option<i64>)| {
                    let mut c = cfg.lock();
                    if let Some(v) = convert {
                        c.sparse_convert = v;
                    }
                    if let Some(r) = ratio {
                        c.sparse_ratio = r.max(0) as usize;
                    }
                    if let Some(s) = safe {
                        c.sparse_safe = s.max(0) as usize;
                    }
                    Ok((c.sparse_convert, c.sparse_ratio, c.sparse_safe))
                },
            )?,
        )?;
    }
    {
        let cfg = cfg.clone();
        t.raw_set(
            "encode",
            lua.create_function(move |lua, v: Value| {
                let c = cfg.lock();
                let mut out = Vec::new();
                encode_into(&mut out, &v, &c)?;
                lua.create_string(&out)
            })?,
        )?;
    }
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::LuaString| {
            let max = cfg.lock().decode_max_depth;
            let j: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::RuntimeError(format!("Expected value but found invalid token: {e}"))
            })?;
            let depth = json_depth(&j);
            if depth > max {
                return Err(mlua::Error::RuntimeError(format!(
                    "Found too many nested data structures ({}) at character 1",
                    max + 1
                )));
            }
            json_to_lua(lua, &j)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_as_printf_g14() {
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(std::f64::consts::PI, 14), "3.1415926535898");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(-2.5, 14), "-2.5");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
    }

    #[test]
    fn strings_escape_as_lua_cjson() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a/b\"\x01\xff");
        assert_eq!(out, b"\"a\\/b\\\"\\u0001\xff\"");
    }
}
