//! Bitmap commands over TCP (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO): options,
//! replies and byte-exact errors as scripts of `command => reply` lines. The expectations were checked
//! against redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT` (see tests/strings_script/mod.rs); revision
//! checks are Concord-only.

mod strings_script;
mod support;

use strings_script::{Target, run, script};

#[test]
fn setbit_and_getbit() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SETBIT k 7 1 => :0
        GET k => "\x01"
        SETBIT k 7 1 => :1
        SETBIT k 7 0 => :1
        SETBIT k 17 1 => :0
        STRLEN k => :3
        GETBIT k 17 => :1
        GETBIT k 16 => :0
        GETBIT k 1000 => :0
        GETBIT missing 3 => :0
        OBJECT ENCODING k => raw
        SET n 1 => +OK
        GETBIT n 2 => :1
        GETBIT n 7 => :1
        SETBIT n 6 1 => :0
        GET n => 3
        SETBIT k -1 1 => -ERR bit offset is not an integer or out of range
        SETBIT k x 1 => -ERR bit offset is not an integer or out of range
        SETBIT k 4294967296 1 => -ERR bit offset is not an integer or out of range
        GETBIT k 4294967296 => -ERR bit offset is not an integer or out of range
        SETBIT k 1 2 => -ERR bit is not an integer or out of range
        SETBIT k 1 -1 => -ERR bit is not an integer or out of range
        SETBIT k 1 x => -ERR bit is not an integer or out of range
        SETBIT k 1 => -ERR wrong number of arguments for 'setbit' command
        GETBIT k => -ERR wrong number of arguments for 'getbit' command
        LPUSH l a => :1
        SETBIT l 1 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        GETBIT l 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        CONFIG SET proto-max-bulk-len 1048576 => +OK
        SETBIT big 8388607 1 => :0
        STRLEN big => :1048576
        SETBIT big 8388608 1 => -ERR bit offset is not an integer or out of range
        CONFIG SET proto-max-bulk-len 536870912 => +OK
        "#,
    );
}

#[test]
fn bitcount_byte_and_bit_ranges() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        BITCOUNT missing => :0
        BITCOUNT missing 0 => :0
        SET s foobar => +OK
        BITCOUNT s => :26
        BITCOUNT s 0 0 => :4
        BITCOUNT s 1 1 => :6
        BITCOUNT s 1 1 BYTE => :6
        BITCOUNT s 5 30 BIT => :17
        BITCOUNT s 5 30 bit => :17
        BITCOUNT s -1 -1 => :4
        BITCOUNT s -2 -1 BIT => :1
        BITCOUNT s -1 -2 => :0
        BITCOUNT s -1 -2 junk => :0
        BITCOUNT s 100 200 => :0
        BITCOUNT s -100 100 => :26
        BITCOUNT s 3 1 => :0
        BITCOUNT s 0 => -ERR syntax error
        BITCOUNT s 0 1 BYTES => -ERR syntax error
        BITCOUNT s 0 1 BIT 1 => -ERR syntax error
        BITCOUNT s a 1 => -ERR value is not an integer or out of range
        BITCOUNT s 0 b => -ERR value is not an integer or out of range
        SET i 12345 => +OK
        BITCOUNT i => :17
        SET e "" => +OK
        BITCOUNT e => :0
        BITCOUNT e 0 -1 BIT => :0
        LPUSH l a => :1
        BITCOUNT l => -WRONGTYPE Operation against a key holding the wrong kind of value
        BITCOUNT => -ERR wrong number of arguments for 'bitcount' command
        "#,
    );
}

#[test]
fn bitpos_byte_and_bit_ranges() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        BITPOS missing 0 => :0
        BITPOS missing 1 => :-1
        BITPOS missing 1 0 10 BIT => :-1
        SET s "\xff\xf0\x00" => +OK
        BITPOS s 0 => :12
        BITPOS s 1 => :0
        BITPOS s 1 2 => :-1
        BITPOS s 0 0 0 => :-1
        BITPOS s 0 0 => :12
        BITPOS s 0 1 => :12
        BITPOS s 1 7 15 BIT => :7
        BITPOS s 1 12 23 BIT => :-1
        BITPOS s 0 2 9 BIT => :-1
        BITPOS s 0 2 12 bit => :12
        BITPOS s 0 -1 => :16
        BITPOS s 1 -2 -1 BYTE => :8
        BITPOS s 0 5 1 => :-1
        SET f "\xff\xff" => +OK
        BITPOS f 0 => :16
        BITPOS f 0 0 => :16
        BITPOS f 0 0 -1 => :-1
        BITPOS f 0 0 -1 BIT => :-1
        SET e "" => +OK
        BITPOS e 0 => :-1
        BITPOS e 1 => :-1
        BITPOS s 2 => -ERR The bit argument must be 1 or 0.
        BITPOS s x => -ERR value is not an integer or out of range
        BITPOS s 1 x => -ERR value is not an integer or out of range
        BITPOS s 1 0 x => -ERR value is not an integer or out of range
        BITPOS s 1 0 1 BOTH => -ERR syntax error
        BITPOS s 1 0 1 BIT 7 => -ERR syntax error
        LPUSH l a => :1
        BITPOS l 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BITPOS s => -ERR wrong number of arguments for 'bitpos' command
        "#,
    );
}

