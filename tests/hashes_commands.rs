//! Every hash command over TCP with the `redis` crate: replies, options and byte-exact errors, written as
//! scripts of `command => reply` lines (see tests/strings_script/mod.rs). The scripts were checked
//! against redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT`; Concord-only checks (revisions, the
//! server's own encodings of big values) say so.

mod strings_script;
mod support;

use std::time::Duration;

use strings_script::{Target, run, script};
use support::revisions::{version_and_mod_revision as meta, writes_bump_and_no_ops_do_not};
use support::{assert_resp3_replies, freeze_clock};

#[test]
fn hset_hget_and_friends() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        HSET h a 1 b 2 => :2
        HSET h a 10 c 3 => :1
        HGET h a => 10
        HGET h zz => nil
        HGET nokey a => nil
        HMGET h a zz b => [10, nil, 2]
        HMGET nokey a b => [nil, nil]
        HGETALL h => [a, 10, b, 2, c, 3]
        HGETALL nokey => []
        HKEYS h => [a, b, c]
        HVALS h => [10, 2, 3]
        HKEYS nokey => []
        HVALS nokey => []
        HLEN h => :3
        HLEN nokey => :0
        HEXISTS h a => :1
        HEXISTS h zz => :0
        HEXISTS nokey a => :0
        HSTRLEN h a => :2
        HSTRLEN h zz => :0
        HSTRLEN nokey a => :0
        HMSET h d 4 e 5 => +OK
        HLEN h => :5
        HSETNX h a new => :0
        HSETNX h f 6 => :1
        HGET h f => 6
        HSETNX fresh x y => :1
        HGET fresh x => y
        HSET h "" "" => :1
        HGET h "" => ""
        HSTRLEN h "" => :0
        TYPE h => +hash
        "#,
    );
}

#[test]
fn hdel_deletes_fields_and_the_emptied_hash() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        HSET h a 1 b 2 c 3 => :3
        HDEL h a zz => :1
        HDEL h a => :0
        HDEL nokey a => :0
        HDEL h b c b => :2
        EXISTS h => :0
        HLEN h => :0
        HSET h a 1 => :1
        HDEL h a a a => :1
        EXISTS h => :0
        "#,
    );
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        HINCRBY h n 5 => :5
        HINCRBY h n -7 => :-2
        HINCRBY h n 0 => :-2
        HSET h s abc big 9223372036854775807 sp " 1" => :3
        HINCRBY h s 1 => -ERR hash value is not an integer
        HINCRBY h sp 1 => -ERR hash value is not an integer
        HINCRBY h big 1 => -ERR increment or decrement would overflow
        HINCRBY h n x => -ERR value is not an integer or out of range
        HINCRBY h n 1.5 => -ERR value is not an integer or out of range
        HINCRBY h n 99999999999999999999 => -ERR value is not an integer or out of range
        HINCRBYFLOAT h f 10.5 => 10.5
        HINCRBYFLOAT h f 0.1 => 10.6
        HINCRBYFLOAT h f -10.6 => 0
        HINCRBYFLOAT h n 1.5 => -0.5
        HINCRBYFLOAT h f 5.0e3 => 5000
        HINCRBYFLOAT h s 1 => -ERR hash value is not a float
        HINCRBYFLOAT h f abc => -ERR value is not a valid float
        HINCRBYFLOAT h f "" => -ERR value is not a valid float
        HINCRBYFLOAT h f nan => -ERR value is not a valid float
        HINCRBYFLOAT h f inf => -ERR value is NaN or Infinity
        HSET h huge 1.7e308 => :1
        HINCRBYFLOAT h huge 1.7e308 => 340000000000000000006273556050395193590540427779388267466087171526404912102411641988123739177800600673957047683771263425322806997836001586961457274820033393094901317200013624802610872515245814124760542925564488876540887382670905522638137419003805178364056052028734561012664811529831035124023358619554802565120
        HINCRBYFLOAT h g 255.3 => 255.3
        HINCRBYFLOAT h g 703.8 => 959.09999999999999998
        HINCRBYFLOAT nokey f 1 => 1
        "#,
    );
}

