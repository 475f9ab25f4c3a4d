//! KV.REV, KV.META, KV.GET (IFNOTREV), KV.CAS, KV.CADEL and KV.IF (alone and as EXEC's guard), over
//! TCP against the real binary, with the server clock frozen where TTLs show.

mod strings_script;
mod support;

use redis::Commands;
use strings_script::{Target, run, script};

fn concord() -> Option<(Target, redis::Connection)> {
    let t = Target::concord_only()?;
    let c = t.conn();
    Some((t, c))
}

#[test]
fn revisions_and_metadata_on_every_type() {
    let Some((_t, mut c)) = concord() else { return };
    let now = support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        KV.REV => :0
        KV.META nokey => nil
        SET s v => +OK
        KV.REV => :1
        KV.META s => [type, string, version, :1, create_revision, :1, mod_revision, :1, lease, :0, pttl, :-1]
        APPEND s w => :2
        KV.META s => [type, string, version, :2, create_revision, :1, mod_revision, :2, lease, :0, pttl, :-1]
        SET nx v NX => +OK
        SET nx v NX => nil
        KV.REV => :3
        DEL missing => :0
        KV.REV => :3
        RPUSH l a b => :2
        HSET h f v => :1
        SADD st m => :1
        ZADD z 1 m => :1
        XADD x 1-1 f v => 1-1
        PEXPIRE l 1500 => :1
        KV.META l => [type, list, version, :2, create_revision, :4, mod_revision, :9, lease, :0, pttl, :1500]
        KV.META h => [type, hash, version, :1, create_revision, :5, mod_revision, :5, lease, :0, pttl, :-1]
        KV.META x => [type, stream, version, :1, create_revision, :8, mod_revision, :8, lease, :0, pttl, :-1]
        GET s => vw
        KV.REV => :9
        "#,
    );
    support::advance_clock(&mut c, 1500);
    // Expired keys are gone for reads at once, deleted by the expirer as a revision of their own.
    assert_eq!(run(&mut c, "KV.META l"), "nil");
    let _ = now;
}

#[test]
fn kv_get_revalidates_like_an_etag() {
    let Some((_t, mut c)) = concord() else { return };
    script(
        &mut c,
        r#"
        KV.GET k => nil
        SET k v1 => +OK
        KV.GET k => [v1, :1, :1]
        KV.GET k IFNOTREV 1 => [nil, :1, :1]
        KV.GET k IFNOTREV 0 => [v1, :1, :1]
        SET k v2 => +OK
        KV.GET k IFNOTREV 1 => [v2, :2, :2]
        RPUSH l a => :1
        KV.GET l => -WRONGTYPE Operation against a key holding the wrong kind of value
        KV.GET k IFNOTREV => -ERR syntax error
        KV.GET k IFNOTREV x => -ERR value is not an integer or out of range
        KV.GET k IFNOTREV -1 => -ERR value is not an integer or out of range
        KV.GET k FOO 1 => -ERR syntax error
        "#,
    );
}

#[test]
fn cas_and_cadel_compare_the_mod_revision() {
    let Some((_t, mut c)) = concord() else { return };
    let now = support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        KV.CAS k 1 v => nil
        KV.CAS k 0 v => :1
        KV.CAS k 0 v => nil
        KV.CAS k 1 w => :2
        KV.GET k => [w, :2, :2]
        KV.CAS k 2 x PX 1000 => :3
        PTTL k => :1000
        KV.CAS k 3 y => :4
        PTTL k => :-1
        KV.CADEL k 3 => :0
        KV.CADEL k 4 => :1
        KV.CADEL k 4 => :0
        EXISTS k => :0
        KV.CAS k 4 z => nil
        KV.CAS k 0 again => :6
        KV.META k => [type, string, version, :1, create_revision, :6, mod_revision, :6, lease, :0, pttl, :-1]
        RPUSH l a => :1
        KV.CAS l 7 s => :8
        TYPE l => +string
        KV.CAS k x v => -ERR value is not an integer or out of range
        KV.CAS k 6 v PX 0 => -ERR PX must be a positive number of milliseconds
        KV.CAS k 6 v PX -5 => -ERR PX must be a positive number of milliseconds
        KV.CAS k 6 v PX => -ERR syntax error
        KV.CAS k 6 v LEASE 99 => -NOLEASE lease 99 not found
        KV.CAS k 6 v EX 1 => -ERR syntax error
        KV.CADEL k x => -ERR value is not an integer or out of range
        GET k => again
        "#,
    );
    let _ = now;
}

