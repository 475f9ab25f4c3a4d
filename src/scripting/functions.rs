//! Redis 7 function libraries on the Lua side: the `#!lua name=<lib>` header, compiling a library and
//! running its code with the loading API (`redis.register_function`, both call forms, flags and
//! descriptions), the set of loaded libraries with Redis's collision rules, script flags (shared with
//! EVAL's `#!lua flags=...` shebang), and the FUNCTION DUMP payload format.
//!
//! A library's functions keep the globals view the library was loaded in (`make_lib_env` in the
//! prelude): while the code loads it offers only the loading API; once loaded, the same view offers what
//! EVAL scripts see (without KEYS/ARGV). Loading is bounded by `LOAD_TIMEOUT` as in Redis.

use mlua::{Function, Lua, Table, Value};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lua_error_text;

/// Script flags, in Redis's order (FUNCTION LIST prints them in this order).
pub const NO_WRITES: u32 = 1;
pub const ALLOW_OOM: u32 = 2;
pub const ALLOW_STALE: u32 = 4;
pub const NO_CLUSTER: u32 = 8;
pub const ALLOW_CROSS_SLOT: u32 = 16;
pub const FLAG_NAMES: [(u32, &str); 5] = [
    (NO_WRITES, "no-writes"),
    (ALLOW_OOM, "allow-oom"),
    (ALLOW_STALE, "allow-stale"),
    (NO_CLUSTER, "no-cluster"),
    (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

/// A library's code may run this long while it registers its functions.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
#[derive(Clone)]
pub struct FunctionDef {
    pub name: String,
    /// Shared: a library is cloned while FUNCTION LOAD checks it against the loaded set.
    pub func: std::sync::Arc<super::runner::Pinned>,
    pub flags: u32,
    pub description: Option<String>,
}

/// One loaded library.
#[derive(Clone)]
pub struct Library {
    pub name: String,
    /// The code as loaded, header included (FUNCTION LIST WITHCODE, DUMP).
    pub code: Vec<u8>,
    pub functions: BTreeMap<String, FunctionDef>,
}

/// Registrations collected while a library's code runs (None outside FUNCTION LOAD).
#[derive(Default, Clone)]
pub struct Registering(Arc<Mutex<Option<Vec<FunctionDef>>>>);

/// The loaded libraries and the Lua helpers that load and call them.
pub struct Libraries {
    pub make_lib_env: Function,
    pub load_api: Table,
    pub registering: Registering,
    pub libraries: BTreeMap<String, Library>,
    /// Function name, lower-cased (FCALL finds functions case-insensitively, as Redis) -> library name.
    pub functions: BTreeMap<String, String>,
}

/// Whether `name` is non-empty and only `[A-Za-z0-9_]` (library and function names).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits a shebang line into words as Redis's `sdssplitargs` does: blanks separate words, double
/// quotes (with `\` escapes) and single quotes group, and a closing quote must end its word. None when
/// the quoting is unbalanced.
fn header_words(line: &[u8]) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            let Some(&c) = line.get(i) else {
                if quote.is_some() {
                    return None;
                }
                break;
            };
            match quote {
                Some(q) => {
                    if c == b'\\' && q == b'"' && i + 1 < n {
                        i += 1;
                        word.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            other => other,
                        });
                    } else if c == q {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    } else {
                        word.push(c);
                    }
                }
                None => {
                    if c.is_ascii_whitespace() {
                        break;
                    }
                    if c == b'"' || c == b'\'' {
                        quote = Some(c);
                    } else {
                        word.push(c);
                    }
                }
            }
            i += 1;
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
}