#[test]
fn wrong_type_and_arity_errors() {
    let t = Target::start();
    let mut c = t.conn();
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    let _ = run(&mut c, "SET s v");
    for cmd in [
        "HSET s a 1",
        "HSETNX s a 1",
        "HGET s a",
        "HMGET s a",
        "HMSET s a 1",
        "HGETALL s",
        "HDEL s a",
        "HEXISTS s a",
        "HLEN s",
        "HSTRLEN s a",
        "HKEYS s",
        "HVALS s",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HSCAN s 0",
    ] {
        assert_eq!(run(&mut c, cmd), wt, "{cmd}");
    }
    script(
        &mut c,
        r#"
        HSET h a => -ERR wrong number of arguments for 'hset' command
        HSET h a 1 b => -ERR wrong number of arguments for 'hset' command
        HMSET h a 1 b => -ERR wrong number of arguments for 'hmset' command
        HSET h => -ERR wrong number of arguments for 'hset' command
        HGET h => -ERR wrong number of arguments for 'hget' command
        HMGET h => -ERR wrong number of arguments for 'hmget' command
        HDEL h => -ERR wrong number of arguments for 'hdel' command
        HSETNX h a => -ERR wrong number of arguments for 'hsetnx' command
        HINCRBY h a => -ERR wrong number of arguments for 'hincrby' command
        HRANDFIELD => -ERR wrong number of arguments for 'hrandfield' command
        HSCAN h => -ERR wrong number of arguments for 'hscan' command
        EXISTS h => :0
        "#,
    );
}

#[test]
fn hrandfield_counts_and_withvalues() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        HRANDFIELD nokey => nil
        HRANDFIELD nokey 5 => []
        HRANDFIELD nokey -5 WITHVALUES => []
        HSET h a 1 => :1
        HRANDFIELD h => a
        HRANDFIELD h 0 => []
        HRANDFIELD h 5 => [a]
        HRANDFIELD h 5 WITHVALUES => [a, 1]
        HRANDFIELD h -3 => [a, a, a]
        HRANDFIELD h -2 WITHVALUES => [a, 1, a, 1]
        HRANDFIELD h 1 withvalues => [a, 1]
        HRANDFIELD h 1 WITHVALUE => -ERR syntax error
        HRANDFIELD h 1 WITHVALUES x => -ERR syntax error
        HRANDFIELD h x => -ERR value is not an integer or out of range
        HRANDFIELD h -9223372036854775808 => -ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807
        HRANDFIELD h 9223372036854775807 WITHVALUES => -ERR value is out of range
        HRANDFIELD h -9223372036854775807 WITHVALUES => -ERR value is out of range
        "#,
    );
    // Distinct fields for a positive count below the size; repetition allowed for a negative count.
    for i in 0..20 {
        let _ = run(&mut c, &format!("HSET big f{i} v{i}"));
    }
    let fields: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(7)
        .query(&mut c)
        .unwrap();
    let mut uniq = fields.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 7, "{fields:?}");
    let many: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(-100)
        .query(&mut c)
        .unwrap();
    assert_eq!(many.len(), 100);
    assert!(many.iter().all(|f| f.starts_with('f')));
    let pairs: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(-30)
        .arg("WITHVALUES")
        .query(&mut c)
        .unwrap();
    assert_eq!(pairs.len(), 60);
    for p in pairs.chunks(2) {
        assert_eq!(p[0][1..], p[1][1..], "{p:?}");
    }
    let all: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(100)
        .query(&mut c)
        .unwrap();
    assert_eq!(all.len(), 20);
}

