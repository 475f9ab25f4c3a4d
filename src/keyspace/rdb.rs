//! DUMP payloads: one value in Redis's RDB object encoding, followed by the RDB version (u16 LE) and a
//! CRC-64 (Jones polynomial, as Redis's `crc64`, LE) of everything before it, so keys move between Redis
//! 7.0 and Concord with DUMP and RESTORE.
//!
//! **Written** (what Redis 7.0 itself reads back): strings as type 0 with RDB's 8/16/32-bit integer
//! encodings for short integers, lists as type 1, sets as type 2, hashes as type 4, sorted sets as type 5
//! (binary doubles), streams as type 19 (Redis 7.0's RDB_TYPE_STREAM_LISTPACKS_2: listpack nodes of up
//! to 100 entries, consumer groups with their PELs).
//!
//! **Read**: all of the above plus what Redis 7.0's DUMP emits for small values: 11 intset, 16 hash
//! listpack, 17 zset listpack, 18 quicklist of listpacks (and plain nodes), 20 set listpack (7.2),
//! streams of types 15 (Redis 5-6) and 21 (7.2), with LZF-compressed strings anywhere a string may
//! appear. Deleted entries still present in a Redis stream node are skipped. Payloads of RDB versions up to 12 (Redis 7.4) are
//! accepted when their object type is one of these. Every read is bounds-checked: hostile bytes give an
//! error, never a panic or a huge allocation.

use crate::keyspace::SmallBytes;
use crate::keyspace::Value;
use crate::keyspace::types::hash::HashLimits;
use crate::keyspace::types::set::SetLimits;
use crate::keyspace::types::stream::{Consumer, Group, Nack, NodeLimits, StreamId};
use crate::keyspace::types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};
use crate::util::numbers::{parse_f64, parse_i64};

/// The RDB version DUMP writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The newest RDB version RESTORE accepts (Redis 7.4's); its types must still be known ones.
const MAX_READ_VERSION: u16 = 12;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
const TYPE_SET_LISTPACK: u8 = 20;
const TYPE_STREAM_LISTPACKS_3: u8 = 21;

/// Why a payload was refused; each maps to one of Redis's RESTORE errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// `ERR DUMP payload version or checksum are wrong`.
    VersionOrChecksum,
    /// `ERR Bad data format`.
    BadFormat,
}

impl PayloadError {
    pub fn message(self) -> &'static str {
        match self {
            PayloadError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            PayloadError::BadFormat => "ERR Bad data format",
        }
    }
}

/// The encoding limits a restored value is shaped by (the `*-max-listpack-*` configs).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub hash: HashLimits,
    pub set: SetLimits,
    /// `zset-max-listpack-entries`, `zset-max-listpack-value`.
    pub zset: (u64, u64),
    pub stream: NodeLimits,
}

// ---------------------------------------------------------------------------------------------------
// CRC-64 (Jones polynomial, reflected, init 0, no final xor), as Redis's crc64.

const CRC64_TABLE: [u64; 256] = {
    // 0xad93d23594c935a9 with its bits reversed, for the reflected (LSB-first) form.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Redis's `crc64(0, data)`.
pub fn crc64(data: &[u8]) -> u64 {
    data.iter().fold(0u64, |crc, &b| {
        CRC64_TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8)
    })
}

// ---------------------------------------------------------------------------------------------------
// LZF

