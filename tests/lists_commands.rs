//! Every list command over TCP with the `redis` crate: replies, options, byte-exact errors, WRONGTYPE in
//! both directions and deletion of emptied lists, written as scripts of `command => reply` lines (see
//! tests/strings_script/mod.rs). The scripts were checked against redis-server 7.0.15 with
//! `CONCORD_TEST_REDIS_PORT=<port> cargo test --test lists_commands -- --test-threads=1`, except the
//! Concord-only ones (revisions, and LPOS RANK i64::MIN, where 7.0 negates a C long).

mod strings_script;
mod support;

use std::time::Duration;

use strings_script::{Target, run, script};
use support::revisions::{version_and_mod_revision as meta, writes_bump_and_no_ops_do_not};
use support::{assert_resp3_replies, freeze_clock};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn push_and_length() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        LPUSH l a b c => :3
        RPUSH l d e => :5
        LRANGE l 0 -1 => [c, b, a, d, e]
        LLEN l => :5
        LLEN nokey => :0
        LPUSHX nokey a => :0
        RPUSHX nokey a b => :0
        EXISTS nokey => :0
        LPUSHX l x y => :7
        RPUSHX l z => :8
        LRANGE l 0 -1 => [y, x, c, b, a, d, e, z]
        RPUSH e "" "" => :2
        LRANGE e 0 -1 => ["", ""]
        RPUSH bin "a\x00b" "\xff" => :2
        LINDEX bin 0 => "a\x00b"
        LINDEX bin 1 => "\xff"
        TYPE l => +list
        OBJECT ENCODING l => quicklist
        OBJECT ENCODING e => quicklist
        LPUSH l => -ERR wrong number of arguments for 'lpush' command
        RPUSH l => -ERR wrong number of arguments for 'rpush' command
        LPUSHX l => -ERR wrong number of arguments for 'lpushx' command
        RPUSHX l => -ERR wrong number of arguments for 'rpushx' command
        LLEN => -ERR wrong number of arguments for 'llen' command
        LLEN a b => -ERR wrong number of arguments for 'llen' command
        "#,
    );
}

#[test]
fn pop_with_and_without_count() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        LPOP nokey => nil
        RPOP nokey => nil
        LPOP nokey 0 => nil
        LPOP nokey 2 => nil
        RPOP nokey 2 => nil
        RPUSH l 1 2 3 4 5 6 => :6
        LPOP l => 1
        RPOP l => 6
        LPOP l 0 => []
        RPOP l 0 => []
        LPOP l 2 => [2, 3]
        RPOP l 1 => [5]
        LPOP l -1 => -ERR value is out of range, must be positive
        RPOP l -9223372036854775808 => -ERR value is out of range, must be positive
        LPOP l x => -ERR value is out of range, must be positive
        LPOP l 1.5 => -ERR value is out of range, must be positive
        LPOP l 1 2 => -ERR wrong number of arguments for 'lpop' command
        RPOP l 1 2 => -ERR wrong number of arguments for 'rpop' command
        LPOP => -ERR wrong number of arguments for 'lpop' command
        LRANGE l 0 -1 => [4]
        RPOP l 9223372036854775807 => [4]
        EXISTS l => :0
        RPUSH l a b c => :3
        RPOP l 10 => [c, b, a]
        EXISTS l => :0
        RPUSH l a => :1
        LPOP l => a
        EXISTS l => :0
        LPOP nokey -1 => -ERR value is out of range, must be positive
        "#,
    );
}

#[test]
fn lrange_and_lindex_index_arithmetic() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l a b c d e => :5
        LRANGE l 0 0 => [a]
        LRANGE l 1 3 => [b, c, d]
        LRANGE l -2 -1 => [d, e]
        LRANGE l -100 100 => [a, b, c, d, e]
        LRANGE l 3 1 => []
        LRANGE l 5 10 => []
        LRANGE l -1 -2 => []
        LRANGE l 0 -6 => []
        LRANGE l -9223372036854775808 9223372036854775807 => [a, b, c, d, e]
        LRANGE l 9223372036854775807 -9223372036854775808 => []
        LRANGE nokey 0 -1 => []
        LRANGE l a 1 => -ERR value is not an integer or out of range
        LRANGE l 0 b => -ERR value is not an integer or out of range
        LRANGE nokey 0 b => -ERR value is not an integer or out of range
        LRANGE l 0 => -ERR wrong number of arguments for 'lrange' command
        LINDEX l 0 => a
        LINDEX l 4 => e
        LINDEX l 5 => nil
        LINDEX l -1 => e
        LINDEX l -5 => a
        LINDEX l -6 => nil
        LINDEX l -9223372036854775808 => nil
        LINDEX l 9223372036854775807 => nil
        LINDEX nokey 0 => nil
        LINDEX nokey abc => nil
        LINDEX l abc => -ERR value is not an integer or out of range
        LINDEX l 1 2 => -ERR wrong number of arguments for 'lindex' command
        "#,
    );
}

