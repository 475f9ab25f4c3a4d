//! KV.WATCH and ELECT.OBSERVE over TCP: a watcher replaying FROMREV sees exactly what a live watcher
//! saw (writes, EXEC, scripts, expiries); a watcher cut off mid-stream resumes with no loss and no
//! duplicate; a watcher that never reads is disconnected at its output limit; one leader at a time,
//! and observers see every change of leader in order.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::TestServer;

/// A RESP value as read off the socket (RESP2 or RESP3).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Arr(Vec<Val>),
    Simple(String),
    Err(String),
}

fn read_val(r: &mut BufReader<TcpStream>) -> std::io::Result<Val> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let line = line.trim_end();
    let (kind, rest) = line.split_at(1);
    Ok(match kind {
        ":" => Val::Int(rest.parse().unwrap()),
        "+" => Val::Simple(rest.into()),
        "-" => Val::Err(rest.into()),
        "_" => Val::Bulk(None),
        "$" if rest == "-1" => Val::Bulk(None),
        "$" => {
            let n: usize = rest.parse().unwrap();
            let mut b = vec![0; n + 2];
            r.read_exact(&mut b)?;
            b.truncate(n);
            Val::Bulk(Some(b))
        }
        "*" | ">" | "%" => {
            let n: usize = rest.parse().unwrap();
            let n = if kind == "%" { 2 * n } else { n };
            Val::Arr((0..n).map(|_| read_val(r)).collect::<Result<_, _>>()?)
        }
        other => panic!("unexpected RESP type {other}"),
    })
}

/// One watch event: (revision, kind, key, value, prev_value).
type Event = (i64, String, String, Option<String>, Option<String>);

fn event(v: Val) -> Event {
    let Val::Arr(items) = v else {
        panic!("not an event: {v:?}")
    };
    let s = |v: &Val| match v {
        Val::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        Val::Bulk(None) => None,
        other => panic!("not a bulk: {other:?}"),
    };
    assert_eq!(s(&items[0]).as_deref(), Some("kv.watch"));
    let Val::Int(rev) = items[2] else { panic!() };
    (
        rev,
        s(&items[3]).unwrap(),
        s(&items[4]).unwrap(),
        s(&items[5]),
        s(&items[6]),
    )
}

struct Watcher {
    r: BufReader<TcpStream>,
    id: i64,
    current: i64,
}

