//! One client connection: read whatever bytes arrived, run every complete command in them, write all the
//! replies with one write (pipelining), repeat. Protocol violations get Redis's `-ERR Protocol error: ...`
//! and the connection is closed; a query buffer over `client-query-buffer-limit` closes it too.
//!
//! Bytes pushed to the client from outside (`ClientInfo::push`: pub/sub messages, MONITOR lines,
//! invalidations) are moved into the output buffer only between two commands' replies, never inside
//! one, and are written as soon as they arrive when the connection is otherwise idle.

use bytes::BytesMut;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::clients::ClientInfo;
use crate::commands::{BlockOn, Client, ReplyMode, execute, serve_ready, write_timeout_reply};
use crate::protocol::request::{Limits, RequestParser};
use crate::protocol::{ReplyBuf, Resp};
use crate::server::Server;
use crate::state::blocking::WaitResult;

/// Read buffer growth step; big bulks grow it further as their bytes arrive, never up front.
const READ_CHUNK: usize = 16 * 1024;
/// An output buffer above this is shrunk back after it is flushed, so one big reply does not pin memory.
const OUT_KEEP: usize = 1 << 20;

/// Serves one connection until it closes, is killed, or the server stops.
pub async fn serve(server: Arc<Server>, mut stream: TcpStream, info: Arc<ClientInfo>) {
    let _ = stream.set_nodelay(true);
    let authenticated = !server.config.has_requirepass.load(Ordering::Relaxed);
    let mut client = Client::new(info.clone(), authenticated);
    let mut out = ReplyBuf::new(Resp::V2);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    // Pushed bytes moved into `out` and not yet written (they count in `info.obuf` until written).
    let mut pushed = 0usize;

    'conn: loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            let want = parser
                .wanted_bytes()
                .unwrap_or(0)
                .clamp(READ_CHUNK, 1 << 20);
            buf.reserve(want);
        }
        // Subscribers are never closed for idleness, as in Redis.
        let timeout_s = if info.in_pubsub() {
            0
        } else {
            server.config.timeout_s.load(Ordering::Relaxed)
        };
        let read = async {
            if timeout_s > 0 {
                match tokio::time::timeout(
                    Duration::from_secs(timeout_s),
                    stream.read_buf(&mut buf),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Ok(0),
                }
            } else {
                stream.read_buf(&mut buf).await
            }
        };
        // Read first (pushes and a kill are also handled between commands, so they are not starved);
        // `pushed` also fires on a kill, and SHUTDOWN kills every client, so one waiter covers all
        // three (each waiter registered here costs a lock per idle turn).
        let n = tokio::select! {
            biased;
            r = read => match r {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => n,
            },
            _ = info.pushed() => {
                if info.is_killed() {
                    break 'conn;
                }
                // Let the publishers that are ready run first, then write everything they pushed
                // with one write, as Redis writes a subscriber's buffer once per event-loop turn.
                tokio::task::yield_now().await;
                pushed += info.take_pushes(&mut out.buf);
                if flush(&server, &info, &mut stream, &mut out, &mut pushed).await.is_err() {
                    break 'conn;
                }
                continue 'conn;
            }
        };
        server
            .stats
            .net_input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        info.last_interaction_ms
            .store(server.now_ms(), Ordering::Relaxed);

        // While this batch runs, CLIENT LIST shows the whole buffer it came from, as Redis does
        // (its query buffer is trimmed only after every command in it has run).
        let batch_len = buf.len();
        let mut batch_cmds = 0usize;
        loop {
            let limits = Limits {
                proto_max_bulk_len: server.config.proto_max_bulk_len.load(Ordering::Relaxed)
                    as usize,
                inline_max: 64 * 1024,
                authenticated: client.authenticated,
            };
            match parser.next_command(&mut buf, &limits) {
                Ok(Some(argv)) => {
                    batch_cmds += 1;
                    info.qbuf.store(batch_len, Ordering::Relaxed);
                    if server.pubsub.pause.is_set()
                        && !wait_paused(
                            &server,
                            &info,
                            &mut stream,
                            &client,
                            &argv,
                            &mut out,
                            &mut pushed,
                        )
                        .await
                    {
                        break 'conn;
                    }
                    // What was pushed before this command goes out before its reply.
                    if info.has_pushes() {
                        pushed += info.take_pushes(&mut out.buf);
                    }
                    let mark = out.len();
                    if client.reply_mode == ReplyMode::SkipNext {
                        client.reply_mode = ReplyMode::Skipping;
                    }
                    if let Some(block) = execute(&server, &mut client, &mut out, &argv) {
                        // Replies to the commands before it go out now; the ones after wait.
                        // Replies wait for their units' completion ticket when acknowledgements
                        // wait for commit (appendfsync always, Raft); else this is one load.
                        if server.log.acks_wait_for_commit() {
                            server.log.wait_for(client.last_revision).await;
                        }
                        if flush(&server, &info, &mut stream, &mut out, &mut pushed)
                            .await
                            .is_err()
                        {
                            break 'conn;
                        }
                        let unblocked = wait_unblocked(
                            &server,
                            &info,
                            &mut stream,
                            &mut buf,
                            &client,
                            &argv,
                            block,
                            &mut out,
                            &mut pushed,
                        )
                        .await;
                        if !unblocked {
                            break 'conn;
                        }
                    }
                    // Subscribe confirmations go out even when replies are off, as in Redis.
                    let silenced =
                        matches!(client.reply_mode, ReplyMode::Off | ReplyMode::Skipping)
                            && !crate::commands::pubsub::replies_are_pushes(&argv);
                    if silenced {
                        out.truncate(mark);
                    }
                    if client.reply_mode == ReplyMode::Skipping {
                        client.reply_mode = ReplyMode::On;
                    }
                    // Replies not written yet count against the output buffer limit, as in Redis:
                    // past it the client is closed and gets none of them. (Below 1 kB no sensible
                    // limit is reached, which keeps the common path free of the lock.)
                    if out.len() > 1024 && info.replies_over_limit(out.len()) {
                        break 'conn;
                    }
                    if client.close_after_reply || info.is_killed() {
                        if server.log.acks_wait_for_commit() {
                            server.log.wait_for(client.last_revision).await;
                        }
                        let _ = flush(&server, &info, &mut stream, &mut out, &mut pushed).await;
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    debug!(client = info.id, error = %e, "protocol error");
                    out.error(&format!("ERR {e}"));
                    let _ = flush(&server, &info, &mut stream, &mut out, &mut pushed).await;
                    break 'conn;
                }
            }
        }
        let pending = buf.len() + parser.pending_bytes();
        info.qbuf.store(pending, Ordering::Relaxed);
        let limit = server
            .config
            .client_query_buffer_limit
            .load(Ordering::Relaxed) as usize;
        if pending > limit {
            warn!(
                client = info.id,
                bytes = pending,
                "closing client that reached max query buffer length"
            );
            let _ = flush(&server, &info, &mut stream, &mut out, &mut pushed).await;
            break 'conn;
        }
        // A pipelined batch's replies are written at the end of the scheduler's turn, as Redis writes
        // all replies after handling every readable socket: the other connections that are ready run
        // first, so a client woken by one write is usually still awake for the next instead of
        // needing another wake-up (measured: ~10% more throughput at -P 16). A lone command is
        // answered at once: there the extra turn cost more than it saved.
        if batch_cmds > 1 && !out.is_empty() {
            tokio::task::yield_now().await;
        }
        if info.has_pushes() {
            pushed += info.take_pushes(&mut out.buf);
        }
        if server.log.acks_wait_for_commit() {
            server.log.wait_for(client.last_revision).await;
        }
        if flush(&server, &info, &mut stream, &mut out, &mut pushed)
            .await
            .is_err()
        {
            break 'conn;
        }
    }
    server.pubsub.drop_client(&info);
    server.watches.drop_client(&info);
    server.clients.unregister(info.id);
}

