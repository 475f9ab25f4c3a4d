//! Set commands (Redis group `set`): membership, random members, moves, the algebra (SINTER, SUNION,
//! SDIFF and their STORE forms, SINTERCARD) and SSCAN.
//!
//! Writes stamp a real change with the command's revision and delete a set that became empty. SPOP is
//! random, so it logs what it did: `SREM key m...`, or `DEL key` when it took the whole set. Multi-key
//! commands lock all their shards at once (`lock_many`) and read one set at a time.

use bytes::Bytes;

use super::hashes::{parse_rand_count, parse_scan_cursor, parse_scan_options, random_positions};
use super::typed::{impl_typed, read_typed, write_typed};
use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::db::ShardSet;
use crate::keyspace::types::SetValue;
use crate::keyspace::types::set::SetLimits;
use crate::keyspace::{SmallBytes, Value};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;
use crate::util::glob::glob_match;

fn limits(ctx: &Ctx) -> SetLimits {
    let c = &ctx.state.config;
    SetLimits {
        intset_entries: c.get_u64("set-max-intset-entries"),
        listpack_entries: c.get_u64("set-max-listpack-entries"),
        listpack_value: c.get_u64("set-max-listpack-value"),
    }
}

impl_typed!(SetValue, Set);

/// [`read_typed`] on the set at `argv[1]`.
fn read_set<R>(
    ctx: &mut Ctx,
    f: impl FnOnce(Option<&SetValue>, &mut ReplyBuf) -> R,
) -> Result<R, CommandError> {
    read_typed(ctx, ctx.arg(1), f)
}

