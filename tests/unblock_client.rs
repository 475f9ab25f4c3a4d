//! CLIENT UNBLOCK over TCP: clients parked in BLPOP, BZPOPMIN, XREAD BLOCK and XREADGROUP BLOCK are
//! released with their command's timeout reply (`TIMEOUT`, the default) or with the `-UNBLOCKED` error
//! (`ERROR`); the reply is 1 only when a parked client was released, 0 for unknown or idle ids.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{TestServer, read_compact_reply, resp_command};

/// A raw connection: send commands, read RESP2 replies rendered compactly.
struct Raw {
    r: BufReader<TcpStream>,
}

impl Raw {
    fn new(server: &TestServer) -> Raw {
        Raw {
            r: BufReader::new(server.raw()),
        }
    }

    fn send(&mut self, args: &[&str]) {
        let req = resp_command(args);
        self.r.get_mut().write_all(req.as_bytes()).unwrap();
    }

    fn reply(&mut self) -> String {
        read_compact_reply(&mut self.r)
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.reply()
    }
}

fn blocked_clients(c: &mut Raw) -> u64 {
    c.send(&["INFO", "clients"]);
    let mut line = String::new();
    c.r.read_line(&mut line).unwrap();
    let n: usize = line.trim_end()[1..].parse().unwrap();
    let mut body = vec![0u8; n + 2];
    std::io::Read::read_exact(&mut c.r, &mut body).unwrap();
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Waits until `n` clients are parked.
fn wait_blocked(c: &mut Raw, n: u64) {
    let start = Instant::now();
    while blocked_clients(c) != n {
        assert!(start.elapsed() < Duration::from_secs(10), "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Parks a client in `args` and returns it with its id.
fn park(server: &TestServer, admin: &mut Raw, args: &[&str], already: u64) -> (Raw, String) {
    let mut c = Raw::new(server);
    let id = c.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').to_string();
    c.send(args);
    wait_blocked(admin, already + 1);
    (c, id)
}

#[test]
fn timeout_unblock_answers_as_each_commands_timeout() {
    let server = TestServer::start();
    let mut admin = Raw::new(&server);
    assert_eq!(admin.cmd(&["XADD", "s", "1-1", "f", "v"]), "1-1");
    assert_eq!(admin.cmd(&["XGROUP", "CREATE", "s", "g", "$"]), "+OK");
    let cases: &[(&[&str], &str)] = &[
        (&["BLPOP", "l", "0"], "*-1"),
        (&["BZPOPMIN", "z", "0"], "*-1"),
        (&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], "*-1"),
        (
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
            "*-1",
        ),
    ];
    for (args, want) in cases {
        let (mut c, id) = park(&server, &mut admin, args, 0);
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), ":1", "{args:?}");
        assert_eq!(c.reply(), *want, "{args:?}");
        // The connection works normally afterwards, and is no longer blocked.
        assert_eq!(c.cmd(&["PING"]), "+PONG");
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), ":0");
    }
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn error_unblock_sends_the_unblocked_error() {
    let server = TestServer::start();
    let mut admin = Raw::new(&server);
    let cases: &[&[&str]] = &[
        &["BLPOP", "l", "0"],
        &["BZPOPMIN", "z", "0"],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
    ];
    for args in cases {
        let (mut c, id) = park(&server, &mut admin, args, 0);
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "error"]), ":1");
        assert_eq!(
            c.reply(),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK",
            "{args:?}"
        );
        assert_eq!(c.cmd(&["PING"]), "+PONG");
    }
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn an_unblocked_client_is_not_served_later() {
    let server = TestServer::start();
    let mut admin = Raw::new(&server);
    let (mut a, id_a) = park(&server, &mut admin, &["BLPOP", "l", "0"], 0);
    let (mut b, _) = park(&server, &mut admin, &["BLPOP", "l", "0"], 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id_a]), ":1");
    assert_eq!(a.reply(), "*-1");
    assert_eq!(admin.cmd(&["RPUSH", "l", "x"]), ":1");
    assert_eq!(b.reply(), "[l, x]");
    assert_eq!(admin.cmd(&["LLEN", "l"]), ":0");
}

#[test]
fn unblocking_an_idle_or_unknown_client_replies_zero() {
    let server = TestServer::start();
    let mut admin = Raw::new(&server);
    let mut idle = Raw::new(&server);
    let id = idle.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':');
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", id]), ":0");
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", id, "ERROR"]), ":0");
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", "999999"]), ":0");
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", "-5"]), ":0");
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", "abc"]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", id, "later"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK"]),
        "-ERR wrong number of arguments for 'client|unblock' command"
    );
    assert_eq!(idle.cmd(&["PING"]), "+PONG");
}

/// Not CLIENT UNBLOCK, but the other way a parked move ends early: a BRPOPLPUSH/BLMOVE whose
/// destination holds another type when its source gets an element is answered with WRONGTYPE, and the
/// element stays in the source (Redis 7.0, unit/type/list "BRPOPLPUSH with wrong destination type").
#[test]
fn a_parked_move_to_a_wrong_type_destination_gets_wrongtype() {
    let server = TestServer::start();
    let mut admin = Raw::new(&server);
    for cmd in [
        &["BRPOPLPUSH", "src", "dst", "0"][..],
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"][..],
    ] {
        assert_eq!(admin.cmd(&["SET", "dst", "x"]), "+OK");
        let (mut c, _) = park(&server, &mut admin, cmd, 0);
        assert_eq!(admin.cmd(&["RPUSH", "src", "foo"]), ":1");
        assert_eq!(
            c.reply(),
            "-WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(admin.cmd(&["LRANGE", "src", "0", "-1"]), "[foo]");
        assert_eq!(admin.cmd(&["DEL", "src", "dst"]), ":2");
        assert_eq!(blocked_clients(&mut admin), 0);
    }
}

fn info(c: &mut Raw, section: &str) -> String {
    c.send(&["INFO", section]);
    let mut line = String::new();
    c.r.read_line(&mut line).unwrap();
    let n: usize = line.trim_end()[1..].parse().unwrap();
    let mut body = vec![0u8; n + 2];
    std::io::Read::read_exact(&mut c.r, &mut body).unwrap();
    String::from_utf8_lossy(&body).into_owned()
}

#[test]
fn an_error_unblock_counts_as_a_failed_call() {
    let server = TestServer::start();
    let mut admin = Raw::new(&server);
    let (mut c, id) = park(&server, &mut admin, &["BLPOP", "l", "0"], 0);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1");
    assert!(c.reply().starts_with("-UNBLOCKED"));
    assert!(info(&mut admin, "errorstats").contains("errorstat_UNBLOCKED:count=1"));
    let stats = info(&mut admin, "commandstats");
    let blpop = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_blpop:"))
        .unwrap();
    assert!(blpop.contains("calls=1,"), "{blpop}");
    assert!(blpop.ends_with("failed_calls=1"), "{blpop}");
    // A TIMEOUT unblock is no failure.
    let (mut c, id) = park(&server, &mut admin, &["BLPOP", "l", "0"], 0);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), ":1");
    assert_eq!(c.reply(), "*-1");
    let stats = info(&mut admin, "commandstats");
    assert!(stats.contains("failed_calls=1"));
}
