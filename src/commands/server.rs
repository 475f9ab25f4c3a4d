//! Server commands (Redis group `server`): INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB/FLUSHALL, SWAPDB, TIME,
//! SHUTDOWN, MEMORY, WAIT, LASTSAVE, and DEBUG (only with `enable-debug-command`, which also moves the
//! server's clock for tests).

use bytes::Bytes;
use serde_json::Value as Json;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::keys::help_reply;
use super::table::{self, CommandSpec, all_specs, flags};
use super::{CmdResult, CommandError, Ctx, is_kw, parse_int};
use crate::clock::Clock;
use crate::commit::{ChangeKind, HistoryError};
use crate::config::ConfigError;
use crate::util::glob::glob_match;

/// The Redis version Concord presents itself as (clients gate features on it). 7.0.15: the release
/// whose semantics Concord follows where versions differ (set encodings, its Tcl suite, the redis-server
/// every library test is also run against), so a client that branches on the version takes the same
/// branch as against that Redis. Scripts see the same in `redis.REDIS_VERSION`.
pub const REDIS_VERSION: &str = "7.0.15";

// ---------------------------------------------------------------------------------------------- INFO

fn proc_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// (user, system) CPU seconds of this process.
fn proc_cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0;
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    (get(11), get(12))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "coordination",
    "keyspace",
];

