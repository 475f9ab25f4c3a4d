//! Atomicity under many clients: 50 threads INCR one counter and race for a `SET lock NX PX` lock per
//! round. Totals must be exact and exactly one SET NX must win each round.

mod strings_script;
mod support;

use std::sync::{Arc, Barrier};

use strings_script::Target;

const THREADS: usize = 50;
const ROUNDS: usize = 20;
const INCRS_PER_ROUND: usize = 20;

#[test]
fn incr_totals_are_exact_and_one_set_nx_wins_each_round() {
    let t = Target::start();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|id| {
            let mut c = t.conn();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut wins = Vec::new();
                for round in 0..ROUNDS {
                    barrier.wait();
                    let won: Option<String> = redis::cmd("SET")
                        .arg(format!("lock:{round}"))
                        .arg(id)
                        .arg("NX")
                        .arg("PX")
                        .arg(600_000)
                        .query(&mut c)
                        .unwrap();
                    if won.is_some() {
                        wins.push(round);
                        let _: i64 = redis::cmd("INCR")
                            .arg(format!("winners:{round}"))
                            .query(&mut c)
                            .unwrap();
                    }
                    for _ in 0..INCRS_PER_ROUND {
                        let _: i64 = redis::cmd("INCR").arg("counter").query(&mut c).unwrap();
                    }
                }
                (id, wins)
            })
        })
        .collect();
    let mut winners_per_round = [0usize; ROUNDS];
    let mut c = t.conn();
    for h in handles {
        let (id, wins) = h.join().unwrap();
        for round in wins {
            winners_per_round[round] += 1;
            let holder: String = redis::cmd("GET")
                .arg(format!("lock:{round}"))
                .query(&mut c)
                .unwrap();
            assert_eq!(
                holder,
                id.to_string(),
                "round {round}'s lock holds its winner"
            );
        }
    }
    assert!(
        winners_per_round.iter().all(|&n| n == 1),
        "exactly one winner per round: {winners_per_round:?}"
    );
    for round in 0..ROUNDS {
        let n: i64 = redis::cmd("GET")
            .arg(format!("winners:{round}"))
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 1);
        let pttl: i64 = redis::cmd("PTTL")
            .arg(format!("lock:{round}"))
            .query(&mut c)
            .unwrap();
        assert!(pttl > 0 && pttl <= 600_000);
    }
    let total: i64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(total as usize, THREADS * ROUNDS * INCRS_PER_ROUND);
}

#[test]
fn concurrent_incrbyfloat_and_append_lose_no_update() {
    let t = Target::start();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut c = t.conn();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let _: String = redis::cmd("INCRBYFLOAT")
                        .arg("f")
                        .arg("0.5")
                        .query(&mut c)
                        .unwrap();
                    let _: i64 = redis::cmd("APPEND")
                        .arg("s")
                        .arg("x")
                        .query(&mut c)
                        .unwrap();
                    let _: i64 = redis::cmd("DECRBY").arg("d").arg(3).query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = t.conn();
    let f: String = redis::cmd("GET").arg("f").query(&mut c).unwrap();
    assert_eq!(f, "500");
    let n: i64 = redis::cmd("STRLEN").arg("s").query(&mut c).unwrap();
    assert_eq!(n, (THREADS * 20) as i64);
    let d: i64 = redis::cmd("GET").arg("d").query(&mut c).unwrap();
    assert_eq!(d, -3 * (THREADS * 20) as i64);
}
