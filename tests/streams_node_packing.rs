//! Approximate trimming (`MAXLEN ~`) removes whole stream nodes, so how many entries it leaves depends on
//! where nodes end, which Concord derives from an estimate of Redis's listpack sizes. BullMQ trims its
//! event streams this way and its tests bound the result. The expected numbers were taken from
//! redis-server 7.0.15 with the same commands.

mod support;

use support::TestServer;

/// Adds `n` entries shaped like BullMQ's events, three per millisecond (`ms-0`, `ms-1`, `ms-2`), each
/// with `MAXLEN ~ 20`.
fn add_events(c: &mut redis::Connection, n: u64) {
    for i in 0..n {
        let id = format!("{}-{}", 1000 + i / 3, i % 3);
        let _: String = redis::cmd("XADD")
            .arg("s")
            .arg("MAXLEN")
            .arg("~")
            .arg(20)
            .arg(&id)
            .arg(&["event", "completed", "jobId"])
            .arg(i)
            .arg(&["returnvalue", "null", "prev", "active"])
            .query(c)
            .expect("xadd");
    }
}

#[test]
fn entries_whose_seq_is_below_the_node_master_seq_do_not_close_the_node_early() {
    // Every new millisecond restarts seq at 0, so an entry's seq delta from its node's first ID is often
    // negative. Listpack stores -1 in two bytes; counting it as a 9-byte integer made nodes end early
    // and left 103 entries in two nodes where Redis leaves 100 in one.
    let server = TestServer::start();
    let mut c = server.conn();
    add_events(&mut c, 400);
    let len: u64 = redis::cmd("XLEN").arg("s").query(&mut c).expect("xlen");
    assert_eq!(len, 100);
    let info: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg("s")
        .query(&mut c)
        .expect("xinfo");
    let keys = info
        .iter()
        .position(|v| matches!(v, redis::Value::BulkString(b) if b == b"radix-tree-keys"))
        .and_then(|i| info.get(i + 1));
    assert_eq!(keys, Some(&redis::Value::Int(1)));
    let first: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("s")
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query(&mut c)
        .expect("xrange");
    assert_eq!(first[0].0, "1100-0");
}
