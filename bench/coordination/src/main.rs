//! Coordination benchmark: the same workloads against Concord, redis-server (with the recipes users run on
//! Redis today) and etcd, all driven from this one Rust client (`redis` and `etcd-client` crates on tokio),
//! so the client is not the difference. See README.md beside this file.

use anyhow::{anyhow, bail, Context, Result};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{watch, Barrier};

// ---------------------------------------------------------------------------------------------------------
// Configuration

#[derive(Clone)]
struct Cfg {
    quick: bool,
    warmup: Duration,
    dur: Duration,
    clients: usize,
    mem_keys: usize,
    etcd_mem_keys: usize,
    hist_writes: usize,
    watchers: usize,
    watch_rate: u64,
    concord_bin: PathBuf,
    only: Option<Vec<String>>,
    workdir: PathBuf,
}

impl Cfg {
    fn wants(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|v| v.iter().any(|s| s == name))
    }
}

static T0: OnceLock<Instant> = OnceLock::new();
fn now_ns() -> u64 {
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

static CLK_TCK: OnceLock<f64> = OnceLock::new();
fn clk_tck() -> f64 {
    *CLK_TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process (all its threads), in seconds.
fn proc_cpu(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = match s.rfind(')') {
        Some(i) => &s[i + 2..],
        None => return 0.0,
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields after ')' start at field 3 (state); utime is field 14, stime 15
    let ut: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    (ut + st) / clk_tck()
}

/// CPU seconds of each thread of a process.
fn thread_cpus(pid: u32) -> std::collections::HashMap<String, f64> {
    let mut m = std::collections::HashMap::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in rd.flatten() {
            let tid = e.file_name().to_string_lossy().to_string();
            m.insert(tid.clone(), proc_cpu(&format!("{pid}/task/{tid}")));
        }
    }
    m
}

/// The busiest thread's CPU seconds between two thread_cpus snapshots.
fn busiest_thread(a: &std::collections::HashMap<String, f64>, b: &std::collections::HashMap<String, f64>) -> f64 {
    b.iter().map(|(t, v)| v - a.get(t).copied().unwrap_or(0.0)).fold(0.0, f64::max)
}

/// Busy CPU seconds of the whole machine (all cores), from /proc/stat.
fn machine_busy() -> f64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = s.lines().next().unwrap_or("").split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0.0)).collect();
    // user nice system idle iowait irq softirq steal
    let g = |i: usize| f.get(i).copied().unwrap_or(0.0);
    (g(0) + g(1) + g(2) + g(5) + g(6) + g(7)) / clk_tck()
}

fn vm_rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    for l in s.lines() {
        if let Some(r) = l.strip_prefix("VmRSS:") {
            let kb: u64 = r.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            return kb * 1024;
        }
    }
    0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A tiny xorshift PRNG (no shared state, Send).
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Servers

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Concord,
    Redis,
    Etcd,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Concord => "concord",
            Kind::Redis => "redis",
            Kind::Etcd => "etcd",
        }
    }
}

struct Server {
    kind: Kind,
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn cpu(&self) -> f64 {
        proc_cpu(&self.pid().to_string())
    }
    fn url(&self) -> String {
        match self.kind {
            Kind::Etcd => format!("http://127.0.0.1:{}", self.port),
            _ => format!("redis://127.0.0.1:{}/", self.port),
        }
    }
    async fn start(kind: Kind, cfg: &Cfg) -> Result<Server> {
        let port = free_port();
        let dir = cfg.workdir.join(format!("{}-{}", kind.name(), port));
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut cmd = match kind {
            Kind::Concord => {
                let mut c = Command::new(&cfg.concord_bin);
                c.args(["--port", &port.to_string(), "--worker-threads", "2"]);
                c
            }
            Kind::Redis => {
                let mut c = Command::new("redis-server");
                c.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
                c.args(["--daemonize", "no"]);
                c.arg("--dir").arg(&dir);
                c
            }
            Kind::Etcd => {
                let peer = free_port();
                let mut c = Command::new("etcd");
                let cu = format!("http://127.0.0.1:{port}");
                let pu = format!("http://127.0.0.1:{peer}");
                c.args(["--name", "bench", "--log-level", "error"]);
                c.arg("--data-dir").arg(dir.join("data"));
                c.args(["--listen-client-urls", &cu, "--advertise-client-urls", &cu]);
                c.args(["--listen-peer-urls", &pu, "--initial-advertise-peer-urls", &pu]);
                c.args(["--initial-cluster", &format!("bench={pu}"), "--initial-cluster-state", "new"]);
                c
            }
        };
        cmd.current_dir(&dir).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let child = cmd.spawn().with_context(|| format!("starting {kind:?}"))?;
        let s = Server { kind, child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = match kind {
                Kind::Etcd => match etcd_client::Client::connect([s.url()], None).await {
                    Ok(mut c) => c.status().await.is_ok(),
                    Err(_) => false,
                },
                _ => match rconn(port).await {
                    Ok(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await.is_ok(),
                    Err(_) => false,
                },
            };
            if ok {
                break;
            }
            if Instant::now() > deadline {
                bail!("{kind:?} did not come up on port {port}; see {}", s.dir.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(s)
    }
    async fn persistence(&self) -> String {
        match self.kind {
            Kind::Etcd => {
                let data = self.dir.join("data");
                let df = Command::new("df")
                    .args(["--output=source,fstype"])
                    .arg(&data)
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ")
                    })
                    .unwrap_or_default();
                format!(
                    "etcd {}: default durability, WAL fsync'd on every commit (no --unsafe-no-fsync), data dir {} on {}",
                    etcd_version(),
                    data.display(),
                    df
                )
            }
            _ => {
                let mut c = match rconn(self.port).await {
                    Ok(c) => c,
                    Err(e) => return format!("? ({e})"),
                };
                let get = |name: &'static str| {
                    let mut c = c.clone();
                    async move {
                        redis::cmd("CONFIG")
                            .arg("GET")
                            .arg(name)
                            .query_async::<Vec<String>>(&mut c)
                            .await
                            .ok()
                            .and_then(|v| v.get(1).cloned())
                            .unwrap_or_else(|| "?".into())
                    }
                };
                let save = get("save").await;
                let aof = get("appendonly").await;
                let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await.unwrap_or_default();
                let ver = info
                    .lines()
                    .find_map(|l| l.strip_prefix("redis_version:"))
                    .unwrap_or("?")
                    .trim()
                    .to_string();
                if self.kind == Kind::Concord {
                    format!(
                        "concord (redis_version {ver}), --worker-threads 2: in memory only (save '{save}', appendonly {aof}; the AOF is not implemented yet)"
                    )
                } else {
                    format!("redis-server {ver}: started with --save '' --appendonly no (save '{save}', appendonly {aof}): in memory only")
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.kind == Kind::Etcd {
            let _ = std::fs::remove_dir_all(self.dir.join("data"));
        }
    }
}

fn etcd_version() -> String {
    Command::new("etcd")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim_start_matches("etcd Version:").trim().to_string())
        })
        .unwrap_or_default()
}

async fn rconn(port: u16) -> Result<MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    // No response timeout: LOCK.ACQUIRE ... WAIT and BLPOP block for longer than the default 500 ms.
    let cfg = AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(Some(Duration::from_secs(5)));
    Ok(client.get_multiplexed_async_connection_with_config(&cfg).await?)
}

async fn econn(url: &str) -> Result<etcd_client::Client> {
    Ok(etcd_client::Client::connect([url], None).await?)
}

// ---------------------------------------------------------------------------------------------------------
// Timed runs

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

struct CtlInner {
    phase: AtomicU8,
    barrier: Barrier,
    stop_rx: watch::Receiver<bool>,
}

#[derive(Clone)]
struct Ctl(Arc<CtlInner>);

