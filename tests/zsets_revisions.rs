//! Revision metadata of sorted sets (`DEBUG OBJECT` and `INFO stats`): every real change takes exactly one
//! revision and bumps the key's version, a command that changes nothing takes none, an emptied set is
//! deleted, and an expired set is recreated fresh. Also checks that rank lookups on a 100k-member set
//! stay fast. Concord-only.

mod strings_script;
mod support;

use strings_script::{Target, run};
use support::revisions::{changes, current_revision, meta, no_change};
use support::{advance_clock, freeze_clock};

#[test]
fn every_change_takes_one_revision_and_no_ops_take_none() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let before = current_revision(&mut c);
    assert_eq!(run(&mut c, "ZADD z 1 a 2 b 3 c"), ":3");
    let (v, cr, mr) = meta(&mut c, "z");
    assert_eq!((v, cr, mr), (1, before + 1, before + 1));

    for line in [
        "ZADD z 5 a",
        "ZADD z 4 d 6 e",
        "ZINCRBY z 1 a",
        "ZADD z GT 100 a",
        "ZREM z d nosuch",
        "ZREMRANGEBYSCORE z 6 6",
        "ZREMRANGEBYRANK z 0 0",
        "ZPOPMIN z",
        "ZPOPMAX z 1",
        "ZMPOP 1 z MIN",
    ] {
        let _ = run(&mut c, "ZADD z 10 p 11 q 12 r");
        changes(&mut c, run, line, "z");
    }
    let _ = run(&mut c, "ZADD lex 0 a 0 b 0 c");
    changes(&mut c, run, "ZREMRANGEBYLEX lex - (c", "lex");

    let _ = run(&mut c, "ZADD z 10 p 11 q 12 r");
    for line in [
        "ZADD z 10 p",
        "ZADD z NX 1 p",
        "ZADD z XX 1 nosuch",
        "ZADD z GT 1 p",
        "ZADD z LT 99 p",
        "ZINCRBY z 0 p",
        "ZREM z nosuch",
        "ZREM nokey a",
        "ZREMRANGEBYSCORE z 1000 2000",
        "ZREMRANGEBYRANK z 50 60",
        "ZREMRANGEBYLEX lex [zzz +",
        "ZPOPMIN nokey",
        "ZPOPMIN z 0",
        "ZMPOP 1 nokey MIN",
        "ZINTERSTORE nokey2 1 nokey",
        "ZRANGESTORE nokey2 nokey 0 -1",
        "ZSCORE z p",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZRANDMEMBER z 2",
        "ZUNION 1 z",
        "ZSCAN z 0",
        "ZADD z nan p",
        "ZINCRBY z abc p",
        "ZADD z NX XX 1 a",
    ] {
        no_change(&mut c, run, line);
    }
}

#[test]
fn emptied_sets_are_deleted_and_stores_create_or_change() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let _ = run(&mut c, "ZADD z 1 a");
    let before = current_revision(&mut c);
    assert_eq!(run(&mut c, "ZPOPMIN z"), "[a, 1]");
    assert_eq!(current_revision(&mut c), before + 1);
    assert_eq!(run(&mut c, "EXISTS z"), ":0");

    let _ = run(&mut c, "ZADD src 1 a 2 b");
    let _ = run(&mut c, "ZADD dst 9 x");
    changes(&mut c, run, "ZUNIONSTORE dst 1 src", "dst");
    changes(&mut c, run, "ZRANGESTORE dst src 0 0", "dst");
    assert_eq!(run(&mut c, "ZRANGE dst 0 -1"), "[a]");

    // An empty result deletes the destination: one revision.
    let before = current_revision(&mut c);
    assert_eq!(run(&mut c, "ZINTERSTORE dst 2 src nokey"), ":0");
    assert_eq!(current_revision(&mut c), before + 1);
    assert_eq!(run(&mut c, "EXISTS dst"), ":0");
}

#[test]
fn an_expired_set_is_absent_and_recreated_fresh() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    freeze_clock(&mut c);
    let _ = run(&mut c, "ZADD z 1 a 2 b");
    let _ = run(&mut c, "PEXPIRE z 100");
    let (_, cr0, _) = meta(&mut c, "z");
    advance_clock(&mut c, 100);
    assert_eq!(run(&mut c, "ZCARD z"), ":0");
    assert_eq!(run(&mut c, "ZRANGE z 0 -1"), "[]");
    assert_eq!(run(&mut c, "ZSCORE z a"), "nil");
    assert_eq!(run(&mut c, "ZADD z 5 c"), ":1");
    let (v, cr, _) = meta(&mut c, "z");
    assert_eq!(v, 1);
    assert!(cr > cr0, "recreated with a new create_revision");
    assert_eq!(run(&mut c, "ZRANGE z 0 -1"), "[c]");
    assert_eq!(run(&mut c, "TTL z"), ":-1");
}

#[test]
fn ranks_on_a_100k_member_set_stay_fast() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    for chunk in 0..10 {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("big");
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            cmd.arg(i).arg(format!("member:{i}"));
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    assert_eq!(run(&mut c, "ZCARD big"), ":100000");
    let started = std::time::Instant::now();
    let mut pipe = redis::pipe();
    for i in (0..100_000).step_by(50) {
        pipe.cmd("ZRANK").arg("big").arg(format!("member:{i}"));
        pipe.cmd("ZRANGE").arg("big").arg(i).arg(i);
    }
    let replies: Vec<redis::Value> = pipe.query(&mut c).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(replies.len(), 4000);
    assert_eq!(replies[2 * 1000], redis::Value::Int(50_000));
    // 4000 rank operations; a scan from the start per call would be ~2e8 steps in a debug build.
    assert!(elapsed.as_secs() < 10, "4000 rank ops took {elapsed:?}");
    assert_eq!(run(&mut c, "ZRANGE big 99999 99999"), "[member:99999]");
    assert_eq!(run(&mut c, "ZREVRANK big member:0"), ":99999");
}
