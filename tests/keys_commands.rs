//! Generic key commands over TCP with the `redis` crate: DEL/EXISTS/TOUCH/TYPE, RENAME, COPY and MOVE
//! across databases with TTLs, KEYS and SCAN options, RANDOMKEY, OBJECT, and the EXPIRE family's options
//! and errors. Checked against redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT` (see
//! tests/strings_script/mod.rs).

mod strings_script;
mod support;

use std::collections::HashSet;

use strings_script::{Target, run, script};

#[test]
fn del_exists_touch_type_unlink() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        DEL a => :0
        MSET a 1 b 2 c 3 => +OK
        EXISTS a b missing a => :3
        DEL a missing a => :1
        UNLINK b c d => :2
        DBSIZE => :0
        SET k v => +OK
        TOUCH k k missing => :2
        TYPE k => +string
        TYPE missing => +none
        DEL => -ERR wrong number of arguments for 'del' command
        EXISTS => -ERR wrong number of arguments for 'exists' command
        TYPE => -ERR wrong number of arguments for 'type' command
        "#,
    );
}

#[test]
fn rename_and_renamenx_keep_the_ttl() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RENAME missing x => -ERR no such key
        RENAMENX missing x => -ERR no such key
        SET a 1 EX 100 => +OK
        RENAME a b => +OK
        EXISTS a => :0
        GET b => 1
        TTL b => :100
        RENAME b b => +OK
        RENAMENX b b => :0
        SET c 3 => +OK
        RENAMENX b c => :0
        GET c => 3
        RENAME b c => +OK
        GET c => 1
        TTL c => :100
        SET d 4 => +OK
        SET e 5 EX 100 => +OK
        RENAME d e => +OK
        TTL e => :-1
        RENAMENX e f => :1
        GET f => 4
        RENAME a => -ERR wrong number of arguments for 'rename' command
        "#,
    );
}

#[test]
fn copy_within_and_across_databases() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        COPY missing x => :0
        SET a hello EX 100 => +OK
        COPY a b => :1
        GET b => hello
        TTL b => :100
        COPY a b => :0
        SET a world => +OK
        COPY a b REPLACE => :1
        GET b => world
        TTL b => :-1
        COPY a a => -ERR source and destination objects are the same
        COPY a a DB 0 => -ERR source and destination objects are the same
        COPY a a DB 1 => :1
        COPY a b DB 16 => -ERR DB index is out of range
        COPY a b DB -1 => -ERR DB index is out of range
        COPY a b DB 4294967296 => -ERR value is out of range, value must between -2147483648 and 2147483647
        COPY a b DB x => -ERR value is not an integer or out of range
        COPY a b DB => -ERR syntax error
        COPY a b FOO => -ERR syntax error
        COPY a b REPLACE REPLACE => :1
        SET n 42 EX 100 => +OK
        COPY n n2 DB 2 => :1
        SELECT 2 => +OK
        GET n2 => 42
        OBJECT ENCODING n2 => int
        TTL n2 => :100
        SET n2 old => +OK
        SELECT 0 => +OK
        COPY n n2 DB 2 => :0
        COPY n n2 DB 2 REPLACE => :1
        SELECT 2 => +OK
        GET n2 => 42
        SELECT 1 => +OK
        GET a => world
        "#,
    );
}

#[test]
fn move_between_databases() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET k v EX 100 => +OK
        MOVE k 0 => -ERR source and destination objects are the same
        MOVE k 16 => -ERR DB index is out of range
        MOVE k -1 => -ERR DB index is out of range
        MOVE k x => -ERR value is not an integer or out of range
        MOVE k 2147483648 => -ERR value is out of range, value must between -2147483648 and 2147483647
        MOVE missing 1 => :0
        MOVE k 1 => :1
        EXISTS k => :0
        SELECT 1 => +OK
        GET k => v
        TTL k => :100
        SET k other => +OK
        MOVE k 0 => :1
        SET k again => +OK
        SELECT 0 => +OK
        SET k here => +OK
        SELECT 1 => +OK
        MOVE k 0 => :0
        GET k => again
        "#,
    );
}

