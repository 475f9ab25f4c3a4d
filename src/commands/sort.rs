//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or (ALPHA) by bytes,
//! by themselves or by the values of other keys (`BY pattern`, `BY nosort`), cut by LIMIT, projected
//! through `GET` patterns (`#`, `key*`, `hash*->field`), replied or STOREd as a list. Redis 7.0's
//! semantics, including its LIMIT clamping, the native order of lists and sorted sets under a constant BY
//! pattern, and forced ALPHA ordering when a set is STOREd unsorted (so replication stays deterministic).
//!
//! The source is copied out under its shard lock, which is released before the BY and GET keys are read
//! (they may live in the same shard); inside MULTI or a script the whole command runs under the
//! transaction's exclusive lock. SORT ... STORE is logged as `DEL dest` followed by `RPUSH dest items...`,
//! so replay does not depend on the BY/GET keys' state.

use bytes::Bytes;
use std::cmp::Ordering;

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw};
use crate::keyspace::types::ListValue;
use crate::keyspace::{SmallBytes, Value};
use crate::notify::class as ev;
use crate::util::numbers::{parse_f64, parse_i64};

/// A parsed SORT request.
struct Request<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    /// A constant BY pattern (no `*`): keep the native order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a Bytes>,
}

fn parse_long(b: &[u8]) -> Result<i64, CommandError> {
    parse_i64(b).ok_or(CommandError::NotInteger)
}

