//! Hash commands (Redis group `hash`): HSET and friends, counters on fields, random fields and HSCAN.
//!
//! Every write goes through `write_hash`, which reaps an expired key, stamps a real change with the
//! command's revision and deletes a hash that became empty. HINCRBYFLOAT logs `HSET key field <result>`
//! so replay never redoes float arithmetic.

use bytes::Bytes;

use super::typed::{impl_typed, read_typed, write_typed};
use super::{CmdResult, CommandError, Ctx, is_kw, parse_int};
use crate::keyspace::types::HashValue;
use crate::keyspace::types::hash::HashLimits;
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;
use crate::util::glob::glob_match;
use crate::util::numbers::{LongDouble, parse_i64};

fn limits(ctx: &Ctx) -> HashLimits {
    let c = &ctx.state.config;
    HashLimits {
        listpack_entries: c.get_u64("hash-max-listpack-entries"),
        listpack_value: c.get_u64("hash-max-listpack-value"),
    }
}

impl_typed!(HashValue, Hash);

/// [`read_typed`] on the hash at `argv[1]`.
fn read_hash<R>(
    ctx: &mut Ctx,
    f: impl FnOnce(Option<&HashValue>, &mut ReplyBuf) -> R,
) -> Result<R, CommandError> {
    read_typed(ctx, ctx.arg(1), f)
}

/// [`write_typed`] on the hash at `key`, creating an empty hash for an absent key when `create`.
fn write_hash<R>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(Option<&mut HashValue>) -> Result<(R, bool), CommandError>,
) -> Result<R, CommandError> {
    write_typed(ctx, key, create.then_some(HashValue::default), f)
}

fn set_pairs(ctx: &mut Ctx) -> Result<i64, CommandError> {
    if ctx.argv.len() % 2 == 1 {
        return Err(CommandError::WrongArity {
            command: ctx.spec.name.to_string(),
        });
    }
    let lim = limits(ctx);
    let argv = ctx.argv;
    write_hash(ctx, &argv[1], true, |h| {
        let Some(h) = h else { return Ok((0, false)) };
        let longest = argv[2..].iter().map(|a| a.len()).max().unwrap_or(0);
        h.fit(longest, &lim);
        let added = argv[2..]
            .chunks_exact(2)
            .filter(|p| h.set(&p[0], &p[1], &lim))
            .count();
        Ok((added as i64, true))
    })
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx) -> CmdResult {
    let n = set_pairs(ctx)?;
    ctx.notify(ev::HASH, "hset", &ctx.argv[1]);
    ctx.out.int(n);
    Ok(())
}

