//! String and counter commands (Redis group `string`), plus the compare-and-delete forms lock libraries
//! release with (`DELEX key IFEQ v` from Redis 8.4, `DELIFEQ key v` from Valkey).
//!
//! Time seam: relative expiries (EX, PX, SETEX) become absolute here, from the command's `now_ms`, and the
//! logged form says PXAT so replay does not depend on when it runs.

use bytes::Bytes;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::{SmallBytes, Value};
use crate::notify::class as ev;
use crate::util::numbers::LongDouble;

/// Redis's maximum string size (proto-max-bulk-len bounds values built by APPEND and SETRANGE).
fn max_string_len(ctx: &Ctx) -> usize {
    ctx.state
        .config
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed) as usize
}

fn bulk_owned(b: Vec<u8>) -> Bytes {
    Bytes::from(b)
}

fn pxat_arg(at: u64) -> [Bytes; 2] {
    [
        Bytes::from_static(b"PXAT"),
        Bytes::from(itoa::Buffer::new().format(at).to_owned()),
    ]
}

/// Turns an expiry argument into absolute ms. `unit_ms` is 1000 for seconds; `relative` adds now.
/// Errors exactly as Redis: a non-integer is "not an integer", a non-positive or overflowing time is
/// "invalid expire time in '<cmd>' command".
pub fn absolute_expiry(
    ctx: &Ctx,
    arg: &[u8],
    unit_ms: i64,
    relative: bool,
) -> Result<u64, CommandError> {
    let n = parse_int(arg)?;
    let invalid = || CommandError::InvalidExpire {
        command: ctx.spec.name.to_string(),
    };
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if relative {
        ms.checked_add(ctx.now_ms as i64).ok_or_else(invalid)?
    } else {
        ms
    };
    Ok(at as u64)
}

/// The condition of a SET.
#[derive(Debug, PartialEq)]
enum Cond<'a> {
    None,
    Nx,
    Xx,
    IfEq(&'a [u8]),
    IfNe(&'a [u8]),
}

/// The expiry option of SET or GETEX, as parsed: the time argument is validated only once the command
/// knows it will use it, because Redis reports syntax errors (and, for GETEX, a missing key) first.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ExpiryOpt<'a> {
    None,
    Keep,
    Persist,
    /// (time argument, unit in ms, relative to now)
    At(&'a [u8], i64, bool),
}

struct SetRequest<'a> {
    cond: Cond<'a>,
    get: bool,
    expiry: ExpiryOpt<'a>,
}

