//! Connection commands (Redis group `connection`): PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and the
//! CLIENT subcommands. They change only the calling connection's state, never the keyspace.

use std::sync::atomic::Ordering;

use super::keys::{help_reply, parse_db_index};
use super::table::spec_by_id;
use super::{CmdResult, CommandError, Ctx, ReplyMode, is_kw, parse_int};
use crate::protocol::Resp;

/// PING [message]
pub fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() <= 2 && super::pubsub::subscribed_ping(ctx) {
        return Ok(());
    }
    match ctx.argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&ctx.argv[1]),
        _ => {
            return Err(CommandError::WrongArity {
                command: "ping".into(),
            });
        }
    }
    Ok(())
}

/// ECHO message
pub fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(&ctx.argv[1]);
    Ok(())
}

/// QUIT: replies OK, then the connection closes.
pub fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// RESET: back to a fresh connection's state (db 0, RESP2, replies on, no name, re-authenticate).
pub fn reset(ctx: &mut Ctx) -> CmdResult {
    ctx.client.db = 0;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    ctx.client.watched.clear();
    ctx.client.authenticated = !ctx.state.config.has_requirepass.load(Ordering::Relaxed);
    // Subscriptions and MONITOR end silently, as in Redis.
    ctx.state.pubsub.drop_client(&ctx.client.info);
    ctx.state.watches.drop_client(&ctx.client.info);
    // So does client tracking.
    let tracking = ctx.state.notify.tracking.clone();
    tracking.disable_client(&mut ctx.client.tracking);
    let info = &ctx.client.info;
    info.db.store(0, Ordering::Relaxed);
    info.resp.store(2, Ordering::Relaxed);
    *info.name.lock() = None;
    info.no_evict.store(false, Ordering::Relaxed);
    info.no_touch.store(false, Ordering::Relaxed);
    ctx.out.resp = Resp::V2;
    ctx.out.simple("RESET");
    Ok(())
}

