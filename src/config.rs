//! Every tunable, with Redis's directive names. One table (`PARAMS`) validates values from the command
//! line, the config file and `CONFIG SET` alike; values read on the hot path are mirrored into atomics.

pub mod keyspace_events;

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::util::glob::glob_match;

/// How a parameter's value is checked and shown.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// A byte count accepting Redis's units (1k, 1kb, 1mb, 1gb ...); shown as plain bytes.
    Memory,
    Bool,
    Str,
    Enum(&'static [&'static str]),
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups; a value names only the
    /// classes it changes, the others keep theirs.
    ObufLimits,
}

struct Param {
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    mutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable,
    }
}

const INT: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const NONNEG: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];

/// The known parameters. Those Concord accepts for compatibility but does not act on yet are listed so
/// that clients and tests that set them keep working; their values are kept and reported.
static PARAMS: &[Param] = &[
    p("bind", Kind::Str, "127.0.0.1", false),
    p("port", Kind::Int { min: 0, max: 65535 }, "6379", false),
    p("databases", Kind::Int { min: 1, max: 4096 }, "16", false),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        "10000",
        true,
    ),
    p("requirepass", Kind::Str, "", true),
    p("timeout", NONNEG, "0", true),
    p("tcp-keepalive", NONNEG, "300", true),
    p("tcp-backlog", NONNEG, "511", false),
    p("proto-max-bulk-len", Kind::Memory, "536870912", true),
    p("hll-sparse-max-bytes", Kind::Memory, "3000", true),
    p(
        "client-query-buffer-limit",
        Kind::Memory,
        "1073741824",
        true,
    ),
    Param {
        name: "busy-reply-threshold",
        alias: Some("lua-time-limit"),
        kind: NONNEG,
        default: "5000",
        mutable: true,
    },
    p("hz", Kind::Int { min: 1, max: 500 }, "10", true),
    p("worker-threads", NONNEG, "0", false),
    p("appendonly", Kind::Bool, "no", true),
    p(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
        true,
    ),
    p("appendfilename", Kind::Str, "appendonly.aof", false),
    p("dir", Kind::Str, ".", true),
    p("dbfilename", Kind::Str, "dump.rdb", true),
    p("save", Kind::Str, "", true),
    p("maxmemory", Kind::Memory, "0", true),
    p(
        "maxmemory-policy",
        Kind::Enum(&[
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ]),
        "noeviction",
        true,
    ),
    p("maxmemory-samples", NONNEG, "5", true),
    p("notify-keyspace-events", Kind::Str, "", true),
    p("tracking-table-max-keys", NONNEG, "1000000", true),
    p(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        false,
    ),
    // Units of the committed stream kept in memory for readers that start from a past revision
    // (DEBUG LOG FROM; KV.WATCH FROMREV). Kept from the first watch on (or from startup with
    // enable-debug-command), so a server nobody watches pays nothing for it.
    p("watch-history", NONNEG, "100000", false),
    // The memory bound of that window: the oldest units leave first.
    p("watch-history-max-memory", Kind::Memory, "67108864", false),
    p("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    p("logfile", Kind::Str, "", false),
    p("daemonize", Kind::Bool, "no", false),
    p("protected-mode", Kind::Bool, "yes", true),
    p("lazyfree-lazy-user-del", Kind::Bool, "no", true),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no", true),
    p("lazyfree-lazy-expire", Kind::Bool, "no", true),
    p("lazyfree-lazy-eviction", Kind::Bool, "no", true),
    p("lazyfree-lazy-server-del", Kind::Bool, "no", true),
    Param {
        name: "hash-max-listpack-entries",
        alias: Some("hash-max-ziplist-entries"),
        kind: NONNEG,
        default: "128",
        mutable: true,
    },
    Param {
        name: "hash-max-listpack-value",
        alias: Some("hash-max-ziplist-value"),
        kind: NONNEG,
        default: "64",
        mutable: true,
    },
    Param {
        name: "list-max-listpack-size",
        alias: Some("list-max-ziplist-size"),
        kind: INT,
        default: "-2",
        mutable: true,
    },
    p("list-compress-depth", NONNEG, "0", true),
    p("set-max-intset-entries", NONNEG, "512", true),
    // 0, not Redis 7.2's 128: sets of strings report `hashtable` as Redis 7.0 (Debian's redis-server and
    // the 7.0 test suite) does; the representation is the same either way.
    p("set-max-listpack-entries", NONNEG, "0", true),
    p("set-max-listpack-value", NONNEG, "64", true),
    Param {
        name: "zset-max-listpack-entries",
        alias: Some("zset-max-ziplist-entries"),
        kind: NONNEG,
        default: "128",
        mutable: true,
    },
    Param {
        name: "zset-max-listpack-value",
        alias: Some("zset-max-ziplist-value"),
        kind: NONNEG,
        default: "64",
        mutable: true,
    },
    p("stream-node-max-bytes", Kind::Memory, "4096", true),
    p("stream-node-max-entries", NONNEG, "100", true),
    p(
        "client-output-buffer-limit",
        Kind::ObufLimits,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
    p("slowlog-log-slower-than", INT, "10000", true),
    p("slowlog-max-len", NONNEG, "128", true),
    p("latency-monitor-threshold", NONNEG, "0", true),
    p("latency-tracking", Kind::Bool, "yes", true),
    p("lfu-log-factor", NONNEG, "10", true),
    p("lfu-decay-time", NONNEG, "1", true),
    p(
        "active-expire-effort",
        Kind::Int { min: 1, max: 10 },
        "1",
        true,
    ),
    p("activerehashing", Kind::Bool, "yes", true),
    p("replica-read-only", Kind::Bool, "yes", true),
    p("io-threads", Kind::Int { min: 1, max: 128 }, "1", false),
    p("unixsocket", Kind::Str, "", false),
    p("pidfile", Kind::Str, "", false),
    p("maxmemory-clients", Kind::Memory, "0", true),
];

fn find(name: &str) -> Option<&'static Param> {
    index_of(name).map(|i| &PARAMS[i])
}

