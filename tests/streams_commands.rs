//! Every stream command over TCP with the `redis` crate, written as scripts of `command => reply` lines
//! (see tests/strings_script/mod.rs): IDs, trimming, ranges, XREAD, consumer groups, XINFO, XSETID, with
//! byte-exact errors and WRONGTYPE. The scripts up to `xsetid_and_xinfo` were checked against
//! redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT=<port> cargo test --test streams_commands --
//! --test-threads=1`; the rest are Concord-only: idle and delivery times on the server clock (DEBUG
//! CLOCK), `*` IDs from the server clock, blocked reads served by XADD and timed out on the server clock,
//! RESP3 reply types and revisions.

mod strings_script;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use strings_script::{Target, run, script};

#[test]
fn xadd_ids_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-1 a 1 => 1-1
        XADD s 1-1 a 1 => -ERR The ID specified in XADD is equal or smaller than the target stream top item
        XADD s 1-0 a 1 => -ERR The ID specified in XADD is equal or smaller than the target stream top item
        XADD s 1-* b 2 => 1-2
        XADD s 2 c 3 => 2-0
        XADD s 0-0 a 1 => -ERR The ID specified in XADD must be greater than 0-0
        XADD s 0 a 1 => -ERR The ID specified in XADD must be greater than 0-0
        XADD s 0-* a 1 => -ERR The ID specified in XADD is equal or smaller than the target stream top item
        XADD s bad a 1 => -ERR Invalid stream ID specified as stream command argument
        XADD s 1-x a 1 => -ERR Invalid stream ID specified as stream command argument
        XADD s - a 1 => -ERR Invalid stream ID specified as stream command argument
        XADD s + a 1 => -ERR Invalid stream ID specified as stream command argument
        XADD s 3-1 a => -ERR wrong number of arguments for 'xadd' command
        XADD s 3-1 a 1 b => -ERR wrong number of arguments for 'xadd' command
        XADD s 3-1 => -ERR wrong number of arguments for 'xadd' command
        XADD s MAXLEN => -ERR wrong number of arguments for 'xadd' command
        XADD s 18446744073709551615-18446744073709551615 a b => 18446744073709551615-18446744073709551615
        XADD s 18446744073709551615-* a b => -ERR The stream has exhausted the last possible ID, unable to add more items
        XADD s * a b => -ERR The stream has exhausted the last possible ID, unable to add more items
        XLEN s => :4
        TYPE s => +stream
        OBJECT ENCODING s => stream
        XADD e 5-* f v => 5-0
        XADD e 5-* f v => 5-1
        XADD e "" "" "\x00\xff" "a b" => -ERR Invalid stream ID specified as stream command argument
        XRANGE e - + => [[5-0, [f, v]], [5-1, [f, v]]]
        XADD nokey NOMKSTREAM 5-0 f v => nil
        EXISTS nokey => :0
        XADD s NOMKSTREAM * f v => -ERR The stream has exhausted the last possible ID, unable to add more items
        XADD => -ERR wrong number of arguments for 'xadd' command
        XADD s => -ERR wrong number of arguments for 'xadd' command
        XLEN => -ERR wrong number of arguments for 'xlen' command
        XLEN nokey => :0
        "#,
    );
}

#[test]
fn xadd_trimming() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s MAXLEN -1 * a 1 => -ERR The MAXLEN argument must be >= 0.
        XADD s MAXLEN x * a 1 => -ERR value is not an integer or out of range
        XADD s MAXLEN 2 MINID 3 * a 1 => -ERR syntax error, MAXLEN and MINID options at the same time are not compatible
        XADD s MINID 3 MAXLEN 2 * a 1 => -ERR syntax error, MAXLEN and MINID options at the same time are not compatible
        XADD s LIMIT 10 * a 1 => -ERR syntax error, LIMIT cannot be used without specifying a trimming strategy
        XADD s MAXLEN 5 LIMIT 10 * a 1 => -ERR syntax error, LIMIT cannot be used without the special ~ option
        XADD s MAXLEN = 5 LIMIT 10 * a 1 => -ERR syntax error, LIMIT cannot be used without the special ~ option
        XADD s MAXLEN ~ 5 LIMIT -1 * a 1 => -ERR The LIMIT argument must be >= 0.
        XADD s MAXLEN ~ 5 LIMIT x * a 1 => -ERR value is not an integer or out of range
        XADD s MINID bad * a 1 => -ERR Invalid stream ID specified as stream command argument
        XADD s MINID - * a 1 => -ERR Invalid stream ID specified as stream command argument
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 a 1 => 2-0
        XADD s 3-0 a 1 => 3-0
        XADD s 4-0 a 1 => 4-0
        XADD s MAXLEN 3 5-0 a 1 => 5-0
        XRANGE s - + => [[3-0, [a, 1]], [4-0, [a, 1]], [5-0, [a, 1]]]
        XADD s MAXLEN = 2 6-0 a 1 => 6-0
        XRANGE s - + => [[5-0, [a, 1]], [6-0, [a, 1]]]
        XADD s MINID 6 7-0 a 1 => 7-0
        XRANGE s - + => [[6-0, [a, 1]], [7-0, [a, 1]]]
        XADD s MINID = 7-0 8-0 a 1 => 8-0
        XRANGE s - + => [[7-0, [a, 1]], [8-0, [a, 1]]]
        XADD s MAXLEN ~ 1 9-0 a 1 => 9-0
        XLEN s => :3
        XADD s MAXLEN ~ 0 LIMIT 0 10-0 a 1 => 10-0
        XLEN s => :0
        XADD s MAXLEN 0 11-0 a 1 => 11-0
        XLEN s => :0
        EXISTS s => :1
        XADD s MAXLEN 0 12-0 a 1 => 12-0
        XINFO STREAM s => [length, :0, radix-tree-keys, :0, radix-tree-nodes, :1, last-generated-id, 12-0, max-deleted-entry-id, 0-0, entries-added, :12, recorded-first-entry-id, 0-0, groups, :0, first-entry, nil, last-entry, nil]
        "#,
    );
}

