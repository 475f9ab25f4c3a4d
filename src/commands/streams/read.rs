//! XREAD and XREADGROUP: argument parsing, the per-stream replies, and blocking (parking on the keys with
//! `Ctx::block_on_as` when nothing is ready, re-run when an XADD makes one ready). XREADGROUP is a write:
//! what it delivers moves the group's position and pending list, and it logs that as XCLAIM /
//! `XGROUP CREATECONSUMER` / `XGROUP SETID` records at one revision.

use bytes::Bytes;

use crate::commands::{CmdResult, CommandError, Ctx, is_kw, parse_int};
use crate::keyspace::Value;
use crate::keyspace::types::stream::{Consumer, StreamEntry, StreamId};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;
use crate::state::blocking::TimeoutReply;

use super::ids::parse_strict_id;
use super::{b, custom, emit_entry, emit_id, id_bytes, log_all, lossy, setid_log, xclaim_log};

struct ReadArgs {
    /// BLOCK's timeout in ms (0 = forever).
    block: Option<u64>,
    count: usize,
    noack: bool,
    group: Option<(Bytes, Bytes)>,
    keys: Vec<Bytes>,
    ids: Vec<Bytes>,
}

fn parse_read_args(ctx: &Ctx, group_cmd: bool) -> Result<ReadArgs, CommandError> {
    let argv = ctx.argv;
    let mut r = ReadArgs {
        block: None,
        count: 0,
        noack: false,
        group: None,
        keys: vec![],
        ids: vec![],
    };
    let mut streams_at = 0;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i][..];
        if is_kw(o, "block") && more > 0 {
            i += 1;
            let t =
                crate::util::numbers::parse_i64(&argv[i]).ok_or(CommandError::TimeoutNotInteger)?;
            if t < 0 {
                return Err(CommandError::TimeoutNegative);
            }
            r.block = Some(t as u64);
        } else if is_kw(o, "count") && more > 0 {
            i += 1;
            r.count = parse_int(&argv[i])?.max(0) as usize;
        } else if is_kw(o, "streams") && more > 0 {
            streams_at = i + 1;
            let n = argv.len() - streams_at;
            if !n.is_multiple_of(2) {
                return Err(custom(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if is_kw(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(custom(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if is_kw(o, "noack") {
            if !group_cmd {
                return Err(custom(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(CommandError::Syntax);
    }
    if group_cmd && r.group.is_none() {
        return Err(custom("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (argv.len() - streams_at) / 2;
    r.keys = argv[streams_at..streams_at + n].to_vec();
    r.ids = argv[streams_at + n..].to_vec();
    Ok(r)
}

/// What a read that found nothing does: without BLOCK it answers a null array; with BLOCK it parks
/// on its keys (or, where it may not wait, answers the null array of a timeout), re-running `rerun` (or
/// the command as received) once one of them is ready.
fn nothing_to_read(ctx: &mut Ctx, r: &ReadArgs, rerun: Option<Vec<Bytes>>) -> CmdResult {
    let Some(ms) = r.block else {
        ctx.out.null_array();
        return Ok(());
    };
    let deadline = if ms == 0 {
        0
    } else {
        ctx.now_ms.saturating_add(ms)
    };
    ctx.block_on_as(r.keys.clone(), deadline, TimeoutReply::NullArray, rerun);
    Ok(())
}

/// The command a blocked XREAD re-runs: the IDs resolved when it blocked (`$` becomes the last ID)
/// and Redis's COUNT for served blocked readers when none was given.
fn xread_rerun(r: &ReadArgs, after: &[StreamId]) -> Vec<Bytes> {
    // BLOCK stays, so a re-run that finds nothing (the entry was trimmed meanwhile) keeps waiting.
    let mut v = vec![
        b("XREAD"),
        b("BLOCK"),
        b(&r.block.unwrap_or(0).to_string()),
        b("COUNT"),
    ];
    v.push(b(&if r.count == 0 { 1000 } else { r.count }.to_string()));
    v.push(b("STREAMS"));
    v.extend(r.keys.iter().cloned());
    v.extend(after.iter().map(|id| id_bytes(*id)));
    v
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx) -> CmdResult {
    let r = parse_read_args(ctx, false)?;
    let now = ctx.now_ms;
    let waiter = ctx.txn.waiter;
    let mut set = ctx.db().lock_many(&r.keys);
    // Resolve every ID and check every type before replying, as Redis does.
    let mut after = Vec::with_capacity(r.keys.len());
    for (key, idarg) in r.keys.iter().zip(&r.ids) {
        let h = set.hash(key);
        let s = match set.shard(h).get_live(h, key, now).map(|e| &e.value) {
            None => None,
            Some(Value::Stream(s)) => Some(s),
            // A blocked XREAD whose key now holds another type keeps waiting, as in Redis.
            Some(_) if waiter => None,
            Some(_) => return Err(CommandError::WrongType),
        };
        let id = if &idarg[..] == b"$" {
            s.map_or(StreamId::MIN, |s| s.last_id)
        } else if &idarg[..] == b">" {
            return Err(custom(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ));
        } else {
            parse_strict_id(idarg)?
        };
        after.push(id);
    }
    let mut found: Vec<(usize, Vec<StreamEntry>)> = Vec::new();
    for (i, key) in r.keys.iter().enumerate() {
        let h = set.hash(key);
        let Some(Value::Stream(s)) = set.shard(h).get_live(h, key, now).map(|e| &e.value) else {
            continue;
        };
        let gt = after[i];
        let Some(last) = s.last_entry() else { continue };
        if last.id <= gt {
            continue;
        }
        let Some(start) = gt.incr() else { continue };
        let limit = if r.count == 0 { usize::MAX } else { r.count };
        let items: Vec<StreamEntry> = s
            .range(start, StreamId::MAX, false)
            .take(limit)
            .cloned()
            .collect();
        found.push((i, items));
    }
    drop(set);
    for i in 0..r.keys.len() {
        ctx.hit(found.iter().any(|(j, _)| *j == i), &r.keys[i]);
    }
    if found.is_empty() {
        let rerun = xread_rerun(&r, &after);
        return nothing_to_read(ctx, &r, Some(rerun));
    }
    write_read_reply(ctx.out, &r.keys, &found, emit_entry);
    Ok(())
}

/// Writes XREAD's reply: per stream `[key, entries]` (RESP2) or a map key -> entries (RESP3).
fn write_read_reply<T>(
    out: &mut ReplyBuf,
    keys: &[Bytes],
    found: &[(usize, Vec<T>)],
    emit: impl Fn(&mut ReplyBuf, &T),
) {
    if out.is_resp3() {
        out.map(found.len());
    } else {
        out.array(found.len());
    }
    for (i, items) in found {
        if !out.is_resp3() {
            out.array(2);
        }
        out.bulk(&keys[*i]);
        out.array(items.len());
        for it in items {
            emit(out, it);
        }
    }
}

/// One item of an XREADGROUP reply: an entry, or a pending ID whose entry was deleted (`[id, nil]`).
enum Delivered {
    Entry(StreamEntry),
    Gone(StreamId),
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
pub fn xreadgroup(ctx: &mut Ctx) -> CmdResult {
    let r = parse_read_args(ctx, true)?;
    let Some((gname, cname)) = r.group.clone() else {
        return Err(custom("ERR Missing GROUP option for XREADGROUP"));
    };
    let now = ctx.now_ms;
    let waiter = ctx.txn.waiter;
    let mut set = ctx.db().lock_many(&r.keys);
    // None = `>` (new messages), Some(id) = history after id.
    let mut after: Vec<Option<StreamId>> = Vec::with_capacity(r.keys.len());
    for (key, idarg) in r.keys.iter().zip(&r.ids) {
        let h = set.hash(key);
        let s = match set.shard(h).get_live(h, key, now).map(|e| &e.value) {
            Some(Value::Stream(s)) => Some(s),
            // A blocked XREADGROUP whose stream was deleted, replaced or lost its group is answered
            // with Redis's unblocking errors.
            _ if waiter => {
                return Err(custom("UNBLOCKED the stream key no longer exists"));
            }
            None => None,
            Some(_) => return Err(CommandError::WrongType),
        };
        if waiter && s.is_some_and(|s| !s.groups.contains_key(&gname[..])) {
            return Err(custom(
                "NOGROUP the consumer group this client was blocked on no longer exists",
            ));
        }
        if s.is_none_or(|s| !s.groups.contains_key(&gname[..])) {
            return Err(CommandError::Custom(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(&gname)
            )));
        }
        if &idarg[..] == b"$" {
            return Err(custom(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            ));
        }
        after.push(if &idarg[..] == b">" {
            None
        } else {
            Some(parse_strict_id(idarg)?)
        });
    }
    let limit = if r.count == 0 { usize::MAX } else { r.count };
    let mut found: Vec<(usize, Vec<Delivered>)> = Vec::new();
    let mut logs: Vec<Vec<Bytes>> = Vec::new();
    let mut changed_keys: Vec<usize> = Vec::new();
    let mut new_consumer: Vec<Bytes> = Vec::new();
    for (i, key) in r.keys.iter().enumerate() {
        let h = set.hash(key);
        let Some(e) = set.shard(h).get_live_mut(h, key, now) else {
            continue;
        };
        let Value::Stream(s) = &mut e.value else {
            continue;
        };
        let serve = match after[i] {
            Some(_) => true,
            None => {
                let gl = s
                    .groups
                    .get(&gname[..])
                    .map(|g| g.last_id)
                    .unwrap_or_default();
                s.last_entry().is_some_and(|l| l.id > gl)
            }
        };
        if !serve {
            continue;
        }
        let mut changed = false;
        // Look the consumer up (refreshing its seen time) or create it.
        {
            let Some(g) = s.groups.get_mut(&gname[..]) else {
                continue;
            };
            match g.consumers.get_mut(&cname[..]) {
                Some(c) => c.seen_time = now,
                None => {
                    g.consumers.insert(
                        cname.to_vec().into_boxed_slice(),
                        Consumer {
                            seen_time: now,
                            ..Default::default()
                        },
                    );
                    changed = true;
                    new_consumer.push(key.clone());
                    logs.push(vec![
                        b("XGROUP"),
                        b("CREATECONSUMER"),
                        key.clone(),
                        gname.clone(),
                        cname.clone(),
                    ]);
                }
            }
        }
        let mut items = Vec::new();
        match after[i] {
            Some(from) => {
                // History: the consumer's own pending entries after `from`.
                let ids: Vec<StreamId> = match from.incr() {
                    Some(start) => s
                        .groups
                        .get(&gname[..])
                        .and_then(|g| g.consumers.get(&cname[..]))
                        .map(|c| c.pel.range(start..).take(limit).copied().collect())
                        .unwrap_or_default(),
                    None => vec![],
                };
                for id in ids {
                    match s.get(id).cloned() {
                        Some(entry) => {
                            items.push(Delivered::Entry(entry));
                            if let Some(g) = s.groups.get_mut(&gname[..]) {
                                if let Some(n) = g.pel.get_mut(&id) {
                                    n.delivery_time = now;
                                    n.delivery_count += 1;
                                }
                                logs.extend(xclaim_log(key, &gname, id, g));
                            }
                            changed = true;
                        }
                        None => items.push(Delivered::Gone(id)),
                    }
                }
            }
            None => {
                let start = s
                    .groups
                    .get(&gname[..])
                    .and_then(|g| g.last_id.incr())
                    .unwrap_or(StreamId::MAX);
                let entries: Vec<StreamEntry> = s
                    .range(start, StreamId::MAX, false)
                    .take(limit)
                    .cloned()
                    .collect();
                for entry in entries {
                    let id = entry.id;
                    s.advance_group(&gname, id);
                    changed = true;
                    if !r.noack
                        && let Some(g) = s.groups.get_mut(&gname[..])
                    {
                        let n = g.assign(id, &cname, now);
                        n.delivery_time = now;
                        n.delivery_count = 1;
                        logs.extend(xclaim_log(key, &gname, id, g));
                    }
                    items.push(Delivered::Entry(entry));
                }
                if changed
                    && !items.is_empty()
                    && let Some(g) = s.groups.get(&gname[..])
                {
                    logs.push(setid_log(key, &gname, g));
                }
            }
        }
        if changed {
            changed_keys.push(i);
        }
        found.push((i, items));
    }
    if !changed_keys.is_empty() {
        let lru = ctx.lru();
        for i in changed_keys {
            let key = &r.keys[i];
            let h = set.hash(key);
            if let Some(e) = set.shard(h).get_mut(h, key) {
                ctx.stamp_once(e);
                e.access_s = lru;
            }
        }
    }
    drop(set);
    for key in &new_consumer {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
    if !logs.is_empty() {
        log_all(ctx, logs);
    } else {
        ctx.log_nothing();
    }
    if found.is_empty() {
        return nothing_to_read(ctx, &r, None);
    }
    write_read_reply(ctx.out, &r.keys, &found, |out, d| match d {
        Delivered::Entry(e) => emit_entry(out, e),
        Delivered::Gone(id) => {
            out.array(2);
            emit_id(out, *id);
            out.null_array();
        }
    });
    Ok(())
}
