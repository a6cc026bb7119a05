//! `kefu replay`: decides every send of a traffic export again, from empty state, under two
//! rule-set assignments, and says what would differ. Reads a file; needs no data directory.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kefu_policy::{
    AccountFacts, Channel, Defaults, Event, Op, Platform, Replay, Rollout, RuleBook, RuleSet,
    RuleSetId, Timeline, Trigger,
};
use kefu_server::traffic::parse_line;
use kefu_store::TrafficEvent;
use serde_json::{Value, json};

use crate::svg;

/// Which rule set each trigger is decided under, on one side of the comparison.
pub enum Assign {
    /// One rule set for every account at every instant.
    Fixed(RuleSetId),
    /// The rule set the live server recorded with each trigger.
    Recorded,
    /// As rollouts assign it, per account over time.
    Rollouts(Vec<Rollout>),
}

pub struct Side {
    pub label: String,
    pub assign: Assign,
}

/// The traffic, parsed and interned.
pub struct Traffic {
    pub events: Vec<Event>,
    /// The recorded errcode of each send, in event order.
    pub recorded: Vec<u32>,
    pub accounts: Vec<(String, Platform, i64)>,
    pub conversations: usize,
    pub lines: usize,
}

pub fn load(path: &Path, book: &RuleBook) -> anyhow::Result<Traffic> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("reading the traffic file {}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut accounts: Vec<(String, Platform, i64)> = Vec::new();
    let mut account_index: HashMap<String, u32> = HashMap::new();
    let mut conversation_index: HashMap<(u32, String), u32> = HashMap::new();
    let mut traffic = Traffic {
        events: Vec::new(),
        recorded: Vec::new(),
        accounts: Vec::new(),
        conversations: 0,
        lines: 0,
    };
    let mut account_of = |appid: &str, accounts: &mut Vec<(String, Platform, i64)>| {
        *account_index.entry(appid.to_owned()).or_insert_with(|| {
            accounts.push((appid.to_owned(), Platform::Oa, i64::MIN));
            (accounts.len() - 1) as u32
        })
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        traffic.lines += 1;
        let record = parse_line(&line).with_context(|| format!("line {}", n + 1))?;
        let (appid, openid, op, recorded) = match &record.event {
            TrafficEvent::Account {
                appid,
                platform,
                registered_at,
            } => {
                let index = account_of(appid, &mut accounts) as usize;
                let platform = platform.parse().unwrap_or(Platform::Oa);
                accounts[index].1 = platform;
                accounts[index].2 = *registered_at;
                continue;
            }
            TrafficEvent::Trigger {
                appid,
                openid,
                trigger,
                ruleset,
            } => {
                let op = if trigger == "unfollow" {
                    Op::Unfollow
                } else {
                    let trigger: Trigger = trigger.parse().map_err(|_| {
                        anyhow::anyhow!("line {}: unknown trigger {trigger:?}", n + 1)
                    })?;
                    Op::Trigger(trigger)
                };
                (appid, openid, op, book.id(ruleset))
            }
            TrafficEvent::Send {
                appid,
                openid,
                errcode,
                ruleset,
                ..
            } => {
                traffic.recorded.push(*errcode);
                (appid, openid, Op::Send, book.id(ruleset))
            }
        };
        let account = account_of(appid, &mut accounts);
        let next = conversation_index.len() as u32;
        let conversation = *conversation_index
            .entry((account, openid.clone()))
            .or_insert(next);
        traffic.events.push(Event {
            at: record.at,
            account,
            conversation,
            op,
            recorded,
        });
    }
    traffic.conversations = conversation_index.len();
    traffic.accounts = accounts;
    Ok(traffic)
}

