//! Keyspace notifications over TCP: the `notify-keyspace-events` flags as CONFIG shows them, the events
//! each family's writes publish (names, classes and order as Redis 7.0), `expired` from the active and
//! lazy expirer on the frozen server clock, and EXEC and scripts publishing after the whole unit.

mod notify_client;
mod support;

use notify_client::{Client, Val};
use support::TestServer;

/// A subscriber to every keyspace and keyevent channel, with `flags` set.
fn subscriber(srv: &TestServer, c: &mut Client, flags: &str) -> Client {
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        Val::Str("OK".into())
    );
    let mut s = Client::connect(srv.port);
    assert_eq!(
        s.call(&["PSUBSCRIBE", "__key*__:*"]).text(),
        "psubscribe __key*__:* 1"
    );
    s
}

/// The next message as `channel payload`.
fn next(s: &mut Client) -> String {
    let v = s.read();
    let w = v.words();
    assert_eq!(w[0], "pmessage", "{v:?}");
    format!("{} {}", w[2], w[3])
}

/// Runs `cmd` and checks the keyspace events it publishes (keyspace channel only, flags `K` + classes).
fn expect_events(c: &mut Client, s: &mut Client, cmd: &[&str], events: &[&str]) {
    let r = c.call(cmd);
    assert!(!matches!(r, Val::Err(_)), "{cmd:?}: {r:?}");
    for e in events {
        assert_eq!(next(s), *e, "after {cmd:?}");
    }
}

#[test]
fn flags_are_shown_and_checked_as_redis_does() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let get = |c: &mut Client| c.call(&["CONFIG", "GET", "notify-keyspace-events"]).text();
    assert_eq!(get(&mut c), "notify-keyspace-events ");
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "KA"]);
    assert_eq!(get(&mut c), "notify-keyspace-events AK");
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Elg$"]);
    assert_eq!(get(&mut c), "notify-keyspace-events g$lE");
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "KQ"]),
        Val::Err(
            "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
             Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                .into()
        )
    );
    assert_eq!(get(&mut c), "notify-keyspace-events g$lE");
}

#[test]
fn nothing_is_published_when_the_flags_are_empty() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "");
    c.call(&["SET", "a", "1"]);
    c.call(&["PUBLISH", "__keyspace@0__:marker", "m"]);
    assert_eq!(next(&mut s), "__keyspace@0__:marker m");
}

#[test]
fn keyspace_and_keyevent_channels_carry_event_and_key() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KEA");
    c.call(&["SET", "foo", "bar"]);
    assert_eq!(next(&mut s), "__keyspace@0__:foo set");
    assert_eq!(next(&mut s), "__keyevent@0__:set foo");
    c.call(&["SELECT", "3"]);
    c.call(&["LPUSH", "l", "x"]);
    assert_eq!(next(&mut s), "__keyspace@3__:l lpush");
    assert_eq!(next(&mut s), "__keyevent@3__:lpush l");
}

#[test]
fn classes_mask_events() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "Kl");
    c.call(&["SET", "s", "1"]);
    c.call(&["SADD", "set", "a"]);
    c.call(&["RPUSH", "l", "a"]);
    assert_eq!(next(&mut s), "__keyspace@0__:l rpush");
}