#[test]
fn lset_linsert_lrem_ltrim() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        LSET nokey 0 x => -ERR no such key
        LSET nokey abc x => -ERR no such key
        RPUSH l a b c => :3
        LSET l 0 x => +OK
        LSET l -1 z => +OK
        LRANGE l 0 -1 => [x, b, z]
        LSET l 3 y => -ERR index out of range
        LSET l -4 y => -ERR index out of range
        LSET l abc y => -ERR value is not an integer or out of range
        LSET l 0 => -ERR wrong number of arguments for 'lset' command
        LINSERT l BEFORE b a => :4
        LINSERT l after b c => :5
        LINSERT l AFTER z end => :6
        LINSERT l before x start => :7
        LRANGE l 0 -1 => [start, x, a, b, c, z, end]
        LINSERT l BEFORE nope v => :-1
        LINSERT nokey BEFORE a v => :0
        LINSERT l middle a v => -ERR syntax error
        LINSERT nokey middle a v => -ERR syntax error
        LINSERT l before a => -ERR wrong number of arguments for 'linsert' command
        EXISTS nokey => :0
        DEL l => :1
        RPUSH l x a x b x c x => :7
        LREM l 2 x => :2
        LRANGE l 0 -1 => [a, b, x, c, x]
        LREM l -1 x => :1
        LRANGE l 0 -1 => [a, b, x, c]
        RPUSH l x x => :6
        LREM l -2 x => :2
        LRANGE l 0 -1 => [a, b, x, c]
        LREM l 0 x => :1
        LREM l 0 nope => :0
        LREM nokey 0 a => :0
        LREM l abc a => -ERR value is not an integer or out of range
        LREM nokey abc a => -ERR value is not an integer or out of range
        LREM l 1 => -ERR wrong number of arguments for 'lrem' command
        LREM l -9223372036854775808 a => :1
        LREM l 0 b => :1
        LREM l 5 c => :1
        EXISTS l => :0
        RPUSH l a b c d e => :5
        LTRIM l 1 -2 => +OK
        LRANGE l 0 -1 => [b, c, d]
        LTRIM l 0 100 => +OK
        LRANGE l 0 -1 => [b, c, d]
        LTRIM l -1 -1 => +OK
        LRANGE l 0 -1 => [d]
        LTRIM l 1 0 => +OK
        EXISTS l => :0
        LTRIM nokey 0 1 => +OK
        LTRIM nokey a 1 => -ERR value is not an integer or out of range
        LTRIM nokey 0 b => -ERR value is not an integer or out of range
        LTRIM nokey 0 => -ERR wrong number of arguments for 'ltrim' command
        RPUSH l a b => :2
        LTRIM l 5 10 => +OK
        EXISTS l => :0
        "#,
    );
}

#[test]
fn lpos_options_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l a b c 1 2 3 c c => :8
        LPOS l c => :2
        LPOS l nope => nil
        LPOS nokey c => nil
        LPOS nokey c COUNT 0 => []
        LPOS l c RANK 1 => :2
        LPOS l c RANK 2 => :6
        LPOS l c RANK 4 => nil
        LPOS l c RANK -1 => :7
        LPOS l c RANK -3 => :2
        LPOS l c RANK -4 => nil
        LPOS l c COUNT 0 => [:2, :6, :7]
        LPOS l c COUNT 2 => [:2, :6]
        LPOS l c COUNT 1 => [:2]
        LPOS l nope COUNT 1 => []
        LPOS l c RANK 2 COUNT 0 => [:6, :7]
        LPOS l c RANK -1 COUNT 2 => [:7, :6]
        LPOS l c COUNT 0 MAXLEN 1 => []
        LPOS l c COUNT 0 MAXLEN 3 => [:2]
        LPOS l c COUNT 0 MAXLEN 0 => [:2, :6, :7]
        LPOS l c RANK -1 MAXLEN 1 => :7
        LPOS l c RANK -2 MAXLEN 1 => nil
        LPOS l c rank 1 count 1 maxlen 100 => [:2]
        LPOS l c RANK 9223372036854775807 => nil
        LPOS l c RANK 0 => -ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list
        LPOS l c RANK abc => -ERR value is not an integer or out of range
        LPOS l c COUNT -1 => -ERR COUNT can't be negative
        LPOS l c COUNT abc => -ERR COUNT can't be negative
        LPOS l c MAXLEN -1 => -ERR MAXLEN can't be negative
        LPOS l c MAXLEN abc => -ERR MAXLEN can't be negative
        LPOS l c RANK => -ERR syntax error
        LPOS l c COUNT => -ERR syntax error
        LPOS l c FOO 1 => -ERR syntax error
        LPOS nokey c RANK 0 => -ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list
        LPOS l => -ERR wrong number of arguments for 'lpos' command
        "#,
    );
}

