//! DUMP and RESTORE over TCP: Redis 7.0's options and exact errors (as scripts, checked against
//! redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT`, see tests/strings_script/mod.rs), TTL handling on
//! the server clock, and real interoperability: values DUMPed by a redis-server 7.0 that this test spawns
//! are RESTOREd into Concord and the reverse, for every type, small (listpack/intset encodings) and big
//! (quicklist, hashtable, skiplist, LZF-compressed strings), and streams with deleted entries, several
//! listpack nodes and consumer groups. The interoperability tests print a reason and pass when
//! `redis-server` is not on PATH.

mod strings_script;
mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;
use strings_script::{Target, render, run, script};

fn dump(c: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(
    c: &mut redis::Connection,
    key: &str,
    ttl: i64,
    payload: &[u8],
    opts: &[&str],
) -> String {
    let mut cmd = redis::cmd("RESTORE");
    cmd.arg(key).arg(ttl).arg(payload);
    for o in opts {
        cmd.arg(*o);
    }
    render(cmd.query::<Value>(c))
}

#[test]
fn restore_errors_and_options_match_redis() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET s hello => +OK
        RPUSH l a b c => :3
        DUMP nosuch => nil
        RESTORE k 0 garbage => -ERR DUMP payload version or checksum are wrong
        RESTORE k 0 "" => -ERR DUMP payload version or checksum are wrong
        RESTORE k -1 garbage => -ERR Invalid TTL value, must be >= 0
        RESTORE k abc garbage => -ERR value is not an integer or out of range
        RESTORE k 0 garbage FOO => -ERR syntax error
        RESTORE k 0 garbage IDLETIME => -ERR syntax error
        RESTORE k 0 garbage IDLETIME -1 => -ERR Invalid IDLETIME value, must be >= 0
        RESTORE k 0 garbage FREQ 256 => -ERR Invalid FREQ value, must be >= 0 and <= 255
        RESTORE k 0 garbage IDLETIME 1 FREQ 2 => -ERR syntax error
        RESTORE s 0 garbage => -BUSYKEY Target key name already exists.
        RESTORE s -1 garbage => -BUSYKEY Target key name already exists.
        RESTORE s 0 garbage REPLACE => -ERR DUMP payload version or checksum are wrong
        GET s => hello
        "#,
    );
    let s = dump(&mut c, "s").unwrap();
    let l = dump(&mut c, "l").unwrap();
    assert_eq!(
        restore(&mut c, "s", 0, &l, &[]),
        "-BUSYKEY Target key name already exists."
    );
    assert_eq!(restore(&mut c, "s", 0, &l, &["REPLACE"]), "+OK");
    assert_eq!(run(&mut c, "LRANGE s 0 -1"), "[a, b, c]");
    assert_eq!(
        restore(&mut c, "s2", 0, &s, &["IDLETIME", "1000", "FREQ"]),
        "-ERR syntax error"
    );
    assert_eq!(restore(&mut c, "s2", 0, &s, &["IDLETIME", "1000"]), "+OK");
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("s2")
        .query(&mut c)
        .unwrap();
    assert!(idle >= 1000, "idle {idle}");
    assert_eq!(run(&mut c, "GET s2"), "hello");
    assert_eq!(run(&mut c, "TTL s2"), ":-1");
    // A payload whose checksum is right but whose body is not a value.
    let mut bad = vec![0x63u8, 1, 2];
    bad.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&bad);
    bad.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(restore(&mut c, "x", 0, &bad, &[]), "-ERR Bad data format");
    // A flipped bit anywhere breaks the checksum.
    let mut flipped = s.clone();
    flipped[1] ^= 0x20;
    assert_eq!(
        restore(&mut c, "x", 0, &flipped, &[]),
        "-ERR DUMP payload version or checksum are wrong"
    );
    // A newer RDB version than any known is refused.
    let mut newer = s[..s.len() - 10].to_vec();
    newer.extend_from_slice(&99u16.to_le_bytes());
    let crc = crc64(&newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        restore(&mut c, "x", 0, &newer, &[]),
        "-ERR DUMP payload version or checksum are wrong"
    );
    assert_eq!(run(&mut c, "EXISTS x"), ":0");
}

