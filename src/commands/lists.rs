//! List commands (Redis group `list`): pushes, pops (with counts), LMPOP, LMOVE and RPOPLPUSH, indexed
//! access, LINSERT, LREM, LTRIM, LPOS and LRANGE, and the blocking forms BLPOP, BRPOP, BLMPOP, BLMOVE and
//! BRPOPLPUSH, with Redis 7.0's argument order of checks and byte-exact errors.
//!
//! Every write reaps an expired key first, stamps a real change with the command's revision (a no-op such
//! as an LTRIM that keeps everything takes none) and deletes a list it empties. Reads count keyspace
//! hits and misses and refresh the access time as Redis's read lookup does. Replies are written straight
//! from the list into the reply buffer while the shard is locked: one copy of the requested range, no
//! allocation per element. Pops from several keys log themselves as `LPOP|RPOP key [n]` and the blocking
//! moves as LMOVE/RPOPLPUSH, the forms Redis propagates. A blocking command that finds nothing parks on
//! its keys through `Ctx::block_on` (the wait lists live in server/blocking.rs); list creations wake it.

use bytes::Bytes;

use super::typed::{impl_typed, read_typed};
use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::types::ListValue;
use crate::keyspace::types::list::End;
use crate::keyspace::{Entry, Value};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;
use crate::state::blocking::TimeoutReply;

fn list_of(e: &Entry) -> Result<&ListValue, CommandError> {
    match &e.value {
        Value::List(l) => Ok(l),
        _ => Err(CommandError::WrongType),
    }
}

fn list_of_mut(e: &mut Entry) -> Result<&mut ListValue, CommandError> {
    match &mut e.value {
        Value::List(l) => Ok(l),
        _ => Err(CommandError::WrongType),
    }
}

impl_typed!(ListValue, List);

/// Runs `f` on the live list at `key` (None if absent), holding the shard lock; WRONGTYPE for another
/// type. Counts a keyspace hit or miss and refreshes the access time, as Redis's read lookup does.
fn read_list<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&ListValue>, &mut ReplyBuf) -> Result<R, CommandError>,
) -> Result<R, CommandError> {
    read_typed(ctx, key, f)?
}

/// Runs `f` on the list at `key` for writing (None if absent). `f` returns its result and whether it
/// changed the list: a change takes the revision, a list left empty is deleted.
fn write_list<R>(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(Option<&mut ListValue>, &mut ReplyBuf) -> Result<(R, bool), CommandError>,
) -> Result<R, CommandError> {
    let lru = ctx.lru();
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(e) = shard.get_mut(hash, key) else {
        return Ok(f(None, ctx.out)?.0);
    };
    e.access_s = lru;
    let l = list_of_mut(e)?;
    let (r, changed) = f(Some(l), ctx.out)?;
    if changed {
        ctx.notify(ev::LIST, event, key);
        if l.is_empty() {
            ctx.delete(&mut shard, hash, key);
            ctx.notify(ev::GENERIC, "del", key);
        } else {
            ctx.stamp(e);
        }
    }
    Ok(r)
}

/// Parses LEFT or RIGHT (any case); a syntax error otherwise.
fn parse_end(arg: &[u8]) -> Result<End, CommandError> {
    if is_kw(arg, "left") {
        Ok(End::Left)
    } else if is_kw(arg, "right") {
        Ok(End::Right)
    } else {
        Err(CommandError::Syntax)
    }
}

/// Redis's getRangeLongFromObjectOrReply with a message: `bad` for a non-integer or a value under `min`.
fn parse_at_least(arg: &[u8], min: i64, bad: CommandError) -> Result<i64, CommandError> {
    match crate::util::numbers::parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(bad),
    }
}

/// Writes the elements `start..=end` of `l` as an array, tail first when `reverse`.
fn reply_range(out: &mut ReplyBuf, l: &ListValue, range: Option<(usize, usize)>, reverse: bool) {
    match range {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            for x in l.iter_range(s, e, reverse) {
                out.bulk(x);
            }
        }
    }
}

