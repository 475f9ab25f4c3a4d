//! Turns `commands/*.json` into the command table (`$OUT_DIR/command_table.rs`).
//!
//! Each spec names its handler (`"function": "strings::get"`), so the generated table refers to
//! `crate::commands::strings::get` and a spec without a handler fails the build. The spec itself is embedded
//! (minified) for COMMAND INFO and COMMAND DOCS. Malformed specs stop the build with a message naming the file.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// Redis's command flags, in bit order. COMMAND INFO shows these (less the ones Redis hides).
const FLAGS: &[&str] = &[
    "WRITE",
    "READONLY",
    "DENYOOM",
    "MODULE",
    "ADMIN",
    "PUBSUB",
    "NOSCRIPT",
    "BLOCKING",
    "LOADING",
    "STALE",
    "SKIP_MONITOR",
    "SKIP_SLOWLOG",
    "ASKING",
    "FAST",
    "NO_AUTH",
    "MAY_REPLICATE",
    "SENTINEL",
    "ONLY_SENTINEL",
    "NO_MANDATORY_KEYS",
    "PROTECTED",
    "TOUCHES_ARBITRARY_KEYS",
    "NO_ASYNC_LOADING",
    "NO_MULTI",
    "MOVABLE_KEYS",
    "ALLOW_BUSY",
];

/// Concord's own command flags, with what each means. They take the bits after Redis's and are never
/// shown to clients (COMMAND INFO lists `FLAG_NAMES` only): each stands for a behaviour that Redis keys on
/// command names in its C code, so that Concord says it once, in the spec. commands/README.md lists them.
const CONCORD_FLAGS: &[(&str, &str)] = &[
    (
        "CONCORD_EXCLUSIVE",
        "Runs isolated: takes the exclusive side of the exec lock (EXEC and the script commands).",
    ),
    (
        "CONCORD_SCRIPT",
        "Runs a script (EVAL*, FCALL*): feeds MONITOR before running, so the script's commands follow \
         it; its read-only forms track the keys the script reads, not the command's own.",
    ),
    (
        "CONCORD_RUNS_QUEUE",
        "Runs the client's MULTI queue (EXEC): refused while a script is busy it aborts the \
         transaction; CLIENT PAUSE WRITE holds it when the queue has a write; the queued commands \
         track their own keys and show in MONITOR as the client's.",
    ),
    (
        "CONCORD_NOT_QUEUED",
        "Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).",
    ),
    (
        "CONCORD_TOUCHES_ALL_KEYS",
        "May change any key of a database (FLUSHDB, FLUSHALL, SWAPDB): every waited key is re-checked.",
    ),
    (
        "CONCORD_FLUSHES",
        "Removes every key of a database or of all (FLUSHDB, FLUSHALL): tracking invalidates everything.",
    ),
    (
        "CONCORD_SUBSCRIBE_MODE",
        "Allowed while a RESP2 client is in subscribe mode ((P|S)(UN)SUBSCRIBE, PING, QUIT, RESET).",
    ),
    (
        "CONCORD_KEEPS_CACHING",
        "Does not use up a pending CLIENT CACHING yes|no (the CLIENT subcommands).",
    ),
    (
        "CONCORD_NO_SCRIPT_BLOCK",
        "Its BLOCK option (before STREAMS) is refused from scripts, as Redis refuses XREAD[GROUP] BLOCK.",
    ),
    (
        "CONCORD_GUARD",
        "A condition (KV.IF): queued in MULTI, EXEC evaluates it before running anything and aborts \
         with a nil reply if it is false; its own slot in EXEC's reply is then 1.",
    ),
    (
        "CONCORD_WAITS_ON_CHANGE",
        "A blocking command that waits for a key to change state (locks, semaphores, elections): any \
         write to a key it waits on re-runs it, and waiters are served strictly in line (one that \
         still cannot proceed stops the line).",
    ),
];

const KEYWORDS: &[&str] = &[
    "type", "move", "match", "loop", "fn", "impl", "ref", "mod", "use", "where",
];

