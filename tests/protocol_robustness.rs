//! Hostile and unusual input over TCP: malformed frames get Redis's exact protocol errors and a closed
//! connection, huge declared lengths allocate nothing up front, and no client can hurt the others.

#[path = "protocol_resp.rs"]
mod resp;
mod support;

use resp::{Raw, Reply, encode, info_field};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};
use support::TestServer;

/// Sends `bytes` on a fresh connection and returns everything the server sent before closing.
fn send_expect_close(s: &TestServer, bytes: &[u8]) -> Vec<u8> {
    let mut r = Raw::connect(s.port);
    r.send(bytes);
    r.read_to_close()
}

fn rss(s: &TestServer) -> u64 {
    let mut r = Raw::connect(s.port);
    info_field(&mut r, "memory", "used_memory_rss")
        .and_then(|v| v.parse().ok())
        .expect("used_memory_rss")
}

#[test]
fn malformed_frames_get_redis_exact_errors_and_a_closed_connection() {
    let s = TestServer::start();
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*1\r\nfoo\r\n",
            b"-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$2147483648\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2147483648\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"set \"a b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"PING\r\n*1\r\nx\r\n",
            b"+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
    ];
    for (send, want) in cases {
        let got = send_expect_close(&s, send);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "for {:?}",
            String::from_utf8_lossy(send)
        );
    }
    // Lines that never end are cut off at 64 KiB, with a message naming what was being read.
    let long = |prefix: &[u8]| [prefix, &[b'1'; 70_000][..]].concat();
    let overlong: &[(Vec<u8>, &[u8])] = &[
        (
            long(b"a"),
            b"-ERR Protocol error: too big inline request\r\n",
        ),
        (
            long(b"*"),
            b"-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            long(b"*1\r\n$"),
            b"-ERR Protocol error: too big bulk count string\r\n",
        ),
    ];
    for (send, want) in overlong {
        assert_eq!(send_expect_close(&s, send), *want);
    }
    // The server is unharmed.
    assert_eq!(
        Raw::connect(s.port).cmd(&["PING"]),
        Reply::Simple("PONG".into())
    );
}

#[test]
fn null_and_empty_multibulks_are_skipped_silently() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.send(b"*-1\r\n*0\r\n\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(r.read(), Reply::Simple("PONG".into()));
}

#[test]
fn truncated_frames_wait_for_the_rest() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let whole = encode(&[b"SET", b"key", b"value"]);
    for chunk in whole.chunks(3) {
        r.send(chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(r.read(), Reply::Simple("OK".into()));
    // A frame cut in the middle of a bulk and never finished gets no reply; others are served.
    r.send(b"*2\r\n$3\r\nGET\r\n$3\r\nke");
    let mut other = Raw::connect(s.port);
    assert_eq!(other.cmd(&["GET", "key"]), Reply::Bulk(b"value".to_vec()));
    r.send(b"y\r\n");
    assert_eq!(r.read(), Reply::Bulk(b"value".to_vec()));
}

#[test]
fn huge_declared_lengths_allocate_nothing_up_front() {
    let s = TestServer::start();
    let before = rss(&s);
    // Redis accepts a count up to INT_MAX and a bulk up to proto-max-bulk-len (512 MiB), then waits.
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut r = Raw::connect(s.port);
        r.send(b"*2147483647\r\n$536870912\r\nabc");
        conns.push(r);
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = rss(&s);
    assert!(
        after < before + 64 * 1024 * 1024,
        "rss grew from {before} to {after}"
    );
    // Past the limits the reply is the exact protocol error and the connection closes.
    let got = send_expect_close(&s, b"*1\r\n$536870913\r\n");
    assert_eq!(got, b"-ERR Protocol error: invalid bulk length\r\n");
    drop(conns);
    assert_eq!(
        Raw::connect(s.port).cmd(&["PING"]),
        Reply::Simple("PONG".into())
    );
}

#[test]
fn a_million_argument_command_works() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let keys: Vec<Vec<u8>> = (0..1_000_000)
        .map(|i| format!("k{i}").into_bytes())
        .collect();
    // MSET with 500k pairs: every even key gets a value.
    let mut mset: Vec<&[u8]> = vec![b"MSET"];
    for k in keys.iter().step_by(2) {
        mset.push(k);
        mset.push(b"v");
    }
    r.send_cmd(&mset);
    assert_eq!(r.read(), Reply::Simple("OK".into()));
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::Int(500_000));
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(keys.iter().map(|k| k.as_slice()));
    r.send_cmd(&del);
    assert_eq!(r.read(), Reply::Int(500_000));
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::Int(0));
}

