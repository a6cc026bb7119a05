"""A developer's webhook written with wechatpy, as its documentation shows one.

Usage: python wechatpy_receiver.py TOKEN ENCODING_AES_KEY APPID

Listens on 127.0.0.1 on a free port and prints the port on its first line. GET answers WeChat's
URL verification; POST checks `signature` (and `msg_signature` when encrypted), decrypts with
wechatpy's WeChatCrypto, parses with parse_message and answers a text reply made by
create_reply: encrypted when the push was, except to a user who wrote "plain please". GET /seen
lists every push it verified, as JSON.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

TOKEN, AES_KEY, APPID = sys.argv[1:4]
crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
seen = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def query(self):
        url = urlparse(self.path)
        return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

    def signed(self, q):
        try:
            check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
            return True
        except (InvalidSignatureException, KeyError):
            return False

    def do_GET(self):
        path, q = self.query()
        if path == "/seen":
            with lock:
                return self.answer(200, json.dumps(seen), "application/json")
        if not self.signed(q):
            return self.answer(403, "bad signature")
        self.answer(200, q["echostr"])

    def do_POST(self):
        _, q = self.query()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.signed(q):
            return self.answer(403, "bad signature")
        encrypted = q.get("encrypt_type") == "aes"
        xml = body
        if encrypted:
            try:
                xml = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
            except (InvalidSignatureException, InvalidAppIdException, KeyError):
                return self.answer(403, "bad msg_signature or appid")
        msg = parse_message(xml)
        record = {
            "type": msg.type,
            "event": getattr(msg, "event", None),
            "source": msg.source,
            "target": msg.target,
            "time": int(msg.time.timestamp()) if hasattr(msg.time, "timestamp") else int(msg.time),
            "id": msg.id,
            "content": getattr(msg, "content", None),
            "openid": q.get("openid"),
            "encrypted": encrypted,
        }
        with lock:
            seen.append(record)
        said = record["content"] or record["event"] or record["type"]
        reply = create_reply("wechatpy got %s" % said, msg).render()
        if encrypted and record["content"] != "plain please":
            reply = crypto.encrypt_message(reply, q["nonce"], q["timestamp"])
        self.answer(200, reply, "application/xml")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
