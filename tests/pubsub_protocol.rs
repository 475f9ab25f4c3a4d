//! Pub/sub over raw sockets: exact RESP2 and RESP3 framing of confirmations and messages, RESP2
//! subscribe mode, RESP3 pushes interleaved with replies, patterns, shard channels, PUBSUB
//! introspection, CLIENT LIST/INFO fields, RESET and disconnect cleanup.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use support::TestServer;

/// A decoded RESP value, enough for these tests.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    /// `*` array or `>` push (the flag says push), `%` maps flattened.
    Arr(bool, Vec<V>),
}

fn b(s: &str) -> V {
    V::Bulk(s.as_bytes().to_vec())
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn new(server: &TestServer) -> Conn {
        let s = server.raw();
        Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.w.write_all(&out).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "short line {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    fn read(&mut self) -> V {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        match t {
            "+" => V::Simple(rest.into()),
            "-" => V::Err(rest.into()),
            ":" => V::Int(rest.parse().unwrap()),
            "_" => V::Null,
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return V::Null;
                }
                let mut buf = vec![0; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                V::Bulk(buf)
            }
            "*" | ">" | "%" | "~" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return V::Null;
                }
                let n = if t == "%" { 2 * n } else { n };
                V::Arr(t == ">", (0..n).map(|_| self.read()).collect())
            }
            other => panic!("unexpected type {other}"),
        }
    }

    fn cmd(&mut self, args: &[&str]) -> V {
        self.send(args);
        self.read()
    }
}

fn push(items: Vec<V>) -> V {
    V::Arr(true, items)
}
fn arr(items: Vec<V>) -> V {
    V::Arr(false, items)
}

#[test]
fn resp2_confirmations_and_messages_are_framed_as_redis() {
    let server = TestServer::start();
    let mut sub = Conn::new(&server);
    sub.w
        .write_all(b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n")
        .unwrap();
    let mut expect =
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
            .to_vec();
    let mut got = vec![0; expect.len()];
    sub.r.read_exact(&mut got).unwrap();
    assert_eq!(got, expect);

    let mut c = server.conn();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("a")
        .arg("hi")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    expect = b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n".to_vec();
    let mut got = vec![0; expect.len()];
    sub.r.read_exact(&mut got).unwrap();
    assert_eq!(got, expect);
}

#[test]
fn resp2_subscribe_mode_allows_only_the_subscribe_family_ping_quit_reset() {
    let server = TestServer::start();
    let mut c = Conn::new(&server);
    c.cmd(&["SUBSCRIBE", "ch"]);
    assert_eq!(
        c.cmd(&["GET", "k"]),
        V::Err(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET \
             are allowed in this context"
                .into()
        )
    );
    assert_eq!(
        c.cmd(&["CLIENT", "LIST"]),
        V::Err(
            "ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT \
             / RESET are allowed in this context"
                .into()
        )
    );
    assert_eq!(c.cmd(&["PING"]), arr(vec![b("pong"), b("")]));
    assert_eq!(c.cmd(&["PING", "x"]), arr(vec![b("pong"), b("x")]));
    c.cmd(&["PSUBSCRIBE", "p*"]);
    // Unsubscribing from channels leaves the pattern: still in subscribe mode.
    assert_eq!(
        c.cmd(&["UNSUBSCRIBE"]),
        arr(vec![b("unsubscribe"), b("ch"), V::Int(1)])
    );
    assert!(matches!(c.cmd(&["GET", "k"]), V::Err(_)));
    assert_eq!(
        c.cmd(&["PUNSUBSCRIBE"]),
        arr(vec![b("punsubscribe"), b("p*"), V::Int(0)])
    );
    assert_eq!(c.cmd(&["GET", "k"]), V::Null);
    assert_eq!(c.cmd(&["PING"]), V::Simple("PONG".into()));
}

#[test]
fn unsubscribe_with_nothing_subscribed_replies_with_a_null_channel() {
    let server = TestServer::start();
    let mut c = Conn::new(&server);
    assert_eq!(
        c.cmd(&["UNSUBSCRIBE"]),
        arr(vec![b("unsubscribe"), V::Null, V::Int(0)])
    );
    assert_eq!(
        c.cmd(&["PUNSUBSCRIBE"]),
        arr(vec![b("punsubscribe"), V::Null, V::Int(0)])
    );
    assert_eq!(
        c.cmd(&["SUNSUBSCRIBE"]),
        arr(vec![b("sunsubscribe"), V::Null, V::Int(0)])
    );
    // Named channels get a confirmation each, subscribed or not.
    c.send(&["UNSUBSCRIBE", "x", "y"]);
    assert_eq!(c.read(), arr(vec![b("unsubscribe"), b("x"), V::Int(0)]));
    assert_eq!(c.read(), arr(vec![b("unsubscribe"), b("y"), V::Int(0)]));
}

#[test]
fn resp3_pushes_interleave_with_replies_and_commands_stay_allowed() {
    let server = TestServer::start();
    let mut sub = Conn::new(&server);
    assert!(matches!(sub.cmd(&["HELLO", "3"]), V::Arr(..)));
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news"]),
        push(vec![b("subscribe"), b("news"), V::Int(1)])
    );
    assert_eq!(sub.cmd(&["SET", "k", "v"]), V::Simple("OK".into()));
    let mut c = server.conn();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("m1")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    // The message was published before GET was sent: it arrives first, then GET's reply.
    sub.send(&["GET", "k"]);
    assert_eq!(sub.read(), push(vec![b("message"), b("news"), b("m1")]));
    assert_eq!(sub.read(), b("v"));
    assert_eq!(sub.cmd(&["PING"]), V::Simple("PONG".into()));
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE", "news"]),
        push(vec![b("unsubscribe"), b("news"), V::Int(0)])
    );
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE"]),
        push(vec![b("unsubscribe"), V::Null, V::Int(0)])
    );
}

