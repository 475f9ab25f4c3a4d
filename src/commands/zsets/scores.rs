//! Scores as Redis reads and writes them: `parse_score` (`string2d`, hex floats included), the looser
//! parse of range bounds, `%.17g` formatting for replies and `d2string` for ZSCAN, and the C `long`
//! arguments with their range messages. Pure functions; no keyspace, revision or clock.

use crate::commands::CommandError;
use crate::protocol::ReplyBuf;

/// Parses a score as Redis's `string2d` does (C `strtod` over the whole argument): no leading space, no
/// trailing bytes, NaN refused, and an overflow to ±infinity or an underflow to zero refused too.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace() || c == '\x0b') {
        return None;
    }
    if let Some((v, nonzero)) = parse_hex_float(s) {
        // strtod's ERANGE: overflow to infinity or underflow to zero.
        return (v.is_finite() && (v != 0.0 || !nonzero)).then_some(v);
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None;
    }
    if v == 0.0
        && lower
            .bytes()
            .take_while(|b| *b != b'e')
            .any(|b| (b'1'..=b'9').contains(&b))
    {
        return None;
    }
    Some(v)
}

/// Parses one bound of a score range the way Redis's range parser does: plain `strtod` (leading spaces
/// skipped, overflow saturating to infinity, an empty string reading as 0), NaN refused.
pub(super) fn parse_range_float(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(arg).ok()?;
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    if let Some((v, _)) = parse_hex_float(t) {
        return Some(v);
    }
    let v: f64 = t.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A C99 hexadecimal float as `strtod` reads it, over the whole string: `[+-]0x` hex digits with an
/// optional `.`, then an optional binary exponent `p[+-]digits`. Returns the value and whether the
/// mantissa was non-zero (to tell an underflow from a real zero); None if `s` is not one.
fn parse_hex_float(s: &str) -> Option<(f64, bool)> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    let (mant, exp) = match rest.find(['p', 'P']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.len() + frac_part.len() == 0 {
        return None;
    }
    let mut v = 0.0f64;
    let mut nonzero = false;
    for c in int_part.chars().chain(frac_part.chars()) {
        let d = c.to_digit(16)?;
        nonzero |= d != 0;
        v = v * 16.0 + d as f64;
    }
    let mut e: i64 = -4 * frac_part.len() as i64;
    if let Some(x) = exp {
        let digits = x.strip_prefix(['+', '-']).unwrap_or(x);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().unwrap_or(i64::MAX / 2).min(100_000);
        e += if x.starts_with('-') { -n } else { n };
    }
    // Scale by 2^e in steps that stay inside f64's exponent range.
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    Some((if neg { -v } else { v }, nonzero))
}

/// Appends `v` as C's `%.17g` writes it (what Redis 7.0 replies for every score).
pub fn format_score(v: f64, out: &mut Vec<u8>) {
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let sci = format!("{:.16e}", v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if mant.starts_with('-') {
        out.push(b'-');
    }
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let trimmed_len = digits.iter().rposition(|d| *d != b'0').map_or(1, |p| p + 1);
    let digits = &digits[..trimmed_len];
    if !(-4..17).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(digits.get(i).copied().unwrap_or(b'0'));
        }
        if digits.len() > int_len {
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
    }
}

/// A score as a double reply: a bulk string in RESP2, a `,` double in RESP3.
pub(super) fn reply_score(out: &mut ReplyBuf, v: f64) {
    let mut s = Vec::with_capacity(24);
    format_score(v, &mut s);
    if out.is_resp3() {
        out.raw(b",");
        out.raw(&s);
        out.raw(b"\r\n");
    } else {
        out.bulk(&s);
    }
}

/// A score as Redis's `d2string` writes it (ZSCAN): integral values in integer form.
pub(super) fn score_text(v: f64) -> Vec<u8> {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if v.is_finite() && v != 0.0 && v.fract() == 0.0 && (-HALF..=HALF).contains(&v) {
        return (v as i64).to_string().into_bytes();
    }
    let mut s = Vec::new();
    format_score(v, &mut s);
    s
}

/// A C `long` argument (`ERR value is not an integer or out of range`).
pub(super) fn parse_long(arg: &[u8]) -> Result<i64, CommandError> {
    crate::util::numbers::parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// A C `long` in `min..=max`, with `bad` for both a bad integer and one out of range (Redis's
/// `getRangeLongFromObjectOrReply` with a message).
pub(super) fn parse_long_in(
    arg: &[u8],
    min: i64,
    max: i64,
    bad: CommandError,
) -> Result<i64, CommandError> {
    match crate::util::numbers::parse_i64(arg) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: f64) -> String {
        let mut s = Vec::new();
        format_score(v, &mut s);
        String::from_utf8(s).unwrap_or_default()
    }

    #[test]
    fn scores_format_like_printf_17g() {
        assert_eq!(fmt(1.0), "1");
        assert_eq!(fmt(-3.0), "-3");
        assert_eq!(fmt(0.1), "0.10000000000000001");
        assert_eq!(fmt(1.5), "1.5");
        assert_eq!(fmt(1e300), "1.0000000000000001e+300");
        assert_eq!(fmt(1e17), "1e+17");
        assert_eq!(fmt(12345678901234567.0), "12345678901234568");
        assert_eq!(fmt(0.0001), "0.0001");
        assert_eq!(fmt(0.00001), "1.0000000000000001e-05");
        assert_eq!(fmt(f64::INFINITY), "inf");
        assert_eq!(fmt(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt(-0.0), "-0");
        assert_eq!(fmt(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    }

    #[test]
    fn score_parsing_refuses_what_strtod_would() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"abc"), None);
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"0x1p3"), Some(8.0));
        assert_eq!(parse_score(b"-0X1.8p1"), Some(-3.0));
        assert_eq!(parse_score(b"0x.8"), Some(0.5));
        assert_eq!(parse_score(b"0x"), None);
        assert_eq!(parse_score(b"0x1p"), None);
        assert_eq!(parse_score(b"0x1p99999"), None);
        assert_eq!(parse_score(b"infinity"), Some(f64::INFINITY));
    }
}
