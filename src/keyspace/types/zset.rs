//! Sorted set values: members ordered by (score, member), with a member -> score index.
//!
//! The order lives in a chunked sorted list: a vector of sorted runs of at most `CHUNK_MAX` pairs whose
//! concatenation is the whole order. Finding a member's run is a binary search over the runs' last
//! pairs, so lookups and range bounds cost O(log N); an insert or removal moves at most `CHUNK_MAX`
//! pairs inside one run. Ranks come from a Fenwick tree over the runs' lengths: a run's offset and the
//! run holding a given rank cost O(log N), and the tree is updated in O(log N) per insert or removal
//! (rebuilt in O(N / CHUNK_MAX) only when runs split, merge or vanish, once per ~100 changes). So
//! ZRANK and ZRANGE by rank never walk the set from its start.
//!
//! Each member's bytes are stored once, in its run. The member -> score index holds only (hash of
//! the member, score), 16 bytes a slot: a slot whose hash matches is confirmed by finding (score,
//! member) in the runs, an O(log N) search. ZSCORE pays that search; memory per member drops by the
//! 24-byte second copy of the member (a 1M-member set measured 147 -> ~100 B/member, Redis: 116).

use hashbrown::HashTable;
use std::cmp::Ordering;

use super::set::hash_of;
use crate::keyspace::SmallBytes;

/// A run is split in two once it grows past this many pairs.
const CHUNK_MAX: usize = 256;
/// A run this short is merged into its successor when both fit in one run.
const CHUNK_MERGE: usize = CHUNK_MAX / 4;

/// A score with the total order Redis uses (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        // -0.0 and 0.0 are the same score for Redis; total_cmp alone would separate them.
        if self.0 == other.0 {
            Ordering::Equal
        } else {
            self.0.total_cmp(&other.0)
        }
    }
}

type Pair = (Score, SmallBytes);

/// Whether the runs hold the pair (score, member).
fn holds(chunks: &[Vec<Pair>], score: f64, member: &[u8]) -> bool {
    let c = chunks.partition_point(|ch| {
        ch.last()
            .is_some_and(|p| pair_cmp(p, score, member) == Ordering::Less)
    });
    chunks
        .get(c)
        .is_some_and(|ch| ch.binary_search_by(|p| pair_cmp(p, score, member)).is_ok())
}

fn pair_cmp(a: &Pair, score: f64, member: &[u8]) -> Ordering {
    a.0.cmp(&Score(score))
        .then_with(|| a.1.as_slice().cmp(member))
}

/// A sorted set. `listpack` while small, `skiplist` once past the `zset-max-listpack-*` limits (one way,
/// as in Redis).
#[derive(Clone, Default)]
pub struct ZSetValue {
    /// (hash of the member, its score); the member itself lives only in `chunks`.
    scores: HashTable<(u64, f64)>,
    chunks: Vec<Vec<Pair>>,
    /// Fenwick tree over `chunks[i].len()` (1-based: `fen[0]` unused, `fen.len() == chunks.len() + 1`).
    fen: Vec<usize>,
    big: bool,
}

impl PartialEq for ZSetValue {
    /// Same members with the same scores and the same encoding; how the runs are cut does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.big == other.big && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for ZSetValue {
    /// The encoding and the pairs in order: the same for equal sets, whatever their history.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.encoding())?;
        f.debug_list()
            .entries(self.iter().map(|(m, s)| (String::from_utf8_lossy(m), s)))
            .finish()
    }
}