/// Parses a library header: (engine, library name, offset where the code after the header starts).
pub fn parse_library_header(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let Some(words) = header_words(&code[..end]) else {
        return Err("Invalid library metadata".into());
    };
    let Some(first) = words.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = first[2..].to_string();
    let mut name = None;
    for w in &words[1..] {
        if w.len() >= 5 && w[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(w[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {w}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((engine, name, end))
}

/// Parses EVAL's optional `#!lua [flags=a,b]` shebang: (flags if a shebang was given, header length).
pub fn parse_eval_shebang(body: &[u8]) -> Result<(Option<u32>, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((None, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let Some(words) = header_words(&body[..end]) else {
        return Err("Invalid engine in script shebang".into());
    };
    let Some(first) = words.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if first != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {first}"));
    }
    let mut flags = 0;
    for w in &words[1..] {
        let Some(list) = w.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {w}"));
        };
        for f in list.split(',') {
            match FLAG_NAMES.iter().find(|(_, n)| *n == f) {
                Some((bit, _)) => flags |= bit,
                None if f.is_empty() && list.is_empty() => {}
                None => return Err(format!("Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((Some(flags), end))
}

/// The loading API table (`redis` while a library's code runs).
pub fn load_api(lua: &Lua, make_load_api: &Function, reg: &Registering) -> mlua::Result<Table> {
    let fields = lua.create_table()?;
    fields.raw_set("register_function", register_function(lua, reg)?)?;
    let redis: Table = lua.globals().raw_get("redis")?;
    for name in [
        "log",
        "LOG_DEBUG",
        "LOG_VERBOSE",
        "LOG_NOTICE",
        "LOG_WARNING",
        "REDIS_VERSION",
        "REDIS_VERSION_NUM",
    ] {
        fields.raw_set(name, redis.raw_get::<Value>(name)?)?;
    }
    make_load_api.call(fields)
}

/// `redis.register_function(name, fn)` / `redis.register_function{function_name=, callback=, flags=,
/// description=}`, with Redis's errors; outside FUNCTION LOAD it refuses.
pub fn register_function(lua: &Lua, reg: &Registering) -> mlua::Result<Function> {
    let reg = reg.clone();
    lua.create_function(move |lua, args: mlua::Variadic<Value>| {
        let err = |m: &str| Err(mlua::Error::RuntimeError(m.to_string()));
        let pin = |lua: &Lua, f: &Function| super::runner::Pinned::new(lua, f).map(Arc::new);
        let mut guard = reg.0.lock();
        let Some(list) = guard.as_mut() else {
            return err("redis.register_function can only be called on FUNCTION LOAD command");
        };
        let def = match args.len() {
            1 => {
                let Value::Table(t) = &args[0] else {
                    return err(
                        "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
                    );
                };
                let mut name = None;
                let mut func = None;
                let mut flags = 0;
                let mut description = None;
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            return err(
                                "named argument key given to redis.register_function is not a string",
                            );
                        }
                    };
                    match key.to_ascii_lowercase().as_str() {
                        "function_name" => match v {
                            Value::String(s) => name = Some(s.to_string_lossy()),
                            _ => {
                                return err(
                                    "function_name argument given to redis.register_function must be a string",
                                );
                            }
                        },
                        "description" => match v {
                            Value::String(s) => description = Some(s.to_string_lossy()),
                            _ => {
                                return err(
                                    "description argument given to redis.register_function must be a string",
                                );
                            }
                        },
                        "callback" => match v {
                            Value::Function(f) => func = Some(f),
                            _ => {
                                return err(
                                    "callback argument given to redis.register_function must be a function",
                                );
                            }
                        },
                        "flags" => {
                            let Value::Table(ft) = v else {
                                return err(
                                    "flags argument to redis.register_function must be a table representing function flags",
                                );
                            };
                            for f in ft.sequence_values::<Value>() {
                                let bit = match f? {
                                    Value::String(s) => {
                                        let s = s.to_string_lossy();
                                        FLAG_NAMES.iter().find(|(_, n)| *n == s).map(|(b, _)| *b)
                                    }
                                    _ => None,
                                };
                                match bit {
                                    Some(b) => flags |= b,
                                    None => return err("unknown flag given"),
                                }
                            }
                        }
                        _ => return err("unknown argument given to redis.register_function"),
                    }
                }
                let Some(name) = name else {
                    return err("redis.register_function must get a function name argument");
                };
                let Some(func) = func else {
                    return err("redis.register_function must get a callback argument");
                };
                FunctionDef {
                    name,
                    func: pin(lua, &func)?,
                    flags,
                    description,
                }
            }
            2 => {
                let name = match &args[0] {
                    Value::String(s) => s.to_string_lossy(),
                    Value::Integer(i) => i.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return err("first argument to redis.register_function must be a string"),
                };
                let Value::Function(f) = &args[1] else {
                    return err("second argument to redis.register_function must be a function");
                };
                FunctionDef {
                    name,
                    func: pin(lua, f)?,
                    flags: 0,
                    description: None,
                }
            }
            _ => return err("wrong number of arguments to redis.register_function"),
        };
        if !valid_name(&def.name) {
            return err(BAD_NAME);
        }
        if list.iter().any(|d| d.name.eq_ignore_ascii_case(&def.name)) {
            return err("Function already exists in the library");
        }
        list.push(def);
        Ok(())
    })
}

impl Libraries {
    /// Compiles `code` (header included) and runs it to collect its functions, without touching the
    /// loaded set. Errors are Redis's texts without the `ERR ` prefix.
    pub fn compile(&self, lua: &Lua, runner: &Function, code: &[u8]) -> Result<Library, String> {
        let (engine, name, header_end) = parse_library_header(code)?;
        if !valid_name(&name) {
            return Err(BAD_NAME.into());
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine}' not found"));
        }
        // The header line is dropped, its line feed kept, so line numbers match the source.
        let body = &code[header_end..];
        let chunk = lua
            .load(body)
            .set_name("@user_function")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
        let (env, done): (Value, Function) = self
            .make_lib_env
            .call(self.load_api.clone())
            .map_err(|e| lua_error_text(&e))?;
        *self.registering.0.lock() = Some(Vec::new());
        let outcome: mlua::Result<(bool, Value)> = {
            let _deadline = super::runner::LoadDeadline::set(Instant::now() + LOAD_TIMEOUT);
            runner.call((chunk, env))
        };
        let registered = self.registering.0.lock().take().unwrap_or_default();
        let _ = done.call::<()>(());
        match outcome {
            Ok((true, _)) => {}
            Ok((false, e)) => {
                let msg = match &e {
                    Value::Table(t) => t
                        .raw_get::<Option<String>>("err")
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "unknown error".into()),
                    Value::String(s) => s.to_string_lossy(),
                    _ => "unknown error".into(),
                };
                let msg = msg.strip_prefix("ERR ").unwrap_or(&msg).to_string();
                return Err(format!("Error registering functions: {msg}"));
            }
            Err(e) => {
                return Err(format!(
                    "Error registering functions: {}",
                    lua_error_text(&e)
                ));
            }
        }
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions: registered
                .into_iter()
                .map(|d| (d.name.clone(), d))
                .collect(),
        })
    }

    /// Adds `libs` to the loaded set. With `replace`, a library of the same name is replaced; without,
    /// it is an error. A function name owned by another library is always an error. All or nothing.
    pub fn join(&mut self, libs: Vec<Library>, replace: bool) -> Result<(), String> {
        let mut replaced: Vec<&str> = Vec::new();
        for lib in &libs {
            if self.libraries.contains_key(&lib.name) {
                if !replace {
                    return Err(format!("Library {} already exists", lib.name));
                }
                replaced.push(&lib.name);
            }
        }
        for lib in &libs {
            for f in lib.functions.keys() {
                if let Some(owner) = self.functions.get(&f.to_ascii_lowercase())
                    && !replaced.contains(&owner.as_str())
                {
                    return Err(format!("Function {f} already exists"));
                }
            }
        }
        for lib in libs {
            self.delete(&lib.name.clone());
            for f in lib.functions.keys() {
                self.functions
                    .insert(f.to_ascii_lowercase(), lib.name.clone());
            }
            self.libraries.insert(lib.name.clone(), lib);
        }
        Ok(())
    }

    /// Removes a library and its functions. Returns whether it existed.
    pub fn delete(&mut self, name: &str) -> bool {
        match self.libraries.remove(name) {
            Some(lib) => {
                for f in lib.functions.keys() {
                    self.functions.remove(&f.to_ascii_lowercase());
                }
                true
            }
            None => false,
        }
    }

    pub fn flush(&mut self) {
        self.libraries.clear();
        self.functions.clear();
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionDef> {
        let lib = self.functions.get(&name.to_ascii_lowercase())?;
        self.libraries
            .get(lib)?
            .functions
            .values()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// (libraries, functions) counts.
    pub fn counts(&self) -> (usize, usize) {
        (self.libraries.len(), self.functions.len())
    }
}

/// FUNCTION DUMP payload: magic, format version, then per library a u32 length and its code, then the
/// first 8 bytes of the SHA1 of everything before (so a damaged or foreign payload is refused).
const DUMP_MAGIC: &[u8] = b"CONCORDFN";
const DUMP_VERSION: u8 = 1;

/// Serializes the codes of `libs`.
pub fn dump<'a>(libs: impl Iterator<Item = &'a Library>) -> Vec<u8> {
    let mut out = DUMP_MAGIC.to_vec();
    out.push(DUMP_VERSION);
    for lib in libs {
        out.extend_from_slice(&(lib.code.len() as u32).to_le_bytes());
        out.extend_from_slice(&lib.code);
    }
    let digest = sha1_smol::Sha1::from(&out).digest().bytes();
    out.extend_from_slice(&digest[..8]);
    out
}

/// The library codes in a payload made by `dump`, or None if it is not one.
pub fn undump(payload: &[u8]) -> Option<Vec<Vec<u8>>> {
    let body_len = payload.len().checked_sub(8)?;
    let (body, sum) = payload.split_at(body_len);
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    if sum != &digest[..8] || !body.starts_with(DUMP_MAGIC) {
        return None;
    }
    let mut rest = body.get(DUMP_MAGIC.len()..)?;
    if rest.first() != Some(&DUMP_VERSION) {
        return None;
    }
    rest = &rest[1..];
    let mut codes = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        codes.push(rest.get(4..4 + len)?.to_vec());
        rest = &rest[4 + len..];
    }
    Some(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_header_gives_engine_and_name() {
        let (engine, name, end) =
            parse_library_header(b"#!lua name=mylib\nreturn 1").unwrap_or_default();
        assert_eq!((engine.as_str(), name.as_str(), end), ("lua", "mylib", 16));
        assert_eq!(
            parse_library_header(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(
            parse_library_header(b"#!lua foo=bar\n").unwrap_err(),
            "Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            parse_library_header(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
    }

    #[test]
    fn header_words_follow_redis_quoting() {
        assert_eq!(
            header_words(b"#!lua name=\"foo\""),
            Some(vec!["#!lua".to_string(), "name=foo".to_string()])
        );
        assert_eq!(header_words(b"#!lua name=\"foo"), None);
        assert_eq!(header_words(b"#!lua 'a'b"), None);
    }

    #[test]
    fn eval_shebang_flags_are_parsed() {
        assert_eq!(parse_eval_shebang(b"return 1"), Ok((None, 0)));
        assert_eq!(parse_eval_shebang(b"#!lua\nreturn 1"), Ok((Some(0), 5)));
        assert_eq!(
            parse_eval_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok((Some(NO_WRITES | ALLOW_OOM), 31))
        );
        assert_eq!(
            parse_eval_shebang(b"#!lua flags=bad\n"),
            Err("Unexpected flag in script shebang: bad".into())
        );
        assert_eq!(
            parse_eval_shebang(b"#!python\n"),
            Err("Unexpected engine in script shebang: #!python".into())
        );
    }

    #[test]
    fn dump_payload_round_trips_and_rejects_damage() {
        let lib = Library {
            name: "l".into(),
            code: b"#!lua name=l\nx".to_vec(),
            functions: BTreeMap::new(),
        };
        let p = dump([&lib].into_iter());
        assert_eq!(undump(&p), Some(vec![lib.code.clone()]));
        let mut bad = p.clone();
        bad[12] ^= 1;
        assert_eq!(undump(&bad), None);
        assert_eq!(undump(b"short"), None);
    }
}
