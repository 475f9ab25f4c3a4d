//! Differential test: thousands of random sorted-set commands (every option, bad arguments, mixed
//! encodings, -0 and infinite scores, set algebra over sets and sorted sets) sent to Concord and to a real
//! `redis-server`, whose replies must match byte for byte, in RESP2 and RESP3 and with tiny listpack
//! limits. Skipped (with a note) when `redis-server` is not installed. Left out on purpose: ZSCAN (a
//! skiplist's order is Redis's hash order) and ZRANDMEMBER with a count (random), and lex ranges over
//! mixed scores (unspecified in Redis); lex commands use a key whose scores are all 0.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use support::TestServer;

/// A redis-server on a free port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis { child, port };
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A raw RESP connection.
struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    fn open(port: u16, proto: u8) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut raw = Raw {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        raw.query(&["HELLO", &proto.to_string()]);
        raw
    }

    fn query<S: AsRef<str>>(&mut self, args: &[S]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.w.write_all(&out).unwrap();
        let mut reply = Vec::new();
        self.read_one(&mut reply);
        reply
    }

    fn read_one(&mut self, out: &mut Vec<u8>) {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        out.extend_from_slice(&line);
        let kind = line.first().copied().unwrap_or(b'-');
        let n: i64 = std::str::from_utf8(&line[1..line.len().saturating_sub(2)])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match kind {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut body).unwrap();
                out.extend_from_slice(&body);
            }
            b'*' | b'~' | b'>' | b'%' if n > 0 => {
                let k = if kind == b'%' { 2 * n } else { n };
                for _ in 0..k {
                    self.read_one(out);
                }
            }
            _ => {}
        }
    }
}

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

const KEYS: [&str; 4] = ["z1{t}", "z2{t}", "z3{t}", "s{t}"];

