"""A developer's webhook written with WeRoBot, as its documentation shows one.

Usage: python werobot_receiver.py TOKEN ENCODING_AES_KEY APPID MODE

MODE is the account's encrypt_mode: in `plain` the robot has no key; otherwise it has the key
and appid, decrypts what it gets and encrypts its replies (WeRoBot's own behaviour). Listens on
127.0.0.1 on a free port and prints the port on its first line; GET /seen lists every message
the robot handled, as JSON.
"""

import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from werobot import WeRoBot

TOKEN, AES_KEY, APPID, MODE = sys.argv[1:5]
if MODE == "plain":
    robot = WeRoBot(token=TOKEN)
else:
    robot = WeRoBot(token=TOKEN, encoding_aes_key=AES_KEY, app_id=APPID)
robot.config["SESSION_STORAGE"] = False
seen = []


def remember(message):
    seen.append({
        "type": message.type,
        "source": message.source,
        "target": message.target,
        "time": message.time,
        "id": message.message_id,
        "content": getattr(message, "content", None),
    })


@robot.text
def text(message):
    remember(message)
    return "werobot got " + message.content


@robot.handler
def anything(message):
    remember(message)
    return "werobot got " + message.type


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/seen":
        body = json.dumps(seen).encode("utf-8")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    return robot.wsgi(environ, start_response)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
