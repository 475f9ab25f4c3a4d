//! Every sorted-set command over TCP with the `redis` crate: replies, options and byte-exact errors, as
//! scripts of `command => reply` lines (see tests/strings_script/mod.rs). The scripts were checked against
//! redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT`; Concord-only checks (ZRANK WITHSCORE from 7.2,
//! revisions, big sets) say so.

mod strings_script;
mod support;

use strings_script::{Target, run, script};

#[test]
fn zadd_options_and_their_conflicts() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2 b 3 c => :3
        ZADD z 10 a 4 d => :1
        ZADD z CH 11 a 4 d 5 e => :2
        ZSCORE z a => 11
        ZADD z NX 100 a 6 f => :1
        ZSCORE z a => 11
        ZADD z XX 12 a 7 g => :0
        ZSCORE z a => 12
        ZSCORE z g => nil
        ZADD z XX CH 13 a 7 g => :1
        ZADD z GT 1 a => :0
        ZADD z GT CH 20 a => :1
        ZADD z LT CH 30 a => :0
        ZADD z LT CH 5 a => :1
        ZADD z GT CH 1 newgt => :1
        ZADD z XX GT CH 100 b => :1
        ZADD z INCR 2 a => 7
        ZADD z INCR NX 2 a => nil
        ZADD z INCR XX 2 nosuch => nil
        ZADD z INCR GT -1 a => nil
        ZADD z INCR LT -1 a => 6
        ZINCRBY z 1.5 a => 7.5
        ZINCRBY z 1 fresh => 1
        ZINCRBY newkey 3 m => 3
        ZADD z NX XX 1 a => -ERR XX and NX options at the same time are not compatible
        ZADD z NX GT 1 a => -ERR GT, LT, and/or NX options at the same time are not compatible
        ZADD z NX LT 1 a => -ERR GT, LT, and/or NX options at the same time are not compatible
        ZADD z GT LT 1 a => -ERR GT, LT, and/or NX options at the same time are not compatible
        ZADD z INCR 1 a 2 b => -ERR INCR option supports a single increment-element pair
        ZADD z 1 => -ERR wrong number of arguments for 'zadd' command
        ZADD z 1 a 2 => -ERR syntax error
        ZADD z NX => -ERR wrong number of arguments for 'zadd' command
        ZADD z CH CH => -ERR syntax error
        ZADD z abc a => -ERR value is not a valid float
        ZADD z nan a => -ERR value is not a valid float
        ZADD z 1 a x b => -ERR value is not a valid float
        ZADD z 1e400 a => -ERR value is not a valid float
        ZINCRBY z abc a => -ERR value is not a valid float
        ZINCRBY z 1 => -ERR wrong number of arguments for 'zincrby' command
        ZADD inf +inf a => :1
        ZINCRBY inf -inf a => -ERR resulting score is not a number (NaN)
        ZADD inf INCR -inf a => -ERR resulting score is not a number (NaN)
        ZSCORE inf a => inf
        ZADD xxonly XX 1 a => :0
        EXISTS xxonly => :0
        ZADD nxgt GT CH 5 a => :1
        ZADD hex 0x10 a 0x1p-2 b => :2
        ZSCORE hex a => 16
        ZSCORE hex b => 0.25
        ZCOUNT hex 0x8 +inf => :1
        ZADD hex 0x a => -ERR value is not a valid float
        ZADD hex infinity c => :1
        ZADD hex "1 " c => -ERR value is not a valid float
        ZADD hex " 1" c => -ERR value is not a valid float
        ZCOUNT hex " 1" +inf => :2
        ZCOUNT hex "" +inf => :3
        ZCOUNT hex 1e400 +inf => :1
        ZSCORE nxgt a => 5
        "#,
    );
}

