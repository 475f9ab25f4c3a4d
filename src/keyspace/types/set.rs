//! Set values, and `Dense`, the insertion-ordered table that sets and hashes are both built on.
//!
//! `Dense` keeps its elements in one `Vec`. While a value is small (Redis's `intset`/`listpack`
//! encodings) there is no index: lookups scan the vector, as Redis scans a listpack, and removal keeps the
//! order, so replies come back in the order Redis would give them. Once a value is converted to
//! `hashtable` a hash index of `u32` positions is built and removal swaps the last element into the hole.
//! The vector gives O(1) random picks (SPOP, SRANDMEMBER, HRANDFIELD) and a simple scan cursor.
//!
//! Scan guarantee: a big value is walked from the highest position down; the cursor is the number of
//! positions still to visit. Appends land above the cursor and removals only move an element downwards
//! (swap from the end, or shift by one), so an element present for the whole scan is never missed; one
//! moved by a removal may be returned twice, which SCAN's contract allows.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::keyspace::SmallBytes;
use crate::util::numbers::parse_i64;

/// The element hasher of every set and hash: one random seed per process, so hostile members cannot
/// be chosen to collide, and no per-value hasher state.
fn hasher() -> &'static DefaultHashBuilder {
    static H: OnceLock<DefaultHashBuilder> = OnceLock::new();
    H.get_or_init(DefaultHashBuilder::default)
}

#[inline]
pub(crate) fn hash_of(b: &[u8]) -> u64 {
    hasher().hash_one(b)
}

/// An element of a `Dense` table: looked up by its key bytes.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

impl Keyed for SmallBytes {
    #[inline]
    fn key(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Keyed for (SmallBytes, SmallBytes) {
    #[inline]
    fn key(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Elements with unique keys in a vector, with a hash index once `indexed`.
#[derive(Clone)]
pub struct Dense<E> {
    items: Vec<E>,
    /// Positions into `items`, present only once the value is a hashtable.
    index: Option<HashTable<u32>>,
}

impl<E> Default for Dense<E> {
    fn default() -> Self {
        Dense {
            items: Vec::new(),
            index: None,
        }
    }
}

impl<E: Keyed> Dense<E> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[E] {
        &self.items
    }

    /// Elements in table order.
    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.items.iter()
    }

    pub fn get(&self, pos: usize) -> Option<&E> {
        self.items.get(pos)
    }

    pub fn get_mut(&mut self, pos: usize) -> Option<&mut E> {
        self.items.get_mut(pos)
    }

    pub fn is_indexed(&self) -> bool {
        self.index.is_some()
    }

    /// The position of the element with `key`.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        match &self.index {
            Some(t) => {
                let items = &self.items;
                t.find(hash_of(key), |&i| items[i as usize].key() == key)
                    .map(|&i| i as usize)
            }
            None => self.items.iter().position(|e| e.key() == key),
        }
    }

    /// Appends an element whose key is absent.
    pub fn push(&mut self, e: E) {
        let pos = self.items.len() as u32;
        let h = hash_of(e.key());
        self.items.push(e);
        if let Some(t) = &mut self.index {
            let items = &self.items;
            t.insert_unique(h, pos, |&i| hash_of(items[i as usize].key()));
        }
    }

    /// Inserts at `pos` (small values only: the sorted intset); indexed tables append instead.
    pub fn insert_at(&mut self, pos: usize, e: E) {
        if self.index.is_some() || pos >= self.items.len() {
            self.push(e);
        } else {
            self.items.insert(pos, e);
        }
    }

