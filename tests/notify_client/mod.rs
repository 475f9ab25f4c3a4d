//! A small RESP2/RESP3 client over a raw socket for the notification and tracking tests: it sends
//! commands and reads replies and push messages one value at a time, so a test can assert the exact
//! sequence a connection receives.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One RESP value, flattened enough for assertions.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Err(String),
    Int(i64),
    Nil,
    Arr(Vec<Val>),
    Push(Vec<Val>),
}

impl Val {
    /// Words of the value, nested arrays flattened, nil as "nil" (Redis's Tcl tests read them alike).
    pub fn words(&self) -> Vec<String> {
        match self {
            Val::Str(s) | Val::Err(s) => vec![s.clone()],
            Val::Int(n) => vec![n.to_string()],
            Val::Nil => vec!["nil".into()],
            Val::Arr(v) | Val::Push(v) => v.iter().flat_map(Val::words).collect(),
        }
    }

    /// The words joined by spaces.
    pub fn text(&self) -> String {
        self.words().join(" ")
    }
}

/// A raw connection.
pub struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        Client {
            w: s.try_clone().expect("clone"),
            r: BufReader::new(s),
        }
    }

    /// A connection that switched to RESP3 with HELLO 3.
    pub fn resp3(port: u16) -> Client {
        let mut c = Client::connect(port);
        let hello = c.call(&["HELLO", "3"]);
        assert!(matches!(hello, Val::Arr(_)), "HELLO 3: {hello:?}");
        c
    }

    pub fn send(&mut self, args: &[&str]) {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&b).expect("write");
    }

    /// Sends a command and reads the next value (a reply, or a push that came first).
    pub fn call(&mut self, args: &[&str]) -> Val {
        self.send(args);
        self.read()
    }

    /// Sends a command and returns its reply, collecting push messages that arrive before it.
    pub fn call_collect(&mut self, args: &[&str], pushes: &mut Vec<Val>) -> Val {
        self.send(args);
        loop {
            match self.read() {
                p @ Val::Push(_) => pushes.push(p),
                v => return v,
            }
        }
    }

    pub fn id(&mut self) -> i64 {
        match self.call(&["CLIENT", "ID"]) {
            Val::Int(n) => n,
            v => panic!("CLIENT ID: {v:?}"),
        }
    }

    /// Reads one value (panics on timeout).
    pub fn read(&mut self) -> Val {
        self.try_read().expect("a value before the timeout")
    }

    /// Reads one value, None if nothing arrives within the read timeout.
    pub fn try_read(&mut self) -> Option<Val> {
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let line = line.trim_end_matches("\r\n").to_string();
        let (t, rest) = line.split_at(1);
        Some(match t {
            "+" => Val::Str(rest.into()),
            "-" => Val::Err(rest.into()),
            ":" => Val::Int(rest.parse().expect("int")),
            "_" => Val::Nil,
            "#" => Val::Str(rest.into()),
            "," => Val::Str(rest.into()),
            "$" | "=" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    Val::Nil
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.r.read_exact(&mut b).expect("bulk");
                    b.truncate(n as usize);
                    Val::Str(String::from_utf8_lossy(&b).into_owned())
                }
            }
            "*" | "~" | ">" | "%" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    Val::Nil
                } else {
                    let n = if t == "%" { n * 2 } else { n };
                    let v: Vec<Val> = (0..n).map(|_| self.read()).collect();
                    if t == ">" { Val::Push(v) } else { Val::Arr(v) }
                }
            }
            _ => panic!("unexpected RESP line {line:?}"),
        })
    }

    /// Waits at most `ms` for a value.
    pub fn read_within(&mut self, ms: u64) -> Option<Val> {
        self.w
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .ok();
        let v = self.try_read();
        self.w.set_read_timeout(Some(Duration::from_secs(5))).ok();
        v
    }
}