fn watch(port: u16, args: &[&str]) -> Watcher {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut cmd = vec!["KV.WATCH"];
    cmd.extend_from_slice(args);
    s.write_all(support::resp_command(&cmd).as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    match read_val(&mut r).unwrap() {
        Val::Arr(v) => match (&v[0], &v[1]) {
            (Val::Int(id), Val::Int(cur)) => Watcher {
                r,
                id: *id,
                current: *cur,
            },
            _ => panic!("{v:?}"),
        },
        other => panic!("KV.WATCH replied {other:?}"),
    }
}

impl Watcher {
    /// Reads events until one is for `key`.
    fn until_key(&mut self, key: &str) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            let e = event(read_val(&mut self.r).unwrap());
            let done = e.2 == key;
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

/// A mixed workload on keys `w:*` from several clients: SET, DEL, INCR, APPEND, EXEC, scripts, keys
/// with a TTL that the expirer deletes as the clock moves, and other types. Ends with `SET w:end`.
fn workload(s: &TestServer) {
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        let mut c = s.conn();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                support::advance_clock(&mut c, 5);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let clients: Vec<_> = (0..8)
        .map(|w| {
            let mut c = s.conn();
            std::thread::spawn(move || {
                for i in 0..150 {
                    let k = format!("w:{}", (i * 7 + w) % 13);
                    let _: redis::Value = match i % 9 {
                        0 => redis::cmd("SET").arg(&k).arg(format!("v{w}.{i}")).query(&mut c),
                        1 => redis::cmd("DEL").arg(&k).query(&mut c),
                        2 => redis::cmd("SET").arg(&k).arg(i).arg("PX").arg(20).query(&mut c),
                        3 => redis::pipe()
                            .atomic()
                            .set(&k, "in-exec")
                            .set(format!("w:x{w}"), i)
                            .query(&mut c),
                        4 => redis::cmd("EVAL")
                            .arg("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('APPEND', KEYS[1], 'z')")
                            .arg(1)
                            .arg(&k)
                            .arg(i)
                            .query(&mut c),
                        5 => redis::cmd("RPUSH").arg(format!("w:list{w}")).arg(i).query(&mut c),
                        6 => redis::cmd("SET").arg(format!("other:{w}")).arg(i).query(&mut c),
                        7 => redis::cmd("KV.CAS").arg(&k).arg(0).arg("fresh").query(&mut c),
                        _ => redis::cmd("APPEND").arg(&k).arg("+").query(&mut c),
                    }
                    .unwrap_or(redis::Value::Nil);
                }
            })
        })
        .collect();
    for h in clients {
        h.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    driver.join().unwrap();
    // Let everything with a TTL expire (and be deleted by the expirer) before the end marker.
    let mut c = s.conn();
    support::advance_clock(&mut c, 1000);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS").arg("w:*").query(&mut c).unwrap();
        let ttls: Vec<i64> = keys
            .iter()
            .map(|k| redis::cmd("PTTL").arg(k).query(&mut c).unwrap())
            .collect();
        let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
        if ttls.iter().all(|t| *t == -1) && !info.contains("expires=1") {
            break;
        }
        assert!(Instant::now() < deadline, "keys still expiring: {info}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let _: () = redis::cmd("SET")
        .arg("w:end")
        .arg("done")
        .query(&mut c)
        .unwrap();
}

#[test]
fn replay_from_a_revision_equals_what_a_live_watcher_saw() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    let mut live = watch(s.port, &["w:", "PREFIX", "PREVKV"]);
    assert_eq!(live.current, 0);
    workload(&s);
    let seen = live.until_key("w:end");
    assert!(seen.len() > 500, "only {} events", seen.len());
    assert!(seen.iter().any(|e| e.1 == "del"), "no deletions");
    // Revisions never go back, and events of one revision arrive together.
    assert!(seen.windows(2).all(|p| p[0].0 <= p[1].0));
    // No key outside the prefix.
    assert!(seen.iter().all(|e| e.2.starts_with("w:")));

    let mut replay = watch(s.port, &["w:", "PREFIX", "PREVKV", "FROMREV", "1"]);
    assert_eq!(replay.until_key("w:end"), seen);

    // A replay from the middle sees the same tail.
    let mid = seen[seen.len() / 2].0;
    let mut tail = watch(
        s.port,
        &["w:", "PREFIX", "PREVKV", "FROMREV", &mid.to_string()],
    );
    let want: Vec<Event> = seen.iter().filter(|e| e.0 >= mid).cloned().collect();
    assert_eq!(tail.until_key("w:end"), want);

    // A single key.
    let mut one = watch(s.port, &["w:3", "FROMREV", "1"]);
    let got = one.until_key("w:3");
    assert_eq!(got[0], {
        let mut e = seen.iter().find(|e| e.2 == "w:3").unwrap().clone();
        e.4 = None;
        e
    });
}

#[test]
fn a_watcher_cut_off_mid_stream_resumes_without_loss_or_duplicate() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    let mut full = watch(s.port, &["w:", "PREFIX"]);
    let mut cut = watch(s.port, &["w:", "PREFIX"]);
    workload(&s);
    let all = full.until_key("w:end");
    // Read part of the stream, then the server closes the connection.
    let mut got: Vec<Event> = (0..all.len() / 3)
        .map(|_| event(read_val(&mut cut.r).unwrap()))
        .collect();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("SKIPME")
        .arg("yes")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut c)
        .unwrap();
    assert_eq!(killed, 2);
    // Events of the last revision read may be incomplete: resume from it, keeping only what came
    // before.
    let last = got.last().unwrap().0;
    got.retain(|e| e.0 < last);
    let mut resumed = watch(s.port, &["w:", "PREFIX", "FROMREV", &last.to_string()]);
    got.extend(resumed.until_key("w:end"));
    assert_eq!(got, all);
}

#[test]
fn a_watcher_that_never_reads_is_cut_at_its_limit_and_resumes() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 256kb 0 0")
        .query(&mut c)
        .unwrap();
    let mut slow = watch(s.port, &["big:", "PREFIX"]);
    let value = "x".repeat(16 * 1024);
    let mut last_rev = 0;
    let mut cut = false;
    for i in 0..2000 {
        let _: () = redis::cmd("SET")
            .arg(format!("big:{}", i % 50))
            .arg(&value)
            .query(&mut c)
            .unwrap();
        if i % 100 == 99 {
            let info: String = redis::cmd("INFO")
                .arg("coordination")
                .query(&mut c)
                .unwrap();
            if info.contains("watchers:0\r") {
                last_rev = redis::cmd("KV.REV").query(&mut c).unwrap();
                cut = true;
                break;
            }
        }
    }
    assert!(cut, "the watcher that never reads was never disconnected");
    // Its socket ends after what the kernel had taken; it resumes from the last revision it read.
    let mut read = Vec::new();
    while let Ok(v) = read_val(&mut slow.r) {
        read.push(event(v));
    }
    let resume_at = read.last().map_or(1, |e| e.0 + 1);
    let _: () = redis::cmd("SET")
        .arg("big:end")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let mut again = watch(
        s.port,
        &["big:", "PREFIX", "FROMREV", &resume_at.to_string()],
    );
    let rest = again.until_key("big:end");
    assert_eq!(rest.first().map(|e| e.0), Some(resume_at));
    assert!(rest.len() as i64 > last_rev - resume_at);
}

