//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE.
//!
//! A HyperLogLog is a string value in Redis's own layout, so GET/SET/DUMP-style copies, TYPE, COPY and DEL
//! treat it as the string it is, and a value made by Redis reads here (and back): a 16-byte header
//! (`HYLL`, encoding byte 0 = dense / 1 = sparse, 3 unused bytes, 8-byte little-endian cached cardinality
//! whose top bit marks the cache stale), then 16384 registers of 6 bits. Dense packs the registers
//! least-significant-bit first (12288 bytes); sparse is Redis's run-length opcodes (ZERO, XZERO, VAL).
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19) as Redis does, so the registers, and thus
//! the estimates, match Redis's exactly. Redis edits sparse opcodes in place; Concord decodes, updates
//! the registers and re-encodes the shortest opcode sequence, which may differ from Redis's bytes for the
//! same registers but decodes to the same registers. A sparse value turns dense once a register exceeds
//! 32 or the encoding would exceed `hll-sparse-max-bytes`, as in Redis. The estimator is Ertl's improved
//! raw estimator, as in Redis 5+ (standard error 1.04/sqrt(16384) = 0.81%).
//!
//! PFCOUNT on one key stores the computed cardinality in the header, as Redis does: that changes the
//! value's bytes, so it takes a revision and is logged as itself (replaying it recomputes the same cache).

use super::bitmaps::edit_string;
use super::{CmdResult, CommandError, Ctx, Ttl};
use crate::keyspace::{SmallBytes, Value};
use crate::notify::class as ev;

const P: u32 = 14;
const REGISTERS: usize = 1 << P;
const Q: usize = 64 - P as usize;
const HDR: usize = 16;
const DENSE_LEN: usize = HDR + REGISTERS * 6 / 8;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Largest register value a sparse VAL opcode holds.
const SPARSE_VAL_MAX: u8 = 32;

type Registers = Box<[u8; REGISTERS]>;

fn not_hll() -> CommandError {
    CommandError::Custom("WRONGTYPE Key is not a valid HyperLogLog string value.".into())
}

fn corrupt() -> CommandError {
    CommandError::Custom("INVALIDOBJ Corrupted HLL object detected".into())
}

fn empty_registers() -> Registers {
    Box::new([0u8; REGISTERS])
}

