//! Glob-style pattern matching with Redis's `stringmatchlen` semantics, as used by KEYS, SCAN/HSCAN/SSCAN/ZSCAN
//! MATCH, PSUBSCRIBE, CLIENT KILL/ACL key patterns and the like. This module owns the pattern language and its
//! quirks; callers own any fast paths (see [`is_literal`]) and special cases such as KEYS/SCAN treating a lone
//! `*` as "everything".
//!
//! The matcher is iterative: it keeps one backtrack point (the most recent `*`) instead of recursing, so hostile
//! patterns such as `*a*a*a*a*a*a*a*a*b` cost at most O(pattern × subject) rather than exponential time.

/// Redis gives up (reports "no match") once a match has to descend past this many `*` groups.
const MAX_STAR_NESTING: usize = 1000;

/// Reports whether `subject` matches the glob `pattern`, byte for byte as Redis 7.2's `stringmatchlen` does.
///
/// Pattern language:
/// - `*` matches any run of bytes (consecutive `*` act as one); `?` matches exactly one byte.
/// - `[...]` matches one byte from a set; `[^...]` one byte not in it. Inside a set, `\x` is a literal `x`
///   (compared case-sensitively even when `nocase`), and `a-z` is an inclusive range whose ends are swapped if
///   reversed. Range ends are compared as C `char`, which is signed on x86-64 Linux (Redis's reference
///   platform): bytes >= 0x80 sort *below* ASCII, so `[a-\xff]` covers 0xff and 0x00..=0x61. With `nocase`,
///   glibc's `tolower` then maps 0x80..=0xfe (but not 0xff) back above ASCII, after the swap. The set ends at
///   the first unescaped `]`, so `[]` matches nothing and `[^]` matches any byte. A `[` with no closing `]`
///   extends to the end of the pattern (`[abc` behaves like `[abc]`, `[^` matches any byte, and a lone `[`
///   matches nothing).
/// - `\x` matches the byte `x` literally; a trailing lone `\` matches a `\`.
/// - Any other byte matches itself. With `nocase`, ASCII letters compare case-insensitively (`A-Z` only;
///   in ranges the case folding happens after any swap, exactly as Redis does).
///
/// Redis quirks kept on purpose:
/// - An empty subject matches only the empty pattern: `glob_match(b"*", b"", false)` is `false`.
///   (KEYS and SCAN special-case a lone `*` before calling the matcher; other callers must decide.)
/// - A pattern whose match would need to pass more than 1000 `*` groups (not counting a trailing one) never
///   matches, mirroring Redis's recursion cap.
pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    if subject.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut s) = (0usize, 0usize);
    let mut stars = 0usize;
    // (pattern index just after the latest `*` group, subject index that group's attempt starts at, stars then).
    let mut resume: Option<(usize, usize, usize)> = None;
    loop {
        if s == subject.len() {
            // Trailing `*` groups may match nothing; anything else needs bytes we no longer have, and retrying an
            // earlier `*` with a longer run would only leave fewer.
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            return p == pattern.len();
        }
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            stars += 1;
            if stars > MAX_STAR_NESTING {
                // Every match has to get past this group, and Redis refuses to recurse that deep.
                return false;
            }
            resume = Some((p, s, stars));
            continue;
        }
        if p < pattern.len() {
            let (ok, next) = match_one(pattern, p, subject[s], nocase);
            if ok {
                p = next;
                s += 1;
                continue;
            }
        }
        // Mismatch: let the latest `*` swallow one more byte. Retrying older `*`s is never needed: whatever
        // they could reach, the latest one can reach too (the same argument as Redis's skipLongerMatches).
        match resume {
            Some((rp, rs, rstars)) => {
                resume = Some((rp, rs + 1, rstars));
                p = rp;
                s = rs + 1;
                stars = rstars;
            }
            None => return false,
        }
    }
}

