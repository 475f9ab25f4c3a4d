//! CLIENT TRACKING over TCP: RESP3 invalidation pushes for keys changed by other clients, by expiry
//! (active and on a write), by scripts and EXEC, null invalidations on FLUSHALL/FLUSHDB, BCAST prefixes,
//! NOLOOP, OPTIN/OPTOUT with CLIENT CACHING, the RESP2 redirect to `__redis__:invalidate`, the
//! tracking table's size limit, and the commands' replies and errors as Redis gives them.

mod notify_client;
mod support;

use notify_client::{Client, Val};
use support::TestServer;

fn ok(v: Val) {
    assert_eq!(v, Val::Str("OK".into()));
}

fn push(keys: &[&str]) -> Val {
    Val::Push(vec![
        Val::Str("invalidate".into()),
        Val::Arr(keys.iter().map(|k| Val::Str(k.to_string())).collect()),
    ])
}

/// A RESP3 client with tracking on (extra options after ON).
fn tracker(srv: &TestServer, opts: &[&str]) -> Client {
    let mut t = Client::resp3(srv.port);
    let mut args = vec!["CLIENT", "TRACKING", "ON"];
    args.extend_from_slice(opts);
    ok(t.call(&args));
    t
}

#[test]
fn a_read_key_is_invalidated_once_when_another_client_writes_it() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    let mut w = Client::connect(srv.port);
    w.call(&["SET", "k", "1"]);
    assert_eq!(t.call(&["GET", "k"]), Val::Str("1".into()));
    assert_eq!(t.call(&["MGET", "a", "b"]).text(), "nil nil");
    w.call(&["SET", "k", "2"]);
    assert_eq!(t.read(), push(&["k"]));
    // Not tracked any more until read again.
    w.call(&["SET", "k", "3"]);
    w.call(&["HSET", "a", "f", "v"]);
    assert_eq!(t.read(), push(&["a"]));
    w.call(&["DEL", "b"]);
    assert!(
        t.read_within(100).is_none(),
        "DEL of a missing key changes nothing"
    );
    w.call(&["SET", "b", "1"]);
    assert_eq!(t.read(), push(&["b"]));
}

#[test]
fn expiry_invalidates_on_the_frozen_clock() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    let mut w = Client::connect(srv.port);
    w.call(&["DEBUG", "CLOCK", "FREEZE"]);
    w.call(&["SET", "a", "1", "PX", "100"]);
    w.call(&["SET", "b", "1", "PX", "100"]);
    t.call(&["GET", "a"]);
    t.call(&["GET", "b"]);
    w.call(&["DEBUG", "CLOCK", "ADVANCE", "200"]);
    w.call(&["DEBUG", "EXPIRE-NOW"]);
    let mut got = vec![t.read(), t.read()];
    got.sort_by_key(|v| v.text());
    assert_eq!(got, vec![push(&["a"]), push(&["b"])]);
}

#[test]
fn a_write_to_an_expired_key_invalidates_it() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    let mut w = Client::connect(srv.port);
    w.call(&["DEBUG", "CLOCK", "FREEZE"]);
    w.call(&["SET", "a", "1", "PX", "100"]);
    t.call(&["GET", "a"]);
    w.call(&["DEBUG", "CLOCK", "ADVANCE", "200"]);
    w.call(&["LPUSH", "a", "x"]);
    assert_eq!(t.read(), push(&["a"]));
}

#[test]
fn scripts_and_exec_invalidate_what_they_wrote() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    let mut w = Client::connect(srv.port);
    t.call(&["MGET", "s1", "s2", "e1"]);
    let r = w.call(&[
        "EVAL",
        "redis.call('set', KEYS[1], 1); return redis.call('get', KEYS[2])",
        "2",
        "s1",
        "s2",
    ]);
    assert_eq!(r, Val::Nil);
    assert_eq!(t.read(), push(&["s1"]));
    w.call(&["MULTI"]);
    w.call(&["INCR", "e1"]);
    w.call(&["GET", "s2"]);
    assert_eq!(w.call(&["EXEC"]).text(), "1 nil");
    assert_eq!(t.read(), push(&["e1"]));
    assert!(t.read_within(100).is_none(), "s2 was only read");
}

#[test]
fn a_script_that_reads_tracks_its_declared_keys_for_its_caller() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    let mut w = Client::connect(srv.port);
    // Only writes: nothing tracked.
    t.call(&["EVAL", "redis.call('set', 'other', 1)", "1", "sk"]);
    w.call(&["SET", "sk", "1"]);
    // A read: the declared keys are tracked (Redis remembers the caller's command), not the key read.
    t.call(&[
        "EVAL",
        "return redis.call('get', 'other')",
        "2",
        "sk",
        "sk2",
    ]);
    w.call(&["MSET", "other", "2", "sk2", "1", "sk", "2"]);
    assert_eq!(t.read(), push(&["sk2"]));
    assert_eq!(t.read(), push(&["sk"]));
    assert!(t.read_within(100).is_none());
}

