//! Stream commands (Redis group `stream`): XADD and trimming, ranges, XREAD, and consumer groups (XGROUP,
//! XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM), XINFO and XSETID, with Redis 7.0's replies and errors.
//!
//! **Logged forms.** Everything that depends on the clock or on trimming heuristics is logged in a form
//! that replays to the same state, as Redis propagates it: XADD logs the ID it generated and turns `~`
//! trimming into the exact threshold it reached (`MAXLEN = <len>` / `MINID = <first id>`, no LIMIT);
//! XREADGROUP, XCLAIM and XAUTOCLAIM log one `XCLAIM key group consumer 0 id TIME <ms> RETRYCOUNT <n>
//! FORCE JUSTID LASTID <id>` per pending entry they created or changed (an entry that no longer exists
//! is logged the same way, which drops it from the pending list on replay), `XGROUP CREATECONSUMER` for a
//! consumer they created and `XGROUP SETID ... ENTRIESREAD n` when the group's position moved.
//!
//! **Blocking.** `XREAD`/`XREADGROUP` with `BLOCK` answer at once when data is available, else park on
//! their keys (`Ctx::block_on_as`, server/blocking.rs) until an XADD makes one ready, when the command is
//! run again for the waiter; XREAD's `$` is resolved to the stream's last ID when it blocks (the waiter
//! re-runs the resolved form, with COUNT 1000 when none was given, as Redis serves blocked readers).
//! Inside MULTI they answer a null array, as on timeout. A write to a waited key re-checks its waiters
//! (commands/mod.rs): XREADGROUP waiters whose stream was deleted or replaced get `UNBLOCKED the stream
//! key no longer exists`, those whose group was destroyed get NOGROUP; XREAD waiters keep waiting.

use bytes::Bytes;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::types::StreamValue;
use crate::keyspace::types::stream::{Consumer, Group, NodeLimits, StreamEntry, StreamId, TrimTo};
use crate::keyspace::{Shard, Value};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;
use crate::server::blocking::TimeoutReply;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

fn custom(s: &str) -> CommandError {
    CommandError::Custom(s.to_string())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(1024)]).into_owned()
}

fn node_limits(ctx: &Ctx) -> NodeLimits {
    let c = &ctx.server.config;
    NodeLimits {
        max_entries: c.get_u64("stream-node-max-entries"),
        max_bytes: c.get_u64("stream-node-max-bytes"),
    }
}

/// Redis's `string2ull`: a non-negative decimal, optionally with leading blanks or `+` (strtoull's
/// leniency for numbers that do not fit an i64).
fn parse_u64(b: &[u8]) -> Option<u64> {
    if let Some(n) = crate::util::numbers::parse_i64(b) {
        return u64::try_from(n).ok();
    }
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a stream ID as Redis does. `-`/`+` mean the minimal/maximal ID unless `strict`; a missing
/// sequence is `missing_seq`; `<ms>-*` is accepted only when `seq_star` (XADD), returning seq_given false.
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), CommandError> {
    let bad = || custom(INVALID_ID);
    if arg.len() > 127 {
        return Err(bad());
    }
    // Redis works on a C string: an embedded NUL ends it.
    let arg = match arg.iter().position(|&c| c == 0) {
        Some(i) => &arg[..i],
        None => arg,
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(bad());
        }
        return Ok((
            if arg == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    match arg.iter().position(|&c| c == b'-') {
        Some(dash) => {
            let ms = parse_u64(&arg[..dash]).ok_or_else(bad)?;
            let rest = &arg[dash + 1..];
            if seq_star && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            let seq = parse_u64(rest).ok_or_else(bad)?;
            Ok((StreamId::new(ms, seq), true))
        }
        None => {
            let ms = parse_u64(arg).ok_or_else(bad)?;
            Ok((StreamId::new(ms, missing_seq), true))
        }
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    Ok(parse_id_full(arg, missing_seq, false, false)?.0)
}

fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CommandError> {
    Ok(parse_id_full(arg, 0, true, false)?.0)
}

/// A range bound: `(id` is exclusive. Returns the inclusive bound.
fn parse_range_start(arg: &[u8]) -> Result<StreamId, CommandError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], 0, true, false)?.0;
        id.incr()
            .ok_or_else(|| custom("ERR invalid start ID for the interval"))
    } else {
        parse_id(arg, 0)
    }
}

