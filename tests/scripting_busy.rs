//! Busy scripts against the real binary: -BUSY past busy-reply-threshold, SCRIPT KILL (OK, UNKILLABLE,
//! NOTBUSY), SHUTDOWN NOSAVE around a busy script, and other clients served once a script ends.

mod support;

use std::thread;
use std::time::{Duration, Instant};

const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

fn server_with_threshold(ms: u64) -> support::TestServer {
    let s = support::TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(ms)
        .query(&mut c)
        .unwrap();
    s
}

/// Runs `EVAL body 0` on its own connection in a thread; the handle yields the reply or error text.
fn eval_in_background(
    s: &support::TestServer,
    body: &'static str,
) -> thread::JoinHandle<Result<redis::Value, String>> {
    let mut c = s.conn();
    thread::spawn(move || {
        redis::cmd("EVAL")
            .arg(body)
            .arg(0)
            .query::<redis::Value>(&mut c)
            .map_err(|e| e.to_string())
    })
}

fn raw_error(c: &mut redis::Connection, args: &[&str]) -> Option<String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<redis::Value>(c) {
        Ok(redis::Value::ServerError(e)) => {
            Some(format!("{} {}", e.code(), e.details().unwrap_or_default()))
        }
        Ok(_) => None,
        Err(e) => Some(match (e.code(), e.detail()) {
            (Some(code), Some(detail)) => format!("{code} {detail}"),
            _ => e.to_string(),
        }),
    }
}

/// Polls until `args` is answered with -BUSY (the script passed the threshold), within 5 s.
fn wait_busy(c: &mut redis::Connection, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(e) = raw_error(c, args)
            && e.starts_with("BUSY")
        {
            return e;
        }
        assert!(Instant::now() < deadline, "no BUSY reply within 5 s");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_looping_read_only_script_is_killed_while_others_get_busy() {
    let s = server_with_threshold(100);
    let mut other = s.conn();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut other)
        .unwrap();
    let looping = eval_in_background(&s, "local n = 0 while true do n = n + 1 end");
    let busy = wait_busy(&mut other, &["GET", "k"]);
    assert_eq!(busy, BUSY);
    // Other commands are refused too, allow-busy ones are not.
    assert_eq!(
        raw_error(&mut other, &["SET", "k", "w"]).as_deref(),
        Some(BUSY)
    );
    assert_eq!(
        raw_error(&mut other, &["FUNCTION", "KILL"]).as_deref(),
        Some(BUSY),
        "FUNCTION KILL cannot kill an EVAL script"
    );
    let ok: String = redis::cmd("SCRIPT").arg("KILL").query(&mut other).unwrap();
    assert_eq!(ok, "OK");
    let err = looping.join().unwrap().unwrap_err();
    assert!(
        err.contains("Script killed by user with SCRIPT KILL..."),
        "{err}"
    );
    // The server is healthy again and nothing changed.
    let v: String = redis::cmd("GET").arg("k").query(&mut other).unwrap();
    assert_eq!(v, "v");
    let n: i64 = redis::cmd("EVAL")
        .arg("return 7")
        .arg(0)
        .query(&mut other)
        .unwrap();
    assert_eq!(n, 7);
}

#[test]
fn a_pcall_cannot_swallow_script_kill() {
    let s = server_with_threshold(100);
    let mut other = s.conn();
    let looping = eval_in_background(
        &s,
        "while true do pcall(function() while true do end end) end",
    );
    wait_busy(&mut other, &["PING"]);
    let ok: String = redis::cmd("SCRIPT").arg("KILL").query(&mut other).unwrap();
    assert_eq!(ok, "OK");
    let err = looping.join().unwrap().unwrap_err();
    assert!(err.contains("Script killed by user"), "{err}");
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn script_kill_without_a_running_script_is_notbusy() {
    let s = server_with_threshold(100);
    let mut c = s.conn();
    assert_eq!(
        raw_error(&mut c, &["SCRIPT", "KILL"]).as_deref(),
        Some("NOTBUSY No scripts in execution right now.")
    );
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_stops_the_server() {
    let s = server_with_threshold(100);
    let mut other = s.conn();
    let _looping = eval_in_background(&s, "redis.call('SET', 'w', '1') while true do end");
    wait_busy(&mut other, &["PING"]);
    assert_eq!(
        raw_error(&mut other, &["SCRIPT", "KILL"]).as_deref(),
        Some(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. \
             You can either wait the script termination or kill the server in a hard way using \
             the SHUTDOWN NOSAVE command."
        )
    );
    // Without NOSAVE, SHUTDOWN is refused while the script is busy.
    assert_eq!(raw_error(&mut other, &["SHUTDOWN"]).as_deref(), Some(BUSY));
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<redis::Value>(&mut other);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", s.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "server still accepting after SHUTDOWN NOSAVE"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_script_under_the_threshold_delays_others_without_busy() {
    let s = server_with_threshold(5000);
    let mut other = s.conn();
    // Runs about 300 ms on the server's clock, well under the threshold.
    let slow = eval_in_background(
        &s,
        "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] \
         while true do t = redis.call('TIME') \
         if t[1] * 1000000 + t[2] - start > 300000 then break end end return 1",
    );
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "PING ran while the script held the server"
    );
    assert_eq!(slow.join().unwrap(), Ok(redis::Value::Int(1)));
    assert_eq!(
        raw_error(&mut other, &["SCRIPT", "KILL"]).as_deref(),
        Some("NOTBUSY No scripts in execution right now.")
    );
}

#[test]
fn many_clients_waiting_on_a_long_script_are_all_answered() {
    let s = server_with_threshold(200);
    let looping = eval_in_background(&s, "while true do end");
    let mut first = s.conn();
    wait_busy(&mut first, &["PING"]);
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let mut c = s.conn();
            thread::spawn(move || raw_error(&mut c, &["INCR", "n"]))
        })
        .collect();
    for w in waiters {
        assert_eq!(w.join().unwrap().as_deref(), Some(BUSY));
    }
    let ok: String = redis::cmd("SCRIPT").arg("KILL").query(&mut first).unwrap();
    assert_eq!(ok, "OK");
    assert!(looping.join().unwrap().is_err());
    let n: i64 = redis::cmd("INCR").arg("n").query(&mut first).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn exec_during_a_busy_script_aborts_the_whole_transaction() {
    let s = server_with_threshold(50);
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("xx").arg(1).query(&mut c).unwrap();
    let mut tx = s.conn();
    let _: () = redis::cmd("MULTI").query(&mut tx).unwrap();
    let _: redis::Value = redis::cmd("INCR").arg("xx").query(&mut tx).unwrap();
    let looping = eval_in_background(&s, "while true do end");
    wait_busy(&mut c, &["PING"]);
    assert_eq!(
        raw_error(&mut tx, &["EXEC"]).as_deref(),
        Some(format!("EXECABORT Transaction discarded because of: {BUSY}").as_str())
    );
    let ok: String = redis::cmd("SCRIPT").arg("KILL").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    assert!(looping.join().unwrap().is_err());
    // Nothing ran, and the client left MULTI.
    let v: i64 = redis::cmd("GET").arg("xx").query(&mut c).unwrap();
    assert_eq!(v, 1);
    let pong: String = redis::cmd("PING").arg("asdf").query(&mut tx).unwrap();
    assert_eq!(pong, "asdf");
}