impl ZSetValue {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set being built by a STORE command or a ZUNION-style reply: kept as `skiplist` (scores exact,
    /// -0 included) until `fresh_encoding` settles what the stored result is.
    pub fn scratch() -> Self {
        ZSetValue {
            big: true,
            ..Self::default()
        }
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        if self.big { "skiplist" } else { "listpack" }
    }

    pub fn is_big(&self) -> bool {
        self.big
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Converts to `skiplist` before a new member of `member_len` bytes is added, if the set would
    /// outgrow the listpack limits (`max_entries` members, members of `max_value` bytes), as Redis checks
    /// before each insert. Never converts back.
    pub fn prepare_insert(&mut self, max_entries: u64, max_value: u64, member_len: usize) {
        if !self.big && (self.len() as u64 + 1 > max_entries || member_len as u64 > max_value) {
            self.big = true;
        }
    }

    /// Picks the encoding of a freshly built set (the STORE commands): listpack if it fits.
    pub fn fresh_encoding(&mut self, max_entries: u64, max_value: u64) {
        let longest = self.members().map(|(m, _)| m.len()).max().unwrap_or(0);
        self.big = self.len() as u64 > max_entries || longest as u64 > max_value;
        if !self.big {
            self.normalize_zeros();
        }
    }

    /// A listpack keeps a score of -0 as the integer 0 (it stores `-0` as text and reads back an int):
    /// rewrite -0 scores as 0, which keeps the order (the two are one score).
    fn normalize_zeros(&mut self) {
        for (_, s) in self.scores.iter_mut() {
            if *s == 0.0 {
                *s = 0.0;
            }
        }
        for p in self.chunks.iter_mut().flatten() {
            if p.0.0 == 0.0 {
                p.0 = Score(0.0);
            }
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        let h = hash_of(member);
        let chunks = &self.chunks;
        self.scores
            .find(h, |&(eh, es)| eh == h && holds(chunks, es, member))
            .map(|&(_, s)| s)
    }

    /// Removes `member`'s index slot (while its pair is still in the runs), returning its score.
    fn unindex(&mut self, member: &[u8]) -> Option<f64> {
        let h = hash_of(member);
        let chunks = &self.chunks;
        let entry = self
            .scores
            .find_entry(h, |&(eh, es)| eh == h && holds(chunks, es, member))
            .ok()?;
        Some(entry.remove().0.1)
    }

    /// Sets `member`'s score. Returns the previous score (None if the member is new). A listpack-encoded
    /// set stores -0 as 0, as Redis's listpack does.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let score = if !self.big && score == 0.0 {
            0.0
        } else {
            score
        };
        let h = hash_of(member);
        let chunks = &self.chunks;
        let old = self
            .scores
            .find(h, |&(eh, es)| eh == h && holds(chunks, es, member))
            .map(|&(_, s)| s);
        match old {
            Some(o) if o == score => return old,
            Some(o) => {
                self.unindex(member);
                self.remove_pair(o, member);
            }
            None => {}
        }
        self.scores.insert_unique(h, (h, score), |&(eh, _)| eh);
        self.insert_pair(score, SmallBytes::new(member));
        old
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.unindex(member)?;
        self.remove_pair(score, member);
        Some(score)
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let c = self.chunk_for(score, member);
        let chunk = self.chunks.get(c)?;
        let pos = chunk
            .binary_search_by(|p| pair_cmp(p, score, member))
            .ok()?;
        Some(self.offset(c) + pos)
    }

    /// The member and score at ascending rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        let (c, i) = self.locate(rank)?;
        let p = &self.chunks[c][i];
        Some((p.1.as_slice(), p.0.0))
    }

