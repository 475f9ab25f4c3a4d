//! Pops and blocking pops: ZPOPMIN, ZPOPMAX, ZMPOP, BZPOPMIN, BZPOPMAX and BZMPOP. Each is logged as the
//! ZPOPMIN / ZPOPMAX it amounts to, as Redis propagates it; a blocking pop with every key empty parks the
//! client on its keys until a write makes one ready
//! (a null array on timeout).

use bytes::Bytes;

use crate::commands::{CmdResult, CommandError, Ctx, is_kw};
use crate::keyspace::SmallBytes;
use crate::state::blocking::TimeoutReply;

use super::scores::{parse_long_in, reply_score};
use super::{emit_pairs, modify};

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
            CommandError::ValueNotPositive,
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
    let numkeys = parse_long_in(&argv[at], 1, i64::MAX, CommandError::NumkeysNotPositive)?;
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
            count = parse_long_in(&argv[j + 1], 1, i64::MAX, CommandError::CountNotPositive)?;
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
