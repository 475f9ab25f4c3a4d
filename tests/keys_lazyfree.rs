//! Lazy freeing over TCP: UNLINK, FLUSHDB ASYNC and DEL with lazyfree-lazy-user-del hand big values to
//! the background freer (INFO memory counts them), remove the key at once, and keep serving others.

mod support;

use support::TestServer;

fn info_field(c: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing from INFO memory"))
}

/// Waits (bounded) for the background thread to have freed `n` objects in total.
fn freed_reaches(c: &mut redis::Connection, n: u64) -> u64 {
    for _ in 0..500 {
        let freed = info_field(c, "lazyfreed_objects");
        if freed >= n {
            return freed;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    info_field(c, "lazyfreed_objects")
}

fn fill(c: &mut redis::Connection, cmd: &str, key: &str, n: usize) {
    let mut p = redis::pipe();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut cm = redis::cmd(cmd);
        cm.arg(key);
        for i in chunk {
            if cmd == "ZADD" {
                cm.arg(*i);
            }
            cm.arg(format!("m{i}"));
            if cmd == "HSET" {
                cm.arg("v");
            }
        }
        p.add_command(cm).ignore();
    }
    let () = p.query(c).unwrap();
}

#[test]
fn unlink_frees_big_values_in_the_background_and_small_ones_in_place() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(info_field(&mut c, "lazyfreed_objects"), 0);
    fill(&mut c, "HSET", "h", 10_000);
    fill(&mut c, "SADD", "s", 10_000);
    fill(&mut c, "ZADD", "z", 10_000);
    fill(&mut c, "RPUSH", "l", 10_000);
    let () = redis::cmd("SET")
        .arg("small")
        .arg("x")
        .query(&mut c)
        .unwrap();
    let n: i64 = redis::cmd("UNLINK")
        .arg(&["h", "s", "z", "l", "small", "missing"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 5);
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 0, "keys are gone as soon as UNLINK replies");
    assert_eq!(
        freed_reaches(&mut c, 4),
        4,
        "four big values, the string freed in place"
    );
    assert_eq!(info_field(&mut c, "lazyfree_pending_objects"), 0);

    // Plain DEL frees in place unless lazyfree-lazy-user-del is on.
    fill(&mut c, "SADD", "s", 1_000);
    let _: i64 = redis::cmd("DEL").arg("s").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "lazyfreed_objects"), 4);
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "lazyfree-lazy-user-del", "yes"])
        .query(&mut c)
        .unwrap();
    fill(&mut c, "SADD", "s", 1_000);
    let _: i64 = redis::cmd("DEL").arg("s").query(&mut c).unwrap();
    assert_eq!(freed_reaches(&mut c, 5), 5);

    // FLUSHDB ASYNC hands the whole table over.
    fill(&mut c, "HSET", "h", 1_000);
    let () = redis::cmd("FLUSHDB").arg("ASYNC").query(&mut c).unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 0);
    assert_eq!(freed_reaches(&mut c, 6), 6);
}
