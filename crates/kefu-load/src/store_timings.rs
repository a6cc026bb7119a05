//! What kefu's store did during a phase, from its `/metrics` histograms: how many log appends
//! (each with its `fdatasync`) and checkpoints, and how many were slow. A durable answer waits
//! on its append, so a slow sync is what a high percentile is made of.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{Value, json};

const APPENDS: &str = "kefu_store_log_append_seconds";
const CHECKPOINTS: &str = "kefu_store_checkpoint_seconds";

/// One histogram as scraped: cumulative counts by upper bound (seconds), the count and the sum.
#[derive(Debug, Default, Clone, PartialEq)]
struct Histogram {
    /// Upper bound (as text, as written) → observations at or under it.
    buckets: BTreeMap<String, u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    /// Observations over `bound` seconds (a bound the histogram has).
    fn over(&self, bound: &str) -> u64 {
        self.count
            .saturating_sub(self.buckets.get(bound).copied().unwrap_or(0))
    }

    fn since(&self, before: &Histogram) -> Histogram {
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|(le, n)| {
                    let was = before.buckets.get(le).copied().unwrap_or(0);
                    (le.clone(), n.saturating_sub(was))
                })
                .collect(),
            count: self.count.saturating_sub(before.count),
            sum: self.sum - before.sum,
        }
    }
}

/// kefu's `/metrics` text.
pub(crate) async fn metrics(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = client.get(format!("{base}/metrics")).send().await?;
    Ok(response.error_for_status()?.text().await?)
}

/// The store's two histograms at one moment.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct StoreTimings {
    appends: Histogram,
    checkpoints: Histogram,
}

impl StoreTimings {
    pub(crate) async fn scrape(client: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let text = metrics(client, base).await?;
        Self::parse(&text).context("reading kefu's /metrics")
    }

    fn parse(text: &str) -> Option<StoreTimings> {
        let mut timings = StoreTimings::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, histogram) = if let Some(rest) = series.strip_prefix(APPENDS) {
                (rest, &mut timings.appends)
            } else if let Some(rest) = series.strip_prefix(CHECKPOINTS) {
                (rest, &mut timings.checkpoints)
            } else {
                continue;
            };
            match name {
                "_count" => histogram.count = value.parse().ok()?,
                "_sum" => histogram.sum = value.parse().ok()?,
                bucket => {
                    let le = bucket.strip_prefix("_bucket{le=\"")?.strip_suffix("\"}")?;
                    histogram.buckets.insert(le.to_owned(), value.parse().ok()?);
                }
            }
        }
        Some(timings)
    }

    /// What happened between `before` and now.
    pub(crate) fn since(&self, before: &StoreTimings) -> StoreTimings {
        StoreTimings {
            appends: self.appends.since(&before.appends),
            checkpoints: self.checkpoints.since(&before.checkpoints),
        }
    }

    pub(crate) fn slow_appends(&self) -> u64 {
        self.appends.over("0.01")
    }

    /// For the report: appends (how many over 2.5 and 10 ms), checkpoints (mean, over 25 ms).
    pub(crate) fn describe(&self) -> (String, String) {
        let appends = format!(
            "{} ({} > 2.5 ms, {} > 10 ms)",
            self.appends.count,
            self.appends.over("0.0025"),
            self.slow_appends()
        );
        let mean_ms = match self.checkpoints.count {
            0 => 0.0,
            n => self.checkpoints.sum / n as f64 * 1000.0,
        };
        let checkpoints = format!(
            "{} (mean {mean_ms:.1} ms, {} > 25 ms)",
            self.checkpoints.count,
            self.checkpoints.over("0.025")
        );
        (appends, checkpoints)
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "log_appends": self.appends.count,
            "log_appends_over_2_5_ms": self.appends.over("0.0025"),
            "log_appends_over_10_ms": self.slow_appends(),
            "log_append_seconds": self.appends.sum,
            "checkpoints": self.checkpoints.count,
            "checkpoints_over_25_ms": self.checkpoints.over("0.025"),
            "checkpoint_seconds": self.checkpoints.sum,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(appends: [u64; 3], count: u64, sum: f64) -> String {
        format!(
            "# TYPE kefu_store_log_append_seconds histogram\n\
             kefu_store_log_append_seconds_bucket{{le=\"0.0025\"}} {}\n\
             kefu_store_log_append_seconds_bucket{{le=\"0.01\"}} {}\n\
             kefu_store_log_append_seconds_bucket{{le=\"0.025\"}} {}\n\
             kefu_store_log_append_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             kefu_store_log_append_seconds_sum {sum}\n\
             kefu_store_log_append_seconds_count {count}\n\
             kefu_store_checkpoint_seconds_bucket{{le=\"0.025\"}} 1\n\
             kefu_store_checkpoint_seconds_sum 0.05\n\
             kefu_store_checkpoint_seconds_count 2\n\
             kefu_users 3\n",
            appends[0], appends[1], appends[2]
        )
    }

    #[test]
    fn a_phase_is_the_difference_of_two_scrapes() {
        let before = StoreTimings::parse(&text([10, 12, 12], 12, 0.02)).unwrap();
        let after = StoreTimings::parse(&text([100, 110, 113], 115, 0.5)).unwrap();
        let phase = after.since(&before);
        assert_eq!(phase.appends.count, 103);
        assert_eq!(phase.appends.over("0.0025"), 13);
        assert_eq!(phase.slow_appends(), 5);
        let (appends, checkpoints) = phase.describe();
        assert_eq!(appends, "103 (13 > 2.5 ms, 5 > 10 ms)");
        assert_eq!(checkpoints, "0 (mean 0.0 ms, 0 > 25 ms)");
        let (_, checkpoints) = after.describe();
        assert_eq!(checkpoints, "2 (mean 25.0 ms, 1 > 25 ms)");
    }

    #[test]
    fn a_garbled_line_is_an_error_not_a_guess() {
        assert!(StoreTimings::parse("kefu_store_log_append_seconds_count many\n").is_none());
    }
}