#[test]
fn fromrev_bounds_and_the_compacted_error() {
    let s = TestServer::start_with(&["--watch-history-max-memory", "2kb"]);
    let mut c = s.conn();
    let r = |c: &mut redis::Connection, args: &[&str]| -> String {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match cmd.query::<redis::Value>(c) {
            Ok(v) => format!("{v:?}"),
            Err(e) => e.to_string(),
        }
    };
    // The first watch starts the history at the next revision.
    let _w = watch(s.port, &["k"]);
    for i in 0..100 {
        let _: () = redis::cmd("SET").arg("k").arg(i).query(&mut c).unwrap();
    }
    let e = r(&mut c, &["KV.WATCH", "k", "FROMREV", "1"]);
    assert!(
        e.contains("COMPACTED") && e.contains("revision 1 is compacted, oldest available is"),
        "{e}"
    );
    let e = r(&mut c, &["KV.WATCH", "k", "FROMREV", "1000"]);
    assert!(
        e.contains("FROMREV 1000 is in the future, the current revision is 100"),
        "{e}"
    );
    let e = r(&mut c, &["KV.WATCH", "k", "FROMREV", "x"]);
    assert!(e.contains("not an integer"), "{e}");
    let e = r(&mut c, &["KV.WATCH", "k", "BOGUS"]);
    assert!(e.contains("syntax error"), "{e}");
    let info: String = redis::cmd("INFO")
        .arg("coordination")
        .query(&mut c)
        .unwrap();
    assert!(info.contains("watchers:1\r"), "{info}");
}

