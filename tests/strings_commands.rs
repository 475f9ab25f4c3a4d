//! Every string command over TCP with the `redis` crate: options, replies and byte-exact errors, written
//! as scripts of `command => reply` lines. The expectations were checked against redis-server 7.0.15 by
//! running this file with `CONCORD_TEST_REDIS_PORT` (see tests/strings_script/mod.rs); tests of behaviour
//! Redis 7.0 lacks (IFEQ, DELEX, ...) are Concord-only.

mod strings_script;
mod support;

use strings_script::{Target, run, script};

#[test]
fn set_and_get_with_conditions() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        GET k => nil
        SET k v => +OK
        GET k => v
        SET k v2 NX => nil
        GET k => v
        SET k v3 XX => +OK
        GET k => v3
        SET missing v XX => nil
        EXISTS missing => :0
        SET n v NX => +OK
        SET n v nx NX => nil
        SET k v4 xx XX => +OK
        SET k v NX XX => -ERR syntax error
        SET k v XX NX => -ERR syntax error
        SET k v FOO => -ERR syntax error
        SET k => -ERR wrong number of arguments for 'set' command
        SET k "" => +OK
        GET k => ""
        SET k "with space" => +OK
        GET k => "with space"
        "#,
    );
}

#[test]
fn set_get_option_returns_the_old_value() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET k v1 GET => nil
        SET k v2 GET => v1
        SET k v3 GET GET => v2
        SET k v4 NX GET => v3
        GET k => v3
        SET k v5 XX GET => v3
        GET k => v5
        SET other v XX GET => nil
        EXISTS other => :0
        SET other v NX GET => nil
        GET other => v
        SET n 12 => +OK
        SET n 13 GET => 12
        "#,
    );
}

#[test]
fn set_expiry_options_and_their_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET k v EX 100 => +OK
        TTL k => :100
        SET k v PX 100000 => +OK
        TTL k => :100
        SET k v EXAT 99999999999 => +OK
        EXPIRETIME k => :99999999999
        SET k v PXAT 99999999999123 => +OK
        PEXPIRETIME k => :99999999999123
        SET k v2 KEEPTTL => +OK
        PEXPIRETIME k => :99999999999123
        SET k v3 => +OK
        TTL k => :-1
        SET k v EX 10 EX 20 => +OK
        TTL k => :20
        SET k v KEEPTTL KEEPTTL => +OK
        SET k v EX 10 PX 10 => -ERR syntax error
        SET k v PX 10 EX 10 => -ERR syntax error
        SET k v EX 10 KEEPTTL => -ERR syntax error
        SET k v KEEPTTL EX 10 => -ERR syntax error
        SET k v EXAT 10 PXAT 10 => -ERR syntax error
        SET k v EX => -ERR syntax error
        SET k v PX => -ERR syntax error
        SET k v EX 0 => -ERR invalid expire time in 'set' command
        SET k v EX -1 => -ERR invalid expire time in 'set' command
        SET k v PX 0 => -ERR invalid expire time in 'set' command
        SET k v EXAT 0 => -ERR invalid expire time in 'set' command
        SET k v PXAT -5 => -ERR invalid expire time in 'set' command
        SET k v EX 9223372036854775 => -ERR invalid expire time in 'set' command
        SET k v EX 9223372036854776 => -ERR invalid expire time in 'set' command
        SET k v PX 9223372036854775807 => -ERR invalid expire time in 'set' command
        SET k v EX abc => -ERR value is not an integer or out of range
        SET k v EX 1.5 => -ERR value is not an integer or out of range
        SET k v EX abc FOO => -ERR syntax error
        SET k v PXAT 1 => +OK
        GET k => nil
        "#,
    );
}

#[test]
fn set_get_against_a_wrong_type_is_refused_before_writing() {
    // Concord has only strings so far; the WRONGTYPE paths of every command are covered in the unit
    // tests of the command layer once other types exist. Here: option parsing wins over the type check.
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET k v GET EX 0 => -ERR invalid expire time in 'set' command
        GET k => nil
        "#,
    );
}

#[test]
fn setnx_setex_psetex() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SETNX k v => :1
        SETNX k w => :0
        GET k => v
        SETEX k 100 w => +OK
        GET k => w
        TTL k => :100
        PSETEX k 100000 x => +OK
        TTL k => :100
        SETEX k 0 v => -ERR invalid expire time in 'setex' command
        SETEX k -10 v => -ERR invalid expire time in 'setex' command
        PSETEX k 0 v => -ERR invalid expire time in 'psetex' command
        SETEX k abc v => -ERR value is not an integer or out of range
        SETEX k 10 => -ERR wrong number of arguments for 'setex' command
        SETNX k => -ERR wrong number of arguments for 'setnx' command
        GET k => x
        "#,
    );
}