/// MurmurHash64A (Austin Appleby's public-domain hash), reading blocks little-endian.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        let mut k = u64::from_le_bytes(w).wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers: one plus the number of trailing zero bits of
/// the hash above the index bits (at most Q + 1).
fn register_of(element: &[u8]) -> (usize, u8) {
    let h = murmur64a(element, 0xadc8_3b19);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(p: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let lo = u16::from(p.get(byte).copied().unwrap_or(0));
    let hi = u16::from(p.get(byte + 1).copied().unwrap_or(0));
    (((lo | (hi << 8)) >> shift) & 63) as u8
}

fn dense_set(p: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let word = u16::from(v & 63) << shift;
    let mask = 63u16 << shift;
    if let Some(b) = p.get_mut(byte) {
        *b = (*b & !(mask as u8)) | word as u8;
    }
    if let Some(b) = p.get_mut(byte + 1) {
        *b = (*b & !((mask >> 8) as u8)) | (word >> 8) as u8;
    }
}

/// The encoding byte of a valid HyperLogLog string, or the WRONGTYPE error Redis gives for a string that
/// is not one.
fn check(p: &[u8]) -> Result<u8, CommandError> {
    if p.len() < HDR || &p[..4] != b"HYLL" || p[4] > SPARSE {
        return Err(not_hll());
    }
    if p[4] == DENSE && p.len() != DENSE_LEN {
        return Err(not_hll());
    }
    Ok(p[4])
}

/// Walks sparse opcodes, calling `f(first_register, run_length, value)`; INVALIDOBJ when the runs do not
/// cover exactly the 16384 registers.
fn sparse_runs(p: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), CommandError> {
    let mut idx = 0usize;
    let mut i = 0usize;
    while i < p.len() {
        let b = p[i];
        let (len, val, step) = match b >> 6 {
            0 => (usize::from(b & 0x3f) + 1, 0, 1),
            1 => {
                let lo = *p.get(i + 1).ok_or_else(corrupt)?;
                ((usize::from(b & 0x3f) << 8 | usize::from(lo)) + 1, 0, 2)
            }
            _ => (usize::from(b & 3) + 1, ((b >> 2) & 0x1f) + 1, 1),
        };
        if idx + len > REGISTERS {
            return Err(corrupt());
        }
        f(idx, len, val);
        idx += len;
        i += step;
    }
    if idx != REGISTERS {
        return Err(corrupt());
    }
    Ok(())
}

/// Calls `f(index, value)` for every register of a checked dense HyperLogLog, unpacking 4 registers from
/// each 3 bytes.
fn dense_each(p: &[u8], mut f: impl FnMut(usize, u8)) {
    for (k, c) in p[HDR..].chunks_exact(3).enumerate() {
        let w = u32::from(c[0]) | u32::from(c[1]) << 8 | u32::from(c[2]) << 16;
        for j in 0..4 {
            f(4 * k + j, ((w >> (6 * j)) & 63) as u8);
        }
    }
}

/// Decodes a checked HyperLogLog's registers.
fn decode(p: &[u8], regs: &mut [u8; REGISTERS]) -> Result<(), CommandError> {
    if check(p)? == DENSE {
        dense_each(p, |i, v| regs[i] = v);
        Ok(())
    } else {
        sparse_runs(&p[HDR..], |at, len, v| regs[at..at + len].fill(v))
    }
}

/// Raises `into` to the registers of a checked HyperLogLog (the union).
fn merge_into(p: &[u8], into: &mut [u8; REGISTERS]) -> Result<(), CommandError> {
    if check(p)? == DENSE {
        dense_each(p, |i, v| into[i] = into[i].max(v));
        Ok(())
    } else {
        sparse_runs(&p[HDR..], |at, len, v| {
            into[at..at + len].iter_mut().for_each(|r| *r = (*r).max(v))
        })
    }
}

fn header(encoding: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR);
    v.extend_from_slice(b"HYLL");
    v.extend_from_slice(&[encoding, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    v
}

/// A new, empty HyperLogLog (sparse, cached cardinality 0).
#[cfg(test)]
fn new_hll() -> Vec<u8> {
    let mut v = header(SPARSE);
    push_xzero(&mut v, REGISTERS);
    v
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let n = len - 1;
    v.push(0x40 | (n >> 8) as u8);
    v.push((n & 0xff) as u8);
}

/// The sparse opcodes for `regs`, or None when a register is too large for them or they would exceed
/// `max_bytes` (header included).
fn encode_sparse(regs: &[u8; REGISTERS], max_bytes: usize) -> Option<Vec<u8>> {
    let mut v = header(SPARSE);
    let mut i = 0;
    while i < REGISTERS {
        let val = regs[i];
        let run = regs[i..].iter().take_while(|&&r| r == val).count();
        i += run;
        let mut left = run;
        if val == 0 {
            while left > 0 {
                let n = left.min(REGISTERS);
                if n > 64 {
                    push_xzero(&mut v, n);
                } else {
                    v.push((n - 1) as u8);
                }
                left -= n;
            }
        } else {
            if val > SPARSE_VAL_MAX {
                return None;
            }
            while left > 0 {
                let n = left.min(4);
                v.push(0x80 | ((val - 1) << 2) | (n - 1) as u8);
                left -= n;
            }
        }
        if v.len() > max_bytes {
            return None;
        }
    }
    Some(v)
}

fn encode_dense(regs: &[u8; REGISTERS]) -> Vec<u8> {
    let mut v = header(DENSE);
    v.resize(DENSE_LEN, 0);
    for (i, &r) in regs.iter().enumerate() {
        dense_set(&mut v[HDR..], i, r);
    }
    v
}

/// Encodes registers sparse when it fits (and `dense` is not forced), else dense; the cache is stale.
fn encode(regs: &[u8; REGISTERS], max_sparse: usize, dense: bool) -> Vec<u8> {
    let mut v = match (!dense).then(|| encode_sparse(regs, max_sparse)).flatten() {
        Some(v) => v,
        None => encode_dense(regs),
    };
    invalidate_cache(&mut v);
    v
}

/// Carries the old header's unused and cache bytes over to a re-encoded value (Redis edits in place, so
/// they survive there), keeping the cache marked stale.
fn keep_header(old: &[u8], new: &mut [u8]) {
    new[5..16].copy_from_slice(&old[5..16]);
    invalidate_cache(new);
}

fn invalidate_cache(p: &mut [u8]) {
    p[15] |= 0x80;
}

fn cached_cardinality(p: &[u8]) -> Option<u64> {
    if p[15] & 0x80 != 0 {
        return None;
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&p[8..16]);
    Some(u64::from_le_bytes(w))
}

/// Ertl's sigma function (the correction for registers still at zero).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Ertl's tau function (the correction for registers at the maximum value).
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate of a register set.
fn estimate(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs.iter() {
        histo[usize::from(r & 63)] += 1;
    }
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    (ALPHA_INF * m * m / z).round() as u64
}

fn max_sparse(ctx: &Ctx) -> usize {
    ctx.state.config.get_u64("hll-sparse-max-bytes") as usize
}

/// PFADD key [element ...]: 1 if the key was created or a register changed, else 0.
pub fn pfadd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let elements = &ctx.argv[2..];
    let max = max_sparse(ctx);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(e) = shard.get_mut(hash, key) else {
        let mut regs = empty_registers();
        for el in elements {
            let (i, c) = register_of(el);
            regs[i] = regs[i].max(c);
        }
        // A created key counts as an update, and Redis marks the cache stale for every update.
        let bytes = encode(&regs, max, false);
        let value = Value::RawStr(SmallBytes::from_vec(bytes));
        ctx.upsert(&mut shard, hash, key, value, Ttl::Keep);
        drop(shard);
        ctx.notify(ev::STRING, "pfadd", key);
        ctx.out.int(1);
        return Ok(());
    };
    let Some(mut s) = e.value.as_str() else {
        return Err(CommandError::WrongType);
    };
    let encoding = s.with(check)?;
    let updated = if elements.is_empty() {
        false
    } else if encoding == DENSE {
        edit_string(&mut e.value, 0, |p| {
            let mut updated = false;
            for el in elements {
                let (i, c) = register_of(el);
                if dense_get(&p[HDR..], i) < c {
                    dense_set(&mut p[HDR..], i, c);
                    updated = true;
                }
            }
            if updated {
                invalidate_cache(p);
            }
            ((), updated)
        })?
        .1
    } else {
        let mut regs = empty_registers();
        s.with(|p| decode(p, &mut regs))?;
        let mut updated = false;
        for el in elements {
            let (i, c) = register_of(el);
            if regs[i] < c {
                regs[i] = c;
                updated = true;
            }
        }
        if updated {
            let mut bytes = encode(&regs, max, false);
            s.with(|p| keep_header(p, &mut bytes));
            e.value = Value::RawStr(SmallBytes::from_vec(bytes));
        }
        updated
    };
    if updated {
        ctx.stamp(e);
    }
    drop(shard);
    if updated {
        ctx.notify(ev::STRING, "pfadd", key);
    }
    ctx.out.int(updated as i64);
    Ok(())
}

/// PFCOUNT key [key ...]: the estimated number of distinct elements (of the union for several keys).
pub fn pfcount(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.argv[1..];
    let now = ctx.now_ms;
    if keys.len() > 1 {
        let db = ctx.db();
        let mut set = db.lock_many(keys);
        let mut regs = empty_registers();
        for k in keys {
            let h = set.hash(k);
            let found = set.shard(h).get_live(h, k, now);
            // Sources are looked up as reads (keyspace hits and misses), as in Redis.
            ctx.hit(found.is_some(), k);
            let Some(e) = found else {
                continue;
            };
            let Some(mut s) = e.value.as_str() else {
                return Err(CommandError::WrongType);
            };
            s.with(|p| merge_into(p, &mut regs))?;
        }
        drop(set);
        ctx.out.int(estimate(&regs) as i64);
        return Ok(());
    }
    let key = ctx.arg(1);
    let (hash, mut shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live_mut(hash, key, now) else {
        drop(shard);
        ctx.hit(false, key);
        ctx.out.int(0);
        return Ok(());
    };
    ctx.hit(true, key);
    let Some(mut s) = e.value.as_str() else {
        return Err(CommandError::WrongType);
    };
    let (card, stale) = s.with(|p| -> Result<(u64, bool), CommandError> {
        check(p)?;
        if let Some(c) = cached_cardinality(p) {
            return Ok((c, false));
        }
        let mut regs = empty_registers();
        decode(p, &mut regs)?;
        Ok((estimate(&regs), true))
    })?;
    if stale {
        edit_string(&mut e.value, 0, |p| {
            p[8..16].copy_from_slice(&card.to_le_bytes());
            ((), true)
        })?;
        ctx.stamp(e);
    }
    drop(shard);
    ctx.out.int(card as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]: stores the union of the sources and the destination's own registers at
/// the destination, dense if any input was dense.
pub fn pfmerge(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.argv[1..];
    let dst = ctx.arg(1);
    let now = ctx.now_ms;
    let max = max_sparse(ctx);
    let db = ctx.db();
    let mut set = db.lock_many(keys);
    let mut regs = empty_registers();
    let mut dense = false;
    let mut old: Option<Vec<u8>> = None;
    for (j, k) in keys.iter().enumerate() {
        let h = set.hash(k);
        let found = set.shard(h).get_live(h, k, now);
        ctx.hit(found.is_some(), k);
        let Some(e) = found else {
            continue;
        };
        let Some(mut s) = e.value.as_str() else {
            return Err(CommandError::WrongType);
        };
        s.with(|p| -> CmdResult {
            dense |= check(p)? == DENSE;
            merge_into(p, &mut regs)?;
            if j == 0 {
                old = Some(p.to_vec());
            }
            Ok(())
        })?;
    }
    let hd = set.hash(dst);
    let shard = set.shard(hd);
    ctx.reap(shard, hd, dst);
    // Redis marks the destination's cache stale even when no register changed; when that flag was
    // already set and the registers and encoding stay, nothing changes and no revision is taken.
    let same_registers = old.as_deref().is_some_and(|p| {
        let mut mine = empty_registers();
        decode(p, &mut mine).is_ok() && *mine == *regs && (p[4] == DENSE || !dense)
    });
    if same_registers {
        if let Some(e) = shard.get_mut(hd, dst)
            && let Ok(((), true)) = edit_string(&mut e.value, 0, |p| {
                let fresh = p[15] & 0x80 == 0;
                invalidate_cache(p);
                ((), fresh)
            })
        {
            ctx.stamp(e);
        }
    } else {
        let mut bytes = encode(&regs, max, dense);
        if let Some(p) = &old {
            keep_header(p, &mut bytes);
        }
        let value = Value::RawStr(SmallBytes::from_vec(bytes));
        ctx.upsert(shard, hd, dst, value, Ttl::Keep);
    }
    drop(set);
    // Redis reports a merge as a mass PFADD.
    ctx.notify(ev::STRING, "pfadd", dst);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: GETREG (all registers) and TODENSE turn a sparse value dense
/// (a change of the value, keeping its header); DECODE lists sparse opcodes as `z:n`, `Z:n`, `v:val,len`.
pub fn pfdebug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.arg(1);
    let key = ctx.arg(2);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let Some(e) = shard.get_mut(hash, key) else {
        return Err(CommandError::Custom(
            "ERR The specified key does not exist".into(),
        ));
    };
    let Some(bytes) = e.value.to_vec() else {
        return Err(CommandError::WrongType);
    };
    let encoding = check(&bytes)?;
    let to_dense =
        |ctx: &mut Ctx, e: &mut crate::keyspace::Entry| -> Result<Registers, CommandError> {
            let mut regs = empty_registers();
            decode(&bytes, &mut regs)?;
            if encoding == SPARSE {
                let mut dense = encode_dense(&regs);
                dense[5..16].copy_from_slice(&bytes[5..16]);
                e.value = Value::RawStr(SmallBytes::from_vec(dense));
                ctx.stamp(e);
            }
            Ok(regs)
        };
    if super::is_kw(sub, "getreg") {
        let regs = to_dense(ctx, e)?;
        drop(shard);
        ctx.out.array(REGISTERS);
        for r in regs.iter() {
            ctx.out.int(i64::from(*r));
        }
    } else if super::is_kw(sub, "todense") {
        to_dense(ctx, e)?;
        drop(shard);
        ctx.out.int(i64::from(encoding == SPARSE));
    } else if super::is_kw(sub, "encoding") {
        drop(shard);
        ctx.out.simple(if encoding == SPARSE {
            "sparse"
        } else {
            "dense"
        });
    } else if super::is_kw(sub, "decode") {
        drop(shard);
        if encoding != SPARSE {
            return Err(CommandError::Custom(
                "ERR HLL encoding is not sparse".into(),
            ));
        }
        let mut words = Vec::new();
        let mut i = HDR;
        while i < bytes.len() {
            let b = bytes[i];
            match b >> 6 {
                0 => words.push(format!("z:{}", (b & 0x3f) + 1)),
                1 => {
                    let lo = usize::from(bytes.get(i + 1).copied().unwrap_or(0));
                    words.push(format!("Z:{}", (usize::from(b & 0x3f) << 8 | lo) + 1));
                    i += 1;
                }
                _ => words.push(format!("v:{},{}", ((b >> 2) & 0x1f) + 1, (b & 3) + 1)),
            }
            i += 1;
        }
        ctx.out.bulk(words.join(" ").as_bytes());
    } else {
        return Err(CommandError::Custom(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

/// PFSELFTEST: checks dense register packing for every value at every position, that sparse and dense
/// encodings of the same registers agree, and that estimates stay within 6 standard errors up to 100k
/// distinct elements.
pub fn pfselftest(ctx: &mut Ctx) -> CmdResult {
    let fail = |what: String| Err(CommandError::Custom(format!("ERR TESTFAILED {what}")));
    let mut packed = vec![0u8; DENSE_LEN - HDR];
    for round in 0..4u32 {
        let value_of =
            |i: usize| ((i as u32).wrapping_mul(2_654_435_761).rotate_left(round) % 64) as u8;
        for i in 0..REGISTERS {
            dense_set(&mut packed, i, value_of(i));
        }
        for i in 0..REGISTERS {
            if dense_get(&packed, i) != value_of(i) {
                return fail(format!("Register error at {i}"));
            }
        }
    }
    let rel = 1.04 / (REGISTERS as f64).sqrt();
    let mut regs = empty_registers();
    let mut checkpoint = 1u32;
    for n in 1..=100_000u32 {
        let (i, c) = register_of(&n.to_le_bytes());
        regs[i] = regs[i].max(c);
        if n != checkpoint {
            continue;
        }
        checkpoint *= 10;
        let est = estimate(&regs);
        let max_err = if n == 10 {
            1.0
        } else {
            (rel * 6.0 * f64::from(n)).ceil()
        };
        if (est as f64 - f64::from(n)).abs() > max_err {
            return fail(format!(
                "Too big error. card:{n} abserr:{}",
                est.abs_diff(u64::from(n))
            ));
        }
        if let Some(sparse) = encode_sparse(&regs, usize::MAX) {
            let mut back = empty_registers();
            if decode(&sparse, &mut back).is_err() || back != regs {
                return fail("dense/sparse disagree".into());
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur64a_matches_known_vectors() {
        // Values produced by the reference MurmurHash64A with seed 0.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", 0xadc8_3b19), murmur64a(b"b", 0xadc8_3b19));
    }

    #[test]
    fn sparse_and_dense_encodings_decode_to_the_same_registers() {
        let mut regs = empty_registers();
        for i in 0..500u32 {
            let (idx, c) = register_of(&i.to_le_bytes());
            regs[idx] = regs[idx].max(c);
        }
        let sparse = encode(&regs, 3000, false);
        assert_eq!(sparse[4], SPARSE);
        let dense = encode(&regs, 3000, true);
        assert_eq!(dense.len(), DENSE_LEN);
        let (mut a, mut b) = (empty_registers(), empty_registers());
        decode(&sparse, &mut a).unwrap();
        decode(&dense, &mut b).unwrap();
        assert_eq!(a, regs);
        assert_eq!(b, regs);
    }

    #[test]
    fn sparse_runs_must_cover_every_register() {
        let mut v = new_hll();
        v.extend_from_slice(b"hello");
        let mut regs = empty_registers();
        assert_eq!(decode(&v, &mut regs), Err(corrupt()));
        let mut short = header(SPARSE);
        short.push(0x3f);
        assert_eq!(decode(&short, &mut regs), Err(corrupt()));
    }

    #[test]
    fn headers_that_are_not_hll_are_wrongtype() {
        assert_eq!(check(b"HYLL"), Err(not_hll()));
        let mut v = new_hll();
        v[4] = b'x';
        assert_eq!(check(&v), Err(not_hll()));
        v[4] = DENSE;
        assert_eq!(check(&v), Err(not_hll()));
    }

    #[test]
    fn empty_registers_estimate_zero_and_estimates_are_close() {
        assert_eq!(estimate(&empty_registers()), 0);
        let mut regs = empty_registers();
        for i in 0..100_000u32 {
            let (idx, c) = register_of(format!("e{i}").as_bytes());
            regs[idx] = regs[idx].max(c);
        }
        let e = estimate(&regs) as f64;
        assert!((e - 100_000.0).abs() / 100_000.0 < 0.02, "{e}");
    }
}
