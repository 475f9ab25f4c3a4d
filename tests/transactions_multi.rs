//! MULTI / EXEC / DISCARD / WATCH over TCP: Redis's replies and errors, one revision per EXEC, WATCH
//! invalidated by other clients' writes and by expiry (on the server clock), and isolation under many
//! concurrent transactions.

mod support;

use redis::Value;
use std::thread;
use support::TestServer;

fn revision(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("current_revision:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

fn raw(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| Value::SimpleString(format!("ERR:{e}")))
}

#[test]
fn exec_runs_the_queue_as_one_revision() {
    let s = TestServer::start();
    let mut c = s.conn();
    let before = revision(&mut c);
    assert_eq!(raw(&mut c, &["MULTI"]), Value::Okay);
    assert_eq!(
        raw(&mut c, &["SET", "a", "1"]),
        Value::SimpleString("QUEUED".into())
    );
    assert_eq!(
        raw(&mut c, &["INCR", "a"]),
        Value::SimpleString("QUEUED".into())
    );
    assert_eq!(
        raw(&mut c, &["GET", "a"]),
        Value::SimpleString("QUEUED".into())
    );
    let r = raw(&mut c, &["EXEC"]);
    assert_eq!(
        r,
        Value::Array(vec![
            Value::Okay,
            Value::Int(2),
            Value::BulkString(b"2".to_vec())
        ])
    );
    assert_eq!(
        revision(&mut c),
        before + 1,
        "a transaction is one revision"
    );
    let obj: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg("a")
        .query(&mut c)
        .unwrap();
    assert!(obj.contains("version:2"), "{obj}");
}

#[test]
fn queue_time_errors_abort_and_run_time_errors_are_per_command() {
    let s = TestServer::start();
    let mut c = s.conn();
    raw(&mut c, &["MULTI"]);
    let e = raw(&mut c, &["NOSUCHCMD"]);
    assert!(format!("{e:?}").contains("unknown command"), "{e:?}");
    raw(&mut c, &["SET", "x", "1"]);
    let e = raw(&mut c, &["EXEC"]);
    assert!(
        format!("{e:?}").contains("Transaction discarded because of previous errors"),
        "{e:?}"
    );
    assert_eq!(raw(&mut c, &["EXISTS", "x"]), Value::Int(0));

    raw(&mut c, &["SET", "str", "abc"]);
    // The error element inside EXEC's reply, byte for byte, over a raw socket.
    let mut r = s.raw();
    let send = b"MULTI\r\nINCR str\r\nSET y 2\r\nEXEC\r\n";
    let want = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n";
    let got = support::roundtrip(&mut r, send, want.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    assert_eq!(raw(&mut c, &["GET", "y"]), Value::BulkString(b"2".to_vec()));
}

#[test]
fn misuse_gets_redis_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    for (cmd, want) in [
        ("EXEC", "EXEC without MULTI"),
        ("DISCARD", "DISCARD without MULTI"),
    ] {
        let e = redis::cmd(cmd).query::<Value>(&mut c).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    raw(&mut c, &["MULTI"]);
    let e = redis::cmd("MULTI").query::<Value>(&mut c).unwrap_err();
    assert!(
        e.to_string().contains("MULTI calls can not be nested"),
        "{e}"
    );
    let e = redis::cmd("WATCH")
        .arg("k")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string().contains("WATCH inside MULTI is not allowed"),
        "{e}"
    );
    assert_eq!(raw(&mut c, &["DISCARD"]), Value::Okay);
}

#[test]
fn watch_fails_exec_when_another_client_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    raw(&mut c, &["SET", "w", "1"]);
    raw(&mut c, &["WATCH", "w"]);
    raw(&mut other, &["SET", "w", "1"]);
    raw(&mut c, &["MULTI"]);
    raw(&mut c, &["SET", "w", "mine"]);
    assert_eq!(raw(&mut c, &["EXEC"]), Value::Nil);
    assert_eq!(raw(&mut c, &["GET", "w"]), Value::BulkString(b"1".to_vec()));
    // Unchanged watched keys (and absent ones that stay absent) let EXEC through.
    raw(&mut c, &["WATCH", "w", "missing"]);
    raw(&mut c, &["MULTI"]);
    raw(&mut c, &["SET", "w", "mine"]);
    assert_eq!(raw(&mut c, &["EXEC"]), Value::Array(vec![Value::Okay]));
}

