//! Custom menus: `menu/create`, `menu/get`, `menu/delete` (WECHAT.md §7). The checks of a menu
//! are kefu-wechat's (`parse_menu_create`); kefu keeps the menu as checked and answers it back.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use kefu_store::{Key, MenuRecord};
use kefu_wechat::ErrCode;
use kefu_wechat::menu::{Menu, parse_menu_create};

use crate::app::App;
use crate::error::{WxError, wx_json};
use crate::world::Entry;

pub async fn create(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    let created = super::post_decision(&app, &query, body, |world, tx, ctx, appid, body| {
        let menu = parse_menu_create(body)?;
        let record = MenuRecord {
            json: kefu_wechat::json::to_json(&menu),
            created_at: ctx.now,
        };
        let entry = world
            .oa
            .menus
            .entry(appid.clone())
            .or_insert_with(|| Entry::new(record.clone()));
        entry.value = record;
        tx.save(Key::Menu(appid), entry);
        Ok::<_, WxError>(())
    })
    .await;
    ok_or_refusal(created)
}

pub async fn get(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let menu = app
        .read(|world, ctx| {
            let appid = super::authenticate(world, &query, ctx.wall_now)?;
            let record = world
                .oa
                .menus
                .get(&appid)
                .ok_or(WxError(ErrCode::MenuNoExist))?;
            stored_menu(&record.value).ok_or(WxError(ErrCode::MenuNoExist))
        })
        .await;
    match menu {
        Ok(menu) => wx_json(menu.get_response().to_json()),
        Err(e) => e.into_response(),
    }
}

pub async fn delete(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let deleted = app
        .mutate(|world, tx, ctx| {
            let appid = super::authenticate(world, &query, ctx.wall_now)?;
            // Deleting no menu is fine, as on WeChat.
            if let Some(menu) = world.oa.menus.remove(&appid) {
                tx.delete(Key::Menu(appid), &menu);
            }
            Ok::<_, WxError>(())
        })
        .await;
    ok_or_refusal(deleted)
}

/// The menu a stored record holds. It was checked before it was stored, so it always parses;
/// `None` would mean a record written by something else.
pub fn stored_menu(record: &MenuRecord) -> Option<Menu> {
    serde_json::from_str(&record.json).ok()
}

fn ok_or_refusal(outcome: Result<(), WxError>) -> Response {
    match outcome {
        Ok(()) => wx_json(ErrCode::Ok.to_json()),
        Err(e) => e.into_response(),
    }
}