#[test]
fn resp2_watch_mode_and_resp3_pushes() {
    let s = TestServer::start();
    let mut w = watch(s.port, &["k"]);
    // RESP2: only the watch family, (un)subscribe, PING, QUIT and RESET while watching.
    w.r.get_mut()
        .write_all(support::resp_command(&["GET", "k"]).as_bytes())
        .unwrap();
    match read_val(&mut w.r).unwrap() {
        Val::Err(e) => assert!(e.contains("only (P|S)SUBSCRIBE"), "{e}"),
        other => panic!("{other:?}"),
    }
    w.r.get_mut()
        .write_all(support::resp_command(&["KV.UNWATCH", &w.id.to_string()]).as_bytes())
        .unwrap();
    assert_eq!(read_val(&mut w.r).unwrap(), Val::Int(1));
    w.r.get_mut()
        .write_all(support::resp_command(&["GET", "k"]).as_bytes())
        .unwrap();
    assert_eq!(read_val(&mut w.r).unwrap(), Val::Bulk(None));

    // RESP3: pushes interleave with ordinary replies.
    let mut s3 = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    s3.write_all(support::resp_command(&["HELLO", "3"]).as_bytes())
        .unwrap();
    s3.write_all(support::resp_command(&["KV.WATCH", "k"]).as_bytes())
        .unwrap();
    let mut r3 = BufReader::new(s3);
    let _hello = read_val(&mut r3).unwrap();
    let _reply = read_val(&mut r3).unwrap();
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let e = event(read_val(&mut r3).unwrap());
    assert_eq!(
        (e.1.as_str(), e.2.as_str(), e.3.as_deref()),
        ("put", "k", Some("v"))
    );
    r3.get_mut()
        .write_all(support::resp_command(&["GET", "k"]).as_bytes())
        .unwrap();
    assert_eq!(read_val(&mut r3).unwrap(), Val::Bulk(Some(b"v".to_vec())));
}

#[test]
fn one_leader_at_a_time_and_observers_see_every_change_in_order() {
    let s = TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    let mut obs = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    obs.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    obs.write_all(support::resp_command(&["ELECT.OBSERVE", "e"]).as_bytes())
        .unwrap();
    let mut obs = BufReader::new(obs);
    let _reply = read_val(&mut obs).unwrap();
    // 20 candidates campaign in turn; each leader logs its term through FENCED and resigns.
    let handles: Vec<_> = (0..20)
        .map(|w| {
            let mut c = s.conn();
            std::thread::spawn(move || {
                let me = format!("cand{w}");
                let mut terms = 0;
                for _ in 0..15 {
                    let token: Option<u64> = redis::cmd("ELECT.CAMPAIGN")
                        .arg("e")
                        .arg(&me)
                        .arg("PX")
                        .arg(60_000)
                        .arg("WAIT")
                        .arg(60_000)
                        .query(&mut c)
                        .unwrap();
                    let token = token.expect("elected within WAIT");
                    for phase in ["start", "end"] {
                        let _: i64 = redis::cmd("FENCED")
                            .arg("e")
                            .arg(token)
                            .arg("RPUSH")
                            .arg("terms")
                            .arg(format!("{token}:{me}:{phase}"))
                            .query(&mut c)
                            .unwrap();
                    }
                    let leader: redis::Value =
                        redis::cmd("ELECT.LEADER").arg("e").query(&mut c).unwrap();
                    assert!(format!("{leader:?}").contains(&me));
                    let resigned: i64 = redis::cmd("ELECT.RESIGN")
                        .arg("e")
                        .arg(&me)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(resigned, 1);
                    terms += 1;
                }
                terms
            })
        })
        .collect();
    let terms: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(terms, 300);
    let log: Vec<String> = redis::cmd("LRANGE")
        .arg("terms")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    // Terms never interleave: each start is followed by its own end.
    for pair in log.chunks(2) {
        let a: Vec<&str> = pair[0].split(':').collect();
        let b: Vec<&str> = pair[1].split(':').collect();
        assert_eq!(
            (a[0], a[1], a[2], b[0], b[1], b[2]),
            (a[0], a[1], "start", a[0], a[1], "end")
        );
    }
    // The observer saw each term begin (leader, token) and end (nil), in the order of the log.
    let mut changes = Vec::new();
    while changes.len() < 2 * terms {
        let Val::Arr(v) = read_val(&mut obs).unwrap() else {
            panic!()
        };
        assert_eq!(v[0], Val::Bulk(Some(b"elect.observe".to_vec())));
        changes.push((v[4].clone(), v[5].clone()));
    }
    for (i, pair) in log.chunks(2).enumerate() {
        let parts: Vec<&str> = pair[0].split(':').collect();
        let token: i64 = parts[0].parse().unwrap();
        assert_eq!(
            changes[2 * i],
            (
                Val::Bulk(Some(parts[1].as_bytes().to_vec())),
                Val::Int(token)
            )
        );
        assert_eq!(changes[2 * i + 1], (Val::Bulk(None), Val::Bulk(None)));
    }
}