struct Spec {
    name: String,
    container: Option<String>,
    body: Map<String, Value>,
    file: String,
}

fn fail(file: &str, msg: &str) -> ! {
    panic!("commands/{file}: {msg}");
}

/// Redis's legacy (first, last, step) triple, derived from the key specs as Redis does for simple ranges.
fn legacy_range(file: &str, body: &Map<String, Value>) -> (i64, i64, i64, bool) {
    let Some(specs) = body.get("key_specs").and_then(Value::as_array) else {
        return (0, 0, 0, false);
    };
    let (mut first, mut last, mut step) = (0i64, 0i64, 0i64);
    let mut movable = false;
    for ks in specs {
        let pos = ks
            .pointer("/begin_search/index/pos")
            .and_then(Value::as_i64);
        let range = ks.pointer("/find_keys/range");
        match (pos, range) {
            (Some(pos), Some(r)) => {
                let lastkey = r.get("lastkey").and_then(Value::as_i64).unwrap_or(0);
                let kstep = r.get("step").and_then(Value::as_i64).unwrap_or(1);
                let limit = r.get("limit").and_then(Value::as_i64).unwrap_or(0);
                if limit > 1 {
                    movable = true;
                    continue;
                }
                let klast = if lastkey >= 0 { pos + lastkey } else { lastkey };
                if first == 0 {
                    (first, last, step) = (pos, klast, kstep);
                } else if kstep == step && last >= 0 && pos == last + step {
                    last = klast;
                } else {
                    movable = true;
                }
            }
            (Some(_), None) | (None, _) => {
                if ks.get("begin_search").is_none() {
                    fail(file, "key spec without begin_search");
                }
                movable = true;
            }
        }
    }
    (first, last, step, movable)
}

