//! Lua scripting over TCP: EVAL/EVALSHA/_RO, SCRIPT LOAD|EXISTS|FLUSH, conversions both ways, the sandbox,
//! Redis's exact error texts, atomicity under contention and one revision per script.

mod support;

use redis::Value;
use support::TestServer;

fn eval(
    c: &mut redis::Connection,
    script: &str,
    keys: &[&str],
    args: &[&str],
) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len());
    for k in keys {
        cmd.arg(*k);
    }
    for a in args {
        cmd.arg(*a);
    }
    cmd.query(c)
}

fn err_text(r: redis::RedisResult<Value>) -> String {
    match r {
        Err(e) => {
            let code = e.code().unwrap_or("");
            let detail = e.detail().unwrap_or("");
            format!("{code} {detail}")
        }
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn sha1(s: &str) -> String {
    sha1_smol::Sha1::from(s).digest().to_string()
}

fn revision(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("current_revision:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no current_revision in INFO stats"))
}

#[test]
fn lua_values_convert_to_replies_as_redis_does() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        eval(&mut c, "return 3.99", &[], &[]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        eval(&mut c, "return -2.5", &[], &[]).unwrap(),
        Value::Int(-2)
    );
    assert_eq!(
        eval(&mut c, "return 'x'", &[], &[]).unwrap(),
        Value::BulkString(b"x".to_vec())
    );
    assert_eq!(
        eval(&mut c, "return true", &[], &[]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(eval(&mut c, "return false", &[], &[]).unwrap(), Value::Nil);
    assert_eq!(eval(&mut c, "return nil", &[], &[]).unwrap(), Value::Nil);
    assert_eq!(
        eval(&mut c, "return {1, 'a', nil, 4}", &[], &[]).unwrap(),
        Value::Array(vec![Value::Int(1), Value::BulkString(b"a".to_vec())])
    );
    assert_eq!(
        eval(&mut c, "return {ok='FINE'}", &[], &[]).unwrap(),
        Value::SimpleString("FINE".into())
    );
    assert_eq!(
        err_text(eval(&mut c, "return {err='MYERR bad thing'}", &[], &[])),
        "MYERR bad thing"
    );
    assert_eq!(
        err_text(eval(
            &mut c,
            "return redis.error_reply('E2 nope')",
            &[],
            &[]
        )),
        "E2 nope"
    );
    assert_eq!(
        eval(&mut c, "return redis.status_reply('PONG')", &[], &[]).unwrap(),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(
        eval(
            &mut c,
            "return {KEYS[1], ARGV[1], ARGV[2]}",
            &["k"],
            &["a", "b"]
        )
        .unwrap(),
        Value::Array(vec![
            Value::BulkString(b"k".to_vec()),
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"b".to_vec())
        ])
    );
}

#[test]
fn replies_convert_to_lua_values_as_redis_does() {
    let s = TestServer::start();
    let mut c = s.conn();
    // nil bulk -> false, integer -> number, status -> {ok=...}, array -> table.
    let v = eval(
        &mut c,
        "local a = redis.call('get', 'missing') \
         local b = redis.call('incr', 'n') \
         local st = redis.call('set', 'k', 'v') \
         redis.call('rpush', 'l', 'x', 'y') \
         local l = redis.call('lrange', 'l', 0, -1) \
         return {tostring(a), type(b), st.ok, #l, l[2]}",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::BulkString(b"false".to_vec()),
            Value::BulkString(b"number".to_vec()),
            Value::BulkString(b"OK".to_vec()),
            Value::Int(2),
            Value::BulkString(b"y".to_vec()),
        ])
    );
    // Numbers passed to redis.call become integers when integral.
    let v = eval(
        &mut c,
        "redis.call('set', 'num', 10) return redis.call('get', 'num')",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(v, Value::BulkString(b"10".to_vec()));
}

#[test]
fn errors_match_redis_byte_for_byte() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("str").arg("v").query(&mut c).unwrap();
    let body = "return redis.call('incr', KEYS[1])";
    assert_eq!(
        err_text(eval(&mut c, body, &["str"], &[])),
        format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    let body = "return redis.call('lpush', KEYS[1], 'x')";
    assert_eq!(
        err_text(eval(&mut c, body, &["str"], &[])),
        format!(
            "WRONGTYPE Operation against a key holding the wrong kind of value script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    // pcall hands the error back as a table; returning it replies the bare error.
    assert_eq!(
        err_text(eval(
            &mut c,
            "return redis.pcall('incr', KEYS[1])",
            &["str"],
            &[]
        )),
        "ERR value is not an integer or out of range"
    );
    let body = "\nerror('boom')";
    assert_eq!(
        err_text(eval(&mut c, body, &[], &[])),
        format!(
            "ERR user_script:2: boom script: {}, on @user_script:2.",
            sha1(body)
        )
    );
    assert_eq!(
        err_text(eval(&mut c, "return redis.call('nosuchcmd')", &[], &[])),
        format!(
            "ERR Unknown Redis command called from script script: {}, on @user_script:1.",
            sha1("return redis.call('nosuchcmd')")
        )
    );
    assert_eq!(
        err_text(eval(&mut c, "return redis.pcall('nosuchcmd')", &[], &[])),
        "ERR Unknown Redis command called from script"
    );
    assert_eq!(
        err_text(eval(&mut c, "return redis.pcall('multi')", &[], &[])),
        "ERR This Redis command is not allowed from script"
    );
    assert_eq!(
        err_text(
            redis::cmd("EVAL")
                .arg("return 1")
                .arg(3)
                .arg("a")
                .query(&mut c)
        ),
        "ERR Number of keys can't be greater than number of args"
    );
    let r: redis::RedisResult<Value> = redis::cmd("EVAL").arg("return 1").arg(-1).query(&mut c);
    assert_eq!(err_text(r), "ERR Number of keys can't be negative");
    let r: redis::RedisResult<Value> = redis::cmd("EVALSHA")
        .arg("a".repeat(40))
        .arg(0)
        .query(&mut c);
    assert_eq!(err_text(r), "NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(
        err_text(eval(&mut c, "return 'a' ..", &[], &[])),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
    let r: redis::RedisResult<Value> = redis::cmd("EVAL_RO")
        .arg("return redis.pcall('set', 'k', 'v')")
        .arg(0)
        .query(&mut c);
    assert_eq!(
        err_text(r),
        "ERR Write commands are not allowed from read-only scripts."
    );
}

#[test]
fn the_sandbox_hides_os_io_and_protects_globals() {
    let s = TestServer::start();
    let mut c = s.conn();
    for name in ["os", "io", "loadfile", "dofile", "require", "print"] {
        let body = format!("return {name}");
        assert_eq!(
            err_text(eval(&mut c, &body, &[], &[])),
            format!(
                "ERR Script attempted to access nonexistent global variable '{name}' script: {}, on @user_script:1.",
                sha1(&body)
            )
        );
    }
    let body = "x = 1";
    assert_eq!(
        err_text(eval(&mut c, body, &[], &[])),
        format!(
            "ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    assert!(
        err_text(eval(&mut c, "redis.call = nil", &[], &[]))
            .contains("Attempt to modify a readonly table")
    );
    assert!(
        err_text(eval(&mut c, "cjson.encode = nil", &[], &[]))
            .contains("Attempt to modify a readonly table")
    );
    // Errors raised by library helpers read as Redis's, without Rust-side decoration.
    let body = "return redis.setresp(4)";
    assert_eq!(
        err_text(eval(&mut c, body, &[], &[])),
        format!(
            "ERR RESP version must be 2 or 3. script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    // The usual tricks against the protection fail with Redis's error.
    for body in [
        "rawset(_G, 'leak', 1)",
        "setmetatable(_G, {})",
        "local g = getmetatable(_G) g.__index = {}",
        "redis = function() return 1 end",
        "_G = {}",
        "cmsgpack.pack = nil",
        "bit.band = nil",
    ] {
        assert!(
            err_text(eval(&mut c, body, &[], &[])).contains("Attempt to modify a readonly table"),
            "{body}"
        );
    }
    assert!(
        err_text(eval(&mut c, "return leak", &[], &[]))
            .contains("nonexistent global variable 'leak'")
    );
    // Ordinary metatables on the script's own tables still work.
    assert_eq!(
        eval(
            &mut c,
            "local t = setmetatable({}, {__index = function() return 5 end}) return t.x",
            &[],
            &[]
        )
        .unwrap(),
        Value::Int(5)
    );
    // Locals are fine, and nothing leaks from one script to the next.
    assert_eq!(
        eval(&mut c, "local x = 5 return x", &[], &[]).unwrap(),
        Value::Int(5)
    );
    // A runaway allocation hits the memory cap and the server keeps serving.
    let r = eval(
        &mut c,
        "local t = {} for i = 1, 64 do t[i] = string.rep('x', 8 * 1024 * 1024) .. i end return 1",
        &[],
        &[],
    );
    assert!(r.is_err());
    assert_eq!(eval(&mut c, "return 7", &[], &[]).unwrap(), Value::Int(7));
}

#[test]
fn libraries_cjson_cmsgpack_struct_bit_and_sha1hex_work() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        eval(&mut c, "return cjson.encode({})", &[], &[]).unwrap(),
        Value::BulkString(b"{}".to_vec())
    );
    assert_eq!(
        eval(&mut c, "return cjson.encode({1,2,3})", &[], &[]).unwrap(),
        Value::BulkString(b"[1,2,3]".to_vec())
    );
    assert_eq!(
        eval(&mut c, "local t = cjson.decode('{\"a\":[1,null,\"x\"]}') return {t.a[1], t.a[3], tostring(t.a[2] == cjson.null)}", &[], &[]).unwrap(),
        Value::Array(vec![
            Value::Int(1),
            Value::BulkString(b"x".to_vec()),
            Value::BulkString(b"true".to_vec())
        ])
    );
    // struct: big-endian integers, c0 strings sized by the preceding number, the next position last.
    assert_eq!(
        eval(&mut c, "return struct.pack('>HB', 258, 7)", &[], &[]).unwrap(),
        Value::BulkString(vec![1, 2, 7])
    );
    assert_eq!(
        eval(
            &mut c,
            "return {struct.unpack('>I2c0', struct.pack('>I2c0', 3, 'abc'))}",
            &[],
            &[]
        )
        .unwrap(),
        Value::Array(vec![Value::BulkString(b"abc".to_vec()), Value::Int(6)])
    );
    assert_eq!(
        eval(
            &mut c,
            "return {struct.unpack('<h', struct.pack('<h', -2)), struct.size('>i4h')}",
            &[],
            &[]
        )
        .unwrap(),
        Value::Array(vec![Value::Int(-2), Value::Int(6)])
    );
    // cmsgpack: byte-exact packing of small values, and a round trip through unpack.
    assert_eq!(
        eval(&mut c, "return cmsgpack.pack({1, 2, 'ab'})", &[], &[]).unwrap(),
        Value::BulkString(vec![0x93, 0x01, 0x02, 0xa2, b'a', b'b'])
    );
    assert_eq!(
        eval(&mut c, "return cmsgpack.pack({a = -1})", &[], &[]).unwrap(),
        Value::BulkString(vec![0x81, 0xa1, b'a', 0xff])
    );
    assert_eq!(
        eval(
            &mut c,
            "local t = cmsgpack.unpack(cmsgpack.pack({x = {10, 300, 'y'}, n = 2.5})) \
             return {t.x[1], t.x[2], t.x[3], tostring(t.n)}",
            &[],
            &[]
        )
        .unwrap(),
        Value::Array(vec![
            Value::Int(10),
            Value::Int(300),
            Value::BulkString(b"y".to_vec()),
            Value::BulkString(b"2.5".to_vec())
        ])
    );
    assert_eq!(
        eval(&mut c, "return bit.band(12, 10)", &[], &[]).unwrap(),
        Value::Int(8)
    );
    assert_eq!(
        eval(&mut c, "return bit.bxor(5, 1)", &[], &[]).unwrap(),
        Value::Int(4)
    );
    assert_eq!(
        eval(&mut c, "return redis.sha1hex('')", &[], &[]).unwrap(),
        Value::BulkString(b"da39a3ee5e6b4b0d3255bfef95601890afd80709".to_vec())
    );
    assert_eq!(
        eval(&mut c, "return redis.LOG_WARNING", &[], &[]).unwrap(),
        Value::Int(3)
    );
}

#[test]
fn script_cache_load_exists_flush_and_evalsha_fallback() {
    let s = TestServer::start();
    let mut c = s.conn();
    let body = "return ARGV[1]";
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(body)
        .query(&mut c)
        .unwrap();
    assert_eq!(sha, sha1(body));
    let v: Value = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(0)
        .arg("hi")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::BulkString(b"hi".to_vec()));
    let v: Value = redis::cmd("EVALSHA")
        .arg(sha.to_uppercase())
        .arg(0)
        .arg("up")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::BulkString(b"up".to_vec()));
    let e: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg("f".repeat(40))
        .query(&mut c)
        .unwrap();
    assert_eq!(e, vec![1, 0]);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .arg("ASYNC")
        .query(&mut c)
        .unwrap();
    let r: redis::RedisResult<Value> = redis::cmd("EVALSHA").arg(&sha).arg(0).query(&mut c);
    assert_eq!(err_text(r), "NOSCRIPT No matching script. Please use EVAL.");
    // EVAL caches the body, so EVALSHA works after it; the redis crate's Script falls back the same way.
    let _ = eval(&mut c, body, &[], &["x"]).unwrap();
    let e: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .query(&mut c)
        .unwrap();
    assert_eq!(e, vec![1]);
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let script = redis::Script::new("return tonumber(ARGV[1]) + 1");
    let n: i64 = script.arg(41).invoke(&mut c).unwrap();
    assert_eq!(n, 42);
    let r: redis::RedisResult<Value> = redis::cmd("SCRIPT").arg("FLUSH").arg("LATER").query(&mut c);
    assert_eq!(
        err_text(r),
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
}

#[test]
fn a_script_is_one_revision() {
    let s = TestServer::start();
    let mut c = s.conn();
    let before = revision(&mut c);
    let _ = eval(
        &mut c,
        "redis.call('set', 'a', 1) redis.call('set', 'b', 2) redis.call('incr', 'a') return 1",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(revision(&mut c), before + 1);
    // A script that writes nothing takes no revision.
    let _ = eval(&mut c, "return redis.call('get', 'a')", &[], &[]).unwrap();
    assert_eq!(revision(&mut c), before + 1);
}

#[test]
fn eval_runs_inside_multi() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (a, b): (i64, String) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('incrby', KEYS[1], ARGV[1])")
        .arg(1)
        .arg("ctr")
        .arg(5)
        .cmd("EVAL")
        .arg("return redis.call('get', KEYS[1])")
        .arg(1)
        .arg("ctr")
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b.as_str()), (5, "5"));
}

#[test]
fn blocking_commands_do_not_block_in_scripts() {
    let s = TestServer::start();
    let mut c = s.conn();
    // BLMPOP is allowed in scripts and answers at once as on timeout; BLPOP is refused (NOSCRIPT).
    let v = eval(
        &mut c,
        "return redis.call('blmpop', 0, 1, 'nolist', 'LEFT')",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(v, Value::Nil);
    assert_eq!(
        err_text(eval(
            &mut c,
            "return redis.pcall('blpop', 'nolist', 0)",
            &[],
            &[]
        )),
        "ERR This Redis command is not allowed from script"
    );
}

const RELEASE: &str = "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

#[test]
fn owner_checked_release_never_lets_two_clients_hold_the_lock() {
    let s = TestServer::start();
    let holders = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let max_seen = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let acquired = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let threads: Vec<_> = (0..20)
        .map(|n| {
            let mut c = s.conn();
            let holders = holders.clone();
            let max_seen = max_seen.clone();
            let acquired = acquired.clone();
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering::SeqCst;
                let me = format!("owner-{n}");
                for _ in 0..30 {
                    let got: Option<String> = redis::cmd("SET")
                        .arg("lock")
                        .arg(&me)
                        .arg("NX")
                        .arg("PX")
                        .arg(10_000)
                        .query(&mut c)
                        .unwrap();
                    if got.is_none() {
                        // A non-owner's release must never delete someone else's lock.
                        let r: i64 = redis::cmd("EVAL")
                            .arg(RELEASE)
                            .arg(1)
                            .arg("lock")
                            .arg(&me)
                            .query(&mut c)
                            .unwrap();
                        assert_eq!(r, 0);
                        continue;
                    }
                    let now = holders.fetch_add(1, SeqCst) + 1;
                    max_seen.fetch_max(now, SeqCst);
                    acquired.fetch_add(1, SeqCst);
                    std::thread::yield_now();
                    holders.fetch_sub(1, SeqCst);
                    let r: i64 = redis::cmd("EVAL")
                        .arg(RELEASE)
                        .arg(1)
                        .arg("lock")
                        .arg(&me)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(r, 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(max_seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(acquired.load(std::sync::atomic::Ordering::SeqCst) > 0);
    let mut c = s.conn();
    let exists: i64 = redis::cmd("EXISTS").arg("lock").query(&mut c).unwrap();
    assert_eq!(exists, 0);
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    v
}

#[test]
fn resp3_clients_get_booleans_doubles_maps_and_sets() {
    let s = TestServer::start();
    let mut r = s.raw();
    let hello = support::roundtrip(&mut r, &resp(&["HELLO", "3"]), 1);
    assert!(hello.starts_with(b"%"));
    // Drain the rest of HELLO's map before the next command.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut sink = [0u8; 4096];
    r.set_nonblocking(true).unwrap();
    let _ = std::io::Read::read(&mut r, &mut sink);
    r.set_nonblocking(false).unwrap();
    // Booleans follow the script's redis.setresp level (2 by default), not the caller's protocol,
    // exactly as redis-server 7.0.15 answers these five.
    let cases: [(&str, &[u8]); 8] = [
        ("return true", b":1\r\n"),
        ("return false", b"_\r\n"),
        ("redis.setresp(3) return true", b"#t\r\n"),
        ("redis.setresp(3) return false", b"#f\r\n"),
        ("return {true, false}", b"*2\r\n:1\r\n_\r\n"),
        ("return {double=1.5}", b",1.5\r\n"),
        ("return {map={a=1}}", b"%1\r\n$1\r\na\r\n:1\r\n"),
        ("return {set={x=true}}", b"~1\r\n$1\r\nx\r\n"),
    ];
    for (body, want) in cases {
        let got = support::roundtrip(&mut r, &resp(&["EVAL", body, "0"]), want.len());
        assert_eq!(got, want, "{body}");
    }
    // A RESP2 client sees the same values in RESP2 form.
    let mut c = s.conn();
    assert_eq!(
        eval(&mut c, "return {map={a=1}}", &[], &[]).unwrap(),
        Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Int(1)])
    );
    assert_eq!(
        eval(&mut c, "return {double=2.5}", &[], &[]).unwrap(),
        Value::BulkString(b"2.5".to_vec())
    );
}

#[test]
fn deep_and_cyclic_tables_get_errors_and_the_server_survives() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert!(
        err_text(eval(
            &mut c,
            "local a = {}; local b = {a}; a[1] = b; return a",
            &[],
            &[]
        ))
        .starts_with("ERR reached lua stack limit")
    );
    let deep = "local a = {} local t = a for i = 1, 5000 do t[1] = {} t = t[1] end return X(a)";
    for f in ["cjson.encode", "cmsgpack.pack"] {
        let _ = eval(&mut c, &deep.replace('X', f), &[], &[]);
    }
    for body in [
        "return cjson.decode(string.rep('[', 100000))",
        "return cmsgpack.unpack(string.rep(string.char(0x91), 100000))",
    ] {
        assert!(eval(&mut c, body, &[], &[]).is_err());
    }
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn xread_block_sha1hex_arity_and_cjson_switches_behave_as_in_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        err_text(eval(
            &mut c,
            "return redis.pcall('xread', 'BLOCK', 0, 'STREAMS', 's', '$')",
            &[],
            &[]
        )),
        "ERR xread command is not allowed with BLOCK option from scripts"
    );
    let body = "return redis.sha1hex()";
    assert_eq!(
        err_text(eval(&mut c, body, &[], &[])),
        format!(
            "ERR wrong number of arguments script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    assert_eq!(
        eval(&mut c, "cjson.encode_keep_buffer(false) return 1", &[], &[]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        eval(&mut c, "return redis.replicate_commands()", &[], &[]).unwrap(),
        Value::Int(1)
    );
}

#[test]
fn cmsgpack_errors_limits_and_hostile_counts_match_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    // Errors carry the script position, as lua-cmsgpack's luaL_error/luaL_argerror do in Redis.
    assert!(
        err_text(eval(&mut c, "return cmsgpack.pack()", &[], &[])).starts_with(
            "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        )
    );
    assert!(
        err_text(eval(&mut c, "return cmsgpack.unpack()", &[], &[])).starts_with(
            "ERR user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"
        )
    );
    assert!(
        err_text(eval(
            &mut c,
            "return cmsgpack.unpack(string.char(0xcd, 1))",
            &[],
            &[]
        ))
        .starts_with("ERR user_script:1: Missing bytes in input.")
    );
    // A declared count of 2^32-1 elements with no bytes behind it fails at once, allocating nothing.
    for tag in [0xdd, 0xdf] {
        let body = format!("return cmsgpack.unpack(string.char({tag}, 255, 255, 255, 255))");
        assert!(
            err_text(eval(&mut c, &body, &[], &[])).starts_with("ERR user_script:1: Missing bytes")
        );
    }
    // unpack_limit / unpack_one: the offset to continue from (-1 at the end), then the objects.
    assert_eq!(
        eval(
            &mut c,
            "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
            &[],
            &[]
        )
        .unwrap(),
        Value::Array(vec![Value::Int(2), Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        eval(
            &mut c,
            "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
            &[],
            &[]
        )
        .unwrap(),
        Value::Array(vec![Value::Int(-1), Value::Int(3)])
    );
    // A nil map key is Lua's error, as in Redis; a nil value leaves the key out; nesting past 16
    // packs as nil.
    assert!(
        err_text(eval(
            &mut c,
            "return cmsgpack.unpack(string.char(0x81, 0xc0, 1))",
            &[],
            &[]
        ))
        .starts_with("ERR table index is nil")
    );
    assert_eq!(
        eval(
            &mut c,
            "local t = cmsgpack.unpack(string.char(0x81, 0xa1, 97, 0xc0)) \
             local n = 0 for _ in pairs(t) do n = n + 1 end \
             local d = {} for i = 1, 20 do d = {d} end \
             return {n, #cmsgpack.pack(d)}",
            &[],
            &[]
        )
        .unwrap(),
        Value::Array(vec![Value::Int(0), Value::Int(17)])
    );
}
