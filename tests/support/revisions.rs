//! Revision metadata helpers for the family tests: a key's `version`, `create_revision` and
//! `mod_revision` from `DEBUG OBJECT`, the server's `current_revision` from `INFO stats`, and the
//! checks that a command takes exactly one revision or none. Concord-only (Redis has no revisions).
//!
//! The checks take the caller's command runner (`strings_script::run` in the family tests) so this
//! module does not depend on any one test crate's script helpers.

use redis::Connection;

/// Runs one command line and renders its reply (errors start with `-`).
pub type Runner = fn(&mut Connection, &str) -> String;

/// One numeric `name:value` field of `key`'s `DEBUG OBJECT` line.
fn object_field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix(':')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

fn debug_object(c: &mut Connection, key: &str) -> String {
    redis::cmd("DEBUG").arg("OBJECT").arg(key).query(c).unwrap()
}

/// (version, create_revision, mod_revision) of `key`.
pub fn meta(c: &mut Connection, key: &str) -> (u64, u64, u64) {
    let line = debug_object(c, key);
    (
        object_field(&line, "version"),
        object_field(&line, "create_revision"),
        object_field(&line, "mod_revision"),
    )
}

/// (version, mod_revision) of `key`.
pub fn version_and_mod_revision(c: &mut Connection, key: &str) -> (u64, u64) {
    let line = debug_object(c, key);
    (
        object_field(&line, "version"),
        object_field(&line, "mod_revision"),
    )
}

/// The server's `current_revision` from INFO stats.
pub fn current_revision(c: &mut Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("current_revision:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("current_revision in INFO stats")
}

/// Runs `line`, which must change `key` with exactly one revision and one version, keeping its
/// create_revision and setting its mod_revision to the new revision.
pub fn changes(c: &mut Connection, run: Runner, line: &str, key: &str) {
    let before = current_revision(c);
    let (v0, cr0, _) = meta(c, key);
    let reply = run(c, line);
    assert!(!reply.starts_with('-'), "{line}: {reply}");
    let after = current_revision(c);
    assert_eq!(after, before + 1, "{line} should take one revision");
    let (v1, cr1, mr1) = meta(c, key);
    assert_eq!(v1, v0 + 1, "{line} should bump the version");
    assert_eq!(cr1, cr0, "{line} should keep create_revision");
    assert_eq!(mr1, after, "{line} should set mod_revision");
}

/// Runs `line`, which must parse and must not move the server's revision.
pub fn no_change(c: &mut Connection, run: Runner, line: &str) {
    let before = current_revision(c);
    let reply = run(c, line);
    assert!(!reply.starts_with("-ERR syntax"), "{line}: {reply}");
    assert_eq!(
        current_revision(c),
        before,
        "{line} changed nothing: {reply}"
    );
}

/// Runs each of `writes` in order, each of which must bump `key`'s version by exactly one and move
/// its mod_revision forward, then each of `no_ops`, which must leave both alone.
pub fn writes_bump_and_no_ops_do_not(
    c: &mut Connection,
    run: Runner,
    key: &str,
    writes: &[&str],
    no_ops: &[&str],
) {
    let mut last = version_and_mod_revision(c, key);
    for cmd in writes {
        let _ = run(c, cmd);
        let now = version_and_mod_revision(c, key);
        assert_eq!(now.0, last.0 + 1, "{cmd} bumps the version");
        assert!(now.1 > last.1, "{cmd} moves mod_revision");
        last = now;
    }
    for cmd in no_ops {
        let _ = run(c, cmd);
        assert_eq!(
            version_and_mod_revision(c, key),
            last,
            "{cmd} changes nothing"
        );
    }
}
