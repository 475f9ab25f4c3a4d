//! XINFO STREAM, GROUPS, CONSUMERS and HELP: read-only introspection of a stream, its groups and their
//! consumers, in Redis 7.0's reply shapes (seen-time and lag included). Reads `now_ms` for consumers' idle
//! times; takes no revision and changes nothing but the key's access time.

use crate::commands::{CmdResult, CommandError, Ctx, is_kw, parse_int};
use crate::keyspace::types::StreamValue;
use crate::keyspace::types::stream::{Group, StreamEntry, StreamId};
use crate::protocol::ReplyBuf;

use super::groups::no_such_group;
use super::{emit_entry, emit_id, read_stream, subcommand_syntax};

fn emit_lag(out: &mut ReplyBuf, s: &StreamValue, g: &Group) {
    match s.lag(g) {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
}

fn emit_entries_read(out: &mut ReplyBuf, g: &Group) {
    match g.entries_read {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
}

/// Runs `f` on the stream at `argv[2]` for XINFO: `ERR no such key` when absent.
fn xinfo_read(
    ctx: &mut Ctx,
    f: impl FnOnce(&StreamValue, &mut ReplyBuf, u64) -> CmdResult,
) -> CmdResult {
    let key = ctx.arg(2);
    let now = ctx.now_ms;
    read_stream(ctx, key, |s, out| {
        let Some(s) = s else {
            return Err(CommandError::NoSuchKey);
        };
        f(s, out, now)
    })
}

/// XINFO STREAM key [FULL [COUNT count]]
pub fn xinfo_stream(ctx: &mut Ctx) -> CmdResult {
    let optc = ctx.argv.len() - 3;
    let syntax = subcommand_syntax(ctx);
    let mut full = false;
    let mut count: i64 = 10;
    let mut opt_err = None;
    if optc > 0 {
        if (optc != 1 && optc != 3) || !is_kw(ctx.arg(3), "full") {
            opt_err = Some(syntax.clone());
        } else {
            full = true;
            if optc == 3 {
                if !is_kw(ctx.arg(4), "count") {
                    opt_err = Some(syntax.clone());
                } else {
                    match parse_int(ctx.arg(5)) {
                        Ok(n) => count = if n < 0 { 10 } else { n },
                        Err(e) => opt_err = Some(e),
                    }
                }
            }
        }
    }
    xinfo_read(ctx, |s, out, _now| {
        if let Some(e) = opt_err {
            return Err(e);
        }
        out.map(if full { 9 } else { 10 });
        out.bulk(b"length");
        out.int(s.len() as i64);
        out.bulk(b"radix-tree-keys");
        out.int(s.node_count() as i64);
        out.bulk(b"radix-tree-nodes");
        out.int(radix_nodes(s) as i64);
        out.bulk(b"last-generated-id");
        emit_id(out, s.last_id);
        out.bulk(b"max-deleted-entry-id");
        emit_id(out, s.max_deleted_id);
        out.bulk(b"entries-added");
        out.int(s.entries_added as i64);
        out.bulk(b"recorded-first-entry-id");
        emit_id(out, s.first_id);
        let limit = if count == 0 {
            usize::MAX
        } else {
            count as usize
        };
        if !full {
            out.bulk(b"groups");
            out.int(s.groups.len() as i64);
            out.bulk(b"first-entry");
            match s.first_entry() {
                Some(e) => emit_entry(out, e),
                None => out.null(),
            }
            out.bulk(b"last-entry");
            match s.last_entry() {
                Some(e) => emit_entry(out, e),
                None => out.null(),
            }
            return Ok(());
        }
        out.bulk(b"entries");
        let entries: Vec<&StreamEntry> = s
            .range(StreamId::MIN, StreamId::MAX, false)
            .take(limit)
            .collect();
        out.array(entries.len());
        for e in entries {
            emit_entry(out, e);
        }
        out.bulk(b"groups");
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(7);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"last-delivered-id");
            emit_id(out, g.last_id);
            out.bulk(b"entries-read");
            emit_entries_read(out, g);
            out.bulk(b"lag");
            emit_lag(out, s, g);
            out.bulk(b"pel-count");
            out.int(g.pel.len() as i64);
            out.bulk(b"pending");
            let pel: Vec<_> = g.pel.iter().take(limit).collect();
            out.array(pel.len());
            for (id, n) in pel {
                out.array(4);
                emit_id(out, *id);
                out.bulk(&n.consumer);
                out.int(n.delivery_time as i64);
                out.int(n.delivery_count as i64);
            }
            out.bulk(b"consumers");
            out.array(g.consumers.len());
            for (cn, c) in &g.consumers {
                out.map(4);
                out.bulk(b"name");
                out.bulk(cn);
                out.bulk(b"seen-time");
                out.int(c.seen_time as i64);
                out.bulk(b"pel-count");
                out.int(c.pel.len() as i64);
                out.bulk(b"pending");
                let ids: Vec<_> = c.pel.iter().take(limit).collect();
                out.array(ids.len());
                for id in ids {
                    let (t, k) = g
                        .pel
                        .get(id)
                        .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                    out.array(3);
                    emit_id(out, *id);
                    out.int(t as i64);
                    out.int(k as i64);
                }
            }
        }
        Ok(())
    })
}

/// An estimate of Redis's radix-tree node count for XINFO (one per key plus the root, at least 1).
fn radix_nodes(s: &StreamValue) -> usize {
    s.node_count() + 1
}

/// XINFO GROUPS key
pub fn xinfo_groups(ctx: &mut Ctx) -> CmdResult {
    xinfo_read(ctx, |s, out, _| {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            emit_id(out, g.last_id);
            out.bulk(b"entries-read");
            emit_entries_read(out, g);
            out.bulk(b"lag");
            emit_lag(out, s, g);
        }
        Ok(())
    })
}

/// XINFO CONSUMERS key group
pub fn xinfo_consumers(ctx: &mut Ctx) -> CmdResult {
    let gname = ctx.arg(3);
    let key = ctx.arg(2);
    xinfo_read(ctx, |s, out, now| {
        let Some(g) = s.groups.get(gname) else {
            return Err(no_such_group(key, gname));
        };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int(now.saturating_sub(c.seen_time) as i64);
        }
        Ok(())
    })
}

/// XINFO HELP
pub fn xinfo_help(ctx: &mut Ctx) -> CmdResult {
    crate::commands::keys::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}