#[test]
fn approximate_trimming_removes_whole_nodes() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        CONFIG SET stream-node-max-entries 10 => +OK
        XADD s 1 a 1 => 1-0
        XADD s 2 a 1 => 2-0
        XADD s 3 a 1 => 3-0
        XADD s 4 a 1 => 4-0
        XADD s 5 a 1 => 5-0
        XADD s 6 a 1 => 6-0
        XADD s 7 a 1 => 7-0
        XADD s 8 a 1 => 8-0
        XADD s 9 a 1 => 9-0
        XADD s 10 a 1 => 10-0
        XADD s 11 a 1 => 11-0
        XADD s 12 a 1 => 12-0
        XADD s 13 a 1 => 13-0
        XADD s 14 a 1 => 14-0
        XADD s 15 a 1 => 15-0
        XADD s 16 a 1 => 16-0
        XADD s 17 a 1 => 17-0
        XADD s 18 a 1 => 18-0
        XADD s 19 a 1 => 19-0
        XADD s 20 a 1 => 20-0
        XADD s 21 a 1 => 21-0
        XADD s 22 a 1 => 22-0
        XADD s 23 a 1 => 23-0
        XADD s 24 a 1 => 24-0
        XADD s 25 a 1 => 25-0
        XTRIM s MAXLEN ~ 12 => :10
        XLEN s => :15
        XTRIM s MAXLEN ~ 12 => :0
        XTRIM s MINID ~ 24 => :10
        XLEN s => :5
        XTRIM s MAXLEN ~ 0 LIMIT 5 => :5
        XTRIM s MAXLEN = 3 => :0
        XRANGE s - + => []
        XTRIM s MINID 25 => :0
        XRANGE s - + => []
        CONFIG SET stream-node-max-entries 100 => +OK
        "#,
    );
}

#[test]
fn xtrim_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-0 a 1 => 1-0
        XTRIM s => -ERR wrong number of arguments for 'xtrim' command
        XTRIM s FOO => -ERR wrong number of arguments for 'xtrim' command
        XTRIM s MAXLEN => -ERR wrong number of arguments for 'xtrim' command
        XTRIM s MAXLEN 1 LIMIT 1 => -ERR syntax error, LIMIT cannot be used without the special ~ option
        XTRIM s MAXLEN = 1 LIMIT 1 => -ERR syntax error, LIMIT cannot be used without the special ~ option
        XTRIM s LIMIT 1 => -ERR syntax error, LIMIT cannot be used without specifying a trimming strategy
        XTRIM s MAXLEN -1 => -ERR The MAXLEN argument must be >= 0.
        XTRIM s MINID 1 MAXLEN 1 => -ERR syntax error, MAXLEN and MINID options at the same time are not compatible
        XTRIM s MAXLEN 1 FOO => -ERR syntax error
        XTRIM nokey MAXLEN 1 => :0
        XTRIM nokey FOO => -ERR wrong number of arguments for 'xtrim' command
        XTRIM s MAXLEN 1 => :0
        XTRIM s MAXLEN 0 => :1
        XLEN s => :0
        EXISTS s => :1
        "#,
    );
}

