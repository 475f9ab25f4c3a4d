//! Expiry on the server clock: every TTL-setting command is checked by freezing and advancing the clock
//! (`DEBUG CLOCK`), never by sleeping; `OBJECT IDLETIME` likewise. Concord-only (Redis has no DEBUG CLOCK).

mod strings_script;
mod support;

use strings_script::{Target, run, script};

fn frozen() -> Option<(Target, redis::Connection, i64)> {
    let t = Target::concord_only()?;
    let mut c = t.conn();
    let now: i64 = redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("FREEZE")
        .query(&mut c)
        .unwrap();
    Some((t, c, now))
}

fn advance(c: &mut redis::Connection, ms: i64) {
    let _: i64 = redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("ADVANCE")
        .arg(ms)
        .query(c)
        .unwrap();
}

#[test]
fn relative_expiries_count_from_the_server_clock() {
    let Some((_t, mut c, now)) = frozen() else {
        return;
    };
    // The DBSIZE check at the end counts expired keys not yet reaped: keep the active expirer off.
    assert_eq!(run(&mut c, "DEBUG SET-ACTIVE-EXPIRE 0"), "+OK");
    script(
        &mut c,
        r#"
        SET a v EX 10 => +OK
        SET b v PX 1500 => +OK
        SETEX c 10 v => +OK
        PSETEX d 1500 v => +OK
        SET e v => +OK
        EXPIRE e 10 => :1
        SET f v => +OK
        PEXPIRE f 1500 => :1
        SET g v => +OK
        GETEX g PX 1500 => v
        PTTL a => :10000
        PTTL b => :1500
        TTL b => :2
        PTTL d => :1500
        PTTL f => :1500
        PTTL g => :1500
        "#,
    );
    assert_eq!(run(&mut c, "PEXPIRETIME a"), format!(":{}", now + 10_000));
    assert_eq!(
        run(&mut c, "EXPIRETIME a"),
        format!(":{}", (now + 10_000) / 1000)
    );
    advance(&mut c, 1499);
    script(
        &mut c,
        r#"
        PTTL b => :1
        TTL b => :0
        MGET b d f g => [v, v, v, v]
        "#,
    );
    advance(&mut c, 1);
    script(
        &mut c,
        r#"
        MGET b d f g => [nil, nil, nil, nil]
        EXISTS b d f g => :0
        TTL b => :-2
        PTTL b => :-2
        GET a => v
        PTTL a => :8500
        "#,
    );
    advance(&mut c, 8500);
    script(
        &mut c,
        r#"
        MGET a c e => [nil, nil, nil]
        KEYS * => []
        "#,
    );
    // The expired entries are still stored until reaped; active expiry removes them.
    assert_eq!(run(&mut c, "DBSIZE"), ":7");
    assert_eq!(run(&mut c, "DEBUG EXPIRE-NOW"), ":7");
    assert_eq!(run(&mut c, "DBSIZE"), ":0");
}

#[test]
fn absolute_expiries_and_the_past() {
    let Some((_t, mut c, now)) = frozen() else {
        return;
    };
    let at = now + 5000;
    script(&mut c, "MSET a v b v c v d v => +OK");
    assert_eq!(run(&mut c, &format!("PEXPIREAT a {at}")), ":1");
    assert_eq!(run(&mut c, &format!("SET b v PXAT {at}")), "+OK");
    assert_eq!(run(&mut c, &format!("GETEX c PXAT {at}")), "v");
    assert_eq!(run(&mut c, &format!("EXPIREAT d {}", at / 1000 + 1)), ":1");
    assert_eq!(run(&mut c, "PTTL a"), ":5000");
    advance(&mut c, 4999);
    script(&mut c, "EXISTS a b c => :3");
    advance(&mut c, 1);
    script(&mut c, "EXISTS a b c => :0");
    // A time already past deletes at once, whatever the command.
    script(&mut c, "MSET p v q v r v => +OK");
    assert_eq!(run(&mut c, &format!("PEXPIREAT p {now}")), ":1");
    assert_eq!(run(&mut c, &format!("GETEX q PXAT {now}")), "v");
    assert_eq!(run(&mut c, &format!("SET r v PXAT {now}")), "+OK");
    script(&mut c, "EXISTS p q r => :0");
    // PEXPIREAT and GETEX delete outright; SET (as in Redis 7.0) stores the key already expired, so it
    // waits to be reaped like a, b and c (the active expirer may already have done so: how many it
    // deleted depends on its 10 ms tick). Once expiry has run, only the live d is left.
    run(&mut c, "DEBUG EXPIRE-NOW");
    script(&mut c, "DBSIZE => :1");
}

