//! The command table generated from `commands/*.json` by build.rs, and its lookup.

use hashbrown::HashMap;
use std::sync::LazyLock;

use super::Handler;

/// Command flag bits, in the order of `FLAG_NAMES`.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const MAY_REPLICATE: u32 = 1 << 15;
    pub const SENTINEL: u32 = 1 << 16;
    pub const ONLY_SENTINEL: u32 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const PROTECTED: u32 = 1 << 19;
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 20;
    pub const NO_ASYNC_LOADING: u32 = 1 << 21;
    pub const NO_MULTI: u32 = 1 << 22;
    pub const MOVABLE_KEYS: u32 = 1 << 23;
    pub const ALLOW_BUSY: u32 = 1 << 24;
}

/// One command or subcommand, as its spec describes it.
pub struct CommandSpec {
    /// Lower-case name; subcommands are `container|sub` as Redis names them.
    pub name: &'static str,
    /// Dense index, for per-command statistics.
    pub id: usize,
    /// Redis's arity: the exact argument count including the name, or at least -arity when negative.
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
    /// The spec JSON object (minified), for COMMAND INFO and COMMAND DOCS.
    pub json: &'static str,
}

impl CommandSpec {
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            argc == a as usize
        } else {
            argc >= (-a) as usize
        }
    }

    /// The flag names, for COMMAND INFO.
    pub fn flag_names(&self) -> Vec<&'static str> {
        FLAG_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.flags & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// Finds a subcommand by name, case-insensitively.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| {
            let short = s.name.rsplit('|').next().unwrap_or(s.name);
            short.as_bytes().eq_ignore_ascii_case(name)
        })
    }

    /// The spec's JSON body (the object under the command's name).
    pub fn doc(&self) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(self.json).unwrap_or_default();
        v.as_object()
            .and_then(|o| o.values().next().cloned())
            .unwrap_or_default()
    }
}

include!(concat!(env!("OUT_DIR"), "/command_table.rs"));

static INDEX: LazyLock<HashMap<&'static [u8], &'static CommandSpec>> = LazyLock::new(|| {
    COMMAND_TABLE
        .iter()
        .map(|c| (c.name.as_bytes(), c))
        .collect()
});

/// Looks up a top-level command by name, case-insensitively, without allocating.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    INDEX.get(&*lower).copied()
}

/// Every spec, subcommands included.
pub fn all_specs() -> impl Iterator<Item = &'static CommandSpec> {
    COMMAND_TABLE
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// The spec with a given id.
pub fn spec_by_id(id: usize) -> Option<&'static CommandSpec> {
    all_specs().find(|s| s.id == id)
}
