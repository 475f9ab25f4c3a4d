//! Client tracking as dispatch sees it: CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR and CLIENT
//! TRACKINGINFO, with Redis's checks and error texts, and the hooks dispatch runs around every command
//! (`before_command`, `after_command`), which read the command's spec and key specs and hand plain keys
//! to `notify::tracking`.

use bytes::Bytes;
use std::sync::atomic::Ordering;

use super::keyspecs;
use super::table::{CommandSpec, flags as cmd_flags};
use crate::commands::{Client, CmdResult, CommandError, Ctx, is_kw};
use crate::notify::Notes;
use crate::notify::tracking::Options;
use crate::state::State;

/// Called before a command runs for `client` (top level, in EXEC, or from a script): a tracking client
/// that runs a read-only command starts tracking the keys of `keys_of` (the command itself, or for a
/// command called by a script the script's declared keys, as Redis does). Done before the read so a
/// write racing with it is never missed (at worst an extra invalidation).
#[inline]
pub fn before_command(
    state: &State,
    client: &Client,
    spec: &CommandSpec,
    keys_of: (&CommandSpec, &[Bytes]),
) {
    let tracking = &state.notify.tracking;
    if tracking.is_active() {
        tracking.enforce_limit(&state.clients, max_keys(state));
    }
    if client.tracking.on
        && !client.tracking.bcast
        && spec.has(cmd_flags::READONLY)
        && !spec.has(cmd_flags::PUBSUB)
        && !spec.has(cmd_flags::CONCORD_SCRIPT)
    {
        remember(state, client, keys_of.0, keys_of.1);
    }
}

/// Called after a command ran. `wrote`: it changed something. `top`: it is the unit itself (not a command
/// inside EXEC or a script). Records the keys it wrote for tracking and ends a one-shot CLIENT CACHING.
#[inline]
pub fn after_command(
    state: &State,
    client: &mut Client,
    spec: &CommandSpec,
    argv: &[Bytes],
    notes: &mut Notes,
    wrote: bool,
    top: bool,
) {
    if !top {
        notes.nested = true;
    }
    let tracking = &state.notify.tracking;
    if tracking.has_state() && spec.has(cmd_flags::CONCORD_FLUSHES) {
        notes.flushed = true;
    }
    if tracking.is_active() {
        // Checked after every command too, so lowering tracking-table-max-keys evicts at once.
        if top {
            tracking.enforce_limit(&state.clients, max_keys(state));
        }
        if !notes.flushed && wrote && !(top && notes.nested) && spec.has(cmd_flags::WRITE) {
            keyspecs::written_keys(spec, argv, |k| notes.changed.push(k.clone()));
        }
    }
    // CLIENT CACHING applies to the next command, or to a whole MULTI ... EXEC.
    if top
        && client.tracking.caching
        && client.multi.is_none()
        && !spec.has(cmd_flags::CONCORD_KEEPS_CACHING)
    {
        client.tracking.caching = false;
    }
}

/// A tracking client in default mode read keys with a read-only command: remember them, unless
/// OPTIN without CLIENT CACHING YES, or OPTOUT with CLIENT CACHING NO.
fn remember(state: &State, client: &Client, spec: &CommandSpec, argv: &[Bytes]) {
    let t = &client.tracking;
    if (t.optin && !t.caching) || (t.optout && t.caching) {
        return;
    }
    let mut keys = Vec::new();
    keyspecs::all_keys(spec, argv, |k| keys.push(k.clone()));
    if keys.is_empty() {
        return;
    }
    state
        .notify
        .tracking
        .remember_keys(&state.clients, client.info.id, keys, max_keys(state));
}

/// `tracking-table-max-keys` now (0 = no limit).
#[inline]
fn max_keys(state: &State) -> usize {
    state.config.tracking_table_max_keys.load(Ordering::Relaxed) as usize
}

fn err(msg: &str) -> CommandError {
    CommandError::Custom(format!("ERR {msg}"))
}