/// Decompresses an LZF block into exactly `out_len` bytes (None on malformed input or a size mismatch).
pub fn lzf_decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len.min(input.len().saturating_mul(64)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let n = ctrl + 1;
            let lit = input.get(i..i + n)?;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            // A back reference: length in the top 3 bits (7 = extended), offset in the low 5 + next byte.
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            // Byte by byte: the source may overlap what this copy writes.
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

// ---------------------------------------------------------------------------------------------------
// Writing

fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes an integer with RDB's 8/16/32-bit encodings when it fits; false if it does not.
fn put_int_encoded(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(v) = i8::try_from(n) {
        out.push(0xC0);
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(0xC1);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        out.push(0xC2);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// A string as Redis's `rdbSaveRawString` writes it (uncompressed): short canonical integers in the
/// integer encodings, anything else as length + bytes.
fn put_str(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() <= 11
        && let Some(n) = parse_i64(b)
        && put_int_encoded(out, n)
    {
        return;
    }
    put_len(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// The DUMP payload of `v`.
pub fn dump(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::Int(n) => {
            out.push(TYPE_STRING);
            if !put_int_encoded(&mut out, *n) {
                put_str(&mut out, itoa::Buffer::new().format(*n).as_bytes());
            }
        }
        Value::Str(b) | Value::RawStr(b) => {
            out.push(TYPE_STRING);
            put_str(&mut out, b.as_slice());
        }
        Value::List(l) => {
            out.push(TYPE_LIST);
            put_len(&mut out, l.len() as u64);
            for e in &l.items {
                put_str(&mut out, e.as_slice());
            }
        }
        Value::Set(s) => {
            out.push(TYPE_SET);
            put_len(&mut out, s.len() as u64);
            for m in s.iter() {
                put_str(&mut out, m.as_slice());
            }
        }
        Value::Hash(h) => {
            out.push(TYPE_HASH);
            put_len(&mut out, h.len() as u64);
            for (f, val) in h.iter() {
                put_str(&mut out, f.as_slice());
                put_str(&mut out, val.as_slice());
            }
        }
        Value::ZSet(z) => {
            out.push(TYPE_ZSET_2);
            put_len(&mut out, z.len() as u64);
            // Highest first, as Redis writes its skiplist (so a loader inserting at the head is O(1)).
            let mut pairs: Vec<(&[u8], f64)> = z.iter().collect();
            pairs.reverse();
            for (m, s) in pairs {
                put_str(&mut out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        Value::Stream(s) => {
            out.push(TYPE_STREAM_LISTPACKS_2);
            put_stream(&mut out, s);
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Entries per listpack node DUMP writes (Redis's default `stream-node-max-entries`).
const STREAM_NODE_ENTRIES: usize = 100;
/// Soft byte cap of a node DUMP writes (Redis's default `stream-node-max-bytes`).
const STREAM_NODE_BYTES: usize = 4096;

/// A listpack under construction.
struct Listpack {
    body: Vec<u8>,
    count: usize,
}

impl Listpack {
    fn new() -> Self {
        Listpack {
            body: Vec::new(),
            count: 0,
        }
    }

    fn entry(&mut self, enc: &[u8]) {
        self.body.extend_from_slice(enc);
        // The back-length: the entry's size in 7-bit groups, most significant first, every byte but
        // the first flagged, so a reader walking backwards can find the entry's start.
        let l = enc.len();
        let n = backlen_size(l);
        for i in (0..n).rev() {
            let group = ((l >> (7 * i)) & 0x7f) as u8;
            self.body
                .push(if i == n - 1 { group } else { group | 0x80 });
        }
        self.count += 1;
    }

    fn int(&mut self, v: i64) {
        let mut e = Vec::with_capacity(9);
        if (0..=127).contains(&v) {
            e.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            e.push(0xC0 | (u >> 8) as u8);
            e.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            e.push(0xF1);
            e.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            e.push(0xF2);
            e.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            e.push(0xF3);
            e.extend_from_slice(&x.to_le_bytes());
        } else {
            e.push(0xF4);
            e.extend_from_slice(&v.to_le_bytes());
        }
        self.entry(&e);
    }

    /// A string element; canonical integers are stored as integers, as Redis's listpack does.
    fn str(&mut self, b: &[u8]) {
        if b.len() <= 20
            && let Some(v) = parse_i64(b)
        {
            self.int(v);
            return;
        }
        let mut e = Vec::with_capacity(b.len() + 5);
        let n = b.len();
        if n < 64 {
            e.push(0x80 | n as u8);
        } else if n < 4096 {
            e.push(0xE0 | (n >> 8) as u8);
            e.push(n as u8);
        } else {
            e.push(0xF0);
            e.extend_from_slice(&(n as u32).to_le_bytes());
        }
        e.extend_from_slice(b);
        self.entry(&e);
    }

    fn finish(self) -> Vec<u8> {
        let total = 6 + self.body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xFF);
        out
    }
}

/// A stream ID as Redis stores it in node keys and PELs: 128 bits, big endian.
fn raw_id(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// One listpack node of a stream in Redis's layout: the master entry (live count, deleted count, the
/// first entry's field names, a 0 terminator), then per entry its flags, the ID as a difference from
/// the node's master ID, the values alone when the field names are the master's (SAMEFIELDS) or the
/// field count and pairs otherwise, and the entry's element count.
fn stream_node(entries: &[&crate::keyspace::types::stream::StreamEntry]) -> Vec<u8> {
    const SAMEFIELDS: i64 = 2;
    let master = entries[0].id;
    let master_fields: Vec<&[u8]> = entries[0]
        .fields
        .iter()
        .step_by(2)
        .map(|f| &f[..])
        .collect();
    let mut lp = Listpack::new();
    lp.int(entries.len() as i64);
    lp.int(0);
    lp.int(master_fields.len() as i64);
    for f in &master_fields {
        lp.str(f);
    }
    lp.int(0);
    for e in entries {
        let pairs = e.fields.len() / 2;
        let same = pairs == master_fields.len()
            && e.fields
                .iter()
                .step_by(2)
                .zip(&master_fields)
                .all(|(a, b)| &a[..] == *b);
        lp.int(if same { SAMEFIELDS } else { 0 });
        lp.int(e.id.ms.wrapping_sub(master.ms) as i64);
        lp.int(e.id.seq.wrapping_sub(master.seq) as i64);
        if same {
            for v in e.fields.iter().skip(1).step_by(2) {
                lp.str(v);
            }
            lp.int(pairs as i64 + 3);
        } else {
            lp.int(pairs as i64);
            for f in e.fields.iter() {
                lp.str(f);
            }
            lp.int(2 * pairs as i64 + 4);
        }
    }
    lp.finish()
}

/// A stream as Redis 7.0 writes it (RDB_TYPE_STREAM_LISTPACKS_2): the listpack nodes keyed by their
/// master IDs, the stream's counters, then each group with its PEL and its consumers' PELs.
fn put_stream(out: &mut Vec<u8>, s: &StreamValue) {
    let entries: Vec<_> = s.range(StreamId::MIN, StreamId::MAX, false).collect();
    let mut nodes: Vec<&[_]> = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        if i > start && (i - start >= STREAM_NODE_ENTRIES || bytes >= STREAM_NODE_BYTES) {
            nodes.push(&entries[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += e.fields.iter().map(|f| f.len() + 2).sum::<usize>();
    }
    if start < entries.len() {
        nodes.push(&entries[start..]);
    }
    put_len(out, nodes.len() as u64);
    for n in nodes {
        put_str(out, &raw_id(n[0].id));
        put_str(out, &stream_node(n));
    }
    put_len(out, s.length);
    put_id(out, s.last_id);
    put_id(out, s.first_id);
    put_id(out, s.max_deleted_id);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_str(out, name);
        put_id(out, g.last_id);
        // Redis writes its "unknown" (-1) as the 64-bit length 2^64 - 1.
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel.len() as u64);
        for (id, n) in &g.pel {
            out.extend_from_slice(&raw_id(*id));
            out.extend_from_slice(&n.delivery_time.to_le_bytes());
            put_len(out, n.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_str(out, cname);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading

type R<T> = Result<T, PayloadError>;

const BAD: PayloadError = PayloadError::BadFormat;

/// A cursor over payload bytes.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

/// A length, or one of RDB's special string encodings.
enum Len {
    Plain(u64),
    Int8,
    Int16,
    Int32,
    Lzf,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(BAD)?;
        let s = self.b.get(self.pos..end).ok_or(BAD)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    fn len_or_enc(&mut self) -> R<Len> {
        let b0 = self.byte()?;
        Ok(match b0 >> 6 {
            0 => Len::Plain((b0 & 0x3f) as u64),
            1 => Len::Plain((((b0 & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b0 {
                0x80 => {
                    let s = self.take(4)?;
                    Len::Plain(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64)
                }
                0x81 => {
                    let s = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    Len::Plain(u64::from_be_bytes(a))
                }
                _ => return Err(BAD),
            },
            _ => match b0 & 0x3f {
                0 => Len::Int8,
                1 => Len::Int16,
                2 => Len::Int32,
                3 => Len::Lzf,
                _ => return Err(BAD),
            },
        })
    }

    fn len(&mut self) -> R<u64> {
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(n),
            _ => Err(BAD),
        }
    }

    /// A count of items still to read, each of at least `min_bytes`: refuses counts the payload cannot
    /// hold, so a hostile count never drives an allocation.
    fn count(&mut self, min_bytes: usize) -> R<usize> {
        let n = self.len()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(BAD);
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> R<Vec<u8>> {
        let mut buf = itoa::Buffer::new();
        Ok(match self.len_or_enc()? {
            Len::Plain(n) => self.take(usize::try_from(n).map_err(|_| BAD)?)?.to_vec(),
            Len::Int8 => buf.format(self.take(1)?[0] as i8).as_bytes().to_vec(),
            Len::Int16 => {
                let s = self.take(2)?;
                buf.format(i16::from_le_bytes([s[0], s[1]]))
                    .as_bytes()
                    .to_vec()
            }
            Len::Int32 => {
                let s = self.take(4)?;
                buf.format(i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
                    .as_bytes()
                    .to_vec()
            }
            Len::Lzf => {
                let clen = usize::try_from(self.len()?).map_err(|_| BAD)?;
                let ulen = usize::try_from(self.len()?).map_err(|_| BAD)?;
                // LZF expands at most ~256x here per back-reference byte pair; anything beyond is a lie.
                if ulen > clen.saturating_mul(256).max(64) {
                    return Err(BAD);
                }
                let c = self.take(clen)?;
                lzf_decompress(c, ulen).ok_or(BAD)?
            }
        })
    }

    fn u64_le(&mut self) -> R<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }

    fn id(&mut self) -> R<StreamId> {
        Ok(StreamId::new(self.len()?, self.len()?))
    }
}

/// Checks a payload's footer (RDB version and CRC-64) and returns its object part.
pub fn verify(payload: &[u8]) -> R<&[u8]> {
    if payload.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > MAX_READ_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if crc64(&payload[..payload.len() - 8]) != u64::from_le_bytes(crc) {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(body)
}

/// Decodes a DUMP payload (footer checked) into a value shaped by `lim`.
pub fn restore(payload: &[u8], lim: &Limits) -> R<Value> {
    let body = verify(payload)?;
    let mut r = Reader { b: body, pos: 0 };
    let t = r.byte()?;
    let v = match t {
        TYPE_STRING => Value::string_from_vec(r.string()?),
        TYPE_LIST => {
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(SmallBytes::from_vec(r.string()?));
            }
            list(items)?
        }
        TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.count(2)?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let container = r.len()?;
                let blob = r.string()?;
                match container {
                    // A plain node holds one element as is.
                    1 => items.push(SmallBytes::from_vec(blob)),
                    2 => {
                        let lp = listpack(&blob)?;
                        if lp.is_empty() {
                            return Err(BAD);
                        }
                        items.extend(lp.into_iter().map(SmallBytes::from_vec));
                    }
                    _ => return Err(BAD),
                }
            }
            list(items)?
        }
        TYPE_SET => {
            let n = r.count(1)?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                members.push(r.string()?);
            }
            set(members, &lim.set)?
        }
        TYPE_SET_INTSET => set(intset(&r.string()?)?, &lim.set)?,
        TYPE_SET_LISTPACK => set(listpack(&r.string()?)?, &lim.set)?,
        TYPE_HASH => {
            let n = r.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push((r.string()?, r.string()?));
            }
            hash(pairs, &lim.hash)?
        }
        TYPE_HASH_LISTPACK => hash(pairs(listpack(&r.string()?)?)?, &lim.hash)?,
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == TYPE_ZSET_2 {
                    f64::from_bits(r.u64_le()?)
                } else {
                    // The old text form: a length byte, then the digits (253-255 are nan/+inf/-inf).
                    match r.byte()? {
                        253 => f64::NAN,
                        254 => f64::INFINITY,
                        255 => f64::NEG_INFINITY,
                        l => parse_f64(r.take(l as usize)?).ok_or(BAD)?,
                    }
                };
                pairs.push((m, s));
            }
            zset(pairs, lim.zset)?
        }
        TYPE_ZSET_LISTPACK => {
            let mut out = Vec::new();
            for (m, s) in pairs(listpack(&r.string()?)?)? {
                out.push((m, parse_f64(&s).ok_or(BAD)?));
            }
            zset(out, lim.zset)?
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            read_stream(&mut r, t, lim.stream)?
        }
        _ => return Err(BAD),
    };
    Ok(v)
}

fn list(items: Vec<SmallBytes>) -> R<Value> {
    if items.is_empty() {
        return Err(BAD);
    }
    Ok(Value::List(Box::new(ListValue {
        items: items.into(),
    })))
}

fn set(members: Vec<Vec<u8>>, lim: &SetLimits) -> R<Value> {
    let first = members.first().ok_or(BAD)?;
    let mut s = SetValue::new_for(first, members.len(), lim);
    for m in &members {
        if !s.add(m, lim) {
            return Err(BAD);
        }
    }
    Ok(Value::Set(Box::new(s)))
}

fn hash(pairs: Vec<(Vec<u8>, Vec<u8>)>, lim: &HashLimits) -> R<Value> {
    if pairs.is_empty() {
        return Err(BAD);
    }
    let mut h = HashValue::default();
    if pairs.len() as u64 > lim.listpack_entries {
        h.fields.build_index();
    }
    for (f, v) in &pairs {
        if !h.set(f, v, lim) {
            return Err(BAD);
        }
    }
    Ok(Value::Hash(Box::new(h)))
}

fn zset(pairs: Vec<(Vec<u8>, f64)>, (max_entries, max_value): (u64, u64)) -> R<Value> {
    if pairs.is_empty() {
        return Err(BAD);
    }
    let mut z = ZSetValue::scratch();
    for (m, s) in &pairs {
        if s.is_nan() || z.insert(m, *s).is_some() {
            return Err(BAD);
        }
    }
    z.fresh_encoding(max_entries, max_value);
    Ok(Value::ZSet(Box::new(z)))
}

fn pairs(items: Vec<Vec<u8>>) -> R<Vec<(Vec<u8>, Vec<u8>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(BAD);
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

/// The members of an intset blob: encoding width (2, 4 or 8) u32 LE, count u32 LE, then the values LE.
fn intset(blob: &[u8]) -> R<Vec<Vec<u8>>> {
    let head = blob.get(..8).ok_or(BAD)?;
    let width = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let n = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + n.checked_mul(width).ok_or(BAD)? {
        return Err(BAD);
    }
    let mut buf = itoa::Buffer::new();
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|c| {
            let v = match width {
                2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                _ => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    i64::from_le_bytes(a)
                }
            };
            buf.format(v).as_bytes().to_vec()
        })
        .collect())
}

/// Size of a listpack entry's back-length field for an entry of `n` bytes.
fn backlen_size(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// The elements of a listpack blob (integers rendered as decimal strings).
pub fn listpack(blob: &[u8]) -> R<Vec<Vec<u8>>> {
    let head = blob.get(..6).ok_or(BAD)?;
    let total = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if total != blob.len() {
        return Err(BAD);
    }
    let mut r = Reader { b: blob, pos: 6 };
    let mut out = Vec::new();
    let mut buf = itoa::Buffer::new();
    loop {
        let start = r.pos;
        let b0 = r.byte()?;
        if b0 == 0xFF {
            break;
        }
        let item: Vec<u8> = if b0 & 0x80 == 0 {
            buf.format(b0 & 0x7f).as_bytes().to_vec()
        } else if b0 & 0xC0 == 0x80 {
            r.take((b0 & 0x3f) as usize)?.to_vec()
        } else if b0 & 0xE0 == 0xC0 {
            let raw = (((b0 & 0x1f) as i64) << 8) | r.byte()? as i64;
            let v = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
            buf.format(v).as_bytes().to_vec()
        } else if b0 & 0xF0 == 0xE0 {
            let n = (((b0 & 0x0f) as usize) << 8) | r.byte()? as usize;
            r.take(n)?.to_vec()
        } else {
            let v: i64 = match b0 {
                0xF0 => {
                    let s = r.take(4)?;
                    let n = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
                    let data = r.take(n)?.to_vec();
                    r.take(backlen_size(r.pos - start))?;
                    out.push(data);
                    continue;
                }
                0xF1 => {
                    let s = r.take(2)?;
                    i16::from_le_bytes([s[0], s[1]]) as i64
                }
                0xF2 => {
                    let s = r.take(3)?;
                    // Sign-extend 24 bits.
                    (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as i64
                }
                0xF3 => {
                    let s = r.take(4)?;
                    i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64
                }
                0xF4 => {
                    let s = r.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    i64::from_le_bytes(a)
                }
                _ => return Err(BAD),
            };
            buf.format(v).as_bytes().to_vec()
        };
        r.take(backlen_size(r.pos - start))?;
        out.push(item);
    }
    if r.pos != blob.len() {
        return Err(BAD);
    }
    Ok(out)
}

fn read_raw_id(r: &mut Reader) -> R<StreamId> {
    let b = r.take(16)?;
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..]);
    Ok(StreamId::new(
        u64::from_be_bytes(ms),
        u64::from_be_bytes(seq),
    ))
}

/// The live entries of one Redis stream listpack node whose master ID is `master`.
/// A stream entry read from a node: its ID and flattened field-value pairs.
type NodeEntry = (StreamId, Vec<Box<[u8]>>);

fn read_stream_node(master: StreamId, lp: &[Vec<u8>]) -> R<Vec<NodeEntry>> {
    let mut it = lp.iter();
    let int = |it: &mut std::slice::Iter<'_, Vec<u8>>| -> R<i64> {
        parse_i64(it.next().ok_or(BAD)?).ok_or(BAD)
    };
    let _live = int(&mut it)?;
    let _deleted = int(&mut it)?;
    let nmaster = usize::try_from(int(&mut it)?).map_err(|_| BAD)?;
    let mut master_fields = Vec::new();
    for _ in 0..nmaster {
        master_fields.push(it.next().ok_or(BAD)?.clone());
    }
    if int(&mut it)? != 0 {
        return Err(BAD);
    }
    let mut out = Vec::new();
    while it.len() > 0 {
        let flags = int(&mut it)?;
        let ms = master.ms.wrapping_add(int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(int(&mut it)? as u64);
        let mut fields: Vec<Box<[u8]>> = Vec::new();
        if flags & 2 != 0 {
            for f in &master_fields {
                fields.push(f.clone().into_boxed_slice());
                fields.push(it.next().ok_or(BAD)?.clone().into_boxed_slice());
            }
        } else {
            let n = usize::try_from(int(&mut it)?).map_err(|_| BAD)?;
            if n > it.len() {
                return Err(BAD);
            }
            for _ in 0..2 * n {
                fields.push(it.next().ok_or(BAD)?.clone().into_boxed_slice());
            }
        }
        let _lp_count = int(&mut it)?;
        if flags & 1 == 0 {
            if fields.is_empty() {
                return Err(BAD);
            }
            out.push((StreamId::new(ms, seq), fields));
        }
    }
    Ok(out)
}

/// A stream in Redis's layouts: 15 (Redis 5-6), 19 (7.0) and 21 (7.2, consumers with an active time).
fn read_stream(r: &mut Reader, t: u8, lim: NodeLimits) -> R<Value> {
    let mut s = StreamValue::default();
    let nodes = r.count(2)?;
    let mut last: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = r.string()?;
        if key.len() != 16 {
            return Err(BAD);
        }
        let mut kr = Reader { b: &key, pos: 0 };
        let master = read_raw_id(&mut kr)?;
        let lp = listpack(&r.string()?)?;
        if lp.is_empty() {
            return Err(BAD);
        }
        for (id, fields) in read_stream_node(master, &lp)? {
            if last.is_some_and(|l| id <= l) {
                return Err(BAD);
            }
            last = Some(id);
            s.append(id, fields.into_boxed_slice(), lim);
        }
    }
    let length = r.len()?;
    if length != s.length {
        return Err(BAD);
    }
    s.last_id = r.id()?;
    if t == TYPE_STREAM_LISTPACKS {
        s.max_deleted_id = StreamId::MIN;
        s.entries_added = s.length;
    } else {
        s.first_id = r.id()?;
        s.max_deleted_id = r.id()?;
        s.entries_added = r.len()?;
    }
    let ng = r.count(3)?;
    for _ in 0..ng {
        let name = r.string()?.into_boxed_slice();
        let last_id = r.id()?;
        let entries_read = if t == TYPE_STREAM_LISTPACKS {
            // Older layouts have no read counter: estimate it from the group's position, as Redis does.
            s.estimate_distance(last_id)
        } else {
            Some(r.len()?).filter(|&n| n != u64::MAX)
        };
        let mut g = Group::new(last_id, entries_read);
        let np = r.count(17)?;
        for _ in 0..np {
            let id = read_raw_id(r)?;
            let delivery_time = r.u64_le()?;
            let delivery_count = r.len()?;
            let nack = Nack {
                delivery_time,
                delivery_count,
                consumer: Box::default(),
            };
            if g.pel.insert(id, nack).is_some() {
                return Err(BAD);
            }
        }
        let nc = r.count(10)?;
        for _ in 0..nc {
            let cname = r.string()?.into_boxed_slice();
            let seen_time = r.u64_le()?;
            if t == TYPE_STREAM_LISTPACKS_3 {
                r.u64_le()?;
            }
            let mut c = Consumer {
                seen_time,
                ..Default::default()
            };
            let n = r.count(16)?;
            for _ in 0..n {
                let id = read_raw_id(r)?;
                let nack = g.pel.get_mut(&id).ok_or(BAD)?;
                if !nack.consumer.is_empty() {
                    return Err(BAD);
                }
                nack.consumer = cname.clone();
                c.pel.insert(id);
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err(BAD);
            }
        }
        // Every pending entry must belong to a consumer.
        if g.pel.values().any(|n| n.consumer.is_empty()) {
            return Err(BAD);
        }
        if s.groups.insert(name, g).is_some() {
            return Err(BAD);
        }
    }
    Ok(Value::Stream(Box::new(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            hash: HashLimits {
                listpack_entries: 128,
                listpack_value: 64,
            },
            set: SetLimits {
                intset_entries: 512,
                listpack_entries: 128,
                listpack_value: 64,
            },
            zset: (128, 64),
            stream: NodeLimits {
                max_entries: 100,
                max_bytes: 4096,
            },
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn crc64_matches_redis_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn integer_strings_use_rdb_integer_encodings() {
        // Redis 7.0: DUMP of "10" is 00 c0 0a + version 10 + crc.
        let p = dump(&Value::string(b"10"));
        assert_eq!(&p[..3], &[0x00, 0xC0, 0x0A]);
        assert_eq!(&p[3..5], &[10, 0]);
        assert_eq!(restore(&p, &limits()), Ok(Value::Int(10)));
    }

    #[test]
    fn a_payload_redis_wrote_is_read() {
        // redis-cli DUMP of `SET foo bar` on Redis 7.0: "\x00\x03bar\n\x00" + crc.
        let p = hex("000362617a0a00");
        let mut full = p.clone();
        full.extend_from_slice(&crc64(&p).to_le_bytes());
        assert_eq!(restore(&full, &limits()), Ok(Value::string(b"baz")));
    }

    #[test]
    fn a_wrong_checksum_or_newer_version_is_refused() {
        let mut p = dump(&Value::string(b"hello"));
        let n = p.len();
        p[n - 1] ^= 1;
        assert_eq!(restore(&p, &limits()), Err(PayloadError::VersionOrChecksum));
        assert_eq!(
            restore(b"abc", &limits()),
            Err(PayloadError::VersionOrChecksum)
        );
    }

    #[test]
    fn lzf_literals_and_back_references_decode() {
        // "aaaaaaaaaa": literal 'a', then a back reference of length 9 at distance 1.
        let c = [0x00, b'a', 0xE0, 0x00, 0x00];
        assert_eq!(lzf_decompress(&c, 10).as_deref(), Some(&b"aaaaaaaaaa"[..]));
        assert_eq!(lzf_decompress(&c, 11), None);
        // A reference before the start of the output is refused.
        assert_eq!(lzf_decompress(&[0x20, 0x05], 3), None);
    }

    #[test]
    fn listpack_integers_and_strings_decode() {
        // Elements: 5 (7-bit), "ab" (6-bit string), -1 (13-bit), 1000 (13-bit), 70000 (int24).
        let mut body = vec![0x05, 0x01, 0x82, b'a', b'b', 0x03, 0xDF, 0xFF, 0x02];
        body.extend_from_slice(&[0xC3, 0xE8, 0x02, 0xF2, 0x70, 0x11, 0x01, 0x04, 0xFF]);
        let total = 6 + body.len();
        let mut blob = (total as u32).to_le_bytes().to_vec();
        blob.extend_from_slice(&5u16.to_le_bytes());
        blob.extend_from_slice(&body);
        let items = listpack(&blob).unwrap();
        let items: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
        assert_eq!(items, vec![&b"5"[..], b"ab", b"-1", b"1000", b"70000"]);
    }

    #[test]
    fn listpacks_written_read_back_with_every_width() {
        let items: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "4095",
            "-4096",
            "4096",
            "32767",
            "-32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "9223372036854775807",
            "007",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'a'; 63],
            vec![b'b'; 64],
            vec![b'c'; 4095],
            vec![b'd'; 70000],
        ])
        .collect();
        let mut lp = Listpack::new();
        for i in &items {
            lp.str(i);
        }
        assert_eq!(listpack(&lp.finish()).unwrap(), items);
    }

    #[test]
    fn mutated_payloads_never_panic() {
        let lim = limits();
        let mut z = ZSetValue::new();
        z.insert(b"m", 2.5);
        let mut st = StreamValue::default();
        for i in 1..5 {
            st.append(
                StreamId::new(i, 0),
                vec![
                    b"f".to_vec().into_boxed_slice(),
                    b"12".to_vec().into_boxed_slice(),
                ]
                .into_boxed_slice(),
                lim.stream,
            );
        }
        let seeds = [
            dump(&Value::string(&[b'q'; 30])),
            dump(&Value::ZSet(Box::new(z))),
            dump(&Value::Stream(Box::new(st))),
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for seed in &seeds {
            for _ in 0..3000 {
                let mut p = seed[..seed.len() - 10].to_vec();
                for _ in 0..3 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x as usize) % p.len();
                    p[i] = (x >> 32) as u8;
                }
                p.extend_from_slice(&RDB_VERSION.to_le_bytes());
                let crc = crc64(&p);
                p.extend_from_slice(&crc.to_le_bytes());
                let _ = restore(&p, &lim);
            }
        }
    }

    #[test]
    fn every_written_type_reads_back() {
        let lim = limits();
        let mut h = HashValue::default();
        h.set(b"f", b"v", &lim.hash);
        h.set(b"n", b"12", &lim.hash);
        let mut z = ZSetValue::new();
        z.insert(b"a", 1.5);
        z.insert(b"b", f64::INFINITY);
        let mut s = SetValue::new_for(b"x", 2, &lim.set);
        s.add(b"x", &lim.set);
        s.add(b"7", &lim.set);
        let l: ListValue = [b"1".as_slice(), b"two", b""]
            .iter()
            .map(|e| SmallBytes::new(e))
            .collect();
        for v in [
            Value::string(b"-123456789012"),
            Value::string(&[b'x'; 300]),
            Value::Hash(Box::new(h)),
            Value::ZSet(Box::new(z)),
            Value::Set(Box::new(s)),
            Value::List(Box::new(l)),
        ] {
            assert_eq!(restore(&dump(&v), &lim), Ok(v.clone()), "{v:?}");
        }
    }

    #[test]
    fn streams_round_trip_with_groups() {
        let lim = limits();
        let mut s = StreamValue::default();
        s.append(
            StreamId::new(1, 1),
            vec![
                b"f".to_vec().into_boxed_slice(),
                b"v".to_vec().into_boxed_slice(),
            ]
            .into_boxed_slice(),
            lim.stream,
        );
        let mut g = Group::new(StreamId::new(1, 1), Some(1));
        g.consumers
            .insert(b"c".to_vec().into_boxed_slice(), Consumer::default());
        g.assign(StreamId::new(1, 1), b"c", 5).delivery_count = 1;
        s.groups.insert(b"g".to_vec().into_boxed_slice(), g);
        let v = Value::Stream(Box::new(s));
        assert_eq!(restore(&dump(&v), &lim), Ok(v.clone()));
    }

    #[test]
    fn hostile_payloads_are_errors_not_panics() {
        let lim = limits();
        for body in [
            hex("01ffffffff"),
            hex("0181ffffffffffffffff"),
            hex("00c3ffff01"),
            hex("12020210"),
            hex("0b08"),
            hex("1301"),
        ] {
            let mut p = body.clone();
            p.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            assert_eq!(restore(&p, &lim), Err(PayloadError::BadFormat), "{body:?}");
        }
    }
}
