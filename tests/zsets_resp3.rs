//! Sorted-set reply types byte for byte, in RESP3 (doubles, nested `[member, score]` pairs, nulls) and in
//! RESP2 where the shape differs. Checked against redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT`
//! (except ZRANK WITHSCORE, a 7.2 option, which is Concord-only).

mod strings_script;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use strings_script::Target;

/// A raw connection speaking `proto` (2 or 3).
fn connect(t: &Target, proto: u8) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", t.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(format!("HELLO {proto}\r\n").as_bytes())
        .unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends each command and checks that the reply is exactly the expected bytes.
fn expect(s: &mut TcpStream, cases: &[(&str, &str)]) {
    for (cmd, want) in cases {
        s.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < want.len() {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            *want,
            "reply to {cmd} (expected {want:?})"
        );
    }
}

#[test]
fn resp3_replies_use_doubles_and_pairs() {
    let t = Target::start();
    let mut s = connect(&t, 3);
    expect(
        &mut s,
        &[
            ("ZADD z 1 a 2.5 b", ":2\r\n"),
            ("ZSCORE z b", ",2.5\r\n"),
            ("ZSCORE z a", ",1\r\n"),
            ("ZSCORE z nosuch", "_\r\n"),
            ("ZMSCORE z a nosuch", "*2\r\n,1\r\n_\r\n"),
            ("ZINCRBY z 0.1 a", ",1.1000000000000001\r\n"),
            ("ZADD z INCR 1 b", ",3.5\r\n"),
            ("ZADD z INCR NX 1 b", "_\r\n"),
            ("ZADD inf 1 x", ":1\r\n"),
            ("ZINCRBY inf +inf x", ",inf\r\n"),
            ("ZINCRBY inf -1 x", ",inf\r\n"),
            (
                "ZRANGE z 0 -1 WITHSCORES",
                "*2\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,3.5\r\n",
            ),
            ("ZRANGE z 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            (
                "ZRANGEBYSCORE z 3 4 WITHSCORES",
                "*1\r\n*2\r\n$1\r\nb\r\n,3.5\r\n",
            ),
            ("ZRANGE nokey 0 -1", "*0\r\n"),
            ("ZRANK z b", ":1\r\n"),
            ("ZRANK z nosuch", "_\r\n"),
            (
                "ZUNION 1 z WITHSCORES",
                "*2\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,3.5\r\n",
            ),
            ("ZADD one 2 x", ":1\r\n"),
            (
                "ZRANDMEMBER one -1 WITHSCORES",
                "*1\r\n*2\r\n$1\r\nx\r\n,2\r\n",
            ),
            ("ZRANDMEMBER one 1", "*1\r\n$1\r\nx\r\n"),
            ("ZPOPMIN z", "*2\r\n$1\r\na\r\n,1.1000000000000001\r\n"),
            ("ZADD z 1 a", ":1\r\n"),
            ("ZPOPMIN z 1", "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"),
            ("ZPOPMAX z 5", "*1\r\n*2\r\n$1\r\nb\r\n,3.5\r\n"),
            ("ZPOPMIN z", "*0\r\n"),
            ("ZADD m 1 a", ":1\r\n"),
            (
                "ZMPOP 1 m MIN",
                "*2\r\n$1\r\nm\r\n*1\r\n*2\r\n$1\r\na\r\n,1\r\n",
            ),
            ("ZMPOP 1 m MIN", "_\r\n"),
            ("ZADD sc 1.5 a", ":1\r\n"),
            (
                "ZSCAN sc 0",
                "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$3\r\n1.5\r\n",
            ),
            ("ZRANDMEMBER nokey", "_\r\n"),
        ],
    );
}

#[test]
fn resp2_replies_use_bulk_scores_and_flat_pairs() {
    let t = Target::start();
    let mut s = connect(&t, 2);
    expect(
        &mut s,
        &[
            ("ZADD z 1 a 2.5 b", ":2\r\n"),
            ("ZSCORE z b", "$3\r\n2.5\r\n"),
            ("ZSCORE z nosuch", "$-1\r\n"),
            ("ZMSCORE z a nosuch", "*2\r\n$1\r\n1\r\n$-1\r\n"),
            (
                "ZRANGE z 0 -1 WITHSCORES",
                "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
            ),
            ("ZADD z INCR XX 1 nosuch", "$-1\r\n"),
            ("ZPOPMIN z 1", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
            (
                "ZMPOP 1 z MAX",
                "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
            ),
            ("ZMPOP 1 z MAX", "*-1\r\n"),
            ("ZRANK z a", "$-1\r\n"),
        ],
    );
}

#[test]
fn zrank_withscore_replies() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut s = connect(&t, 3);
    expect(
        &mut s,
        &[
            ("ZADD z 1 a 2.5 b", ":2\r\n"),
            ("ZRANK z b WITHSCORE", "*2\r\n:1\r\n,2.5\r\n"),
            ("ZREVRANK z b WITHSCORE", "*2\r\n:0\r\n,2.5\r\n"),
            ("ZRANK z nosuch WITHSCORE", "_\r\n"),
        ],
    );
    let mut s = connect(&t, 2);
    expect(
        &mut s,
        &[
            ("ZRANK z b WITHSCORE", "*2\r\n:1\r\n$3\r\n2.5\r\n"),
            ("ZRANK z nosuch WITHSCORE", "*-1\r\n"),
        ],
    );
}