fn parse_range_end(arg: &[u8]) -> Result<StreamId, CommandError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], u64::MAX, true, false)?.0;
        id.decr()
            .ok_or_else(|| custom("ERR invalid end ID for the interval"))
    } else {
        parse_id(arg, u64::MAX)
    }
}

fn id_bytes(id: StreamId) -> Bytes {
    Bytes::from(id.to_bytes())
}

fn emit_id(out: &mut ReplyBuf, id: StreamId) {
    out.bulk(id.to_string().as_bytes());
}

fn emit_entry(out: &mut ReplyBuf, e: &StreamEntry) {
    out.array(2);
    emit_id(out, e.id);
    out.array(e.fields.len());
    for f in e.fields.iter() {
        out.bulk(f);
    }
}

fn nogroup(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::Custom(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

fn subcommand_syntax(ctx: &Ctx) -> CommandError {
    CommandError::Custom(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&ctx.arg(1)[..ctx.arg(1).len().min(128)]),
        String::from_utf8_lossy(ctx.arg(0)).to_uppercase()
    ))
}

/// Runs `f` on the live stream at `key` (None if absent), WRONGTYPE for another type; counts a hit or
/// miss and refreshes the access time as Redis's read lookup does.
fn read_stream<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&StreamValue>, &mut ReplyBuf) -> Result<R, CommandError>,
) -> Result<R, CommandError> {
    let (touch, lru, now) = (ctx.touches(), ctx.lru(), ctx.now_ms);
    let (hash, mut shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live_mut(hash, key, now) else {
        drop(shard);
        ctx.hit(false, key);
        return f(None, ctx.out);
    };
    if touch {
        e.access_s = lru;
    }
    let Value::Stream(s) = &e.value else {
        // Redis's read lookup counts the hit before the command checks the type.
        drop(shard);
        ctx.hit(true, key);
        return Err(CommandError::WrongType);
    };
    let r = f(Some(s), ctx.out);
    drop(shard);
    ctx.hit(true, key);
    r
}

/// The stream at `key` in a locked shard for writing (the caller reaped it): None if absent.
fn stream_mut<'s>(
    shard: &'s mut Shard,
    hash: u64,
    key: &[u8],
) -> Result<Option<&'s mut StreamValue>, CommandError> {
    match shard.get_mut(hash, key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(CommandError::WrongType),
        },
    }
}

/// Stamps a changed existing stream with this command's revision.
fn stamp(ctx: &mut Ctx, shard: &mut Shard, hash: u64, key: &[u8]) {
    let lru = ctx.lru();
    if let Some(e) = shard.get_mut(hash, key) {
        ctx.stamp_once(e);
        e.access_s = lru;
    }
}