/// [`write_typed`] on the set at `argv[1]`; an absent key is `create` when given.
fn write_set<R>(
    ctx: &mut Ctx,
    create: Option<SetValue>,
    f: impl FnOnce(Option<&mut SetValue>) -> Result<(R, bool), CommandError>,
) -> Result<R, CommandError> {
    write_typed(ctx, ctx.arg(1), create.map(|s| move || s), f)
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx) -> CmdResult {
    let lim = limits(ctx);
    let members = &ctx.argv[2..];
    let fresh = SetValue::new_for(&members[0], members.len(), &lim);
    let added = write_set(ctx, Some(fresh), |s| {
        let Some(s) = s else { return Ok((0, false)) };
        s.maybe_grow(members.len(), &lim);
        let n = members.iter().filter(|m| s.add(m, &lim)).count() as i64;
        Ok((n, n > 0))
    })?;
    if added > 0 {
        ctx.notify(ev::SET, "sadd", &ctx.argv[1]);
    }
    ctx.out.int(added);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    let (n, emptied) = write_set(ctx, None, |s| {
        let Some(s) = s else {
            return Ok(((0, false), false));
        };
        let mut n = 0i64;
        for m in members {
            if s.remove(m) {
                n += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
        Ok(((n, s.is_empty()), n > 0))
    })?;
    if n > 0 {
        ctx.notify(ev::SET, "srem", &ctx.argv[1]);
        if emptied {
            ctx.notify(ev::GENERIC, "del", &ctx.argv[1]);
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx) -> CmdResult {
    let m = ctx.arg(2);
    let found = read_set(ctx, |s, _| s.is_some_and(|s| s.contains(m)))?;
    ctx.out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    read_set(ctx, |s, out| {
        out.array(members.len());
        for m in members {
            out.int(s.is_some_and(|s| s.contains(m)) as i64);
        }
    })
}

/// SCARD key
pub fn scard(ctx: &mut Ctx) -> CmdResult {
    let n = read_set(ctx, |s, _| s.map_or(0, |s| s.len()))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// SMEMBERS key: a set in RESP3.
pub fn smembers(ctx: &mut Ctx) -> CmdResult {
    read_set(ctx, |s, out| match s {
        None => out.set(0),
        Some(s) => {
            out.set(s.len());
            for m in s.iter() {
                out.bulk(m);
            }
        }
    })
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx) -> CmdResult {
    match ctx.argv.len() {
        2 => {
            let m = read_set(ctx, |s, _| {
                s.and_then(|s| {
                    let p = random_positions(s.len(), 1, false);
                    p.first()
                        .and_then(|&p| s.members.get(p))
                        .map(|m| m.to_vec())
                })
            })?;
            match m {
                Some(m) => ctx.out.bulk(&m),
                None => ctx.out.null(),
            }
            Ok(())
        }
        3 => {
            let l = parse_rand_count(ctx.arg(2))?;
            read_set(ctx, |s, out| {
                let Some(s) = s.filter(|_| l != 0) else {
                    out.array(0);
                    return;
                };
                let picks = random_positions(s.len(), l.unsigned_abs(), l > 0);
                out.array(picks.len());
                for p in picks {
                    if let Some(m) = s.members.get(p) {
                        out.bulk(m);
                    }
                }
            })
        }
        _ => Err(CommandError::Syntax),
    }
}

fn srem_argv(key: &Bytes, members: &[SmallBytes]) -> Vec<Bytes> {
    let mut argv = Vec::with_capacity(members.len() + 2);
    argv.push(Bytes::from_static(b"SREM"));
    argv.push(key.clone());
    argv.extend(members.iter().map(|m| Bytes::copy_from_slice(m)));
    argv
}

/// SPOP key [count]; logged as `SREM key m...`, or `DEL key` when the whole set went.
pub fn spop(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    match ctx.argv.len() {
        2 => {
            let (popped, emptied) = write_set(ctx, None, |s| {
                let Some(s) = s else {
                    return Ok(((None, false), false));
                };
                let p = random_positions(s.len(), 1, false);
                let m = p.first().and_then(|&p| s.remove_at(p));
                let changed = m.is_some();
                Ok(((m, s.is_empty()), changed))
            })?;
            if popped.is_some() {
                ctx.notify(ev::SET, "spop", &key);
                if emptied {
                    ctx.notify(ev::GENERIC, "del", &key);
                }
            }
            match popped {
                Some(m) => {
                    ctx.log(srem_argv(&key, std::slice::from_ref(&m)));
                    ctx.out.bulk(&m);
                }
                None => ctx.out.null(),
            }
            Ok(())
        }
        3 => {
            let count = parse_int(ctx.arg(2))
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(CommandError::ValueNotPositive)? as u64;
            let (popped, all) = write_set(ctx, None, |s| {
                let Some(s) = s.filter(|_| count > 0) else {
                    return Ok(((Vec::new(), false), false));
                };
                if count >= s.len() as u64 {
                    let all: Vec<SmallBytes> = s.iter().cloned().collect();
                    s.members = Default::default();
                    return Ok(((all, true), true));
                }
                let mut out = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let p = random_positions(s.len(), 1, false);
                    if let Some(m) = p.first().and_then(|&p| s.remove_at(p)) {
                        out.push(m);
                    }
                }
                Ok(((out, false), true))
            })?;
            if !popped.is_empty() {
                ctx.notify(ev::SET, "spop", &key);
                if all {
                    ctx.notify(ev::GENERIC, "del", &key);
                }
            }
            if all {
                ctx.log(vec![Bytes::from_static(b"DEL"), key]);
            } else if !popped.is_empty() {
                ctx.log(srem_argv(&key, &popped));
            }
            ctx.out.set(popped.len());
            for m in &popped {
                ctx.out.bulk(m);
            }
            Ok(())
        }
        _ => Err(CommandError::Syntax),
    }
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx) -> CmdResult {
    let (src, dst, member) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let now = ctx.now_ms;
    let lim = limits(ctx);
    let db = ctx.db();
    let mut set = db.lock_many(&[src, dst]);
    let (hs, hd) = (set.hash(src), set.hash(dst));
    let src_kind = set
        .shard(hs)
        .get_live(hs, src, now)
        .map(|e| match &e.value {
            Value::Set(s) => Some(s.contains(member)),
            _ => None,
        });
    let Some(src_has) = src_kind else {
        ctx.out.int(0);
        return Ok(());
    };
    let dst_ok = set
        .shard(hd)
        .get_live(hd, dst, now)
        .is_none_or(|e| matches!(e.value, Value::Set(_)));
    let (Some(src_has), true) = (src_has, dst_ok) else {
        return Err(CommandError::WrongType);
    };
    if src == dst || !src_has {
        ctx.out.int(src_has as i64);
        return Ok(());
    }
    // Remove from the source (deleting it if emptied), then add to the destination.
    let shard = set.shard(hs);
    ctx.reap(shard, hs, src);
    let emptied = match shard.get_mut(hs, src) {
        Some(e) => {
            let Value::Set(s) = &mut e.value else {
                return Err(CommandError::WrongType);
            };
            s.remove(member);
            let empty = s.is_empty();
            if !empty {
                ctx.stamp(e);
            }
            empty
        }
        None => false,
    };
    if emptied {
        ctx.delete(shard, hs, src);
    }
    ctx.notify(ev::SET, "srem", src);
    if emptied {
        ctx.notify(ev::GENERIC, "del", src);
    }
    let shard = set.shard(hd);
    ctx.reap(shard, hd, dst);
    let added = match shard.get_mut(hd, dst) {
        Some(e) => {
            let added = match &mut e.value {
                Value::Set(s) => s.add(member, &lim),
                _ => false,
            };
            if added {
                ctx.stamp(e);
            }
            added
        }
        None => {
            let mut s = SetValue::new_for(member, 1, &lim);
            s.add(member, &lim);
            ctx.upsert(shard, hd, dst, Value::Set(Box::new(s)), Ttl::Keep);
            true
        }
    };
    if added {
        ctx.notify(ev::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

/// The algebra operations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The live set at `k` in locked shards, if it is one.
fn live_set<'s>(set: &'s mut ShardSet<'_>, k: &[u8], now: u64) -> Option<&'s SetValue> {
    let h = set.hash(k);
    match set.shard(h).get_live(h, k, now).map(|e| &e.value) {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    }
}

/// Computes `op` over the sets at `keys` (missing keys are empty sets) and stores the result at `dst`
/// when given (deleting `dst` for an empty result), all under one lock of the shards involved. Returns
/// the members in reply order: the smallest set's order for an intersection, and for union and
/// difference the order of a set built as Redis builds it (an intset converting as it grows, so small
/// integer results come out sorted). `limit` (SINTERCARD) caps an intersection; 0 = none.
fn algebra(
    ctx: &mut Ctx,
    op: Op,
    keys: &[Bytes],
    dst: Option<&Bytes>,
    limit: usize,
) -> Result<Vec<SmallBytes>, CommandError> {
    let now = ctx.now_ms;
    let lim = limits(ctx);
    let db = ctx.db();
    let mut all: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    if let Some(d) = dst {
        all.push(d);
    }
    let mut set = db.lock_many(&all);
    let mut sizes = Vec::with_capacity(keys.len());
    for k in keys {
        let h = set.hash(k);
        let size = match set.shard(h).get_live(h, k, now) {
            None => None,
            Some(e) => match &e.value {
                Value::Set(s) => Some(s.len()),
                _ => return Err(CommandError::WrongType),
            },
        };
        ctx.hit(size.is_some(), k);
        sizes.push(size);
    }
    let members: Vec<SmallBytes> = match op {
        Op::Inter if sizes.iter().any(Option::is_none) => Vec::new(),
        Op::Inter => {
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by_key(|&i| sizes[i]);
            let first = &keys[order[0]];
            let mut cand: Vec<SmallBytes> = live_set(&mut set, first, now)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            for &i in &order[1..] {
                if cand.is_empty() {
                    break;
                }
                if keys[i] == *first {
                    continue;
                }
                if let Some(s) = live_set(&mut set, &keys[i], now) {
                    cand.retain(|m| s.contains(m));
                }
            }
            if limit > 0 {
                cand.truncate(limit);
            }
            cand
        }
        Op::Union | Op::Diff => {
            let mut result = SetValue::new_intset();
            let sources = if op == Op::Union { keys } else { &keys[..1] };
            for k in sources {
                if let Some(s) = live_set(&mut set, k, now) {
                    for m in s.iter() {
                        result.add(m, &lim);
                    }
                }
            }
            if op == Op::Diff {
                for k in &keys[1..] {
                    if result.is_empty() {
                        break;
                    }
                    if let Some(s) = live_set(&mut set, k, now) {
                        for m in s.iter() {
                            result.remove(m);
                        }
                    }
                }
            }
            result.iter().cloned().collect()
        }
    };
    if let Some(d) = dst {
        let h = set.hash(d);
        let shard = set.shard(h);
        ctx.reap(shard, h, d);
        if members.is_empty() {
            if ctx.delete(shard, h, d) {
                ctx.notify(ev::GENERIC, "del", d);
            }
        } else {
            let mut stored = SetValue::new_intset();
            for m in &members {
                stored.add(m, &lim);
            }
            ctx.upsert(shard, h, d, Value::Set(Box::new(stored)), Ttl::Clear);
            let event = match op {
                Op::Inter => "sinterstore",
                Op::Union => "sunionstore",
                Op::Diff => "sdiffstore",
            };
            ctx.notify(ev::SET, event, d);
        }
    }
    Ok(members)
}

fn reply_members(out: &mut ReplyBuf, members: &[SmallBytes]) {
    out.set(members.len());
    for m in members {
        out.bulk(m);
    }
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx) -> CmdResult {
    let r = algebra(ctx, Op::Inter, &ctx.argv[1..], None, 0)?;
    reply_members(ctx.out, &r);
    Ok(())
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx) -> CmdResult {
    let r = algebra(ctx, Op::Union, &ctx.argv[1..], None, 0)?;
    reply_members(ctx.out, &r);
    Ok(())
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx) -> CmdResult {
    let r = algebra(ctx, Op::Diff, &ctx.argv[1..], None, 0)?;
    reply_members(ctx.out, &r);
    Ok(())
}

fn store(ctx: &mut Ctx, op: Op) -> CmdResult {
    let r = algebra(ctx, op, &ctx.argv[2..], Some(&ctx.argv[1]), 0)?;
    ctx.out.int(r.len() as i64);
    Ok(())
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    store(ctx, Op::Inter)
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    store(ctx, Op::Union)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    store(ctx, Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let numkeys = parse_int(ctx.arg(1))
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(CommandError::NumkeysNotPositive)?;
    let rest = ctx.argv.len() as i64 - 2;
    if numkeys > rest {
        return Err(CommandError::NumkeysExceedArgs);
    }
    let first_opt = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut j = first_opt;
    while j < ctx.argv.len() {
        if is_kw(ctx.arg(j), "LIMIT") && j + 1 < ctx.argv.len() {
            j += 1;
            limit = parse_int(ctx.arg(j))
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(CommandError::LimitNegative)? as usize;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let r = algebra(ctx, Op::Inter, &ctx.argv[2..first_opt], None, limit)?;
    ctx.out.int(r.len() as i64);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A small set (intset or listpack) is returned whole with cursor 0, as Redis does; a big one is walked
/// with the `Dense` cursor (see keyspace/types/set.rs for the guarantee).
pub fn sscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_scan_cursor(ctx.arg(2))?;
    let argv = ctx.argv;
    let mut err = None;
    read_set(ctx, |s, out| {
        let Some(s) = s else {
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
        if s.members.is_indexed() {
            next = s.members.scan(cursor, count, |m| visited.push(m));
        } else {
            visited.extend(s.iter());
        }
        let found: Vec<_> = visited
            .into_iter()
            .filter(|m| pattern.is_none_or(|p| glob_match(p, m, false)))
            .collect();
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next).as_bytes());
        out.array(found.len());
        for m in found {
            out.bulk(m);
        }
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
