//! The pending entries lists of consumer groups: XACK, XPENDING, XCLAIM and XAUTOCLAIM. Claims read the
//! command's `now_ms` for idle times and delivery times, and log what they changed as absolute XCLAIM
//! records (`TIME <ms>`), so replay never reads the clock.

use crate::commands::{CmdResult, CommandError, Ctx, is_kw, parse_int};
use crate::keyspace::types::stream::{Consumer, Group, StreamEntry, StreamId};
use crate::notify::class as ev;

use super::ids::{parse_range_end, parse_range_start, parse_strict_id};
use super::{
    custom, emit_entry, emit_id, log_all, lossy, nogroup, read_stream, setid_log, stamp,
    stream_mut, xclaim_drop_log, xclaim_log,
};

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let gname = ctx.arg(2);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(g) = s.groups.get_mut(gname) else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = ctx.argv[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ids.into_iter().filter(|&id| g.remove_nack(id)).count();
    ctx.out.int(n as i64);
    if n > 0 {
        stamp(ctx, &mut shard, hash, key);
    }
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx) -> CmdResult {
    let argc = ctx.argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CommandError::Syntax);
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut minidle = 0i64;
        if is_kw(ctx.arg(3), "idle") {
            minidle = parse_int(ctx.arg(4))?;
            if argc < 8 {
                return Err(CommandError::Syntax);
            }
            at += 2;
        }
        let count = parse_int(ctx.arg(at + 2))?.max(0) as usize;
        let start = parse_range_start(ctx.arg(at))?;
        let end = parse_range_end(ctx.arg(at + 1))?;
        let consumer = ctx.argv.get(at + 3).cloned();
        range = Some((minidle, start, end, count, consumer));
    }
    let key = ctx.arg(1);
    let gname = ctx.arg(2);
    let now = ctx.now_ms as i64;
    read_stream(ctx, key, |s, out| {
        let Some(g) = s.and_then(|s| s.groups.get(gname)) else {
            return Err(nogroup(key, gname));
        };
        let Some((minidle, start, end, count, consumer)) = range else {
            out.array(4);
            out.int(g.pel.len() as i64);
            match (g.pel.first_key_value(), g.pel.last_key_value()) {
                (Some((first, _)), Some((last, _))) => {
                    emit_id(out, *first);
                    emit_id(out, *last);
                    let owners: Vec<(&Box<[u8]>, usize)> = g
                        .consumers
                        .iter()
                        .filter(|(_, c)| !c.pel.is_empty())
                        .map(|(n, c)| (n, c.pel.len()))
                        .collect();
                    out.array(owners.len());
                    for (n, k) in owners {
                        out.array(2);
                        out.bulk(n);
                        out.bulk_int(k as i64);
                    }
                }
                _ => {
                    out.null();
                    out.null();
                    out.null_array();
                }
            }
            return Ok(());
        };
        // Walk the PEL lazily: COUNT bounds the work, not the PEL's size.
        let ids: Box<dyn Iterator<Item = StreamId> + '_> = match &consumer {
            Some(c) => match g.consumers.get(&c[..]) {
                Some(c) => Box::new(c.pel.range(start..).copied()),
                None => {
                    out.array(0);
                    return Ok(());
                }
            },
            None => Box::new(g.pel.range(start..).map(|(k, _)| *k)),
        };
        let mut rows = Vec::new();
        if start <= end {
            for id in ids {
                if rows.len() >= count || id > end {
                    break;
                }
                let Some(n) = g.pel.get(&id) else { continue };
                let idle = now - n.delivery_time as i64;
                if minidle != 0 && idle < minidle {
                    continue;
                }
                rows.push((id, n, idle.max(0)));
            }
        }
        out.array(rows.len());
        for (id, n, idle) in rows {
            out.array(4);
            emit_id(out, id);
            out.bulk(&n.consumer);
            out.int(idle);
            out.int(n.delivery_count as i64);
        }
        Ok(())
    })
}

/// Looks up (refreshing) or creates a consumer for a claim. Returns whether it was created.
fn claim_consumer(g: &mut Group, name: &[u8], now: u64) -> bool {
    match g.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.consumers.insert(
                name.to_vec().into_boxed_slice(),
                Consumer {
                    seen_time: now,
                    ..Default::default()
                },
            );
            true
        }
    }
}

fn parse_ll_msg(arg: &[u8], msg: &str) -> Result<i64, CommandError> {
    crate::util::numbers::parse_i64(arg).ok_or_else(|| custom(msg))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms] [RETRYCOUNT count]
