//! A small RESP2/RESP3 reader and raw-socket helpers shared by the protocol, connection and server
//! integration tests (included with `#[path]`); compiled alone it holds no tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Double(String),
    Bool(bool),
    Verbatim(String),
}

impl Reply {
    /// The text of a simple string, bulk or verbatim string.
    pub fn text(&self) -> String {
        match self {
            Reply::Simple(s) | Reply::Verbatim(s) | Reply::Double(s) | Reply::Error(s) => s.clone(),
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }
}

/// A raw connection that reads replies one at a time.
pub struct Raw {
    pub r: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.set_nodelay(true).ok();
        Raw {
            r: BufReader::new(s),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.r.get_mut()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("write");
    }

    /// Sends one command as a RESP multibulk.
    pub fn send_cmd(&mut self, args: &[&[u8]]) {
        let b = encode(args);
        self.send(&b);
    }

    /// Sends a command and reads its reply.
    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send_cmd(&a);
        self.read()
    }

    pub fn read(&mut self) -> Reply {
        read_reply(&mut self.r).expect("reply")
    }

    /// Reads everything until the server closes the connection.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        let _ = self.r.read_to_end(&mut v);
        v
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a);
        b.extend_from_slice(b"\r\n");
    }
    b
}

fn line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut v = Vec::new();
    r.read_until(b'\n', &mut v)?;
    if v.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    while v.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        v.pop();
    }
    Ok(String::from_utf8_lossy(&v).into_owned())
}

fn payload(r: &mut impl BufRead, n: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; n + 2];
    r.read_exact(&mut b)?;
    b.truncate(n);
    Ok(b)
}

/// Reads one complete reply.
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let l = line(r)?;
    let (kind, rest) = l.split_at(1);
    let n = || rest.parse::<i64>().unwrap_or(-1);
    Ok(match kind {
        "+" => Reply::Simple(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Int(n()),
        "_" => Reply::Nil,
        "," => Reply::Double(rest.into()),
        "#" => Reply::Bool(rest == "t"),
        "$" if n() < 0 => Reply::Nil,
        "$" => Reply::Bulk(payload(r, n() as usize)?),
        "=" => {
            let b = payload(r, n() as usize)?;
            Reply::Verbatim(String::from_utf8_lossy(&b[4.min(b.len())..]).into_owned())
        }
        "*" | ">" if n() < 0 => Reply::Nil,
        "*" | ">" | "~" => {
            let mut v = Vec::new();
            for _ in 0..n() {
                v.push(read_reply(r)?);
            }
            if kind == "~" {
                Reply::Set(v)
            } else {
                Reply::Array(v)
            }
        }
        "%" => {
            let mut v = Vec::new();
            for _ in 0..n() {
                let k = read_reply(r)?;
                v.push((k, read_reply(r)?));
            }
            Reply::Map(v)
        }
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad reply line {l:?}"),
            ));
        }
    })
}

/// `INFO <section>` parsed into (field, value) pairs.
pub fn info_fields(raw: &mut Raw, section: &str) -> Vec<(String, String)> {
    let text = raw.cmd(&["INFO", section]).text();
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

pub fn info_field(raw: &mut Raw, section: &str, name: &str) -> Option<String> {
    info_fields(raw, section)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
