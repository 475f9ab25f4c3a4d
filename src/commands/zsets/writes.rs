//! Writes by member: ZADD (NX / XX / GT / LT / CH / INCR), ZINCRBY and ZREM. A change takes the command's
//! revision; a set left empty is deleted.

use crate::commands::{CmdResult, CommandError, Ctx, is_kw};

use super::scores::{parse_score, reply_score};
use super::{err, limits, modify};

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd_generic(ctx: &mut Ctx, mut fl: AddFlags) -> CmdResult {
    let argv = ctx.argv;
    let mut i = 2;
    if !fl.incr {
        while i < argv.len() {
            let a = &argv[i][..];
            if is_kw(a, "NX") {
                fl.nx = true;
            } else if is_kw(a, "XX") {
                fl.xx = true;
            } else if is_kw(a, "CH") {
                fl.ch = true;
            } else if is_kw(a, "INCR") {
                fl.incr = true;
            } else if is_kw(a, "GT") {
                fl.gt = true;
            } else if is_kw(a, "LT") {
                fl.lt = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let rest = &argv[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if fl.nx && fl.xx {
        return Err(err("XX and NX options at the same time are not compatible"));
    }
    if (fl.nx && (fl.gt || fl.lt)) || (fl.gt && fl.lt) {
        return Err(err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if fl.incr && rest.len() > 2 {
        return Err(err("INCR option supports a single increment-element pair"));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        let s = parse_score(&p[0]).ok_or(CommandError::NotFloat)?;
        pairs.push((s, &p[1][..]));
    }
    let (entries, value) = limits(ctx);
    let key = ctx.arg(1);
    // (added, updated, processed, last score) or the NaN error.
    let event = if fl.incr { "zincr" } else { "zadd" };
    let r = modify(ctx, key, !fl.xx, event, |z| {
        let (mut added, mut updated, mut processed, mut last) = (0i64, 0i64, 0i64, 0.0);
        for &(score, member) in &pairs {
            match z.score(member) {
                Some(cur) => {
                    if fl.nx {
                        continue;
                    }
                    let new = if fl.incr { cur + score } else { score };
                    if new.is_nan() {
                        return (
                            Err(err("resulting score is not a number (NaN)")),
                            added + updated > 0,
                        );
                    }
                    if (fl.lt && new >= cur) || (fl.gt && new <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = new;
                    if new != cur {
                        z.insert(member, new);
                        updated += 1;
                    }
                }
                None => {
                    if fl.xx {
                        continue;
                    }
                    z.prepare_insert(entries, value, member.len());
                    z.insert(member, score);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
        (Ok((added, updated, processed, last)), added + updated > 0)
    })?;
    let (added, updated, processed, last) = match r {
        Some(res) => res?,
        None => (0, 0, 0, 0.0),
    };
    if fl.incr {
        if processed > 0 {
            reply_score(ctx.out, last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if fl.ch { added + updated } else { added });
    }
    Ok(())
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, AddFlags::default())
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(
        ctx,
        AddFlags {
            incr: true,
            ..Default::default()
        },
    )
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    let key = ctx.arg(1);
    let n = modify(ctx, key, false, "zrem", |z| {
        let n = members.iter().filter(|m| z.remove(m).is_some()).count();
        (n, n > 0)
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}
