//! The shipped lock scripts (scripts/lock-release.lua, scripts/lock-extend.lua) run by EVAL and EVALSHA:
//! the owner releases and extends, anyone else changes nothing.

mod support;

const RELEASE: &str = include_str!("../scripts/lock-release.lua");
const EXTEND: &str = include_str!("../scripts/lock-extend.lua");

fn eval(c: &mut redis::Connection, script: &str, key: &str, args: &[&str]) -> i64 {
    redis::cmd("EVAL")
        .arg(script)
        .arg(1)
        .arg(key)
        .arg(args)
        .query(c)
        .unwrap()
}

#[test]
fn only_the_owner_releases_the_lock() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("lock")
        .arg("me")
        .arg("NX")
        .arg("PX")
        .arg(10_000)
        .query(&mut c)
        .unwrap();
    assert_eq!(eval(&mut c, RELEASE, "lock", &["someone-else"]), 0);
    let v: Option<String> = redis::cmd("GET").arg("lock").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("me"));
    assert_eq!(eval(&mut c, RELEASE, "lock", &["me"]), 1);
    let v: Option<String> = redis::cmd("GET").arg("lock").query(&mut c).unwrap();
    assert_eq!(v, None);
    // Released twice, or never taken: nothing to do.
    assert_eq!(eval(&mut c, RELEASE, "lock", &["me"]), 0);
    // By sha, as clients that SCRIPT LOAD once do.
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(RELEASE)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("lock")
        .arg("me")
        .query(&mut c)
        .unwrap();
    let n: i64 = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("lock")
        .arg("me")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn only_the_owner_extends_the_lock() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    s.freeze_clock(&mut c);
    let _: () = redis::cmd("SET")
        .arg("lock")
        .arg("me")
        .arg("PX")
        .arg(1_000)
        .query(&mut c)
        .unwrap();
    assert_eq!(eval(&mut c, EXTEND, "lock", &["other", "60000"]), 0);
    let ttl: i64 = redis::cmd("PTTL").arg("lock").query(&mut c).unwrap();
    assert!(ttl <= 1_000, "{ttl}");
    assert_eq!(eval(&mut c, EXTEND, "lock", &["me", "60000"]), 1);
    let ttl: i64 = redis::cmd("PTTL").arg("lock").query(&mut c).unwrap();
    assert!(ttl > 59_000, "{ttl}");
    // Past the extended deadline the lock is gone, and extending it does nothing.
    s.advance_clock(&mut c, 60_001);
    assert_eq!(eval(&mut c, EXTEND, "lock", &["me", "60000"]), 0);
    let v: Option<String> = redis::cmd("GET").arg("lock").query(&mut c).unwrap();
    assert_eq!(v, None);
}
