//! `kefu`: the binary only wires. Flags (each also a `KEFU_*` environment variable) become a
//! `kefu_server::Config`; the server does the rest.

mod export;
mod replay;
mod svg;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kefu_policy::Platform;
use kefu_server::clock::SystemClock;
use kefu_server::rollout_file::{self, RolloutFile};
use kefu_server::seed::{self, Report, Seed};
use kefu_server::{App, ClockMode, Config, PushConfig};
use kefu_store::EmbeddedStore;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Parser)]
#[command(
    name = "kefu",
    version,
    about = "A self-hosted WeChat customer-service messaging platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the WeChat developer API (/cgi-bin) and kefu's own API (/api/v1).
    Serve(Serve),
    /// Decide every send of a traffic export again under two rule sets (or a rollout) and
    /// report what would differ. Needs no data directory.
    Replay(ReplayArgs),
    /// Write a running kefu's traffic log (JSON lines) to a file or stdout.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The traffic export (JSON lines, as GET /api/v1/traffic or `kefu export` write it).
    #[arg(long)]
    traffic: PathBuf,
    /// The first rule set: a shipped name, a rule-set TOML file, or `recorded` (each trigger
    /// under the rule set the live server recorded).
    #[arg(long, requires = "against", conflicts_with = "rollout")]
    rules: Option<String>,
    /// The rule set to compare with (same forms as --rules).
    #[arg(long, requires = "rules")]
    against: Option<String>,
    /// Compare a rollout with staying on its `from`: a shipped rollout id or a rollout file.
    #[arg(long, required_unless_present = "rules")]
    rollout: Option<String>,
    /// Where report.json and refusals.svg go.
    #[arg(long, default_value = "./kefu-replay")]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The running kefu, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "KEFU_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Its admin token.
    #[arg(long, env = "KEFU_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// Only records at or after this instant (RFC 3339); account lines are always included.
    #[arg(long)]
    from: Option<String>,
    /// Only records before this instant (RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// The file to write; stdout when absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ClockArg {
    /// The machine's clock, in whole seconds.
    System,
    /// A clock that only POST /api/v1/clock/advance and /set move.
    Virtual,
}

#[derive(clap::Args)]
struct Serve {
    /// Address to listen on.
    #[arg(long, env = "KEFU_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the embedded store keeps its state (created if missing; one kefu at a time).
    #[arg(long, env = "KEFU_DATA_DIR", default_value = "./kefu-data")]
    data_dir: PathBuf,
    /// The rule clock: the machine's, or a virtual one tests move by hand.
    #[arg(long, env = "KEFU_CLOCK", value_enum, default_value = "system")]
    clock: ClockArg,
    /// Where a new virtual clock starts (RFC 3339); ignored on an existing data directory
    /// unless --clock-reset is given.
    #[arg(long, env = "KEFU_CLOCK_START", value_parser = parse_instant)]
    clock_start: Option<i64>,
    /// Start the stored clock over (in the mode of --clock).
    #[arg(long, env = "KEFU_CLOCK_RESET")]
    clock_reset: bool,
    /// The admin token of /api/v1. Without it kefu keeps the stored one, or makes one and
    /// prints it once.
    #[arg(long, env = "KEFU_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// A platform's default rule set, as PLATFORM=NAME (oa, wecom, kf, miniprogram); repeatable.
    #[arg(long, env = "KEFU_DEFAULT_RULESET", value_delimiter = ',', value_parser = parse_default)]
    default_ruleset: Vec<(Platform, String)>,
    /// Create a rollout at start-up unless it exists: the id of a shipped one
    /// (wechat-2023-quota-change) or the path of a rollout file; repeatable.
    #[arg(long = "rollout", env = "KEFU_ROLLOUT", value_delimiter = ',')]
    rollouts: Vec<String>,
    /// Test-only: how long a push attempt waits for the webhook's answer, in milliseconds
    /// (WeChat waits 5000).
    #[arg(
        long,
        env = "KEFU_PUSH_TIMEOUT_MS",
        hide = true,
        default_value_t = 5000
    )]
    push_timeout_ms: u64,
    /// Webhook deliveries in flight at once, across accounts (each holds a socket: keep
    /// `ulimit -n` well above it).
    #[arg(long, env = "KEFU_PUSH_WORKERS", default_value_t = PushConfig::default().workers)]
    push_workers: usize,
    /// Webhook deliveries in flight at once for one account.
    #[arg(long, env = "KEFU_PUSH_PER_ACCOUNT", default_value_t = PushConfig::default().per_account)]
    push_per_account: usize,
    /// Pending deliveries the outbox holds before actions are refused (503 push_queue_full).
    #[arg(long, env = "KEFU_PUSH_QUEUE", default_value_t = PushConfig::default().capacity)]
    push_queue: usize,
    /// Log format on stderr.
    #[arg(long, env = "KEFU_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// A seed file (TOML: accounts with fixed appid and secret, users, follows) applied at
    /// start-up; applying it again changes nothing that already matches.
    #[arg(long, env = "KEFU_SEED")]
    seed: Option<PathBuf>,
    /// Set up a demo account with a menu, a QR code and users, and print its credentials.
    #[arg(long, env = "KEFU_DEMO")]
    demo: bool,
    /// Neither write a snapshot of the world's users and conversations at a graceful stop
    /// nor start from one: every start reads the whole data directory (slower with millions
    /// of followers; the snapshot is only ever used when the data directory has not changed
    /// since it was written). One left by an earlier run is deleted.
    #[arg(long, env = "KEFU_NO_SNAPSHOT")]
    no_snapshot: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_instant(text: &str) -> Result<i64, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| {
            format!("not an RFC 3339 instant ({e}); for example 2023-06-12T00:00:00+08:00")
        })
}

