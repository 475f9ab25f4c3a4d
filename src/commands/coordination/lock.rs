//! Locks with fencing tokens (LOCK.*) and counting semaphores (SEM.*).
//!
//! An exclusive lock is a plain string key: value = owner, TTL = its hold, fencing token = its
//! `create_revision`. So a lock taken by any library's `SET key owner NX PX ttl` is a lock here too, with
//! a token, and `GET`, `DEL`, `TTL` and release scripts see LOCK.ACQUIRE's locks as theirs.
//!
//! A shared (reader) lock or a semaphore is a hash of holders: field = owner, value = `"<token>
//! <deadline_ms> <lease_id>"` (deadline 0 when a lease holds it, lease 0 when a deadline does), with the
//! key's TTL at the latest holder deadline. Each holder's token is the revision it acquired at. A holder
//! past its deadline (or whose lease ended) no longer counts, and is removed by the next write to the
//! key, recorded as the plain HSET/HDEL/PEXPIREAT the change amounts to.
//!
//! Waiting (`WAIT ms`) parks the client on the key, in line: any write to the key re-runs the oldest
//! waiter's command, and the line stops at the first that still cannot proceed (`serve_ready`), so
//! hand-over is FIFO with no polling. A holder that lapses by time wakes the line through a wake timer
//! at its deadline (`Blocking::wake_at`); a string lock that expires is deleted by the expirer, which
//! wakes the line too.

use bytes::Bytes;

use super::{AcquireOpts, Field, Hold, int_arg, ms_arg, parse_acquire, remaining_ms, reply_fields};
use crate::commands::{CmdResult, CommandError, Ctx, Ttl};
use crate::keyspace::types::hash::{HashLimits, HashValue};
use crate::keyspace::{Shard, Value};
use crate::notify::class as ev;
use crate::state::blocking::TimeoutReply;

/// One holder of a shared lock or semaphore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub token: u64,
    /// Absolute ms; 0 when a lease holds it.
    pub deadline: u64,
    /// Lease id; 0 when a deadline holds it.
    pub lease: u64,
}

impl Holder {
    fn new(token: u64, hold: Hold) -> Holder {
        match hold {
            Hold::Until(at) => Holder {
                token,
                deadline: at,
                lease: 0,
            },
            Hold::Lease(id) => Holder {
                token,
                deadline: 0,
                lease: id,
            },
        }
    }

    fn parse(v: &[u8]) -> Option<Holder> {
        let mut it = v.split(|b| *b == b' ').map(super::u64_arg);
        let h = Holder {
            token: it.next()?.ok()?,
            deadline: it.next()?.ok()?,
            lease: it.next()?.ok()?,
        };
        it.next().is_none().then_some(h)
    }

    fn encode(&self) -> Bytes {
        Bytes::from(format!("{} {} {}", self.token, self.deadline, self.lease))
    }

    /// The absolute ms at which this holder lapses, if anything bounds it.
    fn ends_at(&self, ctx: &Ctx) -> Option<u64> {
        if self.lease != 0 {
            // A lease already ended counts as lapsed at 0.
            return ctx.state.keyspace.leases.deadline(self.lease).or(Some(0));
        }
        (self.deadline != 0).then_some(self.deadline)
    }

    fn alive(&self, ctx: &Ctx) -> bool {
        self.ends_at(ctx).is_none_or(|at| at > ctx.now_ms)
    }

    fn remaining(&self, ctx: &Ctx) -> i64 {
        self.ends_at(ctx)
            .map_or(-1, |at| at.saturating_sub(ctx.now_ms) as i64)
    }
}

/// What a lock key holds.
enum Held {
    Free,
    /// An exclusive lock: its token, and whether the owner asked about holds it.
    Exclusive {
        token: u64,
        mine: bool,
    },
    /// A holders hash: live holders and the owners of lapsed ones.
    Holders(Vec<(Bytes, Holder)>, Vec<Bytes>),
}

