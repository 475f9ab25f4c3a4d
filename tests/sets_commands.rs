//! Every set command over TCP with the `redis` crate: replies, options and byte-exact errors, written as
//! scripts of `command => reply` lines (see tests/strings_script/mod.rs). The scripts were checked
//! against redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT`, except the Concord-only ones (revisions,
//! and the `listpack` set encoding, which Redis reports from 7.2 on).

mod strings_script;
mod support;

use std::time::Duration;

use strings_script::{Target, run, script};
use support::assert_resp3_replies;
use support::revisions::writes_bump_and_no_ops_do_not;

fn sorted(c: &mut redis::Connection, cmd: &[&str]) -> Vec<String> {
    let mut q = redis::cmd(cmd[0]);
    for a in &cmd[1..] {
        q.arg(*a);
    }
    let mut v: Vec<String> = q.query(c).unwrap();
    v.sort();
    v
}

#[test]
fn sadd_srem_membership_and_cardinality() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SADD s 3 1 2 1 => :3
        SADD s 2 => :0
        SMEMBERS s => [1, 2, 3]
        SCARD s => :3
        SCARD nokey => :0
        SISMEMBER s 2 => :1
        SISMEMBER s 9 => :0
        SISMEMBER s x => :0
        SISMEMBER nokey 1 => :0
        SMISMEMBER s 1 9 x 3 => [:1, :0, :0, :1]
        SMISMEMBER nokey 1 2 => [:0, :0]
        SMEMBERS nokey => []
        SREM s 1 9 => :1
        SREM s 1 => :0
        SREM nokey 1 => :0
        SREM s 2 3 4 => :2
        EXISTS s => :0
        SADD t a "" b => :3
        SISMEMBER t "" => :1
        TYPE t => +set
        SREM t a "" b => :3
        EXISTS t => :0
        "#,
    );
}

#[test]
fn wrong_type_and_arity_errors() {
    let t = Target::start();
    let mut c = t.conn();
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    let _ = run(&mut c, "SET str v");
    let _ = run(&mut c, "SADD s a");
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SCARD str",
        "SPOP str",
        "SPOP str 2",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SMOVE str s a",
        "SMOVE s str a",
        "SMOVE s str zz",
        "SINTER s str",
        "SINTER nokey str",
        "SUNION s str",
        "SDIFF s str",
        "SDIFF nokey str",
        "SINTERSTORE d s str",
        "SUNIONSTORE d s str",
        "SDIFFSTORE d s str",
        "SINTERCARD 2 s str",
        "SSCAN str 0",
    ] {
        assert_eq!(run(&mut c, cmd), wt, "{cmd}");
    }
    script(
        &mut c,
        r#"
        SMOVE nokey str a => :0
        SADD s => -ERR wrong number of arguments for 'sadd' command
        SREM s => -ERR wrong number of arguments for 'srem' command
        SMISMEMBER s => -ERR wrong number of arguments for 'smismember' command
        SINTER => -ERR wrong number of arguments for 'sinter' command
        SINTERSTORE d => -ERR wrong number of arguments for 'sinterstore' command
        SINTERCARD 1 => -ERR wrong number of arguments for 'sintercard' command
        SMOVE a b => -ERR wrong number of arguments for 'smove' command
        SPOP s 1 2 => -ERR syntax error
        SRANDMEMBER s 1 2 => -ERR syntax error
        EXISTS d => :0
        "#,
    );
}

#[test]
fn spop_and_srandmember() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SPOP nokey => nil
        SPOP nokey 3 => []
        SRANDMEMBER nokey => nil
        SRANDMEMBER nokey 3 => []
        SRANDMEMBER nokey -3 => []
        SADD s a => :1
        SRANDMEMBER s => a
        SRANDMEMBER s 0 => []
        SRANDMEMBER s 3 => [a]
        SRANDMEMBER s -3 => [a, a, a]
        SRANDMEMBER s x => -ERR value is not an integer or out of range
        SRANDMEMBER s -9223372036854775808 => -ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807
        SPOP s 0 => []
        SPOP s -1 => -ERR value is out of range, must be positive
        SPOP s x => -ERR value is out of range, must be positive
        SPOP s => a
        EXISTS s => :0
        SADD s 1 2 3 => :3
        SPOP s 10 => [1, 2, 3]
        EXISTS s => :0
        "#,
    );
    for i in 0..50 {
        let _ = run(&mut c, &format!("SADD big m{i}"));
    }
    let picks = sorted(&mut c, &["SRANDMEMBER", "big", "20"]);
    let mut uniq = picks.clone();
    uniq.dedup();
    assert_eq!(uniq.len(), 20);
    let many: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("big")
        .arg(-200)
        .query(&mut c)
        .unwrap();
    assert_eq!(many.len(), 200);
    let popped = sorted(&mut c, &["SPOP", "big", "15"]);
    let mut uniq = popped.clone();
    uniq.dedup();
    assert_eq!(uniq.len(), 15);
    assert_eq!(run(&mut c, "SCARD big"), ":35");
    for m in &popped {
        assert_eq!(run(&mut c, &format!("SISMEMBER big {m}")), ":0");
    }
    let one: String = redis::cmd("SPOP").arg("big").query(&mut c).unwrap();
    assert_eq!(run(&mut c, &format!("SISMEMBER big {one}")), ":0");
    assert_eq!(run(&mut c, "SCARD big"), ":34");
}