fn parse_default(text: &str) -> Result<(Platform, String), String> {
    let (platform, name) = text
        .split_once('=')
        .ok_or_else(|| format!("expected PLATFORM=NAME, got {text:?}"))?;
    let platform = platform
        .parse::<Platform>()
        .map_err(|_| format!("unknown platform {platform:?}: oa, wecom, kf or miniprogram"))?;
    Ok((platform, name.to_owned()))
}

/// Every request allocates (JSON, headers, records); glibc's allocator was about a tenth of the
/// CPU of a durable send under load, measured with `perf` (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(serve) => {
            init_logging(serve.log_format);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?
                .block_on(run_serve(serve))
        }
        Command::Replay(args) => run_replay(args),
        Command::Export(args) => {
            let options = export::Options {
                url: args.url,
                admin_token: args.admin_token,
                from: args.from,
                to: args.to,
                out: args.out,
            };
            let bytes = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?
                .block_on(export::run(options))?;
            eprintln!("exported {bytes} bytes of traffic");
            Ok(())
        }
    }
}

fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    let mut book = kefu_policy::RuleBook::shipped();
    let side = |book: &mut kefu_policy::RuleBook, name: &str| -> anyhow::Result<replay::Side> {
        let assign = if name == "recorded" {
            replay::Assign::Recorded
        } else {
            replay::Assign::Fixed(replay::ruleset(book, name)?)
        };
        Ok(replay::Side {
            label: name.to_owned(),
            assign,
        })
    };
    let sides = match (&args.rules, &args.against, &args.rollout) {
        (Some(a), Some(b), None) => [side(&mut book, a)?, side(&mut book, b)?],
        (None, None, Some(rollout)) => {
            let file = read_rollout(rollout)?;
            let rollout = kefu_policy::Rollout::new(file.spec, &book)
                .with_context(|| format!("--rollout {rollout}"))?;
            let from = side(&mut book, &rollout.from)?;
            let label = format!("rollout {} ({} → {})", rollout.id, rollout.from, rollout.to);
            [
                from,
                replay::Side {
                    label,
                    assign: replay::Assign::Rollouts(vec![rollout]),
                },
            ]
        }
        _ => bail!("give --rules A --against B, or --rollout ID|FILE"),
    };
    replay::run(replay::Options {
        traffic: args.traffic,
        out: args.out,
        sides,
        book,
    })?;
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEFU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run_serve(serve: Serve) -> anyhow::Result<()> {
    let opening = Instant::now();
    let store = EmbeddedStore::open(&serve.data_dir)
        .with_context(|| format!("opening the data directory {}", serve.data_dir.display()))?;
    let store_opened = opening.elapsed();
    if serve.no_snapshot {
        // One an earlier run left would only take disk (the store is ours now, locked).
        let _ = std::fs::remove_file(serve.data_dir.join(kefu_server::SNAPSHOT_FILE));
    }
    let replayed = store.replayed();
    let full_repair = store.needed_full_repair();
    if full_repair {
        tracing::warn!(
            "the data directory's index had no usable saved free-page map (left by a crash of \
             an older kefu, or damaged); rebuilding it took a walk over the whole file"
        );
    }
    let config = Config {
        store: Arc::new(store),
        clock_mode: match serve.clock {
            ClockArg::System => ClockMode::System,
            ClockArg::Virtual => ClockMode::Virtual,
        },
        clock_start: serve.clock_start,
        clock_reset: serve.clock_reset,
        admin_token: serve.admin_token.filter(|t| !t.is_empty()),
        default_rulesets: serve.default_ruleset,
        rollouts: serve
            .rollouts
            .iter()
            .map(|r| read_rollout(r))
            .collect::<anyhow::Result<_>>()?,
        wall: Arc::new(SystemClock),
        push: PushConfig {
            timeout: Duration::from_millis(serve.push_timeout_ms.max(1)),
            workers: serve.push_workers.max(1),
            per_account: serve.push_per_account.max(1),
            capacity: serve.push_queue,
        },
        snapshot: (!serve.no_snapshot).then(|| serve.data_dir.clone()),
    };
    if config.clock_mode == ClockMode::System && config.clock_start.is_some() {
        bail!("--clock-start needs --clock virtual");
    }
    let seed = match &serve.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the seed {}", path.display()))?;
            Some(
                Seed::from_toml(&text)
                    .with_context(|| format!("reading the seed {}", path.display()))?,
            )
        }
        None => None,
    };
    let loading = Instant::now();
    let (app, started) = App::open(config).await?;
    // Each phase of a start, so that a slow one shows without a profiler.
    tracing::info!(
        store_ms = store_opened.as_millis() as u64,
        replayed_entries = replayed,
        full_repair,
        world_ms = loading.elapsed().as_millis() as u64,
        records = started.records,
        from_snapshot = started.from_snapshot,
        snapshot_caught_up = started.snapshot_caught_up,
        "data directory loaded"
    );
    for warning in &started.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(seed) = &seed {
        let report = seed::apply(&app, seed).await.context("applying the seed")?;
        tracing::info!(
            accounts = report.accounts.len(),
            users = report.users.len(),
            "seed applied"
        );
    }
    let demo = if serve.demo {
        let seed = Seed::from_toml(seed::DEMO).context("the demo seed")?;
        Some(
            seed::apply(&app, &seed)
                .await
                .context("setting up the demo")?,
        )
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("listening on {}", serve.listen))?;
    let local = listener.local_addr()?;
    // stdout, not the log: the admin token must never enter log records.
    println!("kefu listening on http://{local}");
    if let Some(token) = &started.new_admin_token {
        println!(
            "admin token (shown once, stored in {}): {token}",
            serve.data_dir.display()
        );
    }
    if let Some(demo) = &demo {
        print_demo(demo, local);
    }
    tracing::info!(listen = %local, data_dir = %serve.data_dir.display(), "kefu started");
    kefu_server::run(listener, app.clone(), shutdown_signal()).await?;
    // `run` has closed the store; the process ends next.
    app.forget_world();
    tracing::info!("kefu stopped; everything acknowledged is on disk");
    Ok(())
}

