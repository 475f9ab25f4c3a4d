//! Set algebra over sorted sets (and plain sets, scored 1): ZUNION, ZINTER, ZDIFF, their STORE forms and
//! ZINTERCARD, with WEIGHTS, AGGREGATE and LIMIT. The sources are read and the destination stored under
//! one lock of all their shards, so a STORE is one atomic step at one revision.

use bytes::Bytes;
use hashbrown::HashMap;

use crate::commands::{CmdResult, CommandError, Ctx, is_kw};
use crate::keyspace::SmallBytes;
use crate::keyspace::types::ZSetValue;

use super::scores::{parse_long, parse_long_in, parse_score};
use super::{Source, emit, err, read_sources, store_result};

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis makes it 0 rather than NaN.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

struct AlgebraReq {
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    agg: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Parses `numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] [LIMIT n]` from
/// `numkeys_idx`, allowing what Redis allows for each command.
fn parse_algebra(
    ctx: &Ctx,
    numkeys_idx: usize,
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<AlgebraReq, CommandError> {
    let argv = ctx.argv;
    let n = parse_long(&argv[numkeys_idx])?;
    if n < 1 {
        return Err(err(&format!(
            "at least 1 input key is needed for '{}' command",
            ctx.spec.name
        )));
    }
    if n as u64 > (argv.len() - numkeys_idx - 1) as u64 {
        return Err(CommandError::Syntax);
    }
    let n = n as usize;
    let keys: Vec<Bytes> = argv[numkeys_idx + 1..numkeys_idx + 1 + n].to_vec();
    let mut req = AlgebraReq {
        keys,
        weights: vec![1.0; n],
        agg: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = numkeys_idx + 1 + n;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j][..];
        if op != SetOp::Diff && !card && remaining > n && is_kw(a, "WEIGHTS") {
            for i in 0..n {
                req.weights[i] = parse_score(&argv[j + 1 + i])
                    .ok_or_else(|| err("weight value is not a float"))?;
            }
            j += 1 + n;
        } else if op != SetOp::Diff && !card && remaining >= 2 && is_kw(a, "AGGREGATE") {
            let v = &argv[j + 1][..];
            req.agg = if is_kw(v, "SUM") {
                Aggregate::Sum
            } else if is_kw(v, "MIN") {
                Aggregate::Min
            } else if is_kw(v, "MAX") {
                Aggregate::Max
            } else {
                return Err(CommandError::Syntax);
            };
            j += 2;
        } else if !store && !card && is_kw(a, "WITHSCORES") {
            req.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is_kw(a, "LIMIT") {
            req.limit =
                parse_long_in(&argv[j + 1], 0, i64::MAX, CommandError::LimitNegative)? as usize;
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(req)
}

/// Computes a union, intersection or difference. For ZINTERCARD (`card`) only the count matters, and
/// stops at `limit` when it is not 0.
fn compute(op: SetOp, req: &AlgebraReq, srcs: Vec<Source>, card: bool) -> (ZSetValue, usize) {
    let mut out = ZSetValue::scratch();
    let mut srcs: Vec<(HashMap<SmallBytes, f64>, f64, usize)> = srcs
        .into_iter()
        .zip(&req.weights)
        .enumerate()
        .map(|(i, (s, w))| (s.unwrap_or_default(), *w, i))
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(|(s, _, _)| s.len());
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() { 0.0 } else { v }
    };
    match op {
        SetOp::Inter => {
            let mut count = 0;
            if let Some(((first, w0, _), rest)) = srcs.split_first() {
                for (m, s) in first {
                    let mut score = weighted(*s, *w0);
                    let mut all = true;
                    for (other, w, _) in rest {
                        match other.get(m) {
                            // Redis zeroes a NaN product only for the first set's score here.
                            Some(v) => aggregate(&mut score, *v * *w, req.agg),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if !all {
                        continue;
                    }
                    count += 1;
                    if card {
                        if req.limit != 0 && count >= req.limit {
                            break;
                        }
                    } else {
                        out.insert(m, score);
                    }
                }
            }
            (out, count)
        }
        SetOp::Union => {
            let mut acc: HashMap<SmallBytes, f64> = HashMap::new();
            for (s, w, _) in &srcs {
                for (m, v) in s {
                    let v = weighted(*v, *w);
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, v, req.agg),
                        None => {
                            acc.insert(m.clone(), v);
                        }
                    }
                }
            }
            for (m, s) in &acc {
                out.insert(m, *s);
            }
            let n = out.len();
            (out, n)
        }
        SetOp::Diff => {
            if let Some(((first, _, _), rest)) = srcs.split_first() {
                for (m, s) in first {
                    if !rest.iter().any(|(o, _, _)| o.contains_key(m)) {
                        out.insert(m, *s);
                    }
                }
            }
            let n = out.len();
            (out, n)
        }
    }
}

fn algebra(ctx: &mut Ctx, op: SetOp, store: bool, card: bool) -> CmdResult {
    let numkeys_idx = if store { 2 } else { 1 };
    let req = parse_algebra(ctx, numkeys_idx, op, store, card)?;
    let mut locked = req.keys.clone();
    if store {
        locked.push(ctx.argv[1].clone());
    }
    let mut set = ctx.db().lock_many(&locked);
    let srcs = read_sources(ctx, &mut set, &req.keys)?;
    let (z, count) = compute(op, &req, srcs, card);
    if card {
        ctx.out.int(count as i64);
    } else if store {
        let dst = ctx.arg(1);
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(ctx, &mut set, dst, z, true, event);
    } else {
        let n = z.len();
        emit(ctx.out, &z, 0, n, false, req.withscores);
    }
    Ok(())
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Union, true, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Inter, true, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Diff, true, false)
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Union, false, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Inter, false, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Diff, false, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, SetOp::Inter, false, true)
}
