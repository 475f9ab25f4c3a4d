//! Adding, trimming and reading entries by range: XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE and XSETID.
//! The writes stamp the stream with the command's revision and log a replayable form: XADD logs the ID it
//! generated from `now_ms` and `~` trimming logs the exact threshold it reached, so replay never reads the
//! clock or repeats a heuristic.

use bytes::Bytes;

use crate::commands::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::Value;
use crate::keyspace::types::StreamValue;
use crate::keyspace::types::stream::{StreamEntry, StreamId, TrimTo};
use crate::notify::class as ev;

use super::ids::{parse_id_full, parse_range_end, parse_range_start, parse_strict_id};
use super::{
    b, custom, emit_entry, emit_id, id_bytes, node_limits, read_stream, stamp, stream_mut,
};

struct TrimArgs {
    to: Option<TrimTo>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// The explicit ID and whether its sequence was given (`ms-*` leaves it to the stream).
    id: Option<(StreamId, bool)>,
    /// Index of the ID argument (XADD).
    id_pos: usize,
}

fn parse_trim_args(ctx: &Ctx, xadd: bool) -> Result<TrimArgs, CommandError> {
    let argv = ctx.argv;
    let mut a = TrimArgs {
        to: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id: None,
        id_pos: argv.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i][..];
        if xadd && opt == b"*" {
            break;
        } else if (is_kw(opt, "maxlen") || is_kw(opt, "minid")) && more > 0 {
            if a.to.is_some() {
                return Err(custom(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = &argv[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let v = &argv[i + 1];
            if is_kw(opt, "maxlen") {
                let n = parse_int(v)?;
                if n < 0 {
                    return Err(custom("ERR The MAXLEN argument must be >= 0."));
                }
                a.to = Some(TrimTo::MaxLen(n as u64));
            } else {
                a.to = Some(TrimTo::MinId(parse_strict_id(v)?));
            }
            i += 2;
            continue;
        } else if is_kw(opt, "limit") && more > 0 {
            let n = parse_int(&argv[i + 1])?;
            if n < 0 {
                return Err(custom("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 2;
            continue;
        } else if xadd && is_kw(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            let (id, seq_given) = parse_id_full(opt, 0, true, true)?;
            a.id = Some((id, seq_given));
            break;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    a.id_pos = i;
    if a.limit != 0 && a.to.is_none() {
        return Err(custom(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.to.is_none() {
        return Err(custom(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !a.approx {
            return Err(custom(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.approx {
        let n = ctx
            .state
            .config
            .get_u64("stream-node-max-entries")
            .saturating_mul(100);
        a.limit = if n == 0 { 10_000 } else { n.min(1_000_000) };
    }
    Ok(a)
}

/// The exact threshold an approximate trim reached, for the logged form.
fn trim_log_args(s: &StreamValue, a: &TrimArgs) -> Vec<Bytes> {
    match a.to {
        None => vec![],
        Some(TrimTo::MaxLen(n)) => {
            let n = if a.approx { s.len() } else { n };
            vec![b("MAXLEN"), b("="), b(&n.to_string())]
        }
        Some(TrimTo::MinId(id)) => {
            let id = if a.approx {
                // An emptied stream logs the maximal ID, which trims everything on replay (as Redis's
                // edge lookup on an empty stream does).
                s.first_entry().map_or(StreamId::MAX, |e| e.id)
            } else {
                id
            };
            vec![b("MINID"), b("="), id_bytes(id)]
        }
    }
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
pub fn xadd(ctx: &mut Ctx) -> CmdResult {
    let a = parse_trim_args(ctx, true)?;
    let argv = ctx.argv;
    let field_pos = a.id_pos + 1;
    if argv.len() < field_pos + 2 || (argv.len() - field_pos) % 2 == 1 {
        return Err(CommandError::WrongArity {
            command: ctx.spec.name.to_string(),
        });
    }
    if let Some((id, true)) = a.id
        && id.is_zero()
    {
        return Err(custom(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = &argv[1];
    let lim = node_limits(ctx);
    let now = ctx.now_ms;
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let mut created: Option<StreamValue> = None;
    let s = match stream_mut(&mut shard, hash, key)? {
        Some(s) => s,
        None if a.nomkstream => {
            ctx.out.null();
            return Ok(());
        }
        None => created.insert(StreamValue::default()),
    };
    if s.last_id == StreamId::MAX {
        return Err(custom(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_small = || {
        custom("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    };
    let id = match a.id {
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    return Err(too_small());
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            } else {
                id
            }
        }
        None => {
            if s.last_id.ms < now {
                StreamId::new(now, 0)
            } else {
                s.last_id.incr().ok_or_else(too_small)?
            }
        }
    };
    if id <= s.last_id {
        return Err(too_small());
    }
    let fields: Box<[Box<[u8]>]> = argv[field_pos..]
        .iter()
        .map(|f| f.to_vec().into_boxed_slice())
        .collect();
    s.append(id, fields, lim);
    let mut trimmed = 0;
    if let Some(to) = a.to {
        trimmed = s.trim(to, a.approx, a.limit);
    }
    let mut log = vec![b("XADD"), key.clone()];
    log.extend(trim_log_args(s, &a));
    log.push(id_bytes(id));
    log.extend(argv[field_pos..].iter().cloned());
    emit_id(ctx.out, id);
    match created {
        Some(v) => ctx.upsert(&mut shard, hash, key, Value::Stream(Box::new(v)), Ttl::Keep),
        None => stamp(ctx, &mut shard, hash, key),
    }
    drop(shard);
    ctx.notify(ev::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(ev::STREAM, "xtrim", key);
    }
    ctx.log(log);
    ctx.signal_ready(key);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx) -> CmdResult {
    let a = parse_trim_args(ctx, false)?;
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(to) = a.to else {
        return Err(CommandError::Syntax);
    };
    let n = s.trim(to, a.approx, a.limit);
    ctx.out.int(n as i64);
    if n > 0 {
        let mut log = vec![b("XTRIM"), ctx.argv[1].clone()];
        log.extend(trim_log_args(s, &a));
        stamp(ctx, &mut shard, hash, key);
        drop(shard);
        ctx.notify(ev::STREAM, "xtrim", key);
        ctx.log(log);
    }
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = ctx.argv[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ids.into_iter().filter(|&id| s.delete(id)).count();
    ctx.out.int(n as i64);
    if n > 0 {
        stamp(ctx, &mut shard, hash, key);
        drop(shard);
        ctx.notify(ev::STREAM, "xdel", key);
    }
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    read_stream(ctx, key, |s, out| {
        out.int(s.map_or(0, |s| s.len() as i64));
        Ok(())
    })
}

fn range_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (ctx.arg(3), ctx.arg(2))
    } else {
        (ctx.arg(2), ctx.arg(3))
    };
    let start = parse_range_start(start_arg)?;
    let end = parse_range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < ctx.argv.len() {
        if is_kw(ctx.arg(j), "count") && j + 1 < ctx.argv.len() {
            count = parse_int(ctx.arg(j + 1))?.max(0);
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = ctx.arg(1);
    read_stream(ctx, key, |s, out| {
        let Some(s) = s else {
            out.array(0);
            return Ok(());
        };
        if count == 0 {
            out.null_array();
            return Ok(());
        }
        let limit = if count < 0 {
            usize::MAX
        } else {
            count as usize
        };
        let picked: Vec<&StreamEntry> = s.range(start, end, rev).take(limit).collect();
        out.array(picked.len());
        for e in picked {
            emit_entry(out, e);
        }
        Ok(())
    })
}

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, true)
}

/// XSETID key last-id [ENTRIESADDED entries_added] [MAXDELETEDID max_deleted_id]
pub fn xsetid(ctx: &mut Ctx) -> CmdResult {
    let id = parse_strict_id(ctx.arg(2))?;
    let mut entries_added: Option<u64> = None;
    let mut max_del = StreamId::MIN;
    let mut i = 3;
    while i < ctx.argv.len() {
        let more = ctx.argv.len() - 1 - i;
        let opt = ctx.arg(i);
        if is_kw(opt, "entriesadded") && more > 0 {
            let n = parse_int(ctx.arg(i + 1))?;
            if n < 0 {
                return Err(custom("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
            i += 2;
        } else if is_kw(opt, "maxdeletedid") && more > 0 {
            max_del = parse_strict_id(ctx.arg(i + 1))?;
            if id < max_del {
                return Err(custom(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        return Err(CommandError::NoSuchKey);
    };
    if let Some(last) = s.last_entry() {
        if id < last.id {
            return Err(custom(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(custom(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_del.is_zero() {
        s.max_deleted_id = max_del;
    }
    stamp(ctx, &mut shard, hash, key);
    drop(shard);
    ctx.notify(ev::STREAM, "xsetid", key);
    ctx.out.ok();
    Ok(())
}