/// Pops up to `n` elements from `end` of `l`, replying with them as an array in pop order.
fn pop_many(out: &mut ReplyBuf, l: &mut ListValue, end: End, n: usize) -> usize {
    let n = n.min(l.len());
    if n == 0 {
        out.array(0);
        return 0;
    }
    let range = match end {
        End::Left => (0, n - 1),
        End::Right => (l.len() - n, l.len() - 1),
    };
    reply_range(out, l, Some(range), end == End::Right);
    l.drop_end(end, n);
    n
}

fn push(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let elements = &argv[2..];
    let lru = ctx.lru();
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let len = match shard.get_mut(hash, key) {
        Some(e) => {
            let l = list_of_mut(e)?;
            for x in elements {
                l.push(end, x);
            }
            let len = l.len();
            ctx.stamp(e);
            e.access_s = lru;
            len
        }
        None if only_existing => 0,
        None => {
            let mut l = ListValue::default();
            for x in elements {
                l.push(end, x);
            }
            let len = l.len();
            ctx.upsert(&mut shard, hash, key, Value::List(Box::new(l)), Ttl::Keep);
            len
        }
    };
    drop(shard);
    if len > 0 {
        ctx.notify(
            ev::LIST,
            if end == End::Left { "lpush" } else { "rpush" },
            key,
        );
    }
    ctx.out.int(len as i64);
    Ok(())
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Left, false)
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Right, false)
}

/// LPUSHX key element [element ...]: only onto an existing list.
pub fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Left, true)
}

/// RPUSHX key element [element ...]: only onto an existing list.
pub fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Right, true)
}

fn pop(ctx: &mut Ctx, end: End) -> CmdResult {
    if ctx.argv.len() > 3 {
        return Err(CommandError::WrongArity {
            command: ctx.spec.name.to_string(),
        });
    }
    let count = match ctx.argv.get(2) {
        Some(a) => Some(parse_at_least(a, 0, CommandError::ValueNotPositive)?),
        None => None,
    };
    let event = if end == End::Left { "lpop" } else { "rpop" };
    write_list(ctx, ctx.arg(1), event, |l, out| {
        let Some(l) = l else {
            match count {
                Some(_) => out.null_array(),
                None => out.null(),
            }
            return Ok(((), false));
        };
        match count {
            None => {
                match l.pop(end) {
                    Some(x) => out.bulk(&x),
                    None => out.null(),
                }
                Ok(((), true))
            }
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                Ok(((), pop_many(out, l, end, n) > 0))
            }
        }
    })
}

/// LPOP key [count]: a bulk string without count, an array with one (empty for count 0).
pub fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Left)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Right)
}

/// LLEN key
pub fn llen(ctx: &mut Ctx) -> CmdResult {
    let n = read_list(ctx, ctx.arg(1), |l, _| Ok(l.map_or(0, |l| l.len())))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx) -> CmdResult {
    let start = parse_int(ctx.arg(2))?;
    let stop = parse_int(ctx.arg(3))?;
    read_list(ctx, ctx.arg(1), |l, out| {
        match l {
            None => out.array(0),
            Some(l) => reply_range(out, l, l.range(start, stop), false),
        }
        Ok(())
    })
}

