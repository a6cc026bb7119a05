//! decide + apply (`Conversation::send`) against the `governor` crate's keyed rate-limit check,
//! in the same run: a hot single conversation / key, and 1M distinct conversations in a
//! `HashMap` / 1M keys in governor's default keyed store. Target: kefu ≤ 1.0 × governor.
//!
//! `cargo bench -p kefu-policy` runs divan, then a short same-process comparison that prints
//! the ratios (BENCHMARKS.md records them).
//!
//! Every send is accepted and applied (an unlimited payment grant), so each iteration is the
//! full path: look up, decide, spend, record the interaction. Keys are visited in a scattered
//! order so that the 1M case measures cache misses, not a prefetcher.

use std::collections::HashMap;
use std::hint::black_box;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota as GQuota, RateLimiter};
use kefu_policy::{Conversation, RuleBook, RuleSetId, Trigger};

const N: u64 = 1_000_000;
/// Coprime with N: `i ↦ i + STRIDE mod N` visits every key, far from the previous one.
const STRIDE: u64 = 7_919 * 127;
const NOW: i64 = 1_700_000_000;

fn main() {
    divan::main();
    // `cargo bench` passes --bench; a test-mode run (`cargo test --benches`) and a filtered run
    // (`cargo bench -p kefu-policy -- kefu_hot`) skip the comparison.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filtered = args.iter().any(|a| !a.starts_with('-'));
    if args.iter().any(|a| a == "--bench") && !filtered {
        compare::run();
    }
}

struct Kefu {
    book: RuleBook,
    id: RuleSetId,
}

impl Kefu {
    fn new() -> Kefu {
        let book = RuleBook::shipped();
        let id = book.id("wechat-oa-2023").unwrap_or(RuleSetId::NONE);
        Kefu { book, id }
    }

    /// A conversation with an unlimited 48-hour payment grant: every send within it is accepted.
    fn conversation(&self) -> Conversation {
        let mut c = Conversation::new(true);
        c.trigger(Trigger::Payment, NOW, self.id, self.book.get(self.id));
        c
    }

    fn map(&self) -> HashMap<u64, Conversation> {
        (0..N).map(|k| (k, self.conversation())).collect()
    }
}

fn governor() -> DefaultKeyedRateLimiter<u64> {
    RateLimiter::keyed(GQuota::per_second(NonZeroU32::MAX))
}

fn governor_filled() -> DefaultKeyedRateLimiter<u64> {
    let g = governor();
    for k in 0..N {
        let _ = g.check_key(&k);
    }
    g
}

#[divan::bench]
fn kefu_hot_send(bencher: divan::Bencher<'_, '_>) {
    let k = Kefu::new();
    let mut c = k.conversation();
    bencher.bench_local(|| c.send(black_box(NOW + 1), &k.book));
}

#[divan::bench]
fn kefu_hot_decide_only(bencher: divan::Bencher<'_, '_>) {
    let k = Kefu::new();
    let c = k.conversation();
    bencher.bench_local(|| c.decide_send(black_box(NOW + 1), &k.book));
}

#[divan::bench]
fn governor_hot_check_key(bencher: divan::Bencher<'_, '_>) {
    let g = governor();
    bencher.bench_local(|| g.check_key(black_box(&7)).is_ok());
}

#[divan::bench(sample_count = 20, sample_size = 20_000)]
fn kefu_1m_send(bencher: divan::Bencher<'_, '_>) {
    let k = Kefu::new();
    let mut map = k.map();
    let mut key = 0;
    bencher.bench_local(|| {
        key = (key + STRIDE) % N;
        map.get_mut(&key)
            .map(|c| c.send(NOW + 1, &k.book).accepted())
    });
}

#[divan::bench(sample_count = 20, sample_size = 20_000)]
fn governor_1m_check_key(bencher: divan::Bencher<'_, '_>) {
    let g = governor_filled();
    let mut key = 0;
    bencher.bench_local(|| {
        key = (key + STRIDE) % N;
        g.check_key(&key).is_ok()
    });
}

/// The same workloads timed back to back, several rounds, median per workload.
mod compare {
    use super::*;
    // The benchmark measures wall time; kefu-policy itself never reads a clock.
    #[allow(clippy::disallowed_methods)]
    fn time(ops: u64, mut f: impl FnMut()) -> f64 {
        let start = std::time::Instant::now();
        for _ in 0..ops {
            f();
        }
        start.elapsed().as_nanos() as f64 / ops as f64
    }

    fn median(mut xs: Vec<f64>) -> f64 {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    }

    pub fn run() {
        const ROUNDS: usize = 7;
        const HOT_OPS: u64 = 5_000_000;
        const MAP_OPS: u64 = 2_000_000;

        let k = Kefu::new();
        let mut hot = k.conversation();
        let g_hot = governor();
        let mut map = k.map();
        let g_map = governor_filled();

        let [mut kh, mut gh, mut km, mut gm, mut kd, mut gd] = [(); 6].map(|_| Vec::new());
        for _ in 0..ROUNDS {
            kh.push(time(HOT_OPS, || {
                black_box(hot.send(black_box(NOW + 1), &k.book));
            }));
            gh.push(time(HOT_OPS, || {
                black_box(g_hot.check_key(black_box(&7)).is_ok());
            }));
            // Independent operations: the CPU may overlap the memory misses of several.
            let mut key = 0;
            km.push(time(MAP_OPS, || {
                key = (key + STRIDE) % N;
                black_box(
                    map.get_mut(&key)
                        .map(|c| c.send(NOW + 1, &k.book).accepted()),
                );
            }));
            let mut key = 0;
            gm.push(time(MAP_OPS, || {
                key = (key + STRIDE) % N;
                black_box(g_map.check_key(&key).is_ok());
            }));
            // Dependent operations: the next key needs this answer, so each one pays its full
            // latency (a server handles one request's decision before its answer leaves).
            let mut key = 0;
            kd.push(time(MAP_OPS, || {
                let ok = map
                    .get_mut(&key)
                    .map(|c| c.send(NOW + 1, &k.book).accepted());
                key = (key + STRIDE + u64::from(ok == Some(true))) % N;
            }));
            let mut key = 0;
            gd.push(time(MAP_OPS, || {
                let ok = g_map.check_key(&key).is_ok();
                key = (key + STRIDE + u64::from(ok)) % N;
            }));
        }
        let row = |name: &str, kefu: Vec<f64>, gov: Vec<f64>| {
            let (k, g) = (median(kefu), median(gov));
            println!(
                "  {name:<34} kefu send {k:7.1} ns   governor check_key {g:7.1} ns   ratio kefu/governor = {:.2}",
                k / g
            );
        };
        println!();
        println!("same-process comparison (median of {ROUNDS} rounds, ns per operation):");
        row("hot conversation", kh, gh);
        row("1M conversations, independent", km, gm);
        row("1M conversations, dependent chain", kd, gd);
        println!("  target: ratio ≤ 1.0");
    }
}
