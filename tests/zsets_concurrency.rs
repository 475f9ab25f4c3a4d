//! Sorted sets under concurrent clients: increments are never lost, every member added is popped exactly
//! once, and a STORE command reads and writes as one atomic step.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;

use support::TestServer;

#[test]
fn concurrent_zincrby_loses_no_increment() {
    let s = Arc::new(TestServer::start());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut c = s.conn();
                for _ in 0..300 {
                    let _: f64 = redis::cmd("ZINCRBY")
                        .arg("z")
                        .arg(1)
                        .arg("m")
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = s.conn();
    let score: f64 = redis::cmd("ZSCORE")
        .arg("z")
        .arg("m")
        .query(&mut c)
        .unwrap();
    assert_eq!(score, 2400.0);
}

#[test]
fn every_member_is_popped_exactly_once() {
    let s = Arc::new(TestServer::start());
    let total = 2000;
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut c = s.conn();
                for i in 0..total / 2 {
                    let _: i64 = redis::cmd("ZADD")
                        .arg("q")
                        .arg(i)
                        .arg(format!("p{p}-{i}"))
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let s = Arc::clone(&s);
            let seen = Arc::clone(&seen);
            thread::spawn(move || {
                let mut c = s.conn();
                let mut idle = 0;
                while idle < 200 {
                    let got: Vec<String> =
                        redis::cmd("ZPOPMIN").arg("q").arg(7).query(&mut c).unwrap();
                    if got.is_empty() {
                        idle += 1;
                        thread::sleep(std::time::Duration::from_millis(2));
                        continue;
                    }
                    idle = 0;
                    let mut v = seen.lock().unwrap();
                    v.extend(got.chunks(2).map(|p| p[0].clone()));
                }
            })
        })
        .collect();
    for h in producers {
        h.join().unwrap();
    }
    for h in consumers {
        h.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a member was popped twice");
    assert_eq!(seen.len(), total, "every member popped");
}

#[test]
fn zunionstore_is_atomic_against_writers() {
    let s = Arc::new(TestServer::start());
    let mut c = s.conn();
    let _: i64 = redis::cmd("ZADD")
        .arg("src{t}")
        .arg(0)
        .arg("a")
        .arg(0)
        .arg("b")
        .query(&mut c)
        .unwrap();
    // A writer moves both members' scores in one ZADD; every stored copy must show them equal.
    let writer = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            let mut c = s.conn();
            for i in 1..=300 {
                let _: i64 = redis::cmd("ZADD")
                    .arg("src{t}")
                    .arg(i)
                    .arg("a")
                    .arg(i)
                    .arg("b")
                    .query(&mut c)
                    .unwrap();
            }
        })
    };
    for _ in 0..300 {
        let _: i64 = redis::cmd("ZUNIONSTORE")
            .arg("dst{t}")
            .arg(1)
            .arg("src{t}")
            .query(&mut c)
            .unwrap();
        let v: Vec<f64> = redis::cmd("ZMSCORE")
            .arg("dst{t}")
            .arg("a")
            .arg("b")
            .query(&mut c)
            .unwrap();
        assert_eq!(v[0], v[1], "a ZADD of two members was seen half-done");
    }
    writer.join().unwrap();
}