#[test]
fn smove_between_sets() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SADD a 1 2 => :2
        SMOVE a b 1 => :1
        SMEMBERS a => [2]
        SMEMBERS b => [1]
        SMOVE a b 9 => :0
        SMOVE a a 2 => :1
        SMOVE a a 9 => :0
        SMOVE a b 2 => :1
        EXISTS a => :0
        SMEMBERS b => [1, 2]
        SADD c 1 => :1
        SMOVE c b 1 => :1
        EXISTS c => :0
        SCARD b => :2
        SMOVE nokey b 1 => :0
        "#,
    );
}

#[test]
fn set_algebra() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SADD a 1 2 3 4 => :4
        SADD b 3 4 5 => :3
        SADD c 4 5 6 => :3
        SINTER a b => [3, 4]
        SINTER a b c => [4]
        SINTER a nokey => []
        SINTER a => [1, 2, 3, 4]
        SUNION a b => [1, 2, 3, 4, 5]
        SUNION nokey a => [1, 2, 3, 4]
        SUNION nokey => []
        SDIFF a b => [1, 2]
        SDIFF a b c => [1, 2]
        SDIFF nokey a => []
        SDIFF a nokey => [1, 2, 3, 4]
        SDIFF a a => []
        SINTERSTORE d a b => :2
        SMEMBERS d => [3, 4]
        SUNIONSTORE d a c => :6
        SMEMBERS d => [1, 2, 3, 4, 5, 6]
        SDIFFSTORE d a b => :2
        SMEMBERS d => [1, 2]
        SINTERSTORE d a nokey => :0
        EXISTS d => :0
        SET d string => +OK
        SUNIONSTORE d a => :4
        TYPE d => +set
        SDIFFSTORE d a a => :0
        EXISTS d => :0
        SET d string => +OK
        PEXPIRE d 100000 => :1
        SINTERSTORE d a b => :2
        TTL d => :-1
        SINTERSTORE a a b => :2
        SMEMBERS a => [3, 4]
        SINTERCARD 2 a b => :2
        SINTERCARD 1 c => :3
        SINTERCARD 2 c b LIMIT 1 => :1
        SINTERCARD 2 c b limit 0 => :2
        SINTERCARD 2 c nokey => :0
        SINTERCARD 0 c => -ERR numkeys should be greater than 0
        SINTERCARD x c => -ERR numkeys should be greater than 0
        SINTERCARD 3 c b => -ERR Number of keys can't be greater than number of args
        SINTERCARD 1 c LIMIT -1 => -ERR LIMIT can't be negative
        SINTERCARD 1 c LIMIT x => -ERR LIMIT can't be negative
        SINTERCARD 1 c LIMIT => -ERR syntax error
        SINTERCARD 1 c FOO 1 => -ERR syntax error
        "#,
    );
    script(
        &mut c,
        r#"
        SADD x a b c => :3
        SADD y b c d => :3
        "#,
    );
    assert_eq!(sorted(&mut c, &["SINTER", "x", "y"]), ["b", "c"]);
    assert_eq!(sorted(&mut c, &["SUNION", "x", "y"]), ["a", "b", "c", "d"]);
    assert_eq!(sorted(&mut c, &["SDIFF", "x", "y"]), ["a"]);
}

