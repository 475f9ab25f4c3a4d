//! Locks with fencing tokens, shared locks, semaphores, FENCED and FENCE.CHECK, over TCP against the
//! real binary. Time moves only with DEBUG CLOCK; the contention tests check their invariants from a
//! log that only current holders can write (FENCED), so a violation cannot hide.

mod strings_script;
mod support;

use redis::Commands;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use strings_script::{Target, run, script};
use support::TestServer;

fn concord() -> Option<(Target, redis::Connection)> {
    let t = Target::concord_only()?;
    let c = t.conn();
    Some((t, c))
}

#[test]
fn exclusive_lock_tokens_refresh_and_release() {
    let Some((_t, mut c)) = concord() else { return };
    support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        LOCK.INFO L => nil
        LOCK.ACQUIRE L alice PX 1000 => :1
        LOCK.ACQUIRE L bob PX 1000 => nil
        GET L => alice
        PTTL L => :1000
        LOCK.INFO L => [owner, alice, token, :1, pttl, :1000]
        LOCK.ACQUIRE L alice PX 5000 => :1
        PTTL L => :5000
        LOCK.EXTEND L alice PX 9000 => :1
        LOCK.EXTEND L bob PX 9000 => :0
        PTTL L => :9000
        LOCK.RELEASE L bob => :0
        LOCK.RELEASE L alice => :1
        LOCK.RELEASE L alice => :0
        LOCK.ACQUIRE L bob PX 1000 => :5
        KV.REV => :5
        SET lib owner1 NX PX 1000 => +OK
        LOCK.INFO lib => [owner, owner1, token, :6, pttl, :1000]
        KV.META lib => [type, string, version, :1, create_revision, :6, mod_revision, :6, lease, :0, pttl, :1000]
        LOCK.ACQUIRE lib other PX 1000 => nil
        LOCK.ACQUIRE lib owner1 PX 1000 => :6
        LOCK.RELEASE lib owner1 => :1
        RPUSH list a => :1
        LOCK.ACQUIRE list a PX 10 => -WRONGTYPE Operation against a key holding the wrong kind of value
        LOCK.INFO list => -WRONGTYPE Operation against a key holding the wrong kind of value
        LOCK.ACQUIRE L x WAIT 10 => -ERR PX <ms> or LEASE <id> is required
        LOCK.ACQUIRE L x PX 0 => -ERR PX must be a positive number of milliseconds
        LOCK.ACQUIRE L x PX -1 => -ERR PX must be a positive number of milliseconds
        LOCK.ACQUIRE L x PX abc => -ERR value is not an integer or out of range
        LOCK.ACQUIRE L x PX 9223372036854775807 => -ERR PX must be a positive number of milliseconds
        LOCK.ACQUIRE L x PX 10 PX 10 => -ERR syntax error
        LOCK.ACQUIRE L x PX 10 WAIT 0 => -ERR WAIT must be a positive number of milliseconds
        LOCK.ACQUIRE L x PX 10 BOGUS => -ERR syntax error
        LOCK.ACQUIRE L x LEASE 77 => -NOLEASE lease 77 not found
        LOCK.ACQUIRE L x LEASE -1 => -ERR value is not an integer or out of range
        LOCK.EXTEND L bob EX 10 => -ERR syntax error
        LOCK.RELEASE L => -ERR wrong number of arguments for 'lock.release' command
        "#,
    );
    // The TTL ends the lock; the next owner gets a greater token.
    support::advance_clock(&mut c, 1000);
    assert_eq!(run(&mut c, "LOCK.INFO L"), "nil");
    assert_eq!(run(&mut c, "LOCK.ACQUIRE L carol PX 1000"), ":10");
}

