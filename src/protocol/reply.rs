//! Reply encoding: a connection's output buffer that writes RESP2 or RESP3 as the client negotiated.
//!
//! Handlers write straight into it (no reply tree is built), which keeps the hot path allocation-free; a
//! RESP3-only type is written in its RESP2 form when the client speaks RESP2, exactly as Redis does
//! (maps become flat arrays, doubles become bulk strings, null becomes `$-1` or `*-1`).

use crate::util::numbers::format_f64_score;

/// The protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    V2,
    V3,
}

/// An output buffer plus the protocol to write in.
#[derive(Debug)]
pub struct ReplyBuf {
    pub buf: Vec<u8>,
    pub resp: Resp,
}

impl ReplyBuf {
    pub fn new(resp: Resp) -> Self {
        Self {
            buf: Vec::with_capacity(4096),
            resp,
        }
    }

    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.resp == Resp::V3
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string; `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` starts with its code (`ERR ...`). CR and LF are replaced by spaces, as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n` (INCRBYFLOAT-style replies, GET of an int value).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (RESP2 `$-1`, RESP3 `_`).
    #[inline]
    pub fn null(&mut self) {
        match self.resp {
            Resp::V2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Resp::V3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (RESP2 `*-1`, RESP3 `_`).
    pub fn null_array(&mut self) {
        match self.resp {
            Resp::V2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Resp::V3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs (RESP2: an array of 2n elements).
    pub fn map(&mut self, n: usize) {
        match self.resp {
            Resp::V2 => self.header(b'*', 2 * n as i64),
            Resp::V3 => self.header(b'%', n as i64),
        }
    }

    /// A set of `n` elements (RESP2: an array).
    pub fn set(&mut self, n: usize) {
        match self.resp {
            Resp::V2 => self.header(b'*', n as i64),
            Resp::V3 => self.header(b'~', n as i64),
        }
    }

    /// A push message of `n` elements (RESP2: an array).
    pub fn push(&mut self, n: usize) {
        match self.resp {
            Resp::V2 => self.header(b'*', n as i64),
            Resp::V3 => self.header(b'>', n as i64),
        }
    }

    /// A double (RESP2: a bulk string in Redis's format).
    pub fn double(&mut self, v: f64) {
        let mut s = Vec::with_capacity(24);
        format_f64_score(v, &mut s);
        match self.resp {
            Resp::V2 => self.bulk(&s),
            Resp::V3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(&s);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean (RESP2: integer 1 or 0).
    pub fn boolean(&mut self, v: bool) {
        match self.resp {
            Resp::V2 => self.int(v as i64),
            Resp::V3 => self
                .buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// Text that RESP3 sends as a verbatim string (`=len\r\ntxt:...`), as Redis does for INFO and CLIENT LIST.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.resp {
            Resp::V2 => self.bulk(text),
            Resp::V3 => {
                self.header(b'=', text.len() as i64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends bytes that are already a complete RESP encoding.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_flat_arrays_in_resp2() {
        let mut r = ReplyBuf::new(Resp::V2);
        r.map(2);
        assert_eq!(r.buf, b"*4\r\n");
        let mut r = ReplyBuf::new(Resp::V3);
        r.map(2);
        assert_eq!(r.buf, b"%2\r\n");
    }

    #[test]
    fn null_follows_the_protocol() {
        let mut r = ReplyBuf::new(Resp::V2);
        r.null();
        r.null_array();
        assert_eq!(r.buf, b"$-1\r\n*-1\r\n");
        let mut r = ReplyBuf::new(Resp::V3);
        r.null();
        assert_eq!(r.buf, b"_\r\n");
    }

    #[test]
    fn error_text_never_breaks_the_frame() {
        let mut r = ReplyBuf::new(Resp::V2);
        r.error("ERR bad\r\nthing");
        assert_eq!(r.buf, b"-ERR bad  thing\r\n");
    }
}