/// Holds a command back while a CLIENT PAUSE covers it (every command under ALL; under WRITE those
/// that may write or replicate, and EXEC of a transaction holding one). Pushes keep flowing meanwhile.
/// Returns false if the client went away.
async fn wait_paused(
    server: &Server,
    info: &ClientInfo,
    stream: &mut TcpStream,
    client: &Client,
    argv: &[bytes::Bytes],
    out: &mut ReplyBuf,
    pushed: &mut usize,
) -> bool {
    use crate::pubsub::pause::PauseMode;
    let mut shutdown = server.shutdown.subscribe();
    let mut _held = None;
    loop {
        // Registered before the check, so an UNPAUSE while this client flushes is not missed.
        let changed = server.pubsub.pause.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let now = server.now_ms();
        let mode = server.pubsub.pause.mode(now);
        if mode == PauseMode::Off
            || !crate::commands::pubsub::held_by_pause(server, client, argv, mode)
        {
            return true;
        }
        // Replies to earlier commands of the batch are not held back by this one.
        if flush(server, info, stream, out, pushed).await.is_err() {
            return false;
        }
        if _held.is_none() {
            _held = Some(server.pubsub.pause.hold());
        }
        let left = server.pubsub.pause.until_ms().saturating_sub(now).max(1);
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep(Duration::from_millis(left)) => {}
            _ = info.pushed() => {
                *pushed += info.take_pushes(&mut out.buf);
            }
            _ = info.killed() => return false,
            _ = shutdown.changed() => return false,
        }
    }
}