    /// Members with their scores in ascending order from rank `start` on.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (c, i) = self.locate(start).unwrap_or((self.chunks.len(), 0));
        self.chunks
            .iter()
            .skip(c)
            .enumerate()
            .flat_map(move |(k, ch)| ch[if k == 0 { i } else { 0 }..].iter())
            .map(|p| (p.1.as_slice(), p.0.0))
    }

    /// Members with their scores in descending order, starting at ascending rank `start` and going down.
    pub fn iter_back_from(&self, start: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (c, i) = match self.locate(start) {
            Some((c, i)) => (c + 1, Some(i)),
            None => (0, None),
        };
        let n = c;
        self.chunks[..n]
            .iter()
            .rev()
            .enumerate()
            .flat_map(move |(k, ch)| {
                let end = if k == 0 {
                    i.map_or(0, |i| i + 1)
                } else {
                    ch.len()
                };
                ch[..end].iter().rev()
            })
            .map(|p| (p.1.as_slice(), p.0.0))
    }

    /// Members with their scores in hash order (no sorting; the cheapest full walk).
    pub fn members(&self) -> impl Iterator<Item = (&SmallBytes, f64)> + '_ {
        self.chunks.iter().flatten().map(|p| (&p.1, p.0.0))
    }

    /// All members with their scores, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.iter_from(0)
    }

    /// The number of leading pairs (in ascending order) for which `before` holds; `before` must be true
    /// for a prefix of the order and false after it (a lower or upper bound).
    pub fn partition_point(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        let c = self
            .chunks
            .partition_point(|ch| ch.last().is_some_and(|p| before(p.1.as_slice(), p.0.0)));
        match self.chunks.get(c) {
            None => self.len(),
            Some(ch) => self.offset(c) + ch.partition_point(|p| before(p.1.as_slice(), p.0.0)),
        }
    }

    /// Removes and returns the member with the lowest (`max == false`) or highest score.
    pub fn pop(&mut self, max: bool) -> Option<(SmallBytes, f64)> {
        let c = if max {
            self.chunks.len().checked_sub(1)?
        } else {
            0
        };
        let chunk = self.chunks.get(c)?;
        let p = if max { chunk.last()? } else { chunk.first()? };
        let (score, member) = (p.0, p.1.clone());
        // The pair is known exactly: any slot with its hash and score will do (two such slots are
        // identical), so no search in the runs is needed to confirm it.
        let h = hash_of(&member);
        if let Ok(e) = self
            .scores
            .find_entry(h, |&(eh, es)| eh == h && Score(es) == score)
        {
            e.remove();
        }
        let chunk = &mut self.chunks[c];
        if max {
            chunk.pop();
        } else {
            chunk.remove(0);
        }
        if chunk.is_empty() {
            self.chunks.remove(c);
            self.rebuild_fen();
        } else {
            self.fen_add(c, -1);
        }
        Some((member, score.0))
    }

    /// Removes the members of ascending ranks `start..end`; returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        let doomed: Vec<(SmallBytes, f64)> = self
            .iter_from(start)
            .take(end - start)
            .map(|(m, s)| (SmallBytes::new(m), s))
            .collect();
        if start == 0 && end == self.len() {
            self.scores.clear();
            self.chunks.clear();
            self.fen.clear();
            return doomed.len();
        }
        for (m, _) in &doomed {
            self.remove(m);
        }
        doomed.len()
    }

    /// The run that holds (or would hold) the pair (score, member).
    fn chunk_for(&self, score: f64, member: &[u8]) -> usize {
        self.chunks.partition_point(|ch| {
            ch.last()
                .is_some_and(|p| pair_cmp(p, score, member) == Ordering::Less)
        })
    }

    fn insert_pair(&mut self, score: f64, member: SmallBytes) {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(4));
            self.rebuild_fen();
        }
        let mut c = self.chunk_for(score, &member).min(self.chunks.len() - 1);
        let mut pos =
            self.chunks[c].partition_point(|p| pair_cmp(p, score, &member) == Ordering::Less);
        // A full run is split before the insert, so a run's buffer never grows past CHUNK_MAX (pushing
        // the 257th pair would double it to 512 and leave the halves a quarter full). Appending past
        // the last run or before the first starts a new run instead of halving, so sets built in
        // score order (timestamps, counters) keep their runs full, as a B-tree's rightmost split does.
        if self.chunks[c].len() >= CHUNK_MAX {
            let last = self.chunks.len() - 1;
            if c == last && pos == self.chunks[c].len() {
                self.chunks.push(Vec::with_capacity(4));
                c += 1;
                pos = 0;
            } else if c == 0 && pos == 0 {
                self.chunks.insert(0, Vec::with_capacity(4));
            } else {
                let half = self.chunks[c].len() / 2;
                let tail = self.chunks[c].split_off(half);
                self.chunks.insert(c + 1, tail);
                if pos > half {
                    c += 1;
                    pos -= half;
                }
            }
            self.chunks[c].insert(pos, (Score(score), member));
            self.rebuild_fen();
            return;
        }
        self.chunks[c].insert(pos, (Score(score), member));
        self.fen_add(c, 1);
    }

    fn remove_pair(&mut self, score: f64, member: &[u8]) {
        let c = self.chunk_for(score, member);
        let Some(chunk) = self.chunks.get_mut(c) else {
            return;
        };
        let Ok(pos) = chunk.binary_search_by(|p| pair_cmp(p, score, member)) else {
            return;
        };
        chunk.remove(pos);
        let len = chunk.len();
        if len == 0 {
            self.chunks.remove(c);
            self.rebuild_fen();
        } else if len < CHUNK_MERGE
            && c + 1 < self.chunks.len()
            && len + self.chunks[c + 1].len() <= CHUNK_MAX
        {
            let next = self.chunks.remove(c + 1);
            self.chunks[c].extend(next);
            self.rebuild_fen();
        } else {
            self.fen_add(c, -1);
        }
    }

    /// Rebuilds the Fenwick tree from the runs' lengths, in O(number of runs).
    fn rebuild_fen(&mut self) {
        let n = self.chunks.len();
        self.fen.clear();
        self.fen.push(0);
        self.fen.extend(self.chunks.iter().map(Vec::len));
        for i in 1..=n {
            let j = i + (i & i.wrapping_neg());
            if j <= n {
                self.fen[j] += self.fen[i];
            }
        }
    }

    /// Records that run `c` grew (+1) or shrank (-1) by one pair.
    fn fen_add(&mut self, c: usize, delta: isize) {
        let mut i = c + 1;
        while i < self.fen.len() {
            self.fen[i] = self.fen[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Number of pairs in the runs before run `c`.
    fn offset(&self, c: usize) -> usize {
        let mut i = c.min(self.fen.len().saturating_sub(1));
        let mut sum = 0;
        while i > 0 {
            sum += self.fen[i];
            i &= i - 1;
        }
        sum
    }

    /// (run, index in run) of ascending rank `rank`, by descending the Fenwick tree.
    fn locate(&self, rank: usize) -> Option<(usize, usize)> {
        if rank >= self.len() {
            return None;
        }
        let n = self.fen.len().saturating_sub(1);
        let mut pos = 0;
        let mut left = rank;
        let mut step = n.checked_ilog2().map_or(0, |b| 1usize << b);
        while step > 0 {
            let next = pos + step;
            if next <= n && self.fen[next] <= left {
                pos = next;
                left -= self.fen[next];
            }
            step >>= 1;
        }
        // `pos` runs hold at most `rank` pairs in total; the rank lies in run `pos`.
        let ch = self.chunks.get(pos)?;
        (left < ch.len()).then_some((pos, left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: usize) -> ZSetValue {
        let mut z = ZSetValue::new();
        for i in 0..n {
            // Scores out of insertion order to exercise run splits in the middle.
            let s = ((i * 7919) % n) as f64;
            z.insert(format!("m{i}").as_bytes(), s);
        }
        z
    }

    #[test]
    fn ranks_follow_score_then_member_order() {
        let z = build(2000);
        let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(all.len(), 2000);
        for w in all.windows(2) {
            assert!(w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0));
        }
        for (r, (m, s)) in all.iter().enumerate() {
            assert_eq!(z.rank(m), Some(r));
            assert_eq!(
                z.get(r).map(|(m2, s2)| (m2.to_vec(), s2)),
                Some((m.clone(), *s))
            );
        }
    }

    #[test]
    fn updates_and_removals_keep_the_order_consistent() {
        let mut z = build(1000);
        for i in (0..1000).step_by(3) {
            z.remove(format!("m{i}").as_bytes());
        }
        for i in (1..1000).step_by(3) {
            z.insert(format!("m{i}").as_bytes(), -(i as f64));
        }
        let n = z.len();
        assert_eq!(z.iter().count(), n);
        let back: Vec<_> = z.iter_back_from(n - 1).map(|(m, _)| m.to_vec()).collect();
        let mut fwd: Vec<_> = z.iter().map(|(m, _)| m.to_vec()).collect();
        fwd.reverse();
        assert_eq!(back, fwd);
        assert_eq!(z.score(b"m1"), Some(-1.0));
        assert_eq!(z.rank(b"m0"), None);
    }

    #[test]
    fn partition_point_finds_score_bounds() {
        let mut z = ZSetValue::new();
        for i in 0..600 {
            z.insert(format!("{i:04}").as_bytes(), (i / 10) as f64);
        }
        assert_eq!(z.partition_point(|_, s| s < 5.0), 50);
        assert_eq!(z.partition_point(|_, s| s <= 5.0), 60);
        assert_eq!(z.partition_point(|_, s| s < 1000.0), 600);
        assert_eq!(z.partition_point(|_, _| false), 0);
    }

    #[test]
    fn pops_and_rank_removal_shrink_the_set() {
        let mut z = build(700);
        let (m, s) = z.pop(false).unwrap_or((SmallBytes::new(b""), -1.0));
        assert_eq!(s, 0.0);
        assert_eq!(z.score(&m), None);
        let (_, s) = z.pop(true).unwrap_or((SmallBytes::new(b""), -1.0));
        assert_eq!(s, 699.0);
        assert_eq!(z.remove_ranks(10, 20), 10);
        assert_eq!(z.len(), 688);
        assert_eq!(z.get(10).map(|(_, s)| s), Some(21.0));
        assert_eq!(z.remove_ranks(0, 10_000), 688);
        assert!(z.is_empty());
    }

    #[test]
    fn runs_never_outgrow_their_limit_and_ordered_inserts_keep_them_full() {
        for order in ["ascending", "descending", "middle"] {
            let mut z = ZSetValue::new();
            let n = 10 * CHUNK_MAX as i64;
            for i in 0..n {
                let score = match order {
                    "ascending" => i as f64,
                    "descending" => -i as f64,
                    // Every insert lands between the two halves inserted so far.
                    _ => (if i % 2 == 0 { i as f64 } else { -(i as f64) }) * 1e-9 + 0.5,
                };
                z.insert(format!("m{i}").as_bytes(), score);
            }
            assert!(
                z.chunks.iter().all(|c| c.capacity() <= CHUNK_MAX),
                "{order}"
            );
            if order != "middle" {
                assert_eq!(z.chunks.len(), 10, "{order}: runs stay full");
            }
            let ranked: Vec<f64> = z.iter_from(0).map(|(_, s)| s).collect();
            assert!(ranked.windows(2).all(|w| w[0] <= w[1]), "{order}");
            assert_eq!(ranked.len(), n as usize);
        }
    }

    #[test]
    fn ranks_match_a_sorted_model_under_random_churn() {
        let mut z = ZSetValue::new();
        let mut model: Vec<(i64, String)> = Vec::new();
        let mut x: u64 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..20_000 {
            let m = format!("m{}", next() % 3000);
            let sc = (next() % 50) as i64;
            match next() % 5 {
                0..=2 => {
                    z.insert(m.as_bytes(), sc as f64);
                    model.retain(|(_, mm)| *mm != m);
                    model.push((sc, m));
                }
                3 => {
                    z.remove(m.as_bytes());
                    model.retain(|(_, mm)| *mm != m);
                }
                _ => {
                    model.sort();
                    let max = step % 2 == 0;
                    let want = if max {
                        model.pop()
                    } else if model.is_empty() {
                        None
                    } else {
                        Some(model.remove(0))
                    };
                    let got = z
                        .pop(max)
                        .map(|(m, s)| (s as i64, String::from_utf8_lossy(&m).into_owned()));
                    assert_eq!(got, want);
                }
            }
            if step % 2000 == 0 || step == 19_999 {
                model.sort();
                assert_eq!(z.len(), model.len());
                for (r, (sc, m)) in model.iter().enumerate() {
                    assert_eq!(z.rank(m.as_bytes()), Some(r));
                    assert_eq!(
                        z.get(r).map(|(mm, s)| (s as i64, mm.to_vec())),
                        Some((*sc, m.as_bytes().to_vec()))
                    );
                }
                assert_eq!(z.get(model.len()), None);
            }
        }
    }

    #[test]
    fn zero_and_negative_zero_are_one_score() {
        let mut z = ZSetValue::new();
        z.insert(b"a", 0.0);
        assert_eq!(z.insert(b"a", -0.0), Some(0.0));
        assert_eq!(z.rank(b"a"), Some(0));
    }
}
