//! Replay conformance: a random stream of writes runs against one server while its effect log records;
//! replaying the records on an empty server must give the same keys, values, expiries, per-key versions
//! and revisions, and the same global revision. This is the suite the AOF passes today and the Raft log
//! will pass later (the apply-path seam). It runs in-process on purpose: what it checks is the apply path,
//! not the network.

mod replay_support;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use concord::commands::{execute, expire_due};
use concord::protocol::{ReplyBuf, Resp};
use replay_support::{assert_same_state, client, new_server, replay_all};

fn random_command(rng: &mut StdRng) -> Vec<String> {
    let key = |rng: &mut StdRng| format!("k{}", rng.random_range(0..12));
    let val = |rng: &mut StdRng| match rng.random_range(0..3) {
        0 => rng.random_range(-5..50).to_string(),
        1 => format!("v{}", rng.random_range(0..100)),
        _ => "x".repeat(rng.random_range(0..40)),
    };
    let k = key(rng);
    let pick = rng.random_range(0..78);
    let v: Vec<String> = match pick {
        0 => vec!["SET".into(), k, val(rng)],
        1 => vec![
            "SET".into(),
            k,
            val(rng),
            "PX".into(),
            rng.random_range(1..2000).to_string(),
        ],
        2 => vec![
            "SET".into(),
            k,
            val(rng),
            "NX".into(),
            "EX".into(),
            "1".into(),
        ],
        3 => vec![
            "SET".into(),
            k,
            val(rng),
            "XX".into(),
            "KEEPTTL".into(),
            "GET".into(),
        ],
        4 => vec!["DEL".into(), k, key(rng)],
        5 => vec!["INCR".into(), k],
        6 => vec!["INCRBY".into(), k, rng.random_range(-100..100).to_string()],
        7 => vec!["INCRBYFLOAT".into(), k, "1.5".into()],
        8 => vec!["APPEND".into(), k, val(rng)],
        9 => vec![
            "SETRANGE".into(),
            k,
            rng.random_range(0..10).to_string(),
            val(rng),
        ],
        10 => vec!["PEXPIRE".into(), k, rng.random_range(-10..3000).to_string()],
        11 => vec!["EXPIRE".into(), k, "2".into(), "GT".into()],
        12 => vec!["PERSIST".into(), k],
        13 => vec![
            "GETEX".into(),
            k,
            "PX".into(),
            rng.random_range(1..500).to_string(),
        ],
        14 => vec!["GETEX".into(), k, "PERSIST".into()],
        15 => vec!["GETDEL".into(), k],
        16 => vec!["RENAME".into(), k, key(rng)],
        17 => vec!["RENAMENX".into(), k, key(rng)],
        18 => vec![
            "COPY".into(),
            k,
            key(rng),
            "DB".into(),
            rng.random_range(0..3).to_string(),
            "REPLACE".into(),
        ],
        19 => vec!["MOVE".into(), k, rng.random_range(0..3).to_string()],
        20 => vec!["MSET".into(), k, val(rng), key(rng), val(rng)],
        21 => vec!["MSETNX".into(), k, val(rng), key(rng), val(rng)],
        22 => vec!["DELIFEQ".into(), k, val(rng)],
        23 => vec!["DELEX".into(), k, "IFNE".into(), val(rng)],
        24 => vec!["SETEX".into(), k, "1".into(), val(rng)],
        25..=40 => {
            let k2 = key(rng);
            hash_set_command(rng, k, k2)
        }
        42..=49 => {
            let k2 = key(rng);
            zset_command(rng, k, k2)
        }
        50..=57 => {
            let k2 = key(rng);
            list_command(rng, k, k2)
        }
        58..=69 => stream_command(rng, k),
        70..=77 => {
            let k2 = key(rng);
            bitmap_hll_command(rng, k, k2)
        }
        _ => vec![
            "SWAPDB".into(),
            rng.random_range(0..3).to_string(),
            rng.random_range(0..3).to_string(),
        ],
    };
    v
}