#[test]
fn string_and_generic_events() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KA");
    let ks = |k: &str, e: &str| format!("__keyspace@0__:{k} {e}");
    expect_events(
        &mut c,
        &mut s,
        &["SET", "a", "1", "EX", "100"],
        &[&ks("a", "set"), &ks("a", "expire")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["SETRANGE", "a", "1", "xy"],
        &[&ks("a", "setrange")],
    );
    expect_events(&mut c, &mut s, &["APPEND", "a", "z"], &[&ks("a", "append")]);
    expect_events(&mut c, &mut s, &["INCRBY", "n", "5"], &[&ks("n", "incrby")]);
    expect_events(&mut c, &mut s, &["INCR", "n"], &[&ks("n", "incrby")]);
    expect_events(
        &mut c,
        &mut s,
        &["INCRBYFLOAT", "n", "1.5"],
        &[&ks("n", "incrbyfloat")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["MSET", "x", "1", "y", "2"],
        &[&ks("x", "set"), &ks("y", "set")],
    );
    expect_events(&mut c, &mut s, &["PERSIST", "a"], &[&ks("a", "persist")]);
    expect_events(
        &mut c,
        &mut s,
        &["EXPIRE", "x", "100"],
        &[&ks("x", "expire")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["RENAME", "x", "x2"],
        &[&ks("x", "rename_from"), &ks("x2", "rename_to")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["COPY", "x2", "x3"],
        &[&ks("x3", "copy_to")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["MOVE", "x3", "1"],
        &[&ks("x3", "move_from"), "__keyspace@1__:x3 move_to"],
    );
    expect_events(
        &mut c,
        &mut s,
        &["DEL", "x2", "nope", "y"],
        &[&ks("x2", "del"), &ks("y", "del")],
    );
    expect_events(&mut c, &mut s, &["GETDEL", "n"], &[&ks("n", "del")]);
    expect_events(
        &mut c,
        &mut s,
        &["SETBIT", "b", "7", "1"],
        &[&ks("b", "setbit")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["BITOP", "OR", "b2", "b"],
        &[&ks("b2", "set")],
    );
    expect_events(&mut c, &mut s, &["PFADD", "h", "a"], &[&ks("h", "pfadd")]);
    expect_events(
        &mut c,
        &mut s,
        &["PFMERGE", "h2", "h"],
        &[&ks("h2", "pfadd")],
    );
    // SET NX on an existing key changes nothing and says nothing; the marker proves the order.
    c.call(&["SET", "a", "9", "NX"]);
    expect_events(
        &mut c,
        &mut s,
        &["SET", "marker", "1"],
        &[&ks("marker", "set")],
    );
}

#[test]
fn container_events_end_with_del_when_emptied() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KA");
    let ks = |k: &str, e: &str| format!("__keyspace@0__:{k} {e}");
    // Lists
    expect_events(
        &mut c,
        &mut s,
        &["RPUSH", "l", "a", "b", "c"],
        &[&ks("l", "rpush")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["LINSERT", "l", "BEFORE", "b", "x"],
        &[&ks("l", "linsert")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["LSET", "l", "0", "z"],
        &[&ks("l", "lset")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["LREM", "l", "0", "x"],
        &[&ks("l", "lrem")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["LTRIM", "l", "0", "1"],
        &[&ks("l", "ltrim")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &[&ks("l2", "rpush"), &ks("l", "lpop")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["RPOP", "l"],
        &[&ks("l", "rpop"), &ks("l", "del")],
    );
    // Hashes
    expect_events(
        &mut c,
        &mut s,
        &["HSET", "h", "f", "1", "g", "2"],
        &[&ks("h", "hset")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["HINCRBY", "h", "f", "1"],
        &[&ks("h", "hincrby")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["HINCRBYFLOAT", "h", "f", "1.5"],
        &[&ks("h", "hincrbyfloat")],
    );
    expect_events(&mut c, &mut s, &["HDEL", "h", "f"], &[&ks("h", "hdel")]);
    expect_events(
        &mut c,
        &mut s,
        &["HDEL", "h", "g"],
        &[&ks("h", "hdel"), &ks("h", "del")],
    );
    // Sets
    expect_events(
        &mut c,
        &mut s,
        &["SADD", "s", "a", "b"],
        &[&ks("s", "sadd")],
    );
    expect_events(&mut c, &mut s, &["SREM", "s", "a"], &[&ks("s", "srem")]);
    expect_events(
        &mut c,
        &mut s,
        &["SMOVE", "s", "s2", "b"],
        &[&ks("s", "srem"), &ks("s", "del"), &ks("s2", "sadd")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["SINTERSTORE", "s3", "s2"],
        &[&ks("s3", "sinterstore")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["SPOP", "s3"],
        &[&ks("s3", "spop"), &ks("s3", "del")],
    );
    // Sorted sets
    expect_events(
        &mut c,
        &mut s,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &[&ks("z", "zadd")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["ZINCRBY", "z", "1", "a"],
        &[&ks("z", "zincr")],
    );
    expect_events(&mut c, &mut s, &["ZREM", "z", "a"], &[&ks("z", "zrem")]);
    expect_events(
        &mut c,
        &mut s,
        &["ZRANGESTORE", "z2", "z", "0", "-1"],
        &[&ks("z2", "zrangestore")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["ZUNIONSTORE", "z3", "1", "z"],
        &[&ks("z3", "zunionstore")],
    );
    expect_events(&mut c, &mut s, &["ZPOPMIN", "z"], &[&ks("z", "zpopmin")]);
    expect_events(
        &mut c,
        &mut s,
        &["ZREMRANGEBYSCORE", "z", "-inf", "+inf"],
        &[&ks("z", "zremrangebyscore"), &ks("z", "del")],
    );
    // SORT ... STORE
    expect_events(
        &mut c,
        &mut s,
        &["RPUSH", "srt", "3", "1"],
        &[&ks("srt", "rpush")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["SORT", "srt", "STORE", "srt2"],
        &[&ks("srt2", "sortstore")],
    );
    // Streams
    expect_events(
        &mut c,
        &mut s,
        &["XGROUP", "CREATE", "st", "g", "$", "MKSTREAM"],
        &[&ks("st", "xgroup-create")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XGROUP", "CREATECONSUMER", "st", "g", "c1"],
        &[&ks("st", "xgroup-createconsumer")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XADD", "st", "MAXLEN", "1", "*", "f", "v"],
        &[&ks("st", "xadd")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XADD", "st", "MAXLEN", "1", "*", "f", "v"],
        &[&ks("st", "xadd"), &ks("st", "xtrim")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "st", ">"],
        &[&ks("st", "xgroup-createconsumer")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XAUTOCLAIM", "st", "g", "c3", "0", "0-0"],
        &[&ks("st", "xgroup-createconsumer")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XGROUP", "SETID", "st", "g", "0"],
        &[&ks("st", "xgroup-setid")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XGROUP", "DELCONSUMER", "st", "g", "c1"],
        &[&ks("st", "xgroup-delconsumer")],
    );
    expect_events(
        &mut c,
        &mut s,
        &["XGROUP", "DESTROY", "st", "g"],
        &[&ks("st", "xgroup-destroy")],
    );
}

#[test]
fn new_keys_are_announced_with_n() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KEn");
    c.call(&["SET", "a", "1"]);
    c.call(&["SET", "a", "2"]);
    c.call(&["HSET", "h", "f", "v"]);
    assert_eq!(next(&mut s), "__keyspace@0__:a new");
    assert_eq!(next(&mut s), "__keyevent@0__:new a");
    assert_eq!(next(&mut s), "__keyspace@0__:h new");
    assert_eq!(next(&mut s), "__keyevent@0__:new h");
}

#[test]
fn expiry_publishes_expired_from_the_active_and_the_lazy_expirer() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KEx");
    // Which expirer reaps which key is the point: keep the 10 ms active expirer from racing the SET.
    c.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    c.call(&["DEBUG", "CLOCK", "FREEZE"]);
    c.call(&["SET", "a", "1", "PX", "100"]);
    c.call(&["SET", "b", "1", "PX", "100"]);
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "200"]);
    // A write to an expired key first deletes it (its own `expired`), then applies.
    c.call(&["SET", "b", "2"]);
    assert_eq!(next(&mut s), "__keyspace@0__:b expired");
    assert_eq!(next(&mut s), "__keyevent@0__:expired b");
    c.call(&["DEBUG", "EXPIRE-NOW"]);
    assert_eq!(next(&mut s), "__keyspace@0__:a expired");
    assert_eq!(next(&mut s), "__keyevent@0__:expired a");
}

#[test]
fn exec_publishes_its_events_after_the_whole_transaction_in_order() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KA");
    c.call(&["MULTI"]);
    c.call(&["SET", "a", "1"]);
    c.call(&["LPUSH", "l", "x"]);
    c.call(&["DEL", "a"]);
    // Nothing before EXEC.
    assert!(s.read_within(100).is_none());
    assert_eq!(c.call(&["EXEC"]).text(), "OK 1 1");
    assert_eq!(next(&mut s), "__keyspace@0__:a set");
    assert_eq!(next(&mut s), "__keyspace@0__:l lpush");
    assert_eq!(next(&mut s), "__keyspace@0__:a del");
}

#[test]
fn scripts_publish_their_writes_events() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "KA");
    let r = c.call(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'v'); redis.call('hset', KEYS[2], 'f', 'v'); \
         redis.call('expire', KEYS[1], 100); return 1",
        "2",
        "k",
        "h",
    ]);
    assert_eq!(r, Val::Int(1));
    assert_eq!(next(&mut s), "__keyspace@0__:k set");
    assert_eq!(next(&mut s), "__keyspace@0__:h hset");
    assert_eq!(next(&mut s), "__keyspace@0__:k expire");
}

#[test]
fn read_misses_publish_keymiss_and_hits_and_writes_do_not() {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    let mut s = subscriber(&srv, &mut c, "Km");
    c.call(&["SET", "here", "1"]);
    c.call(&["GET", "here"]);
    c.call(&["GET", "nokey"]);
    assert_eq!(next(&mut s), "__keyspace@0__:nokey keymiss");
    // One event per missing key of a multi-key read, none for the present one.
    c.call(&["MGET", "here", "m1", "m2"]);
    assert_eq!(next(&mut s), "__keyspace@0__:m1 keymiss");
    assert_eq!(next(&mut s), "__keyspace@0__:m2 keymiss");
    for cmd in [
        &["HGET", "h", "f"][..],
        &["LRANGE", "l", "0", "-1"],
        &["SMEMBERS", "st"],
        &["ZSCORE", "z", "m"],
        &["XRANGE", "x", "-", "+"],
    ] {
        c.call(cmd);
        assert_eq!(next(&mut s), format!("__keyspace@0__:{} keymiss", cmd[1]));
    }
    // Writes creating a key are not misses; the next event is the marker.
    c.call(&["INCR", "counter"]);
    c.call(&["PUBLISH", "__keyspace@0__:marker", "m"]);
    assert_eq!(next(&mut s), "__keyspace@0__:marker m");
}