#[test]
fn binary_keys_and_values_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let key: &[u8] = b"k\r\n\0\xff key";
    let value: &[u8] = b"\0\r\n$3\r\n*1\r\n\xfe\0";
    let _: () = redis::cmd("SET").arg(key).arg(value).query(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
    assert_eq!(got, value);
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    assert_eq!(keys, vec![key.to_vec()]);
}

#[test]
fn inline_commands_with_quotes_work_like_redis_cli_and_telnet() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.send(b"PING\r\nset \"a b\" \"c\\r\\nd\"\r\nget \"a b\"\n");
    assert_eq!(r.read(), Reply::Simple("PONG".into()));
    assert_eq!(r.read(), Reply::Simple("OK".into()));
    assert_eq!(r.read(), Reply::Bulk(b"c\r\nd".to_vec()));
    r.send(b"set 'its' \"\\x41\\x42\"\r\nget its\r\n   \r\nECHO 'a\\'b'\r\n");
    assert_eq!(r.read(), Reply::Simple("OK".into()));
    assert_eq!(r.read(), Reply::Bulk(b"AB".to_vec()));
    assert_eq!(r.read(), Reply::Bulk(b"a'b".to_vec()));
    r.send(b"nosuch a b\r\n");
    assert_eq!(
        r.read(),
        Reply::Error("ERR unknown command 'nosuch', with args beginning with: 'a' 'b' ".into())
    );
}

#[test]
fn ten_thousand_pipelined_commands_in_one_write_reply_in_order() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let mut batch = Vec::new();
    for _ in 0..10_000 {
        batch.extend_from_slice(&encode(&[b"INCR", b"counter"]));
    }
    r.send(&batch);
    for i in 1..=10_000 {
        assert_eq!(r.read(), Reply::Int(i));
    }
}

#[test]
fn a_slow_client_sending_one_byte_at_a_time_does_not_block_others() {
    let s = TestServer::start();
    let port = s.port;
    let slow = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        for b in encode(&[b"SET", b"slow", b"done"]) {
            r.send(&[b]);
            std::thread::sleep(Duration::from_millis(10));
        }
        r.read()
    });
    let mut fast = Raw::connect(s.port);
    let t = Instant::now();
    for _ in 0..100 {
        assert_eq!(fast.cmd(&["PING"]), Reply::Simple("PONG".into()));
    }
    assert!(t.elapsed() < Duration::from_secs(2), "others were held up");
    assert_eq!(slow.join().unwrap(), Reply::Simple("OK".into()));
    assert_eq!(fast.cmd(&["GET", "slow"]), Reply::Bulk(b"done".to_vec()));
}

#[test]
fn a_half_closed_client_still_gets_its_replies() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.send(b"SET a 1\r\nINCR a\r\nGET a\r\n");
    r.stream().shutdown(Shutdown::Write).unwrap();
    let got = r.read_to_close();
    assert_eq!(got, b"+OK\r\n:2\r\n$1\r\n2\r\n");
}