#[test]
fn a_paused_holders_fenced_write_is_rejected_and_changes_nothing() {
    let Some((_t, mut c)) = concord() else { return };
    support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        LOCK.ACQUIRE L a PX 1000 => :1
        FENCED L 1 SET data from-a => +OK
        FENCED L 1 INCR n => :1
        FENCED L 2 SET data nope => -FENCED token 2 no longer holds 'L'
        "#,
    );
    // a pauses past its TTL; b takes the lock and writes.
    support::advance_clock(&mut c, 1000);
    script(
        &mut c,
        r#"
        LOCK.ACQUIRE L b PX 1000 => :5
        FENCED L 5 SET data from-b => +OK
        FENCED L 1 SET data stale-a => -FENCED token 1 no longer holds 'L'
        FENCED L 1 DEL data => -FENCED token 1 no longer holds 'L'
        GET data => from-b
        GET n => 1
        KV.REV => :6
        FENCED L 4 GET data => -FENCED token 4 no longer holds 'L'
        FENCED L 5 MULTI => -ERR 'multi' is not allowed inside FENCED
        FENCED L 5 EXEC => -ERR 'exec' is not allowed inside FENCED
        FENCED L 5 WATCH x => -ERR 'watch' is not allowed inside FENCED
        FENCED L 5 SUBSCRIBE ch => -ERR 'subscribe' is not allowed inside FENCED
        FENCED L 5 FENCED L 5 GET x => -ERR 'fenced' is not allowed inside FENCED
        FENCED L 5 GET => -ERR wrong number of arguments for 'get' command
        FENCED L x GET data => -ERR value is not an integer or out of range
        FENCED L 5 BLPOP nolist 0 => nil
        FENCED L 5 GET data => from-b
        FENCED L 5 EVAL "return redis.call('SET', KEYS[1], 'via-lua')" 1 data => +OK
        GET data => via-lua
        "#,
    );
    assert!(run(&mut c, "FENCED L 5 NOSUCH x").starts_with("-ERR unknown command 'NOSUCH'"));
}

#[test]
fn fence_check_keeps_the_highest_token() {
    let Some((_t, mut c)) = concord() else { return };
    script(
        &mut c,
        r#"
        FENCE.CHECK res 5 => :1
        FENCE.CHECK res 4 => :0
        FENCE.CHECK res 5 => :1
        FENCE.CHECK res 9 => :1
        GET res => 9
        FENCE.CHECK res x => -ERR value is not an integer or out of range
        FENCE.CHECK res -3 => -ERR value is not an integer or out of range
        SET bad notanumber => +OK
        FENCE.CHECK bad 1 => -ERR value is not an integer or out of range
        RPUSH l a => :1
        FENCE.CHECK l 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        "#,
    );
}

#[test]
fn shared_locks_and_semaphores() {
    let Some((_t, mut c)) = concord() else { return };
    support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        LOCK.ACQUIRE R r1 PX 1000 SHARED => :1
        LOCK.ACQUIRE R r2 PX 2000 SHARED => :2
        LOCK.ACQUIRE R w PX 1000 => nil
        LOCK.ACQUIRE R r1 PX 3000 SHARED => :1
        LOCK.INFO R => [[owner, r1, token, :1, pttl, :3000], [owner, r2, token, :2, pttl, :2000]]
        PTTL R => :3000
        TYPE R => +hash
        FENCED R 2 SET guarded yes => +OK
        LOCK.RELEASE R r1 => :1
        LOCK.RELEASE R r1 => :0
        LOCK.RELEASE R r2 => :1
        EXISTS R => :0
        LOCK.ACQUIRE R w PX 1000 => :7
        LOCK.ACQUIRE R r1 PX 1000 SHARED => nil
        LOCK.RELEASE R w => :1
        SEM.ACQUIRE S a 2 PX 1000 => :9
        SEM.ACQUIRE S b 2 PX 500 => :10
        SEM.ACQUIRE S c 2 PX 1000 => nil
        SEM.ACQUIRE S a 2 PX 1000 => :9
        SEM.INFO S => [[owner, a, token, :9, pttl, :1000], [owner, b, token, :10, pttl, :500]]
        SEM.EXTEND S b PX 800 => :1
        SEM.EXTEND S c PX 800 => :0
        SEM.RELEASE S zz => :0
        SEM.ACQUIRE S a 0 PX 1 => -ERR limit must be at least 1
        SEM.ACQUIRE S a x PX 1 => -ERR value is not an integer or out of range
        SEM.ACQUIRE S a 2 PX 10 SHARED => -ERR syntax error
        SET str v => +OK
        SEM.ACQUIRE str a 2 PX 10 => -WRONGTYPE Operation against a key holding something other than a semaphore
        SEM.INFO str => -WRONGTYPE Operation against a key holding something other than a semaphore
        HSET notalock f v => :1
        SEM.ACQUIRE notalock a 2 PX 10 => -WRONGTYPE Operation against a key holding something other than a semaphore
        LOCK.INFO notalock => -WRONGTYPE Operation against a key holding something other than a lock
        "#,
    );
    // b's slot lapses at +800: c takes it, and the lapsed holder is removed in the same write.
    support::advance_clock(&mut c, 800);
    script(
        &mut c,
        r#"
        SEM.ACQUIRE S c 2 PX 1000 => :15
        HLEN S => :2
        SEM.INFO S => [[owner, a, token, :9, pttl, :200], [owner, c, token, :15, pttl, :1000]]
        "#,
    );
}

