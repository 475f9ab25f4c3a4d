//! The shared harness of the in-process replay tests (replay_conformance, dump_replay,
//! functions_replay): a server on a frozen clock, a client, running one command, the whole keyspace
//! as comparable data, and replaying an effect log onto a fresh server. In-process on purpose: these
//! tests check the apply path, not the network.
#![allow(dead_code)]

use bytes::Bytes;
use std::sync::Arc;

use concord::clients::ClientInfo;
use concord::clock::ServerClock;
use concord::commands::{Client, execute, replay};
use concord::commit::Unit;
use concord::config::Config;
use concord::keyspace::db::SHARDS;
use concord::protocol::{ReplyBuf, Resp};
use concord::server::Server;

/// Every key of every db: (db, key, value as Debug, expiry, version, create_revision, mod_revision).
pub type State = Vec<(usize, Vec<u8>, String, u64, u64, u64, u64)>;

/// A server whose clock is frozen at a fixed instant (tests move it explicitly).
pub fn new_server() -> Arc<Server> {
    let clock = Arc::new(ServerClock::new());
    clock.freeze();
    clock.set(1_700_000_000_000);
    Server::new(Config::default(), clock)
}

/// An authenticated client in db 0.
pub fn client() -> Client {
    Client::new(
        Arc::new(ClientInfo::new(1, "test".into(), "test".into(), 0)),
        true,
    )
}

/// Runs one command and returns its raw RESP2 reply.
pub fn exec(server: &Server, client: &mut Client, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = ReplyBuf::new(Resp::V2);
    let argv: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
    execute(server, client, &mut out, &argv);
    out.buf
}

/// Every key of every db with its value, expiry and revision metadata, sorted.
pub fn state(server: &Server) -> State {
    let mut out = Vec::new();
    for (i, db) in server.keyspace.dbs().iter().enumerate() {
        for s in 0..SHARDS {
            let shard = db.lock(s);
            for e in shard.iter() {
                out.push((
                    i,
                    e.key.to_vec(),
                    format!("{:?}", e.value),
                    e.expires_at_ms,
                    e.version,
                    e.create_revision,
                    e.mod_revision,
                ));
            }
        }
    }
    out.sort();
    out
}

/// Starts keeping `server`'s committed stream (every unit from the next revision on).
pub fn record(server: &Server) {
    server.log.set_records(true);
    server.log.retain(10_000_000, || server.keyspace.revision());
}

/// Every unit `server` committed since `record`, in revision order.
pub fn units(server: &Server) -> Vec<Arc<Unit>> {
    server.log.history().from(0, usize::MAX)
}

/// Replays `log` onto a fresh server, every unit without error, and returns that server. The stream
/// itself must be gap-free: revisions 1, 2, 3, ...
pub fn replay_all(log: &[Arc<Unit>]) -> Arc<Server> {
    for (i, unit) in log.iter().enumerate() {
        assert_eq!(
            unit.revision,
            i as u64 + 1,
            "the stream has a gap or repeat"
        );
    }
    let copy = new_server();
    for unit in log {
        for reply in replay(&copy, unit) {
            assert!(
                !reply.starts_with(b"-"),
                "replay of {unit:?} failed: {}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    copy
}

/// Asserts that `copy` holds the same keys, values, expiries and revisions as `original`.
pub fn assert_same_state(original: &Server, copy: &Server, what: &str) {
    assert_eq!(
        state(original),
        state(copy),
        "{what}: states differ after replay"
    );
    assert_eq!(
        original.keyspace.revision(),
        copy.keyspace.revision(),
        "{what}: revisions differ"
    );
}
