"""The services a report fans out to (ocr, xray, nlp), behind one small interface.

``HttpDownstream`` calls them over HTTP through the shared client (timeouts, retries on idempotent calls, a
circuit breaker per service), signed as the report's owner so their own records stay per user. A failure is
one of two kinds, and the difference matters: the service could not answer (``SectionUnavailable``: timeout,
connection refused, 5xx, breaker open — retry later), or it answered that the input is not acceptable
(``InputRefused``: a 4xx with its error code — a result, retrying will not change it)."""
from __future__ import annotations

import contextlib
from typing import Any, Protocol

import anyio
import httpx

from zhenxi_common.errors import UpstreamUnavailableError
from zhenxi_common.http import make_breakers, make_http_client
from zhenxi_common.identity import GatewayIdentityAuth, Identity


class SectionUnavailable(Exception):
    def __init__(self, service: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason   # timeout | unreachable | circuit_open | upstream_error | storage
        self.detail = detail

    def to_dict(self) -> dict[str, str]:
        return {"service": self.service, "code": self.reason, "detail": self.detail[:200]}


class InputRefused(Exception):
    def __init__(self, service: str, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(f"{service}: {code}")
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint  # what to do about it ('retake the photo in better light'), as the service said it

    @classmethod
    def from_error(cls, service: str, status: int, err: dict[str, Any]) -> InputRefused:
        """From a service's error body (``{"code", "message", "details": {"hint"?}}``)."""
        return cls(service, status, str(err.get("code")), str(err.get("message", "")),
                   str((err.get("details") or {}).get("hint") or ""))

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "status": self.status, "code": self.code, "message": self.message[:300],
                **({"hint": self.hint[:300]} if self.hint else {})}


class Downstream(Protocol):
    async def parse_lab(self, who: Identity, data: bytes, filename: str, content_type: str | None) -> dict: ...

    async def interpret(self, who: Identity, payload: dict) -> dict: ...

    async def analyze_xray(self, who: Identity, data: bytes, filename: str, content_type: str | None) -> dict: ...

    async def analyze_symptoms(self, who: Identity, text: str, lang: str | None) -> dict: ...

    async def current_medications(self, who: Identity) -> list[str] | None: ...

    async def aclose(self) -> None: ...


def _refusal(service: str, r: httpx.Response) -> InputRefused:
    try:
        return InputRefused.from_error(service, r.status_code, r.json()["error"])
    except (ValueError, KeyError, TypeError):
        return InputRefused(service, r.status_code, f"http_{r.status_code}", "")


class HttpDownstream:
    def __init__(self, *, ocr_url: str, xray_url: str, nlp_url: str, signing_key: str,
                 timeouts: dict[str, float], breaker_threshold: int = 5, breaker_ttl_s: float = 30.0,
                 reminders_url: str | None = None) -> None:
        breakers = make_breakers(breaker_threshold, breaker_ttl_s)
        self.key = signing_key
        self.timeouts = timeouts
        urls = [("ocr", ocr_url), ("xray", xray_url), ("nlp", nlp_url)]
        if reminders_url:
            urls.append(("reminders", reminders_url))
        self.clients = {
            name: make_http_client(url, name=name, breakers=breakers, timeout_s=timeouts[name])
            for name, url in urls
        }

    async def _post(self, service: str, path: str, who: Identity, **kwargs: Any) -> dict:
        return await self._call("POST", service, path, who, **kwargs)

    async def _call(self, method: str, service: str, path: str, who: Identity, **kwargs: Any) -> dict:
        client = self.clients[service]
        auth = GatewayIdentityAuth(self.key, who)
        try:
            # The client's read timeout bounds each read; this bounds the whole call (a stalled, half-sent body).
            with anyio.fail_after(self.timeouts[service] * 1.5 + 1):
                r = await client.request(method, path, auth=auth, **kwargs)
        except TimeoutError as exc:
            raise SectionUnavailable(service, "timeout", type(exc).__name__) from None
        except httpx.TimeoutException as exc:
            raise SectionUnavailable(service, "timeout", type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise SectionUnavailable(service, "unreachable", type(exc).__name__) from None
        except UpstreamUnavailableError as exc:
            raise SectionUnavailable(service, "circuit_open", exc.message) from None
        if r.status_code >= 500 or r.status_code == 429:
            raise SectionUnavailable(service, "upstream_error", f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise _refusal(service, r)
        return r.json()

    async def parse_lab(self, who: Identity, data: bytes, filename: str, content_type: str | None) -> dict:
        return await self._post("ocr", "/v1/lab-reports:parse", who,
                                files={"file": (filename, data, content_type or "application/octet-stream")})

    async def interpret(self, who: Identity, payload: dict) -> dict:
        return await self._post("nlp", "/v1/interpretations", who, json=payload)

    async def analyze_xray(self, who: Identity, data: bytes, filename: str, content_type: str | None) -> dict:
        return await self._post("xray", "/v1/xray/analyses", who,
                                files={"file": (filename, data, content_type or "application/octet-stream")})

    async def analyze_symptoms(self, who: Identity, text: str, lang: str | None) -> dict:
        body: dict[str, Any] = {"text": text}
        if lang:
            body["lang"] = lang
        return await self._post("nlp", "/v1/symptoms:analyze", who, json=body)

    async def current_medications(self, who: Identity) -> list[str] | None:
        """The drugs of the user's active plans in the reminders service (GET, so the shared client retries it).
        ``None`` when no reminders service is configured; ``SectionUnavailable`` when it cannot answer."""
        if "reminders" not in self.clients:
            return None
        try:
            body = await self._call("GET", "reminders", "/v1/plans", who)
        except InputRefused as exc:   # e.g. a 4xx from a reminders that does not know the route: not a result
            raise SectionUnavailable("reminders", "upstream_error", f"HTTP {exc.status}") from None
        names: list[str] = []
        for plan in body.get("plans", []) if isinstance(body, dict) else []:
            if not isinstance(plan, dict) or not plan.get("active", True):
                continue
            drug = plan.get("drug") or {}
            name = (drug.get("name") or drug.get("text") or "").strip() if isinstance(drug, dict) else ""
            if name and name[:64] not in names:
                names.append(name[:64])
        return names[:50]

    async def aclose(self) -> None:
        for c in self.clients.values():
            with contextlib.suppress(Exception):
                await c.aclose()
