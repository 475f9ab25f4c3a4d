//! Test harness: starts the real `concord` binary on an ephemeral port and hands out real clients.
//!
//! The server is started with `--port 0` and `--enable-debug-command yes`; the port is read from its
//! "Ready to accept connections" log line. Time-dependent tests move the server's clock with
//! `DEBUG CLOCK FREEZE|ADVANCE|SET` instead of sleeping.

#![allow(dead_code)]

pub mod revisions;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server, killed on drop.
pub struct TestServer {
    child: Child,
    pub port: u16,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts with extra `--directive value` arguments.
    pub fn start_with(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_concord"))
            .args(["--port", "0", "--enable-debug-command", "yes"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn concord");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("concord exited before it was ready")
                .expect("read log line");
            if line.contains("Ready to accept connections") {
                let p = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("port="))
                    .and_then(|p| p.parse().ok())
                    .expect("port in ready line");
                break p;
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        TestServer { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous `redis` crate connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// A raw TCP stream for protocol-level tests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        s
    }

    /// Runs `redis-cli -p <port> args...` and returns its stdout, or None when redis-cli is not installed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Freezes the server clock and returns its time (ms).
    pub fn freeze_clock(&self, c: &mut redis::Connection) -> i64 {
        freeze_clock(c)
    }

    /// Moves the server clock forward by `ms`.
    pub fn advance_clock(&self, c: &mut redis::Connection, ms: i64) -> i64 {
        advance_clock(c, ms)
    }
}

/// Freezes the clock of the server behind `c` and returns its time (ms).
pub fn freeze_clock(c: &mut redis::Connection) -> i64 {
    redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("FREEZE")
        .query(c)
        .expect("freeze")
}

/// Moves the clock of the server behind `c` forward by `ms` and returns its new time (ms).
pub fn advance_clock(c: &mut redis::Connection, ms: i64) -> i64 {
    redis::cmd("DEBUG")
        .arg("CLOCK")
        .arg("ADVANCE")
        .arg(ms)
        .query(c)
        .expect("advance")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends raw bytes and reads until `expect_len` bytes arrived or the peer closed; returns what came.
pub fn roundtrip(stream: &mut TcpStream, send: &[u8], expect_len: usize) -> Vec<u8> {
    stream.write_all(send).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while got.len() < expect_len {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    got
}

/// Reads until the peer closes the connection (or the read timeout); returns everything received.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

/// Sends `HELLO 3` and then each of `cmds` (inline commands) on a fresh connection to `port`, and
/// returns each command's raw reply bytes, read until nothing more arrives for `quiet`.
pub fn resp3_replies(port: u16, quiet: Duration, cmds: &[&str]) -> Vec<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(quiet)).unwrap();
    let read_all = |s: &mut TcpStream| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    s.write_all(b"HELLO 3\r\n").unwrap();
    read_all(&mut s);
    cmds.iter()
        .map(|cmd| {
            s.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
            read_all(&mut s)
        })
        .collect()
}

/// Sends each command of `want` on one RESP3 connection to `port` (see [`resp3_replies`]) and checks
/// that its raw reply bytes are the ones paired with it.
pub fn assert_resp3_replies(port: u16, quiet: Duration, want: &[(&str, &[u8])]) {
    let cmds: Vec<&str> = want.iter().map(|(c, _)| *c).collect();
    let got = resp3_replies(port, quiet, &cmds);
    assert_eq!(got.len(), want.len());
    for ((cmd, w), g) in want.iter().zip(&got) {
        assert_eq!(
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w),
            "{cmd}"
        );
    }
}

/// `args` as a RESP2 command (text arguments).
pub fn resp_command(args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    req
}

/// Reads one whole RESP2 reply and renders it compactly: `nil`, `*-1`, `[a, b]`, the bulk's text,
/// or the line itself for `:n`, `+OK`, `-ERR ...`.
pub fn read_compact_reply(r: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let line = line.trim_end().to_string();
    let (kind, rest) = line.split_at(1);
    match kind {
        "*" if rest == "-1" => "*-1".into(),
        "*" => {
            let n: usize = rest.parse().unwrap();
            let items: Vec<String> = (0..n).map(|_| read_compact_reply(r)).collect();
            format!("[{}]", items.join(", "))
        }
        "$" if rest == "-1" => "nil".into(),
        "$" => {
            let mut v = String::new();
            r.read_line(&mut v).unwrap();
            v.trim_end().to_string()
        }
        _ => line,
    }
}