/// Writes the pending replies. A client that stops reading blocks only its own task here, and CLIENT
/// KILL or SHUTDOWN still reach it: the write is abandoned when the connection is killed.
/// Parks the connection until its blocking command is served, times out, or the client goes away
/// (false). While parked it keeps reading what the client pipelines after the command, within the query
/// buffer limit, so a disconnect is noticed and the waiter removed.
#[allow(clippy::too_many_arguments)]
async fn wait_unblocked(
    server: &Server,
    info: &ClientInfo,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    client: &Client,
    argv: &[bytes::Bytes],
    block: BlockOn,
    out: &mut ReplyBuf,
    pushed: &mut usize,
) -> bool {
    let mut handle = server.blocking.register(
        info.id,
        client.db,
        block.keys.clone(),
        block.argv.clone().unwrap_or_else(|| argv.to_vec()),
        out.resp,
        block.deadline_ms,
    );
    // A write between the command's failed attempt and the registration above found no waiter: look
    // again now that it is registered (this serves the oldest waiters on these keys, in order).
    serve_ready(
        server,
        block.keys.iter().map(|k| (client.db, k.clone())).collect(),
    );
    let mut shutdown = server.shutdown.subscribe();
    loop {
        tokio::select! {
            // The answer first: the waiter's own invalidations, pushed after it was served, follow it.
            biased;
            r = &mut handle.rx => {
                match r {
                    Ok(WaitResult::Served(bytes, ticket)) => {
                        if server.log.acks_wait_for_commit() {
                            server.log.wait_for(ticket).await;
                        }
                        out.raw(&bytes);
                    }
                    Ok(WaitResult::TimedOut) => write_timeout_reply(out, block.timeout_reply),
                    Err(_) => return false,
                }
                return true;
            }
            r = stream.read_buf(buf) => match r {
                Ok(0) | Err(_) => return false,
                Ok(_) => {
                    let limit = server.config.client_query_buffer_limit.load(Ordering::Relaxed) as usize;
                    if buf.len() > limit {
                        return false;
                    }
                }
            },
            _ = info.pushed() => {
                // Pushes (invalidations, MONITOR lines) reach a blocked RESP3 client too.
                *pushed += info.take_pushes(&mut out.buf);
                if flush(server, info, stream, out, pushed).await.is_err() {
                    return false;
                }
            }
            _ = info.killed() => return false,
            _ = shutdown.changed() => return false,
        }
    }
}

async fn flush(
    server: &Server,
    info: &ClientInfo,
    stream: &mut TcpStream,
    out: &mut ReplyBuf,
    pushed: &mut usize,
) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let mut shutdown = server.shutdown.subscribe();
    let aborted = |why| {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            why,
        ))
    };
    let mut pos = 0;
    while pos < out.buf.len() {
        // A client over its soft limit that reads nothing more is closed when the limit's seconds
        // run out, without waiting for the next push (Redis checks it from its cron).
        // A write that waits looks again every half second: the breach may start while it waits.
        // Lazy: nothing is locked or armed unless the write has to wait.
        let soft_wait = async {
            match info.soft_limit_deadline() {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        tokio::select! {
            // The write first: when it completes at once, no timer is armed.
            biased;
            r = stream.write(&out.buf[pos..]) => match r? {
                0 => return Err(std::io::ErrorKind::WriteZero.into()),
                n => pos += n,
            },
            _ = soft_wait => {
                if info.soft_limit_expired() {
                    return aborted("output buffer soft limit");
                }
            }
            _ = info.killed() => return aborted("killed"),
            _ = shutdown.changed() => return aborted("shutdown"),
        }
    }
    server
        .stats
        .net_output_bytes
        .fetch_add(out.len() as u64, Ordering::Relaxed);
    out.buf.clear();
    info.pushes_written(std::mem::take(pushed));
    // A watch replaying history sends its next chunk now that the last one is out.
    if info.catching_up.load(Ordering::Relaxed) != 0 {
        server.watches.catch_up(info, server.log.published());
    }
    if out.buf.capacity() > OUT_KEEP {
        out.buf.shrink_to(READ_CHUNK);
    }
    Ok(())
}
