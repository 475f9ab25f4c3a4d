//! Request parsing: a pipeline of 16 `SET key value` commands, as redis-benchmark -P 16 sends them.

use bytes::BytesMut;
use concord::protocol::request::{Limits, RequestParser};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut wire = Vec::new();
    for i in 0..16 {
        let key = format!("key:{i:012}");
        wire.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$16\r\nxxxxxxxxxxxxxxxx\r\n",
                key.len()
            )
            .as_bytes(),
        );
    }
    let limits = Limits::default();
    let mut g = c.benchmark_group("protocol_parse");
    g.throughput(Throughput::Elements(16));
    g.bench_function("set_pipeline_16", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&wire[..]);
            let mut p = RequestParser::new();
            let mut n = 0;
            while let Ok(Some(argv)) = p.next_command(&mut buf, &limits) {
                n += argv.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
