//! CLIENT UNBLOCK: ends another connection's blocking command from outside, as if its timeout had
//! passed (`TIMEOUT`, the default) or with an `-UNBLOCKED` error (`ERROR`). The wait lists themselves
//! live in `state::blocking`; this file only parses the request and picks the outcome.

use super::{CmdResult, CommandError, Ctx};
use crate::state::blocking::WaitResult;
use crate::util::numbers::parse_i64;

/// The error a client unblocked with `ERROR` receives, byte for byte as Redis sends it.
const UNBLOCKED_ERROR: &[u8] = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 if that client was blocked and is now unblocked, else 0.
pub fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() > 4 {
        return Err(CommandError::UnknownSubcommandOrArity {
            sub: "unblock".into(),
            container: "CLIENT".into(),
        });
    }
    let id = parse_i64(&ctx.argv[2]).ok_or(CommandError::NotInteger)?;
    let as_error = match ctx.argv.get(3) {
        None => false,
        Some(a) if a.eq_ignore_ascii_case(b"timeout") => false,
        Some(a) if a.eq_ignore_ascii_case(b"error") => true,
        Some(_) => {
            return Err(CommandError::Custom(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into(),
            ));
        }
    };
    // The error travels as ready-made reply bytes, so the waiting connection writes it like any
    // served reply; a timeout lets the waiter answer with its own command's timeout reply.
    let outcome = if as_error {
        WaitResult::Served(UNBLOCKED_ERROR.to_vec(), 0)
    } else {
        WaitResult::TimedOut
    };
    let argv = if id >= 0 {
        ctx.state.blocking.unblock(id as u64, outcome)
    } else {
        None
    };
    if as_error && let Some(argv) = &argv {
        // The parked command failed, as Redis counts it (errorstat UNBLOCKED, the command's
        // failed_calls).
        let stats = &ctx.state.stats;
        stats.count_error("UNBLOCKED");
        if let Ok(spec) = super::resolve(argv) {
            stats.commands[spec.id]
                .failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    ctx.out.int(i64::from(argv.is_some()));
    Ok(())
}
