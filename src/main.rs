//! The `concord` binary: `concord [concord.conf] [--directive value ...]`, as redis-server takes them.

use clap::Parser;
use std::sync::Arc;
use tracing::{error, info};

use concord::clock::ServerClock;
use concord::config::Config;
use concord::server::{Server, expirer, listener};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Redis-compatible server for distributed coordination.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// A redis.conf-style file, then `--name value` directives (redis-server's names: --port 7000 ...).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let (file, directives) = match cli.args.first() {
        Some(first) if !first.starts_with("--") => (Some(first.clone()), &cli.args[1..]),
        _ => (None, &cli.args[..]),
    };
    let text = match file.as_deref().map(std::fs::read_to_string) {
        Some(Err(e)) => fatal(&format!(
            "can't open config file '{}': {e}",
            file.unwrap_or_default()
        )),
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let config = match Config::from_sources(text.as_deref(), directives) {
        Ok(c) => c,
        Err(e) => fatal(&e),
    };
    let level = match config.get("loglevel").as_deref() {
        Some("debug") => "debug",
        Some("verbose") => "info",
        Some("warning") => "warn",
        Some("nothing") => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONCORD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();

    let threads = match config.get_u64("worker-threads") {
        // Half the cores by default: the kernel's network stack and, often, the clients on the same
        // host need the rest. Measured on 2 cores against redis-benchmark: one worker cut P1 p99 from
        // ~3 ms to ~1.5 ms and CPU per op from 1.1-1.2x to ~1.0x Redis, with P16 throughput still >1.1x.
        0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        n => n as usize,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(threads).enable_all();
    // Tokio runs the task woken last first (its LIFO slot), so of two clients whose bytes arrive in
    // one poll the later one is served first. Redis serves them in arrival order, and clients rely on
    // it: a SUBSCRIBE or UNSUBSCRIBE sent before another client's PUBLISH takes effect before it (the
    // Tcl suite's pubsub unit checks exactly that). FIFO keeps that order.
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => fatal(&format!("can't start the runtime: {e}")),
    };
    let code = runtime.block_on(run(config));
    std::process::exit(code);
}

async fn run(config: Config) -> i32 {
    let server = Server::new(config, Arc::new(ServerClock::new()));
    // Subscribed before anyone can connect: a SHUTDOWN that arrives first must still be seen.
    let mut shutdown = server.shutdown.subscribe();
    let listeners = match listener::bind(&server).await {
        Ok(l) if !l.is_empty() => l,
        Ok(_) => {
            error!("no address to bind");
            return 1;
        }
        Err(e) => {
            error!(error = %e, "can't bind");
            return 1;
        }
    };
    for l in listeners {
        tokio::spawn(listener::accept_loop(server.clone(), l));
    }
    tokio::spawn(expirer::run(server.clone()));
    listener::announce(&server);

    let sigterm = async {
        #[cfg(unix)]
        {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("received SIGINT, shutting down"),
        _ = sigterm => info!("received SIGTERM, shutting down"),
        _ = shutdown.wait_for(|stop| *stop) => info!("shutdown requested"),
    }
    server.request_shutdown();
    server.clients.kill_all();
    info!("Concord is now ready to exit, bye bye...");
    0
}

fn fatal(msg: &str) -> ! {
    eprintln!(
        "\n*** FATAL CONFIG FILE ERROR (Concord {}) ***",
        env!("CARGO_PKG_VERSION")
    );
    eprintln!("{msg}");
    std::process::exit(1);
}
