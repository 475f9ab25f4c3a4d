//! KV.WATCH, KV.UNWATCH and ELECT.OBSERVE's watch: the commands over the watch registry
//! (`crate::watches`), which reads the committed stream.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::u64_arg;
use crate::commands::{CmdResult, CommandError, Ctx, is_kw};
use crate::commit::HistoryError;
use crate::watches::Mode;

/// Starts a watch for the calling client and writes its reply, `[watch_id, current_revision]`,
/// followed by the first chunk of events from `from` (None: only what commits from now on); the rest
/// follows as the connection drains (`Watches::catch_up`).
fn start(
    ctx: &mut Ctx,
    key: Bytes,
    prefix: bool,
    mode: Mode,
    from: Option<u64>,
    leader: impl FnOnce(&Ctx) -> Result<Option<(Bytes, u64)>, CommandError>,
) -> CmdResult {
    let watches = ctx.state.watches.clone();
    let units = ctx.state.config.get_u64("watch-history") as usize;
    let ks = &ctx.state.keyspace;
    let history = watches.attach(&ctx.state.log, units, || ks.revision());
    let published = ctx.state.log.published();
    // Read after `published`: a change it misses is replayed from the history, and one it already saw
    // is not reported twice (ELECT.OBSERVE reports changes of leader only).
    let leader = leader(ctx)?;
    let latest = ctx.state.keyspace.revision();
    if let Some(r) = from
        && r > latest + 1
    {
        return Err(CommandError::Custom(format!(
            "ERR FROMREV {r} is in the future, the current revision is {latest}"
        )));
    }
    let from = from.unwrap_or(published + 1);
    let w = watches.begin(
        ctx.client.info.clone(),
        ctx.client.db,
        key,
        prefix,
        mode,
        from,
        leader,
    );
    // FROMREV older than the history: refused at once.
    if let Err(HistoryError::Compacted { revision, oldest }) = ctx.state.log.read(from, 1) {
        watches.remove(w.id, None);
        return Err(CommandError::Compacted { revision, oldest });
    }
    ctx.out.array(2);
    ctx.out.int(w.id as i64);
    ctx.out.int(published as i64);
    let mut buf = Vec::new();
    if watches.advance(&w, &history, ctx.state.log.published(), &mut buf) {
        ctx.client.info.catching_up.fetch_add(1, Ordering::Relaxed);
    }
    ctx.out.raw(&buf);
    Ok(())
}

/// KV.WATCH key [PREFIX] [FROMREV rev] [PREVKV]
pub fn kv_watch(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    let (mut prefix, mut from, mut prev_kv) = (false, None, false);
    let mut i = 2;
    while i < ctx.argv.len() {
        let a = &ctx.argv[i];
        if is_kw(a, "PREFIX") {
            prefix = true;
        } else if is_kw(a, "PREVKV") {
            prev_kv = true;
        } else if is_kw(a, "FROMREV") {
            let v = ctx.argv.get(i + 1).ok_or(CommandError::Syntax)?;
            from = Some(u64_arg(v)?);
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    start(ctx, key, prefix, Mode::Kv { prev_kv }, from, |_| Ok(None))
}

/// KV.UNWATCH [watch_id ...]: ends the given watches of this client (all of them without ids);
/// the number ended. ELECT.OBSERVE's watches end the same way.
pub fn kv_unwatch(ctx: &mut Ctx) -> CmdResult {
    let watches = &ctx.state.watches;
    let me = ctx.client.info.id;
    let ids: Vec<u64> = if ctx.argv.len() == 1 {
        watches.of_client(me)
    } else {
        ctx.argv[1..]
            .iter()
            .map(|a| u64_arg(a))
            .collect::<Result<_, _>>()?
    };
    let n = ids
        .into_iter()
        .filter(|id| watches.remove(*id, Some(me)))
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

/// ELECT.OBSERVE election: a watch reporting each change of leader; `leader` reads the current one.
pub fn observe(
    ctx: &mut Ctx,
    election: Bytes,
    leader: impl FnOnce(&Ctx) -> Result<Option<(Bytes, u64)>, CommandError>,
) -> CmdResult {
    start(ctx, election, false, Mode::Elect, None, leader)
}
