"""Delivery of ``reminder.due.v1``: a durable JetStream consumer (one delivery per event across replicas, the inbox
makes redeliveries no-ops) that sends each reminder to the user's channels and records every delivery:
Server-Sent Events (through Redis pub/sub to whichever replica holds the stream), per-device webhooks (allowlisted
hosts only), the WeChat subscribe-message API, and the caregiver's webhook for caregiver alerts."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.events import Event, ReminderDueV1

from . import repository as repo
from .models import Occurrence, Plan
from .errors import WebhookHostNotAllowedError
from .schemas import Caregiver
from .service import RECORDED, Reminders, check_webhook_url

log = logging.getLogger("zhenxi.reminders.channels")
CHANNEL_WIDE = uuid.UUID(int=0)   # device id of deliveries that are not per device (sse, caregiver)


def signature_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """``X-Zhenxi-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` so a device can check the
    sender and refuse replays older than it likes."""
    ts = str(int(now if now is not None else time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Zhenxi-Timestamp": ts, "X-Zhenxi-Signature": f"v1={mac}"}


def stream_channel(redis_prefix: str, user_id: str) -> str:
    return f"{redis_prefix}reminders:stream:{user_id}"


class WeChatError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChat:
    """The subscribe-message API: ``GET /cgi-bin/token`` for an access token (cached in Redis until it expires),
    ``POST /cgi-bin/message/subscribe/send``. 40001/42001 (token invalid/expired): fetch a new token, retry once.
    43101: the user has not subscribed (refused, not retried)."""

    TOKEN_ERRORS = {40001, 40014, 42001}

    def __init__(self, http: httpx.AsyncClient, redis: Redis, base_url: str, appid: str, secret: str,
                 template_id: str, key_prefix: str) -> None:
        self.http, self.redis = http, redis
        self.base = base_url.rstrip("/")
        self.appid, self.secret, self.template_id = appid, secret, template_id
        self.key = f"{key_prefix}reminders:wechat_token"

    @property
    def configured(self) -> bool:
        return bool(self.appid and self.secret and self.template_id)

    async def token(self, fresh: bool = False) -> str:
        if not fresh:
            cached = await self.redis.get(self.key)
            if cached:
                return cached.decode() if isinstance(cached, bytes) else cached
        r = await self.http.get(f"{self.base}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        body = r.json()
        if "access_token" not in body:
            raise WeChatError(int(body.get("errcode", -1)), str(body.get("errmsg", "")))
        await self.redis.set(self.key, body["access_token"], ex=max(60, int(body.get("expires_in", 7200)) - 300))
        return body["access_token"]

    async def send(self, openid: str, data: dict[str, Any], page: str = "pages/reminders/index") -> None:
        payload = {"touser": openid, "template_id": self.template_id, "page": page,
                   "data": {k: {"value": v} for k, v in data.items()}}
        for fresh in (False, True):
            token = await self.token(fresh=fresh)
            r = await self.http.post(f"{self.base}/cgi-bin/message/subscribe/send",
                                     params={"access_token": token}, json=payload)
            body = r.json()
            code = int(body.get("errcode", 0))
            if code == 0:
                return
            if code in self.TOKEN_ERRORS and not fresh:
                continue
            raise WeChatError(code, str(body.get("errmsg", "")))


class Dispatcher:
    def __init__(self, service: Reminders, http: httpx.AsyncClient, redis: Redis, redis_prefix: str) -> None:
        self.service = service
        self.http = http
        self.redis = redis
        self.prefix = redis_prefix
        s = service.settings
        self.wechat = WeChat(http, redis, s.wechat_base_url, s.wechat_appid, s.wechat_secret, s.wechat_template_id,
                             redis_prefix)

    async def handle(self, session: AsyncSession, event: Event) -> None:
        assert isinstance(event, ReminderDueV1)
        occ_id = uuid.UUID(event.occurrence_id)
        occ = await session.get(Occurrence, occ_id)
        if occ is None:
            return
        plan = await session.get(Plan, occ.plan_id) if occ.plan_id else None
        cipher = self.service.cipher
        message = self.service.reminder_message(occ, plan, event.attempt, event.caregiver)
        rows: list[dict] = []

        if occ.state in RECORDED:
            # The patient recorded this dose after the reminder went out and before it reached us: telling them (or
            # their caregiver) to take it now would be wrong. Nothing is pushed; the ledger says why.
            rows.append({"id": uuid.uuid4(), "occurrence_id": occ.id, "event_id": event.event_id,
                         "attempt": event.attempt, "channel": "caregiver" if event.caregiver else "sse",
                         "device_id": CHANNEL_WIDE, "status": "withdrawn", "detail": f"recorded {occ.state}"})
            await repo.add_deliveries(session, rows)
            return

        def rec(channel: str, status: str, detail: str | None = None, device: uuid.UUID = CHANNEL_WIDE) -> None:
            rows.append({"id": uuid.uuid4(), "occurrence_id": occ.id, "event_id": event.event_id,
                         "attempt": event.attempt, "channel": channel, "device_id": device, "status": status,
                         "detail": detail[:200] if detail else None})

        if event.caregiver:
            cg = cipher.decrypt(plan.caregiver_enc) if plan else None
            if cg:
                caregiver = Caregiver.model_validate_json(cg)
                rec("caregiver", *await self._post(caregiver.webhook_url, {**message, "type": "caregiver_alert"}))
            await repo.add_deliveries(session, rows)
            return
        receivers = await self.redis.publish(stream_channel(self.prefix, event.user_id), json.dumps(message))
        rec("sse", "sent" if receivers else "no_listener", f"listeners={receivers}")
        for device in await repo.list_devices(session, event.user_id):
            address = cipher.decrypt(device.address_enc) or ""
            if device.kind == "webhook":
                rec("webhook", *await self._post(address, {**message, "type": "reminder"},
                                                 cipher.decrypt(device.secret_enc)), device=device.id)
            elif device.kind == "wechat":
                rec("wechat", *await self._wechat(address, message), device=device.id)
        await repo.add_deliveries(session, rows)

    async def _post(self, url: str, payload: dict, secret: str | None = None) -> tuple[str, str | None]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        if secret:
            headers.update(signature_headers(secret, body))
        try:
            check_webhook_url(url, self.service.allowed_hosts(), "url")   # the allowlist may have shrunk
            r = await self.http.post(url, content=body, headers=headers,
                                     timeout=self.service.settings.webhook_timeout_s)
        except WebhookHostNotAllowedError as exc:   # the allowlist shrank since the device was added
            return "refused", exc.code
        except httpx.HTTPError as exc:
            return "failed", f"{type(exc).__name__}"
        return ("sent" if r.status_code < 300 else "failed"), f"http {r.status_code}"

    async def _wechat(self, openid: str, message: dict) -> tuple[str, str | None]:
        if not self.wechat.configured:
            return "failed", "wechat not configured"
        data = {"thing1": (message["drug"] or "就诊提醒")[:20], "time2": message["due_at"][:16].replace("T", " "),
                "thing3": f"{message['dose'] or ''}{message['unit'] or ''}"[:20] or "按时"}
        try:
            await self.wechat.send(openid, data)
        except WeChatError as exc:
            return ("refused" if exc.errcode == 43101 else "failed"), f"errcode {exc.errcode}"
        except httpx.HTTPError as exc:
            return "failed", type(exc).__name__
        return "sent", "errcode 0"
