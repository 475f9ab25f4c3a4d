//! Server commands over TCP: CONFIG, COMMAND (and spec/handler coverage), INFO, TIME, SHUTDOWN, and
//! interoperability with redis-cli and redis-benchmark.

#[path = "protocol_resp.rs"]
mod resp;
mod support;

use resp::{Raw, Reply, info_field, info_fields};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::TestServer;

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn err(s: &str) -> Reply {
    Reply::Error(s.into())
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

fn pairs(r: Reply) -> Vec<(String, String)> {
    let Reply::Array(a) = r else {
        panic!("not an array: {r:?}")
    };
    a.chunks(2).map(|p| (p[0].text(), p[1].text())).collect()
}

#[test]
fn config_get_set_glob_multiple_and_errors() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let got = pairs(r.cmd(&["CONFIG", "GET", "maxmemory*", "maxmemory", "timeout"]));
    let names: BTreeSet<String> = got.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(names.len(), got.len(), "duplicates in {got:?}");
    for n in [
        "maxmemory",
        "maxmemory-policy",
        "maxmemory-samples",
        "timeout",
    ] {
        assert!(names.contains(n), "{n} missing from {got:?}");
    }
    assert_eq!(r.cmd(&["CONFIG", "GET", "nosuch"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["CONFIG", "GET"]),
        err("ERR wrong number of arguments for 'config|get' command")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "10mb", "timeout", "7"]),
        ok()
    );
    assert_eq!(
        pairs(r.cmd(&["CONFIG", "GET", "maxmemory", "timeout"])),
        [
            ("maxmemory".to_string(), "10485760".to_string()),
            ("timeout".to_string(), "7".to_string())
        ]
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxclients", "x"]),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"]),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"
        )
    );
    // All or nothing: a bad second pair leaves the first unchanged.
    assert!(matches!(
        r.cmd(&["CONFIG", "SET", "timeout", "9", "maxclients", "x"]),
        Reply::Error(_)
    ));
    assert_eq!(
        pairs(r.cmd(&["CONFIG", "GET", "timeout"])),
        [("timeout".to_string(), "7".to_string())]
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory"]),
        err("ERR wrong number of arguments for 'config|set' command")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "FOO"]),
        err("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")
    );
}

/// Every spec file's command, as Redis names it (`get`, `client|list`).
fn spec_names() -> (BTreeSet<String>, usize) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/commands");
    let mut names = BTreeSet::new();
    let mut top = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (name, body) = v.as_object().unwrap().iter().next().unwrap();
        let name = name.to_lowercase();
        match body.get("container").and_then(|c| c.as_str()) {
            Some(c) => {
                names.insert(format!("{}|{name}", c.to_lowercase()));
            }
            None => {
                top += 1;
                names.insert(name);
            }
        }
    }
    (names, top)
}

#[test]
fn every_spec_has_a_command_and_every_handler_a_spec() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let (names, top) = spec_names();
    assert_eq!(r.cmd(&["COMMAND", "COUNT"]), Reply::Int(top as i64));
    let Reply::Array(list) = r.cmd(&["COMMAND", "LIST"]) else {
        panic!()
    };
    let listed: BTreeSet<String> = list.iter().map(Reply::text).collect();
    assert_eq!(listed, names);

    // Every `pub fn` handler in the handler families is named by some spec's "function".
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/commands");
    let mut functions = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let body = v.as_object().unwrap().values().next().unwrap().clone();
            if let Some(f) = body.get("function").and_then(|f| f.as_str()) {
                functions.insert(f.to_string());
            }
        }
    }
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/commands");
    let mut orphans = Vec::new();
    for module in ["strings", "keys", "connection", "server"] {
        let text = std::fs::read_to_string(format!("{src}/{module}.rs")).unwrap();
        for line in text.lines() {
            // A handler takes the command context: `pub fn name(ctx: &mut Ctx) -> CmdResult`.
            let Some(rest) = line.strip_prefix("pub fn ") else {
                continue;
            };
            if !rest.contains("&mut Ctx") || !rest.contains("CmdResult") {
                continue;
            }
            let name = rest.split('(').next().unwrap();
            let name = name.strip_prefix("r#").unwrap_or(name);
            if !functions.contains(&format!("{module}::{name}")) {
                orphans.push(format!("{module}::{name}"));
            }
        }
    }
    assert!(orphans.is_empty(), "handlers without a spec: {orphans:?}");
}

