//! Sorted-set commands (the `sorted_set` group): ZADD and friends, the range family (ZRANGE with its
//! BYSCORE / BYLEX / REV / LIMIT forms and the older ZRANGEBY* / ZREV* commands), removals by range,
//! pops, ZRANDMEMBER, the set algebra (ZUNION / ZINTER / ZDIFF with and without STORE, ZINTERCARD), and
//! ZSCAN. Replies, their RESP3 types and every error string follow Redis 7.0 (ZRANK / ZREVRANK also take
//! 7.2's WITHSCORE). Scores are written the way Redis 7.0 writes doubles (`%.17g`, `inf`, `-inf`).
//!
//! The value itself lives in `keyspace::types::zset`; this module parses, locks, applies and replies.

use bytes::Bytes;
use hashbrown::HashMap;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw};
use crate::keyspace::types::ZSetValue;
use crate::keyspace::{ShardSet, SmallBytes, Value};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;
use crate::server::blocking::TimeoutReply;

// ---------------------------------------------------------------------------------------------------
// Errors

fn err(msg: &str) -> CommandError {
    CommandError::Custom(format!("ERR {msg}"))
}

fn not_float_range() -> CommandError {
    err("min or max is not a float")
}

fn not_lex_range() -> CommandError {
    err("min or max not valid string range item")
}

// ---------------------------------------------------------------------------------------------------
// Numbers

/// Parses a score as Redis's `string2d` does (C `strtod` over the whole argument): no leading space, no
/// trailing bytes, NaN refused, and an overflow to ±infinity or an underflow to zero refused too.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace() || c == '\x0b') {
        return None;
    }
    if let Some((v, nonzero)) = parse_hex_float(s) {
        // strtod's ERANGE: overflow to infinity or underflow to zero.
        return (v.is_finite() && (v != 0.0 || !nonzero)).then_some(v);
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None;
    }
    if v == 0.0
        && lower
            .bytes()
            .take_while(|b| *b != b'e')
            .any(|b| (b'1'..=b'9').contains(&b))
    {
        return None;
    }
    Some(v)
}

/// Parses one bound of a score range the way Redis's range parser does: plain `strtod` (leading spaces
/// skipped, overflow saturating to infinity, an empty string reading as 0), NaN refused.
fn parse_range_float(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(arg).ok()?;
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    if let Some((v, _)) = parse_hex_float(t) {
        return Some(v);
    }
    let v: f64 = t.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A C99 hexadecimal float as `strtod` reads it, over the whole string: `[+-]0x` hex digits with an
/// optional `.`, then an optional binary exponent `p[+-]digits`. Returns the value and whether the
/// mantissa was non-zero (to tell an underflow from a real zero); None if `s` is not one.
fn parse_hex_float(s: &str) -> Option<(f64, bool)> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    let (mant, exp) = match rest.find(['p', 'P']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.len() + frac_part.len() == 0 {
        return None;
    }
    let mut v = 0.0f64;
    let mut nonzero = false;
    for c in int_part.chars().chain(frac_part.chars()) {
        let d = c.to_digit(16)?;
        nonzero |= d != 0;
        v = v * 16.0 + d as f64;
    }
    let mut e: i64 = -4 * frac_part.len() as i64;
    if let Some(x) = exp {
        let digits = x.strip_prefix(['+', '-']).unwrap_or(x);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().unwrap_or(i64::MAX / 2).min(100_000);
        e += if x.starts_with('-') { -n } else { n };
    }
    // Scale by 2^e in steps that stay inside f64's exponent range.
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    Some((if neg { -v } else { v }, nonzero))
}

/// Appends `v` as C's `%.17g` writes it (what Redis 7.0 replies for every score).
pub fn format_score(v: f64, out: &mut Vec<u8>) {
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let sci = format!("{:.16e}", v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if mant.starts_with('-') {
        out.push(b'-');
    }
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let trimmed_len = digits.iter().rposition(|d| *d != b'0').map_or(1, |p| p + 1);
    let digits = &digits[..trimmed_len];
    if !(-4..17).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(digits.get(i).copied().unwrap_or(b'0'));
        }
        if digits.len() > int_len {
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
    }
}

/// A score as a double reply: a bulk string in RESP2, a `,` double in RESP3.
fn reply_score(out: &mut ReplyBuf, v: f64) {
    let mut s = Vec::with_capacity(24);
    format_score(v, &mut s);
    if out.is_resp3() {
        out.raw(b",");
        out.raw(&s);
        out.raw(b"\r\n");
    } else {
        out.bulk(&s);
    }
}

/// A score as Redis's `d2string` writes it (ZSCAN): integral values in integer form.
fn score_text(v: f64) -> Vec<u8> {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if v.is_finite() && v != 0.0 && v.fract() == 0.0 && (-HALF..=HALF).contains(&v) {
        return (v as i64).to_string().into_bytes();
    }
    let mut s = Vec::new();
    format_score(v, &mut s);
    s
}

/// A C `long` argument (`ERR value is not an integer or out of range`).
fn parse_long(arg: &[u8]) -> Result<i64, CommandError> {
    crate::util::numbers::parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// A C `long` in `min..=max`, with `msg` for both a bad integer and one out of range (Redis's
/// `getRangeLongFromObjectOrReply` with a message).
fn parse_long_in(arg: &[u8], min: i64, max: i64, msg: &str) -> Result<i64, CommandError> {
    match crate::util::numbers::parse_i64(arg) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(err(msg)),
    }
}

// ---------------------------------------------------------------------------------------------------
// Ranges

/// A score interval.
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        let one = |a: &[u8]| -> Option<(f64, bool)> {
            match a.first() {
                Some(b'(') => parse_range_float(&a[1..]).map(|v| (v, true)),
                _ => parse_range_float(a).map(|v| (v, false)),
            }
        };
        let (min, minex) = one(min).ok_or_else(not_float_range)?;
        let (max, maxex) = one(max).ok_or_else(not_float_range)?;
        Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    /// Ascending ranks `lo..hi` of the members inside the range.
    fn ranks(&self, z: &ZSetValue) -> (usize, usize) {
        if self.min > self.max || (self.min == self.max && (self.minex || self.maxex)) {
            return (0, 0);
        }
        let lo = z.partition_point(|_, s| {
            if self.minex {
                s <= self.min
            } else {
                s < self.min
            }
        });
        let hi = z.partition_point(|_, s| {
            if self.maxex {
                s < self.max
            } else {
                s <= self.max
            }
        });
        (lo, hi.max(lo))
    }
}