/// Whether two prefixes overlap (one starts with the other).
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn client_tracking(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut o = Options::default();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = &argv[j];
        if is_kw(a, "redirect") && more {
            j += 1;
            if o.redirect != 0 {
                return Err(err("A client can only redirect to a single other client"));
            }
            let id = crate::commands::parse_int(&argv[j])?;
            if id <= 0 || ctx.state.clients.get(id as u64).is_none() {
                return Err(err("The client ID you want redirect to does not exist"));
            }
            o.redirect = id as u64;
        } else if is_kw(a, "bcast") {
            o.bcast = true;
        } else if is_kw(a, "optin") {
            o.optin = true;
        } else if is_kw(a, "optout") {
            o.optout = true;
        } else if is_kw(a, "noloop") {
            o.noloop = true;
        } else if is_kw(a, "prefix") && more {
            j += 1;
            o.prefixes.push(argv[j].clone());
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let tracking = ctx.state.notify.tracking.clone();
    if is_kw(&argv[2], "on") {
        let cur = &ctx.client.tracking;
        if !o.bcast && !o.prefixes.is_empty() {
            return Err(err("PREFIX option requires BCAST mode to be enabled"));
        }
        if cur.on && cur.bcast != o.bcast {
            return Err(err(
                "You can't switch BCAST mode on/off before disabling tracking for this client, and \
                 then re-enabling it with a different mode.",
            ));
        }
        if o.bcast && (o.optin || o.optout) {
            return Err(err("OPTIN and OPTOUT are not compatible with BCAST"));
        }
        if o.optin && o.optout {
            return Err(err("You can't specify both OPTIN mode and OPTOUT mode"));
        }
        if (o.optin && cur.optout) || (o.optout && cur.optin) {
            return Err(err(
                "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and \
                 then re-enabling it with a different mode.",
            ));
        }
        if o.bcast {
            check_prefixes(&tracking.prefixes_of(ctx.client.info.id), &o.prefixes)?;
        }
        let info = ctx.client.info.clone();
        tracking.enable(&mut ctx.client.tracking, &info, &o);
    } else if is_kw(&argv[2], "off") {
        tracking.disable_client(&mut ctx.client.tracking);
    } else {
        return Err(CommandError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's prefix collision checks: a new prefix may not overlap one the client has, nor another new one.
fn check_prefixes(existing: &[Bytes], new: &[Bytes]) -> Result<(), CommandError> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlaps(e, p)) {
            return Err(err(&format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must \
                 not overlap.",
                text(p),
                text(e)
            )));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlaps(p, q)) {
            return Err(err(&format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client \
                 must not overlap.",
                text(p),
                text(q)
            )));
        }
    }
    Ok(())
}

/// CLIENT CACHING YES|NO
pub fn client_caching(ctx: &mut Ctx) -> CmdResult {
    let t = &mut ctx.client.tracking;
    if !t.on {
        return Err(err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or \
             OPTOUT mode enabled",
        ));
    }
    let opt = &ctx.argv[2];
    if is_kw(opt, "yes") {
        if !t.optin {
            return Err(err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is_kw(opt, "no") {
        if !t.optout {
            return Err(err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CommandError::Syntax);
    }
    t.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the redirect target's id, 0 without one, -1 when tracking is off.
pub fn client_getredir(ctx: &mut Ctx) -> CmdResult {
    let t = &ctx.client.tracking;
    ctx.out.int(if t.on { t.redirect as i64 } else { -1 });
    Ok(())
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis reports them.
pub fn client_trackinginfo(ctx: &mut Ctx) -> CmdResult {
    let t = &ctx.client.tracking;
    let id = ctx.client.info.id;
    let tracking = &ctx.state.notify.tracking;
    let mut flags: Vec<&str> = vec![if t.on { "on" } else { "off" }];
    if t.bcast {
        flags.push("bcast");
    }
    if t.optin {
        flags.push("optin");
        if t.caching {
            flags.push("caching-yes");
        }
    }
    if t.optout {
        flags.push("optout");
        if t.caching {
            flags.push("caching-no");
        }
    }
    if t.noloop {
        flags.push("noloop");
    }
    if t.on && tracking.redirect_broken(id) {
        flags.push("broken_redirect");
    }
    let redirect = if t.on { t.redirect as i64 } else { -1 };
    let prefixes = if t.on {
        tracking.prefixes_of(id)
    } else {
        Vec::new()
    };
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    out.array(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlaps(b"a", b"ab"));
        assert!(overlaps(b"", b"x"));
        assert!(!overlaps(b"ab", b"ac"));
    }

    #[test]
    fn colliding_prefixes_are_refused_with_redis_text() {
        let e = check_prefixes(&[], &[Bytes::from_static(b"a"), Bytes::from_static(b"ab")])
            .unwrap_err();
        assert_eq!(
            e.message(),
            "ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client \
             must not overlap."
        );
        assert!(check_prefixes(&[Bytes::from_static(b"x")], &[Bytes::from_static(b"y")]).is_ok());
    }
}