#[test]
fn select_and_swapdb_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SELECT 16 => -ERR DB index is out of range
        SELECT -1 => -ERR DB index is out of range
        SELECT x => -ERR value is not an integer or out of range
        SELECT 2147483648 => -ERR value is out of range, value must between -2147483648 and 2147483647
        SELECT 0 => +OK
        SWAPDB x 0 => -ERR invalid first DB index
        SWAPDB 0 x => -ERR invalid second DB index
        SWAPDB 0 16 => -ERR DB index is out of range
        "#,
    );
}

#[test]
fn expire_family_options_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        EXPIRE missing 100 => :0
        TTL missing => :-2
        PTTL missing => :-2
        EXPIRETIME missing => :-2
        PEXPIRETIME missing => :-2
        PERSIST missing => :0
        SET k v => +OK
        TTL k => :-1
        PTTL k => :-1
        EXPIRETIME k => :-1
        PEXPIRETIME k => :-1
        PERSIST k => :0
        EXPIRE k 100 XX => :0
        EXPIRE k 100 GT => :0
        EXPIRE k 100 LT => :1
        TTL k => :100
        EXPIRE k 50 NX => :0
        EXPIRE k 200 LT => :0
        EXPIRE k 50 GT => :0
        EXPIRE k 200 GT => :1
        EXPIRE k 100 XX => :1
        TTL k => :100
        PEXPIRE k 200000 => :1
        TTL k => :200
        EXPIREAT k 99999999999 => :1
        EXPIRETIME k => :99999999999
        PEXPIREAT k 99999999999123 => :1
        PEXPIRETIME k => :99999999999123
        EXPIRETIME k => :99999999999
        PERSIST k => :1
        TTL k => :-1
        EXPIRE k 100 NX => :1
        EXPIRE k 100 FOO => -ERR Unsupported option FOO
        EXPIRE k abc FOO => -ERR Unsupported option FOO
        EXPIRE k 100 NX XX => -ERR NX and XX, GT or LT options at the same time are not compatible
        EXPIRE k 100 NX GT => -ERR NX and XX, GT or LT options at the same time are not compatible
        EXPIRE k 100 LT NX => -ERR NX and XX, GT or LT options at the same time are not compatible
        EXPIRE k 100 GT LT => -ERR GT and LT options at the same time are not compatible
        EXPIRE k abc => -ERR value is not an integer or out of range
        EXPIRE k 1.5 => -ERR value is not an integer or out of range
        EXPIRE k 9223372036854775807 => -ERR invalid expire time in 'expire' command
        EXPIRE k -9223372036854775808 => -ERR invalid expire time in 'expire' command
        PEXPIRE k 9223372036854775807 => -ERR invalid expire time in 'pexpire' command
        EXPIREAT k 9223372036854775807 => -ERR invalid expire time in 'expireat' command
        PEXPIREAT k 9223372036854775807 => :1
        PEXPIRETIME k => :9223372036854775807
        EXPIRE k => -ERR wrong number of arguments for 'expire' command
        TTL => -ERR wrong number of arguments for 'ttl' command
        EXPIRE k 0 => :1
        EXISTS k => :0
        SET k v => +OK
        EXPIRE k -100 => :1
        EXISTS k => :0
        SET k v => +OK
        PEXPIREAT k 1 => :1
        EXISTS k => :0
        SET k v EX 100 => +OK
        EXPIRE k 100 LT => :0
        EXPIRE k 99 LT => :1
        EXPIRE k -1 GT => :0
        EXPIRE k -1 LT => :1
        EXISTS k => :0
        "#,
    );
}