/// Reads the lock at `key` in its locked shard, as `me` sees it (an exclusive lock is `mine` when its
/// value is `me`). `kind` names what a foreign hash is not.
fn held(
    ctx: &Ctx,
    shard: &Shard,
    hash: u64,
    key: &[u8],
    kind: &'static str,
    me: &[u8],
) -> Result<Held, CommandError> {
    let Some(e) = shard.get_live(hash, key, ctx.now_ms) else {
        return Ok(Held::Free);
    };
    match &e.value {
        Value::Hash(h) => {
            let (mut live, mut dead) = (Vec::new(), Vec::new());
            for (f, v) in h.fields.iter() {
                let holder = Holder::parse(v.as_slice()).ok_or(CommandError::NotALock { kind })?;
                let owner = Bytes::copy_from_slice(f.as_slice());
                if holder.alive(ctx) {
                    live.push((owner, holder));
                } else {
                    dead.push(owner);
                }
            }
            Ok(Held::Holders(live, dead))
        }
        v => match v.as_str() {
            Some(mut owner) => Ok(Held::Exclusive {
                token: e.create_revision,
                mine: owner.with(|b| b == me),
            }),
            None => Err(CommandError::WrongType),
        },
    }
}

fn hash_limits(ctx: &Ctx) -> HashLimits {
    let c = &ctx.state.config;
    HashLimits {
        listpack_entries: c.get_u64("hash-max-listpack-entries"),
        listpack_value: c.get_u64("hash-max-listpack-value"),
    }
}

/// Applies a change to the holders hash at `key` (current db) in its locked shard: `put` sets one
/// holder, `drop` removes owners, then the key's TTL follows the latest holder deadline (none while a
/// lease holds anyone). Each step is stamped and recorded as the command replay runs (HSET, HDEL,
/// PEXPIREAT or PERSIST), so the log needs nothing Concord-specific.
fn apply(
    ctx: &mut Ctx,
    shard: &mut Shard,
    hash: u64,
    key: &Bytes,
    put: Option<(&Bytes, Holder)>,
    drop: &[Bytes],
) {
    if let Some((owner, h)) = put {
        let v = h.encode();
        let lim = hash_limits(ctx);
        match shard.get_mut(hash, key) {
            Some(e) => {
                if let Value::Hash(hv) = &mut e.value {
                    hv.set(owner, &v, &lim);
                }
                ctx.stamp(e);
            }
            None => {
                let mut hv = HashValue::default();
                hv.set(owner, &v, &lim);
                ctx.upsert(shard, hash, key, Value::Hash(Box::new(hv)), Ttl::Keep);
            }
        }
        ctx.notify(ev::HASH, "hset", key);
        super::record(ctx, || {
            vec![Bytes::from_static(b"HSET"), key.clone(), owner.clone(), v]
        });
    }
    if !drop.is_empty() {
        let mut emptied = false;
        if let Some(e) = shard.get_mut(hash, key) {
            if let Value::Hash(hv) = &mut e.value {
                for f in drop {
                    hv.remove(f);
                }
                emptied = hv.is_empty();
            }
            if !emptied {
                ctx.stamp(e);
            }
        }
        ctx.notify(ev::HASH, "hdel", key);
        if emptied {
            ctx.delete(shard, hash, key);
            ctx.notify(ev::GENERIC, "del", key);
        }
        super::record(ctx, || {
            let mut argv = vec![Bytes::from_static(b"HDEL"), key.clone()];
            argv.extend(drop.iter().cloned());
            argv
        });
    }
    let Some(e) = shard.get_mut(hash, key) else {
        return;
    };
    let mut want = 0;
    if let Value::Hash(hv) = &e.value {
        for (_, v) in hv.fields.iter() {
            match Holder::parse(v.as_slice()) {
                Some(h) if h.deadline != 0 => want = want.max(h.deadline),
                _ => {
                    want = 0;
                    break;
                }
            }
        }
    }
    set_expiry(ctx, shard, hash, key, want);
}

