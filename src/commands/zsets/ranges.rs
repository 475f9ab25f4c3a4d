//! Range queries and removals by range: the score, lex and rank intervals (`ScoreRange`, `LexRange`,
//! `rank_span`), the ZRANGE family (ZRANGE with BYSCORE / BYLEX / REV / LIMIT and the older ZRANGEBY* /
//! ZREV* forms), ZRANGESTORE, and ZREMRANGEBYRANK / BYSCORE / BYLEX. The writes take their revision
//! through the family's `modify` / `store_result`.

use bytes::Bytes;

use crate::commands::{CmdResult, CommandError, Ctx, is_kw};
use crate::keyspace::Value;
use crate::keyspace::types::ZSetValue;

use super::scores::{parse_long, parse_range_float};
use super::{emit, err, limits, modify, not_float_range, not_lex_range, read, store_result};

/// A score interval.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    pub(super) fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        let one = |a: &[u8]| -> Option<(f64, bool)> {
            match a.first() {
                Some(b'(') => parse_range_float(&a[1..]).map(|v| (v, true)),
                _ => parse_range_float(a).map(|v| (v, false)),
            }
        };
        let (min, minex) = one(min).ok_or_else(not_float_range)?;
        let (max, maxex) = one(max).ok_or_else(not_float_range)?;
        Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    /// Ascending ranks `lo..hi` of the members inside the range.
    pub(super) fn ranks(&self, z: &ZSetValue) -> (usize, usize) {
        if self.min > self.max || (self.min == self.max && (self.minex || self.maxex)) {
            return (0, 0);
        }
        let lo = z.partition_point(|_, s| {
            if self.minex {
                s <= self.min
            } else {
                s < self.min
            }
        });
        let hi = z.partition_point(|_, s| {
            if self.maxex {
                s < self.max
            } else {
                s <= self.max
            }
        });
        (lo, hi.max(lo))
    }
}