/// Logs several records for this command's single revision (the caller changed something).
fn log_all(ctx: &mut Ctx, logs: Vec<Vec<Bytes>>) {
    ctx.revision();
    if logs.is_empty() {
        return;
    }
    for l in logs {
        ctx.log(l);
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

// ---------------------------------------------------------------------------------------------------
// XADD / XTRIM

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
            .server
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

// ---------------------------------------------------------------------------------------------------
// XREAD / XREADGROUP

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
            let t = crate::util::numbers::parse_i64(&argv[i])
                .ok_or_else(|| custom("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(custom("ERR timeout is negative"));
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

fn xclaim_log(key: &Bytes, group: &[u8], id: StreamId, g: &Group) -> Option<Vec<Bytes>> {
    let n = g.pel.get(&id)?;
    Some(vec![
        b("XCLAIM"),
        key.clone(),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(&n.consumer),
        b("0"),
        id_bytes(id),
        b("TIME"),
        b(&n.delivery_time.to_string()),
        b("RETRYCOUNT"),
        b(&n.delivery_count.to_string()),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_bytes(g.last_id),
    ])
}

/// The XCLAIM record that removes a pending entry whose stream entry is gone (replay finds no entry).
fn xclaim_drop_log(
    key: &Bytes,
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    g: &Group,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(consumer),
        b("0"),
        id_bytes(id),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_bytes(g.last_id),
    ]
}

fn setid_log(key: &Bytes, group: &[u8], g: &Group) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        key.clone(),
        Bytes::copy_from_slice(group),
        id_bytes(g.last_id),
        b("ENTRIESREAD"),
        b(&g.entries_read.map_or(-1, |n| n as i64).to_string()),
    ]
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

// ---------------------------------------------------------------------------------------------------
// XGROUP

/// Parsed common part of XGROUP subcommands with a key and a group (Redis's shared prologue).
struct GroupArgs {
    mkstream: bool,
    entries_read: Option<Option<u64>>,
}

fn parse_group_options(ctx: &Ctx, create: bool, setid: bool) -> Result<GroupArgs, CommandError> {
    let argv = ctx.argv;
    let mut a = GroupArgs {
        mkstream: false,
        entries_read: None,
    };
    let mut i = 5;
    while i < argv.len() {
        if create && is_kw(&argv[i], "mkstream") {
            a.mkstream = true;
            i += 1;
        } else if (create || setid) && is_kw(&argv[i], "entriesread") && i + 1 < argv.len() {
            let n = parse_int(&argv[i + 1])?;
            if n < 0 && n != -1 {
                return Err(custom("ERR value for ENTRIESREAD must be positive or -1"));
            }
            a.entries_read = Some(u64::try_from(n).ok());
            i += 2;
        } else {
            return Err(subcommand_syntax(ctx));
        }
    }
    Ok(a)
}

fn requires_key() -> CommandError {
    custom(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    )
}

fn no_such_group(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::Custom(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries_read]
pub fn xgroup_create(ctx: &mut Ctx) -> CmdResult {
    let a = parse_group_options(ctx, true, false)?;
    if ctx.argv.len() > 8 {
        return Err(subcommand_syntax(ctx));
    }
    let key = ctx.arg(2);
    let gname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let mut created: Option<StreamValue> = None;
    let s = match stream_mut(&mut shard, hash, key)? {
        Some(s) => s,
        None if !a.mkstream => return Err(requires_key()),
        None => created.insert(StreamValue::default()),
    };
    let id = if ctx.arg(4) == b"$" {
        s.last_id
    } else {
        parse_strict_id(ctx.arg(4))?
    };
    if s.groups.contains_key(gname) {
        return Err(custom("BUSYGROUP Consumer Group name already exists"));
    }
    s.groups.insert(
        gname.to_vec().into_boxed_slice(),
        Group::new(id, a.entries_read.flatten()),
    );
    match created {
        Some(v) => ctx.upsert(&mut shard, hash, key, Value::Stream(Box::new(v)), Ttl::Keep),
        None => stamp(ctx, &mut shard, hash, key),
    }
    drop(shard);
    ctx.notify(ev::STREAM, "xgroup-create", key);
    ctx.out.ok();
    Ok(())
}

/// Locks `argv[2]` and runs `f` on its stream and the group `argv[3]`, with XGROUP's errors.
/// `f` returns whether it changed something.
fn with_group(
    ctx: &mut Ctx,
    f: impl FnOnce(&mut StreamValue, &mut ReplyBuf) -> Result<bool, CommandError>,
) -> CmdResult {
    let key = ctx.arg(2);
    let gname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        return Err(requires_key());
    };
    if !s.groups.contains_key(gname) {
        return Err(no_such_group(key, gname));
    }
    if f(s, ctx.out)? {
        stamp(ctx, &mut shard, hash, key);
    }
    Ok(())
}

/// XGROUP SETID key group id|$ [ENTRIESREAD entries_read]
pub fn xgroup_setid(ctx: &mut Ctx) -> CmdResult {
    let a = parse_group_options(ctx, false, true)?;
    if ctx.argv.len() != 5 && ctx.argv.len() != 7 {
        return Err(subcommand_syntax(ctx));
    }
    let gname = ctx.arg(3);
    let idarg = ctx.arg(4);
    let mut changed = false;
    with_group(ctx, |s, out| {
        changed = true;
        let id = if idarg == b"$" {
            s.last_id
        } else {
            parse_id(idarg, 0)?
        };
        if let Some(g) = s.groups.get_mut(gname) {
            g.last_id = id;
            g.entries_read = a.entries_read.flatten();
        }
        out.ok();
        Ok(true)
    })?;
    if changed {
        ctx.notify(ev::STREAM, "xgroup-setid", ctx.arg(2));
    }
    Ok(())
}

/// XGROUP DESTROY key group
pub fn xgroup_destroy(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(2);
    let gname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        return Err(requires_key());
    };
    if s.groups.remove(gname).is_some() {
        ctx.out.int(1);
        stamp(ctx, &mut shard, hash, key);
        drop(shard);
        ctx.notify(ev::STREAM, "xgroup-destroy", key);
        // XREADGROUP waiters on this group get NOGROUP when their command runs again.
        ctx.signal_ready(key);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

/// XGROUP CREATECONSUMER key group consumer
pub fn xgroup_createconsumer(ctx: &mut Ctx) -> CmdResult {
    let gname = ctx.arg(3);
    let cname = ctx.arg(4);
    let now = ctx.now_ms;
    let mut created = false;
    with_group(ctx, |s, out| {
        let Some(g) = s.groups.get_mut(gname) else {
            return Ok(false);
        };
        if g.consumers.contains_key(cname) {
            out.int(0);
            return Ok(false);
        }
        g.consumers.insert(
            cname.to_vec().into_boxed_slice(),
            Consumer {
                seen_time: now,
                ..Default::default()
            },
        );
        out.int(1);
        created = true;
        Ok(true)
    })?;
    if created {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", ctx.arg(2));
    }
    Ok(())
}

/// XGROUP DELCONSUMER key group consumer
pub fn xgroup_delconsumer(ctx: &mut Ctx) -> CmdResult {
    let gname = ctx.arg(3);
    let cname = ctx.arg(4);
    let mut deleted = false;
    with_group(ctx, |s, out| {
        let Some(g) = s.groups.get_mut(gname) else {
            return Ok(false);
        };
        let Some(c) = g.consumers.remove(cname) else {
            out.int(0);
            return Ok(false);
        };
        for id in &c.pel {
            g.pel.remove(id);
        }
        out.int(c.pel.len() as i64);
        deleted = true;
        Ok(true)
    })?;
    if deleted {
        ctx.notify(ev::STREAM, "xgroup-delconsumer", ctx.arg(2));
    }
    Ok(())
}

/// XGROUP HELP
pub fn xgroup_help(ctx: &mut Ctx) -> CmdResult {
    super::keys::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
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

// ---------------------------------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM

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

// ---------------------------------------------------------------------------------------------------
// XINFO

fn emit_lag(out: &mut ReplyBuf, s: &StreamValue, g: &Group) {
    match s.lag(g) {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
}

fn emit_entries_read(out: &mut ReplyBuf, g: &Group) {
    match g.entries_read {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
}

/// Runs `f` on the stream at `argv[2]` for XINFO: `ERR no such key` when absent.
fn xinfo_read(
    ctx: &mut Ctx,
    f: impl FnOnce(&StreamValue, &mut ReplyBuf, u64) -> CmdResult,
) -> CmdResult {
    let key = ctx.arg(2);
    let now = ctx.now_ms;
    read_stream(ctx, key, |s, out| {
        let Some(s) = s else {
            return Err(CommandError::NoSuchKey);
        };
        f(s, out, now)
    })
}

/// XINFO STREAM key [FULL [COUNT count]]
pub fn xinfo_stream(ctx: &mut Ctx) -> CmdResult {
    let optc = ctx.argv.len() - 3;
    let syntax = subcommand_syntax(ctx);
    let mut full = false;
    let mut count: i64 = 10;
    let mut opt_err = None;
    if optc > 0 {
        if (optc != 1 && optc != 3) || !is_kw(ctx.arg(3), "full") {
            opt_err = Some(syntax.clone());
        } else {
            full = true;
            if optc == 3 {
                if !is_kw(ctx.arg(4), "count") {
                    opt_err = Some(syntax.clone());
                } else {
                    match parse_int(ctx.arg(5)) {
                        Ok(n) => count = if n < 0 { 10 } else { n },
                        Err(e) => opt_err = Some(e),
                    }
                }
            }
        }
    }
    xinfo_read(ctx, |s, out, _now| {
        if let Some(e) = opt_err {
            return Err(e);
        }
        out.map(if full { 9 } else { 10 });
        out.bulk(b"length");
        out.int(s.len() as i64);
        out.bulk(b"radix-tree-keys");
        out.int(s.node_count() as i64);
        out.bulk(b"radix-tree-nodes");
        out.int(radix_nodes(s) as i64);
        out.bulk(b"last-generated-id");
        emit_id(out, s.last_id);
        out.bulk(b"max-deleted-entry-id");
        emit_id(out, s.max_deleted_id);
        out.bulk(b"entries-added");
        out.int(s.entries_added as i64);
        out.bulk(b"recorded-first-entry-id");
        emit_id(out, s.first_id);
        let limit = if count == 0 {
            usize::MAX
        } else {
            count as usize
        };
        if !full {
            out.bulk(b"groups");
            out.int(s.groups.len() as i64);
            out.bulk(b"first-entry");
            match s.first_entry() {
                Some(e) => emit_entry(out, e),
                None => out.null(),
            }
            out.bulk(b"last-entry");
            match s.last_entry() {
                Some(e) => emit_entry(out, e),
                None => out.null(),
            }
            return Ok(());
        }
        out.bulk(b"entries");
        let entries: Vec<&StreamEntry> = s
            .range(StreamId::MIN, StreamId::MAX, false)
            .take(limit)
            .collect();
        out.array(entries.len());
        for e in entries {
            emit_entry(out, e);
        }
        out.bulk(b"groups");
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(7);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"last-delivered-id");
            emit_id(out, g.last_id);
            out.bulk(b"entries-read");
            emit_entries_read(out, g);
            out.bulk(b"lag");
            emit_lag(out, s, g);
            out.bulk(b"pel-count");
            out.int(g.pel.len() as i64);
            out.bulk(b"pending");
            let pel: Vec<_> = g.pel.iter().take(limit).collect();
            out.array(pel.len());
            for (id, n) in pel {
                out.array(4);
                emit_id(out, *id);
                out.bulk(&n.consumer);
                out.int(n.delivery_time as i64);
                out.int(n.delivery_count as i64);
            }
            out.bulk(b"consumers");
            out.array(g.consumers.len());
            for (cn, c) in &g.consumers {
                out.map(4);
                out.bulk(b"name");
                out.bulk(cn);
                out.bulk(b"seen-time");
                out.int(c.seen_time as i64);
                out.bulk(b"pel-count");
                out.int(c.pel.len() as i64);
                out.bulk(b"pending");
                let ids: Vec<_> = c.pel.iter().take(limit).collect();
                out.array(ids.len());
                for id in ids {
                    let (t, k) = g
                        .pel
                        .get(id)
                        .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                    out.array(3);
                    emit_id(out, *id);
                    out.int(t as i64);
                    out.int(k as i64);
                }
            }
        }
        Ok(())
    })
}

/// An estimate of Redis's radix-tree node count for XINFO (one per key plus the root, at least 1).
fn radix_nodes(s: &StreamValue) -> usize {
    s.node_count() + 1
}

/// XINFO GROUPS key
pub fn xinfo_groups(ctx: &mut Ctx) -> CmdResult {
    xinfo_read(ctx, |s, out, _| {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            emit_id(out, g.last_id);
            out.bulk(b"entries-read");
            emit_entries_read(out, g);
            out.bulk(b"lag");
            emit_lag(out, s, g);
        }
        Ok(())
    })
}

/// XINFO CONSUMERS key group
pub fn xinfo_consumers(ctx: &mut Ctx) -> CmdResult {
    let gname = ctx.arg(3);
    let key = ctx.arg(2);
    xinfo_read(ctx, |s, out, now| {
        let Some(g) = s.groups.get(gname) else {
            return Err(no_such_group(key, gname));
        };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int(now.saturating_sub(c.seen_time) as i64);
        }
        Ok(())
    })
}

/// XINFO HELP
pub fn xinfo_help(ctx: &mut Ctx) -> CmdResult {
    super::keys::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_parses_them() {
        assert_eq!(parse_id(b"5", 0).unwrap(), StreamId::new(5, 0));
        assert_eq!(
            parse_id(b"5", u64::MAX).unwrap(),
            StreamId::new(5, u64::MAX)
        );
        assert_eq!(parse_id(b"5-3", 0).unwrap(), StreamId::new(5, 3));
        assert_eq!(parse_id(b"-", 0).unwrap(), StreamId::MIN);
        assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_id(b"5-x", 0).is_err());
        assert!(parse_id(b"-5", 0).is_err());
        assert!(parse_id(b"", 0).is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true).unwrap(),
            (StreamId::new(7, 0), false)
        );
        assert!(parse_strict_id(b"7-*").is_err());
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", 0).unwrap(),
            StreamId::MAX
        );
    }

    #[test]
    fn exclusive_bounds_step_past_the_id() {
        assert_eq!(parse_range_start(b"(5-1").unwrap(), StreamId::new(5, 2));
        assert_eq!(
            parse_range_end(b"(5").unwrap(),
            StreamId::new(5, u64::MAX - 1)
        );
        assert_eq!(
            parse_range_start(b"(18446744073709551615-18446744073709551615")
                .unwrap_err()
                .message(),
            "ERR invalid start ID for the interval"
        );
        assert_eq!(
            parse_range_end(b"(0-0").unwrap_err().message(),
            "ERR invalid end ID for the interval"
        );
    }
}