/// Reports whether `pattern` has no byte with special meaning (`*`, `?`, `[`, `\`), in which case
/// `glob_match(pattern, key, false)` is exactly `pattern == key`, so KEYS/SCAN can look the key up directly.
/// (With `nocase` the equivalent test is an ASCII case-insensitive comparison.)
pub fn is_literal(pattern: &[u8]) -> bool {
    !pattern
        .iter()
        .any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

/// Matches the single-byte token starting at `pattern[p]` (never `*`) against `c`.
/// Returns whether it matched and where the next token starts.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match_set(pattern, p + 1, c, nocase),
        b'\\' if pattern.len() - p >= 2 => (bytes_eq(pattern[p + 1], c, nocase), p + 2),
        literal => (bytes_eq(literal, c, nocase), p + 1),
    }
}

/// Matches a `[...]` set whose body starts at `pattern[i]` (just after the `[`).
/// How far the set extends depends only on the pattern, never on `c`.
fn match_set(pattern: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let len = pattern.len();
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        let rest = len - i;
        match pattern.get(i) {
            Some(b'\\') if rest >= 2 => {
                i += 1;
                matched |= pattern[i] == c;
            }
            Some(b']') => break,
            // Unterminated set: it ends with the pattern.
            None => {
                i -= 1;
                break;
            }
            Some(&lo) if rest >= 3 && pattern[i + 1] == b'-' => {
                matched |= in_range(lo, pattern[i + 2], c, nocase);
                i += 2;
            }
            Some(&b) => matched |= bytes_eq(b, c, nocase),
        }
        i += 1;
    }
    (matched != negate, i + 1)
}

/// Range test with C's signed `char` ordering; the swap of reversed ends precedes case folding, as in Redis.
fn in_range(start: u8, end: u8, c: u8, nocase: bool) -> bool {
    let (mut lo, mut hi) = (signed(start), signed(end));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    let mut c = signed(c);
    if nocase {
        lo = fold(lo);
        hi = fold(hi);
        c = fold(c);
    }
    lo <= c && c <= hi
}

fn signed(b: u8) -> i16 {
    i16::from(b as i8)
}

/// glibc's C-locale `tolower` on a signed `char` value: ASCII letters fold, and negative values other than -1
/// (`EOF`) come back as their unsigned byte value, which moves them above ASCII.
fn fold(v: i16) -> i16 {
    match v {
        65..=90 => v + 32,
        -128..=-2 => v + 256,
        _ => v,
    }
}

