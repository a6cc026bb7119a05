//! `kefu-load`: how fast is a durable customer-service send, against what this machine's HTTP
//! stack can do at all?
//!
//! In one run it starts `kefu serve` (a fresh data directory, the real durable store) and, in
//! this process, a minimal axum server that answers the same POST with `{"errcode":0,...}`: the
//! HTTP ceiling. It measures both at their closed-loop peak, then kefu open-loop at half its
//! peak, with latency measured from each request's intended send time (no coordinated
//! omission), and prints ratios. Traffic goes to 127.0.0.1 only; every phase is bounded in
//! time, and the run stops by itself. `--restart N` measures memory and restart time instead
//! (`scale.rs`).

mod cpu;
mod scale;
mod store_timings;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

use cpu::{CpuTime, PerRequest};
use store_timings::StoreTimings;
use wrk::WrkPeaks;

#[derive(Parser)]
#[command(about = "Load kefu's custom/send and compare with an HTTP baseline in the same run")]
struct Args {
    /// The kefu binary to start (build it with `cargo build --profile perf -p kefu`).
    #[arg(long, default_value = "target/perf/kefu")]
    kefu: PathBuf,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Conversations the sends are spread over (each with an unlimited payment window).
    #[arg(long, default_value_t = 1000)]
    conversations: usize,
    /// Where to write the results as JSON (also printed).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Instead of sends: seed this many conversations, then measure kefu's resident memory per
    /// conversation and its time to ready after a clean shutdown and after SIGKILL.
    #[arg(long, value_name = "CONVERSATIONS")]
    restart: Option<usize>,
    /// Repeat the whole measurement this many times, each on a fresh kefu, and report the
    /// median and range of each figure as well: on a shared machine one run can mislead.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Also measure both peaks with wrk (`apt-get install wrk`, one thread), a client that costs
    /// the shared cores far less than this one's, and report that ratio too.
    #[arg(long)]
    wrk: bool,
}

pub(crate) const ADMIN: &str = "kefu-load-admin";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

/// A `kefu serve` this run started; killed when dropped.
pub(crate) struct Running {
    pub child: Child,
    pub base: String,
    /// The fields of kefu's `data directory loaded` log line (how long each phase of its start
    /// took), once it has written it.
    pub loaded: Arc<std::sync::Mutex<Option<Value>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Only the process this run started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of the report a person reads: the figure's name, then the figure.
pub(crate) fn row(label: &str, value: String) {
    println!("{label:<52} {value:>12}");
}

/// Starts `kefu serve` on a free port of 127.0.0.1 over `data_dir` (virtual clock, the load
/// admin token, `extra` flags) and returns once it says where it listens.
pub(crate) fn spawn_kefu(
    binary: &Path,
    data_dir: &Path,
    extra: &[&str],
) -> anyhow::Result<Running> {
    use std::io::BufRead;
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--clock", "virtual"])
        .args(["--admin-token", ADMIN])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        // kefu's own start-up lines, as JSON; nothing per request.
        .env("KEFU_LOG", "warn,kefu=info")
        .env("KEFU_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = child.stdout.take().context("kefu's stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().context("kefu printed nothing")??;
    let base = first
        .strip_prefix("kefu listening on ")
        .with_context(|| format!("unexpected first line {first:?}"))?
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    let loaded = Arc::new(std::sync::Mutex::new(None));
    let stderr = child.stderr.take().context("kefu's stderr")?;
    let seen = loaded.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if event["fields"]["message"] == "data directory loaded"
                && let Ok(mut loaded) = seen.lock()
            {
                *loaded = Some(event["fields"].clone());
            }
        }
    });
    Ok(Running {
        child,
        base,
        loaded,
    })
}

/// kefu on a fresh data directory, removed with it.
struct Kefu {
    running: Running,
    _dir: tempfile::TempDir,
}

fn start_kefu(binary: &Path) -> anyhow::Result<Kefu> {
    let dir = tempfile::tempdir()?;
    let running = spawn_kefu(binary, &dir.path().join("data"), &[])?;
    Ok(Kefu { running, _dir: dir })
}

