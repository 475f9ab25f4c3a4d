//! Pub/sub commands (SUBSCRIBE, PUBLISH, PUBSUB ... and their shard forms), MONITOR, and CLIENT
//! PAUSE / UNPAUSE. The registry, delivery, monitors and pause state live in `crate::pubsub`; these
//! handlers parse arguments and write the confirmations, which are ordinary replies (push-typed in
//! RESP3, as Redis sends them), so they are ordered with the messages that follow them.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::keys::help_reply;
use super::table::{CommandSpec, flags};
use super::{Client, CmdResult, CommandError, Ctx, is_kw, parse_int, resolve};
use crate::clock::Clock;
use crate::pubsub::Kind;
use crate::pubsub::monitor::Origin;
use crate::pubsub::pause::PauseMode;
use crate::state::State;

/// Whether a pause in `mode` holds `argv` back, as Redis decides: ALL holds every command, WRITE those
/// that may write or replicate and EXEC of a transaction that queued one. Commands that fail lookup or
/// arity are answered at once.
pub fn held_by_pause(state: &State, client: &Client, argv: &[Bytes], mode: PauseMode) -> bool {
    let Ok(spec) = resolve(argv) else {
        return false;
    };
    if !spec.arity_ok(argv.len()) {
        return false;
    }
    match mode {
        PauseMode::Off => false,
        PauseMode::All => true,
        PauseMode::Write => {
            may_write(state, spec, argv)
                || (spec.has(flags::CONCORD_RUNS_QUEUE)
                    && client
                        .multi
                        .as_ref()
                        .is_some_and(|q| q.iter().any(|c| may_write(state, c.spec, &c.argv))))
        }
    }
}

/// A command's write flags as Redis sees them for a pause: EVAL, EVALSHA and FCALL of a script or
/// function declared `no-writes` do not write.
fn may_write(state: &State, spec: &super::table::CommandSpec, argv: &[Bytes]) -> bool {
    if !(spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE)) {
        return false;
    }
    let no_writes = |flags: u32| flags & crate::scripting::functions::NO_WRITES != 0;
    let Some(target) = argv.get(1) else {
        return true;
    };
    match spec.name {
        "eval" => !crate::scripting::functions::parse_eval_shebang(target)
            .is_ok_and(|(f, _)| f.is_some_and(no_writes)),
        // Cached scripts and functions are looked up without waiting for a running script.
        "evalsha" => !state.scripting.engine.try_lock().is_some_and(|e| {
            e.scripts
                .get(target)
                .is_some_and(|(_, s)| s.flags.is_some_and(no_writes))
        }),
        "fcall" => !state.scripting.engine.try_lock().is_some_and(|e| {
            e.libs
                .function(&String::from_utf8_lossy(target))
                .is_some_and(|f| no_writes(f.flags))
        }),
        _ => true,
    }
}

/// Whether everything `argv` replies is a subscribe-family confirmation: Redis sends those even under
/// CLIENT REPLY OFF|SKIP, as it sends messages. The family ((P|S)(UN)SUBSCRIBE) is the PUBSUB commands a
/// client in subscribe mode may send.
pub fn replies_are_pushes(argv: &[Bytes]) -> bool {
    argv.first()
        .and_then(|name| super::table::lookup(name))
        .is_some_and(|s| s.has(flags::PUBSUB) && s.has(flags::CONCORD_SUBSCRIBE_MODE))
}

/// Redis's refusal of a command sent by a RESP2 client in subscribe mode, unless its spec allows it
/// (`CONCORD_SUBSCRIBE_MODE`: the (un)subscribe family, PING, QUIT, RESET). Cheap when the client has no
/// subscription.
#[inline]
pub fn subscribe_mode_error(client: &Client, spec: &CommandSpec) -> Option<CommandError> {
    let info = &client.info;
    if !info.in_pubsub() || info.resp3() || spec.has(flags::CONCORD_SUBSCRIBE_MODE) {
        return None;
    }
    // The error quotes the full name (`container|sub` for a subcommand), as Redis does.
    let name = spec.name;
    Some(CommandError::Custom(format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are \
         allowed in this context"
    )))
}