#[test]
fn getset_getdel_getex() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        GETSET k v => nil
        GETSET k w => v
        SET k v EX 100 => +OK
        GETSET k w => v
        TTL k => :-1
        GETDEL k => w
        GETDEL k => nil
        EXISTS k => :0
        GETEX k => nil
        GETEX k EX abc => nil
        GETEX k FOO => -ERR syntax error
        SET k v => +OK
        GETEX k => v
        GETEX k EX 100 => v
        TTL k => :100
        GETEX k PX 200000 => v
        TTL k => :200
        GETEX k EXAT 99999999999 => v
        EXPIRETIME k => :99999999999
        GETEX k PXAT 99999999999123 => v
        PEXPIRETIME k => :99999999999123
        GETEX k PERSIST => v
        TTL k => :-1
        GETEX k PERSIST => v
        GETEX k EX 10 EX 20 => v
        TTL k => :20
        GETEX k EX 10 PX 10 => -ERR syntax error
        GETEX k EX 10 PERSIST => -ERR syntax error
        GETEX k PERSIST EX 10 => -ERR syntax error
        GETEX k KEEPTTL => -ERR syntax error
        GETEX k NX => -ERR syntax error
        GETEX k GET => -ERR syntax error
        GETEX k EX => -ERR syntax error
        GETEX k EX 0 => -ERR invalid expire time in 'getex' command
        GETEX k EX abc => -ERR value is not an integer or out of range
        GETEX k PX -1 => -ERR invalid expire time in 'getex' command
        GETEX k EXAT 1 => v
        EXISTS k => :0
        "#,
    );
}

#[test]
fn mget_mset_msetnx() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        MSET a 1 b 2 c 3 => +OK
        MGET a b c d => [1, 2, 3, nil]
        MSET a 1 b => -ERR wrong number of arguments for 'mset' command
        MSET a => -ERR wrong number of arguments for 'mset' command
        MSET a x a y => +OK
        GET a => y
        MSETNX a 1 z 2 => :0
        EXISTS z => :0
        MSETNX x 1 z 2 => :1
        MGET x z => [1, 2]
        MSETNX x 1 y => -ERR wrong number of arguments for 'msetnx' command
        MGET => -ERR wrong number of arguments for 'mget' command
        SET t v EX 100 => +OK
        MSET t w => +OK
        TTL t => :-1
        "#,
    );
}

#[test]
fn append_strlen_and_encodings() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        APPEND k hello => :5
        APPEND k " world" => :11
        GET k => "hello world"
        STRLEN k => :11
        STRLEN missing => :0
        OBJECT ENCODING k => raw
        APPEND n 12 => :2
        OBJECT ENCODING n => int
        APPEND n 3 => :3
        GET n => 123
        OBJECT ENCODING n => raw
        SET e abc => +OK
        OBJECT ENCODING e => embstr
        SET i 12345 => +OK
        OBJECT ENCODING i => int
        STRLEN i => :5
        SET i -0 => +OK
        OBJECT ENCODING i => embstr
        SET i 007 => +OK
        OBJECT ENCODING i => embstr
        SET i 9223372036854775807 => +OK
        OBJECT ENCODING i => int
        SET i 9223372036854775808 => +OK
        OBJECT ENCODING i => embstr
        SET e 12345678901234567890123456789012345678901234 => +OK
        OBJECT ENCODING e => embstr
        SET e 123456789012345678901234567890123456789012345 => +OK
        OBJECT ENCODING e => raw
        SET t v EX 100 => +OK
        APPEND t x => :2
        TTL t => :100
        "#,
    );
}