/// HMSET key field value [field value ...]
pub fn hmset(ctx: &mut Ctx) -> CmdResult {
    set_pairs(ctx)?;
    ctx.notify(ev::HASH, "hset", &ctx.argv[1]);
    ctx.out.ok();
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let lim = limits(ctx);
    let argv = ctx.argv;
    let added = write_hash(ctx, &argv[1], true, |h| {
        let Some(h) = h else {
            return Ok((false, false));
        };
        if h.contains(&argv[2]) {
            return Ok((false, false));
        }
        h.set(&argv[2], &argv[3], &lim);
        Ok((true, true))
    })?;
    if added {
        ctx.notify(ev::HASH, "hset", &argv[1]);
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// HGET key field
pub fn hget(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.arg(2);
    let v = read_hash(ctx, |h, _| h.and_then(|h| h.get(field)).map(|v| v.to_vec()))?;
    match v {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx) -> CmdResult {
    let fields = &ctx.argv[2..];
    read_hash(ctx, |h, out| {
        out.array(fields.len());
        for f in fields {
            match h.and_then(|h| h.get(f)) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    })
}

/// HGETALL key: a map in RESP3.
pub fn hgetall(ctx: &mut Ctx) -> CmdResult {
    read_hash(ctx, |h, out| match h {
        None => out.map(0),
        Some(h) => {
            out.map(h.len());
            for (f, v) in h.iter() {
                out.bulk(f);
                out.bulk(v);
            }
        }
    })
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx) -> CmdResult {
    read_hash(ctx, |h, out| {
        let h = h.map_or(&[][..], |h| h.fields.items());
        out.array(h.len());
        for (f, _) in h {
            out.bulk(f);
        }
    })
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx) -> CmdResult {
    read_hash(ctx, |h, out| {
        let h = h.map_or(&[][..], |h| h.fields.items());
        out.array(h.len());
        for (_, v) in h {
            out.bulk(v);
        }
    })
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let (n, emptied) = write_hash(ctx, &argv[1], false, |h| {
        let Some(h) = h else {
            return Ok(((0, false), false));
        };
        let mut n = 0i64;
        for f in &argv[2..] {
            if h.remove(f) {
                n += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
        Ok(((n, h.is_empty()), n > 0))
    })?;
    if n > 0 {
        ctx.notify(ev::HASH, "hdel", &argv[1]);
        if emptied {
            ctx.notify(ev::GENERIC, "del", &argv[1]);
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.arg(2);
    let found = read_hash(ctx, |h, _| h.is_some_and(|h| h.contains(field)))?;
    ctx.out.int(found as i64);
    Ok(())
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx) -> CmdResult {
    let n = read_hash(ctx, |h, _| h.map_or(0, |h| h.len()))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.arg(2);
    let n = read_hash(ctx, |h, _| {
        h.and_then(|h| h.get(field)).map_or(0, |v| v.len())
    })?;
    ctx.out.int(n as i64);
    Ok(())
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let incr = parse_int(ctx.arg(3))?;
    let lim = limits(ctx);
    let argv = ctx.argv;
    let new = write_hash(ctx, &argv[1], true, |h| {
        let Some(h) = h else { return Ok((0, false)) };
        let current = match h.get(&argv[2]) {
            None => 0,
            Some(v) => parse_i64(v)
                .ok_or_else(|| CommandError::Custom("ERR hash value is not an integer".into()))?,
        };
        let new = current.checked_add(incr).ok_or(CommandError::Overflow)?;
        h.set(&argv[2], itoa::Buffer::new().format(new).as_bytes(), &lim);
        Ok((new, true))
    })?;
    ctx.notify(ev::HASH, "hincrby", &argv[1]);
    ctx.out.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment; logged as `HSET key field <result>`. The sum is computed in x87
/// `long double`, as Redis does, so the stored text matches Redis digit for digit.
pub fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let incr = LongDouble::parse(ctx.arg(3)).ok_or(CommandError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CommandError::Custom("ERR value is NaN or Infinity".into()));
    }
    let lim = limits(ctx);
    let argv = ctx.argv;
    let text = write_hash(ctx, &argv[1], true, |h| {
        let Some(h) = h else {
            return Ok((Vec::new(), false));
        };
        let current = match h.get(&argv[2]) {
            None => LongDouble::from_i64(0),
            Some(v) => LongDouble::parse(v)
                .ok_or_else(|| CommandError::Custom("ERR hash value is not a float".into()))?,
        };
        let new = current + incr;
        if !new.is_finite() {
            return Err(CommandError::IncrNanOrInf);
        }
        let mut text = Vec::with_capacity(24);
        new.format_human(&mut text);
        h.set(&argv[2], &text, &lim);
        Ok((text, true))
    })?;
    ctx.notify(ev::HASH, "hincrbyfloat", &argv[1]);
    ctx.log(vec![
        Bytes::from_static(b"HSET"),
        argv[1].clone(),
        argv[2].clone(),
        Bytes::copy_from_slice(&text),
    ]);
    ctx.out.bulk(&text);
    Ok(())
}

/// The most picks a negative (repeating) random count may ask for. Redis has no limit and would build
/// the reply until memory ran out while blocking every client; Concord refuses such a count instead.
const MAX_REPEATED_PICKS: u64 = 100_000_000;

/// Parses a random-element count as Redis does (`-LONG_MAX..=LONG_MAX`), refusing negative counts
/// beyond `MAX_REPEATED_PICKS`.
pub(crate) fn parse_rand_count(arg: &[u8]) -> Result<i64, CommandError> {
    let n = parse_int(arg)?;
    if n == i64::MIN {
        return Err(CommandError::ValueOutOfRangeBetween {
            min: -i64::MAX,
            max: i64::MAX,
        });
    }
    if n < 0 && n.unsigned_abs() > MAX_REPEATED_PICKS {
        return Err(CommandError::ValueOutOfRange);
    }
    Ok(n)
}

/// Positions for a random pick of `count` elements out of `size`: with repetition when `unique` is
/// false; otherwise distinct, and all of them (in order) when `count >= size`.
pub(crate) fn random_positions(size: usize, count: u64, unique: bool) -> Vec<usize> {
    if size == 0 {
        return Vec::new();
    }
    if !unique {
        return (0..count).map(|_| rand::random_range(0..size)).collect();
    }
    if count >= size as u64 {
        return (0..size).collect();
    }
    rand::seq::index::sample(&mut rand::rng(), size, count as usize).into_vec()
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let argc = ctx.argv.len();
    if argc == 2 {
        let f = read_hash(ctx, |h, _| {
            h.and_then(|h| {
                let p = random_positions(h.len(), 1, false);
                p.first()
                    .and_then(|&p| h.fields.get(p))
                    .map(|(f, _)| f.to_vec())
            })
        })?;
        match f {
            Some(f) => ctx.out.bulk(&f),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = parse_rand_count(ctx.arg(2))?;
    let with_values = match argc {
        3 => false,
        4 if is_kw(ctx.arg(3), "WITHVALUES") => true,
        _ => return Err(CommandError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CommandError::ValueOutOfRange);
    }
    read_hash(ctx, |h, out| {
        let Some(h) = h.filter(|_| l != 0) else {
            out.array(0);
            return;
        };
        let picks = random_positions(h.len(), l.unsigned_abs(), l > 0);
        let resp3 = out.is_resp3();
        if with_values && !resp3 {
            out.array(picks.len() * 2);
        } else {
            out.array(picks.len());
        }
        for p in picks {
            let Some((f, v)) = h.fields.get(p) else {
                continue;
            };
            if with_values && resp3 {
                out.array(2);
            }
            out.bulk(f);
            if with_values {
                out.bulk(v);
            }
        }
    })
}

/// Reads a SCAN cursor as Redis does (C `strtoul`): optional sign, decimal digits, nothing after.
pub(crate) fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let bad = || CommandError::InvalidCursor;
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return if arg.is_empty() { Ok(0) } else { Err(bad()) };
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n: u64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// MATCH and COUNT of a collection SCAN, parsed from `argv[3..]`.
pub(crate) fn parse_scan_options(argv: &[Bytes]) -> Result<(Option<&[u8]>, usize), CommandError> {
    let mut pattern = None;
    let mut count = 10usize;
    let mut i = 3;
    while i < argv.len() {
        let Some(v) = argv.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is_kw(&argv[i], "COUNT") {
            let n = parse_int(v)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n as usize;
        } else if is_kw(&argv[i], "MATCH") {
            pattern = Some(&v[..]).filter(|p| *p != b"*");
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A small (listpack) hash is returned whole with cursor 0, as Redis does; a big one is walked with the
/// `Dense` cursor (see keyspace/types/set.rs for the guarantee).
pub fn hscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_scan_cursor(ctx.arg(2))?;
    let argv = ctx.argv;
    let mut err = None;
    read_hash(ctx, |h, out| {
        let Some(h) = h else {
            out.array(2);
            out.bulk(b"0");
            out.array(0);
            return;
        };
        let (pattern, count) = match parse_scan_options(argv) {
            Ok(o) => o,
            Err(e) => {
                err = Some(e);
                return;
            }
        };
        let mut next = 0;
        let mut visited = Vec::new();
        if h.fields.is_indexed() {
            next = h.fields.scan(cursor, count, |e| visited.push(e));
        } else {
            visited.extend(h.iter());
        }
        let found: Vec<_> = visited
            .into_iter()
            .filter(|(f, _)| pattern.is_none_or(|p| glob_match(p, f, false)))
            .collect();
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next).as_bytes());
        out.array(found.len() * 2);
        for (f, v) in found {
            out.bulk(f);
            out.bulk(v);
        }
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