#[test]
fn xrange_and_xrevrange() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-1 a 1 => 1-1
        XADD s 1-2 b 2 => 1-2
        XADD s 2-0 c 3 => 2-0
        XADD s 3-5 d 4 => 3-5
        XADD s 4-0 e 5 => 4-0
        XRANGE s - + => [[1-1, [a, 1]], [1-2, [b, 2]], [2-0, [c, 3]], [3-5, [d, 4]], [4-0, [e, 5]]]
        XRANGE s - + COUNT 2 => [[1-1, [a, 1]], [1-2, [b, 2]]]
        XRANGE s - + COUNT 0 => nil
        XRANGE s - + COUNT -1 => nil
        XRANGE s (1-1 + => [[1-2, [b, 2]], [2-0, [c, 3]], [3-5, [d, 4]], [4-0, [e, 5]]]
        XRANGE s - (2-0 => [[1-1, [a, 1]], [1-2, [b, 2]]]
        XRANGE s (1-1 (3 => [[1-2, [b, 2]], [2-0, [c, 3]], [3-5, [d, 4]]]
        XRANGE s 1 1 => [[1-1, [a, 1]], [1-2, [b, 2]]]
        XRANGE s 3 3 => [[3-5, [d, 4]]]
        XRANGE s 5 1 => []
        XRANGE s 2 3 COUNT 1 COUNT 5 => [[2-0, [c, 3]], [3-5, [d, 4]]]
        XRANGE s - + COUNT => -ERR syntax error
        XRANGE s - + FOO 1 => -ERR syntax error
        XRANGE s - + COUNT x => -ERR value is not an integer or out of range
        XRANGE s (- + => -ERR Invalid stream ID specified as stream command argument
        XRANGE s - (+ => -ERR Invalid stream ID specified as stream command argument
        XRANGE s x + => -ERR Invalid stream ID specified as stream command argument
        XRANGE s ( + => -ERR Invalid stream ID specified as stream command argument
        XRANGE s (18446744073709551615-18446744073709551615 + => -ERR invalid start ID for the interval
        XRANGE s - (0-0 => -ERR invalid end ID for the interval
        XRANGE s 18446744073709551616 + => -ERR Invalid stream ID specified as stream command argument
        XRANGE nokey - + => []
        XRANGE nokey x + => -ERR Invalid stream ID specified as stream command argument
        XREVRANGE s + - => [[4-0, [e, 5]], [3-5, [d, 4]], [2-0, [c, 3]], [1-2, [b, 2]], [1-1, [a, 1]]]
        XREVRANGE s + - COUNT 1 => [[4-0, [e, 5]]]
        XREVRANGE s (4 (1-1 => [[4-0, [e, 5]], [3-5, [d, 4]], [2-0, [c, 3]], [1-2, [b, 2]]]
        XREVRANGE s 3 3 => [[3-5, [d, 4]]]
        XREVRANGE s - + => []
        XREVRANGE nokey + - => []
        XREVRANGE s + - COUNT 0 => nil
        "#,
    );
}

#[test]
fn xdel_and_xlen() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XADD s 3-0 c 3 => 3-0
        XDEL s 2-0 9-9 2-0 => :1
        XDEL s bad => -ERR Invalid stream ID specified as stream command argument
        XDEL nokey bad => :0
        XDEL nokey 1-0 => :0
        XLEN s => :2
        XRANGE s - + => [[1-0, [a, 1]], [3-0, [c, 3]]]
        XDEL s 1-0 3-0 => :2
        XLEN s => :0
        EXISTS s => :1
        XRANGE s - + => []
        XINFO STREAM s => [length, :0, radix-tree-keys, :0, radix-tree-nodes, :1, last-generated-id, 3-0, max-deleted-entry-id, 3-0, entries-added, :3, recorded-first-entry-id, 0-0, groups, :0, first-entry, nil, last-entry, nil]
        XADD s 2-0 x y => -ERR The ID specified in XADD is equal or smaller than the target stream top item
        XADD s 4-0 x y => 4-0
        XINFO STREAM s => [length, :1, radix-tree-keys, :1, radix-tree-nodes, :2, last-generated-id, 4-0, max-deleted-entry-id, 3-0, entries-added, :4, recorded-first-entry-id, 4-0, groups, :0, first-entry, [4-0, [x, y]], last-entry, [4-0, [x, y]]]
        "#,
    );
}

#[test]
fn wrongtype() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SET str x => +OK
        XADD str * a 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XLEN str => -WRONGTYPE Operation against a key holding the wrong kind of value
        XRANGE str - + => -WRONGTYPE Operation against a key holding the wrong kind of value
        XREVRANGE str + - => -WRONGTYPE Operation against a key holding the wrong kind of value
        XDEL str 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XTRIM str MAXLEN 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XREAD STREAMS str 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XGROUP CREATE str g $ => -WRONGTYPE Operation against a key holding the wrong kind of value
        XGROUP CREATE str g $ MKSTREAM => -WRONGTYPE Operation against a key holding the wrong kind of value
        XREADGROUP GROUP g c STREAMS str > => -WRONGTYPE Operation against a key holding the wrong kind of value
        XACK str g 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XPENDING str g => -WRONGTYPE Operation against a key holding the wrong kind of value
        XCLAIM str g c 0 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XAUTOCLAIM str g c 0 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XINFO STREAM str => -WRONGTYPE Operation against a key holding the wrong kind of value
        XINFO GROUPS str => -WRONGTYPE Operation against a key holding the wrong kind of value
        XINFO CONSUMERS str g => -WRONGTYPE Operation against a key holding the wrong kind of value
        XSETID str 1 => -WRONGTYPE Operation against a key holding the wrong kind of value
        XADD s 1 a 1 => 1-0
        LPUSH s x => -WRONGTYPE Operation against a key holding the wrong kind of value
        GET s => -WRONGTYPE Operation against a key holding the wrong kind of value
        SADD s x => -WRONGTYPE Operation against a key holding the wrong kind of value
        "#,
    );
}

#[test]
fn xread_without_blocking() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XADD t 5-0 c 3 => 5-0
        XREAD STREAMS s 0 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]]]]]
        XREAD COUNT 1 STREAMS s 0-0 => [[s, [[1-0, [a, 1]]]]]
        XREAD COUNT 1 STREAMS s t 0 0 => [[s, [[1-0, [a, 1]]]], [t, [[5-0, [c, 3]]]]]
        XREAD STREAMS s nokey t 0 0 4 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]]]], [t, [[5-0, [c, 3]]]]]
        XREAD STREAMS s t 2 5 => nil
        XREAD STREAMS s $ => nil
        XREAD STREAMS nokey $ => nil
        XREAD STREAMS s 1-0 COUNT 1 => -ERR Invalid stream ID specified as stream command argument
        XREAD STREAMS s (1 => -ERR Invalid stream ID specified as stream command argument
        XREAD STREAMS s => -ERR wrong number of arguments for 'xread' command
        XREAD STREAMS s t 0 => -ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.
        XREAD STREAMS s > => -ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.
        XREAD GROUP g c STREAMS s 0 => -ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.
        XREAD NOACK STREAMS s 0 => -ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.
        XREAD COUNT x STREAMS s 0 => -ERR value is not an integer or out of range
        XREAD COUNT -5 STREAMS s 0 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]]]]]
        XREAD BLOCK x STREAMS s 0 => -ERR timeout is not an integer or out of range
        XREAD BLOCK -1 STREAMS s 0 => -ERR timeout is negative
        XREAD BLOCK 0 STREAMS s 0 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]]]]]
        XREAD BLOCK 100 COUNT 1 STREAMS s 1 => [[s, [[2-0, [b, 2]]]]]
        XREAD FOO STREAMS s 0 => -ERR syntax error
        XREAD COUNT 1 => -ERR wrong number of arguments for 'xread' command
        XREAD STREAMS s s 0 1 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]]]], [s, [[2-0, [b, 2]]]]]
        "#,
    );
}

