//! List values: a double-ended queue of byte strings with the index arithmetic Redis's list commands
//! share (negative indexes count from the tail, ranges are inclusive and clamped), so the command layer
//! only parses arguments and stamps changes.
//!
//! **Encoding.** Redis 7.0 stores every list as a quicklist (a linked list of listpacks sized by
//! `list-max-listpack-size`) and `OBJECT ENCODING` answers `quicklist` for any list, however small; its own
//! test suite (unit/type/list.tcl at 7.0.15) asserts exactly that. The plain `listpack` encoding for small
//! lists arrived in 7.2. Concord reports what 7.0 reports; the representation is one `VecDeque`.

use std::collections::VecDeque;

use crate::keyspace::SmallBytes;

/// Which end of a list an operation works on (`LEFT` is the head, index 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// A list of byte strings; never stored empty (commands delete a list they empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListValue {
    pub items: VecDeque<SmallBytes>,
}

impl ListValue {
    /// `OBJECT ENCODING` as Redis 7.0 reports it for any list.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Pushes `e` at `end`.
    pub fn push(&mut self, end: End, e: &[u8]) {
        let e = SmallBytes::new(e);
        match end {
            End::Left => self.items.push_front(e),
            End::Right => self.items.push_back(e),
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }
    }

    /// The position of a Redis index (negative counts from the tail), if it names an element.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: i64) -> Option<&SmallBytes> {
        self.position(index).map(|i| &self.items[i])
    }

    /// Replaces the element at a Redis index; false when the index is out of range.
    pub fn set(&mut self, index: i64, e: &[u8]) -> bool {
        match self.position(index) {
            Some(i) => {
                self.items[i] = SmallBytes::new(e);
                true
            }
            None => false,
        }
    }

    /// The positions `start..=end` an inclusive Redis range names, clamped to the list, or None when it is
    /// empty (LRANGE's and LTRIM's rules).
    pub fn range(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
        let mut start = if start < 0 {
            len.saturating_add(start)
        } else {
            start
        };
        let end = if end < 0 {
            len.saturating_add(end)
        } else {
            end
        };
        start = start.max(0);
        if start > end || start >= len {
            return None;
        }
        Some((start as usize, end.min(len - 1) as usize))
    }

    /// Keeps only the inclusive Redis range `start..=end`; returns how many elements were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let len = self.items.len();
        match self.range(start, end) {
            None => {
                self.items.clear();
                len
            }
            Some((s, e)) => {
                self.items.truncate(e + 1);
                self.items.drain(..s);
                len - (e + 1 - s)
            }
        }
    }

    /// Inserts `e` before or after the first element equal to `pivot`; false when there is none.
    pub fn insert(&mut self, before: bool, pivot: &[u8], e: &[u8]) -> bool {
        match self.items.iter().position(|x| x.as_slice() == pivot) {
            Some(i) => {
                let at = if before { i } else { i + 1 };
                self.items.insert(at, SmallBytes::new(e));
                true
            }
            None => false,
        }
    }

    /// LREM: removes elements equal to `e`, the first `count` from the head when `count > 0`, the last
    /// `-count` from the tail when `count < 0`, all of them when 0. Returns how many went.
    pub fn remove(&mut self, count: i64, e: &[u8]) -> usize {
        let matches = self.items.iter().filter(|x| x.as_slice() == e).count();
        let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let to_remove = if count == 0 {
            matches
        } else {
            matches.min(limit)
        };
        if to_remove == 0 {
            return 0;
        }
        // Removing the last k matches from the tail is keeping the first (matches - k) of them.
        let mut skip = if count < 0 { matches - to_remove } else { 0 };
        let mut left = to_remove;
        self.items.retain(|x| {
            if left == 0 || x.as_slice() != e {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            left -= 1;
            false
        });
        to_remove
    }

    /// LPOS: the indexes of elements equal to `e`, skipping the first `rank - 1` matches and scanning from
    /// the tail when `from_tail`, looking at no more than `maxlen` elements (0 = all), stopping after
    /// `count` results (0 = all). Indexes are always from the head.
    pub fn positions(
        &self,
        e: &[u8],
        rank: u64,
        from_tail: bool,
        count: usize,
        maxlen: usize,
    ) -> Vec<usize> {
        let len = self.items.len();
        let scan = if maxlen == 0 { len } else { maxlen.min(len) };
        let mut out = Vec::new();
        let mut seen = 0u64;
        for step in 0..scan {
            let i = if from_tail { len - 1 - step } else { step };
            if self.items[i].as_slice() != e {
                continue;
            }
            seen += 1;
            if seen >= rank {
                out.push(i);
                if count != 0 && out.len() >= count {
                    break;
                }
            }
        }
        out
    }

    /// Iterates over positions `start..=end` (as returned by [`ListValue::range`]), tail first when
    /// `reverse`.
    pub fn iter_range(
        &self,
        start: usize,
        end: usize,
        reverse: bool,
    ) -> impl Iterator<Item = &SmallBytes> {
        let r = self.items.range(start..=end);
        let (fwd, back) = if reverse {
            (None, Some(r.rev()))
        } else {
            (Some(r), None)
        };
        fwd.into_iter().flatten().chain(back.into_iter().flatten())
    }

    /// Removes `n` elements from `end` (all when the list is shorter).
    pub fn drop_end(&mut self, end: End, n: usize) {
        let n = n.min(self.items.len());
        match end {
            End::Left => {
                self.items.drain(..n);
            }
            End::Right => {
                self.items.truncate(self.items.len() - n);
            }
        }
    }
}