/// PING's reply in RESP2 subscribe mode: `["pong", message or ""]`. Returns false when the client is
/// not in that mode (PING replies as usual).
pub fn subscribed_ping(ctx: &mut Ctx) -> bool {
    let info = &ctx.client.info;
    if !info.in_pubsub() || info.resp3() {
        return false;
    }
    ctx.out.array(2);
    ctx.out.bulk(b"pong");
    ctx.out.bulk(ctx.argv.get(1).map_or(&b""[..], |a| &a[..]));
    true
}

/// Feeds a command to MONITOR clients, as Redis does: after it ran (so a SELECT shows its new db),
/// except the commands that feed themselves before running (EVAL, EVALSHA, FCALL and their _RO forms,
/// so a script's own commands follow them); admin commands are never shown. `before` says which call
/// this is. Callers check `state.pubsub.monitors.active()` first (one atomic load).
pub fn feed_monitors(
    state: &State,
    client: &Client,
    spec: &super::table::CommandSpec,
    argv: &[Bytes],
    before: bool,
) {
    let feeds_itself = spec.has(flags::CONCORD_SCRIPT);
    if before != feeds_itself {
        return;
    }
    if !feeds_itself && (spec.has(flags::ADMIN) || spec.has(flags::SKIP_MONITOR)) {
        return;
    }
    let argv = redacted(argv);
    state.pubsub.monitors.feed(
        state.clock.now_us(),
        client.db,
        Origin::Client(&client.info.addr),
        &argv,
    );
}

/// `argv` with its secrets replaced by `(redacted)` for MONITOR, as Redis does: AUTH's password (and
/// user), HELLO's AUTH user and password.
fn redacted(argv: &[Bytes]) -> std::borrow::Cow<'_, [Bytes]> {
    let secret = Bytes::from_static(b"(redacted)");
    let Some(name) = argv.first() else {
        return argv.into();
    };
    if is_kw(name, "auth") && argv.len() <= 3 {
        let mut v = argv.to_vec();
        for a in v.iter_mut().skip(1) {
            *a = secret.clone();
        }
        return v.into();
    }
    if is_kw(name, "hello") {
        let mut v = argv.to_vec();
        let mut j = 2;
        while j < v.len() {
            let more = v.len() - 1 - j;
            if is_kw(&v[j], "AUTH") && more >= 2 {
                v[j + 1] = secret.clone();
                v[j + 2] = secret.clone();
                j += 3;
            } else if is_kw(&v[j], "SETNAME") && more >= 1 {
                j += 2;
            } else {
                break;
            }
        }
        return v.into();
    }
    argv.into()
}

/// Feeds a command run inside a unit: by a script (`[db lua]`) or inside EXEC (the client's address).
pub fn feed_monitors_in_unit(
    state: &State,
    client: &Client,
    spec: &super::table::CommandSpec,
    from_script: bool,
    argv: &[Bytes],
) {
    if spec.has(flags::ADMIN) || spec.has(flags::SKIP_MONITOR) {
        return;
    }
    let origin = if from_script {
        Origin::Lua
    } else {
        Origin::Client(&client.info.addr)
    };
    state
        .pubsub
        .monitors
        .feed(state.clock.now_us(), client.db, origin, argv);
}