#[test]
fn lpos_rank_of_i64_min_is_refused() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l a => :1
        LPOS l a RANK -9223372036854775808 => -ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807
        LPOS l a RANK -9223372036854775807 => nil
        "#,
    );
}

#[test]
fn lmove_and_rpoplpush() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH src a b c d => :4
        LMOVE src dst LEFT RIGHT => a
        LMOVE src dst right left => d
        LMOVE src dst LEFT LEFT => b
        LMOVE src dst RIGHT RIGHT => c
        EXISTS src => :0
        LRANGE dst 0 -1 => [b, d, a, c]
        LMOVE nokey dst LEFT RIGHT => nil
        LMOVE dst dst LEFT RIGHT => b
        LRANGE dst 0 -1 => [d, a, c, b]
        LMOVE dst dst RIGHT LEFT => b
        LMOVE dst dst LEFT LEFT => b
        LRANGE dst 0 -1 => [b, d, a, c]
        LMOVE dst other UP LEFT => -ERR syntax error
        LMOVE dst other LEFT DOWN => -ERR syntax error
        LMOVE nokey other LEFT DOWN => -ERR syntax error
        LMOVE dst other LEFT => -ERR wrong number of arguments for 'lmove' command
        RPOPLPUSH dst other => c
        RPOPLPUSH dst other => a
        LRANGE other 0 -1 => [a, c]
        RPOPLPUSH nokey other => nil
        RPOPLPUSH other other => c
        LRANGE other 0 -1 => [c, a]
        RPUSH one x => :1
        RPOPLPUSH one one => x
        LRANGE one 0 -1 => [x]
        RPOPLPUSH one fresh => x
        EXISTS one => :0
        LRANGE fresh 0 -1 => [x]
        RPOPLPUSH one => -ERR wrong number of arguments for 'rpoplpush' command
        "#,
    );
}

#[test]
fn lmpop_options_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        LMPOP 2 a b LEFT => nil
        RPUSH b 1 2 3 4 5 => :5
        LMPOP 2 a b LEFT => [b, [1]]
        LMPOP 2 a b RIGHT => [b, [5]]
        LMPOP 2 a b left COUNT 2 => [b, [2, 3]]
        LMPOP 2 a b right count 10 => [b, [4]]
        EXISTS b => :0
        LMPOP 2 a b LEFT COUNT 1 => nil
        RPUSH a x => :1
        RPUSH b y => :1
        LMPOP 2 a b RIGHT COUNT 5 => [a, [x]]
        LMPOP 3 a a b LEFT => [b, [y]]
        LMPOP 1 b LEFT COUNT 9223372036854775807 => nil
        LMPOP abc a LEFT => -ERR numkeys should be greater than 0
        LMPOP 0 a LEFT => -ERR numkeys should be greater than 0
        LMPOP -1 a LEFT => -ERR numkeys should be greater than 0
        LMPOP 9223372036854775807 a LEFT => -ERR syntax error
        LMPOP 2 a LEFT => -ERR syntax error
        LMPOP 1 a MIDDLE => -ERR syntax error
        LMPOP 1 a LEFT COUNT 0 => -ERR count should be greater than 0
        LMPOP 1 a LEFT COUNT -1 => -ERR count should be greater than 0
        LMPOP 1 a LEFT COUNT abc => -ERR count should be greater than 0
        LMPOP 1 a LEFT COUNT 1 COUNT 1 => -ERR syntax error
        LMPOP 1 a LEFT COUNT => -ERR syntax error
        LMPOP 1 a LEFT FOO => -ERR syntax error
        LMPOP 1 a => -ERR wrong number of arguments for 'lmpop' command
        "#,
    );
}

