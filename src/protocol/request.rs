//! Incremental request framing: turns the bytes a client sent into command argument vectors, with the
//! exact acceptance rules, limits and error strings of Redis 7's inline and multibulk (RESP) parsers.
//! The parser owns the state of a partially received multibulk command (argument count, arguments so
//! far, pending bulk length), so bytes it has consumed are never looked at again however the input is
//! split; the connection owns the input buffer and its growth.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// Redis's default `proto-max-bulk-len` (512 MiB).
pub const DEFAULT_PROTO_MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// Redis's `PROTO_INLINE_MAX_SIZE` (64 KiB).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Largest multibulk count an unauthenticated client may send.
const UNAUTH_MAX_MULTIBULK: i64 = 10;

/// Largest bulk length an unauthenticated client may send.
const UNAUTH_MAX_BULK: usize = 16384;

/// The argument vector never starts bigger than this, whatever count the client declared, so a
/// `*2147483647` header costs nothing until the arguments actually arrive.
const MAX_INITIAL_ARGS: usize = 1024;

/// Upper bound for [`RequestParser::wanted_bytes`], so a declared 512 MiB bulk is not preallocated.
const MAX_WANTED_BYTES: usize = 1024 * 1024;

/// Redis's `LONG_STR_SIZE`: `string2ll` rejects any string at least this long without reading it.
const LONG_STR_SIZE: usize = 21;

/// The limits a request must respect; they mirror Redis configuration and authentication state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Redis `proto-max-bulk-len`: a longer bulk is an "invalid bulk length".
    pub proto_max_bulk_len: usize,
    /// Redis `PROTO_INLINE_MAX_SIZE`: the most bytes buffered while waiting for the end of an inline
    /// request or of a `*`/`$` count line.
    pub inline_max: usize,
    /// `false` applies Redis's limits for clients that still have to authenticate (at most 10
    /// arguments of at most 16384 bytes each).
    pub authenticated: bool,
}

impl Default for Limits {
    /// 512 MiB bulks, 64 KiB inline/count lines, authenticated.
    fn default() -> Self {
        Self {
            proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
            inline_max: PROTO_INLINE_MAX_SIZE,
            authenticated: true,
        }
    }
}

/// A malformed request. The field is Redis's message without its prefix; `Display` adds
/// "Protocol error: ", giving the exact text Redis replies with before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: &str) -> Self {
        Self(msg.to_owned())
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Outcome of reading a multibulk header line.
enum Header {
    /// The count line is not complete yet.
    Incomplete,
    /// `*0`, `*-1` and other non-positive counts: consumed, no command.
    Empty,
    /// A positive count was read; arguments follow.
    Started,
}

/// Incremental parser for one connection's request stream.
///
/// Feed it the connection's input buffer after every read; it consumes complete pieces from the front
/// and remembers where it is inside a multibulk command. The caller must only append to the buffer
/// between calls (never drop or rewrite bytes the parser has not consumed), and must close the
/// connection after a [`ProtocolError`], as Redis does: the parser resets, but the buffer is left
/// wherever the error was found.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still to read for the current multibulk command; 0 when no command is in progress.
    remaining: usize,
    /// Length of the bulk whose `$` line was consumed but whose payload has not fully arrived.
    bulk_len: Option<usize>,
    /// Arguments of the current multibulk command read so far.
    args: Vec<Bytes>,
    /// Total length of `args`.
    args_len: usize,
    /// How many bytes at the front of the buffer are known to hold no line terminator, so a long line
    /// arriving in small pieces is searched only once.
    scanned: usize,
    /// See [`RequestParser::wanted_bytes`].
    wanted: Option<usize>,
}

impl RequestParser {
    /// A parser waiting for the first byte of a command.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the next complete command out of `buf`, consuming (`split_to`/`advance`) the bytes it used.
    ///
    /// `Ok(None)` means more bytes are needed; any partial multibulk state (argument count, arguments so
    /// far, pending bulk length) is kept in the parser and those bytes are gone from `buf`, so nothing
    /// is parsed twice. Empty inline lines and non-positive multibulk counts (`*0`, `*-1`) are consumed
    /// and skipped, never returned. Multibulk arguments are zero-copy slices of `buf`'s memory (so they
    /// keep that allocation alive); inline arguments are copies. Returned vectors are never empty.
    pub fn next_command(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.wanted = None;
        // The caller promises only to append, but never trust a stale offset past the end.
        self.scanned = self.scanned.min(buf.len());
        let result = self.parse(buf, limits);
        if result.is_err() {
            *self = Self::default();
        }
        result
    }