/// Concord's own spec flags (`CONCORD_*`) drive the server but are not Redis's: clients that parse
/// COMMAND INFO (redis-py, the Tcl suite) must see exactly Redis's flags.
#[test]
fn command_info_shows_only_redis_flags() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let Reply::Array(all) = r.cmd(&["COMMAND"]) else {
        panic!()
    };
    let mut seen = 0;
    let mut check = |entry: &Reply| {
        let Reply::Array(fields) = entry else {
            panic!("{entry:?}")
        };
        let Reply::Array(flags) = &fields[2] else {
            panic!("{entry:?}")
        };
        for f in flags {
            assert!(!f.text().to_lowercase().contains("concord"), "{entry:?}");
        }
        seen += 1;
    };
    for entry in &all {
        check(entry);
        let Reply::Array(fields) = entry else {
            panic!()
        };
        if let Some(Reply::Array(subs)) = fields.get(9) {
            subs.iter().for_each(&mut check);
        }
    }
    assert!(seen > all.len());
    let Reply::Array(info) = r.cmd(&["COMMAND", "INFO", "exec"]) else {
        panic!()
    };
    let Reply::Array(exec) = &info[0] else {
        panic!()
    };
    let flags: Vec<String> = match &exec[2] {
        Reply::Array(f) => f.iter().map(Reply::text).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(flags, ["noscript", "loading", "stale", "skip_slowlog"]);
}

#[test]
fn command_info_docs_list_and_getkeys() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let Reply::Array(info) = r.cmd(&["COMMAND", "INFO", "get", "nosuch", "client|id"]) else {
        panic!()
    };
    assert_eq!(info.len(), 3);
    let Reply::Array(get) = &info[0] else {
        panic!()
    };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Reply::Int(2));
    assert_eq!(
        get[2],
        Reply::Array(vec![
            Reply::Simple("readonly".into()),
            Reply::Simple("fast".into())
        ])
    );
    assert_eq!(&get[3..6], &[Reply::Int(1), Reply::Int(1), Reply::Int(1)]);
    assert_eq!(info[1], Reply::Nil);
    let Reply::Array(id) = &info[2] else { panic!() };
    assert_eq!(id[0], bulk("client|id"));

    let Reply::Array(docs) = r.cmd(&["COMMAND", "DOCS", "get"]) else {
        panic!()
    };
    assert_eq!(docs[0], bulk("get"));
    let Reply::Array(fields) = &docs[1] else {
        panic!()
    };
    let keys: Vec<String> = fields.iter().step_by(2).map(Reply::text).collect();
    assert_eq!(
        keys,
        ["summary", "since", "group", "complexity", "arguments"]
    );

    let Reply::Array(pat) = r.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*"]) else {
        panic!()
    };
    assert!(pat.contains(&bulk("client|setname")), "{pat:?}");
    let Reply::Array(cat) = r.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"]) else {
        panic!()
    };
    assert!(cat.contains(&bulk("ping")) && !cat.contains(&bulk("get")));
    assert_eq!(
        r.cmd(&["COMMAND", "LIST", "FILTERBY", "foo", "x"]),
        err("ERR syntax error")
    );

    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        Reply::Array(vec![bulk("a"), bulk("b")])
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "nosuch", "x"]),
        err("ERR Invalid command specified")
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "ping", "x"]),
        err("ERR The command has no key arguments")
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "get", "a", "b"]),
        err("ERR Invalid number of arguments specified for command")
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"]),
        Reply::Array(vec![Reply::Array(vec![
            bulk("k"),
            Reply::Array(vec![
                Reply::Simple("OW".into()),
                Reply::Simple("update".into())
            ])
        ])])
    );
    assert_eq!(
        r.cmd(&["COMMAND", "COUNT", "x"]),
        err("ERR wrong number of arguments for 'command|count' command")
    );
}