fn info_section(ctx: &Ctx, name: &str, s: &mut String) {
    let srv = ctx.state;
    let st = &srv.stats;
    let now = ctx.now_ms;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    match name {
        "server" => {
            let uptime = srv.started.elapsed().as_secs();
            let _ = write!(
                s,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
                 redis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\n\
                 multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\n\
                 process_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\n\
                 uptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:\r\n\
                 io_threads_active:0\r\nconcord_version:{}\r\n",
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                srv.run_id,
                srv.bound_port.load(Ordering::Relaxed),
                srv.clock.now_us(),
                uptime / 86400,
                srv.config.get_u64("hz"),
                srv.config.get_u64("hz"),
                srv.lru_clock(now),
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                env!("CARGO_PKG_VERSION"),
            );
        }
        "clients" => {
            let _ = write!(
                s,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
                 client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\n\
                 tracking_clients:{}\r\nclients_in_timeout_table:{}\r\ntotal_blocking_keys:{}\r\n\
                 total_blocking_keys_on_nokey:0\r\n",
                srv.clients.len(),
                srv.config.maxclients.load(Ordering::Relaxed),
                srv.blocking.len() + srv.pubsub.pause.held(),
                srv.notify.tracking.clients(),
                srv.blocking.len(),
                srv.blocking.key_count(),
            );
        }
        "memory" => {
            let rss = proc_rss_bytes();
            let lua = srv.scripting.lua_bytes.load(Ordering::Relaxed);
            let scripts = srv.scripting.scripts_bytes.load(Ordering::Relaxed);
            let maxmemory = srv.config.get_u64("maxmemory");
            let _ = write!(
                s,
                "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
                 used_memory_rss_human:{}\r\nused_memory_peak:{rss}\r\nused_memory_peak_human:{}\r\n\
                 used_memory_lua:{lua}\r\nused_memory_lua_human:{}\r\nused_memory_scripts:{scripts}\r\n\
                 used_memory_scripts_human:{}\r\nnumber_of_cached_scripts:{}\r\n\
                 maxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\n\
                 maxmemory_policy:{}\r\nmem_fragmentation_ratio:1.00\r\nmem_allocator:mimalloc\r\n\
                 lazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
                human(rss),
                human(rss),
                human(rss),
                human(lua),
                human(scripts),
                srv.scripting.cached_scripts.load(Ordering::Relaxed),
                human(maxmemory),
                srv.config.get("maxmemory-policy").unwrap_or_default(),
                srv.lazyfree.pending(),
                srv.lazyfree.freed(),
            );
        }
        "persistence" => {
            let _ = write!(
                s,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n\
                 current_fork_perc:0.00\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:0\r\n\
                 rdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\n\
                 aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n\
                 aof_last_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n\
                 module_fork_in_progress:0\r\n",
                // Nothing is saved yet, so every committed write since start is unsaved.
                srv.keyspace.revision(),
                srv.started_ms / 1000,
            );
        }
        "stats" => {
            let tracking_totals = srv.notify.tracking.totals();
            let history = srv.log.history().usage();
            let _ = write!(
                s,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 rejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\n\
                 keyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsub_shardchannels:{}\r\n\
                 migrate_cached_sockets:0\r\n\
                 tracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n\
                 total_error_replies:{}\r\ncurrent_revision:{}\r\n\
                 commit_stream_active:{}\r\ncommit_published_revision:{}\r\ncommit_parked_units:{}\r\n\
                 commit_history_units:{}\r\ncommit_history_bytes:{}\r\n",
                ld(&st.connections_received),
                ld(&st.commands_processed),
                st.ops_per_sec(),
                ld(&st.net_input_bytes),
                ld(&st.net_output_bytes),
                ld(&st.rejected_connections),
                ld(&st.expired_keys),
                ld(&st.keyspace_hits),
                ld(&st.keyspace_misses),
                srv.pubsub.distinct(crate::pubsub::Kind::Channel),
                srv.pubsub.distinct(crate::pubsub::Kind::Pattern),
                srv.pubsub.distinct(crate::pubsub::Kind::Shard),
                tracking_totals.0,
                tracking_totals.1,
                tracking_totals.2,
                ld(&st.error_replies),
                srv.keyspace.revision(),
                u8::from(srv.log.is_active()),
                srv.log.published(),
                srv.log.parked(),
                history.0,
                history.1,
            );
        }
        "replication" => {
            let _ = write!(
                s,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
                 master_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n\
                 master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n\
                 repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                srv.run_id,
            );
        }
        "cpu" => {
            let (user, sys) = proc_cpu_seconds();
            let _ = write!(
                s,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\n\
                 used_cpu_user_children:0.000000\r\n"
            );
        }
        "modules" => s.push_str("# Modules\r\n"),
        "cluster" => s.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "errorstats" => {
            s.push_str("# Errorstats\r\n");
            for (code, n) in st.errors.lock().iter() {
                let _ = write!(s, "errorstat_{code}:count={n}\r\n");
            }
        }
        "commandstats" => {
            s.push_str("# Commandstats\r\n");
            for spec in all_specs() {
                let c = &st.commands[spec.id];
                let calls = ld(&c.calls);
                let (rej, fail) = (ld(&c.rejected), ld(&c.failed));
                if calls == 0 && rej == 0 && fail == 0 {
                    continue;
                }
                let usec = ld(&c.usec);
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    s,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rej},failed_calls={fail}\r\n",
                    spec.name
                );
            }
        }
        "coordination" => {
            let leases = &srv.keyspace.leases;
            let (units, bytes) = srv.log.history().usage();
            let waiters = srv.blocking.count_matching(|argv| {
                argv.first()
                    .and_then(|c| super::table::lookup(c))
                    .is_some_and(|spec| spec.has(super::table::flags::CONCORD_WAITS_ON_CHANGE))
            });
            let _ = write!(
                s,
                "# Coordination\r\nrevision:{}\r\nlock_acquisitions:{}\r\nlock_waiters:{waiters}\r\n\
                 leases:{}\r\nlease_attached_keys:{}\r\nwatchers:{}\r\nwatch_events_sent:{}\r\n\
                 watch_history_units:{units}\r\nwatch_history_bytes:{bytes}\r\n\
                 watch_history_max_bytes:{}\r\nwatch_history_oldest_revision:{}\r\n",
                srv.keyspace.revision(),
                ld(&st.lock_acquisitions),
                leases.len(),
                leases.attached(),
                srv.watches.len(),
                srv.watches.events(),
                srv.log.history().max_bytes(),
                srv.log.history().oldest().unwrap_or(0),
            );
        }
        "keyspace" => {
            s.push_str("# Keyspace\r\n");
            for (i, db) in srv.keyspace.dbs().iter().enumerate() {
                let (keys, expires) = db.counts();
                if keys > 0 {
                    let _ = write!(s, "db{i}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
        _ => return,
    }
    s.push_str("\r\n");
}

/// INFO [section ...]
pub fn info(ctx: &mut Ctx) -> CmdResult {
    let mut wanted: Vec<String> = ctx.argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.retain(|w| w != "default");
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
        wanted.insert(wanted.len() - 1, "commandstats".into());
    }
    let mut s = String::new();
    let mut seen = Vec::new();
    for w in &wanted {
        if !seen.contains(w) {
            info_section(ctx, w, &mut s);
            seen.push(w.clone());
        }
    }
    // Redis ends the text without the last blank line.
    while s.ends_with("\r\n\r\n") {
        s.truncate(s.len() - 2);
    }
    ctx.out.verbatim(s.as_bytes());
    Ok(())
}

// -------------------------------------------------------------------------------------------- CONFIG

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Ctx) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for p in &ctx.argv[2..] {
        for (k, v) in ctx.state.config.matching(p) {
            if !pairs.iter().any(|(n, _)| *n == k) {
                pairs.push((k, v));
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in &pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing, as Redis 7.
pub fn config_set(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    if !argv.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity {
            command: "config|set".into(),
        });
    }
    let pairs: Vec<(String, String)> = argv[2..]
        .chunks_exact(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    let mut names = Vec::new();
    for (k, v) in &pairs {
        let name = ctx
            .state
            .config
            .check(k, v)
            .map_err(|e| config_error(k, e))?;
        if names.contains(&name) {
            return Err(CommandError::ConfigSetFailed {
                name: k.to_string(),
                reason: "duplicate parameter".into(),
            });
        }
        names.push(name);
    }
    for (k, v) in &pairs {
        ctx.state.config.set(k, v).map_err(|e| config_error(k, e))?;
    }
    ctx.out.ok();
    Ok(())
}

fn config_error(name: &str, e: ConfigError) -> CommandError {
    match e {
        ConfigError::Unknown(n) => CommandError::Custom(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{n}'"
        )),
        ConfigError::Immutable(_) => CommandError::ConfigSetFailed {
            name: name.to_string(),
            reason: "can't set immutable config".into(),
        },
        ConfigError::Invalid { reason, .. } => CommandError::ConfigSetFailed {
            name: name.to_string(),
            reason,
        },
    }
}

/// CONFIG RESETSTAT
pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.state.stats.reset();
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE: Concord keeps no config file path to rewrite.
pub fn config_rewrite(_ctx: &mut Ctx) -> CmdResult {
    Err(CommandError::Custom(
        "ERR The server is running without a config file".into(),
    ))
}

/// CONFIG HELP
pub fn config_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ----------------------------------------------------------------------------------- keyspace-wide

/// DBSIZE (counts keys not yet reclaimed after expiry, as Redis does)
pub fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC.
fn flush_async(ctx: &Ctx) -> Result<bool, CommandError> {
    match ctx.argv.get(1) {
        None => Ok(ctx.state.config.get_bool("lazyfree-lazy-user-flush")),
        Some(a) if is_kw(a, "ASYNC") && ctx.argv.len() == 2 => Ok(true),
        Some(a) if is_kw(a, "SYNC") && ctx.argv.len() == 2 => Ok(false),
        Some(_) => Err(CommandError::Syntax),
    }
}

/// Empties databases `dbs` as one unit; big tables are freed on a background thread when `lazy`. Every
/// shard of every one is locked first (in the keyspace's (db, shard) order) and the revision taken
/// under those guards, so no write to any of them can be ordered before the flush in the stream and
/// applied after it.
fn flush_dbs(ctx: &mut Ctx, dbs: std::ops::Range<usize>, lazy: bool) {
    let ks = &ctx.state.keyspace;
    let mut locked: Vec<_> = dbs.clone().map(|db| ks.db(db).lock_all()).collect();
    let mut taken = Vec::new();
    for (db, all) in dbs.zip(locked.iter_mut()) {
        for shard in all.iter_mut() {
            if !shard.is_empty() {
                taken.push((db, shard.take_table()));
            }
        }
    }
    if taken.is_empty() {
        return;
    }
    ctx.revision();
    drop(locked);
    if ctx.recording() {
        // Every key leaves as a `del` change of this unit (only built while the stream is read).
        for (db, table) in &taken {
            for e in table.iter() {
                ctx.change(ChangeKind::Del, *db, &e.key, e.mod_revision, None);
            }
        }
    }
    if lazy {
        // One job per database, as each FLUSHDB ASYNC is.
        let mut per_db: Vec<(usize, Vec<_>)> = Vec::new();
        for (db, table) in taken {
            match per_db.last_mut() {
                Some((d, tables)) if *d == db => tables.push(table),
                _ => per_db.push((db, vec![table])),
            }
        }
        for (_, tables) in per_db {
            ctx.state.lazyfree.free(tables);
        }
    }
}

/// FLUSHDB [ASYNC|SYNC]
pub fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_async(ctx)?;
    let db = ctx.client.db;
    flush_dbs(ctx, db..db + 1, lazy);
    ctx.log(vec![Bytes::from_static(b"FLUSHDB")]);
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]
pub fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_async(ctx)?;
    let n = ctx.state.keyspace.db_count();
    flush_dbs(ctx, 0..n, lazy);
    ctx.log(vec![Bytes::from_static(b"FLUSHALL")]);
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2: every shard pair is swapped while both databases are fully locked, so no client
/// sees a half-swapped state.
pub fn swapdb(ctx: &mut Ctx) -> CmdResult {
    // Redis reads both as C ints: anything else is an "invalid" index, not an out-of-range one.
    let c_int = |a: &[u8]| parse_int(a).ok().filter(|v| i32::try_from(*v).is_ok());
    let a = c_int(&ctx.argv[1])
        .ok_or_else(|| CommandError::Custom("ERR invalid first DB index".into()))?;
    let b = c_int(&ctx.argv[2])
        .ok_or_else(|| CommandError::Custom("ERR invalid second DB index".into()))?;
    let n = ctx.state.keyspace.db_count() as i64;
    if a < 0 || b < 0 || a >= n || b >= n {
        return Err(CommandError::DbIndexOutOfRange);
    }
    if a != b {
        let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
        let ks = &ctx.state.keyspace;
        let mut la = ks.db(lo).lock_all();
        let mut lb = ks.db(hi).lock_all();
        for (x, y) in la.iter_mut().zip(lb.iter_mut()) {
            x.swap_contents(y);
        }
        // The revision is taken under the guards, as every unit's, so a write to either database
        // that waited for them is ordered after the swap in the stream.
        ctx.revision();
        drop((la, lb));
        if ctx.recording() {
            ctx.change(ChangeKind::SwapDb { other: hi }, lo, b"", 0, None);
        }
    }
    ctx.out.ok();
    Ok(())
}

