//! Functions survive replay: FUNCTION LOAD/DELETE/FLUSH/RESTORE are logged writes, FCALL is logged as
//! the writes its function made, so replaying the effect log on an empty server rebuilds the same
//! libraries, keys and revision. In-process, as tests/replay_conformance.rs.

mod replay_support;

use concord::server::Server;
use replay_support::{client, exec as run, new_server, replay_all};

#[test]
fn replaying_the_log_rebuilds_libraries_keys_and_revision() {
    let original = new_server();
    replay_support::record(&original);
    let mut c = client();
    let lib_a = b"#!lua name=a\nredis.register_function('incr2', function(keys) \
                  redis.call('INCR', keys[1]) return redis.call('INCR', keys[1]) end)";
    let lib_b = b"#!lua name=b\nredis.register_function('setb', function(keys, args) \
                  return redis.call('SET', keys[1], args[1]) end)";
    let lib_b2 = b"#!lua name=b\nredis.register_function('setb2', function() return 1 end)";
    assert_eq!(
        run(&original, &mut c, &[b"FUNCTION", b"LOAD", lib_a]),
        b"$1\r\na\r\n"
    );
    run(&original, &mut c, &[b"FUNCTION", b"LOAD", lib_b]);
    assert_eq!(
        run(&original, &mut c, &[b"FCALL", b"incr2", b"1", b"n"]),
        b":2\r\n"
    );
    run(&original, &mut c, &[b"FCALL", b"setb", b"1", b"s", b"v"]);
    // A failing load changes nothing and must not break replay.
    assert!(run(&original, &mut c, &[b"FUNCTION", b"LOAD", lib_a]).starts_with(b"-"));
    run(
        &original,
        &mut c,
        &[b"FUNCTION", b"LOAD", b"REPLACE", lib_b2],
    );
    let dump = run(&original, &mut c, &[b"FUNCTION", b"DUMP"]);
    let payload = dump
        .splitn(2, |&b| b == b'\n')
        .nth(1)
        .map(|p| &p[..p.len() - 2])
        .unwrap_or_default()
        .to_vec();
    run(&original, &mut c, &[b"FUNCTION", b"DELETE", b"a"]);
    run(
        &original,
        &mut c,
        &[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"],
    );
    run(&original, &mut c, &[b"FCALL", b"incr2", b"1", b"n"]);
    let log = replay_support::units(&original);
    assert!(log.len() >= 8, "{log:?}");

    let copy = replay_all(&log);
    let list = |s: &Server| run(s, &mut client(), &[b"FUNCTION", b"LIST", b"WITHCODE"]);
    assert_eq!(list(&original), list(&copy));
    for key in [&b"n"[..], b"s"] {
        assert_eq!(
            run(&original, &mut client(), &[b"GET", key]),
            run(&copy, &mut client(), &[b"GET", key])
        );
    }
    assert_eq!(run(&copy, &mut client(), &[b"GET", b"n"]), b"$1\r\n4\r\n");
    assert_eq!(original.keyspace.revision(), copy.keyspace.revision());
    // The copy's functions work.
    assert_eq!(
        run(&copy, &mut client(), &[b"FCALL", b"setb2", b"0"]),
        b":1\r\n"
    );
}