/// Redis's crc64 (Jones), written out independently of the server's for the test's own payloads.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn restore_ttls_follow_the_server_clock() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let server_now = |c: &mut redis::Connection| -> i64 {
        redis::cmd("DEBUG")
            .arg("CLOCK")
            .arg("FREEZE")
            .query(c)
            .unwrap()
    };
    let now = server_now(&mut c);
    script(&mut c, "SET k v => +OK");
    let p = dump(&mut c, "k").unwrap();
    assert_eq!(restore(&mut c, "a", 5000, &p, &[]), "+OK");
    assert_eq!(run(&mut c, "PTTL a"), ":5000");
    let at = now + 10_000;
    assert_eq!(restore(&mut c, "b", at, &p, &["ABSTTL"]), "+OK");
    assert_eq!(run(&mut c, "PEXPIRETIME b"), format!(":{at}"));
    // An absolute TTL in the past creates nothing, and REPLACE then removes the old key.
    assert_eq!(restore(&mut c, "c", now - 1, &p, &["ABSTTL"]), "+OK");
    assert_eq!(run(&mut c, "EXISTS c"), ":0");
    assert_eq!(restore(&mut c, "k", 1, &p, &["ABSTTL", "REPLACE"]), "+OK");
    assert_eq!(run(&mut c, "EXISTS k"), ":0");
    let _: () = redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("ADVANCE")
        .arg(5000)
        .query(&mut c)
        .unwrap();
    assert_eq!(run(&mut c, "EXISTS a"), ":0");
    assert_eq!(run(&mut c, "EXISTS b"), ":1");
}

#[test]
fn streams_round_trip_inside_concord() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-1 a 1 => 1-1
        XADD s 2-1 b 2 c 3 => 2-1
        XADD s 3-1 d 4 => 3-1
        XDEL s 2-1 => :1
        XGROUP CREATE s g 0 => +OK
        XREADGROUP GROUP g alice COUNT 1 STREAMS s > => [[s, [[1-1, [a, 1]]]]]
        "#,
    );
    let before: Vec<String> = [
        "XRANGE s - +",
        "XINFO STREAM s",
        "XPENDING s g",
        "XINFO GROUPS s",
    ]
    .iter()
    .map(|q| run(&mut c, q))
    .collect();
    let p = dump(&mut c, "s").unwrap();
    assert_eq!(restore(&mut c, "s", 0, &p, &["REPLACE"]), "+OK");
    let after: Vec<String> = [
        "XRANGE s - +",
        "XINFO STREAM s",
        "XPENDING s g",
        "XINFO GROUPS s",
    ]
    .iter()
    .map(|q| run(&mut c, q))
    .collect();
    assert_eq!(before, after);
}

// ---------------------------------------------------------------------------------------------------
// Interoperability with a real redis-server

/// A redis-server spawned for this test, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = match Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                println!("skipped: redis-server not runnable ({e})");
                return None;
            }
        };
        let r = Redis { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(mut c) = r.try_conn()
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return Some(r);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("skipped: redis-server did not start");
        None
    }

    fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes Redis validate restored payloads in depth (listpack and stream integrity, not just the header).
fn strict(r: &mut redis::Connection) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("sanitize-dump-payload")
        .arg("yes")
        .query(r)
        .unwrap();
}