#[test]
fn groups_create_setid_destroy() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XGROUP CREATE s g $ => -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
        XGROUP CREATE s g $ MKSTREAM => +OK
        XGROUP CREATE s g $ MKSTREAM => -BUSYGROUP Consumer Group name already exists
        XGROUP CREATE s g2 0 ENTRIESREAD -2 => -ERR value for ENTRIESREAD must be positive or -1
        XGROUP CREATE s g2 0 ENTRIESREAD x => -ERR value is not an integer or out of range
        XGROUP CREATE s g2 bad => -ERR Invalid stream ID specified as stream command argument
        XGROUP CREATE s g2 - => -ERR Invalid stream ID specified as stream command argument
        XGROUP CREATE s g2 0 FOO => -ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.
        XGROUP CREATE s g2 0 MKSTREAM ENTRIESREAD 1 MKSTREAM => -ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.
        XGROUP CREATE s g3 0 ENTRIESREAD 0 => +OK
        XGROUP CREATE s g4 0 ENTRIESREAD -1 => +OK
        XINFO GROUPS s => [[name, g, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :0], [name, g3, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, :0, lag, :0], [name, g4, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :0]]
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XINFO GROUPS s => [[name, g, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :2], [name, g3, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, :0, lag, :2], [name, g4, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :2]]
        XGROUP SETID s g 0 => +OK
        XGROUP SETID s g $ ENTRIESREAD 3 => +OK
        XGROUP SETID s g - => +OK
        XGROUP SETID s g 0 ENTRIESREAD => -ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.
        XGROUP SETID s g 0 ENTRIESREAD -3 => -ERR value for ENTRIESREAD must be positive or -1
        XGROUP SETID s g 0 MKSTREAM => -ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.
        XGROUP SETID s nog 0 => -NOGROUP No such consumer group 'nog' for key name 's'
        XGROUP SETID nokey g 0 => -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
        XGROUP CREATECONSUMER s g c9 => :1
        XGROUP CREATECONSUMER s g c9 => :0
        XGROUP CREATECONSUMER s nog c9 => -NOGROUP No such consumer group 'nog' for key name 's'
        XGROUP CREATECONSUMER nokey g c9 => -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
        XGROUP DELCONSUMER s g c9 => :0
        XGROUP DELCONSUMER s g nobody => :0
        XGROUP DELCONSUMER s nog c9 => -NOGROUP No such consumer group 'nog' for key name 's'
        XINFO GROUPS s => [[name, g, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :2], [name, g3, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, :0, lag, :2], [name, g4, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :2]]
        XGROUP DESTROY s g => :1
        XGROUP DESTROY s g => :0
        XGROUP DESTROY nokey g => -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
        XGROUP FOO s g => -ERR unknown subcommand 'FOO'. Try XGROUP HELP.
        XGROUP CREATECONSUMER s g => -ERR wrong number of arguments for 'xgroup|createconsumer' command
        XGROUP DESTROY s => -ERR wrong number of arguments for 'xgroup|destroy' command
        XGROUP => -ERR wrong number of arguments for 'xgroup' command
        XGROUP HELP => [+XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:, +CREATE <key> <groupname> <id|$> [option], +    Create a new consumer group. Options are:, +    * MKSTREAM, +      Create the empty stream if it does not exist., +    * ENTRIESREAD entries_read, +      Set the group's entries_read counter (internal use)., +CREATECONSUMER <key> <groupname> <consumer>, +    Create a new consumer in the specified group., +DELCONSUMER <key> <groupname> <consumer>, +    Remove the specified consumer., +DESTROY <key> <groupname>, +    Remove the specified group., +SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read], +    Set the current group ID and entries_read counter., +HELP, +    Print this help.]
        XINFO GROUPS s => [[name, g3, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, :0, lag, :2], [name, g4, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :2]]
        "#,
    );
}

#[test]
fn xreadgroup_and_pending() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XGROUP CREATE s g $ MKSTREAM => +OK
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XADD s 3-0 c 3 => 3-0
        XADD s 4-0 d 4 => 4-0
        XREADGROUP GROUP g c1 COUNT 1 STREAMS s > => [[s, [[1-0, [a, 1]]]]]
        XREADGROUP GROUP g c1 STREAMS s > => [[s, [[2-0, [b, 2]], [3-0, [c, 3]], [4-0, [d, 4]]]]]
        XREADGROUP GROUP g c1 STREAMS s > => nil
        XREADGROUP GROUP g c1 STREAMS s 0 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]], [3-0, [c, 3]], [4-0, [d, 4]]]]]
        XREADGROUP GROUP g c1 COUNT 2 STREAMS s 1-0 => [[s, [[2-0, [b, 2]], [3-0, [c, 3]]]]]
        XREADGROUP GROUP g c2 STREAMS s 0 => [[s, []]]
        XREADGROUP GROUP g c1 STREAMS s $ => -ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.
        XREADGROUP GROUP nog c1 STREAMS s > => -NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option
        XREADGROUP GROUP g c1 STREAMS nokey > => -NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option
        XREADGROUP STREAMS s > => -ERR wrong number of arguments for 'xreadgroup' command
        XREADGROUP GROUP g c1 STREAMS s bad => -ERR Invalid stream ID specified as stream command argument
        XREADGROUP GROUP g c1 COUNT x STREAMS s > => -ERR value is not an integer or out of range
        XREADGROUP GROUP g STREAMS s > => -ERR wrong number of arguments for 'xreadgroup' command
        XPENDING s g => [:4, 1-0, 4-0, [[c1, 4]]]
        XPENDING s nog => -NOGROUP No such key 's' or consumer group 'nog'
        XPENDING nokey g => -NOGROUP No such key 'nokey' or consumer group 'g'
        XPENDING s g - + 10 c1 => *
        XPENDING s g - + 10 nobody => []
        XPENDING s g - + x => -ERR value is not an integer or out of range
        XPENDING s g IDLE x - + 10 => -ERR value is not an integer or out of range
        XPENDING s g IDLE 0 - + => -ERR syntax error
        XPENDING s g - + => -ERR syntax error
        XPENDING s g - + 10 c1 extra => *
        XPENDING s g bad + 10 => -ERR Invalid stream ID specified as stream command argument
        XPENDING s g - + 0 => []
        XACK s g 1-0 9-0 1-0 => :1
        XACK s g bad => -ERR Invalid stream ID specified as stream command argument
        XACK s nog bad => :0
        XACK nokey g bad => :0
        XACK s g 2-0 => :1
        XPENDING s g => [:2, 3-0, 4-0, [[c1, 2]]]
        XDEL s 3-0 => :1
        XREADGROUP GROUP g c1 STREAMS s 0 => [[s, [[3-0, nil], [4-0, [d, 4]]]]]
        XINFO GROUPS s => [[name, g, consumers, :2, pending, :2, last-delivered-id, 4-0, entries-read, :4, lag, :0]]
        XINFO CONSUMERS s nog => -NOGROUP No such consumer group 'nog' for key name 's'
        XINFO CONSUMERS nokey g => -ERR no such key
        XGROUP DELCONSUMER s g c1 => :2
        XPENDING s g => [:0, nil, nil, nil]
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 4-0, entries-read, :4, lag, :0]]
        "#,
    );
}