/// Sends `cmd` on a fresh connection without waiting for its reply.
fn send(port: u16, args: &[&str]) -> std::io::BufReader<std::net::TcpStream> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(support::resp_command(args).as_bytes()).unwrap();
    std::io::BufReader::new(s)
}

/// Waits until `n` clients are blocked.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {n} blocked clients: {info}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn waiters_are_served_in_line_on_release_del_script_and_expiry() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    assert_eq!(run(&mut c, "LOCK.ACQUIRE L holder PX 1000"), ":1");
    // Three waiters, in this order.
    let mut w = Vec::new();
    for (i, name) in ["w1", "w2", "w3"].iter().enumerate() {
        w.push(send(
            s.port,
            &["LOCK.ACQUIRE", "L", name, "PX", "1000", "WAIT", "60000"],
        ));
        wait_blocked(&mut c, i + 1);
    }
    // Released by its owner: w1 gets it at once.
    assert_eq!(run(&mut c, "LOCK.RELEASE L holder"), ":1");
    let t1 = support::read_compact_reply(&mut w[0]);
    assert_eq!(run(&mut c, "GET L"), "w1");
    // Deleted by DEL: w2.
    assert_eq!(run(&mut c, "DEL L"), ":1");
    let t2 = support::read_compact_reply(&mut w[1]);
    assert_eq!(run(&mut c, "GET L"), "w2");
    // Released by a library's Lua script: w3.
    let release = r#"EVAL "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end" 1 L w2"#;
    assert_eq!(run(&mut c, release), ":1");
    let t3 = support::read_compact_reply(&mut w[2]);
    assert_eq!(run(&mut c, "GET L"), "w3");
    let tokens: Vec<u64> = [t1, t2, t3]
        .iter()
        .map(|t| t.trim_start_matches(':').parse().unwrap())
        .collect();
    assert!(tokens.windows(2).all(|p| p[0] < p[1]), "{tokens:?}");
    // Expiry: a waiter is handed the lock when its holder's TTL runs out (the expirer's tick).
    let mut w4 = send(
        s.port,
        &["LOCK.ACQUIRE", "L", "w4", "PX", "1000", "WAIT", "60000"],
    );
    wait_blocked(&mut c, 1);
    support::advance_clock(&mut c, 999);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(run(&mut c, "GET L"), "w3");
    let moved = Instant::now();
    support::advance_clock(&mut c, 1);
    let t4 = support::read_compact_reply(&mut w4);
    let waited = moved.elapsed();
    assert!(t4.starts_with(':'), "{t4}");
    assert!(
        waited < Duration::from_millis(500),
        "woken {waited:?} after the deadline"
    );
    assert_eq!(run(&mut c, "GET L"), "w4");
    // A wait that runs out answers nil.
    let mut w5 = send(
        s.port,
        &["LOCK.ACQUIRE", "L", "w5", "PX", "1000", "WAIT", "100"],
    );
    wait_blocked(&mut c, 1);
    support::advance_clock(&mut c, 100);
    assert_eq!(support::read_compact_reply(&mut w5), "nil");
    // WAIT does not block inside MULTI or a script.
    script(
        &mut c,
        r#"
        MULTI => +OK
        LOCK.ACQUIRE L w6 PX 1000 WAIT 5000 => +QUEUED
        EXEC => [nil]
        EVAL "return redis.call('LOCK.ACQUIRE', 'L', 'w7', 'PX', 1000, 'WAIT', 5000)" 0 => nil
        EVAL "return redis.call('LOCK.ACQUIRE', 'L2', 'w7', 'PX', 1000)" 0 => *
        "#,
    );
}