/// Fills `c` with one key per type and size; returns the keys.
fn populate(c: &mut redis::Connection) -> Vec<String> {
    let mut p = redis::pipe();
    p.cmd("SET").arg("str:small").arg("hello");
    p.cmd("SET").arg("str:int8").arg("-12");
    p.cmd("SET").arg("str:int32").arg("123456789");
    p.cmd("SET").arg("str:int64").arg("-9223372036854775808");
    p.cmd("SET").arg("str:nonint").arg("0123");
    p.cmd("SET").arg("str:empty").arg("");
    p.cmd("SET").arg("str:lzf").arg("abcabcabc".repeat(200));
    let noisy: String = (0..3000u32)
        .map(|i| char::from(b'!' + ((i.wrapping_mul(2_654_435_761) >> 13) % 90) as u8))
        .collect();
    p.cmd("SET").arg("str:noisy").arg(&noisy);
    p.cmd("SET")
        .arg("str:binary")
        .arg(&[0u8, 255, 10, 13, 0][..]);
    p.cmd("RPUSH")
        .arg("list:small")
        .arg(&["a", "1", "-1", "1000", "-70000", "5000000000", ""]);
    let big: Vec<String> = (0..2000)
        .map(|i| format!("element-{i}-{}", "x".repeat(i % 40)))
        .collect();
    p.cmd("RPUSH").arg("list:big").arg(&big);
    p.cmd("RPUSH")
        .arg("list:longel")
        .arg(&["x".repeat(10000), "y".to_string()]);
    p.cmd("SADD")
        .arg("set:intset")
        .arg(&["1", "-5", "70000", "5000000000"]);
    p.cmd("SADD").arg("set:small").arg(&["a", "b", "1"]);
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    p.cmd("SADD").arg("set:big").arg(&members);
    let ints: Vec<String> = (0..1000).map(|i| (i * 7).to_string()).collect();
    p.cmd("SADD").arg("set:bigints").arg(&ints);
    p.cmd("HSET")
        .arg("hash:small")
        .arg(&["f", "v", "n", "12", "neg", "-3", "e", ""]);
    let fields: Vec<String> = (0..600)
        .flat_map(|i| [format!("f{i}"), format!("value {i}")])
        .collect();
    p.cmd("HSET").arg("hash:big").arg(&fields);
    p.cmd("HSET")
        .arg("hash:longval")
        .arg(&["f", &"v".repeat(100)]);
    p.cmd("ZADD")
        .arg("zset:small")
        .arg(&["1.5", "a", "-inf", "b", "3", "c", "0", "d", "1e300", "e"]);
    let zm: Vec<String> = (0..300)
        .flat_map(|i| [format!("{}", i as f64 / 3.0), format!("z{i}")])
        .collect();
    p.cmd("ZADD").arg("zset:big").arg(&zm);
    p.cmd("ZADD")
        .arg("zset:inf")
        .arg(&["inf", "x", "-0.25", "y"]);
    p.cmd("SET").arg("ttl:key").arg("v");
    p.cmd("PEXPIRE").arg("ttl:key").arg(100_000);
    p.query::<()>(c).unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    keys
}