#[test]
fn bitop_and_or_xor_not() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET a "\xff\x0f" => +OK
        SET b "\x0f" => +OK
        BITOP AND d a b => :2
        GET d => "\x0f\x00"
        BITOP or d a b => :2
        GET d => "\xff\x0f"
        BITOP XOR d a b => :2
        GET d => "\xf0\x0f"
        BITOP NOT d b => :1
        GET d => "\xf0"
        BITOP AND d a missing => :2
        GET d => "\x00\x00"
        BITOP OR d a => :2
        GET d => "\xff\x0f"
        OBJECT ENCODING d => raw
        BITOP AND a a b => :2
        GET a => "\x0f\x00"
        SET i 123 => +OK
        BITOP OR d i => :3
        GET d => 123
        SET d x EX 100 => +OK
        BITOP OR d b => :1
        TTL d => :-1
        BITOP OR d missing nothere => :0
        EXISTS d => :0
        BITOP NOT d a b => -ERR BITOP NOT must be called with a single source key.
        BITOP NAND d a => -ERR syntax error
        LPUSH l x => :1
        BITOP AND d a l => -WRONGTYPE Operation against a key holding the wrong kind of value
        BITOP AND l a => :2
        TYPE l => +string
        BITOP AND d => -ERR wrong number of arguments for 'bitop' command
        "#,
    );
}

#[test]
fn bitfield_get_set_incrby_and_overflow() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r##"
        BITFIELD k => []
        BITFIELD k GET u8 0 => [:0]
        EXISTS k => :0
        BITFIELD k SET i8 0 -100 GET i8 0 GET u8 0 => [:0, :-100, :156]
        BITFIELD k INCRBY i8 0 -100 => [:56]
        BITFIELD k OVERFLOW SAT INCRBY i8 0 -100 INCRBY i8 0 -100 => [:-44, :-128]
        BITFIELD k OVERFLOW FAIL INCRBY i8 0 -1 GET i8 0 => [nil, :-128]
        BITFIELD k OVERFLOW WRAP INCRBY i8 0 -1 => [:127]
        BITFIELD k SET u4 #1 15 SET u4 #2 3 GET u4 #1 GET u16 0 => [:15, :0, :15, :32560]
        BITFIELD k INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 9 => [:1, :3]
        BITFIELD k OVERFLOW FAIL INCRBY u2 100 5 => [nil]
        BITFIELD k SET u8 200 -1 => [:0]
        BITFIELD k OVERFLOW SAT SET u8 208 -1 SET i8 216 300 => [:0, :0]
        BITFIELD k GET u8 200 GET u8 208 GET i8 216 => [:255, :255, :127]
        BITFIELD k SET i64 0 -9223372036854775808 INCRBY i64 0 -1 => [:9164825241698959360, :9223372036854775807]
        BITFIELD k OVERFLOW SAT INCRBY i64 0 1 => [:9223372036854775807]
        BITFIELD k SET u63 0 9223372036854775807 GET u63 0 => [:4611686018427387903, :9223372036854775807]
        BITFIELD k OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0 => [:-1, :127]
        BITFIELD k GET u64 0 => -ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.
        BITFIELD k GET i65 0 => -ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.
        BITFIELD k GET x8 0 => -ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.
        BITFIELD k GET u0 0 => -ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.
        BITFIELD k GET u8 -1 => -ERR bit offset is not an integer or out of range
        BITFIELD k GET u8 #-1 => -ERR bit offset is not an integer or out of range
        BITFIELD k GET u8 x => -ERR bit offset is not an integer or out of range
        BITFIELD k SET u8 0 x => -ERR value is not an integer or out of range
        BITFIELD k OVERFLOW FOO => -ERR Invalid OVERFLOW type specified
        BITFIELD k OVERFLOW => -ERR syntax error
        BITFIELD k GET u8 => -ERR syntax error
        BITFIELD k SET u8 0 => -ERR syntax error
        BITFIELD k FOO => -ERR syntax error
        BITFIELD new OVERFLOW FAIL INCRBY u8 16 300 => [nil]
        STRLEN new => :3
        LPUSH l a => :1
        BITFIELD l GET u8 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BITFIELD l SET u8 0 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BITFIELD l GET u8 x => -ERR bit offset is not an integer or out of range
        BITFIELD => -ERR wrong number of arguments for 'bitfield' command
        "##,
    );
}

