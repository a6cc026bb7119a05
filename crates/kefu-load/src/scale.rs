//! `kefu-load --restart N`: what N live conversations cost in memory, and how long kefu takes to
//! be ready again after a clean shutdown and after SIGKILL.
//!
//! It seeds a fresh data directory with one account and N followers (`kefu serve --seed`, the
//! supported way to create state in bulk), stops kefu with SIGTERM, then starts it again and
//! times the start to the first `/healthz` answer, reading its resident memory once ready. An
//! empty data directory, started the same way, is the baseline the memory is measured against.
//! Then it sends for a moment, kills kefu with SIGKILL and times the start once more; and again
//! after sends that redb holds without a checkpoint. Each start's line says how long the store
//! and the world took, and whether redb had to walk its whole file (it should not: every
//! durable commit saves its allocator state, opening's too). Last, it times a graceful stop
//! (SIGTERM to exit) of kefu holding them all, and the start after it: a restart is a stop and
//! a start. A graceful stop writes a snapshot of the users and conversations that the next
//! start reads instead of the store's records (the clean-shutdown starts here); a start after
//! SIGKILL reads the last one too, and loads again what the store wrote since.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{ADMIN, Running, row, spawn_kefu};

const APPID: &str = "wx0123456789abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Followers one seed file holds at most. A seed is one commit, and one commit is one log entry
/// (4 GiB at most); a million followers also keep the seed's TOML, parsed whole, near 1 GB.
const SEED_CHUNK: usize = 1_000_000;

/// A seed of one account and the users `users` who follow it: one conversation each.
fn seed(users: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(users.len() * 100);
    let _ = writeln!(
        out,
        "[[accounts]]\nappid = \"{APPID}\"\nsecret = \"{SECRET}\"\nname = \"scale\"\n"
    );
    for i in users.clone() {
        let _ = writeln!(out, "[[users]]\nuser_id = \"u{i}\"\nnickname = \"n\"");
    }
    for i in users {
        let _ = writeln!(out, "[[follows]]\nuser_id = \"u{i}\"\nappid = \"{APPID}\"");
    }
    out
}

struct Started {
    running: Running,
    ready_after: Duration,
}

impl Started {
    /// How kefu's start split between opening the store (with replay) and loading the world,
    /// from its own log line: `{"store_ms", "replayed_entries", "world_ms", "records"}`. The
    /// line is read from kefu's stderr on a thread of its own, which may not have got to it by
    /// the time `/healthz` answers: waited for, up to two seconds.
    async fn phases(&self) -> Value {
        let logged = || self.running.loaded.lock().ok().and_then(|l| l.clone());
        let mut loaded = logged();
        for _ in 0..200 {
            if loaded.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            loaded = logged();
        }
        loaded.map_or(Value::Null, |mut fields| {
            if let Some(fields) = fields.as_object_mut() {
                fields.remove("message");
            }
            fields
        })
    }
}

/// Starts kefu on `dir` and waits for `/healthz`, timing from the spawn.
async fn start(
    kefu: &Path,
    dir: &Path,
    extra: &[&str],
    client: &reqwest::Client,
) -> anyhow::Result<Started> {
    let t0 = Instant::now();
    let running = spawn_kefu(kefu, dir, extra)?;
    let deadline = t0 + Duration::from_secs(600);
    loop {
        if let Ok(r) = client.get(format!("{}/healthz", running.base)).send().await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("kefu was not ready within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(Started {
        running,
        ready_after: t0.elapsed(),
    })
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// SIGTERM (graceful shutdown), then waits for the process to end: how long that took.
fn stop(mut started: Started) -> anyhow::Result<Duration> {
    let child = &mut started.running.child;
    let t0 = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -TERM failed");
    }
    child.wait()?;
    Ok(t0.elapsed())
}

