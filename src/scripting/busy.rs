//! Busy scripts: the state of the one script (EVAL or FCALL) running now, the `-BUSY` gate every other
//! command passes, SCRIPT KILL / FUNCTION KILL, and how a long script gets off the runtime's worker.
//!
//! Scripts and EXEC run under the exclusive side of `State::exec_lock`, every other command under the
//! shared side. The runtime may have a single worker thread, so two things must hold while a script runs
//! long:
//!
//! * **The script does not keep the worker.** Short scripts run inline (no thread hand-off, which would
//!   cost more than the script). The Lua count hook (every `HOOK_EVERY` instructions) notices when the
//!   script has run for `HANDOFF_AFTER` (or busy-reply-threshold, if smaller) and hands the worker's
//!   core to another thread with `tokio::task::block_in_place`: it spawns a marker task and waits in the
//!   blocking section until that task ran, which proves a new thread owns the core; since leaving
//!   `block_in_place` may take back a core another thread just set down, a second marker, spawned after
//!   it, must also run elsewhere (see `hand_off_worker`). The script then goes on core-less on its
//!   thread, and every other connection is served by the new worker.
//! * **Waiting for the exec lock does not park a worker.** `acquire` tries the lock; on contention it
//!   retries briefly in place (scripts and EXECs are usually microseconds), then waits inside
//!   `block_in_place`, waking every few ms to check the busy state. Once the running script passed
//!   busy-reply-threshold (the hook sets `timed_out`, as Redis's hook does), a waiting command is answered
//!   `-BUSY` at once, except the commands flagged ALLOW_BUSY in their spec (SCRIPT KILL, FUNCTION KILL |
//!   STATS, SHUTDOWN, AUTH, HELLO, MULTI, DISCARD, WATCH, UNWATCH, QUIT, RESET), which then run without the
//!   exec lock, as Redis runs them from inside its script hook.
//!
//! This module holds the mechanics (run state, lock waits, the hook); which side of the lock a command
//! takes, and the `-BUSY` / `EXECABORT` errors it gets, are dispatch's, read from its spec
//! (`commands::scripting::acquire`).
//!
//! SCRIPT KILL sets `kill`; the hook raises "Script killed by user with SCRIPT KILL..." and, from then on,
//! checks on every line, so a `pcall` in the script cannot swallow it. A script that already wrote cannot
//! be killed (UNKILLABLE), as its writes cannot be undone; SHUTDOWN NOSAVE ends the process around it
//! (the hook also stops a script once shutdown was requested, so no thread keeps running Lua).

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The Lua count hook runs every this many VM instructions (Redis uses 100000; checks are cheap).
pub const HOOK_EVERY: u32 = 10_000;
/// A script running this long leaves the worker thread to the other connections.
const HANDOFF_AFTER: Duration = Duration::from_millis(10);
/// How long a contended lock is retried in place before the waiter leaves the worker.
const SPIN_FOR: Duration = Duration::from_micros(500);
/// How often a waiter outside the worker wakes to check for a busy script.
const WAIT_SLICE: Duration = Duration::from_millis(2);

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
/// The error a killed script raises (its caller sees it with the script's sha and line appended).
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// What kind of script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Eval = 1,
    Function = 2,
}

/// The running script, if any. Only one script runs at a time (it holds the exclusive exec lock), so
/// single-slot atomics suffice; they are written by the script's thread and read by everyone. Cloning
/// shares the state (the Lua hook keeps a clone).
#[derive(Default, Clone)]
pub struct RunState(Arc<RunInner>);

#[derive(Default)]
pub struct RunInner {
    /// 0 = none, else `Kind`.
    kind: AtomicU8,
    /// Ran past busy-reply-threshold: other clients get -BUSY.
    timed_out: AtomicBool,
    /// Executed a write (cannot be killed).
    wrote: AtomicBool,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    kill: AtomicBool,
    /// Function name (or sha) and the command that runs it, for FUNCTION STATS.
    /// (running, name, argv): the buffers are reused from run to run.
    running: parking_lot::Mutex<(bool, String, Vec<bytes::Bytes>)>,
    /// When it started, in µs since `base`.
    started_us: AtomicU64,
    base: std::sync::OnceLock<Instant>,
}

/// Marks a script as running until dropped.
pub struct Running<'a> {
    state: &'a RunState,
    pub started: Instant,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let s = &self.state.0;
        s.kind.store(0, Ordering::SeqCst);
        s.timed_out.store(false, Ordering::SeqCst);
        s.kill.store(false, Ordering::SeqCst);
        s.wrote.store(false, Ordering::SeqCst);
        let mut r = s.running.lock();
        r.0 = false;
        r.2.clear();
    }
}