/// A type-aware rendering of a key's contents (orderless types sorted).
fn contents(c: &mut redis::Connection, key: &str) -> String {
    let ty: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let q = |c: &mut redis::Connection, cmd: &str| -> Value {
        let mut parts = cmd.split(' ');
        let mut r = redis::cmd(parts.next().unwrap());
        for p in parts {
            r.arg(if p == "KEY" { key } else { p });
        }
        r.query(c).unwrap()
    };
    let sorted = |v: Value| -> String {
        let mut items = match v {
            Value::Array(a) | Value::Set(a) => a.iter().map(|x| render(Ok(x.clone()))).collect(),
            other => vec![render(Ok(other))],
        };
        items.sort();
        items.join(",")
    };
    match ty.as_str() {
        "string" => render(Ok(q(c, "GET KEY"))),
        "list" => render(Ok(q(c, "LRANGE KEY 0 -1"))),
        "set" => sorted(q(c, "SMEMBERS KEY")),
        "hash" => {
            let Value::Array(a) = q(c, "HGETALL KEY") else {
                panic!("hgetall")
            };
            let mut pairs: Vec<String> = a
                .chunks(2)
                .map(|p| format!("{}={}", render(Ok(p[0].clone())), render(Ok(p[1].clone()))))
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        "zset" => render(Ok(q(c, "ZRANGE KEY 0 -1 WITHSCORES"))),
        other => panic!("unexpected type {other}"),
    }
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
}

/// Moves every key from `from` to `to` with DUMP/RESTORE and checks contents, TTLs and encodings.
fn transfer_all(
    from: &mut redis::Connection,
    to: &mut redis::Connection,
    keys: &[String],
    dir: &str,
) {
    for k in keys {
        let payload = dump(from, k).unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(from).unwrap();
        let ttl = pttl.max(0);
        assert_eq!(
            restore(to, k, ttl, &payload, &["REPLACE"]),
            "+OK",
            "{dir} {k}"
        );
        assert_eq!(contents(from, k), contents(to, k), "{dir} {k}");
        let got_ttl: i64 = redis::cmd("PTTL").arg(k).query(to).unwrap();
        assert_eq!(got_ttl > 0, ttl > 0, "{dir} {k} ttl");
        let (fe, te) = (encoding(from, k), encoding(to, k));
        // Redis 7.0 has no listpack sets; Concord follows 7.2 there.
        if !k.starts_with("set:small") {
            assert_eq!(fe, te, "{dir} {k} encoding");
        }
    }
}

#[test]
fn values_dumped_by_redis_restore_into_concord() {
    let Some(redis) = Redis::start() else { return };
    let concord = support::TestServer::start();
    let mut r = redis.try_conn().unwrap();
    let mut c = concord.conn();
    let keys = populate(&mut r);
    assert!(keys.len() > 20);
    transfer_all(&mut r, &mut c, &keys, "redis->concord");
    // The whole lot again with compression off (Redis then writes every string raw).
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdbcompression")
        .arg("no")
        .query(&mut r)
        .unwrap();
    transfer_all(&mut r, &mut c, &keys, "redis->concord (rdbcompression no)");
    // Quicklist nodes kept LZF-compressed in memory (list-compress-depth) are dumped as LZF blobs.
    for (k, v) in [("list-compress-depth", "1"), ("rdbcompression", "yes")] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query(&mut r)
            .unwrap();
    }
    let _: () = redis::cmd("FLUSHALL").query(&mut r).unwrap();
    let keys = populate(&mut r);
    transfer_all(
        &mut r,
        &mut c,
        &keys,
        "redis->concord (list-compress-depth 1)",
    );
}

#[test]
fn values_dumped_by_concord_restore_into_redis() {
    let Some(redis) = Redis::start() else { return };
    let concord = support::TestServer::start();
    let mut r = redis.try_conn().unwrap();
    let mut c = concord.conn();
    // Redis checks every restored payload deeply, so Concord's must be well-formed throughout.
    strict(&mut r);
    let keys = populate(&mut c);
    transfer_all(&mut c, &mut r, &keys, "concord->redis");
    // Byte-identical payloads for the types Concord writes as Redis does.
    for k in [
        "str:small",
        "str:int8",
        "str:int32",
        "str:int64",
        "str:nonint",
        "str:binary",
    ] {
        assert_eq!(dump(&mut c, k), dump(&mut r, k), "{k}");
    }
}

