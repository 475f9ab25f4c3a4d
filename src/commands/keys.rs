//! Generic key commands (Redis group `generic`): existence, deletion, renaming, copying between databases,
//! iteration (KEYS, SCAN, RANDOMKEY), introspection (TYPE, OBJECT) and expiry.
//!
//! Time seam: every EXPIRE form is logged as `PEXPIREAT key <abs>` (or `DEL key` when the time is already
//! past), so replay does not depend on when it runs.

use bytes::Bytes;
use parking_lot::MutexGuard;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::{Db, Entry, Shard};
use crate::notify::class as ev;
use crate::util::glob::{glob_match, is_literal};

/// DEL key [key ...] / UNLINK: the number of keys removed.
pub fn del(ctx: &mut Ctx) -> CmdResult {
    remove_keys(ctx, false)
}

/// UNLINK key [key ...]: DEL whose big values are freed on a background thread.
pub fn unlink(ctx: &mut Ctx) -> CmdResult {
    remove_keys(ctx, true)
}

fn remove_keys(ctx: &mut Ctx, unlink: bool) -> CmdResult {
    let keys = &ctx.argv[1..];
    let db = ctx.db();
    let mut removed = 0;
    if keys.len() == 1 {
        let (hash, mut shard) = db.lock_key(&keys[0]);
        if ctx.delete_user(&mut shard, hash, &keys[0], unlink) {
            removed += 1;
            ctx.notify(ev::GENERIC, "del", &keys[0]);
        }
    } else {
        let mut set = db.lock_many(keys);
        for k in keys {
            let h = set.hash(k);
            if ctx.delete_user(set.shard(h), h, k, unlink) {
                removed += 1;
                ctx.notify(ev::GENERIC, "del", k);
            }
        }
    }
    ctx.out.int(removed);
    Ok(())
}

/// EXISTS key [key ...]: counts repeats, as Redis does.
pub fn exists(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for k in &ctx.argv[1..] {
        let (h, shard) = db.lock_key(k);
        let found = shard.get_live(h, k, ctx.now_ms).is_some();
        drop(shard);
        ctx.hit(found, k);
        n += found as i64;
    }
    ctx.out.int(n);
    Ok(())
}

/// TOUCH key [key ...]: counts existing keys and refreshes their access time.
pub fn touch(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let lru = ctx.lru();
    let mut n = 0;
    for k in &ctx.argv[1..] {
        let (h, mut shard) = db.lock_key(k);
        let found = match shard.get_live_mut(h, k, ctx.now_ms) {
            Some(e) => {
                e.access_s = lru;
                true
            }
            None => false,
        };
        drop(shard);
        ctx.hit(found, k);
        n += found as i64;
    }
    ctx.out.int(n);
    Ok(())
}