/// TIME
pub fn time(ctx: &mut Ctx) -> CmdResult {
    let us = ctx.state.clock.now_us();
    ctx.out.array(2);
    ctx.out
        .bulk(itoa::Buffer::new().format(us / 1_000_000).as_bytes());
    ctx.out
        .bulk(itoa::Buffer::new().format(us % 1_000_000).as_bytes());
    Ok(())
}

/// LASTSAVE: Concord has not saved a snapshot; it reports its start time, as Redis does before a save.
pub fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int((ctx.state.started_ms / 1000) as i64);
    Ok(())
}

/// WAIT numreplicas timeout: there are no replicas yet, so 0 acknowledge at once.
pub fn wait(ctx: &mut Ctx) -> CmdResult {
    parse_int(&ctx.argv[1])?;
    let t = parse_int(&ctx.argv[2]).map_err(|_| CommandError::TimeoutNotInteger)?;
    if t < 0 {
        return Err(CommandError::TimeoutNegative);
    }
    ctx.out.int(0);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx) -> CmdResult {
    for a in &ctx.argv[1..] {
        if is_kw(a, "ABORT") {
            return Err(CommandError::Custom("ERR No shutdown in progress.".into()));
        }
        if !(is_kw(a, "NOSAVE") || is_kw(a, "SAVE") || is_kw(a, "NOW") || is_kw(a, "FORCE")) {
            return Err(CommandError::Syntax);
        }
    }
    // A busy script stops the server only with NOSAVE (scripting/busy.rs).
    if let Some(kind) = ctx.state.scripting.run.busy()
        && !ctx.argv[1..].iter().any(|a| is_kw(a, "NOSAVE"))
    {
        return Err(super::scripting::busy_error(kind));
    }
    tracing::info!("User requested shutdown...");
    ctx.state.request_shutdown();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]
