//! Expiry wheel: inserting deadlines and draining 1M of them in bounded batches, as the expirer does.

use concord::keyspace::wheel::Wheel;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("expiry_wheel");
    g.sample_size(10);
    g.bench_function("insert_1m_then_drain_in_batches_of_128", |b| {
        b.iter_batched(
            || {
                let mut w = Wheel::new(0);
                for i in 0..1_000_000u64 {
                    w.insert(1 + (i * 7919) % 3_600_000, i);
                }
                w
            },
            |mut w| {
                let mut out = Vec::with_capacity(128);
                let mut n = 0;
                while w.poll(3_600_001, 128, &mut out) || !out.is_empty() {
                    n += out.len();
                    out.clear();
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
