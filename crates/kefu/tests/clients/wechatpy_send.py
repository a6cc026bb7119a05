"""Drives kefu with wechatpy's own client, retargeted by base URL.

Usage: python wechatpy_send.py BASE_URL ADMIN_TOKEN

Checks what a developer would: token, an accepted send, 45015 with no window, 45047 after the
fifth, and 45015 after the virtual clock moves 48 h while the cached token stays valid.
"""

import sys

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
    token_fetches = 0

    def fetch_access_token(self):
        KefuClient.token_fetches += 1
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def errcode_of(call):
    try:
        result = call()
    except WeChatClientException as e:
        return e.errcode, e.errmsg
    return result["errcode"], result["errmsg"]


checks = 0


def check(name, got, want):
    global checks
    assert got == want, "%s: got %r, want %r" % (name, got, want)
    checks += 1
    print("ok -", name)


account = api("POST", "/accounts", {"name": "wechatpy shop"})
alice = api("POST", "/users", {"nickname": "Alice"})["user_id"]
openid = api("POST", "/users/%s/actions" % alice, {"appid": account["appid"], "type": "follow"})["openid"]

client = KefuClient(account["appid"], account["secret"])
token = client.access_token
check("token is issued", bool(token) and len(token) >= 64, True)

# The follow opened 3 messages for one minute; a minute later there is no window.
api("POST", "/clock/advance", {"seconds": 60})
check("no window: 45015", errcode_of(lambda: client.message.send_text(openid, "too early")),
      (45015, "response out of time limit or subscription is canceled"))

api("POST", "/users/%s/actions" % alice,
    {"appid": account["appid"], "type": "message", "msgtype": "text", "content": "hi"})
for n in range(1, 6):
    check("send %d accepted" % n, errcode_of(lambda: client.message.send_text(openid, "reply %d" % n)), (0, "ok"))
check("sixth: 45047", errcode_of(lambda: client.message.send_text(openid, "one too many")),
      (45047, "out of response count limit"))

api("POST", "/users/%s/actions" % alice,
    {"appid": account["appid"], "type": "message", "msgtype": "text", "content": "again"})
api("POST", "/clock/advance", {"seconds": 48 * 3600})
check("48 h later: 45015", errcode_of(lambda: client.message.send_text(openid, "late"))[0], 45015)
check("the cached token was never refreshed", (KefuClient.token_fetches, client.access_token), (1, token))

inbox = api("GET", "/users/%s/inbox?appid=%s" % (alice, account["appid"]))["messages"]
check("inbox holds exactly the accepted sends",
      [m["body"]["content"] for m in inbox], ["reply %d" % n for n in range(1, 6)])

print("wechatpy: %d passed, 0 failed" % checks)