/// LINDEX key index: the key is looked up (and type-checked) before the index is parsed, as in Redis.
pub fn lindex(ctx: &mut Ctx) -> CmdResult {
    let index = ctx.arg(2);
    read_list(ctx, ctx.arg(1), |l, out| {
        let Some(l) = l else {
            out.null();
            return Ok(());
        };
        match l.get(parse_int(index)?) {
            Some(x) => out.bulk(x),
            None => out.null(),
        }
        Ok(())
    })
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx) -> CmdResult {
    let (index, element) = (ctx.arg(2), ctx.arg(3));
    write_list(ctx, ctx.arg(1), "lset", |l, out| {
        let l = l.ok_or(CommandError::NoSuchKey)?;
        if !l.set(parse_int(index)?, element) {
            return Err(CommandError::IndexOutOfRange);
        }
        out.ok();
        Ok(((), true))
    })
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without the key.
pub fn linsert(ctx: &mut Ctx) -> CmdResult {
    let before = if is_kw(ctx.arg(2), "before") {
        true
    } else if is_kw(ctx.arg(2), "after") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let (pivot, element) = (ctx.arg(3), ctx.arg(4));
    let n = write_list(ctx, ctx.arg(1), "linsert", |l, _| {
        let Some(l) = l else { return Ok((0, false)) };
        if l.insert(before, pivot, element) {
            Ok((l.len() as i64, true))
        } else {
            Ok((-1, false))
        }
    })?;
    ctx.out.int(n);
    Ok(())
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx) -> CmdResult {
    let count = parse_int(ctx.arg(2))?;
    let element = ctx.arg(3);
    let n = write_list(ctx, ctx.arg(1), "lrem", |l, _| {
        let removed = l.map_or(0, |l| l.remove(count, element));
        Ok((removed, removed > 0))
    })?;
    ctx.out.int(n as i64);
    Ok(())
}

/// LTRIM key start stop: OK whether or not the key exists; a list trimmed to nothing is deleted.
pub fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let start = parse_int(ctx.arg(2))?;
    let stop = parse_int(ctx.arg(3))?;
    write_list(ctx, ctx.arg(1), "ltrim", |l, _| {
        let removed = l.map_or(0, |l| l.trim(start, stop));
        Ok(((), removed > 0))
    })?;
    ctx.out.ok();
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        let opt = &argv[i][..];
        if is_kw(opt, "rank") && more {
            i += 1;
            // Redis 7.0 negates the rank as a C long; i64::MIN is refused as later versions do.
            rank = parse_int(&argv[i])?;
            if rank == i64::MIN {
                return Err(CommandError::ValueOutOfRangeBetween {
                    min: -i64::MAX,
                    max: i64::MAX,
                });
            }
            if rank == 0 {
                return Err(CommandError::Custom(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list"
                        .into(),
                ));
            }
        } else if is_kw(opt, "count") && more {
            i += 1;
            count = Some(parse_at_least(
                &argv[i],
                0,
                CommandError::Custom("ERR COUNT can't be negative".into()),
            )?);
        } else if is_kw(opt, "maxlen") && more {
            i += 1;
            maxlen = parse_at_least(
                &argv[i],
                0,
                CommandError::Custom("ERR MAXLEN can't be negative".into()),
            )?;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let element = ctx.arg(2);
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let want = match count {
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX),
        None => 1,
    };
    let maxlen = usize::try_from(maxlen).unwrap_or(usize::MAX);
    read_list(ctx, &argv[1], |l, out| {
        let found = l.map_or_else(Vec::new, |l| {
            l.positions(element, rank, from_tail, want, maxlen)
        });
        match (count, found.first()) {
            (Some(_), _) => {
                out.array(found.len());
                for p in &found {
                    out.int(*p as i64);
                }
            }
            (None, Some(p)) => out.int(*p as i64),
            (None, None) => out.null(),
        }
        Ok(())
    })
}

/// The part LMOVE, RPOPLPUSH and their blocking forms share: pop from `from` of the source, push onto
/// `to` of the destination and reply with the element. Returns false, having replied nothing, when the
/// source does not exist.
fn lmove_generic(ctx: &mut Ctx, from: End, to: End) -> Result<bool, CommandError> {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let lru = ctx.lru();
    let mut set = ctx.db().lock_many(&[src, dst]);
    let (hs, hd) = (set.hash(src), set.hash(dst));
    ctx.reap(set.shard(hs), hs, src);
    let Some(e) = set.shard(hs).get_mut(hs, src) else {
        return Ok(false);
    };
    list_of(e)?;
    if src == dst {
        // A rotation within one list: one change to one key.
        e.access_s = lru;
        let l = list_of_mut(e)?;
        let Some(x) = l.pop(from) else {
            return Ok(false);
        };
        l.push(to, &x);
        ctx.stamp(e);
        drop(set);
        notify_move(ctx, from, to, false);
        ctx.out.bulk(&x);
        return Ok(true);
    }
    ctx.reap(set.shard(hd), hd, dst);
    if let Some(d) = set.shard(hd).get(hd, dst) {
        list_of(d)?;
    }
    let Some(e) = set.shard(hs).get_mut(hs, src) else {
        return Ok(false);
    };
    e.access_s = lru;
    let l = list_of_mut(e)?;
    let Some(x) = l.pop(from) else {
        return Ok(false);
    };
    let emptied = l.is_empty();
    if l.is_empty() {
        ctx.delete(set.shard(hs), hs, src);
    } else {
        ctx.stamp(e);
    }
    match set.shard(hd).get_mut(hd, dst) {
        Some(d) => {
            d.access_s = lru;
            list_of_mut(d)?.push(to, &x);
            ctx.stamp(d);
        }
        None => {
            let l: ListValue = std::iter::once(x.clone()).collect();
            ctx.upsert(set.shard(hd), hd, dst, Value::List(Box::new(l)), Ttl::Keep);
        }
    }
    drop(set);
    notify_move(ctx, from, to, emptied);
    ctx.out.bulk(&x);
    Ok(true)
}