#[test]
fn hscan_options_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        HSCAN nokey 0 => [0, []]
        HSET h a 1 b 2 ab 3 => :3
        HSCAN h 0 => [0, [a, 1, b, 2, ab, 3]]
        HSCAN h 0 MATCH a* => [0, [a, 1, ab, 3]]
        HSCAN h 0 match a* count 1 => [0, [a, 1, ab, 3]]
        HSCAN h 0 COUNT 0 => -ERR syntax error
        HSCAN h 0 COUNT -1 => -ERR syntax error
        HSCAN h 0 COUNT x => -ERR value is not an integer or out of range
        HSCAN h 0 MATCH => -ERR syntax error
        HSCAN h 0 TYPE hash => -ERR syntax error
        HSCAN h x => -ERR invalid cursor
        HSCAN h 1x => -ERR invalid cursor
        HSCAN nokey x => -ERR invalid cursor
        HSCAN nokey 0 COUNT 0 => [0, []]
        "#,
    );
}

#[test]
fn hscan_walks_a_big_hash_completely() {
    let t = Target::start();
    let mut c = t.conn();
    for i in 0..1000 {
        let _ = run(&mut c, &format!("HSET h f{i} v{i}"));
    }
    assert_eq!(run(&mut c, "OBJECT ENCODING h"), "hashtable");
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashMap::new();
    let mut rounds = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg("h")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .unwrap();
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        // Deleting while scanning must not make the scan miss fields that stay.
        let _ = run(&mut c, &format!("HDEL h f{rounds}"));
        rounds += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(rounds > 5 && rounds < 100, "{rounds} rounds");
    for i in rounds..1000 {
        assert_eq!(
            seen.get(&format!("f{i}")).map(String::as_str),
            Some(format!("v{i}").as_str())
        );
    }
}

#[test]
fn encodings_follow_the_listpack_limits() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        HSET h a 1 => :1
        OBJECT ENCODING h => listpack
        HSET h long 0123456789012345678901234567890123456789012345678901234567890123456789 => :1
        OBJECT ENCODING h => hashtable
        HDEL h long => :1
        OBJECT ENCODING h => hashtable
        CONFIG SET hash-max-listpack-entries 2 => +OK
        HSET h2 a 1 b 2 => :2
        OBJECT ENCODING h2 => listpack
        HSET h2 c 3 => :1
        OBJECT ENCODING h2 => hashtable
        HINCRBY h3 0123456789012345678901234567890123456789012345678901234567890123456789 1 => :1
        OBJECT ENCODING h3 => hashtable
        "#,
    );
}

#[test]
fn writes_move_version_and_mod_revision_and_no_ops_do_not() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let _ = run(&mut c, "HSET h a 1");
    assert_eq!(meta(&mut c, "h").0, 1);
    writes_bump_and_no_ops_do_not(
        &mut c,
        run,
        "h",
        &[
            "HSET h b 2",
            "HMSET h a 3",
            "HSETNX h c 1",
            "HDEL h c",
            "HINCRBY h a 1",
            "HINCRBYFLOAT h a 1.5",
        ],
        &[
            "HSETNX h a 9",
            "HDEL h zz",
            "HGET h a",
            "HGETALL h",
            "HRANDFIELD h -5",
            "HSCAN h 0",
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
            ("HSET h a 1", b":1\r\n"),
            ("HGETALL h", b"%1\r\n$1\r\na\r\n$1\r\n1\r\n"),
            ("HGETALL nokey", b"%0\r\n"),
            (
                "HRANDFIELD h 1 WITHVALUES",
                b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
            ),
            (
                "HRANDFIELD h -2 WITHVALUES",
                b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
            ),
            ("HGET h nope", b"_\r\n"),
            ("HINCRBYFLOAT h a 1", b"$1\r\n2\r\n"),
        ],
    );
}

#[test]
fn expired_hash_is_absent_and_recreated_fresh() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        HSET h a 1 b 2 => :2
        PEXPIRE h 100 => :1
        DEBUG CLOCK ADVANCE 100 => *
        HGET h a => nil
        HLEN h => :0
        HSET h c 3 => :1
        HGETALL h => [c, 3]
        TTL h => :-1
        "#,
    );
}
