//! MONITOR's line format (client commands, scripts' commands as `[db lua]`, EXEC's queued commands,
//! admin commands hidden) and CLIENT PAUSE WRITE|ALL / UNPAUSE (held commands wait, not fail).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use support::TestServer;

struct Monitor {
    r: BufReader<TcpStream>,
}

impl Monitor {
    fn start(server: &TestServer) -> Monitor {
        let mut s = server.raw();
        s.write_all(b"MONITOR\r\n").unwrap();
        let mut m = Monitor {
            r: BufReader::new(s),
        };
        assert_eq!(m.line(), "+OK");
        m
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches("\r\n").to_string()
    }
}

/// Splits `+1700000000.123456 [0 127.0.0.1:1234] "set" "k"` into (secs, usecs, origin, rest).
fn parse(line: &str) -> (u64, String, String, String) {
    let rest = line.strip_prefix('+').expect("simple string");
    let (ts, rest) = rest.split_once(' ').unwrap();
    let (secs, usecs) = ts.split_once('.').unwrap();
    assert_eq!(usecs.len(), 6, "{line}");
    assert!(usecs.bytes().all(|b| b.is_ascii_digit()));
    let rest = rest.strip_prefix('[').unwrap();
    let (origin, args) = rest.split_once("] ").unwrap();
    (
        secs.parse().unwrap(),
        usecs.to_string(),
        origin.to_string(),
        args.to_string(),
    )
}

#[test]
fn monitor_lines_use_redis_format_with_the_clients_address() {
    let server = TestServer::start();
    let mut mon = Monitor::start(&server);
    let mut s = server.raw();
    let addr = s.local_addr().unwrap().to_string();
    support::roundtrip(
        &mut s,
        b"*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$5\r\nb\"a\nr\r\n",
        5,
    );
    let (secs, _, origin, args) = parse(&mon.line());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) < 60);
    assert_eq!(origin, format!("0 {addr}"));
    assert_eq!(args, r#""set" "foo" "b\"a\nr""#);
    // SELECT shows the db it switched to; later commands carry it.
    support::roundtrip(&mut s, b"SELECT 2\r\n", 5);
    support::roundtrip(&mut s, b"GET x\r\n", 5);
    assert_eq!(parse(&mon.line()).2, format!("2 {addr}"));
    let (_, _, origin, args) = parse(&mon.line());
    assert_eq!(
        (origin, args),
        (format!("2 {addr}"), r#""GET" "x""#.to_string())
    );
    // Admin commands are not shown; the next line is the PING after it.
    support::roundtrip(&mut s, b"CONFIG SET hz 10\r\n", 5);
    support::roundtrip(&mut s, b"PING\r\n", 7);
    assert_eq!(parse(&mon.line()).3, r#""PING""#);
}

#[test]
fn monitor_shows_scripts_commands_after_the_script_and_exec_in_order() {
    let server = TestServer::start();
    // Connected first, so its handshake (CLIENT SETINFO) is not in the monitor's stream.
    let mut c = server.conn();
    let mut mon = Monitor::start(&server);
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], ARGV[1])")
        .arg(1)
        .arg("k")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let (_, _, _, args) = parse(&mon.line());
    assert!(args.starts_with(r#""EVAL""#), "{args}");
    let (_, _, origin, args) = parse(&mon.line());
    assert_eq!(origin, "0 lua");
    assert_eq!(args, r#""set" "k" "v""#);

    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .ignore()
        .cmd("INCR")
        .arg("a")
        .ignore()
        .query(&mut c)
        .unwrap();
    let order: Vec<String> = (0..4).map(|_| parse(&mon.line()).3).collect();
    assert_eq!(
        order,
        vec![
            r#""MULTI""#,
            r#""SET" "a" "1""#,
            r#""INCR" "a""#,
            r#""EXEC""#
        ]
    );
}

#[test]
fn monitor_is_refused_inside_exec_and_ends_on_reset() {
    let server = TestServer::start();
    let mut c = server.conn();
    let mut s = server.raw();
    let got = support::roundtrip(&mut s, b"MULTI\r\nMONITOR\r\nEXEC\r\n", 70);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+OK\r\n+QUEUED\r\n*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    );
    let mut m = server.raw();
    support::roundtrip(&mut m, b"MONITOR\r\n", 5);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(list.contains("flags=O"), "{list}");
    let got = support::roundtrip(&mut m, b"RESET\r\n", 8);
    assert!(String::from_utf8_lossy(&got).ends_with("+RESET\r\n"));
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(!list.contains("flags=O"), "{list}");
}

/// Runs `cmd` on a fresh connection in a thread; the receiver gets the reply when it comes.
fn in_background(server: &TestServer, cmd: redis::Cmd) -> mpsc::Receiver<redis::Value> {
    let (tx, rx) = mpsc::channel();
    let url = server.url();
    thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let v: redis::Value = cmd.query(&mut c).unwrap();
        let _ = tx.send(v);
    });
    rx
}