    /// Bytes of arguments already taken out of the buffer for the partially parsed command (Redis's
    /// `argv_len_sum`). It does not include bytes still in the buffer. Redis 7 checks
    /// `client-query-buffer-limit` against its unparsed query buffer only, so adding this is stricter.
    pub fn pending_bytes(&self) -> usize {
        self.args_len
    }

    /// True when no multibulk command is partially parsed (an incomplete inline line or count line
    /// still sitting in the buffer does not count: the parser holds no state for it).
    pub fn is_idle(&self) -> bool {
        self.remaining == 0
    }

    /// After `next_command` returned `Ok(None)` in the middle of a bulk payload: how many more bytes
    /// that bulk (plus its trailing CRLF) needed at that moment, capped at 1 MiB, so the connection can
    /// size its next read without trusting the declared length. `None` otherwise.
    pub fn wanted_bytes(&self) -> Option<usize> {
        self.wanted
    }

    fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.remaining == 0 {
                // The request type is decided by the first byte of each new command.
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first == b'*' {
                    match self.read_multibulk_header(buf, limits)? {
                        Header::Incomplete => return Ok(None),
                        Header::Empty => continue,
                        Header::Started => {}
                    }
                } else {
                    match self.read_inline(buf, limits)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                }
            }
            return self.read_bulks(buf, limits);
        }
    }

    /// Finds the first `term` in `buf`, resuming the search where the previous call stopped.
    ///
    /// Redis searches with `strchr`, which stops at a NUL byte: a NUL before the terminator means
    /// the line never completes (until the size limit turns it into an error). We keep that, so a
    /// client gets the same reply from us as from Redis.
    fn find(&mut self, buf: &[u8], term: u8) -> Option<usize> {
        let start = self.scanned.min(buf.len());
        let rest = buf.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == term || b == 0) {
            Some(i) => {
                let at = start + i;
                // Resume at this very byte next time: re-finding it costs one comparison.
                self.scanned = at;
                (buf.get(at) == Some(&term)).then_some(at)
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Drops `n` bytes from the front of `buf` (framing the caller does not need).
    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n.min(buf.len()));
        self.scanned = 0;
    }

    /// One inline command: a line ending in LF (an optional CR before it is dropped), split into
    /// arguments like `sdssplitargs`. `Some(vec![])` for a blank line.
    fn read_inline(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(newline) = self.find(buf, b'\n') else {
            // Only an unterminated line is limited: a complete one is accepted whatever its size.
            if buf.len() > limits.inline_max {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let line_end = match newline.checked_sub(1) {
            Some(cr) if buf.get(cr) == Some(&b'\r') => cr,
            _ => newline,
        };
        let line = buf.get(..line_end).unwrap_or_default();
        let args = split_inline_args(line)
            .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        self.consume(buf, newline + 1);
        Ok(Some(args))
    }

    /// Locates the CR ending a count line at the front of `buf`, applying the size limit while it is
    /// missing. `Ok(None)` until both the CR and the byte after it (not checked to be LF, like Redis)
    /// have arrived.
    fn count_line_end(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        too_big: &str,
    ) -> Result<Option<usize>, ProtocolError> {
        match self.find(buf, b'\r') {
            None if buf.len() > limits.inline_max => Err(ProtocolError::new(too_big)),
            None => Ok(None),
            // `cr < buf.len()`, so the subtraction cannot underflow.
            Some(cr) if buf.len() - cr < 2 => Ok(None),
            Some(cr) => Ok(Some(cr)),
        }
    }

    /// Reads `*<count>\r\n` (the caller saw the `*`).
    fn read_multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Header, ProtocolError> {
        let Some(cr) = self.count_line_end(buf, limits, "too big mbulk count string")? else {
            return Ok(Header::Incomplete);
        };
        let count = buf
            .get(1..cr)
            .and_then(parse_strict_i64)
            .filter(|&n| n <= i64::from(i32::MAX))
            .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
        if !limits.authenticated && count > UNAUTH_MAX_MULTIBULK {
            return Err(ProtocolError::new("unauthenticated multibulk length"));
        }
        self.consume(buf, cr + 2);
        // Non-positive counts are consumed without producing a command.
        let Ok(count) = usize::try_from(count) else {
            return Ok(Header::Empty);
        };
        if count == 0 {
            return Ok(Header::Empty);
        }
        self.remaining = count;
        self.bulk_len = None;
        self.args = Vec::with_capacity(count.min(MAX_INITIAL_ARGS));
        self.args_len = 0;
        Ok(Header::Started)
    }

    /// Reads `$<len>\r\n<payload>\r\n` items until the command is complete or the buffer runs out.
    fn read_bulks(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let Some(len) = self.read_bulk_header(buf, limits)? else {
                        return Ok(None);
                    };
                    self.bulk_len = Some(len);
                    len
                }
            };
            // `len` is at most `proto_max_bulk_len`, but stay checked whatever the limits say.
            let needed = len
                .checked_add(2)
                .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
            if buf.len() < needed {
                self.wanted = Some((needed - buf.len()).min(MAX_WANTED_BYTES));
                return Ok(None);
            }
            let arg = buf.split_to(len).freeze();
            // The two bytes after the payload are skipped unchecked, as Redis does.
            self.consume(buf, 2);
            self.args_len = self.args_len.saturating_add(len);
            if self.args.len() == self.args.capacity() {
                // Grow by doubling, but never past the declared count (as Redis sizes its argv).
                let more = self.args.len().min(self.remaining).max(1);
                self.args.reserve_exact(more);
            }
            self.args.push(arg);
            self.bulk_len = None;
            self.remaining -= 1;
        }
        self.args_len = 0;
        Ok(Some(std::mem::take(&mut self.args)))
    }

    /// Reads a `$<len>\r\n` line and returns the validated length, or `None` if it is incomplete.
    fn read_bulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<usize>, ProtocolError> {
        let Some(cr) = self.count_line_end(buf, limits, "too big bulk count string")? else {
            return Ok(None);
        };
        match buf.first() {
            Some(b'$') => {}
            // Redis formats the byte with `%c`; the reply writer turns CR/LF into spaces as Redis's
            // addReplyErrorFormat does.
            Some(&other) => {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    char::from(other)
                )));
            }
            None => return Ok(None),
        }
        let len = buf
            .get(1..cr)
            .and_then(parse_strict_i64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.proto_max_bulk_len)
            .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
        if !limits.authenticated && len > UNAUTH_MAX_BULK {
            return Err(ProtocolError::new("unauthenticated bulk length"));
        }
        self.consume(buf, cr + 2);
        Ok(Some(len))
    }
}

