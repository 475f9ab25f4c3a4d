//! Pub/sub with real clients under load: per-publisher ordering with several publishers and many
//! subscribers (RESP2 and RESP3), pattern fan-out, and the output buffer limit: a subscriber that never
//! reads is disconnected at its hard limit while the others keep receiving everything, and the
//! server's memory stays bounded.

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use support::TestServer;

fn subscriber(server: &TestServer, resp3: bool) -> redis::Connection {
    let url = if resp3 {
        format!("{}?protocol=resp3", server.url())
    } else {
        server.url()
    };
    let c = redis::Client::open(url).unwrap().get_connection().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

/// Checks that every publisher's messages arrived complete and in its order.
fn check_order(got: &[String], publishers: usize, per: usize) {
    let mut next = vec![0usize; publishers];
    for m in got {
        let (p, i) = m.split_once(':').unwrap();
        let p: usize = p.parse().unwrap();
        let i: usize = i.parse().unwrap();
        assert_eq!(i, next[p], "publisher {p} out of order");
        next[p] += 1;
    }
    assert!(next.iter().all(|&n| n == per), "missing messages: {next:?}");
}

#[test]
fn many_subscribers_get_every_message_in_each_publishers_order() {
    const SUBS: usize = 24;
    const PUBS: usize = 4;
    const PER: usize = 1500;
    let server = TestServer::start();
    let ready = Arc::new(Barrier::new(SUBS + 1));
    let mut handles = Vec::new();
    for s in 0..SUBS {
        let mut con = subscriber(&server, s % 2 == 1);
        let ready = ready.clone();
        handles.push(thread::spawn(move || {
            let mut ps = con.as_pubsub();
            if s % 3 == 0 {
                ps.psubscribe("fan*").unwrap();
            } else {
                ps.subscribe("fanout").unwrap();
            }
            ready.wait();
            let mut got = Vec::with_capacity(PUBS * PER);
            while got.len() < PUBS * PER {
                let msg = ps.get_message().unwrap();
                assert_eq!(msg.get_channel_name(), "fanout");
                got.push(msg.get_payload::<String>().unwrap());
            }
            got
        }));
    }
    ready.wait();
    let mut pubs = Vec::new();
    for p in 0..PUBS {
        let url = server.url();
        pubs.push(thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            for i in 0..PER {
                let n: usize = redis::cmd("PUBLISH")
                    .arg("fanout")
                    .arg(format!("{p}:{i}"))
                    .query(&mut c)
                    .unwrap();
                assert_eq!(n, SUBS);
            }
        }));
    }
    for p in pubs {
        p.join().unwrap();
    }
    for h in handles {
        let got = h.join().unwrap();
        check_order(&got, PUBS, PER);
    }
}