fn bytes_eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    /// Recursive model shaped like Redis's matcher, including its give-up flag and nesting cap.
    fn model(pat: &[u8], s: &[u8], nocase: bool) -> bool {
        struct Ctx<'a> {
            pat: &'a [u8],
            s: &'a [u8],
            nocase: bool,
            give_up: bool,
        }
        fn go(cx: &mut Ctx<'_>, mut p: usize, mut i: usize, depth: usize) -> bool {
            if depth > MAX_STAR_NESTING {
                return false;
            }
            let (pat, s) = (cx.pat, cx.s);
            while p < pat.len() && i < s.len() {
                if pat[p] == b'*' {
                    while p + 1 < pat.len() && pat[p + 1] == b'*' {
                        p += 1;
                    }
                    if p + 1 == pat.len() {
                        return true;
                    }
                    for k in i..s.len() {
                        if go(cx, p + 1, k, depth + 1) {
                            return true;
                        }
                        if cx.give_up {
                            return false;
                        }
                    }
                    cx.give_up = true;
                    return false;
                }
                let (ok, next) = model_one(pat, p, s[i], cx.nocase);
                if !ok {
                    return false;
                }
                p = next;
                i += 1;
                if i == s.len() {
                    while p < pat.len() && pat[p] == b'*' {
                        p += 1;
                    }
                }
            }
            p == pat.len() && i == s.len()
        }
        let mut cx = Ctx {
            pat,
            s,
            nocase,
            give_up: false,
        };
        go(&mut cx, 0, 0, 0)
    }

    /// Independent model of one non-`*` token, written the way the C reads it: a cursor plus remaining length,
    /// with reads past the end yielding NUL and bytes compared as signed `char`.
    fn model_one(pat: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
        let at = |k: usize| {
            if k < pat.len() {
                i32::from(pat[k] as i8)
            } else {
                0
            }
        };
        let lower = |x: i32| match x {
            65..=90 => x + 32,
            -128..=-2 => x + 256,
            _ => x,
        };
        let eq = |x: i32, y: i32| if nocase { lower(x) == lower(y) } else { x == y };
        let ci = i32::from(c as i8);
        let (mut k, mut left) = (p, pat.len() - p);
        if at(k) == i32::from(b'?') {
            return (true, k + 1);
        }
        if at(k) == i32::from(b'[') {
            k += 1;
            left -= 1;
            let not = at(k) == i32::from(b'^');
            if not {
                k += 1;
                left -= 1;
            }
            let mut matched = false;
            loop {
                if at(k) == i32::from(b'\\') && left >= 2 {
                    k += 1;
                    left -= 1;
                    matched |= at(k) == ci;
                } else if at(k) == i32::from(b']') {
                    break;
                } else if left == 0 {
                    k -= 1;
                    left += 1;
                    break;
                } else if left >= 3 && at(k + 1) == i32::from(b'-') {
                    let (mut lo, mut hi) = (at(k), at(k + 2));
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    let mut cc = ci;
                    if nocase {
                        lo = lower(lo);
                        hi = lower(hi);
                        cc = lower(cc);
                    }
                    matched |= lo <= cc && cc <= hi;
                    k += 2;
                    left -= 2;
                } else {
                    matched |= eq(at(k), ci);
                }
                k += 1;
                left -= 1;
            }
            let _ = left;
            return (matched != not, k + 1);
        }
        if at(k) == i32::from(b'\\') && left >= 2 {
            return (eq(at(k + 1), ci), k + 2);
        }
        (eq(at(k), ci), k + 1)
    }

    #[test]
    fn stars_and_question_marks_behave_like_redis() {
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a", "a"));
        assert!(m("**a**b**", "xxaxxbxx"));
        assert!(!m("*a*b", "ba"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:nam"));
    }

    #[test]
    fn empty_subject_matches_only_empty_pattern() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
    }

    #[test]
    fn sets_ranges_and_negation_behave_like_redis() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hbllo"), "reversed ranges are swapped");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[a-cx]", "x"));
        assert!(m("[\\]]", "]"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        assert!(!m("[]", "]"), "a set ends at its first ]");
        assert!(!m("[]a]", "a"));
        assert!(m("[^]", "z"), "an empty negated set matches any byte");
        assert!(
            m("[a-]", "_"),
            "a-] is a range from ']' to 'a' and leaves the set open"
        );
    }

    #[test]
    fn unterminated_set_runs_to_end_of_pattern() {
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "d"));
        assert!(!m("[abc", "bx"));
        assert!(!m("[", "["));
        assert!(!m("a[", "a["));
        assert!(m("[^", "q"));
        assert!(m("[a\\", "\\"));
        assert!(m("[a\\]", "]"), "escaped ] does not close the set");
    }

    #[test]
    fn backslash_escapes_special_bytes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("\\[x]", "[x]"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        assert!(m("\\a", "a"));
    }

    #[test]
    fn nocase_folds_ascii_only() {
        assert!(mi("HeLLo", "hello"));
        assert!(!m("HeLLo", "hello"));
        assert!(mi("[A-C]x", "bX"));
        assert!(mi("[abc]", "B"));
        assert!(!mi("[\\A]", "a"), "escapes inside sets stay case-sensitive");
        assert!(mi("\\A", "a"), "escapes outside sets fold");
        assert!(
            !glob_match(b"\xc4", b"\xe4", true),
            "no folding beyond ASCII"
        );
        // Swap happens before folding: [Z-a] with nocase becomes z..a, which is empty.
        assert!(!mi("[Z-a]", "z"));
        assert!(m("[a-Z]", "^"));
        assert!(!mi("[a-Z]", "^"));
    }

    #[test]
    fn high_bytes_sort_below_ascii_in_ranges() {
        assert!(glob_match(b"[a-\xff]", b"\xff", false));
        assert!(glob_match(b"[a-\xff]", b"\x00", false));
        assert!(glob_match(b"[a-\xff]", b"a", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
        assert!(glob_match(b"\xff*\x00", b"\xff\x01\x00", false));
    }

    #[test]
    fn nocase_ranges_follow_glibc_tolower_on_high_bytes() {
        // Swap uses signed order (0x80 < '-'), then folding maps 0x80 to 128, leaving the range 128..=45: empty.
        assert!(glob_match(b"[\x80--]", b"\x00", false));
        assert!(!glob_match(b"[\x80--]", b"\x00", true));
        // 0xff is EOF (-1) to tolower and stays below ASCII.
        assert!(glob_match(b"[\xff-a]", b"\x00", true));
        assert!(!glob_match(b"[\xfe-a]", b"\x00", true));
    }

    #[test]
    fn nesting_cap_stops_matching_past_1000_star_groups() {
        let ok = "a*".repeat(1000) + "a";
        let s = "a".repeat(1001);
        assert!(glob_match(ok.as_bytes(), s.as_bytes(), false));
        let trailing = "a*".repeat(1001);
        assert!(glob_match(trailing.as_bytes(), s.as_bytes(), false));
        let too_deep = "a*".repeat(1001) + "a";
        let s2 = "a".repeat(1002);
        assert!(!glob_match(too_deep.as_bytes(), s2.as_bytes(), false));
        assert!(model(ok.as_bytes(), s.as_bytes(), false));
        assert!(!model(too_deep.as_bytes(), s2.as_bytes(), false));
    }

    #[test]
    fn hostile_patterns_run_fast() {
        let subject = vec![b'a'; 20_000];
        let start = Instant::now();
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*b", &subject, false));
        assert!(!glob_match(
            b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
            &subject,
            true
        ));
        assert!(!glob_match(b"a*[a-z]*?*a*\\a*[^b]*b", &subject, false));
        let many = "*a".repeat(500) + "b";
        assert!(!glob_match(many.as_bytes(), &subject[..2_000], false));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn literal_patterns_are_detected() {
        assert!(is_literal(b"user:1000"));
        assert!(is_literal(b""));
        assert!(is_literal(b"a]b^c-d"));
        for p in [&b"a*"[..], b"a?", b"[a]", b"a\\b"] {
            assert!(!is_literal(p));
        }
    }

    proptest! {
        #[test]
        fn matcher_agrees_with_recursive_model(
            pat in proptest::collection::vec(prop::sample::select(b"ab*?[]^-\\A".to_vec()), 0..10),
            s in proptest::collection::vec(prop::sample::select(b"abAB]-^\\*".to_vec()), 0..10),
            nocase in any::<bool>(),
        ) {
            prop_assert_eq!(glob_match(&pat, &s, nocase), model(&pat, &s, nocase));
        }

        #[test]
        fn arbitrary_bytes_never_panic(pat in any::<Vec<u8>>(), s in any::<Vec<u8>>(), nocase in any::<bool>()) {
            let _ = glob_match(&pat, &s, nocase);
        }

        #[test]
        fn literal_patterns_match_only_themselves(p in "[a-z:]{0,8}", s in "[a-z:]{0,8}") {
            prop_assert!(is_literal(p.as_bytes()));
            prop_assert_eq!(m(&p, &s), p == s);
        }
    }
}
