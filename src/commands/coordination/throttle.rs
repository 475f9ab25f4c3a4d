//! THROTTLE (and its redis-cell name CL.THROTTLE): GCRA rate limiting with redis-cell's arguments and
//! reply, `[limited, limit, remaining, retry_after_s, reset_after_s]`.
//!
//! The state is one string key holding the theoretical arrival time (TAT, Unix ns), expiring when the
//! limiter is back to full. The write is recorded as `SET key tat PXAT t`, so replay needs no clock.

use bytes::Bytes;

use super::int_arg;
use crate::commands::{CmdResult, CommandError, Ctx, Ttl};
use crate::keyspace::Value;
use crate::notify::class as ev;
use crate::util::numbers::parse_i64;

const NS_PER_MS: i64 = 1_000_000;
const NS_PER_S: i64 = 1_000_000_000;

/// The outcome of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub limited: bool,
    pub limit: i64,
    pub remaining: i64,
    /// ns; -1 s when allowed (or when the request can never fit).
    pub retry_after_ns: i64,
    pub reset_after_ns: i64,
    /// The TAT to store when allowed.
    pub new_tat_ns: Option<i64>,
}

/// One GCRA step at `now_ns` for a limiter last at `tat_ns` (None: fresh), as redis-cell computes it.
pub fn gcra(
    tat_ns: Option<i64>,
    now_ns: i64,
    max_burst: i64,
    count: i64,
    period_s: i64,
    quantity: i64,
) -> Outcome {
    // The nominal spacing of requests, truncated to whole ns as redis-cell does.
    let emission = ((period_s as f64 * NS_PER_S as f64) / count as f64) as i64;
    let limit = max_burst + 1;
    let tolerance = emission.saturating_mul(limit);
    let increment = emission.saturating_mul(quantity);
    let tat = tat_ns.unwrap_or(now_ns);
    let new_tat = tat.max(now_ns).saturating_add(increment);
    let allow_at = new_tat.saturating_sub(tolerance);
    let diff = now_ns.saturating_sub(allow_at);
    let (limited, ttl, retry_after, stored) = if diff < 0 {
        let retry = if increment <= tolerance {
            -diff
        } else {
            -NS_PER_S
        };
        (true, tat - now_ns, retry, None)
    } else {
        (false, new_tat - now_ns, -NS_PER_S, Some(new_tat))
    };
    let next = tolerance - ttl;
    let remaining = if next > -emission {
        ((next / 1000) as f64 / (emission / 1000) as f64) as i64
    } else {
        0
    };
    Outcome {
        limited,
        limit,
        remaining,
        retry_after_ns: retry_after,
        reset_after_ns: ttl,
        new_tat_ns: stored,
    }
}

/// Whole seconds, one more when at least a millisecond is left over (redis-cell's rounding).
fn round_up_s(ns: i64) -> i64 {
    let s = ns / NS_PER_S;
    if (ns % NS_PER_S) / NS_PER_MS > 0 {
        s + 1
    } else {
        s
    }
}

fn arg(b: &[u8], what: &str, min: i64) -> Result<i64, CommandError> {
    match parse_i64(b) {
        Some(n) if n >= min => Ok(n),
        Some(_) => Err(CommandError::Custom(format!(
            "ERR {what} must be at least {min}"
        ))),
        None => Err(CommandError::NotInteger),
    }
}

/// THROTTLE key max_burst count period_s [quantity]
pub fn throttle(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() > 6 {
        return Err(CommandError::Syntax);
    }
    let max_burst = arg(&ctx.argv[2], "max_burst", 0)?;
    let count = arg(&ctx.argv[3], "count", 1)?;
    let period = arg(&ctx.argv[4], "period", 1)?;
    let quantity = match ctx.argv.get(5) {
        Some(q) => arg(q, "quantity", 0)?,
        None => 1,
    };
    // Bounded so every product below stays in i64 ns.
    if max_burst > 1 << 30 || period > 1 << 30 || quantity > 1 << 30 {
        return Err(CommandError::Custom(
            "ERR throttle argument out of range".into(),
        ));
    }
    let key = ctx.argv[1].clone();
    let now_ns = (ctx.now_ms as i64).saturating_mul(NS_PER_MS);
    let (hash, mut shard) = ctx.db().lock_key(&key);
    ctx.reap(&mut shard, hash, &key);
    let tat = match shard.get(hash, &key) {
        None => None,
        Some(e) => match e.value.as_str() {
            None => return Err(CommandError::WrongType),
            Some(mut s) => Some(s.with(parse_i64).ok_or(CommandError::NotInteger)?),
        },
    };
    let o = gcra(tat, now_ns, max_burst, count, period, quantity);
    if let Some(new_tat) = o.new_tat_ns {
        let ttl_ms = ((o.reset_after_ns + NS_PER_MS - 1) / NS_PER_MS).max(1) as u64;
        let at = ctx.now_ms + ttl_ms;
        let value = int_arg(new_tat as u64);
        ctx.upsert(&mut shard, hash, &key, Value::string(&value), Ttl::At(at));
        drop(shard);
        ctx.notify(ev::STRING, "set", &key);
        ctx.notify(ev::GENERIC, "expire", &key);
        super::record(ctx, || {
            vec![
                Bytes::from_static(b"SET"),
                key,
                value,
                Bytes::from_static(b"PXAT"),
                int_arg(at),
            ]
        });
    } else {
        drop(shard);
    }
    ctx.out.array(5);
    ctx.out.int(o.limited as i64);
    ctx.out.int(o.limit);
    ctx.out.int(o.remaining);
    ctx.out.int(round_up_s(o.retry_after_ns));
    ctx.out.int(round_up_s(o.reset_after_ns));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// redis-cell's own table for 5 per second, burst 4, stepped by hand.
    #[test]
    fn follows_the_gcra_schedule() {
        let s = 1_000 * NS_PER_S;
        let ms = NS_PER_MS;
        let mut tat = None;
        let mut step = |now: i64, q: i64| {
            let o = gcra(tat, now, 4, 1, 1, q);
            if let Some(t) = o.new_tat_ns {
                tat = Some(t);
            }
            (
                o.limited,
                o.remaining,
                round_up_s(o.reset_after_ns),
                round_up_s(o.retry_after_ns),
            )
        };
        assert_eq!(step(s, 6), (true, 5, 0, -1));
        assert_eq!(step(s, 1), (false, 4, 1, -1));
        assert_eq!(step(s, 1), (false, 3, 2, -1));
        assert_eq!(step(s, 1), (false, 2, 3, -1));
        assert_eq!(step(s, 1), (false, 1, 4, -1));
        assert_eq!(step(s, 1), (false, 0, 5, -1));
        assert_eq!(step(s, 1), (true, 0, 5, 1));
        assert_eq!(step(s + 3000 * ms, 1), (false, 2, 3, -1));
        assert_eq!(step(s + 3100 * ms, 1), (false, 1, 4, -1));
        assert_eq!(step(s + 4000 * ms, 1), (false, 1, 4, -1));
        assert_eq!(step(s + 8000 * ms, 1), (false, 4, 1, -1));
        assert_eq!(step(s + 9500 * ms, 1), (false, 4, 1, -1));
        assert_eq!(step(s + 9500 * ms, 0), (false, 4, 1, -1));
        assert_eq!(step(s + 9500 * ms, 2), (false, 2, 3, -1));
        assert_eq!(step(s + 9500 * ms, 5), (true, 2, 3, 3));
    }
}
