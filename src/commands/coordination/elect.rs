//! Leader election (ELECT.*): an election is an exclusive lock whose holder everyone can observe. The
//! leader is the lock's owner and its fencing token the lock's; ELECT.OBSERVE is a watch on the key
//! that reports each change of leader.

use bytes::Bytes;

use super::{Field, parse_acquire, remaining_ms, reply_fields};
use crate::commands::{CmdResult, CommandError, Ctx};

/// ELECT.CAMPAIGN election candidate PX ms|LEASE id [WAIT ms]: the leader's token if `candidate` leads,
/// nil if not elected within WAIT.
pub fn campaign(ctx: &mut Ctx) -> CmdResult {
    let opts = parse_acquire(ctx, &ctx.argv[3..], false)?;
    let (key, candidate) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    super::lock::acquire_exclusive(ctx, &key, &candidate, &opts)
}

/// ELECT.RESIGN election candidate: 1 if it was leader.
pub fn resign(ctx: &mut Ctx) -> CmdResult {
    super::lock::release(ctx)
}

/// The leader of `election` in the current db: (leader, token, pttl), None if there is none.
fn leader(ctx: &Ctx, election: &[u8]) -> Result<Option<(Bytes, u64, i64)>, CommandError> {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let (hash, shard) = ctx.db().lock_key(election);
    let Some(e) = shard.get_live(hash, election, now) else {
        return Ok(None);
    };
    let Some(value) = e.value.to_vec() else {
        return Err(CommandError::WrongType);
    };
    let pttl = remaining_ms(ctx, db, e, now);
    Ok(Some((Bytes::from(value), e.create_revision, pttl)))
}

/// ELECT.LEADER election: nil, or leader, token, pttl.
pub fn leader_of(ctx: &mut Ctx) -> CmdResult {
    match leader(ctx, &ctx.argv[1])? {
        None => ctx.out.null(),
        Some((who, token, pttl)) => reply_fields(
            ctx.out,
            &[
                ("leader", Field::Bulk(&who)),
                ("token", Field::Int(token as i64)),
                ("pttl", Field::Int(pttl)),
            ],
        ),
    }
    Ok(())
}

/// ELECT.OBSERVE election: `[watch_id, current_revision]`, then a push on each change of leader.
pub fn observe(ctx: &mut Ctx) -> CmdResult {
    let election = ctx.argv[1].clone();
    let key = election.clone();
    super::watch::observe(ctx, election, move |ctx| {
        Ok(leader(ctx, &key)?.map(|(who, token, _)| (who, token)))
    })
}