#[test]
fn list_commands_on_a_string_are_wrongtype() {
    let t = Target::start();
    let mut c = t.conn();
    let _ = run(&mut c, "SET s v");
    let _ = run(&mut c, "RPUSH l a b");
    for cmd in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s",
        "LPOP s 0",
        "RPOP s 2",
        "LLEN s",
        "LRANGE s 0 -1",
        "LINDEX s 0",
        "LINDEX s abc",
        "LSET s 0 x",
        "LSET s abc x",
        "LINSERT s BEFORE a b",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LPOS s a",
        "LPOS s a COUNT 0",
        "LMOVE s l LEFT LEFT",
        "LMOVE l s LEFT LEFT",
        "RPOPLPUSH s l",
        "RPOPLPUSH l s",
        "LMPOP 1 s LEFT",
        "LMPOP 2 nokey s LEFT",
    ] {
        assert_eq!(run(&mut c, cmd), WRONGTYPE, "{cmd}");
    }
    // A WRONGTYPE destination leaves the source untouched; an earlier non-empty list wins in LMPOP.
    script(
        &mut c,
        r#"
        LRANGE l 0 -1 => [a, b]
        GET s => v
        LMOVE nokey s LEFT LEFT => nil
        LMPOP 2 l s LEFT => [l, [a]]
        HSET h f v => :1
        LPUSH h a => -WRONGTYPE Operation against a key holding the wrong kind of value
        LLEN h => -WRONGTYPE Operation against a key holding the wrong kind of value
        "#,
    );
}

#[test]
fn string_commands_on_a_list_are_wrongtype() {
    let t = Target::start();
    let mut c = t.conn();
    let _ = run(&mut c, "RPUSH l a b");
    for cmd in [
        "GET l",
        "GETSET l x",
        "GETDEL l",
        "GETEX l",
        "GETRANGE l 0 1",
        "STRLEN l",
        "INCR l",
        "INCRBY l 2",
        "DECR l",
        "INCRBYFLOAT l 1.5",
        "APPEND l x",
        "SETRANGE l 0 x",
        "SETBIT l 0 1",
        "GETBIT l 0",
        "SADD l x",
        "HSET l f v",
    ] {
        assert_eq!(run(&mut c, cmd), WRONGTYPE, "{cmd}");
    }
    script(
        &mut c,
        r#"
        MGET l => [nil]
        MSETNX l x => :0
        LRANGE l 0 -1 => [a, b]
        SET l x => +OK
        TYPE l => +string
        "#,
    );
}

#[test]
fn generic_key_commands_carry_lists() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l a b c => :3
        COPY l l2 => :1
        RPUSH l2 d => :4
        LRANGE l 0 -1 => [a, b, c]
        RENAME l2 l3 => +OK
        LRANGE l3 0 -1 => [a, b, c, d]
        DEL l3 => :1
        EXPIRE l 100 => :1
        RPUSH l d => :4
        TTL l => :100
        LPOP l 4 => [a, b, c, d]
        EXISTS l => :0
        TTL l => :-2
        "#,
    );
}

#[test]
fn expired_lists_are_absent_to_reads_and_writes() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        RPUSH l a b => :2
        PEXPIRE l 100 => :1
        DEBUG CLOCK ADVANCE 100 => *
        LLEN l => :0
        LRANGE l 0 -1 => []
        LPOS l a => nil
        LPUSHX l z => :0
        RPUSH l c => :1
        TTL l => :-1
        LRANGE l 0 -1 => [c]
        SET s v PX 5 => +OK
        DEBUG CLOCK ADVANCE 10 => *
        LMOVE l s LEFT LEFT => c
        LRANGE s 0 -1 => [c]
        "#,
    );
}

#[test]
fn writes_move_version_and_mod_revision_and_no_ops_do_not() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let _ = run(&mut c, "RPUSH l a b c d e f g h i j");
    let _ = run(&mut c, "RPUSH other z y");
    assert_eq!(meta(&mut c, "l").0, 1);
    writes_bump_and_no_ops_do_not(
        &mut c,
        run,
        "l",
        &[
            "LPUSH l x y",
            "RPUSH l x",
            "LPUSHX l w",
            "RPUSHX l w",
            "LPOP l",
            "RPOP l 2",
            "LSET l 0 same",
            "LSET l 0 same",
            "LINSERT l BEFORE a q",
            "LREM l 1 q",
            "LTRIM l 1 -1",
            "LMOVE l l LEFT RIGHT",
            "LMOVE l other LEFT RIGHT",
            "LMOVE other l LEFT RIGHT",
            "RPOPLPUSH l other",
            "LMPOP 1 l LEFT COUNT 2",
        ],
        &[
            "LPOP l 0",
            "RPOP l 0",
            "LINSERT l BEFORE nope q",
            "LREM l 0 nope",
            "LTRIM l 0 -1",
            "LTRIM l -100 100",
            "LSET l 100 x",
            "LRANGE l 0 -1",
            "LINDEX l 0",
            "LLEN l",
            "LPOS l a COUNT 0",
            "LMOVE nokey l LEFT LEFT",
            "LMPOP 1 nokey LEFT",
            "LMPOP 2 nokey other LEFT",
            "LPUSHX nokey a",
        ],
    );
    // Both keys of an LMOVE share the command's one revision.
    let _ = run(&mut c, "LMOVE l other LEFT LEFT");
    let (l, o) = (meta(&mut c, "l"), meta(&mut c, "other"));
    assert_eq!(l.1, o.1);
    // A list recreated after being emptied starts again at version 1.
    let _ = run(&mut c, "DEL fresh");
    let _ = run(&mut c, "RPUSH fresh a");
    let _ = run(&mut c, "LPOP fresh");
    let _ = run(&mut c, "RPUSH fresh b");
    assert_eq!(meta(&mut c, "fresh").0, 1);
}