/// The HTTP ceiling: the same route, a constant answer.
async fn start_baseline() -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/cgi-bin/message/custom/send",
        axum::routing::post(|| async { r#"{"errcode":0,"errmsg":"ok"}"# }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

/// Accounts, users with an unlimited payment window, and a token: `(url, bodies)`.
async fn prepare(
    client: &reqwest::Client,
    base: &str,
    conversations: usize,
) -> anyhow::Result<(String, Vec<String>)> {
    let api = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}/api/v1{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let account: Value = api(reqwest::Method::POST, "/accounts", json!({"name": "load"}))
        .await?
        .json()
        .await?;
    let appid = account["appid"].as_str().context("appid")?;
    let mut bodies = Vec::with_capacity(conversations);
    for n in 0..conversations {
        let user: Value = api(
            reqwest::Method::POST,
            "/users",
            json!({"nickname": format!("u{n}")}),
        )
        .await?
        .json()
        .await?;
        let actions = format!(
            "/users/{}/actions",
            user["user_id"].as_str().context("user_id")?
        );
        let follow: Value = api(
            reqwest::Method::POST,
            &actions,
            json!({"appid": appid, "type": "follow"}),
        )
        .await?
        .json()
        .await?;
        api(
            reqwest::Method::POST,
            &actions,
            json!({"appid": appid, "type": "payment", "amount_fen": 100}),
        )
        .await?;
        let openid = follow["openid"].as_str().context("openid")?;
        bodies.push(
            json!({"touser": openid, "msgtype": "text", "text": {"content": "load"}}).to_string(),
        );
    }
    let token: Value = client
        .get(format!(
            "{base}/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={}",
            account["secret"].as_str().context("secret")?
        ))
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().context("access_token")?;
    Ok((
        format!("{base}/cgi-bin/message/custom/send?access_token={token}"),
        bodies,
    ))
}

struct Phase {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    /// Microseconds, sorted.
    latencies: Vec<u64>,
    /// What the first failed request answered, to say why.
    first_error: Option<String>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn p50_p99(&self) -> String {
        let (p50, p99) = (self.percentile(0.5), self.percentile(0.99));
        format!("{p50:.2} / {p99:.2} ms")
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i] as f64 / 1000.0
    }
}

/// Closed loop: every connection sends its next request as soon as the last one answers.
/// Open loop (`rate: Some`): request `i` is due at `start + i / rate`; latency counts from then.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    bodies: &[String],
    connections: usize,
    seconds: u64,
    rate: Option<f64>,
) -> Phase {
    let url: Arc<str> = url.into();
    let bodies: Arc<Vec<String>> = Arc::new(bodies.to_vec());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (client, url, bodies, next) =
            (client.clone(), url.clone(), bodies.clone(), next.clone());
        workers.spawn(async move {
            let (mut done, mut errors, mut latencies) = (0u64, 0u64, Vec::new());
            let mut first_error: Option<String> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let due = match rate {
                    Some(rate) => start + Duration::from_secs_f64(i as f64 / rate),
                    None => Instant::now(),
                };
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let body = bodies[(i as usize) % bodies.len()].clone();
                let outcome = match client.post(&*url).body(body).send().await {
                    Ok(response) => match response.bytes().await {
                        Ok(b) if b.starts_with(br#"{"errcode":0"#) => Ok(()),
                        Ok(b) => Err(String::from_utf8_lossy(&b).into_owned()),
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                let ok = outcome.is_ok();
                if let Err(e) = outcome {
                    first_error.get_or_insert(e);
                }
                latencies.push(due.elapsed().as_micros() as u64);
                done += 1;
                errors += u64::from(!ok);
            }
            (done, errors, latencies, first_error)
        });
    }
    let mut phase = Phase {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        first_error: None,
    };
    while let Some(Ok((done, errors, latencies, first_error))) = workers.join_next().await {
        if phase.first_error.is_none() {
            phase.first_error = first_error;
        }
        phase.requests += done;
        phase.errors += errors;
        phase.latencies.extend(latencies);
    }
    phase.elapsed = start.elapsed();
    phase.latencies.sort_unstable();
    phase
}

async fn run(args: Args) -> anyhow::Result<()> {
    if !args.kefu.is_file() {
        bail!(
            "{} does not exist: build it with `cargo build --profile perf -p kefu` (or pass --kefu)",
            args.kefu.display()
        );
    }
    if let Some(conversations) = args.restart {
        let result = scale::run(&args.kefu, conversations).await?;
        return finish(args.out.as_deref(), &result);
    }
    if args.wrk {
        wrk::check_installed()?;
    }
    let baseline = start_baseline().await?;
    let mut runs = Vec::new();
    for n in 1..=args.runs {
        if args.runs > 1 {
            eprintln!("run {n} of {}", args.runs);
        }
        let measured = measure(&args, &baseline).await?;
        measured.report();
        runs.push(measured);
    }
    let mut result = json!({
        "connections": args.connections,
        "conversations": args.conversations,
        "seconds": args.seconds,
    });
    if let [only] = runs.as_slice() {
        merge(&mut result, only.json());
    } else {
        summarize(&runs);
        result["runs"] = runs.iter().map(Measured::json).collect();
        result["median_peak_ratio"] = json!(round2(median(runs.iter().map(Measured::ratio))));
        result["median_open_loop_p99_ms"] =
            json!(median(runs.iter().map(|m| m.open.percentile(0.99))));
        result["median_baseline_open_loop_p99_ms"] =
            json!(median(runs.iter().map(|m| m.base_open.percentile(0.99))));
        if args.wrk {
            result["median_wrk_peak_ratio"] = json!(round2(median(
                runs.iter()
                    .filter_map(|m| m.wrk.as_ref().map(WrkPeaks::ratio))
            )));
        }
    }
    finish(args.out.as_deref(), &result)
}

/// The results as JSON: printed, and written to `--out` when given.
fn finish(out: Option<&Path>, result: &Value) -> anyhow::Result<()> {
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_vec_pretty(result)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    println!("{result}");
    Ok(())
}

/// One run's four phases: both servers at their peak, then both open-loop at half kefu's.
struct Measured {
    base_peak: Phase,
    kefu_peak: Phase,
    /// CPU per request at the peaks: kefu's, and this process's (the client, and during the
    /// baseline's peak the baseline server too).
    kefu_peak_cpu: PerRequest,
    client_cpu: PerRequest,
    client_and_base_cpu: PerRequest,
    /// The open-loop rate: half kefu's peak.
    rate: f64,
    open: Phase,
    /// What kefu's store did during the open loop.
    open_store: StoreTimings,
    base_open: Phase,
    /// Both peaks again with wrk (`--wrk`), measured last.
    wrk: Option<WrkPeaks>,
}

/// Starts kefu on a fresh data directory and measures it against the baseline at `baseline`.
async fn measure(args: &Args, baseline: &str) -> anyhow::Result<Measured> {
    let kefu = start_kefu(&args.kefu)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    eprintln!(
        "preparing {} conversations on kefu at {}",
        args.conversations, kefu.running.base
    );
    let (kefu_url, bodies) = prepare(&client, &kefu.running.base, args.conversations).await?;
    let baseline_url = format!("{baseline}/cgi-bin/message/custom/send");
    let (seconds, peak_connections) = (args.seconds, args.connections);
    // Open loop with four times the connections, so a slow answer does not hold back the next.
    let open_connections = args.connections * 4;
    let (me, kefu_pid) = (std::process::id(), kefu.running.child.id());
    eprintln!("baseline peak ({seconds} s)");
    let me_before = CpuTime::of(me);
    let base_peak = drive(
        &client,
        &baseline_url,
        &bodies,
        peak_connections,
        seconds,
        None,
    )
    .await;
    let client_and_base_cpu = CpuTime::of(me).per_request(&me_before, base_peak.requests);
    eprintln!("kefu peak ({seconds} s)");
    let (me_before, kefu_before) = (CpuTime::of(me), CpuTime::of(kefu_pid));
    let kefu_peak = drive(&client, &kefu_url, &bodies, peak_connections, seconds, None).await;
    let client_cpu = CpuTime::of(me).per_request(&me_before, kefu_peak.requests);
    let kefu_peak_cpu = CpuTime::of(kefu_pid).per_request(&kefu_before, kefu_peak.requests);
    let rate = kefu_peak.rate() / 2.0;
    eprintln!("kefu open loop at {rate:.0} req/s ({seconds} s)");
    let store_before = StoreTimings::scrape(&client, &kefu.running.base).await?;
    let open = drive(
        &client,
        &kefu_url,
        &bodies,
        open_connections,
        seconds,
        Some(rate),
    )
    .await;
    let open_store = StoreTimings::scrape(&client, &kefu.running.base)
        .await?
        .since(&store_before);
    eprintln!("baseline open loop at the same rate ({seconds} s)");
    let base_open = drive(
        &client,
        &baseline_url,
        &bodies,
        open_connections,
        seconds,
        Some(rate),
    )
    .await;
    let wrk = if args.wrk {
        Some(wrk_peaks(&bodies, &baseline_url, &kefu_url, kefu_pid, args).await?)
    } else {
        None
    };
    Ok(Measured {
        base_peak,
        kefu_peak,
        kefu_peak_cpu,
        client_cpu,
        client_and_base_cpu,
        rate,
        open,
        open_store,
        base_open,
        wrk,
    })
}

/// Both closed-loop peaks again, driven by wrk with the same bodies. The client is another
/// process now, so this one's CPU is the baseline server's alone.
async fn wrk_peaks(
    bodies: &[String],
    baseline_url: &str,
    kefu_url: &str,
    kefu_pid: u32,
    args: &Args,
) -> anyhow::Result<WrkPeaks> {
    let script = tempfile::Builder::new().suffix(".lua").tempfile()?;
    std::fs::write(script.path(), wrk::script(bodies))?;
    let (connections, seconds) = (args.connections, args.seconds);
    eprintln!("baseline peak with wrk ({seconds} s)");
    let me = std::process::id();
    let before = CpuTime::of(me);
    let base = wrk::peak(baseline_url, script.path(), connections, seconds).await?;
    let base_cpu = CpuTime::of(me).per_request(&before, base.requests);
    eprintln!("kefu peak with wrk ({seconds} s)");
    let before = CpuTime::of(kefu_pid);
    let kefu = wrk::peak(kefu_url, script.path(), connections, seconds).await?;
    let kefu_cpu = CpuTime::of(kefu_pid).per_request(&before, kefu.requests);
    Ok(WrkPeaks {
        base,
        kefu,
        base_cpu,
        kefu_cpu,
    })
}

impl Measured {
    fn ratio(&self) -> f64 {
        self.kefu_peak.rate() / self.base_peak.rate()
    }

    fn json(&self) -> Value {
        let mut out = json!({
            "baseline_peak_rps": self.base_peak.rate().round(),
            "kefu_peak_rps": self.kefu_peak.rate().round(),
            "kefu_peak_errors": self.kefu_peak.errors,
            "peak_ratio": round2(self.ratio()),
            "kefu_peak_cpu_per_send": self.kefu_peak_cpu.json(),
            "client_cpu_per_request": self.client_cpu.json(),
            "client_and_baseline_cpu_per_request": self.client_and_base_cpu.json(),
            "open_loop_rps": self.rate.round(),
            "open_loop_errors": self.open.errors,
            "open_loop_p50_ms": self.open.percentile(0.50),
            "open_loop_p99_ms": self.open.percentile(0.99),
            "open_loop_p999_ms": self.open.percentile(0.999),
            "baseline_open_loop_p50_ms": self.base_open.percentile(0.50),
            "baseline_open_loop_p99_ms": self.base_open.percentile(0.99),
            "open_loop_store": self.open_store.json(),
        });
        if let Some(wrk) = &self.wrk {
            out["wrk"] = wrk.json();
        }
        out
    }

    fn report(&self) {
        row(
            "baseline (axum, constant answer) peak",
            format!("{:.0} req/s", self.base_peak.rate()),
        );
        row(
            "kefu durable custom/send peak",
            format!("{:.0} req/s", self.kefu_peak.rate()),
        );
        row(
            "ratio kefu / baseline (target ≥ 0.8)",
            format!("{:.2}", self.ratio()),
        );
        println!(
            "kefu's CPU per send at its peak: {}",
            self.kefu_peak_cpu.describe()
        );
        row(
            "this client's CPU per request",
            format!("{:.1} µs", self.client_cpu.total()),
        );
        row(
            "  with the baseline server beside it (one process)",
            format!("{:.1} µs", self.client_and_base_cpu.total()),
        );
        row(
            "open loop at 0.5 × kefu peak: p50 / p99",
            self.open.p50_p99(),
        );
        let (appends, checkpoints) = self.open_store.describe();
        row("  kefu's log appends in it (with fdatasync)", appends);
        row("  kefu's checkpoints in it", checkpoints);
        row(
            "the baseline at the same rate: p50 / p99",
            self.base_open.p50_p99(),
        );
        row(
            "errors (peak, open loop)",
            format!("{}, {}", self.kefu_peak.errors, self.open.errors),
        );
        if let Some(wrk) = &self.wrk {
            row(
                "with wrk: baseline peak",
                format!("{:.0} req/s", wrk.base.rps),
            );
            row("with wrk: kefu peak", format!("{:.0} req/s", wrk.kefu.rps));
            row(
                "with wrk: ratio kefu / baseline (target ≥ 0.8)",
                format!("{:.2}", wrk.ratio()),
            );
            row(
                "with wrk: errors (baseline, kefu)",
                format!("{}, {}", wrk.base.failed, wrk.kefu.failed),
            );
            row(
                "with wrk: CPU per request, baseline / kefu",
                format!(
                    "{:.1} / {:.1} µs",
                    wrk.base_cpu.total(),
                    wrk.kefu_cpu.total()
                ),
            );
            println!("with wrk: kefu's CPU per send: {}", wrk.kefu_cpu.describe());
        }
        for (phase, what) in [(&self.kefu_peak, "peak"), (&self.open, "open loop")] {
            if let Some(e) = &phase.first_error {
                println!("first error ({what}): {e}");
            }
        }
    }
}

/// The medians and ranges over several runs: on a shared machine one run can mislead.
fn summarize(runs: &[Measured]) {
    let spread = |values: Vec<f64>, decimals: usize| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!(
            "{:.decimals$} ({:.decimals$}–{:.decimals$})",
            median(values.iter().copied()),
            low,
            high
        )
    };
    println!("over {} runs: median (lowest–highest)", runs.len());
    row(
        "ratio kefu / baseline (target ≥ 0.8)",
        spread(runs.iter().map(Measured::ratio).collect(), 2),
    );
    row(
        "kefu open loop p99, ms (target ≤ 2)",
        spread(runs.iter().map(|m| m.open.percentile(0.99)).collect(), 2),
    );
    row(
        "kefu log appends over 10 ms in the open loop",
        spread(
            runs.iter()
                .map(|m| m.open_store.slow_appends() as f64)
                .collect(),
            0,
        ),
    );
    row(
        "baseline open loop p99, ms",
        spread(
            runs.iter().map(|m| m.base_open.percentile(0.99)).collect(),
            2,
        ),
    );
    row(
        "kefu's CPU per send at its peak, µs",
        spread(runs.iter().map(|m| m.kefu_peak_cpu.total()).collect(), 1),
    );
    let wrk: Vec<&WrkPeaks> = runs.iter().filter_map(|m| m.wrk.as_ref()).collect();
    if !wrk.is_empty() {
        row(
            "with wrk: ratio kefu / baseline",
            spread(wrk.iter().map(|w| w.ratio()).collect(), 2),
        );
        row(
            "with wrk: kefu's CPU per send, µs",
            spread(wrk.iter().map(|w| w.kefu_cpu.total()).collect(), 1),
        );
        row(
            "with wrk: baseline's CPU per request, µs",
            spread(wrk.iter().map(|w| w.base_cpu.total()).collect(), 1),
        );
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Adds `extra`'s fields to `into` (both JSON objects).
fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}
