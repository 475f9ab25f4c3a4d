//! SCAN's guarantee under concurrent growth: a full iteration returns every key that was present from its
//! start to its end, while another client inserts 100k keys and the tables grow underneath the cursor.

mod strings_script;
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strings_script::Target;

#[test]
fn full_scan_misses_no_stable_key_while_the_table_grows() {
    let t = Target::start();
    let mut c = t.conn();
    let stable: Vec<String> = (0..20000).map(|i| format!("stable:{i}")).collect();
    let mut pipe = redis::pipe();
    for k in &stable {
        pipe.cmd("SET").arg(k).arg(1).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();

    let started = Arc::new(AtomicBool::new(false));
    let mut writer = t.conn();
    let go = started.clone();
    let inserter = std::thread::spawn(move || {
        go.store(true, Ordering::SeqCst);
        for chunk in 0..100 {
            let mut pipe = redis::pipe();
            for i in 0..1000 {
                pipe.cmd("SET")
                    .arg(format!("new:{}", chunk * 1000 + i))
                    .arg(i)
                    .ignore();
            }
            let _: () = pipe.query(&mut writer).unwrap();
        }
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }

    // Several full iterations, each interleaved with the inserts (small COUNT keeps them long).
    let mut rounds = 0;
    loop {
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursor = "0".to_string();
        loop {
            let (next, batch): (String, Vec<String>) = redis::cmd("SCAN")
                .arg(&cursor)
                .arg("COUNT")
                .arg(50)
                .query(&mut c)
                .unwrap();
            seen.extend(batch);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        let missed: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
        assert!(
            missed.is_empty(),
            "round {rounds}: {} stable keys missed, e.g. {:?}",
            missed.len(),
            &missed[..missed.len().min(5)]
        );
        rounds += 1;
        if inserter.is_finished() && rounds >= 2 {
            break;
        }
    }
    inserter.join().unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 120_000);
}
