//! Longest common subsequence for the LCS command: the length, the subsequence itself, and the matching ranges,
//! all chosen exactly as Redis's `lcsCommand` chooses them when several answers exist. This module owns the
//! algorithm and Redis's size limits; argument parsing and reply shapes belong to the command.
//!
//! Like Redis, it fills a `(a.len()+1) × (b.len()+1)` table of `u32` lengths and walks it back from the ends of
//! both strings, so the memory cost is 4 bytes per table cell and is refused up front when too large.

/// Redis's default `proto-max-bulk-len` (512 MiB), which is also its cap on the LCS table's size in bytes.
pub const DEFAULT_MAX_TABLE_BYTES: u64 = 512 * 1024 * 1024;

/// One matching stretch: `((a_start, a_end), (b_start, b_end), len)`, ends inclusive, `len = a_end - a_start + 1`.
pub type LcsMatch = ((usize, usize), (usize, usize), usize);

/// Result of [`lcs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lcs {
    /// Length of the longest common subsequence.
    pub len: usize,
    /// Contiguous matching stretches along the chosen subsequence, from the ends of the strings backwards (the
    /// order LCS IDX reports them), already filtered by `min_match_len`. Empty unless matches were asked for.
    pub matches: Vec<LcsMatch>,
}

/// Why an LCS could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcsError {
    /// One input is 2^32 - 2 bytes or longer (lengths must fit the `u32` table).
    StringTooLong,
    /// The table would need more bytes than the limit (Redis: `proto-max-bulk-len`).
    TooBig,
    /// The table's allocation failed.
    OutOfMemory,
}

impl LcsError {
    /// The error reply text, exactly as Redis words it (send it after `-`).
    pub fn message(self) -> &'static str {
        match self {
            LcsError::StringTooLong => "ERR String too long for LCS",
            LcsError::TooBig => {
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
            }
            LcsError::OutOfMemory => {
                "ERR Insufficient memory, failed allocating transient memory for LCS"
            }
        }
    }
}

impl std::fmt::Display for LcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for LcsError {}

/// Computes the LCS length and, if `want_matches`, the matching ranges LCS IDX reports, keeping only stretches
/// of at least `min_match_len` bytes (0 and 1 both keep everything; Redis clamps negative MINMATCHLEN to 0).
/// Uses [`DEFAULT_MAX_TABLE_BYTES`] as the table limit; see [`lcs_with_limit`].
pub fn lcs(a: &[u8], b: &[u8], want_matches: bool, min_match_len: usize) -> Result<Lcs, LcsError> {
    lcs_with_limit(a, b, want_matches, min_match_len, DEFAULT_MAX_TABLE_BYTES)
}

/// [`lcs`] with an explicit table limit in bytes (pass the configured `proto-max-bulk-len`).
///
/// Errors exactly when Redis would, even where the answer is trivial (an empty `a` with a huge `b`): first
/// [`LcsError::StringTooLong`], then [`LcsError::TooBig`] if `(a.len()+1) * (b.len()+1) * 4 > max_table_bytes`.
/// Without `want_matches` only two table rows are kept, but the limit is still enforced as Redis does.
pub fn lcs_with_limit(
    a: &[u8],
    b: &[u8],
    want_matches: bool,
    min_match_len: usize,
    max_table_bytes: u64,
) -> Result<Lcs, LcsError> {
    check_limits(a, b, max_table_bytes)?;
    if !want_matches {
        return Ok(Lcs {
            len: length_only(a, b)?,
            matches: Vec::new(),
        });
    }
    let table = Table::build(a, b)?;
    let mut matches = Vec::new();
    table.walk(
        a,
        b,
        |_| {},
        |m| {
            if min_match_len == 0 || m.2 >= min_match_len {
                matches.push(m);
            }
        },
    );
    Ok(Lcs {
        len: table.get(a.len(), b.len()) as usize,
        matches,
    })
}

/// The common subsequence LCS replies with by default, picked as Redis picks it among equally long ones:
/// walking back from the ends, a shared byte is always taken, otherwise the walk drops a byte of `a` only when
/// that keeps a strictly longer LCS, else it drops a byte of `b`. Uses [`DEFAULT_MAX_TABLE_BYTES`].
pub fn lcs_string(a: &[u8], b: &[u8]) -> Result<Vec<u8>, LcsError> {
    lcs_string_with_limit(a, b, DEFAULT_MAX_TABLE_BYTES)
}

/// [`lcs_string`] with an explicit table limit in bytes; errors as [`lcs_with_limit`] does.
pub fn lcs_string_with_limit(
    a: &[u8],
    b: &[u8],
    max_table_bytes: u64,
) -> Result<Vec<u8>, LcsError> {
    check_limits(a, b, max_table_bytes)?;
    let table = Table::build(a, b)?;
    let mut reversed = Vec::with_capacity(table.get(a.len(), b.len()) as usize);
    table.walk(a, b, |byte| reversed.push(byte), |_| {});
    reversed.reverse();
    Ok(reversed)
}