fn parse<'a>(argv: &'a [Bytes], readonly: bool) -> Result<Request<'a>, CommandError> {
    let mut r = Request {
        desc: false,
        alpha: false,
        limit: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < argv.len() {
        let a = &argv[j][..];
        let left = argv.len() - j - 1;
        if is_kw(a, "ASC") {
            r.desc = false;
        } else if is_kw(a, "DESC") {
            r.desc = true;
        } else if is_kw(a, "ALPHA") {
            r.alpha = true;
        } else if is_kw(a, "LIMIT") && left >= 2 {
            r.limit = Some((parse_long(&argv[j + 1])?, parse_long(&argv[j + 2])?));
            j += 2;
        } else if !readonly && is_kw(a, "STORE") && left >= 1 {
            r.store = Some(&argv[j + 1]);
            j += 1;
        } else if is_kw(a, "BY") && left >= 1 {
            let p = &argv[j + 1][..];
            r.by = Some(p);
            // Once a constant pattern was seen, a later real one does not sort again (as in Redis).
            if !p.contains(&b'*') {
                r.dontsort = true;
            }
            j += 1;
        } else if is_kw(a, "GET") && left >= 1 {
            r.gets.push(&argv[j + 1][..]);
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    Ok(r)
}

/// The source's elements, as its type keeps them.
enum Source {
    /// A list or a sorted set (rank order): an order DESC can reverse under a constant BY.
    Ordered(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
}

/// Copies the elements of the key at `argv[1]`; an absent key is an empty list.
fn load(ctx: &mut Ctx) -> Result<Source, CommandError> {
    let key = ctx.arg(1);
    let (hash, shard) = ctx.db().lock_key(key);
    let src = match shard.get_live(hash, key, ctx.now_ms).map(|e| &e.value) {
        None => Source::Ordered(Vec::new()),
        Some(Value::List(l)) => Source::Ordered(l.items.iter().map(|e| e.to_vec()).collect()),
        Some(Value::ZSet(z)) => Source::Ordered(z.iter().map(|(m, _)| m.to_vec()).collect()),
        Some(Value::Set(s)) => Source::Set(s.iter().map(|m| m.to_vec()).collect()),
        Some(_) => return Err(CommandError::WrongType),
    };
    Ok(src)
}

/// What `pattern` names for element `elem`: the element itself for `#`, else the string at the key
/// with the first `*` replaced by the element, or the field after `->` of the hash at that key. None
/// when the key is absent or of another type, or the pattern has no `*`.
fn lookup(ctx: &Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    // A `->` after the `*` with something behind it names a hash field.
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&p| p + 2 < after.len());
    let (post, field) = match arrow {
        Some(p) => (&after[..p], Some(&after[p + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let (hash, shard) = ctx.db().lock_key(&key);
    let value = &shard.get_live(hash, &key, ctx.now_ms)?.value;
    match (field, value) {
        (Some(f), Value::Hash(h)) => h.get(f).map(<[u8]>::to_vec),
        (None, v) if v.is_string() => v.to_vec(),
        _ => None,
    }
}

/// Redis's `strtod` check for SORT weights: leading blanks allowed, the whole rest must be a number, and
/// NaN is refused. An empty string weighs 0 (strtod consumes nothing and stops at the end).
fn weight(b: &[u8]) -> Option<f64> {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    if b.is_empty() {
        return Some(0.0);
    }
    parse_f64(&b[start..]).filter(|v| !v.is_nan())
}

/// One element to sort with its sort key.
struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

/// Redis's LIMIT clamping: the inclusive output range over `n` elements (empty when end < start).
fn range(limit: Option<(i64, i64)>, n: i64) -> (i64, i64) {
    let (ls, lc) = limit.unwrap_or((0, -1));
    let mut start = ls.clamp(0, n);
    let count = lc.clamp(-1, n);
    let mut end = if count < 0 { n - 1 } else { start + count - 1 };
    if start >= n {
        start = n - 1;
        end = n - 2;
    }
    if end >= n {
        end = n - 1;
    }
    (start, end)
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let argv = ctx.argv;
    let mut req = parse(argv, readonly)?;
    let src = load(ctx)?;
    let (mut elems, is_set) = match src {
        Source::Ordered(v) => (v, false),
        Source::Set(v) => (v, true),
    };
    // A set has no order of its own: STORE (or a script) sorts it so replicas agree. Inside MULTI this
    // sorts too (any order is a valid answer there).
    if req.dontsort && is_set && (req.store.is_some() || !ctx.txn.may_block) {
        req.dontsort = false;
        req.alpha = true;
        req.by = None;
    }
    let n = elems.len() as i64;
    let (start, end) = range(req.limit, n);
    if req.dontsort && !is_set && req.desc {
        elems.reverse();
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if !req.dontsort {
        let mut bad = false;
        for it in &mut items {
            let by = match req.by {
                Some(p) => match lookup(ctx, p, &it.elem) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if req.alpha {
                it.cmp = by;
            } else {
                match weight(by.as_deref().unwrap_or(&it.elem)) {
                    Some(s) => it.score = s,
                    None => bad = true,
                }
            }
        }
        if bad {
            return Err(CommandError::Custom(
                "ERR One or more scores can't be converted into double".into(),
            ));
        }
        let by_pattern = req.by.is_some();
        let compare = |a: &Item, b: &Item| -> Ordering {
            if !req.alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                // A missing weight sorts first.
                a.cmp.cmp(&b.cmp)
            } else {
                a.elem.cmp(&b.elem)
            }
        };
        // Stable, with DESC reversing the comparison (not the result), as Redis's merge sort does.
        items.sort_by(|a, b| {
            let c = compare(a, b);
            if req.desc { c.reverse() } else { c }
        });
    }
    let picked: &[Item] = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    match req.store {
        None => {
            let per = req.gets.len().max(1);
            ctx.out.array(picked.len() * per);
            for it in picked {
                if req.gets.is_empty() {
                    ctx.out.bulk(&it.elem);
                }
                for g in &req.gets {
                    match lookup(ctx, g, &it.elem) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
            Ok(())
        }
        Some(dest) => {
            let mut out: Vec<SmallBytes> = Vec::new();
            for it in picked {
                if req.gets.is_empty() {
                    out.push(SmallBytes::new(&it.elem));
                }
                for g in &req.gets {
                    let v = lookup(ctx, g, &it.elem).unwrap_or_default();
                    out.push(SmallBytes::from_vec(v));
                }
            }
            store(ctx, dest, out)
        }
    }
}

/// Replaces `dest` with a list of `items` (deleting it when there are none) and replies the length.
fn store(ctx: &mut Ctx, dest: &Bytes, items: Vec<SmallBytes>) -> CmdResult {
    let len = items.len();
    let (hash, mut shard) = ctx.db().lock_key(dest);
    let existed = ctx.delete(&mut shard, hash, dest);
    let mut logged = Vec::new();
    if len > 0 {
        logged.reserve(len + 2);
        logged.push(Bytes::from_static(b"RPUSH"));
        logged.push(dest.clone());
        logged.extend(items.iter().map(|e| Bytes::copy_from_slice(e.as_slice())));
        let list: ListValue = items.into_iter().collect();
        ctx.upsert(
            &mut shard,
            hash,
            dest,
            Value::List(Box::new(list)),
            Ttl::Clear,
        );
    }
    drop(shard);
    if existed {
        ctx.log(vec![Bytes::from_static(b"DEL"), dest.clone()]);
    }
    if len > 0 {
        ctx.log(logged);
    }
    // The records above (or none, when nothing changed) stand for the SORT itself.
    ctx.log_nothing();
    if len > 0 {
        ctx.notify(ev::LIST, "sortstore", dest);
    } else if existed {
        ctx.notify(ev::GENERIC, "del", dest);
    }
    if len > 0 || existed {
        // The key specs cannot name STORE's key (it may be anywhere), so tracking hears of it here.
        crate::notify::record_changed(ctx.state.outlets(), &mut ctx.txn.notes, dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

/// The argument index of SORT's STORE destination as COMMAND GETKEYS reports it (Redis's
/// `sortGetKeys`): LIMIT, GET and BY skip their arguments, and the last STORE wins.
pub fn store_key_index(argv: &[Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i][..];
        if is_kw(a, "LIMIT") {
            i += 2;
        } else if is_kw(a, "GET") || is_kw(a, "BY") {
            i += 1;
        } else if is_kw(a, "STORE") && i + 1 < argv.len() {
            found = Some(i + 1);
        }
        i += 1;
    }
    found
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]
pub fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
pub fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_as_redis_does() {
        assert_eq!(range(None, 5), (0, 4));
        assert_eq!(range(Some((1, 2)), 5), (1, 2));
        assert_eq!(range(Some((-3, 2)), 5), (0, 1));
        assert_eq!(range(Some((2, -7)), 5), (2, 4));
        assert_eq!(range(Some((9, 2)), 5), (4, 3));
        assert_eq!(range(Some((0, 0)), 5), (0, -1));
        assert_eq!(range(None, 0), (-1, -2));
    }

    #[test]
    fn the_last_store_is_the_destination_key() {
        let argv = |s: &str| -> Vec<Bytes> {
            s.split(' ')
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        assert_eq!(store_key_index(&argv("sort abc store def")), Some(3));
        assert_eq!(
            store_key_index(&argv("sort abc store invalid store stillbad store def")),
            Some(7)
        );
        assert_eq!(store_key_index(&argv("sort abc get store by store")), None);
        assert_eq!(store_key_index(&argv("sort abc limit store x store")), None);
    }

    #[test]
    fn weights_follow_strtod() {
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b"  1.5"), Some(1.5));
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(weight(b"1.5x"), None);
        assert_eq!(weight(b"nan"), None);
        assert_eq!(weight(b"abc"), None);
    }
}
