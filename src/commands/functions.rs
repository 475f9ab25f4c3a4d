//! Function commands (Redis 7 `FUNCTION ...`, `FCALL`, `FCALL_RO`): libraries of Lua functions loaded
//! with FUNCTION LOAD, kept as server state and called by name.

use super::{CmdResult, CommandError, Ctx};

/// FUNCTION KILL: stops the running function unless it wrote (runs beside a busy script, unlocked).
pub fn function_kill(ctx: &mut Ctx) -> CmdResult {
    ctx.server
        .scripting
        .run
        .request_kill(false)
        .map_err(|e| CommandError::Custom(e.into()))?;
    ctx.out.ok();
    Ok(())
}
