//! Concord's own commands (../shared/COORDINATION.md is their contract): revisions and CAS (`kv`), locks
//! and semaphores with fencing tokens (`lock`), FENCED and FENCE.CHECK (`fence`), leases (`lease`) and
//! GCRA rate limiting (`throttle`).
//!
//! They are ordinary handlers on the one apply path: every change is stamped with the unit's revision,
//! and what they record is plain, deterministic commands with absolute times (`SET k owner PXAT t`,
//! `HSET`, `PEXPIREAT`, `LEASE.GRANT ms ID id PXAT t`), so the log and replay need nothing special.
//! Locks, semaphores and throttles are keys like any other; only leases live beside the keyspace
//! (`keyspace::leases`).

pub mod elect;
pub mod fence;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod throttle;
pub mod watch;

use bytes::Bytes;

use super::{CommandError, Ctx, is_kw};
use crate::keyspace::Entry;
use crate::protocol::ReplyBuf;
use crate::util::numbers::parse_i64;

/// How long something is held: until an absolute deadline, or as long as a lease lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Absolute server-clock ms.
    Until(u64),
    Lease(u64),
}

/// An unsigned integer argument (revisions, tokens, lease ids): Redis's "not an integer" otherwise.
pub fn u64_arg(arg: &[u8]) -> Result<u64, CommandError> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(CommandError::NotInteger),
    }
}

/// A positive millisecond count (PX, WAIT, LEASE.GRANT), bounded so a deadline never overflows.
pub fn ms_arg(arg: &[u8], what: &'static str) -> Result<u64, CommandError> {
    let n = parse_i64(arg).ok_or(CommandError::NotInteger)?;
    if n <= 0 || n > i64::MAX / 4 {
        return Err(CommandError::MsNotPositive { what });
    }
    Ok(n as u64)
}

/// Options shared by LOCK.ACQUIRE, SEM.ACQUIRE and ELECT.CAMPAIGN after their fixed arguments:
/// `PX ms | PXAT t | LEASE id` (exactly one), `WAIT ms`, and `SHARED` where allowed.
pub struct AcquireOpts {
    pub hold: Hold,
    /// Absolute deadline of the wait; 0 = try once.
    pub wait_until: u64,
    pub shared: bool,
}

pub fn parse_acquire(
    ctx: &Ctx,
    args: &[Bytes],
    allow_shared: bool,
) -> Result<AcquireOpts, CommandError> {
    let mut hold = None;
    let mut wait_until = 0;
    let mut shared = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let value = args.get(i + 1);
        if is_kw(a, "PX") || is_kw(a, "PXAT") || is_kw(a, "LEASE") {
            let v = value.ok_or(CommandError::Syntax)?;
            if hold.is_some() {
                return Err(CommandError::Syntax);
            }
            hold = Some(if is_kw(a, "PX") {
                Hold::Until(ctx.now_ms + ms_arg(v, "PX")?)
            } else if is_kw(a, "PXAT") {
                Hold::Until(ms_arg(v, "PXAT")?)
            } else {
                Hold::Lease(u64_arg(v)?)
            });
            i += 2;
        } else if is_kw(a, "WAIT") {
            let v = value.ok_or(CommandError::Syntax)?;
            wait_until = ctx.now_ms + ms_arg(v, "WAIT")?;
            i += 2;
        } else if allow_shared && is_kw(a, "SHARED") {
            shared = true;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let hold =
        hold.ok_or_else(|| CommandError::Custom("ERR PX <ms> or LEASE <id> is required".into()))?;
    check_lease(ctx, hold)?;
    Ok(AcquireOpts {
        hold,
        wait_until,
        shared,
    })
}

/// NOLEASE unless the lease in `hold` is live.
pub fn check_lease(ctx: &Ctx, hold: Hold) -> Result<(), CommandError> {
    if let Hold::Lease(id) = hold
        && !ctx.state.keyspace.leases.is_live(id, ctx.now_ms)
    {
        return Err(CommandError::NoLease { id: id.to_string() });
    }
    Ok(())
}

/// Milliseconds left before `entry` (of database `db`) goes away at `now`, by its own expiry or its
/// lease's end, whichever is first; -1 if neither.
pub fn remaining_ms(ctx: &Ctx, db: usize, entry: &Entry, now: u64) -> i64 {
    let lease =
        ctx.state
            .keyspace
            .leases
            .deadline_of(db, entry.key.as_slice(), entry.create_revision, now);
    let at = match (entry.expires_at_ms, lease) {
        (0, None) => return -1,
        (0, Some(l)) => l,
        (e, None) => e,
        (e, Some(l)) => e.min(l),
    };
    at.saturating_sub(now) as i64
}

/// One value of a field-value reply.
pub enum Field<'a> {
    Int(i64),
    Bulk(&'a [u8]),
    Null,
}

/// A field-value list (RESP2) or map (RESP3), as COORDINATION.md's replies are.
pub fn reply_fields(out: &mut ReplyBuf, fields: &[(&str, Field)]) {
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name.as_bytes());
        match value {
            Field::Int(n) => out.int(*n),
            Field::Bulk(b) => out.bulk(b),
            Field::Null => out.null(),
        }
    }
}

/// `n` as an argument.
pub fn int_arg(n: u64) -> Bytes {
    Bytes::from(itoa::Buffer::new().format(n).to_owned())
}

/// Records this unit's write as `build()` returns it, building it only when a reader replays records
/// (`Ctx::logging`); either way the command's own argv is not recorded on top.
pub fn record(ctx: &mut Ctx, build: impl FnOnce() -> Vec<Bytes>) {
    if ctx.logging() {
        ctx.log(build());
    } else {
        ctx.log_nothing();
    }
}