#[test]
fn info_sections_keyspace_stats_commandstats_errorstats() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["SET", "b", "2", "EX", "100"]);
    r.cmd(&["SELECT", "2"]);
    r.cmd(&["SET", "c", "3"]);
    r.cmd(&["GET", "c"]);
    r.cmd(&["GET", "nosuch"]);
    r.cmd(&["INCR", "c"]);
    r.cmd(&["SET", "c", "x"]);
    r.cmd(&["INCR", "c"]);
    r.cmd(&["NOSUCHCMD"]);
    let ks = info_fields(&mut r, "keyspace");
    assert!(
        ks.contains(&("db0".into(), "keys=2,expires=1,avg_ttl=0".into())),
        "{ks:?}"
    );
    assert!(
        ks.iter()
            .any(|(k, v)| k == "db2" && v.starts_with("keys=1,"))
    );
    assert_eq!(
        info_field(&mut r, "stats", "keyspace_hits").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut r, "stats", "keyspace_misses").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut r, "stats", "total_error_replies").as_deref(),
        Some("2")
    );
    let cs = info_fields(&mut r, "commandstats");
    let incr = cs
        .iter()
        .find(|(k, _)| k == "cmdstat_incr")
        .expect("incr stats");
    assert!(incr.1.starts_with("calls=2,"), "{incr:?}");
    assert!(
        incr.1.ends_with("rejected_calls=0,failed_calls=1"),
        "{incr:?}"
    );
    let es = info_fields(&mut r, "errorstats");
    assert!(
        es.contains(&("errorstat_ERR".into(), "count=2".into())),
        "{es:?}"
    );
    // Sections by name, case-insensitively, several at once; unknown ones are empty.
    let text = r.cmd(&["INFO", "SERVER", "clients"]).text();
    assert!(text.starts_with("# Server\r\n") && text.contains("# Clients\r\n"));
    assert!(text.contains("redis_version:7."));
    assert_eq!(r.cmd(&["INFO", "nosuch"]), bulk(""));
    let all = r.cmd(&["INFO", "everything"]).text();
    for section in [
        "# Memory",
        "# Stats",
        "# Commandstats",
        "# Errorstats",
        "# Keyspace",
    ] {
        assert!(all.contains(section), "{section} missing");
    }
}

#[test]
fn time_is_unix_seconds_and_microseconds() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    let Reply::Array(t) = r.cmd(&["TIME"]) else {
        panic!()
    };
    let secs: u64 = t[0].text().parse().unwrap();
    let micros: u64 = t[1].text().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(micros < 1_000_000);
    assert_eq!(
        r.cmd(&["TIME", "x"]),
        err("ERR wrong number of arguments for 'time' command")
    );
}

#[test]
fn shutdown_stops_the_process_with_status_zero() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["--port", "0"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().unwrap().unwrap();
        if line.contains("Ready to accept connections") {
            break line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("port="))
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let mut r = Raw::connect(port);
    assert_eq!(r.cmd(&["SHUTDOWN", "BOGUS"]), err("ERR syntax error"));
    assert_eq!(
        r.cmd(&["SHUTDOWN", "ABORT"]),
        err("ERR No shutdown in progress.")
    );
    r.send(b"SHUTDOWN NOSAVE\r\n");
    // Redis sends no reply: the connection just closes.
    assert_eq!(r.read_to_close(), b"");
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

#[test]
fn redis_cli_interoperates() {
    if !have("redis-cli") {
        return;
    }
    let s = TestServer::start();
    assert_eq!(s.cli(&["ping"]).unwrap(), "PONG\n");
    assert_eq!(s.cli(&["set", "k", "a\nb"]).unwrap(), "OK\n");
    assert_eq!(s.cli(&["--raw", "get", "k"]).unwrap(), "a\nb\n");
    // Without a terminal redis-cli prints raw; --no-raw asks for the formatted form.
    assert_eq!(s.cli(&["--no-raw", "get", "k"]).unwrap(), "\"a\\nb\"\n");
    assert_eq!(s.cli(&["--no-raw", "get", "nosuch"]).unwrap(), "(nil)\n");
    let info = s.cli(&["info"]).unwrap();
    assert!(info.contains("# Server") && info.contains("redis_version:"));
    assert_eq!(
        s.cli(&["--no-raw", "-3", "hello", "3"])
            .unwrap()
            .lines()
            .next(),
        Some("1# \"server\" => \"redis\"")
    );
    // --stat polls INFO once a second; run it briefly and check it printed its table.
    // redis-cli block-buffers a pipe and is killed before it flushes; stdbuf makes it line-buffered.
    if !have("stdbuf") {
        return;
    }
    let mut stat = Command::new("stdbuf")
        .args([
            "-oL",
            "redis-cli",
            "-p",
            &s.port.to_string(),
            "--stat",
            "-i",
            "0.5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let _ = stat.kill();
    let out = stat.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("keys") && text.contains("clients"), "{text}");
    assert!(text.lines().count() >= 3, "{text}");
}

#[test]
fn redis_benchmark_runs_against_it() {
    if !have("redis-benchmark") {
        return;
    }
    let s = TestServer::start();
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &s.port.to_string(),
            "-q",
            "-n",
            "1000",
            "-t",
            "set,get",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SET:") && text.contains("GET:"), "{text}");
    assert_eq!(Raw::connect(s.port).cmd(&["DBSIZE"]), Reply::Int(1));
}