/// The position of `name` (or an alias, any case) in `PARAMS`. Internal callers pass canonical
/// lowercase names, found with one hash lookup; other spellings fall back to a scan.
fn index_of(name: &str) -> Option<usize> {
    static INDEX: OnceLock<hashbrown::HashMap<&'static str, usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = hashbrown::HashMap::new();
        for (i, p) in PARAMS.iter().enumerate() {
            m.insert(p.name, i);
            if let Some(a) = p.alias {
                m.insert(a, i);
            }
        }
        m
    });
    index.get(name).copied().or_else(|| {
        PARAMS.iter().position(|p| {
            p.name.eq_ignore_ascii_case(name)
                || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
        })
    })
}

/// Parses a Redis memory value: a non-negative integer with an optional unit k, kb, m, mb, g, gb.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (digits, mult) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(u, m)| lower.strip_suffix(u).map(|d| (d.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// Why a value was refused (the text Redis puts after the argument name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Unknown(String),
    Immutable(String),
    Invalid { name: String, reason: String },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Unknown(n) => write!(f, "unknown option '{n}'"),
            ConfigError::Immutable(n) => write!(f, "'{n}' can't be set at runtime"),
            ConfigError::Invalid { name, reason } => write!(f, "'{name}': {reason}"),
        }
    }
}

fn normalise(param: &Param, value: &str) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError::Invalid {
        name: param.name.to_string(),
        reason: reason.to_string(),
    };
    if param.name == "notify-keyspace-events" {
        return keyspace_events::normalise_flags(value)
            .ok_or_else(|| bad(keyspace_events::BAD_FLAGS));
    }
    match param.kind {
        Kind::Int { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| bad("argument couldn't be parsed into an integer"))?;
            if n < min || n > max {
                return Err(bad(&format!(
                    "argument must be between {min} and {max} inclusive"
                )));
            }
            Ok(n.to_string())
        }
        Kind::Memory => parse_memory(value)
            .map(|n| n.to_string())
            .ok_or_else(|| bad("argument must be a memory value")),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err(bad("argument must be 'yes' or 'no'")),
        },
        Kind::Enum(options) => options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(value))
            .map(|o| o.to_string())
            .ok_or_else(|| {
                bad("argument(s) must be one of the following: "
                    .to_string()
                    .as_str())
                .with_options(options)
            }),
        Kind::Str => Ok(value.to_string()),
        // Checked here; merged with the current classes in `store`.
        Kind::ObufLimits => {
            ObufLimits::parse(value).map_err(bad)?;
            Ok(value.to_string())
        }
    }
}

