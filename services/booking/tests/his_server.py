"""A small hospital HIS for tests: a real HTTP server speaking the contract in ``app/providers.py``. Its mode makes
it answer normally, time out, or report a slot as sold out after our hold."""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import date, timedelta

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from zhenxi_common.testing import free_port


class HisState:
    def __init__(self, visit_day: date) -> None:
        self.mode = "ok"           # ok | slow | sold_out
        self.slow_s = 2.0
        self.visit_day = visit_day
        self.appointments: dict[str, dict] = {}   # request_id -> appointment
        self.cancelled: list[str] = []


def make_his_app(state: HisState) -> FastAPI:
    app = FastAPI()

    @app.get("/schedules")
    async def schedules() -> dict:
        return {
            "doctors": [
                {"ref": "HIS-D1", "name": "外院神经科医生", "title": "主任医师", "department": "neurology",
                 "specialties": ["偏头痛", "眩晕"], "bio": "外院系统同步来的医生，擅长偏头痛。"},
                {"ref": "HIS-D2", "name": "不在分类里的", "title": "主任医师", "department": "astrology"},
            ],
            "sessions": [
                {"ref": "HIS-S1", "doctor_ref": "HIS-D1", "date": state.visit_day.isoformat(), "period": "morning",
                 "capacity": 10, "remaining": 4, "fee_cents": 8000},
            ],
        }

    @app.post("/appointments")
    async def appointments(body: dict):
        if state.mode == "slow":
            await asyncio.sleep(state.slow_s)
        if state.mode == "sold_out":
            return JSONResponse({"code": "SOLD_OUT", "message": "号源已满"}, status_code=409)
        existing = state.appointments.get(body["request_id"])
        if existing is None:
            existing = {"appointment_ref": f"A-{len(state.appointments) + 1}", **body}
            state.appointments[body["request_id"]] = existing
        return JSONResponse({"appointment_ref": existing["appointment_ref"]}, status_code=201)

    @app.post("/appointments/{ref}/cancel")
    async def cancel(ref: str) -> dict:
        state.cancelled.append(ref)
        return {"status": "cancelled"}

    return app


@contextlib.contextmanager
def running_his(visit_day: date | None = None):
    state = HisState(visit_day or date.today() + timedelta(days=4))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_his_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("HIS test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
