//! `/api/v1/clock` and `/api/v1/reset`: moving the virtual rule clock, and starting over.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use kefu_store::{ClockMode, ClockRecord, Key};
use serde_json::{Value, json};

use crate::app::{App, mode_name};
use crate::body::api_json;
use crate::error::ApiError;
use crate::timefmt::{parse_rfc3339, rfc3339};

pub async fn get(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| Ok(Json(render(&world.clock.value, ctx.now))))
        .await
}

pub async fn advance(State(app): State<App>, body: Body) -> Result<Json<Value>, ApiError> {
    let body = api_json(body).await?;
    let seconds = body
        .get("seconds")
        .and_then(Value::as_i64)
        .filter(|s| *s >= 0)
        .ok_or_else(|| {
            ApiError::invalid("invalid_seconds", "seconds must be a whole number ≥ 0")
        })?;
    move_clock(&app, move |now| {
        now.checked_add(seconds).ok_or_else(|| {
            ApiError::invalid(
                "invalid_seconds",
                "that would move the clock past the year 9999",
            )
        })
    })
    .await
}

pub async fn set(State(app): State<App>, body: Body) -> Result<Json<Value>, ApiError> {
    let body = api_json(body).await?;
    let target = body
        .get("now")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .ok_or_else(|| ApiError::invalid("invalid_now", "now must be an RFC 3339 instant"))?;
    move_clock(&app, move |now| {
        if target < now {
            Err(ApiError::conflict(
                "clock_backwards",
                format!(
                    "the rule clock never goes backwards: it is {} and {} is earlier",
                    rfc3339(now),
                    rfc3339(target)
                ),
            ))
        } else {
            Ok(target)
        }
    })
    .await
}

/// The latest instant RFC 3339 can say (9999-12-31T23:59:59Z).
const LATEST: i64 = 253_402_300_799;

async fn move_clock(
    app: &App,
    to: impl FnOnce(i64) -> Result<i64, ApiError>,
) -> Result<Json<Value>, ApiError> {
    app.mutate(|world, tx, ctx| {
        require_virtual(&world.clock.value)?;
        let target = to(ctx.now)?;
        if target > LATEST {
            return Err(ApiError::invalid(
                "invalid_seconds",
                "that would move the clock past the year 9999",
            ));
        }
        world.clock.value.now = target;
        tx.save(Key::Clock, &mut world.clock);
        Ok(Json(render(&world.clock.value, target)))
    })
    .await
}

pub async fn reset(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    app.read(|world, _| require_virtual(&world.clock.value))
        .await?;
    let start = app.clock_start();
    let clock = app
        .wipe(|world, tx, ctx| {
            world.clock.value.now = start.unwrap_or(ctx.wall_now);
            tx.save(Key::Clock, &mut world.clock);
            render(&world.clock.value, world.clock.value.now)
        })
        .await?;
    Ok(Json(json!({ "reset": true, "clock": clock })))
}

fn require_virtual(clock: &ClockRecord) -> Result<(), ApiError> {
    match clock.mode {
        ClockMode::Virtual => Ok(()),
        ClockMode::System => Err(ApiError::conflict(
            "clock_not_virtual",
            "the rule clock is the system clock; start kefu with --clock virtual to move it",
        )),
    }
}

fn render(clock: &ClockRecord, now: i64) -> Value {
    json!({ "mode": mode_name(clock.mode), "now": rfc3339(now), "unix": now })
}