impl FromIterator<SmallBytes> for ListValue {
    fn from_iter<I: IntoIterator<Item = SmallBytes>>(iter: I) -> Self {
        ListValue {
            items: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> ListValue {
        items
            .iter()
            .map(|s| SmallBytes::new(s.as_bytes()))
            .collect()
    }

    fn strs(l: &ListValue) -> Vec<String> {
        l.items
            .iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect()
    }

    #[test]
    fn every_list_reports_quicklist_as_redis_7_0_does() {
        assert_eq!(list(&["a"]).encoding(), "quicklist");
    }

    #[test]
    fn negative_indexes_count_from_the_tail() {
        let l = list(&["a", "b", "c"]);
        assert_eq!(l.position(-1), Some(2));
        assert_eq!(l.position(-3), Some(0));
        assert_eq!(l.position(-4), None);
        assert_eq!(l.position(3), None);
        assert_eq!(l.position(i64::MIN), None);
        assert_eq!(l.position(i64::MAX), None);
    }

    #[test]
    fn ranges_are_clamped_and_empty_when_inverted() {
        let l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.range(0, -1), Some((0, 3)));
        assert_eq!(l.range(-100, 100), Some((0, 3)));
        assert_eq!(l.range(2, 1), None);
        assert_eq!(l.range(4, 10), None);
        assert_eq!(l.range(i64::MIN, i64::MAX), Some((0, 3)));
        assert_eq!(l.range(0, i64::MIN), None);
    }

    #[test]
    fn trim_keeps_the_range_and_counts_the_rest() {
        let mut l = list(&["a", "b", "c", "d", "e"]);
        assert_eq!(l.trim(1, -2), 2);
        assert_eq!(strs(&l), ["b", "c", "d"]);
        assert_eq!(l.trim(5, 10), 3);
        assert!(l.is_empty());
    }

    #[test]
    fn remove_from_tail_takes_the_last_matches() {
        let mut l = list(&["x", "a", "x", "b", "x"]);
        assert_eq!(l.remove(-2, b"x"), 2);
        assert_eq!(strs(&l), ["x", "a", "b"]);
        let mut l = list(&["x", "a", "x", "b", "x"]);
        assert_eq!(l.remove(1, b"x"), 1);
        assert_eq!(strs(&l), ["a", "x", "b", "x"]);
        assert_eq!(l.remove(0, b"x"), 2);
        assert_eq!(l.remove(i64::MIN, b"a"), 1);
        assert_eq!(strs(&l), ["b"]);
    }

    #[test]
    fn positions_honour_rank_count_and_maxlen() {
        let l = list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(l.positions(b"c", 1, false, 1, 0), [2]);
        assert_eq!(l.positions(b"c", 2, false, 0, 0), [6, 7]);
        assert_eq!(l.positions(b"c", 1, true, 0, 0), [7, 6, 2]);
        assert_eq!(l.positions(b"c", 1, false, 0, 3), [2]);
        assert_eq!(l.positions(b"c", 1, false, 0, 2), Vec::<usize>::new());
        assert_eq!(
            l.positions(b"c", u64::MAX, false, 0, 0),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn insert_goes_next_to_the_first_pivot() {
        let mut l = list(&["a", "p", "p"]);
        assert!(l.insert(false, b"p", b"x"));
        assert!(l.insert(true, b"a", b"y"));
        assert!(!l.insert(true, b"zz", b"y"));
        assert_eq!(strs(&l), ["y", "a", "p", "x", "p"]);
    }

    #[test]
    fn reverse_iteration_starts_at_the_tail() {
        let l = list(&["a", "b", "c"]);
        let got: Vec<&[u8]> = l.iter_range(1, 2, true).map(|x| x.as_slice()).collect();
        assert_eq!(got, [b"c", b"b"]);
    }
}
