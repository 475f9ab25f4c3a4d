//! RESTORE through the apply path: a random mix of writes, DUMPs and RESTOREs (relative and absolute
//! TTLs, TTLs already in the past, REPLACE, IDLETIME) runs against one in-process server while its effect
//! log records; replaying the log on an empty server must give the same keys, values, expiries, versions
//! and revisions. RESTORE is logged as `RESTORE key <abs-ms> payload ABSTTL [REPLACE]` (or `DEL key` when
//! an expired TTL only removed the replaced key), so replay never depends on the time it runs at.

mod replay_support;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use concord::commands::expire_due;
use replay_support::{assert_same_state, client, exec, new_server, replay_all};

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
    replay_support::record(&original);
    let mut client = client();
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
            expire_due(&original);
        }
    }
    let log = replay_support::units(&original);
    assert!(
        log.iter()
            .flat_map(|u| &u.records)
            .any(|r| r.argv[0].eq_ignore_ascii_case(b"restore")),
        "seed {seed}: no RESTORE was logged"
    );
    let copy = replay_all(&log);
    assert_same_state(&original, &copy, &format!("seed {seed}"));
}

#[test]
fn replaying_restores_reproduces_state_and_revision() {
    for seed in 0..30 {
        run(seed, 300);
    }
}