#[test]
fn noack_and_lag() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XADD s 3-0 c 3 => 3-0
        XGROUP CREATE s g 0 => +OK
        XGROUP CREATE s z 0 => +OK
        XREADGROUP GROUP g c NOACK STREAMS s > => [[s, [[1-0, [a, 1]], [2-0, [b, 2]], [3-0, [c, 3]]]]]
        XPENDING s g => [:0, nil, nil, nil]
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 3-0, entries-read, :3, lag, :0], [name, z, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, :3]]
        XDEL s 2-0 => :1
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 3-0, entries-read, :3, lag, :0], [name, z, consumers, :0, pending, :0, last-delivered-id, 0-0, entries-read, nil, lag, nil]]
        XREADGROUP GROUP z c COUNT 1 STREAMS s > => [[s, [[1-0, [a, 1]]]]]
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 3-0, entries-read, :3, lag, :0], [name, z, consumers, :1, pending, :1, last-delivered-id, 1-0, entries-read, nil, lag, nil]]
        XREADGROUP GROUP z c STREAMS s > => [[s, [[3-0, [c, 3]]]]]
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 3-0, entries-read, :3, lag, :0], [name, z, consumers, :1, pending, :2, last-delivered-id, 3-0, entries-read, :3, lag, :0]]
        XADD s 4-0 d 4 => 4-0
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 3-0, entries-read, :3, lag, :1], [name, z, consumers, :1, pending, :2, last-delivered-id, 3-0, entries-read, :3, lag, :1]]
        XGROUP SETID s z 0 ENTRIESREAD 0 => +OK
        XINFO GROUPS s => [[name, g, consumers, :1, pending, :0, last-delivered-id, 3-0, entries-read, :3, lag, :1], [name, z, consumers, :1, pending, :2, last-delivered-id, 0-0, entries-read, :0, lag, nil]]
        "#,
    );
}

#[test]
fn xclaim_and_xautoclaim_without_idle() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XGROUP CREATE s g $ MKSTREAM => +OK
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XADD s 3-0 c 3 => 3-0
        XADD s 4-0 d 4 => 4-0
        XREADGROUP GROUP g c1 COUNT 3 STREAMS s > => [[s, [[1-0, [a, 1]], [2-0, [b, 2]], [3-0, [c, 3]]]]]
        XDEL s 2-0 => :1
        XCLAIM s g c2 0 2-0 3-0 JUSTID => [3-0]
        XPENDING s g => [:2, 1-0, 3-0, [[c1, 1], [c2, 1]]]
        XCLAIM s g c2 0 3-0 => [[3-0, [c, 3]]]
        XCLAIM s g c2 0 4-0 => []
        XCLAIM s g c2 0 4-0 FORCE JUSTID => [4-0]
        XCLAIM s g c2 0 4-0 RETRYCOUNT 7 JUSTID => [4-0]
        XCLAIM s g c2 0 9-0 FORCE => []
        XCLAIM s g c2 x 4-0 => -ERR Invalid min-idle-time argument for XCLAIM
        XCLAIM s g c2 0 4-0 FOO => -ERR Unrecognized XCLAIM option 'FOO'
        XCLAIM s g c2 0 4-0 IDLE x => -ERR Invalid IDLE option argument for XCLAIM
        XCLAIM s g c2 0 4-0 TIME x => -ERR Invalid TIME option argument for XCLAIM
        XCLAIM s g c2 0 4-0 RETRYCOUNT x => -ERR Invalid RETRYCOUNT option argument for XCLAIM
        XCLAIM s g c2 0 4-0 LASTID x => -ERR Invalid stream ID specified as stream command argument
        XCLAIM s nog c2 0 4-0 => -NOGROUP No such key 's' or consumer group 'nog'
        XCLAIM nokey g c2 0 4-0 => -NOGROUP No such key 'nokey' or consumer group 'g'
        XCLAIM s g c2 0 bad => -ERR Unrecognized XCLAIM option 'bad'
        XCLAIM s g c2 0 4-0 LASTID 10-0 JUSTID => [4-0]
        XINFO GROUPS s => [[name, g, consumers, :2, pending, :3, last-delivered-id, 10-0, entries-read, :3, lag, :1]]
        XAUTOCLAIM s g c3 0 0 => [0-0, [[1-0, [a, 1]], [3-0, [c, 3]], [4-0, [d, 4]]], []]
        XAUTOCLAIM s g c3 0 0 COUNT 1 => [3-0, [[1-0, [a, 1]]], []]
        XAUTOCLAIM s g c3 0 (1-0 COUNT 1 JUSTID => [4-0, [3-0], []]
        XAUTOCLAIM s g c3 0 0 COUNT 0 => -ERR COUNT must be > 0
        XAUTOCLAIM s g c3 0 0 COUNT x => -ERR COUNT must be > 0
        XAUTOCLAIM s g c3 0 0 COUNT -1 => -ERR COUNT must be > 0
        XAUTOCLAIM s g c3 x 0 => -ERR Invalid min-idle-time argument for XAUTOCLAIM
        XAUTOCLAIM s g c3 0 bad => -ERR Invalid stream ID specified as stream command argument
        XAUTOCLAIM s g c3 0 0 FOO => -ERR syntax error
        XAUTOCLAIM s nog c3 0 0 => -NOGROUP No such key 's' or consumer group 'nog'
        XAUTOCLAIM nokey g c3 0 0 => -NOGROUP No such key 'nokey' or consumer group 'g'
        XAUTOCLAIM s g c3 0 (18446744073709551615-18446744073709551615 => -ERR invalid start ID for the interval
        XDEL s 3-0 => :1
        XAUTOCLAIM s g c4 0 0 JUSTID => [0-0, [1-0, 4-0], [3-0]]
        XPENDING s g => [:2, 1-0, 4-0, [[c4, 2]]]
        "#,
    );
}