/// One end of a lex range.
#[derive(Debug, Clone)]
enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(a: &[u8]) -> Result<Self, CommandError> {
        match a.first() {
            Some(b'+') if a.len() == 1 => Ok(LexBound::PosInf),
            Some(b'-') if a.len() == 1 => Ok(LexBound::NegInf),
            Some(b'(') => Ok(LexBound::Excl(a[1..].to_vec())),
            Some(b'[') => Ok(LexBound::Incl(a[1..].to_vec())),
            _ => Err(not_lex_range()),
        }
    }
}

#[derive(Debug, Clone)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        Ok(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Ascending ranks `lo..hi` of the members inside the range (members are assumed to share one
    /// score, as Redis documents; otherwise the answer is as unspecified as Redis's).
    fn ranks(&self, z: &ZSetValue) -> (usize, usize) {
        let n = z.len();
        let lo = match &self.min {
            LexBound::NegInf => 0,
            LexBound::PosInf => n,
            LexBound::Incl(x) => z.partition_point(|m, _| m < x.as_slice()),
            LexBound::Excl(x) => z.partition_point(|m, _| m <= x.as_slice()),
        };
        let hi = match &self.max {
            LexBound::NegInf => 0,
            LexBound::PosInf => n,
            LexBound::Incl(x) => z.partition_point(|m, _| m <= x.as_slice()),
            LexBound::Excl(x) => z.partition_point(|m, _| m < x.as_slice()),
        };
        (lo, hi.max(lo))
    }
}

/// Normalizes Redis rank arguments (negative counts from the end) to ascending ranks `lo..hi`.
fn rank_span(start: i64, end: i64, len: usize) -> (usize, usize) {
    let n = len as i64;
    let mut start = if start < 0 { start + n } else { start };
    let mut end = if end < 0 { end + n } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= n {
        return (0, 0);
    }
    if end >= n {
        end = n - 1;
    }
    (start as usize, end as usize + 1)
}

// ---------------------------------------------------------------------------------------------------
// Keyspace access

/// The `zset-max-listpack-*` limits.
fn limits(ctx: &Ctx) -> (u64, u64) {
    let c = &ctx.server.config;
    (
        c.get_u64("zset-max-listpack-entries"),
        c.get_u64("zset-max-listpack-value"),
    )
}

/// Runs `f` on the live sorted set at `key` for a read (counting a hit or miss and refreshing the
/// access time as Redis's read lookup does). `Ok(None)` when the key is missing; WRONGTYPE otherwise.
fn read<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&ZSetValue, &mut ReplyBuf) -> R,
) -> Result<Option<R>, CommandError> {
    let (touch, lru, now) = (ctx.touches(), ctx.lru(), ctx.now_ms);
    let (hash, mut shard) = ctx.db().lock_key(key);
    let r = match shard.get_live_mut(hash, key, now) {
        None => None,
        Some(e) => {
            if touch {
                e.access_s = lru;
            }
            let Value::ZSet(z) = &e.value else {
                drop(shard);
                ctx.hit(true, key);
                return Err(CommandError::WrongType);
            };
            Some(f(z, ctx.out))
        }
    };
    drop(shard);
    ctx.hit(r.is_some(), key);
    Ok(r)
}

/// Runs `f` on the sorted set at `key` for a write. A missing key is created (empty) when `create`, and
/// stored only if `f` left it non-empty; otherwise `Ok(None)`. `f` returns its result and whether it
/// changed the set: only a change takes a revision, and a set left empty is deleted.
fn modify<R>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    event: &'static str,
    f: impl FnOnce(&mut ZSetValue) -> (R, bool),
) -> Result<Option<R>, CommandError> {
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    match shard.get_mut(hash, key) {
        Some(e) => {
            let Value::ZSet(z) = &mut e.value else {
                return Err(CommandError::WrongType);
            };
            let (r, changed) = f(z);
            if changed {
                let empty = z.is_empty();
                ctx.stamp(e);
                ctx.notify(ev::ZSET, event, key);
                if empty {
                    ctx.delete(&mut shard, hash, key);
                    ctx.notify(ev::GENERIC, "del", key);
                }
            }
            Ok(Some(r))
        }
        None if create => {
            let mut z = ZSetValue::new();
            let (r, changed) = f(&mut z);
            if changed && !z.is_empty() {
                ctx.upsert(&mut shard, hash, key, Value::ZSet(Box::new(z)), Ttl::Keep);
                ctx.notify(ev::ZSET, event, key);
            }
            Ok(Some(r))
        }
        None => Ok(None),
    }
}

