//! How fast a traffic export is read back (`kefu replay` parses every line before replaying):
//! `traffic::parse_line` beside a plain `serde_json::Value` parse of the same lines.
//!
//! `cargo bench -p kefu-server --bench traffic`

use divan::counter::ItemsCount;
use kefu_server::traffic::{parse_line, to_line};
use kefu_store::{TrafficEvent, TrafficRecord};

fn main() {
    divan::main();
}

fn lines() -> Vec<String> {
    (0..100_000u64)
        .map(|seq| {
            let event = if seq % 4 == 0 {
                TrafficEvent::Trigger {
                    appid: "wx5c1e0d1a2b3c4d5e".into(),
                    openid: format!("o{:027}", seq % 5000),
                    trigger: "message".into(),
                    ruleset: "wechat-oa-2023".into(),
                }
            } else {
                TrafficEvent::Send {
                    appid: "wx5c1e0d1a2b3c4d5e".into(),
                    openid: format!("o{:027}", seq % 5000),
                    api: "custom/send".into(),
                    errcode: if seq % 7 == 0 { 45047 } else { 0 },
                    ruleset: "wechat-oa-2023".into(),
                }
            };
            to_line(&TrafficRecord {
                seq,
                at: 1_700_000_000 + seq as i64,
                event,
            })
        })
        .collect()
}

#[divan::bench(sample_count = 10)]
fn parse_traffic_lines(bencher: divan::Bencher<'_, '_>) {
    let lines = lines();
    bencher
        .counter(ItemsCount::new(lines.len()))
        .bench_local(|| lines.iter().filter(|l| parse_line(l).is_ok()).count());
}

#[divan::bench(sample_count = 10)]
fn baseline_serde_json_value(bencher: divan::Bencher<'_, '_>) {
    let lines = lines();
    bencher
        .counter(ItemsCount::new(lines.len()))
        .bench_local(|| {
            lines
                .iter()
                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
                .count()
        });
}
