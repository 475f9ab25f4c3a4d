//! Revisions and metadata on every key: KV.REV, KV.META, KV.GET (with IFNOTREV), KV.CAS, KV.CADEL and
//! KV.IF (a guard that EXEC checks before running anything).
//!
//! A key's `mod_revision` is its ETag: unique over all time, so a key deleted and made again never
//! matches an old one (CAS by a per-key version would suffer ABA).

use bytes::Bytes;

use super::{Field, Hold, check_lease, ms_arg, remaining_ms, reply_fields, u64_arg};
use crate::commands::{CmdResult, CommandError, Ctx, Ttl, is_kw};
use crate::keyspace::{Entry, Value};
use crate::notify::class as ev;

/// KV.REV: the server's current revision.
pub fn rev(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.state.keyspace.revision() as i64);
    Ok(())
}

/// KV.META key: type, version, create_revision, mod_revision, lease, pttl; nil if missing.
pub fn meta(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let (now, db) = (ctx.now_ms, ctx.client.db);
    let (hash, shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live(hash, key, now) else {
        drop(shard);
        ctx.out.null();
        return Ok(());
    };
    let lease = ctx
        .state
        .keyspace
        .leases
        .lease_of(db, key, e.create_revision, now)
        .unwrap_or(0);
    let pttl = remaining_ms(ctx, db, e, now);
    let fields = [
        ("type", Field::Bulk(e.value.type_name().as_bytes())),
        ("version", Field::Int(e.version as i64)),
        ("create_revision", Field::Int(e.create_revision as i64)),
        ("mod_revision", Field::Int(e.mod_revision as i64)),
        ("lease", Field::Int(lease as i64)),
        ("pttl", Field::Int(pttl)),
    ];
    reply_fields(ctx.out, &fields);
    Ok(())
}

/// KV.GET key [IFNOTREV rev]: `[value, version, mod_revision]`, the value nil when it is at `rev`.
pub fn get(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let unless = match ctx.argv.len() {
        2 => None,
        4 if is_kw(&ctx.argv[2], "IFNOTREV") => Some(u64_arg(&ctx.argv[3])?),
        _ => return Err(CommandError::Syntax),
    };
    let now = ctx.now_ms;
    let (hash, shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live(hash, key, now) else {
        drop(shard);
        ctx.hit(false, key);
        ctx.out.null();
        return Ok(());
    };
    let Some(mut value) = e.value.as_str() else {
        return Err(CommandError::WrongType);
    };
    ctx.out.array(3);
    if unless == Some(e.mod_revision) {
        ctx.out.null();
    } else {
        value.with(|b| ctx.out.bulk(b));
    }
    ctx.out.int(e.version as i64);
    ctx.out.int(e.mod_revision as i64);
    drop(shard);
    ctx.hit(true, key);
    Ok(())
}

/// KV.CAS key rev value [PX ms | LEASE id]: sets the string if the key's mod_revision is `rev` (0: the
/// key must not exist). The new mod_revision, or nil.
pub fn cas(ctx: &mut Ctx) -> CmdResult {
    let expected = u64_arg(&ctx.argv[2])?;
    let hold = match &ctx.argv[4..] {
        [] => None,
        [kw, v] if is_kw(kw, "PX") => Some(Hold::Until(ctx.now_ms + ms_arg(v, "PX")?)),
        [kw, v] if is_kw(kw, "PXAT") => Some(Hold::Until(ms_arg(v, "PXAT")?)),
        [kw, v] if is_kw(kw, "LEASE") => Some(Hold::Lease(u64_arg(v)?)),
        _ => return Err(CommandError::Syntax),
    };
    if let Some(h) = hold {
        check_lease(ctx, h)?;
    }
    let (key, value) = (ctx.argv[1].clone(), ctx.argv[3].clone());
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let table = match hold {
        Some(Hold::Lease(id)) => Some(super::lease::lock_live(ctx.state, id, ctx.now_ms)?),
        _ => None,
    };
    let current = shard.get(hash, &key).map_or(0, |e| e.mod_revision);
    if current != expected {
        drop(shard);
        ctx.out.null();
        return Ok(());
    }
    let ttl = match hold {
        Some(Hold::Until(at)) => Ttl::At(at),
        _ => Ttl::Clear,
    };
    ctx.upsert(&mut shard, hash, &key, Value::string(&value), ttl);
    let (revision, created) = shard
        .get(hash, &key)
        .map_or((0, 0), |e| (e.mod_revision, e.create_revision));
    let lease = match (hold, table) {
        (Some(Hold::Lease(id)), Some(t)) => {
            super::lease::attach_key(ctx, t, id, &key, created).then_some(id)
        }
        _ => None,
    };
    drop(shard);
    ctx.notify(ev::STRING, "set", &key);
    if matches!(ttl, Ttl::At(_)) {
        ctx.notify(ev::GENERIC, "expire", &key);
    }
    crate::commands::strings::log_set(ctx, &key, &value, ttl);
    if let Some(id) = lease {
        super::lease::log_attach(ctx, id, &key);
    }
    ctx.out.int(revision as i64);
    Ok(())
}

/// KV.CADEL key rev: 1 if the key was at `rev` and is now deleted, else 0.
pub fn cadel(ctx: &mut Ctx) -> CmdResult {
    let expected = u64_arg(&ctx.argv[2])?;
    let key = ctx.argv[1].clone();
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let matches = shard
        .get(hash, &key)
        .is_some_and(|e| e.mod_revision == expected);
    let deleted = matches && ctx.delete_user(&mut shard, hash, &key, false);
    drop(shard);
    if deleted {
        ctx.notify(ev::GENERIC, "del", &key);
        super::record(ctx, || vec![Bytes::from_static(b"DEL"), key]);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// A parsed KV.IF condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Exists,
    Missing,
    /// VERSION, MODREV or CREATEREV compared with a number.
    Number(NumField, Op, u64),
    /// VALUE compared for (in)equality.
    Value(bool, Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumField {
    Version,
    ModRev,
    CreateRev,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// Parses `KV.IF key ...` (the whole argv), so MULTI can refuse a malformed guard when it is queued.
pub fn parse_condition(argv: &[Bytes]) -> Result<Condition, CommandError> {
    let op = |b: &[u8]| -> Result<Op, CommandError> {
        Ok(match b {
            b"=" | b"==" => Op::Eq,
            b"!=" => Op::Ne,
            b"<" => Op::Lt,
            b">" => Op::Gt,
            b"<=" => Op::Le,
            b">=" => Op::Ge,
            _ => {
                return Err(CommandError::Custom(format!(
                    "ERR invalid operator '{}', expected one of = != < > <= >=",
                    String::from_utf8_lossy(b)
                )));
            }
        })
    };
    match &argv[2..] {
        [w] if is_kw(w, "EXISTS") => Ok(Condition::Exists),
        [w] if is_kw(w, "MISSING") => Ok(Condition::Missing),
        [w, o, v] if is_kw(w, "VALUE") => match op(o)? {
            Op::Eq => Ok(Condition::Value(true, v.clone())),
            Op::Ne => Ok(Condition::Value(false, v.clone())),
            _ => Err(CommandError::Custom(
                "ERR VALUE compares with = or != only".into(),
            )),
        },
        [w, o, v] => {
            let field = if is_kw(w, "VERSION") {
                NumField::Version
            } else if is_kw(w, "MODREV") {
                NumField::ModRev
            } else if is_kw(w, "CREATEREV") {
                NumField::CreateRev
            } else {
                return Err(CommandError::Syntax);
            };
            Ok(Condition::Number(field, op(o)?, u64_arg(v)?))
        }
        _ => Err(CommandError::Syntax),
    }
}

/// Whether `cond` holds for `entry` (None: the key is missing, whose version and revisions are 0).
pub fn holds(cond: &Condition, entry: Option<&Entry>) -> bool {
    match cond {
        Condition::Exists => entry.is_some(),
        Condition::Missing => entry.is_none(),
        Condition::Value(eq, want) => {
            let same = entry
                .and_then(|e| e.value.as_str())
                .is_some_and(|mut s| s.with(|b| b == &want[..]));
            same == *eq
        }
        Condition::Number(field, op, n) => {
            let v = entry.map_or(0, |e| match field {
                NumField::Version => e.version,
                NumField::ModRev => e.mod_revision,
                NumField::CreateRev => e.create_revision,
            });
            match op {
                Op::Eq => v == *n,
                Op::Ne => v != *n,
                Op::Lt => v < *n,
                Op::Gt => v > *n,
                Op::Le => v <= *n,
                Op::Ge => v >= *n,
            }
        }
    }
}

/// Evaluates a KV.IF argv against database `db` at `now`.
pub fn evaluate(ctx: &Ctx, db: usize, argv: &[Bytes]) -> Result<bool, CommandError> {
    let cond = parse_condition(argv)?;
    let key = &argv[1];
    let (hash, shard) = ctx.state.keyspace.db(db).lock_key(key);
    Ok(holds(&cond, shard.get_live(hash, key, ctx.now_ms)))
}

/// KV.IF key VERSION|MODREV|CREATEREV op n | VALUE op bytes | EXISTS | MISSING: 1 or 0. Queued in
/// MULTI, EXEC evaluates it first (`transactions::exec`).
pub fn kv_if(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    let ok = evaluate(ctx, db, ctx.argv)?;
    ctx.out.int(ok as i64);
    Ok(())
}