/// SELECT index
pub fn select(ctx: &mut Ctx) -> CmdResult {
    let db = parse_db_index(ctx, &ctx.argv[1])?;
    ctx.client.db = db;
    ctx.client.info.db.store(db, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// Checks a username/password pair against `requirepass` (the only user is `default`).
fn check_credentials(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> Result<(), CommandError> {
    if user.is_some_and(|u| u != b"default") {
        return Err(CommandError::WrongPass);
    }
    let required = ctx.state.config.requirepass.read();
    match required.as_deref() {
        None if user.is_none() => Err(CommandError::AuthNotConfigured),
        None => Ok(()),
        Some(p) if p == pass => Ok(()),
        Some(_) => Err(CommandError::WrongPass),
    }
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx) -> CmdResult {
    let (user, pass) = match ctx.argv.len() {
        2 => (None, &ctx.argv[1][..]),
        3 => (Some(&ctx.argv[1][..]), &ctx.argv[2][..]),
        _ => return Err(CommandError::Syntax),
    };
    check_credentials(ctx, user, pass)?;
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// Client names and library names: printable ASCII without spaces, as Redis requires.
fn valid_name(b: &[u8]) -> bool {
    b.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn bad_name() -> CommandError {
    CommandError::Custom(
        "ERR Client names cannot contain spaces, newlines or special characters.".into(),
    )
}

fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if !valid_name(name) {
        return Err(bad_name());
    }
    *ctx.client.info.name.lock() = (!name.is_empty()).then(|| name.to_vec());
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut proto = None;
    if argv.len() >= 2 {
        let v = parse_int(&argv[1]).map_err(|_| {
            CommandError::Custom("ERR Protocol version is not an integer or out of range".into())
        })?;
        if !(2..=3).contains(&v) {
            return Err(CommandError::NoProto);
        }
        proto = Some(v);
    }
    // Options are all parsed (and a new name validated) before credentials are checked, as Redis does:
    // a syntax error never leaves the client authenticated.
    let mut setname = None;
    let mut credentials = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i][..];
        if is_kw(a, "AUTH") && i + 2 < argv.len() {
            credentials = Some((&argv[i + 1][..], &argv[i + 2][..]));
            i += 3;
        } else if is_kw(a, "SETNAME") && i + 1 < argv.len() {
            let name = &argv[i + 1][..];
            if !valid_name(name) {
                return Err(bad_name());
            }
            setname = Some(name);
            i += 2;
        } else {
            return Err(CommandError::Custom(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if let Some((user, pass)) = credentials {
        check_credentials(ctx, Some(user), pass)?;
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CommandError::Custom(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(name) = setname {
        set_name(ctx, name)?;
    }
    if let Some(p) = proto {
        ctx.out.resp = if p == 3 { Resp::V3 } else { Resp::V2 };
        ctx.client.info.resp.store(p as u8, Ordering::Relaxed);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::commands::server::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.is_resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.info.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// CLIENT ID
pub fn client_id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.client.info.id as i64);
    Ok(())
}

/// CLIENT SETNAME name
pub fn client_setname(ctx: &mut Ctx) -> CmdResult {
    set_name(ctx, &ctx.argv[2])?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.client.info.name.lock().clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME name | LIB-VER version
pub fn client_setinfo(ctx: &mut Ctx) -> CmdResult {
    let (attr, value) = (&ctx.argv[2][..], &ctx.argv[3][..]);
    let slot = if is_kw(attr, "LIB-NAME") {
        &ctx.client.info.lib_name
    } else if is_kw(attr, "LIB-VER") {
        &ctx.client.info.lib_ver
    } else {
        return Err(CommandError::Custom(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    if !valid_name(value) {
        return Err(CommandError::Custom(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr).to_lowercase()
        )));
    }
    *slot.lock() = (!value.is_empty()).then(|| value.to_vec());
    ctx.out.ok();
    Ok(())
}

fn cmd_name(info: &crate::clients::ClientInfo) -> String {
    match info.last_cmd.load(Ordering::Relaxed) {
        0 => "NULL".into(),
        n => spec_by_id(n - 1).map_or("NULL".into(), |s| s.name.to_string()),
    }
}

/// CLIENT INFO
pub fn client_info(ctx: &mut Ctx) -> CmdResult {
    let info = &ctx.client.info;
    // Redis shows the running command itself.
    let mut line = info.describe(ctx.now_ms, ctx.spec.name);
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
pub fn client_list(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut ids: Option<Vec<u64>> = None;
    let mut only_normal = true;
    // TYPE pubsub / normal: with or without a subscription (None: no TYPE given).
    let mut pubsub_type: Option<bool> = None;
    let mut i = 2;
    while i < argv.len() {
        if is_kw(&argv[i], "TYPE") && i + 1 < argv.len() {
            let t = &argv[i + 1][..];
            if is_kw(t, "normal") {
                only_normal = true;
                pubsub_type = Some(false);
            } else if is_kw(t, "pubsub") {
                pubsub_type = Some(true);
            } else if is_kw(t, "master") || is_kw(t, "replica") || is_kw(t, "slave") {
                only_normal = false;
            } else {
                return Err(CommandError::UnknownClientType {
                    name: String::from_utf8_lossy(t).into_owned(),
                });
            }
            i += 2;
        } else if is_kw(&argv[i], "ID") && i + 1 < argv.len() {
            let mut list = Vec::new();
            for a in &argv[i + 1..] {
                let n = parse_int(a)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| CommandError::Custom("ERR Invalid client ID".into()))?;
                list.push(n as u64);
            }
            ids = Some(list);
            i = argv.len();
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let mut text = String::new();
    if only_normal {
        for c in ctx.state.clients.snapshot() {
            if ids.as_ref().is_some_and(|l| !l.contains(&c.id))
                || pubsub_type.is_some_and(|p| p != c.in_pubsub())
            {
                continue;
            }
            let name = if c.id == ctx.client.info.id {
                ctx.spec.name.to_string()
            } else {
                cmd_name(&c)
            };
            text.push_str(&c.describe(ctx.now_ms, &name));
            text.push('\n');
        }
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Closes another connection at once, or the caller's own after its reply is written (a kill would
/// also abandon that reply).
fn kill_client(ctx: &mut Ctx, c: &crate::clients::ClientInfo) {
    if c.id == ctx.client.info.id {
        ctx.client.close_after_reply = true;
    } else {
        c.kill();
    }
}

/// CLIENT KILL ip:port | CLIENT KILL <filter value> ...
pub fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let me = ctx.client.info.id;
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(&argv[2]).into_owned();
        let Some(c) = ctx
            .state
            .clients
            .snapshot()
            .into_iter()
            .find(|c| c.addr == addr)
        else {
            return Err(CommandError::NoSuchClient);
        };
        kill_client(ctx, &c);
        ctx.out.ok();
        return Ok(());
    }
    if !argv.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut user, mut maxage) =
        (None, None, None, true, None, None);
    let mut normal = true;
    let mut pubsub_type: Option<bool> = None;
    for pair in argv[2..].chunks_exact(2) {
        let (k, v) = (&pair[0][..], &pair[1][..]);
        let text = String::from_utf8_lossy(v).into_owned();
        if is_kw(k, "ID") {
            let n = parse_int(v).ok().filter(|n| *n > 0).ok_or_else(|| {
                CommandError::Custom("ERR client-id should be greater than 0".into())
            })?;
            id = Some(n as u64);
        } else if is_kw(k, "ADDR") {
            addr = Some(text);
        } else if is_kw(k, "LADDR") {
            laddr = Some(text);
        } else if is_kw(k, "USER") {
            // The only user is `default`; Redis refuses a filter naming a user that does not exist.
            if text != "default" {
                return Err(CommandError::Custom(format!("ERR No such user '{text}'")));
            }
            user = Some(text);
        } else if is_kw(k, "MAXAGE") {
            maxage = Some(parse_int(v)?);
        } else if is_kw(k, "TYPE") {
            if is_kw(v, "normal") {
                normal = true;
                pubsub_type = Some(false);
            } else if is_kw(v, "pubsub") {
                pubsub_type = Some(true);
            } else if is_kw(v, "master") || is_kw(v, "replica") || is_kw(v, "slave") {
                normal = false;
            } else {
                return Err(CommandError::UnknownClientType { name: text });
            }
        } else if is_kw(k, "SKIPME") {
            skipme = if is_kw(v, "yes") {
                true
            } else if is_kw(v, "no") {
                false
            } else {
                return Err(CommandError::Syntax);
            };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let mut killed = 0;
    for c in ctx.state.clients.snapshot() {
        let age_s = ctx.now_ms.saturating_sub(c.created_ms) / 1000;
        let matches = normal
            && pubsub_type.is_none_or(|p| p == c.in_pubsub())
            && id.is_none_or(|i| i == c.id)
            && addr.as_ref().is_none_or(|a| *a == c.addr)
            && laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && user.as_ref().is_none_or(|u| u == "default")
            && maxage.is_none_or(|m| age_s as i64 >= m)
            && !(skipme && c.id == me);
        if matches {
            kill_client(ctx, &c);
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
pub fn client_reply(ctx: &mut Ctx) -> CmdResult {
    let a = &ctx.argv[2][..];
    if is_kw(a, "ON") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if is_kw(a, "OFF") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is_kw(a, "SKIP") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(CommandError::Syntax);
    }
    Ok(())
}

fn on_off(a: &[u8]) -> Result<bool, CommandError> {
    if is_kw(a, "ON") {
        Ok(true)
    } else if is_kw(a, "OFF") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

/// CLIENT NO-EVICT ON|OFF
pub fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    let v = on_off(&ctx.argv[2])?;
    ctx.client.info.no_evict.store(v, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-TOUCH ON|OFF
pub fn client_no_touch(ctx: &mut Ctx) -> CmdResult {
    let v = on_off(&ctx.argv[2])?;
    ctx.client.info.no_touch.store(v, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT HELP
pub fn client_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME, MAXAGE.",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE, ID.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
        ],
    );
    Ok(())
}
