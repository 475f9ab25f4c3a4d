//! Leases (LEASE.*): a time to live that many keys share, kept alive by one heartbeat. When a lease is
//! revoked or reaches its deadline, every key attached to it is deleted in one unit: one revision, one
//! `del` change per key, one `LEASE.REVOKE id` record (replay holds the same leases, so it deletes the
//! same keys).
//!
//! Lease operations are writes: GRANT, KEEPALIVE, ATTACH and REVOKE each commit a unit (and so take a
//! revision) even when no key changes, because the log must carry them for the AOF and replication.
//! They are recorded with absolute times and ids (`LEASE.GRANT ms ID id PXAT t`,
//! `LEASE.KEEPALIVE id PXAT t`), which the commands accept for replay.

use bytes::Bytes;
use std::collections::BTreeMap;

use super::{int_arg, ms_arg, u64_arg};
use crate::commands::{CmdResult, CommandError, Ctx, is_kw};
use crate::keyspace::leases::LeaseTable;
use crate::notify::class as ev;
use crate::state::State;

/// LEASE.GRANT ms [ID id] [PXAT t]: a new lease id.
pub fn grant(ctx: &mut Ctx) -> CmdResult {
    let ttl = ms_arg(&ctx.argv[1], "lease time to live")?;
    let (mut id, mut deadline) = (None, ctx.now_ms + ttl);
    let mut i = 2;
    while i < ctx.argv.len() {
        let v = ctx.argv.get(i + 1).ok_or(CommandError::Syntax)?;
        if is_kw(&ctx.argv[i], "ID") {
            id = Some(u64_arg(v)?);
        } else if is_kw(&ctx.argv[i], "PXAT") {
            deadline = ms_arg(v, "PXAT")?;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let state = ctx.state;
    // The revision is taken with the registry locked, so lease changes apply in revision order.
    let mut table = state.keyspace.leases.lock();
    if let Some(id) = id
        && (id == 0 || table.exists(id))
    {
        return Err(CommandError::Custom(format!(
            "ERR lease {id} already exists"
        )));
    }
    let revision = ctx.revision();
    let id = id.unwrap_or_else(|| table.next_id(revision));
    table.grant(id, ttl, deadline);
    drop(table);
    super::record(ctx, || {
        vec![
            Bytes::from_static(b"LEASE.GRANT"),
            int_arg(ttl),
            Bytes::from_static(b"ID"),
            int_arg(id),
            Bytes::from_static(b"PXAT"),
            int_arg(deadline),
        ]
    });
    ctx.out.int(id as i64);
    Ok(())
}

/// LEASE.KEEPALIVE id [PXAT t]: renews the lease for its full time to live; the remaining ms, or nil
/// if the lease is gone.
pub fn keepalive(ctx: &mut Ctx) -> CmdResult {
    let id = u64_arg(&ctx.argv[1])?;
    let at = match &ctx.argv[2..] {
        [] => None,
        [kw, v] if is_kw(kw, "PXAT") => Some(ms_arg(v, "PXAT")?),
        _ => return Err(CommandError::Syntax),
    };
    let now = ctx.now_ms;
    let state = ctx.state;
    let mut table = state.keyspace.leases.lock();
    let Some(lease) = table.get(id, now) else {
        ctx.out.null();
        return Ok(());
    };
    let deadline = at.unwrap_or(now + lease.ttl_ms);
    ctx.revision();
    table.renew(id, deadline, now);
    drop(table);
    super::record(ctx, || {
        vec![
            Bytes::from_static(b"LEASE.KEEPALIVE"),
            int_arg(id),
            Bytes::from_static(b"PXAT"),
            int_arg(deadline),
        ]
    });
    ctx.out.int(deadline.saturating_sub(now) as i64);
    Ok(())
}

/// LEASE.REVOKE id: the number of keys deleted, or nil if the lease is gone. (`LEASE.REVOKE id
/// EXPIRED` is how the expirer ends a lease past its deadline: its keys' events say `expired`.)
pub fn revoke(ctx: &mut Ctx) -> CmdResult {
    let id = u64_arg(&ctx.argv[1])?;
    let expired = match &ctx.argv[2..] {
        [] => false,
        [kw] if is_kw(kw, "EXPIRED") => true,
        _ => return Err(CommandError::Syntax),
    };
    let now = ctx.now_ms;
    let state = ctx.state;
    // A lease past its deadline is gone for clients already; only the expirer ends it (with EXPIRED,
    // which is also its record, so a replay at the unit's time ends it the same way).
    if !expired && state.keyspace.leases.deadline(id).is_none_or(|d| d <= now) {
        ctx.out.null();
        return Ok(());
    }
    // Lock the shards of every attached key (databases in order, as FLUSHALL does), then the
    // registry, and check the keys did not change meanwhile: the revision is taken holding all of
    // them, so no write to those keys or to the lease can come between it and the deletions.
    let mut tries = 0;
    let (mut sets, lease, table) = loop {
        let Some(keys) = state.keyspace.leases.lock().keys_of(id) else {
            ctx.out.null();
            return Ok(());
        };
        let mut by_db: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
        for (db, key) in keys.keys() {
            if *db < state.keyspace.db_count() {
                by_db.entry(*db).or_default().push(key.clone());
            }
        }
        let sets: Vec<(usize, crate::keyspace::ShardSet)> = by_db
            .iter()
            .map(|(db, names)| (*db, state.keyspace.db(*db).lock_many(names)))
            .collect();
        let mut table = state.keyspace.leases.lock();
        if table.keys_of(id).as_ref() == Some(&keys) || tries > 100 {
            let Some(lease) = table.end(id) else {
                ctx.out.null();
                return Ok(());
            };
            break (sets, lease, table);
        }
        tries += 1;
    };
    ctx.revision();
    drop(table);
    let (event, class) = if expired {
        ("expired", ev::EXPIRED)
    } else {
        ("del", ev::GENERIC)
    };
    let mut attached: Vec<(usize, Bytes, u64)> = lease
        .keys
        .into_iter()
        .map(|((db, key), rev)| (db, key, rev))
        .collect();
    attached.sort();
    let mut deleted = 0;
    for (db, key, rev) in &attached {
        let Some((_, set)) = sets.iter_mut().find(|(d, _)| d == db) else {
            continue;
        };
        let h = set.hash(key);
        let shard = set.shard(h);
        if shard.get(h, key).is_none_or(|e| e.create_revision != *rev) {
            continue;
        }
        let Some(entry) = shard.remove(h, key) else {
            continue;
        };
        ctx.stamp_removed(*db, key, entry.mod_revision);
        ctx.notify_db(*db, class, event, key);
        crate::notify::record_changed(ctx.state.outlets(), &mut ctx.txn.notes, key);
        deleted += 1;
        if ctx.state.blocking.is_waited(*db, key) {
            ctx.txn.ready.push((*db, key.clone()));
        }
    }
    drop(sets);
    for (db, key) in lease.holder_keys {
        if ctx.state.blocking.is_waited(db, &key) {
            ctx.txn.ready.push((db, key));
        }
    }
    if expired {
        ctx.state
            .stats
            .expired_keys
            .fetch_add(deleted, std::sync::atomic::Ordering::Relaxed);
    }
    let mut record = vec![Bytes::from_static(b"LEASE.REVOKE"), int_arg(id)];
    if expired {
        record.push(Bytes::from_static(b"EXPIRED"));
    }
    ctx.log(record);
    ctx.out.int(deleted as i64);
    Ok(())
}

/// LEASE.TTL id [KEYS]: nil if gone, else granted_ms, remaining_ms (and keys).
pub fn ttl(ctx: &mut Ctx) -> CmdResult {
    let id = u64_arg(&ctx.argv[1])?;
    let with_keys = match &ctx.argv[2..] {
        [] => false,
        [kw] if is_kw(kw, "KEYS") => true,
        _ => return Err(CommandError::Syntax),
    };
    let now = ctx.now_ms;
    let Some(lease) = ctx.state.keyspace.leases.get(id, now) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.map(if with_keys { 3 } else { 2 });
    ctx.out.bulk(b"granted_ms");
    ctx.out.int(lease.ttl_ms as i64);
    ctx.out.bulk(b"remaining_ms");
    ctx.out.int(lease.deadline_ms.saturating_sub(now) as i64);
    if with_keys {
        let mut keys: Vec<(usize, Bytes)> = lease
            .keys
            .iter()
            .filter(|((db, key), rev)| {
                *db < ctx.state.keyspace.db_count() && {
                    let (h, shard) = ctx.state.keyspace.db(*db).lock_key(key);
                    shard
                        .get_live(h, key, now)
                        .is_some_and(|e| e.create_revision == **rev)
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        ctx.out.bulk(b"keys");
        ctx.out.array(keys.len());
        for (_, k) in &keys {
            ctx.out.bulk(k);
        }
    }
    Ok(())
}

/// LEASE.ATTACH id key [key ...]: attaches the existing keys; how many.
pub fn attach(ctx: &mut Ctx) -> CmdResult {
    let id = u64_arg(&ctx.argv[1])?;
    let now = ctx.now_ms;
    if !ctx.state.keyspace.leases.is_live(id, now) {
        return Err(CommandError::NoLease { id: id.to_string() });
    }
    let db = ctx.client.db;
    let state = ctx.state;
    // The keys' shards, then the registry: the incarnations read are the ones attached, at this
    // unit's revision.
    let names: Vec<&Bytes> = ctx.argv[2..].iter().collect();
    let mut set = state.keyspace.db(db).lock_many(&names);
    let mut table = state.keyspace.leases.lock();
    let mut attached: Vec<Bytes> = Vec::new();
    for key in &ctx.argv[2..] {
        let h = set.hash(key);
        let Some(rev) = set
            .shard(h)
            .get_live(h, key, now)
            .map(|e| e.create_revision)
        else {
            continue;
        };
        if attached.is_empty() {
            ctx.revision();
        }
        if table.attach(id, db, key, rev, now) {
            attached.push(key.clone());
        }
    }
    drop(table);
    drop(set);
    if !attached.is_empty() {
        let mut argv = vec![Bytes::from_static(b"LEASE.ATTACH"), int_arg(id)];
        argv.extend(attached.iter().cloned());
        ctx.log(argv);
    } else {
        ctx.log_nothing();
    }
    ctx.out.int(attached.len() as i64);
    Ok(())
}

/// LEASE.LIST: the live lease ids.
pub fn list(ctx: &mut Ctx) -> CmdResult {
    let ids = ctx.state.keyspace.leases.list(ctx.now_ms);
    ctx.out.array(ids.len());
    for id in ids {
        ctx.out.int(id as i64);
    }
    Ok(())
}

/// The registry locked with lease `id` live in it, or NOLEASE: a command that writes a key and then
/// attaches it (LOCK.ACQUIRE, KV.CAS, ELECT.CAMPAIGN with LEASE) holds this from before its write to
/// the attach, under the key's shard guard, so the lease cannot end in between and leave the key
/// without its lease.
pub fn lock_live(state: &State, id: u64, now: u64) -> Result<LeaseTable<'_>, CommandError> {
    let table = state.keyspace.leases.lock();
    if table.is_live(id, now) {
        Ok(table)
    } else {
        Err(CommandError::NoLease { id: id.to_string() })
    }
}

/// Attaches `key` (current db, incarnation `created`, its shard locked by the caller) to the live
/// lease `id` of `table` (from `lock_live`). Returns whether it changed anything; the caller then
/// records it with `log_attach`, after its own record.
pub fn attach_key(
    ctx: &mut Ctx,
    mut table: LeaseTable<'_>,
    id: u64,
    key: &Bytes,
    created: u64,
) -> bool {
    let db = ctx.client.db;
    if table.lease_of(db, key, created, ctx.now_ms) == Some(id)
        || !table.attach(id, db, key, created, ctx.now_ms)
    {
        return false;
    }
    // A change of server state like any other: the unit takes a revision for it even when the key
    // itself did not change (an owner re-acquiring under a lease), so the log carries it.
    ctx.revision();
    true
}

/// Records `LEASE.ATTACH id key` (see `attach_key`).
pub fn log_attach(ctx: &mut Ctx, id: u64, key: &Bytes) {
    super::record(ctx, || {
        vec![
            Bytes::from_static(b"LEASE.ATTACH"),
            int_arg(id),
            key.clone(),
        ]
    });
}

/// Ends every lease past its deadline, each as a unit of its own (the expirer's tick).
pub fn expire_due(state: &State) -> usize {
    let now = state.now_ms();
    let due = state.keyspace.leases.due(now);
    for id in &due {
        let argv = [
            Bytes::from_static(b"LEASE.REVOKE"),
            int_arg(*id),
            Bytes::from_static(b"EXPIRED"),
        ];
        crate::commands::run_internal(state, 0, &argv);
    }
    due.len()
}
