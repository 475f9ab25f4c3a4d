//! Number parsing and formatting with Redis's exact text rules: integers as `string2ll` accepts them, floats as
//! Redis's `strtod`/`strtold` checks accept them, the three reply formats Redis uses (plain integers, the
//! INCRBYFLOAT "human" float, and the score/double format), and [`LongDouble`], a software x87 `long double`
//! that lets INCRBYFLOAT/HINCRBYFLOAT reproduce Redis's replies digit for digit. This module owns those
//! byte-level formats and that arithmetic only; error replies and range checks belong to the commands.

use std::fmt::Write as _;

/// Inputs this long or longer are rejected by Redis's `string2ld` (INCRBYFLOAT, HINCRBYFLOAT) before parsing, and
/// so by [`LongDouble::parse`]; [`parse_f64`] has no length limit because Redis's `string2d` has none.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Parses a signed 64-bit decimal integer exactly as Redis's `string2ll` does.
///
/// Accepted: an optional `-`, then either the single digit `0` or a digit `1`-`9` followed by digits, at most
/// 20 bytes in total, within `i64` range. Rejected: empty input, `+`, whitespace anywhere, leading zeros
/// (`"007"`), `"-0"`, a lone `-`, anything longer than 20 bytes, and overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a float the way Redis validates `strtod`/`strtold` results for scores, INCRBYFLOAT and the like.
///
/// Accepted, and nothing else: an optional sign (`+` or `-`), then either
/// - a decimal number: digits with at most one `.`, at least one digit overall (`1`, `1.`, `.5`, `007.50`),
///   optionally followed by an exponent `e`/`E`, an optional sign and at least one digit; or
/// - `inf` or `infinity`, in any letter case (giving ±infinity).
///
/// Rejected: empty input, any whitespace (leading, trailing or inside), NaN in any spelling, hexadecimal floats
/// (`0x1p3`, which C's `strtod` would take), a dangling exponent (`1e`, `1e+`), and finite values that overflow
/// `f64` (`1e309`) or underflow to zero (`1e-400`; `0e-400` is fine, as are subnormals), since `strtod` reports
/// those with `ERANGE` and Redis refuses them. The value is correctly rounded to the nearest `f64`.
///
/// This is Redis's `string2d` (scores, ZADD/ZINCRBY/ZRANGEBYSCORE bounds, ...) except that Redis 7 also
/// accepts hex floats. INCRBYFLOAT and HINCRBYFLOAT parse into a C `long double` instead, with a wider range
/// and a length limit: use [`LongDouble::parse`] for those.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let nonzero = match scan_float(s)? {
        Scanned::Infinity { negative } => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        Scanned::Number { int, frac, .. } => int.iter().chain(frac).any(|&d| d != b'0'),
    };
    // The scanned grammar is a subset of what Rust's parser accepts, and both round correctly.
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    if v.is_infinite() || (v == 0.0 && nonzero) {
        return None;
    }
    Some(v)
}

/// A float literal that passed [`scan_float`].
enum Scanned<'a> {
    Infinity {
        negative: bool,
    },
    /// The value is `int.frac × 10^exp10` (digit runs as written; either may be empty, not both).
    Number {
        negative: bool,
        int: &'a [u8],
        frac: &'a [u8],
        exp10: i64,
    },
}

