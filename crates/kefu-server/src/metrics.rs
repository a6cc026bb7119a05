//! `GET /metrics`: Prometheus text format (version 0.0.4), written by hand — a few counters and
//! one histogram do not need a metrics crate.
//!
//! The names (documented in README.md):
//! - `kefu_sends_total{api, errcode, result}`: customer-service sends answered, by errcode;
//!   `result` is `accepted` (errcode 0) or `refused`.
//! - `kefu_http_requests_total{method, route, status}`: requests answered.
//! - `kefu_http_request_duration_seconds{method, route}`: a histogram of request latency.
//! - `kefu_store_log_append_seconds`, `kefu_store_checkpoint_seconds`: histograms of the
//!   store's log appends (each with its `fdatasync`) and checkpoints (`kefu_store::timings`).
//! - `kefu_accounts`, `kefu_users`, `kefu_conversations`: what the world holds now.
//! - `kefu_rollout_shadow_differ_total{rollout,live_errcode,shadow_errcode}`: shadow evaluation.
//!
//! `route` is the matched route template (`/api/v1/users/{user_id}/actions`), never the path
//! itself: paths carry ids, and queries carry tokens.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use kefu_store::StoreTimings;
use kefu_store::timings::{BOUNDS, Observed};

use crate::app::App;
use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (api, errcode) → count.
    sends: BTreeMap<(&'static str, i64), u64>,
    /// route → method → what its requests got. Keyed in two levels so that counting a request
    /// looks both up by `&str` and allocates nothing once the pair has been seen.
    routes: BTreeMap<String, BTreeMap<String, RouteStats>>,
}

#[derive(Debug, Default)]
struct RouteStats {
    /// status → count.
    statuses: BTreeMap<u16, u64>,
    latency: Observed,
}

impl Inner {
    fn by_route(&self) -> impl Iterator<Item = (&str, &str, &RouteStats)> {
        self.routes.iter().flat_map(|(route, methods)| {
            methods
                .iter()
                .map(move |(method, stats)| (route.as_str(), method.as_str(), stats))
        })
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Counters stay meaningful whatever a panicking holder left half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One answered send on `api` (`custom/send`).
    pub(crate) fn send(&self, api: &'static str, errcode: i64) {
        *self.lock().sends.entry((api, errcode)).or_default() += 1;
    }

    fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut inner = self.lock();
        let methods = match inner.routes.get_mut(route) {
            Some(methods) => methods,
            None => inner.routes.entry(route.to_owned()).or_default(),
        };
        let stats = match methods.get_mut(method) {
            Some(stats) => stats,
            None => methods.entry(method.to_owned()).or_default(),
        };
        *stats.statuses.entry(status).or_default() += 1;
        stats.latency.record(seconds);
    }

    /// The text exposition, with the world's sizes and the store's timings.
    fn render(&self, sizes: &[(&str, &str, usize)], store: &StoreTimings) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP kefu_sends_total Customer-service sends answered, by errcode.\n\
             # TYPE kefu_sends_total counter\n",
        );
        for ((api, errcode), count) in &inner.sends {
            let result = if *errcode == 0 { "accepted" } else { "refused" };
            let _ = writeln!(
                out,
                "kefu_sends_total{{api=\"{api}\",errcode=\"{errcode}\",result=\"{result}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP kefu_http_requests_total HTTP requests answered.\n\
             # TYPE kefu_http_requests_total counter\n",
        );
        for (route, method, stats) in inner.by_route() {
            for (status, count) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "kefu_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP kefu_http_request_duration_seconds HTTP request latency.\n\
             # TYPE kefu_http_request_duration_seconds histogram\n",
        );
        for (route, method, stats) in inner.by_route() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            histogram(
                &mut out,
                "kefu_http_request_duration_seconds",
                &labels,
                &stats.latency,
            );
        }
        for (name, help, observed) in [
            (
                "kefu_store_log_append_seconds",
                "Appends to the store's write-ahead log, each with its fdatasync.",
                &store.log_appends,
            ),
            (
                "kefu_store_checkpoint_seconds",
                "The store's durable checkpoints of its indexes behind the log.",
                &store.checkpoints,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            histogram(&mut out, name, "", observed);
        }
        for (name, help, value) in sizes {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

/// One histogram's series: cumulative buckets, sum and count, under `labels` (may be empty).
fn histogram(out: &mut String, name: &str, labels: &str, observed: &Observed) {
    let braced = |labels: &str| match labels {
        "" => String::new(),
        labels => format!("{{{labels}}}"),
    };
    let le = |bound: &str| match labels {
        "" => format!("{{le=\"{bound}\"}}"),
        labels => format!("{{{labels},le=\"{bound}\"}}"),
    };
    let mut cumulative = 0;
    for (bound, n) in BOUNDS.iter().zip(observed.buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{} {cumulative}", le(&bound.to_string()));
    }
    let (count, sum, labels) = (observed.count, observed.sum, braced(labels));
    let _ = writeln!(
        out,
        "{name}_bucket{} {count}\n{name}_sum{labels} {sum}\n{name}_count{labels} {count}",
        le("+Inf")
    );
}

/// `kefu_rollout_shadow_differ_total{rollout,live_errcode,shadow_errcode}`: sends an active
/// rollout's `to` set would have decided differently (shadow evaluation, memory only).
fn shadow_text<'a>(counts: impl Iterator<Item = (&'a str, u32, u32, u64)>) -> String {
    let mut out = String::from(
        "# HELP kefu_rollout_shadow_differ_total Sends a rollout's `to` rule set would decide \
         differently, while the rollout has not moved the account yet.\n\
         # TYPE kefu_rollout_shadow_differ_total counter\n",
    );
    for (rollout, live, shadow, n) in counts {
        let _ = writeln!(
            out,
            "kefu_rollout_shadow_differ_total{{rollout=\"{}\",live_errcode=\"{live}\",shadow_errcode=\"{shadow}\"}} {n}",
            escape(rollout)
        );
    }
    out
}