#[test]
fn getrange_edge_cases() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        GETRANGE missing 0 -1 => ""
        SET k "Hello World" => +OK
        GETRANGE k 0 4 => Hello
        GETRANGE k 0 -1 => "Hello World"
        GETRANGE k -5 -1 => World
        GETRANGE k -1 -5 => ""
        GETRANGE k 5 3 => ""
        GETRANGE k -100 4 => Hello
        GETRANGE k 6 100 => World
        GETRANGE k 100 200 => ""
        GETRANGE k 0 0 => H
        GETRANGE k -1 -1 => d
        GETRANGE k 10 10 => d
        GETRANGE k 11 11 => ""
        GETRANGE k -100 -50 => H
        GETRANGE k -100 -100 => H
        GETRANGE k 0 -100 => H
        GETRANGE k 9223372036854775807 9223372036854775807 => ""
        GETRANGE k -9223372036854775808 9223372036854775807 => "Hello World"
        GETRANGE k a 1 => -ERR value is not an integer or out of range
        GETRANGE k 0 b => -ERR value is not an integer or out of range
        GETRANGE missing a 1 => -ERR value is not an integer or out of range
        SUBSTR k 0 4 => Hello
        SET n 1234 => +OK
        GETRANGE n 1 2 => 23
        GETRANGE n -2 -1 => 34
        SET e "" => +OK
        GETRANGE e 0 -1 => ""
        GETRANGE e -1 0 => ""
        "#,
    );
}

#[test]
fn setrange_pads_and_checks_limits() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SETRANGE k 0 "" => :0
        EXISTS k => :0
        SETRANGE k 5 "" => :0
        EXISTS k => :0
        SETRANGE k 0 hello => :5
        SETRANGE k 6 world => :11
        GET k => "hello\x00world"
        STRLEN k => :11
        SETRANGE k 0 J => :11
        GETRANGE k 0 4 => Jello
        SETRANGE k 100 "" => :11
        SETRANGE k -1 x => -ERR offset is out of range
        SETRANGE k abc x => -ERR value is not an integer or out of range
        DEL k => :1
        SETRANGE k 536870912 x => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
        SETRANGE k 536870912 "" => :0
        SET n 1234 => +OK
        SETRANGE n 1 9 => :4
        GET n => 1934
        OBJECT ENCODING n => raw
        SET t v EX 100 => +OK
        SETRANGE t 0 w => :1
        TTL t => :100
        "#,
    );
}

#[test]
fn incr_decr_family() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        INCR n => :1
        INCR n => :2
        DECR n => :1
        DECR n => :0
        DECR n => :-1
        INCRBY n 100 => :99
        DECRBY n 100 => :-1
        INCRBY n -9223372036854775807 => :-9223372036854775808
        DECR n => -ERR increment or decrement would overflow
        INCRBY n -1 => -ERR increment or decrement would overflow
        GET n => -9223372036854775808
        SET n 9223372036854775807 => +OK
        INCR n => -ERR increment or decrement would overflow
        DECRBY n -1 => -ERR increment or decrement would overflow
        DECRBY n -9223372036854775808 => -ERR decrement would overflow
        INCRBY n abc => -ERR value is not an integer or out of range
        INCRBY n 1.5 => -ERR value is not an integer or out of range
        INCRBY n 9223372036854775808 => -ERR value is not an integer or out of range
        SET s abc => +OK
        INCR s => -ERR value is not an integer or out of range
        SET s " 1" => +OK
        INCR s => -ERR value is not an integer or out of range
        SET s "1 " => +OK
        INCR s => -ERR value is not an integer or out of range
        SET s 1.0 => +OK
        INCR s => -ERR value is not an integer or out of range
        SET s +1 => +OK
        INCR s => -ERR value is not an integer or out of range
        SET s 01 => +OK
        INCR s => -ERR value is not an integer or out of range
        SET s "" => +OK
        INCR s => -ERR value is not an integer or out of range
        SET t 10 EX 100 => +OK
        INCR t => :11
        TTL t => :100
        OBJECT ENCODING t => int
        SET big 17179869184 => +OK
        INCRBY big 17179869184 => :34359738368
        INCR => -ERR wrong number of arguments for 'incr' command
        INCRBY n => -ERR wrong number of arguments for 'incrby' command
        "#,
    );
}