    /// Removes and returns the element at `pos`: order-preserving while small, swap-remove once indexed.
    pub fn remove_at(&mut self, pos: usize) -> Option<E> {
        if pos >= self.items.len() {
            return None;
        }
        let Some(t) = &mut self.index else {
            return Some(self.items.remove(pos));
        };
        let last = self.items.len() - 1;
        let h = hash_of(self.items[pos].key());
        if let Ok(slot) = t.find_entry(h, |&i| i as usize == pos) {
            slot.remove();
        }
        if pos != last {
            let hl = hash_of(self.items[last].key());
            if let Some(slot) = t.find_mut(hl, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        Some(self.items.swap_remove(pos))
    }

    /// Removes the element with `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let pos = self.find(key)?;
        self.remove_at(pos)
    }

    /// Builds the hash index (the one-way conversion to `hashtable`).
    pub fn build_index(&mut self) {
        if self.index.is_some() {
            return;
        }
        let mut t = HashTable::with_capacity(self.items.len());
        for (i, e) in self.items.iter().enumerate() {
            let items = &self.items;
            t.insert_unique(hash_of(e.key()), i as u32, |&j| {
                hash_of(items[j as usize].key())
            });
        }
        self.index = Some(t);
    }

    /// Reserves room for `n` more elements.
    pub fn reserve(&mut self, n: usize) {
        self.items.reserve(n);
        if let Some(t) = &mut self.index {
            let items = &self.items;
            t.reserve(n, |&i| hash_of(items[i as usize].key()));
        }
    }

    /// One scan step of a big value: visits positions below `cursor` downwards (cursor 0 starts at the
    /// top) until `count` were visited; returns the next cursor (0 when done).
    pub fn scan<'s>(&'s self, cursor: u64, count: usize, mut f: impl FnMut(&'s E)) -> u64 {
        let len = self.items.len() as u64;
        let mut pos = if cursor == 0 || cursor > len {
            len
        } else {
            cursor
        };
        let mut n = 0;
        while pos > 0 && n < count {
            pos -= 1;
            f(&self.items[pos as usize]);
            n += 1;
        }
        pos
    }

    /// Approximate heap bytes (memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<E>()
            + self.index.as_ref().map_or(0, |t| t.capacity() * 5)
    }
}

impl<E: fmt::Debug> fmt::Debug for Dense<E> {
    // The elements in order; the index is derived data (and its layout depends on the process seed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<E: Keyed + PartialEq> PartialEq for Dense<E> {
    /// The same elements, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .items
                .iter()
                .all(|e| other.find(e.key()).and_then(|p| other.get(p)) == Some(e))
    }
}

/// Redis's set encodings, which `OBJECT ENCODING` reports and Redis's tests check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetEncoding {
    #[default]
    Intset,
    Listpack,
    Hashtable,
}

/// The config limits that drive set encodings (`set-max-*`).
#[derive(Debug, Clone, Copy)]
pub struct SetLimits {
    pub intset_entries: u64,
    pub listpack_entries: u64,
    pub listpack_value: u64,
}

/// A set of members. `intset` keeps its members sorted by value, as Redis's intset does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetValue {
    pub members: Dense<SmallBytes>,
    pub encoding: SetEncoding,
}

impl SetValue {
    /// An empty set with the encoding Redis would create for a first member `first` when about
    /// `size_hint` members are coming.
    pub fn new_for(first: &[u8], size_hint: usize, lim: &SetLimits) -> Self {
        let mut s = SetValue::default();
        let hint = size_hint as u64;
        s.encoding = if parse_i64(first).is_some() && hint <= lim.intset_entries {
            SetEncoding::Intset
        } else if hint <= lim.listpack_entries {
            SetEncoding::Listpack
        } else {
            s.members.build_index();
            s.members.reserve(size_hint);
            SetEncoding::Hashtable
        };
        s
    }

    /// An empty set that results of SINTERSTORE and friends start from (Redis starts them as intsets).
    pub fn new_intset() -> Self {
        SetValue::default()
    }

    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            SetEncoding::Intset => "intset",
            SetEncoding::Listpack => "listpack",
            SetEncoding::Hashtable => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Converts ahead of a bulk add of `size_hint` members that would outgrow the small encoding.
    pub fn maybe_grow(&mut self, size_hint: usize, lim: &SetLimits) {
        let hint = size_hint as u64;
        let over = match self.encoding {
            SetEncoding::Intset => hint > lim.intset_entries,
            SetEncoding::Listpack => hint > lim.listpack_entries,
            SetEncoding::Hashtable => false,
        };
        if over {
            self.convert_to_hashtable();
        }
    }

    fn convert_to_hashtable(&mut self) {
        self.members.build_index();
        self.encoding = SetEncoding::Hashtable;
    }

    /// Position in the sorted intset for integer `n`: Ok if present, Err(insert position) if not.
    fn intset_search(&self, n: i64) -> Result<usize, usize> {
        self.members
            .items()
            .binary_search_by_key(&n, |m| parse_i64(m).unwrap_or(i64::MIN))
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.position(m).is_some()
    }