/// Stores a freshly built set at `dst` (replacing any value and clearing its TTL, as Redis's `setKey`),
/// or deletes `dst` when the result is empty. Replies with the result's size.
/// With `settle`, the result was built as a skiplist and becomes a listpack if it fits (ZUNIONSTORE and
/// friends); otherwise its encoding is already final (ZRANGESTORE). `set` holds the locks of the sources and of `dst`, so reading and storing are one atomic step (and the
/// store's revision orders it after every write it read).
fn store_result(
    ctx: &mut Ctx,
    set: &mut ShardSet,
    dst: &[u8],
    mut z: ZSetValue,
    settle: bool,
    event: &'static str,
) {
    let (entries, value) = limits(ctx);
    let n = z.len();
    let hash = set.hash(dst);
    let shard = set.shard(hash);
    ctx.reap(shard, hash, dst);
    if n == 0 {
        if ctx.delete(shard, hash, dst) {
            ctx.notify(ev::GENERIC, "del", dst);
        }
    } else {
        if settle {
            z.fresh_encoding(entries, value);
        }
        ctx.upsert(shard, hash, dst, Value::ZSet(Box::new(z)), Ttl::Clear);
        ctx.notify(ev::ZSET, event, dst);
    }
    ctx.out.int(n as i64);
}

/// The members and scores of each key, read under one lock of all their shards (sets count with score
/// 1, as in Redis). `None` for a missing key.
type Source = Option<HashMap<SmallBytes, f64>>;

