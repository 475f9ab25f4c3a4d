//! DUMP and RESTORE: a key's value as a Redis 7.0-compatible DUMP payload (`keyspace::rdb` owns the format)
//! and back, with Redis's options (REPLACE, ABSTTL, IDLETIME, FREQ) and errors. RESTORE is logged as
//! `RESTORE key <absolute ms or 0> payload ABSTTL [REPLACE]`, so replaying it later gives the same key
//! with the same expiry.

use bytes::Bytes;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::rdb;
use crate::keyspace::types::hash::HashLimits;
use crate::keyspace::types::set::SetLimits;
use crate::keyspace::types::stream::NodeLimits;
use crate::notify::class as ev;

/// The encoding limits a restored value is shaped by, from the config.
fn limits(ctx: &Ctx) -> rdb::Limits {
    let c = &ctx.state.config;
    rdb::Limits {
        hash: HashLimits {
            listpack_entries: c.get_u64("hash-max-listpack-entries"),
            listpack_value: c.get_u64("hash-max-listpack-value"),
        },
        set: SetLimits {
            intset_entries: c.get_u64("set-max-intset-entries"),
            listpack_entries: c.get_u64("set-max-listpack-entries"),
            listpack_value: c.get_u64("set-max-listpack-value"),
        },
        zset: (
            c.get_u64("zset-max-listpack-entries"),
            c.get_u64("zset-max-listpack-value"),
        ),
        stream: NodeLimits {
            max_entries: c.get_u64("stream-node-max-entries"),
            max_bytes: c.get_u64("stream-node-max-bytes"),
        },
    }
}

/// DUMP key: the serialized value, or nil when the key does not exist.
pub fn dump(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let (hash, shard) = ctx.db().lock_key(key);
    let payload = shard
        .get_live(hash, key, ctx.now_ms)
        .map(|e| rdb::dump(&e.value));
    drop(shard);
    ctx.hit(payload.is_some(), key);
    match payload {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
pub fn restore(ctx: &mut Ctx) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < ctx.argv.len() {
        let a = ctx.arg(j);
        let more = j + 1 < ctx.argv.len();
        if is_kw(a, "REPLACE") {
            replace = true;
        } else if is_kw(a, "ABSTTL") {
            absttl = true;
        } else if is_kw(a, "IDLETIME") && more && freq.is_none() {
            let v = parse_int(ctx.arg(j + 1))?;
            if v < 0 {
                return Err(CommandError::Custom(
                    "ERR Invalid IDLETIME value, must be >= 0".into(),
                ));
            }
            idle = Some(v);
            j += 1;
        } else if is_kw(a, "FREQ") && more && idle.is_none() {
            let v = parse_int(ctx.arg(j + 1))?;
            if !(0..=255).contains(&v) {
                return Err(CommandError::Custom(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255".into(),
                ));
            }
            // Concord keeps no LFU counter: the frequency is validated and otherwise ignored.
            freq = Some(v);
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let lim = limits(ctx);
    let lru = ctx.lru();
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    if !replace && shard.get(hash, key).is_some() {
        return Err(CommandError::Custom(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = parse_int(ctx.arg(2))?;
    if ttl < 0 {
        return Err(CommandError::Custom(
            "ERR Invalid TTL value, must be >= 0".into(),
        ));
    }
    let payload = ctx.arg(3);
    let value =
        rdb::restore(payload, &lim).map_err(|e| CommandError::Custom(e.message().into()))?;
    let deleted = replace && ctx.delete(&mut shard, hash, key);
    let at = if ttl != 0 && !absttl {
        (ttl as u64).saturating_add(ctx.now_ms)
    } else {
        ttl as u64
    };
    if at != 0 && at <= ctx.now_ms {
        // Already expired: nothing is created; a replaced key is simply gone.
        drop(shard);
        if deleted {
            ctx.log(vec![Bytes::from_static(b"DEL"), ctx.argv[1].clone()]);
            ctx.notify(ev::GENERIC, "del", key);
        } else {
            ctx.log_nothing();
        }
        ctx.out.ok();
        return Ok(());
    }
    let ttl = if at == 0 { Ttl::Clear } else { Ttl::At(at) };
    // `upsert` reports new lists and sorted sets to blocked clients; a new stream serves XREAD too.
    let is_stream = matches!(value, crate::keyspace::Value::Stream(_));
    ctx.upsert(&mut shard, hash, key, value, ttl);
    if is_stream {
        ctx.signal_ready(key);
    }
    if let Some(idle) = idle
        && let Some(e) = shard.get_mut(hash, key)
    {
        e.access_s = lru.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX));
    }
    drop(shard);
    let mut logged = vec![
        Bytes::from_static(b"RESTORE"),
        ctx.argv[1].clone(),
        Bytes::from(at.to_string()),
        ctx.argv[3].clone(),
        Bytes::from_static(b"ABSTTL"),
    ];
    if replace {
        logged.push(Bytes::from_static(b"REPLACE"));
    }
    ctx.log(logged);
    ctx.notify(ev::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
