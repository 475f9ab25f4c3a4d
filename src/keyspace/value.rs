//! The value a key holds. Strings keep Redis's three encodings visible (`int`, `embstr`, `raw`) because
//! clients and Redis's own tests read them through `OBJECT ENCODING`.

use super::small_bytes::SmallBytes;
use super::types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};
use crate::util::numbers::parse_i64;

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`: strings up to this length report `embstr`.
const EMBSTR_MAX: usize = 44;

/// A key's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string as set by SET and friends (`embstr` or `raw` by length).
    Str(SmallBytes),
    /// A string modified in place (APPEND, SETRANGE): always `raw`, as Redis reports it.
    RawStr(SmallBytes),
    /// A string that is a canonical 64-bit integer (`int` encoding); INCR works on it without parsing.
    Int(i64),
    Hash(Box<HashValue>),
    List(Box<ListValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
    Stream(Box<StreamValue>),
}

/// The bytes of a string value, borrowed or formatted.
pub enum StrRef<'a> {
    Bytes(&'a [u8]),
    Int(itoa::Buffer, i64),
}

impl StrRef<'_> {
    pub fn with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrRef::Bytes(b) => f(b),
            StrRef::Int(buf, n) => f(buf.format(*n).as_bytes()),
        }
    }
}

impl Value {
    /// Builds a string value, choosing the `int` encoding when the bytes are a canonical integer, as Redis
    /// does for values of at most 20 characters.
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= 20
            && let Some(n) = parse_i64(b)
        {
            return Value::Int(n);
        }
        Value::Str(SmallBytes::new(b))
    }

    pub fn string_from_vec(v: Vec<u8>) -> Value {
        if v.len() <= 20
            && let Some(n) = parse_i64(&v)
        {
            return Value::Int(n);
        }
        Value::Str(SmallBytes::from_vec(v))
    }

    /// Redis's TYPE name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::RawStr(_) | Value::Int(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(b) if b.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::RawStr(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(s) => s.encoding(),
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Str(_) | Value::RawStr(_) | Value::Int(_))
    }

    /// The string's bytes, or None for non-string types.
    pub fn as_str(&self) -> Option<StrRef<'_>> {
        match self {
            Value::Str(b) | Value::RawStr(b) => Some(StrRef::Bytes(b.as_slice())),
            Value::Int(n) => Some(StrRef::Int(itoa::Buffer::new(), *n)),
            _ => None,
        }
    }

    /// The string's bytes as an owned Vec (for read-modify-write commands).
    pub fn to_vec(&self) -> Option<Vec<u8>> {
        self.as_str().map(|mut s| s.with(|b| b.to_vec()))
    }

    /// The length of the string form, or None for non-string types.
    pub fn str_len(&self) -> Option<usize> {
        match self {
            Value::Str(b) | Value::RawStr(b) => Some(b.len()),
            Value::Int(n) => Some(itoa::Buffer::new().format(*n).len()),
            _ => None,
        }
    }

    /// Heap bytes owned by the value beyond its inline size (memory accounting). Collections are
    /// estimated from their element count; MEMORY USAGE is an estimate in Redis too.
    pub fn heap_bytes(&self) -> usize {
        const SLOT: usize = 2 * std::mem::size_of::<SmallBytes>() + 8;
        match self {
            Value::Str(b) | Value::RawStr(b) => b.heap_bytes(),
            Value::Int(_) => 0,
            Value::Hash(h) => h.len() * SLOT,
            Value::List(l) => l.len() * std::mem::size_of::<SmallBytes>(),
            Value::Set(s) => s.len() * (std::mem::size_of::<SmallBytes>() + 8),
            Value::ZSet(z) => z.len() * (SLOT + 40),
            Value::Stream(s) => s.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers_use_int_encoding() {
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"0123").encoding(), "embstr");
        assert_eq!(Value::string(b"-9223372036854775808").encoding(), "int");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
    }

    #[test]
    fn value_is_compact() {
        assert!(std::mem::size_of::<Value>() <= 32);
    }
}