#[test]
fn xsetid_and_xinfo() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XSETID s 1 => -ERR The ID specified in XSETID is smaller than the target stream top item
        XSETID s 5 ENTRIESADDED 1 => -ERR The entries_added specified in XSETID is smaller than the target stream length
        XSETID s 5 ENTRIESADDED -1 => -ERR entries_added must be positive
        XSETID s 5 MAXDELETEDID 6 => -ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id
        XSETID s 5 MAXDELETEDID bad => -ERR Invalid stream ID specified as stream command argument
        XSETID s 5 FOO => -ERR syntax error
        XSETID s 5 ENTRIESADDED => -ERR syntax error
        XSETID nokey 1 => -ERR no such key
        XSETID s - => -ERR Invalid stream ID specified as stream command argument
        XSETID s 5 ENTRIESADDED 10 MAXDELETEDID 3 => +OK
        XINFO STREAM s => [length, :2, radix-tree-keys, :1, radix-tree-nodes, :2, last-generated-id, 5-0, max-deleted-entry-id, 3-0, entries-added, :10, recorded-first-entry-id, 1-0, groups, :0, first-entry, [1-0, [a, 1]], last-entry, [2-0, [b, 2]]]
        XINFO STREAM s FULL => [length, :2, radix-tree-keys, :1, radix-tree-nodes, :2, last-generated-id, 5-0, max-deleted-entry-id, 3-0, entries-added, :10, recorded-first-entry-id, 1-0, entries, [[1-0, [a, 1]], [2-0, [b, 2]]], groups, []]
        XINFO STREAM s FULL COUNT 1 => [length, :2, radix-tree-keys, :1, radix-tree-nodes, :2, last-generated-id, 5-0, max-deleted-entry-id, 3-0, entries-added, :10, recorded-first-entry-id, 1-0, entries, [[1-0, [a, 1]]], groups, []]
        XINFO STREAM s FULL COUNT x => -ERR value is not an integer or out of range
        XINFO STREAM s FOO => -ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.
        XINFO STREAM s FULL FOO 1 => -ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.
        XINFO STREAM nokey => -ERR no such key
        XINFO FOO s => -ERR unknown subcommand 'FOO'. Try XINFO HELP.
        XINFO HELP => [+XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:, +CONSUMERS <key> <groupname>, +    Show consumers of <groupname>., +GROUPS <key>, +    Show the stream consumer groups., +STREAM <key> [FULL [COUNT <count>], +    Show information about the stream., +HELP, +    Print this help.]
        XINFO => -ERR wrong number of arguments for 'xinfo' command
        XADD s 6-0 c 3 => 6-0
        XADD e 1-0 a 1 => 1-0
        XDEL e 1-0 => :1
        XINFO STREAM e => [length, :0, radix-tree-keys, :0, radix-tree-nodes, :1, last-generated-id, 1-0, max-deleted-entry-id, 1-0, entries-added, :1, recorded-first-entry-id, 0-0, groups, :0, first-entry, nil, last-entry, nil]
        XINFO STREAM e FULL => [length, :0, radix-tree-keys, :0, radix-tree-nodes, :1, last-generated-id, 1-0, max-deleted-entry-id, 1-0, entries-added, :1, recorded-first-entry-id, 0-0, entries, [], groups, []]
        "#,
    );
}

#[test]
fn generated_ids_come_from_the_server_clock() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        DEBUG CLOCK FREEZE => *
        DEBUG CLOCK SET 1700000000000 => *
        XADD s * a 1 => 1700000000000-0
        XADD s * a 2 => 1700000000000-1
        DEBUG CLOCK ADVANCE 5 => *
        XADD s * a 3 => 1700000000005-0
        XADD s 1700000000009-* a 4 => 1700000000009-0
        XADD s * a 5 => 1700000000009-1
        DEBUG CLOCK ADVANCE 10 => *
        XADD s * a 6 => 1700000000015-0
        "#,
    );
}

#[test]
fn idle_times_and_claims_follow_the_server_clock() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        DEBUG CLOCK FREEZE => *
        DEBUG CLOCK SET 1700000000000 => *
        XGROUP CREATE s g $ MKSTREAM => +OK
        XADD s 1-0 a 1 => 1-0
        XADD s 2-0 b 2 => 2-0
        XADD s 3-0 c 3 => 3-0
        XREADGROUP GROUP g alice STREAMS s > => [[s, [[1-0, [a, 1]], [2-0, [b, 2]], [3-0, [c, 3]]]]]
        DEBUG CLOCK ADVANCE 1000 => *
        XPENDING s g - + 10 => [[1-0, alice, :1000, :1], [2-0, alice, :1000, :1], [3-0, alice, :1000, :1]]
        XPENDING s g IDLE 1001 - + 10 => []
        XPENDING s g IDLE 1000 - + 1 => [[1-0, alice, :1000, :1]]
        XINFO CONSUMERS s g => [[name, alice, pending, :3, idle, :1000]]
        XCLAIM s g bob 2000 1-0 => []
        XINFO CONSUMERS s g => [[name, alice, pending, :3, idle, :1000]]
        XCLAIM s g bob 500 1-0 => [[1-0, [a, 1]]]
        XPENDING s g - + 10 => [[1-0, bob, :0, :2], [2-0, alice, :1000, :1], [3-0, alice, :1000, :1]]
        XCLAIM s g bob 0 2-0 IDLE 300 JUSTID => [2-0]
        XPENDING s g - + 10 bob => [[1-0, bob, :0, :2], [2-0, bob, :300, :1]]
        XCLAIM s g bob 0 3-0 TIME 1699999999000 RETRYCOUNT 9 => [[3-0, [c, 3]]]
        XPENDING s g - + 10 bob => [[1-0, bob, :0, :2], [2-0, bob, :300, :1], [3-0, bob, :2000, :9]]
        XCLAIM s g carol 0 3-0 TIME 1800000000000 JUSTID => [3-0]
        XPENDING s g (2-0 + 10 => [[3-0, carol, :0, :9]]
        DEBUG CLOCK ADVANCE 250 => *
        XAUTOCLAIM s g dave 500 0 => [0-0, [[2-0, [b, 2]]], []]
        XAUTOCLAIM s g dave 100 0 COUNT 1 JUSTID => [2-0, [1-0], []]
        XINFO CONSUMERS s g => [[name, alice, pending, :0, idle, :1250], [name, bob, pending, :0, idle, :250], [name, carol, pending, :1, idle, :250], [name, dave, pending, :2, idle, :0]]
        XREADGROUP GROUP g dave STREAMS s 0 => [[s, [[1-0, [a, 1]], [2-0, [b, 2]]]]]
        XPENDING s g - + 10 dave => [[1-0, dave, :0, :3], [2-0, dave, :0, :3]]
        XINFO STREAM s FULL COUNT 1 => [length, :3, radix-tree-keys, :1, radix-tree-nodes, :2, last-generated-id, 3-0, max-deleted-entry-id, 0-0, entries-added, :3, recorded-first-entry-id, 1-0, entries, [[1-0, [a, 1]]], groups, [[name, g, last-delivered-id, 3-0, entries-read, :3, lag, :0, pel-count, :3, pending, [[1-0, dave, :1700000001250, :3]], consumers, [[name, alice, seen-time, :1700000000000, pel-count, :0, pending, []], [name, bob, seen-time, :1700000001000, pel-count, :0, pending, []], [name, carol, seen-time, :1700000001000, pel-count, :1, pending, [[3-0, :1700000001000, :9]]], [name, dave, seen-time, :1700000001250, pel-count, :2, pending, [[1-0, :1700000001250, :3]]]]]]]
        "#,
    );
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        let blocked = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if blocked == Some(n) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never saw {n} blocked clients");
}