/// Parses a decimal integer as strictly as Redis's `string2ll`: an optional `-`, no `+`, no spaces,
/// no leading zeros (and so no `-0`), and the value must fit an `i64`.
fn parse_strict_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        // Subtracting from zero reaches i64::MIN, whose magnitude exceeds i64::MAX.
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// C's `isspace` in the "C" locale, which Redis uses for character classes.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits an inline request line into arguments with the rules of Redis's `sdssplitargs`; `None`
/// for unbalanced quotes or a closing quote followed by something other than whitespace.
///
/// Blanks between arguments are any C whitespace, but an unquoted argument only ends at a space,
/// tab, CR or LF (so a vertical tab or form feed inside one is kept, as in Redis). A quote may open
/// in the middle of an argument (`a"b c"` is `ab c`) and always ends it. The line never contains
/// NUL (see [`RequestParser::find`]), which the C code would treat as its end.
fn split_inline_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while line.get(pos).is_some_and(|&b| is_c_space(b)) {
            pos += 1;
        }
        if pos >= line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        loop {
            match line.get(pos) {
                None => break,
                Some(b' ' | b'\n' | b'\r' | b'\t') => {
                    pos += 1;
                    break;
                }
                Some(b'"') => {
                    pos = read_double_quoted(line, pos + 1, &mut arg)?;
                    break;
                }
                Some(b'\'') => {
                    pos = read_single_quoted(line, pos + 1, &mut arg)?;
                    break;
                }
                Some(&b) => {
                    arg.push(b);
                    pos += 1;
                }
            }
        }
        args.push(Bytes::from(arg));
    }
}

