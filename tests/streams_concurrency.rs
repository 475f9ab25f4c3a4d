//! Consumer groups under concurrency over TCP: many consumers blocked in XREADGROUP on one stream while
//! producers XADD; every entry must be delivered exactly once across the group, and all acknowledged
//! entries leave the pending list. Concord-only.

mod strings_script;
mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use redis::Value;
use strings_script::Target;

const CONSUMERS: usize = 6;
const PRODUCERS: usize = 3;
const PER_PRODUCER: usize = 100;

/// The IDs in an XREADGROUP reply (`[[key, [[id, fields], ...]]]`), or none on nil.
fn ids(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Array(streams) = v {
        for s in streams {
            if let Value::Array(kv) = s
                && let Some(Value::Array(entries)) = kv.get(1)
            {
                for e in entries {
                    if let Value::Array(pair) = e
                        && let Some(Value::BulkString(id)) = pair.first()
                    {
                        out.push(String::from_utf8_lossy(id).into_owned());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn blocked_group_consumers_get_every_entry_exactly_once() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "jobs", "workers", "$", "MKSTREAM"][..])
        .query(&mut c)
        .unwrap();
    let total = PRODUCERS * PER_PRODUCER;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut consumers = Vec::new();
    for i in 0..CONSUMERS {
        let mut conn = t.conn();
        let seen = seen.clone();
        consumers.push(std::thread::spawn(move || {
            let name = format!("w{i}");
            loop {
                let reply: Value = redis::cmd("XREADGROUP")
                    .arg(&["GROUP", "workers", &name, "COUNT", "3", "BLOCK", "2000"][..])
                    .arg(&["STREAMS", "jobs", ">"][..])
                    .query(&mut conn)
                    .unwrap();
                let got = ids(&reply);
                if got.is_empty() {
                    return;
                }
                for id in &got {
                    let n: i64 = redis::cmd("XACK")
                        .arg(&["jobs", "workers", id][..])
                        .query(&mut conn)
                        .unwrap();
                    assert_eq!(n, 1, "{id} acknowledged twice");
                }
                seen.lock().unwrap().extend(got);
            }
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let mut conn = t.conn();
        producers.push(std::thread::spawn(move || {
            for j in 0..PER_PRODUCER {
                let _: String = redis::cmd("XADD")
                    .arg(&["jobs", "*", "p", &p.to_string(), "j", &j.to_string()][..])
                    .query(&mut conn)
                    .unwrap();
            }
        }));
    }
    for p in producers {
        p.join().unwrap();
    }
    for w in consumers {
        w.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), total, "deliveries");
    assert_eq!(unique.len(), total, "distinct entries");
    let pending: Value = redis::cmd("XPENDING")
        .arg(&["jobs", "workers"][..])
        .query(&mut c)
        .unwrap();
    assert!(
        matches!(&pending, Value::Array(v) if v.first() == Some(&Value::Int(0))),
        "{pending:?}"
    );
}
