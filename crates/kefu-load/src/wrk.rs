//! `--wrk`: both peaks measured again with wrk (`apt-get install wrk`), the client the issue's
//! ceiling of this machine was first measured with.
//!
//! This generator's own client (reqwest) costs about 40 µs of CPU a request, on the same two
//! cores as the servers; wrk, written in C, a fraction of that. A cheaper client frees CPU for
//! both servers but helps the baseline more (it is bound by round trips, kefu by CPU), so the
//! ratio with wrk is the harder one, and the report gives both.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cpu::PerRequest;

/// One closed-loop peak as wrk measured it.
pub(crate) struct WrkPeak {
    pub rps: f64,
    /// Requests answered in the phase.
    pub requests: u64,
    /// Answers other than HTTP 200 with `{"errcode":0`, plus wrk's socket errors.
    pub failed: u64,
}

/// Both peaks, in one run, with the CPU each server spent per request.
pub(crate) struct WrkPeaks {
    pub base: WrkPeak,
    pub kefu: WrkPeak,
    pub base_cpu: PerRequest,
    pub kefu_cpu: PerRequest,
}

impl WrkPeaks {
    pub fn ratio(&self) -> f64 {
        self.kefu.rps / self.base.rps
    }

    pub fn json(&self) -> Value {
        json!({
            "baseline_peak_rps": self.base.rps.round(),
            "kefu_peak_rps": self.kefu.rps.round(),
            "kefu_peak_errors": self.kefu.failed,
            "peak_ratio": crate::round2(self.ratio()),
            "baseline_cpu_per_request": self.base_cpu.json(),
            "kefu_cpu_per_send": self.kefu_cpu.json(),
        })
    }
}

/// Fails early, with the fix, when wrk is missing: before any phase has run.
pub(crate) fn check_installed() -> anyhow::Result<()> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => bail!("--wrk needs wrk on the PATH (`apt-get install wrk`): {e}"),
    }
}

/// A wrk script that POSTs `bodies` in turn and counts the answers that are not errcode 0.
pub(crate) fn script(bodies: &[String]) -> String {
    let mut out = String::from(
        "-- Written by kefu-load for one run.\n\
         wrk.method = \"POST\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         local bodies = {\n",
    );
    for body in bodies {
        let level = "=".repeat(long_bracket_level(body));
        let _ = writeln!(out, "[{level}[{body}]{level}],");
    }
    out.push_str(
        "}\n\
         local turn = 0\n\
         local threads = {}\n\
         function setup(thread) table.insert(threads, thread) end\n\
         function init(args) failed = 0 end\n\
         function request()\n\
         \x20 turn = turn % #bodies + 1\n\
         \x20 return wrk.format(nil, nil, nil, bodies[turn])\n\
         end\n\
         function response(status, headers, body)\n\
         \x20 if status ~= 200 or string.sub(body, 1, 12) ~= '{\"errcode\":0' then failed = failed + 1 end\n\
         end\n\
         function done(summary, latency, requests)\n\
         \x20 local n = 0\n\
         \x20 for _, thread in ipairs(threads) do n = n + thread:get(\"failed\") end\n\
         \x20 io.write(string.format(\"kefu-load failed %d\\n\", n))\n\
         end\n",
    );
    out
}

/// The level of a Lua long bracket (`[==[ … ]==]`) that `text` cannot close early.
fn long_bracket_level(text: &str) -> usize {
    (0..)
        .find(|&n| !text.contains(&format!("]{}]", "=".repeat(n))))
        .unwrap_or(0)
}

/// Runs `wrk -t1 -c<connections> -d<seconds>s` with `script` against `url`. wrk blocks, so it
/// runs on the blocking pool: the baseline server shares this process's runtime.
pub(crate) async fn peak(
    url: &str,
    script: &Path,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<WrkPeak> {
    let mut wrk = Command::new("wrk");
    wrk.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("-s")
        .arg(script)
        .arg(url);
    let output = tokio::task::spawn_blocking(move || wrk.output())
        .await?
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout)
}

/// The figures of wrk's report: `Requests/sec:`, our script's `kefu-load failed`, and
/// `Socket errors:` when there were any.
fn parse(report: &str) -> anyhow::Result<WrkPeak> {
    let after = |prefix: &str| {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(prefix).map(str::trim))
    };
    let rps = after("Requests/sec:")
        .and_then(|v| v.parse::<f64>().ok())
        .with_context(|| format!("no Requests/sec in wrk's report:\n{report}"))?;
    // "203520 requests in 8.00s, 40.18MB read"
    let requests = report
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.parse().ok())
        .with_context(|| format!("no request count in wrk's report:\n{report}"))?;
    let answered_wrong: u64 = after("kefu-load failed")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no failure count in wrk's report:\n{report}"))?;
    // "connect 0, read 0, write 0, timeout 0"
    let socket_errors: u64 = after("Socket errors:").map_or(0, |list| {
        list.split(',')
            .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum()
    });
    Ok(WrkPeak {
        rps,
        requests,
        failed: answered_wrong + socket_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_the_rate_and_every_kind_of_failure() {
        let report = "Running 8s test @ http://127.0.0.1:1/cgi-bin/message/custom/send\n\
            \x20 1 threads and 64 connections\n\
            \x20 203520 requests in 8.00s, 40.18MB read\n\
            \x20 Socket errors: connect 0, read 2, write 0, timeout 3\n\
            Requests/sec:  25440.12\n\
            Transfer/sec:      5.02MB\n\
            kefu-load failed 7\n";
        let peak = parse(report).unwrap();
        assert_eq!(peak.rps, 25440.12);
        assert_eq!(peak.requests, 203520);
        assert_eq!(peak.failed, 12);
    }

    #[test]
    fn a_report_without_a_rate_is_an_error_not_a_zero() {
        assert!(parse("kefu-load failed 0\n").is_err());
        assert!(
            parse("Requests/sec: 10\n").is_err(),
            "the counts are missing"
        );
        assert!(
            parse("Requests/sec: 10\nkefu-load failed 0\n").is_err(),
            "the request count is missing"
        );
    }

    #[test]
    fn bodies_are_quoted_so_nothing_in_them_ends_the_string() {
        assert_eq!(long_bracket_level(r#"{"a":"b"}"#), 0);
        assert_eq!(long_bracket_level("x]]y"), 1);
        assert_eq!(long_bracket_level("x]]y]=]"), 2);
        let script = script(&["x]]y".to_owned()]);
        assert!(script.contains("[=[x]]y]=],"), "{script}");
    }
}