#[test]
fn keys_patterns() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        MSET foo 1 fob 2 bar 3 f*o 4 "a b" 5 => +OK
        KEYS nomatch => []
        KEYS bar => [bar]
        KEYS f\*o => [f*o]
        "#,
    );
    let sorted = |c: &mut redis::Connection, pattern: &str| {
        let mut v: Vec<String> = redis::cmd("KEYS").arg(pattern).query(c).unwrap();
        v.sort();
        v
    };
    assert_eq!(sorted(&mut c, "*"), ["a b", "bar", "f*o", "fob", "foo"]);
    assert_eq!(sorted(&mut c, "f?o"), ["f*o", "foo"]);
    assert_eq!(sorted(&mut c, "fo[ob]"), ["fob", "foo"]);
    assert_eq!(sorted(&mut c, "fo[^o]"), ["fob"]);
    assert_eq!(sorted(&mut c, "*o*"), ["f*o", "fob", "foo"]);
    assert_eq!(sorted(&mut c, "a *"), ["a b"]);
    assert_eq!(
        run(&mut c, "KEYS"),
        "-ERR wrong number of arguments for 'keys' command"
    );
}

/// Runs a full SCAN with `opts`, returning every key seen (with repeats) and the number of calls.
fn full_scan(c: &mut redis::Connection, opts: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let (next, batch): (String, Vec<String>) =
            redis::cmd("SCAN").arg(&cursor).arg(opts).query(c).unwrap();
        calls += 1;
        keys.extend(batch);
        if next == "0" {
            return (keys, calls);
        }
        cursor = next;
    }
}

#[test]
fn scan_options_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
        pipe.cmd("SET").arg(format!("other:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let (all, calls) = full_scan(&mut c, &[]);
    let set: HashSet<&String> = all.iter().collect();
    assert_eq!(set.len(), 2000);
    assert!(calls > 10, "COUNT 10 needs many calls for 2000 keys");
    let (matched, _) = full_scan(&mut c, &["MATCH", "key:1*"]);
    let set: HashSet<&String> = matched.iter().collect();
    assert_eq!(set.len(), 111);
    assert!(set.iter().all(|k| k.starts_with("key:1")));
    let (_, calls) = full_scan(&mut c, &["COUNT", "100000"]);
    assert_eq!(calls, 1);
    let (typed, _) = full_scan(&mut c, &["TYPE", "string"]);
    assert_eq!(typed.iter().collect::<HashSet<_>>().len(), 2000);
    let (typed, _) = full_scan(&mut c, &["TYPE", "STRING", "MATCH", "other:99*"]);
    assert_eq!(typed.iter().collect::<HashSet<_>>().len(), 11);
    let (none, _) = full_scan(&mut c, &["TYPE", "list"]);
    assert!(none.is_empty());
    script(
        &mut c,
        r#"
        SCAN abc => -ERR invalid cursor
        SCAN 1.5 => -ERR invalid cursor
        SCAN " 1" => -ERR invalid cursor
        SCAN 18446744073709551616 => -ERR invalid cursor
        SCAN 0 COUNT 0 => -ERR syntax error
        SCAN 0 COUNT -1 => -ERR syntax error
        SCAN 0 COUNT x => -ERR value is not an integer or out of range
        SCAN 0 MATCH => -ERR syntax error
        SCAN 0 FOO bar => -ERR syntax error
        SCAN => -ERR wrong number of arguments for 'scan' command
        "#,
    );
}

#[test]
fn scan_of_an_empty_database_ends_at_once() {
    let t = Target::start();
    let mut c = t.conn();
    script(&mut c, "SCAN 0 => [0, []]");
}

#[test]
fn randomkey_returns_live_keys() {
    let t = Target::start();
    let mut c = t.conn();
    script(&mut c, "RANDOMKEY => nil");
    script(&mut c, "MSET a 1 b 2 c 3 => +OK");
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let k: String = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
        seen.insert(k);
    }
    let want: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, want);
}

