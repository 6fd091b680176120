"""Where a booking finally lives. The local provider is our own tables (nothing to forward); the HIS provider
talks to a hospital's own booking system over HTTP: it syncs its schedules, forwards confirmations and
cancellations, and maps its errors onto ours.

The HIS contract (JSON over HTTP):
  GET  /schedules -> {"doctors": [{ref, name, title, department, specialties, bio}],
                      "sessions": [{ref, doctor_ref, date, period, capacity, remaining, fee_cents}]}
  POST /appointments {session_ref, request_id, patient: {name, id_number, phone}}
       -> 201 {appointment_ref} | 409 {code: "SOLD_OUT"} | other 4xx/5xx
  POST /appointments/{ref}/cancel -> 200
``request_id`` is our hold id, so a retry after a timeout cannot book twice at the HIS."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from .errors import HisRejectedError, HisTimeoutError


class HisSoldOut(Exception):
    """The HIS has no slot left for the session (it sold its own windows too)."""


@dataclass(frozen=True)
class PatientDetails:
    name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class Schedule:
    doctors: list[dict[str, Any]]
    sessions: list[dict[str, Any]]


class BookingProvider(Protocol):
    name: str

    async def sync_schedule(self) -> Schedule: ...

    async def forward_booking(self, *, session_ref: str | None, request_id: str,
                              patient: PatientDetails) -> str | None: ...

    async def cancel_booking(self, external_ref: str | None) -> None: ...


class LocalProvider:
    """Our own tables are the hospital's book: nothing to sync or forward."""

    name = "local"

    async def sync_schedule(self) -> Schedule:
        return Schedule([], [])

    async def forward_booking(self, *, session_ref: str | None, request_id: str,
                              patient: PatientDetails) -> str | None:
        return None

    async def cancel_booking(self, external_ref: str | None) -> None:
        return None


class HttpHisProvider:
    name = "his"

    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(self.timeout_s, connect=2.0),
                                 transport=self.transport)

    async def sync_schedule(self) -> Schedule:
        try:
            async with self._client() as c:
                r = await c.get("/schedules")
        except httpx.TimeoutException as exc:
            raise HisTimeoutError("医院系统同步超时。 The hospital system timed out during sync.") from exc
        except httpx.HTTPError as exc:
            raise HisRejectedError("无法连接医院系统。 The hospital system is unreachable.",
                                   details={"reason": type(exc).__name__}) from exc
        if r.status_code != 200:
            raise HisRejectedError(details={"his_status": r.status_code})
        body = r.json()
        return Schedule(list(body.get("doctors", [])), list(body.get("sessions", [])))

    async def forward_booking(self, *, session_ref: str | None, request_id: str,
                              patient: PatientDetails) -> str | None:
        payload = {"session_ref": session_ref, "request_id": request_id,
                   "patient": {"name": patient.name, "id_number": patient.id_number, "phone": patient.phone}}
        try:
            async with self._client() as c:
                r = await c.post("/appointments", json=payload)
        except httpx.TimeoutException as exc:
            raise HisTimeoutError() from exc
        except httpx.HTTPError as exc:
            raise HisRejectedError("无法连接医院系统。 The hospital system is unreachable.",
                                   details={"reason": type(exc).__name__}) from exc
        if r.status_code in (200, 201):
            return str(r.json()["appointment_ref"])
        code = None
        try:
            code = r.json().get("code")
        except ValueError:
            pass
        if r.status_code == 409 and code == "SOLD_OUT":
            raise HisSoldOut()
        raise HisRejectedError(details={"his_status": r.status_code, "his_code": code})

    async def cancel_booking(self, external_ref: str | None) -> None:
        if not external_ref:
            return
        try:
            async with self._client() as c:
                r = await c.post(f"/appointments/{external_ref}/cancel")
        except httpx.TimeoutException as exc:
            raise HisTimeoutError("医院系统取消超时。 The hospital system timed out.") from exc
        except httpx.HTTPError as exc:
            raise HisRejectedError(details={"reason": type(exc).__name__}) from exc
        if r.status_code not in (200, 204):
            raise HisRejectedError(details={"his_status": r.status_code})