/// Builds a stream with deleted entries, entries with other field names, big values, two groups
/// with pending entries and a consumer with none, in `key`.
fn populate_stream(c: &mut redis::Connection, key: &str, n: usize) {
    let mut p = redis::pipe();
    for i in 1..=n {
        let id = format!("{}-{}", 1000 + i / 3, i % 3);
        if i % 7 == 0 {
            p.cmd("XADD")
                .arg(key)
                .arg(&id)
                .arg("other")
                .arg(i)
                .arg("x")
                .arg("-17");
        } else if i % 50 == 0 {
            p.cmd("XADD")
                .arg(key)
                .arg(&id)
                .arg("f")
                .arg("v".repeat(5000))
                .arg("n")
                .arg(i);
        } else {
            p.cmd("XADD")
                .arg(key)
                .arg(&id)
                .arg("f")
                .arg(format!("v{i}"))
                .arg("n")
                .arg(i);
        }
    }
    p.cmd("XDEL").arg(key).arg("1001-0").arg("1001-1");
    p.cmd("XGROUP").arg("CREATE").arg(key).arg("g1").arg("0");
    p.cmd("XGROUP").arg("CREATE").arg(key).arg("g2").arg("$");
    p.cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(key)
        .arg("g1")
        .arg("idle");
    p.cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g1")
        .arg("alice")
        .arg("COUNT")
        .arg(3)
        .arg("STREAMS")
        .arg(key)
        .arg(">");
    p.cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g1")
        .arg("bob")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg(key)
        .arg(">");
    p.cmd("XACK").arg(key).arg("g1").arg("1000-1");
    p.query::<()>(c).unwrap();
}

