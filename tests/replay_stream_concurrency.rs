//! The committed stream under concurrency, over TCP: 50 clients run a mixed workload (every data type,
//! EXEC, scripts, blocking pops served by pushes, TTLs expiring actively and lazily, MOVE, SELECT,
//! FLUSHDB, SWAPDB, RENAME across shards) against the real binary; the stream is read with DEBUG LOG and
//! replayed as plain commands on a second server whose clock is frozen before the first unit (records
//! carry absolute times, so nothing expires there by itself). Checked: revisions 1, 2, 3, ... with no
//! gap or repeat, `now_ms` never decreasing, one revision per replayed unit, an expiry never in a unit
//! with a command, and the same value, PEXPIRETIME and revision metadata on every key of every db.

mod support;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use redis::{Connection, Value};
use std::time::{Duration, Instant};
use support::TestServer;

const CLIENTS: usize = 50;
const OPS_PER_CLIENT: usize = 2000;
const RUN_FOR: Duration = Duration::from_secs(4);
const DBS: i64 = 3;

/// One committed unit as DEBUG LOG returns it.
#[derive(Debug)]
struct LoggedUnit {
    revision: u64,
    now_ms: u64,
    /// (db, argv)
    records: Vec<(i64, Vec<Vec<u8>>)>,
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn bulk(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// Every retained unit from revision 1 on, page by page, as its reply parts (`[revision, now_ms,
/// records]`, plus `changes` with `changes`).
fn log_units(c: &mut Connection, changes: bool) -> Vec<Vec<Value>> {
    let mut units = Vec::new();
    loop {
        let mut cmd = redis::cmd("DEBUG");
        cmd.arg("LOG")
            .arg("FROM")
            .arg(units.len() + 1)
            .arg("COUNT")
            .arg(2000);
        if changes {
            cmd.arg("CHANGES");
        }
        let page: Value = cmd.query(c).expect("DEBUG LOG");
        let Value::Array(items) = page else {
            panic!("DEBUG LOG reply {page:?}")
        };
        if items.is_empty() {
            return units;
        }
        for item in items {
            let Value::Array(parts) = item else {
                panic!("unit {item:?}")
            };
            units.push(parts);
        }
    }
}

fn read_log(c: &mut Connection) -> Vec<LoggedUnit> {
    log_units(c, false)
        .into_iter()
        .map(|parts| {
            let Value::Array(records) = &parts[2] else {
                panic!("records {parts:?}")
            };
            let records = records
                .iter()
                .map(|r| {
                    let Value::Array(words) = r else {
                        panic!("record {r:?}")
                    };
                    (int(&words[0]), words[1..].iter().map(bulk).collect())
                })
                .collect();
            LoggedUnit {
                revision: int(&parts[0]) as u64,
                now_ms: int(&parts[1]) as u64,
                records,
            }
        })
        .collect()
}

/// Every unit's per-key changes (DEBUG LOG ... CHANGES) as sorted `kind db key prev value` lines (a
/// flush lists its keys in its table's order, which differs between servers; `expired` reads as `del`).
fn read_changes(c: &mut Connection) -> Vec<Vec<String>> {
    log_units(c, true)
        .iter()
        .map(|parts| {
            let Value::Array(changes) = &parts[3] else {
                panic!("changes {parts:?}")
            };
            let mut lines: Vec<String> = changes
                .iter()
                .map(|ch| {
                    let Value::Array(f) = ch else {
                        panic!("change {ch:?}")
                    };
                    f[1..]
                        .iter()
                        .map(|v| match v {
                            Value::Int(n) => n.to_string(),
                            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                            Value::Nil => "nil".to_string(),
                            other => panic!("{other:?}"),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            // An expiry replays as the DEL it was recorded as.
            for l in lines.iter_mut() {
                if let Some(rest) = l.strip_prefix("expired ") {
                    *l = format!("del {rest}");
                }
            }
            lines.sort();
            lines
        })
        .collect()
}

fn current_revision(c: &mut Connection) -> u64 {
    support::revisions::current_revision(c)
}

/// Runs one command, ignoring its reply (WRONGTYPE and friends are part of the workload); a reply
/// that never comes (a completion ticket that never completes) fails the test.
fn run(c: &mut Connection, cmd: &mut redis::Cmd) {
    if let Err(e) = cmd.query::<Value>(c) {
        assert!(!e.is_io_error() && !e.is_timeout(), "no reply: {e}");
    }
}

fn one_op(c: &mut Connection, rng: &mut StdRng, id: usize) {
    let s = |rng: &mut StdRng| format!("s{}", rng.random_range(0..12));
    let k = |rng: &mut StdRng, p: &str, n: u32| format!("{p}{}", rng.random_range(0..n));
    let v = format!("v{id}-{}", rng.random_range(0..1000));
    let owner = format!("o{}", id % 5);
    match rng.random_range(0..125) {
        0..=9 => {
            let mut cmd = redis::cmd("SET");
            cmd.arg(s(rng)).arg(&v);
            if rng.random_bool(0.5) {
                cmd.arg("PX").arg(rng.random_range(1..40));
            }
            run(c, &mut cmd);
        }
        10..=13 => run(
            c,
            redis::cmd("INCR").arg(format!("n{}", rng.random_range(0..4))),
        ),
        14..=15 => run(c, redis::cmd("APPEND").arg(s(rng)).arg("x")),
        16 => run(c, redis::cmd("GETDEL").arg(s(rng))),
        17..=18 => run(
            c,
            redis::cmd("MSET")
                .arg(s(rng))
                .arg(&v)
                .arg(s(rng))
                .arg(&v)
                .arg(format!("n{}", rng.random_range(0..4)))
                .arg(7),
        ),
        19..=21 => run(
            c,
            redis::cmd("PEXPIRE")
                .arg(s(rng))
                .arg(rng.random_range(1..30)),
        ),
        22 => run(c, redis::cmd("PERSIST").arg(s(rng))),
        23..=26 => run(
            c,
            redis::cmd("HSET")
                .arg(k(rng, "h", 4))
                .arg(k(rng, "f", 6))
                .arg(&v),
        ),
        27 => run(
            c,
            redis::cmd("HDEL").arg(k(rng, "h", 4)).arg(k(rng, "f", 6)),
        ),
        28 => run(
            c,
            redis::cmd("HINCRBY")
                .arg(k(rng, "h", 4))
                .arg("count")
                .arg(3),
        ),
        29..=32 => run(c, redis::cmd("LPUSH").arg(k(rng, "l", 4)).arg(&v)),
        33..=34 => run(c, redis::cmd("RPOP").arg(k(rng, "l", 4))),
        35 => run(
            c,
            redis::cmd("LMOVE")
                .arg(k(rng, "l", 4))
                .arg(k(rng, "l", 4))
                .arg("LEFT")
                .arg("RIGHT"),
        ),
        36..=38 => run(
            c,
            redis::cmd("SADD").arg(k(rng, "t", 4)).arg(k(rng, "m", 8)),
        ),
        39 => run(
            c,
            redis::cmd("SREM").arg(k(rng, "t", 4)).arg(k(rng, "m", 8)),
        ),
        40 => run(c, redis::cmd("SPOP").arg(k(rng, "t", 4))),
        41..=43 => run(
            c,
            redis::cmd("ZADD")
                .arg(k(rng, "z", 4))
                .arg(rng.random_range(0..100))
                .arg(k(rng, "m", 8)),
        ),
        44 => run(
            c,
            redis::cmd("ZINCRBY")
                .arg(k(rng, "z", 4))
                .arg(2)
                .arg(k(rng, "m", 8)),
        ),
        45 => run(c, redis::cmd("ZPOPMIN").arg(k(rng, "z", 4))),
        46..=48 => run(
            c,
            redis::cmd("XADD")
                .arg(k(rng, "x", 3))
                .arg("*")
                .arg("f")
                .arg(&v),
        ),
        49 => run(
            c,
            redis::cmd("XTRIM").arg(k(rng, "x", 3)).arg("MAXLEN").arg(5),
        ),
        50..=54 => {
            // A transaction: one unit, whatever it touches.
            let _: redis::RedisResult<Value> = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(format!("n{}", rng.random_range(0..4)))
                .cmd("LPUSH")
                .arg(k(rng, "l", 4))
                .arg(&v)
                .cmd("SET")
                .arg(s(rng))
                .arg(&v)
                .arg("PX")
                .arg(rng.random_range(1..40))
                .cmd("SADD")
                .arg(k(rng, "t", 4))
                .arg(&v)
                .query(c);
        }
        55..=59 => run(
            c,
            redis::cmd("EVAL")
                .arg(
                    "redis.call('INCR', KEYS[1]) redis.call('RPUSH', KEYS[2], ARGV[1]) \
                     redis.call('HSET', KEYS[3], 'by', ARGV[1]) return 1",
                )
                .arg(3)
                .arg(format!("n{}", rng.random_range(0..4)))
                .arg(k(rng, "l", 4))
                .arg(k(rng, "h", 4))
                .arg(&v),
        ),
        60..=64 => {
            // Blocking pops, served by the pushes of other clients (or timing out).
            if rng.random_bool(0.5) {
                run(c, redis::cmd("BLPOP").arg(k(rng, "b", 3)).arg(0.02));
            } else {
                run(c, redis::cmd("RPUSH").arg(k(rng, "b", 3)).arg(&v));
            }
        }
        65..=66 => run(c, redis::cmd("RENAME").arg(s(rng)).arg(s(rng))),
        67 => run(c, redis::cmd("MOVE").arg(s(rng)).arg(1)),
        68..=70 => {
            // Work in db 1 and back.
            run(c, redis::cmd("SELECT").arg(1));
            run(c, redis::cmd("SET").arg(s(rng)).arg(&v).arg("PX").arg(50));
            run(c, redis::cmd("LPUSH").arg(k(rng, "l", 4)).arg(&v));
            run(c, redis::cmd("SELECT").arg(0));
        }
        71 => {
            if rng.random_range(0..8) == 0 {
                run(c, redis::cmd("SWAPDB").arg(1).arg(2));
            }
        }
        72 => {
            if rng.random_range(0..8) == 0 {
                run(c, redis::cmd("SELECT").arg(2));
                run(c, &mut redis::cmd("FLUSHDB"));
                run(c, redis::cmd("SELECT").arg(0));
            }
        }
        73..=76 => run(c, redis::cmd("INCRBY").arg(s(rng)).arg(5)),
        77..=79 => run(c, redis::cmd("SETRANGE").arg(s(rng)).arg(2).arg("zz")),
        80..=84 => run(c, redis::cmd("DEL").arg(s(rng)).arg(k(rng, "l", 4))),
        85..=89 => run(c, redis::cmd("COPY").arg(s(rng)).arg(s(rng))),
        // Coordination: locks (exclusive and shared), semaphores, CAS, fencing, leases, throttles.
        90..=94 => {
            let mut cmd = redis::cmd("LOCK.ACQUIRE");
            cmd.arg(k(rng, "lk", 3))
                .arg(&owner)
                .arg("PX")
                .arg(rng.random_range(1..60));
            if rng.random_bool(0.3) {
                cmd.arg("SHARED");
            }
            run(c, &mut cmd);
        }
        95..=96 => run(
            c,
            redis::cmd("LOCK.RELEASE").arg(k(rng, "lk", 3)).arg(&owner),
        ),
        97 => run(
            c,
            redis::cmd("LOCK.EXTEND")
                .arg(k(rng, "lk", 3))
                .arg(&owner)
                .arg("PX")
                .arg(rng.random_range(1..60)),
        ),
        98..=100 => run(
            c,
            redis::cmd("SEM.ACQUIRE")
                .arg(k(rng, "sm", 2))
                .arg(&owner)
                .arg(2)
                .arg("PX")
                .arg(rng.random_range(1..60)),
        ),
        101 => run(
            c,
            redis::cmd("SEM.RELEASE").arg(k(rng, "sm", 2)).arg(&owner),
        ),
        102..=104 => {
            let key = s(rng);
            let rev = redis::cmd("KV.GET")
                .arg(&key)
                .query::<Option<(Value, u64, u64)>>(c)
                .ok()
                .flatten()
                .map_or(0, |(_, _, rev)| rev);
            let mut cmd = redis::cmd("KV.CAS");
            cmd.arg(&key).arg(rev).arg(&v);
            if rng.random_bool(0.3) {
                cmd.arg("PX").arg(rng.random_range(1..60));
            }
            run(c, &mut cmd);
        }
        105 => run(
            c,
            redis::cmd("KV.CADEL")
                .arg(s(rng))
                .arg(rng.random_range(0..3000)),
        ),
        106..=108 => {
            let lock = k(rng, "lk", 3);
            let token = redis::cmd("LOCK.INFO")
                .arg(&lock)
                .query::<Value>(c)
                .ok()
                .and_then(|v| match v {
                    Value::Array(f) => match f.get(3) {
                        Some(Value::Int(t)) => Some(*t),
                        _ => None,
                    },
                    _ => None,
                })
                .unwrap_or(1);
            run(
                c,
                redis::cmd("FENCED")
                    .arg(&lock)
                    .arg(token)
                    .arg("INCR")
                    .arg(format!("n{}", rng.random_range(0..4))),
            );
        }
        109 => run(
            c,
            redis::cmd("FENCE.CHECK")
                .arg(k(rng, "fc", 2))
                .arg(rng.random_range(0..1000)),
        ),
        110..=112 => {
            // A lease with keys: some end by revocation, some by time, some outlive the run.
            let id: Option<u64> = redis::cmd("LEASE.GRANT")
                .arg(rng.random_range(5..3000))
                .query(c)
                .ok();
            let Some(id) = id else { return };
            run(
                c,
                redis::cmd("LEASE.ATTACH")
                    .arg(id)
                    .arg(s(rng))
                    .arg(k(rng, "h", 4)),
            );
            run(
                c,
                redis::cmd("LOCK.ACQUIRE")
                    .arg(k(rng, "ll", 3))
                    .arg(&owner)
                    .arg("LEASE")
                    .arg(id),
            );
            match rng.random_range(0..3) {
                0 => run(c, redis::cmd("LEASE.REVOKE").arg(id)),
                1 => run(c, redis::cmd("LEASE.KEEPALIVE").arg(id)),
                _ => {}
            }
        }
        113..=114 => run(
            c,
            redis::cmd("THROTTLE")
                .arg(k(rng, "th", 2))
                .arg(3)
                .arg(10)
                .arg(1),
        ),
        _ => run(c, redis::cmd("GET").arg(s(rng))),
    }
}

/// The live leases as (id, granted ms, absolute deadline, keys): the same on a replayed server,
/// whatever its clock.
fn leases(c: &mut Connection) -> Vec<(u64, i64, i64, Vec<Vec<u8>>)> {
    let now: i64 = redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("GET")
        .query(c)
        .expect("DEBUG CLOCK GET");
    let ids: Vec<u64> = redis::cmd("LEASE.LIST").query(c).expect("LEASE.LIST");
    ids.into_iter()
        .map(|id| {
            let f: Vec<Value> = redis::cmd("LEASE.TTL")
                .arg(id)
                .arg("KEYS")
                .query(c)
                .expect("LEASE.TTL");
            let Value::Array(keys) = &f[5] else {
                panic!("keys: {f:?}")
            };
            (
                id,
                int(&f[1]),
                now + int(&f[3]),
                keys.iter().map(bulk).collect(),
            )
        })
        .collect()
}

/// Everything observable about one key: type, value, PEXPIRETIME, and revision metadata.
fn describe(c: &mut Connection, key: &[u8]) -> String {
    let ty: String = redis::cmd("TYPE").arg(key).query(c).expect("TYPE");
    let value = match ty.as_str() {
        "string" => format!("{:?}", redis::cmd("GET").arg(key).query::<Value>(c)),
        "hash" => {
            let mut v: Vec<(Vec<u8>, Vec<u8>)> =
                redis::cmd("HGETALL").arg(key).query(c).expect("HGETALL");
            v.sort();
            format!("{v:?}")
        }
        "list" => format!(
            "{:?}",
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query::<Value>(c)
        ),
        "set" => {
            let mut v: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(c).expect("SMEMBERS");
            v.sort();
            format!("{v:?}")
        }
        "zset" => format!(
            "{:?}",
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query::<Value>(c)
        ),
        "stream" => format!(
            "{:?} {:?}",
            redis::cmd("XRANGE")
                .arg(key)
                .arg("-")
                .arg("+")
                .query::<Value>(c),
            redis::cmd("XINFO").arg("STREAM").arg(key).query::<Value>(c)
        ),
        other => panic!("unexpected type {other}"),
    };
    let pexpiretime: i64 = redis::cmd("PEXPIRETIME")
        .arg(key)
        .query(c)
        .expect("PEXPIRETIME");
    let object: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg(key)
        .query(c)
        .expect("DEBUG OBJECT");
    let meta: Vec<&str> = object
        .split(' ')
        .filter(|w| {
            w.starts_with("version:")
                || w.starts_with("create_revision:")
                || w.starts_with("mod_revision:")
        })
        .collect();
    format!("{ty} {value} pexpiretime:{pexpiretime} {}", meta.join(" "))
}

fn snapshot(c: &mut Connection) -> Vec<(i64, Vec<u8>, String)> {
    let mut out = Vec::new();
    for db in 0..DBS {
        redis::cmd("SELECT").arg(db).exec(c).expect("SELECT");
        let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).expect("KEYS");
        keys.sort();
        for key in keys {
            let d = describe(c, &key);
            out.push((db, key, d));
        }
    }
    redis::cmd("SELECT").arg(0).exec(c).expect("SELECT");
    out
}

fn has_error(v: &Value) -> bool {
    match v {
        Value::ServerError(_) => true,
        Value::Array(items) => items.iter().any(has_error),
        _ => false,
    }
}

#[test]
fn fifty_clients_stream_replays_to_the_same_keyspace_and_revisions() {
    let original = TestServer::start_with(&["--watch-history", "1000000", "--worker-threads", "4"]);
    let mut admin = original.conn();
    // Replies wait for their unit's completion ticket, as under appendfsync always.
    redis::cmd("DEBUG")
        .arg("COMMIT-ACKS")
        .arg(1)
        .exec(&mut admin)
        .expect("DEBUG COMMIT-ACKS");

    let deadline = Instant::now() + RUN_FOR;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let mut c = original.conn();
            c.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("read timeout");
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(id as u64 * 7919 + 1);
                for _ in 0..OPS_PER_CLIENT {
                    if Instant::now() > deadline {
                        break;
                    }
                    one_op(&mut c, &mut rng, id);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client thread");
    }

    // Stop time; 40 keys that expire together make the expirer delete several keys of one shard in
    // one unit; then every due key is deleted, so the original's keys are all live.
    support::freeze_clock(&mut admin);
    for i in 0..40 {
        redis::cmd("SET")
            .arg(format!("e{i}"))
            .arg(i)
            .arg("PX")
            .arg(10)
            .exec(&mut admin)
            .expect("SET");
    }
    support::advance_clock(&mut admin, 20);
    let _: i64 = redis::cmd("DEBUG")
        .arg("EXPIRE-NOW")
        .query(&mut admin)
        .expect("EXPIRE-NOW");
    // Leases due at the frozen time are ended by the expirer's next ticks.
    std::thread::sleep(Duration::from_millis(100));
    let revision = current_revision(&mut admin);
    let units = read_log(&mut admin);

    // The stream: exactly 1..=R, time never going back.
    assert!(
        revision > 1000,
        "the workload committed only {revision} units"
    );
    assert_eq!(units.len() as u64, revision, "one unit per revision");
    for (i, u) in units.iter().enumerate() {
        assert_eq!(u.revision, i as u64 + 1, "gap or repeat at {i}");
        assert!(!u.records.is_empty(), "unit {} has no records", u.revision);
    }
    assert!(
        units.windows(2).all(|w| w[0].now_ms <= w[1].now_ms),
        "now_ms went back along the stream"
    );
    // An expiry never shares a revision with a command: the workload's own writes delete nothing
    // with a one-key DEL inside EXEC or a script, so a unit of several records holding one is an
    // expiry unit and holds nothing else (every key these commands write is declared, so none is
    // reaped mid-unit).
    let is_expiry_record = |(_, argv): &(i64, Vec<Vec<u8>>)| argv[0] == b"DEL" && argv.len() == 2;
    let mut expiry_batches = 0;
    for u in units.iter().filter(|u| u.records.len() > 1) {
        let dels = u.records.iter().filter(|r| is_expiry_record(r)).count();
        assert!(
            dels == 0 || dels == u.records.len(),
            "unit {} mixes an expiry with a command: {:?}",
            u.revision,
            u.records
        );
        expiry_batches += usize::from(dels > 0);
    }
    let expired = {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query(&mut admin)
            .expect("INFO");
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(expired > 0, "no key expired during the workload");
    assert!(
        expiry_batches > 0,
        "no expiry deleted several keys in one revision"
    );
    eprintln!(
        "{revision} units ({} of several records), {expired} keys expired, {expiry_batches} \
         expiry units of several keys",
        units.iter().filter(|u| u.records.len() > 1).count()
    );

    let keys = assert_replays_identically(&mut admin, &units, revision);
    assert!(keys > 20, "the workload left only {keys} keys");
}

/// Replays `units` (the whole stream, 1..=`revision`) as plain commands on a fresh server whose clock
/// stands before the first unit, and asserts one revision per unit, the same per-key changes in every
/// unit, and the same keyspace as `original` (values, PEXPIRETIME, revision metadata). Returns the
/// number of keys compared.
fn assert_replays_identically(
    original: &mut Connection,
    units: &[LoggedUnit],
    revision: u64,
) -> usize {
    let copy = TestServer::start_with(&["--watch-history", "1000000", "--worker-threads", "4"]);
    let mut r = copy.conn();
    support::freeze_clock(&mut r);
    redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("SET")
        .arg(units[0].now_ms - 1000)
        .exec(&mut r)
        .expect("DEBUG CLOCK SET");
    redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .exec(&mut r)
        .expect("SET-ACTIVE-EXPIRE");
    for chunk in units.chunks(500) {
        let mut pipe = redis::pipe();
        for u in chunk {
            let several = u.records.len() > 1;
            if several {
                pipe.cmd("MULTI");
            }
            for (db, argv) in &u.records {
                pipe.cmd("SELECT").arg(*db);
                let mut cmd = redis::cmd(std::str::from_utf8(&argv[0]).expect("command name"));
                for a in &argv[1..] {
                    cmd.arg(a.as_slice());
                }
                pipe.add_command(cmd);
            }
            if several {
                pipe.cmd("EXEC");
            }
        }
        let replies: Vec<Value> = pipe.query(&mut r).expect("replay pipeline");
        assert!(
            !replies.iter().any(has_error),
            "a replayed unit failed: {replies:?}"
        );
    }
    redis::cmd("SELECT").arg(0).exec(&mut r).expect("SELECT");

    // One revision per replayed unit: the copy's own stream has exactly as many units, and each made
    // the same per-key changes (so a flush deleted the same keys, a write met the same previous
    // revision) as in the original.
    assert_eq!(current_revision(&mut r), revision, "revisions differ");
    assert_eq!(read_log(&mut r).len() as u64, revision);
    let (want, got) = (read_changes(original), read_changes(&mut r));
    assert_eq!(want.len(), got.len());
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if w != g {
            // The unit's records, to tell what replayed differently.
            for (db, argv) in &units[i].records {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                eprintln!("unit {} record: db {db}: {}", i + 1, argv.join(" "));
            }
        }
        assert_eq!(w, g, "unit {} changed different keys on replay", i + 1);
    }

    assert_eq!(
        leases(original),
        leases(&mut r),
        "leases differ after replay"
    );
    let want = snapshot(original);
    let got = snapshot(&mut r);
    assert_eq!(want.len(), got.len(), "key counts differ");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g, "keys differ after replay");
    }
    want.len()
}

/// FLUSHALL, FLUSHDB and SWAPDB lock whole databases: writers in every database racing with them must
/// still replay in revision order (a unit that takes its revision before a flush is never applied
/// after it).
#[test]
fn writes_racing_with_flushall_flushdb_and_swapdb_replay_in_order() {
    let original = TestServer::start_with(&["--watch-history", "1000000", "--worker-threads", "4"]);
    let mut admin = original.conn();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut workers: Vec<_> = (0..20)
        .map(|id| {
            let mut c = original.conn();
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(id as u64 + 99);
                let mut n = 0;
                while Instant::now() < deadline && n < 3000 {
                    n += 1;
                    run(&mut c, redis::cmd("SELECT").arg(rng.random_range(0..DBS)));
                    let key = format!("k{}", rng.random_range(0..20));
                    match rng.random_range(0..4) {
                        0 => run(&mut c, redis::cmd("INCR").arg(&key)),
                        1 => run(&mut c, redis::cmd("SET").arg(&key).arg(id)),
                        2 => run(&mut c, redis::cmd("APPEND").arg(format!("a{key}")).arg("x")),
                        _ => run(&mut c, redis::cmd("RPUSH").arg(format!("l{key}")).arg(id)),
                    }
                }
            })
        })
        .collect();
    let mut c = original.conn();
    workers.push(std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(7);
        while Instant::now() < deadline {
            match rng.random_range(0..3) {
                0 => run(&mut c, &mut redis::cmd("FLUSHALL")),
                1 => run(
                    &mut c,
                    redis::cmd("SWAPDB").arg(0).arg(rng.random_range(1..DBS)),
                ),
                _ => {
                    run(&mut c, redis::cmd("SELECT").arg(rng.random_range(0..DBS)));
                    run(&mut c, &mut redis::cmd("FLUSHDB"));
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }));
    for w in workers {
        w.join().expect("client thread");
    }
    let revision = current_revision(&mut admin);
    let units = read_log(&mut admin);
    assert_eq!(units.len() as u64, revision, "one unit per revision");
    let flushes = units
        .iter()
        .filter(|u| u.records[0].1[0] == b"FLUSHALL")
        .count();
    assert!(flushes > 10, "only {flushes} FLUSHALLs ran");
    assert_replays_identically(&mut admin, &units, revision);
}
