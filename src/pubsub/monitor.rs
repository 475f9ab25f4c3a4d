//! MONITOR: the clients that receive a line for every command the server runs, in Redis's format
//! (`+<sec>.<usec> [<db> <addr>] "cmd" "arg" ...`, `[<db> lua]` for commands run by scripts).
//!
//! Feeding costs one relaxed atomic load while nobody monitors.

use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::clients::ClientInfo;

/// The MONITOR clients.
#[derive(Default)]
pub struct Monitors {
    clients: Mutex<Vec<Arc<ClientInfo>>>,
    count: AtomicUsize,
}

/// Who ran the command a MONITOR line reports.
pub enum Origin<'a> {
    /// A client connection, by `ip:port`.
    Client(&'a str),
    /// A script's `redis.call` / `redis.pcall`.
    Lua,
}

impl Monitors {
    /// Whether anyone monitors (the cheap check callers make before building a line).
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Makes `client` a monitor (idempotent).
    pub fn add(&self, client: &Arc<ClientInfo>) {
        let mut list = self.clients.lock();
        if !list.iter().any(|c| c.id == client.id) {
            list.push(client.clone());
            client.monitor.store(true, Ordering::Relaxed);
            self.count.store(list.len(), Ordering::Relaxed);
        }
    }

    pub fn remove(&self, client: &ClientInfo) {
        let mut list = self.clients.lock();
        list.retain(|c| c.id != client.id);
        client.monitor.store(false, Ordering::Relaxed);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Sends one command's line to every monitor. `now_us` is Unix time in microseconds.
    pub fn feed(&self, now_us: u64, db: usize, origin: Origin, argv: &[Bytes]) {
        if !self.active() {
            return;
        }
        let line = format_line(now_us, db, origin, argv);
        let list = self.clients.lock().clone();
        for c in list {
            c.push(&line);
        }
    }
}

/// Appends `arg` quoted and escaped as Redis's `sdscatrepr` does.
fn repr(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// One MONITOR line, as a RESP simple string.
pub fn format_line(now_us: u64, db: usize, origin: Origin, argv: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + argv.iter().map(|a| a.len() + 3).sum::<usize>());
    out.extend_from_slice(
        format!("+{}.{:06} [{db} ", now_us / 1_000_000, now_us % 1_000_000).as_bytes(),
    );
    match origin {
        Origin::Client(addr) => out.extend_from_slice(addr.as_bytes()),
        Origin::Lua => out.extend_from_slice(b"lua"),
    }
    out.extend_from_slice(b"] ");
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        repr(&mut out, a);
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_redis_format_and_escaping() {
        let argv = vec![
            Bytes::from("set"),
            Bytes::from("k"),
            Bytes::from("a\"b\n\x01"),
        ];
        let line = format_line(
            1_700_000_000_123_456,
            0,
            Origin::Client("127.0.0.1:5000"),
            &argv,
        );
        assert_eq!(
            line,
            b"+1700000000.123456 [0 127.0.0.1:5000] \"set\" \"k\" \"a\\\"b\\n\\x01\"\r\n"
        );
        let line = format_line(1_000_000_000_000_007, 3, Origin::Lua, &argv[..1]);
        assert_eq!(line, b"+1000000000.000007 [3 lua] \"set\"\r\n");
    }
}