#[test]
fn semaphore_waiters_wake_when_a_slot_lapses() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    assert_eq!(run(&mut c, "SEM.ACQUIRE S a 1 PX 1000"), ":1");
    let mut w = send(
        s.port,
        &["SEM.ACQUIRE", "S", "b", "1", "PX", "1000", "WAIT", "60000"],
    );
    wait_blocked(&mut c, 1);
    support::advance_clock(&mut c, 1000);
    let got = support::read_compact_reply(&mut w);
    assert!(got.starts_with(':'), "{got}");
    let info = run(&mut c, "SEM.INFO S");
    assert!(info.starts_with("[[owner, b,"), "{info}");
}

/// One entry of the holders' log: (kind, token, phase).
fn parse_log(entries: &[String]) -> Vec<(char, u64, char)> {
    entries
        .iter()
        .map(|e| {
            let mut p = e.split(':');
            let kind = p.next().unwrap().chars().next().unwrap();
            let token = p.next().unwrap().parse().unwrap();
            let phase = p.next().unwrap().chars().next().unwrap();
            (kind, token, phase)
        })
        .collect()
}

/// The most holders whose intervals (first to last log entry of a token) overlap, and whether an
/// exclusive ('w') interval ever overlaps another.
fn max_overlap(log: &[(char, u64, char)]) -> (usize, bool) {
    let mut last: HashMap<u64, usize> = HashMap::new();
    for (i, (_, t, _)) in log.iter().enumerate() {
        last.insert(*t, i);
    }
    let mut open: HashMap<u64, char> = HashMap::new();
    let (mut most, mut writer_overlap) = (0, false);
    for (i, (kind, t, _)) in log.iter().enumerate() {
        open.insert(*t, *kind);
        most = most.max(open.len());
        if open.len() > 1 && open.values().any(|k| *k == 'w') {
            writer_overlap = true;
        }
        if last[t] == i {
            open.remove(t);
        }
    }
    (most, writer_overlap)
}

/// `clients` threads contend for `key` for `rounds` each, with the clock moving on under them so
/// holds expire mid-way. `acquire(conn, name, i)` returns (kind, token) or None. Each holder logs
/// start and end through FENCED (so only a current holder's entries exist) and releases.
fn contend(
    s: &TestServer,
    key: &'static str,
    clients: usize,
    rounds: usize,
    acquire: fn(&mut redis::Connection, &str, usize) -> Option<(char, u64)>,
    release: &'static str,
) -> (Vec<(char, u64, char)>, u64, usize) {
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    let done = Arc::new(AtomicBool::new(false));
    let rejected = Arc::new(AtomicU64::new(0));
    // Moves the server clock 3 ms every millisecond: holds of 10-30 ms run out under their holders.
    let driver = {
        let done = done.clone();
        let mut c = s.conn();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                support::advance_clock(&mut c, 3);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            let mut c = s.conn();
            let rejected = rejected.clone();
            std::thread::spawn(move || {
                let name = format!("c{w}");
                let mut held = 0;
                for i in 0..rounds {
                    let Some((kind, token)) = acquire(&mut c, &name, i) else {
                        continue;
                    };
                    held += 1;
                    for phase in ["s", "e"] {
                        let entry = format!("{kind}:{token}:{phase}");
                        let r: redis::RedisResult<i64> = redis::cmd("FENCED")
                            .arg(key)
                            .arg(token)
                            .arg("RPUSH")
                            .arg(format!("{key}:log"))
                            .arg(&entry)
                            .query(&mut c);
                        match r {
                            Ok(_) => {}
                            Err(e) if e.code() == Some("FENCED") => {
                                rejected.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("FENCED: {e}"),
                        }
                        if w % 7 == 0 && phase == "s" {
                            // A paused holder: its hold (at most 30 ms) runs out before its next
                            // write, which FENCED must refuse.
                            std::thread::sleep(Duration::from_millis(15));
                        }
                    }
                    let _: i64 = redis::cmd(release)
                        .arg(key)
                        .arg(&name)
                        .query(&mut c)
                        .unwrap();
                }
                held
            })
        })
        .collect();
    let held: usize = workers.into_iter().map(|h| h.join().unwrap()).sum();
    done.store(true, Ordering::Relaxed);
    driver.join().unwrap();
    let entries: Vec<String> = c.lrange(format!("{key}:log"), 0, -1).unwrap();
    (parse_log(&entries), rejected.load(Ordering::Relaxed), held)
}