#[test]
fn incrbyfloat_parses_and_refuses_like_redis() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        INCRBYFLOAT f 1 => 1
        INCRBYFLOAT f 0.25 => 1.25
        INCRBYFLOAT f -1.25 => 0
        INCRBYFLOAT f 10.5 => 10.5
        INCRBYFLOAT f 5.0e3 => 5010.5
        INCRBYFLOAT f -5010.5 => 0
        SET f 3 => +OK
        INCRBYFLOAT f 1.5 => 4.5
        SET f 17179869184 => +OK
        INCRBYFLOAT f 17179869184 => 34359738368
        INCRBYFLOAT f abc => -ERR value is not a valid float
        INCRBYFLOAT f "" => -ERR value is not a valid float
        INCRBYFLOAT f " 1" => -ERR value is not a valid float
        INCRBYFLOAT f "1 " => -ERR value is not a valid float
        INCRBYFLOAT f nan => -ERR value is not a valid float
        INCRBYFLOAT f +inf => -ERR increment would produce NaN or Infinity
        INCRBYFLOAT f -inf => -ERR increment would produce NaN or Infinity
        SET s " 11" => +OK
        INCRBYFLOAT s 1 => -ERR value is not a valid float
        SET s "11 " => +OK
        INCRBYFLOAT s 1 => -ERR value is not a valid float
        SET s abc => +OK
        INCRBYFLOAT s 1 => -ERR value is not a valid float
        SET t 1 EX 100 => +OK
        INCRBYFLOAT t 0.5 => 1.5
        TTL t => :100
        OBJECT ENCODING t => embstr
        SET z 1 => +OK
        INCRBYFLOAT z -1 => 0
        INCRBYFLOAT z 0 => 0
        INCRBYFLOAT z -0 => 0
        "#,
    );
}

/// Redis computes INCRBYFLOAT in `long double` and prints it with `%.17Lf`, trimmed: results that an f64
/// would show with representation noise come out clean (and some f64-clean ones show noise), values beyond
/// the f64 range are fine, and huge values print every integer digit.
#[test]

fn incrbyfloat_formats_like_redis_long_double() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET a 10.5 => +OK
        INCRBYFLOAT a 0.1 => 10.6
        SET b 0.1 => +OK
        INCRBYFLOAT b 0.2 => 0.3
        SET c 5.0e3 => +OK
        INCRBYFLOAT c 2.0e2 => 5200
        INCRBYFLOAT e 3.0e-5 => 0.00003
        INCRBYFLOAT g 1.23456789012345678 => 1.23456789012345678
        SET h 1 => +OK
        INCRBYFLOAT h 1e-20 => 1
        INCRBYFLOAT d 1e30 => 1000000000000000000024696061952
        SET n 255.3 => +OK
        INCRBYFLOAT n 703.8 => 959.09999999999999998
        INCRBYFLOAT big 1.7976931348623157e308 => *
        INCRBYFLOAT big 1.7976931348623157e308 => 359538626972463139991842093548208868096772893888658356970628841530353257046248792709403737216774171128857586838851041378617416726902272110715794556052955234146997955372576789671236326588091188869859074894581254961338834769297758245552436667197907705664206565009503223382416235440319971852753604933726679072768
        INCRBYFLOAT x 1e4933 => -ERR value is not a valid float
        INCRBYFLOAT w 1e-4951 => -ERR value is not a valid float
        INCRBYFLOAT u 1. => 1
        INCRBYFLOAT u .5 => 1.5
        INCRBYFLOAT t -0 => 0
        INCRBYFLOAT s 5e-18 => 0
        INCRBYFLOAT s 1e-17 => 0.00000000000000001
        "#,
    );
}

#[test]
fn lcs_strings_lengths_and_indexes() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        MSET a ohmytext b mynewtext => +OK
        LCS a b LEN IDX => -ERR If you want both the length and indexes, please just use IDX.
        LCS a b FOO => -ERR syntax error
        LCS a b MINMATCHLEN => -ERR syntax error
        LCS a b MINMATCHLEN x => -ERR value is not an integer or out of range
        LCS a => -ERR wrong number of arguments for 'lcs' command
        LCS a b IDX LEN => -ERR If you want both the length and indexes, please just use IDX.
        SET e "" => +OK
        LCS e e IDX => [matches, [], len, :0]
        LCS e a => ""
        "#,
    );
}

#[test]

fn lcs_results_match_redis() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        MSET a ohmytext b mynewtext => +OK
        LCS a b => mytext
        LCS a b LEN => :6
        LCS a missing => ""
        LCS missing1 missing2 LEN => :0
        LCS a b IDX => [matches, [[[:4, :7], [:5, :8]], [[:2, :3], [:0, :1]]], len, :6]
        LCS a b IDX WITHMATCHLEN => [matches, [[[:4, :7], [:5, :8], :4], [[:2, :3], [:0, :1], :2]], len, :6]
        LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN => [matches, [[[:4, :7], [:5, :8], :4]], len, :6]
        LCS a b IDX MINMATCHLEN -3 => [matches, [[[:4, :7], [:5, :8]], [[:2, :3], [:0, :1]]], len, :6]
        "#,
    );
}