impl RunState {
    /// Marks a script of `kind` as running (the caller holds the exclusive exec lock).
    pub fn begin(&self, kind: Kind, name: &str, argv: &[bytes::Bytes]) -> Running<'_> {
        let started = Instant::now();
        let base = *self.0.base.get_or_init(Instant::now);
        self.0.started_us.store(
            started.saturating_duration_since(base).as_micros() as u64,
            Ordering::Relaxed,
        );
        self.0.timed_out.store(false, Ordering::SeqCst);
        self.0.kill.store(false, Ordering::SeqCst);
        self.0.wrote.store(false, Ordering::SeqCst);
        {
            let mut r = self.0.running.lock();
            r.0 = true;
            r.1.clear();
            r.1.push_str(name);
            r.2.clear();
            r.2.extend_from_slice(argv);
        }
        self.0.kind.store(kind as u8, Ordering::SeqCst);
        Running {
            state: self,
            started,
        }
    }

    /// The kind of script running now, if any.
    pub fn kind(&self) -> Option<Kind> {
        match self.0.kind.load(Ordering::SeqCst) {
            1 => Some(Kind::Eval),
            2 => Some(Kind::Function),
            _ => None,
        }
    }

    /// Milliseconds the running script has run (0 when none runs).
    pub fn running_ms(&self) -> u64 {
        if self.kind().is_none() {
            return 0;
        }
        let Some(base) = self.0.base.get() else {
            return 0;
        };
        let now = Instant::now().saturating_duration_since(*base).as_micros() as u64;
        now.saturating_sub(self.0.started_us.load(Ordering::Relaxed)) / 1000
    }

    /// The running script's kind once it has passed busy-reply-threshold.
    pub fn busy(&self) -> Option<Kind> {
        if self.0.timed_out.load(Ordering::SeqCst) {
            self.kind()
        } else {
            None
        }
    }

    /// Records that the running script wrote (it can no longer be killed).
    pub fn mark_wrote(&self) {
        self.0.wrote.store(true, Ordering::SeqCst);
    }

    /// SCRIPT KILL (`eval` true) or FUNCTION KILL: Redis's checks and errors, in Redis's order.
    pub fn request_kill(&self, eval: bool) -> Result<(), &'static str> {
        let Some(kind) = self.kind() else {
            return Err(NOTBUSY);
        };
        if self.0.wrote.load(Ordering::SeqCst) {
            return Err(UNKILLABLE);
        }
        match (eval, kind) {
            (true, Kind::Function) => return Err(BUSY_FUNCTION),
            (false, Kind::Eval) => return Err(BUSY_EVAL),
            _ => {}
        }
        self.0.kill.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// True once a kill was requested.
    pub fn kill_requested(&self) -> bool {
        self.0.kill.load(Ordering::SeqCst)
    }

    /// The running script's name and command line (FUNCTION STATS).
    pub fn running(&self) -> Option<(String, Vec<bytes::Bytes>)> {
        let r = self.0.running.lock();
        r.0.then(|| (r.1.clone(), r.2.clone()))
    }

    fn set_timed_out(&self) {
        self.0.timed_out.store(true, Ordering::SeqCst);
    }
}

/// What dispatch holds while a command runs.
pub enum ExecGuard<'a> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
    /// An ALLOW_BUSY command running while a script is busy: it takes no lock (the script holds it).
    Unlocked,
}

/// Takes the exclusive (`exclusive`) or the shared side of the exec lock `lock`, without parking a
/// runtime worker on a long wait. Once the script in `run` passed busy-reply-threshold, a waiter gets
/// `Err` with the script's kind, or `Ok(ExecGuard::Unlocked)` when it may run beside the script
/// (`allow_busy`, the ALLOW_BUSY commands).
pub fn acquire<'a>(
    lock: &'a RwLock<()>,
    run: &RunState,
    exclusive: bool,
    allow_busy: bool,
) -> Result<ExecGuard<'a>, Kind> {
    if exclusive {
        if let Some(g) = lock.try_write() {
            return Ok(ExecGuard::Exclusive(g));
        }
        wait(run, allow_busy, |d| lock.try_write_for(d)).map(|g| match g {
            Some(g) => ExecGuard::Exclusive(g),
            None => ExecGuard::Unlocked,
        })
    } else {
        if let Some(g) = lock.try_read() {
            return Ok(ExecGuard::Shared(g));
        }
        wait(run, allow_busy, |d| lock.try_read_for(d)).map(|g| match g {
            Some(g) => ExecGuard::Shared(g),
            None => ExecGuard::Unlocked,
        })
    }
}

/// Takes the shared side for work that cannot be refused (serving blocked clients), waiting as
/// `acquire` does.
pub fn shared(lock: &RwLock<()>) -> RwLockReadGuard<'_, ()> {
    if let Some(g) = lock.try_read() {
        return g;
    }
    if let Some(g) = lock.try_read_for(SPIN_FOR) {
        return g;
    }
    off_worker(|| lock.read())
}