#[test]
fn a_client_that_never_reads_does_not_stall_others() {
    let s = TestServer::start();
    let mut setup = Raw::connect(s.port);
    let big = "x".repeat(1 << 20);
    assert_eq!(setup.cmd(&["SET", "big", &big]), Reply::Simple("OK".into()));
    // 64 MiB of replies that this client never reads.
    let mut hog = Raw::connect(s.port);
    let Reply::Int(hog_id) = hog.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID")
    };
    let mut batch = Vec::new();
    for _ in 0..64 {
        batch.extend_from_slice(&encode(&[b"GET", b"big"]));
    }
    hog.send(&batch);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    for _ in 0..50 {
        assert_eq!(setup.cmd(&["PING"]), Reply::Simple("PONG".into()));
    }
    // A stall would be unbounded; the bound is loose so a loaded CI machine does not fail it.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // CLIENT KILL reaches a client whose connection is stuck writing replies it never reads.
    assert_eq!(
        setup.cmd(&["CLIENT", "KILL", "ID", &hog_id.to_string()]),
        Reply::Int(1)
    );
    let t = Instant::now();
    loop {
        let n = info_field(&mut setup, "clients", "connected_clients");
        if n.as_deref() == Some("1") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "stuck client not closed: {n:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(hog);
    assert_eq!(setup.cmd(&["STRLEN", "big"]), Reply::Int(1 << 20));
}

#[test]
fn a_client_over_the_query_buffer_limit_is_closed() {
    let s = TestServer::start();
    let mut admin = Raw::connect(s.port);
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]),
        Reply::Simple("OK".into())
    );
    let mut r = Raw::connect(s.port);
    // A 10 MiB bulk is allowed by proto-max-bulk-len but cannot be buffered under a 1 MiB limit.
    r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10485760\r\n");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    let mut closed = false;
    while sent < 10 << 20 {
        if r.stream().write_all(&chunk).is_err() {
            closed = true;
            break;
        }
        sent += chunk.len();
    }
    if !closed {
        r.stream()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .ok();
        let mut b = [0u8; 16];
        closed = matches!(r.stream().read(&mut b), Ok(0) | Err(_));
    }
    assert!(closed, "the over-limit client was not closed");
    // Kernel socket buffers may swallow several MiB before the writer notices, so check the effect
    // instead: the command never ran.
    assert_eq!(admin.cmd(&["EXISTS", "k"]), Reply::Int(0));
    assert_eq!(admin.cmd(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn maxclients_rejects_with_redis_error() {
    let s = TestServer::start_with(&["--maxclients", "2"]);
    let mut a = Raw::connect(s.port);
    let mut b = Raw::connect(s.port);
    assert_eq!(a.cmd(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(b.cmd(&["PING"]), Reply::Simple("PONG".into()));
    let mut c = Raw::connect(s.port);
    assert_eq!(c.read_to_close(), b"-ERR max number of clients reached\r\n");
    drop(b);
    // A freed slot is usable again.
    let t = Instant::now();
    loop {
        let mut d = Raw::connect(s.port);
        d.send(b"PING\r\n");
        match resp::read_reply(&mut d.r) {
            Ok(Reply::Simple(p)) if p == "PONG" => break,
            _ if t.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => panic!("slot not freed: {other:?}"),
        }
    }
    assert_eq!(a.cmd(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn unauthenticated_clients_get_the_tighter_limits() {
    let s = TestServer::start_with(&["--requirepass", "pw"]);
    assert_eq!(
        send_expect_close(&s, b"*11\r\n"),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert_eq!(
        send_expect_close(&s, b"*2\r\n$16385\r\n"),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    let mut r = Raw::connect(s.port);
    assert_eq!(r.cmd(&["AUTH", "pw"]), Reply::Simple("OK".into()));
    r.send(b"*11\r\n");
    for _ in 0..11 {
        r.send(b"$4\r\nPING\r\n");
    }
    assert_eq!(
        r.read(),
        Reply::Error("ERR wrong number of arguments for 'ping' command".into())
    );
}