/// One end of a lex range.
#[derive(Debug, Clone)]
enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(a: &[u8]) -> Result<Self, CommandError> {
        match a.first() {
            Some(b'+') if a.len() == 1 => Ok(LexBound::PosInf),
            Some(b'-') if a.len() == 1 => Ok(LexBound::NegInf),
            Some(b'(') => Ok(LexBound::Excl(a[1..].to_vec())),
            Some(b'[') => Ok(LexBound::Incl(a[1..].to_vec())),
            _ => Err(not_lex_range()),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    pub(super) fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        Ok(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Ascending ranks `lo..hi` of the members inside the range (members are assumed to share one
    /// score, as Redis documents; otherwise the answer is as unspecified as Redis's).
    pub(super) fn ranks(&self, z: &ZSetValue) -> (usize, usize) {
        let n = z.len();
        let lo = match &self.min {
            LexBound::NegInf => 0,
            LexBound::PosInf => n,
            LexBound::Incl(x) => z.partition_point(|m, _| m < x.as_slice()),
            LexBound::Excl(x) => z.partition_point(|m, _| m <= x.as_slice()),
        };
        let hi = match &self.max {
            LexBound::NegInf => 0,
            LexBound::PosInf => n,
            LexBound::Incl(x) => z.partition_point(|m, _| m <= x.as_slice()),
            LexBound::Excl(x) => z.partition_point(|m, _| m < x.as_slice()),
        };
        (lo, hi.max(lo))
    }
}

/// Normalizes Redis rank arguments (negative counts from the end) to ascending ranks `lo..hi`.
fn rank_span(start: i64, end: i64, len: usize) -> (usize, usize) {
    let n = len as i64;
    let mut start = if start < 0 { start + n } else { start };
    let mut end = if end < 0 { end + n } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= n {
        return (0, 0);
    }
    if end >= n {
        end = n - 1;
    }
    (start as usize, end as usize + 1)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range request, resolved against a set by `span`.
enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct RangeReq {
    spec: RangeSpec,
    reverse: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

impl RangeReq {
    /// (first ascending rank to emit, count, reverse).
    fn span(&self, z: &ZSetValue) -> (usize, usize) {
        let (lo, hi) = match &self.spec {
            RangeSpec::Rank(start, end) => {
                if self.reverse {
                    // Ranks counted from the top: map them onto ascending ranks.
                    let (a, b) = rank_span(*start, *end, z.len());
                    if a >= b {
                        return (0, 0);
                    }
                    return (z.len() - 1 - a, b - a);
                }
                let (a, b) = rank_span(*start, *end, z.len());
                return (a, b.saturating_sub(a));
            }
            RangeSpec::Score(r) => r.ranks(z),
            RangeSpec::Lex(r) => r.ranks(z),
        };
        let n = hi - lo;
        if self.offset < 0 || self.offset as u64 >= n as u64 {
            return (0, 0);
        }
        let off = self.offset as usize;
        let mut count = n - off;
        if self.limit >= 0 {
            count = count.min(self.limit as usize);
        }
        if self.reverse {
            (hi - 1 - off, count)
        } else {
            (lo + off, count)
        }
    }
}

/// Parses the ZRANGE family's arguments from `first` (the source key) on, as Redis's generic range
/// command does: options first (their errors win), then the bounds.
fn parse_range(
    argv: &[Bytes],
    first: usize,
    store: bool,
    mut rt: RangeType,
    mut dir: Direction,
) -> Result<RangeReq, CommandError> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = first + 3;
    while j < argv.len() {
        let a = &argv[j][..];
        let left = argv.len() - j - 1;
        if !store && is_kw(a, "WITHSCORES") {
            withscores = true;
        } else if is_kw(a, "LIMIT") && left >= 2 {
            offset = parse_long(&argv[j + 1])?;
            limit = parse_long(&argv[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && is_kw(a, "REV") {
            dir = Direction::Reverse;
        } else if rt == RangeType::Auto && is_kw(a, "BYLEX") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && is_kw(a, "BYSCORE") {
            rt = RangeType::Score;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let reverse = dir == Direction::Reverse;
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return Err(err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rt == RangeType::Lex {
        return Err(err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut a, mut b) = (&argv[first + 1][..], &argv[first + 2][..]);
    if reverse && rt != RangeType::Rank {
        std::mem::swap(&mut a, &mut b);
    }
    let spec = match rt {
        RangeType::Score => RangeSpec::Score(ScoreRange::parse(a, b)?),
        RangeType::Lex => RangeSpec::Lex(LexRange::parse(a, b)?),
        _ => RangeSpec::Rank(parse_long(a)?, parse_long(b)?),
    };
    Ok(RangeReq {
        spec,
        reverse,
        withscores,
        offset,
        limit,
    })
}

fn range_reply(ctx: &mut Ctx, rt: RangeType, dir: Direction) -> CmdResult {
    let req = parse_range(ctx.argv, 1, false, rt, dir)?;
    let key = ctx.arg(1);
    let done = read(ctx, key, |z, out| {
        let (start, count) = req.span(z);
        emit(out, z, start, count, req.reverse, req.withscores);
    })?;
    if done.is_none() {
        ctx.out.array(0);
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Auto, Direction::Auto)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Rank, Direction::Reverse)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Score, Direction::Forward)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Score, Direction::Reverse)
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Lex, Direction::Forward)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, RangeType::Lex, Direction::Reverse)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let req = parse_range(ctx.argv, 2, true, RangeType::Auto, Direction::Auto)?;
    let (dst, src) = (ctx.arg(1), ctx.arg(2));
    let mut set = ctx.db().lock_many(&[dst, src]);
    let hs = set.hash(src);
    let found = set.shard(hs).get_live(hs, src, ctx.now_ms);
    ctx.hit(found.is_some(), src);
    let z = match found.map(|e| &e.value) {
        None => None,
        Some(Value::ZSet(z)) => Some(z),
        Some(_) => return Err(CommandError::WrongType),
    };
    let (entries, value) = limits(ctx);
    let picked = z.map(|z| {
        let (start, count) = req.span(z);
        // As Redis: start as a listpack unless a rank range is known to be too long, then convert on
        // the insert that outgrows it (so scores inserted while a listpack lose their -0).
        let mut dst = match req.spec {
            RangeSpec::Rank(..) if count as u64 > entries => ZSetValue::scratch(),
            _ => ZSetValue::new(),
        };
        let mut add = |m: &[u8], s: f64| {
            dst.prepare_insert(entries, value, m.len());
            dst.insert(m, s);
        };
        if count > 0 {
            if req.reverse {
                z.iter_back_from(start)
                    .take(count)
                    .for_each(|(m, s)| add(m, s));
            } else {
                z.iter_from(start).take(count).for_each(|(m, s)| add(m, s));
            }
        }
        dst
    });
    store_result(
        ctx,
        &mut set,
        dst,
        picked.unwrap_or_default(),
        false,
        "zrangestore",
    );
    Ok(())
}

fn zremrange(ctx: &mut Ctx, spec: RangeSpec) -> CmdResult {
    let key = ctx.arg(1);
    let event = match spec {
        RangeSpec::Rank(..) => "zremrangebyrank",
        RangeSpec::Score(_) => "zremrangebyscore",
        RangeSpec::Lex(_) => "zremrangebylex",
    };
    let n = modify(ctx, key, false, event, |z| {
        let (lo, hi) = match &spec {
            RangeSpec::Rank(a, b) => rank_span(*a, *b, z.len()),
            RangeSpec::Score(r) => r.ranks(z),
            RangeSpec::Lex(r) => r.ranks(z),
        };
        let n = z.remove_ranks(lo, hi);
        (n, n > 0)
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let spec = RangeSpec::Rank(parse_long(ctx.arg(2))?, parse_long(ctx.arg(3))?);
    zremrange(ctx, spec)
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let spec = RangeSpec::Score(ScoreRange::parse(ctx.arg(2), ctx.arg(3))?);
    zremrange(ctx, spec)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let spec = RangeSpec::Lex(LexRange::parse(ctx.arg(2), ctx.arg(3))?);
    zremrange(ctx, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_parse_exclusive_and_infinite_forms() {
        let r = ScoreRange::parse(b"(1", b"+inf").map(|r| (r.min, r.minex, r.max, r.maxex));
        assert_eq!(r, Ok((1.0, true, f64::INFINITY, false)));
        assert!(ScoreRange::parse(b"nan", b"1").is_err());
        assert!(ScoreRange::parse(b"(", b"1").is_ok());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"[a", b"(b").is_ok());
        assert!(LexRange::parse(b"-x", b"+").is_err());
    }

    #[test]
    fn rank_spans_clamp_like_redis() {
        assert_eq!(rank_span(0, -1, 5), (0, 5));
        assert_eq!(rank_span(-100, 100, 5), (0, 5));
        assert_eq!(rank_span(3, 1, 5), (0, 0));
        assert_eq!(rank_span(5, 10, 5), (0, 0));
        assert_eq!(rank_span(-2, -1, 5), (3, 5));
    }
}
