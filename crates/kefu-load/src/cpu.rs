//! CPU time per request: what each process, and each kind of thread in it, spent on a phase.
//!
//! It says where a ratio comes from: kefu's HTTP workers, its writer and its applier against
//! the do-nothing server and the client, all on the same cores. It moves with the machine's
//! neighbours too (24–51 µs a kefu send in runs minutes apart), so compare code by it within one
//! run or interleaved, as the ratios. Read from `/proc/<pid>/task/*/schedstat` (nanoseconds on
//! a CPU, per thread) and summed by thread name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

/// Time on a CPU so far, by thread name, of one process.
#[derive(Clone, Debug, Default)]
pub(crate) struct CpuTime(BTreeMap<String, Duration>);

impl CpuTime {
    /// The threads of `pid` as they are now. A thread that ends between two samples loses its
    /// time; kefu's threads and this one's live as long as their process.
    pub fn of(pid: u32) -> CpuTime {
        let mut by_name = BTreeMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return CpuTime(by_name);
        };
        for task in tasks.flatten() {
            let path = task.path();
            let (Ok(name), Ok(stat)) = (
                std::fs::read_to_string(path.join("comm")),
                std::fs::read_to_string(path.join("schedstat")),
            ) else {
                continue;
            };
            if let Some(ns) = stat.split_whitespace().next().and_then(|n| n.parse().ok()) {
                *by_name
                    .entry(name.trim().to_owned())
                    .or_insert(Duration::ZERO) += Duration::from_nanos(ns);
            }
        }
        CpuTime(by_name)
    }

    /// What was spent since `earlier`, per request of `requests`.
    pub fn per_request(&self, earlier: &CpuTime, requests: u64) -> PerRequest {
        let requests = requests.max(1) as f64;
        let by_thread = self
            .0
            .iter()
            .map(|(name, now)| {
                let before = earlier.0.get(name).copied().unwrap_or_default();
                let spent = now.saturating_sub(before).as_secs_f64() * 1e6 / requests;
                (name.clone(), spent)
            })
            .filter(|(_, us)| *us > 0.0)
            .collect();
        PerRequest { by_thread }
    }
}

/// Microseconds of CPU per request, by thread name.
#[derive(Clone, Debug, Default)]
pub(crate) struct PerRequest {
    by_thread: BTreeMap<String, f64>,
}

impl PerRequest {
    pub fn total(&self) -> f64 {
        self.by_thread.values().sum()
    }

    /// `38.0 µs (tokio-rt-worker 27.1, kefu-writer 8.2, …)`: the largest first, those under
    /// 0.5 µs left out.
    pub fn describe(&self) -> String {
        let mut parts: Vec<_> = self
            .by_thread
            .iter()
            .filter(|(_, us)| **us >= 0.5)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(a.1));
        let mut out = format!("{:.1} µs", self.total());
        if parts.len() > 1 {
            let listed: Vec<String> = parts
                .iter()
                .map(|(name, us)| format!("{name} {us:.1}"))
                .collect();
            let _ = write!(out, " ({})", listed.join(", "));
        }
        out
    }

    pub fn json(&self) -> Value {
        let round1 = |us: f64| (us * 10.0).round() / 10.0;
        json!({
            "total_us": round1(self.total()),
            "by_thread_us": self.by_thread.iter()
                .filter(|(_, us)| round1(**us) > 0.0)
                .map(|(name, us)| (name.clone(), json!(round1(*us))))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_spent_is_split_by_request_and_by_thread() {
        let ms = Duration::from_millis;
        let before = CpuTime(BTreeMap::from([
            ("tokio-rt-worker".to_owned(), ms(100)),
            ("kefu-writer".to_owned(), ms(50)),
        ]));
        let after = CpuTime(BTreeMap::from([
            ("tokio-rt-worker".to_owned(), ms(400)),
            ("kefu-writer".to_owned(), ms(150)),
            // Started during the phase: all of its time counts.
            ("kefu-store-appl".to_owned(), ms(20)),
        ]));
        let per = after.per_request(&before, 10_000);
        assert_eq!(per.total(), 42.0);
        assert_eq!(
            per.describe(),
            "42.0 µs (tokio-rt-worker 30.0, kefu-writer 10.0, kefu-store-appl 2.0)"
        );
    }

    #[test]
    fn this_process_has_spent_some_cpu() {
        let mut spin = 0u64;
        for i in 0..1_000_000u64 {
            spin = spin.wrapping_add(std::hint::black_box(i));
        }
        assert!(spin > 0);
        let now = CpuTime::of(std::process::id());
        assert!(now.per_request(&CpuTime::default(), 1).total() > 0.0);
    }
}