#[test]
fn object_subcommands() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        OBJECT ENCODING missing => nil
        OBJECT IDLETIME missing => nil
        OBJECT REFCOUNT missing => nil
        OBJECT FREQ missing => nil
        SET k v => +OK
        OBJECT ENCODING k => embstr
        OBJECT IDLETIME k => :0
        OBJECT REFCOUNT k => :1
        SET n 100 => +OK
        OBJECT REFCOUNT n => :2147483647
        OBJECT FREQ k => -ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.
        OBJECT ENCODING => -ERR wrong number of arguments for 'object|encoding' command
        OBJECT FOO k => -ERR unknown subcommand 'FOO'. Try OBJECT HELP.
        "#,
    );
}

#[test]
fn database_isolation_for_every_key_command() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET k zero => +OK
        SELECT 3 => +OK
        GET k => nil
        EXISTS k => :0
        SET k three => +OK
        DBSIZE => :1
        SELECT 0 => +OK
        GET k => zero
        DEL k => :1
        SELECT 3 => +OK
        GET k => three
        "#,
    );
}

/// (keyspace_hits, keyspace_misses) from INFO stats.
fn hits_misses(c: &mut redis::Connection) -> (i64, i64) {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    let get = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in INFO stats"))
    };
    (get("keyspace_hits:"), get("keyspace_misses:"))
}

#[test]
fn keyspace_hits_and_misses_are_counted_by_read_lookups_only() {
    let t = Target::start();
    let mut c = t.conn();
    script(&mut c, "SET a 1 => +OK");
    // (command, hits added, misses added), as Redis 7.0 counts them.
    let cases: &[(&str, i64, i64)] = &[
        ("EXISTS a", 1, 0),
        ("EXISTS zz", 0, 1),
        ("EXISTS a zz a", 2, 1),
        ("TYPE a", 1, 0),
        ("TYPE zz", 0, 1),
        ("TTL a", 1, 0),
        ("TTL zz", 0, 1),
        ("PTTL a", 1, 0),
        ("EXPIRETIME a", 1, 0),
        ("PEXPIRETIME zz", 0, 1),
        ("TOUCH a zz", 1, 1),
        ("OBJECT ENCODING a", 1, 0),
        ("OBJECT ENCODING zz", 0, 1),
        ("OBJECT IDLETIME a", 1, 0),
        ("STRLEN a", 1, 0),
        ("STRLEN zz", 0, 1),
        ("GETRANGE a 0 1", 1, 0),
        ("MGET a zz", 1, 1),
        ("GET a", 1, 0),
        ("GET zz", 0, 1),
        ("SET a 2 GET", 1, 0),
        ("SET zz 2 GET", 0, 1),
        ("GETEX a", 1, 0),
        ("GETEX nope", 0, 1),
        ("GETDEL zz", 1, 0),
        ("GETDEL zz", 0, 1),
        ("GETSET a 1", 1, 0),
        ("GETBIT a 1", 1, 0),
        ("GETBIT zz 1", 0, 1),
        ("COPY a b", 1, 0),
        ("COPY zz b", 0, 1),
        ("INCR a", 0, 0),
        ("APPEND a 1", 0, 0),
        ("SET a 1", 0, 0),
        ("SETBIT a 1 1", 0, 0),
        ("SETRANGE a 0 1", 0, 0),
        ("RANDOMKEY", 0, 0),
        ("KEYS *", 0, 0),
        ("SCAN 0", 0, 0),
        ("RENAME b c", 0, 0),
        ("EXPIRE c 100", 0, 0),
        ("PERSIST c", 0, 0),
        ("INCRBYFLOAT a 1", 0, 0),
        ("DEL zz", 0, 0),
        ("MOVE c 1", 0, 0),
        ("SETNX q 1", 0, 0),
        ("MSETNX q 1 r 2", 0, 0),
        ("DBSIZE", 0, 0),
    ];
    for (line, dh, dm) in cases {
        let (h0, m0) = hits_misses(&mut c);
        let reply = run(&mut c, line);
        assert!(!reply.starts_with('-'), "{line}: {reply}");
        let (h1, m1) = hits_misses(&mut c);
        assert_eq!((h1 - h0, m1 - m0), (*dh, *dm), "{line}");
    }
}