pub fn memory_usage(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() == 5 {
        if !is_kw(&ctx.argv[3], "SAMPLES") {
            return Err(CommandError::Syntax);
        }
        parse_int(&ctx.argv[4])?;
    } else if ctx.argv.len() != 3 {
        return Err(CommandError::Syntax);
    }
    let key = &ctx.argv[2];
    let (h, shard) = ctx.db().lock_key(key);
    let n = shard
        .get_live(h, key, ctx.now_ms)
        .map(|e| e.memory_bytes() + std::mem::size_of::<usize>() + 1);
    drop(shard);
    match n {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// MEMORY HELP
pub fn memory_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
        ],
    );
    Ok(())
}

// --------------------------------------------------------------------------------------------- DEBUG

/// DEBUG subcommand ...: Concord's test hooks, available only with `enable-debug-command`.
/// `DEBUG CLOCK GET|FREEZE|UNFREEZE|ADVANCE ms|SET ms` moves the server's clock (the time seam) so TTLs
/// are tested without sleeping; `DEBUG EXPIRE-NOW` runs active expiry at once; `DEBUG OBJECT key` and
/// `DEBUG SET-ACTIVE-EXPIRE 0|1` (stops and restarts the active expirer) answer as Redis does.
pub fn debug(ctx: &mut Ctx) -> CmdResult {
    if !ctx.state.debug_enabled {
        return Err(CommandError::Custom("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into()));
    }
    let sub = String::from_utf8_lossy(&ctx.argv[1]).to_lowercase();
    let clock = &ctx.state.clock;
    match (sub.as_str(), ctx.argv.len()) {
        ("clock", 3) | ("clock", 4) => {
            let op = String::from_utf8_lossy(&ctx.argv[2]).to_lowercase();
            let arg = ctx.argv.get(3).map(|a| parse_int(a)).transpose()?;
            match (op.as_str(), arg) {
                ("get", None) => {}
                ("freeze", None) => clock.freeze(),
                ("unfreeze", None) => clock.unfreeze(),
                ("advance", Some(ms)) => clock.advance(ms),
                ("set", Some(ms)) if ms >= 0 => clock.set(ms as u64),
                _ => return Err(CommandError::Syntax),
            }
            ctx.out.int(clock.now_ms() as i64);
        }
        ("expire-now", 2) => {
            let n = super::expire_due(ctx.state);
            ctx.out.int(n as i64);
        }
        ("log", _) => return debug_log(ctx),
        ("commit-acks", 3) => {
            // Replies wait for their unit's completion ticket, as under appendfsync always.
            let on = parse_int(&ctx.argv[2])? != 0;
            ctx.state.log.set_acks_wait_for_commit(on);
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            let on = parse_int(&ctx.argv[2])? != 0;
            ctx.state.active_expire.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        ("object", 3) => {
            let key = &ctx.argv[2];
            let lru = ctx.lru();
            let (h, shard) = ctx.db().lock_key(key);
            let line = shard.get_live(h, key, ctx.now_ms).map(|e| {
                format!(
                    "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{} \
                     version:{} create_revision:{} mod_revision:{}",
                    e.value.encoding(),
                    e.value.str_len().unwrap_or(0),
                    e.access_s,
                    lru.saturating_sub(e.access_s),
                    e.version,
                    e.create_revision,
                    e.mod_revision
                )
            });
            drop(shard);
            match line {
                Some(l) => ctx.out.simple(&l),
                None => return Err(CommandError::NoSuchKey),
            }
        }
        ("help", 2) => help_reply(
            ctx,
            "DEBUG",
            &[
                "CLOCK GET|FREEZE|UNFREEZE|ADVANCE <ms>|SET <unix-ms>",
                "    Read or move the server clock (Concord).",
                "EXPIRE-NOW",
                "    Run active expiry now (Concord).",
                "COMMIT-ACKS <0|1>",
                "    Write replies only once their unit is published in order (Concord).",
                "LOG FROM <revision> [COUNT <n>] [CHANGES]",
                "    The retained committed units from <revision> on, oldest first, each as",
                "    [revision, now_ms, [[db, arg0, arg1, ...], ...]]; CHANGES adds the per-key",
                "    changes [sub, put|del|expired|swapdb, db, key, prev_revision, value] (Concord).",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Accepted for compatibility; active expiry always runs.",
            ],
        ),
        _ => {
            return Err(CommandError::UnknownSubcommandOrArity {
                sub: String::from_utf8_lossy(&ctx.argv[1]).into_owned(),
                container: "DEBUG".into(),
            });
        }
    }
    Ok(())
}

/// DEBUG LOG FROM <revision> [COUNT n] [CHANGES]: the committed stream's retained units (`watch-history`
/// of them), oldest first; each record is its deterministic argv with the database first. CHANGES adds
/// each unit's per-key changes: `[sub, put|del|expired|swapdb, db, key, prev_revision, value]`.
fn debug_log(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    if argv.len() < 4 || !is_kw(&argv[2], "from") {
        return Err(CommandError::Syntax);
    }
    let from = u64::try_from(parse_int(&argv[3])?).map_err(|_| CommandError::NotInteger)?;
    let mut count = usize::MAX;
    let mut with_changes = false;
    let mut rest = &argv[4..];
    while let Some(kw) = rest.first() {
        if is_kw(kw, "count") && rest.len() >= 2 {
            count = usize::try_from(parse_int(&rest[1])?).map_err(|_| CommandError::NotInteger)?;
            rest = &rest[2..];
        } else if is_kw(kw, "changes") {
            with_changes = true;
            rest = &rest[1..];
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let log = &ctx.state.log;
    if log.history().limit() == 0 {
        return Err(CommandError::Custom(
            "ERR no committed units are retained (watch-history is 0)".into(),
        ));
    }
    let units = log.read(from, count).map_err(|e| match e {
        HistoryError::Compacted { revision, oldest } => CommandError::Custom(format!(
            "COMPACTED revision {revision} is compacted, oldest available is {oldest}"
        )),
    })?;
    let out = &mut *ctx.out;
    out.array(units.len());
    for unit in &units {
        out.array(3 + usize::from(with_changes));
        out.int(unit.revision as i64);
        out.int(unit.now_ms as i64);
        out.array(unit.records.len());
        for record in &unit.records {
            out.array(record.argv.len() + 1);
            out.int(record.db as i64);
            for a in &record.argv {
                out.bulk(a);
            }
        }
        if with_changes {
            out.array(unit.changes.len());
            for c in &unit.changes {
                out.array(6);
                out.int(i64::from(c.sub));
                out.bulk(c.kind.name().as_bytes());
                out.int(c.db as i64);
                match c.kind {
                    ChangeKind::SwapDb { other } => out.bulk(other.to_string().as_bytes()),
                    _ => out.bulk(&c.key),
                }
                out.int(c.prev_revision as i64);
                match &c.value {
                    Some(v) => out.bulk(v),
                    None => out.null(),
                }
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------- COMMAND

/// A reply tree for COMMAND INFO / DOCS. Redis writes these maps in a fixed field order (serde_json's
/// maps are sorted), and writes flags as status strings, so the reply is built explicitly.
enum Node {
    Bulk(String),
    Int(i64),
    Arr(Vec<Node>),
    /// A set of status strings (flags, categories).
    Flags(Vec<String>),
    Map(Vec<(&'static str, Node)>),
    /// A map whose keys are computed (COMMAND DOCS's `subcommands`).
    Named(Vec<(String, Node)>),
}

fn emit(out: &mut crate::protocol::ReplyBuf, n: &Node) {
    match n {
        Node::Bulk(s) => out.bulk(s.as_bytes()),
        Node::Int(i) => out.int(*i),
        Node::Arr(a) => {
            out.array(a.len());
            for x in a {
                emit(out, x);
            }
        }
        Node::Flags(f) => {
            out.set(f.len());
            for x in f {
                out.simple(x);
            }
        }
        Node::Map(m) => {
            out.map(m.len());
            for (k, v) in m {
                out.bulk(k.as_bytes());
                emit(out, v);
            }
        }
        Node::Named(m) => {
            out.map(m.len());
            for (k, v) in m {
                out.bulk(k.as_bytes());
                emit(out, v);
            }
        }
    }
}

fn json_str(v: Option<&Json>) -> Option<String> {
    v.and_then(Json::as_str).map(str::to_string)
}

fn json_int(v: Option<&Json>) -> i64 {
    v.and_then(Json::as_i64).unwrap_or(0)
}

fn json_strs(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Key-spec flags as Redis prints them: the access kind upper case (`RW`), the rest lower case.
fn key_flag_names(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .map(|f| match f.as_str() {
            "RO" | "RW" | "OW" | "RM" => f.clone(),
            _ => f.to_lowercase(),
        })
        .collect()
}

/// A key spec in COMMAND INFO's shape and field order.
fn key_spec_node(ks: &Json) -> Node {
    let bs = ks.get("begin_search");
    let begin = if let Some(ix) = bs.and_then(|b| b.get("index")) {
        Node::Map(vec![
            ("type", Node::Bulk("index".into())),
            (
                "spec",
                Node::Map(vec![("index", Node::Int(json_int(ix.get("pos"))))]),
            ),
        ])
    } else if let Some(kw) = bs.and_then(|b| b.get("keyword")) {
        Node::Map(vec![
            ("type", Node::Bulk("keyword".into())),
            (
                "spec",
                Node::Map(vec![
                    (
                        "keyword",
                        Node::Bulk(json_str(kw.get("keyword")).unwrap_or_default()),
                    ),
                    ("startfrom", Node::Int(json_int(kw.get("startfrom")))),
                ]),
            ),
        ])
    } else {
        Node::Map(vec![
            ("type", Node::Bulk("unknown".into())),
            ("spec", Node::Map(vec![])),
        ])
    };
    let fk = ks.get("find_keys");
    let find = if let Some(r) = fk.and_then(|f| f.get("range")) {
        Node::Map(vec![
            ("type", Node::Bulk("range".into())),
            (
                "spec",
                Node::Map(vec![
                    ("lastkey", Node::Int(json_int(r.get("lastkey")))),
                    ("keystep", Node::Int(json_int(r.get("step")))),
                    ("limit", Node::Int(json_int(r.get("limit")))),
                ]),
            ),
        ])
    } else if let Some(k) = fk.and_then(|f| f.get("keynum")) {
        Node::Map(vec![
            ("type", Node::Bulk("keynum".into())),
            (
                "spec",
                Node::Map(vec![
                    ("keynumidx", Node::Int(json_int(k.get("keynumidx")))),
                    ("firstkey", Node::Int(json_int(k.get("firstkey")))),
                    ("keystep", Node::Int(json_int(k.get("step")))),
                ]),
            ),
        ])
    } else {
        Node::Map(vec![
            ("type", Node::Bulk("unknown".into())),
            ("spec", Node::Map(vec![])),
        ])
    };
    let mut m = Vec::new();
    if let Some(notes) = json_str(ks.get("notes")) {
        m.push(("notes", Node::Bulk(notes)));
    }
    m.push((
        "flags",
        Node::Flags(key_flag_names(&json_strs(ks.get("flags")))),
    ));
    m.push(("begin_search", begin));
    m.push(("find_keys", find));
    Node::Map(m)
}

/// Command flags Redis never shows in COMMAND INFO.
const HIDDEN_FLAGS: &[&str] = &[
    "MAY_REPLICATE",
    "SENTINEL",
    "ONLY_SENTINEL",
    "PROTECTED",
    "TOUCHES_ARBITRARY_KEYS",
];

/// ACL categories in the order Redis lists them.
const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A command's ACL categories: its spec's, plus those its flags imply, in Redis's order.
fn acl_categories(spec: &CommandSpec, doc: &Json) -> Vec<String> {
    let mut cats: Vec<String> = json_strs(doc.get("acl_categories"))
        .into_iter()
        .map(|c| c.to_lowercase())
        .collect();
    let implied = [
        (flags::WRITE, "write"),
        (flags::READONLY, "read"),
        (flags::ADMIN, "admin"),
        (flags::ADMIN, "dangerous"),
        (flags::PUBSUB, "pubsub"),
        (flags::FAST, "fast"),
        (flags::BLOCKING, "blocking"),
    ];
    for (bit, cat) in implied {
        if spec.has(bit) {
            cats.push(cat.into());
        }
    }
    if !spec.has(flags::FAST) {
        cats.push("slow".into());
    }
    let mut ordered: Vec<String> = ACL_CATEGORIES
        .iter()
        .filter(|c| cats.iter().any(|x| x == *c))
        .map(|c| format!("@{c}"))
        .collect();
    // Categories Redis does not know keep their place after the known ones.
    for c in cats {
        if !ACL_CATEGORIES.contains(&c.as_str()) && !ordered.contains(&format!("@{c}")) {
            ordered.push(format!("@{c}"));
        }
    }
    ordered
}

/// One command's COMMAND INFO entry.
fn command_info_node(spec: &CommandSpec) -> Node {
    let doc = spec.doc();
    let shown: Vec<String> = spec
        .flag_names()
        .iter()
        .filter(|n| !HIDDEN_FLAGS.contains(n))
        .map(|n| match *n {
            "MOVABLE_KEYS" => "movablekeys".to_string(),
            n => n.to_lowercase(),
        })
        .collect();
    let tips = json_strs(doc.get("command_tips"))
        .into_iter()
        .map(|t| Node::Bulk(t.to_lowercase()))
        .collect();
    let key_specs = doc
        .get("key_specs")
        .and_then(Json::as_array)
        .map(|a| a.iter().map(key_spec_node).collect())
        .unwrap_or_default();
    Node::Arr(vec![
        Node::Bulk(spec.name.to_string()),
        Node::Int(spec.arity as i64),
        Node::Flags(shown),
        Node::Int(spec.first_key as i64),
        Node::Int(spec.last_key as i64),
        Node::Int(spec.step as i64),
        Node::Flags(acl_categories(spec, &doc)),
        Node::Arr(tips),
        Node::Arr(key_specs),
        Node::Arr(spec.subcommands.iter().map(command_info_node).collect()),
    ])
}

/// Finds a command or `container|sub` by name.
fn find_spec(name: &[u8]) -> Option<&'static CommandSpec> {
    let text = String::from_utf8_lossy(name).to_lowercase();
    match text.split_once('|') {
        Some((c, s)) => table::lookup(c.as_bytes())?.subcommand(s.as_bytes()),
        None => table::lookup(name),
    }
}

/// COMMAND (no arguments): every command's info.
pub fn command(ctx: &mut Ctx) -> CmdResult {
    ctx.out.array(table::COMMAND_TABLE.len());
    for spec in table::COMMAND_TABLE {
        emit(ctx.out, &command_info_node(spec));
    }
    Ok(())
}

/// COMMAND COUNT
pub fn command_count(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(table::COMMAND_TABLE.len() as i64);
    Ok(())
}

/// COMMAND INFO [command ...]
pub fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() == 2 {
        return command(ctx);
    }
    let names = &ctx.argv[2..];
    ctx.out.array(names.len());
    for n in names {
        match find_spec(n) {
            Some(s) => emit(ctx.out, &command_info_node(s)),
            // Redis answers an unknown name with a null bulk, not a null array.
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
pub fn command_list(ctx: &mut Ctx) -> CmdResult {
    enum Filter {
        All,
        Module,
        AclCat(String),
        Pattern(Vec<u8>),
    }
    let filter = match ctx.argv.len() {
        2 => Filter::All,
        5 if is_kw(&ctx.argv[2], "FILTERBY") => {
            let (k, v) = (&ctx.argv[3][..], &ctx.argv[4][..]);
            if is_kw(k, "MODULE") {
                Filter::Module
            } else if is_kw(k, "ACLCAT") {
                Filter::AclCat(format!("@{}", String::from_utf8_lossy(v).to_lowercase()))
            } else if is_kw(k, "PATTERN") {
                Filter::Pattern(v.to_vec())
            } else {
                return Err(CommandError::Syntax);
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    let names: Vec<&str> = all_specs()
        .filter(|s| match &filter {
            Filter::All => true,
            Filter::Module => false,
            Filter::AclCat(c) => acl_categories(s, &s.doc()).contains(c),
            Filter::Pattern(p) => glob_match(p, s.name.as_bytes(), true),
        })
        .map(|s| s.name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// One argument in COMMAND DOCS's shape and field order.
fn doc_argument(a: &Json) -> Node {
    let kind = json_str(a.get("type")).unwrap_or_default();
    let mut m = vec![
        (
            "name",
            Node::Bulk(json_str(a.get("name")).unwrap_or_default()),
        ),
        ("type", Node::Bulk(kind.clone())),
    ];
    if !matches!(kind.as_str(), "oneof" | "block" | "pure-token") {
        let display = json_str(a.get("display")).or_else(|| json_str(a.get("name")));
        m.push(("display_text", Node::Bulk(display.unwrap_or_default())));
    }
    if let Some(i) = a.get("key_spec_index").and_then(Json::as_i64) {
        m.push(("key_spec_index", Node::Int(i)));
    }
    for k in ["token", "summary", "since", "deprecated_since"] {
        if let Some(v) = json_str(a.get(k)) {
            m.push((k, Node::Bulk(v)));
        }
    }
    let flags: Vec<String> = ["optional", "multiple", "multiple_token"]
        .iter()
        .filter(|f| a.get(**f).and_then(Json::as_bool).unwrap_or(false))
        .map(|f| f.to_string())
        .collect();
    if !flags.is_empty() {
        m.push(("flags", Node::Flags(flags)));
    }
    if let Some(args) = a.get("arguments").and_then(Json::as_array) {
        m.push((
            "arguments",
            Node::Arr(args.iter().map(doc_argument).collect()),
        ));
    }
    Node::Map(m)
}

fn command_doc(spec: &CommandSpec) -> Node {
    let doc = spec.doc();
    let mut m = Vec::new();
    for k in ["summary", "since", "group", "complexity"] {
        if let Some(v) = json_str(doc.get(k)) {
            m.push((k, Node::Bulk(v)));
        }
    }
    let doc_flags: Vec<String> = json_strs(doc.get("doc_flags"))
        .into_iter()
        .map(|f| f.to_lowercase())
        .collect();
    if !doc_flags.is_empty() {
        m.push(("doc_flags", Node::Flags(doc_flags)));
    }
    for k in ["deprecated_since", "replaced_by"] {
        if let Some(v) = json_str(doc.get(k)) {
            m.push((k, Node::Bulk(v)));
        }
    }
    if let Some(h) = doc.get("history").and_then(Json::as_array) {
        let entries = h
            .iter()
            .map(|e| Node::Arr(json_strs(Some(e)).into_iter().map(Node::Bulk).collect()))
            .collect();
        m.push(("history", Node::Arr(entries)));
    }
    if let Some(args) = doc.get("arguments").and_then(Json::as_array) {
        m.push((
            "arguments",
            Node::Arr(args.iter().map(doc_argument).collect()),
        ));
    }
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(|s| (s.name.to_string(), command_doc(s)))
            .collect();
        m.push(("subcommands", Node::Named(subs)));
    }
    Node::Map(m)
}

/// COMMAND DOCS [command ...]
pub fn command_docs(ctx: &mut Ctx) -> CmdResult {
    let specs: Vec<&CommandSpec> = if ctx.argv.len() == 2 {
        table::COMMAND_TABLE.iter().collect()
    } else {
        ctx.argv[2..].iter().filter_map(|n| find_spec(n)).collect()
    };
    let docs = specs
        .into_iter()
        .map(|s| (s.name.to_string(), command_doc(s)))
        .collect();
    emit(ctx.out, &Node::Named(docs));
    Ok(())
}

fn getkeys_common(ctx: &mut Ctx) -> Result<Vec<(usize, Vec<String>)>, CommandError> {
    let argv = &ctx.argv[2..];
    let spec = super::resolve(argv)
        .map_err(|_| CommandError::Custom("ERR Invalid command specified".into()))?;
    // Redis's order of checks: known command, has key specs at all, then arity.
    if !super::keyspecs::has_keys(spec) {
        return Err(CommandError::Custom(
            "ERR The command has no key arguments".into(),
        ));
    }
    if !spec.arity_ok(argv.len()) {
        return Err(CommandError::Custom(
            "ERR Invalid number of arguments specified for command".into(),
        ));
    }
    let mut keys = super::keyspecs::keys_with_flags(spec, argv);
    if spec.name == "set" {
        // SET's key flags depend on its arguments (VARIABLE_FLAGS): with GET it reads the old value.
        let get = argv[3..].iter().any(|a| is_kw(a, "GET"));
        for (_, f) in keys.iter_mut() {
            *f = if get {
                vec!["RW".into(), "ACCESS".into(), "UPDATE".into()]
            } else {
                vec!["OW".into(), "UPDATE".into()]
            };
        }
    }
    if spec.name == "sort"
        && let Some(i) = super::sort::store_key_index(argv)
    {
        keys.push((i, vec!["OW".into(), "UPDATE".into()]));
    }
    if keys.is_empty() && !spec.has(flags::NO_MANDATORY_KEYS) {
        return Err(CommandError::Custom(
            "ERR Invalid arguments specified for command".into(),
        ));
    }
    Ok(keys)
}

/// COMMAND GETKEYS command [arg ...]
pub fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let keys = getkeys_common(ctx)?;
    ctx.out.array(keys.len());
    for (i, _) in keys {
        ctx.out.bulk(&ctx.argv[2 + i]);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
pub fn command_getkeysandflags(ctx: &mut Ctx) -> CmdResult {
    let keys = getkeys_common(ctx)?;
    ctx.out.array(keys.len());
    for (i, flags) in keys {
        ctx.out.array(2);
        ctx.out.bulk(&ctx.argv[2 + i]);
        emit(ctx.out, &Node::Flags(key_flag_names(&flags)));
    }
    Ok(())
}

/// COMMAND HELP
pub fn command_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full command.",
        ],
    );
    Ok(())
}