/// Three sends to u0 on the kefu at `base`; `then_read` reads u0's inbox after them, which makes
/// the store's applier write them into redb at once.
async fn sends(base: &str, client: &reqwest::Client, then_read: bool) -> anyhow::Result<()> {
    let token: serde_json::Value = client
        .get(format!(
            "{base}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        ))
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().context("access_token")?;
    let user: serde_json::Value = client
        .get(format!("{base}/api/v1/users/u0"))
        .bearer_auth(ADMIN)
        .send()
        .await?
        .json()
        .await?;
    let openid = user["openids"][APPID].as_str().context("openid of u0")?;
    let body = json!({"touser": openid, "msgtype": "text", "text": {"content": "hi"}});
    for _ in 0..3 {
        client
            .post(format!(
                "{base}/cgi-bin/message/custom/send?access_token={token}"
            ))
            .json(&body)
            .send()
            .await?;
    }
    if then_read {
        let inbox = client
            .get(format!("{base}/api/v1/users/u0/inbox"))
            .bearer_auth(ADMIN)
            .send()
            .await?;
        if !inbox.status().is_success() {
            bail!("reading u0's inbox: {}", inbox.status());
        }
    }
    Ok(())
}

/// Measures, prints the report, and returns the figures as JSON.
pub async fn run(kefu: &Path, conversations: usize) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let empty_dir = tempfile::tempdir()?;
    let empty = start(kefu, empty_dir.path(), &[], &client).await?;
    let empty_rss = rss(empty.running.child.id())?;
    stop(empty)?;

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let seed_file = dir.path().join("seed.toml");
    let seed_arg = seed_file.display().to_string();
    // Seeds add to what is there: one start per chunk, each with the next users.
    for from in (0..conversations).step_by(SEED_CHUNK) {
        let to = (from + SEED_CHUNK).min(conversations);
        std::fs::write(&seed_file, seed(from..to))?;
        eprintln!("seeding conversations {from}..{to} of {conversations}");
        let seeded = start(kefu, &data, &["--seed", &seed_arg], &client).await?;
        eprintln!("seeded in {:.1} s", seeded.ready_after.as_secs_f64());
        stop(seeded)?;
    }
    std::fs::remove_file(&seed_file)?;

    let clean = start(kefu, &data, &[], &client).await?;
    let clean_rss = rss(clean.running.child.id())?;
    let clean_ready = clean.ready_after;
    let clean_phases = clean.phases().await;
    let tables = memory_by_table(&clean.running.base, &client).await?;
    // Sends the log holds and redb does not yet, then SIGKILL.
    sends(&clean.running.base, &client, false).await?;
    drop(clean);
    let killed = start(kefu, &data, &[], &client).await?;
    let killed_ready = killed.ready_after;
    let killed_phases = killed.phases().await;
    // Sends redb holds too, without a checkpoint yet (the read makes the applier take them at
    // once), then SIGKILL.
    sends(&killed.running.base, &client, true).await?;
    drop(killed);
    let between = start(kefu, &data, &[], &client).await?;
    let between_ready = between.ready_after;
    let between_phases = between.phases().await;
    // A restart is a stop and a start: the stop of a kefu holding every conversation (it
    // writes the snapshot), and the start after it.
    let stopped_in = stop(between)?;
    let restarted = start(kefu, &data, &[], &client).await?;
    let restarted_ready = restarted.ready_after;
    let restarted_phases = restarted.phases().await;
    stop(restarted)?;

    let per = (clean_rss.saturating_sub(empty_rss)) as f64 / conversations as f64;
    let per_table: serde_json::Map<String, Value> = (tables.iter())
        .map(|(table, bytes)| (table.clone(), json!(*bytes as f64 / conversations as f64)))
        .collect();
    let result = json!({
        "conversations": conversations,
        "empty_rss_bytes": empty_rss,
        "rss_bytes": clean_rss,
        "bytes_per_conversation": per.round(),
        "table_bytes_per_conversation": per_table,
        "ready_after_clean_shutdown_s": clean_ready.as_secs_f64(),
        "ready_after_sigkill_s": killed_ready.as_secs_f64(),
        "ready_after_sigkill_between_checkpoints_s": between_ready.as_secs_f64(),
        "graceful_stop_s": stopped_in.as_secs_f64(),
        "ready_after_that_stop_s": restarted_ready.as_secs_f64(),
        "start_phases": {
            "after_that_stop": restarted_phases,
            "clean": clean_phases,
            "sigkill": killed_phases,
            "sigkill_between_checkpoints": between_phases,
        },
    });
    row(
        "resident memory per conversation (target ≤ 64 B)",
        format!("{per:.0} B"),
    );
    for (table, bytes) in &tables {
        row(
            &format!("  of which {table} (allocated)"),
            format!("{:.1} B", *bytes as f64 / conversations as f64),
        );
    }
    row(
        "ready after a clean shutdown",
        format!("{:.3} s", clean_ready.as_secs_f64()),
    );
    row(
        "  of which: store, world (kefu's own log)",
        split(&clean_phases),
    );
    row(
        "ready after SIGKILL",
        format!("{:.3} s", killed_ready.as_secs_f64()),
    );
    row("  of which: store, world", split(&killed_phases));
    row(
        "ready after SIGKILL between checkpoints",
        format!("{:.3} s", between_ready.as_secs_f64()),
    );
    row("  of which: store, world", split(&between_phases));
    row(
        "graceful stop (SIGTERM to exit, snapshot written)",
        format!("{:.3} s", stopped_in.as_secs_f64()),
    );
    row(
        "ready after that stop",
        format!("{:.3} s", restarted_ready.as_secs_f64()),
    );
    row("  of which: store, world", split(&restarted_phases));
    Ok(result)
}

/// kefu's `kefu_memory_bytes{table}` gauges, in the order `/metrics` gives them.
async fn memory_by_table(
    base: &str,
    client: &reqwest::Client,
) -> anyhow::Result<Vec<(String, u64)>> {
    let text = crate::store_timings::metrics(client, base).await?;
    let mut tables = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("kefu_memory_bytes{table=\"") else {
            continue;
        };
        let (table, bytes) = rest
            .split_once("\"} ")
            .context("a kefu_memory_bytes line")?;
        tables.push((table.to_owned(), bytes.parse()?));
    }
    Ok(tables)
}

/// `store 0.012 s, world 2.345 s` (with `, redb walked its file` when the store's open had to
/// rebuild redb's free-page map, and `, from the snapshot` when the world's users and
/// conversations came from one, with how many records it was caught up with after a crash),
/// or `not logged` when kefu did not say.
fn split(phases: &Value) -> String {
    let mut walked = match phases["full_repair"].as_bool() {
        Some(true) => ", redb walked its file",
        _ => "",
    }
    .to_owned();
    if phases["from_snapshot"].as_bool() == Some(true) {
        walked += ", from the snapshot";
        if let Some(n) = phases["snapshot_caught_up"].as_u64().filter(|n| *n > 0) {
            let _ = write!(walked, " caught up with {n} records");
        }
    }
    match (phases["store_ms"].as_u64(), phases["world_ms"].as_u64()) {
        (Some(store), Some(world)) => format!(
            "store {:.3} s, world {:.3} s{walked}",
            store as f64 / 1000.0,
            world as f64 / 1000.0
        ),
        _ => "not logged".into(),
    }
}
