//! Parametric QR codes: `qrcode/create` and the image, `showqrcode` (WECHAT.md §8).
//!
//! A temporary code expires on the rule clock (QR expiry is WeChat's to decide, so moving the
//! virtual clock moves it); a permanent one never does, and creating the same permanent scene
//! again answers the same ticket, so permanent codes do not pile up.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_store::{Key, QrCodeRecord, QrSceneValue};
use kefu_wechat::ErrCode;
use kefu_wechat::qrcode::{QrCodeCreateResponse, QrScene, parse_qrcode_create};

use crate::app::App;
use crate::error::{WxError, wx_json};
use crate::ids;
use crate::qrpng::qr_png;
use crate::world::Entry;

pub async fn create(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    let created = super::post_decision(&app, &query, body, |world, tx, ctx, appid, body| {
        let spec = parse_qrcode_create(body)?;
        let scene = match spec.scene {
            QrScene::Id(id) => QrSceneValue::Id(id),
            QrScene::Str(s) => QrSceneValue::Str(s),
        };
        if spec.permanent
            && let Some(same) =
                world.oa.qrcodes.values().find(|qr| {
                    qr.value.permanent && qr.value.appid == appid && qr.value.scene == scene
                })
        {
            return Ok::<_, WxError>(response(&same.value, ctx.now));
        }
        let ticket = loop {
            let candidate = ids::qr_ticket();
            if !world.oa.qrcodes.contains_key(&candidate) {
                break candidate;
            }
        };
        let mut entry = Entry::new(QrCodeRecord {
            ticket: ticket.clone(),
            appid,
            url: ids::qr_url(),
            scene,
            permanent: spec.permanent,
            created_at: ctx.now,
            expires_at: spec
                .expire_seconds
                .map(|seconds| ctx.now + i64::from(seconds)),
            seq: tx.seq(),
        });
        tx.save(Key::QrCode(ticket.clone()), &mut entry);
        let answer = response(&entry.value, ctx.now);
        world.oa.qrcodes.insert(ticket, entry);
        Ok(answer)
    })
    .await;
    match created {
        Ok(answer) => wx_json(answer.to_json()),
        Err(e) => e.into_response(),
    }
}

fn response(qr: &QrCodeRecord, now: i64) -> QrCodeCreateResponse {
    QrCodeCreateResponse {
        ticket: qr.ticket.clone(),
        expire_seconds: qr
            .expires_at
            .map(|at| u32::try_from((at - now).max(0)).unwrap_or(u32::MAX)),
        url: qr.url.clone(),
    }
}

/// `GET /cgi-bin/showqrcode?ticket=`: the code's image, with no access_token (§4.3). Any known
/// ticket shows, expired or not: a printed code still shows its pattern; scanning it is what
/// fails. An unknown ticket gets 40035 as JSON.
pub async fn show(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let ticket = query.get("ticket").cloned().unwrap_or_default();
    let url = app
        .read(|world, _| {
            world
                .oa
                .qrcodes
                .get(&ticket)
                .map(|qr| qr.value.url.clone())
                .ok_or(WxError(ErrCode::InvalidArgsSize))
        })
        .await;
    let png = match url {
        Ok(url) => qr_png(&url),
        Err(e) => return e.into_response(),
    };
    match png {
        Some(png) => {
            let mut response = (StatusCode::OK, png).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            response
        }
        None => WxError(ErrCode::SystemError).into_response(),
    }
}
