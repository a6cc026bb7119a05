//! `GET /api/v1/traffic?from=&to=`: every trigger and send (refused ones too), streamed as
//! JSON lines in (`at`, `seq`) order, with every `account` line whatever the range.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kefu_store::TrafficEvent;

use crate::app::App;
use crate::error::ApiError;
use crate::timefmt::parse_rfc3339;
use crate::traffic::to_line;

/// Lines are sent in chunks of about this many bytes.
const CHUNK: usize = 64 * 1024;

pub async fn export(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let instant = |name: &'static str| -> Result<Option<i64>, ApiError> {
        query
            .get(name)
            .map(|text| {
                parse_rfc3339(text).ok_or_else(|| {
                    ApiError::invalid(
                        "invalid_range",
                        format!("{name} must be an RFC 3339 instant"),
                    )
                })
            })
            .transpose()
    };
    let (from, to) = (instant("from")?, instant("to")?);
    // Everything decided so far is durable before the export reads the store.
    app.read(|_, _| Ok::<_, ApiError>(())).await?;
    let store = app.store();
    let (lines, chunks) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut buffer = Vec::with_capacity(CHUNK);
        let scanned = store.traffic(None, to, &mut |record| {
            let is_account = matches!(record.event, TrafficEvent::Account { .. });
            if from.is_some_and(|f| record.at < f) && !is_account {
                return true;
            }
            buffer.extend_from_slice(to_line(record).as_bytes());
            buffer.push(b'\n');
            if buffer.len() >= CHUNK {
                let chunk = Bytes::from(std::mem::replace(&mut buffer, Vec::with_capacity(CHUNK)));
                // The client went away: stop reading.
                return lines.blocking_send(chunk).is_ok();
            }
            true
        });
        if let Err(error) = scanned {
            tracing::error!(%error, "the traffic export stopped early");
            return;
        }
        if !buffer.is_empty() {
            let _ = lines.blocking_send(Bytes::from(buffer));
        }
    });
    let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
        chunks
            .recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), chunks))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}
