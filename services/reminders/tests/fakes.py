"""Local HTTP servers for outside systems: a webhook receiver (a patient's device, a caregiver) and a WeChat
API speaking the subscribe-message contract (access token, send, errcodes)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Server:
    def __init__(self, handler_cls) -> None:
        self.received: list[dict] = []
        owner = self

        class H(handler_cls):
            server_owner = owner

            def log_message(self, *a):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Json(BaseHTTPRequestHandler):
    def _reply(self, body: dict, status: int = 200) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> dict:
        n = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")


class WebhookReceiver(_Server):
    def __init__(self) -> None:
        class H(_Json):
            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                self.server_owner.received.append({"path": self.path, "body": json.loads(raw or b"{}"), "raw": raw,
                                                   "headers": {k.lower(): v for k, v in self.headers.items()}})
                self._reply({"ok": True})
        super().__init__(H)


class FakeWeChat(_Server):
    """Tokens are ``tok-N``; the first send with each new token after ``expire_next()`` answers 40001.
    openid ``refuser`` has not subscribed (43101); an empty data value answers 47003."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.expire_pending = False

        class H(_Json):
            def do_GET(self):
                owner = self.server_owner
                q = parse_qs(urlsplit(self.path).query)
                if urlsplit(self.path).path != "/cgi-bin/token":
                    return self._reply({"errcode": 404}, 404)
                if q.get("appid") != ["wx-test-app"] or q.get("secret") != ["wx-test-secret"]:
                    return self._reply({"errcode": 40013, "errmsg": "invalid appid"})
                owner.tokens_issued += 1
                self._reply({"access_token": f"tok-{owner.tokens_issued}", "expires_in": 7200})

            def do_POST(self):
                owner = self.server_owner
                parts = urlsplit(self.path)
                token = parse_qs(parts.query).get("access_token", [""])[0]
                body = self._body()
                if parts.path != "/cgi-bin/message/subscribe/send":
                    return self._reply({"errcode": 404}, 404)
                if owner.expire_pending or token != f"tok-{owner.tokens_issued}":
                    owner.expire_pending = False
                    return self._reply({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
                if body.get("touser") == "refuser":
                    return self._reply({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
                if not body.get("template_id") or any(not v.get("value") for v in body.get("data", {}).values()):
                    return self._reply({"errcode": 47003, "errmsg": "argument invalid! data.thing1.value empty"})
                owner.received.append(body)
                self._reply({"errcode": 0, "errmsg": "ok", "msgid": len(owner.received)})
        super().__init__(H)

    def expire_next(self) -> None:
        self.expire_pending = True