fn read_sources(
    ctx: &mut Ctx,
    set: &mut ShardSet,
    keys: &[Bytes],
) -> Result<Vec<Source>, CommandError> {
    let now = ctx.now_ms;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let h = set.hash(k);
        let found = set.shard(h).get_live(h, k, now);
        ctx.hit(found.is_some(), k);
        let src = match found {
            None => None,
            Some(e) => match &e.value {
                Value::ZSet(z) => Some(z.members().map(|(m, s)| (m.clone(), s)).collect()),
                Value::Set(s) => Some(s.iter().map(|m| (m.clone(), 1.0)).collect()),
                _ => return Err(CommandError::WrongType),
            },
        };
        out.push(src);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// Replies

/// Writes `count` members starting at ascending rank `start` (going down when `reverse`), with scores
/// when asked: flat pairs in RESP2, `[member, score]` arrays in RESP3.
fn emit(out: &mut ReplyBuf, z: &ZSetValue, start: usize, count: usize, reverse: bool, ws: bool) {
    if ws && !out.is_resp3() {
        out.array(count * 2);
    } else {
        out.array(count);
    }
    let one = |out: &mut ReplyBuf, m: &[u8], s: f64| {
        if ws && out.is_resp3() {
            out.array(2);
        }
        out.bulk(m);
        if ws {
            reply_score(out, s);
        }
    };
    if count == 0 {
        return;
    }
    if reverse {
        for (m, s) in z.iter_back_from(start).take(count) {
            one(out, m, s);
        }
    } else {
        for (m, s) in z.iter_from(start).take(count) {
            one(out, m, s);
        }
    }
}

/// Writes `(member, score)` pairs as `emit` does.
fn emit_pairs(out: &mut ReplyBuf, items: &[(SmallBytes, f64)], ws: bool) {
    if ws && !out.is_resp3() {
        out.array(items.len() * 2);
    } else {
        out.array(items.len());
    }
    for (m, s) in items {
        if ws && out.is_resp3() {
            out.array(2);
        }
        out.bulk(m);
        if ws {
            reply_score(out, *s);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd_generic(ctx: &mut Ctx, mut fl: AddFlags) -> CmdResult {
    let argv = ctx.argv;
    let mut i = 2;
    if !fl.incr {
        while i < argv.len() {
            let a = &argv[i][..];
            if is_kw(a, "NX") {
                fl.nx = true;
            } else if is_kw(a, "XX") {
                fl.xx = true;
            } else if is_kw(a, "CH") {
                fl.ch = true;
            } else if is_kw(a, "INCR") {
                fl.incr = true;
            } else if is_kw(a, "GT") {
                fl.gt = true;
            } else if is_kw(a, "LT") {
                fl.lt = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let rest = &argv[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if fl.nx && fl.xx {
        return Err(err("XX and NX options at the same time are not compatible"));
    }
    if (fl.nx && (fl.gt || fl.lt)) || (fl.gt && fl.lt) {
        return Err(err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if fl.incr && rest.len() > 2 {
        return Err(err("INCR option supports a single increment-element pair"));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        let s = parse_score(&p[0]).ok_or(CommandError::NotFloat)?;
        pairs.push((s, &p[1][..]));
    }
    let (entries, value) = limits(ctx);
    let key = ctx.arg(1);
    // (added, updated, processed, last score) or the NaN error.
    let event = if fl.incr { "zincr" } else { "zadd" };
    let r = modify(ctx, key, !fl.xx, event, |z| {
        let (mut added, mut updated, mut processed, mut last) = (0i64, 0i64, 0i64, 0.0);
        for &(score, member) in &pairs {
            match z.score(member) {
                Some(cur) => {
                    if fl.nx {
                        continue;
                    }
                    let new = if fl.incr { cur + score } else { score };
                    if new.is_nan() {
                        return (
                            Err(err("resulting score is not a number (NaN)")),
                            added + updated > 0,
                        );
                    }
                    if (fl.lt && new >= cur) || (fl.gt && new <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = new;
                    if new != cur {
                        z.insert(member, new);
                        updated += 1;
                    }
                }
                None => {
                    if fl.xx {
                        continue;
                    }
                    z.prepare_insert(entries, value, member.len());
                    z.insert(member, score);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
        (Ok((added, updated, processed, last)), added + updated > 0)
    })?;
    let (added, updated, processed, last) = match r {
        Some(res) => res?,
        None => (0, 0, 0, 0.0),
    };
    if fl.incr {
        if processed > 0 {
            reply_score(ctx.out, last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if fl.ch { added + updated } else { added });
    }
    Ok(())
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, AddFlags::default())
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(
        ctx,
        AddFlags {
            incr: true,
            ..Default::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------------
// Point reads and removals

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    let key = ctx.arg(1);
    let n = modify(ctx, key, false, "zrem", |z| {
        let n = members.iter().filter(|m| z.remove(m).is_some()).count();
        (n, n > 0)
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    let member = ctx.arg(2);
    let key = ctx.arg(1);
    let s = read(ctx, key, |z, _| z.score(member))?.flatten();
    match s {
        Some(s) => reply_score(ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    let key = ctx.arg(1);
    let scores: Vec<Option<f64>> = read(ctx, key, |z, _| {
        members.iter().map(|m| z.score(m)).collect()
    })?
    .unwrap_or_else(|| vec![None; members.len()]);
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => reply_score(ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let n = read(ctx, key, |z, _| z.len())?.unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let range = ScoreRange::parse(ctx.arg(2), ctx.arg(3))?;
    let key = ctx.arg(1);
    let n = read(ctx, key, |z, _| {
        let (lo, hi) = range.ranks(z);
        hi - lo
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let range = LexRange::parse(ctx.arg(2), ctx.arg(3))?;
    let key = ctx.arg(1);
    let n = read(ctx, key, |z, _| {
        let (lo, hi) = range.ranks(z);
        hi - lo
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn zrank_generic(ctx: &mut Ctx, reverse: bool) -> CmdResult {
    if ctx.argv.len() > 4 {
        return Err(CommandError::WrongArity {
            command: ctx.spec.name.to_string(),
        });
    }
    let ws = match ctx.argv.get(3) {
        None => false,
        Some(a) if is_kw(a, "WITHSCORE") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    let member = ctx.arg(2);
    let key = ctx.arg(1);
    let found = read(ctx, key, |z, _| {
        z.rank(member).map(|r| {
            let r = if reverse { z.len() - 1 - r } else { r };
            (r, z.score(member).unwrap_or(0.0))
        })
    })?
    .flatten();
    match found {
        Some((r, s)) => {
            if ws {
                ctx.out.array(2);
                ctx.out.int(r as i64);
                reply_score(ctx.out, s);
            } else {
                ctx.out.int(r as i64);
            }
        }
        None if ws => ctx.out.null_array(),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member [WITHSCORE]
pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, false)
}

/// ZREVRANK key member [WITHSCORE]
pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, true)
}

// ---------------------------------------------------------------------------------------------------
// The range family

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range request, resolved against a set by `span`.
enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct RangeReq {
    spec: RangeSpec,
    reverse: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

impl RangeReq {
    /// (first ascending rank to emit, count, reverse).
    fn span(&self, z: &ZSetValue) -> (usize, usize) {
        let (lo, hi) = match &self.spec {
            RangeSpec::Rank(start, end) => {
                if self.reverse {
                    // Ranks counted from the top: map them onto ascending ranks.
                    let (a, b) = rank_span(*start, *end, z.len());
                    if a >= b {
                        return (0, 0);
                    }
                    return (z.len() - 1 - a, b - a);
                }
                let (a, b) = rank_span(*start, *end, z.len());
                return (a, b.saturating_sub(a));
            }
            RangeSpec::Score(r) => r.ranks(z),
            RangeSpec::Lex(r) => r.ranks(z),
        };
        let n = hi - lo;
        if self.offset < 0 || self.offset as u64 >= n as u64 {
            return (0, 0);
        }
        let off = self.offset as usize;
        let mut count = n - off;
        if self.limit >= 0 {
            count = count.min(self.limit as usize);
        }
        if self.reverse {
            (hi - 1 - off, count)
        } else {
            (lo + off, count)
        }
    }
}

/// Parses the ZRANGE family's arguments from `first` (the source key) on, as Redis's generic range
/// command does: options first (their errors win), then the bounds.
fn parse_range(
    argv: &[Bytes],
    first: usize,
    store: bool,
    mut rt: RangeType,
    mut dir: Direction,
) -> Result<RangeReq, CommandError> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = first + 3;
    while j < argv.len() {
        let a = &argv[j][..];
        let left = argv.len() - j - 1;
        if !store && is_kw(a, "WITHSCORES") {
            withscores = true;
        } else if is_kw(a, "LIMIT") && left >= 2 {
            offset = parse_long(&argv[j + 1])?;
            limit = parse_long(&argv[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && is_kw(a, "REV") {
            dir = Direction::Reverse;
        } else if rt == RangeType::Auto && is_kw(a, "BYLEX") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && is_kw(a, "BYSCORE") {
            rt = RangeType::Score;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let reverse = dir == Direction::Reverse;
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return Err(err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rt == RangeType::Lex {
        return Err(err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut a, mut b) = (&argv[first + 1][..], &argv[first + 2][..]);
    if reverse && rt != RangeType::Rank {
        std::mem::swap(&mut a, &mut b);
    }
    let spec = match rt {
        RangeType::Score => RangeSpec::Score(ScoreRange::parse(a, b)?),
        RangeType::Lex => RangeSpec::Lex(LexRange::parse(a, b)?),
        _ => RangeSpec::Rank(parse_long(a)?, parse_long(b)?),
    };
    Ok(RangeReq {
        spec,
        reverse,
        withscores,
        offset,
        limit,
    })
}

fn range_reply(ctx: &mut Ctx, rt: RangeType, dir: Direction) -> CmdResult {
    let req = parse_range(ctx.argv, 1, false, rt, dir)?;
    let key = ctx.arg(1);
    let done = read(ctx, key, |z, out| {
        let (start, count) = req.span(z);
        emit(out, z, start, count, req.reverse, req.withscores);
    })?;
    if done.is_none() {
        ctx.out.array(0);
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Auto, Direction::Auto)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Rank, Direction::Reverse)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Score, Direction::Forward)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Score, Direction::Reverse)
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Lex, Direction::Forward)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Lex, Direction::Reverse)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let req = parse_range(ctx.argv, 2, true, RangeType::Auto, Direction::Auto)?;
    let (dst, src) = (ctx.arg(1), ctx.arg(2));
    let mut set = ctx.db().lock_many(&[dst, src]);
    let hs = set.hash(src);
    let found = set.shard(hs).get_live(hs, src, ctx.now_ms);
    ctx.hit(found.is_some(), src);
    let z = match found.map(|e| &e.value) {
        None => None,
        Some(Value::ZSet(z)) => Some(z),
        Some(_) => return Err(CommandError::WrongType),
    };
    let (entries, value) = limits(ctx);
    let picked = z.map(|z| {
        let (start, count) = req.span(z);
        // As Redis: start as a listpack unless a rank range is known to be too long, then convert on
        // the insert that outgrows it (so scores inserted while a listpack lose their -0).
        let mut dst = match req.spec {
            RangeSpec::Rank(..) if count as u64 > entries => ZSetValue::scratch(),
            _ => ZSetValue::new(),
        };
        let mut add = |m: &[u8], s: f64| {
            dst.prepare_insert(entries, value, m.len());
            dst.insert(m, s);
        };
        if count > 0 {
            if req.reverse {
                z.iter_back_from(start)
                    .take(count)
                    .for_each(|(m, s)| add(m, s));
            } else {
                z.iter_from(start).take(count).for_each(|(m, s)| add(m, s));
            }
        }
        dst
    });
    store_result(
        ctx,
        &mut set,
        dst,
        picked.unwrap_or_default(),
        false,
        "zrangestore",
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Removal by range

fn zremrange(ctx: &mut Ctx, spec: RangeSpec) -> CmdResult {
    let key = ctx.arg(1);
    let event = match spec {
        RangeSpec::Rank(..) => "zremrangebyrank",
        RangeSpec::Score(_) => "zremrangebyscore",
        RangeSpec::Lex(_) => "zremrangebylex",
    };
    let n = modify(ctx, key, false, event, |z| {
        let (lo, hi) = match &spec {
            RangeSpec::Rank(a, b) => rank_span(*a, *b, z.len()),
            RangeSpec::Score(r) => r.ranks(z),
            RangeSpec::Lex(r) => r.ranks(z),
        };
        let n = z.remove_ranks(lo, hi);
        (n, n > 0)
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let spec = RangeSpec::Rank(parse_long(ctx.arg(2))?, parse_long(ctx.arg(3))?);
    zremrange(ctx, spec)
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let spec = RangeSpec::Score(ScoreRange::parse(ctx.arg(2), ctx.arg(3))?);
    zremrange(ctx, spec)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let spec = RangeSpec::Lex(LexRange::parse(ctx.arg(2), ctx.arg(3))?);
    zremrange(ctx, spec)
}

// ---------------------------------------------------------------------------------------------------
// Pops

/// The key popped from and its members with their scores.
type Popped = (Bytes, Vec<(SmallBytes, f64)>);

/// Pops up to `count` members from the first non-empty key among `keys` (None: no such key). WRONGTYPE
/// on the first existing key of another type, as Redis checks keys in order.
fn pop_from(
    ctx: &mut Ctx,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<Popped>, CommandError> {
    for k in keys {
        let event = if max { "zpopmax" } else { "zpopmin" };
        let popped = modify(ctx, k, false, event, |z| {
            let mut v = Vec::with_capacity(count.min(z.len()));
            while v.len() < count {
                match z.pop(max) {
                    Some(p) => v.push(p),
                    None => break,
                }
            }
            let changed = !v.is_empty();
            (v, changed)
        })?;
        if let Some(v) = popped {
            return Ok(Some((k.clone(), v)));
        }
    }
    Ok(None)
}

fn zpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    if ctx.argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let count = match ctx.argv.get(2) {
        Some(a) => Some(parse_long_in(
            a,
            0,
            i64::MAX,
            "value is out of range, must be positive",
        )?),
        None => None,
    };
    let nested = ctx.out.is_resp3() && count.is_some();
    if count == Some(0) {
        // Redis answers an empty array without popping, after its write lookup's type check.
        let key = ctx.arg(1);
        modify(ctx, key, false, "zpopmin", |_| ((), false))?;
        ctx.out.array(0);
        return Ok(());
    }
    let keys = [ctx.argv[1].clone()];
    let popped = pop_from(ctx, &keys, max, count.unwrap_or(1) as usize)?;
    let items = popped.map(|(_, v)| v).unwrap_or_default();
    if nested {
        emit_pairs(ctx.out, &items, true);
    } else {
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            reply_score(ctx.out, *s);
        }
    }
    Ok(())
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop(ctx, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop(ctx, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]. Logged as the ZPOPMIN/ZPOPMAX it amounts to.
pub fn zmpop(ctx: &mut Ctx) -> CmdResult {
    mpop(ctx, 1, None)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: ZMPOP that waits (null array on timeout).
pub fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let deadline = ctx.parse_block_timeout(ctx.arg(1))?;
    mpop(ctx, 2, Some(deadline))
}

/// ZMPOP's body with `numkeys` at `at`; with a deadline it parks the client when every key is empty.
fn mpop(ctx: &mut Ctx, at: usize, deadline: Option<u64>) -> CmdResult {
    let argv = ctx.argv;
    let numkeys = parse_long_in(&argv[at], 1, i64::MAX, "numkeys should be greater than 0")?;
    let where_idx = (numkeys as u64).saturating_add(at as u64 + 1);
    if where_idx >= argv.len() as u64 {
        return Err(CommandError::Syntax);
    }
    let where_idx = where_idx as usize;
    let max = if is_kw(&argv[where_idx], "MIN") {
        false
    } else if is_kw(&argv[where_idx], "MAX") {
        true
    } else {
        return Err(CommandError::Syntax);
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count == -1 && is_kw(&argv[j], "COUNT") && j + 1 < argv.len() {
            count = parse_long_in(&argv[j + 1], 1, i64::MAX, "count should be greater than 0")?;
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let count = if count == -1 { 1 } else { count as usize };
    let keys = &argv[at + 1..where_idx];
    match pop_from(ctx, keys, max, count)? {
        None => match deadline {
            Some(d) => ctx.block_on(keys.to_vec(), d, TimeoutReply::NullArray),
            None => ctx.out.null_array(),
        },
        Some((key, items)) => {
            ctx.log(vec![
                Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" }),
                key.clone(),
                Bytes::from(items.len().to_string()),
            ]);
            ctx.out.array(2);
            ctx.out.bulk(&key);
            ctx.out.array(items.len());
            for (m, s) in &items {
                ctx.out.array(2);
                ctx.out.bulk(m);
                reply_score(ctx.out, *s);
            }
        }
    }
    Ok(())
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout: `[key, member, score]` from the first non-empty key, or
/// a null array on timeout. Logged as the ZPOPMIN / ZPOPMAX it amounts to, as Redis propagates it.
fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let argv = ctx.argv;
    let deadline = ctx.parse_block_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    match pop_from(ctx, keys, max, 1)? {
        None => ctx.block_on(keys.to_vec(), deadline, TimeoutReply::NullArray),
        Some((key, items)) => {
            ctx.log(vec![
                Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" }),
                key.clone(),
            ]);
            ctx.out.array(3);
            ctx.out.bulk(&key);
            for (m, s) in &items {
                ctx.out.bulk(m);
                reply_score(ctx.out, *s);
            }
        }
    }
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}

// ---------------------------------------------------------------------------------------------------
// ZRANDMEMBER

/// ZRANDMEMBER key [count [WITHSCORES]]. Reads only; nothing is logged.
pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    use rand::seq::index::sample;
    let argv = ctx.argv;
    let key = ctx.arg(1);
    if argv.len() < 3 {
        let picked = read(ctx, key, |z, _| {
            let i = rand::random_range(0..z.len().max(1));
            z.get(i).map(|(m, _)| m.to_vec())
        })?
        .flatten();
        match picked {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = match crate::util::numbers::parse_i64(&argv[2]) {
        None => return Err(CommandError::NotInteger),
        Some(i64::MIN) => {
            return Err(err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        Some(l) => l,
    };
    if argv.len() > 4 || (argv.len() == 4 && !is_kw(&argv[3], "WITHSCORES")) {
        return Err(CommandError::Syntax);
    }
    let ws = argv.len() == 4;
    if ws && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(err("value is out of range"));
    }
    let done = read(ctx, key, |z, out| {
        let n = z.len();
        let one = |out: &mut ReplyBuf, (m, s): (&[u8], f64)| {
            if ws && out.is_resp3() {
                out.array(2);
            }
            out.bulk(m);
            if ws {
                reply_score(out, s);
            }
        };
        let header = |out: &mut ReplyBuf, count: usize| {
            out.array(if ws && !out.is_resp3() {
                count * 2
            } else {
                count
            });
        };
        if l == 0 || n == 0 {
            header(out, 0);
        } else if l < 0 {
            // With repetitions: written as drawn, never collected, since the count may be huge.
            let want = l.unsigned_abs() as usize;
            header(out, want);
            for _ in 0..want {
                if let Some(p) = z.get(rand::random_range(0..n)) {
                    one(out, p);
                }
            }
        } else if l as u64 >= n as u64 {
            header(out, n);
            z.iter().for_each(|p| one(out, p));
        } else {
            let picks = sample(&mut rand::rng(), n, l as usize);
            header(out, picks.len());
            for i in picks {
                if let Some(p) = z.get(i) {
                    one(out, p);
                }
            }
        }
    })?;
    if done.is_none() {
        ctx.out.array(0);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Set algebra

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis makes it 0 rather than NaN.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

struct AlgebraReq {
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    agg: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Parses `numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] [LIMIT n]` from
/// `numkeys_idx`, allowing what Redis allows for each command.
fn parse_algebra(
    ctx: &Ctx,
    numkeys_idx: usize,
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<AlgebraReq, CommandError> {
    let argv = ctx.argv;
    let n = parse_long(&argv[numkeys_idx])?;
    if n < 1 {
        return Err(err(&format!(
            "at least 1 input key is needed for '{}' command",
            ctx.spec.name
        )));
    }
    if n as u64 > (argv.len() - numkeys_idx - 1) as u64 {
        return Err(CommandError::Syntax);
    }
    let n = n as usize;
    let keys: Vec<Bytes> = argv[numkeys_idx + 1..numkeys_idx + 1 + n].to_vec();
    let mut req = AlgebraReq {
        keys,
        weights: vec![1.0; n],
        agg: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = numkeys_idx + 1 + n;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j][..];
        if op != SetOp::Diff && !card && remaining > n && is_kw(a, "WEIGHTS") {
            for i in 0..n {
                req.weights[i] = parse_score(&argv[j + 1 + i])
                    .ok_or_else(|| err("weight value is not a float"))?;
            }
            j += 1 + n;
        } else if op != SetOp::Diff && !card && remaining >= 2 && is_kw(a, "AGGREGATE") {
            let v = &argv[j + 1][..];
            req.agg = if is_kw(v, "SUM") {
                Aggregate::Sum
            } else if is_kw(v, "MIN") {
                Aggregate::Min
            } else if is_kw(v, "MAX") {
                Aggregate::Max
            } else {
                return Err(CommandError::Syntax);
            };
            j += 2;
        } else if !store && !card && is_kw(a, "WITHSCORES") {
            req.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is_kw(a, "LIMIT") {
            req.limit =
                parse_long_in(&argv[j + 1], 0, i64::MAX, "LIMIT can't be negative")? as usize;
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(req)
}

/// Computes a union, intersection or difference. For ZINTERCARD (`card`) only the count matters, and
/// stops at `limit` when it is not 0.
fn compute(op: SetOp, req: &AlgebraReq, srcs: Vec<Source>, card: bool) -> (ZSetValue, usize) {
    let mut out = ZSetValue::scratch();
    let mut srcs: Vec<(HashMap<SmallBytes, f64>, f64, usize)> = srcs
        .into_iter()
        .zip(&req.weights)
        .enumerate()
        .map(|(i, (s, w))| (s.unwrap_or_default(), *w, i))
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(|(s, _, _)| s.len());
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() { 0.0 } else { v }
    };
    match op {
        SetOp::Inter => {
            let mut count = 0;
            if let Some(((first, w0, _), rest)) = srcs.split_first() {
                for (m, s) in first {
                    let mut score = weighted(*s, *w0);
                    let mut all = true;
                    for (other, w, _) in rest {
                        match other.get(m) {
                            // Redis zeroes a NaN product only for the first set's score here.
                            Some(v) => aggregate(&mut score, *v * *w, req.agg),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if !all {
                        continue;
                    }
                    count += 1;
                    if card {
                        if req.limit != 0 && count >= req.limit {
                            break;
                        }
                    } else {
                        out.insert(m, score);
                    }
                }
            }
            (out, count)
        }
        SetOp::Union => {
            let mut acc: HashMap<SmallBytes, f64> = HashMap::new();
            for (s, w, _) in &srcs {
                for (m, v) in s {
                    let v = weighted(*v, *w);
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, v, req.agg),
                        None => {
                            acc.insert(m.clone(), v);
                        }
                    }
                }
            }
            for (m, s) in &acc {
                out.insert(m, *s);
            }
            let n = out.len();
            (out, n)
        }
        SetOp::Diff => {
            if let Some(((first, _, _), rest)) = srcs.split_first() {
                for (m, s) in first {
                    if !rest.iter().any(|(o, _, _)| o.contains_key(m)) {
                        out.insert(m, *s);
                    }
                }
            }
            let n = out.len();
            (out, n)
        }
    }
}

fn algebra(ctx: &mut Ctx, op: SetOp, store: bool, card: bool) -> CmdResult {
    let numkeys_idx = if store { 2 } else { 1 };
    let req = parse_algebra(ctx, numkeys_idx, op, store, card)?;
    let mut locked = req.keys.clone();
    if store {
        locked.push(ctx.argv[1].clone());
    }
    let mut set = ctx.db().lock_many(&locked);
    let srcs = read_sources(ctx, &mut set, &req.keys)?;
    let (z, count) = compute(op, &req, srcs, card);
    if card {
        ctx.out.int(count as i64);
    } else if store {
        let dst = ctx.arg(1);
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(ctx, &mut set, dst, z, true, event);
    } else {
        let n = z.len();
        emit(ctx.out, &z, 0, n, false, req.withscores);
    }
    Ok(())
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Union, true, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Inter, true, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Diff, true, false)
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Union, false, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Inter, false, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Diff, false, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Inter, false, true)
}

// ---------------------------------------------------------------------------------------------------
// ZSCAN

/// Sets up to this size are returned whole in one call (cursor 0), as Redis does for listpacks.
const SCAN_WHOLE: usize = 512;

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// The cursor is an ascending rank. A member present for the whole scan is returned at least once as
/// long as no member ranked before the cursor is removed between calls (a removal shifts later members
/// down and can skip one); sets of up to 512 members come back whole in one call.
pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let cursor = parse_cursor(&argv[2]).ok_or_else(|| err("invalid cursor"))?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut j = 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        if is_kw(&argv[j], "COUNT") && left >= 1 {
            let n = parse_long(&argv[j + 1])?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n as usize;
            j += 2;
        } else if is_kw(&argv[j], "MATCH") && left >= 1 {
            pattern = Some(&argv[j + 1]);
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = ctx.arg(1);
    let res = read(ctx, key, |z, _| {
        let n = z.len();
        let (start, take) = if n <= SCAN_WHOLE || !z.is_big() {
            (0, n)
        } else {
            (cursor.min(n as u64) as usize, count)
        };
        let mut items = Vec::new();
        for (m, s) in z.iter_from(start).take(take) {
            let keep = match pattern {
                None => true,
                Some(p) => p == b"*" || crate::util::glob::glob_match(p, m, false),
            };
            if keep {
                items.push((m.to_vec(), score_text(s)));
            }
        }
        let next = start + take;
        let next = if next >= n || take == n { 0 } else { next };
        (next, items)
    })?;
    let (next, items) = res.unwrap_or((0, Vec::new()));
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in &items {
        ctx.out.bulk(m);
        ctx.out.bulk(s);
    }
    Ok(())
}

/// Reads a SCAN cursor as Redis does (C `strtoul`: optional sign, digits, nothing after; "" is 0).
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return arg.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if negative { n.wrapping_neg() } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: f64) -> String {
        let mut s = Vec::new();
        format_score(v, &mut s);
        String::from_utf8(s).unwrap_or_default()
    }

    #[test]
    fn scores_format_like_printf_17g() {
        assert_eq!(fmt(1.0), "1");
        assert_eq!(fmt(-3.0), "-3");
        assert_eq!(fmt(0.1), "0.10000000000000001");
        assert_eq!(fmt(1.5), "1.5");
        assert_eq!(fmt(1e300), "1.0000000000000001e+300");
        assert_eq!(fmt(1e17), "1e+17");
        assert_eq!(fmt(12345678901234567.0), "12345678901234568");
        assert_eq!(fmt(0.0001), "0.0001");
        assert_eq!(fmt(0.00001), "1.0000000000000001e-05");
        assert_eq!(fmt(f64::INFINITY), "inf");
        assert_eq!(fmt(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt(-0.0), "-0");
        assert_eq!(fmt(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    }

    #[test]
    fn score_parsing_refuses_what_strtod_would() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"abc"), None);
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"0x1p3"), Some(8.0));
        assert_eq!(parse_score(b"-0X1.8p1"), Some(-3.0));
        assert_eq!(parse_score(b"0x.8"), Some(0.5));
        assert_eq!(parse_score(b"0x"), None);
        assert_eq!(parse_score(b"0x1p"), None);
        assert_eq!(parse_score(b"0x1p99999"), None);
        assert_eq!(parse_score(b"infinity"), Some(f64::INFINITY));
    }

    #[test]
    fn range_bounds_parse_exclusive_and_infinite_forms() {
        let r = ScoreRange::parse(b"(1", b"+inf").map(|r| (r.min, r.minex, r.max, r.maxex));
        assert_eq!(r, Ok((1.0, true, f64::INFINITY, false)));
        assert!(ScoreRange::parse(b"nan", b"1").is_err());
        assert!(ScoreRange::parse(b"(", b"1").is_ok());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"[a", b"(b").is_ok());
        assert!(LexRange::parse(b"-x", b"+").is_err());
    }

    #[test]
    fn rank_spans_clamp_like_redis() {
        assert_eq!(rank_span(0, -1, 5), (0, 5));
        assert_eq!(rank_span(-100, 100, 5), (0, 5));
        assert_eq!(rank_span(3, 1, 5), (0, 0));
        assert_eq!(rank_span(5, 10, 5), (0, 0));
        assert_eq!(rank_span(-2, -1, 5), (3, 5));
    }
}
