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
//!
//! **Layout.** `ids` parses stream IDs; `entries` adds, trims and ranges over entries (XADD, XTRIM, XDEL,
//! XLEN, XRANGE, XREVRANGE, XSETID); `read` is XREAD/XREADGROUP and their blocking; `groups` is XGROUP;
//! `pending` is the pending entries lists (XACK, XPENDING, XCLAIM, XAUTOCLAIM); `info` is XINFO. This file
//! re-exports the handlers (the specs name them `streams::<name>`) and holds what several of them share:
//! the stream lookups, revision stamping, reply helpers and the XCLAIM / XGROUP SETID logged forms.

mod entries;
mod groups;
mod ids;
mod info;
mod pending;
mod read;

pub use entries::{xadd, xdel, xlen, xrange, xrevrange, xsetid, xtrim};
pub use groups::{
    xgroup_create, xgroup_createconsumer, xgroup_delconsumer, xgroup_destroy, xgroup_help,
    xgroup_setid,
};
pub use info::{xinfo_consumers, xinfo_groups, xinfo_help, xinfo_stream};
pub use pending::{xack, xautoclaim, xclaim, xpending};
pub use read::{xread, xreadgroup};

use bytes::Bytes;

use super::{CommandError, Ctx};
use crate::keyspace::types::StreamValue;
use crate::keyspace::types::stream::{Group, NodeLimits, StreamEntry, StreamId};
use crate::keyspace::{Shard, Value};
use crate::protocol::ReplyBuf;

fn custom(s: &str) -> CommandError {
    CommandError::Custom(s.to_string())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(1024)]).into_owned()
}

fn node_limits(ctx: &Ctx) -> NodeLimits {
    let c = &ctx.state.config;
    NodeLimits {
        max_entries: c.get_u64("stream-node-max-entries"),
        max_bytes: c.get_u64("stream-node-max-bytes"),
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
    CommandError::UnknownSubcommandOrArity {
        sub: String::from_utf8_lossy(&ctx.arg(1)[..ctx.arg(1).len().min(128)]).into_owned(),
        container: String::from_utf8_lossy(ctx.arg(0)).to_uppercase(),
    }
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