/// Reads a "double quoted" argument body starting at `pos` (just past the opening quote) into `arg`,
/// returning the position after the closing quote. Escapes: `\n \r \t \b \a \xHH`, and `\` before
/// any other byte yields that byte.
fn read_double_quoted(line: &[u8], mut pos: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *line.get(pos)? {
            b'\\' => {
                let escaped = *line.get(pos + 1)?;
                let hex_at = |i: usize| line.get(i).and_then(|&h| hex_value(h));
                let hex = match escaped {
                    b'x' => hex_at(pos + 2).zip(hex_at(pos + 3)),
                    _ => None,
                };
                if let Some((high, low)) = hex {
                    arg.push(high * 16 + low);
                    pos += 4;
                } else {
                    arg.push(match escaped {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    pos += 2;
                }
            }
            b'"' => return after_closing_quote(line, pos + 1),
            b => {
                arg.push(b);
                pos += 1;
            }
        }
    }
}

/// Reads a 'single quoted' argument body starting at `pos` into `arg`, returning the position after
/// the closing quote. The only escape is `\'`.
fn read_single_quoted(line: &[u8], mut pos: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *line.get(pos)? {
            b'\\' if line.get(pos + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                pos += 2;
            }
            b'\'' => return after_closing_quote(line, pos + 1),
            b => {
                arg.push(b);
                pos += 1;
            }
        }
    }
}

/// A closing quote must be followed by whitespace or the end of the line.
fn after_closing_quote(line: &[u8], pos: usize) -> Option<usize> {
    match line.get(pos) {
        Some(&b) if !is_c_space(b) => None,
        _ => Some(pos),
    }
}