impl Ctl {
    fn measuring(&self) -> bool {
        self.0.phase.load(Relaxed) == MEASURE
    }
    fn stopped(&self) -> bool {
        self.0.phase.load(Relaxed) == STOP
    }
    async fn ready(&self) {
        self.0.barrier.wait().await;
    }
    /// Runs `fut` unless the run stops first (for calls that block: WAIT, BLPOP, etcd lock, sleeps).
    async fn or_stop<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        let mut rx = self.0.stop_rx.clone();
        tokio::select! {
            r = fut => Some(r),
            _ = rx.wait_for(|v| *v) => None,
        }
    }
}

#[derive(Default)]
struct TaskStats {
    ops: u64,
    ops2: u64,
    other: u64,
    lat_ns: Vec<u64>,
    err: Option<String>,
}

#[derive(Default, Clone)]
struct Measured {
    ops: u64,
    ops2: u64,
    other: u64,
    secs: f64,
    lat_ns: Vec<u64>,
    per_task: Vec<u64>,
    server_cpu: f64,
    client_cpu: f64,
    other_cpu: f64,
    errors: Vec<String>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn pct(&self, p: f64) -> Option<f64> {
        if self.lat_ns.is_empty() {
            return None;
        }
        let i = ((self.lat_ns.len() as f64 * p / 100.0) as usize).min(self.lat_ns.len() - 1);
        Some(self.lat_ns[i] as f64 / 1000.0)
    }
}

async fn run_clients<F, Fut>(cfg: &Cfg, srv: &Server, n: usize, f: F) -> Measured
where
    F: Fn(usize, Ctl) -> Fut,
    Fut: Future<Output = TaskStats> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctl = Ctl(Arc::new(CtlInner { phase: AtomicU8::new(WARMUP), barrier: Barrier::new(n + 1), stop_rx }));
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(f(i, ctl.clone()))).collect();
    ctl.ready().await;
    tokio::time::sleep(cfg.warmup).await;
    let (c0, s0, b0, t0) = (srv.cpu(), proc_cpu("self"), machine_busy(), Instant::now());
    ctl.0.phase.store(MEASURE, SeqCst);
    tokio::time::sleep(cfg.dur).await;
    ctl.0.phase.store(STOP, SeqCst);
    let secs = t0.elapsed().as_secs_f64();
    let (c1, s1, b1) = (srv.cpu(), proc_cpu("self"), machine_busy());
    let _ = stop_tx.send(true);
    let mut m = Measured {
        secs,
        server_cpu: c1 - c0,
        client_cpu: s1 - s0,
        other_cpu: ((b1 - b0) - (c1 - c0) - (s1 - s0)).max(0.0),
        ..Default::default()
    };
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(20), h).await {
            Ok(Ok(t)) => {
                m.ops += t.ops;
                m.ops2 += t.ops2;
                m.other += t.other;
                m.per_task.push(t.ops);
                m.lat_ns.extend(t.lat_ns);
                if let Some(e) = t.err {
                    m.errors.push(e);
                }
            }
            Ok(Err(e)) => m.errors.push(format!("task panicked: {e}")),
            Err(_) => m.errors.push("task did not stop within 20 s".into()),
        }
    }
    m.lat_ns.sort_unstable();
    m
}