/// TYPE key
pub fn r#type(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let t = with_live(ctx, key, |e| e.value.type_name()).unwrap_or("none");
    ctx.out.simple(t);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (src, dst) = (&ctx.argv[1], &ctx.argv[2]);
    let db = ctx.db();
    let mut set = db.lock_many(&[src, dst]);
    let (hs, hd) = (set.hash(src), set.hash(dst));
    ctx.reap(set.shard(hs), hs, src);
    ctx.reap(set.shard(hd), hd, dst);
    if set.shard(hs).get(hs, src).is_none() {
        return Err(CommandError::NoSuchKey);
    }
    if src == dst {
        drop(set);
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && set.shard(hd).get(hd, dst).is_some() {
        drop(set);
        ctx.out.int(0);
        return Ok(());
    }
    let Some(moved) = set.shard(hs).remove(hs, src) else {
        return Err(CommandError::NoSuchKey);
    };
    let Entry {
        value,
        expires_at_ms,
        mod_revision,
        ..
    } = *moved;
    let db = ctx.client.db;
    ctx.stamp_removed(db, src, mod_revision);
    let ttl = if expires_at_ms == 0 {
        Ttl::Clear
    } else {
        Ttl::At(expires_at_ms)
    };
    ctx.upsert(set.shard(hd), hd, dst, value, ttl);
    drop(set);
    ctx.notify(ev::GENERIC, "rename_from", src);
    ctx.notify(ev::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

/// Parses a database index argument (SELECT, MOVE, COPY ... DB) as Redis reads it, a C `int`: a
/// non-integer is "not an integer", an integer outside the `int` range gets Redis's range message, and an
/// `int` that names no database is "DB index is out of range".
pub fn parse_db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CommandError> {
    let n = i32::try_from(parse_int(arg)?).map_err(|_| CommandError::ValueOutOfRangeBetween {
        min: i32::MIN.into(),
        max: i32::MAX.into(),
    })?;
    match usize::try_from(n) {
        Ok(i) if i < ctx.state.keyspace.db_count() => Ok(i),
        _ => Err(CommandError::DbIndexOutOfRange),
    }
}

/// Locks one key's shard in each of two databases, in (db, shard) order, the keyspace's lock order.
fn lock_two<'a>(
    a: (usize, &'a Db, u64),
    b: (usize, &'a Db, u64),
) -> (MutexGuard<'a, Shard>, MutexGuard<'a, Shard>) {
    let (ia, ib) = (Db::shard_index(a.2), Db::shard_index(b.2));
    if (a.0, ia) <= (b.0, ib) {
        let ga = a.1.lock(ia);
        let gb = b.1.lock(ib);
        (ga, gb)
    } else {
        let gb = b.1.lock(ib);
        let ga = a.1.lock(ia);
        (ga, gb)
    }
}

/// What `transfer` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    NoSource,
    /// The destination exists and REPLACE was not given.
    DestinationExists,
    Done,
}

/// Copies or moves `key` from the client's db to `dst_db` as `dst_key`.
fn transfer(
    ctx: &mut Ctx,
    key: &Bytes,
    dst_db: usize,
    dst_key: &Bytes,
    replace: bool,
    keep_source: bool,
) -> Transfer {
    let src_db = ctx.client.db;
    let ks = &ctx.state.keyspace;
    let (sdb, ddb) = (ks.db(src_db), ks.db(dst_db));
    let (hs, hd) = (sdb.hash(key), ddb.hash(dst_key));
    if src_db == dst_db {
        let mut set = sdb.lock_many(&[key, dst_key]);
        ctx.reap(set.shard(hs), hs, key);
        ctx.reap(set.shard(hd), hd, dst_key);
        let Some(src) = set.shard(hs).get(hs, key).cloned() else {
            return Transfer::NoSource;
        };
        if set.shard(hd).get(hd, dst_key).is_some() && !replace {
            return Transfer::DestinationExists;
        }
        let ttl = if src.expires_at_ms == 0 {
            Ttl::Clear
        } else {
            Ttl::At(src.expires_at_ms)
        };
        ctx.upsert(set.shard(hd), hd, dst_key, src.value, ttl);
        return Transfer::Done;
    }
    let (mut s, mut d) = lock_two((src_db, sdb, hs), (dst_db, ddb, hd));
    ctx.reap(&mut s, hs, key);
    ctx.reap_in(dst_db, &mut d, hd, dst_key);
    let Some(src) = s.get(hs, key).cloned() else {
        return Transfer::NoSource;
    };
    if d.get(hd, dst_key).is_some() && !replace {
        return Transfer::DestinationExists;
    }
    let ttl = if src.expires_at_ms == 0 {
        Ttl::Clear
    } else {
        Ttl::At(src.expires_at_ms)
    };
    // Overwriting an existing destination is a change of that key, exactly as in the same-db case.
    upsert_in(ctx, dst_db, &mut d, hd, dst_key, src.value, ttl);
    if !keep_source && let Some(removed) = s.remove(hs, key) {
        ctx.stamp_removed(src_db, key, removed.mod_revision);
    }
    Transfer::Done
}

/// `Ctx::upsert` for a shard of database `db`, which need not be the client's.
fn upsert_in(
    ctx: &mut Ctx,
    db: usize,
    shard: &mut Shard,
    hash: u64,
    key: &[u8],
    value: crate::keyspace::Value,
    ttl: Ttl,
) {
    let current = ctx.client.db;
    ctx.client.db = db;
    ctx.upsert(shard, hash, key, value, ttl);
    ctx.client.db = current;
}

/// MOVE key db
pub fn r#move(ctx: &mut Ctx) -> CmdResult {
    let dst = parse_db_index(ctx, &ctx.argv[2])?;
    if dst == ctx.client.db {
        return Err(CommandError::SameObject);
    }
    let key = ctx.argv[1].clone();
    let moved = transfer(ctx, &key, dst, &key, false, false) == Transfer::Done;
    if moved {
        ctx.notify(ev::GENERIC, "move_from", &key);
        ctx.notify_db(dst, ev::GENERIC, "move_to", &key);
    }
    // The record names both databases, so it is logged as the command itself with the client's db.
    ctx.out.int(moved as i64);
    Ok(())
}

/// COPY source destination [DB db] [REPLACE]
pub fn copy(ctx: &mut Ctx) -> CmdResult {
    let mut dst_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < ctx.argv.len() {
        let a = &ctx.argv[i][..];
        if is_kw(a, "REPLACE") {
            replace = true;
        } else if is_kw(a, "DB") && i + 1 < ctx.argv.len() {
            dst_db = parse_db_index(ctx, &ctx.argv[i + 1])?;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let (src, dst) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    if src == dst && dst_db == ctx.client.db {
        return Err(CommandError::SameObject);
    }
    let outcome = transfer(ctx, &src, dst_db, &dst, replace, true);
    // Redis reads COPY's source with a read lookup, which counts a keyspace hit or miss.
    ctx.hit(outcome != Transfer::NoSource, &src);
    let copied = outcome == Transfer::Done;
    if copied {
        ctx.notify_db(dst_db, ev::GENERIC, "copy_to", &dst);
    }
    ctx.out.int(copied as i64);
    Ok(())
}

/// KEYS pattern
pub fn keys(ctx: &mut Ctx) -> CmdResult {
    let pattern = ctx.arg(1);
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    if is_literal(pattern) {
        let (h, shard) = db.lock_key(pattern);
        if shard.get_live(h, pattern, ctx.now_ms).is_some() {
            found.push(pattern.to_vec());
        }
    } else {
        let all = pattern == b"*";
        for i in 0..crate::keyspace::db::SHARDS {
            let shard = db.lock(i);
            for e in shard.iter() {
                if !e.is_expired(ctx.now_ms) && (all || glob_match(pattern, &e.key, false)) {
                    found.push(e.key.to_vec());
                }
            }
        }
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor is `shard << 48 | layout_epoch(16 bits) << 32 | bucket`. Entries do not move between buckets
/// while a shard's layout epoch stands, so walking buckets in order visits every key present throughout;
/// if the epoch moved (the table grew or was reorganised) the shard is walked again from its start, which
/// may repeat keys (allowed) but never skips one.
pub fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(&ctx.argv[1]).ok_or(CommandError::InvalidCursor)?;
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut type_filter: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < ctx.argv.len() {
        let a = &ctx.argv[i][..];
        let Some(v) = ctx.argv.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is_kw(a, "MATCH") {
            pattern = Some(&v[..]).filter(|p| *p != b"*");
        } else if is_kw(a, "COUNT") {
            let n = parse_int(v)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n as usize;
        } else if is_kw(a, "TYPE") {
            type_filter = Some(v.to_ascii_lowercase());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let db = ctx.db();
    let now = ctx.now_ms;
    let mut shard_i = (cursor >> 48) as usize;
    let epoch = ((cursor >> 32) & 0xFFFF) as u32;
    let mut bucket = (cursor & 0xFFFF_FFFF) as usize;
    let mut budget = count;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut next: u64 = 0;
    while shard_i < crate::keyspace::db::SHARDS {
        let shard = db.lock(shard_i);
        let shard_epoch = shard.layout_epoch() & 0xFFFF;
        if bucket != 0 && shard_epoch != epoch {
            bucket = 0;
        }
        let mut visited = 0;
        let resume = shard.scan_from(bucket, budget, |e| {
            visited += 1;
            let wanted = !e.is_expired(now)
                && pattern.is_none_or(|p| glob_match(p, &e.key, false))
                && type_filter
                    .as_ref()
                    .is_none_or(|t| e.value.type_name().as_bytes() == &t[..]);
            if wanted {
                found.push(e.key.to_vec());
            }
        });
        drop(shard);
        budget = budget.saturating_sub(visited);
        if let Some(b) = resume {
            next = (shard_i as u64) << 48 | (shard_epoch as u64) << 32 | b as u64;
            break;
        }
        shard_i += 1;
        bucket = 0;
        if budget == 0 && shard_i < crate::keyspace::db::SHARDS {
            next = (shard_i as u64) << 48;
            break;
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// Reads a SCAN cursor as Redis does (C `strtoul`): optional sign, decimal digits, nothing after; an empty
/// string is cursor 0 and a negative number wraps around. Leading whitespace and overflow are refused.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul consumes nothing from "" (cursor 0) but a lone sign leaves it behind (an error).
        return arg.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if negative { n.wrapping_neg() } else { n })
}

/// RANDOMKEY: a random live key, or nil.
pub fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let shards = crate::keyspace::db::SHARDS;
    let start = rand::random_range(0..shards);
    for step in 0..shards {
        let shard = db.lock((start + step) % shards);
        let n = shard.num_buckets();
        if shard.is_empty() || n == 0 {
            continue;
        }
        // Probe from a random bucket; a few rounds skip keys that expired but are not yet deleted.
        for _ in 0..8 {
            let from = rand::random_range(0..n);
            for i in 0..n {
                if let Some(e) = shard.bucket((from + i) % n) {
                    if !e.is_expired(ctx.now_ms) {
                        let k = e.key.to_vec();
                        drop(shard);
                        ctx.out.bulk(&k);
                        return Ok(());
                    }
                    break;
                }
            }
        }
    }
    ctx.out.null();
    Ok(())
}

/// Reads a live entry's field under its shard lock, counting a keyspace hit or miss as Redis's read lookup
/// does (without refreshing the access time: TYPE, TTL and OBJECT do not touch keys).
fn with_live<R>(ctx: &Ctx, key: &[u8], f: impl FnOnce(&Entry) -> R) -> Option<R> {
    let (h, shard) = ctx.db().lock_key(key);
    let r = shard.get_live(h, key, ctx.now_ms).map(f);
    drop(shard);
    ctx.hit(r.is_some(), key);
    r
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    match with_live(ctx, &ctx.argv[2], |e| e.value.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.state
        .config
        .get("maxmemory-policy")
        .is_some_and(|p| p.contains("lfu"))
}

/// OBJECT FREQ key: only meaningful under an LFU policy, which Concord does not track yet.
pub fn object_freq(ctx: &mut Ctx) -> CmdResult {
    if with_live(ctx, &ctx.argv[2], |_| ()).is_none() {
        ctx.out.null();
        return Ok(());
    }
    if !lfu_policy(ctx) {
        return Err(CommandError::Custom("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into()));
    }
    ctx.out.int(0);
    Ok(())
}

/// OBJECT IDLETIME key: seconds since the key was last read or written.
pub fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let lru = ctx.lru();
    let Some(access) = with_live(ctx, &ctx.argv[2], |e| e.access_s) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu_policy(ctx) {
        return Err(CommandError::Custom("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into()));
    }
    ctx.out.int(lru.saturating_sub(access) as i64);
    Ok(())
}

/// OBJECT REFCOUNT key: Redis shares small integers (refcount INT_MAX); everything else has one owner.
pub fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let shared =
        |e: &Entry| matches!(e.value, crate::keyspace::Value::Int(n) if (0..10000).contains(&n));
    match with_live(ctx, &ctx.argv[2], shared) {
        Some(true) => ctx.out.int(i32::MAX as i64),
        Some(false) => ctx.out.int(1),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Writes Redis's HELP reply: a status line per text line.
pub fn help_reply(ctx: &mut Ctx, container: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
}

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX | XX | GT | LT]
///
/// Redis's order of checks: the options (unknown, then conflicting), then the time argument.
fn expire_generic(ctx: &mut Ctx, unit_ms: i64, relative: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &ctx.argv[3..] {
        if is_kw(a, "NX") {
            nx = true;
        } else if is_kw(a, "XX") {
            xx = true;
        } else if is_kw(a, "GT") {
            gt = true;
        } else if is_kw(a, "LT") {
            lt = true;
        } else {
            return Err(CommandError::Custom(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::ExpireOptionConflict);
    }
    if gt && lt {
        return Err(CommandError::ExpireGtLtConflict);
    }
    let n = parse_int(&ctx.argv[2])?;
    let invalid = || CommandError::InvalidExpire {
        command: ctx.spec.name.to_string(),
    };
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if relative {
        ms.checked_add(ctx.now_ms as i64).ok_or_else(invalid)?
    } else {
        ms
    };
    let key = ctx.argv[1].clone();
    let (h, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, h, &key);
    let Some(e) = shard.get(h, &key) else {
        drop(shard);
        ctx.out.int(0);
        return Ok(());
    };
    // No expiry counts as an infinite one for GT and LT, as in Redis.
    let current = (e.expires_at_ms != 0).then_some(e.expires_at_ms as i64);
    let allowed = (!nx || current.is_none())
        && (!xx || current.is_some())
        && (!gt || current.is_some_and(|c| at > c))
        && (!lt || current.is_none_or(|c| at < c));
    if !allowed {
        drop(shard);
        ctx.out.int(0);
        return Ok(());
    }
    if at <= ctx.now_ms as i64 {
        ctx.delete(&mut shard, h, &key);
        drop(shard);
        ctx.notify(ev::GENERIC, "del", &key);
        ctx.log(vec![Bytes::from_static(b"DEL"), key]);
    } else {
        shard.set_expiry(h, &key, at as u64);
        if let Some(e) = shard.get_mut(h, &key) {
            ctx.stamp(e);
        }
        drop(shard);
        ctx.notify(ev::GENERIC, "expire", &key);
        let t = Bytes::from(itoa::Buffer::new().format(at).to_owned());
        ctx.log(vec![Bytes::from_static(b"PEXPIREAT"), key, t]);
    }
    ctx.out.int(1);
    Ok(())
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1000, true)
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1, true)
}

/// EXPIREAT key unix-seconds [NX|XX|GT|LT]
pub fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1000, false)
}

/// PEXPIREAT key unix-ms [NX|XX|GT|LT]
pub fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1, false)
}

/// The TTL family: -2 missing, -1 no expiry, else `f(expires_at_ms)`.
fn ttl_generic(ctx: &mut Ctx, f: impl FnOnce(u64, u64) -> i64) -> CmdResult {
    let now = ctx.now_ms;
    let r = with_live(ctx, &ctx.argv[1], |e| e.expires_at_ms);
    ctx.out.int(match r {
        None => -2,
        Some(0) => -1,
        Some(at) => f(at, now),
    });
    Ok(())
}

/// TTL key (seconds, rounded as Redis rounds)
pub fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, now| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    })
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, now| at.saturating_sub(now) as i64)
}

/// EXPIRETIME key (absolute Unix seconds)
pub fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, _| (at / 1000) as i64)
}

/// PEXPIRETIME key (absolute Unix ms)
pub fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, _| at as i64)
}

/// PERSIST key: 1 if an expiry was removed.
pub fn persist(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    let (h, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, h, &key);
    let had = shard.get(h, &key).is_some_and(|e| e.expires_at_ms != 0);
    if had {
        shard.set_expiry(h, &key, 0);
        if let Some(e) = shard.get_mut(h, &key) {
            ctx.stamp(e);
        }
    }
    drop(shard);
    if had {
        ctx.notify(ev::GENERIC, "persist", &key);
    }
    ctx.out.int(had as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn scan_cursor_parses_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"123"), Some(123));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn malformed_scan_cursors_are_refused() {
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"1.5",
            b"abc",
            b"-",
            b"+",
            b"0x10",
            b"\xff",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