/// What must survive a stream's DUMP/RESTORE (node layout and idle times aside).
fn stream_state(c: &mut redis::Connection, key: &str) -> Vec<String> {
    let info = |c: &mut redis::Connection, field: &str| -> String {
        let v: Value = redis::cmd("XINFO").arg("STREAM").arg(key).query(c).unwrap();
        let Value::Array(a) = v else { panic!("xinfo") };
        let i = a
            .iter()
            .position(|x| render(Ok(x.clone())) == field)
            .unwrap_or_else(|| panic!("no {field}"));
        render(Ok(a[i + 1].clone()))
    };
    let mut out = vec![
        run(c, &format!("XRANGE {key} - +")),
        run(c, &format!("XLEN {key}")),
    ];
    for f in [
        "last-generated-id",
        "max-deleted-entry-id",
        "entries-added",
        "recorded-first-entry-id",
        "groups",
    ] {
        out.push(format!("{f}={}", info(c, f)));
    }
    out.push(run(c, &format!("XINFO GROUPS {key}")));
    for g in ["g1", "g2"] {
        let v: Value = redis::cmd("XPENDING")
            .arg(key)
            .arg(g)
            .arg("-")
            .arg("+")
            .arg(100)
            .query(c)
            .unwrap();
        // id, consumer, (idle time dropped), delivery count
        if let Value::Array(rows) = v {
            for r in rows {
                if let Value::Array(f) = r {
                    out.push(format!(
                        "{g} {} {} {}",
                        render(Ok(f[0].clone())),
                        render(Ok(f[1].clone())),
                        render(Ok(f[3].clone()))
                    ));
                }
            }
        }
        let v: Value = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(key)
            .arg(g)
            .query(c)
            .unwrap();
        if let Value::Array(rows) = v {
            for r in rows {
                if let Value::Array(f) = r {
                    // name and pending count
                    out.push(format!(
                        "{g} consumer {} {}",
                        render(Ok(f[1].clone())),
                        render(Ok(f[3].clone()))
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn streams_move_between_redis_and_concord() {
    let Some(redis) = Redis::start() else { return };
    let concord = support::TestServer::start();
    let mut r = redis.try_conn().unwrap();
    let mut c = concord.conn();
    // Redis checks every restored payload deeply, so Concord's must be well-formed throughout.
    strict(&mut r);
    for (n, key) in [(5, "s:small"), (400, "s:big")] {
        // Redis -> Concord
        populate_stream(&mut r, key, n);
        let p = dump(&mut r, key).unwrap();
        assert_eq!(restore(&mut c, key, 0, &p, &[]), "+OK", "{key}");
        assert_eq!(
            stream_state(&mut r, key),
            stream_state(&mut c, key),
            "{key} redis->concord"
        );
        // Concord -> Redis (a fresh copy under another name on both sides)
        let p = dump(&mut c, key).unwrap();
        let copy = format!("{key}:copy");
        assert_eq!(restore(&mut r, &copy, 0, &p, &[]), "+OK", "{key}");
        assert_eq!(
            stream_state(&mut c, key).len(),
            stream_state(&mut r, &copy).len()
        );
        assert_eq!(
            stream_state(&mut c, key)
                .iter()
                .map(|l| l.replace(&copy, key))
                .collect::<Vec<_>>(),
            stream_state(&mut r, &copy)
                .iter()
                .map(|l| l.replace(&copy, key))
                .collect::<Vec<_>>(),
            "{key} concord->redis"
        );
        // The restored copy keeps working in Redis: new entries, reads and acks.
        let id: String = redis::cmd("XADD")
            .arg(&copy)
            .arg("*")
            .arg("a")
            .arg("b")
            .query(&mut r)
            .unwrap();
        assert!(!id.is_empty());
        script(&mut r, &format!("XACK {copy} g1 1000-2 => :1"));
    }
    // An empty stream (all entries deleted) with its counters.
    script(
        &mut c,
        "XADD e 5-1 a b => 5-1\nXDEL e 5-1 => :1\nXGROUP CREATE e g1 0 => +OK\nXGROUP CREATE e g2 $ => +OK",
    );
    let p = dump(&mut c, "e").unwrap();
    assert_eq!(restore(&mut r, "e", 0, &p, &[]), "+OK");
    assert_eq!(stream_state(&mut c, "e"), stream_state(&mut r, "e"));
}

/// Waits until `n` clients are blocked.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let start = Instant::now();
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn restore_serves_clients_blocked_on_the_key() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        "RPUSH src a b => :2\nXADD ssrc 1-1 f v => 1-1\nZADD zsrc 1 m => :1",
    );
    let list = dump(&mut c, "src").unwrap();
    let stream = dump(&mut c, "ssrc").unwrap();
    let zset = dump(&mut c, "zsrc").unwrap();
    let port = t.port();
    let waiter = move |cmd: &'static str| {
        std::thread::spawn(move || {
            let mut w = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            run(&mut w, cmd)
        })
    };
    let a = waiter("BLPOP l 10");
    let b = waiter("XREAD BLOCK 10000 STREAMS s 0-0");
    let z = waiter("BZPOPMIN z 10");
    wait_blocked(&mut c, 3);
    assert_eq!(restore(&mut c, "l", 0, &list, &[]), "+OK");
    assert_eq!(restore(&mut c, "s", 0, &stream, &[]), "+OK");
    assert_eq!(restore(&mut c, "z", 0, &zset, &[]), "+OK");
    assert_eq!(a.join().unwrap(), "[l, a]");
    assert_eq!(b.join().unwrap(), "[[s, [[1-1, [f, v]]]]]");
    assert_eq!(z.join().unwrap(), "[z, m, 1]");
}

#[test]
fn restore_sends_a_restore_event() {
    let t = Target::start();
    let mut c = t.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut c)
        .unwrap();
    script(&mut c, "SET k v => +OK");
    let p = dump(&mut c, "k").unwrap();
    let mut sub = t.conn();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").unwrap();
    assert_eq!(restore(&mut c, "r", 0, &p, &[]), "+OK");
    assert_eq!(restore(&mut c, "r", 1, &p, &["ABSTTL", "REPLACE"]), "+OK");
    script(&mut c, "SET end x => +OK");
    let mut got = Vec::new();
    while got.len() < 3 {
        let m = ps.get_message().unwrap();
        let ch: String = m.get_channel().unwrap();
        let key: String = m.get_payload().unwrap();
        got.push(format!(
            "{} {key}",
            ch.trim_start_matches("__keyevent@0__:")
        ));
    }
    assert_eq!(got, ["restore r", "del r", "set end"]);
}
