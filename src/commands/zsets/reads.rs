//! Reads that do not walk a range reply: ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK / ZREVRANK
//! (with 7.2's WITHSCORE), ZRANDMEMBER and ZSCAN. They take no revision and log nothing; they refresh the
//! key's access time as Redis's read lookup does.

use crate::commands::{CmdResult, CommandError, Ctx, is_kw};
use crate::protocol::ReplyBuf;

use super::ranges::{LexRange, ScoreRange};
use super::read;
use super::scores::{parse_long, reply_score, score_text};

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    let member = ctx.arg(2);
    let key = ctx.arg(1);
    let s = read(ctx, key, |z, _| z.score(member))?.flatten();
    match s {
        Some(s) => reply_score(ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    let key = ctx.arg(1);
    let scores: Vec<Option<f64>> = read(ctx, key, |z, _| {
        members.iter().map(|m| z.score(m)).collect()
    })?
    .unwrap_or_else(|| vec![None; members.len()]);
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => reply_score(ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let n = read(ctx, key, |z, _| z.len())?.unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let range = ScoreRange::parse(ctx.arg(2), ctx.arg(3))?;
    let key = ctx.arg(1);
    let n = read(ctx, key, |z, _| {
        let (lo, hi) = range.ranks(z);
        hi - lo
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let range = LexRange::parse(ctx.arg(2), ctx.arg(3))?;
    let key = ctx.arg(1);
    let n = read(ctx, key, |z, _| {
        let (lo, hi) = range.ranks(z);
        hi - lo
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn zrank_generic(ctx: &mut Ctx, reverse: bool) -> CmdResult {
    if ctx.argv.len() > 4 {
        return Err(CommandError::WrongArity {
            command: ctx.spec.name.to_string(),
        });
    }
    let ws = match ctx.argv.get(3) {
        None => false,
        Some(a) if is_kw(a, "WITHSCORE") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    let member = ctx.arg(2);
    let key = ctx.arg(1);
    let found = read(ctx, key, |z, _| {
        z.rank(member).map(|r| {
            let r = if reverse { z.len() - 1 - r } else { r };
            (r, z.score(member).unwrap_or(0.0))
        })
    })?
    .flatten();
    match found {
        Some((r, s)) => {
            if ws {
                ctx.out.array(2);
                ctx.out.int(r as i64);
                reply_score(ctx.out, s);
            } else {
                ctx.out.int(r as i64);
            }
        }
        None if ws => ctx.out.null_array(),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member [WITHSCORE]
pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, false)
}

/// ZREVRANK key member [WITHSCORE]
pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, true)
}

/// ZRANDMEMBER key [count [WITHSCORES]]. Reads only; nothing is logged.
pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    use rand::seq::index::sample;
    let argv = ctx.argv;
    let key = ctx.arg(1);
    if argv.len() < 3 {
        let picked = read(ctx, key, |z, _| {
            let i = rand::random_range(0..z.len().max(1));
            z.get(i).map(|(m, _)| m.to_vec())
        })?
        .flatten();
        match picked {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = match crate::util::numbers::parse_i64(&argv[2]) {
        None => return Err(CommandError::NotInteger),
        Some(i64::MIN) => {
            return Err(CommandError::ValueOutOfRangeBetween {
                min: -i64::MAX,
                max: i64::MAX,
            });
        }
        Some(l) => l,
    };
    if argv.len() > 4 || (argv.len() == 4 && !is_kw(&argv[3], "WITHSCORES")) {
        return Err(CommandError::Syntax);
    }
    let ws = argv.len() == 4;
    if ws && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CommandError::ValueOutOfRange);
    }
    let done = read(ctx, key, |z, out| {
        let n = z.len();
        let one = |out: &mut ReplyBuf, (m, s): (&[u8], f64)| {
            if ws && out.is_resp3() {
                out.array(2);
            }
            out.bulk(m);
            if ws {
                reply_score(out, s);
            }
        };
        let header = |out: &mut ReplyBuf, count: usize| {
            out.array(if ws && !out.is_resp3() {
                count * 2
            } else {
                count
            });
        };
        if l == 0 || n == 0 {
            header(out, 0);
        } else if l < 0 {
            // With repetitions: written as drawn, never collected, since the count may be huge.
            let want = l.unsigned_abs() as usize;
            header(out, want);
            for _ in 0..want {
                if let Some(p) = z.get(rand::random_range(0..n)) {
                    one(out, p);
                }
            }
        } else if l as u64 >= n as u64 {
            header(out, n);
            z.iter().for_each(|p| one(out, p));
        } else {
            let picks = sample(&mut rand::rng(), n, l as usize);
            header(out, picks.len());
            for i in picks {
                if let Some(p) = z.get(i) {
                    one(out, p);
                }
            }
        }
    })?;
    if done.is_none() {
        ctx.out.array(0);
    }
    Ok(())
}

/// Sets up to this size are returned whole in one call (cursor 0), as Redis does for listpacks.
const SCAN_WHOLE: usize = 512;

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// The cursor is an ascending rank. A member present for the whole scan is returned at least once as
/// long as no member ranked before the cursor is removed between calls (a removal shifts later members
/// down and can skip one); sets of up to 512 members come back whole in one call.
pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let cursor = parse_cursor(&argv[2]).ok_or(CommandError::InvalidCursor)?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut j = 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        if is_kw(&argv[j], "COUNT") && left >= 1 {
            let n = parse_long(&argv[j + 1])?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n as usize;
            j += 2;
        } else if is_kw(&argv[j], "MATCH") && left >= 1 {
            pattern = Some(&argv[j + 1]);
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = ctx.arg(1);
    let res = read(ctx, key, |z, _| {
        let n = z.len();
        let (start, take) = if n <= SCAN_WHOLE || !z.is_big() {
            (0, n)
        } else {
            (cursor.min(n as u64) as usize, count)
        };
        let mut items = Vec::new();
        for (m, s) in z.iter_from(start).take(take) {
            let keep = match pattern {
                None => true,
                Some(p) => p == b"*" || crate::util::glob::glob_match(p, m, false),
            };
            if keep {
                items.push((m.to_vec(), score_text(s)));
            }
        }
        let next = start + take;
        let next = if next >= n || take == n { 0 } else { next };
        (next, items)
    })?;
    let (next, items) = res.unwrap_or((0, Vec::new()));
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in &items {
        ctx.out.bulk(m);
        ctx.out.bulk(s);
    }
    Ok(())
}

/// Reads a SCAN cursor as Redis does (C `strtoul`: optional sign, digits, nothing after; "" is 0).
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return arg.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if negative { n.wrapping_neg() } else { n })
}
