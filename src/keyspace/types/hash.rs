//! Hash values: field -> value, on the insertion-ordered `Dense` table shared with sets.

use super::set::Dense;
use crate::keyspace::SmallBytes;

/// The config limits that drive hash encodings (`hash-max-listpack-*`).
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub listpack_entries: u64,
    pub listpack_value: u64,
}

/// A hash. `listpack` while small (as Redis reports it), `hashtable` once it has outgrown the
/// `hash-max-listpack-*` limits; like Redis, it never goes back. While small, fields keep insertion order
/// (HGETALL answers in the order Redis's listpack would).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashValue {
    pub fields: Dense<(SmallBytes, SmallBytes)>,
}

impl HashValue {
    pub fn encoding(&self) -> &'static str {
        if self.fields.is_indexed() {
            "hashtable"
        } else {
            "listpack"
        }
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let p = self.fields.find(field)?;
        self.fields.get(p).map(|(_, v)| v.as_slice())
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.fields.find(field).is_some()
    }

    /// Converts to `hashtable` ahead of writing strings longer than the listpack limit.
    pub fn fit(&mut self, longest: usize, lim: &HashLimits) {
        if longest as u64 > lim.listpack_value {
            self.fields.build_index();
        }
    }

    /// Sets `field` to `value`; true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: &HashLimits) -> bool {
        self.fit(field.len().max(value.len()), lim);
        if let Some(p) = self.fields.find(field)
            && let Some(slot) = self.fields.get_mut(p)
        {
            slot.1 = SmallBytes::new(value);
            return false;
        }
        self.fields
            .push((SmallBytes::new(field), SmallBytes::new(value)));
        if self.len() as u64 > lim.listpack_entries {
            self.fields.build_index();
        }
        true
    }

    /// Removes `field`; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.fields.remove(field).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(SmallBytes, SmallBytes)> {
        self.fields.items().iter()
    }

    pub fn heap_bytes(&self) -> usize {
        self.fields.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: HashLimits = HashLimits {
        listpack_entries: 2,
        listpack_value: 4,
    };

    #[test]
    fn hash_converts_one_way_on_count_or_length() {
        let mut h = HashValue::default();
        assert!(h.set(b"a", b"1", &LIM));
        assert!(!h.set(b"a", b"2", &LIM));
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        assert!(h.set(b"b", b"1", &LIM));
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", b"1", &LIM);
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"c");
        h.remove(b"b");
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::default();
        h.set(b"a", b"12345", &LIM);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn small_hashes_keep_insertion_order_after_removal() {
        let lim = HashLimits {
            listpack_entries: 128,
            listpack_value: 64,
        };
        let mut h = HashValue::default();
        for f in ["x", "y", "z"] {
            h.set(f.as_bytes(), b"v", &lim);
        }
        h.remove(b"y");
        let order: Vec<&[u8]> = h.iter().map(|(f, _)| f.as_slice()).collect();
        assert_eq!(order, vec![&b"x"[..], b"z"]);
    }
}