/// Output buffer limits per client class (`client-output-buffer-limit`), read on every push.
pub struct ObufLimits {
    /// [normal, replica, pubsub] x [hard bytes, soft bytes, soft seconds]; 0 = no limit.
    limits: [[AtomicU64; 3]; 3],
}

/// The classes of `client-output-buffer-limit`, in Redis's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObufClass {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

impl Default for ObufLimits {
    fn default() -> Self {
        let l = ObufLimits {
            limits: Default::default(),
        };
        l.apply("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
            .unwrap_or(());
        l
    }
}

impl ObufLimits {
    /// Parses `<class> <hard> <soft> <seconds>` groups with Redis's checks and errors.
    #[allow(clippy::type_complexity)]
    fn parse(value: &str) -> Result<Vec<(ObufClass, [u64; 3])>, &'static str> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        words
            .chunks(4)
            .map(|w| {
                let class = match w[0].to_ascii_lowercase().as_str() {
                    "normal" => ObufClass::Normal,
                    "slave" | "replica" => ObufClass::Replica,
                    "pubsub" => ObufClass::Pubsub,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.",
                        );
                    }
                };
                let err =
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
                let hard = parse_memory(w[1]).ok_or(err)?;
                let soft = parse_memory(w[2]).ok_or(err)?;
                let secs: u64 = w[3].parse().map_err(|_| err)?;
                Ok((class, [hard, soft, secs]))
            })
            .collect()
    }

    fn apply(&self, value: &str) -> Result<(), &'static str> {
        for (class, v) in Self::parse(value)? {
            for (slot, n) in self.limits[class as usize].iter().zip(v) {
                slot.store(n, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// (hard bytes, soft bytes, soft seconds) of `class`; 0 = no limit.
    #[inline]
    pub fn get(&self, class: ObufClass) -> (u64, u64, u64) {
        let l = &self.limits[class as usize];
        (
            l[0].load(Ordering::Relaxed),
            l[1].load(Ordering::Relaxed),
            l[2].load(Ordering::Relaxed),
        )
    }

    /// The canonical value, every class, as CONFIG GET shows it.
    fn render(&self) -> String {
        [
            ("normal", ObufClass::Normal),
            ("slave", ObufClass::Replica),
            ("pubsub", ObufClass::Pubsub),
        ]
        .iter()
        .map(|(name, c)| {
            let (h, s, t) = self.get(*c);
            format!("{name} {h} {s} {t}")
        })
        .collect::<Vec<_>>()
        .join(" ")
    }
}

trait WithOptions {
    fn with_options(self, options: &[&str]) -> Self;
}

impl WithOptions for ConfigError {
    fn with_options(self, options: &[&str]) -> Self {
        match self {
            ConfigError::Invalid { name, reason } => ConfigError::Invalid {
                name,
                reason: format!("{reason}{}", options.join(", ")),
            },
            other => other,
        }
    }
}

/// The server's configuration: all values as canonical strings, hot ones mirrored into atomics.
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    pub proto_max_bulk_len: AtomicU64,
    pub client_query_buffer_limit: AtomicU64,
    pub maxclients: AtomicU64,
    pub timeout_s: AtomicU64,
    pub busy_reply_threshold_ms: AtomicU64,
    pub requirepass: RwLock<Option<Vec<u8>>>,
    pub has_requirepass: AtomicBool,
    /// `notify-keyspace-events` as flag bits (`keyspace_events::class`).
    pub notify_keyspace_events: std::sync::atomic::AtomicU32,
    pub tracking_table_max_keys: AtomicU64,
    /// `client-output-buffer-limit`, shared with the client registry.
    pub obuf_limits: std::sync::Arc<ObufLimits>,
    /// Every parameter's value as a number (0 when it is not one) and as a yes/no flag, by `PARAMS`
    /// position, so `get_u64`/`get_bool` on a command's hot path take no lock and allocate nothing.
    nums: Box<[AtomicU64]>,
    flags: Box<[AtomicBool]>,
}

impl Default for Config {
    fn default() -> Self {
        let c = Config {
            values: RwLock::new(
                PARAMS
                    .iter()
                    .map(|p| (p.name, p.default.to_string()))
                    .collect(),
            ),
            proto_max_bulk_len: AtomicU64::new(0),
            client_query_buffer_limit: AtomicU64::new(0),
            maxclients: AtomicU64::new(0),
            timeout_s: AtomicU64::new(0),
            busy_reply_threshold_ms: AtomicU64::new(0),
            requirepass: RwLock::new(None),
            has_requirepass: AtomicBool::new(false),
            notify_keyspace_events: Default::default(),
            tracking_table_max_keys: AtomicU64::new(0),
            obuf_limits: Default::default(),
            nums: PARAMS.iter().map(|_| AtomicU64::new(0)).collect(),
            flags: PARAMS.iter().map(|_| AtomicBool::new(false)).collect(),
        };
        for p in PARAMS {
            c.mirror(p.name, p.default);
        }
        c
    }
}

impl Config {
    /// Builds a configuration from an optional redis.conf-style file's text and `--name value` arguments,
    /// the latter overriding the former, as redis-server does.
    pub fn from_sources(file_text: Option<&str>, args: &[String]) -> Result<Config, String> {
        let c = Config::default();
        if let Some(text) = file_text {
            for (lineno, line) in text.lines().enumerate() {
                let words = split_config_line(line)
                    .map_err(|e| format!("line {}: {e}: {line}", lineno + 1))?;
                if words.is_empty() {
                    continue;
                }
                c.apply_directive(&words)
                    .map_err(|e| format!("line {}: {e}: {line}", lineno + 1))?;
            }
        }
        let mut i = 0;
        while i < args.len() {
            let Some(name) = args[i].strip_prefix("--") else {
                return Err(format!("unexpected argument '{}'", args[i]));
            };
            let mut words = vec![name.to_string()];
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                words.push(args[i].clone());
                i += 1;
            }
            c.apply_directive(&words)
                .map_err(|e| format!("--{name}: {e}"))?;
        }
        Ok(c)
    }

    fn apply_directive(&self, words: &[String]) -> Result<(), ConfigError> {
        let name = &words[0];
        let value = words[1..].join(" ");
        let param = find(name).ok_or_else(|| ConfigError::Unknown(name.clone()))?;
        let v = normalise(param, &value)?;
        self.store(param.name, v);
        Ok(())
    }

    /// `CONFIG SET name value` at runtime.
    pub fn set(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        let param = find(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        if !param.mutable {
            return Err(ConfigError::Immutable(param.name.to_string()));
        }
        let v = normalise(param, value)?;
        self.store(param.name, v);
        Ok(())
    }

    /// Checks a runtime value without storing it (CONFIG SET validates every pair before applying any).
    pub fn check(&self, name: &str, value: &str) -> Result<&'static str, ConfigError> {
        let param = find(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        if !param.mutable {
            return Err(ConfigError::Immutable(param.name.to_string()));
        }
        normalise(param, value)?;
        Ok(param.name)
    }

    fn store(&self, name: &'static str, mut value: String) {
        if name == "client-output-buffer-limit" {
            // A value names only the classes it changes; what is stored and shown is all of them.
            let _ = self.obuf_limits.apply(&value);
            value = self.obuf_limits.render();
        }
        self.mirror(name, &value);
        self.values.write().insert(name, value);
    }

    fn mirror(&self, name: &str, value: &str) {
        let num = || value.parse::<u64>().unwrap_or(0);
        if let Some(i) = index_of(name) {
            self.nums[i].store(num(), Ordering::Relaxed);
            self.flags[i].store(value == "yes", Ordering::Relaxed);
        }
        match name {
            "proto-max-bulk-len" => self.proto_max_bulk_len.store(num(), Ordering::Relaxed),
            "client-query-buffer-limit" => self
                .client_query_buffer_limit
                .store(num(), Ordering::Relaxed),
            "maxclients" => self.maxclients.store(num(), Ordering::Relaxed),
            "timeout" => self.timeout_s.store(num(), Ordering::Relaxed),
            "busy-reply-threshold" => self.busy_reply_threshold_ms.store(num(), Ordering::Relaxed),
            "notify-keyspace-events" => self.notify_keyspace_events.store(
                keyspace_events::parse_flags(value).unwrap_or(0),
                Ordering::Relaxed,
            ),
            "tracking-table-max-keys" => {
                self.tracking_table_max_keys.store(num(), Ordering::Relaxed)
            }
            "requirepass" => {
                let pass = (!value.is_empty()).then(|| value.as_bytes().to_vec());
                self.has_requirepass
                    .store(pass.is_some(), Ordering::Relaxed);
                *self.requirepass.write() = pass;
            }
            _ => {}
        }
    }

    /// The value of one parameter (canonical form).
    pub fn get(&self, name: &str) -> Option<String> {
        let param = find(name)?;
        self.values.read().get(param.name).cloned()
    }

    /// Every (name, value) whose name or alias matches the glob `pattern` (CONFIG GET).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        for p in PARAMS {
            let v = values.get(p.name).cloned().unwrap_or_default();
            if glob_match(pattern, p.name.as_bytes(), true) {
                out.push((p.name.to_string(), v.clone()));
            }
            if let Some(a) = p.alias
                && glob_match(pattern, a.as_bytes(), true)
            {
                out.push((a.to_string(), v));
            }
        }
        out
    }

    pub fn get_bool(&self, name: &str) -> bool {
        index_of(name).is_some_and(|i| self.flags[i].load(Ordering::Relaxed))
    }

    pub fn get_u64(&self, name: &str) -> u64 {
        index_of(name).map_or(0, |i| self.nums[i].load(Ordering::Relaxed))
    }
}

