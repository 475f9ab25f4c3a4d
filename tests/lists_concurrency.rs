//! Lists under concurrent clients over TCP: every pushed element is popped exactly once and in each
//! producer's order, and LMOVE/RPOPLPUSH between two keys (usually on different shards) never lose or
//! duplicate an element however the moves interleave.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use support::TestServer;

#[test]
fn concurrent_producers_and_consumers_deliver_each_element_once_in_producer_order() {
    let server = TestServer::start();
    let (producers, per_producer, consumers) = (4usize, 2000usize, 4usize);
    let total = producers * per_producer;
    let taken = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for p in 0..producers {
        let mut c = server.conn();
        handles.push(thread::spawn(move || {
            for chunk in (0..per_producer).collect::<Vec<_>>().chunks(7) {
                let mut cmd = redis::cmd("RPUSH");
                cmd.arg("q");
                for i in chunk {
                    cmd.arg(format!("{p}:{i}"));
                }
                let _: i64 = cmd.query(&mut c).unwrap();
            }
            Vec::new()
        }));
    }
    for k in 0..consumers {
        let mut c = server.conn();
        let taken = taken.clone();
        handles.push(thread::spawn(move || {
            let mut got: Vec<String> = Vec::new();
            while taken.load(Ordering::SeqCst) < total {
                // Alternate the single-element and counted forms.
                let batch: Vec<String> = if k % 2 == 0 {
                    let one: Option<String> = redis::cmd("LPOP").arg("q").query(&mut c).unwrap();
                    one.into_iter().collect()
                } else {
                    let many: Option<Vec<String>> =
                        redis::cmd("LPOP").arg("q").arg(5).query(&mut c).unwrap();
                    many.unwrap_or_default()
                };
                taken.fetch_add(batch.len(), Ordering::SeqCst);
                got.extend(batch);
            }
            got
        }));
    }
    let mut all = HashSet::new();
    for h in handles {
        let got = h.join().unwrap();
        // Within one consumer, each producer's elements arrive in the order they were pushed.
        let mut last = vec![None::<usize>; producers];
        for item in &got {
            let (p, i) = item.split_once(':').unwrap();
            let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
            assert!(last[p].is_none_or(|l| l < i), "{item} out of order");
            last[p] = Some(i);
            assert!(all.insert(item.clone()), "{item} delivered twice");
        }
    }
    assert_eq!(all.len(), total);
    let mut c = server.conn();
    let exists: i64 = redis::cmd("EXISTS").arg("q").query(&mut c).unwrap();
    assert_eq!(exists, 0, "the emptied list is deleted");
}

#[test]
fn concurrent_moves_between_two_lists_conserve_every_element() {
    let server = TestServer::start();
    let mut c = server.conn();
    let n = 500usize;
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("a");
    for i in 0..n {
        cmd.arg(i);
    }
    let _: i64 = cmd.query(&mut c).unwrap();
    let mut handles = Vec::new();
    for t in 0..4 {
        let mut c = server.conn();
        handles.push(thread::spawn(move || {
            for j in 0..1500 {
                let (src, dst) = if (t + j) % 2 == 0 {
                    ("a", "b")
                } else {
                    ("b", "a")
                };
                let _: Option<String> = match j % 3 {
                    0 => redis::cmd("RPOPLPUSH").arg(src).arg(dst).query(&mut c),
                    1 => redis::cmd("LMOVE")
                        .arg(src)
                        .arg(dst)
                        .arg("LEFT")
                        .arg("RIGHT")
                        .query(&mut c),
                    _ => redis::cmd("LMOVE")
                        .arg(src)
                        .arg(src)
                        .arg("RIGHT")
                        .arg("LEFT")
                        .query(&mut c),
                }
                .unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let a: Vec<usize> = redis::cmd("LRANGE")
        .arg("a")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    let b: Vec<usize> = redis::cmd("LRANGE")
        .arg("b")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    let mut all: Vec<usize> = a.into_iter().chain(b).collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
}