#[test]
fn sscan_options_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SSCAN nokey 0 => [0, []]
        SADD s 1 2 3 => :3
        SSCAN s 0 => [0, [1, 2, 3]]
        SSCAN s 0 MATCH 2 => [0, [2]]
        SSCAN s 0 COUNT 0 => -ERR syntax error
        SSCAN s 0 COUNT x => -ERR value is not an integer or out of range
        SSCAN s 0 FOO bar => -ERR syntax error
        SSCAN s x => -ERR invalid cursor
        "#,
    );
    for i in 0..1000 {
        let _ = run(&mut c, &format!("SADD big m{i}"));
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut rounds = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("MATCH")
            .arg("m*")
            .query(&mut c)
            .unwrap();
        seen.extend(items);
        let _ = run(&mut c, &format!("SREM big m{rounds}"));
        let _ = run(&mut c, &format!("SADD big new{rounds}"));
        rounds += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    for i in rounds..1000 {
        assert!(seen.contains(&format!("m{i}")), "m{i} missed");
    }
}

/// Sets of strings default to `hashtable`, as in Redis 7.0; Redis 7.2's listpack stage is there when
/// `set-max-listpack-entries` is raised.
#[test]
fn encodings_intset_listpack_hashtable() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        CONFIG GET set-max-listpack-entries => [set-max-listpack-entries, 0]
        SADD s a => :1
        OBJECT ENCODING s => hashtable
        CONFIG SET set-max-listpack-entries 128 => +OK
        SADD i 5 -1 3 => :3
        OBJECT ENCODING i => intset
        SMEMBERS i => [-1, 3, 5]
        SADD i a => :1
        OBJECT ENCODING i => listpack
        SREM i a => :1
        OBJECT ENCODING i => listpack
        SADD l a b => :2
        OBJECT ENCODING l => listpack
        SADD l 0123456789012345678901234567890123456789012345678901234567890123456789 => :1
        OBJECT ENCODING l => hashtable
        CONFIG SET set-max-intset-entries 2 => +OK
        SADD j 1 2 => :2
        OBJECT ENCODING j => intset
        SADD j 3 => :1
        OBJECT ENCODING j => hashtable
        SADD k 1 2 3 => :3
        OBJECT ENCODING k => listpack
        CONFIG SET set-max-listpack-entries 2 => +OK
        SADD m a b c => :3
        OBJECT ENCODING m => hashtable
        SADD n a b => :2
        SADD n c => :1
        OBJECT ENCODING n => hashtable
        SMOVE i dst 3 => :1
        OBJECT ENCODING dst => intset
        "#,
    );
}

#[test]
fn writes_move_version_and_mod_revision_and_no_ops_do_not() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let _ = run(&mut c, "SADD s a b c d e f");
    let _ = run(&mut c, "SADD other z");
    writes_bump_and_no_ops_do_not(
        &mut c,
        run,
        "s",
        &[
            "SADD s g",
            "SREM s g",
            "SPOP s",
            "SPOP s 2",
            "SMOVE other s z",
            "SMOVE s other z",
            "SUNIONSTORE s s other",
        ],
        &[
            "SADD s z",
            "SREM s nope",
            "SPOP s 0",
            "SMOVE s other nope",
            "SMEMBERS s",
            "SRANDMEMBER s -3",
            "SINTER s other",
            "SSCAN s 0",
            "SINTERCARD 1 s",
        ],
    );
}

#[test]
fn resp3_reply_types() {
    let t = Target::start();
    assert_resp3_replies(
        t.port(),
        Duration::from_millis(300),
        &[
            ("SADD s 1", b":1\r\n"),
            ("SMEMBERS s", b"~1\r\n$1\r\n1\r\n"),
            ("SMEMBERS nokey", b"~0\r\n"),
            ("SINTER s s", b"~1\r\n$1\r\n1\r\n"),
            ("SUNION s", b"~1\r\n$1\r\n1\r\n"),
            ("SDIFF s", b"~1\r\n$1\r\n1\r\n"),
            ("SRANDMEMBER s 1", b"*1\r\n$1\r\n1\r\n"),
            ("SPOP nokey 1", b"~0\r\n"),
            ("SPOP s 1", b"~1\r\n$1\r\n1\r\n"),
            ("SPOP nokey", b"_\r\n"),
            ("SMISMEMBER s 1", b"*1\r\n:0\r\n"),
        ],
    );
}

#[test]
fn huge_repeating_counts_are_refused_instead_of_exhausting_memory() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SADD s a => :1
        HSET h f v => :1
        SRANDMEMBER s -1000000000000 => -ERR value is out of range
        HRANDFIELD h -1000000000000 => -ERR value is out of range
        SRANDMEMBER s 1000000000000 => [a]
        SPOP s 1000000000000 => [a]
        PING => +PONG
        "#,
    );
}