/// The value of an ASCII hex digit of either case.
fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unauthenticated() -> Limits {
        Limits {
            authenticated: false,
            ..Limits::default()
        }
    }

    /// Feeds `input` in one piece and collects commands until the parser needs more or fails.
    fn parse_all(input: &[u8], limits: &Limits) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        parse_chunked(input, &[input.len().max(1)], limits)
    }

    /// Feeds `input` in chunks of the given sizes (cycled), draining commands after every chunk.
    fn parse_chunked(
        input: &[u8],
        sizes: &[usize],
        limits: &Limits,
    ) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut commands = Vec::new();
        let mut rest = input;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            buf.extend_from_slice(chunk);
            loop {
                match parser.next_command(&mut buf, limits) {
                    Ok(Some(args)) => {
                        assert!(!args.is_empty(), "empty commands are never returned");
                        commands.push(args.iter().map(|a| a.to_vec()).collect());
                    }
                    Ok(None) => break,
                    Err(e) => return (commands, Some(e)),
                }
            }
        }
        (commands, None)
    }

    fn error_of(input: &[u8], limits: &Limits) -> String {
        match parse_all(input, limits).1 {
            Some(e) => e.to_string(),
            None => panic!("no error for {:?}", String::from_utf8_lossy(input)),
        }
    }

    fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn encode_multibulk(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn encode_with_redis_protocol(args: &[Vec<u8>]) -> Vec<u8> {
        use redis_protocol::resp2::encode::encode;
        use redis_protocol::resp2::types::{OwnedFrame, Resp2Frame};
        let frame = OwnedFrame::Array(args.iter().cloned().map(OwnedFrame::BulkString).collect());
        let mut out = vec![0; frame.encode_len(false)];
        let written = encode(&mut out, &frame, false).expect("encoder output fits its own length");
        out.truncate(written);
        out
    }

    fn inline_args(line: &str) -> Vec<Vec<u8>> {
        let input = format!("{line}\r\n");
        let (commands, err) = parse_all(input.as_bytes(), &Limits::default());
        assert_eq!(err, None, "line {line:?}");
        commands.into_iter().next().unwrap_or_default()
    }

    // ---- errors ----

    #[test]
    fn error_display_has_redis_prefix() {
        assert_eq!(
            ProtocolError::new("invalid bulk length").to_string(),
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn unterminated_inline_request_over_limit_is_too_big() {
        let limits = Limits::default();
        let at_limit = vec![b'a'; limits.inline_max];
        assert_eq!(parse_all(&at_limit, &limits), (vec![], None));
        let over = vec![b'a'; limits.inline_max + 1];
        assert_eq!(
            error_of(&over, &limits),
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn complete_inline_request_over_limit_is_accepted() {
        let mut input = vec![b'a'; PROTO_INLINE_MAX_SIZE * 2];
        input.extend_from_slice(b"\r\n");
        let (commands, err) = parse_all(&input, &Limits::default());
        assert_eq!(err, None);
        assert_eq!(commands[0][0].len(), PROTO_INLINE_MAX_SIZE * 2);
    }

    #[test]
    fn unbalanced_quotes_are_rejected() {
        for line in [
            "set \"\"\"test-key\"\"\" test-value",
            "get \"foo",
            "get 'foo",
            "get \"foo\"bar",
            "get 'foo'bar",
            "get \"foo\\\"",
            "get \"foo\\",
            "get 'foo\\'",
            // The second backslash escapes the quote.
            "get 'foo\\\\'",
        ] {
            let input = format!("{line}\r\nping\r\n");
            assert_eq!(
                error_of(input.as_bytes(), &Limits::default()),
                "Protocol error: unbalanced quotes in request",
                "line {line:?}"
            );
        }
    }

    #[test]
    fn unterminated_multibulk_count_over_limit_is_too_big() {
        let limits = Limits {
            inline_max: 16,
            ..Limits::default()
        };
        let mut input = b"*".to_vec();
        input.extend_from_slice(&[b'1'; 15]);
        assert_eq!(parse_all(&input, &limits), (vec![], None));
        input.push(b'1');
        assert_eq!(
            error_of(&input, &limits),
            "Protocol error: too big mbulk count string"
        );
    }

    #[test]
    fn malformed_multibulk_counts_are_invalid() {
        for count in [
            "",
            "x",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "1x",
            "3000000000",
            "2147483648",
            "99999999999999999999",
            "-",
            "1\n",
        ] {
            let input = format!("*{count}\r\n");
            assert_eq!(
                error_of(input.as_bytes(), &Limits::default()),
                "Protocol error: invalid multibulk length",
                "count {count:?}"
            );
        }
    }

    #[test]
    fn largest_multibulk_count_is_accepted_without_allocating_it() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n$1\r\na\r\n"[..]);
        assert_eq!(parser.next_command(&mut buf, &Limits::default()), Ok(None));
        assert!(!parser.is_idle());
        assert!(parser.args.capacity() <= MAX_INITIAL_ARGS);
        assert!(buf.is_empty());
    }

    #[test]
    fn unauthenticated_multibulk_count_over_ten_is_rejected() {
        assert_eq!(
            error_of(b"*11\r\n", &unauthenticated()),
            "Protocol error: unauthenticated multibulk length"
        );
        // Validity is checked first.
        assert_eq!(
            error_of(b"*3000000000\r\n", &unauthenticated()),
            "Protocol error: invalid multibulk length"
        );
        let ten = encode_multibulk(&vec![b"x".to_vec(); 10]);
        assert_eq!(
            parse_all(&ten, &unauthenticated()),
            (vec![vec![b"x".to_vec(); 10]], None)
        );
    }

    #[test]
    fn unterminated_bulk_count_over_limit_is_too_big() {
        let limits = Limits {
            inline_max: 16,
            ..Limits::default()
        };
        let mut input = b"*1\r\n$".to_vec();
        input.extend_from_slice(&[b'1'; 15]);
        assert_eq!(parse_all(&input, &limits), (vec![], None));
        input.push(b'1');
        assert_eq!(
            error_of(&input, &limits),
            "Protocol error: too big bulk count string"
        );
    }

    #[test]
    fn bulk_not_starting_with_dollar_is_rejected() {
        assert_eq!(
            error_of(
                b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
                &Limits::default()
            ),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            error_of(b"*1\r\nfoo\r\n", &Limits::default()),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            error_of(b"*1\r\n\r\n", &Limits::default()),
            "Protocol error: expected '$', got '\r'"
        );
        // Nothing is reported until the line's CR and the byte after it have arrived.
        assert_eq!(parse_all(b"*1\r\nfoo", &Limits::default()), (vec![], None));
        assert_eq!(
            parse_all(b"*1\r\nfoo\r", &Limits::default()),
            (vec![], None)
        );
    }

    #[test]
    fn malformed_or_oversized_bulk_lengths_are_invalid() {
        for len in [
            "-10",
            "-1",
            "blabla",
            "",
            "+1",
            "01",
            "-0",
            "2000000000",
            "1 ",
        ] {
            let limits = Limits {
                proto_max_bulk_len: 1_000_000_000,
                ..Limits::default()
            };
            let input = format!("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n${len}\r\n");
            assert_eq!(
                error_of(input.as_bytes(), &limits),
                "Protocol error: invalid bulk length",
                "len {len:?}"
            );
        }
    }

    #[test]
    fn bulk_length_over_limit_is_rejected() {
        let limits = Limits {
            proto_max_bulk_len: 5,
            ..Limits::default()
        };
        assert_eq!(
            parse_all(b"*1\r\n$5\r\nhello\r\n", &limits),
            (vec![cmd(&["hello"])], None)
        );
        assert_eq!(
            error_of(b"*1\r\n$6\r\nhello!\r\n", &limits),
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn unauthenticated_bulk_over_16384_is_rejected() {
        assert_eq!(
            error_of(b"*1\r\n$16385\r\n", &unauthenticated()),
            "Protocol error: unauthenticated bulk length"
        );
        let big = vec![b'v'; 16384];
        let input = encode_multibulk(std::slice::from_ref(&big));
        assert_eq!(
            parse_all(&input, &unauthenticated()),
            (vec![vec![big]], None)
        );
    }

    #[test]
    fn error_resets_the_parser() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2\r\n$1\r\na\r\nx\r\n"[..]);
        assert!(parser.next_command(&mut buf, &Limits::default()).is_err());
        assert!(parser.is_idle());
        assert_eq!(parser.pending_bytes(), 0);
    }

    // ---- framing ----

    #[test]
    fn pipelined_commands_parse_at_every_split_position() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\n\0x\r\n\
            PING\r\n\
            \r\n\
            *0\r\n\
            *-1\r\n\
            get   \"a b\"  'c'\n\
            *1\r\n$0\r\n\r\n\
            *2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
        let expected = vec![
            vec![b"SET".to_vec(), b"k".to_vec(), b"v\r\n\0x".to_vec()],
            cmd(&["PING"]),
            cmd(&["get", "a b", "c"]),
            cmd(&[""]),
            cmd(&["ECHO", "0123456789"]),
        ];
        assert_eq!(
            parse_all(input, &Limits::default()),
            (expected.clone(), None)
        );
        for split in 1..input.len() {
            assert_eq!(
                parse_chunked(input, &[split, input.len()], &Limits::default()),
                (expected.clone(), None),
                "split at {split}"
            );
        }
        assert_eq!(
            parse_chunked(input, &[1], &Limits::default()),
            (expected, None)
        );
    }

    #[test]
    fn empty_lines_and_nonpositive_counts_are_skipped() {
        let input = b"\r\n\n   \r\n*0\r\n*-1\r\n*-5\r\nPING\r\n";
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&input[..]);
        assert_eq!(
            parser.next_command(&mut buf, &Limits::default()),
            Ok(Some(vec![Bytes::from_static(b"PING")]))
        );
        assert!(buf.is_empty());
        assert_eq!(parser.next_command(&mut buf, &Limits::default()), Ok(None));
    }

    #[test]
    fn bulk_trailer_is_skipped_unchecked() {
        assert_eq!(
            parse_all(b"*2\r\n$3\r\nfooXY$3\r\nbarZZ", &Limits::default()),
            (vec![cmd(&["foo", "bar"])], None)
        );
    }

    #[test]
    fn count_line_byte_after_cr_is_skipped_unchecked() {
        assert_eq!(
            parse_all(b"*1\rX$4\rYPING\r\n", &Limits::default()),
            (vec![cmd(&["PING"])], None)
        );
    }

    #[test]
    fn nul_before_line_end_keeps_the_line_incomplete_like_redis_strchr() {
        let limits = Limits {
            inline_max: 32,
            ..Limits::default()
        };
        assert_eq!(parse_all(b"PI\0NG\r\n", &limits), (vec![], None));
        assert_eq!(parse_all(b"*\x001\r\n", &limits), (vec![], None));
        assert_eq!(parse_all(b"*1\r\n$\x001\r\n", &limits), (vec![], None));
        // ... until the limit turns it into an error, as in Redis's desync regression tests.
        let mut input = b"\0".to_vec();
        input.extend_from_slice(&[b'A'; 40]);
        input.push(b'\n');
        assert_eq!(
            error_of(&input, &limits),
            "Protocol error: too big inline request"
        );
        input[0] = b'*';
        input.insert(1, 0);
        assert_eq!(
            error_of(&input, &limits),
            "Protocol error: too big mbulk count string"
        );
    }

    #[test]
    fn arguments_are_zero_copy_slices_of_the_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"[..]);
        let range = buf.as_ptr_range();
        let args = RequestParser::new()
            .next_command(&mut buf, &Limits::default())
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(args.len(), 2);
        for arg in &args {
            assert!(range.contains(&arg.as_ptr()));
        }
    }

    #[test]
    fn pending_state_is_reported() {
        let limits = Limits::default();
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*3\r\n$5\r\nhello\r\n$10\r\nabc"[..]);
        assert!(parser.is_idle());
        assert_eq!(parser.next_command(&mut buf, &limits), Ok(None));
        assert!(!parser.is_idle());
        assert_eq!(parser.pending_bytes(), 5);
        assert_eq!(parser.wanted_bytes(), Some(9));
        assert_eq!(&buf[..], b"abc");
        buf.extend_from_slice(b"defghij\r\n$2\r\nhi\r\n");
        let args = parser.next_command(&mut buf, &limits);
        assert_eq!(
            args,
            Ok(Some(vec![
                Bytes::from_static(b"hello"),
                Bytes::from_static(b"abcdefghij"),
                Bytes::from_static(b"hi"),
            ]))
        );
        assert!(parser.is_idle());
        assert_eq!(parser.pending_bytes(), 0);
        assert_eq!(parser.wanted_bytes(), None);
    }

    #[test]
    fn wanted_bytes_is_capped() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$500000000\r\n"[..]);
        assert_eq!(parser.next_command(&mut buf, &Limits::default()), Ok(None));
        assert_eq!(parser.wanted_bytes(), Some(MAX_WANTED_BYTES));
        assert!(buf.capacity() < 1024 * 1024);
    }

    #[test]
    fn million_argument_command_in_4k_chunks_parses() {
        const N: usize = 1 << 20;
        let mut input = format!("*{N}\r\n").into_bytes();
        for i in 0..N {
            let arg = [b'a' + (i % 26) as u8];
            input.extend_from_slice(b"$1\r\n");
            input.extend_from_slice(&arg);
            input.extend_from_slice(b"\r\n");
        }
        let limits = Limits::default();
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut result = None;
        for chunk in input.chunks(4096) {
            buf.extend_from_slice(chunk);
            if let Some(args) = parser.next_command(&mut buf, &limits).ok().flatten() {
                result = Some(args);
            }
        }
        let args = result.unwrap_or_default();
        assert_eq!(args.len(), N);
        assert_eq!(args.capacity(), N);
        assert_eq!(&args[N - 1][..], &[b'a' + ((N - 1) % 26) as u8]);
        assert!(buf.is_empty());
    }

    #[test]
    fn long_count_line_fed_bytewise_is_scanned_once() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let limits = Limits::default();
        buf.extend_from_slice(b"*");
        for _ in 0..PROTO_INLINE_MAX_SIZE - 1 {
            buf.extend_from_slice(b"1");
            assert_eq!(parser.next_command(&mut buf, &limits), Ok(None));
            assert_eq!(parser.scanned, buf.len());
        }
        buf.extend_from_slice(b"\r\n");
        assert!(parser.next_command(&mut buf, &limits).is_err());
    }

    // ---- inline quoting ----

    #[test]
    fn inline_arguments_split_on_blanks() {
        assert_eq!(
            inline_args("  set\tkey \t value  "),
            cmd(&["set", "key", "value"])
        );
        assert_eq!(inline_args("a\rb"), cmd(&["a", "b"]));
        // Leading/trailing vertical tab and form feed are blanks; inside an argument they are kept.
        assert_eq!(inline_args("\x0ba\x0cb\x0c"), cmd(&["a\x0cb\x0c"]));
    }

    #[test]
    fn inline_line_may_end_with_bare_lf() {
        assert_eq!(
            parse_all(b"ping\nping x\r\n", &Limits::default()),
            (vec![cmd(&["ping"]), cmd(&["ping", "x"])], None)
        );
        // Only one CR before the LF is stripped.
        assert_eq!(
            parse_all(b"\"a\r\"\r\r\n", &Limits::default()),
            (vec![cmd(&["a\r"])], None)
        );
    }

    #[test]
    fn inline_double_quotes_support_escapes() {
        assert_eq!(
            inline_args(r#"set "a\n\r\t\b\a\\\"\x41\xfF\q\x4g" x"#),
            vec![
                b"set".to_vec(),
                b"a\n\r\t\x08\x07\\\"A\xffqx4g".to_vec(),
                b"x".to_vec()
            ]
        );
        assert_eq!(inline_args(r#""" """#), cmd(&["", ""]));
        assert_eq!(inline_args(r#""a b"	"c""#), cmd(&["a b", "c"]));
    }

    #[test]
    fn inline_single_quotes_only_escape_the_quote() {
        assert_eq!(inline_args(r"'it\'s \n \x41'"), cmd(&[r"it's \n \x41"]));
        assert_eq!(inline_args(r"'a\\b' c"), cmd(&[r"a\\b", "c"]));
    }

    #[test]
    fn inline_quote_may_open_mid_argument_and_ends_it() {
        assert_eq!(inline_args(r#"foo"bar baz" x"#), cmd(&["foobar baz", "x"]));
        assert_eq!(inline_args("a'b c'"), cmd(&["ab c"]));
        assert_eq!(inline_args("a\"\"\x0b"), cmd(&["a"]));
    }

    #[test]
    fn blank_inline_lines_produce_no_command() {
        assert_eq!(parse_all(b" \t \r\n\n", &Limits::default()), (vec![], None));
    }

    #[test]
    fn strict_integer_parsing_matches_string2ll() {
        assert_eq!(parse_strict_i64(b"0"), Some(0));
        assert_eq!(parse_strict_i64(b"-1"), Some(-1));
        assert_eq!(parse_strict_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_strict_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"-9223372036854775809",
            b"18446744073709551616",
            b"",
            b"-",
            b"-0",
            b"00",
            b"+1",
            b" 1",
            b"1.0",
        ] {
            assert_eq!(
                parse_strict_i64(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    // ---- properties ----

    fn arb_command() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..8),
                prop::collection::vec(any::<u8>(), 0..300),
                Just(b"\r\n".to_vec()),
            ],
            0..12,
        )
    }

    fn arb_chunks() -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(1usize..64, 1..16)
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            input in prop::collection::vec(any::<u8>(), 0..512),
            chunks in arb_chunks(),
            authenticated in any::<bool>(),
            inline_max in 0usize..64,
            proto_max_bulk_len in 0usize..64,
        ) {
            let limits = Limits { proto_max_bulk_len, inline_max, authenticated };
            let _ = parse_chunked(&input, &chunks, &limits);
            let _ = parse_all(&input, &Limits::default());
        }

        #[test]
        fn resp_like_bytes_never_panic(
            pieces in prop::collection::vec(
                prop_oneof![
                    Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()),
                    Just(b"\r".to_vec()), Just(b"\n".to_vec()), Just(b"-1".to_vec()),
                    Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\x".to_vec()),
                    Just(b"\\".to_vec()), Just(b" ".to_vec()), Just(b"\0".to_vec()),
                    (0u32..40).prop_map(|n| n.to_string().into_bytes()),
                    prop::collection::vec(any::<u8>(), 0..4),
                ],
                0..64,
            ),
            chunks in arb_chunks(),
            authenticated in any::<bool>(),
        ) {
            let input = pieces.concat();
            let limits = Limits { authenticated, ..Limits::default() };
            let _ = parse_chunked(&input, &chunks, &limits);
        }

        /// Without the size limits (the only rules that depend on how much is buffered), the result
        /// does not depend on how the input is split.
        #[test]
        fn chunking_does_not_change_the_result(
            pieces in prop::collection::vec(
                prop_oneof![
                    Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()),
                    Just(b"\r".to_vec()), Just(b"\n".to_vec()), Just(b" ".to_vec()),
                    Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\".to_vec()),
                    (0u32..20).prop_map(|n| n.to_string().into_bytes()),
                    prop::collection::vec(any::<u8>(), 0..4),
                ],
                0..64,
            ),
            chunks in arb_chunks(),
        ) {
            let input = pieces.concat();
            let limits = Limits { inline_max: usize::MAX, ..Limits::default() };
            prop_assert_eq!(parse_chunked(&input, &chunks, &limits), parse_all(&input, &limits));
        }

        #[test]
        fn encoded_commands_round_trip_in_random_chunks(
            commands in prop::collection::vec(arb_command(), 1..6),
            chunks in arb_chunks(),
            use_library_encoder in any::<bool>(),
        ) {
            let mut input = Vec::new();
            for command in &commands {
                let encoded = if use_library_encoder {
                    encode_with_redis_protocol(command)
                } else {
                    encode_multibulk(command)
                };
                if use_library_encoder {
                    prop_assert_eq!(&encoded, &encode_multibulk(command));
                }
                input.extend_from_slice(&encoded);
            }
            let expected: Vec<_> = commands.into_iter().filter(|c| !c.is_empty()).collect();
            prop_assert_eq!(parse_chunked(&input, &chunks, &Limits::default()), (expected, None));
        }

        /// Any argument list written with sdscatrepr-style quoting reads back through the inline parser.
        #[test]
        fn quoted_inline_arguments_round_trip(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 1..6)) {
            let mut line = Vec::new();
            for arg in &args {
                line.push(b'"');
                for &b in arg {
                    match b {
                        b'"' | b'\\' => { line.push(b'\\'); line.push(b); }
                        0x20..=0x7e => line.push(b),
                        _ => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                    }
                }
                line.extend_from_slice(b"\" ");
            }
            line.extend_from_slice(b"\r\n");
            prop_assert_eq!(parse_all(&line, &Limits::default()), (vec![args], None));
        }
    }
}
