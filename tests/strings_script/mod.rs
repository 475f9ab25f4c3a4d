//! Script-style checks shared by the strings and keys tests: a table of `command => expected reply` lines
//! run over a real `redis` crate connection, so a whole command's behaviour reads as one block.
//!
//! Replies render as: `+OK` / `+status` for simple strings, `:n` for integers, the bytes for bulk strings
//! (quoted with `\xNN` escapes when empty or not bare printable ASCII), `nil`, `[a, b]` for arrays and `-CODE detail` for errors, byte-exact.
//!
//! The tests that use it run against a fresh Concord by default. With `CONCORD_TEST_REDIS_PORT=<port>`
//! they run against a real redis-server on that port instead (the server is flushed per test; run with
//! `--test-threads=1`), which is how the expectations were checked against Redis 7.0. Tests of
//! Concord-only behaviour (server clock, revisions, Redis 8 options) call [`Target::concord_only`].

#![allow(dead_code)]

use redis::Value;

use crate::support::TestServer;

/// The server under test: Concord started for this test, or an external Redis.
pub struct Target {
    server: Option<TestServer>,
    port: u16,
}

impl Target {
    /// A fresh Concord, or the external Redis named by `CONCORD_TEST_REDIS_PORT`, flushed.
    pub fn start() -> Self {
        match std::env::var("CONCORD_TEST_REDIS_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
        {
            Some(port) => {
                let t = Target { server: None, port };
                let _: () = redis::cmd("FLUSHALL")
                    .query(&mut t.conn())
                    .expect("flushall");
                t
            }
            None => {
                let s = TestServer::start();
                let port = s.port;
                Target {
                    server: Some(s),
                    port,
                }
            }
        }
    }

    /// A fresh Concord even when an external Redis is configured, for Concord-only behaviour; None (the
    /// test returns early) when running against Redis.
    pub fn concord_only() -> Option<Self> {
        if std::env::var("CONCORD_TEST_REDIS_PORT").is_ok() {
            return None;
        }
        Some(Self::start())
    }

    pub fn is_redis(&self) -> bool {
        self.server.is_none()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection()
            .expect("connect")
    }
}

/// Renders a reply (or error) as described in the module docs.
pub fn render(r: redis::RedisResult<Value>) -> String {
    match r {
        Ok(v) => render_value(&v),
        Err(e) => match (e.code(), e.detail()) {
            (Some(code), Some(detail)) => format!("-{code} {detail}"),
            (Some(code), None) => format!("-{code}"),
            _ => format!("-<client error: {e}>"),
        },
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Int(n) => format!(":{n}"),
        Value::BulkString(b) => render_bulk(b),
        Value::Okay => "+OK".into(),
        Value::SimpleString(s) => format!("+{s}"),
        Value::Array(items) | Value::Set(items) => {
            let parts: Vec<String> = items.iter().map(render_value).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(pairs) => {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", render_value(k), render_value(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// A bulk string as written in scripts: bare when it is non-empty printable ASCII without spaces or quotes,
/// else quoted with `\xNN` for other bytes.
fn render_bulk(b: &[u8]) -> String {
    let bare = |c: &u8| c.is_ascii_graphic() && *c != b'"' && *c != b'\\';
    if !b.is_empty() && b.iter().all(bare) {
        return String::from_utf8_lossy(b).into_owned();
    }
    let mut s = String::from("\"");
    for c in b {
        if *c == b' ' || bare(c) {
            s.push(*c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s.push('"');
    s
}

/// Splits a command line into arguments: whitespace-separated, `"..."` quotes (with `\"`, `\\`, `\n`,
/// `\r` and `\xNN` escapes) for arguments holding spaces, empty strings or binary bytes.
pub fn split_args(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    match b[i] {
                        b'n' => arg.push(b'\n'),
                        b'r' => arg.push(b'\r'),
                        b'x' if i + 2 < b.len() => {
                            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
                            arg.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                            i += 2;
                        }
                        c => arg.push(c),
                    }
                } else {
                    arg.push(b[i]);
                }
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                arg.push(b[i]);
                i += 1;
            }
        }
        args.push(arg);
    }
    args
}

/// Runs one command line and renders the reply.
pub fn run(c: &mut redis::Connection, line: &str) -> String {
    let args = split_args(line);
    let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).expect("command name"));
    for a in &args[1..] {
        cmd.arg(&a[..]);
    }
    render(cmd.query::<Value>(c))
}

/// Runs a script of `command => expected` lines (blank lines and `#` comments skipped) and fails on the
/// first line whose rendered reply differs, naming it. An expected `*` accepts any reply.
pub fn script(c: &mut redis::Connection, text: &str) {
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cmd, want) = line
            .split_once(" => ")
            .unwrap_or_else(|| panic!("script line {} has no ` => `: {line}", n + 1));
        let got = run(c, cmd);
        if want.trim() != "*" {
            assert_eq!(got, want.trim(), "script line {}: {cmd}", n + 1);
        }
    }
}