/// `kefu_memory_bytes{table}`: what the world's largest tables have allocated, for sizing a
/// machine (BENCHMARKS.md has them per conversation at ten million).
fn memory_text(tables: impl Iterator<Item = (&'static str, usize)>) -> String {
    let mut out = String::from(
        "# HELP kefu_memory_bytes Heap bytes the largest in-memory tables have allocated, by \
         table (capacity, not use).\n\
         # TYPE kefu_memory_bytes gauge\n",
    );
    for (table, bytes) in tables {
        let _ = writeln!(out, "kefu_memory_bytes{{table=\"{table}\"}} {bytes}");
    }
    out
}

/// Label values are route templates; escape what the format reserves anyway.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: counts and times every request by its route template, and logs it at debug
/// level (the path only: queries carry access tokens and secrets).
pub async fn track(State(app): State<App>, request: Request, next: Next) -> Response {
    // Both are cheap to clone (the route template is shared), unlike owned strings.
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route
        .as_ref()
        .map(MatchedPath::as_str)
        // A nested router's fallback matches a private wildcard: that is "no route".
        .filter(|route| !route.contains("__private__"))
        .unwrap_or("unmatched");
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    app.metrics()
        .request(method.as_str(), route, status, elapsed.as_secs_f64());
    if let Some(path) = path {
        let micros = elapsed.as_micros() as u64;
        tracing::debug!(%method, %path, status, micros, "request");
    }
    response
}

/// `GET /metrics`.
pub async fn serve(State(app): State<App>) -> Response {
    let read = app
        .read(|world, _| {
            let conversations = world.conversations.len();
            let sizes = [
                ("kefu_accounts", "Official Accounts.", world.accounts.len()),
                ("kefu_users", "Users.", world.users.len()),
                (
                    "kefu_conversations",
                    "Conversations (account, openid).",
                    conversations,
                ),
            ];
            let shadow = shadow_text(world.shadow.counts());
            let tables = world.conversations.heap_bytes().into_iter();
            let memory = memory_text(tables.chain(world.users.heap_bytes()));
            Ok::<_, ApiError>((sizes, shadow + &memory))
        })
        .await;
    match read {
        Ok((sizes, labelled)) => {
            let text = app.metrics().render(&sizes, &app.store().timings()) + &labelled;
            let mut response = (StatusCode::OK, text).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_cumulative_and_labelled() {
        let metrics = Metrics::default();
        metrics.send("custom/send", 0);
        metrics.send("custom/send", 0);
        metrics.send("custom/send", 45047);
        metrics.request("GET", "/healthz", 200, 0.0001);
        metrics.request("GET", "/healthz", 200, 0.003);
        metrics.request("GET", "/healthz", 200, 10.0);
        let mut store = StoreTimings::default();
        store.log_appends.record(0.0003);
        store.log_appends.record(0.012);
        let text = metrics.render(&[("kefu_accounts", "Official Accounts.", 2)], &store);
        for line in [
            r#"kefu_sends_total{api="custom/send",errcode="0",result="accepted"} 2"#,
            r#"kefu_sends_total{api="custom/send",errcode="45047",result="refused"} 1"#,
            r#"kefu_http_requests_total{method="GET",route="/healthz",status="200"} 3"#,
            r#"kefu_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.0005"} 1"#,
            r#"kefu_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.005"} 2"#,
            r#"kefu_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="5"} 2"#,
            r#"kefu_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} 3"#,
            r#"kefu_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#,
            "# TYPE kefu_store_log_append_seconds histogram",
            r#"kefu_store_log_append_seconds_bucket{le="0.0005"} 1"#,
            r#"kefu_store_log_append_seconds_bucket{le="0.025"} 2"#,
            "kefu_store_log_append_seconds_count 2",
            r#"kefu_store_checkpoint_seconds_bucket{le="+Inf"} 0"#,
            "# TYPE kefu_accounts gauge",
            "kefu_accounts 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