/// LMOVE's events, in Redis's order: the push onto the destination, the pop from the source, and `del`
/// when the source was emptied.
fn notify_move(ctx: &mut Ctx, from: End, to: End, emptied: bool) {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    ctx.notify(
        ev::LIST,
        if to == End::Left { "lpush" } else { "rpush" },
        dst,
    );
    ctx.notify(
        ev::LIST,
        if from == End::Left { "lpop" } else { "rpop" },
        src,
    );
    if emptied {
        ctx.notify(ev::GENERIC, "del", src);
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.arg(3))?;
    let to = parse_end(ctx.arg(4))?;
    if !lmove_generic(ctx, from, to)? {
        ctx.out.null();
    }
    Ok(())
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    if !lmove_generic(ctx, End::Right, End::Left)? {
        ctx.out.null();
    }
    Ok(())
}

/// The blocking move: moves at once when the source exists, else parks on the source. Redis replies a
/// null *array* on timeout but a null bulk string where it may not block (MULTI, scripts).
fn blmove_generic(
    ctx: &mut Ctx,
    from: End,
    to: End,
    deadline: u64,
    logged: Vec<Bytes>,
) -> CmdResult {
    if lmove_generic(ctx, from, to)? {
        ctx.log(logged);
        return Ok(());
    }
    let reply = if ctx.txn.may_block {
        TimeoutReply::NullArray
    } else {
        TimeoutReply::Null
    };
    let src = ctx.argv[1].clone();
    ctx.block_on(vec![src], deadline, reply);
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout: logged as the LMOVE it performed.
pub fn blmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.arg(3))?;
    let to = parse_end(ctx.arg(4))?;
    let deadline = ctx.parse_block_timeout(ctx.arg(5))?;
    let mut logged = ctx.argv[..5].to_vec();
    logged[0] = Bytes::from_static(b"LMOVE");
    blmove_generic(ctx, from, to, deadline, logged)
}

/// BRPOPLPUSH source destination timeout: logged as RPOPLPUSH.
pub fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let deadline = ctx.parse_block_timeout(ctx.arg(3))?;
    let logged = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        ctx.argv[1].clone(),
        ctx.argv[2].clone(),
    ];
    blmove_generic(ctx, End::Right, End::Left, deadline, logged)
}

