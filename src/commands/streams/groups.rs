//! Consumer groups themselves: XGROUP CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER and HELP, with
//! Redis's shared prologue for the key and group arguments and its NOGROUP-style errors. Each change stamps
//! the stream with the command's revision.

use crate::commands::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::Value;
use crate::keyspace::types::StreamValue;
use crate::keyspace::types::stream::{Consumer, Group};
use crate::notify::class as ev;
use crate::protocol::ReplyBuf;

use super::ids::{parse_id, parse_strict_id};
use super::{custom, lossy, stamp, stream_mut, subcommand_syntax};

/// Parsed common part of XGROUP subcommands with a key and a group (Redis's shared prologue).
struct GroupArgs {
    mkstream: bool,
    entries_read: Option<Option<u64>>,
}

fn parse_group_options(ctx: &Ctx, create: bool, setid: bool) -> Result<GroupArgs, CommandError> {
    let argv = ctx.argv;
    let mut a = GroupArgs {
        mkstream: false,
        entries_read: None,
    };
    let mut i = 5;
    while i < argv.len() {
        if create && is_kw(&argv[i], "mkstream") {
            a.mkstream = true;
            i += 1;
        } else if (create || setid) && is_kw(&argv[i], "entriesread") && i + 1 < argv.len() {
            let n = parse_int(&argv[i + 1])?;
            if n < 0 && n != -1 {
                return Err(custom("ERR value for ENTRIESREAD must be positive or -1"));
            }
            a.entries_read = Some(u64::try_from(n).ok());
            i += 2;
        } else {
            return Err(subcommand_syntax(ctx));
        }
    }
    Ok(a)
}

fn requires_key() -> CommandError {
    custom(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    )
}

pub(super) fn no_such_group(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::Custom(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries_read]
pub fn xgroup_create(ctx: &mut Ctx) -> CmdResult {
    let a = parse_group_options(ctx, true, false)?;
    if ctx.argv.len() > 8 {
        return Err(subcommand_syntax(ctx));
    }
    let key = ctx.arg(2);
    let gname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let mut created: Option<StreamValue> = None;
    let s = match stream_mut(&mut shard, hash, key)? {
        Some(s) => s,
        None if !a.mkstream => return Err(requires_key()),
        None => created.insert(StreamValue::default()),
    };
    let id = if ctx.arg(4) == b"$" {
        s.last_id
    } else {
        parse_strict_id(ctx.arg(4))?
    };
    if s.groups.contains_key(gname) {
        return Err(custom("BUSYGROUP Consumer Group name already exists"));
    }
    s.groups.insert(
        gname.to_vec().into_boxed_slice(),
        Group::new(id, a.entries_read.flatten()),
    );
    match created {
        Some(v) => ctx.upsert(&mut shard, hash, key, Value::Stream(Box::new(v)), Ttl::Keep),
        None => stamp(ctx, &mut shard, hash, key),
    }
    drop(shard);
    ctx.notify(ev::STREAM, "xgroup-create", key);
    ctx.out.ok();
    Ok(())
}

/// Locks `argv[2]` and runs `f` on its stream and the group `argv[3]`, with XGROUP's errors.
/// `f` returns whether it changed something.
fn with_group(
    ctx: &mut Ctx,
    f: impl FnOnce(&mut StreamValue, &mut ReplyBuf) -> Result<bool, CommandError>,
) -> CmdResult {
    let key = ctx.arg(2);
    let gname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        return Err(requires_key());
    };
    if !s.groups.contains_key(gname) {
        return Err(no_such_group(key, gname));
    }
    if f(s, ctx.out)? {
        stamp(ctx, &mut shard, hash, key);
    }
    Ok(())
}

/// XGROUP SETID key group id|$ [ENTRIESREAD entries_read]
pub fn xgroup_setid(ctx: &mut Ctx) -> CmdResult {
    let a = parse_group_options(ctx, false, true)?;
    if ctx.argv.len() != 5 && ctx.argv.len() != 7 {
        return Err(subcommand_syntax(ctx));
    }
    let gname = ctx.arg(3);
    let idarg = ctx.arg(4);
    let mut changed = false;
    with_group(ctx, |s, out| {
        changed = true;
        let id = if idarg == b"$" {
            s.last_id
        } else {
            parse_id(idarg, 0)?
        };
        if let Some(g) = s.groups.get_mut(gname) {
            g.last_id = id;
            g.entries_read = a.entries_read.flatten();
        }
        out.ok();
        Ok(true)
    })?;
    if changed {
        ctx.notify(ev::STREAM, "xgroup-setid", ctx.arg(2));
    }
    Ok(())
}

/// XGROUP DESTROY key group
pub fn xgroup_destroy(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(2);
    let gname = ctx.arg(3);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(s) = stream_mut(&mut shard, hash, key)? else {
        return Err(requires_key());
    };
    if s.groups.remove(gname).is_some() {
        ctx.out.int(1);
        stamp(ctx, &mut shard, hash, key);
        drop(shard);
        ctx.notify(ev::STREAM, "xgroup-destroy", key);
        // XREADGROUP waiters on this group get NOGROUP when their command runs again.
        ctx.signal_ready(key);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

/// XGROUP CREATECONSUMER key group consumer
pub fn xgroup_createconsumer(ctx: &mut Ctx) -> CmdResult {
    let gname = ctx.arg(3);
    let cname = ctx.arg(4);
    let now = ctx.now_ms;
    let mut created = false;
    with_group(ctx, |s, out| {
        let Some(g) = s.groups.get_mut(gname) else {
            return Ok(false);
        };
        if g.consumers.contains_key(cname) {
            out.int(0);
            return Ok(false);
        }
        g.consumers.insert(
            cname.to_vec().into_boxed_slice(),
            Consumer {
                seen_time: now,
                ..Default::default()
            },
        );
        out.int(1);
        created = true;
        Ok(true)
    })?;
    if created {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", ctx.arg(2));
    }
    Ok(())
}

/// XGROUP DELCONSUMER key group consumer
pub fn xgroup_delconsumer(ctx: &mut Ctx) -> CmdResult {
    let gname = ctx.arg(3);
    let cname = ctx.arg(4);
    let mut deleted = false;
    with_group(ctx, |s, out| {
        let Some(g) = s.groups.get_mut(gname) else {
            return Ok(false);
        };
        let Some(c) = g.consumers.remove(cname) else {
            out.int(0);
            return Ok(false);
        };
        for id in &c.pel {
            g.pel.remove(id);
        }
        out.int(c.pel.len() as i64);
        deleted = true;
        Ok(true)
    })?;
    if deleted {
        ctx.notify(ev::STREAM, "xgroup-delconsumer", ctx.arg(2));
    }
    Ok(())
}

/// XGROUP HELP
pub fn xgroup_help(ctx: &mut Ctx) -> CmdResult {
    crate::commands::keys::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}