#[test]
fn flushall_and_flushdb_send_a_null_invalidation() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    let mut w = Client::connect(srv.port);
    w.call(&["SET", "k", "1"]);
    t.call(&["GET", "k"]);
    w.call(&["FLUSHALL"]);
    assert_eq!(
        t.read(),
        Val::Push(vec![Val::Str("invalidate".into()), Val::Nil])
    );
    w.call(&["FLUSHDB"]);
    assert_eq!(
        t.read(),
        Val::Push(vec![Val::Str("invalidate".into()), Val::Nil])
    );
    // The table was emptied: an earlier read is no longer tracked.
    w.call(&["SET", "k", "2"]);
    assert!(t.read_within(100).is_none());
}

#[test]
fn own_writes_are_invalidated_after_the_reply_and_not_with_noloop() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    t.call(&["GET", "k"]);
    let mut pushes = Vec::new();
    let r = t.call_collect(&["SET", "k", "1"], &mut pushes);
    assert_eq!(r, Val::Str("OK".into()));
    assert!(pushes.is_empty(), "the invalidation comes after the reply");
    assert_eq!(t.read(), push(&["k"]));

    let mut n = tracker(&srv, &["NOLOOP"]);
    n.call(&["GET", "k"]);
    n.call(&["SET", "k", "2"]);
    // t read k again? No: only n tracks it now; n is NOLOOP.
    assert!(n.read_within(100).is_none());
}

#[test]
fn bcast_sends_every_matching_key_per_write() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &["BCAST", "PREFIX", "a:", "PREFIX", "b:"]);
    let mut w = Client::connect(srv.port);
    w.call(&["MSET", "a:2", "1", "c:1", "1", "a:1", "1"]);
    assert_eq!(t.read(), push(&["a:1", "a:2"]));
    w.call(&["SET", "b:x", "1"]);
    assert_eq!(t.read(), push(&["b:x"]));
    w.call(&["SET", "c:2", "1"]);
    assert!(t.read_within(100).is_none());
    let mut all = tracker(&srv, &["BCAST"]);
    w.call(&["SET", "zzz", "1"]);
    assert_eq!(all.read(), push(&["zzz"]));
    assert_eq!(
        t.call(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:x"]),
        Val::Err(
            "ERR Prefix 'a:x' overlaps with an existing prefix 'a:'. Prefixes for a single client must \
             not overlap."
                .into()
        )
    );
}

#[test]
fn resp2_clients_get_invalidations_through_a_redirect_subscriber() {
    let srv = TestServer::start();
    let mut r = Client::connect(srv.port);
    let rid = r.id();
    assert_eq!(
        r.call(&["SUBSCRIBE", "__redis__:invalidate"]).text(),
        "subscribe __redis__:invalidate 1"
    );
    let mut t = Client::connect(srv.port);
    ok(t.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &rid.to_string()]));
    assert_eq!(t.call(&["CLIENT", "GETREDIR"]), Val::Int(rid));
    t.call(&["GET", "k"]);
    let mut w = Client::connect(srv.port);
    w.call(&["SET", "k", "1"]);
    assert_eq!(
        r.read(),
        Val::Arr(vec![
            Val::Str("message".into()),
            Val::Str("__redis__:invalidate".into()),
            Val::Arr(vec![Val::Str("k".into())]),
        ])
    );
    // A RESP2 client without a redirect gets nothing (RESP2 has no pushes), and is not disturbed.
    let mut plain = Client::connect(srv.port);
    ok(plain.call(&["CLIENT", "TRACKING", "ON"]));
    plain.call(&["GET", "k"]);
    w.call(&["SET", "k", "2"]);
    assert_eq!(plain.call(&["PING"]), Val::Str("PONG".into()));
}

