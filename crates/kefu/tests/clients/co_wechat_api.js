// Drives kefu with co-wechat-api (npm), retargeted through `api.prefix` and `api.mpPrefix`.
//
// Usage: node co_wechat_api.js BASE_URL ADMIN_TOKEN   (NODE_PATH names the cached node_modules)
//
// Token, sends accepted and refused (co-wechat-api only reads errcode from an application/json
// answer), menu create/get/remove, a temporary QR code scanned by a user, and user info/get.
'use strict';

const assert = require('assert');
const API = require('co-wechat-api');

const [BASE, ADMIN] = process.argv.slice(2);
let checks = 0;

function check(name, got, want) {
  assert.deepStrictEqual(got, want, name);
  checks += 1;
  console.log('ok -', name);
}

async function admin(method, path, body) {
  const response = await fetch(BASE + '/api/v1' + path, {
    method,
    headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function errcodeOf(call) {
  try {
    const result = await call();
    return result.errcode;
  } catch (e) {
    assert.strictEqual(e.name, 'WeChatAPIError', String(e));
    return e.code;
  }
}

async function main() {
  const account = await admin('POST', '/accounts', { name: 'co-wechat-api shop' });
  const api = new API(account.appid, account.secret);
  api.prefix = BASE + '/cgi-bin/';
  api.mpPrefix = BASE + '/cgi-bin/';

  const token = await api.getAccessToken();
  check('token is issued', token.accessToken.length >= 64, true);

  const alice = (await admin('POST', '/users', { nickname: 'Alice' })).user_id;
  const follow = await admin('POST', `/users/${alice}/actions`, { appid: account.appid, type: 'follow' });
  const openid = follow.openid;
  for (let n = 1; n <= 3; n += 1) {
    check(`send ${n} after the follow`, await errcodeOf(() => api.sendText(openid, `hi ${n}`)), 0);
  }
  check('fourth: 45047', await errcodeOf(() => api.sendText(openid, 'one too many')), 45047);
  await admin('POST', '/clock/advance', { seconds: 60 });
  check('a minute later: 45015', await errcodeOf(() => api.sendText(openid, 'late')), 45015);

  const menu = { button: [
    { type: 'click', name: '今日歌曲', key: 'V1001_TODAY_MUSIC' },
    { name: '菜单', sub_button: [{ type: 'view', name: '搜索', url: 'http://www.soso.com/' }] },
  ] };
  check('createMenu', (await api.createMenu(menu)).errcode, 0);
  const got = await api.getMenu();
  check('getMenu', got.menu.button.map((b) => b.name), ['今日歌曲', '菜单']);
  const click = await admin('POST', `/users/${alice}/actions`,
    { appid: account.appid, type: 'menu_click', key: 'V1001_TODAY_MUSIC' });
  check('a click grants three', click.allowance.remaining, 3);
  check('send after the click', await errcodeOf(() => api.sendText(openid, 'thanks')), 0);
  check('removeMenu', (await api.removeMenu()).errcode, 0);
  check('getMenu after remove: 46003', await errcodeOf(() => api.getMenu()), 46003);

  const qr = await api.createTmpQRCode(123, 1800);
  check('createTmpQRCode', [qr.expire_seconds, typeof qr.ticket, qr.url.startsWith('https://')],
    [1800, 'string', true]);
  const limit = await api.createLimitQRCode('poster');
  check('createLimitQRCode has no expiry', limit.expire_seconds, undefined);
  const image = await fetch(api.showQRCodeURL(qr.ticket));
  const bytes = Buffer.from(await image.arrayBuffer());
  check('showQRCodeURL serves a PNG', [image.headers.get('content-type'),
    bytes.subarray(1, 4).toString()], ['image/png', 'PNG']);

  const bob = (await admin('POST', '/users', { nickname: 'Bob' })).user_id;
  const scan = await admin('POST', `/users/${bob}/actions`, { type: 'qr_scan', ticket: qr.ticket });
  check('a scan by a stranger follows', scan.event, 'subscribe');
  const info = await api.getUser(scan.openid);
  check('getUser', [info.subscribe, info.subscribe_scene, info.qr_scene],
    [1, 'ADD_SCENE_QR_CODE', 123]);
  const followers = await api.getFollowers();
  check('getFollowers', [followers.total, followers.data.openid], [2, [openid, scan.openid]]);
  check('getUser of an unknown openid: 40003',
    await errcodeOf(() => api.getUser('o' + 'x'.repeat(27))), 40003);

  console.log(`co-wechat-api: ${checks} passed, 0 failed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