/// Pops from the first non-empty list among `keys`: one element replied as `[key, element]` when
/// `count` is None (BLPOP), else up to `count` as `[key, [elements]]` (LMPOP). Logs the pop as
/// `LPOP|RPOP key [n]`, the form Redis propagates. Returns false, having replied nothing, when every
/// key is missing; WRONGTYPE stops at the first key holding another type.
fn pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: Option<usize>,
) -> Result<bool, CommandError> {
    let lru = ctx.lru();
    let mut set = ctx.db().lock_many(keys);
    for key in keys {
        let h = set.hash(key);
        ctx.reap(set.shard(h), h, key);
        let Some(e) = set.shard(h).get_mut(h, key) else {
            continue;
        };
        e.access_s = lru;
        let l = list_of_mut(e)?;
        if l.is_empty() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        let n = match count {
            Some(count) => pop_many(ctx.out, l, end, count),
            None => {
                if let Some(x) = l.pop(end) {
                    ctx.out.bulk(&x);
                }
                1
            }
        };
        let emptied = l.is_empty();
        if l.is_empty() {
            ctx.delete(set.shard(h), h, key);
        } else {
            ctx.stamp(e);
        }
        drop(set);
        ctx.notify(
            ev::LIST,
            if end == End::Left { "lpop" } else { "rpop" },
            key,
        );
        if emptied {
            ctx.notify(ev::GENERIC, "del", key);
        }
        let name: &'static [u8] = match end {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        };
        let mut logged = vec![Bytes::from_static(name), key.clone()];
        if count.is_some() {
            logged.push(Bytes::from(n.to_string()));
        }
        ctx.log(logged);
        return Ok(true);
    }
    Ok(false)
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at `argv[at]`: the keys, the end and
/// the count (1 when absent), with Redis's errors and their order.
fn parse_mpop(argv: &[Bytes], at: usize) -> Result<(&[Bytes], End, usize), CommandError> {
    let numkeys = parse_at_least(&argv[at], 1, CommandError::NumkeysNotPositive)?;
    // The keys, then at least the direction: more keys than arguments is a syntax error.
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len().saturating_sub(at + 2) {
        return Err(CommandError::Syntax);
    }
    let keys = &argv[at + 1..at + 1 + numkeys];
    let end = parse_end(&argv[at + 1 + numkeys])?;
    let mut count: Option<i64> = None;
    let mut i = at + 2 + numkeys;
    while i < argv.len() {
        if count.is_none() && is_kw(&argv[i], "count") && i + 1 < argv.len() {
            count = Some(parse_at_least(
                &argv[i + 1],
                1,
                CommandError::CountNotPositive,
            )?);
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok((keys, end, count))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: `[key, [elements]]` from the first non-empty
/// list, nil when none; logged as `LPOP|RPOP key n`.
pub fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = parse_mpop(ctx.argv, 1)?;
    if !pop_first(ctx, keys, end, Some(count))? {
        ctx.out.null_array();
    }
    Ok(())
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the timeout is checked after the
/// other arguments, as in Redis.
pub fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = parse_mpop(ctx.argv, 2)?;
    let deadline = ctx.parse_block_timeout(ctx.arg(1))?;
    if !pop_first(ctx, keys, end, Some(count))? {
        ctx.block_on(keys.to_vec(), deadline, TimeoutReply::NullArray);
    }
    Ok(())
}

fn bpop(ctx: &mut Ctx, end: End) -> CmdResult {
    let argv = ctx.argv;
    let deadline = ctx.parse_block_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    if !pop_first(ctx, keys, end, None)? {
        ctx.block_on(keys.to_vec(), deadline, TimeoutReply::NullArray);
    }
    Ok(())
}

/// BLPOP key [key ...] timeout: `[key, element]`, logged as `LPOP key`.
pub fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Left)
}

/// BRPOP key [key ...] timeout: `[key, element]`, logged as `RPOP key`.
pub fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_case_insensitive_and_anything_else_is_a_syntax_error() {
        assert_eq!(parse_end(b"left"), Ok(End::Left));
        assert_eq!(parse_end(b"RiGhT"), Ok(End::Right));
        assert_eq!(parse_end(b"up"), Err(CommandError::Syntax));
        assert_eq!(parse_end(b""), Err(CommandError::Syntax));
    }

    #[test]
    fn bounded_integers_use_the_one_message_for_junk_and_for_small_values() {
        let e = CommandError::CountNotPositive;
        assert_eq!(parse_at_least(b"3", 1, e.clone()), Ok(3));
        for bad in [&b"0"[..], b"-1", b"x", b"1.5", b"", b"99999999999999999999"] {
            assert_eq!(parse_at_least(bad, 1, e.clone()), Err(e.clone()));
        }
    }

    #[test]
    fn counted_pops_reply_in_pop_order_and_shorten_the_list() {
        let mut l: ListValue = ["a", "b", "c"]
            .iter()
            .map(|s| crate::keyspace::SmallBytes::new(s.as_bytes()))
            .collect();
        let mut out = ReplyBuf::new(crate::protocol::Resp::V2);
        assert_eq!(pop_many(&mut out, &mut l, End::Right, 2), 2);
        assert_eq!(out.buf, b"*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
        assert_eq!(l.len(), 1);
        let mut out = ReplyBuf::new(crate::protocol::Resp::V2);
        assert_eq!(pop_many(&mut out, &mut l, End::Left, 0), 0);
        assert_eq!(out.buf, b"*0\r\n");
    }
}
