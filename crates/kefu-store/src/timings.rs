//! How long a store's disk work takes, for an edge to publish (`/metrics`): each log append
//! with its sync, and each checkpoint. A slow sync is what a slow durable answer waits on, and a
//! checkpoint's write is what slows the syncs beside it (BENCHMARKS.md), so both are worth
//! watching without a special build.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of every histogram's buckets, in seconds.
pub const BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Observations in buckets: how many fell at or under each of [`BOUNDS`] (and over the one
/// before; not cumulative), how many in all, and their sum in seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub buckets: [u64; BOUNDS.len()],
    pub count: u64,
    pub sum: f64,
}

/// The bucket `seconds` falls in; none past the last bound.
fn bucket(seconds: f64) -> Option<usize> {
    BOUNDS.iter().position(|bound| seconds <= *bound)
}

impl Observed {
    pub fn record(&mut self, seconds: f64) {
        if let Some(i) = bucket(seconds) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// What a store has timed since it opened. A backend without a disk reports nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreTimings {
    /// Each append to the write-ahead log, with its `fdatasync`.
    pub log_appends: Observed,
    /// Each durable checkpoint of the indexes behind the log.
    pub checkpoints: Observed,
}

/// An [`Observed`] that threads record into without a lock.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    buckets: [AtomicU64; BOUNDS.len()],
    count: AtomicU64,
    nanos: AtomicU64,
}

impl Timer {
    pub(crate) fn record(&self, took: Duration) {
        if let Some(i) = bucket(took.as_secs_f64()) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn observed(&self) -> Observed {
        Observed {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            count: self.count.load(Ordering::Relaxed),
            sum: Duration::from_nanos(self.nanos.load(Ordering::Relaxed)).as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_buckets_as_a_recorded_histogram_does() {
        let timer = Timer::default();
        let mut expected = Observed::default();
        for micros in [100, 2_000, 30_000, 9_000_000] {
            let took = Duration::from_micros(micros);
            timer.record(took);
            expected.record(took.as_secs_f64());
        }
        let observed = timer.observed();
        assert_eq!(observed.buckets, expected.buckets);
        assert_eq!(observed.buckets[0], 1, "0.1 ms is under 0.5 ms");
        assert_eq!(
            observed.buckets.iter().sum::<u64>(),
            3,
            "9 s is over every bound"
        );
        assert_eq!(observed.count, 4);
        assert!((observed.sum - 9.0321).abs() < 1e-9);
    }
}