fn flags_expr(file: &str, body: &Map<String, Value>, movable: bool) -> String {
    let mut names: Vec<String> = body
        .get("command_flags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if movable {
        names.push("MOVABLE_KEYS".into());
    }
    for n in &names {
        if !FLAGS.contains(&n.as_str()) && !CONCORD_FLAGS.iter().any(|(c, _)| c == n) {
            fail(file, &format!("unknown command flag {n}"));
        }
    }
    if names.is_empty() {
        "0".into()
    } else {
        names
            .iter()
            .map(|n| format!("flags::{n}"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

fn emit(out: &mut String, spec: &Spec, full_name: &str, id: usize, subs: &str) {
    let b = &spec.body;
    let arity = b
        .get("arity")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| fail(&spec.file, "missing arity"));
    let (first, last, step, movable) = legacy_range(&spec.file, b);
    let flags = flags_expr(&spec.file, b, movable);
    let handler = match b.get("function").and_then(Value::as_str) {
        Some(f) => {
            if !f.contains("::") || f.contains(' ') {
                fail(&spec.file, "function must be module::name");
            }
            // Handlers named after Rust keywords (TYPE, MOVE) are raw identifiers.
            let f = match f.rsplit_once("::") {
                Some((m, n)) if KEYWORDS.contains(&n) => format!("{m}::r#{n}"),
                _ => f.to_string(),
            };
            format!("Some(crate::commands::{f})")
        }
        None => "None".into(),
    };
    let mut obj = Map::new();
    obj.insert(spec.name.clone(), Value::Object(b.clone()));
    let json = serde_json::to_string(&Value::Object(obj)).expect("serialise spec");
    let _ = writeln!(
        out,
        "CommandSpec {{ name: {full_name:?}, id: {id}, arity: {arity}, flags: {flags}, first_key: {first}, \
         last_key: {last}, step: {step}, handler: {handler}, subcommands: {subs}, json: {json:?} }},"
    );
}

fn main() {
    println!("cargo:rerun-if-changed=commands");
    let dir = Path::new("commands");
    let mut specs = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("commands/ directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| fail(&file, &e.to_string()));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| fail(&file, &e.to_string()));
        let Value::Object(top) = v else {
            fail(&file, "not an object")
        };
        if top.len() != 1 {
            fail(&file, "must hold exactly one command");
        }
        let (name, body) = top.into_iter().next().expect("one entry");
        let Value::Object(body) = body else {
            fail(&file, "spec is not an object")
        };
        let container = body
            .get("container")
            .and_then(Value::as_str)
            .map(str::to_string);
        let expected = match &container {
            Some(c) => format!("{}-{}.json", c.to_lowercase(), name.to_lowercase()),
            None => format!("{}.json", name.to_lowercase()),
        };
        if expected != file {
            fail(&file, &format!("file name should be {expected}"));
        }
        specs.push(Spec {
            name,
            container,
            body,
            file,
        });
    }

    // container name -> subcommands, sorted by name
    let mut subs: BTreeMap<String, Vec<&Spec>> = BTreeMap::new();
    for s in specs.iter().filter(|s| s.container.is_some()) {
        let c = s.container.clone().unwrap_or_default().to_lowercase();
        subs.entry(c).or_default().push(s);
    }
    let mut tops: Vec<&Spec> = specs.iter().filter(|s| s.container.is_none()).collect();
    tops.sort_by_key(|s| s.name.to_lowercase());
    for c in subs.keys() {
        if !tops.iter().any(|t| t.name.to_lowercase() == *c) {
            panic!("commands: subcommands of {c} but no {c}.json");
        }
    }
    for t in &tops {
        let lname = t.name.to_lowercase();
        if t.body.get("function").is_none() && !subs.contains_key(&lname) {
            fail(&t.file, "no function and no subcommands");
        }
    }

    let mut out = String::from("// @generated by build.rs from commands/*.json; do not edit.\n\n");
    let mut id = 0usize;
    for (c, list) in &subs {
        let _ = writeln!(
            out,
            "static SUB_{}: &[CommandSpec] = &[",
            c.to_uppercase().replace(['-', '.'], "_")
        );
        let mut list = list.clone();
        list.sort_by_key(|s| s.name.to_lowercase());
        for s in list {
            let full = format!("{c}|{}", s.name.to_lowercase());
            emit(&mut out, s, &full, id, "&[]");
            id += 1;
        }
        out.push_str("];\n\n");
    }
    out.push_str("/// Every top-level command, sorted by name.\npub static COMMAND_TABLE: &[CommandSpec] = &[\n");
    for t in tops {
        let lname = t.name.to_lowercase();
        let subs_ref = if subs.contains_key(&lname) {
            format!("SUB_{}", lname.to_uppercase().replace(['-', '.'], "_"))
        } else {
            "&[]".into()
        };
        emit(&mut out, t, &lname, id, &subs_ref);
        id += 1;
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "/// Number of specs, subcommands included (size of per-command stats).\npub const SPEC_COUNT: usize = {id};"
    );
    let _ = writeln!(
        out,
        "/// Redis's command flag names in bit order (the client-visible ones).\npub const FLAG_NAMES: &[&str] = &{FLAGS:?};"
    );
    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    fs::write(Path::new(&out_dir).join("command_table.rs"), out).expect("write command table");
    fs::write(Path::new(&out_dir).join("command_flags.rs"), flag_consts())
        .expect("write command flags");
}

/// The `flags::*` constants: Redis's flags first, in `FLAG_NAMES` order, then Concord's.
fn flag_consts() -> String {
    if FLAGS.len() + CONCORD_FLAGS.len() > 64 {
        panic!("build.rs: more than 64 command flags");
    }
    let mut out = String::from("// @generated by build.rs; do not edit.\n\n");
    for (bit, name) in FLAGS.iter().enumerate() {
        let _ = writeln!(out, "pub const {name}: u64 = 1 << {bit};");
    }
    for (i, (name, doc)) in CONCORD_FLAGS.iter().enumerate() {
        let _ = writeln!(
            out,
            "/// {doc}\npub const {name}: u64 = 1 << {};",
            FLAGS.len() + i
        );
    }
    out
}
