//! Stream ID parsing, as Redis's `streamParseID` family does it: `ms-seq`, a bare `ms` (the sequence filled
//! in per use), `-`/`+`, XADD's `ms-*`, and the exclusive `(id` bounds of XRANGE/XPENDING/XAUTOCLAIM. Pure
//! functions of the argument; they touch no keyspace state, revision or clock.

use crate::commands::CommandError;
use crate::keyspace::types::stream::StreamId;

use super::custom;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis's `string2ull`: a non-negative decimal, optionally with leading blanks or `+` (strtoull's
/// leniency for numbers that do not fit an i64).
fn parse_u64(b: &[u8]) -> Option<u64> {
    if let Some(n) = crate::util::numbers::parse_i64(b) {
        return u64::try_from(n).ok();
    }
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a stream ID as Redis does. `-`/`+` mean the minimal/maximal ID unless `strict`; a missing
/// sequence is `missing_seq`; `<ms>-*` is accepted only when `seq_star` (XADD), returning seq_given false.
pub(super) fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), CommandError> {
    let bad = || custom(INVALID_ID);
    if arg.len() > 127 {
        return Err(bad());
    }
    // Redis works on a C string: an embedded NUL ends it.
    let arg = match arg.iter().position(|&c| c == 0) {
        Some(i) => &arg[..i],
        None => arg,
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(bad());
        }
        return Ok((
            if arg == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    match arg.iter().position(|&c| c == b'-') {
        Some(dash) => {
            let ms = parse_u64(&arg[..dash]).ok_or_else(bad)?;
            let rest = &arg[dash + 1..];
            if seq_star && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            let seq = parse_u64(rest).ok_or_else(bad)?;
            Ok((StreamId::new(ms, seq), true))
        }
        None => {
            let ms = parse_u64(arg).ok_or_else(bad)?;
            Ok((StreamId::new(ms, missing_seq), true))
        }
    }
}

pub(super) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    Ok(parse_id_full(arg, missing_seq, false, false)?.0)
}

pub(super) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CommandError> {
    Ok(parse_id_full(arg, 0, true, false)?.0)
}

/// A range bound: `(id` is exclusive. Returns the inclusive bound.
pub(super) fn parse_range_start(arg: &[u8]) -> Result<StreamId, CommandError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], 0, true, false)?.0;
        id.incr()
            .ok_or_else(|| custom("ERR invalid start ID for the interval"))
    } else {
        parse_id(arg, 0)
    }
}

pub(super) fn parse_range_end(arg: &[u8]) -> Result<StreamId, CommandError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], u64::MAX, true, false)?.0;
        id.decr()
            .ok_or_else(|| custom("ERR invalid end ID for the interval"))
    } else {
        parse_id(arg, u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_parses_them() {
        assert_eq!(parse_id(b"5", 0).unwrap(), StreamId::new(5, 0));
        assert_eq!(
            parse_id(b"5", u64::MAX).unwrap(),
            StreamId::new(5, u64::MAX)
        );
        assert_eq!(parse_id(b"5-3", 0).unwrap(), StreamId::new(5, 3));
        assert_eq!(parse_id(b"-", 0).unwrap(), StreamId::MIN);
        assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_id(b"5-x", 0).is_err());
        assert!(parse_id(b"-5", 0).is_err());
        assert!(parse_id(b"", 0).is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true).unwrap(),
            (StreamId::new(7, 0), false)
        );
        assert!(parse_strict_id(b"7-*").is_err());
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", 0).unwrap(),
            StreamId::MAX
        );
    }

    #[test]
    fn exclusive_bounds_step_past_the_id() {
        assert_eq!(parse_range_start(b"(5-1").unwrap(), StreamId::new(5, 2));
        assert_eq!(
            parse_range_end(b"(5").unwrap(),
            StreamId::new(5, u64::MAX - 1)
        );
        assert_eq!(
            parse_range_start(b"(18446744073709551615-18446744073709551615")
                .unwrap_err()
                .message(),
            "ERR invalid start ID for the interval"
        );
        assert_eq!(
            parse_range_end(b"(0-0").unwrap_err().message(),
            "ERR invalid end ID for the interval"
        );
    }
}
