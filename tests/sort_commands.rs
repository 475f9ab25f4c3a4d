//! SORT and SORT_RO over TCP, as `command => reply` scripts (tests/strings_script/mod.rs): numeric and
//! ALPHA order, DESC, LIMIT clamping, BY patterns (string keys, hash fields, constants keeping the native
//! order), GET (`#`, strings, hash fields, missing keys), STORE (a list, replacing any type, deleting the
//! destination when empty, waking a blocked BLPOP), and Redis's errors. The scripts were checked against
//! redis-server 7.0.15 with `CONCORD_TEST_REDIS_PORT=<port> cargo test --test sort_commands --
//! --test-threads=1`.

mod strings_script;
mod support;

use strings_script::{Target, run, script};

#[test]
fn lists_sort_numerically_and_alphabetically() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l 3 1 2 10 -1.5 1e2 => :6
        SORT l => [-1.5, 1, 2, 3, 10, 1e2]
        SORT l DESC => [1e2, 10, 3, 2, 1, -1.5]
        SORT l ALPHA => [-1.5, 1, 10, 1e2, 2, 3]
        SORT l ALPHA DESC => [3, 2, 1e2, 10, 1, -1.5]
        SORT l LIMIT 1 2 => [1, 2]
        SORT l LIMIT 4 100 => [10, 1e2]
        SORT l LIMIT -5 2 => [-1.5, 1]
        SORT l LIMIT 2 -1 => [2, 3, 10, 1e2]
        SORT l LIMIT 6 1 => []
        SORT l LIMIT 0 0 => []
        SORT l LIMIT 1 2 DESC => [10, 3]
        SORT_RO l DESC LIMIT 0 1 => [1e2]
        SORT nosuch => []
        SORT nosuch LIMIT 0 5 DESC ALPHA => []
        RPUSH dup 2 1 2 1 => :4
        SORT dup => [1, 1, 2, 2]
        RPUSH words b a c "" => :4
        SORT words => -ERR One or more scores can't be converted into double
        SORT words ALPHA => ["", a, b, c]
        RPUSH blank "" " 5" 3 => :3
        SORT blank => ["", 3, " 5"]
        RPUSH nan 1 nan => :2
        SORT nan => -ERR One or more scores can't be converted into double
        RPUSH inf inf -inf 0 => :3
        SORT inf => [-inf, 0, inf]
        "#,
    );
}

#[test]
fn sets_and_sorted_sets_sort_by_their_members() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        SADD s 5 3 9 1 => :4
        SORT s => [1, 3, 5, 9]
        SORT s DESC LIMIT 0 2 => [9, 5]
        SADD sw banana apple cherry => :3
        SORT sw ALPHA => [apple, banana, cherry]
        SORT sw => -ERR One or more scores can't be converted into double
        ZADD z 1 c 2 b 3 a => :3
        SORT z ALPHA => [a, b, c]
        SORT z BY nosort => [c, b, a]
        SORT z BY nosort DESC => [a, b, c]
        SORT z BY nosort LIMIT 1 5 => [b, a]
        SORT z BY nosort DESC LIMIT 1 1 => [b]
        ZADD zn 1 30 2 10 3 20 => :3
        SORT zn => [10, 20, 30]
        SORT zn BY nosort => [30, 10, 20]
        SET str x => +OK
        SORT str => -WRONGTYPE Operation against a key holding the wrong kind of value
        HSET h f v => :1
        SORT_RO h => -WRONGTYPE Operation against a key holding the wrong kind of value
        "#,
    );
}

#[test]
fn by_and_get_patterns_read_other_keys() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH ids 1 2 3 4 => :4
        MSET w_1 30 w_2 10 w_3 20 name_1 one name_2 two name_3 three => +OK
        HSET obj_1 age 40 n alice => :2
        HSET obj_2 age 20 n bob => :2
        HSET obj_3 age 30 n carol => :2
        HSET obj_4 age 10 => :1
        SORT ids BY w_* => [4, 2, 3, 1]
        SORT ids BY w_* DESC => [1, 3, 2, 4]
        SORT ids BY w_* GET # GET name_* => [4, nil, 2, two, 3, three, 1, one]
        SORT ids BY obj_*->age => [4, 2, 3, 1]
        SORT ids BY obj_*->age GET obj_*->n => [nil, bob, carol, alice]
        SORT ids BY obj_*->age GET obj_*->missing => [nil, nil, nil, nil]
        SORT ids BY obj_*->age LIMIT 1 2 GET # => [2, 3]
        SORT ids BY name_* ALPHA => [4, 1, 3, 2]
        SORT ids BY name_* ALPHA DESC => [2, 3, 1, 4]
        SORT ids BY nosort => [1, 2, 3, 4]
        SORT ids BY nosort DESC => [4, 3, 2, 1]
        SORT ids BY nosort LIMIT 1 2 => [2, 3]
        SORT ids BY nosort DESC LIMIT 1 2 => [3, 2]
        SORT ids BY nosort GET name_* => [one, two, three, nil]
        SORT ids GET nostar => [nil, nil, nil, nil]
        SORT ids GET obj_* => [nil, nil, nil, nil]
        SORT ids BY w_*-> => [1, 2, 3, 4]
        SET w_4 notanumber => +OK
        SORT ids BY w_* => -ERR One or more scores can't be converted into double
        SORT ids BY nosort BY w_* LIMIT 0 1 => [1]
        RPUSH tags x y => :2
        SORT tags BY obj_*->age => [x, y]
        SORT tags BY missing_* ALPHA => [x, y]
        SORT tags BY missing_* ALPHA DESC => [x, y]
        "#,
    );
}