fn check_limits(a: &[u8], b: &[u8], max_table_bytes: u64) -> Result<(), LcsError> {
    let too_long = |s: &[u8]| s.len() as u128 >= u128::from(u32::MAX - 1);
    if too_long(a) || too_long(b) {
        return Err(LcsError::StringTooLong);
    }
    let bytes = (a.len() as u128 + 1) * (b.len() as u128 + 1) * 4;
    if bytes > u128::from(max_table_bytes) {
        return Err(LcsError::TooBig);
    }
    Ok(())
}

/// LCS length in O(b) memory; same recurrence as [`Table::build`].
fn length_only(a: &[u8], b: &[u8]) -> Result<usize, LcsError> {
    let mut prev = zeroed(b.len() + 1)?;
    let mut cur = zeroed(b.len() + 1)?;
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(prev[b.len()] as usize)
}

fn zeroed(n: usize) -> Result<Vec<u32>, LcsError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| LcsError::OutOfMemory)?;
    v.resize(n, 0);
    Ok(v)
}

/// Row-major `(a.len()+1) × (b.len()+1)` table: cell `(i, j)` is the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Result<Table, LcsError> {
        let width = b.len() + 1;
        let size = (a.len() + 1).checked_mul(width).ok_or(LcsError::TooBig)?;
        let mut cells = zeroed(size)?;
        for (i, &x) in a.iter().enumerate() {
            let (done, rest) = cells.split_at_mut((i + 1) * width);
            let prev = &done[i * width..];
            let cur = &mut rest[..width];
            for (j, &y) in b.iter().enumerate() {
                cur[j + 1] = if x == y {
                    prev[j] + 1
                } else {
                    prev[j + 1].max(cur[j])
                };
            }
        }
        Ok(Table { cells, width })
    }

    fn get(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks Redis's path back from `(a.len(), b.len())`, reporting each byte of the subsequence (last first)
    /// and each maximal stretch of consecutive matches as it closes (last stretch first, unfiltered).
    fn walk(
        &self,
        a: &[u8],
        b: &[u8],
        mut on_byte: impl FnMut(u8),
        mut on_match: impl FnMut(LcsMatch),
    ) {
        let (mut i, mut j) = (a.len(), b.len());
        // Current stretch: (a_start, a_end, b_start, b_end).
        let mut open: Option<(usize, usize, usize, usize)> = None;
        while i > 0 && j > 0 {
            let mut close = false;
            if a[i - 1] == b[j - 1] {
                on_byte(a[i - 1]);
                match open.as_mut() {
                    None => open = Some((i - 1, i - 1, j - 1, j - 1)),
                    Some(r) if r.0 == i && r.2 == j => {
                        r.0 -= 1;
                        r.2 -= 1;
                    }
                    // Unreachable in practice (any step off the diagonal closes the stretch first), but Redis
                    // closes the old stretch here without starting a new one, so do the same.
                    Some(_) => close = true,
                }
                if open.is_some_and(|r| r.0 == 0 || r.2 == 0) {
                    close = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.get(i - 1, j) > self.get(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                close = open.is_some();
            }
            if close && let Some((a_start, a_end, b_start, b_end)) = open.take() {
                on_match(((a_start, a_end), (b_start, b_end), a_end - a_start + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(a: &str, b: &str, min: usize) -> Vec<LcsMatch> {
        lcs(a.as_bytes(), b.as_bytes(), true, min)
            .map(|r| r.matches)
            .unwrap_or_default()
    }

    fn string(a: &str, b: &str) -> String {
        String::from_utf8(lcs_string(a.as_bytes(), b.as_bytes()).unwrap_or_default())
            .unwrap_or_default()
    }

    #[test]
    fn redis_documentation_example_string_and_length() {
        assert_eq!(string("ohmytext", "mynewtext"), "mytext");
        assert_eq!(
            lcs(b"ohmytext", b"mynewtext", false, 0).map(|r| r.len),
            Ok(6)
        );
    }

    #[test]
    fn redis_documentation_example_idx_ranges() {
        let r = lcs(b"ohmytext", b"mynewtext", true, 0);
        assert_eq!(
            r,
            Ok(Lcs {
                len: 6,
                matches: vec![((4, 7), (5, 8), 4), ((2, 3), (0, 1), 2)]
            })
        );
        assert_eq!(
            ranges("ohmytext", "mynewtext", 4),
            vec![((4, 7), (5, 8), 4)]
        );
        assert_eq!(
            ranges("ohmytext", "mynewtext", 1),
            ranges("ohmytext", "mynewtext", 0)
        );
        assert_eq!(ranges("ohmytext", "mynewtext", 5), vec![]);
    }

    #[test]
    fn empty_and_disjoint_inputs_give_nothing() {
        assert_eq!(
            lcs(b"", b"abc", true, 0),
            Ok(Lcs {
                len: 0,
                matches: vec![]
            })
        );
        assert_eq!(
            lcs(b"abc", b"", true, 0),
            Ok(Lcs {
                len: 0,
                matches: vec![]
            })
        );
        assert_eq!(
            lcs(b"abc", b"xyz", true, 0),
            Ok(Lcs {
                len: 0,
                matches: vec![]
            })
        );
        assert_eq!(string("", ""), "");
    }

    #[test]
    fn ties_prefer_dropping_from_b() {
        // "ab" vs "ba": both "a" and "b" are longest; Redis's walk drops b's trailing "a" and keeps "b".
        assert_eq!(string("ab", "ba"), "b");
        assert_eq!(ranges("ab", "ba", 0), vec![((1, 1), (0, 0), 1)]);
        assert_eq!(string("abc", "cab"), "ab");
        assert_eq!(string("xaybz", "ba"), "b");
    }

    #[test]
    fn stretch_touching_the_start_is_reported() {
        assert_eq!(ranges("abc", "abc", 0), vec![((0, 2), (0, 2), 3)]);
        assert_eq!(ranges("xabc", "abc", 0), vec![((1, 3), (0, 2), 3)]);
        assert_eq!(ranges("abcx", "zabc", 0), vec![((0, 2), (1, 3), 3)]);
    }

    #[test]
    fn table_limit_matches_redis_wording_and_arithmetic() {
        // (3+1)*(3+1)*4 = 64 bytes.
        assert!(lcs_with_limit(b"abc", b"abc", true, 0, 64).is_ok());
        assert_eq!(
            lcs_with_limit(b"abc", b"abc", true, 0, 63),
            Err(LcsError::TooBig)
        );
        assert_eq!(
            lcs_with_limit(b"abc", b"abc", false, 0, 63),
            Err(LcsError::TooBig)
        );
        assert_eq!(
            lcs_string_with_limit(b"", b"abc", 15),
            Err(LcsError::TooBig)
        );
        assert_eq!(
            LcsError::TooBig.to_string(),
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        );
        assert_eq!(DEFAULT_MAX_TABLE_BYTES, 536_870_912);
    }

    /// Brute force: every subsequence of `a` (small inputs), kept if it is a subsequence of `b`.
    fn brute_len(a: &[u8], b: &[u8]) -> usize {
        let is_sub = |s: &[u8]| {
            let mut it = b.iter();
            s.iter().all(|c| it.any(|d| d == c))
        };
        (0u32..1 << a.len())
            .map(|mask| {
                a.iter()
                    .enumerate()
                    .filter(|(k, _)| mask >> k & 1 == 1)
                    .map(|(_, &c)| c)
                    .collect::<Vec<_>>()
            })
            .filter(|s| is_sub(s))
            .map(|s| s.len())
            .max()
            .unwrap_or(0)
    }

    proptest! {
        #[test]
        fn length_is_optimal(a in proptest::collection::vec(0u8..3, 0..10), b in proptest::collection::vec(0u8..3, 0..12)) {
            let want = brute_len(&a, &b);
            prop_assert_eq!(lcs(&a, &b, false, 0).map(|r| r.len), Ok(want));
            prop_assert_eq!(lcs(&a, &b, true, 0).map(|r| r.len), Ok(want));
            prop_assert_eq!(lcs_string(&a, &b).map(|s| s.len()), Ok(want));
        }

        #[test]
        fn ranges_describe_the_reported_string(a in proptest::collection::vec(0u8..4, 0..40), b in proptest::collection::vec(0u8..4, 0..40)) {
            let r = lcs(&a, &b, true, 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let s = lcs_string(&a, &b).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut rebuilt = Vec::new();
            let mut last: Option<(usize, usize)> = None;
            for &((a0, a1), (b0, b1), len) in &r.matches {
                prop_assert_eq!(a1 - a0, b1 - b0);
                prop_assert_eq!(len, a1 - a0 + 1);
                prop_assert_eq!(&a[a0..=a1], &b[b0..=b1]);
                if let Some((pa, pb)) = last {
                    prop_assert!(a1 < pa && b1 < pb, "stretches run backwards");
                }
                last = Some((a0, b0));
                rebuilt.splice(0..0, a[a0..=a1].iter().copied());
            }
            prop_assert_eq!(rebuilt, s);
            let long: Vec<_> = r.matches.iter().copied().filter(|m| m.2 >= 3).collect();
            prop_assert_eq!(lcs(&a, &b, true, 3).map(|x| x.matches), Ok(long));
        }
    }
}