#[test]
fn setbit_and_getbit() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        GETBIT k 0 => :0
        SETBIT k 1 1 => :0
        GET k => @
        SETBIT k 1 1 => :1
        SETBIT k 1 0 => :1
        GET k => "\x00"
        SETBIT k 15 1 => :0
        STRLEN k => :2
        GETBIT k 15 => :1
        GETBIT k 16 => :0
        GETBIT k 4294967295 => :0
        SETBIT k 0 2 => -ERR bit is not an integer or out of range
        SETBIT k 0 -1 => -ERR bit is not an integer or out of range
        SETBIT k 0 x => -ERR bit is not an integer or out of range
        SETBIT k -1 1 => -ERR bit offset is not an integer or out of range
        SETBIT k 4294967296 1 => -ERR bit offset is not an integer or out of range
        SETBIT k x 1 => -ERR bit offset is not an integer or out of range
        GETBIT k -1 => -ERR bit offset is not an integer or out of range
        GETBIT k 4294967296 => -ERR bit offset is not an integer or out of range
        SET n 1 => +OK
        GETBIT n 2 => :1
        GETBIT n 3 => :1
        GETBIT n 7 => :1
        SETBIT n 6 1 => :0
        GET n => 3
        OBJECT ENCODING n => raw
        SET m 2 => +OK
        SETBIT m 6 1 => :1
        SET t v EX 100 => +OK
        SETBIT t 100 1 => :0
        TTL t => :100
        "#,
    );
}

#[test]
fn set_ifeq_ifne_compare_and_swap() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET k v1 IFEQ v0 => nil
        EXISTS k => :0
        SET k v1 IFNE v0 => +OK
        SET k v2 IFEQ v0 => nil
        GET k => v1
        SET k v2 IFEQ v1 => +OK
        GET k => v2
        SET k v3 IFNE v2 => nil
        SET k v3 IFNE v1 => +OK
        SET k v4 IFEQ v3 GET => v3
        SET k v5 IFEQ nope GET => v4
        GET k => v4
        SET k v IFEQ v4 EX 100 => +OK
        TTL k => :100
        SET k w IFEQ v KEEPTTL => +OK
        TTL k => :100
        SET k v IFEQ a NX => -ERR syntax error
        SET k v NX IFEQ a => -ERR syntax error
        SET k v XX IFNE a => -ERR syntax error
        SET k v IFEQ a IFNE b => -ERR syntax error
        SET k v IFEQ => -ERR syntax error
        SET n 10 => +OK
        SET n 11 IFEQ 10 => +OK
        GET n => 11
        "#,
    );
}

#[test]
fn delex_and_delifeq_release_only_a_matching_lock() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    let digest = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b"token"));
    script(
        &mut c,
        r#"
        DELEX k => :0
        SET k token => +OK
        DELEX k IFEQ other => :0
        DELEX k IFNE token => :0
        GET k => token
        DELEX k IFEQ token => :1
        EXISTS k => :0
        DELEX k IFEQ token => :0
        SET k token => +OK
        DELEX k IFNE other => :1
        SET k token => +OK
        DELEX k => :1
        SET k token => +OK
        DELEX k IFDEQ 0000000000000000 => :0
        DELEX k IFDNE 0000000000000000 => :1
        DELEX k FOO bar => -ERR syntax error
        DELEX k IFEQ => -ERR syntax error
        DELEX k IFEQ a b => -ERR syntax error
        DELEX => -ERR wrong number of arguments for 'delex' command
        DELIFEQ k token => :0
        SET k token => +OK
        DELIFEQ k other => :0
        DELIFEQ k token => :1
        EXISTS k => :0
        DELIFEQ k => -ERR wrong number of arguments for 'delifeq' command
        "#,
    );
    script(&mut c, "SET k token => +OK");
    assert_eq!(run(&mut c, &format!("DELEX k IFDNE {digest}")), ":0");
    assert_eq!(
        run(&mut c, &format!("DELEX k IFDEQ {}", digest.to_uppercase())),
        ":1"
    );
}

#[test]
fn binary_keys_and_values_round_trip() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET "\x00\xff\r\n" "\x00a\r\nb" => +OK
        STRLEN "\x00\xff\r\n" => :5
        EXISTS "\x00\xff\r\n" => :1
        APPEND "\x00\xff\r\n" "\x00" => :6
        "#,
    );
    let v: Vec<u8> = redis::cmd("GET")
        .arg(&b"\x00\xff\r\n"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, b"\x00a\r\nb\x00");
}
