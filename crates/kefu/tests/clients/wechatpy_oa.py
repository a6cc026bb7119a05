"""Drives kefu's Official Account surface with wechatpy's own client, retargeted by base URL.

Usage: python wechatpy_oa.py BASE_URL ADMIN_TOKEN

Menu create/get/delete (get answers None after a delete: wechatpy's reading of 46003), QR code
create and its image, user info/get/batchget after follows through a QR code and by hand, and the
KF account list; then a user taps the menu and a send is accepted.
"""

import struct
import sys
import zlib

import requests
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

BASE, ADMIN = sys.argv[1], sys.argv[2]
admin = requests.Session()
admin.headers["Authorization"] = "Bearer " + ADMIN


def api(method, path, body=None):
    response = admin.request(method, BASE + "/api/v1" + path, json=body)
    assert response.ok, (method, path, response.status_code, response.text)
    return response.json() if response.content else None


class KefuClient(WeChatClient):
    """wechatpy hard-codes the token URL; point it and every API call at kefu."""

    API_BASE_URL = BASE + "/cgi-bin/"

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


checks = 0


def check(name, got, want):
    global checks
    assert got == want, "%s: got %r, want %r" % (name, got, want)
    checks += 1
    print("ok -", name)


def errcode_of(call):
    try:
        call()
    except WeChatClientException as e:
        return e.errcode
    return 0


def png_size(data):
    """Width and height of a PNG, after checking every chunk's CRC and inflating its pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, size = 8, b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    pixels = zlib.decompress(idat)
    width, height = size
    assert len(pixels) == height * (1 + (width + 7) // 8)
    return size


account = api("POST", "/accounts", {"name": "wechatpy shop"})
appid = account["appid"]
client = KefuClient(appid, account["secret"])

menu = {"button": [
    {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
    {"name": "菜单", "sub_button": [
        {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
        {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"}]}]}
check("menu/get with no menu is None", client.menu.get(), None)
check("menu/create", client.menu.create(menu)["errcode"], 0)
got = client.menu.get()["menu"]["button"]
check("menu/get answers the menu", [b["name"] for b in got], ["今日歌曲", "菜单"])
check("menu/get leaves have sub_button []", got[0]["sub_button"], [])
check("a bad menu is 40017", errcode_of(lambda: client.menu.create(
    {"button": [{"type": "tap", "name": "x", "key": "k"}]})), 40017)
check("menu/delete", client.menu.delete()["errcode"], 0)
check("menu/get after delete is None", client.menu.get(), None)
client.menu.create(menu)

created = client.qrcode.create({
    "expire_seconds": 1800, "action_name": "QR_SCENE",
    "action_info": {"scene": {"scene_id": 98765}}})
check("qrcode/create answers ticket, url and expiry",
      (sorted(created), created["expire_seconds"]), (["expire_seconds", "ticket", "url"], 1800))
permanent = client.qrcode.create({
    "action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "poster"}}})
check("a permanent code has no expiry", "expire_seconds" in permanent, False)
# wechatpy's show() is hard-wired to mp.weixin.qq.com; get_url() gives the query it would send.
query = client.qrcode.get_url(created["ticket"]).split("?", 1)[1]
image = requests.get(BASE + "/cgi-bin/showqrcode?" + query)
check("showqrcode is a PNG", image.headers["content-type"], "image/png")
width, height = png_size(image.content)
check("the QR image is square and large enough to scan", (width == height, width >= 200), (True, True))

alice = api("POST", "/users", {"nickname": "Alice"})["user_id"]
bob = api("POST", "/users", {"nickname": "Bob"})["user_id"]
scan = api("POST", "/users/%s/actions" % alice, {"type": "qr_scan", "ticket": created["ticket"]})
check("a stranger's scan is a subscribe", scan["event"], "subscribe")
alice_openid = scan["openid"]
bob_openid = api("POST", "/users/%s/actions" % bob, {"appid": appid, "type": "follow"})["openid"]

info = client.user.get(alice_openid)
check("user/info of a follow through a QR code",
      (info["subscribe"], info["subscribe_scene"], info["qr_scene"], info["qr_scene_str"]),
      (1, "ADD_SCENE_QR_CODE", 98765, ""))
info = client.user.get(bob_openid, lang="en")
check("user/info of a follow by hand",
      (info["subscribe_scene"], info["qr_scene"], info["qr_scene_str"]), ("ADD_SCENE_OTHERS", 0, ""))
check("user/info of an openid never issued: 40003",
      errcode_of(lambda: client.user.get("o" + "x" * 27)), 40003)
followers = client.user.get_followers()
check("user/get", (followers["total"], followers["data"]["openid"]), (2, [alice_openid, bob_openid]))
check("iter_followers pages to the end", list(client.user.iter_followers()), [alice_openid, bob_openid])
api("POST", "/users/%s/actions" % bob, {"appid": appid, "type": "unfollow"})
batch = client.user.get_batch([alice_openid, bob_openid])
check("user/info/batchget", [u["subscribe"] for u in batch], [1, 0])

requests.post(BASE + "/customservice/kfaccount/add?access_token=" + client.access_token,
              data='{"kf_account":"kf1@shop","nickname":"客服1"}'.encode())
check("getkflist", [a["kf_account"] for a in client.customservice.get_accounts()], ["kf1@shop"])

api("POST", "/clock/advance", {"seconds": 3600})
check("no window an hour later", errcode_of(lambda: client.message.send_text(alice_openid, "late")), 45015)
tap = api("POST", "/users/%s/actions" % alice, {"appid": appid, "type": "menu_click", "key": "V1001_GOOD"})
check("a click grants three", tap["allowance"]["remaining"], 3)
check("send after the click", client.message.send_text(alice_openid, "thanks", account="kf1@shop")["errcode"], 0)

print("wechatpy: %d passed, 0 failed" % checks)
