//! The blocking list commands over TCP: BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH answer at once when
//! a list has elements (with Redis 7.0's errors and argument order), park otherwise, are woken by the
//! write that creates a key, FIFO by arrival, and time out on the server clock (DEBUG CLOCK) with a null
//! array.

mod strings_script;
mod support;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use strings_script::{Target, run, script};
use support::{TestServer, read_compact_reply, resp_command};

/// A raw connection that sends one command and reads its reply later.
struct Pending {
    reader: BufReader<TcpStream>,
}

impl Pending {
    fn send(server: &TestServer, args: &[&str]) -> Pending {
        let mut s = server.raw();
        let req = resp_command(args);
        s.write_all(req.as_bytes()).unwrap();
        Pending {
            reader: BufReader::new(s),
        }
    }

    /// Reads one whole RESP2 reply and renders it compactly: `nil`, `*-1`, `[a, b]`, `$x`, `:n`, `-ERR`.
    fn reply(&mut self) -> String {
        read_compact_reply(&mut self.reader)
    }
}

/// Waits (briefly) until INFO reports `n` blocked clients; proceeds after 500 ms either way, so an INFO
/// without the count only slows the test down.
fn await_blocked(c: &mut redis::Connection, n: usize) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        let blocked = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if blocked >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocking_pops_answer_at_once_when_a_list_has_elements() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH a 1 2 3 => :3
        RPUSH b x => :1
        BLPOP nokey a b 0 => [a, 1]
        BRPOP nokey a 0 => [a, 3]
        BLPOP a 0.5 => [a, 2]
        EXISTS a => :0
        BLPOP a b 0 => [b, x]
        RPUSH l 1 2 3 4 => :4
        BLMPOP 0 2 nokey l LEFT => [l, [1]]
        BLMPOP 0 1 l RIGHT COUNT 2 => [l, [4, 3]]
        BLMOVE l d LEFT RIGHT 0 => 2
        EXISTS l => :0
        RPUSH l y => :1
        BRPOPLPUSH l d 0 => y
        LRANGE d 0 -1 => [y, 2]
        SET s v => +OK
        BLPOP s 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BLPOP nokey s 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BRPOP s 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BLMPOP 0 1 s LEFT => -WRONGTYPE Operation against a key holding the wrong kind of value
        BLMOVE s d LEFT LEFT 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BLMOVE d s LEFT LEFT 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BRPOPLPUSH s d 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BLPOP d abc => -ERR timeout is not a float or out of range
        BLPOP d -1 => -ERR timeout is negative
        BLMOVE d e UP LEFT abc => -ERR syntax error
        BLMOVE d e LEFT LEFT abc => -ERR timeout is not a float or out of range
        BRPOPLPUSH d e -1 => -ERR timeout is negative
        BLMPOP abc 0 d LEFT => -ERR numkeys should be greater than 0
        BLMPOP abc 1 d LEFT COUNT 0 => -ERR count should be greater than 0
        BLMPOP abc 1 d LEFT => -ERR timeout is not a float or out of range
        BLMPOP 0 2 d LEFT => -ERR syntax error
        BLPOP d => -ERR wrong number of arguments for 'blpop' command
        BLMOVE d e LEFT LEFT => -ERR wrong number of arguments for 'blmove' command
        "#,
    );
}

#[test]
fn a_blocked_pop_is_served_by_the_push_that_creates_the_key() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut w = Pending::send(&s, &["BLPOP", "q1", "q2", "0"]);
    await_blocked(&mut c, 1);
    assert_eq!(run(&mut c, "RPUSH q2 a b"), ":2");
    assert_eq!(w.reply(), "[q2, a]");
    assert_eq!(run(&mut c, "LRANGE q2 0 -1"), "[b]");

    let mut w = Pending::send(&s, &["BLMPOP", "0", "1", "m", "RIGHT", "COUNT", "5"]);
    await_blocked(&mut c, 1);
    assert_eq!(run(&mut c, "RPUSH m 1 2 3"), ":3");
    assert_eq!(w.reply(), "[m, [3, 2, 1]]");
    assert_eq!(run(&mut c, "EXISTS m"), ":0");

    let mut w = Pending::send(&s, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    await_blocked(&mut c, 1);
    assert_eq!(run(&mut c, "LPUSH src x y"), ":2");
    assert_eq!(w.reply(), "x");
    assert_eq!(run(&mut c, "LRANGE dst 0 -1"), "[x]");
    assert_eq!(run(&mut c, "LRANGE src 0 -1"), "[y]");
}

#[test]
fn waiters_are_served_in_arrival_order_and_each_element_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut waiters = Vec::new();
    for i in 0..5 {
        waiters.push(Pending::send(&s, &["BRPOP", "fifo", "0"]));
        await_blocked(&mut c, i + 1);
    }
    for i in 0..5 {
        assert_eq!(run(&mut c, &format!("LPUSH fifo e{i}")), ":1");
    }
    for (i, w) in waiters.iter_mut().enumerate() {
        assert_eq!(w.reply(), format!("[fifo, e{i}]"));
    }
    assert_eq!(run(&mut c, "EXISTS fifo"), ":0");
}

#[test]
fn a_chain_of_blocked_moves_passes_the_element_along() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut first = Pending::send(&s, &["BLMOVE", "c1", "c2", "LEFT", "LEFT", "0"]);
    await_blocked(&mut c, 1);
    let mut second = Pending::send(&s, &["BRPOPLPUSH", "c2", "c3", "0"]);
    await_blocked(&mut c, 2);
    assert_eq!(run(&mut c, "RPUSH c1 v"), ":1");
    assert_eq!(first.reply(), "v");
    assert_eq!(second.reply(), "v");
    assert_eq!(run(&mut c, "EXISTS c1 c2"), ":0");
    assert_eq!(run(&mut c, "LRANGE c3 0 -1"), "[v]");
}

#[test]
fn blocked_pops_time_out_on_the_server_clock_with_a_null_array() {
    let s = TestServer::start();
    let mut c = s.conn();
    s.freeze_clock(&mut c);
    let mut pop = Pending::send(&s, &["BLPOP", "t", "1.5"]);
    let mut mv = Pending::send(&s, &["BLMOVE", "t", "u", "LEFT", "LEFT", "1"]);
    let mut mp = Pending::send(&s, &["BLMPOP", "0.5", "1", "t", "LEFT"]);
    await_blocked(&mut c, 3);
    s.advance_clock(&mut c, 2000);
    assert_eq!(mp.reply(), "*-1");
    assert_eq!(mv.reply(), "*-1");
    assert_eq!(pop.reply(), "*-1");
    // The timed-out clients are gone from the wait list: a later push stays in the list.
    assert_eq!(run(&mut c, "RPUSH t a"), ":1");
    assert_eq!(run(&mut c, "LLEN t"), ":1");
}
