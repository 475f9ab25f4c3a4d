//! Strings over TCP with the `redis` crate: the everyday path and byte-exact errors.

mod support;

use redis::{RedisResult, Value};
use support::TestServer;

#[test]
fn set_and_get_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut c).unwrap();
    assert_eq!(missing, None);
}

#[test]
fn ttl_expires_on_the_server_clock_without_sleeping() {
    let s = TestServer::start();
    let mut c = s.conn();
    s.freeze_clock(&mut c);
    // The active expirer would race DEBUG EXPIRE-NOW below for the expired key.
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(1500)
        .query(&mut c)
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("k").query(&mut c).unwrap();
    assert_eq!(pttl, 1500);
    s.advance_clock(&mut c, 1499);
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    s.advance_clock(&mut c, 1);
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, None);
    let n: i64 = redis::cmd("DEBUG").arg("EXPIRE-NOW").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 0);
}

#[test]
fn wrong_type_and_arity_errors_are_redis_exact() {
    let s = TestServer::start();
    let mut c = s.conn();
    let r: RedisResult<Value> = redis::cmd("GET").query(&mut c);
    let e = r.unwrap_err();
    assert!(
        e.to_string()
            .contains("wrong number of arguments for 'get' command"),
        "{e}"
    );
    let _: () = redis::cmd("SET").arg("k").arg("abc").query(&mut c).unwrap();
    let r: RedisResult<i64> = redis::cmd("INCR").arg("k").query(&mut c);
    assert!(
        r.unwrap_err()
            .to_string()
            .contains("value is not an integer or out of range")
    );
}
