//! Sandbox and conversion edges found by Redis's unit/scripting: the string metatable is read-only,
//! cjson encodes as Redis's lua-cjson (numbers, escapes, empty and sparse tables, depth), redis.call
//! takes thousands of arguments and raises Redis's error table, a runaway allocation hits the memory cap
//! with an error, and forbidden commands get Redis's errors.

mod support;

use redis::Value;

fn eval(c: &mut redis::Connection, body: &str) -> redis::RedisResult<Value> {
    redis::cmd("EVAL").arg(body).arg(0).query(c)
}

fn err_text(r: redis::RedisResult<Value>) -> String {
    match r {
        Ok(Value::ServerError(e)) => format!("{} {}", e.code(), e.details().unwrap_or_default()),
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => match (e.code(), e.detail()) {
            (Some(code), Some(detail)) => format!("{code} {detail}"),
            _ => e.to_string(),
        },
    }
}

fn bulk(v: Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

#[test]
fn the_string_metatable_cannot_be_modified() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    for body in [
        "getmetatable('').__index.upper = function() return 'pwned' end",
        "getmetatable('').__index = {}",
        "rawset(getmetatable(''), '__index', {})",
        "string.upper = nil",
    ] {
        let e = err_text(eval(&mut c, body));
        assert!(
            e.contains("Attempt to modify a readonly table"),
            "{body}: {e}"
        );
    }
    assert_eq!(bulk(eval(&mut c, "return ('abc'):upper()").unwrap()), "ABC");
    assert_eq!(
        bulk(eval(&mut c, "return getmetatable('').__index.upper('x')").unwrap()),
        "X"
    );
}

#[test]
fn cjson_encodes_as_lua_cjson() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    let cases = [
        ("cjson.encode(3.14159265358979)", "3.1415926535898"),
        ("cjson.encode(100)", "100"),
        ("cjson.encode(1e20)", "1e+20"),
        ("cjson.encode(0.1)", "0.1"),
        ("cjson.encode('a/b\"c')", "\"a\\/b\\\"c\""),
        ("cjson.encode({})", "{}"),
        ("cjson.encode({1, 2, 3})", "[1,2,3]"),
        ("cjson.encode({[1]=1, [3]=3})", "[1,null,3]"),
        ("cjson.encode({cjson.null})", "[null]"),
        ("cjson.encode({[2]='x'})", "[null,\"x\"]"),
    ];
    for (expr, want) in cases {
        assert_eq!(
            bulk(eval(&mut c, &format!("return {expr}")).unwrap()),
            want,
            "{expr}"
        );
    }
    let errors = [
        (
            "cjson.encode({[1]=1, [100]=2})",
            "Cannot serialise table: excessively sparse array",
        ),
        (
            "cjson.encode({[true]=1})",
            "Cannot serialise table: table key must be a number or string",
        ),
        (
            "cjson.encode(0/0)",
            "Cannot serialise number: must not be NaN or Inf",
        ),
        (
            "cjson.encode(function() end)",
            "Cannot serialise function: type not supported",
        ),
        (
            "(function() local t = {} local c = t for i = 1, 1100 do c[1] = {} c = c[1] end return cjson.encode(t) end)()",
            "Cannot serialise, excessive nesting (1001)",
        ),
        (
            "(function() local t = {} t[1] = t return cjson.encode(t) end)()",
            "Cannot serialise, excessive nesting (1001)",
        ),
    ];
    for (expr, want) in errors {
        let e = err_text(eval(&mut c, &format!("return {expr}")));
        assert!(e.contains(want), "{expr}: {e}");
    }
    // The tuning switches work and persist until changed back, as in Redis.
    let e = err_text(eval(
        &mut c,
        "cjson.encode_max_depth(1) local ok, r = pcall(cjson.encode, {{1}}) cjson.encode_max_depth(1000) error(r)",
    ));
    assert!(e.contains("excessive nesting (2)"), "{e}");
    assert_eq!(
        bulk(
            eval(
                &mut c,
                "cjson.encode_invalid_numbers(true) local r = cjson.encode({0/0 ~= 0/0}) cjson.encode_invalid_numbers(false) return r"
            )
            .unwrap()
        ),
        "[true]"
    );
    let e = err_text(eval(
        &mut c,
        "cjson.decode_max_depth(1) local ok, r = pcall(cjson.decode, '[[1]]') cjson.decode_max_depth(1000) error(r)",
    ));
    assert!(e.contains("too many nested data structures"), "{e}");
}

#[test]
fn redis_call_takes_thousands_of_arguments_and_fails_cleanly_beyond() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    let n = eval(
        &mut c,
        "local a = {} for i = 1, 7999 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
    )
    .unwrap();
    assert_eq!(n, Value::Int(7999));
    let e = err_text(eval(
        &mut c,
        "local a = {} for i = 1, 100000 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
    ));
    assert!(e.contains("too many results to unpack"), "{e}");
    let len: i64 = redis::cmd("LLEN").arg("l").query(&mut c).unwrap();
    assert_eq!(len, 7999);
}

#[test]
fn redis_call_errors_are_tables_for_pcall_and_carry_the_line() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    let v = eval(
        &mut c,
        "local ok, e = pcall(redis.call, 'nosuchcommand') return {tostring(ok), type(e), e.err}",
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::BulkString(b"false".to_vec()),
            Value::BulkString(b"table".to_vec()),
            Value::BulkString(b"ERR Unknown Redis command called from script".to_vec()),
        ])
    );
    let _: () = redis::cmd("RPUSH").arg("s").arg("x").query(&mut c).unwrap();
    let e = err_text(eval(&mut c, "\n\nreturn redis.call('INCR', 's')"));
    assert!(
        e.starts_with("WRONGTYPE Operation against a key holding the wrong kind of value script:")
            && e.ends_with("on @user_script:3."),
        "{e}"
    );
    let v = eval(&mut c, "return redis.pcall('INCR', 's')");
    assert!(err_text(v).starts_with("WRONGTYPE"));
}

#[test]
fn a_runaway_allocation_hits_the_memory_cap_and_the_server_survives() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("keep")
        .arg("me")
        .query(&mut c)
        .unwrap();
    let e = err_text(eval(
        &mut c,
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100000) .. i end",
    ));
    assert!(e.contains("not enough memory"), "{e}");
    let v: String = redis::cmd("GET").arg("keep").query(&mut c).unwrap();
    assert_eq!(v, "me");
    assert_eq!(eval(&mut c, "return 1").unwrap(), Value::Int(1));
}

#[test]
fn forbidden_and_blocking_commands_get_redis_errors() {
    let s = support::TestServer::start();
    let mut c = s.conn();
    for cmd in [
        "'SUBSCRIBE', 'ch'",
        "'MULTI'",
        "'EVAL', 'return 1', '0'",
        "'FUNCTION', 'FLUSH'",
    ] {
        let e = err_text(eval(&mut c, &format!("return redis.call({cmd})")));
        assert!(
            e.starts_with("ERR This Redis command is not allowed from script"),
            "{cmd}: {e}"
        );
    }
    // Blocking commands scripts may call answer at once, as if their timeout had passed.
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('BLMPOP', 0, 1, 'nolist', 'LEFT')"
        )
        .unwrap(),
        Value::Nil
    );
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}
