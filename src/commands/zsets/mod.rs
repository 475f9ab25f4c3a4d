//! Sorted-set commands (the `sorted_set` group): ZADD and friends, the range family (ZRANGE with its
//! BYSCORE / BYLEX / REV / LIMIT forms and the older ZRANGEBY* / ZREV* commands), removals by range,
//! pops, ZRANDMEMBER, the set algebra (ZUNION / ZINTER / ZDIFF with and without STORE, ZINTERCARD), and
//! ZSCAN. Replies, their RESP3 types and every error string follow Redis 7.0 (ZRANK / ZREVRANK also take
//! 7.2's WITHSCORE). Scores are written the way Redis 7.0 writes doubles (`%.17g`, `inf`, `-inf`).
//!
//! The value itself lives in `keyspace::types::zset`; this module parses, locks, applies and replies.
//!
//! **Layout.** `scores` parses and formats scores; `writes` is ZADD / ZINCRBY / ZREM; `reads` the point
//! reads, ZRANDMEMBER and ZSCAN; `ranges` the intervals, the ZRANGE family and removals by range; `pops`
//! the pops and blocking pops; `algebra` ZUNION / ZINTER / ZDIFF, their STORE forms and ZINTERCARD. This
//! file re-exports the handlers (the specs name them `zsets::<name>`) and holds what several of them
//! share: the recurring errors, the read / modify / store access to the keyspace (where a write takes its
//! revision) and the reply writers.

mod algebra;
mod pops;
mod ranges;
mod reads;
mod scores;
mod writes;

pub use algebra::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
pub use pops::{bzmpop, bzpopmax, bzpopmin, zmpop, zpopmax, zpopmin};
pub use ranges::{
    zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex, zremrangebyrank,
    zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
pub use reads::{zcard, zcount, zlexcount, zmscore, zrandmember, zrank, zrevrank, zscan, zscore};
pub use scores::{format_score, parse_score};
pub use writes::{zadd, zincrby, zrem};

use bytes::Bytes;
use hashbrown::HashMap;

use super::{CommandError, Ctx, Ttl};
use crate::keyspace::types::ZSetValue;
use crate::keyspace::{ShardSet, SmallBytes, Value};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;

use scores::reply_score;

fn err(msg: &str) -> CommandError {
    CommandError::Custom(format!("ERR {msg}"))
}

fn not_float_range() -> CommandError {
    err("min or max is not a float")
}

fn not_lex_range() -> CommandError {
    err("min or max not valid string range item")
}

/// The `zset-max-listpack-*` limits.
fn limits(ctx: &Ctx) -> (u64, u64) {
    let c = &ctx.state.config;
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