/// Runs `line` on a new connection in a thread; its rendered reply comes back through the handle.
fn blocked(t: &Target, line: &'static str) -> std::thread::JoinHandle<String> {
    let mut c = t.conn();
    std::thread::spawn(move || run(&mut c, line))
}

#[test]
fn blocking_reads_answer_with_data_at_once() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        XADD s 1-0 a 1 => 1-0
        XREAD BLOCK 0 STREAMS s 0 => [[s, [[1-0, [a, 1]]]]]
        XGROUP CREATE s g 0 => +OK
        XREADGROUP GROUP g c BLOCK 0 STREAMS s > => [[s, [[1-0, [a, 1]]]]]
        XREADGROUP GROUP g c BLOCK 0 STREAMS s 0 => [[s, [[1-0, [a, 1]]]]]
        XREAD BLOCK x STREAMS s $ => -ERR timeout is not an integer or out of range
        XREAD BLOCK -1 STREAMS s $ => -ERR timeout is negative
        "#,
    );
}

#[test]
fn blocked_xread_is_served_by_xadd_with_dollar_resolved_when_it_blocked() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    run(&mut c, "XADD s 1-0 a 1");
    let h = blocked(&t, "XREAD BLOCK 0 STREAMS nokey s $ $");
    wait_blocked(&mut c, 1);
    // Trimmed away at once: the waiter finds nothing and keeps waiting.
    assert_eq!(run(&mut c, "XADD s MAXLEN 0 2-0 gone 1"), "2-0");
    assert_eq!(run(&mut c, "XADD s 3-0 b 2"), "3-0");
    assert_eq!(h.join().unwrap(), "[[s, [[3-0, [b, 2]]]]]");
    wait_blocked(&mut c, 0);
}

#[test]
fn blocked_xreadgroup_gets_new_entries_and_nogroup_when_destroyed() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    run(&mut c, "XGROUP CREATE s g $ MKSTREAM");
    let h = blocked(&t, "XREADGROUP GROUP g alice BLOCK 0 COUNT 5 STREAMS s >");
    wait_blocked(&mut c, 1);
    run(&mut c, "XADD s 1-0 a 1");
    assert_eq!(h.join().unwrap(), "[[s, [[1-0, [a, 1]]]]]");
    assert_eq!(run(&mut c, "XPENDING s g"), "[:1, 1-0, 1-0, [[alice, 1]]]");
    let h = blocked(&t, "XREADGROUP GROUP g bob BLOCK 0 STREAMS s >");
    wait_blocked(&mut c, 1);
    run(&mut c, "CONFIG RESETSTAT");
    run(&mut c, "XGROUP DESTROY s g");
    assert_eq!(
        h.join().unwrap(),
        "-NOGROUP the consumer group this client was blocked on no longer exists"
    );
    // The failed wait counts as an error reply and a failed XREADGROUP, as in Redis.
    let info: String = redis::cmd("INFO").arg("errorstats").query(&mut c).unwrap();
    assert!(info.contains("errorstat_NOGROUP:count=1"), "{info}");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .unwrap();
    assert!(
        info.lines()
            .any(|l| l.starts_with("cmdstat_xreadgroup:") && l.contains("failed_calls=1")),
        "{info}"
    );
}

#[test]
fn deleting_or_replacing_a_stream_unblocks_xreadgroup_but_not_xread() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    for change in ["DEL s", "SET s x", "FLUSHALL"] {
        run(&mut c, "DEL s");
        run(&mut c, "XGROUP CREATE s g $ MKSTREAM");
        let group = blocked(&t, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
        let plain = blocked(&t, "XREAD BLOCK 0 STREAMS s $");
        wait_blocked(&mut c, 2);
        run(&mut c, change);
        assert_eq!(
            group.join().unwrap(),
            "-UNBLOCKED the stream key no longer exists",
            "{change}"
        );
        wait_blocked(&mut c, 1);
        run(&mut c, "DEL s");
        run(&mut c, "XADD s 5-0 f v");
        assert_eq!(plain.join().unwrap(), "[[s, [[5-0, [f, v]]]]]", "{change}");
    }
}

#[test]
fn renaming_a_stream_into_place_serves_a_blocked_reader() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    run(&mut c, "XADD s 1-0 a 1");
    let h = blocked(&t, "XREAD BLOCK 0 STREAMS s 1-0");
    wait_blocked(&mut c, 1);
    run(&mut c, "XADD other 2-0 b 2");
    run(&mut c, "RENAME other s");
    assert_eq!(h.join().unwrap(), "[[s, [[2-0, [b, 2]]]]]");
}