/// Parses the options shared by SET (from argv[3]) and GETEX (from argv[2]) with Redis's combination rules:
/// a flag may be repeated (the last time argument wins), but two different expiry forms, KEEPTTL with an
/// expiry, PERSIST with an expiry, or NX with XX are a syntax error.
fn parse_string_options<'a>(
    argv: &'a [Bytes],
    for_set: bool,
) -> Result<SetRequest<'a>, CommandError> {
    let mut req = SetRequest {
        cond: Cond::None,
        get: false,
        expiry: ExpiryOpt::None,
    };
    let mut i = if for_set { 3 } else { 2 };
    while i < argv.len() {
        let a = &argv[i][..];
        let next = argv.get(i + 1).map(|b| &b[..]);
        let cond_free = |c: &Cond, same: fn(&Cond) -> bool| *c == Cond::None || same(c);
        if for_set && is_kw(a, "NX") && cond_free(&req.cond, |c| *c == Cond::Nx) {
            req.cond = Cond::Nx;
        } else if for_set && is_kw(a, "XX") && cond_free(&req.cond, |c| *c == Cond::Xx) {
            req.cond = Cond::Xx;
        } else if for_set
            && (is_kw(a, "IFEQ") || is_kw(a, "IFNE"))
            && req.cond == Cond::None
            && let Some(v) = next
        {
            req.cond = if is_kw(a, "IFEQ") {
                Cond::IfEq(v)
            } else {
                Cond::IfNe(v)
            };
            i += 1;
        } else if for_set && is_kw(a, "GET") {
            req.get = true;
        } else if for_set
            && is_kw(a, "KEEPTTL")
            && matches!(req.expiry, ExpiryOpt::None | ExpiryOpt::Keep)
        {
            req.expiry = ExpiryOpt::Keep;
        } else if !for_set
            && is_kw(a, "PERSIST")
            && matches!(req.expiry, ExpiryOpt::None | ExpiryOpt::Persist)
        {
            req.expiry = ExpiryOpt::Persist;
        } else if let Some((unit, relative)) = expiry_keyword(a)
            && let Some(v) = next
            && match req.expiry {
                ExpiryOpt::None => true,
                ExpiryOpt::At(_, u, r) => (u, r) == (unit, relative),
                ExpiryOpt::Keep | ExpiryOpt::Persist => false,
            }
        {
            req.expiry = ExpiryOpt::At(v, unit, relative);
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(req)
}

/// The effect of a parsed expiry option on a SET, with the time made absolute.
fn set_ttl(ctx: &Ctx, expiry: ExpiryOpt) -> Result<Ttl, CommandError> {
    Ok(match expiry {
        ExpiryOpt::None | ExpiryOpt::Persist => Ttl::Clear,
        ExpiryOpt::Keep => Ttl::Keep,
        ExpiryOpt::At(v, unit, relative) => Ttl::At(absolute_expiry(ctx, v, unit, relative)?),
    })
}

/// EX/PX/EXAT/PXAT -> (unit in ms, relative).
fn expiry_keyword(a: &[u8]) -> Option<(i64, bool)> {
    if is_kw(a, "EX") {
        Some((1000, true))
    } else if is_kw(a, "PX") {
        Some((1, true))
    } else if is_kw(a, "EXAT") {
        Some((1000, false))
    } else if is_kw(a, "PXAT") {
        Some((1, false))
    } else {
        None
    }
}

/// The logged form of a SET that happened: unconditional, with an absolute expiry.
pub(crate) fn log_set(ctx: &mut Ctx, key: &Bytes, value: &Bytes, ttl: Ttl) {
    if !ctx.logging() {
        ctx.log_nothing();
        return;
    }
    let mut argv = vec![Bytes::from_static(b"SET"), key.clone(), value.clone()];
    match ttl {
        Ttl::Keep => argv.push(Bytes::from_static(b"KEEPTTL")),
        Ttl::Clear => {}
        Ttl::At(at) => argv.extend(pxat_arg(at)),
    }
    ctx.log(argv);
}

/// SET key value [NX|XX|IFEQ v|IFNE v] [GET] [EX s|PX ms|EXAT ts|PXAT ms|KEEPTTL]
pub fn set(ctx: &mut Ctx) -> CmdResult {
    let req = parse_string_options(ctx.argv, true)?;
    let ttl = set_ttl(ctx, req.expiry)?;
    let (key, value) = (&ctx.argv[1], &ctx.argv[2]);
    let db = ctx.db();
    let (hash, mut shard) = db.lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let current = shard.get(hash, key);
    if (req.get || matches!(req.cond, Cond::IfEq(_) | Cond::IfNe(_)))
        && current.is_some_and(|e| !e.value.is_string())
    {
        return Err(CommandError::WrongType);
    }
    let old = if req.get {
        ctx.hit(current.is_some(), key);
        current.and_then(|e| e.value.to_vec())
    } else {
        None
    };
    let proceed = match req.cond {
        Cond::None => true,
        Cond::Nx => current.is_none(),
        Cond::Xx => current.is_some(),
        Cond::IfEq(v) => current.is_some_and(|e| e.value.to_vec().as_deref() == Some(v)),
        Cond::IfNe(v) => current.is_none_or(|e| e.value.to_vec().as_deref() != Some(v)),
    };
    if proceed {
        ctx.upsert(&mut shard, hash, key, Value::string(value), ttl);
        drop(shard);
        ctx.notify(ev::STRING, "set", key);
        if matches!(ttl, Ttl::At(_)) {
            ctx.notify(ev::GENERIC, "expire", key);
        }
        let (key, value) = (ctx.argv[1].clone(), ctx.argv[2].clone());
        log_set(ctx, &key, &value, ttl);
    } else {
        drop(shard);
    }
    if req.get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else if proceed {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
    Ok(())
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx) -> CmdResult {
    let (key, value) = (&ctx.argv[1], &ctx.argv[2]);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let created = shard.get(hash, key).is_none();
    if created {
        ctx.upsert(&mut shard, hash, key, Value::string(value), Ttl::Clear);
        ctx.notify(ev::STRING, "set", key);
    }
    drop(shard);
    ctx.out.int(created as i64);
    Ok(())
}

fn set_with_expiry(ctx: &mut Ctx, unit_ms: i64) -> CmdResult {
    let at = absolute_expiry(ctx, &ctx.argv[2], unit_ms, true)?;
    let (key, value) = (ctx.argv[1].clone(), ctx.argv[3].clone());
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    ctx.upsert(&mut shard, hash, &key, Value::string(&value), Ttl::At(at));
    drop(shard);
    ctx.notify(ev::STRING, "set", &key);
    ctx.notify(ev::GENERIC, "expire", &key);
    log_set(ctx, &key, &value, Ttl::At(at));
    ctx.out.ok();
    Ok(())
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx) -> CmdResult {
    set_with_expiry(ctx, 1000)
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx) -> CmdResult {
    set_with_expiry(ctx, 1)
}

/// GET key
pub fn get(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let now = ctx.now_ms;
    let lru = ctx.lru();
    let touch = ctx.touches();
    let (hash, mut shard) = ctx.db().lock_key(key);
    match shard.get_live_mut(hash, key, now) {
        None => {
            drop(shard);
            ctx.hit(false, key);
            ctx.out.null();
        }
        Some(e) => {
            if touch {
                e.access_s = lru;
            }
            match &e.value {
                Value::Str(b) | Value::RawStr(b) => ctx.out.bulk(b),
                Value::Int(n) => ctx.out.bulk_int(*n),
                _ => {
                    drop(shard);
                    ctx.hit(true, key);
                    return Err(CommandError::WrongType);
                }
            }
            drop(shard);
            ctx.hit(true, key);
        }
    }
    Ok(())
}

/// The string value of a live key for a read command: Ok(None) if missing, WRONGTYPE if not a string. Like
/// Redis's read lookup it counts a keyspace hit or miss and refreshes the key's access time.
fn read_string(ctx: &Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, CommandError> {
    let (touch, lru) = (ctx.touches(), ctx.lru());
    let (hash, mut shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live_mut(hash, key, ctx.now_ms) else {
        drop(shard);
        ctx.hit(false, key);
        return Ok(None);
    };
    if touch {
        e.access_s = lru;
    }
    let v = e.value.to_vec();
    drop(shard);
    ctx.hit(true, key);
    v.map(Some).ok_or(CommandError::WrongType)
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    ctx.hit(shard.get(hash, key).is_some(), key);
    let old = match shard.get(hash, key) {
        None => None,
        Some(e) => Some(e.value.to_vec().ok_or(CommandError::WrongType)?),
    };
    if old.is_some() {
        ctx.delete(&mut shard, hash, key);
        ctx.notify(ev::GENERIC, "del", key);
    }
    drop(shard);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// GETSET key value: SET with GET, dropping any TTL.
pub fn getset(ctx: &mut Ctx) -> CmdResult {
    let (key, value) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    ctx.hit(shard.get(hash, &key).is_some(), &key);
    let old = match shard.get(hash, &key) {
        None => None,
        Some(e) => Some(e.value.to_vec().ok_or(CommandError::WrongType)?),
    };
    ctx.upsert(&mut shard, hash, &key, Value::string(&value), Ttl::Clear);
    drop(shard);
    ctx.notify(ev::STRING, "set", &key);
    log_set(ctx, &key, &value, Ttl::Clear);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms | PERSIST]
///
/// As in Redis: options are checked for syntax first, then a missing key answers nil (even with an invalid
/// time), then the type, and only then the time argument.
pub fn getex(ctx: &mut Ctx) -> CmdResult {
    let req = parse_string_options(ctx.argv, false)?;
    let key = ctx.argv[1].clone();
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let Some(e) = shard.get(hash, &key) else {
        drop(shard);
        ctx.hit(false, &key);
        ctx.out.null();
        return Ok(());
    };
    ctx.hit(true, &key);
    let value = e.value.to_vec().ok_or(CommandError::WrongType)?;
    let had_ttl = e.expires_at_ms != 0;
    let change = match req.expiry {
        ExpiryOpt::None | ExpiryOpt::Keep => None,
        ExpiryOpt::Persist => Some(Ttl::Clear),
        ExpiryOpt::At(v, unit, relative) => Some(Ttl::At(absolute_expiry(ctx, v, unit, relative)?)),
    };
    let lru = ctx.lru();
    if let Some(e) = shard.get_mut(hash, &key) {
        e.access_s = lru;
    }
    let mut log: Option<Vec<Bytes>> = None;
    match change {
        Some(Ttl::At(at)) if at <= ctx.now_ms => {
            // An expiry already past deletes the key, as Redis does (and logs a DEL).
            ctx.delete(&mut shard, hash, &key);
            ctx.notify(ev::GENERIC, "del", &key);
            log = Some(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        Some(Ttl::At(at)) => {
            shard.set_expiry(hash, &key, at);
            if let Some(e) = shard.get_mut(hash, &key) {
                ctx.stamp(e);
            }
            let [_, t] = pxat_arg(at);
            ctx.notify(ev::GENERIC, "expire", &key);
            log = Some(vec![Bytes::from_static(b"PEXPIREAT"), key.clone(), t]);
        }
        Some(Ttl::Clear) if had_ttl => {
            shard.set_expiry(hash, &key, 0);
            if let Some(e) = shard.get_mut(hash, &key) {
                ctx.stamp(e);
            }
            ctx.notify(ev::GENERIC, "persist", &key);
            log = Some(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
        }
        _ => {}
    }
    drop(shard);
    if let Some(argv) = log {
        ctx.log(argv);
    }
    ctx.out.bulk(&value);
    Ok(())
}

/// MGET key [key ...]: nil for a missing key or one that is not a string.
pub fn mget(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.argv[1..];
    ctx.out.array(keys.len());
    let db = ctx.db();
    let (touch, lru) = (ctx.touches(), ctx.lru());
    for key in keys {
        let (hash, mut shard) = db.lock_key(key);
        let Some(e) = shard.get_live_mut(hash, key, ctx.now_ms) else {
            drop(shard);
            ctx.hit(false, key);
            ctx.out.null();
            continue;
        };
        if touch {
            e.access_s = lru;
        }
        match e.value.as_str() {
            Some(mut s) => s.with(|b| ctx.out.bulk(b)),
            None => ctx.out.null(),
        }
        drop(shard);
        ctx.hit(true, key);
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, only_if_none_exist: bool) -> CmdResult {
    if ctx.argv.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity {
            command: ctx.spec.name.to_string(),
        });
    }
    let pairs: Vec<(&Bytes, &Bytes)> = ctx.argv[1..]
        .chunks_exact(2)
        .map(|p| (&p[0], &p[1]))
        .collect();
    let keys: Vec<&Bytes> = pairs.iter().map(|p| p.0).collect();
    let db = ctx.db();
    let mut set = db.lock_many(&keys);
    for (k, _) in &pairs {
        let h = set.hash(k);
        ctx.reap(set.shard(h), h, k);
    }
    if only_if_none_exist
        && pairs.iter().any(|(k, _)| {
            let h = set.hash(k);
            set.shard(h).get(h, k).is_some()
        })
    {
        drop(set);
        ctx.out.int(0);
        return Ok(());
    }
    for (k, v) in &pairs {
        let h = set.hash(k);
        ctx.upsert(set.shard(h), h, k, Value::string(v), Ttl::Clear);
    }
    drop(set);
    for (k, _) in &pairs {
        ctx.notify(ev::STRING, "set", k);
    }
    if only_if_none_exist {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)
}

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, true)
}

/// APPEND key value
pub fn append(ctx: &mut Ctx) -> CmdResult {
    let (key, add) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let max = max_string_len(ctx);
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let new_len = match shard.get(hash, &key) {
        None => {
            ctx.upsert(&mut shard, hash, &key, Value::string(&add), Ttl::Keep);
            add.len()
        }
        Some(e) => {
            let mut cur = e.value.to_vec().ok_or(CommandError::WrongType)?;
            if cur.len() + add.len() > max {
                return Err(CommandError::StringTooLong);
            }
            cur.extend_from_slice(&add);
            let n = cur.len();
            ctx.upsert(
                &mut shard,
                hash,
                &key,
                Value::RawStr(SmallBytes::from_vec(cur)),
                Ttl::Keep,
            );
            n
        }
    };
    drop(shard);
    ctx.notify(ev::STRING, "append", &key);
    ctx.out.int(new_len as i64);
    Ok(())
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let (touch, lru) = (ctx.touches(), ctx.lru());
    let (hash, mut shard) = ctx.db().lock_key(key);
    let n = match shard.get_live_mut(hash, key, ctx.now_ms) {
        None => {
            drop(shard);
            ctx.hit(false, key);
            0
        }
        Some(e) => {
            if touch {
                e.access_s = lru;
            }
            let n = e.value.str_len();
            drop(shard);
            ctx.hit(true, key);
            n.ok_or(CommandError::WrongType)?
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// GETRANGE key start end (and its old name SUBSTR), with Redis 7's index rules.
pub fn getrange(ctx: &mut Ctx) -> CmdResult {
    let start = parse_int(&ctx.argv[2])?;
    let end = parse_int(&ctx.argv[3])?;
    let s = read_string(ctx, &ctx.argv[1])?.unwrap_or_default();
    let len = s.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

/// SUBSTR key start end
pub fn substr(ctx: &mut Ctx) -> CmdResult {
    getrange(ctx)
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx) -> CmdResult {
    let offset = parse_int(&ctx.argv[2])?;
    if offset < 0 {
        return Err(CommandError::OffsetOutOfRange);
    }
    let (key, value) = (ctx.argv[1].clone(), ctx.argv[3].clone());
    let offset = offset as usize;
    let max = max_string_len(ctx);
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let current = match shard.get(hash, &key) {
        None => None,
        Some(e) => Some(e.value.to_vec().ok_or(CommandError::WrongType)?),
    };
    let cur_len = current.as_ref().map_or(0, Vec::len);
    if value.is_empty() {
        drop(shard);
        ctx.out.int(cur_len as i64);
        return Ok(());
    }
    if offset.checked_add(value.len()).is_none_or(|n| n > max) {
        return Err(CommandError::StringTooLong);
    }
    let mut s = current.unwrap_or_default();
    if s.len() < offset + value.len() {
        s.resize(offset + value.len(), 0);
    }
    s[offset..offset + value.len()].copy_from_slice(&value);
    let n = s.len();
    ctx.upsert(
        &mut shard,
        hash,
        &key,
        Value::RawStr(SmallBytes::from_vec(s)),
        Ttl::Keep,
    );
    drop(shard);
    ctx.notify(ev::STRING, "setrange", &key);
    ctx.out.int(n as i64);
    Ok(())
}

fn incr_by(ctx: &mut Ctx, delta: i64) -> CmdResult {
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let current = match shard.get(hash, key).map(|e| &e.value) {
        None => 0,
        Some(Value::Int(n)) => *n,
        Some(Value::Str(b)) | Some(Value::RawStr(b)) => {
            crate::util::numbers::parse_i64(b).ok_or(CommandError::NotInteger)?
        }
        Some(_) => return Err(CommandError::WrongType),
    };
    let new = current.checked_add(delta).ok_or(CommandError::Overflow)?;
    match shard.get_mut(hash, key) {
        Some(e) => {
            e.value = Value::Int(new);
            ctx.stamp(e);
        }
        None => ctx.upsert(&mut shard, hash, key, Value::Int(new), Ttl::Keep),
    }
    drop(shard);
    ctx.notify(ev::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

/// INCR key
pub fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx) -> CmdResult {
    let d = parse_int(&ctx.argv[2])?;
    incr_by(ctx, d)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx) -> CmdResult {
    let d = parse_int(&ctx.argv[2])?;
    if d == i64::MIN {
        return Err(CommandError::Custom("ERR decrement would overflow".into()));
    }
    incr_by(ctx, -d)
}

/// INCRBYFLOAT key increment; logged as `SET key <result> KEEPTTL` so replay does not redo float maths.
///
/// Computed in an emulated x87 `long double`, as Redis does, so the reply is byte for byte Redis's
/// (`0.1 + 0.2` is `0.3`, `10.5 + 0.1` is `10.6`).
pub fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    // Redis checks the type, then the stored value, then the increment.
    let current = match shard.get(hash, &key) {
        None => LongDouble::from_i64(0),
        Some(e) => {
            let v = e.value.to_vec().ok_or(CommandError::WrongType)?;
            LongDouble::parse(&v).ok_or(CommandError::NotFloat)?
        }
    };
    let incr = LongDouble::parse(&ctx.argv[2]).ok_or(CommandError::NotFloat)?;
    let new = current + incr;
    if !new.is_finite() {
        return Err(CommandError::IncrNanOrInf);
    }
    let mut text = Vec::with_capacity(24);
    new.format_human(&mut text);
    ctx.upsert(&mut shard, hash, &key, Value::string(&text), Ttl::Keep);
    drop(shard);
    ctx.notify(ev::STRING, "incrbyfloat", &key);
    let value = bulk_owned(text);
    log_set(ctx, &key, &value, Ttl::Keep);
    ctx.out.bulk(&value);
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]
///
/// As in Redis, both keys are read and type-checked before the options are parsed.
pub fn lcs(ctx: &mut Ctx) -> CmdResult {
    let not_strings =
        || CommandError::Custom("ERR The specified keys must contain string values".into());
    let a = read_string(ctx, &ctx.argv[1])
        .map_err(|_| not_strings())?
        .unwrap_or_default();
    let b = read_string(ctx, &ctx.argv[2])
        .map_err(|_| not_strings())?
        .unwrap_or_default();
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0usize);
    let mut i = 3;
    while i < ctx.argv.len() {
        let a = &ctx.argv[i][..];
        if is_kw(a, "LEN") {
            len_only = true;
        } else if is_kw(a, "IDX") {
            idx = true;
        } else if is_kw(a, "WITHMATCHLEN") {
            with_len = true;
        } else if is_kw(a, "MINMATCHLEN") && i + 1 < ctx.argv.len() {
            let n = parse_int(&ctx.argv[i + 1])?;
            min_len = n.max(0) as usize;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if len_only && idx {
        return Err(CommandError::Custom(
            "ERR If you want both the length and indexes, please just use IDX.".into(),
        ));
    }
    let limit = max_string_len(ctx) as u64;
    let lcs_err = |e: crate::util::lcs::LcsError| CommandError::Custom(e.message().into());
    let r = crate::util::lcs::lcs_with_limit(&a, &b, idx, min_len, limit).map_err(lcs_err)?;
    if len_only {
        ctx.out.int(r.len as i64);
    } else if idx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(r.matches.len());
        for ((a0, a1), (b0, b1), n) in &r.matches {
            ctx.out.array(if with_len { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.int(*a0 as i64);
            ctx.out.int(*a1 as i64);
            ctx.out.array(2);
            ctx.out.int(*b0 as i64);
            ctx.out.int(*b1 as i64);
            if with_len {
                ctx.out.int(*n as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(r.len as i64);
    } else {
        let s = crate::util::lcs::lcs_string_with_limit(&a, &b, limit).map_err(lcs_err)?;
        ctx.out.bulk(&s);
    }
    Ok(())
}

/// The XXH3-64 digest of a string value as 16 lower-case hex digits (Redis 8.4's DIGEST / IFDEQ form).
fn digest_hex(v: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(v))
}

/// DELEX key [IFEQ v | IFNE v | IFDEQ digest | IFDNE digest]: delete, optionally only if the value
/// matches (Redis 8.4). 1 if deleted, else 0.
pub fn delex(ctx: &mut Ctx) -> CmdResult {
    enum C<'a> {
        Any,
        Eq(&'a [u8]),
        Ne(&'a [u8]),
        DigestEq(&'a [u8]),
        DigestNe(&'a [u8]),
    }
    let argv = ctx.argv;
    let cond = match argv.len() {
        2 => C::Any,
        4 => {
            let (k, v) = (&argv[2][..], &argv[3][..]);
            if is_kw(k, "IFEQ") {
                C::Eq(v)
            } else if is_kw(k, "IFNE") {
                C::Ne(v)
            } else if is_kw(k, "IFDEQ") {
                C::DigestEq(v)
            } else if is_kw(k, "IFDNE") {
                C::DigestNe(v)
            } else {
                return Err(CommandError::Syntax);
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    let key = &argv[1];
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let matches = match (shard.get(hash, key), &cond) {
        (None, _) => false,
        (Some(_), C::Any) => true,
        (Some(e), c) => {
            let v = e.value.to_vec().ok_or(CommandError::WrongType)?;
            match c {
                C::Eq(x) => v == *x,
                C::Ne(x) => v != *x,
                C::DigestEq(d) => digest_hex(&v).as_bytes().eq_ignore_ascii_case(d),
                C::DigestNe(d) => !digest_hex(&v).as_bytes().eq_ignore_ascii_case(d),
                C::Any => true,
            }
        }
    };
    let deleted = matches && ctx.delete(&mut shard, hash, key);
    drop(shard);
    if deleted {
        ctx.notify(ev::GENERIC, "del", key);
        ctx.log(vec![Bytes::from_static(b"DEL"), key.clone()]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// DELIFEQ key value: delete only if the string value equals `value` (Valkey). 1 if deleted, else 0.
pub fn delifeq(ctx: &mut Ctx) -> CmdResult {
    let (key, want) = (&ctx.argv[1], &ctx.argv[2]);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let matches = match shard.get(hash, key) {
        None => false,
        Some(e) => e.value.to_vec().ok_or(CommandError::WrongType)? == want[..],
    };
    let deleted = matches && ctx.delete(&mut shard, hash, key);
    drop(shard);
    if deleted {
        ctx.notify(ev::GENERIC, "del", key);
        ctx.log(vec![Bytes::from_static(b"DEL"), key.clone()]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Bytes> {
        line.split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn set_opts(line: &str) -> Result<(bool, bool, String), CommandError> {
        let argv = args(line);
        let r = parse_string_options(&argv, true)?;
        Ok((r.get, r.cond != Cond::None, format!("{:?}", r.expiry)))
    }

    #[test]
    fn repeated_set_flags_are_accepted_as_in_redis() {
        assert!(set_opts("SET k v NX NX").is_ok());
        assert!(set_opts("SET k v XX xx").is_ok());
        assert!(set_opts("SET k v GET GET").is_ok());
        assert!(set_opts("SET k v KEEPTTL KEEPTTL").is_ok());
        let (_, _, exp) = set_opts("SET k v EX 1 EX 2").unwrap();
        assert!(exp.contains("[50]"), "the last EX wins: {exp}");
    }

    #[test]
    fn conflicting_set_flags_are_a_syntax_error() {
        for line in [
            "SET k v NX XX",
            "SET k v EX 1 PX 1",
            "SET k v PXAT 1 EXAT 1",
            "SET k v KEEPTTL EX 1",
            "SET k v EX 1 KEEPTTL",
            "SET k v IFEQ a NX",
            "SET k v NX IFNE a",
            "SET k v PERSIST",
            "SET k v EX",
            "SET k v IFEQ",
        ] {
            assert_eq!(set_opts(line).err(), Some(CommandError::Syntax), "{line}");
        }
    }

    #[test]
    fn getex_accepts_only_expiry_and_persist() {
        let ok = |line: &str| parse_string_options(&args(line), false).is_ok();
        assert!(ok("GETEX k"));
        assert!(ok("GETEX k PERSIST PERSIST"));
        assert!(ok("GETEX k EX abc"));
        assert!(!ok("GETEX k NX"));
        assert!(!ok("GETEX k GET"));
        assert!(!ok("GETEX k KEEPTTL"));
        assert!(!ok("GETEX k PERSIST EX 1"));
    }
}