/// [FORCE] [JUSTID] [LASTID lastid]
pub fn xclaim(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let gname = ctx.arg(2);
    let cname = ctx.arg(3);
    let now = ctx.now_ms;
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let s = stream_mut(&mut shard, hash, key)?;
    let Some(s) = s.filter(|s| s.groups.contains_key(gname)) else {
        return Err(nogroup(key, gname));
    };
    let minidle = parse_ll_msg(ctx.arg(4), "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let argv = ctx.argv;
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(&argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut retrycount: Option<u64> = None;
    let mut deliverytime: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j][..];
        if is_kw(opt, "force") {
            force = true;
        } else if is_kw(opt, "justid") {
            justid = true;
        } else if is_kw(opt, "idle") && more > 0 {
            j += 1;
            let v = parse_ll_msg(&argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            deliverytime = Some(now as i64 - v);
        } else if is_kw(opt, "time") && more > 0 {
            j += 1;
            deliverytime = Some(parse_ll_msg(
                &argv[j],
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is_kw(opt, "retrycount") && more > 0 {
            j += 1;
            let v = parse_ll_msg(
                &argv[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
            retrycount = u64::try_from(v).ok();
        } else if is_kw(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&argv[j])?;
        } else {
            return Err(CommandError::Custom(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    let mut changed = false;
    let mut logs = Vec::new();
    let mut last_moved = false;
    if let Some(g) = s.groups.get_mut(gname)
        && last_id > g.last_id
    {
        g.last_id = last_id;
        changed = true;
        last_moved = true;
    }
    let time = match deliverytime {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let key_b = argv[1].clone();
    let mut replies: Vec<Result<StreamEntry, StreamId>> = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    for id in ids {
        let entry = s.get(id).cloned();
        let Some(g) = s.groups.get_mut(gname) else {
            break;
        };
        let Some(entry) = entry else {
            if let Some(owner) = g.pel.get(&id).map(|n| n.consumer.clone()) {
                logs.push(xclaim_drop_log(&key_b, gname, &owner, id, g));
                g.remove_nack(id);
                changed = true;
                last_moved = false;
            }
            continue;
        };
        let pending = g.pel.get(&id);
        if pending.is_none() && !force {
            continue;
        }
        if let Some(n) = pending
            && minidle > 0
            && (now as i64 - n.delivery_time as i64) < minidle
        {
            continue;
        }
        if !consumer_ready {
            created = claim_consumer(g, cname, now);
            consumer_ready = true;
        }
        let n = g.assign(id, cname, time);
        n.delivery_time = time;
        if let Some(rc) = retrycount {
            n.delivery_count = rc;
        } else if !justid {
            n.delivery_count += 1;
        }
        logs.extend(xclaim_log(&key_b, gname, id, g));
        changed = true;
        last_moved = false;
        replies.push(if justid { Err(id) } else { Ok(entry) });
    }
    if last_moved && let Some(g) = s.groups.get(gname) {
        logs.push(setid_log(&key_b, gname, g));
    }
    ctx.out.array(replies.len());
    for r in &replies {
        match r {
            Ok(e) => emit_entry(ctx.out, e),
            Err(id) => emit_id(ctx.out, *id),
        }
    }
    if changed {
        stamp(ctx, &mut shard, hash, key);
        drop(shard);
        if created {
            ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
        }
        log_all(ctx, logs);
    }
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms;
    let minidle = parse_ll_msg(
        ctx.arg(4),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = parse_range_start(ctx.arg(5))?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < ctx.argv.len() {
        let more = ctx.argv.len() - 1 - j;
        if is_kw(ctx.arg(j), "count") && more > 0 {
            let max = (i64::MAX / 10) as u64;
            count = crate::util::numbers::parse_i64(ctx.arg(j + 1))
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| (1..=max).contains(&n))
                .ok_or_else(|| custom("ERR COUNT must be > 0"))?;
            j += 1;
        } else if is_kw(ctx.arg(j), "justid") {
            justid = true;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let key = ctx.arg(1);
    let gname = ctx.arg(2);
    let cname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let s = stream_mut(&mut shard, hash, key)?;
    let Some(s) = s.filter(|s| s.groups.contains_key(gname)) else {
        return Err(nogroup(key, gname));
    };
    let key_b = ctx.argv[1].clone();
    let mut attempts = count.saturating_mul(10);
    let scan: Vec<StreamId> = s
        .groups
        .get(gname)
        .map(|g| {
            g.pel
                .range(start..)
                .take(attempts.min(usize::MAX as u64 - 1) as usize + 1)
                .map(|(k, _)| *k)
                .collect()
        })
        .unwrap_or_default();
    let mut claimed: Vec<Result<StreamEntry, StreamId>> = Vec::new();
    let mut deleted: Vec<StreamId> = Vec::new();
    let mut logs = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    let mut i = 0;
    while attempts > 0 && count > 0 && i < scan.len() {
        attempts -= 1;
        let id = scan[i];
        i += 1;
        let entry = s.get(id).cloned();
        let Some(g) = s.groups.get_mut(gname) else {
            break;
        };
        let Some(entry) = entry else {
            if let Some(owner) = g.pel.get(&id).map(|n| n.consumer.clone()) {
                logs.push(xclaim_drop_log(&key_b, gname, &owner, id, g));
            }
            g.remove_nack(id);
            deleted.push(id);
            count -= 1;
            continue;
        };
        let Some(n) = g.pel.get(&id) else { continue };
        if minidle > 0 && (now as i64 - n.delivery_time as i64) < minidle {
            continue;
        }
        if !consumer_ready {
            created = claim_consumer(g, cname, now);
            consumer_ready = true;
        }
        let n = g.assign(id, cname, now);
        n.delivery_time = now;
        if !justid {
            n.delivery_count += 1;
        }
        logs.extend(xclaim_log(&key_b, gname, id, g));
        claimed.push(if justid { Err(id) } else { Ok(entry) });
        count -= 1;
    }
    let next = scan.get(i).copied().unwrap_or(StreamId::MIN);
    let out = &mut *ctx.out;
    out.array(3);
    emit_id(out, next);
    out.array(claimed.len());
    for c in &claimed {
        match c {
            Ok(e) => emit_entry(out, e),
            Err(id) => emit_id(out, *id),
        }
    }
    out.array(deleted.len());
    for id in &deleted {
        emit_id(out, *id);
    }
    if !logs.is_empty() || consumer_ready {
        stamp(ctx, &mut shard, hash, key);
        drop(shard);
        if created {
            ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
        }
        log_all(ctx, logs);
    }
    Ok(())
}
