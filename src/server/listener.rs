//! The TCP listener: accepts connections, enforces `maxclients`, and spawns a task per connection.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::server::{Server, connection};

/// Binds every address in the `bind` directive on `port`.
pub async fn bind(server: &Server) -> std::io::Result<Vec<TcpListener>> {
    let port = server.config.get_u64("port");
    let bind = server.config.get("bind").unwrap_or_default();
    let mut listeners = Vec::new();
    for addr in bind.split_whitespace() {
        let addr = addr.trim_start_matches('-');
        let l = TcpListener::bind((addr, port as u16)).await?;
        listeners.push(l);
    }
    if let Some(l) = listeners.first()
        && let Ok(a) = l.local_addr()
    {
        server.bound_port.store(a.port() as u64, Ordering::SeqCst);
    }
    Ok(listeners)
}

/// Accepts connections until shutdown.
pub async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    let mut shutdown = server.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        server
            .stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let max = server.config.maxclients.load(Ordering::Relaxed) as usize;
        if server.clients.len() >= max {
            server
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
            continue;
        }
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let info = server
            .clients
            .register(peer.to_string(), laddr, server.now_ms());
        let server = server.clone();
        tokio::spawn(async move {
            connection::serve(server, stream, info).await;
        });
    }
}

/// Logs that the server is ready, in a form scripts can wait for.
pub fn announce(server: &Server) {
    info!(
        port = server.bound_port.load(Ordering::SeqCst),
        version = env!("CARGO_PKG_VERSION"),
        "Ready to accept connections tcp"
    );
}
