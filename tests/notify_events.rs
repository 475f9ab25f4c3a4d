//! Keyspace notifications over TCP: the `notify-keyspace-events` flags as CONFIG shows them, the events
//! each family's writes publish (names, classes and order as Redis 7.0), `expired` from the active and
//! lazy expirer on the frozen server clock, and EXEC and scripts publishing after the whole unit.

mod notify_client;
mod support;

use notify_client::{Client, Val};
use support::TestServer;

/// A server, a command client and a subscriber to every keyspace and keyevent channel, with the
/// `notify-keyspace-events` flags set to `flags`. Keep the server bound while the test runs.
fn start(flags: &str) -> (TestServer, Client, Client) {
    let srv = TestServer::start();
    let mut c = Client::connect(srv.port);
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        Val::Str("OK".into())
    );
    let mut s = Client::connect(srv.port);
    assert_eq!(
        s.call(&["PSUBSCRIBE", "__key*__:*"]).text(),
        "psubscribe __key*__:* 1"
    );
    (srv, c, s)
}

/// The next message as `channel payload`.
fn next(s: &mut Client) -> String {
    let v = s.read();
    let w = v.words();
    assert_eq!(w[0], "pmessage", "{v:?}");
    format!("{} {}", w[2], w[3])
}

/// Checks that the next messages are exactly `messages` (`channel payload` each), in order.
fn expect_next(s: &mut Client, messages: &[&str]) {
    for m in messages {
        assert_eq!(next(s), *m);
    }
}

