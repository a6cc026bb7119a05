//! `/api/v1/rulesets`: the rule book. Rule sets are data (RULES.md "Rule-set files"): read them,
//! define new ones from TOML or JSON, and change one only while nothing uses it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use kefu_policy::{RuleBook, RuleSet, RuleSetError, RuleSetId};
use kefu_store::{Key, Record, StoredRuleSet};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::app::App;
use crate::body::LIMIT;
use crate::error::ApiError;
use crate::world::World;

pub async fn list(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| {
        let shown: Vec<Value> = ctx
            .rules
            .iter()
            .map(|(id, rs)| render(world, ctx.rules, id, rs))
            .collect();
        Ok(Json(json!({ "rulesets": shown })))
    })
    .await
}

pub async fn get(
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| {
        let id = ctx.rules.id(&name).ok_or_else(|| not_found(&name))?;
        Ok(Json(render(world, ctx.rules, id, ctx.rules.get(id))))
    })
    .await
}

pub async fn put(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = axum::body::to_bytes(body, LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request bodies on /api/v1 are limited to 1 MiB",
        )
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("malformed_body", "the body is not UTF-8"))?;
    let is_toml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("toml"));
    let ruleset = if is_toml {
        RuleSet::from_toml(text)
    } else {
        RuleSet::from_json(text)
    }
    .map_err(invalid)?;
    if ruleset.name != name {
        let mut error = ApiError::invalid(
            "invalid_ruleset",
            format!(
                "the file names rule set {:?} but the path names {name:?}",
                ruleset.name
            ),
        );
        error.extra = Some(reason("name_mismatch"));
        return Err(error);
    }
    app.mutate(|world, tx, ctx| {
        let existing = ctx.rules.id(&name);
        if let Some(id) = existing
            && in_use(world, id, &name)
        {
            return Err(ApiError::conflict(
                "ruleset_in_use",
                format!(
                    "rule set {name} is in use (a platform default, a rollout's from or to, or \
                     the terms of a stored grant); define a new one under another name"
                ),
            ));
        }
        let policy = Arc::make_mut(&mut world.policy);
        let id = policy
            .book
            .try_insert(ruleset)
            .map_err(|e| ApiError::invalid("invalid_ruleset", e.to_string()))?;
        let stored = StoredRuleSet {
            id: id.get(),
            toml: policy.book.get(id).to_toml(),
        };
        let shown = render(world, &world.policy.book, id, world.policy.book.get(id));
        tx.put(
            Key::RuleSet(name.clone()),
            Record::RuleSet(stored),
            &mut world.versions,
        );
        let status = if existing.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok((status, Json(shown)))
    })
    .await
}

/// A rule set is in use when it is a platform default, a rollout's `from` or `to`, or the rule
/// set of any stored grant (RULES.md §3: grants keep their terms).
fn in_use(world: &World, id: RuleSetId, name: &str) -> bool {
    world.policy.names(name) || world.conversations.all().any(|c| c.value.uses_ruleset(id))
}

fn render(world: &World, book: &RuleBook, id: RuleSetId, rs: &RuleSet) -> Value {
    let mut shown = serde_json::to_value(rs).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut shown {
        map.insert("shipped".into(), (id < RuleSetId::FIRST_CUSTOM).into());
        map.insert("in_use".into(), in_use(world, id, &rs.name).into());
        map.insert("toml".into(), book.get(id).to_toml().into());
    }
    shown
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found("ruleset_not_found", format!("no rule set named {name}"))
}

fn reason(reason: &str) -> serde_json::Map<String, Value> {
    let mut extra = serde_json::Map::new();
    extra.insert("reason".into(), reason.into());
    extra
}

fn invalid(e: RuleSetError) -> ApiError {
    let mut error = ApiError::invalid("invalid_ruleset", e.to_string());
    error.extra = Some(reason(e.reason()));
    error
}