#[test]
fn store_writes_a_list_and_deletes_an_empty_result() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l 3 1 2 => :3
        SORT l STORE out => :3
        LRANGE out 0 -1 => [1, 2, 3]
        TYPE out => +list
        OBJECT ENCODING out => quicklist
        SET dst old => +OK
        EXPIRE dst 100 => :1
        SORT l DESC STORE dst => :3
        LRANGE dst 0 -1 => [3, 2, 1]
        TTL dst => :-1
        SORT l LIMIT 5 5 STORE dst => :0
        EXISTS dst => :0
        SORT nosuch STORE dst2 => :0
        EXISTS dst2 => :0
        MSET n_1 one n_3 three => +OK
        SORT l GET n_* GET # STORE g => :6
        LRANGE g 0 -1 => [one, 1, "", 2, three, 3]
        SADD s c a b => :3
        SORT s BY nosort STORE ss => :3
        LRANGE ss 0 -1 => [a, b, c]
        SORT l STORE l => :3
        LRANGE l 0 -1 => [1, 2, 3]
        SORT_RO l STORE x => -ERR syntax error
        SORT l STORE => -ERR syntax error
        SORT l LIMIT 1 => -ERR syntax error
        SORT l LIMIT a 1 => -ERR value is not an integer or out of range
        SORT l FOO => -ERR syntax error
        SORT l BY => -ERR syntax error
        SORT l GET => -ERR syntax error
        SORT => -ERR wrong number of arguments for 'sort' command
        SORT_RO => -ERR wrong number of arguments for 'sort_ro' command
        "#,
    );
}

#[test]
fn store_wakes_a_client_blocked_on_the_destination() {
    let t = Target::start();
    let mut c = t.conn();
    script(&mut c, "RPUSH src 2 1 => :2");
    let port = t.port();
    let waiter = std::thread::spawn(move || {
        let mut w = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        run(&mut w, "BLPOP dest 10")
    });
    // Wait until the BLPOP is parked.
    let start = std::time::Instant::now();
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        if info.contains("blocked_clients:1") {
            break;
        }
        assert!(start.elapsed().as_secs() < 10, "never blocked");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    script(&mut c, "SORT src STORE dest => :2");
    assert_eq!(waiter.join().unwrap(), "[dest, 1]");
    script(&mut c, "LRANGE dest 0 -1 => [2]");
}

#[test]
fn store_inside_multi_is_one_unit() {
    let t = Target::start();
    let mut c = t.conn();
    script(
        &mut c,
        r#"
        RPUSH l 2 1 => :2
        MULTI => +OK
        SORT l STORE d => +QUEUED
        LPUSH d 0 => +QUEUED
        SORT d DESC => +QUEUED
        EXEC => [:2, :3, [2, 1, 0]]
        "#,
    );
}

/// Collects the next `n` keyevent notifications as `event key`.
fn events(t: &Target, n: usize, writes: impl FnOnce(&mut redis::Connection)) -> Vec<String> {
    let mut c = t.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut c)
        .unwrap();
    let mut sub = t.conn();
    sub.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").unwrap();
    writes(&mut c);
    let mut out = Vec::new();
    while out.len() < n {
        let m = ps.get_message().unwrap();
        let ch: String = m.get_channel().unwrap();
        let key: String = m.get_payload().unwrap();
        out.push(format!(
            "{} {key}",
            ch.trim_start_matches("__keyevent@0__:")
        ));
    }
    out
}

#[test]
fn store_sends_sortstore_or_del_events() {
    let t = Target::start();
    let got = events(&t, 4, |c| {
        script(
            c,
            "RPUSH l 2 1 => :2\nSORT l STORE d => :2\nSORT nosuch STORE d => :0\nSORT nosuch STORE d => :0\nSET end x => +OK",
        );
    });
    assert_eq!(got, ["rpush l", "sortstore d", "del d", "set end"]);
}
