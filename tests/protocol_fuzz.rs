//! Fuzzing the live server: random byte streams, and random mixes of valid and broken RESP fragments,
//! over many concurrent connections. Afterwards the server must still answer PING and a key written
//! before the storm must be intact.

#[path = "protocol_resp.rs"]
mod resp;
mod support;

use proptest::prelude::*;
use resp::{Raw, Reply};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::TestServer;

const SENTINEL_VALUE: &[u8] = b"intact\r\n\0value";

/// One server for all cases, owned by the test so it is killed when the test ends (a `static` would
/// outlive the test process's cleanup and leave the server running).
fn server() -> TestServer {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.send_cmd(&[b"SET", b"sentinel", SENTINEL_VALUE]);
    assert_eq!(r.read(), Reply::Simple("OK".into()));
    s
}

/// Harmless command words (nothing that flushes, kills, reconfigures or shuts down).
const WORDS: &[&[u8]] = &[
    b"PING", b"ECHO", b"GET", b"SET", b"INCR", b"APPEND", b"MGET", b"EXISTS", b"STRLEN", b"TTL",
    b"CLIENT", b"SETNAME", b"INFO", b"HELLO", b"3", b"2", b"SELECT", b"1", b"DBSIZE", b"COMMAND",
    b"TIME", b"TYPE", b"EX", b"PX", b"NX", b"a", b"b", b"c",
];

/// Pieces that are valid RESP, nearly valid, or garbage, so the fuzzer reaches deep parser states.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(prop::sample::select(WORDS), 1..5).prop_map(|ws| {
            let mut b = format!("*{}\r\n", ws.len()).into_bytes();
            for w in ws {
                b.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
                b.extend_from_slice(w);
                b.extend_from_slice(b"\r\n");
            }
            b
        }),
        prop::collection::vec(prop::sample::select(WORDS), 1..5).prop_map(|ws| {
            let mut b = ws.join(&b' ');
            b.extend_from_slice(b"\r\n");
            b
        }),
        (any::<i64>()).prop_map(|n| format!("*{n}\r\n").into_bytes()),
        (any::<i64>()).prop_map(|n| format!("${n}\r\n").into_bytes()),
        Just(b"\r\n".to_vec()),
        Just(b"\"unbalanced".to_vec()),
        Just(b"*2147483647\r\n$536870912\r\n".to_vec()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 1..12).prop_map(|v| v.concat())
}

#[test]
fn random_streams_never_hurt_the_server() {
    let s = server();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let result = runner.run(&prop::collection::vec(stream(), 1..8), |streams| {
        let handles: Vec<_> = streams
            .into_iter()
            .map(|bytes| {
                let port = s.port;
                std::thread::spawn(move || {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
                        return;
                    };
                    c.set_read_timeout(Some(Duration::from_millis(50))).ok();
                    // Split the stream at an arbitrary point so framing is tested across reads.
                    let cut = bytes.len() / 3;
                    let _ = c.write_all(&bytes[..cut]);
                    let _ = c.write_all(&bytes[cut..]);
                    let mut sink = [0u8; 65536];
                    while let Ok(n) = c.read(&mut sink) {
                        if n == 0 {
                            break;
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut r = Raw::connect(s.port);
        prop_assert_eq!(r.cmd(&["PING"]), Reply::Simple("PONG".into()));
        r.send_cmd(&[b"GET", b"sentinel"]);
        prop_assert_eq!(r.read(), Reply::Bulk(SENTINEL_VALUE.to_vec()));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
