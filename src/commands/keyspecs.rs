//! The keys of a command from its spec's `key_specs`, compiled once per command (not parsed from JSON
//! on every call): which keys a tracking client read, which keys a write may have changed, and what
//! COMMAND GETKEYS / GETKEYSANDFLAGS answer.

use bytes::Bytes;
use serde_json::Value as Json;
use std::sync::LazyLock;

use crate::commands::is_kw;
use crate::commands::table::{CommandSpec, all_specs};

enum Begin {
    Index(i64),
    Keyword { word: String, from: i64 },
}

enum Find {
    Range { lastkey: i64, step: i64, limit: i64 },
    Keynum { idx: i64, first: i64, step: i64 },
}

struct KeySpec {
    /// Only read (`RO`): not a key the command changes.
    read_only: bool,
    /// The spec's flags as Redis names them (`RW`, `ACCESS`, `UPDATE`, ...).
    flags: Vec<String>,
    begin: Begin,
    find: Find,
}

static SPECS: LazyLock<Vec<Vec<KeySpec>>> = LazyLock::new(|| {
    let mut out: Vec<Vec<KeySpec>> = Vec::new();
    for s in all_specs() {
        if out.len() <= s.id {
            out.resize_with(s.id + 1, Vec::new);
        }
        out[s.id] = compile(s);
    }
    out
});

fn compile(spec: &CommandSpec) -> Vec<KeySpec> {
    let doc = spec.doc();
    let Some(list) = doc.get("key_specs").and_then(Json::as_array) else {
        return Vec::new();
    };
    let int = |v: Option<&Json>, d: i64| v.and_then(Json::as_i64).unwrap_or(d);
    list.iter()
        .filter_map(|ks| {
            let flags: Vec<String> = ks
                .get("flags")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let read_only = flags.iter().any(|f| f == "RO");
            let begin = if let Some(pos) = ks.pointer("/begin_search/index/pos") {
                Begin::Index(pos.as_i64()?)
            } else {
                let kw = ks.pointer("/begin_search/keyword")?;
                Begin::Keyword {
                    word: kw.get("keyword")?.as_str()?.to_string(),
                    from: int(kw.get("startfrom"), 1),
                }
            };
            let find = if let Some(r) = ks.pointer("/find_keys/range") {
                Find::Range {
                    lastkey: int(r.get("lastkey"), 0),
                    step: int(r.get("step"), 1).max(1),
                    limit: int(r.get("limit"), 0),
                }
            } else {
                let k = ks.pointer("/find_keys/keynum")?;
                Find::Keynum {
                    idx: int(k.get("keynumidx"), 0),
                    first: int(k.get("firstkey"), 1),
                    step: int(k.get("step"), 1).max(1),
                }
            };
            Some(KeySpec {
                read_only,
                flags,
                begin,
                find,
            })
        })
        .collect()
}

/// Calls `f` with the argument index and key spec of every key `argv` names for `spec`, in key-spec
/// order (a key named by two specs is reported twice, as Redis's GETKEYS does).
fn each_key(
    spec: &CommandSpec,
    argv: &[Bytes],
    written_only: bool,
    mut f: impl FnMut(usize, &KeySpec),
) {
    let Some(specs) = SPECS.get(spec.id) else {
        return;
    };
    let argc = argv.len() as i64;
    for ks in specs {
        if written_only && ks.read_only {
            continue;
        }
        let start = match &ks.begin {
            Begin::Index(p) => *p,
            Begin::Keyword { word, from } => {
                let found = if *from >= 0 {
                    (*from..argc).find(|&i| is_kw(&argv[i as usize], word))
                } else {
                    (1..=(argc + from).max(0))
                        .rev()
                        .find(|&i| is_kw(&argv[i as usize], word))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
        };
        match ks.find {
            Find::Range {
                lastkey,
                step,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    start + lastkey
                } else if lastkey == -1 {
                    if limit > 1 {
                        start + (argc - 1 - start) / limit
                    } else {
                        argc - 1
                    }
                } else {
                    argc + lastkey
                };
                let mut i = start;
                while i >= 1 && i <= last.min(argc - 1) {
                    f(i as usize, ks);
                    i += step;
                }
            }
            Find::Keynum { idx, first, step } => {
                let n = argv
                    .get((start + idx).max(0) as usize)
                    .and_then(|a| crate::util::numbers::parse_i64(a))
                    .unwrap_or(0)
                    .clamp(0, argc);
                for j in 0..n {
                    let i = start + first + j * step;
                    if i >= 1 && i < argc {
                        f(i as usize, ks);
                    }
                }
            }
        }
    }
}

/// Every key `argv` names for `spec` (what a tracking client's read remembers).
pub fn all_keys(spec: &CommandSpec, argv: &[Bytes], mut f: impl FnMut(&Bytes)) {
    each_key(spec, argv, false, |i, _| f(&argv[i]))
}

/// The keys `argv` may change for `spec`: every key not flagged read-only.
pub fn written_keys(spec: &CommandSpec, argv: &[Bytes], mut f: impl FnMut(&Bytes)) {
    each_key(spec, argv, true, |i, _| f(&argv[i]))
}

/// The (argument index, key spec flags) of every key in `argv` for `spec` (COMMAND GETKEYS).
pub fn keys_with_flags(spec: &CommandSpec, argv: &[Bytes]) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    each_key(spec, argv, false, |i, ks| out.push((i, ks.flags.clone())));
    out
}

/// Whether `spec` names any keys at all.
pub fn has_keys(spec: &CommandSpec) -> bool {
    SPECS.get(spec.id).is_some_and(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::resolve;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn keys(words: &[&str], written: bool) -> Vec<String> {
        let a = argv(words);
        let spec = resolve(&a).expect("known command");
        let mut out = Vec::new();
        each_key(spec, &a, written, |i, _| {
            out.push(String::from_utf8_lossy(&a[i]).into_owned())
        });
        out
    }

    #[test]
    fn store_commands_change_only_their_destination() {
        assert_eq!(
            keys(&["sinterstore", "d", "a", "b"], true),
            vec!["d".to_string()]
        );
        assert_eq!(keys(&["sinterstore", "d", "a", "b"], false).len(), 3);
    }

    #[test]
    fn numkeys_and_ranges_are_followed() {
        assert_eq!(keys(&["mget", "a", "b", "c"], false), vec!["a", "b", "c"]);
        assert_eq!(keys(&["mset", "a", "1", "b", "2"], true), vec!["a", "b"]);
        assert_eq!(
            keys(
                &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
                false
            ),
            vec!["d", "a", "b"]
        );
        assert_eq!(
            keys(&["zunionstore", "d", "99", "a"], false),
            vec!["d", "a"]
        );
    }
}