/// The contended path of `acquire`: Ok(Some) when taken, Ok(None) when an ALLOW_BUSY command should
/// run unlocked beside a busy script, Err(kind) for any other command then.
fn wait<G>(
    run: &RunState,
    allow_busy: bool,
    try_for: impl Fn(Duration) -> Option<G>,
) -> Result<Option<G>, Kind> {
    let busy = |run: &RunState| match run.busy() {
        Some(_) if allow_busy => Some(Ok(None)),
        Some(kind) => Some(Err(kind)),
        None => None,
    };
    if let Some(r) = busy(run) {
        return r;
    }
    if let Some(g) = try_for(SPIN_FOR) {
        return Ok(Some(g));
    }
    off_worker(|| {
        loop {
            if let Some(r) = busy(run) {
                return r;
            }
            if let Some(g) = try_for(WAIT_SLICE) {
                return Ok(Some(g));
            }
        }
    })
}

/// Runs a blocking wait so that it does not hold a runtime worker: inside `block_in_place` on the
/// multi-threaded runtime, plainly elsewhere (tests, replay, a current-thread runtime).
pub fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    if on_multi_thread_runtime() {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// What the count hook decides.
pub enum HookVerdict {
    Continue,
    /// Stop the script with this error text.
    Stop(&'static str),
}

/// Per-script hook state: the busy-reply-threshold transition, the hand-off and kill/shutdown checks.
pub struct Watchdog {
    run: RunState,
    shutdown: tokio::sync::watch::Receiver<bool>,
    started: Instant,
    threshold: Duration,
    handed_off: bool,
    killed: bool,
}

impl Watchdog {
    /// A watchdog for the script marked running in `run` since `started`, stopping it once `shutdown`
    /// turns true.
    pub fn new(
        run: RunState,
        shutdown: tokio::sync::watch::Receiver<bool>,
        started: Instant,
        threshold_ms: u64,
    ) -> Self {
        Watchdog {
            run,
            shutdown,
            started,
            threshold: Duration::from_millis(threshold_ms),
            handed_off: false,
            killed: false,
        }
    }

    /// True once the script was told to stop (the hook then checks every line).
    pub fn killed(&self) -> bool {
        self.killed
    }

    /// Called from the Lua count hook.
    pub fn tick(&mut self) -> HookVerdict {
        let run = &self.run;
        if *self.shutdown.borrow() {
            self.killed = true;
            return HookVerdict::Stop("Script stopped: the server is shutting down");
        }
        if run.kill_requested() {
            self.killed = true;
            return HookVerdict::Stop(KILLED);
        }
        let elapsed = self.started.elapsed();
        if elapsed >= self.threshold {
            run.set_timed_out();
        }
        if !self.handed_off && elapsed >= HANDOFF_AFTER.min(self.threshold) {
            self.handed_off = hand_off_worker();
        }
        HookVerdict::Continue
    }
}

/// Moves the current runtime worker's core to another thread, so the calling thread may keep running a
/// long script while other tasks are served. Returns whether the hand-off is known to have happened
/// (or was not needed: not on a runtime worker).
///
/// `block_in_place` hands the core over, but when its closure returns it takes back a core that is
/// waiting in the worker's slot, and that can be one another thread set down a moment earlier for its own
/// blocking wait. So the hand-off is checked afterwards, outside `block_in_place`: a marker task spawned
/// now goes to the core's local queue if this thread still owns a core, where with one worker no one
/// else runs it; with more workers another one may steal it, and then it steals the rest of that queue
/// the same way (the runtime has no LIFO slot, see main.rs), which is what the hand-off is for. If the
/// marker does not run, the hand-off is done again.
fn hand_off_worker() -> bool {
    if !on_multi_thread_runtime() {
        return true;
    }
    for _ in 0..5 {
        let Some(moved) = spawn_marker() else {
            return true;
        };
        tokio::task::block_in_place(|| wait_for(&moved, Duration::from_millis(200)));
        let Some(probe) = spawn_marker() else {
            return true;
        };
        if wait_for(&probe, Duration::from_millis(50)) {
            return true;
        }
    }
    false
}

/// Spawns a task that sets the returned flag and wakes this thread.
fn spawn_marker() -> Option<Arc<AtomicBool>> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let ran = Arc::new(AtomicBool::new(false));
    let me = std::thread::current();
    let flag = ran.clone();
    handle.spawn(async move {
        flag.store(true, Ordering::SeqCst);
        me.unpark();
    });
    Some(ran)
}

/// Parks this thread until `flag` is set or `limit` passes; returns the flag.
fn wait_for(flag: &AtomicBool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::park_timeout(Duration::from_millis(1));
    }
    flag.load(Ordering::SeqCst)
}