#[test]
fn scores_are_formatted_as_redis_7_0_does() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD f 0.1 a 1e300 b -inf c 1 d 1.5 e 100000000000000000000 g -0 h 0.0001 i 0.00001 j => :9
        ZSCORE f a => 0.10000000000000001
        ZSCORE f b => 1.0000000000000001e+300
        ZSCORE f c => -inf
        ZSCORE f d => 1
        ZSCORE f e => 1.5
        ZSCORE f g => 1e+20
        # A listpack keeps -0 as the integer 0; a skiplist keeps the double.
        ZSCORE f h => 0
        ZSCORE f i => 0.0001
        ZSCORE f j => 1.0000000000000001e-05
        ZMSCORE f a nosuch d => [0.10000000000000001, nil, 1]
        ZMSCORE nokey a b => [nil, nil]
        ZRANGE f 0 1 WITHSCORES => [c, -inf, h, 0]
        ZINCRBY f -0 h => 0
        ZINCRBY f -0 newm => -0
        ZSCORE f newm => 0
        ZADD big 1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -0 h => :2
        OBJECT ENCODING big => skiplist
        ZSCORE big h => -0
        ZUNIONSTORE small 1 big WEIGHTS 1 => :2
        ZREM small xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx => :1
        ZSCORE small h => -0
        ZRANGESTORE small big 0 0 => :1
        OBJECT ENCODING small => listpack
        ZSCORE small h => 0
        "#,
    );
}

#[test]
fn zrem_zcard_and_emptied_sets_are_deleted() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2 b 3 c => :3
        ZCARD z => :3
        ZREM z a nosuch => :1
        ZREM z a => :0
        ZREM nokey a => :0
        ZCARD nokey => :0
        ZREM z b c => :2
        EXISTS z => :0
        ZADD z 1 a => :1
        ZPOPMIN z => [a, 1]
        EXISTS z => :0
        ZADD z 1 a 2 b => :2
        ZREMRANGEBYRANK z 0 -1 => :2
        EXISTS z => :0
        ZREM z => -ERR wrong number of arguments for 'zrem' command
        "#,
    );
}

#[test]
fn wrongtype_for_every_command() {
    let t = Target::start();
    let mut c = t.conn();
    let _ = run(&mut c, "SET s v");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    for line in [
        "ZADD s 1 a",
        "ZINCRBY s 1 a",
        "ZREM s a",
        "ZSCORE s a",
        "ZMSCORE s a",
        "ZCARD s",
        "ZCOUNT s 0 1",
        "ZLEXCOUNT s - +",
        "ZRANGE s 0 -1",
        "ZRANGEBYSCORE s 0 1",
        "ZREVRANGEBYSCORE s 1 0",
        "ZRANGEBYLEX s - +",
        "ZREVRANGEBYLEX s + -",
        "ZREVRANGE s 0 -1",
        "ZRANK s a",
        "ZREVRANK s a",
        "ZREMRANGEBYRANK s 0 1",
        "ZREMRANGEBYSCORE s 0 1",
        "ZREMRANGEBYLEX s - +",
        "ZPOPMIN s",
        "ZPOPMAX s 2",
        "ZMPOP 1 s MIN",
        "ZRANDMEMBER s",
        "ZRANDMEMBER s 2",
        "ZUNIONSTORE d 1 s",
        "ZINTERSTORE d 1 s",
        "ZDIFFSTORE d 1 s",
        "ZUNION 1 s",
        "ZINTER 1 s",
        "ZDIFF 1 s",
        "ZINTERCARD 1 s",
        "ZRANGESTORE d s 0 -1",
        "ZSCAN s 0",
    ] {
        assert_eq!(run(&mut c, line), wt, "{line}");
    }
    // A write on a wrong-typed key leaves it alone.
    assert_eq!(run(&mut c, "GET s"), "v");
}

#[test]
fn zrank_and_zrevrank() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2 b 3 c => :3
        ZRANK z a => :0
        ZRANK z c => :2
        ZREVRANK z a => :2
        ZREVRANK z c => :0
        ZRANK z nosuch => nil
        ZRANK nokey a => nil
        ZRANK z => -ERR wrong number of arguments for 'zrank' command
        "#,
    );
}

#[test]
fn zrank_withscore_is_redis_7_2() {
    let Some(t) = Target::concord_only() else {
        return;
    };
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2.5 b 3 c => :3
        ZRANK z b WITHSCORE => [:1, 2.5]
        ZREVRANK z b withscore => [:1, 2.5]
        ZRANK z nosuch WITHSCORE => nil
        ZRANK nokey a WITHSCORE => nil
        ZRANK z a WITHSCORES => -ERR syntax error
        ZRANK z a WITHSCORE x => -ERR wrong number of arguments for 'zrank' command
        "#,
    );
}