    fn position(&self, m: &[u8]) -> Option<usize> {
        if self.encoding == SetEncoding::Intset {
            let n = parse_i64(m)?;
            return self.intset_search(n).ok();
        }
        self.members.find(m)
    }

    /// Adds `m`; false if it was a member already. Converts encodings one way, as Redis does.
    pub fn add(&mut self, m: &[u8], lim: &SetLimits) -> bool {
        match self.encoding {
            SetEncoding::Intset => {
                if let Some(n) = parse_i64(m) {
                    let Err(pos) = self.intset_search(n) else {
                        return false;
                    };
                    self.members.insert_at(pos, SmallBytes::new(m));
                    if self.len() as u64 > lim.intset_entries {
                        self.convert_to_hashtable();
                    }
                    return true;
                }
                // A non-integer: listpack if it fits, else hashtable.
                if (self.len() as u64) < lim.listpack_entries
                    && m.len() as u64 <= lim.listpack_value
                {
                    self.encoding = SetEncoding::Listpack;
                } else {
                    self.convert_to_hashtable();
                }
                self.members.push(SmallBytes::new(m));
                true
            }
            SetEncoding::Listpack => {
                if self.members.find(m).is_some() {
                    return false;
                }
                if (self.len() as u64) >= lim.listpack_entries
                    || m.len() as u64 > lim.listpack_value
                {
                    self.convert_to_hashtable();
                }
                self.members.push(SmallBytes::new(m));
                true
            }
            SetEncoding::Hashtable => {
                if self.members.find(m).is_some() {
                    return false;
                }
                self.members.push(SmallBytes::new(m));
                true
            }
        }
    }

    /// Removes `m`; false if it was not a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.position(m) {
            Some(p) => self.members.remove_at(p).is_some(),
            None => false,
        }
    }

    /// Removes and returns the member at position `pos`.
    pub fn remove_at(&mut self, pos: usize) -> Option<SmallBytes> {
        self.members.remove_at(pos)
    }

    /// Members in iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &SmallBytes> {
        self.members.items().iter()
    }

    pub fn heap_bytes(&self) -> usize {
        self.members.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: SetLimits = SetLimits {
        intset_entries: 4,
        listpack_entries: 3,
        listpack_value: 5,
    };

    #[test]
    fn integers_stay_a_sorted_intset_until_the_limit() {
        let mut s = SetValue::new_for(b"5", 1, &LIM);
        for m in ["5", "-1", "3", "3"] {
            s.add(m.as_bytes(), &LIM);
        }
        let got: Vec<&[u8]> = s.iter().map(|m| m.as_slice()).collect();
        assert_eq!(got, vec![&b"-1"[..], b"3", b"5"]);
        assert_eq!(s.encoding(), "intset");
        s.add(b"7", &LIM);
        s.add(b"8", &LIM);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"-1") && s.contains(b"8") && !s.contains(b"9"));
    }

    #[test]
    fn a_string_member_turns_a_small_intset_into_a_listpack() {
        let mut s = SetValue::new_for(b"1", 1, &LIM);
        s.add(b"1", &LIM);
        s.add(b"abc", &LIM);
        assert_eq!(s.encoding(), "listpack");
        s.add(b"toolong", &LIM);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn swap_removal_keeps_the_index_consistent() {
        let mut s = SetValue::new_for(b"a", 100, &LIM);
        for i in 0..50 {
            s.add(format!("m{i}").as_bytes(), &LIM);
        }
        for i in (0..50).step_by(3) {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        for i in 0..50 {
            assert_eq!(s.contains(format!("m{i}").as_bytes()), i % 3 != 0, "m{i}");
        }
    }

    #[test]
    fn scan_visits_every_member_that_stays() {
        let mut s = SetValue::new_for(b"a", 100, &LIM);
        for i in 0..40 {
            s.add(format!("m{i}").as_bytes(), &LIM);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = s.members.scan(cursor, 7, |m| {
                seen.insert(m.to_vec());
            });
            // Remove something every round to move elements around.
            s.remove(format!("m{round}").as_bytes());
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in round..40 {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
    }
}
