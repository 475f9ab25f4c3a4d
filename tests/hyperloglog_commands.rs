//! HyperLogLog commands over TCP (PFADD, PFCOUNT, PFMERGE): replies, byte-exact errors, the stored string
//! layout (Redis's: header cache, sparse and dense encodings), revisions and estimate accuracy. The
//! scripts were checked against redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT` (see
//! tests/strings_script/mod.rs); revision checks are Concord-only.

mod strings_script;
mod support;

use strings_script::{Target, run, script};

#[test]
fn pfadd_pfcount_pfmerge_replies() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        PFCOUNT missing => :0
        PFADD h => :1
        EXISTS h => :1
        PFADD h => :0
        PFCOUNT h => :0
        PFADD h a b c => :1
        PFADD h a b c => :0
        PFADD h "" => :1
        PFCOUNT h => :4
        PFADD h2 c d e => :1
        PFCOUNT h h2 => :6
        PFCOUNT h h2 missing => :6
        PFMERGE m h h2 => +OK
        PFCOUNT m => :6
        PFMERGE m => +OK
        PFCOUNT m => :6
        PFMERGE fresh => +OK
        PFCOUNT fresh => :0
        PFMERGE m2 missing => +OK
        EXISTS m2 => :1
        PFADD => -ERR wrong number of arguments for 'pfadd' command
        PFCOUNT => -ERR wrong number of arguments for 'pfcount' command
        PFMERGE => -ERR wrong number of arguments for 'pfmerge' command
        "#,
    );
}

#[test]
fn pfcommands_reject_other_types_and_non_hll_strings() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET s foo => +OK
        LPUSH l a => :1
        PFADD h a => :1
        PFADD s a => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFCOUNT s => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFCOUNT h s => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFMERGE h s => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFMERGE s h => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFADD l a => -WRONGTYPE Operation against a key holding the wrong kind of value
        PFCOUNT l => -WRONGTYPE Operation against a key holding the wrong kind of value
        PFCOUNT h l => -WRONGTYPE Operation against a key holding the wrong kind of value
        PFMERGE h l => -WRONGTYPE Operation against a key holding the wrong kind of value
        SET n 12345678901234567 => +OK
        PFCOUNT n => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFADD c a b c => :1
        APPEND c hello => :32
        PFCOUNT c => -INVALIDOBJ Corrupted HLL object detected
        PFADD d a b c => :1
        SETRANGE d 0 0123 => :27
        PFCOUNT d => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFADD e a b c => :1
        SETRANGE e 4 x => :27
        PFCOUNT e => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFADD f a b c => :1
        SETRANGE f 4 "\x00" => :27
        PFCOUNT f => -WRONGTYPE Key is not a valid HyperLogLog string value.
        "#,
    );
}

#[test]
fn hll_is_a_string_in_redis_layout() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        PFADD h a b c => :1
        TYPE h => +string
        GET h => "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"
        PFCOUNT h => :3
        GETRANGE h 8 15 => "\x03\x00\x00\x00\x00\x00\x00\x00"
        PFADD h a b c => :0
        GETRANGE h 15 15 => "\x00"
        PFADD h 1 2 3 => :1
        GETRANGE h 15 15 => "\x80"
        COPY h h2 => :1
        PFCOUNT h2 => :6
        SET h3 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ" => +OK
        PFCOUNT h3 => :3
        PFADD h3 d => :1
        PFCOUNT h3 => :4
        DEL h h2 h3 => :3
        "#,
    );
}

#[test]
fn sparse_turns_dense_past_the_configured_size() {
    let t = Target::start();
    let mut c = t.conn();
    let mut add = |key: &str, from: u32, to: u32| -> i64 {
        let mut cmd = redis::cmd("PFADD");
        cmd.arg(key);
        for i in from..to {
            cmd.arg(format!("e{i}"));
        }
        cmd.query(&mut c).unwrap()
    };
    assert_eq!(add("h", 0, 200), 1);
    assert_eq!(add("d", 0, 200), 1);
    let mut c = t.conn();
    let len: usize = redis::cmd("STRLEN").arg("h").query(&mut c).unwrap();
    assert!(len < 3000, "200 elements stay sparse: {len}");
    script(
        &mut c,
        r#"
        CONFIG SET hll-sparse-max-bytes 100 => +OK
        PFADD d x => :1
        STRLEN d => :12304
        PFCOUNT d => :201
        PFMERGE h2 h => +OK
        PFMERGE h3 d h => +OK
        STRLEN h3 => :12304
        PFCOUNT h3 => :201
        CONFIG SET hll-sparse-max-bytes 3000 => +OK
        "#,
    );
}

#[test]
fn resp3_types_of_hll_replies() {
    let t = Target::start();
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", t.port())).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"HELLO 3\r\nPFADD h a b\r\nPFCOUNT h\r\nPFMERGE m h\r\nPFCOUNT nope\r\n")
        .unwrap();
    let tail = b":1\r\n:2\r\n+OK\r\n:0\r\n";
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(tail) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(got.ends_with(tail), "{:?}", String::from_utf8_lossy(&got));
}