/// Ends a task's loop on the first error, keeping the message.
macro_rules! tryop {
    ($st:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                $st.err = Some(format!("{e}"));
                break;
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------------
// Report rows

struct Row {
    workload: &'static str,
    target: String,
    m: Measured,
    unit: &'static str,
    lat_label: &'static str,
    note: String,
}

fn fmt_rate(x: f64) -> String {
    if x >= 100_000.0 {
        format!("{:.0}k", x / 1000.0)
    } else if x >= 10_000.0 {
        format!("{:.1}k", x / 1000.0)
    } else if x >= 100.0 {
        format!("{:.0}", x)
    } else {
        format!("{:.1}", x)
    }
}

fn fmt_us(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(v) if v >= 10_000.0 => format!("{:.0}ms", v / 1000.0),
        Some(v) if v >= 1000.0 => format!("{:.2}ms", v / 1000.0),
        Some(v) => format!("{:.0}us", v),
    }
}

fn print_rows(rows: &[Row]) {
    print_header();
    print_row_lines(rows);
}

fn print_header() {
    println!(
        "{:<14} {:<34} {:>10} {:<10} {:>9} {:>9} {:>10} {:>13} {:>6} {:>6} {:>6}  notes",
        "workload", "server / recipe", "rate", "unit", "p50", "p99", "srvCPU/op", "ops/srv-CPU-s", "srv%", "cli%", "oth%"
    );
}

fn print_row_lines(rows: &[Row]) {
    for r in rows {
        let m = &r.m;
        let per_op = if m.ops > 0 { m.server_cpu / m.ops as f64 * 1e6 } else { f64::NAN };
        let per_cpu = if m.server_cpu > 0.0 { m.ops as f64 / m.server_cpu } else { f64::NAN };
        let lat = if r.lat_label.is_empty() { String::new() } else { format!("[{}] ", r.lat_label) };
        println!(
            "{:<14} {:<34} {:>10} {:<10} {:>9} {:>9} {:>8.1}us {:>13} {:>5.0}% {:>5.0}% {:>5.0}%  {}{}{}",
            r.workload,
            r.target,
            fmt_rate(m.rate()),
            r.unit,
            fmt_us(m.pct(50.0)),
            fmt_us(m.pct(99.0)),
            per_op,
            fmt_rate(per_cpu),
            m.server_cpu / m.secs * 100.0,
            m.client_cpu / m.secs * 100.0,
            m.other_cpu / m.secs * 100.0,
            lat,
            r.note,
            if m.errors.is_empty() {
                String::new()
            } else {
                format!(" ERRORS({}): {}", m.errors.len(), m.errors[0])
            }
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Workload 1: lock cycle on random keys

const REDIS_RELEASE: &str =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

async fn lock_random(cfg: &Cfg, srv: &Server) -> Measured {
    let port = srv.port;
    let kind = srv.kind;
    run_clients(cfg, srv, cfg.clients, move |i, ctl| async move {
        let mut st = TaskStats::default();
        let mut c = match rconn(port).await {
            Ok(c) => c,
            Err(e) => {
                st.err = Some(e.to_string());
                ctl.ready().await;
                return st;
            }
        };
        let mut rng = Rng::new(i as u64 + 1);
        let owner = rng.hex32();
        let script = redis::Script::new(REDIS_RELEASE);
        ctl.ready().await;
        while !ctl.stopped() {
            let key = format!("lock:{}", rng.below(1_000_000));
            let t = Instant::now();
            let got = if kind == Kind::Concord {
                let tok: Option<i64> = tryop!(
                    st,
                    redis::cmd("LOCK.ACQUIRE").arg(&key).arg(&owner).arg("PX").arg(10000).query_async(&mut c).await
                );
                if tok.is_some() {
                    let r: i64 = tryop!(st, redis::cmd("LOCK.RELEASE").arg(&key).arg(&owner).query_async(&mut c).await);
                    if r != 1 {
                        st.err = Some(format!("LOCK.RELEASE returned {r}"));
                    }
                }
                tok.is_some()
            } else {
                let ok: Option<String> = tryop!(
                    st,
                    redis::cmd("SET").arg(&key).arg(&owner).arg("NX").arg("PX").arg(10000).query_async(&mut c).await
                );
                if ok.is_some() {
                    let r: i64 = tryop!(st, script.key(&key).arg(&owner).invoke_async(&mut c).await);
                    if r != 1 {
                        st.err = Some(format!("release script returned {r}"));
                    }
                }
                ok.is_some()
            };
            if ctl.measuring() {
                if got {
                    st.ops += 1;
                    st.lat_ns.push(t.elapsed().as_nanos() as u64);
                } else {
                    st.other += 1;
                }
            }
        }
        st
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// Workload 2: one hot lock, 50 waiters

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HotRecipe {
    ConcordWait,
    RedisPyLock,
    PythonRedisLock,
    EtcdLock,
}

const PRL_UNLOCK: &str = r#"if redis.call("get", KEYS[1]) ~= ARGV[1] then
    return 1
else
    redis.call("del", KEYS[2])
    redis.call("lpush", KEYS[2], 1)
    redis.call("pexpire", KEYS[2], ARGV[2])
    redis.call("del", KEYS[1])
    return 0
end"#;

const REDIS_PY_RELEASE: &str = r#"local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('del', KEYS[1])
return 1"#;

struct HotShared {
    holder: AtomicUsize,
    last_holder: AtomicUsize,
    release_ns: AtomicU64,
    violations: AtomicU64,
    last_token: AtomicU64,
    token_regressions: AtomicU64,
}

const NOBODY: usize = usize::MAX;

async fn hot_lock(cfg: &Cfg, srv: &Server, recipe: HotRecipe) -> (Measured, u64, u64) {
    let port = srv.port;
    let url = srv.url();
    let sh = Arc::new(HotShared {
        holder: AtomicUsize::new(NOBODY),
        last_holder: AtomicUsize::new(NOBODY),
        release_ns: AtomicU64::new(0),
        violations: AtomicU64::new(0),
        last_token: AtomicU64::new(0),
        token_regressions: AtomicU64::new(0),
    });
    let sh2 = sh.clone();
    let m = run_clients(cfg, srv, cfg.clients, move |i, ctl| {
        let sh = sh2.clone();
        let url = url.clone();
        async move {
            let mut st = TaskStats::default();
            let owner = format!("{}-{}", Rng::new(i as u64 + 77).hex32(), i);
            // After a successful acquisition: account, run the critical section (INCR / a put), mark release.
            let on_acquired = |st: &mut TaskStats, ctl: &Ctl, token: Option<u64>| {
                let now = now_ns();
                if sh.holder.compare_exchange(NOBODY, i, SeqCst, SeqCst).is_err() {
                    sh.violations.fetch_add(1, Relaxed);
                }
                if let Some(t) = token {
                    if t <= sh.last_token.swap(t, SeqCst) {
                        sh.token_regressions.fetch_add(1, Relaxed);
                    }
                }
                let prev = sh.last_holder.load(SeqCst);
                if ctl.measuring() {
                    st.ops += 1;
                    if prev != i && prev != NOBODY {
                        st.ops2 += 1;
                        st.lat_ns.push(now.saturating_sub(sh.release_ns.load(SeqCst)));
                    }
                }
            };
            let before_release = || {
                sh.last_holder.store(i, SeqCst);
                let _ = sh.holder.compare_exchange(i, NOBODY, SeqCst, SeqCst);
                sh.release_ns.store(now_ns(), SeqCst);
            };
            if recipe == HotRecipe::EtcdLock {
                let mut c = match econn(&url).await {
                    Ok(c) => c,
                    Err(e) => {
                        st.err = Some(e.to_string());
                        ctl.ready().await;
                        return st;
                    }
                };
                let lease = match c.lease_grant(600, None).await {
                    Ok(l) => l.id(),
                    Err(e) => {
                        st.err = Some(e.to_string());
                        ctl.ready().await;
                        return st;
                    }
                };
                ctl.ready().await;
                let mut n = 0u64;
                while !ctl.stopped() {
                    let opts = etcd_client::LockOptions::new().with_lease(lease);
                    let r = match ctl.or_stop(c.lock("hot", Some(opts))).await {
                        None => break,
                        Some(r) => tryop!(st, r),
                    };
                    let key = r.key().to_vec();
                    let token = r.header().map(|h| h.revision() as u64);
                    on_acquired(&mut st, &ctl, token);
                    n += 1;
                    tryop!(st, c.put("hot-counter", n.to_string(), None).await);
                    before_release();
                    tryop!(st, c.unlock(key).await);
                }
                let _ = c.lease_revoke(lease).await;
                return st;
            }
            let mut c = match rconn(port).await {
                Ok(c) => c,
                Err(e) => {
                    st.err = Some(e.to_string());
                    ctl.ready().await;
                    return st;
                }
            };
            let prl = redis::Script::new(PRL_UNLOCK);
            let rpy = redis::Script::new(REDIS_PY_RELEASE);
            ctl.ready().await;
            while !ctl.stopped() {
                match recipe {
                    HotRecipe::ConcordWait => {
                        let mut acq = redis::cmd("LOCK.ACQUIRE");
                        acq.arg("hot")
                            .arg(&owner)
                            .arg("PX")
                            .arg(10000)
                            .arg("WAIT")
                            .arg(10000);
                        let fut = acq.query_async::<Option<u64>>(&mut c);
                        let tok = match ctl.or_stop(fut).await {
                            None => break,
                            Some(r) => tryop!(st, r),
                        };
                        let Some(tok) = tok else {
                            st.other += 1; // WAIT timed out
                            continue;
                        };
                        on_acquired(&mut st, &ctl, Some(tok));
                        let _: i64 = tryop!(st, redis::cmd("INCR").arg("hot-counter").query_async(&mut c).await);
                        before_release();
                        let r: i64 = tryop!(st, redis::cmd("LOCK.RELEASE").arg("hot").arg(&owner).query_async(&mut c).await);
                        if r != 1 {
                            st.err = Some(format!("LOCK.RELEASE returned {r}"));
                        }
                    }
                    HotRecipe::RedisPyLock | HotRecipe::PythonRedisLock => {
                        let ok: Option<String> = tryop!(
                            st,
                            redis::cmd("SET").arg("hot").arg(&owner).arg("NX").arg("PX").arg(10000).query_async(&mut c).await
                        );
                        if ok.is_none() {
                            if recipe == HotRecipe::RedisPyLock {
                                // redis-py Lock.acquire: time.sleep(self.sleep), sleep=0.1 by default
                                if ctl.or_stop(tokio::time::sleep(Duration::from_millis(100))).await.is_none() {
                                    break;
                                }
                            } else {
                                // python-redis-lock: BLPOP the signal list, timeout = expire
                                let mut bl = redis::cmd("BLPOP");
                                bl.arg("lock-signal:hot").arg(10);
                                let fut = bl.query_async::<Value>(&mut c);
                                match ctl.or_stop(fut).await {
                                    None => break,
                                    Some(r) => {
                                        tryop!(st, r);
                                    }
                                }
                            }
                            continue;
                        }
                        on_acquired(&mut st, &ctl, None);
                        let _: i64 = tryop!(st, redis::cmd("INCR").arg("hot-counter").query_async(&mut c).await);
                        before_release();
                        if recipe == HotRecipe::RedisPyLock {
                            let r: i64 = tryop!(st, rpy.key("hot").arg(&owner).invoke_async(&mut c).await);
                            if r != 1 {
                                st.err = Some(format!("redis-py release returned {r}"));
                            }
                        } else {
                            let r: i64 = tryop!(
                                st,
                                prl.key("hot").key("lock-signal:hot").arg(&owner).arg(1000).invoke_async(&mut c).await
                            );
                            if r != 0 {
                                st.err = Some(format!("python-redis-lock unlock returned {r}"));
                            }
                        }
                    }
                    HotRecipe::EtcdLock => unreachable!(),
                }
            }
            st
        }
    })
    .await;
    (m, sh.violations.load(SeqCst), sh.token_regressions.load(SeqCst))
}

// ---------------------------------------------------------------------------------------------------------
// Workload 3: CAS on one hot key

async fn cas_hot(cfg: &Cfg, srv: &Server) -> Result<(Measured, String)> {
    let kind = srv.kind;
    let port = srv.port;
    let url = srv.url();
    // initial value 0
    if kind == Kind::Etcd {
        econn(&url).await?.put("cas", "0", None).await?;
    } else {
        let mut c = rconn(port).await?;
        redis::cmd("SET").arg("cas").arg(0).exec_async(&mut c).await?;
    }
    let total = Arc::new(AtomicU64::new(0));
    let total2 = total.clone();
    let m = run_clients(cfg, srv, cfg.clients, move |_i, ctl| {
        let url = url.clone();
        let total = total2.clone();
        async move {
            let mut st = TaskStats::default();
            if kind == Kind::Etcd {
                let mut c = match econn(&url).await {
                    Ok(c) => c,
                    Err(e) => {
                        st.err = Some(e.to_string());
                        ctl.ready().await;
                        return st;
                    }
                };
                ctl.ready().await;
                let mut t = Instant::now();
                while !ctl.stopped() {
                    let g = tryop!(st, c.get("cas", None).await);
                    let Some(kv) = g.kvs().first() else {
                        st.err = Some("cas key missing".into());
                        break;
                    };
                    let v: i64 = std::str::from_utf8(kv.value()).unwrap_or("0").parse().unwrap_or(0);
                    let rev = kv.mod_revision();
                    let txn = etcd_client::Txn::new()
                        .when([etcd_client::Compare::mod_revision("cas", etcd_client::CompareOp::Equal, rev)])
                        .and_then([etcd_client::TxnOp::put("cas", (v + 1).to_string(), None)]);
                    let r = tryop!(st, c.txn(txn).await);
                    if r.succeeded() {
                        total.fetch_add(1, Relaxed);
                        if ctl.measuring() {
                            st.ops += 1;
                            st.lat_ns.push(t.elapsed().as_nanos() as u64);
                        }
                        t = Instant::now();
                    } else if ctl.measuring() {
                        st.other += 1;
                    }
                }
                return st;
            }
            let mut c = match rconn(port).await {
                Ok(c) => c,
                Err(e) => {
                    st.err = Some(e.to_string());
                    ctl.ready().await;
                    return st;
                }
            };
            ctl.ready().await;
            let mut t = Instant::now();
            while !ctl.stopped() {
                let ok = if kind == Kind::Concord {
                    let g: Option<(i64, i64, i64)> =
                        tryop!(st, redis::cmd("KV.GET").arg("cas").query_async(&mut c).await);
                    let Some((v, _ver, rev)) = g else {
                        st.err = Some("cas key missing".into());
                        break;
                    };
                    let r: Option<i64> =
                        tryop!(st, redis::cmd("KV.CAS").arg("cas").arg(rev).arg(v + 1).query_async(&mut c).await);
                    r.is_some()
                } else {
                    tryop!(st, redis::cmd("WATCH").arg("cas").exec_async(&mut c).await);
                    let v: i64 = tryop!(st, redis::cmd("GET").arg("cas").query_async(&mut c).await);
                    let r: Value = tryop!(st, redis::pipe().atomic().set("cas", v + 1).query_async(&mut c).await);
                    !matches!(r, Value::Nil)
                };
                if ok {
                    total.fetch_add(1, Relaxed);
                    if ctl.measuring() {
                        st.ops += 1;
                        st.lat_ns.push(t.elapsed().as_nanos() as u64);
                    }
                    t = Instant::now();
                } else if ctl.measuring() {
                    st.other += 1;
                }
            }
            st
        }
    })
    .await;
    // the counter must equal the number of successful updates
    let fin: i64 = if kind == Kind::Etcd {
        let g = econn(&srv.url()).await?.get("cas", None).await?;
        std::str::from_utf8(g.kvs()[0].value())?.parse()?
    } else {
        let mut c = rconn(port).await?;
        redis::cmd("GET").arg("cas").query_async(&mut c).await?
    };
    let tot = total.load(SeqCst) as i64;
    let check = if fin == tot {
        format!("counter {fin} = successes: ok")
    } else {
        format!("COUNTER MISMATCH: final {fin} != successes {tot}")
    };
    Ok((m, check))
}

// ---------------------------------------------------------------------------------------------------------
// Workload 4: lease cycle, and random-key put

async fn lease_cycle(cfg: &Cfg, srv: &Server) -> Measured {
    let kind = srv.kind;
    let port = srv.port;
    let url = srv.url();
    run_clients(cfg, srv, cfg.clients, move |i, ctl| {
        let url = url.clone();
        async move {
            let mut st = TaskStats::default();
            let key = format!("svc/instance-{i}");
            if kind == Kind::Etcd {
                let mut c = match econn(&url).await {
                    Ok(c) => c,
                    Err(e) => {
                        st.err = Some(e.to_string());
                        ctl.ready().await;
                        return st;
                    }
                };
                ctl.ready().await;
                while !ctl.stopped() {
                    let t = Instant::now();
                    let id = tryop!(st, c.lease_grant(10, None).await).id();
                    let opts = etcd_client::PutOptions::new().with_lease(id);
                    tryop!(st, c.put(key.as_str(), "10.0.0.1:8080", Some(opts)).await);
                    tryop!(st, c.lease_revoke(id).await);
                    if ctl.measuring() {
                        st.ops += 1;
                        st.lat_ns.push(t.elapsed().as_nanos() as u64);
                    }
                }
                return st;
            }
            let mut c = match rconn(port).await {
                Ok(c) => c,
                Err(e) => {
                    st.err = Some(e.to_string());
                    ctl.ready().await;
                    return st;
                }
            };
            ctl.ready().await;
            while !ctl.stopped() {
                let t = Instant::now();
                let id: i64 = tryop!(st, redis::cmd("LEASE.GRANT").arg(10000).query_async(&mut c).await);
                let r: Option<i64> = tryop!(
                    st,
                    redis::cmd("KV.CAS").arg(&key).arg(0).arg("10.0.0.1:8080").arg("LEASE").arg(id).query_async(&mut c).await
                );
                if r.is_none() {
                    st.err = Some("KV.CAS with LEASE on a missing key returned nil".into());
                    break;
                }
                let n: Option<i64> = tryop!(st, redis::cmd("LEASE.REVOKE").arg(id).query_async(&mut c).await);
                if n != Some(1) {
                    st.err = Some(format!("LEASE.REVOKE returned {n:?}, expected 1"));
                    break;
                }
                if ctl.measuring() {
                    st.ops += 1;
                    st.lat_ns.push(t.elapsed().as_nanos() as u64);
                }
            }
            st
        }
    })
    .await
}

async fn put_random(cfg: &Cfg, srv: &Server) -> Measured {
    let kind = srv.kind;
    let port = srv.port;
    let url = srv.url();
    run_clients(cfg, srv, cfg.clients, move |i, ctl| {
        let url = url.clone();
        async move {
            let mut st = TaskStats::default();
            let mut rng = Rng::new(1000 + i as u64);
            let val = "v".repeat(16);
            if kind == Kind::Etcd {
                let mut c = match econn(&url).await {
                    Ok(c) => c,
                    Err(e) => {
                        st.err = Some(e.to_string());
                        ctl.ready().await;
                        return st;
                    }
                };
                ctl.ready().await;
                while !ctl.stopped() {
                    let key = format!("key:{}", rng.below(1_000_000));
                    let t = Instant::now();
                    tryop!(st, c.put(key, val.as_str(), None).await);
                    if ctl.measuring() {
                        st.ops += 1;
                        st.lat_ns.push(t.elapsed().as_nanos() as u64);
                    }
                }
                return st;
            }
            let mut c = match rconn(port).await {
                Ok(c) => c,
                Err(e) => {
                    st.err = Some(e.to_string());
                    ctl.ready().await;
                    return st;
                }
            };
            ctl.ready().await;
            while !ctl.stopped() {
                let key = format!("key:{}", rng.below(1_000_000));
                let t = Instant::now();
                tryop!(st, redis::cmd("SET").arg(key).arg(&val).exec_async(&mut c).await);
                if ctl.measuring() {
                    st.ops += 1;
                    st.lat_ns.push(t.elapsed().as_nanos() as u64);
                }
            }
            st
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// Workload 5: KV.WATCH fan-out

fn resp_cmd(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    v
}

fn resp_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rel = buf[pos..].iter().position(|&b| b == b'\n')?;
    let end = pos + rel;
    if end < pos + 2 {
        return None;
    }
    Some((&buf[pos + 1..end - 1], end + 1))
}

fn resp_int(s: &[u8]) -> i64 {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &b in d {
        n = n * 10 + (b.wrapping_sub(b'0')) as i64;
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Skips one RESP2/RESP3 value; None if incomplete.
fn resp_skip(buf: &[u8], pos: usize) -> Option<usize> {
    if pos >= buf.len() {
        return None;
    }
    let t = buf[pos];
    let (l, next) = resp_line(buf, pos)?;
    match t {
        b'$' | b'=' | b'!' => {
            let n = resp_int(l);
            if n < 0 {
                Some(next)
            } else {
                let end = next + n as usize + 2;
                (end <= buf.len()).then_some(end)
            }
        }
        b'*' | b'>' | b'~' | b'%' | b'|' => {
            let mut n = resp_int(l).max(0);
            if t == b'%' || t == b'|' {
                n *= 2;
            }
            let mut p = next;
            for _ in 0..n {
                p = resp_skip(buf, p)?;
            }
            Some(p)
        }
        _ => Some(next),
    }
}

/// One top-level frame: (end, Some(revision)) for a kv.watch push, (end, None) otherwise.
fn resp_event(buf: &[u8], pos: usize) -> Option<(usize, Option<i64>)> {
    let t = *buf.get(pos)?;
    if t != b'*' && t != b'>' {
        return Some((resp_skip(buf, pos)?, None));
    }
    let (l, mut p) = resp_line(buf, pos)?;
    let n = resp_int(l);
    if n != 7 {
        return Some((resp_skip(buf, pos)?, None));
    }
    let e0 = resp_skip(buf, p)?;
    let is_watch = buf[p..e0].ends_with(b"kv.watch\r\n");
    p = e0;
    p = resp_skip(buf, p)?; // watch id
    let (rl, rp) = resp_line(buf, p)?;
    let rev = resp_int(rl);
    p = rp;
    for _ in 0..4 {
        p = resp_skip(buf, p)?;
    }
    Some((p, is_watch.then_some(rev)))
}

struct WatcherState {
    count: AtomicU64,
    last_rev: AtomicU64,
    gone: AtomicBool,
    ready: AtomicBool,
    err: std::sync::Mutex<Option<String>>,
}

async fn watcher_task(port: u16, prefix: String, ws: Arc<WatcherState>, mut stop: watch::Receiver<bool>) {
    let r: Result<()> = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.set_nodelay(true)?;
        s.write_all(&resp_cmd(&["KV.WATCH", &prefix, "PREFIX"])).await?;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 18);
        let mut chunk = vec![0u8; 1 << 16];
        let mut first = true;
        loop {
            let n = tokio::select! {
                r = s.read(&mut chunk) => r?,
                _ = stop.wait_for(|v| *v) => return Ok(()),
            };
            if n == 0 {
                ws.gone.store(true, SeqCst);
                bail!("server closed the watch connection");
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut pos = 0;
            let mut cnt = 0u64;
            let mut last = None;
            while let Some((end, ev)) = resp_event(&buf, pos) {
                if first {
                    if buf[pos] == b'-' {
                        bail!("KV.WATCH: {}", String::from_utf8_lossy(&buf[pos..end]).trim());
                    }
                    first = false;
                    ws.ready.store(true, SeqCst);
                } else if let Some(r) = ev {
                    cnt += 1;
                    last = Some(r);
                }
                pos = end;
            }
            buf.drain(..pos);
            if cnt > 0 {
                ws.count.fetch_add(cnt, Relaxed);
                ws.last_rev.store(last.unwrap() as u64, Relaxed);
            }
        }
    }
    .await;
    if let Err(e) = r {
        *ws.err.lock().unwrap() = Some(e.to_string());
    }
}

struct WatchResult {
    mode: String,
    secs: f64,
    writes: u64,
    per_watcher: Vec<u64>,
    max_lag: u64,
    catch_up_ms: Option<f64>,
    gone: usize,
    errors: Vec<String>,
    server_cpu: f64,
    client_cpu: f64,
    other_cpu: f64,
    busiest_thread: f64,
    events_sent_info: Option<u64>,
}

async fn watch_fanout(cfg: &Cfg, srv: &Server, rate: Option<u64>) -> Result<WatchResult> {
    let port = srv.port;
    let (stop_tx, stop_rx) = watch::channel(false);
    let states: Vec<Arc<WatcherState>> = (0..cfg.watchers)
        .map(|_| {
            Arc::new(WatcherState {
                count: AtomicU64::new(0),
                last_rev: AtomicU64::new(0),
                gone: AtomicBool::new(false),
                ready: AtomicBool::new(false),
                err: Default::default(),
            })
        })
        .collect();
    let mut hs = vec![];
    for ws in &states {
        hs.push(tokio::spawn(watcher_task(port, "p:".into(), ws.clone(), stop_rx.clone())));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !states.iter().all(|w| w.ready.load(SeqCst)) {
        if Instant::now() > deadline {
            let e = states.iter().find_map(|w| w.err.lock().unwrap().clone());
            bail!("watchers not ready: {e:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut info_c = rconn(port).await?;
    let sent0 = info_field(&mut info_c, "watch_events_sent").await;
    // writer
    let written = Arc::new(AtomicU64::new(0));
    let wstop = Arc::new(AtomicBool::new(false));
    let writer = {
        let written = written.clone();
        let wstop = wstop.clone();
        let mut c = rconn(port).await?;
        tokio::spawn(async move {
            let val = "x".repeat(16);
            let mut i = 0u64;
            let batch: u64 = match rate {
                Some(r) => (r / 100).max(1),
                None => 200,
            };
            let mut iv = tokio::time::interval(Duration::from_millis(10));
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while !wstop.load(Relaxed) {
                if rate.is_some() {
                    iv.tick().await;
                }
                let mut p = redis::pipe();
                for _ in 0..batch {
                    p.cmd("SET").arg(format!("p:{}", i % 10_000)).arg(&val).ignore();
                    i += 1;
                }
                if let Err(e) = p.exec_async(&mut c).await {
                    return Err(e.to_string());
                }
                written.fetch_add(batch, SeqCst);
            }
            Ok(())
        })
    };
    tokio::time::sleep(cfg.warmup).await;
    let c0: Vec<u64> = states.iter().map(|w| w.count.load(SeqCst)).collect();
    let th0 = thread_cpus(srv.pid());
    let (w0, sc0, cc0, mb0, t0) = (written.load(SeqCst), srv.cpu(), proc_cpu("self"), machine_busy(), Instant::now());
    let mut max_lag = 0u64;
    while t0.elapsed() < cfg.dur {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let w = written.load(SeqCst);
        let min = states.iter().map(|s| s.count.load(SeqCst)).min().unwrap_or(0);
        max_lag = max_lag.max(w.saturating_sub(min));
    }
    let secs = t0.elapsed().as_secs_f64();
    let c1: Vec<u64> = states.iter().map(|w| w.count.load(SeqCst)).collect();
    let (w1, sc1, cc1, mb1) = (written.load(SeqCst), srv.cpu(), proc_cpu("self"), machine_busy());
    let busiest = busiest_thread(&th0, &thread_cpus(srv.pid()));
    wstop.store(true, SeqCst);
    let mut errors = vec![];
    if let Ok(Err(e)) = writer.await {
        errors.push(format!("writer: {e}"));
    }
    let total = written.load(SeqCst);
    // catch-up: how long after the last acknowledged write until every live watcher has every event
    let tc = Instant::now();
    let mut catch_up_ms = None;
    while tc.elapsed() < Duration::from_secs(30) {
        if states.iter().all(|s| s.gone.load(SeqCst) || s.count.load(SeqCst) >= total) {
            catch_up_ms = Some(tc.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let sent1 = info_field(&mut info_c, "watch_events_sent").await;
    let _ = stop_tx.send(true);
    for h in hs {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    for s in &states {
        if let Some(e) = s.err.lock().unwrap().clone() {
            errors.push(e);
        }
    }
    let gone = states.iter().filter(|s| s.gone.load(SeqCst)).count();
    Ok(WatchResult {
        mode: match rate {
            Some(r) => format!("writer paced at {}k SET/s", r / 1000),
            None => "writer at max rate (pipelined 200)".into(),
        },
        secs,
        writes: w1 - w0,
        per_watcher: c1.iter().zip(&c0).map(|(a, b)| a - b).collect(),
        max_lag,
        catch_up_ms,
        gone,
        errors,
        server_cpu: sc1 - sc0,
        client_cpu: cc1 - cc0,
        other_cpu: ((mb1 - mb0) - (sc1 - sc0) - (cc1 - cc0)).max(0.0),
        busiest_thread: busiest,
        events_sent_info: match (sent0, sent1) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        },
    })
}

async fn info_field(c: &mut MultiplexedConnection, field: &str) -> Option<u64> {
    let s: String = redis::cmd("INFO").arg("coordination").query_async(c).await.ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------------------
// Workload 6: memory

async fn settle_rss(pid: u32) -> u64 {
    // let the allocator and lazy work settle, take the last of a few readings
    let mut r = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        r = vm_rss_bytes(pid);
    }
    r
}

async fn mem_lock_keys(cfg: &Cfg, srv: &Server, use_lock_cmd: bool) -> Result<(f64, String)> {
    let n = if srv.kind == Kind::Etcd { cfg.etcd_mem_keys } else { cfg.mem_keys };
    let pid = srv.pid();
    if srv.kind == Kind::Etcd {
        // One lease (session) per writer task, as each etcd client holding locks has its own session. etcd 3.4
        // slows down sharply as keys pile up on one lease, so the run is also capped at 60 s.
        let mut c = econn(&srv.url()).await?;
        let r0 = settle_rss(pid).await;
        let next = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(60);
        let t0 = Instant::now();
        let mut hs = vec![];
        for t in 0..32 {
            let mut c = econn(&srv.url()).await?;
            let lease = c.lease_grant(3600, None).await?.id();
            let (next, done) = (next.clone(), done.clone());
            hs.push(tokio::spawn(async move {
                let mut rng = Rng::new(t + 5);
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= n || Instant::now() > deadline {
                        break;
                    }
                    let opts = etcd_client::PutOptions::new().with_lease(lease);
                    c.put(format!("lock:resource:{i}"), rng.hex32(), Some(opts)).await?;
                    done.fetch_add(1, Relaxed);
                }
                Ok::<_, etcd_client::Error>(())
            }));
        }
        for h in hs {
            h.await??;
        }
        let secs = t0.elapsed().as_secs_f64();
        let r1 = settle_rss(pid).await;
        let cnt = c.get("lock:", Some(etcd_client::GetOptions::new().with_prefix().with_count_only())).await?.count();
        let k = done.load(SeqCst).max(1);
        return Ok((
            (r1 as f64 - r0 as f64) / k as f64,
            format!("{k} keys put with one lease per writer task, 32 tasks, in {secs:.1} s (count {cnt})"),
        ));
    }
    let mut c = rconn(srv.port).await?;
    let h0 = info_field(&mut c, "watch_history_bytes").await;
    let r0 = settle_rss(pid).await;
    let mut rng = Rng::new(9);
    let mut i = 0;
    while i < n {
        let mut p = redis::pipe();
        for _ in 0..1000.min(n - i) {
            let key = format!("lock:resource:{i}");
            let owner = rng.hex32();
            if use_lock_cmd {
                p.cmd("LOCK.ACQUIRE").arg(key).arg(owner).arg("PX").arg(3_600_000).ignore();
            } else {
                p.cmd("SET").arg(key).arg(owner).arg("NX").arg("PX").arg(3_600_000).ignore();
            }
            i += 1;
        }
        p.exec_async(&mut c).await?;
    }
    let r1 = settle_rss(pid).await;
    let db: i64 = redis::cmd("DBSIZE").query_async(&mut c).await?;
    let mut note = format!("{n} keys, DBSIZE {db}");
    if let Ok(info) = redis::cmd("INFO").arg("memory").query_async::<String>(&mut c).await {
        if let Some(u) = info.lines().find_map(|l| l.strip_prefix("used_memory:")) {
            note.push_str(&format!(", used_memory after {}", u.trim()));
        }
    }
    if let (Some(a), Some(b)) = (h0, info_field(&mut c, "watch_history_bytes").await) {
        let units = info_field(&mut c, "watch_history_units").await.unwrap_or(0);
        note.push_str(&format!(
            "; of which watch history (kept with no watcher open) {:.1} B/key: watch_history_bytes +{} for {} retained revisions",
            (b as f64 - a as f64) / n as f64,
            b as i64 - a as i64,
            units
        ));
    }
    Ok(((r1 as f64 - r0 as f64) / n as f64, note))
}

async fn mem_watch_history(cfg: &Cfg, srv: &Server) -> Result<String> {
    let port = srv.port;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ws = Arc::new(WatcherState {
        count: AtomicU64::new(0),
        last_rev: AtomicU64::new(0),
        gone: AtomicBool::new(false),
        ready: AtomicBool::new(false),
        err: Default::default(),
    });
    let h = tokio::spawn(watcher_task(port, "p:".into(), ws.clone(), stop_rx));
    while !ws.ready.load(SeqCst) {
        if let Some(e) = ws.err.lock().unwrap().clone() {
            bail!("watch: {e}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut c = rconn(port).await?;
    let u0 = info_field(&mut c, "watch_history_units").await.unwrap_or(0);
    let b0 = info_field(&mut c, "watch_history_bytes").await.unwrap_or(0);
    let rss0 = settle_rss(srv.pid()).await;
    let n = cfg.hist_writes;
    let val = "v".repeat(16);
    let mut i = 0;
    while i < n {
        let mut p = redis::pipe();
        for _ in 0..1000.min(n - i) {
            p.cmd("SET").arg(format!("p:key:{i}")).arg(&val).ignore();
            i += 1;
        }
        p.exec_async(&mut c).await?;
    }
    let rss1 = settle_rss(srv.pid()).await;
    let u1 = info_field(&mut c, "watch_history_units").await.unwrap_or(0);
    let b1 = info_field(&mut c, "watch_history_bytes").await.unwrap_or(0);
    let maxb = info_field(&mut c, "watch_history_max_bytes").await.unwrap_or(0);
    let oldest = info_field(&mut c, "watch_history_oldest_revision").await.unwrap_or(0);
    let got = ws.count.load(SeqCst);
    let _ = stop_tx.send(true);
    let _ = h.await;
    let du = u1.saturating_sub(u0);
    let db = b1.saturating_sub(b0);
    Ok(format!(
        "{n} SETs (16-byte values, keys 'p:key:N') with one KV.WATCH p: PREFIX open: watch_history_units {u0} -> {u1}, \
         watch_history_bytes {b0} -> {b1} => {:.1} B per retained revision (history bound {maxb} B, oldest rev {oldest}); \
         RSS delta {:.1} B per write (includes the {n} keys themselves); watcher received {got} events",
        if du > 0 { db as f64 / du as f64 } else { f64::NAN },
        (rss1 as f64 - rss0 as f64) / n as f64
    ))
}

// ---------------------------------------------------------------------------------------------------------
// main

fn parse_args() -> Result<Cfg> {
    let mut quick = false;
    let mut only = None;
    let mut concord_bin =
        PathBuf::from(std::env::var("CONCORD_BIN").unwrap_or_else(|_| "/work/main/target/release/concord".into()));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--only" => {
                only = Some(args.next().ok_or_else(|| anyhow!("--only needs a list"))?.split(',').map(String::from).collect())
            }
            "--concord-bin" => concord_bin = PathBuf::from(args.next().ok_or_else(|| anyhow!("--concord-bin needs a path"))?),
            "-h" | "--help" => {
                println!(
                    "usage: coordination-bench [--quick] [--only lock,hot,cas,lease,put,watch,mem] [--concord-bin PATH]"
                );
                std::process::exit(0);
            }
            _ => bail!("unknown argument {a}"),
        }
    }
    let workdir = std::env::temp_dir().join(format!("concord-coord-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    Ok(Cfg {
        quick,
        warmup: Duration::from_millis(if quick { 500 } else { 1000 }),
        dur: Duration::from_secs(if quick { 2 } else { 8 }),
        clients: 50,
        mem_keys: if quick { 50_000 } else { 200_000 },
        etcd_mem_keys: if quick { 10_000 } else { 50_000 },
        hist_writes: if quick { 20_000 } else { 50_000 },
        watchers: 100,
        watch_rate: 50_000,
        concord_bin,
        only,
        workdir,
    })
}

fn humantime(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| secs.to_string())
}

fn loadavg() -> (String, ()) {
    (std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string(), ())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

struct Targets(Vec<String>);
impl Targets {
    fn check(&mut self, what: String, ok: bool) {
        self.0.push(format!("  [{}] {}", if ok { "MET " } else { "MISS" }, what));
    }
}

fn cpu_per_op(m: &Measured) -> f64 {
    m.server_cpu / m.ops.max(1) as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let cfg = parse_args()?;
    now_ns();
    if !cfg.concord_bin.exists() {
        bail!("{} not found (set CONCORD_BIN or build with cargo build --release)", cfg.concord_bin.display());
    }
    println!(
        "# Concord coordination benchmark ({} mode): {} clients, warm-up {:?}, measured {:?} per run; machine: {} cores",
        if cfg.quick { "quick" } else { "full" },
        cfg.clients,
        cfg.warmup,
        cfg.dur,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("# client: this Rust binary (redis {} / etcd-client), tokio with 2 worker threads, one connection per client", "1.8");
    let meta = std::fs::metadata(&cfg.concord_bin)?;
    let snap = cfg.workdir.join("concord");
    std::fs::copy(&cfg.concord_bin, &snap)?;
    println!(
        "# concord binary: {} ({} bytes, modified {}), copied to {} so a rebuild during the run cannot change it",
        cfg.concord_bin.display(),
        meta.len(),
        meta.modified().ok().map(humantime).unwrap_or_default(),
        snap.display()
    );
    let mut cfg = cfg;
    cfg.concord_bin = snap;
    let cfg = cfg;
    let (la, _) = loadavg();
    println!("# load average at start: {la}");
    {
        println!("# persistence:");
        for k in [Kind::Concord, Kind::Redis, Kind::Etcd] {
            let s = Server::start(k, &cfg).await?;
            println!("#   {}", s.persistence().await);
        }
    }
    println!();
    let mut rows: Vec<Row> = vec![];
    let mut extra: Vec<String> = vec![];
    let mut t = Targets(vec![]);
    let flush = |rows: &[Row]| {
        if let Some(r) = rows.last() {
            print_row_lines(std::slice::from_ref(r));
        }
    };

    macro_rules! row {
        ($w:expr, $tg:expr, $m:expr, $unit:expr, $lat:expr, $note:expr) => {{
            rows.push(Row { workload: $w, target: $tg.to_string(), m: $m, unit: $unit, lat_label: $lat, note: $note });
            flush(&rows);
            rows.len() - 1
        }};
    }
    print_header();

    // 1. lock cycle on random keys
    if cfg.wants("lock") {
        let s = Server::start(Kind::Concord, &cfg).await?;
        let m = lock_random(&cfg, &s).await;
        drop(s);
        let note = format!("{} not acquired (key collisions)", m.other);
        let ic = row!("lock-random", "concord LOCK.ACQUIRE+RELEASE", m, "cycles/s", "cycle", note);
        let s = Server::start(Kind::Redis, &cfg).await?;
        let m = lock_random(&cfg, &s).await;
        drop(s);
        let note = format!("{} not acquired (key collisions)", m.other);
        let ir = row!("lock-random", "redis SET NX PX + EVALSHA release", m, "cycles/s", "cycle", note);
        let (c, r) = (&rows[ic].m, &rows[ir].m);
        let x = ratio(c.rate(), r.rate());
        t.check(format!("lock cycle random keys: Concord {:.2}x Redis cycles/s (target >= 1.5x)", x), x >= 1.5);
        let y = ratio(cpu_per_op(c), cpu_per_op(r));
        t.check(format!("lock cycle random keys: Concord server CPU/cycle {:.2}x Redis (target <= 0.7x)", y), y <= 0.7);
    }

    // 2. one hot lock
    if cfg.wants("hot") {
        let mut idx = vec![];
        for (kind, recipe, label) in [
            (Kind::Concord, HotRecipe::ConcordWait, "concord LOCK.ACQUIRE WAIT"),
            (Kind::Redis, HotRecipe::RedisPyLock, "redis redis-py Lock (sleep 0.1)"),
            (Kind::Redis, HotRecipe::PythonRedisLock, "redis python-redis-lock (BLPOP)"),
            (Kind::Etcd, HotRecipe::EtcdLock, "etcd lock API (lease)"),
        ] {
            let s = Server::start(kind, &cfg).await?;
            let (m, viol, regress) = hot_lock(&cfg, &s, recipe).await;
            drop(s);
            let minmax = (m.per_task.iter().min().copied().unwrap_or(0), m.per_task.iter().max().copied().unwrap_or(0));
            let note = format!(
                "{} hand-overs/s to another client; per-client acquisitions min {} max {}; exclusion violations {}{}",
                fmt_rate(m.ops2 as f64 / m.secs),
                minmax.0,
                minmax.1,
                viol,
                if recipe == HotRecipe::ConcordWait || recipe == HotRecipe::EtcdLock {
                    format!(", token regressions {regress}")
                } else {
                    String::new()
                }
            );
            idx.push((recipe, row!("hot-lock", label, m, "acq/s", "hand-over", note)));
        }
        let get = |r: HotRecipe| idx.iter().find(|x| x.0 == r).map(|x| &rows[x.1].m);
        let c = get(HotRecipe::ConcordWait).unwrap();
        let ho = |m: &Measured| m.ops2 as f64 / m.secs;
        let p99 = c.pct(99.0).unwrap_or(f64::NAN);
        t.check(format!("hot lock: Concord hand-over p99 {:.0} us (target < 1000 us)", p99), p99 < 1000.0);
        for r in [HotRecipe::RedisPyLock, HotRecipe::PythonRedisLock] {
            let o = get(r).unwrap();
            let x = ratio(ho(c), ho(o));
            t.check(format!("hot lock: Concord {:.1}x the hand-overs/s of {:?} on Redis (target >= 5x)", x, r), x >= 5.0);
        }
        let e = get(HotRecipe::EtcdLock).unwrap();
        extra.push(format!(
            "hot lock: Concord {:.1}x etcd's hand-overs/s (no target; issue's reference: etcd 490/s, p99 45 ms)",
            ratio(ho(c), ho(e))
        ));
    }

    // 3. CAS on one hot key
    if cfg.wants("cas") {
        let mut ms = vec![];
        for (kind, label) in [
            (Kind::Concord, "concord KV.GET + KV.CAS"),
            (Kind::Redis, "redis WATCH/GET/MULTI/SET/EXEC"),
            (Kind::Etcd, "etcd get + txn(mod_revision)"),
        ] {
            let s = Server::start(kind, &cfg).await?;
            let (m, check) = cas_hot(&cfg, &s).await?;
            drop(s);
            let note = format!(
                "{} conflicts/s ({:.1} attempts per success); {}",
                fmt_rate(m.other as f64 / m.secs),
                (m.ops + m.other) as f64 / m.ops.max(1) as f64,
                check
            );
            ms.push(row!("cas-hot", label, m, "updates/s", "update", note));
        }
        let (c, r, e) = (&rows[ms[0]].m, &rows[ms[1]].m, &rows[ms[2]].m);
        let x = ratio(c.rate(), r.rate());
        t.check(format!("CAS hot key: Concord {:.2}x Redis WATCH/MULTI/EXEC successful updates/s (target >= 3x)", x), x >= 3.0);
        let y = ratio(c.rate(), e.rate());
        t.check(format!("CAS hot key: Concord {:.1}x etcd txn CAS (target >= 20x)", y), y >= 20.0);
        extra.push(format!(
            "CAS hot key, server CPU per successful update: Concord {:.1} us, Redis {:.1} us, etcd {:.1} us",
            cpu_per_op(c) * 1e6,
            cpu_per_op(r) * 1e6,
            cpu_per_op(e) * 1e6
        ));
    }

    // 4. lease cycle and random put
    if cfg.wants("lease") {
        let s = Server::start(Kind::Concord, &cfg).await?;
        let m = lease_cycle(&cfg, &s).await;
        drop(s);
        let ic = row!("lease-cycle", "concord GRANT+KV.CAS LEASE+REVOKE", m, "cycles/s", "cycle", String::new());
        let s = Server::start(Kind::Etcd, &cfg).await?;
        let m = lease_cycle(&cfg, &s).await;
        drop(s);
        let ie = row!("lease-cycle", "etcd grant+put(lease)+revoke", m, "cycles/s", "cycle", String::new());
        let (c, e) = (&rows[ic].m, &rows[ie].m);
        let x = ratio(cpu_per_op(e), cpu_per_op(c));
        t.check(format!("lease cycle: Concord {:.1}x etcd per server CPU second (target >= 10x); {:.1}x the cycles/s", x, ratio(c.rate(), e.rate())), x >= 10.0);
    }
    if cfg.wants("put") {
        let mut ms = vec![];
        for (kind, label) in [(Kind::Concord, "concord SET"), (Kind::Redis, "redis SET"), (Kind::Etcd, "etcd put")] {
            let s = Server::start(kind, &cfg).await?;
            let m = put_random(&cfg, &s).await;
            drop(s);
            ms.push(row!("put-random", label, m, "puts/s", "put", String::new()));
        }
        let (c, r, e) = (&rows[ms[0]].m, &rows[ms[1]].m, &rows[ms[2]].m);
        let x = ratio(cpu_per_op(e), cpu_per_op(c));
        t.check(format!("random put: Concord {:.1}x etcd per server CPU second (target >= 10x); {:.1}x the puts/s", x, ratio(c.rate(), e.rate())), x >= 10.0);
        extra.push(format!(
            "random put: Concord {:.2}x Redis puts/s, server CPU per put {:.2}x Redis (no target)",
            ratio(c.rate(), r.rate()),
            ratio(cpu_per_op(c), cpu_per_op(r))
        ));
    }

    let mut watch_lines = vec![];
    if cfg.wants("watch") {
        for rate in [Some(cfg.watch_rate), None] {
            let s = Server::start(Kind::Concord, &cfg).await?;
            let w = watch_fanout(&cfg, &s, rate).await;
            drop(s);
            let w = match w {
                Ok(w) => w,
                Err(e) => {
                    watch_lines.push(format!("  watch fan-out failed: {e}"));
                    continue;
                }
            };
            let mut pw = w.per_watcher.clone();
            pw.sort_unstable();
            let r = |x: u64| x as f64 / w.secs;
            let wr = r(w.writes);
            let min = r(pw[0]);
            let med = r(pw[pw.len() / 2]);
            let behind = pw.iter().filter(|&&x| (x as f64) < 0.95 * w.writes as f64).count();
            let line = format!(
                "  {} watchers, {}: writes {}/s; per-watcher events/s min {} median {} max {}; {} of {} watchers below 95% of the write rate; \
                 max lag {} events (~{:.0} ms at the write rate); catch-up after writes stop {}; {} disconnected; \
                 server CPU {:.0}% (busiest server thread {:.0}%; {:.2} us per delivered event), client CPU {:.0}%, other processes {:.0}%{}{}",
                cfg.watchers,
                w.mode,
                fmt_rate(wr),
                fmt_rate(min),
                fmt_rate(med),
                fmt_rate(r(*pw.last().unwrap())),
                behind,
                pw.len(),
                w.max_lag,
                w.max_lag as f64 / wr.max(1.0) * 1000.0,
                match w.catch_up_ms {
                    Some(ms) => format!("{ms:.0} ms"),
                    None => "NOT within 30 s".into(),
                },
                w.gone,
                w.server_cpu / w.secs * 100.0,
                w.busiest_thread / w.secs * 100.0,
                w.server_cpu / pw.iter().sum::<u64>().max(1) as f64 * 1e6,
                w.client_cpu / w.secs * 100.0,
                w.other_cpu / w.secs * 100.0,
                match w.events_sent_info {
                    Some(n) => format!("; INFO watch_events_sent +{n} over the run"),
                    None => String::new(),
                },
                if w.errors.is_empty() { String::new() } else { format!("; ERRORS: {}", w.errors[0]) }
            );
            println!("watch-fanout {line}");
            if rate.is_some() {
                let ok = min >= 0.95 * cfg.watch_rate as f64 && behind == 0 && w.gone == 0 && w.catch_up_ms.is_some_and(|x| x < 1000.0);
                t.check(
                    format!(
                        "watch fan-out: each of {} watchers receives {}k events/s without falling behind (slowest got {}/s, max lag {} events, {} disconnected)",
                        cfg.watchers,
                        cfg.watch_rate / 1000,
                        fmt_rate(min),
                        w.max_lag,
                        w.gone
                    ),
                    ok,
                );
            }
            watch_lines.push(line);
        }
    }

    let mut mem_lines = vec![];
    if cfg.wants("mem") {
        let mut per = std::collections::HashMap::new();
        for (k, lockcmd) in [(Kind::Concord, true), (Kind::Concord, false), (Kind::Redis, false), (Kind::Etcd, false)] {
            let s = Server::start(k, &cfg).await?;
            match mem_lock_keys(&cfg, &s, lockcmd).await {
                Ok((b, note)) => {
                    let what = match k {
                        Kind::Concord if lockcmd => "LOCK.ACQUIRE key owner PX",
                        Kind::Etcd => "put key owner (lease)",
                        _ => "SET key owner NX PX",
                    };
                    let l = format!("  {:<8} {:<26} {:>7.1} B RSS per lock key ({note})", k.name(), what, b);
                    println!("memory {l}");
                    mem_lines.push(l);
                    if lockcmd || k != Kind::Concord {
                        per.insert(k, b);
                    }
                }
                Err(e) => mem_lines.push(format!("  {}: memory run failed: {e}", k.name())),
            }
        }
        if let (Some(c), Some(r)) = (per.get(&Kind::Concord), per.get(&Kind::Redis)) {
            let x = c / r;
            t.check(format!("memory: Concord lock key {:.2}x Redis's SET NX PX key (target <= 1.25x)", x), x <= 1.25);
        }
        let s = Server::start(Kind::Concord, &cfg).await?;
        match mem_watch_history(&cfg, &s).await {
            Ok(l) => {
                println!("memory   watch history: {l}");
                mem_lines.push(format!("  watch history: {l}"));
            }
            Err(e) => mem_lines.push(format!("  watch history failed: {e}")),
        }
    }

    println!("\n================ REPORT ================");
    print_rows(&rows);
    if !watch_lines.is_empty() {
        println!("\nKV.WATCH fan-out (concord, 100 watchers on KV.WATCH p: PREFIX, RESP2 watch mode):");
        for l in &watch_lines {
            println!("{l}");
        }
    }
    if !mem_lines.is_empty() {
        println!("\nMemory (VmRSS delta of the server process, fresh server each):");
        for l in &mem_lines {
            println!("{l}");
        }
    }
    println!("\nTargets (issue 13):");
    for l in &t.0 {
        println!("{l}");
    }
    for l in &extra {
        println!("  [info] {l}");
    }
    println!(
        "\nColumns: rate = operations completed per second in the measured window; p50/p99 = latency of the bracketed thing; \
         srvCPU/op = server utime+stime (/proc/<pid>/stat) over the window / operations; srv% / cli% / oth% = CPU of the server / \
         this client / every other process on the machine (200% = both cores; a large oth% means a noisy run)."
    );
    let _ = std::fs::remove_dir_all(&cfg.workdir);
    let _ = Path::new("");
    Ok(())
}