/// Writes a subscribe-family confirmation: `[kind, name, count]` (push-typed in RESP3).
fn confirm(ctx: &mut Ctx, kind: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(kind);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

/// The count a confirmation carries: channels + patterns, or shard channels.
fn count(ctx: &Ctx, kind: Kind) -> usize {
    let info = &ctx.client.info;
    match kind {
        Kind::Shard => info.ssub.load(Ordering::Relaxed),
        _ => info.sub.load(Ordering::Relaxed) + info.psub.load(Ordering::Relaxed),
    }
}

fn subscribe_generic(ctx: &mut Ctx, kind: Kind, word: &[u8]) -> CmdResult {
    let info = ctx.client.info.clone();
    for name in &ctx.argv[1..] {
        ctx.state.pubsub.subscribe(&info, kind, name);
        let n = count(ctx, kind);
        confirm(ctx, word, Some(name), n);
    }
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx, kind: Kind, word: &[u8]) -> CmdResult {
    let info = ctx.client.info.clone();
    if ctx.argv.len() == 1 {
        let names = ctx.state.pubsub.unsubscribe_all(&info, kind);
        if names.is_empty() {
            let n = count(ctx, kind);
            confirm(ctx, word, None, n);
        }
        // Counts go down one by one, as the client sees each channel removed.
        let mut left = count(ctx, kind) + names.len();
        for name in &names {
            left -= 1;
            confirm(ctx, word, Some(name), left);
        }
    } else {
        for name in &ctx.argv[1..] {
            ctx.state.pubsub.unsubscribe(&info, kind, name);
            let n = count(ctx, kind);
            confirm(ctx, word, Some(name), n);
        }
    }
    Ok(())
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_generic(ctx, Kind::Channel, b"subscribe")
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_generic(ctx, Kind::Channel, b"unsubscribe")
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_generic(ctx, Kind::Pattern, b"psubscribe")
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_generic(ctx, Kind::Pattern, b"punsubscribe")
}

/// SSUBSCRIBE shardchannel [shardchannel ...]: refused inside EXEC, as Redis refuses it for clients
/// that expect one reply per command.
pub fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    if !ctx.txn.may_block {
        return Err(CommandError::Custom(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client".into(),
        ));
    }
    subscribe_generic(ctx, Kind::Shard, b"ssubscribe")
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_generic(ctx, Kind::Shard, b"sunsubscribe")
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.state.pubsub.publish(&ctx.argv[1], &ctx.argv[2]);
    ctx.out.int(n as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
pub fn spublish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.state.pubsub.spublish(&ctx.argv[1], &ctx.argv[2]);
    ctx.out.int(n as i64);
    Ok(())
}

fn channels_generic(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    if ctx.argv.len() > 3 {
        return Err(subcommand_syntax(ctx, "PUBSUB"));
    }
    let list = ctx
        .state
        .pubsub
        .channels(kind, ctx.argv.get(2).map(|p| &p[..]));
    ctx.out.array(list.len());
    for c in &list {
        ctx.out.bulk(c);
    }
    Ok(())
}

fn numsub_generic(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let names = &ctx.argv[2..];
    // A flat array in RESP3 too, as Redis replies.
    ctx.out.array(2 * names.len());
    for name in names {
        let n = ctx.state.pubsub.numsub(kind, name);
        ctx.out.bulk(name);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn subcommand_syntax(ctx: &Ctx, container: &str) -> CommandError {
    let sub = ctx.argv.get(1).map_or(String::new(), |s| {
        String::from_utf8_lossy(&s[..s.len().min(128)]).into_owned()
    });
    CommandError::UnknownSubcommandOrArity {
        sub,
        container: container.to_string(),
    }
}

/// PUBSUB CHANNELS [pattern]
pub fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    channels_generic(ctx, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
pub fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    channels_generic(ctx, Kind::Shard)
}

/// PUBSUB NUMSUB [channel ...]
pub fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    numsub_generic(ctx, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
pub fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    numsub_generic(ctx, Kind::Shard)
}

/// PUBSUB NUMPAT
pub fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.state.pubsub.distinct(Kind::Pattern);
    ctx.out.int(n as i64);
    Ok(())
}

/// PUBSUB HELP
pub fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}

/// MONITOR: from now on this connection receives a line for every command run. Refused inside EXEC.
pub fn monitor(ctx: &mut Ctx) -> CmdResult {
    if !ctx.txn.may_block {
        return Err(CommandError::Custom(
            "ERR MONITOR isn't allowed for DENY BLOCKING client".into(),
        ));
    }
    if ctx.client.info.monitor.load(Ordering::Relaxed) {
        return Ok(());
    }
    ctx.state.pubsub.monitors.add(&ctx.client.info);
    ctx.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn client_pause(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() > 4 {
        return Err(subcommand_syntax(ctx, "CLIENT"));
    }
    let mut mode = PauseMode::All;
    if let Some(m) = ctx.argv.get(3) {
        if is_kw(m, "WRITE") {
            mode = PauseMode::Write;
        } else if is_kw(m, "ALL") {
            mode = PauseMode::All;
        } else {
            return Err(CommandError::Custom(
                "ERR CLIENT PAUSE mode must be WRITE or ALL".into(),
            ));
        }
    }
    let ms = parse_int(&ctx.argv[2]).map_err(|_| CommandError::TimeoutNotInteger)?;
    if ms < 0 {
        return Err(CommandError::TimeoutNegative);
    }
    let until = if ms == 0 {
        0
    } else {
        ctx.now_ms.saturating_add(ms as u64)
    };
    ctx.state.pubsub.pause.pause(mode, until, ctx.now_ms);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
pub fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.state.pubsub.pause.unpause();
    ctx.out.ok();
    Ok(())
}