#[test]
fn blocked_reads_time_out_on_the_server_clock() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    run(&mut c, "DEBUG CLOCK FREEZE");
    run(&mut c, "XGROUP CREATE s g $ MKSTREAM");
    let h1 = blocked(&t, "XREAD BLOCK 5000 STREAMS s $");
    let h2 = blocked(&t, "XREADGROUP GROUP g c BLOCK 5000 STREAMS s >");
    wait_blocked(&mut c, 2);
    run(&mut c, "DEBUG CLOCK ADVANCE 4000");
    std::thread::sleep(Duration::from_millis(300));
    wait_blocked(&mut c, 2);
    run(&mut c, "DEBUG CLOCK ADVANCE 1000");
    assert_eq!(h1.join().unwrap(), "nil");
    assert_eq!(h2.join().unwrap(), "nil");
}

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
            "reply to {cmd} differs"
        );
    }
}

#[test]
fn resp3_reply_types() {
    let t = Target::start();
    let mut s = connect(&t, 3);
    expect(
        &mut s,
        &[
            ("XADD s 1-0 a 1", "$3\r\n1-0\r\n"),
            ("XADD nokey NOMKSTREAM 1-0 a 1", "_\r\n"),
            ("XRANGE s - + COUNT 0", "_\r\n"),
            (
                "XRANGE s - +",
                "*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
            ),
            (
                "XREAD STREAMS s 0",
                "%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
            ),
            ("XREAD STREAMS s $", "_\r\n"),
            ("XGROUP CREATE s g 0", "+OK\r\n"),
            ("XPENDING s g", "*4\r\n:0\r\n_\r\n_\r\n_\r\n"),
            (
                "XREADGROUP GROUP g c STREAMS s >",
                "%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
            ),
            ("XREADGROUP GROUP g c STREAMS s >", "_\r\n"),
            (
                "XPENDING s g",
                "*4\r\n:1\r\n$3\r\n1-0\r\n$3\r\n1-0\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n1\r\n",
            ),
            ("XDEL s 1-0", ":1\r\n"),
            (
                "XREADGROUP GROUP g c STREAMS s 0",
                "%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n_\r\n",
            ),
            (
                "XINFO GROUPS s",
                "*1\r\n%6\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:1\r\n$7\r\npending\r\n:1\r\n$17\r\nlast-delivered-id\r\n$3\r\n1-0\r\n$12\r\nentries-read\r\n:1\r\n$3\r\nlag\r\n:0\r\n",
            ),
            (
                "XINFO STREAM s",
                "%10\r\n$6\r\nlength\r\n:0\r\n$15\r\nradix-tree-keys\r\n:0\r\n$16\r\nradix-tree-nodes\r\n:1\r\n$17\r\nlast-generated-id\r\n$3\r\n1-0\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n1-0\r\n$13\r\nentries-added\r\n:1\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n0-0\r\n$6\r\ngroups\r\n:1\r\n$11\r\nfirst-entry\r\n_\r\n$10\r\nlast-entry\r\n_\r\n",
            ),
        ],
    );
    let mut s2 = connect(&t, 2);
    expect(
        &mut s2,
        &[
            ("XREAD STREAMS s $", "*-1\r\n"),
            ("XRANGE s - + COUNT 0", "*-1\r\n"),
            ("XADD nokey NOMKSTREAM 1-0 a 1", "$-1\r\n"),
            (
                "XPENDING nokey2 g",
                "-NOGROUP No such key 'nokey2' or consumer group 'g'\r\n",
            ),
        ],
    );
}

/// (version, mod_revision) of `key` from DEBUG OBJECT.
fn meta(c: &mut redis::Connection, key: &str) -> (u64, u64) {
    let line: String = redis::cmd("DEBUG").arg("OBJECT").arg(key).query(c).unwrap();
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.strip_prefix(':'))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    (field("version"), field("mod_revision"))
}

fn current_revision(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("current_revision:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("current_revision in INFO stats")
}

#[test]
fn every_stream_change_takes_one_revision_and_no_op_takes_none() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    run(&mut c, "XADD s 1-0 a 1");
    let changes = [
        "XADD s 2-0 b 2",
        "XADD s MAXLEN 5 3-0 c 3",
        "XDEL s 1-0",
        "XTRIM s MAXLEN 1",
        "XGROUP CREATE s g 0",
        "XGROUP CREATECONSUMER s g c0",
        "XADD s 4-0 d 4",
        "XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g c1 NOACK STREAMS s >",
        "XREADGROUP GROUP g c1 STREAMS s 0",
        "XCLAIM s g c2 0 3-0",
        "XAUTOCLAIM s g c3 0 0",
        "XACK s g 3-0",
        "XGROUP SETID s g 0",
        "XGROUP DELCONSUMER s g c2",
        "XSETID s 9-0",
        "XGROUP DESTROY s g",
    ];
    for line in changes {
        let before = current_revision(&mut c);
        let (v0, _) = meta(&mut c, "s");
        let reply = run(&mut c, line);
        assert!(!reply.starts_with('-'), "{line}: {reply}");
        let after = current_revision(&mut c);
        assert_eq!(after, before + 1, "{line} should take one revision");
        assert_eq!(
            meta(&mut c, "s"),
            (v0 + 1, after),
            "{line} should bump the version once"
        );
    }
    run(&mut c, "XGROUP CREATE s g $");
    let no_ops = [
        "XLEN s",
        "XRANGE s - +",
        "XREAD STREAMS s 0",
        "XDEL s 1-0",
        "XTRIM s MAXLEN 10",
        "XTRIM s MINID 0",
        "XADD s 1-0 x y",
        "XACK s g 1-0",
        "XGROUP CREATECONSUMER s g c0",
        "XGROUP CREATECONSUMER s g c0",
        "XGROUP DELCONSUMER s g nobody",
        "XGROUP DESTROY s nog",
        "XREADGROUP GROUP g c0 STREAMS s >",
        "XREADGROUP GROUP g c0 STREAMS s 0",
        "XCLAIM s g c0 0 1-0",
        "XAUTOCLAIM s g c0 0 0",
        "XPENDING s g",
        "XINFO STREAM s FULL",
    ];
    // The first CREATECONSUMER above creates c0: one change; the rest change nothing.
    for (i, line) in no_ops.iter().enumerate() {
        let before = current_revision(&mut c);
        let reply = run(&mut c, line);
        let expected = if i == 8 { before + 1 } else { before };
        assert_eq!(current_revision(&mut c), expected, "{line}: {reply}");
    }
}