/// A rule set named on the command line: a name in the book, or a TOML file added to it.
pub fn ruleset(book: &mut RuleBook, name: &str) -> anyhow::Result<RuleSetId> {
    if name == "recorded" {
        bail!("`recorded` is not a rule set");
    }
    if let Some(id) = book.id(name) {
        return Ok(id);
    }
    let text = std::fs::read_to_string(name).with_context(|| {
        format!("{name:?} is neither a shipped rule set nor a readable rule-set file")
    })?;
    let rs = RuleSet::from_toml(&text).with_context(|| format!("rule-set file {name}"))?;
    book.try_insert(rs)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// Per side: how every send was decided.
struct Outcome {
    errcodes: Vec<u32>,
    /// Accepted sends by the trigger of the grant they spent.
    by_trigger: BTreeMap<&'static str, u64>,
}

fn run_side(traffic: &Traffic, side: &Side, book: &RuleBook, progress: &mut Progress) -> Outcome {
    let timelines: Vec<Timeline> = match &side.assign {
        Assign::Fixed(id) => vec![Timeline::fixed(*id); traffic.accounts.len()],
        Assign::Recorded => Vec::new(),
        Assign::Rollouts(rollouts) => traffic
            .accounts
            .iter()
            .map(|(appid, platform, registered_at)| {
                let facts = AccountFacts {
                    id: appid,
                    platform: *platform,
                    registered_at: *registered_at,
                };
                Timeline::of(&facts, Channel::Api, &Defaults::shipped(), rollouts, book)
            })
            .collect(),
    };
    let default = book
        .id(Defaults::shipped().get(Platform::Oa))
        .unwrap_or(RuleSetId::NONE);
    let mut replay = Replay::new(traffic.conversations);
    let mut outcome = Outcome {
        errcodes: Vec::with_capacity(traffic.recorded.len()),
        by_trigger: BTreeMap::new(),
    };
    for (n, event) in traffic.events.iter().enumerate() {
        let ruleset = match &side.assign {
            Assign::Recorded => event.recorded.unwrap_or(default),
            _ => timelines
                .get(event.account as usize)
                .map_or(default, |t| t.at(event.at)),
        };
        if let Some(decision) = replay.apply(event, ruleset, book) {
            outcome.errcodes.push(decision.errcode());
            if decision.accepted()
                && let Some(grant) = decision.explanation().grant()
            {
                *outcome
                    .by_trigger
                    .entry(grant.trigger.as_str())
                    .or_default() += 1;
            }
        }
        if n % 65_536 == 0 {
            progress.show(&side.label, n, traffic.events.len());
        }
    }
    progress.done();
    outcome
}

/// A progress line on stderr, only when it is a terminal.
struct Progress {
    on: bool,
}

impl Progress {
    fn show(&mut self, label: &str, done: usize, total: usize) {
        if self.on {
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\rreplaying under {label}: {pct:>3}% ({done}/{total} events)");
        }
    }

    fn done(&mut self) {
        if self.on {
            eprint!("\r{:<80}\r", "");
        }
    }
}

pub struct Options {
    pub traffic: PathBuf,
    pub out: PathBuf,
    pub sides: [Side; 2],
    pub book: RuleBook,
}

/// Replays, prints the summary table, writes `report.json` and `refusals.svg`; answers the
/// report.
pub fn run(options: Options) -> anyhow::Result<Value> {
    let Options {
        traffic: path,
        out,
        sides,
        book,
    } = options;
    let traffic = load(&path, &book)?;
    let mut progress = Progress {
        on: std::io::stderr().is_terminal(),
    };
    let outcomes: Vec<Outcome> = sides
        .iter()
        .map(|side| run_side(&traffic, side, &book, &mut progress))
        .collect();
    let report = report(&path, &traffic, &sides, &outcomes);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let report_path = out.join("report.json");
    std::fs::write(&report_path, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", report_path.display()))?;
    let chart_path = out.join("refusals.svg");
    std::fs::write(&chart_path, chart(&traffic, &sides, &outcomes))
        .with_context(|| format!("writing {}", chart_path.display()))?;
    print_summary(&traffic, &sides, &outcomes, &report)?;
    println!("report: {}", report_path.display());
    println!("chart:  {}", chart_path.display());
    Ok(report)
}

fn by_errcode(codes: &[u32]) -> BTreeMap<u32, u64> {
    let mut counts = BTreeMap::new();
    for code in codes {
        *counts.entry(*code).or_default() += 1;
    }
    counts
}

fn report(path: &Path, traffic: &Traffic, sides: &[Side; 2], outcomes: &[Outcome]) -> Value {
    // Per account: sends, refusals on each side, and sends decided differently.
    let mut per_account: Vec<(u64, [u64; 2], u64)> = vec![(0, [0, 0], 0); traffic.accounts.len()];
    let mut sends = 0usize;
    let mut differences = 0u64;
    for event in &traffic.events {
        if event.op != Op::Send {
            continue;
        }
        let (a, b) = (outcomes[0].errcodes[sends], outcomes[1].errcodes[sends]);
        let row = &mut per_account[event.account as usize];
        row.0 += 1;
        row.1[0] += u64::from(a != 0);
        row.1[1] += u64::from(b != 0);
        if a != b {
            row.2 += 1;
            differences += 1;
        }
        sends += 1;
    }
    let accounts: Vec<Value> = per_account
        .iter()
        .enumerate()
        .filter(|(_, row)| row.0 > 0)
        .map(|(i, (sent, refused, differ))| {
            json!({
                "appid": traffic.accounts[i].0,
                "sends": sent,
                "refused": { sides[0].label.as_str(): refused[0], sides[1].label.as_str(): refused[1] },
                "differ": differ,
            })
        })
        .collect();
    let mut most: Vec<&Value> = accounts.iter().filter(|a| a["differ"] != 0).collect();
    most.sort_by_key(|a| std::cmp::Reverse(a["differ"].as_u64().unwrap_or(0)));
    most.truncate(10);
    let recorded = by_errcode(&traffic.recorded);
    let side_json: Vec<Value> = sides
        .iter()
        .zip(outcomes)
        .map(|(side, outcome)| {
            let matches = outcome
                .errcodes
                .iter()
                .zip(&traffic.recorded)
                .filter(|(a, b)| a == b)
                .count();
            json!({
                "label": side.label,
                "by_errcode": by_errcode(&outcome.errcodes),
                "refused": outcome.errcodes.iter().filter(|c| **c != 0).count(),
                "matches_recorded": matches,
            })
        })
        .collect();
    json!({
        "traffic": path.display().to_string(),
        "lines": traffic.lines,
        "events": traffic.events.len(),
        "sends": sends,
        "accounts": traffic.accounts.len(),
        "conversations": traffic.conversations,
        "recorded": { "by_errcode": recorded },
        "sides": side_json,
        "differences": differences,
        "per_trigger": {
            sides[0].label.as_str(): outcomes[0].by_trigger,
            sides[1].label.as_str(): outcomes[1].by_trigger,
        },
        "per_account": accounts,
        "most_affected": most,
    })
}

fn print_summary(
    traffic: &Traffic,
    sides: &[Side; 2],
    outcomes: &[Outcome],
    report: &Value,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "replayed {} events ({} sends, {} conversations, {} accounts)",
        traffic.events.len(),
        traffic.recorded.len(),
        traffic.conversations,
        traffic.accounts.len()
    )?;
    writeln!(out, "{:<40} {:>8} {:>10}", "rules", "errcode", "sends")?;
    let rows = sides
        .iter()
        .zip(outcomes)
        .map(|(s, o)| (s.label.as_str(), by_errcode(&o.errcodes)))
        .chain(std::iter::once((
            "recorded (live)",
            by_errcode(&traffic.recorded),
        )));
    for (label, counts) in rows {
        for (code, n) in counts {
            writeln!(out, "{label:<40} {code:>8} {n:>10}")?;
        }
    }
    writeln!(
        out,
        "{} sends decided differently; {} matches the live decisions on {} of {} sends",
        report["differences"],
        sides[0].label,
        report["sides"][0]["matches_recorded"],
        traffic.recorded.len()
    )?;
    Ok(())
}

/// Refusals over time under each side, in up to 60 buckets.
fn chart(traffic: &Traffic, sides: &[Side; 2], outcomes: &[Outcome]) -> String {
    let send_times: Vec<i64> = traffic
        .events
        .iter()
        .filter(|e| e.op == Op::Send)
        .map(|e| e.at)
        .collect();
    let (first, last) = match (send_times.first(), send_times.last()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => (0, 0),
    };
    let buckets = 60usize;
    let width = ((last - first) / buckets as i64).max(1);
    let series: Vec<(String, Vec<u64>)> = sides
        .iter()
        .zip(outcomes)
        .map(|(side, outcome)| {
            let mut counts = vec![0u64; buckets];
            for (at, code) in send_times.iter().zip(&outcome.errcodes) {
                if *code != 0 {
                    let b = (((at - first) / width) as usize).min(buckets - 1);
                    counts[b] += 1;
                }
            }
            (side.label.clone(), counts)
        })
        .collect();
    svg::line_chart("Refused sends over time", first, last, &series)
}