#[test]
fn a_push_is_never_spliced_into_a_large_reply() {
    let server = TestServer::start();
    let mut sub = Conn::new(&server);
    sub.cmd(&["HELLO", "3"]);
    sub.cmd(&["SUBSCRIBE", "ch"]);
    let mut c = server.conn();
    let big = "x".repeat(1 << 20);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    let publisher = std::thread::spawn({
        let url = server.url();
        move || {
            let mut p = redis::Client::open(url).unwrap().get_connection().unwrap();
            for i in 0..300 {
                let _: i64 = redis::cmd("PUBLISH")
                    .arg("ch")
                    .arg(i.to_string())
                    .query(&mut p)
                    .unwrap();
            }
        }
    });
    let mut gets = 0;
    let mut messages = 0;
    for _ in 0..20 {
        sub.send(&["GET", "big"]);
    }
    while gets < 20 {
        match sub.read() {
            V::Bulk(v) => {
                assert_eq!(v.len(), 1 << 20);
                gets += 1;
            }
            V::Arr(true, items) => {
                assert_eq!(items[0], b("message"));
                assert_eq!(items[2], b(&messages.to_string()));
                messages += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    publisher.join().unwrap();
    while messages < 300 {
        match sub.read() {
            V::Arr(true, items) => {
                assert_eq!(items[2], b(&messages.to_string()));
                messages += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn patterns_match_as_redis_globs_and_count_per_match() {
    let server = TestServer::start();
    let mut sub = Conn::new(&server);
    sub.send(&["PSUBSCRIBE", "news.*", "n?ws.[ab]", "other"]);
    for (i, p) in ["news.*", "n?ws.[ab]", "other"].iter().enumerate() {
        assert_eq!(
            sub.read(),
            arr(vec![b("psubscribe"), b(p), V::Int(i as i64 + 1)])
        );
    }
    sub.send(&["SUBSCRIBE", "news.a"]);
    assert_eq!(
        sub.read(),
        arr(vec![b("subscribe"), b("news.a"), V::Int(4)])
    );
    let mut c = server.conn();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news.a")
        .arg("m")
        .query(&mut c)
        .unwrap();
    // One channel subscription and two matching patterns: three deliveries to the same client.
    assert_eq!(n, 3);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(sub.read());
    }
    assert_eq!(got[0], arr(vec![b("message"), b("news.a"), b("m")]));
    assert!(got.contains(&arr(vec![b("pmessage"), b("news.*"), b("news.a"), b("m")])));
    assert!(got.contains(&arr(vec![
        b("pmessage"),
        b("n?ws.[ab]"),
        b("news.a"),
        b("m")
    ])));
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news.c")
        .arg("m")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut c).unwrap();
    assert_eq!(n, 3);
    let n: i64 = redis::cmd("PUBLISH")
        .arg("nothing")
        .arg("m")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn shard_channels_are_separate_and_refused_inside_exec() {
    let server = TestServer::start();
    let mut sub = Conn::new(&server);
    assert_eq!(
        sub.cmd(&["SSUBSCRIBE", "s1"]),
        arr(vec![b("ssubscribe"), b("s1"), V::Int(1)])
    );
    let mut c = server.conn();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("s1")
        .arg("m")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("SPUBLISH")
        .arg("s1")
        .arg("m")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(sub.read(), arr(vec![b("smessage"), b("s1"), b("m")]));
    let chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut c)
        .unwrap();
    assert_eq!(chans, vec!["s1"]);
    let counts: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg("s1")
        .arg("s2")
        .query(&mut c)
        .unwrap();
    assert_eq!(counts.len(), 4);
    let chans: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    assert!(chans.is_empty());

    let mut m = Conn::new(&server);
    m.cmd(&["MULTI"]);
    assert_eq!(m.cmd(&["SSUBSCRIBE", "s2"]), V::Simple("QUEUED".into()));
    assert_eq!(
        m.cmd(&["EXEC"]),
        arr(vec![V::Err(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client".into()
        )])
    );
    // SUBSCRIBE inside MULTI is allowed, as in Redis.
    m.cmd(&["MULTI"]);
    m.cmd(&["SUBSCRIBE", "c1"]);
    assert_eq!(
        m.cmd(&["EXEC"]),
        arr(vec![arr(vec![b("subscribe"), b("c1"), V::Int(1)])])
    );
}

#[test]
fn introspection_reports_channels_counts_and_client_fields() {
    let server = TestServer::start();
    let mut a = Conn::new(&server);
    let mut bb = Conn::new(&server);
    a.cmd(&["CLIENT", "SETNAME", "subA"]);
    a.send(&["SUBSCRIBE", "c1", "c2"]);
    a.read();
    a.read();
    bb.cmd(&["PSUBSCRIBE", "c*"]);
    bb.cmd(&["SUBSCRIBE", "c1"]);
    let mut c = server.conn();
    let mut chans: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    chans.sort();
    assert_eq!(chans, vec!["c1", "c2"]);
    let chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("*2")
        .query(&mut c)
        .unwrap();
    assert_eq!(chans, vec!["c2"]);
    let counts: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("c1")
        .arg("c2")
        .arg("c3")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        counts,
        vec![
            redis::Value::BulkString(b"c1".to_vec()),
            redis::Value::Int(2),
            redis::Value::BulkString(b"c2".to_vec()),
            redis::Value::Int(1),
            redis::Value::BulkString(b"c3".to_vec()),
            redis::Value::Int(0),
        ]
    );
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let line = list.lines().find(|l| l.contains("name=subA")).unwrap();
    assert!(line.contains(" flags=P "), "{line}");
    assert!(line.contains(" sub=2 psub=0 ssub=0 "), "{line}");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");

    // Disconnect and RESET drop everything.
    drop(a);
    assert_eq!(bb.cmd(&["RESET"]), V::Simple("RESET".into()));
    assert_eq!(bb.cmd(&["GET", "x"]), V::Null);
    for _ in 0..100 {
        let chans: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
        if chans.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let chans: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    assert!(chans.is_empty());
    let n: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut c).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn scripts_cannot_subscribe() {
    let server = TestServer::start();
    let mut c = server.conn();
    let r: redis::RedisResult<redis::Value> = redis::cmd("EVAL")
        .arg("return redis.call('subscribe','x')")
        .arg(0)
        .query(&mut c);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("This Redis command is not allowed from script"),
        "{e}"
    );
}

#[test]
fn confirmations_and_messages_go_out_under_client_reply_off() {
    let server = TestServer::start();
    let mut c = Conn::new(&server);
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["SET", "k", "v"]);
    assert_eq!(
        c.cmd(&["SUBSCRIBE", "ch"]),
        arr(vec![b("subscribe"), b("ch"), V::Int(1)])
    );
    let mut p = server.conn();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("ch")
        .arg("m")
        .query(&mut p)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(c.read(), arr(vec![b("message"), b("ch"), b("m")]));
    assert_eq!(
        c.cmd(&["UNSUBSCRIBE"]),
        arr(vec![b("unsubscribe"), b("ch"), V::Int(0)])
    );
    c.send(&["CLIENT", "REPLY", "ON"]);
    assert_eq!(c.read(), V::Simple("OK".into()));
    assert_eq!(c.cmd(&["GET", "k"]), b("v"));
}

#[test]
fn client_list_and_kill_filter_by_type_pubsub() {
    let server = TestServer::start();
    let mut sub = Conn::new(&server);
    sub.cmd(&["CLIENT", "SETNAME", "sub"]);
    sub.cmd(&["SUBSCRIBE", "ch"]);
    let mut c = server.conn();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("plain")
        .query(&mut c)
        .unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut c)
        .unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("name=sub "), "{list}");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut c)
        .unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("name=plain "), "{list}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut c)
        .unwrap();
    assert_eq!(killed, 1);
    let mut rest = Vec::new();
    let _ = sub.r.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn numsub_replies_a_flat_array_in_resp3_too() {
    let server = TestServer::start();
    let mut c = Conn::new(&server);
    c.cmd(&["HELLO", "3"]);
    c.send(&["PUBSUB", "NUMSUB", "a", "b"]);
    let expect = b"*4\r\n$1\r\na\r\n:0\r\n$1\r\nb\r\n:0\r\n";
    let mut got = vec![0; expect.len()];
    c.r.read_exact(&mut got).unwrap();
    assert_eq!(got, expect);
    assert_eq!(c.cmd(&["PUBSUB", "NUMPAT"]), V::Int(0));
}

/// Of two clients' commands, the one sent first takes effect first, as in Redis's event loop: an
/// UNSUBSCRIBE written (its replies not awaited) before another client's PUBLISH has taken effect when
/// the PUBLISH counts receivers. Served last-woken-first (tokio's LIFO slot) about half the rounds
/// failed; served in arrival order about one in a thousand still does (two events that land in
/// different polls), so the bound leaves room for that and still catches the old order.
#[test]
fn commands_from_two_clients_apply_in_arrival_order() {
    let s = TestServer::start();
    let mut publisher = s.raw();
    publisher.set_nodelay(true).ok();
    let subscribe = b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nchan1\r\n";
    let subscribed = b"*3\r\n$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n";
    let publish = b"*3\r\n$7\r\nPUBLISH\r\n$5\r\nchan1\r\n$5\r\nhello\r\n";
    let mut late = 0;
    for _ in 0..200 {
        let mut sub = s.raw();
        sub.set_nodelay(true).ok();
        assert_eq!(
            support::roundtrip(&mut sub, subscribe, subscribed.len()),
            subscribed
        );
        sub.write_all(b"*1\r\n$11\r\nUNSUBSCRIBE\r\n").unwrap();
        if support::roundtrip(&mut publisher, publish, 4) != b":0\r\n" {
            late += 1;
        }
    }
    assert!(
        late <= 10,
        "PUBLISH overtook an earlier UNSUBSCRIBE in {late} of 200 rounds"
    );
}