fn token_of(r: redis::RedisResult<Option<u64>>) -> Option<u64> {
    r.unwrap()
}

#[test]
fn fifty_clients_never_share_an_exclusive_lock() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let (log, rejected, held) = contend(
        &s,
        "L",
        50,
        60,
        |c, name, i| {
            token_of(
                redis::cmd("LOCK.ACQUIRE")
                    .arg("L")
                    .arg(name)
                    .arg("PX")
                    .arg(10 + (i % 3) * 10)
                    .arg("WAIT")
                    .arg(5)
                    .query(c),
            )
            .map(|t| ('w', t))
        },
        "LOCK.RELEASE",
    );
    assert!(held > 100, "only {held} acquisitions");
    // Tokens only grow along the log: a holder's entries never follow a later holder's.
    let tokens: Vec<u64> = log.iter().map(|(_, t, _)| *t).collect();
    assert!(tokens.windows(2).all(|p| p[0] <= p[1]), "tokens went back");
    let (most, overlap) = max_overlap(&log);
    assert_eq!(most, 1, "two holders at once");
    assert!(!overlap);
    assert!(
        rejected > 0,
        "no hold expired under its holder; the clock did not bite"
    );
}

#[test]
fn readers_share_and_a_writer_excludes_all() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let (log, _rejected, held) = contend(
        &s,
        "RW",
        50,
        40,
        |c, name, i| {
            let mut cmd = redis::cmd("LOCK.ACQUIRE");
            cmd.arg("RW").arg(name).arg("PX").arg(20).arg("WAIT").arg(5);
            let writer = name.ends_with('0') && i % 2 == 0;
            if !writer {
                cmd.arg("SHARED");
            }
            token_of(cmd.query(c)).map(|t| (if writer { 'w' } else { 'r' }, t))
        },
        "LOCK.RELEASE",
    );
    assert!(held > 100, "only {held} acquisitions");
    let (most, writer_overlap) = max_overlap(&log);
    assert!(!writer_overlap, "a writer held the lock with someone else");
    assert!(most > 1, "readers never shared");
    assert!(
        log.iter().any(|(k, _, _)| *k == 'w'),
        "no writer ever got in"
    );
}

#[test]
fn a_semaphore_of_three_never_has_four_holders() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let (log, _rejected, held) = contend(
        &s,
        "SEM",
        50,
        40,
        |c, name, _| {
            token_of(
                redis::cmd("SEM.ACQUIRE")
                    .arg("SEM")
                    .arg(name)
                    .arg(3)
                    .arg("PX")
                    .arg(20)
                    .arg("WAIT")
                    .arg(5)
                    .query(c),
            )
            .map(|t| ('s', t))
        },
        "SEM.RELEASE",
    );
    assert!(held > 100, "only {held} acquisitions");
    let (most, _) = max_overlap(&log);
    assert!(most <= 3, "{most} holders at once");
    assert_eq!(most, 3, "the semaphore was never full");
}
