//! BZPOPMIN / BZPOPMAX / BZMPOP over TCP: woken by writes, FIFO among waiters, each member served once,
//! timeouts on the server clock (DEBUG CLOCK), and waiters removed when their connection goes away.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use support::TestServer;

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

fn wait_blocked(c: &mut redis::Connection, n: i64) {
    for _ in 0..500 {
        if blocked_clients(c) == n {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
    panic!("never saw {n} blocked clients");
}

#[test]
fn bzpopmin_is_woken_by_zadd_on_another_connection() {
    let s = TestServer::start();
    let mut waiter = s.conn();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let r: (String, String, f64) = redis::cmd("BZPOPMIN")
            .arg("zq1")
            .arg("zq2")
            .arg(0)
            .query(&mut waiter)
            .unwrap();
        tx.send(r).unwrap();
    });
    let mut c = s.conn();
    wait_blocked(&mut c, 1);
    let _: i64 = redis::cmd("ZADD")
        .arg("zq2")
        .arg(5)
        .arg("a")
        .arg(3)
        .arg("b")
        .query(&mut c)
        .unwrap();
    let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got, ("zq2".into(), "b".into(), 3.0));
    let left: Vec<String> = redis::cmd("ZRANGE")
        .arg("zq2")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(left, vec!["a"]);
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn bzpopmax_times_out_on_the_server_clock() {
    let s = TestServer::start();
    let mut c = s.conn();
    s.freeze_clock(&mut c);
    let mut waiter = s.conn();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let r: redis::Value = redis::cmd("BZPOPMAX")
            .arg("nothing")
            .arg("1.5")
            .query(&mut waiter)
            .unwrap();
        tx.send(r).unwrap();
    });
    wait_blocked(&mut c, 1);
    s.advance_clock(&mut c, 1400);
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "timed out too early"
    );
    s.advance_clock(&mut c, 200);
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(r, redis::Value::Nil);
}

#[test]
fn many_waiters_each_get_one_member_in_arrival_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (tx, rx) = mpsc::channel();
    let n = 20;
    for i in 0..n {
        let mut w = s.conn();
        let tx = tx.clone();
        thread::spawn(move || {
            let r: (String, String, f64) = redis::cmd("BZMPOP")
                .arg(0)
                .arg(1)
                .arg("fifo")
                .arg("MIN")
                .query(&mut w)
                .map(|(k, mut v): (String, Vec<(String, f64)>)| {
                    let (m, sc) = v.remove(0);
                    (k, m, sc)
                })
                .unwrap();
            tx.send((i, r.1)).unwrap();
        });
        // Arrival order is the order of registration.
        wait_blocked(&mut c, i + 1);
    }
    for m in 0..n {
        let _: i64 = redis::cmd("ZADD")
            .arg("fifo")
            .arg(m)
            .arg(format!("m{m}"))
            .query(&mut c)
            .unwrap();
    }
    let mut got: Vec<(i64, String)> = (0..n)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    got.sort();
    // Waiter i was served m{i}: one member each, none twice, first come first served.
    for (i, m) in got {
        assert_eq!(m, format!("m{i}"));
    }
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn a_waiter_that_disconnects_is_removed() {
    let s = TestServer::start();
    let mut c = s.conn();
    {
        let mut raw = s.raw();
        use std::io::Write;
        raw.write_all(b"*3\r\n$8\r\nBZPOPMIN\r\n$4\r\ngone\r\n$1\r\n0\r\n")
            .unwrap();
        wait_blocked(&mut c, 1);
    }
    wait_blocked(&mut c, 0);
    let _: i64 = redis::cmd("ZADD")
        .arg("gone")
        .arg(1)
        .arg("x")
        .query(&mut c)
        .unwrap();
    let n: i64 = redis::cmd("ZCARD").arg("gone").query(&mut c).unwrap();
    assert_eq!(n, 1, "nothing may be popped for a client that left");
}