fn rss_kb(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_at_its_hard_limit_while_others_keep_receiving() {
    const MSG: usize = 16 * 1024;
    const COUNT: usize = 3000; // 48 MB in total, far past the limit plus the kernel's socket buffers
    let server =
        TestServer::start_with(&["--client-output-buffer-limit", "pubsub", "1mb", "0", "0"]);
    let mut admin = server.conn();
    let pid = info_field(&mut admin, "server", "process_id");

    // The slow one: subscribes, reads its confirmation, then never reads again.
    let mut slow = server.raw();
    slow.write_all(b"*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\nbulk\r\n$4\r\nname\r\n")
        .unwrap();
    let mut confirm = [0u8; 64];
    let mut n = 0;
    while n < 64 {
        n += slow.read(&mut confirm[n..]).unwrap();
        if confirm[..n].windows(4).filter(|w| w == b":2\r\n").count() == 1 {
            break;
        }
    }
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("admin")
        .query(&mut admin)
        .unwrap();

    // Readers that keep up, one per protocol. The publisher never gets more than 32 messages (512 kB)
    // ahead of them, so on a loaded machine they stay under the limit while the slow one does not.
    let ready = Arc::new(Barrier::new(3));
    let progress: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut readers = Vec::new();
    for (r, resp3) in [false, true].into_iter().enumerate() {
        let mut con = subscriber(&server, resp3);
        let ready = ready.clone();
        let progress = progress.clone();
        readers.push(thread::spawn(move || {
            let mut ps = con.as_pubsub();
            ps.subscribe("bulk").unwrap();
            ready.wait();
            for i in 0..COUNT {
                let msg = ps.get_message().unwrap();
                let payload: Vec<u8> = msg.get_payload().unwrap();
                assert_eq!(payload.len(), MSG);
                assert_eq!(&payload[..8], format!("{i:08}").as_bytes());
                progress[r].store(i + 1, Ordering::Relaxed);
            }
        }));
    }
    ready.wait();
    let rss_before = rss_kb(&pid);
    let mut filler = vec![b'x'; MSG];
    let mut max_rss = rss_before;
    let mut receivers = Vec::new();
    for i in 0..COUNT {
        while progress.iter().any(|p| p.load(Ordering::Relaxed) + 32 < i) {
            thread::sleep(Duration::from_micros(200));
        }
        filler[..8].copy_from_slice(format!("{i:08}").as_bytes());
        let n: usize = redis::cmd("PUBLISH")
            .arg("bulk")
            .arg(&filler[..])
            .query(&mut admin)
            .unwrap();
        receivers.push(n);
        if i % 200 == 0 {
            max_rss = max_rss.max(rss_kb(&pid));
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    // The slow subscriber was counted until it was dropped, then only the two readers were.
    assert_eq!(receivers[0], 3);
    assert_eq!(*receivers.last().unwrap(), 2);
    assert!(receivers.windows(2).all(|w| w[0] >= w[1]));
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("name")
        .query(&mut admin)
        .unwrap();
    assert_eq!(numsub[1], redis::Value::Int(0));
    // Its connection was closed: what it can still read ends in EOF, well short of everything sent.
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut drained = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let started = Instant::now();
    loop {
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) => panic!("slow subscriber was not disconnected: {e}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20));
    }
    assert!(drained < COUNT * MSG / 2, "drained {drained}");
    // Memory stayed bounded: nowhere near the 48 MB that was published to the slow client.
    let grown_kb = max_rss.saturating_sub(rss_before);
    eprintln!(
        "slow subscriber drained {drained} bytes before EOF; server RSS grew by {grown_kb} kB"
    );
    assert!(grown_kb < 24 * 1024, "RSS grew by {grown_kb} kB");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
}

#[test]
fn the_soft_limit_disconnects_only_after_its_seconds() {
    let server =
        TestServer::start_with(&["--client-output-buffer-limit", "pubsub", "0", "64kb", "1"]);
    let mut admin = server.conn();
    let mut slow = server.raw();
    slow.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\ns\r\n")
        .unwrap();
    let mut confirm = [0u8; 32];
    slow.read_exact(&mut confirm[..30]).unwrap();
    let big = vec![b'y'; 1 << 20];
    // Fill the kernel buffers and go over the soft limit.
    let started = Instant::now();
    let mut last = 1;
    while started.elapsed() < Duration::from_secs(6) && last == 1 {
        last = redis::cmd("PUBLISH")
            .arg("s")
            .arg(&big[..])
            .query(&mut admin)
            .unwrap();
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(last, 0, "never disconnected");
    // Not before the soft limit's second had passed.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn config_set_changes_output_buffer_limits_per_class() {
    let server = TestServer::start();
    let mut c = server.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 2mb 1mb 30")
        .query(&mut c)
        .unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        v[1],
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 2097152 1048576 30"
    );
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 1 2")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Wrong number of arguments"), "{e}");
}

#[test]
fn a_reply_over_the_normal_hard_limit_closes_the_client_without_sending_it() {
    let server =
        TestServer::start_with(&["--client-output-buffer-limit", "normal", "100000", "0", "0"]);
    let mut c = server.conn();
    let item = "x".repeat(1000);
    for _ in 0..150 {
        let _: i64 = redis::cmd("RPUSH")
            .arg("l")
            .arg(&item)
            .query(&mut c)
            .unwrap();
    }
    let mut raw = server.raw();
    raw.write_all(b"PING\r\nLRANGE l 0 -1\r\n").unwrap();
    let mut got = Vec::new();
    let _ = raw.read_to_end(&mut got);
    // Neither the big reply nor the PONG before it in the same batch was sent.
    assert!(got.is_empty(), "{} bytes", got.len());
    // Small replies are unaffected.
    let n: i64 = redis::cmd("LLEN").arg("l").query(&mut c).unwrap();
    assert_eq!(n, 150);
}
