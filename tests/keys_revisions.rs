//! Revision metadata through `DEBUG OBJECT` and `INFO stats`: a key's version starts at 1 and grows by one
//! per change, mod_revision follows every change, create_revision holds until the key is deleted and
//! recreated, and a command that changes nothing leaves `current_revision` alone. Concord-only.

mod strings_script;
mod support;

use strings_script::{Target, run};
use support::revisions::{changes, current_revision, meta, no_change};

#[test]
fn version_and_revisions_follow_every_change() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let r0 = current_revision(&mut c);
    assert_eq!(run(&mut c, "SET k 1"), "+OK");
    let (v, cr, mr) = meta(&mut c, "k");
    assert_eq!((v, cr, mr), (1, r0 + 1, r0 + 1));
    for line in [
        "SET k 2",
        "INCR k",
        "INCRBY k 3",
        "DECR k",
        "DECRBY k 2",
        "INCRBYFLOAT k 1.5",
        "APPEND k x",
        "SETRANGE k 0 z",
        "SETBIT k 0 1",
        "SET k v XX",
        "SET k w GET",
        "SET k v KEEPTTL",
        "GETSET k w",
        "SET k v IFEQ w",
        "SET k w IFNE x",
        "EXPIRE k 100",
        "PEXPIRE k 200000",
        "EXPIREAT k 99999999999",
        "PEXPIREAT k 99999999998000",
        "EXPIRE k 1000 LT",
        "GETEX k EX 100",
        "GETEX k PERSIST",
        "PEXPIRE k 100000",
        "PERSIST k",
        "MSET k 5 other 6",
        "SETEX k 100 v",
        "PSETEX k 100000 v",
    ] {
        changes(&mut c, run, line, "k");
    }
    assert_eq!(meta(&mut c, "k").1, r0 + 1, "create_revision survives");
}

#[test]
fn commands_that_change_nothing_take_no_revision() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    assert_eq!(run(&mut c, "SET k v"), "+OK");
    assert_eq!(run(&mut c, "SET n 5"), "+OK");
    for line in [
        "SET k w NX",
        "SET missing v XX",
        "SET k w IFEQ nope",
        "SET k v IFNE v",
        "SET k w EX 0",
        "SETNX k w",
        "MSETNX k 1 fresh 2",
        "DEL missing",
        "DEL missing other",
        "UNLINK missing",
        "GETDEL missing",
        "DELEX missing",
        "DELEX k IFEQ nope",
        "DELIFEQ k nope",
        "EXPIRE missing 100",
        "PEXPIRE missing 100",
        "EXPIREAT missing 99999999999",
        "EXPIRE k 100 XX",
        "EXPIRE k 100 GT",
        "PERSIST k",
        "PERSIST missing",
        "GETEX k",
        "GETEX k PERSIST",
        "GETEX missing EX 10",
        "SETRANGE k 0 \"\"",
        "SETRANGE missing 3 \"\"",
        "RENAME k k",
        "RENAMENX k n",
        "RENAME missing x",
        "COPY missing x",
        "COPY k n",
        "MOVE missing 1",
        "INCR k",
        "INCRBY n 9223372036854775807",
        "INCRBYFLOAT k 1",
        "GET k",
        "MGET k n",
        "EXISTS k",
        "TTL k",
        "TOUCH k",
        "TYPE k",
        "STRLEN k",
        "GETRANGE k 0 -1",
        "GETBIT k 3",
        "KEYS *",
        "SCAN 0",
        "RANDOMKEY",
        "OBJECT ENCODING k",
        "DBSIZE",
    ] {
        no_change(&mut c, run, line);
    }
    // SETBIT that leaves the bit as it is changes nothing either.
    assert_eq!(run(&mut c, "SET b \"\\x80\""), "+OK");
    no_change(&mut c, run, "SETBIT b 0 1");
}

#[test]
fn create_revision_resets_only_when_the_key_is_deleted_and_recreated() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    assert_eq!(run(&mut c, "SET k v"), "+OK");
    let (_, cr, _) = meta(&mut c, "k");
    assert_eq!(run(&mut c, "SET k w"), "+OK");
    assert_eq!(meta(&mut c, "k").1, cr);
    assert_eq!(run(&mut c, "DEL k"), ":1");
    let before = current_revision(&mut c);
    assert_eq!(run(&mut c, "SET k v"), "+OK");
    let (v, cr2, mr) = meta(&mut c, "k");
    assert_eq!((v, cr2, mr), (1, before + 1, before + 1));
    assert!(cr2 > cr);
    // GETDEL, DELEX, DELIFEQ, EXPIRE into the past and expiry itself are deletions too.
    for (delete, recreate) in [
        ("GETDEL k", "SET k v"),
        ("DELEX k IFEQ v", "SET k v"),
        ("DELIFEQ k v", "SET k v"),
        ("EXPIRE k -1", "SET k v"),
        ("GETEX k PXAT 1", "INCR k"),
    ] {
        let rev = current_revision(&mut c);
        assert!(!run(&mut c, delete).starts_with('-'), "{delete}");
        assert_eq!(
            current_revision(&mut c),
            rev + 1,
            "{delete} takes one revision"
        );
        assert_eq!(run(&mut c, "EXISTS k"), ":0");
        assert!(!run(&mut c, recreate).starts_with('-'));
        let (v, cr, mr) = meta(&mut c, "k");
        assert_eq!(
            (v, cr, mr),
            (1, rev + 2, rev + 2),
            "{delete} then {recreate}"
        );
    }
}

#[test]
fn rename_copy_and_move_create_or_change_the_destination() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    assert_eq!(run(&mut c, "SET src v"), "+OK");
    let rev = current_revision(&mut c);
    assert_eq!(run(&mut c, "RENAME src dst"), "+OK");
    assert_eq!(current_revision(&mut c), rev + 1);
    assert_eq!(meta(&mut c, "dst"), (1, rev + 1, rev + 1));
    // Overwriting an existing destination is a change of that key, like SET over it.
    assert_eq!(run(&mut c, "SET src w"), "+OK");
    let (v, cr, _) = meta(&mut c, "dst");
    assert_eq!(run(&mut c, "RENAME src dst"), "+OK");
    let r = current_revision(&mut c);
    assert_eq!(meta(&mut c, "dst"), (v + 1, cr, r));
    assert_eq!(run(&mut c, "COPY dst copy"), ":1");
    let r = current_revision(&mut c);
    assert_eq!(meta(&mut c, "copy"), (1, r, r));
    assert_eq!(run(&mut c, "COPY dst copy REPLACE"), ":1");
    assert_eq!(meta(&mut c, "copy").0, 2);
    assert_eq!(run(&mut c, "SELECT 1"), "+OK");
    assert_eq!(run(&mut c, "SET copy old"), "+OK");
    let (v, cr, _) = meta(&mut c, "copy");
    assert_eq!(run(&mut c, "SELECT 0"), "+OK");
    assert_eq!(run(&mut c, "COPY dst copy DB 1 REPLACE"), ":1");
    let r = current_revision(&mut c);
    assert_eq!(run(&mut c, "SELECT 1"), "+OK");
    assert_eq!(meta(&mut c, "copy"), (v + 1, cr, r));
    assert_eq!(run(&mut c, "SELECT 0"), "+OK");
    assert_eq!(run(&mut c, "MOVE dst 2"), ":1");
    let r = current_revision(&mut c);
    assert_eq!(run(&mut c, "SELECT 2"), "+OK");
    assert_eq!(meta(&mut c, "dst"), (1, r, r));
}
