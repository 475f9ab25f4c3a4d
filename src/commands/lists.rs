//! List commands (Redis group `list`), the non-blocking ones: pushes, pops (with counts), LMPOP, LMOVE and
//! RPOPLPUSH, indexed access, LINSERT, LREM, LTRIM, LPOS and LRANGE, with Redis 7.0's argument order of
//! checks and byte-exact errors.
//!
//! Every write reaps an expired key first, stamps a real change with the command's revision (a no-op such
//! as an LTRIM that keeps everything takes none) and deletes a list it empties. Reads count keyspace
//! hits and misses and refresh the access time as Redis's read lookup does. Replies are written straight
//! from the list into the reply buffer while the shard is locked: one copy of the requested range, no
//! allocation per element. LMPOP logs itself as `LPOP|RPOP key n`, the form Redis propagates.

use bytes::Bytes;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::types::ListValue;
use crate::keyspace::types::list::End;
use crate::keyspace::{Entry, Value};
use crate::protocol::ReplyBuf;

/// Whether reads by this client refresh a key's access time (CLIENT NO-TOUCH turns that off).
fn touches(ctx: &Ctx) -> bool {
    !ctx.client
        .info
        .no_touch
        .load(std::sync::atomic::Ordering::Relaxed)
}

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

/// Runs `f` on the live list at `key` (None if absent), holding the shard lock; WRONGTYPE for another
/// type. Counts a keyspace hit or miss and refreshes the access time, as Redis's read lookup does.
fn read_list<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&ListValue>, &mut ReplyBuf) -> Result<R, CommandError>,
) -> Result<R, CommandError> {
    let (touch, lru) = (touches(ctx), ctx.lru());
    let (hash, mut shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live_mut(hash, key, ctx.now_ms) else {
        drop(shard);
        ctx.hit(false);
        return f(None, ctx.out);
    };
    if touch {
        e.access_s = lru;
    }
    let r = f(Some(list_of(e)?), ctx.out);
    drop(shard);
    ctx.hit(true);
    r
}

/// Runs `f` on the list at `key` for writing (None if absent). `f` returns its result and whether it
/// changed the list: a change takes the revision, a list left empty is deleted.
fn write_list<R>(
    ctx: &mut Ctx,
    key: &[u8],
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
        if l.is_empty() {
            ctx.delete(&mut shard, hash, key);
        } else {
            let rev = ctx.revision();
            e.touch(rev);
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

/// Redis's getRangeLongFromObjectOrReply with a message: `msg` for a non-integer or a value under `min`.
fn parse_at_least(arg: &[u8], min: i64, msg: &str) -> Result<i64, CommandError> {
    match crate::util::numbers::parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(CommandError::Custom(msg.into())),
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
            let rev = ctx.revision();
            e.touch(rev);
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
        Some(a) => Some(parse_at_least(
            a,
            0,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    write_list(ctx, ctx.arg(1), |l, out| {
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
    write_list(ctx, ctx.arg(1), |l, out| {
        let l = l.ok_or(CommandError::NoSuchKey)?;
        if !l.set(parse_int(index)?, element) {
            return Err(CommandError::Custom("ERR index out of range".into()));
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
    let n = write_list(ctx, ctx.arg(1), |l, _| {
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
    let n = write_list(ctx, ctx.arg(1), |l, _| {
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
    write_list(ctx, ctx.arg(1), |l, _| {
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
                return Err(CommandError::Custom(
                    "ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807"
                        .into(),
                ));
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
            count = Some(parse_at_least(&argv[i], 0, "ERR COUNT can't be negative")?);
        } else if is_kw(opt, "maxlen") && more {
            i += 1;
            maxlen = parse_at_least(&argv[i], 0, "ERR MAXLEN can't be negative")?;
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

/// The part LMOVE and RPOPLPUSH share: pop from `from` of the source, push onto `to` of the
/// destination, reply with the element (nil when the source does not exist).
fn lmove_generic(ctx: &mut Ctx, from: End, to: End) -> CmdResult {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let lru = ctx.lru();
    let mut set = ctx.db().lock_many(&[src, dst]);
    let (hs, hd) = (set.hash(src), set.hash(dst));
    ctx.reap(set.shard(hs), hs, src);
    let Some(e) = set.shard(hs).get_mut(hs, src) else {
        drop(set);
        ctx.out.null();
        return Ok(());
    };
    list_of(e)?;
    if src == dst {
        // A rotation within one list: one change to one key.
        e.access_s = lru;
        let l = list_of_mut(e)?;
        let Some(x) = l.pop(from) else {
            ctx.out.null();
            return Ok(());
        };
        l.push(to, &x);
        let rev = ctx.revision();
        e.touch(rev);
        drop(set);
        ctx.out.bulk(&x);
        return Ok(());
    }
    ctx.reap(set.shard(hd), hd, dst);
    if let Some(d) = set.shard(hd).get(hd, dst) {
        list_of(d)?;
    }
    let Some(e) = set.shard(hs).get_mut(hs, src) else {
        ctx.out.null();
        return Ok(());
    };
    e.access_s = lru;
    let l = list_of_mut(e)?;
    let Some(x) = l.pop(from) else {
        ctx.out.null();
        return Ok(());
    };
    if l.is_empty() {
        ctx.delete(set.shard(hs), hs, src);
    } else {
        let rev = ctx.revision();
        e.touch(rev);
    }
    match set.shard(hd).get_mut(hd, dst) {
        Some(d) => {
            let rev = ctx.revision();
            d.access_s = lru;
            list_of_mut(d)?.push(to, &x);
            d.touch(rev);
        }
        None => {
            let l: ListValue = std::iter::once(x.clone()).collect();
            ctx.upsert(set.shard(hd), hd, dst, Value::List(Box::new(l)), Ttl::Keep);
        }
    }
    drop(set);
    ctx.out.bulk(&x);
    Ok(())
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.arg(3))?;
    let to = parse_end(ctx.arg(4))?;
    lmove_generic(ctx, from, to)
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    lmove_generic(ctx, End::Right, End::Left)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: `[key, [elements]]` from the first non-empty
/// list, nil when none; logged as `LPOP|RPOP key n`.
pub fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let numkeys = parse_at_least(&argv[1], 1, "ERR numkeys should be greater than 0")?;
    // The keys, then at least the direction: more keys than arguments is a syntax error.
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len().saturating_sub(3) {
        return Err(CommandError::Syntax);
    }
    let keys = &argv[2..2 + numkeys];
    let end = parse_end(&argv[2 + numkeys])?;
    let mut count: Option<i64> = None;
    let mut i = 3 + numkeys;
    while i < argv.len() {
        if count.is_none() && is_kw(&argv[i], "count") && i + 1 < argv.len() {
            count = Some(parse_at_least(
                &argv[i + 1],
                1,
                "ERR count should be greater than 0",
            )?);
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
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
        let n = pop_many(ctx.out, l, end, count);
        if l.is_empty() {
            ctx.delete(set.shard(h), h, key);
        } else {
            let rev = ctx.revision();
            e.touch(rev);
        }
        drop(set);
        let name: &'static [u8] = match end {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        };
        ctx.log(vec![
            Bytes::from_static(name),
            key.clone(),
            Bytes::from(n.to_string()),
        ]);
        return Ok(());
    }
    drop(set);
    ctx.out.null_array();
    Ok(())
}