#[test]
fn a_vanished_redirect_target_is_reported() {
    let srv = TestServer::start();
    let mut r = Client::connect(srv.port);
    let rid = r.id();
    let mut t = tracker(&srv, &["REDIRECT", &rid.to_string()]);
    t.call(&["GET", "k"]);
    drop(r);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut w = Client::connect(srv.port);
    w.call(&["SET", "k", "1"]);
    assert_eq!(
        t.read(),
        Val::Push(vec![
            Val::Str("tracking-redir-broken".into()),
            Val::Int(rid)
        ])
    );
    let info = t.call(&["CLIENT", "TRACKINGINFO"]).text();
    assert_eq!(
        info,
        format!("flags on broken_redirect redirect {rid} prefixes")
    );
    let line = t.call(&["CLIENT", "INFO"]).text();
    assert!(line.contains(" flags=tR "), "{line}");
    assert!(line.contains(&format!(" redir={rid} ")), "{line}");
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let srv = TestServer::start();
    let mut w = Client::connect(srv.port);
    let mut i = tracker(&srv, &["OPTIN"]);
    i.call(&["GET", "a"]);
    ok(i.call(&["CLIENT", "CACHING", "YES"]));
    i.call(&["GET", "b"]);
    i.call(&["GET", "c"]);
    w.call(&["MSET", "a", "1", "b", "1", "c", "1"]);
    assert_eq!(i.read(), push(&["b"]));
    assert!(i.read_within(100).is_none());

    let mut o = tracker(&srv, &["OPTOUT"]);
    ok(o.call(&["CLIENT", "CACHING", "NO"]));
    o.call(&["GET", "a"]);
    o.call(&["GET", "b"]);
    w.call(&["MSET", "a", "2", "b", "2"]);
    assert_eq!(o.read(), push(&["b"]));
    assert!(o.read_within(100).is_none());
}

#[test]
fn the_tracking_table_is_bounded() {
    let srv = TestServer::start();
    let mut t = tracker(&srv, &[]);
    t.call(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    t.call(&["MGET", "k1", "k2"]);
    let mut pushes = Vec::new();
    t.call_collect(&["GET", "k3"], &mut pushes);
    let evicted = match pushes.pop().or_else(|| t.read_within(500)) {
        Some(v) => v,
        None => panic!("no eviction invalidation"),
    };
    let w = evicted.words();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0], "invalidate");
    assert!(["k1", "k2", "k3"].contains(&w[1].as_str()), "{w:?}");
}

#[test]
fn tracking_commands_reply_and_refuse_as_redis() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let err = |c: &mut Client, args: &[&str]| match c.call(args) {
        Val::Err(e) => e,
        v => panic!("{args:?}: {v:?}"),
    };
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), Val::Int(-1));
    assert_eq!(
        c.call(&["CLIENT", "TRACKINGINFO"]).text(),
        "flags off redirect -1 prefixes"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "CACHING", "YES"]),
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "PREFIX", "a"]),
        "ERR PREFIX option requires BCAST mode to be enabled"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"]),
        "ERR You can't specify both OPTIN mode and OPTOUT mode"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"]),
        "ERR OPTIN and OPTOUT are not compatible with BCAST"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "REDIRECT", "9999"]),
        "ERR The client ID you want redirect to does not exist"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "MAYBE"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "FOO"]),
        "ERR syntax error"
    );
    ok(c.call(&["CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP"]));
    assert_eq!(
        err(&mut c, &["CLIENT", "CACHING", "NO"]),
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST"]),
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    ok(c.call(&["CLIENT", "CACHING", "YES"]));
    assert_eq!(
        c.call(&["CLIENT", "TRACKINGINFO"]).text(),
        "flags on optin caching-yes noloop redirect 0 prefixes"
    );
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), Val::Int(0));
    ok(c.call(&["CLIENT", "TRACKING", "OFF"]));
    ok(c.call(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "y",
    ]));
    assert_eq!(
        c.call(&["CLIENT", "TRACKINGINFO"]).text(),
        "flags on bcast redirect 0 prefixes x y"
    );
    let line = c.call(&["CLIENT", "INFO"]).text();
    assert!(
        line.contains(" flags=tB ") && line.contains(" redir=0 "),
        "{line}"
    );
    ok(c.call(&["CLIENT", "TRACKING", "OFF"]));
    let line = c.call(&["CLIENT", "INFO"]).text();
    assert!(
        line.contains(" flags=N ") && line.contains(" redir=-1 "),
        "{line}"
    );
}

#[test]
fn client_caching_yes_covers_a_whole_transaction() {
    let srv = TestServer::start();
    let mut w = Client::connect(srv.port);
    let mut i = tracker(&srv, &["OPTIN"]);
    ok(i.call(&["CLIENT", "CACHING", "YES"]));
    ok(i.call(&["MULTI"]));
    i.call(&["GET", "a"]);
    i.call(&["GET", "b"]);
    assert_eq!(i.call(&["EXEC"]).text(), "nil nil");
    // The next command is not covered any more.
    i.call(&["GET", "c"]);
    w.call(&["MSET", "a", "1", "b", "1", "c", "1"]);
    assert_eq!(i.read(), push(&["a"]));
    assert_eq!(i.read(), push(&["b"]));
    assert!(i.read_within(100).is_none());
}