fn gen_command(rng: &mut StdRng) -> Vec<String> {
    let long = "x".repeat(70);
    let mems: Vec<&str> = vec![
        "a", "b", "c", "d", "e", "f", "g", "h", "aa", "ab", "", "1", "10", &long,
    ];
    let mem = |rng: &mut StdRng| mems[rng.random_range(0..mems.len())].to_string();
    let score = |rng: &mut StdRng| {
        pick(
            rng,
            &[
                "0", "1", "-1", "2.5", "0.1", "1e300", "-inf", "+inf", "inf", "(1", "3", "-0",
                "1e-5", "nan", "abc", "7", "100", "1.5e3",
            ],
        )
        .to_string()
    };
    let range = |rng: &mut StdRng| {
        pick(
            rng,
            &[
                "-inf", "+inf", "0", "1", "(1", "(2.5", "3", "-1", "(0", "5", "x", "nan", "",
            ],
        )
        .to_string()
    };
    let lex = |rng: &mut StdRng| {
        pick(
            rng,
            &[
                "-", "+", "[a", "(a", "[b", "(c", "[d", "[", "(", "x", "[aa", "(h",
            ],
        )
        .to_string()
    };
    let idx = |rng: &mut StdRng| rng.random_range(-8..=8).to_string();
    let zkey = |rng: &mut StdRng| KEYS[rng.random_range(0..3)].to_string();
    let any_key = |rng: &mut StdRng| KEYS[rng.random_range(0..4)].to_string();
    let k = zkey(rng);
    let mut v: Vec<String> = Vec::new();
    macro_rules! push {
        ($($e:expr),* $(,)?) => {{ $( v.push($e.to_string()); )* }};
    }
    match rng.random_range(0..36) {
        0..=5 => {
            push!("ZADD", k);
            for o in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                if rng.random_range(0..8) == 0 {
                    push!(o);
                }
            }
            for _ in 0..rng.random_range(1..4) {
                push!(score(rng), mem(rng));
            }
            if rng.random_range(0..20) == 0 {
                push!(score(rng));
            }
        }
        6 => push!("ZINCRBY", k, score(rng), mem(rng)),
        7 => push!("ZREM", k, mem(rng), mem(rng)),
        8 => push!("ZSCORE", k, mem(rng)),
        9 => push!("ZMSCORE", k, mem(rng), mem(rng)),
        10 => push!("ZCARD", k),
        11 => push!("ZCOUNT", k, range(rng), range(rng)),
        12 => push!("ZLEXCOUNT", "lx{t}", lex(rng), lex(rng)),
        13 => push!(
            "ZADD",
            "lx{t}",
            pick(rng, &["0", "-0"]),
            mem(rng),
            "0",
            mem(rng)
        ),
        14 => {
            push!("ZRANGE", k, idx(rng), idx(rng));
            for o in ["REV", "WITHSCORES"] {
                if rng.random_range(0..2) == 0 {
                    push!(o);
                }
            }
        }
        15 => {
            push!("ZRANGE", k, range(rng), range(rng), "BYSCORE");
            match rng.random_range(0..4) {
                0 => push!("REV"),
                1 => push!("LIMIT", idx(rng), idx(rng)),
                2 => push!("WITHSCORES", "LIMIT", idx(rng), idx(rng)),
                _ => {}
            }
        }
        16 => {
            push!("ZRANGE", "lx{t}", lex(rng), lex(rng), "BYLEX");
            match rng.random_range(0..4) {
                0 => push!("REV"),
                1 => push!("LIMIT", idx(rng), idx(rng)),
                2 => push!("REV", "LIMIT", idx(rng), idx(rng)),
                _ => {}
            }
        }
        17 => {
            let c = pick(rng, &["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
            push!(c, k, range(rng), range(rng));
            match rng.random_range(0..3) {
                0 => push!("WITHSCORES"),
                1 => push!("LIMIT", idx(rng), idx(rng)),
                _ => {}
            }
        }
        18 => {
            let c = pick(rng, &["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
            push!(c, "lx{t}", lex(rng), lex(rng));
            if rng.random_range(0..2) == 0 {
                push!("LIMIT", idx(rng), idx(rng));
            }
        }
        19 => {
            push!("ZREVRANGE", k, idx(rng), idx(rng));
            if rng.random_range(0..2) == 0 {
                push!("WITHSCORES");
            }
        }
        20 => push!(pick(rng, &["ZRANK", "ZREVRANK"]), k, mem(rng)),
        21 => push!("ZREMRANGEBYRANK", k, idx(rng), idx(rng)),
        22 => push!("ZREMRANGEBYSCORE", k, range(rng), range(rng)),
        23 => push!("ZREMRANGEBYLEX", "lx{t}", lex(rng), lex(rng)),
        24 => {
            push!(pick(rng, &["ZPOPMIN", "ZPOPMAX"]), k);
            if rng.random_range(0..2) == 0 {
                push!(idx(rng));
            }
        }
        25 => {
            push!("ZMPOP", "2", k, zkey(rng), pick(rng, &["MIN", "MAX"]));
            if rng.random_range(0..2) == 0 {
                push!("COUNT", idx(rng));
            }
        }
        26 | 27 => {
            let store = rng.random_range(0..2) == 0;
            let op = pick(rng, &["UNION", "INTER", "DIFF"]);
            if store {
                push!(format!("Z{op}STORE"), zkey(rng));
            } else {
                push!(format!("Z{op}"));
            }
            push!("2", k, any_key(rng));
            match rng.random_range(0..3) {
                0 => push!("WEIGHTS", score(rng), score(rng)),
                1 => push!("AGGREGATE", pick(rng, &["MIN", "MAX", "SUM", "AVG"])),
                _ => {}
            }
            if !store && rng.random_range(0..2) == 0 {
                push!("WITHSCORES");
            }
        }
        28 => {
            push!("ZINTERCARD", "2", k, any_key(rng));
            if rng.random_range(0..2) == 0 {
                push!("LIMIT", idx(rng));
            }
        }
        29 => {
            push!(
                "ZRANGESTORE",
                zkey(rng),
                k,
                range(rng),
                range(rng),
                "BYSCORE"
            );
            match rng.random_range(0..3) {
                0 => push!("REV"),
                1 => push!("LIMIT", idx(rng), idx(rng)),
                _ => {}
            }
        }
        30 => push!("ZRANGESTORE", zkey(rng), k, idx(rng), idx(rng)),
        31 => push!("SADD", "s{t}", mem(rng)),
        32 => push!("OBJECT", "ENCODING", k),
        33 => push!("ZRANDMEMBER", k, pick(rng, &["0", "-0", "x"])),
        34 => push!("ZMSCORE", "lx{t}", mem(rng), mem(rng)),
        _ => push!("TYPE", k),
    }
    v
}

fn run(seed: u64, proto: u8, steps: usize, limits: Option<(&str, &str)>) {
    let Some(redis) = start_redis() else {
        eprintln!("redis-server not available: differential test skipped");
        return;
    };
    let concord = TestServer::start();
    let mut a = Raw::open(concord.port, proto);
    let mut b = Raw::open(redis.port, proto);
    if let Some((entries, value)) = limits {
        for c in [&mut a, &mut b] {
            c.query(&["CONFIG", "SET", "zset-max-listpack-entries", entries]);
            c.query(&["CONFIG", "SET", "zset-max-listpack-value", value]);
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..steps {
        let cmd = gen_command(&mut rng);
        let got = a.query(&cmd);
        let want = b.query(&cmd);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "seed {seed} step {step}: {cmd:?}"
        );
    }
}

#[test]
fn random_commands_match_redis_in_resp2() {
    run(1, 2, 4000, None);
}

#[test]
fn random_commands_match_redis_in_resp3() {
    run(2, 3, 4000, None);
}

#[test]
fn random_commands_match_redis_with_tiny_listpack_limits() {
    run(3, 2, 4000, Some(("4", "2")));
}