#[test]
fn kv_if_alone_and_as_the_guard_of_exec() {
    let Some((_t, mut c)) = concord() else { return };
    script(
        &mut c,
        r#"
        KV.IF k EXISTS => :0
        KV.IF k MISSING => :1
        KV.IF k VERSION = 0 => :1
        KV.IF k VALUE != x => :1
        SET k v => +OK
        KV.IF k VALUE = v => :1
        KV.IF k VALUE = w => :0
        KV.IF k MODREV = 1 => :1
        KV.IF k MODREV >= 2 => :0
        KV.IF k CREATEREV <= 1 => :1
        KV.IF k VERSION != 1 => :0
        KV.IF k VERSION < 2 => :1
        KV.IF k VERSION > 0 => :1
        KV.IF k VALUE < v => -ERR VALUE compares with = or != only
        KV.IF k VERSION ~ 1 => -ERR invalid operator '~', expected one of = != < > <= >=
        KV.IF k VERSION = x => -ERR value is not an integer or out of range
        KV.IF k NOPE = 1 => -ERR syntax error
        KV.IF k EXISTS extra => -ERR syntax error
        KV.IF k => -ERR wrong number of arguments for 'kv.if' command
        "#,
    );
    // All guards hold: every command runs and each guard's slot is 1.
    script(
        &mut c,
        r#"
        MULTI => +OK
        KV.IF k MODREV = 1 => +QUEUED
        KV.IF other MISSING => +QUEUED
        SET k v2 => +QUEUED
        INCR n => +QUEUED
        EXEC => [:1, :1, +OK, :1]
        KV.REV => :2
        "#,
    );
    // One guard fails: EXEC answers nil and nothing runs, even what was queued before it.
    script(
        &mut c,
        r#"
        MULTI => +OK
        SET k v3 => +QUEUED
        KV.IF k MODREV = 1 => +QUEUED
        INCR n => +QUEUED
        EXEC => nil
        GET k => v2
        GET n => 1
        KV.REV => :2
        "#,
    );
    // A malformed guard aborts the transaction when queued.
    script(
        &mut c,
        r#"
        MULTI => +OK
        KV.IF k BOGUS => -ERR syntax error
        SET k v4 => +QUEUED
        EXEC => -EXECABORT Transaction discarded because of previous errors.
        GET k => v2
        "#,
    );
}

#[test]
fn cas_counter_under_contention_counts_every_success() {
    if std::env::var("CONCORD_TEST_REDIS_PORT").is_ok() {
        return;
    }
    let t = support::TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = t.conn();
    let _: () = c.set("ctr", 0).unwrap();
    let clients = 16;
    let per_client = 200;
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let mut c = t.conn();
            std::thread::spawn(move || {
                let mut successes = 0;
                let mut conflicts = 0;
                while successes < per_client {
                    let (value, _version, rev): (i64, i64, u64) =
                        redis::cmd("KV.GET").arg("ctr").query(&mut c).unwrap();
                    let r: Option<u64> = redis::cmd("KV.CAS")
                        .arg("ctr")
                        .arg(rev)
                        .arg(value + 1)
                        .query(&mut c)
                        .unwrap();
                    match r {
                        Some(new_rev) => {
                            assert!(new_rev > rev);
                            successes += 1;
                        }
                        None => conflicts += 1,
                    }
                }
                (successes, conflicts)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().unwrap().0;
    }
    let final_value: i64 = c.get("ctr").unwrap();
    assert_eq!(final_value, total);
    assert_eq!(total, clients * per_client);
}

#[test]
fn coordination_commands_run_from_lua_and_inside_multi() {
    let Some((_t, mut c)) = concord() else { return };
    support::freeze_clock(&mut c);
    // A script is one unit: one revision, so everything it takes shares that token.
    script(
        &mut c,
        r#"
        EVAL "local t = redis.call('LOCK.ACQUIRE', KEYS[1], 'me', 'PX', 1000); redis.call('FENCED', KEYS[1], t, 'SET', 'x', 'y'); local l = redis.call('LEASE.GRANT', 1000); redis.call('KV.CAS', 'c', 0, 'v', 'LEASE', l); return {t, l, redis.call('KV.REV'), redis.call('SEM.ACQUIRE', 's', 'me', 2, 'PX', 100), redis.call('THROTTLE', 't', 1, 1, 1)[1], redis.call('ELECT.CAMPAIGN', 'e', 'me', 'PX', 100)}" 1 L => [:1, :1, :1, :1, :0, :1]
        GET x => y
        LEASE.TTL 1 KEYS => [granted_ms, :1000, remaining_ms, :1000, keys, [c]]
        EVAL "return redis.call('KV.WATCH', 'k')" 0 => -ERR This Redis command is not allowed from script script: 89ac499c38f5e15dedaeb93ea373ba6057a6e7eb, on @user_script:1.
        MULTI => +OK
        LEASE.GRANT 500 => +QUEUED
        LOCK.ACQUIRE L2 a PX 100 => +QUEUED
        FENCED L2 2 GET x => +QUEUED
        KV.IF L2 MISSING => +QUEUED
        EXEC => [:2, :2, y, :1]
        MULTI => +OK
        KV.WATCH k => -ERR Command not allowed inside a transaction
        DISCARD => +OK
        "#,
    );
}