/// A command and the events it must publish, in order: `key event` on db 0's keyspace channel,
/// or a whole `channel payload` when it starts with `__`.
type Step<'a> = (&'a [&'a str], &'a [&'a str]);

/// Runs each step's command (it must not fail) and checks the events it publishes.
fn expect_events(c: &mut Client, s: &mut Client, steps: &[Step]) {
    for (cmd, events) in steps {
        let r = c.call(cmd);
        assert!(!matches!(r, Val::Err(_)), "{cmd:?}: {r:?}");
        for e in *events {
            let want = if e.starts_with("__") {
                e.to_string()
            } else {
                format!("__keyspace@0__:{e}")
            };
            assert_eq!(next(s), want, "after {cmd:?}");
        }
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
    let (_srv, mut c, mut s) = start("");
    c.call(&["SET", "a", "1"]);
    c.call(&["PUBLISH", "__keyspace@0__:marker", "m"]);
    expect_next(&mut s, &["__keyspace@0__:marker m"]);
}

#[test]
fn keyspace_and_keyevent_channels_carry_event_and_key() {
    let (_srv, mut c, mut s) = start("KEA");
    c.call(&["SET", "foo", "bar"]);
    expect_next(
        &mut s,
        &["__keyspace@0__:foo set", "__keyevent@0__:set foo"],
    );
    c.call(&["SELECT", "3"]);
    c.call(&["LPUSH", "l", "x"]);
    expect_next(
        &mut s,
        &["__keyspace@3__:l lpush", "__keyevent@3__:lpush l"],
    );
}

#[test]
fn classes_mask_events() {
    let (_srv, mut c, mut s) = start("Kl");
    c.call(&["SET", "s", "1"]);
    c.call(&["SADD", "set", "a"]);
    c.call(&["RPUSH", "l", "a"]);
    expect_next(&mut s, &["__keyspace@0__:l rpush"]);
}

#[test]
fn string_and_generic_events() {
    let (_srv, mut c, mut s) = start("KA");
    expect_events(
        &mut c,
        &mut s,
        &[
            (&["SET", "a", "1", "EX", "100"], &["a set", "a expire"]),
            (&["SETRANGE", "a", "1", "xy"], &["a setrange"]),
            (&["APPEND", "a", "z"], &["a append"]),
            (&["INCRBY", "n", "5"], &["n incrby"]),
            (&["INCR", "n"], &["n incrby"]),
            (&["INCRBYFLOAT", "n", "1.5"], &["n incrbyfloat"]),
            (&["MSET", "x", "1", "y", "2"], &["x set", "y set"]),
            (&["PERSIST", "a"], &["a persist"]),
            (&["EXPIRE", "x", "100"], &["x expire"]),
            (&["RENAME", "x", "x2"], &["x rename_from", "x2 rename_to"]),
            (&["COPY", "x2", "x3"], &["x3 copy_to"]),
            (
                &["MOVE", "x3", "1"],
                &["x3 move_from", "__keyspace@1__:x3 move_to"],
            ),
            (&["DEL", "x2", "nope", "y"], &["x2 del", "y del"]),
            (&["GETDEL", "n"], &["n del"]),
            (&["SETBIT", "b", "7", "1"], &["b setbit"]),
            (&["BITOP", "OR", "b2", "b"], &["b2 set"]),
            (&["PFADD", "h", "a"], &["h pfadd"]),
            (&["PFMERGE", "h2", "h"], &["h2 pfadd"]),
            (&["SET", "a", "9", "NX"], &[]),
            (&["SET", "marker", "1"], &["marker set"]),
        ],
    );
}

#[test]
fn container_events_end_with_del_when_emptied() {
    let (_srv, mut c, mut s) = start("KA");
    expect_events(
        &mut c,
        &mut s,
        &[
            // Lists
            (&["RPUSH", "l", "a", "b", "c"], &["l rpush"]),
            (&["LINSERT", "l", "BEFORE", "b", "x"], &["l linsert"]),
            (&["LSET", "l", "0", "z"], &["l lset"]),
            (&["LREM", "l", "0", "x"], &["l lrem"]),
            (&["LTRIM", "l", "0", "1"], &["l ltrim"]),
            (
                &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
                &["l2 rpush", "l lpop"],
            ),
            (&["RPOP", "l"], &["l rpop", "l del"]),
            // Hashes
            (&["HSET", "h", "f", "1", "g", "2"], &["h hset"]),
            (&["HINCRBY", "h", "f", "1"], &["h hincrby"]),
            (&["HINCRBYFLOAT", "h", "f", "1.5"], &["h hincrbyfloat"]),
            (&["HDEL", "h", "f"], &["h hdel"]),
            (&["HDEL", "h", "g"], &["h hdel", "h del"]),
            // Sets
            (&["SADD", "s", "a", "b"], &["s sadd"]),
            (&["SREM", "s", "a"], &["s srem"]),
            (&["SMOVE", "s", "s2", "b"], &["s srem", "s del", "s2 sadd"]),
            (&["SINTERSTORE", "s3", "s2"], &["s3 sinterstore"]),
            (&["SPOP", "s3"], &["s3 spop", "s3 del"]),
            // Sorted sets
            (&["ZADD", "z", "1", "a", "2", "b", "3", "c"], &["z zadd"]),
            (&["ZINCRBY", "z", "1", "a"], &["z zincr"]),
            (&["ZREM", "z", "a"], &["z zrem"]),
            (&["ZRANGESTORE", "z2", "z", "0", "-1"], &["z2 zrangestore"]),
            (&["ZUNIONSTORE", "z3", "1", "z"], &["z3 zunionstore"]),
            (&["ZPOPMIN", "z"], &["z zpopmin"]),
            (
                &["ZREMRANGEBYSCORE", "z", "-inf", "+inf"],
                &["z zremrangebyscore", "z del"],
            ),
            // SORT ... STORE
            (&["RPUSH", "srt", "3", "1"], &["srt rpush"]),
            (&["SORT", "srt", "STORE", "srt2"], &["srt2 sortstore"]),
            // Streams
            (
                &["XGROUP", "CREATE", "st", "g", "$", "MKSTREAM"],
                &["st xgroup-create"],
            ),
            (
                &["XGROUP", "CREATECONSUMER", "st", "g", "c1"],
                &["st xgroup-createconsumer"],
            ),
            (&["XADD", "st", "MAXLEN", "1", "*", "f", "v"], &["st xadd"]),
            (
                &["XADD", "st", "MAXLEN", "1", "*", "f", "v"],
                &["st xadd", "st xtrim"],
            ),
            (
                &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "st", ">"],
                &["st xgroup-createconsumer"],
            ),
            (
                &["XAUTOCLAIM", "st", "g", "c3", "0", "0-0"],
                &["st xgroup-createconsumer"],
            ),
            (&["XGROUP", "SETID", "st", "g", "0"], &["st xgroup-setid"]),
            (
                &["XGROUP", "DELCONSUMER", "st", "g", "c1"],
                &["st xgroup-delconsumer"],
            ),
            (&["XGROUP", "DESTROY", "st", "g"], &["st xgroup-destroy"]),
        ],
    );
}

#[test]
fn new_keys_are_announced_with_n() {
    let (_srv, mut c, mut s) = start("KEn");
    c.call(&["SET", "a", "1"]);
    c.call(&["SET", "a", "2"]);
    c.call(&["HSET", "h", "f", "v"]);
    expect_next(
        &mut s,
        &[
            "__keyspace@0__:a new",
            "__keyevent@0__:new a",
            "__keyspace@0__:h new",
            "__keyevent@0__:new h",
        ],
    );
}

#[test]
fn expiry_publishes_expired_from_the_active_and_the_lazy_expirer() {
    let (_srv, mut c, mut s) = start("KEx");
    // Which expirer reaps which key is the point: keep the 10 ms active expirer from racing the SET.
    c.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    c.call(&["DEBUG", "CLOCK", "FREEZE"]);
    c.call(&["SET", "a", "1", "PX", "100"]);
    c.call(&["SET", "b", "1", "PX", "100"]);
    c.call(&["DEBUG", "CLOCK", "ADVANCE", "200"]);
    // A write to an expired key first deletes it (its own `expired`), then applies.
    c.call(&["SET", "b", "2"]);
    expect_next(
        &mut s,
        &["__keyspace@0__:b expired", "__keyevent@0__:expired b"],
    );
    c.call(&["DEBUG", "EXPIRE-NOW"]);
    expect_next(
        &mut s,
        &["__keyspace@0__:a expired", "__keyevent@0__:expired a"],
    );
}

#[test]
fn exec_publishes_its_events_after_the_whole_transaction_in_order() {
    let (_srv, mut c, mut s) = start("KA");
    c.call(&["MULTI"]);
    c.call(&["SET", "a", "1"]);
    c.call(&["LPUSH", "l", "x"]);
    c.call(&["DEL", "a"]);
    // Nothing before EXEC.
    assert!(s.read_within(100).is_none());
    assert_eq!(c.call(&["EXEC"]).text(), "OK 1 1");
    expect_next(
        &mut s,
        &[
            "__keyspace@0__:a set",
            "__keyspace@0__:l lpush",
            "__keyspace@0__:a del",
        ],
    );
}

#[test]
fn scripts_publish_their_writes_events() {
    let (_srv, mut c, mut s) = start("KA");
    let r = c.call(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'v'); redis.call('hset', KEYS[2], 'f', 'v'); \
         redis.call('expire', KEYS[1], 100); return 1",
        "2",
        "k",
        "h",
    ]);
    assert_eq!(r, Val::Int(1));
    expect_next(
        &mut s,
        &[
            "__keyspace@0__:k set",
            "__keyspace@0__:h hset",
            "__keyspace@0__:k expire",
        ],
    );
}

#[test]
fn read_misses_publish_keymiss_and_hits_and_writes_do_not() {
    let (_srv, mut c, mut s) = start("Km");
    c.call(&["SET", "here", "1"]);
    c.call(&["GET", "here"]);
    c.call(&["GET", "nokey"]);
    expect_next(&mut s, &["__keyspace@0__:nokey keymiss"]);
    // One event per missing key of a multi-key read, none for the present one.
    c.call(&["MGET", "here", "m1", "m2"]);
    expect_next(
        &mut s,
        &["__keyspace@0__:m1 keymiss", "__keyspace@0__:m2 keymiss"],
    );
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
    expect_next(&mut s, &["__keyspace@0__:marker m"]);
}