#[test]
fn pause_write_holds_writes_until_unpause_and_lets_reads_through() {
    let server = TestServer::start();
    let mut admin = server.conn();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(100_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let mut set = redis::cmd("SET");
    set.arg("k").arg("v");
    let write = in_background(&server, set);
    let mut publish = redis::cmd("PUBLISH");
    publish.arg("ch").arg("m");
    let publish = in_background(&server, publish);
    let mut get = redis::cmd("GET");
    get.arg("k");
    let read = in_background(&server, get);
    assert_eq!(
        read.recv_timeout(Duration::from_secs(5)).unwrap(),
        redis::Value::Nil
    );
    assert!(write.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(publish.try_recv().is_err());
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        write.recv_timeout(Duration::from_secs(5)).unwrap(),
        redis::Value::Okay
    );
    assert_eq!(
        publish.recv_timeout(Duration::from_secs(5)).unwrap(),
        redis::Value::Int(0)
    );
}

#[test]
fn pause_all_holds_reads_and_ends_by_itself() {
    let server = TestServer::start();
    let mut admin = server.conn();
    let started = Instant::now();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(400)
        .query(&mut admin)
        .unwrap();
    let mut get = redis::cmd("GET");
    get.arg("k");
    let read = in_background(&server, get);
    assert_eq!(
        read.recv_timeout(Duration::from_secs(5)).unwrap(),
        redis::Value::Nil
    );
    assert!(started.elapsed() >= Duration::from_millis(350));
    let e = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(10)
        .arg("SOME")
        .query::<()>(&mut admin)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("CLIENT PAUSE mode must be WRITE or ALL")
    );
    let e = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(-1)
        .query::<()>(&mut admin)
        .unwrap_err();
    assert!(e.to_string().contains("timeout is negative"), "{e}");
}

#[test]
fn pause_write_holds_scripts_that_may_write_and_counts_held_clients() {
    let server = TestServer::start();
    let mut admin = server.conn();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(100_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let mut eval = redis::cmd("EVAL");
    eval.arg("return 1").arg(0);
    let held = in_background(&server, eval);
    // A script declared no-writes runs at once.
    let v: i64 = redis::cmd("EVAL")
        .arg("#!lua flags=no-writes\nreturn 2")
        .arg(0)
        .query(&mut admin)
        .unwrap();
    assert_eq!(v, 2);
    let started = Instant::now();
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut admin).unwrap();
        if info.contains("blocked_clients:1\r\n") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{info}");
        thread::sleep(Duration::from_millis(10));
    }
    assert!(held.try_recv().is_err());
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        held.recv_timeout(Duration::from_secs(5)).unwrap(),
        redis::Value::Int(1)
    );
    // PUBLISH may replicate: a read-only script may not call it.
    let e = redis::cmd("EVAL_RO")
        .arg("return redis.call('publish','ch','m')")
        .arg(0)
        .query::<redis::Value>(&mut admin)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Write commands are not allowed from read-only scripts"),
        "{e}"
    );
}

#[test]
fn monitor_redacts_auth_and_hello_credentials() {
    let server = TestServer::start_with(&["--requirepass", "s3cret"]);
    let mut mon = server.raw();
    support::roundtrip(&mut mon, b"AUTH s3cret\r\nMONITOR\r\n", 10);
    let mut mon = Monitor {
        r: BufReader::new(mon),
    };
    let mut s = server.raw();
    support::roundtrip(&mut s, b"AUTH default s3cret\r\n", 5);
    support::roundtrip(&mut s, b"HELLO 2 AUTH default s3cret SETNAME x\r\n", 10);
    support::roundtrip(&mut s, b"PING\r\n", 7);
    assert_eq!(parse(&mon.line()).3, r#""AUTH" "(redacted)" "(redacted)""#);
    assert_eq!(
        parse(&mon.line()).3,
        r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "x""#
    );
    assert_eq!(parse(&mon.line()).3, r#""PING""#);
}