#[test]
fn resp3_reply_types() {
    let t = Target::start();
    assert_resp3_replies(
        t.port(),
        Duration::from_millis(150),
        &[
            ("RPUSH l a b", b":2\r\n"),
            ("LPOP nokey", b"_\r\n"),
            ("LPOP nokey 1", b"_\r\n"),
            ("LPOP l 0", b"*0\r\n"),
            ("LRANGE l 0 -1", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("LRANGE nokey 0 -1", b"*0\r\n"),
            ("LINDEX l 5", b"_\r\n"),
            ("LPOS l b", b":1\r\n"),
            ("LPOS l zz", b"_\r\n"),
            ("LPOS l b COUNT 0", b"*1\r\n:1\r\n"),
            ("LMOVE nokey l LEFT LEFT", b"_\r\n"),
            ("LMPOP 1 nokey LEFT", b"_\r\n"),
            ("LMPOP 1 l LEFT", b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"),
            ("RPOP l 1", b"*1\r\n$1\r\nb\r\n"),
        ],
    );
}

#[test]
fn lrange_of_a_large_list_returns_every_element_in_order() {
    let t = Target::start();
    let mut c = t.conn();
    let n = 200_000usize;
    let mut p = redis::pipe();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg("big");
        for i in chunk {
            cmd.arg(i.to_string());
        }
        p.add_command(cmd).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("big")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(all.len(), n);
    assert!(all.iter().enumerate().all(|(i, x)| *x == i.to_string()));
    assert_eq!(run(&mut c, "LINDEX big 123456"), "123456");
    assert_eq!(run(&mut c, "LPOS big 199999 RANK -1"), ":199999");
    assert_eq!(run(&mut c, "LTRIM big 1000 -1001"), "+OK");
    assert_eq!(run(&mut c, "LLEN big"), ":198000");
    assert_eq!(run(&mut c, "LINDEX big 0"), "1000");
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
    script(&mut c, "RPUSH l a b c => :3\nSET s v => +OK");
    // (command, hits added, misses added), as Redis 7.0 counts them.
    let cases: &[(&str, i64, i64)] = &[
        ("LLEN l", 1, 0),
        ("LLEN zz", 0, 1),
        ("LLEN s", 1, 0),
        // Other families' reads of a key of the wrong type count the hit too.
        ("HGET s f", 1, 0),
        ("SMEMBERS s", 1, 0),
        ("XLEN s", 1, 0),
        ("LRANGE l 0 -1", 1, 0),
        ("LRANGE zz 0 -1", 0, 1),
        ("LRANGE l x 1", 0, 0),
        ("LINDEX l 0", 1, 0),
        ("LINDEX l x", 1, 0),
        ("LINDEX zz 0", 0, 1),
        ("LPOS l a", 1, 0),
        ("LPOS zz a", 0, 1),
        ("LPOS l a RANK 0", 0, 0),
        ("RPUSH l d", 0, 0),
        ("LPOP l", 0, 0),
        ("LPOP zz", 0, 0),
        ("LSET l 0 x", 0, 0),
        ("LINSERT l BEFORE x y", 0, 0),
        ("LREM l 0 y", 0, 0),
        ("LTRIM l 0 -1", 0, 0),
        ("LMOVE l l LEFT LEFT", 0, 0),
        ("RPOPLPUSH zz l", 0, 0),
        ("LMPOP 2 zz l LEFT", 0, 0),
    ];
    for (cmd, hits, misses) in cases {
        let before = hits_misses(&mut c);
        let _ = run(&mut c, cmd);
        let after = hits_misses(&mut c);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (*hits, *misses),
            "{cmd}"
        );
    }
}