/// Checks the grammar documented on [`parse_f64`] and splits the literal into its parts.
fn scan_float(s: &[u8]) -> Option<Scanned<'_>> {
    let (negative, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Scanned::Infinity { negative });
    }
    let digit_run = |from: usize| {
        body.get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_len = digit_run(0);
    let int = &body[..int_len];
    let mut i = int_len;
    let mut frac: &[u8] = &[];
    if body.get(i) == Some(&b'.') {
        let frac_len = digit_run(i + 1);
        frac = &body[i + 1..i + 1 + frac_len];
        i += 1 + frac_len;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exp10 = 0i64;
    if matches!(body.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = body.get(i) == Some(&b'-');
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let count = digit_run(i);
        if count == 0 {
            return None;
        }
        for &d in &body[i..i + count] {
            // Saturate: an exponent this large over- or underflows whatever the digits are.
            exp10 = (exp10 * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        if exp_negative {
            exp10 = -exp10;
        }
        i += count;
    }
    if i != body.len() {
        return None;
    }
    Some(Scanned::Number {
        negative,
        int,
        frac,
        exp10,
    })
}

/// Appends `v` in decimal, like Redis's `ll2string`.
pub fn format_i64(v: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    while n >= 100 {
        let pair = usize::from((n % 100) as u8) * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = usize::from(n as u8) * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[i * 2] = b'0' + (i / 10) as u8;
        t[i * 2 + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends `v` as Redis's INCRBYFLOAT reply and stored value (`ld2string` in `LD_STR_HUMAN` mode): plain
/// decimal, never an exponent, at most 17 fractional digits, no trailing zeros or `.`, and `0` for anything
/// that rounds to zero (never `-0`); `inf`, `-inf` and `nan` for the specials.
///
/// This is an `f64` approximation; [`LongDouble`] is exact. Redis computes in 80-bit `long double` and prints
/// `%.17Lf`, which for small values hides the binary rounding noise; `f64` has about three digits less, so
/// printing its exact value would show noise Redis does not (`0.1 + 0.2` would be `0.30000000000000004`,
/// Redis says `0.3`). The rule used instead:
/// - integral values below 2^63 in magnitude print exactly (`5200`, `-3`);
/// - larger integral values print their shortest round-trip digits padded with zeros (`1e23` prints as `1`
///   and 23 zeros, as Redis does, where exact expansion would show `99999999999999991611392`);
/// - other values print the decimal with the fewest significant digits that lies within two `f64` steps of
///   `v` (two steps covers the rounding of one addition of two decimal inputs), so `0.1 + 0.2` gives `0.3`,
///   `10.5 + 0.1` gives `10.6`, and `3.141592653589793` stays as it is;
/// - if that would need more than 17 fractional digits, `v` is rounded to 17 fractional digits instead,
///   as Redis does (`1e-20` prints `0`).
///
/// Known divergences: after cancellation (`10.5 + -10.4`) the `f64` error is large relative to the result and
/// this prints `0.09999999999999964` where Redis prints `0.1`; and Redis shows `long double` noise once the
/// integer part has three or more digits (`255.3 + 703.8` is `959.09999999999999998` in Redis, `959.1` here).
/// For byte-exact INCRBYFLOAT/HINCRBYFLOAT replies use [`LongDouble`] instead.
pub fn format_f64_human(v: f64, out: &mut Vec<u8>) {
    if let Some(special) = special_name(v) {
        out.extend_from_slice(special);
        return;
    }
    if v.fract() == 0.0 {
        if v.abs() < TWO_POW_63 {
            // In range and integral, so the conversion is exact.
            format_i64(v as i64, out);
        } else {
            // Display prints f64 without an exponent, using the shortest round-trip digits.
            let _ = std::io::Write::write_fmt(out, format_args!("{v}"));
        }
        return;
    }
    let Some(mut dec) = Decimal::shortest(v) else {
        let _ = std::io::Write::write_fmt(out, format_args!("{v}"));
        return;
    };
    if dec.len > 15 {
        for precision in 1..dec.len {
            if let Some(candidate) = Decimal::rounded(v, precision)
                && candidate.len == precision
                && within_steps(candidate.value(), v, 2)
            {
                dec = candidate;
                break;
            }
        }
    }
    if dec.fraction_digits() <= 17 {
        dec.write_fixed(out);
    } else {
        write_fixed17_trimmed(v, out);
    }
}

/// Appends `v` as Redis 7.2+ replies with a score or double (`d2string`, used by ZSCORE, ZINCRBY, WITHSCORES,
/// RESP3 doubles, ...): `nan`, `inf`, `-inf`, `0`, `-0`; integral values up to 2^62 in magnitude as plain
/// integers; otherwise the shortest digits that round-trip, laid out as Redis's `fpconv_dtoa` does:
/// - plain integer digits when the value is a whole number needing at most 7 trailing zeros
///   (`12345678901234568000000`), else scientific (`1e+22`);
/// - plain decimal when there are at most 6 fractional digits or the leading digit's decimal exponent is
///   between -3 and 3 (`0.000123`, `0.001234567`, `123.456789012`);
/// - otherwise scientific with an unpadded exponent (`1.234567e-4`, `1.5e-7`, `1e+100`).
///
/// Redis 7.0 used `%.17g` instead (`0.1` was `0.10000000000000001`); clients accept either. Redis 7.2's Grisu2
/// is not always shortest: for a few results of float arithmetic (about 0.4% in a random sample; never for
/// short decimals such as `12.345`) it prints a longer or different string, e.g. `0.042670000000000007` where
/// this prints `0.04267000000000001`. Both parse back to the same `f64`.
pub fn format_f64_score(v: f64, out: &mut Vec<u8>) {
    if let Some(special) = special_name(v) {
        out.extend_from_slice(special);
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    if v.fract() == 0.0 && v.abs() <= TWO_POW_62 {
        format_i64(v as i64, out);
        return;
    }
    let Some(dec) = Decimal::shortest(v) else {
        let _ = std::io::Write::write_fmt(out, format_args!("{v:e}"));
        return;
    };
    dec.write_fpconv(out);
}

const TWO_POW_62: f64 = 4_611_686_018_427_387_904.0;
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn special_name(v: f64) -> Option<&'static [u8]> {
    if v.is_nan() {
        Some(b"nan")
    } else if v == f64::INFINITY {
        Some(b"inf")
    } else if v == f64::NEG_INFINITY {
        Some(b"-inf")
    } else {
        None
    }
}

/// True when `a` and `b` are finite, of the same sign, and at most `steps` representable values apart.
fn within_steps(a: f64, b: f64, steps: u64) -> bool {
    a.is_finite()
        && b.is_finite()
        && a.is_sign_negative() == b.is_sign_negative()
        && a.to_bits().abs_diff(b.to_bits()) <= steps
}

/// Rounds `v` to 17 fractional digits (as `%.17f` would) and trims trailing zeros, a trailing `.`, and a
/// resulting `-0`.
fn write_fixed17_trimmed(v: f64, out: &mut Vec<u8>) {
    let start = out.len();
    let _ = std::io::Write::write_fmt(out, format_args!("{:.17}", v.abs()));
    while out.len() > start && out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
    if out.len() == start {
        out.push(b'0');
    }
    if v.is_sign_negative() && &out[start..] != b"0" {
        out.insert(start, b'-');
    }
}

/// A finite nonzero value as `±0.d1d2...dn × 10^(exp+1)`, i.e. `d1.d2...dn × 10^exp`, with `d1 != 0`.
struct Decimal {
    negative: bool,
    digits: [u8; 17],
    len: usize,
    exp: i32,
}

impl Decimal {
    /// The shortest digits that round-trip to `v`.
    fn shortest(v: f64) -> Option<Decimal> {
        let mut buf = StackBuf::new();
        write!(buf, "{v:e}").ok()?;
        Decimal::parse(buf.as_bytes())
    }

    /// `v` correctly rounded to `precision` significant digits (trailing zeros dropped).
    fn rounded(v: f64, precision: usize) -> Option<Decimal> {
        let mut buf = StackBuf::new();
        write!(buf, "{:.*e}", precision.checked_sub(1)?, v).ok()?;
        let mut dec = Decimal::parse(buf.as_bytes())?;
        while dec.len > 1 && dec.digits[dec.len - 1] == b'0' {
            dec.len -= 1;
        }
        Some(dec)
    }

    /// Parses Rust's `{:e}` output: `-?d(.d+)?e-?x`.
    fn parse(text: &[u8]) -> Option<Decimal> {
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let e = text.iter().position(|&b| b == b'e')?;
        let mut dec = Decimal {
            negative,
            digits: [0; 17],
            len: 0,
            exp: 0,
        };
        for &b in text[..e].iter().filter(|&&b| b != b'.') {
            if !b.is_ascii_digit() || dec.len == dec.digits.len() {
                return None;
            }
            dec.digits[dec.len] = b;
            dec.len += 1;
        }
        if dec.len == 0 || dec.digits[0] == b'0' {
            return None;
        }
        dec.exp = std::str::from_utf8(&text[e + 1..]).ok()?.parse().ok()?;
        Some(dec)
    }

    fn value(&self) -> f64 {
        let mut buf = StackBuf::new();
        let digits = &self.digits[..self.len];
        let text = std::str::from_utf8(digits).unwrap_or("0");
        let sign = if self.negative { "-" } else { "" };
        if write!(
            buf,
            "{sign}{text}e{}",
            i64::from(self.exp) - (self.len as i64 - 1)
        )
        .is_err()
        {
            return f64::NAN;
        }
        std::str::from_utf8(buf.as_bytes())
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(f64::NAN)
    }

    fn fraction_digits(&self) -> i64 {
        (self.len as i64 - 1 - i64::from(self.exp)).max(0)
    }

    /// Plain decimal, no exponent.
    fn write_fixed(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        let digits = &self.digits[..self.len];
        if self.exp < 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-self.exp - 1) as usize, b'0');
            out.extend_from_slice(digits);
        } else {
            let int_len = self.exp as usize + 1;
            if int_len >= digits.len() {
                out.extend_from_slice(digits);
                out.resize(out.len() + (int_len - digits.len()), b'0');
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    }

    /// Layout rules of Redis's `fpconv_dtoa` (see [`format_f64_score`]).
    fn write_fpconv(&self, out: &mut Vec<u8>) {
        let n = self.len as i32;
        // The value is digits × 10^k.
        let k = self.exp - (n - 1);
        let exp_abs = self.exp.unsigned_abs();
        let plain_integer = k >= 0 && (exp_abs as i32) < n + 7;
        let plain_decimal = k < 0 && (k > -7 || exp_abs < 4);
        if plain_integer || plain_decimal {
            self.write_fixed(out);
            return;
        }
        if self.negative {
            out.push(b'-');
        }
        out.push(self.digits[0]);
        if self.len > 1 {
            out.push(b'.');
            out.extend_from_slice(&self.digits[1..self.len]);
        }
        out.push(b'e');
        out.push(if self.exp < 0 { b'-' } else { b'+' });
        format_i64(i64::from(exp_abs), out);
    }
}

/// A fixed-capacity `fmt::Write` sink, so float formatting needs no heap allocation.
struct StackBuf {
    bytes: [u8; 40],
    len: usize,
}

impl StackBuf {
    fn new() -> StackBuf {
        StackBuf {
            bytes: [0; 40],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dest = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A C `long double` as Redis uses it on x86-64 (the x87 80-bit format: 64-bit mantissa, round-to-nearest-even),
/// emulated exactly in software so INCRBYFLOAT and HINCRBYFLOAT can reply byte for byte as Redis does, noise
/// digits included: in Redis, `SET k 255.3` then `INCRBYFLOAT k 703.8` replies `959.09999999999999998`.
///
/// Only what those commands need: [`LongDouble::parse`] (Redis's `string2ld`), [`LongDouble::from_i64`],
/// `+` (`std::ops::Add`), [`LongDouble::is_finite`] and [`LongDouble::format_human`] (`ld2string` with
/// `LD_STR_HUMAN`). Values below the x87 normal range keep full precision instead of going subnormal; that is
/// invisible because anything that small prints as `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongDouble(Ld);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ld {
    Zero,
    /// `mantissa × 2^exp`, mantissa with its top bit set.
    Finite {
        negative: bool,
        mantissa: u64,
        exp: i64,
    },
    Infinite {
        negative: bool,
    },
    NaN,
}

/// x87 extended: finite values are below 2^16384; the smallest subnormal is 2^-16445.
const LD_MAX_EXP2: i64 = 16384;
const LD_MIN_SUBNORMAL_EXP2: i64 = -16445;

impl LongDouble {
    /// Zero.
    pub const ZERO: LongDouble = LongDouble(Ld::Zero);

    /// Parses as Redis's `string2ld` does: inputs of [`MAX_LONG_DOUBLE_CHARS`] bytes or more are rejected, the
    /// grammar is [`parse_f64`]'s (so `inf`/`infinity` are accepted, giving a non-finite value), and the value
    /// is correctly rounded to the 64-bit mantissa. Overflow (beyond about 1.19e4932) and nonzero values that
    /// round to zero (below about 1.8e-4951) are rejected as Redis rejects them.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let (negative, int, frac, exp10) = match scan_float(s)? {
            Scanned::Infinity { negative } => return Some(LongDouble(Ld::Infinite { negative })),
            Scanned::Number {
                negative,
                int,
                frac,
                exp10,
            } => (negative, int, frac, exp10),
        };
        // Significant digits only: leading zeros dropped, trailing zeros folded into the exponent.
        let all: Vec<u8> = int.iter().chain(frac).copied().collect();
        let first = all.iter().position(|&d| d != b'0');
        let Some(first) = first else {
            return Some(LongDouble(Ld::Zero));
        };
        let last = all.iter().rposition(|&d| d != b'0').unwrap_or(first);
        let digits = &all[first..=last];
        let exp10 = exp10 - frac.len() as i64 + (all.len() - 1 - last) as i64;
        // value is in [10^(n-1+exp10), 10^(n+exp10)).
        let n = digits.len() as i64;
        if n - 1 + exp10 > 4933 {
            return None;
        }
        if n + exp10 < -4952 {
            return None;
        }
        let mut num = Big::default();
        for chunk in digits.chunks(9) {
            let chunk_value = chunk
                .iter()
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
            num.mul_add_small(10u32.pow(chunk.len() as u32), chunk_value);
        }
        if exp10 >= 0 {
            num.mul_pow10(exp10.unsigned_abs());
            return match round_big(negative, &num, 0) {
                Ld::Infinite { .. } => None,
                v => Some(LongDouble(v)),
            };
        }
        let mut den = Big::from_u64(1);
        den.mul_pow10(exp10.unsigned_abs());
        // Real x87 rounds this far down to subnormal precision; only "does it round to zero" is visible, and
        // it does exactly when the value is at most half the smallest subnormal, 2^-16446.
        let half_min = LD_MIN_SUBNORMAL_EXP2 - 1;
        let tiny = n + exp10 < -4900;
        let exact = tiny.then(|| (num.clone(), den.clone()));
        match round_ratio(negative, num, den) {
            Ld::Finite { exp, .. } if exp + 63 < half_min => None,
            Ld::Finite { mantissa, exp, .. } if exp + 63 == half_min && mantissa == 1 << 63 => {
                // Rounded onto 2^-16446 itself: compare the exact value with it.
                let (mut num, den) = exact?;
                num.shl(half_min.unsigned_abs());
                (num.cmp(&den) == std::cmp::Ordering::Greater).then_some(LongDouble(Ld::Finite {
                    negative,
                    mantissa,
                    exp,
                }))
            }
            v => Some(LongDouble(v)),
        }
    }

    /// The exact value of `v` (every `i64` fits the 64-bit mantissa).
    pub fn from_i64(v: i64) -> LongDouble {
        if v == 0 {
            return LongDouble::ZERO;
        }
        let magnitude = v.unsigned_abs();
        let shift = magnitude.leading_zeros();
        LongDouble(Ld::Finite {
            negative: v < 0,
            mantissa: magnitude << shift,
            exp: -i64::from(shift),
        })
    }

    /// False for infinities and NaN (INCRBYFLOAT then fails with "increment would produce NaN or Infinity").
    pub fn is_finite(self) -> bool {
        matches!(self.0, Ld::Zero | Ld::Finite { .. })
    }

    /// Appends the value as Redis's `ld2string(..., LD_STR_HUMAN)` prints it: `%.17Lf` (exact value rounded to
    /// 17 fractional digits, ties to even, as glibc does), then trailing zeros and a trailing `.` removed, and
    /// `-0` turned into `0`; `inf`, `-inf`, `nan` for the specials.
    pub fn format_human(self, out: &mut Vec<u8>) {
        let (negative, mantissa, exp) = match self.0 {
            Ld::Zero => return out.push(b'0'),
            Ld::NaN => return out.extend_from_slice(b"nan"),
            Ld::Infinite { negative } => {
                return out.extend_from_slice(if negative { b"-inf" } else { b"inf" });
            }
            Ld::Finite {
                negative,
                mantissa,
                exp,
            } => (negative, mantissa, exp),
        };
        if exp >= 0 {
            // A whole number: print all its digits.
            let mut big = Big::from_u64(mantissa);
            big.shl(exp.unsigned_abs());
            if negative {
                out.push(b'-');
            }
            big.write_decimal(out);
            return;
        }
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17
        let shift = exp.unsigned_abs();
        // mantissa × 10^17 < 2^121, so below 2^-128 the value rounds to zero at 17 decimals.
        let scaled = if shift >= 128 {
            0
        } else {
            let product = u128::from(mantissa) * SCALE;
            let mut q = product >> shift;
            let rem = product & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q += 1;
            }
            q
        };
        if scaled == 0 {
            out.push(b'0');
            return;
        }
        if negative {
            out.push(b'-');
        }
        let (int_part, frac_part) = (scaled / SCALE, scaled % SCALE);
        let _ = std::io::Write::write_fmt(out, format_args!("{int_part}"));
        if frac_part != 0 {
            let start = out.len();
            let _ = std::io::Write::write_fmt(out, format_args!(".{frac_part:017}"));
            while out.len() > start && out.last() == Some(&b'0') {
                out.pop();
            }
        }
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// `self + other`, rounded once to the 64-bit mantissa (ties to even), as the x87 unit adds;
    /// overflow gives an infinity, `inf + -inf` gives NaN.
    fn add(self, other: LongDouble) -> LongDouble {
        let (a, b) = match (self.0, other.0) {
            (Ld::NaN, _) | (_, Ld::NaN) => return LongDouble(Ld::NaN),
            (Ld::Infinite { negative: x }, Ld::Infinite { negative: y }) if x != y => {
                return LongDouble(Ld::NaN);
            }
            (inf @ Ld::Infinite { .. }, _) | (_, inf @ Ld::Infinite { .. }) => {
                return LongDouble(inf);
            }
            (Ld::Zero, v) | (v, Ld::Zero) => return LongDouble(v),
            (a, b) => (a, b),
        };
        let (
            Ld::Finite {
                negative: na,
                mantissa: ma,
                exp: ea,
            },
            Ld::Finite {
                negative: nb,
                mantissa: mb,
                exp: eb,
            },
        ) = (a, b)
        else {
            return LongDouble(Ld::NaN);
        };
        let low = ea.min(eb);
        let mut x = Big::from_u64(ma);
        x.shl((ea - low).unsigned_abs());
        let mut y = Big::from_u64(mb);
        y.shl((eb - low).unsigned_abs());
        let (negative, sum) = if na == nb {
            x.add_assign(&y);
            (na, x)
        } else {
            match x.cmp(&y) {
                std::cmp::Ordering::Equal => return LongDouble::ZERO,
                std::cmp::Ordering::Greater => {
                    x.sub_assign(&y);
                    (na, x)
                }
                std::cmp::Ordering::Less => {
                    y.sub_assign(&x);
                    (nb, y)
                }
            }
        };
        LongDouble(round_big(negative, &sum, low))
    }
}

/// Rounds `num × 2^exp2` (`num` nonzero) to a 64-bit mantissa, ties to even.
fn round_big(negative: bool, num: &Big, exp2: i64) -> Ld {
    let len = num.bit_len();
    if len == 0 {
        return Ld::Zero;
    }
    if len <= 64 {
        let shift = 64 - len;
        return finite(negative, num.bits_from(0) << shift, exp2 - shift as i64);
    }
    let low = len - 64;
    let mut mantissa = num.bits_from(low);
    let mut exp = exp2 + low as i64;
    if num.bit(low - 1) && (mantissa & 1 == 1 || num.any_bit_below(low - 1)) {
        mantissa = mantissa.wrapping_add(1);
        if mantissa == 0 {
            mantissa = 1 << 63;
            exp += 1;
        }
    }
    finite(negative, mantissa, exp)
}

/// Rounds `num / den` (both nonzero) to a 64-bit mantissa, ties to even, by binary long division.
fn round_ratio(negative: bool, mut num: Big, mut den: Big) -> Ld {
    // Scale so that den <= num < 2 den; then num / den = 1.xxx × 2^k.
    let mut k = num.bit_len() as i64 - den.bit_len() as i64;
    if k >= 0 {
        den.shl(k.unsigned_abs());
    } else {
        num.shl(k.unsigned_abs());
    }
    if num.cmp(&den) == std::cmp::Ordering::Less {
        num.shl(1);
        k -= 1;
    }
    num.sub_assign(&den);
    let mut mantissa: u64 = 1;
    for _ in 0..63 {
        num.shl(1);
        mantissa <<= 1;
        if num.cmp(&den) != std::cmp::Ordering::Less {
            num.sub_assign(&den);
            mantissa |= 1;
        }
    }
    num.shl(1);
    let mut exp = k - 63;
    let round_up = match num.cmp(&den) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => mantissa & 1 == 1,
        std::cmp::Ordering::Less => false,
    };
    if round_up {
        mantissa = mantissa.wrapping_add(1);
        if mantissa == 0 {
            mantissa = 1 << 63;
            exp += 1;
        }
    }
    finite(negative, mantissa, exp)
}

fn finite(negative: bool, mantissa: u64, exp: i64) -> Ld {
    if exp + 63 >= LD_MAX_EXP2 {
        Ld::Infinite { negative }
    } else {
        Ld::Finite {
            negative,
            mantissa,
            exp,
        }
    }
}

/// Little-endian base-2^32 natural number: just enough for exact decimal/binary conversion and addition.
#[derive(Debug, Clone, Default)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_add_small(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            n -= 9;
        }
        if n > 0 {
            self.mul_add_small(10u32.pow(n as u32), 0);
        }
    }

    fn bit_len(&self) -> u64 {
        self.0.last().map_or(0, |&top| {
            (self.0.len() as u64 - 1) * 32 + u64::from(32 - top.leading_zeros())
        })
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|&limb| (limb >> (i % 32)) & 1 == 1)
    }

    fn any_bit_below(&self, i: u64) -> bool {
        let whole = (i / 32) as usize;
        let part = (i % 32) as u32;
        self.0.iter().take(whole).any(|&l| l != 0)
            || (part != 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|&l| l & ((1u32 << part) - 1) != 0))
    }

    /// The 64 bits starting at bit `low`.
    fn bits_from(&self, low: u64) -> u64 {
        (0..64)
            .filter(|&k| self.bit(low + k))
            .fold(0u64, |acc, k| acc | (1 << k))
    }

    fn shl(&mut self, bits: u64) {
        if self.0.is_empty() {
            return;
        }
        let (limbs, part) = ((bits / 32) as usize, (bits % 32) as u32);
        if part != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = (*limb << part) | carry;
                carry = *limb >> (32 - part);
                *limb = v;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs != 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn cmp(&self, other: &Big) -> std::cmp::Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add_assign(&mut self, other: &Big) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        let mut carry = 0u64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = u64::from(*limb) + u64::from(other.0.get(i).copied().unwrap_or(0)) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self -= other`; requires `self >= other`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *limb = (v + (borrow << 32)) as u32;
        }
        self.trim();
    }

    /// Appends the decimal digits (`0` for zero).
    fn write_decimal(&self, out: &mut Vec<u8>) {
        let mut limbs = self.0.clone();
        let mut groups = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            groups.push(rem as u32);
        }
        match groups.split_last() {
            None => out.push(b'0'),
            Some((top, rest)) => {
                let _ = std::io::Write::write_fmt(out, format_args!("{top}"));
                for group in rest.iter().rev() {
                    let _ = std::io::Write::write_fmt(out, format_args!("{group:09}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn human(v: f64) -> String {
        let mut out = Vec::new();
        format_f64_human(v, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn score(v: f64) -> String {
        let mut out = Vec::new();
        format_f64_score(v, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn int(v: i64) -> String {
        let mut out = Vec::new();
        format_i64(v, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn f(s: &str) -> Option<f64> {
        parse_f64(s.as_bytes())
    }

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"1234567890"), Some(1_234_567_890));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn integers_outside_string2ll_grammar_are_rejected() {
        for bad in [
            "",
            "-",
            "+1",
            "-0",
            "00",
            "01",
            "-01",
            " 1",
            "1 ",
            "1a",
            "a1",
            "1.0",
            "1e3",
            "--1",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901",
            "0x10",
            "\u{0}1",
            "1\u{0}",
        ] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_parse_like_strtod_with_redis_checks() {
        assert_eq!(f("1"), Some(1.0));
        assert_eq!(f("-1.5"), Some(-1.5));
        assert_eq!(f("+1.5"), Some(1.5));
        assert_eq!(f("1."), Some(1.0));
        assert_eq!(f(".5"), Some(0.5));
        assert_eq!(f("-.5e1"), Some(-5.0));
        assert_eq!(f("5.0e3"), Some(5000.0));
        assert_eq!(f("1E+2"), Some(100.0));
        assert_eq!(f("007.50"), Some(7.5));
        assert_eq!(f("0e-400"), Some(0.0));
        assert_eq!(f("-0"), Some(0.0));
        assert!(f("-0").is_some_and(f64::is_sign_negative));
        assert_eq!(
            f("4.9406564584124654e-324"),
            Some(f64::from_bits(1)),
            "subnormals are accepted"
        );
        assert_eq!(f("1.7976931348623157e308"), Some(f64::MAX));
    }

    #[test]
    fn infinities_are_accepted_in_any_case() {
        for s in ["inf", "INF", "+inf", "Infinity", "+INFINITY", "iNfInItY"] {
            assert_eq!(f(s), Some(f64::INFINITY), "{s}");
        }
        for s in ["-inf", "-Inf", "-infinity"] {
            assert_eq!(f(s), Some(f64::NEG_INFINITY), "{s}");
        }
    }

    #[test]
    fn floats_outside_the_accepted_grammar_are_rejected() {
        for bad in [
            "",
            " 1",
            "1 ",
            "\t1",
            "1\n",
            "+",
            "-",
            ".",
            "+.",
            "e5",
            "1e",
            "1e+",
            "1e-",
            "1.2.3",
            "1..2",
            "nan",
            "NaN",
            "-nan",
            "nan(1)",
            "inf ",
            "infin",
            "infinityy",
            "in",
            "0x10",
            "0x1p3",
            "1e309",
            "-1e309",
            "1e-400",
            "1,5",
            "1_000",
            "++1",
            "+-1",
            "1f",
            "\u{0}",
            "1\u{0}",
            "१",
        ] {
            assert_eq!(f(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_i64_prints_all_extremes() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            101,
            -100,
            12345,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(int(v), v.to_string());
        }
        let mut out = b"x".to_vec();
        format_i64(-42, &mut out);
        assert_eq!(out, b"x-42", "appends without clearing");
    }

    #[test]
    fn human_format_matches_redis_incrbyfloat_examples() {
        // Redis's INCRBYFLOAT documentation examples.
        assert_eq!(human(10.5 + 0.1), "10.6");
        assert_eq!(human(10.6 + -5.0), "5.6");
        assert_eq!(human(5.0e3 + 2.0e2), "5200");
        assert_eq!(human(3.0e3), "3000");
        assert_eq!(human(5.0e3), "5000");
        assert_eq!(human(0.1 + 0.2), "0.3");
        assert_eq!(human(1.1 + 2.2), "3.3");
        assert_eq!(human(0.1 + 0.7), "0.8");
        assert_eq!(human(100.1 + 0.2), "100.3");
        assert_eq!(human((0..10).fold(0.0, |acc, _| acc + 0.1)), "1");
        assert_eq!(human(10.0 + 0.5), "10.5");
        assert_eq!(human(-1.5), "-1.5");
    }

    #[test]
    fn human_format_keeps_meaningful_digits() {
        assert_eq!(human(std::f64::consts::PI), "3.141592653589793");
        assert_eq!(human(0.1234567890123456), "0.1234567890123456");
        assert_eq!(human(1234567890123456.0), "1234567890123456");
        assert_eq!(human(9007199254740993.0), "9007199254740992");
        assert_eq!(human(-9_223_372_036_854_774_784.0), "-9223372036854774784");
        assert_eq!(human(0.000001), "0.000001");
        assert_eq!(human(1.5e-10), "0.00000000015");
    }

    #[test]
    fn human_format_never_uses_exponents() {
        assert_eq!(human(1e23), format!("1{}", "0".repeat(23)));
        assert_eq!(human(1e308), format!("1{}", "0".repeat(308)));
        assert_eq!(human(f64::MAX).len(), 309);
        assert_eq!(human(-1e20), "-100000000000000000000");
    }

    #[test]
    fn human_format_rounds_at_17_fractional_digits() {
        assert_eq!(human(1e-20), "0");
        assert_eq!(human(-1e-20), "0");
        assert_eq!(human(-0.0), "0");
        assert_eq!(human(0.0), "0");
        assert_eq!(human(1.6e-17), "0.00000000000000002");
        assert_eq!(human(1.2345678901234567e-5), "0.00001234567890123");
    }

    #[test]
    fn human_format_names_specials() {
        assert_eq!(human(f64::INFINITY), "inf");
        assert_eq!(human(f64::NEG_INFINITY), "-inf");
        assert_eq!(human(f64::NAN), "nan");
    }

    #[test]
    fn score_format_matches_redis_7_2() {
        assert_eq!(score(0.0), "0");
        assert_eq!(score(-0.0), "-0");
        assert_eq!(score(f64::INFINITY), "inf");
        assert_eq!(score(f64::NEG_INFINITY), "-inf");
        assert_eq!(score(f64::NAN), "nan");
        assert_eq!(score(1.0), "1");
        assert_eq!(score(-42.0), "-42");
        assert_eq!(score(0.1), "0.1");
        assert_eq!(score(1.5), "1.5");
        assert_eq!(score(-2.25), "-2.25");
        assert_eq!(score(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(score(1e17), "100000000000000000");
        assert_eq!(score(4_611_686_018_427_387_904.0), "4611686018427387904");
        assert_eq!(score(9_223_372_036_854_775_808.0), "9223372036854776000");
        assert_eq!(score(1e22), "1e+22");
        assert_eq!(score(1.2345678901234568e22), "12345678901234568000000");
        assert_eq!(score(1e100), "1e+100");
        assert_eq!(score(-1e300), "-1e+300");
        assert_eq!(score(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(score(0.000123), "0.000123");
        assert_eq!(score(0.001234567), "0.001234567");
        assert_eq!(score(0.0001234567), "1.234567e-4");
        assert_eq!(score(1.5e-7), "1.5e-7");
        assert_eq!(score(1e-7), "1e-7");
        assert_eq!(score(123.456789012), "123.456789012");
        assert_eq!(score(std::f64::consts::PI), "3.141592653589793");
        assert_eq!(score(5e-324), "5e-324");
        assert_eq!(score(1e-105), "1e-105");
        assert_eq!(score(1234.5678901), "1234.5678901");
        assert_eq!(score(12345.678901), "12345.678901");
        assert_eq!(score(12345.6789012), "1.23456789012e+4");
    }

    fn ld(s: &str) -> LongDouble {
        LongDouble::parse(s.as_bytes()).unwrap_or(LongDouble(Ld::NaN))
    }

    fn ld_text(v: LongDouble) -> String {
        let mut out = Vec::new();
        v.format_human(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// `INCRBYFLOAT` on a key holding `a`, by `b`, as Redis 7.2 on x86-64 replies (each expectation was
    /// produced by Redis's own `string2ld` and `ld2string` compiled with gcc on x86-64).
    fn incr(a: &str, b: &str) -> String {
        match (
            LongDouble::parse(a.as_bytes()),
            LongDouble::parse(b.as_bytes()),
        ) {
            (Some(x), Some(y)) => ld_text(x + y),
            _ => "invalid".to_string(),
        }
    }

    #[test]
    fn long_double_sums_print_exactly_as_redis() {
        assert_eq!(incr("10.50", "0.1"), "10.6");
        assert_eq!(incr("10.6", "-5"), "5.6");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.5", "-10.4"), "0.1");
        assert_eq!(incr("1.1", "2.2"), "3.3");
        assert_eq!(incr("-5", "2"), "-3");
        assert_eq!(incr("1.5", "-1.5"), "0");
        assert_eq!(incr("255.3", "703.8"), "959.09999999999999998");
        assert_eq!(incr("4707.8689", "782067.9"), "786775.76889999999997372");
        assert_eq!(incr("9223372036854775807", "1"), "9223372036854775808");
        assert_eq!(incr("1e20", "0.1"), "100000000000000000000");
        assert_eq!(incr("-0.1", "0.09999999999999999999"), "0");
        assert_eq!(incr("1e-17", "0"), "0.00000000000000001");
        assert_eq!(incr("6e-18", "0"), "0.00000000000000001");
        assert_eq!(incr("5e-18", "0"), "0");
        assert_eq!(incr("-1e-18", "0"), "0");
        assert_eq!(incr("1e4932", "-1e4932"), "0");
    }

    #[test]
    fn long_double_prints_large_values_in_full() {
        assert_eq!(ld_text(ld("1e25")), "10000000000000000000000000");
        assert_eq!(
            ld_text(ld("123456789012345678901234567890")),
            "123456789012345678899921813504"
        );
        let sum = incr("1e308", "1e308");
        assert_eq!(sum.len(), 309);
        assert!(sum.starts_with("199999999999999999993371759311"));
        assert_eq!(ld_text(ld("1e4932")).len(), 4933);
        assert_eq!(
            ld_text(LongDouble::from_i64(i64::MIN)),
            "-9223372036854775808"
        );
        assert_eq!(ld_text(LongDouble::from_i64(0)), "0");
    }

    #[test]
    fn long_double_rounds_ties_to_even_at_17_decimals() {
        // 2^-18 = 0.000003814697265625 and 3 × 2^-18 = 0.000011444091796875 are exact ties.
        assert_eq!(ld_text(ld("0.000003814697265625")), "0.00000381469726562");
        assert_eq!(ld_text(ld("0.000011444091796875")), "0.00001144409179688");
    }

    #[test]
    fn long_double_specials_and_range_limits() {
        assert_eq!(incr("inf", "1"), "inf");
        assert_eq!(incr("-inf", "1"), "-inf");
        assert_eq!(incr("inf", "-inf"), "nan");
        assert!(!(ld("inf") + ld("1")).is_finite());
        assert!(
            !(ld("1e4932") + ld("1e4932")).is_finite(),
            "overflow gives infinity"
        );
        assert!(ld("1e4932").is_finite());
        assert_eq!(incr("1e4933", "0"), "invalid");
        assert_eq!(incr("1e-4951", "0"), "invalid", "rounds to zero");
        assert_eq!(
            incr("1.8225997659412373012642029668097100e-4951", "0"),
            "0",
            "rounds to the smallest subnormal"
        );
        assert_eq!(
            incr("1.8225997659412373012642029668097099e-4951", "0"),
            "invalid"
        );
        assert_eq!(incr("0e-99999", "0"), "0");
        assert_eq!(incr("-0", "0"), "0");
    }

    #[test]
    fn long_double_parse_rejects_what_redis_rejects() {
        for bad in ["", " 1", "1 ", "nan", "1e", "abc", "1e99999999999999999999"] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(
            LongDouble::parse(b"0x10"),
            None,
            "hex floats are refused (Redis 7 would take 16)"
        );
        let long = "1".repeat(MAX_LONG_DOUBLE_CHARS);
        assert_eq!(LongDouble::parse(long.as_bytes()), None);
        let just_fits = format!("0.{}", "1".repeat(MAX_LONG_DOUBLE_CHARS - 3));
        assert_eq!(ld_text(ld(&just_fits)), "0.11111111111111111");
        assert_eq!(LongDouble::parse(format!("{just_fits}1").as_bytes()), None);
    }

    proptest! {
        #[test]
        fn long_double_agrees_with_f64_on_small_integers(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000) {
            let sum = LongDouble::from_i64(a) + LongDouble::from_i64(b);
            prop_assert_eq!(ld_text(sum), (a + b).to_string());
            prop_assert_eq!(ld(&a.to_string()), LongDouble::from_i64(a));
        }

        #[test]
        fn long_double_parse_never_panics(s in "[-+]?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][-+]?[0-9]{1,6})?") {
            if let Some(v) = LongDouble::parse(s.as_bytes()) {
                let text = ld_text(v);
                prop_assert!(LongDouble::parse(text.as_bytes()).is_some(), "{}", text);
            }
        }
    }

    proptest! {
        #[test]
        fn parse_i64_agrees_with_canonical_rendering(v in any::<i64>()) {
            let text = v.to_string();
            prop_assert_eq!(parse_i64(text.as_bytes()), Some(v));
            prop_assert_eq!(int(v), text);
        }

        #[test]
        fn parse_i64_accepts_only_canonical_integers(s in "[-+0-9a ]{0,22}") {
            let canonical = s.parse::<i64>().ok().filter(|v| v.to_string() == s);
            prop_assert_eq!(parse_i64(s.as_bytes()), canonical);
        }

        #[test]
        fn parse_f64_round_trips_both_formats(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let s = score(v);
            prop_assert_eq!(f(&s).map(f64::to_bits), Some(v.to_bits()), "{}", s);
            let h = human(v);
            prop_assert!(!h.contains('e'));
            let back = f(&h);
            prop_assert!(back.is_some(), "{}", h);
        }

        #[test]
        fn human_format_stays_within_two_steps_or_17_decimals(v in -1e15f64..1e15f64) {
            let h = human(v);
            let back = f(&h).unwrap_or(f64::NAN);
            let close = within_steps(back, v, 2) || (back - v).abs() <= 0.5e-17 || (back == 0.0 && v.abs() < 1e-17);
            prop_assert!(close, "{} -> {} -> {}", v, h, back);
        }

        #[test]
        fn parse_f64_never_panics(s in any::<Vec<u8>>()) {
            let _ = parse_f64(&s);
        }

        #[test]
        fn parse_f64_agrees_with_rust_on_decimal_grammar(s in "[-+]?[0-9]{0,4}(\\.[0-9]{0,4})?([eE][-+]?[0-9]{0,3})?") {
            let mantissa = s.split(['e', 'E']).next().unwrap_or("");
            let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
            let expected = s.parse::<f64>().ok().filter(|v| v.is_finite() && !(*v == 0.0 && nonzero));
            prop_assert_eq!(f(&s), expected);
        }
    }
}
