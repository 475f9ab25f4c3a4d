//! RESTORE through the apply path: a random mix of writes, DUMPs and RESTOREs (relative and absolute
//! TTLs, TTLs already in the past, REPLACE, IDLETIME) runs against one in-process server while its effect
//! log records; replaying the log on an empty server must give the same keys, values, expiries, versions
//! and revisions. RESTORE is logged as `RESTORE key <abs-ms> payload ABSTTL [REPLACE]` (or `DEL key` when
//! an expired TTL only removed the replaced key), so replay never depends on the time it runs at.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::Arc;

use concord::clock::ServerClock;
use concord::commands::{Client, Effect, execute, replay};
use concord::config::Config;
use concord::keyspace::db::SHARDS;
use concord::protocol::{ReplyBuf, Resp};
use concord::server::{ClientInfo, Server, expirer};

type Dump = Vec<(usize, Vec<u8>, String, u64, u64, u64, u64)>;

fn new_server() -> Arc<Server> {
    let clock = Arc::new(ServerClock::new());
    clock.freeze();
    clock.set(1_700_000_000_000);
    Server::new(Config::default(), clock)
}

fn state(server: &Server) -> Dump {
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

fn argv(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
}

/// Runs one command and returns its raw reply.
fn exec(server: &Server, client: &mut Client, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = ReplyBuf::new(Resp::V2);
    execute(server, client, &mut out, &argv(parts));
    out.buf
}

/// The bulk payload of a DUMP reply, or None for nil.
fn bulk(reply: &[u8]) -> Option<Vec<u8>> {
    if reply.starts_with(b"$-1") {
        return None;
    }
    let nl = reply.iter().position(|&b| b == b'\n')?;
    let len: usize = std::str::from_utf8(&reply[1..nl - 1]).ok()?.parse().ok()?;
    Some(reply[nl + 1..nl + 1 + len].to_vec())
}

fn run(seed: u64, steps: usize) {
    let original = new_server();
    original.effects.start();
    let info = Arc::new(ClientInfo::new(1, "test".into(), "test".into(), 0));
    let mut client = Client::new(info, true);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    for _ in 0..steps {
        let k = format!("k{}", rng.random_range(0..8));
        let k2 = format!("k{}", rng.random_range(0..8));
        let n = rng.random_range(0..1000).to_string();
        let ttl = rng.random_range(0..3000).to_string();
        let cmd: Vec<Vec<u8>> = match rng.random_range(0..12) {
            0 => vec![b"SET".to_vec(), k.into(), n.into()],
            1 => vec![b"RPUSH".to_vec(), k.into(), n.into(), b"x".to_vec()],
            2 => vec![b"ZADD".to_vec(), k.into(), n.clone().into(), n.into()],
            3 => vec![b"HSET".to_vec(), k.into(), n.into(), b"v".to_vec()],
            4 => vec![b"SADD".to_vec(), k.into(), n.into()],
            5 => vec![
                b"XADD".to_vec(),
                k.into(),
                b"*".to_vec(),
                b"f".to_vec(),
                n.into(),
            ],
            6 => vec![b"PEXPIRE".to_vec(), k.into(), ttl.into()],
            7 => {
                if let Some(p) = bulk(&exec(&original, &mut client, &[b"DUMP", k.as_bytes()])) {
                    payloads.push(p);
                }
                continue;
            }
            _ => {
                let Some(p) = payloads
                    .get(rng.random_range(0..payloads.len().max(1)))
                    .cloned()
                else {
                    continue;
                };
                let now = original.now_ms();
                let mut c = vec![b"RESTORE".to_vec(), k2.into()];
                match rng.random_range(0..4) {
                    0 => c.push(b"0".to_vec()),
                    1 => c.push(ttl.into()),
                    2 => {
                        // Absolute, possibly already past.
                        let at = now + rng.random_range(0..3000) - 1500;
                        c.push(at.to_string().into());
                        c.push(p.clone());
                        c.push(b"ABSTTL".to_vec());
                    }
                    _ => {
                        c.push(b"0".to_vec());
                        c.push(p.clone());
                        c.push(b"IDLETIME".to_vec());
                        c.push(b"100".to_vec());
                    }
                }
                if c.len() == 3 {
                    c.push(p);
                }
                if rng.random_bool(0.6) {
                    c.push(b"REPLACE".to_vec());
                }
                c
            }
        };
        let parts: Vec<&[u8]> = cmd.iter().map(|c| c.as_slice()).collect();
        exec(&original, &mut client, &parts);
        original.clock.advance(rng.random_range(0..300));
        if rng.random_range(0..4) == 0 {
            expirer::expire_due(&original);
        }
    }
    let log: Vec<Effect> = original.effects.drain();
    assert!(
        log.iter().any(|e| {
            let Effect::Write { argv, .. } = e;
            argv[0].eq_ignore_ascii_case(b"restore")
        }),
        "seed {seed}: no RESTORE was logged"
    );
    let copy = new_server();
    for effect in &log {
        let reply = replay(&copy, effect);
        assert!(
            !reply.starts_with(b"-"),
            "replay of {effect:?} failed: {}",
            String::from_utf8_lossy(&reply)
        );
    }
    assert_eq!(state(&original), state(&copy), "seed {seed}: states differ");
    assert_eq!(
        original.keyspace.revision(),
        copy.keyspace.revision(),
        "seed {seed}: revisions differ"
    );
}

#[test]
fn replaying_restores_reproduces_state_and_revision() {
    for seed in 0..30 {
        run(seed, 300);
    }
}
