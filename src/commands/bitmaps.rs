//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO.
//!
//! A bitmap is an ordinary string (`Value::Str`/`RawStr`/`Int`); bit 0 is the most significant bit of byte 0,
//! as in Redis. Writes grow the string with zero bytes up to the highest bit they touch, bounded by
//! proto-max-bulk-len, and change it in place (a changed value becomes a `raw` string, as in Redis).
//! A write stamps the key only when its bytes really changed (or the key was created or grew); SETBIT and
//! BITFIELD log their own argv, which is deterministic; BITOP logs its argv too, since replaying it on the
//! same sources gives the same destination.

use super::{CmdResult, CommandError, Ctx, Ttl, is_kw, parse_int};
use crate::keyspace::{SmallBytes, Value};
use crate::notify::class as ev;

fn offset_error() -> CommandError {
    CommandError::Custom("ERR bit offset is not an integer or out of range".into())
}

fn max_string_len(ctx: &Ctx) -> u64 {
    ctx.state
        .config
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Parses a bit offset as Redis does: a non-negative integer whose byte index is below
/// proto-max-bulk-len. With `field_bits` (BITFIELD), `#N` means N fields of that width.
fn parse_bit_offset(ctx: &Ctx, arg: &[u8], field_bits: Option<u32>) -> Result<u64, CommandError> {
    let (digits, scale) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let n = crate::util::numbers::parse_i64(digits)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(offset_error)?;
    if n < 0 || (n as u64 >> 3) >= max_string_len(ctx) {
        return Err(offset_error());
    }
    Ok(n as u64)
}

/// The mutable bytes of a string held in a `SmallBytes`, inline or on the heap.
pub(crate) fn bytes_mut(b: &mut SmallBytes) -> &mut [u8] {
    match b {
        SmallBytes::Inline { len, data } => &mut data[..*len as usize],
        SmallBytes::Heap(h) => h,
    }
}

/// Edits a string value in place: `f` gets its bytes, zero-padded to at least `min_len`, and returns its
/// result and whether it changed them. The value becomes a `raw` string only when it grew or changed (Redis
/// unshares it even for a no-op, but does not propagate that, so replicas keep the old encoding; Concord
/// keeps it everywhere). Returns `f`'s result and whether the value changed. WRONGTYPE for other types.
pub(crate) fn edit_string<R>(
    value: &mut Value,
    min_len: usize,
    f: impl FnOnce(&mut [u8]) -> (R, bool),
) -> Result<(R, bool), CommandError> {
    if let Value::RawStr(b) = value {
        if b.len() >= min_len {
            let (r, changed) = f(bytes_mut(b));
            return Ok((r, changed));
        }
        let mut v = std::mem::replace(b, SmallBytes::new(b"")).into_vec();
        v.resize(min_len, 0);
        let (r, _) = f(&mut v);
        *b = SmallBytes::from_vec(v);
        return Ok((r, true));
    }
    let mut v = value.to_vec().ok_or(CommandError::WrongType)?;
    let grown = v.len() < min_len;
    if grown {
        v.resize(min_len, 0);
    }
    let (r, changed) = f(&mut v);
    if grown || changed {
        *value = Value::RawStr(SmallBytes::from_vec(v));
    }
    Ok((r, grown || changed))
}

/// Runs `f` on the bytes of the live string at `key` (None if absent), as a read: counts a keyspace hit or
/// miss and refreshes the access time. WRONGTYPE for other types.
fn read_bytes<R>(
    ctx: &Ctx,
    key: &[u8],
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> Result<R, CommandError> {
    let (touch, lru) = (ctx.touches(), ctx.lru());
    let (hash, mut shard) = ctx.db().lock_key(key);
    let Some(e) = shard.get_live_mut(hash, key, ctx.now_ms) else {
        drop(shard);
        ctx.hit(false, key);
        return Ok(f(None));
    };
    if touch {
        e.access_s = lru;
    }
    let Some(mut s) = e.value.as_str() else {
        drop(shard);
        ctx.hit(true, key);
        return Err(CommandError::WrongType);
    };
    let r = s.with(|b| f(Some(b)));
    drop(shard);
    ctx.hit(true, key);
    Ok(r)
}

#[inline]
fn bit_at(p: &[u8], offset: u64) -> bool {
    p.get((offset >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// SETBIT key offset 0|1: the bit's previous value. The string grows with zero bytes to reach the offset.
pub fn setbit(ctx: &mut Ctx) -> CmdResult {
    let offset = parse_bit_offset(ctx, ctx.arg(2), None)?;
    let on = match parse_int(ctx.arg(3)) {
        Ok(b @ (0 | 1)) => b == 1,
        _ => {
            return Err(CommandError::Custom(
                "ERR bit is not an integer or out of range".into(),
            ));
        }
    };
    let key = ctx.arg(1);
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let was = match shard.get_mut(hash, key) {
        None => {
            let mut v = vec![0u8; byte + 1];
            if on {
                v[byte] |= mask;
            }
            let value = Value::RawStr(SmallBytes::from_vec(v));
            ctx.upsert(&mut shard, hash, key, value, Ttl::Keep);
            ctx.notify(ev::STRING, "setbit", key);
            false
        }
        Some(e) => {
            let (was, changed) = edit_string(&mut e.value, byte + 1, |p| {
                let was = p[byte] & mask != 0;
                if on {
                    p[byte] |= mask;
                } else {
                    p[byte] &= !mask;
                }
                (was, was != on)
            })?;
            if changed {
                ctx.stamp(e);
                ctx.notify(ev::STRING, "setbit", key);
            }
            was
        }
    };
    drop(shard);
    ctx.out.int(was as i64);
    Ok(())
}

/// GETBIT key offset: 0 for a missing key or an offset past the end.
pub fn getbit(ctx: &mut Ctx) -> CmdResult {
    let offset = parse_bit_offset(ctx, ctx.arg(2), None)?;
    let bit = read_bytes(ctx, ctx.arg(1), |p| p.is_some_and(|p| bit_at(p, offset)))?;
    ctx.out.int(bit as i64);
    Ok(())
}

/// Whether a range argument counts bytes or bits.
fn parse_unit(arg: &[u8]) -> Result<bool, CommandError> {
    if is_kw(arg, "bit") {
        Ok(true)
    } else if is_kw(arg, "byte") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

/// Clamps a Redis-style inclusive range (negative = from the end) to `[0, total-1]`. None when empty.
fn clamp_range(mut start: i64, mut end: i64, total: i64) -> Option<(u64, u64)> {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    (start <= end).then_some((start as u64, end as u64))
}

/// Set bits among bits `from..=to` of `p` (both inside `p`).
fn count_bits(p: &[u8], from: u64, to: u64) -> u64 {
    let (fb, lb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut n = popcount(&p[fb..=lb]);
    // Remove the bits of the edge bytes that lie outside the range.
    let head = p[fb] & !(0xffu8 >> (from & 7));
    let tail = p[lb] & (0x7fu8 >> (to & 7));
    n -= u64::from(head.count_ones() + tail.count_ones());
    n
}

fn popcount(p: &[u8]) -> u64 {
    let mut chunks = p.chunks_exact(8);
    let mut n = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from(u64::from_ne_bytes(w).count_ones());
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>()
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let r = read_bytes(ctx, &argv[1], |p| -> Result<i64, CommandError> {
        // A missing key answers 0 before the arguments are looked at, as in Redis.
        let Some(p) = p else { return Ok(0) };
        let total = p.len() as i64;
        let (start, end, isbit) = match argv.len() {
            2 => (0, total - 1, false),
            4 | 5 => {
                let start = parse_int(&argv[2])?;
                let end = parse_int(&argv[3])?;
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let isbit = argv.len() == 5 && parse_unit(&argv[4])?;
                (start, end, isbit)
            }
            _ => return Err(CommandError::Syntax),
        };
        let (bits_total, start, end) = if isbit {
            (total * 8, start, end)
        } else {
            (total, start, end)
        };
        let Some((s, e)) = clamp_range(start, end, bits_total) else {
            return Ok(0);
        };
        let (from, to) = if isbit { (s, e) } else { (s * 8, e * 8 + 7) };
        Ok(count_bits(p, from, to) as i64)
    })??;
    ctx.out.int(r);
    Ok(())
}

/// The first bit equal to `bit` among bits `from..=to` of `p` (both inside `p`).
fn find_bit(p: &[u8], from: u64, to: u64, bit: bool) -> Option<u64> {
    let (fb, lb) = ((from >> 3) as usize, (to >> 3) as usize);
    // Bytes read as if looking for set bits: inverted when looking for clear ones, masked at the edges.
    let byte_at = |i: usize| {
        let mut b = if bit { p[i] } else { !p[i] };
        if i == fb {
            b &= 0xffu8 >> (from & 7);
        }
        if i == lb {
            b &= !(0x7fu8 >> (to & 7));
        }
        b
    };
    let check = |i: usize| {
        let b = byte_at(i);
        (b != 0).then(|| i as u64 * 8 + u64::from(b.leading_zeros()))
    };
    if let Some(pos) = check(fb) {
        return Some(pos);
    }
    if lb == fb {
        return None;
    }
    let skip = if bit { 0u8 } else { 0xff };
    if let Some(i) = p[fb + 1..lb].iter().position(|&b| b != skip) {
        return check(fb + 1 + i);
    }
    check(lb)
}

/// BITPOS key 0|1 [start [end [BYTE|BIT]]]
pub fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let bit = match parse_int(&argv[2])? {
        b @ (0 | 1) => b == 1,
        _ => {
            return Err(CommandError::Custom(
                "ERR The bit argument must be 1 or 0.".into(),
            ));
        }
    };
    let r = read_bytes(ctx, &argv[1], |p| -> Result<i64, CommandError> {
        // A missing key is an endless run of zero bits.
        let Some(p) = p else {
            return Ok(if bit { -1 } else { 0 });
        };
        let total = p.len() as i64;
        let (start, end, isbit, end_given) = match argv.len() {
            3 => (0, total - 1, false, false),
            4..=6 => {
                let start = parse_int(&argv[3])?;
                let isbit = argv.len() == 6 && parse_unit(&argv[5])?;
                match argv.get(4) {
                    Some(e) => (start, parse_int(e)?, isbit, true),
                    None => (start, total - 1, isbit, false),
                }
            }
            _ => return Err(CommandError::Syntax),
        };
        let bits_total = if isbit { total * 8 } else { total };
        let Some((s, e)) = clamp_range(start, end, bits_total) else {
            return Ok(-1);
        };
        let (from, to) = if isbit { (s, e) } else { (s * 8, e * 8 + 7) };
        Ok(match find_bit(p, from, to, bit) {
            Some(pos) => pos as i64,
            None if bit || end_given => -1,
            // Without an explicit end the string reads as padded with zeros on the right.
            None => to as i64 + 1,
        })
    })??;
    ctx.out.int(r);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: the length of the stored result. Missing sources are empty
/// strings and shorter ones are zero-padded; an empty result deletes the destination.
pub fn bitop(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let op = match &argv[1] {
        a if is_kw(a, "and") => BitOp::And,
        a if is_kw(a, "or") => BitOp::Or,
        a if is_kw(a, "xor") => BitOp::Xor,
        a if is_kw(a, "not") => BitOp::Not,
        _ => return Err(CommandError::Syntax),
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CommandError::Custom(
            "ERR BITOP NOT must be called with a single source key.".into(),
        ));
    }
    let dst = &argv[2];
    let srcs = &argv[3..];
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut all: Vec<&[u8]> = srcs.iter().map(|k| &k[..]).collect();
    all.push(dst);
    let mut set = db.lock_many(&all);
    // First pass: types and lengths.
    let mut maxlen = 0usize;
    for k in srcs {
        let h = set.hash(k);
        match set.shard(h).get_live(h, k, now) {
            None => ctx.hit(false, k),
            Some(e) => {
                ctx.hit(true, k);
                maxlen = maxlen.max(e.value.str_len().ok_or(CommandError::WrongType)?);
            }
        }
    }
    let mut res = vec![0u8; maxlen];
    if maxlen > 0 {
        for (i, k) in srcs.iter().enumerate() {
            let h = set.hash(k);
            let mut src = set
                .shard(h)
                .get_live(h, k, now)
                .and_then(|e| e.value.as_str());
            let mut apply = |p: &[u8]| {
                if i == 0 {
                    res[..p.len()].copy_from_slice(p);
                    if op == BitOp::Not {
                        res.iter_mut().for_each(|b| *b = !*b);
                    }
                    return;
                }
                match op {
                    BitOp::And => {
                        res.iter_mut().zip(p).for_each(|(r, s)| *r &= s);
                        res[p.len()..].fill(0);
                    }
                    BitOp::Or => res.iter_mut().zip(p).for_each(|(r, s)| *r |= s),
                    BitOp::Xor => res.iter_mut().zip(p).for_each(|(r, s)| *r ^= s),
                    BitOp::Not => {}
                }
            };
            match &mut src {
                Some(s) => s.with(&mut apply),
                None => apply(&[]),
            }
        }
    }
    let hd = set.hash(dst);
    let shard = set.shard(hd);
    ctx.reap(shard, hd, dst);
    if maxlen == 0 {
        if ctx.delete(shard, hd, dst) {
            ctx.notify(ev::GENERIC, "del", dst);
        }
    } else {
        ctx.notify(ev::STRING, "set", dst);
        let same = shard.get(hd, dst).is_some_and(|e| {
            e.expires_at_ms == 0
                && matches!(&e.value, Value::RawStr(b) if b.as_slice() == res.as_slice())
        });
        if !same {
            let value = Value::RawStr(SmallBytes::from_vec(res));
            ctx.upsert(shard, hd, dst, value, Ttl::Clear);
        }
    }
    drop(set);
    ctx.out.int(maxlen as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

fn parse_field_type(arg: &[u8]) -> Result<(bool, u32), CommandError> {
    let err = || {
        CommandError::Custom(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
                .into(),
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = crate::util::numbers::parse_i64(&arg[1..]).ok_or_else(err)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn parse_fields(ctx: &Ctx) -> Result<Vec<Field>, CommandError> {
    let argv = ctx.argv;
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let a = &argv[j];
        let kind = if is_kw(a, "get") && rem >= 2 {
            0
        } else if is_kw(a, "set") && rem >= 3 {
            1
        } else if is_kw(a, "incrby") && rem >= 3 {
            2
        } else if is_kw(a, "overflow") && rem >= 1 {
            let o = &argv[j + 1];
            overflow = if is_kw(o, "wrap") {
                Overflow::Wrap
            } else if is_kw(o, "sat") {
                Overflow::Sat
            } else if is_kw(o, "fail") {
                Overflow::Fail
            } else {
                return Err(CommandError::Custom(
                    "ERR Invalid OVERFLOW type specified".into(),
                ));
            };
            j += 2;
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        let (signed, bits) = parse_field_type(&argv[j + 1])?;
        let offset = parse_bit_offset(ctx, &argv[j + 2], Some(bits))?;
        let op = match kind {
            0 => FieldOp::Get,
            1 => FieldOp::Set(parse_int(&argv[j + 3])?),
            _ => FieldOp::Incr(parse_int(&argv[j + 3])?),
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if kind == 0 { 3 } else { 4 };
    }
    Ok(fields)
}

/// Reads `bits` bits at bit `offset` as an unsigned number; bits past the end read as zero.
fn get_bits(p: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |v, i| (v << 1) | u64::from(bit_at(p, offset + i)))
}

/// Writes the low `bits` bits of `value` at bit `offset` (inside `p`).
fn set_bits(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let pos = offset + i;
        let mask = 0x80u8 >> (pos & 7);
        let on = (value >> (u64::from(bits) - 1 - i)) & 1 == 1;
        if let Some(b) = p.get_mut((pos >> 3) as usize) {
            if on {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
    }
}

/// Reads a field as a signed or unsigned value.
fn read_field(p: &[u8], f: &Field) -> i128 {
    let raw = get_bits(p, f.offset, f.bits);
    if f.signed && f.bits < 64 && raw >> (f.bits - 1) & 1 == 1 {
        i128::from(raw) - (1i128 << f.bits)
    } else if f.signed {
        i128::from(raw as i64)
    } else {
        i128::from(raw)
    }
}

/// Fits `v` into the field's range by its overflow policy; None when FAIL refuses it.
fn fit(v: i128, f: &Field) -> Option<i128> {
    let (min, max) = if f.signed {
        (-(1i128 << (f.bits - 1)), (1i128 << (f.bits - 1)) - 1)
    } else {
        (0, (1i128 << f.bits) - 1)
    };
    if (min..=max).contains(&v) {
        return Some(v);
    }
    match f.overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if v > max { max } else { min }),
        Overflow::Wrap => {
            let m = v.rem_euclid(1i128 << f.bits);
            Some(if f.signed && m > max {
                m - (1i128 << f.bits)
            } else {
                m
            })
        }
    }
}

/// Runs one SET or INCRBY on `p`: the reply (None for a refused overflow) and whether the bytes changed.
fn write_field(p: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    let old = read_field(p, f);
    let (new, reply) = match f.op {
        // An unsigned field takes the value's 64-bit two's complement, so a negative SET overflows.
        FieldOp::Set(v) => {
            let v = if f.signed {
                i128::from(v)
            } else {
                i128::from(v as u64)
            };
            // Redis computes `max - value` in 64 bits for a signed SET; when that wraps (a value far below
            // the field's minimum) it takes the overflow as positive, so SAT stores the maximum. Kept for
            // byte-for-byte compatibility.
            let max = (1i128 << (f.bits - 1)) - 1;
            if f.signed
                && f.bits < 64
                && f.overflow == Overflow::Sat
                && max - v > i128::from(i64::MAX)
            {
                set_bits(p, f.offset, f.bits, max as u64);
                return (Some(old as i64), max != old);
            }
            match fit(v, f) {
                Some(n) => (n, old),
                None => return (None, false),
            }
        }
        FieldOp::Incr(d) => match fit(old + i128::from(d), f) {
            Some(n) => (n, n),
            None => return (None, false),
        },
        FieldOp::Get => return (Some(old as i64), false),
    };
    set_bits(p, f.offset, f.bits, new as u64);
    (Some(reply as i64), new != old)
}

fn reply_fields(ctx: &mut Ctx, replies: &[Option<i64>]) {
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(*n),
            None => ctx.out.null(),
        }
    }
}

fn bitfield_generic(ctx: &mut Ctx, readonly_cmd: bool) -> CmdResult {
    let fields = parse_fields(ctx)?;
    let key = ctx.arg(1);
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + u64::from(f.bits) - 1)
        .max();
    let Some(highest) = highest else {
        let replies = read_bytes(ctx, key, |p| {
            let p = p.unwrap_or_default();
            fields
                .iter()
                .map(|f| Some(read_field(p, f) as i64))
                .collect::<Vec<_>>()
        })?;
        reply_fields(ctx, &replies);
        return Ok(());
    };
    if readonly_cmd {
        return Err(CommandError::Custom(
            "ERR BITFIELD_RO only supports the GET subcommand".into(),
        ));
    }
    let min_len = (highest >> 3) as usize + 1;
    let (hash, mut shard) = ctx.db().lock_key(key);
    ctx.reap(&mut shard, hash, key);
    let run = |p: &mut [u8]| {
        let mut changed = false;
        let replies: Vec<Option<i64>> = fields
            .iter()
            .map(|f| {
                let (r, c) = write_field(p, f);
                changed |= c;
                r
            })
            .collect();
        (replies, changed)
    };
    let replies = match shard.get_mut(hash, key) {
        None => {
            // The key is created (zero-filled to the highest written bit) even if every write failed.
            let mut v = vec![0u8; min_len];
            let (replies, _) = run(&mut v);
            let value = Value::RawStr(SmallBytes::from_vec(v));
            ctx.upsert(&mut shard, hash, key, value, Ttl::Keep);
            ctx.notify(ev::STRING, "setbit", key);
            replies
        }
        Some(e) => {
            let (replies, changed) = edit_string(&mut e.value, min_len, run)?;
            if changed {
                ctx.stamp(e);
                ctx.notify(ev::STRING, "setbit", key);
            }
            replies
        }
    };
    drop(shard);
    reply_fields(ctx, &replies);
    Ok(())
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment |
/// OVERFLOW WRAP|SAT|FAIL ...]: one reply per GET/SET/INCRBY (nil where OVERFLOW FAIL refused a write).
pub fn bitfield(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, false)
}

/// BITFIELD_RO key [GET type offset ...]
pub fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(signed: bool, bits: u32, overflow: Overflow) -> Field {
        Field {
            op: FieldOp::Get,
            signed,
            bits,
            offset: 0,
            overflow,
        }
    }

    #[test]
    fn bit_ranges_count_only_bits_inside() {
        let p = [0xffu8, 0xff, 0xff];
        assert_eq!(count_bits(&p, 0, 23), 24);
        assert_eq!(count_bits(&p, 3, 5), 3);
        assert_eq!(count_bits(&p, 5, 17), 13);
    }

    #[test]
    fn find_bit_respects_edges() {
        let p = [0x00u8, 0x00, 0x01];
        assert_eq!(find_bit(&p, 0, 23, true), Some(23));
        assert_eq!(find_bit(&p, 0, 22, true), None);
        assert_eq!(find_bit(&[0xffu8, 0xf0], 0, 15, false), Some(12));
        assert_eq!(find_bit(&[0xffu8, 0xf0], 0, 11, false), None);
        assert_eq!(find_bit(&[0x10u8], 2, 5, true), Some(3));
    }

    #[test]
    fn overflow_policies_wrap_saturate_or_fail() {
        let u8w = field(false, 8, Overflow::Wrap);
        assert_eq!(fit(256, &u8w), Some(0));
        assert_eq!(fit(-1, &u8w), Some(255));
        let i8w = field(true, 8, Overflow::Wrap);
        assert_eq!(fit(128, &i8w), Some(-128));
        assert_eq!(fit(-129, &i8w), Some(127));
        let i8s = field(true, 8, Overflow::Sat);
        assert_eq!(fit(1000, &i8s), Some(127));
        assert_eq!(fit(-1000, &i8s), Some(-128));
        assert_eq!(fit(1000, &field(true, 8, Overflow::Fail)), None);
        let i64w = field(true, 64, Overflow::Wrap);
        assert_eq!(
            fit(i128::from(i64::MAX) + 1, &i64w),
            Some(i128::from(i64::MIN))
        );
    }

    #[test]
    fn fields_round_trip_at_unaligned_offsets() {
        let mut p = [0u8; 10];
        let f = Field {
            op: FieldOp::Set(-5),
            signed: true,
            bits: 13,
            offset: 7,
            overflow: Overflow::Wrap,
        };
        assert_eq!(write_field(&mut p, &f), (Some(0), true));
        assert_eq!(read_field(&p, &f), -5);
        let u63 = Field {
            op: FieldOp::Set(i64::MAX),
            signed: false,
            bits: 63,
            offset: 1,
            overflow: Overflow::Wrap,
        };
        write_field(&mut p, &u63);
        assert_eq!(read_field(&p, &u63), i128::from(i64::MAX));
    }

    #[test]
    fn u64_is_not_a_field_type() {
        assert!(parse_field_type(b"u64").is_err());
        assert!(parse_field_type(b"i65").is_err());
        assert!(parse_field_type(b"i0").is_err());
        assert!(parse_field_type(b"").is_err());
        assert_eq!(parse_field_type(b"i64"), Ok((true, 64)));
        assert_eq!(parse_field_type(b"u63"), Ok((false, 63)));
    }
}