/// The demo's credentials and what to try, on stdout (never the log: the secret is in it).
fn print_demo(demo: &Report, local: SocketAddr) {
    let base = format!("http://{local}");
    for account in &demo.accounts {
        println!(
            "demo account {:?}: appid {} secret {}",
            account.name, account.appid, account.secret
        );
        println!(
            "  token: {base}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            account.appid, account.secret
        );
        if account.menu {
            println!("  menu: {base}/api/v1/accounts/{}/menu", account.appid);
        }
        for (ticket, scene) in &account.qrcodes {
            println!("  QR code {scene:?}: {base}/cgi-bin/showqrcode?ticket={ticket}");
        }
    }
    for user in &demo.users {
        let follows: Vec<String> = user
            .openids
            .iter()
            .map(|(appid, openid, following)| {
                let state = if *following {
                    "follows"
                } else {
                    "does not follow"
                };
                format!("{state} {appid} as {openid}")
            })
            .collect();
        let follows = if follows.is_empty() {
            "follows nothing yet".to_owned()
        } else {
            follows.join(", ")
        };
        println!("demo user {} ({}): {follows}", user.user_id, user.nickname);
    }
}

/// A shipped rollout by id, or a rollout file by path.
fn read_rollout(name: &str) -> anyhow::Result<RolloutFile> {
    let text = match rollout_file::shipped(name) {
        Some(text) => text.to_owned(),
        None => std::fs::read_to_string(name).with_context(|| {
            format!("--rollout {name}: neither a shipped rollout (wechat-2023-quota-change) nor a readable file")
        })?,
    };
    rollout_file::parse(&text).with_context(|| format!("--rollout {name}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight and draining the writer");
}