fn meta(c: &mut redis::Connection, key: &str) -> (u64, u64) {
    let line: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg(key)
        .query(c)
        .unwrap_or_else(|_| "version:0".into());
    let version = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("version:"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no version in {line}"));
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    let rev = info
        .lines()
        .find_map(|l| l.strip_prefix("current_revision:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("current_revision");
    (version, rev)
}

#[test]
fn hll_writes_take_a_revision_only_when_bytes_change() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let cases = [
        ("PFADD h", true),
        ("PFADD h", false),
        ("PFADD h a b c", true),
        ("PFADD h a b c", false),
        // Computing the estimate stores it in the header: a change of the value's bytes.
        ("PFCOUNT h", true),
        ("PFCOUNT h", false),
        ("PFCOUNT h missing", false),
        // Merging marks the cache stale (as Redis does) even with no new register.
        ("PFMERGE h", true),
        ("PFMERGE h", false),
        ("PFMERGE h missing", false),
        ("PFMERGE h other", true),
        // Converting to dense rewrites the bytes once.
        ("PFDEBUG TODENSE h", true),
        ("PFDEBUG TODENSE h", false),
        ("PFDEBUG GETREG h", false),
        ("PFADD h a b c", false),
        ("PFADD h zz", true),
    ];
    run(&mut c, "PFADD other zzz");
    for (line, changes) in cases {
        let (v0, r0) = meta(&mut c, "h");
        let reply = run(&mut c, line);
        assert!(!reply.starts_with('-'), "{line}: {reply}");
        let (v1, r1) = meta(&mut c, "h");
        if changes {
            assert_eq!(
                (v1, r1),
                (v0 + 1, r0 + 1),
                "{line} should take one revision"
            );
        } else {
            assert_eq!((v1, r1), (v0, r0), "{line} should change nothing");
        }
    }
}

/// Adds `n` distinct elements with the given prefix in batches.
fn add_many(c: &mut redis::Connection, key: &str, prefix: &str, n: u32) {
    let mut i = 0;
    while i < n {
        let mut cmd = redis::cmd("PFADD");
        cmd.arg(key);
        let end = (i + 10_000).min(n);
        for j in i..end {
            cmd.arg(format!("{prefix}:{j}"));
        }
        let _: i64 = cmd.query(c).unwrap();
        i = end;
    }
}

fn assert_close(est: i64, real: f64, what: &str) {
    let err = (est as f64 - real).abs() / real;
    assert!(
        err < 0.02,
        "{what}: estimate {est} vs {real} ({:.3}%)",
        err * 100.0
    );
}

#[test]
fn estimates_stay_within_two_percent_at_100k_and_1m() {
    let t = Target::start();
    let mut c = t.conn();
    add_many(&mut c, "a", "x", 100_000);
    let est: i64 = redis::cmd("PFCOUNT").arg("a").query(&mut c).unwrap();
    assert_close(est, 100_000.0, "100k");
    add_many(&mut c, "b", "y", 1_000_000);
    let est: i64 = redis::cmd("PFCOUNT").arg("b").query(&mut c).unwrap();
    assert_close(est, 1_000_000.0, "1M");
    // The union of disjoint sets, by PFCOUNT over several keys and by PFMERGE.
    let est: i64 = redis::cmd("PFCOUNT")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_close(est, 1_100_000.0, "union");
    let _: () = redis::cmd("PFMERGE")
        .arg("u")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    let merged: i64 = redis::cmd("PFCOUNT").arg("u").query(&mut c).unwrap();
    assert_eq!(merged, est);
}

#[test]
fn pfdebug_and_pfselftest() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        PFDEBUG ENCODING missing => -ERR The specified key does not exist
        PFADD h a b c => :1
        PFDEBUG ENCODING h => +sparse
        PFDEBUG DECODE h => "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        PFDEBUG FOO h => -ERR Unknown PFDEBUG subcommand 'FOO'
        PFDEBUG TODENSE h => :1
        PFDEBUG TODENSE h => :0
        PFDEBUG ENCODING h => +dense
        PFDEBUG DECODE h => -ERR HLL encoding is not sparse
        PFCOUNT h => :3
        STRLEN h => :12304
        SET s foo => +OK
        PFDEBUG ENCODING s => -WRONGTYPE Key is not a valid HyperLogLog string value.
        PFSELFTEST => +OK
        "#,
    );
    let regs: Vec<i64> = redis::cmd("PFDEBUG")
        .arg("GETREG")
        .arg("h")
        .query(&mut c)
        .unwrap();
    assert_eq!(regs.len(), 16384);
    assert_eq!(regs.iter().filter(|&&r| r != 0).count(), 3);
}