#[test]
fn ttl_rounds_to_the_nearest_second() {
    let Some((_t, mut c, _)) = frozen() else {
        return;
    };
    script(&mut c, "SET k v PX 10000 => +OK");
    for (step, ttl) in [(499, 10), (1, 10), (1, 9), (1000, 8)] {
        advance(&mut c, step);
        assert_eq!(run(&mut c, "TTL k"), format!(":{ttl}"));
    }
}

#[test]
fn writes_keep_or_clear_the_ttl_as_redis_does() {
    let Some((_t, mut c, _)) = frozen() else {
        return;
    };
    script(
        &mut c,
        r#"
        SET k 1 EX 100 => +OK
        INCR k => :2
        INCRBY k 5 => :7
        DECR k => :6
        INCRBYFLOAT k 0.5 => 6.5
        APPEND k 0 => :4
        SETRANGE k 0 7 => :4
        SETBIT k 0 0 => :0
        SET k v KEEPTTL => +OK
        GETEX k => v
        TTL k => :100
        SET k w => +OK
        TTL k => :-1
        SET k v EX 100 => +OK
        GETSET k w => v
        TTL k => :-1
        SET k v EX 100 => +OK
        MSET k w => +OK
        TTL k => :-1
        SET k v EX 100 => +OK
        RENAME k k2 => +OK
        TTL k2 => :100
        COPY k2 k3 => :1
        TTL k3 => :100
        MOVE k3 1 => :1
        SELECT 1 => +OK
        TTL k3 => :100
        "#,
    );
    advance(&mut c, 100_000);
    script(
        &mut c,
        r#"
        GET k3 => nil
        SELECT 0 => +OK
        GET k2 => nil
        "#,
    );
}

#[test]
fn expired_keys_are_invisible_to_every_read_and_recreated_by_writes() {
    let Some((_t, mut c, _)) = frozen() else {
        return;
    };
    script(&mut c, "SET k 10 PX 100 => +OK");
    advance(&mut c, 100);
    script(
        &mut c,
        r#"
        GET k => nil
        STRLEN k => :0
        GETRANGE k 0 -1 => ""
        TYPE k => +none
        TTL k => :-2
        OBJECT ENCODING k => nil
        EXISTS k => :0
        TOUCH k => :0
        RANDOMKEY => nil
        SCAN 0 => [0, []]
        SET k v NX => +OK
        TTL k => :-1
        SET j 10 PX 100 => +OK
        "#,
    );
    advance(&mut c, 100);
    script(
        &mut c,
        r#"
        INCR j => :1
        TTL j => :-1
        SET x v PX 100 => +OK
        SET y v => +OK
        "#,
    );
    advance(&mut c, 100);
    script(
        &mut c,
        r#"
        RENAME x z => -ERR no such key
        RENAME y x => +OK
        EXPIRE x 10 => :1
        SET m v PX 100 => +OK
        "#,
    );
    advance(&mut c, 100);
    script(
        &mut c,
        r#"
        EXPIRE m 10 => :0
        PERSIST m => :0
        GETDEL m => nil
        DEL m => :0
        "#,
    );
}

#[test]
fn object_idletime_follows_the_server_clock() {
    let Some((_t, mut c, _)) = frozen() else {
        return;
    };
    script(&mut c, "SET k v => +OK");
    script(&mut c, "SET other v => +OK");
    advance(&mut c, 10_000);
    script(
        &mut c,
        r#"
        OBJECT IDLETIME k => :10
        TTL k => :-1
        EXISTS k => :1
        TYPE k => +string
        OBJECT IDLETIME k => :10
        GET k => v
        OBJECT IDLETIME k => :0
        "#,
    );
    advance(&mut c, 5000);
    script(
        &mut c,
        r#"
        OBJECT IDLETIME k => :5
        OBJECT IDLETIME other => :15
        TOUCH other => :1
        OBJECT IDLETIME other => :0
        STRLEN k => :1
        OBJECT IDLETIME k => :0
        "#,
    );
    advance(&mut c, 3000);
    script(&mut c, "CLIENT NO-TOUCH ON => +OK");
    script(
        &mut c,
        r#"
        GET k => v
        OBJECT IDLETIME k => :3
        "#,
    );
}
