//! Transactions (Redis group `transactions`): MULTI queues, EXEC runs the queue as one isolated unit
//! with one revision, WATCH makes EXEC fail when a watched key changed in between.
//!
//! Isolation: every command runs under the shared side of `State::exec_lock` and EXEC under its
//! exclusive side, so no client observes half of a transaction, and the expirer (which also takes the
//! shared side) does not delete keys while one runs. All queued commands see the same `now_ms`.
//! Revision seam: the queued commands share EXEC's `Txn`, so the whole transaction is one revision; each
//! command that wrote is logged with that revision, in order.
//!
//! WATCH records a key's `mod_revision`, or for an absent key the global revision. Any change to the key
//! by anyone, an expiry, a delete or a FLUSH moves the revision or removes the key, so EXEC compares the
//! two: no per-key hooks. A key absent at both ends that was created and removed in between is caught by
//! the shard's removal stamps (`Shard::removed_created`). Not caught, unlike Redis: such a key removed by
//! FLUSHDB/FLUSHALL or moved away by SWAPDB.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::table::{CommandSpec, flags};
use super::{CmdResult, CommandError, Ctx};

/// A command queued by MULTI, with the spec it resolved to when it was queued.
pub struct Queued {
    pub spec: &'static CommandSpec,
    pub argv: Vec<Bytes>,
}

/// Commands that run at once inside MULTI instead of being queued, as in Redis (`CONCORD_NOT_QUEUED`:
/// EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    spec.has(flags::CONCORD_NOT_QUEUED)
}

/// What WATCH saw of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Live, with this mod_revision.
    Present(u64),
    /// Absent (or expired) while the global revision was this.
    Absent(u64),
}

/// The key's state now (expired counts as absent).
fn watched_state(ctx: &Ctx, db: usize, key: &[u8]) -> Watched {
    let (hash, shard) = ctx.state.keyspace.db(db).lock_key(key);
    match shard.get_live(hash, key, ctx.now_ms) {
        Some(e) => Watched::Present(e.mod_revision),
        None => Watched::Absent(ctx.state.keyspace.revision()),
    }
}

/// Whether the key changed since WATCH saw `then`.
fn changed_since(ctx: &Ctx, db: usize, key: &[u8], then: Watched) -> bool {
    match (then, watched_state(ctx, db, key)) {
        (Watched::Present(a), Watched::Present(b)) => a != b,
        (Watched::Absent(seen), Watched::Absent(_)) => {
            let (hash, shard) = ctx.state.keyspace.db(db).lock_key(key);
            shard.removed_created(hash) > seen
        }
        _ => true,
    }
}

/// MULTI
pub fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::Custom(
            "ERR MULTI calls can not be nested".into(),
        ));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.out.ok();
    Ok(())
}

/// DISCARD
pub fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CommandError::WithoutMulti {
            command: "DISCARD".into(),
        });
    }
    ctx.client.multi_error = false;
    ctx.client.watched.clear();
    ctx.out.ok();
    Ok(())
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::Custom(
            "ERR WATCH inside MULTI is not allowed".into(),
        ));
    }
    let db = ctx.client.db;
    for key in &ctx.argv[1..] {
        let state = watched_state(ctx, db, key);
        ctx.client.watched.push((db, key.clone(), state));
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx) -> CmdResult {
    ctx.client.watched.clear();
    ctx.out.ok();
    Ok(())
}

/// EXEC: the queued replies as one array; a null array when a watched key changed; EXECABORT when a
/// command was refused while queueing.
pub fn exec(ctx: &mut Ctx) -> CmdResult {
    let Some(queued) = ctx.client.multi.take() else {
        return Err(CommandError::WithoutMulti {
            command: "EXEC".into(),
        });
    };
    let watched = std::mem::take(&mut ctx.client.watched);
    if std::mem::take(&mut ctx.client.multi_error) {
        return Err(CommandError::Custom(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    if watched
        .iter()
        .any(|(db, key, state)| changed_since(ctx, *db, key, *state))
    {
        ctx.out.null_array();
        return Ok(());
    }
    // KV.IF guards: all are checked before anything runs; one false aborts as a failed WATCH does.
    let db = ctx.client.db;
    for q in queued.iter().filter(|q| q.spec.has(flags::CONCORD_GUARD)) {
        if !super::coordination::kv::evaluate(ctx, db, &q.argv).unwrap_or(false) {
            ctx.out.null_array();
            return Ok(());
        }
    }
    ctx.txn.may_block = false;
    ctx.out.array(queued.len());
    for q in &queued {
        run_queued(ctx, q.spec, &q.argv);
    }
    // Each queued command logged itself; EXEC is not logged on top.
    ctx.log_nothing();
    Ok(())
}

/// Runs one queued command inside EXEC, on EXEC's unit of writes.
fn run_queued(ctx: &mut Ctx, spec: &'static CommandSpec, argv: &[Bytes]) {
    let Some(handler) = spec.handler else {
        ctx.out.error("ERR syntax error");
        return;
    };
    if spec.has(flags::CONCORD_GUARD) {
        // Checked (and true) before the queue ran.
        ctx.out.int(1);
        return;
    }
    let result = super::run_in_unit(ctx, spec, handler, argv, None);
    if let Err(e) = result {
        ctx.out.error(&e.message());
        ctx.state.stats.count_error(&e.code());
        ctx.state.stats.commands[spec.id]
            .failed
            .fetch_add(1, Ordering::Relaxed);
    }
}
