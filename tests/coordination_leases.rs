//! Leases over TCP: keys attached to a lease vanish exactly when it ends (on the frozen server clock),
//! all in one revision, with their events; KEEPALIVE moves the end; ids are never reused.

mod strings_script;
mod support;

use std::time::{Duration, Instant};
use strings_script::{Target, run, script};

fn concord() -> Option<(Target, redis::Connection)> {
    let t = Target::concord_only()?;
    let c = t.conn();
    Some((t, c))
}

/// Waits (wall time, for the expirer's tick) until `line` renders as `want`.
fn eventually(c: &mut redis::Connection, line: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = run(c, line);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{line}: {got}, want {want}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn lease_commands_and_bad_input() {
    let Some((_t, mut c)) = concord() else { return };
    support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        LEASE.GRANT 1000 => :1
        LEASE.LIST => [:1]
        LEASE.TTL 1 => [granted_ms, :1000, remaining_ms, :1000]
        SET a 1 => +OK
        RPUSH b x => :1
        LEASE.ATTACH 1 a b missing => :2
        LEASE.TTL 1 KEYS => [granted_ms, :1000, remaining_ms, :1000, keys, [a, b]]
        KV.META a => [type, string, version, :1, create_revision, :2, mod_revision, :2, lease, :1, pttl, :1000]
        LOCK.ACQUIRE L owner LEASE 1 => :5
        LOCK.INFO L => [owner, owner, token, :5, pttl, :1000]
        PTTL L => :-1
        KV.CAS c 0 v LEASE 1 => :6
        LEASE.KEEPALIVE 1 => :1000
        LEASE.GRANT 0 => -ERR lease time to live must be a positive number of milliseconds
        LEASE.GRANT -5 => -ERR lease time to live must be a positive number of milliseconds
        LEASE.GRANT x => -ERR value is not an integer or out of range
        LEASE.GRANT 10 BOGUS 1 => -ERR syntax error
        LEASE.GRANT 10 ID 1 => -ERR lease 1 already exists
        LEASE.KEEPALIVE 99 => nil
        LEASE.KEEPALIVE x => -ERR value is not an integer or out of range
        LEASE.REVOKE 99 => nil
        LEASE.TTL 99 => nil
        LEASE.TTL 1 BOGUS => -ERR syntax error
        LEASE.ATTACH 99 a => -NOLEASE lease 99 not found
        LEASE.ATTACH x a => -ERR value is not an integer or out of range
        "#,
    );
    support::advance_clock(&mut c, 600);
    script(
        &mut c,
        r#"
        LEASE.KEEPALIVE 1 => :1000
        LEASE.TTL 1 => [granted_ms, :1000, remaining_ms, :1000]
        LEASE.REVOKE 1 => :4
        EXISTS a b L c => :0
        LEASE.LIST => []
        LEASE.REVOKE 1 => nil
        LEASE.GRANT 500 => :10
        "#,
    );
}

#[test]
fn keys_vanish_exactly_when_their_lease_ends_in_one_revision() {
    let Some((_t, mut c)) = concord() else { return };
    support::freeze_clock(&mut c);
    script(
        &mut c,
        r#"
        LEASE.GRANT 1000 => :1
        MSET a 1 b 2 c 3 => +OK
        SELECT 1 => +OK
        SET d 4 => +OK
        LEASE.ATTACH 1 d => :1
        SELECT 0 => +OK
        LEASE.ATTACH 1 a b => :2
        SET c 33 => +OK
        KV.REV => :6
        "#,
    );
    // A key deleted and made again is a new incarnation: no longer the lease's.
    script(
        &mut c,
        r#"
        DEL b => :1
        SET b again => +OK
        KV.REV => :8
        "#,
    );
    support::advance_clock(&mut c, 999);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(run(&mut c, "EXISTS a"), ":1");
    support::advance_clock(&mut c, 1);
    eventually(&mut c, "EXISTS a", ":0");
    script(
        &mut c,
        r#"
        EXISTS b c => :2
        SELECT 1 => +OK
        EXISTS d => :0
        SELECT 0 => +OK
        KV.REV => :9
        LEASE.LIST => []
        "#,
    );
}

#[test]
fn a_lease_end_is_one_unit_with_del_events_and_wakes_lock_waiters() {
    let s = support::TestServer::start_with(&["--worker-threads", "4"]);
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    assert_eq!(run(&mut c, "CONFIG SET notify-keyspace-events KEA"), "+OK");
    // Keyspace events of the deletions.
    let mut sub = s.conn();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").unwrap();
    script(
        &mut c,
        r#"
        LEASE.GRANT 1000 => :1
        LOCK.ACQUIRE L holder LEASE 1 => :2
        SET k v => +OK
        LEASE.ATTACH 1 k => :1
        "#,
    );
    // A waiter on the lock, woken by the lease's end.
    use std::io::Write;
    let mut w = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    w.write_all(
        support::resp_command(&["LOCK.ACQUIRE", "L", "next", "PX", "1000", "WAIT", "60000"])
            .as_bytes(),
    )
    .unwrap();
    let mut w = std::io::BufReader::new(w);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !run(&mut c, "INFO clients").contains("blocked_clients:1") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let before: u64 = run(&mut c, "KV.REV")[1..].parse().unwrap();
    support::advance_clock(&mut c, 1000);
    let token = support::read_compact_reply(&mut w);
    // One revision ended the lease (both keys), the next is the waiter's acquisition.
    assert_eq!(token, format!(":{}", before + 2));
    assert_eq!(run(&mut c, "GET L"), "next");
    assert_eq!(run(&mut c, "EXISTS k"), ":0");
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut expired = Vec::new();
    while expired.len() < 2 {
        let m = ps.get_message().unwrap();
        let channel: String = m.get_channel_name().to_string();
        let key: String = m.get_payload().unwrap();
        if channel.ends_with(":expired") {
            expired.push(key);
        }
    }
    expired.sort();
    assert_eq!(expired, ["L", "k"]);
}