#[test]
fn bitfield_ro_reads_only() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r##"
        SET k "\x80\x01" => +OK
        BITFIELD_RO k => []
        BITFIELD_RO k GET u1 0 GET i16 0 GET u8 #1 GET u8 100 => [:1, :-32767, :1, :0]
        BITFIELD_RO missing GET u8 0 => [:0]
        BITFIELD_RO k SET u8 0 1 => -ERR BITFIELD_RO only supports the GET subcommand
        BITFIELD_RO k GET u8 0 INCRBY u8 0 1 => -ERR BITFIELD_RO only supports the GET subcommand
        BITFIELD_RO k OVERFLOW SAT GET u8 0 => [:128]
        LPUSH l a => :1
        BITFIELD_RO l GET u8 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        BITFIELD_RO l SET u8 0 1 => -ERR BITFIELD_RO only supports the GET subcommand
        BITFIELD_RO => -ERR wrong number of arguments for 'bitfield_ro' command
        "##,
    );
}

#[test]
fn bitmaps_are_strings_for_other_commands() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SETBIT k 9 1 => :0
        TYPE k => +string
        COPY k k2 => :1
        GET k2 => "\x00@"
        APPEND k2 "\x01" => :3
        BITCOUNT k2 => :2
        DEL k k2 => :2
        "#,
    );
}

/// Sends `send` on a fresh raw connection and reads until the reply ends with `tail`.
pub(crate) fn raw_until(port: u16, send: &[u8], tail: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(send).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(tail) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn resp3_types_of_bitmap_replies() {
    let t = Target::start();
    // A refused write is a RESP3 null inside the array; counts and positions are integers.
    let tail = b"*3\r\n_\r\n:0\r\n:1\r\n:1\r\n:-1\r\n";
    let got = raw_until(
        t.port(),
        b"HELLO 3\r\nBITFIELD k OVERFLOW FAIL INCRBY u2 0 7 SET u2 0 1 GET u2 0\r\nBITPOS k 1\r\nBITPOS k 1 1\r\n",
        tail,
    );
    assert!(got.ends_with(tail), "{:?}", String::from_utf8_lossy(&got));
}

/// (version, mod_revision) from DEBUG OBJECT, and the server's current revision.
fn meta(c: &mut redis::Connection, key: &str) -> (u64, u64, u64) {
    // A missing key reads as version 0.
    let line: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg(key)
        .query(c)
        .unwrap_or_else(|_| "version:0 mod_revision:0".into());
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.strip_prefix(':'))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    let rev = info
        .lines()
        .find_map(|l| l.strip_prefix("current_revision:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("current_revision");
    (field("version"), field("mod_revision"), rev)
}

#[test]
fn bit_writes_take_a_revision_only_when_bytes_change() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    run(&mut c, "SETBIT k 0 0");
    run(&mut c, "BITFIELD f SET i5 0 0");
    // (command, whether it changes the key)
    let cases = [
        ("SETBIT k 0 0", "k", false),
        ("SETBIT k 0 1", "k", true),
        ("SETBIT k 0 1", "k", false),
        ("SETBIT k 90 0", "k", true),
        ("BITFIELD f SET i5 0 0", "f", false),
        ("BITFIELD f SET i5 0 1", "f", true),
        ("BITFIELD f GET i5 0", "f", false),
        ("BITFIELD f OVERFLOW FAIL INCRBY u2 0 9", "f", false),
        ("BITFIELD f INCRBY i5 0 1", "f", true),
        ("BITFIELD f SET u8 90 0", "f", true),
        ("BITOP OR d k", "d", true),
        ("BITOP OR d k", "d", false),
        ("BITOP AND d k f", "d", true),
    ];
    for (line, key, changes) in cases {
        let (v0, _, r0) = meta(&mut c, key);
        let reply = run(&mut c, line);
        assert!(!reply.starts_with('-'), "{line}: {reply}");
        let (v1, m1, r1) = meta(&mut c, key);
        if changes {
            assert_eq!(
                (v1, r1),
                (v0 + 1, r0 + 1),
                "{line} should take one revision"
            );
            assert_eq!(m1, r1, "{line} sets mod_revision");
        } else {
            assert_eq!((v1, r1), (v0, r0), "{line} should change nothing");
        }
    }
}

/// Redis turns an `int` or `embstr` value into `raw` even when SETBIT changes no bit, but does not propagate
/// that no-op, so its replicas keep the old encoding. Concord keeps the encoding everywhere: a write that
/// changes nothing leaves the value (and its revision) alone.
#[test]
fn a_no_op_bit_write_keeps_the_encoding() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET m 2 => +OK
        SETBIT m 6 1 => :1
        BITFIELD m SET u1 6 1 => [:1]
        OBJECT ENCODING m => int
        SETBIT m 7 1 => :0
        OBJECT ENCODING m => raw
        "#,
    );
}

#[test]
fn expired_keys_read_as_missing_and_are_recreated_fresh() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        DEBUG CLOCK FREEZE => *
        SETBIT k 0 1 => :0
        PEXPIRE k 100 => :1
        PFADD h a => :1
        PEXPIRE h 100 => :1
        DEBUG CLOCK ADVANCE 100 => *
        GETBIT k 0 => :0
        BITCOUNT k => :0
        BITPOS k 0 => :0
        BITFIELD_RO k GET u8 0 => [:0]
        PFCOUNT h => :0
        SETBIT k 9 1 => :0
        GET k => "\x00@"
        TTL k => :-1
        PFADD h b => :1
        TTL h => :-1
        "#,
    );
}
