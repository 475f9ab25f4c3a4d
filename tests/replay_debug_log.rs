//! DEBUG LOG FROM: what the committed stream holds for each kind of unit (a command, EXEC, a script, a
//! blocked client's re-run, an expiry, FLUSHDB/SWAPDB), read back over TCP; the retained window and its
//! COMPACTED error.

mod support;

use redis::{Connection, Value};
use support::TestServer;

/// DEBUG LOG FROM `from` [CHANGES]: each unit's parts (`[revision, now_ms, records, changes?]`).
fn units(c: &mut Connection, from: u64, changes: bool) -> Vec<Vec<Value>> {
    let mut cmd = redis::cmd("DEBUG");
    cmd.arg("LOG").arg("FROM").arg(from);
    if changes {
        cmd.arg("CHANGES");
    }
    let v: Value = cmd.query(c).expect("DEBUG LOG");
    let Value::Array(units) = v else {
        panic!("{v:?}")
    };
    units
        .into_iter()
        .map(|u| match u {
            Value::Array(parts) => parts,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// A reply element as text: integers and bulks as themselves, nil as `nil`.
fn word(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Nil => "nil".to_string(),
        other => panic!("{other:?}"),
    }
}

/// The array element `v` as text lines, each of its own elements joined by `sep`.
fn rows(v: &Value, sep: &str) -> Vec<String> {
    let Value::Array(items) = v else {
        panic!("{v:?}")
    };
    items
        .iter()
        .map(|item| match item {
            Value::Array(words) => words.iter().map(word).collect::<Vec<_>>().join(sep),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The log from `from` on, one line per unit: `rev: db:ARG ARG | db:ARG ...` (now_ms left out; see
/// `now_of`).
fn log_lines(c: &mut Connection, from: u64) -> Vec<String> {
    units(c, from, false)
        .iter()
        .map(|parts| {
            let records: Vec<String> = rows(&parts[2], " ")
                .into_iter()
                .map(|r| r.replacen(' ', ":", 1))
                .collect();
            format!("{}: {}", word(&parts[0]), records.join(" | "))
        })
        .collect()
}

fn now_of(c: &mut Connection, revision: u64) -> String {
    word(&units(c, revision, false)[0][1])
}

fn cmd(c: &mut Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn each_kind_of_unit_is_one_revision_with_its_records_in_apply_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    let now = support::freeze_clock(&mut c);
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    cmd(&mut c, &["SET", "greeting", "hello", "EX", "60"]);
    cmd(&mut c, &["SET", "greeting", "again", "NX"]); // no change: no unit
    let _: Value = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("n")
        .cmd("RPUSH")
        .arg("l")
        .arg("a")
        .arg("b")
        .cmd("SELECT")
        .arg(1)
        .cmd("SET")
        .arg("other")
        .arg("1")
        .query(&mut c)
        .expect("EXEC");
    cmd(&mut c, &["SELECT", "0"]);
    cmd(
        &mut c,
        &[
            "EVAL",
            "redis.call('INCR', KEYS[1]) return redis.call('LPOP', KEYS[2])",
            "2",
            "n",
            "l",
        ],
    );
    cmd(&mut c, &["FLUSHDB"]);
    cmd(&mut c, &["SWAPDB", "0", "1"]);
    assert_eq!(
        log_lines(&mut c, 1),
        vec![
            format!("1: 0:SET greeting hello PXAT {}", now + 60_000),
            "2: 0:INCR n | 0:RPUSH l a b | 1:SET other 1".to_string(),
            "3: 0:INCR n | 0:LPOP l".to_string(),
            "4: 0:FLUSHDB".to_string(),
            "5: 0:SWAPDB 0 1".to_string(),
        ]
    );
    assert_eq!(now_of(&mut c, 3), now.to_string());
    // COUNT and FROM pick a window.
    assert_eq!(log_lines(&mut c, 5).len(), 1);
    assert!(log_lines(&mut c, 6).is_empty());
}

#[test]
fn an_expiry_is_a_unit_of_its_own_before_the_write_that_met_it() {
    let s = TestServer::start();
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    cmd(&mut c, &["SET", "k", "old", "PX", "10"]);
    cmd(&mut c, &["SET", "a", "old", "PX", "10"]);
    cmd(&mut c, &["SET", "b", "old", "PX", "10"]);
    support::advance_clock(&mut c, 20);
    // A single-key write: the expiry commits first, then the write.
    cmd(&mut c, &["APPEND", "k", "new"]);
    // EXEC and a multi-key write: their declared expired keys go in one expiry unit before them.
    let _: Value = redis::pipe()
        .atomic()
        .cmd("APPEND")
        .arg("a")
        .arg("x")
        .cmd("APPEND")
        .arg("b")
        .arg("y")
        .query(&mut c)
        .expect("EXEC");
    let lines = log_lines(&mut c, 4);
    assert_eq!(lines[0], "4: 0:DEL k");
    assert_eq!(lines[1], "5: 0:APPEND k new");
    // a and b, in one revision (their order is the keys' sort order).
    assert_eq!(lines[2], "6: 0:DEL a | 0:DEL b");
    assert_eq!(lines[3], "7: 0:APPEND a x | 0:APPEND b y");
    assert_eq!(lines.len(), 4);
    assert_eq!(
        cmd(&mut c, &["GET", "k"]),
        Value::BulkString(b"new".to_vec())
    );
}

#[test]
fn the_active_expirer_commits_its_deletions_as_units() {
    let s = TestServer::start();
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for i in 0..40 {
        cmd(&mut c, &["SET", &format!("e{i}"), "v", "PX", "10"]);
    }
    support::advance_clock(&mut c, 20);
    cmd(&mut c, &["DEBUG", "EXPIRE-NOW"]);
    let lines = log_lines(&mut c, 41);
    // 40 keys over 16 shards: fewer units than keys, every one only DELs, each key once.
    assert!(lines.len() < 40, "{lines:?}");
    let mut deleted: Vec<String> = lines
        .iter()
        .flat_map(|l| l.split(": ").nth(1).unwrap_or("").split(" | "))
        .map(|r| {
            r.strip_prefix("0:DEL ")
                .unwrap_or_else(|| panic!("not a DEL: {r}"))
                .to_string()
        })
        .collect();
    deleted.sort();
    let mut want: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(deleted, want);
}

#[test]
fn a_blocked_clients_rerun_is_a_unit_after_the_push_that_served_it() {
    let s = TestServer::start();
    let mut waiter = s.conn();
    let mut c = s.conn();
    let t = std::thread::spawn(move || -> Value {
        redis::cmd("BLPOP")
            .arg("q")
            .arg(5)
            .query(&mut waiter)
            .expect("BLPOP")
    });
    // Wait until the waiter is parked (CLIENT LIST shows it blocked).
    for _ in 0..500 {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query(&mut c)
            .expect("LIST");
        if list.contains("cmd=blpop") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cmd(&mut c, &["RPUSH", "q", "job"]);
    let got = t.join().expect("waiter");
    assert_eq!(
        got,
        Value::Array(vec![
            Value::BulkString(b"q".to_vec()),
            Value::BulkString(b"job".to_vec())
        ])
    );
    let lines = log_lines(&mut c, 1);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "1: 0:RPUSH q job");
    assert!(lines[1].starts_with("2: 0:"), "{lines:?}");
}

#[test]
fn a_revision_older_than_the_window_is_compacted() {
    let s = TestServer::start_with(&["--watch-history", "3"]);
    let mut c = s.conn();
    for i in 0..5 {
        cmd(&mut c, &["SET", "k", &i.to_string()]);
    }
    assert_eq!(log_lines(&mut c, 3).len(), 3);
    let err = redis::cmd("DEBUG")
        .arg("LOG")
        .arg("FROM")
        .arg(2)
        .query::<Value>(&mut c)
        .expect_err("compacted");
    assert_eq!(err.code(), Some("COMPACTED"));
    assert_eq!(
        err.detail(),
        Some("revision 2 is compacted, oldest available is 3")
    );
    let err = redis::cmd("DEBUG")
        .arg("LOG")
        .arg("TO")
        .arg(2)
        .query::<Value>(&mut c)
        .expect_err("syntax");
    assert!(err.to_string().contains("syntax error"), "{err}");
}

/// Each unit's changes from `from` on, as `rev: sub kind db key prev value; ...`.
fn change_lines(c: &mut Connection, from: u64) -> Vec<String> {
    units(c, from, true)
        .iter()
        .map(|parts| format!("{}: {}", word(&parts[0]), rows(&parts[3], " ").join("; ")))
        .collect()
}

#[test]
fn changes_carry_sub_index_kind_key_previous_revision_and_string_value() {
    let s = TestServer::start();
    let mut c = s.conn();
    support::freeze_clock(&mut c);
    cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    cmd(&mut c, &["SET", "a", "1"]);
    cmd(&mut c, &["INCR", "a"]);
    let _: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("b")
        .arg("x")
        .cmd("DEL")
        .arg("a")
        .cmd("RPUSH")
        .arg("l")
        .arg("v")
        .query(&mut c)
        .expect("EXEC");
    cmd(&mut c, &["RENAME", "b", "c"]);
    cmd(&mut c, &["SET", "e", "v", "PX", "10"]);
    support::advance_clock(&mut c, 20);
    cmd(&mut c, &["DEBUG", "EXPIRE-NOW"]);
    cmd(&mut c, &["SWAPDB", "0", "1"]);
    cmd(&mut c, &["SELECT", "1"]);
    cmd(&mut c, &["FLUSHDB"]);
    let mut flushed = change_lines(&mut c, 8);
    let flush = flushed.pop().expect("FLUSHDB unit");
    assert_eq!(
        change_lines(&mut c, 1)[..7],
        [
            "1: 0 put 0 a 0 1",
            "2: 0 put 0 a 1 2",
            "3: 0 put 0 b 0 x; 1 del 0 a 2 nil; 2 put 0 l 0 nil",
            "4: 0 del 0 b 3 nil; 1 put 0 c 0 x",
            "5: 0 put 0 e 0 v",
            "6: 0 expired 0 e 5 nil",
            "7: 0 swapdb 0 1 0 nil",
        ]
    );
    // FLUSHDB of db 1 (what db 0 held before the swap): a del of every key, in one revision.
    let mut keys: Vec<&str> = flush
        .strip_prefix("8: ")
        .expect("revision 8")
        .split("; ")
        .map(|ch| {
            let f: Vec<&str> = ch.split(' ').collect();
            assert_eq!((f[1], f[2]), ("del", "1"), "{ch}");
            f[3]
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["c", "l"]);
}