#[test]
fn watch_fails_exec_when_an_absent_key_is_created_and_removed_in_between() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    s.freeze_clock(&mut c);
    // Created then deleted, by DEL, by an emptying pop, or by expiry: EXEC fails as in Redis.
    let cases: [&[&[&str]]; 3] = [
        &[&["SET", "gone", "x"], &["DEL", "gone"]],
        &[&["RPUSH", "gone", "x"], &["LPOP", "gone"]],
        &[&["SET", "gone", "x", "PX", "10"]],
    ];
    for (i, writes) in cases.iter().enumerate() {
        raw(&mut c, &["WATCH", "gone"]);
        for w in writes.iter() {
            raw(&mut other, w);
        }
        if i == 2 {
            s.advance_clock(&mut c, 20);
            raw(&mut c, &["DEBUG", "EXPIRE-NOW"]);
        }
        raw(&mut c, &["MULTI"]);
        raw(&mut c, &["SET", "w", "mine"]);
        assert_eq!(raw(&mut c, &["EXEC"]), Value::Nil, "case {i}");
    }
    // A key that was already stale when watched and is reaped meanwhile does not fail EXEC (Redis's
    // "WATCH stale keys should not fail EXEC"), nor do writes to other keys.
    raw(&mut c, &["SET", "stale", "x", "PX", "10"]);
    s.advance_clock(&mut c, 20);
    raw(&mut c, &["WATCH", "stale", "absent"]);
    raw(&mut other, &["DEL", "stale"]);
    raw(&mut other, &["SET", "unrelated", "1"]);
    raw(&mut c, &["MULTI"]);
    raw(&mut c, &["SET", "w", "mine"]);
    assert_eq!(raw(&mut c, &["EXEC"]), Value::Array(vec![Value::Okay]));
}

#[test]
fn watch_fails_exec_when_the_key_expires() {
    let s = TestServer::start();
    let mut c = s.conn();
    s.freeze_clock(&mut c);
    raw(&mut c, &["SET", "t", "1", "PX", "100"]);
    raw(&mut c, &["WATCH", "t"]);
    s.advance_clock(&mut c, 100);
    raw(&mut c, &["MULTI"]);
    raw(&mut c, &["SET", "t", "2"]);
    assert_eq!(raw(&mut c, &["EXEC"]), Value::Nil);
}

#[test]
fn concurrent_transactions_are_isolated() {
    let s = TestServer::start();
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let mut c = s.conn();
            thread::spawn(move || {
                for _ in 0..200 {
                    let r: (i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("INCR")
                        .arg("ta")
                        .cmd("INCR")
                        .arg("tb")
                        .query(&mut c)
                        .unwrap();
                    assert!(r.0 > 0 && r.1 > 0);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = s.conn();
            thread::spawn(move || {
                for _ in 0..300 {
                    let (a, b): (Option<i64>, Option<i64>) = redis::pipe()
                        .atomic()
                        .cmd("GET")
                        .arg("ta")
                        .cmd("GET")
                        .arg("tb")
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(a, b, "a reader saw half a transaction");
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
    let mut c = s.conn();
    assert_eq!(
        raw(&mut c, &["GET", "ta"]),
        Value::BulkString(b"1600".to_vec())
    );
    assert_eq!(
        raw(&mut c, &["GET", "tb"]),
        Value::BulkString(b"1600".to_vec())
    );
}

#[test]
fn a_list_created_and_replaced_inside_exec_does_not_wake_a_blpop() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut w = s.conn();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let r: (String, String) = redis::cmd("BLPOP").arg("bl").arg(0).query(&mut w).unwrap();
        tx.send(r).unwrap();
    });
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        if info.contains("blocked_clients:1") {
            break;
        }
        thread::sleep(std::time::Duration::from_millis(5));
    }
    raw(&mut c, &["MULTI"]);
    raw(&mut c, &["LPUSH", "bl", "a"]);
    raw(&mut c, &["DEL", "bl"]);
    raw(&mut c, &["SET", "bl", "foo"]);
    raw(&mut c, &["EXEC"]);
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(100))
            .is_err(),
        "woken by a string"
    );
    raw(&mut c, &["DEL", "bl"]);
    raw(&mut c, &["LPUSH", "bl", "b"]);
    let got = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(got, ("bl".to_string(), "b".to_string()));
}
