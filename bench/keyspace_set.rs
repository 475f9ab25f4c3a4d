//! The apply path in process: SET and GET through dispatch on a 100k-key keyspace (no sockets).

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use concord::clients::ClientInfo;
use concord::clock::ServerClock;
use concord::commands::{Client, execute};
use concord::config::Config;
use concord::protocol::{ReplyBuf, Resp};
use concord::server::Server;

fn bench(c: &mut Criterion) {
    let server = Server::new(Config::default(), Arc::new(ServerClock::new()));
    let info = Arc::new(ClientInfo::new(1, "b".into(), "b".into(), 0));
    let mut client = Client::new(info, true);
    let mut out = ReplyBuf::new(Resp::V2);
    let keys: Vec<Bytes> = (0..100_000)
        .map(|i| Bytes::from(format!("key:{i:012}")))
        .collect();
    let value = Bytes::from_static(b"xxxxxxxxxxxxxxxx");
    let mut i = 0usize;
    let mut g = c.benchmark_group("keyspace");
    g.bench_function("set", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let argv = [Bytes::from_static(b"SET"), keys[i].clone(), value.clone()];
            execute(&server, &mut client, &mut out, &argv);
            out.buf.clear();
        })
    });
    g.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let argv = [Bytes::from_static(b"GET"), keys[i].clone()];
            execute(&server, &mut client, &mut out, &argv);
            out.buf.clear();
        })
    });
    g.bench_function("set_nx_px", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let argv = [
                Bytes::from_static(b"SET"),
                keys[i].clone(),
                value.clone(),
                Bytes::from_static(b"NX"),
                Bytes::from_static(b"PX"),
                Bytes::from_static(b"10000"),
            ];
            execute(&server, &mut client, &mut out, &argv);
            out.buf.clear();
        })
    });
    g.finish();
    println!(
        "size_of::<Entry>() = {}",
        std::mem::size_of::<concord::keyspace::Entry>()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