#[test]
fn zrange_by_rank_score_and_lex() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e => :5
        ZRANGE z 0 -1 => [a, b, c, d, e]
        ZRANGE z 1 2 WITHSCORES => [b, 2, c, 3]
        ZRANGE z -2 -1 => [d, e]
        ZRANGE z -100 100 => [a, b, c, d, e]
        ZRANGE z 3 1 => []
        ZRANGE z 10 20 => []
        ZRANGE z 0 1 REV => [e, d]
        ZREVRANGE z 0 1 WITHSCORES => [e, 5, d, 4]
        ZREVRANGE z -1 -1 => [a]
        ZRANGE z 2 4 BYSCORE => [b, c, d]
        ZRANGE z (2 4 BYSCORE => [c, d]
        ZRANGE z 2 (4 BYSCORE => [b, c]
        ZRANGE z -inf +inf BYSCORE LIMIT 1 2 => [b, c]
        ZRANGE z -inf +inf BYSCORE LIMIT 1 -1 => [b, c, d, e]
        ZRANGE z -inf +inf BYSCORE LIMIT -1 2 => []
        ZRANGE z -inf +inf BYSCORE LIMIT 10 2 => []
        ZRANGE z -inf +inf BYSCORE LIMIT 0 0 => []
        ZRANGE z 4 2 BYSCORE REV => [d, c, b]
        ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES => [d, 4, c, 3]
        ZRANGEBYSCORE z 2 4 => [b, c, d]
        ZRANGEBYSCORE z (1 (5 WITHSCORES LIMIT 1 1 => [c, 3]
        ZRANGEBYSCORE z 5 1 => []
        ZRANGEBYSCORE z (3 (3 => []
        ZRANGEBYSCORE z 3 3 => [c]
        ZREVRANGEBYSCORE z 4 2 => [d, c, b]
        ZREVRANGEBYSCORE z +inf (4 WITHSCORES => [e, 5]
        ZREVRANGEBYSCORE z 2 4 => []
        ZRANGE nokey 0 -1 => []
        ZRANGEBYSCORE nokey 0 1 => []
        ZRANGE z 0 -1 LIMIT 0 1 => -ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX
        ZRANGE z - + BYLEX WITHSCORES => -ERR syntax error, WITHSCORES not supported in combination with BYLEX
        ZRANGE z 0 -1 BYSCORE BYLEX => -ERR syntax error
        ZRANGE z 0 -1 REV REV => -ERR syntax error
        ZRANGE z 0 -1 FOO => -ERR syntax error
        ZRANGE z 0 -1 LIMIT 1 => -ERR syntax error
        ZRANGE z a b => -ERR value is not an integer or out of range
        ZRANGE z a b BYSCORE => -ERR min or max is not a float
        ZRANGE z nan 1 BYSCORE => -ERR min or max is not a float
        ZRANGE z 0 1 BYLEX => -ERR min or max not valid string range item
        ZRANGEBYSCORE z 0 1 REV => -ERR syntax error
        ZRANGEBYSCORE z 0 1 LIMIT a 1 => -ERR value is not an integer or out of range
        ZRANGEBYSCORE z x 1 => -ERR min or max is not a float
        ZREVRANGE z 0 1 BYSCORE => -ERR syntax error
        ZREVRANGE z 0 => -ERR wrong number of arguments for 'zrevrange' command
        "#,
    );
}

#[test]
fn lex_ranges_and_counts() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD l 0 a 0 b 0 c 0 d 0 e => :5
        ZRANGEBYLEX l - + => [a, b, c, d, e]
        ZRANGEBYLEX l [b (d => [b, c]
        ZRANGEBYLEX l (b [d => [c, d]
        ZRANGEBYLEX l - [c LIMIT 1 5 => [b, c]
        ZRANGEBYLEX l + - => []
        ZRANGEBYLEX l [d [b => []
        ZREVRANGEBYLEX l + - => [e, d, c, b, a]
        ZREVRANGEBYLEX l [d (a LIMIT 0 2 => [d, c]
        ZRANGE l [b [d BYLEX => [b, c, d]
        ZRANGE l [d [b BYLEX REV => [d, c, b]
        ZRANGE l - + BYLEX LIMIT 2 2 => [c, d]
        ZLEXCOUNT l - + => :5
        ZLEXCOUNT l [b (e => :3
        ZLEXCOUNT l (e + => :0
        ZLEXCOUNT nokey - + => :0
        ZRANGEBYLEX l a + => -ERR min or max not valid string range item
        ZRANGEBYLEX l - +x => -ERR min or max not valid string range item
        ZLEXCOUNT l [a b => -ERR min or max not valid string range item
        ZRANGEBYLEX l - + WITHSCORES => -ERR syntax error, WITHSCORES not supported in combination with BYLEX
        ZADD n 1 a 2 b 3 c 4 d => :4
        ZCOUNT n 2 3 => :2
        ZCOUNT n (2 3 => :1
        ZCOUNT n -inf +inf => :4
        ZCOUNT n 3 2 => :0
        ZCOUNT nokey 0 1 => :0
        ZCOUNT n a 1 => -ERR min or max is not a float
        ZCOUNT n ( (5 => :4
        "#,
    );
}

#[test]
fn removal_by_rank_score_and_lex() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e => :5
        ZREMRANGEBYRANK z 1 2 => :2
        ZRANGE z 0 -1 => [a, d, e]
        ZREMRANGEBYRANK z -1 -1 => :1
        ZREMRANGEBYRANK z 5 10 => :0
        ZREMRANGEBYRANK z 1 0 => :0
        ZREMRANGEBYRANK nokey 0 -1 => :0
        ZREMRANGEBYRANK z a 1 => -ERR value is not an integer or out of range
        ZADD z 2 b 3 c => :2
        ZREMRANGEBYSCORE z (1 3 => :2
        ZRANGE z 0 -1 WITHSCORES => [a, 1, d, 4]
        ZREMRANGEBYSCORE z -inf +inf => :2
        EXISTS z => :0
        ZREMRANGEBYSCORE z x 1 => -ERR min or max is not a float
        ZADD l 0 a 0 b 0 c 0 d => :4
        ZREMRANGEBYLEX l [b (d => :2
        ZRANGE l 0 -1 => [a, d]
        ZREMRANGEBYLEX l - + => :2
        EXISTS l => :0
        ZREMRANGEBYLEX l x + => -ERR min or max not valid string range item
        "#,
    );
}

#[test]
fn pops_with_and_without_count() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2 b 3 c 4 d => :4
        ZPOPMIN z => [a, 1]
        ZPOPMAX z => [d, 4]
        ZPOPMIN z 0 => []
        ZPOPMIN z 5 => [b, 2, c, 3]
        EXISTS z => :0
        ZPOPMIN z => []
        ZPOPMAX nokey 3 => []
        ZPOPMIN z -1 => -ERR value is out of range, must be positive
        ZPOPMIN z abc => -ERR value is out of range, must be positive
        ZPOPMIN z 1 2 => -ERR syntax error
        ZADD a 1 x 2 y => :2
        ZADD b 5 p => :1
        ZMPOP 2 nokey a MIN => [a, [[x, 1]]]
        ZMPOP 2 a b MAX COUNT 10 => [a, [[y, 2]]]
        ZMPOP 2 a b MAX COUNT 10 => [b, [[p, 5]]]
        ZMPOP 2 a b MIN => nil
        ZMPOP 0 a MIN => -ERR numkeys should be greater than 0
        ZMPOP x a MIN => -ERR numkeys should be greater than 0
        ZMPOP 1 a => -ERR wrong number of arguments for 'zmpop' command
        ZMPOP 1 a LEFT => -ERR syntax error
        ZMPOP 1 a MIN COUNT 0 => -ERR count should be greater than 0
        ZMPOP 1 a MIN COUNT 1 COUNT 2 => -ERR syntax error
        ZMPOP 1 a MIN COUNT => -ERR syntax error
        ZMPOP 5 a MIN => -ERR syntax error
        "#,
    );
}

#[test]
fn zrandmember_counts_and_errors() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZRANDMEMBER nokey => nil
        ZRANDMEMBER nokey 3 => []
        ZADD one 7 only => :1
        ZRANDMEMBER one => only
        ZRANDMEMBER one 1 WITHSCORES => [only, 7]
        ZRANDMEMBER one -3 => [only, only, only]
        ZRANDMEMBER one 0 => []
        ZRANDMEMBER one 5 => [only]
        ZRANDMEMBER one 1 WITHSCORE => -ERR syntax error
        ZRANDMEMBER one 1 WITHSCORES x => -ERR syntax error
        ZRANDMEMBER one x => -ERR value is not an integer or out of range
        ZRANDMEMBER one -9223372036854775808 => -ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807
        ZRANDMEMBER one 9223372036854775807 WITHSCORES => -ERR value is out of range
        "#,
    );
    let _ = run(&mut c, "ZADD z 1 a 2 b 3 c 4 d 5 e");
    for _ in 0..20 {
        let r = run(&mut c, "ZRANDMEMBER z 3");
        let items: Vec<&str> = r.trim_matches(['[', ']']).split(", ").collect();
        assert_eq!(items.len(), 3, "{r}");
        let mut dedup = items.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 3, "distinct members: {r}");
        let r = run(&mut c, "ZRANDMEMBER z -10");
        assert_eq!(r.split(", ").count(), 10, "{r}");
    }
}

#[test]
fn union_inter_diff_and_store() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD a{t} 1 a 2 b 3 c => :3
        ZADD b{t} 1 b 2 c 3 d => :3
        SADD s{t} a d x => :3
        ZUNION 2 a{t} b{t} WITHSCORES => [a, 1, b, 3, d, 3, c, 5]
        ZUNION 2 a{t} b{t} => [a, b, d, c]
        ZUNION 2 a{t} b{t} WEIGHTS 2 3 WITHSCORES => [a, 2, b, 7, d, 9, c, 12]
        ZUNION 2 a{t} b{t} AGGREGATE MIN WITHSCORES => [a, 1, b, 1, c, 2, d, 3]
        ZUNION 2 a{t} b{t} AGGREGATE max WITHSCORES => [a, 1, b, 2, c, 3, d, 3]
        ZINTER 2 a{t} b{t} WITHSCORES => [b, 3, c, 5]
        ZINTER 2 a{t} s{t} WITHSCORES => [a, 2]
        ZDIFF 2 a{t} b{t} WITHSCORES => [a, 1]
        ZDIFF 2 a{t} s{t} => [b, c]
        ZUNION 2 a{t} nokey{t} => [a, b, c]
        ZINTER 2 a{t} nokey{t} => []
        ZINTERCARD 2 a{t} b{t} => :2
        ZINTERCARD 2 a{t} b{t} LIMIT 1 => :1
        ZINTERCARD 2 a{t} b{t} LIMIT 0 => :2
        ZINTERCARD 1 nokey{t} => :0
        ZUNIONSTORE d{t} 2 a{t} b{t} => :4
        ZRANGE d{t} 0 -1 WITHSCORES => [a, 1, b, 3, d, 3, c, 5]
        ZINTERSTORE d{t} 2 a{t} b{t} WEIGHTS 1 0 => :2
        ZRANGE d{t} 0 -1 WITHSCORES => [b, 2, c, 3]
        ZDIFFSTORE d{t} 2 a{t} b{t} => :1
        ZRANGE d{t} 0 -1 => [a]
        ZINTERSTORE d{t} 2 a{t} nokey{t} => :0
        EXISTS d{t} => :0
        SET d{t} str => +OK
        EXPIRE d{t} 100 => :1
        ZUNIONSTORE d{t} 1 a{t} => :3
        TTL d{t} => :-1
        ZADD inf{t} +inf x => :1
        ZADD ninf{t} -inf x => :1
        ZUNION 2 inf{t} ninf{t} WITHSCORES => [x, 0]
        ZUNION 1 inf{t} WEIGHTS 0 WITHSCORES => [x, 0]
        ZUNIONSTORE d{t} 0 a{t} => -ERR at least 1 input key is needed for 'zunionstore' command
        ZUNION 0 a{t} => -ERR at least 1 input key is needed for 'zunion' command
        ZINTERCARD 0 a{t} => -ERR at least 1 input key is needed for 'zintercard' command
        ZUNION 3 a{t} b{t} => -ERR syntax error
        ZUNION x a{t} => -ERR value is not an integer or out of range
        ZUNION 2 a{t} b{t} WEIGHTS 1 => -ERR syntax error
        ZUNION 2 a{t} b{t} WEIGHTS 1 x => -ERR weight value is not a float
        ZUNION 2 a{t} b{t} AGGREGATE AVG => -ERR syntax error
        ZUNIONSTORE d{t} 2 a{t} b{t} WITHSCORES => -ERR syntax error
        ZDIFF 2 a{t} b{t} WEIGHTS 1 2 => -ERR syntax error
        ZDIFF 2 a{t} b{t} AGGREGATE SUM => -ERR syntax error
        ZINTERCARD 2 a{t} b{t} LIMIT -1 => -ERR LIMIT can't be negative
        ZINTERCARD 2 a{t} b{t} LIMIT x => -ERR LIMIT can't be negative
        ZINTERCARD 2 a{t} b{t} WITHSCORES => -ERR syntax error
        "#,
    );
}

#[test]
fn zrangestore_stores_and_deletes() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD src{t} 1 a 2 b 3 c 4 d => :4
        ZRANGESTORE dst{t} src{t} 1 2 => :2
        ZRANGE dst{t} 0 -1 WITHSCORES => [b, 2, c, 3]
        ZRANGESTORE dst{t} src{t} 3 +inf BYSCORE => :2
        ZRANGE dst{t} 0 -1 => [c, d]
        ZRANGESTORE dst{t} src{t} +inf -inf BYSCORE REV LIMIT 0 1 => :1
        ZRANGE dst{t} 0 -1 => [d]
        ZRANGESTORE dst{t} src{t} 10 20 => :0
        EXISTS dst{t} => :0
        ZRANGESTORE dst{t} nokey{t} 0 -1 => :0
        ZRANGESTORE dst{t} src{t} 0 -1 WITHSCORES => -ERR syntax error
        ZRANGESTORE dst{t} src{t} 0 -1 LIMIT 0 1 => -ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX
        "#,
    );
}

#[test]
fn zscan_returns_members_and_scores() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        ZADD z 1 a 2.5 b 3 c => :3
        ZSCAN z 0 => [0, [a, 1, b, 2.5, c, 3]]
        ZSCAN z 0 MATCH b* => [0, [b, 2.5]]
        ZSCAN nokey 0 => [0, []]
        ZSCAN z x => -ERR invalid cursor
        ZSCAN z 0 COUNT 0 => -ERR syntax error
        ZSCAN z 0 COUNT x => -ERR value is not an integer or out of range
        ZSCAN z 0 TYPE zset => -ERR syntax error
        ZSCAN z 0 MATCH => -ERR syntax error
        "#,
    );
}

#[test]
fn big_sets_scan_completely_and_report_skiplist() {
    let t = Target::start();
    let mut c = t.conn();
    let mut cmd = redis::cmd("ZADD");
    cmd.arg("big");
    for i in 0..2000 {
        cmd.arg(i).arg(format!("m{i}"));
    }
    let n: i64 = cmd.query(&mut c).unwrap();
    assert_eq!(n, 2000);
    assert_eq!(run(&mut c, "OBJECT ENCODING big"), "skiplist");
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("ZSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
    assert_eq!(run(&mut c, "ZRANK big m1500"), ":1500");
    assert_eq!(run(&mut c, "ZREVRANK big m1500"), ":499");
    assert_eq!(run(&mut c, "ZRANGE big 1000 1001"), "[m1000, m1001]");
}

#[test]
fn encodings_follow_the_listpack_limits_one_way() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        CONFIG SET zset-max-listpack-entries 4 => +OK
        CONFIG SET zset-max-listpack-value 8 => +OK
        ZADD z 1 a 2 b 3 c 4 d => :4
        OBJECT ENCODING z => listpack
        ZADD z 5 e => :1
        OBJECT ENCODING z => skiplist
        ZREM z e d c => :3
        OBJECT ENCODING z => skiplist
        ZADD long 1 abcdefghij => :1
        OBJECT ENCODING long => skiplist
        ZADD short 1 abcdefgh => :1
        OBJECT ENCODING short => listpack
        ZUNIONSTORE u 1 z => :2
        OBJECT ENCODING u => listpack
        ZRANGESTORE r z 0 -1 => :2
        OBJECT ENCODING r => listpack
        TYPE z => +zset
        CONFIG SET zset-max-listpack-entries 128 => +OK
        CONFIG SET zset-max-listpack-value 64 => +OK
        "#,
    );
}
