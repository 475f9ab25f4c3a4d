//! The `struct` library for scripts: `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])` and
//! `struct.size(fmt)`, following Roberto Ierusalimschy's struct library that Redis bundles: `<` `>` `=`
//! set the byte order (little-endian by default here, as on the machines Redis runs on), `b B h H l L T
//! i[n] I[n]` integers, `f d` floats, `s` zero-terminated strings, `c[n]` fixed-size strings (`c0` takes
//! its length from the preceding number), `x` a pad byte. Alignment (`!`) is accepted and not applied.

use mlua::{Lua, Table, Value, Variadic};

fn err(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.to_string())
}

/// One parsed format item.
enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    ZStr,
    Chars(usize),
    Pad,
}

/// Parses the format into (little_endian, item) pairs.
fn parse(fmt: &[u8]) -> mlua::Result<Vec<(bool, Item)>> {
    let mut little = true;
    let mut items = Vec::new();
    let mut i = 0;
    let number = |i: &mut usize| -> Option<usize> {
        let start = *i;
        while *i < fmt.len() && fmt[*i].is_ascii_digit() {
            *i += 1;
        }
        std::str::from_utf8(&fmt[start..*i]).ok()?.parse().ok()
    };
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        let item = match c {
            b' ' => continue,
            b'<' => {
                little = true;
                continue;
            }
            b'>' => {
                little = false;
                continue;
            }
            b'=' => {
                little = cfg!(target_endian = "little");
                continue;
            }
            b'!' => {
                let _ = number(&mut i);
                continue;
            }
            b'b' => Item::Int {
                size: 1,
                signed: true,
            },
            b'B' => Item::Int {
                size: 1,
                signed: false,
            },
            b'h' => Item::Int {
                size: 2,
                signed: true,
            },
            b'H' => Item::Int {
                size: 2,
                signed: false,
            },
            b'l' => Item::Int {
                size: 8,
                signed: true,
            },
            b'L' | b'T' => Item::Int {
                size: 8,
                signed: false,
            },
            b'i' | b'I' => {
                let size = number(&mut i).unwrap_or(4);
                if !(1..=8).contains(&size) {
                    return Err(err("integral size out of limits"));
                }
                Item::Int {
                    size,
                    signed: c == b'i',
                }
            }
            b'f' => Item::Float,
            b'd' => Item::Double,
            b's' => Item::ZStr,
            b'c' => Item::Chars(number(&mut i).unwrap_or(1)),
            b'x' => Item::Pad,
            other => {
                return Err(err(&format!("invalid format option '{}'", other as char)));
            }
        };
        items.push((little, item));
    }
    Ok(items)
}

fn put_int(out: &mut Vec<u8>, v: i64, size: usize, little: bool) {
    let bytes = v.to_le_bytes();
    let mut b = bytes[..size].to_vec();
    if !little {
        b.reverse();
    }
    out.extend_from_slice(&b);
}

fn num_arg(args: &[Value], k: usize) -> mlua::Result<f64> {
    match args.get(k) {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| err("bad argument to 'pack' (number expected)")),
        _ => Err(err("bad argument to 'pack' (number expected)")),
    }
}

fn str_arg(args: &[Value], k: usize) -> mlua::Result<Vec<u8>> {
    match args.get(k) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Ok(i.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(n.to_string().into_bytes()),
        _ => Err(err("bad argument to 'pack' (string expected)")),
    }
}