/// Counts a grant (INFO `lock_acquisitions`).
fn acquired(ctx: &Ctx) {
    ctx.state
        .stats
        .lock_acquisitions
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Parks the client on `key` until WAIT's deadline (or replies nil at once where it cannot wait). A
/// holders hash whose holders lapse by time sets a wake timer at the first lapse.
fn wait_or_nil(ctx: &mut Ctx, key: &Bytes, opts: &AcquireOpts, first_lapse: Option<u64>) {
    if opts.wait_until == 0 {
        ctx.out.null();
        return;
    }
    if let Some(at) = first_lapse
        && ctx.txn.may_block | ctx.txn.waiter
    {
        ctx.state
            .blocking
            .wake_at(ctx.client.db, key.clone(), at.min(opts.wait_until));
    }
    ctx.block_on(vec![key.clone()], opts.wait_until, TimeoutReply::Null);
}

/// The first moment a live holder lapses by time (deadline or lease end).
fn first_lapse(ctx: &Ctx, live: &[(Bytes, Holder)]) -> Option<u64> {
    live.iter().filter_map(|(_, h)| h.ends_at(ctx)).min()
}

/// LOCK.ACQUIRE key owner PX ms|LEASE id [WAIT ms] [SHARED]: the fencing token, or nil.
pub fn acquire(ctx: &mut Ctx) -> CmdResult {
    let opts = parse_acquire(ctx, &ctx.argv[3..], true)?;
    let (key, owner) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    if opts.shared {
        return acquire_holder(ctx, &key, &owner, None, &opts);
    }
    acquire_exclusive(ctx, &key, &owner, &opts)
}

/// The exclusive form (also ELECT.CAMPAIGN's).
pub fn acquire_exclusive(
    ctx: &mut Ctx,
    key: &Bytes,
    owner: &Bytes,
    opts: &AcquireOpts,
) -> CmdResult {
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let mut state = held(ctx, &shard, hash, key, "lock", owner)?;
    if let Held::Holders(live, dead) = &state
        && live.is_empty()
    {
        // Only lapsed readers: the hash goes, and the key becomes an exclusive lock.
        let dead = dead.clone();
        apply(ctx, &mut shard, hash, key, None, &dead);
        state = Held::Free;
    }
    // The lease stays live from here to the attach (`lease::lock_live`).
    let table = match (&state, opts.hold) {
        (Held::Free, Hold::Lease(id)) => Some(super::lease::lock_live(ctx.state, id, ctx.now_ms)?),
        (Held::Exclusive { mine: true, .. }, Hold::Lease(id)) => {
            Some(super::lease::lock_live(ctx.state, id, ctx.now_ms)?)
        }
        _ => None,
    };
    match state {
        Held::Free => {
            let ttl = match opts.hold {
                Hold::Until(at) => Ttl::At(at),
                Hold::Lease(_) => Ttl::Clear,
            };
            ctx.upsert(&mut shard, hash, key, Value::string(owner), ttl);
            let token = shard.get(hash, key).map_or(0, |e| e.create_revision);
            let lease = match (opts.hold, table) {
                (Hold::Lease(id), Some(t)) => {
                    super::lease::attach_key(ctx, t, id, key, token).then_some(id)
                }
                _ => None,
            };
            drop(shard);
            ctx.notify(ev::STRING, "set", key);
            if matches!(ttl, Ttl::At(_)) {
                ctx.notify(ev::GENERIC, "expire", key);
            }
            crate::commands::strings::log_set(ctx, key, owner, ttl);
            if let Some(id) = lease {
                super::lease::log_attach(ctx, id, key);
            }
            acquired(ctx);
            ctx.out.int(token as i64);
        }
        Held::Exclusive { token, mine: true } => {
            refresh_exclusive(ctx, &mut shard, hash, key, opts.hold);
            let lease = match (opts.hold, table) {
                (Hold::Lease(id), Some(t)) => {
                    super::lease::attach_key(ctx, t, id, key, token).then_some(id)
                }
                _ => None,
            };
            drop(shard);
            if let Some(id) = lease {
                super::lease::log_attach(ctx, id, key);
            }
            ctx.out.int(token as i64);
        }
        Held::Exclusive { .. } => {
            drop(shard);
            wait_or_nil(ctx, key, opts, None);
        }
        Held::Holders(live, _) => {
            drop(shard);
            let lapse = first_lapse(ctx, &live);
            wait_or_nil(ctx, key, opts, lapse);
        }
    }
    Ok(())
}

/// Renews an exclusive lock held by its owner to `hold` (a new deadline, or none under a lease).
fn refresh_exclusive(ctx: &mut Ctx, shard: &mut Shard, hash: u64, key: &Bytes, hold: Hold) {
    let want = match hold {
        Hold::Until(at) => at,
        Hold::Lease(_) => 0,
    };
    set_expiry(ctx, shard, hash, key, want);
}

/// Moves the expiry of the lock at `key` (in its locked shard) to `want` (0: none), as a stamped
/// change recorded as PEXPIREAT or PERSIST; nothing if it is there already.
fn set_expiry(ctx: &mut Ctx, shard: &mut Shard, hash: u64, key: &Bytes, want: u64) {
    let Some(e) = shard.get_mut(hash, key) else {
        return;
    };
    if e.expires_at_ms == want {
        return;
    }
    ctx.stamp(e);
    shard.set_expiry(hash, key, want);
    if want == 0 {
        ctx.notify(ev::GENERIC, "persist", key);
        super::record(ctx, || vec![Bytes::from_static(b"PERSIST"), key.clone()]);
    } else {
        ctx.notify(ev::GENERIC, "expire", key);
        super::record(ctx, || {
            vec![Bytes::from_static(b"PEXPIREAT"), key.clone(), int_arg(want)]
        });
    }
}

/// A holder's acquisition: a shared lock (`limit` None) or a semaphore slot.
fn acquire_holder(
    ctx: &mut Ctx,
    key: &Bytes,
    owner: &Bytes,
    limit: Option<u64>,
    opts: &AcquireOpts,
) -> CmdResult {
    let kind = if limit.is_some() { "semaphore" } else { "lock" };
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let (live, dead) = match held(ctx, &shard, hash, key, kind, owner)? {
        Held::Free => (Vec::new(), Vec::new()),
        Held::Holders(live, dead) => (live, dead),
        Held::Exclusive { .. } if limit.is_some() => {
            return Err(CommandError::NotALock { kind: "semaphore" });
        }
        Held::Exclusive { .. } => {
            drop(shard);
            wait_or_nil(ctx, key, opts, None);
            return Ok(());
        }
    };
    let mine = live.iter().find(|(o, _)| o == owner).map(|(_, h)| h.token);
    let token = match mine {
        Some(t) => t,
        None if limit.is_none_or(|l| (live.len() as u64) < l) => {
            acquired(ctx);
            ctx.revision()
        }
        None => {
            drop(shard);
            let lapse = first_lapse(ctx, &live);
            wait_or_nil(ctx, key, opts, lapse);
            return Ok(());
        }
    };
    let holder = Holder::new(token, opts.hold);
    apply(ctx, &mut shard, hash, key, Some((owner, holder)), &dead);
    drop(shard);
    if let Hold::Lease(id) = opts.hold {
        let db = ctx.client.db;
        ctx.state.keyspace.leases.note_holder(id, db, key);
    }
    ctx.out.int(token as i64);
    Ok(())
}

/// Releases `owner`'s hold on `key`: 1 if it held it.
fn release_any(ctx: &mut Ctx, kind: &'static str) -> CmdResult {
    let (key, owner) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let released = match held(ctx, &shard, hash, &key, kind, &owner)? {
        Held::Free => false,
        Held::Exclusive { mine: true, .. } if kind == "lock" => {
            ctx.delete(&mut shard, hash, &key);
            ctx.notify(ev::GENERIC, "del", &key);
            super::record(ctx, || vec![Bytes::from_static(b"DEL"), key.clone()]);
            true
        }
        Held::Exclusive { .. } if kind == "semaphore" => {
            return Err(CommandError::NotALock { kind });
        }
        Held::Exclusive { .. } => false,
        Held::Holders(live, mut dead) => {
            if live.iter().any(|(o, _)| *o == owner) {
                dead.push(owner.clone());
                apply(ctx, &mut shard, hash, &key, None, &dead);
                true
            } else {
                false
            }
        }
    };
    drop(shard);
    ctx.out.int(released as i64);
    Ok(())
}

/// Renews `owner`'s hold on `key` by `PX ms`: 1 if it held it.
fn extend_any(ctx: &mut Ctx, kind: &'static str) -> CmdResult {
    if !super::is_kw(&ctx.argv[3], "PX") {
        return Err(CommandError::Syntax);
    }
    let at = ctx.now_ms + ms_arg(&ctx.argv[4], "PX")?;
    let (key, owner) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let extended = match held(ctx, &shard, hash, &key, kind, &owner)? {
        Held::Free => false,
        Held::Exclusive { mine: true, .. } if kind == "lock" => {
            refresh_exclusive(ctx, &mut shard, hash, &key, Hold::Until(at));
            true
        }
        Held::Exclusive { .. } if kind == "semaphore" => {
            return Err(CommandError::NotALock { kind });
        }
        Held::Exclusive { .. } => false,
        Held::Holders(live, dead) => match live.iter().find(|(o, _)| *o == owner) {
            Some((_, h)) => {
                let holder = Holder::new(h.token, Hold::Until(at));
                apply(ctx, &mut shard, hash, &key, Some((&owner, holder)), &dead);
                true
            }
            None => false,
        },
    };
    drop(shard);
    ctx.out.int(extended as i64);
    Ok(())
}

/// Writes one holder entry: owner, token, pttl.
fn holder_entry(ctx: &mut Ctx, owner: &[u8], token: u64, pttl: i64) {
    reply_fields(
        ctx.out,
        &[
            ("owner", Field::Bulk(owner)),
            ("token", Field::Int(token as i64)),
            ("pttl", Field::Int(pttl)),
        ],
    );
}

fn info_any(ctx: &mut Ctx, kind: &'static str) -> CmdResult {
    let key = ctx.argv[1].clone();
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let (hash, shard) = ctx.db().lock_key(&key);
    match held(ctx, &shard, hash, &key, kind, b"")? {
        Held::Free => {
            drop(shard);
            ctx.out.null();
        }
        Held::Holders(live, _) if live.is_empty() => {
            drop(shard);
            ctx.out.null();
        }
        Held::Exclusive { .. } if kind == "semaphore" => {
            return Err(CommandError::NotALock { kind });
        }
        Held::Exclusive { token, .. } => {
            let (owner, pttl) = shard
                .get_live(hash, &key, now)
                .map_or((Vec::new(), -1), |e| {
                    (
                        e.value.to_vec().unwrap_or_default(),
                        remaining_ms(ctx, db, e, now),
                    )
                });
            drop(shard);
            holder_entry(ctx, &owner, token, pttl);
        }
        Held::Holders(live, _) => {
            drop(shard);
            ctx.out.array(live.len());
            for (owner, h) in &live {
                let pttl = h.remaining(ctx);
                holder_entry(ctx, owner, h.token, pttl);
            }
        }
    }
    Ok(())
}

/// LOCK.RELEASE key owner
pub fn release(ctx: &mut Ctx) -> CmdResult {
    release_any(ctx, "lock")
}

/// LOCK.EXTEND key owner PX ms
pub fn extend(ctx: &mut Ctx) -> CmdResult {
    extend_any(ctx, "lock")
}

/// LOCK.INFO key
pub fn info(ctx: &mut Ctx) -> CmdResult {
    info_any(ctx, "lock")
}

/// SEM.ACQUIRE key owner limit PX ms|LEASE id [WAIT ms]
pub fn sem_acquire(ctx: &mut Ctx) -> CmdResult {
    let limit = match crate::util::numbers::parse_i64(&ctx.argv[3]) {
        Some(n) if n >= 1 => n as u64,
        Some(_) => return Err(CommandError::Custom("ERR limit must be at least 1".into())),
        None => return Err(CommandError::NotInteger),
    };
    let opts = parse_acquire(ctx, &ctx.argv[4..], false)?;
    let (key, owner) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    acquire_holder(ctx, &key, &owner, Some(limit), &opts)
}

/// SEM.RELEASE key owner
pub fn sem_release(ctx: &mut Ctx) -> CmdResult {
    release_any(ctx, "semaphore")
}

/// SEM.EXTEND key owner PX ms
pub fn sem_extend(ctx: &mut Ctx) -> CmdResult {
    extend_any(ctx, "semaphore")
}

/// SEM.INFO key
pub fn sem_info(ctx: &mut Ctx) -> CmdResult {
    info_any(ctx, "semaphore")
}

/// Whether `key` (database `db`) is held with fencing token `token` right now: an exclusive lock
/// created at `token`, or a live holder with that token (FENCED, ELECT).
pub fn holds_token(ctx: &Ctx, db: usize, key: &[u8], token: u64) -> Result<bool, CommandError> {
    let (hash, shard) = ctx.state.keyspace.db(db).lock_key(key);
    Ok(match held(ctx, &shard, hash, key, "lock", b"")? {
        Held::Free => false,
        Held::Exclusive { token: t, .. } => t == token,
        Held::Holders(live, _) => live.iter().any(|(_, h)| h.token == token),
    })
}
