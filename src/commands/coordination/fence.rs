//! FENCED (run a command only while a lock is still held with a given fencing token) and FENCE.CHECK
//! (the same check for storage outside Concord).

use bytes::Bytes;

use super::u64_arg;
use crate::commands::table::flags;
use crate::commands::{CmdResult, CommandError, Ctx, Ttl, resolve, run_in_unit};
use crate::keyspace::Value;
use crate::notify::class as ev;
use crate::util::numbers::parse_i64;

/// FENCED lockkey token command [arg ...]: runs `command` atomically if `lockkey` is held with `token`.
/// It runs isolated (the exclusive exec lock, as EXEC), so no write can come between the check and the
/// command; blocking commands do not block, as inside MULTI.
pub fn fenced(ctx: &mut Ctx) -> CmdResult {
    let token = u64_arg(&ctx.argv[2])?;
    let inner: &[Bytes] = &ctx.argv[3..];
    let spec = resolve(inner)?;
    if !spec.arity_ok(inner.len()) {
        return Err(CommandError::WrongArity {
            command: spec.name.to_string(),
        });
    }
    let forbidden = spec.has(flags::NO_MULTI)
        || spec.has(flags::CONCORD_NOT_QUEUED)
        || (spec.has(flags::CONCORD_SUBSCRIBE_MODE) && !spec.name.eq_ignore_ascii_case("ping"))
        || spec.name.eq_ignore_ascii_case("fenced");
    let Some(handler) = spec.handler.filter(|_| !forbidden) else {
        return Err(CommandError::FencedForbidden {
            command: spec.name.to_string(),
        });
    };
    let db = ctx.client.db;
    let key = ctx.argv[1].clone();
    if !super::lock::holds_token(ctx, db, &key, token)? {
        return Err(CommandError::Fenced {
            token: token.to_string(),
            key: String::from_utf8_lossy(&key).into_owned(),
        });
    }
    ctx.txn.may_block = false;
    let inner = inner.to_vec();
    let result = run_in_unit(ctx, spec, handler, &inner, None);
    // The wrapped command recorded itself; FENCED adds no record of its own.
    ctx.log_nothing();
    result
}

/// FENCE.CHECK resource token: 1 if `token` is at least the highest seen for `resource` (and it is
/// now the highest), 0 if it is stale. The highest token is the string value of the key `resource`.
pub fn check(ctx: &mut Ctx) -> CmdResult {
    let token = u64_arg(&ctx.argv[2])?;
    let key = ctx.argv[1].clone();
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let seen = match shard.get(hash, &key) {
        None => None,
        Some(e) => match e.value.as_str() {
            None => return Err(CommandError::WrongType),
            Some(mut s) => match s.with(parse_i64) {
                Some(n) if n >= 0 => Some(n as u64),
                _ => return Err(CommandError::NotInteger),
            },
        },
    };
    let fresh = seen.is_none_or(|s| token >= s);
    if seen.is_none_or(|s| token > s) {
        let value = super::int_arg(token);
        ctx.upsert(&mut shard, hash, &key, Value::string(&value), Ttl::Keep);
        drop(shard);
        ctx.notify(ev::STRING, "set", &key);
        super::record(ctx, || {
            vec![
                Bytes::from_static(b"SET"),
                key,
                value,
                Bytes::from_static(b"KEEPTTL"),
            ]
        });
    } else {
        drop(shard);
    }
    ctx.out.int(fresh as i64);
    Ok(())
}
