//! How fast `kefu replay` decides: pre-parsed events (a month of traffic over 10,000
//! conversations) replayed from empty state under one rule set, and under a rollout's timeline.
//! Target: ≥ 5 million events per second on one core.
//!
//! `cargo bench -p kefu-policy --bench replay`

use divan::counter::ItemsCount;
use kefu_policy::{
    AccountFacts, Batch, Channel, Defaults, Event, Op, Platform, Replay, Rollout, RolloutSpec,
    RuleBook, Timeline, Trigger,
};

const CONVERSATIONS: u32 = 10_000;
const ACCOUNTS: u32 = 100;
const EVENTS: usize = 1_000_000;
const MONTH: i64 = 30 * 86_400;

fn main() {
    divan::main();
}

/// A deterministic month: each conversation follows, then messages and sends at random.
fn month() -> Vec<Event> {
    let mut seed: u64 = 0x5eed_cafe;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        seed >> 33
    };
    let mut events = Vec::with_capacity(EVENTS);
    for c in 0..CONVERSATIONS {
        events.push(Event {
            at: 0,
            account: c % ACCOUNTS,
            conversation: c,
            op: Op::Trigger(Trigger::Follow),
            recorded: None,
        });
    }
    while events.len() < EVENTS {
        let conversation = (next() % u64::from(CONVERSATIONS)) as u32;
        let op = match next() % 10 {
            0 => Op::Trigger(Trigger::Message),
            1 => Op::Trigger(Trigger::Payment),
            _ => Op::Send,
        };
        events.push(Event {
            at: 0,
            account: conversation % ACCOUNTS,
            conversation,
            op,
            recorded: None,
        });
    }
    // Spread over the month in order, as a log is.
    let step = MONTH / EVENTS as i64;
    for (i, event) in events.iter_mut().enumerate() {
        event.at = 1_685_000_000 + i as i64 * step.max(1);
    }
    events
}

fn run(bencher: divan::Bencher<'_, '_>, timelines: Vec<Timeline>) {
    let book = RuleBook::shipped();
    let events = month();
    bencher
        .counter(ItemsCount::new(events.len()))
        .bench_local(|| {
            let mut replay = Replay::new(CONVERSATIONS as usize);
            let mut accepted = 0u32;
            for event in &events {
                let ruleset = timelines[event.account as usize].at(event.at);
                if let Some(decision) = replay.apply(event, ruleset, &book) {
                    accepted += u32::from(decision.accepted());
                }
            }
            divan::black_box(accepted)
        });
}

#[divan::bench(sample_count = 10)]
fn fixed_ruleset(bencher: divan::Bencher<'_, '_>) {
    let book = RuleBook::shipped();
    let id = book
        .id("wechat-oa-2023")
        .unwrap_or(kefu_policy::RuleSetId::NONE);
    run(bencher, vec![Timeline::fixed(id); ACCOUNTS as usize]);
}

#[divan::bench(sample_count = 10)]
fn rollout_timelines(bencher: divan::Bencher<'_, '_>) {
    let book = RuleBook::shipped();
    let rollout = Rollout::new(
        RolloutSpec {
            id: "bench".into(),
            platform: None,
            from: "wechat-oa-2021".into(),
            to: "wechat-oa-2023".into(),
            new_accounts_from: 1_700_000_000,
            batches: vec![
                Batch {
                    at: 1_686_000_000,
                    percent_hundredths: 5_000,
                },
                Batch {
                    at: 1_687_000_000,
                    percent_hundredths: 10_000,
                },
            ],
            channels: None,
        },
        &book,
    );
    let rollouts: Vec<Rollout> = rollout.into_iter().collect();
    let appids: Vec<String> = (0..ACCOUNTS).map(|a| format!("wx{a:016x}")).collect();
    let timelines = appids
        .iter()
        .map(|id| {
            let facts = AccountFacts {
                id,
                platform: Platform::Oa,
                registered_at: 1_600_000_000,
            };
            Timeline::of(&facts, Channel::Api, &Defaults::shipped(), &rollouts, &book)
        })
        .collect();
    run(bencher, timelines);
}