/// Splits a config-file line into words: `#` comments, blank lines, "double" and 'single' quotes.
fn split_config_line(line: &str) -> Result<Vec<String>, &'static str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Vec::new());
    }
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                if ch == c {
                    closed = true;
                    break;
                }
                if ch == '\\' && c == '"' {
                    match chars.next() {
                        Some('n') => word.push('\n'),
                        Some('t') => word.push('\t'),
                        Some(o) => word.push(o),
                        None => break,
                    }
                } else {
                    word.push(ch);
                }
            }
            if !closed {
                return Err("unbalanced quotes");
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("512MB"), Some(512 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("mb"), None);
    }

    #[test]
    fn numeric_and_flag_reads_follow_every_set_under_any_spelling() {
        let c = Config::default();
        assert_eq!(c.get_u64("set-max-intset-entries"), 512);
        assert!(!c.get_bool("lazyfree-lazy-user-del"));
        c.set("SET-MAX-INTSET-ENTRIES", "7").unwrap();
        c.set("lazyfree-lazy-user-del", "YES").unwrap();
        c.set("hash-max-ziplist-entries", "9").unwrap();
        assert_eq!(c.get_u64("set-max-intset-entries"), 7);
        assert!(c.get_bool("lazyfree-lazy-user-del"));
        assert_eq!(c.get_u64("hash-max-listpack-entries"), 9);
        assert_eq!(c.get_u64("Hash-Max-Ziplist-Entries"), 9);
        assert_eq!(c.get_u64("no-such-parameter"), 0);
    }

    #[test]
    fn file_then_flags_override() {
        let c = Config::from_sources(
            Some("# comment\nport 7000\nsave \"\"\nrequirepass 'a b'\n"),
            &["--port".into(), "7001".into()],
        )
        .unwrap();
        assert_eq!(c.get("port").unwrap(), "7001");
        assert_eq!(c.get("save").unwrap(), "");
        assert_eq!(c.get("requirepass").unwrap(), "a b");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::from_sources(None, &["--port".into(), "x".into()]).is_err());
        assert!(Config::from_sources(None, &["--nope".into(), "1".into()]).is_err());
        let c = Config::default();
        assert!(matches!(c.set("port", "1"), Err(ConfigError::Immutable(_))));
        assert!(c.set("maxclients", "abc").is_err());
        c.set("lua-time-limit", "100").unwrap();
        assert_eq!(c.get("busy-reply-threshold").unwrap(), "100");
        c.set("zset-max-ziplist-entries", "0").unwrap();
        assert_eq!(c.get("zset-max-listpack-entries").unwrap(), "0");
    }

    #[test]
    fn output_buffer_limits_merge_per_class() {
        let c = Config::default();
        c.set("client-output-buffer-limit", "pubsub 1mb 1k 5")
            .unwrap();
        assert_eq!(
            c.get("client-output-buffer-limit").unwrap(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 1000 5"
        );
        assert_eq!(c.obuf_limits.get(ObufClass::Pubsub), (1 << 20, 1000, 5));
        assert!(c.set("client-output-buffer-limit", "pubsub 1 2").is_err());
        assert!(c.set("client-output-buffer-limit", "master 1 2 3").is_err());
        assert!(c.set("client-output-buffer-limit", "normal x 2 3").is_err());
    }
}