/// Bitmap and HyperLogLog writes, including PFCOUNT (which stores its estimate in the value's header).
fn bitmap_hll_command(rng: &mut StdRng, k: String, k2: String) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let off = rng.random_range(0..40).to_string();
    let el = |rng: &mut StdRng| format!("e{}", rng.random_range(0..50));
    match rng.random_range(0..8) {
        0 => s(&["SETBIT", &k, &off, &rng.random_range(0..2).to_string()]),
        1 => s(&[
            "BITFIELD", &k, "SET", "i5", &off, "3", "INCRBY", "u4", "#2", "7",
        ]),
        2 => s(&[
            "BITFIELD", &k, "OVERFLOW", "FAIL", "INCRBY", "u2", &off, "3",
        ]),
        3 => s(&[
            "BITOP",
            ["AND", "OR", "XOR"][rng.random_range(0..3)],
            &k2,
            &k,
            &k2,
        ]),
        4 => s(&["BITOP", "NOT", &k2, &k]),
        5 => s(&["PFADD", &k, &el(rng), &el(rng), &el(rng)]),
        6 => s(&["PFCOUNT", &k]),
        _ => s(&["PFMERGE", &k2, &k]),
    }
}

/// Sorted-set writes, including ZMPOP (logged as ZPOPMIN/ZPOPMAX) and the STORE commands.
fn zset_command(rng: &mut StdRng, k: String, k2: String) -> Vec<String> {
    let member = |rng: &mut StdRng| match rng.random_range(0..3) {
        0 => rng.random_range(-3..20).to_string(),
        1 => format!("m{}", rng.random_range(0..20)),
        _ => "z".repeat(rng.random_range(60..70)),
    };
    let score = |rng: &mut StdRng| match rng.random_range(0..4) {
        0 => "0.1".to_string(),
        1 => "-inf".to_string(),
        _ => rng.random_range(-5..5).to_string(),
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    match rng.random_range(0..12) {
        0 | 1 => s(&[
            "ZADD",
            &k,
            &score(rng),
            &member(rng),
            &score(rng),
            &member(rng),
        ]),
        2 => s(&["ZADD", &k, "GT", "CH", &score(rng), &member(rng)]),
        3 => s(&["ZINCRBY", &k, "1.5", &member(rng)]),
        4 => s(&["ZREM", &k, &member(rng), &member(rng)]),
        5 => s(&["ZPOPMIN", &k, &rng.random_range(0..3).to_string()]),
        6 => s(&["ZMPOP", "2", &k, &k2, "MAX", "COUNT", "2"]),
        7 => s(&["ZREMRANGEBYSCORE", &k, "-inf", "(0"]),
        8 => s(&["ZUNIONSTORE", &k2, "2", &k, &k2, "WEIGHTS", "2", "1"]),
        9 => s(&["ZINTERSTORE", &k, "2", &k, &k2, "AGGREGATE", "MAX"]),
        10 => s(&["ZRANGESTORE", &k2, &k, "0", "2"]),
        _ => s(&["ZDIFFSTORE", &k, "2", &k2, &k]),
    }
}

/// Hash and set writes, including the ones logged in a rewritten form (HINCRBYFLOAT as HSET, SPOP as SREM
/// or DEL) and the multi-key ones.
fn hash_set_command(rng: &mut StdRng, k: String, k2: String) -> Vec<String> {
    let field = |rng: &mut StdRng| format!("f{}", rng.random_range(0..6));
    let member = |rng: &mut StdRng| match rng.random_range(0..3) {
        0 => rng.random_range(-3..20).to_string(),
        1 => format!("m{}", rng.random_range(0..20)),
        _ => "y".repeat(rng.random_range(60..70)),
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let mut v = match rng.random_range(0..14) {
        0 => s(&[
            "HSET",
            &k,
            &field(rng),
            &member(rng),
            &field(rng),
            &member(rng),
        ]),
        1 => s(&["HSETNX", &k, &field(rng), &member(rng)]),
        2 => s(&["HDEL", &k, &field(rng), &field(rng)]),
        3 => s(&["HINCRBY", &k, &field(rng), "3"]),
        4 => s(&["HINCRBYFLOAT", &k, &field(rng), "0.1"]),
        5 => s(&["HMSET", &k, &field(rng), &member(rng)]),
        6 => s(&["SREM", &k, &member(rng), &member(rng)]),
        7 => s(&["SPOP", &k]),
        8 => s(&["SPOP", &k, &rng.random_range(0..4).to_string()]),
        9 => s(&["SMOVE", &k, &k2, &member(rng)]),
        10 => s(&["SINTERSTORE", &k, &k2, &k]),
        11 => s(&["SUNIONSTORE", &k, &k2, &k]),
        12 => s(&["SDIFFSTORE", &k2, &k, &k2]),
        _ => s(&["SADD", &k]),
    };
    if v[0] == "SADD" {
        for _ in 0..rng.random_range(1..5) {
            v.push(member(rng));
        }
    }
    v
}

/// List writes: pushes, pops with counts, the two-key moves, LMPOP (logged as LPOP/RPOP key n) and
/// SORT ... STORE (logged as DEL + RPUSH).
fn list_command(rng: &mut StdRng, k: String, k2: String) -> Vec<String> {
    let elem = |rng: &mut StdRng| match rng.random_range(0..3) {
        0 => rng.random_range(-3..10).to_string(),
        1 => format!("e{}", rng.random_range(0..8)),
        _ => "z".repeat(rng.random_range(20..30)),
    };
    let end = |rng: &mut StdRng| {
        if rng.random_bool(0.5) {
            "LEFT"
        } else {
            "RIGHT"
        }
    };
    let n = |rng: &mut StdRng, lo: i64, hi: i64| rng.random_range(lo..hi).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    match rng.random_range(0..16) {
        0 => s(&["LPUSH", &k, &elem(rng), &elem(rng)]),
        1 => s(&["RPUSH", &k, &elem(rng), &elem(rng), &elem(rng)]),
        2 => s(&["RPUSHX", &k, &elem(rng)]),
        3 => s(&["LPOP", &k]),
        4 => s(&["RPOP", &k, &n(rng, 0, 4)]),
        5 => s(&["LSET", &k, &n(rng, -4, 4), &elem(rng)]),
        6 => s(&["LINSERT", &k, "BEFORE", &elem(rng), &elem(rng)]),
        7 => s(&["LREM", &k, &n(rng, -2, 3), &elem(rng)]),
        8 => s(&["LTRIM", &k, &n(rng, -3, 3), &n(rng, -3, 3)]),
        9 => s(&["LMOVE", &k, &k2, end(rng), end(rng)]),
        10 => s(&["RPOPLPUSH", &k, &k2]),
        11 => s(&["LMPOP", "2", &k, &k2, end(rng), "COUNT", &n(rng, 1, 4)]),
        12 => s(&["LPUSHX", &k, &elem(rng)]),
        13 => s(&[
            "SORT",
            &k,
            "ALPHA",
            "DESC",
            "LIMIT",
            "0",
            &n(rng, 0, 5),
            "STORE",
            &k2,
        ]),
        14 => s(&["SORT", &k, "BY", "nosort", "STORE", &k2]),
        _ => s(&["RPUSH", &k, &elem(rng)]),
    }
}

/// Stream writes: XADD with generated and partial IDs and trimming (logged with the ID and the exact
/// threshold), XDEL/XTRIM, and consumer groups: deliveries, history reads, claims and autoclaims whose
/// timing-dependent effects are logged as XCLAIM ... TIME / XGROUP SETID ... ENTRIESREAD.
fn stream_command(rng: &mut StdRng, k: String) -> Vec<String> {
    let n = |rng: &mut StdRng, lo: i64, hi: i64| rng.random_range(lo..hi).to_string();
    let id = |rng: &mut StdRng| format!("{}-{}", rng.random_range(0..6), rng.random_range(0..3));
    let group = |rng: &mut StdRng| format!("g{}", rng.random_range(0..2));
    let consumer = |rng: &mut StdRng| format!("c{}", rng.random_range(0..3));
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    match rng.random_range(0..20) {
        0 | 1 => s(&["XADD", &k, "*", "f", &n(rng, 0, 9)]),
        2 => s(&[
            "XADD",
            &k,
            "MAXLEN",
            "~",
            &n(rng, 0, 5),
            "*",
            "a",
            "1",
            "b",
            "2",
        ]),
        3 => s(&["XADD", &k, "MAXLEN", &n(rng, 0, 5), "*", "f", "v"]),
        4 => s(&[
            "XADD",
            &k,
            "NOMKSTREAM",
            &format!("{}-*", n(rng, 0, 6)),
            "f",
            "v",
        ]),
        5 => s(&["XADD", &k, &id(rng), "x", "y"]),
        6 => s(&["XDEL", &k, &id(rng), &id(rng)]),
        7 => s(&["XTRIM", &k, "MINID", "~", &id(rng)]),
        8 => s(&["XTRIM", &k, "MAXLEN", &n(rng, 0, 4)]),
        9 => s(&["XGROUP", "CREATE", &k, &group(rng), "0", "MKSTREAM"]),
        10 => s(&["XGROUP", "CREATE", &k, &group(rng), "$"]),
        11 | 12 => s(&[
            "XREADGROUP",
            "GROUP",
            &group(rng),
            &consumer(rng),
            "COUNT",
            &n(rng, 1, 4),
            "STREAMS",
            &k,
            ">",
        ]),
        13 => s(&[
            "XREADGROUP",
            "GROUP",
            &group(rng),
            &consumer(rng),
            "NOACK",
            "STREAMS",
            &k,
            ">",
        ]),
        14 => s(&[
            "XREADGROUP",
            "GROUP",
            &group(rng),
            &consumer(rng),
            "STREAMS",
            &k,
            "0",
        ]),
        15 => s(&["XACK", &k, &group(rng), &id(rng), &id(rng)]),
        16 => {
            let mut v = s(&["XCLAIM", &k, &group(rng), &consumer(rng), &n(rng, 0, 400)]);
            v.extend([id(rng), id(rng), "IDLE".to_string(), n(rng, 0, 100)]);
            v
        }
        17 => s(&[
            "XAUTOCLAIM",
            &k,
            &group(rng),
            &consumer(rng),
            &n(rng, 0, 400),
            "0",
            "COUNT",
            "2",
        ]),
        18 => s(&["XGROUP", "DELCONSUMER", &k, &group(rng), &consumer(rng)]),
        _ => s(&["XGROUP", "SETID", &k, &group(rng), "0"]),
    }
}

fn run_stream(seed: u64, steps: usize) {
    run_stream_with(seed, steps, random_command);
}

/// Stream commands only, on three keys, so groups see many deliveries, claims and trims.
fn random_stream_command(rng: &mut StdRng) -> Vec<String> {
    let k = format!("s{}", rng.random_range(0..3));
    stream_command(rng, k)
}

fn run_stream_with(seed: u64, steps: usize, generate: fn(&mut StdRng) -> Vec<String>) {
    let original = new_server();
    replay_support::record(&original);
    let mut client = client();
    let mut out = ReplyBuf::new(Resp::V2);
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..steps {
        if rng.random_range(0..10) == 0 {
            client.db = rng.random_range(0..3);
        }
        let argv: Vec<Bytes> = generate(&mut rng).into_iter().map(Bytes::from).collect();
        execute(&original, &mut client, &mut out, &argv);
        out.buf.clear();
        original.clock.advance(rng.random_range(0..300));
        if rng.random_range(0..4) == 0 {
            expire_due(&original);
        }
    }
    let log = replay_support::units(&original);
    assert!(!log.is_empty());

    let copy = replay_all(&log);
    assert_same_state(&original, &copy, &format!("seed {seed}"));
}

#[test]
fn replaying_the_effect_log_reproduces_state_and_revision() {
    for seed in 0..40 {
        run_stream(seed, 400);
    }
}

#[test]
fn replaying_stream_writes_reproduces_groups_and_pending_lists() {
    for seed in 0..30 {
        run_stream_with(seed, 400, random_stream_command);
    }
}

#[test]
fn every_logged_write_has_a_distinct_increasing_revision_unless_it_shares_a_unit() {
    let server = new_server();
    replay_support::record(&server);
    let mut client = client();
    let mut out = ReplyBuf::new(Resp::V2);
    for cmd in [
        &["SET", "a", "1"][..],
        &["SET", "a", "1", "NX"],
        &["DEL", "missing"],
        &["MSET", "b", "2", "c", "3"],
        &["SET", "d", "4", "EX", "10"],
    ] {
        let argv: Vec<Bytes> = cmd.iter().map(|s| Bytes::from(s.to_string())).collect();
        execute(&server, &mut client, &mut out, &argv);
    }
    let log = replay_support::units(&server);
    let revs: Vec<u64> = log.iter().map(|u| u.revision).collect();
    // SET a, MSET (one unit), SET d: the no-op SET NX and DEL of a missing key take no revision.
    assert_eq!(revs, vec![1, 2, 3]);
    assert_eq!(server.keyspace.revision(), 3);
    let text: Vec<String> = log[2].records[0]
        .argv
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(text[..3], ["SET", "d", "4"]);
    assert_eq!(text[3], "PXAT");
    assert_eq!(text[4], (log[2].now_ms + 10_000).to_string());
}