/// Builds the `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, (fmt, args): (mlua::LuaString, Variadic<Value>)| {
            let mut out = Vec::new();
            let mut k = 0;
            for (little, item) in parse(&fmt.as_bytes())? {
                match item {
                    Item::Int { size, .. } => {
                        put_int(&mut out, num_arg(&args, k)? as i64, size, little);
                        k += 1;
                    }
                    Item::Float => {
                        let v = num_arg(&args, k)? as f32;
                        k += 1;
                        let b = if little {
                            v.to_le_bytes()
                        } else {
                            v.to_be_bytes()
                        };
                        out.extend_from_slice(&b);
                    }
                    Item::Double => {
                        let v = num_arg(&args, k)?;
                        k += 1;
                        let b = if little {
                            v.to_le_bytes()
                        } else {
                            v.to_be_bytes()
                        };
                        out.extend_from_slice(&b);
                    }
                    Item::ZStr => {
                        out.extend_from_slice(&str_arg(&args, k)?);
                        out.push(0);
                        k += 1;
                    }
                    Item::Chars(n) => {
                        let s = str_arg(&args, k)?;
                        k += 1;
                        let n = if n == 0 { s.len() } else { n };
                        if s.len() < n {
                            return Err(err("bad argument to 'pack' (string too short)"));
                        }
                        out.extend_from_slice(&s[..n]);
                    }
                    Item::Pad => out.push(0),
                }
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(
            |lua, (fmt, data, init): (mlua::LuaString, mlua::LuaString, Option<i64>)| {
                let data = data.as_bytes();
                let mut pos = init.unwrap_or(1).max(1) as usize - 1;
                let mut vals = Vec::new();
                let mut last_num: Option<usize> = None;
                let take = |pos: &mut usize, n: usize| -> mlua::Result<Vec<u8>> {
                    let s = data
                        .get(*pos..*pos + n)
                        .ok_or_else(|| err("bad argument to 'unpack' (data string too short)"))?;
                    *pos += n;
                    Ok(s.to_vec())
                };
                for (little, item) in parse(&fmt.as_bytes())? {
                    match item {
                        Item::Int { size, signed } => {
                            let mut b = take(&mut pos, size)?;
                            if !little {
                                b.reverse();
                            }
                            let mut raw = [0u8; 8];
                            raw[..size].copy_from_slice(&b);
                            let mut v = u64::from_le_bytes(raw);
                            if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                                v |= u64::MAX << (size * 8);
                            }
                            let n = if signed { v as i64 as f64 } else { v as f64 };
                            last_num = Some(n as usize);
                            vals.push(Value::Number(n));
                        }
                        Item::Float => {
                            let b = take(&mut pos, 4)?;
                            let a = [b[0], b[1], b[2], b[3]];
                            let v = if little {
                                f32::from_le_bytes(a)
                            } else {
                                f32::from_be_bytes(a)
                            };
                            vals.push(Value::Number(v as f64));
                        }
                        Item::Double => {
                            let b = take(&mut pos, 8)?;
                            let mut a = [0u8; 8];
                            a.copy_from_slice(&b);
                            let v = if little {
                                f64::from_le_bytes(a)
                            } else {
                                f64::from_be_bytes(a)
                            };
                            vals.push(Value::Number(v));
                        }
                        Item::ZStr => {
                            let rest = data.get(pos..).unwrap_or_default();
                            let end = rest
                                .iter()
                                .position(|&b| b == 0)
                                .ok_or_else(|| err("unfinished string in data"))?;
                            vals.push(Value::String(lua.create_string(&rest[..end])?));
                            pos += end + 1;
                        }
                        Item::Chars(n) => {
                            let n = if n == 0 {
                                // The length came as the previous value, which is not returned.
                                vals.pop();
                                last_num.take().unwrap_or(0)
                            } else {
                                n
                            };
                            let s = take(&mut pos, n)?;
                            vals.push(Value::String(lua.create_string(&s)?));
                        }
                        Item::Pad => pos += 1,
                    }
                }
                vals.push(Value::Number((pos + 1) as f64));
                Ok(Variadic::from_iter(vals))
            },
        )?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|_, fmt: mlua::LuaString| {
            let mut n = 0usize;
            for (_, item) in parse(&fmt.as_bytes())? {
                n += match item {
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    Item::Chars(c) => c,
                    Item::Pad => 1,
                    Item::ZStr => return Err(err("options 's' has no fixed size")),
                };
            }
            Ok(n)
        })?,
    )?;
    Ok(t)
}
