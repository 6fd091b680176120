"""Background processing: claim a pending report, fan out, compose, complete — exactly once.

A replica claims work with ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` and keeps that row lock (and so the claim)
for the whole fan-out; section progress is written in separate short transactions, so it survives a crash, and
the completion (body, status, indicator values, outbox events) commits together with the claim. If the process
dies, Postgres drops its lock with its connection and the report — still ``pending`` — is claimed again, at
start-up or by the next poll of any replica; only the sections that had not finished run again."""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.events import ReportCompletedV1, ReportCriticalV1
from zhenxi_common.identity import Identity
from zhenxi_common.outbox import add_event

from . import imaging, repository
from .compose import HistoryPoint, compose
from .downstream import Downstream, SectionUnavailable
from .fanout import FileInput, ReportInputs, SectionOutcome, fan_out
from .knowledge import ReportKnowledge
from .models import Report, Section
from .store import Sealer, StoreError, UploadStore

log = logging.getLogger("zhenxi.report.worker")


def inputs_aad(report_id: uuid.UUID) -> bytes:
    return f"report-inputs:{report_id}".encode()


def parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    t = str(text).strip().replace("/", "-").replace("年", "-").replace("月", "-").replace("日", "")
    for candidate in (t, t[:19], t[:16], t[:10]):
        try:
            d = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    return None


class ReportEngine:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], store: UploadStore, sealer: Sealer,
                 downstream: Downstream, kb: ReportKnowledge, *, concurrency: int = 4, poll_s: float = 1.0,
                 booking_search_url: str = "", rewriter: Any = None) -> None:
        self.sessionmaker = sessionmaker
        self.store = store
        self.sealer = sealer
        self.downstream = downstream
        self.kb = kb
        self.poll_s = poll_s
        self.booking_search_url = booking_search_url
        self.rewriter = rewriter
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._done: dict[uuid.UUID, asyncio.Event] = {}
        self._fresh: dict[uuid.UUID, dict[tuple[str, int], bytes]] = {}

    def hand_over(self, report_id: uuid.UUID, files: dict[tuple[str, int], bytes]) -> None:
        """The bytes of a report just stored by this replica, so its worker need not read them back from the
        store (another replica, or a restart, reads the store). Bounded: the oldest entries (reports another
        replica took) are dropped."""
        self._fresh[report_id] = files
        while len(self._fresh) > 16:
            self._fresh.pop(next(iter(self._fresh)))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="report-worker")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass

    def wake(self) -> None:
        self._wake.set()

    async def wait_done(self, report_id: uuid.UUID, timeout_s: float, is_done: Any) -> bool:
        """Until the report completes here (event) or elsewhere (polled through ``is_done``)."""
        ev = self._done.setdefault(report_id, asyncio.Event())
        try:
            with anyio.move_on_after(timeout_s):
                while True:
                    if await is_done():
                        return True
                    with anyio.move_on_after(0.5):
                        await ev.wait()
            return False
        finally:
            self._done.pop(report_id, None)

    async def _loop(self) -> None:
        while True:
            await self._slots.acquire()
            claimed = False
            try:
                claimed = await self._claim_and_spawn()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:  # the worker must outlive a database outage; it tries again on the next poll
                log.exception("claiming a report failed")
            if not claimed:
                self._slots.release()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def _claim_and_spawn(self) -> bool:
        session = self.sessionmaker()
        tx = await session.begin()
        report = await repository.claim_next(session)
        if report is None:
            await tx.rollback()
            await session.close()
            return False
        task = asyncio.create_task(self._process_claimed(session, tx, report), name=f"report-{report.id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return True

    async def _process_claimed(self, session: AsyncSession, tx: Any, report: Report) -> None:
        report_id = report.id
        try:
            try:
                await self.process(session, report)
                await tx.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("report processing failed", extra={"report_id": str(report_id)})
                await tx.rollback()
                await self._mark_failed(report_id)
        finally:
            await session.close()
            self._slots.release()
            ev = self._done.get(report_id)
            if ev is not None:
                ev.set()
            self._wake.set()   # there may be more waiting

    async def _mark_failed(self, report_id: uuid.UUID) -> None:
        async with self.sessionmaker() as s, s.begin():
            report = await s.get(Report, report_id, with_for_update={"nowait": False})
            if report is not None and report.status == "pending":
                report.status = "failed"

    # ------------------------------------------------------------------ one report
    async def _load_inputs(self, session: AsyncSession, report: Report) -> tuple[ReportInputs, dict[str, str]]:
        raw = json.loads(self.sealer.open(report.inputs_enc, inputs_aad(report.id)))
        inputs = ReportInputs(symptoms=raw.get("symptoms"), sex=raw.get("sex"), age=raw.get("age"),
                              medications=raw.get("medications") or [], lang=report.lang)
        broken: dict[str, str] = {}
        fresh = self._fresh.pop(report.id, {})
        for up in await repository.uploads_of(session, report.id, ("lab", "xray")):
            try:
                data = fresh.get((up.kind, up.position))
                if data is None:
                    data = await anyio.to_thread.run_sync(self.store.get, report.user_id, up.sha256)
            except StoreError as exc:
                broken[up.kind] = str(exc)
                continue
            getattr(inputs, up.kind).append(FileInput(up.position, data, f"{up.kind}-{up.position}",
                                                      up.content_type))
        return inputs, broken

    async def process(self, session: AsyncSession, report: Report) -> None:
        started = time.perf_counter()
        queued_ms = (datetime.now(UTC) - report.created_at).total_seconds() * 1000
        report.attempts += 1
        sections = (await repository.sections_of(session, [report.id]))[report.id]
        todo = [s.kind for s in sections if s.status in ("pending", "running")]
        inputs, broken = await self._load_inputs(session, report)
        who = Identity(user_id=report.user_id, role="patient", via="service")

        async def on_start(kinds: list[str]) -> None:
            async with self.sessionmaker() as s, s.begin():
                for kind in kinds:
                    await repository.set_section(s, report.id, kind, status="running", reason=None,
                                                 runs=Section.runs + 1)

        async def on_done(outcome: SectionOutcome) -> None:
            result = outcome.result
            async with self.sessionmaker() as s, s.begin():
                if outcome.kind == "xray" and result is not None:
                    result = await self._store_derived(s, report, inputs, result)
                await repository.set_section(s, report.id, outcome.kind, status=outcome.status, result=result,
                                             reason=outcome.reason)

        for kind in [k for k in todo if k in broken]:
            todo.remove(kind)
            await on_done(SectionOutcome(kind, "unavailable", None,
                                         SectionUnavailable("report", "storage", broken[kind]).to_dict(), 0.0))
        t0 = time.perf_counter()
        outcomes = await fan_out(self.downstream, who, inputs, todo, on_start, on_done)
        t1 = time.perf_counter()
        # Where the time goes (ms): created -> claimed, claimed -> fan-out, each section, fan-out -> composed.
        timings = {k: round(o.seconds * 1000, 1) for k, o in outcomes.items()}
        timings.update(queued=round(queued_ms, 1), prepare=round((t0 - started) * 1000, 1),
                       fan_out=round((t1 - t0) * 1000, 1))
        await self.complete(session, report, timings)

    async def _store_derived(self, s: AsyncSession, report: Report, inputs: ReportInputs,
                             result: dict[str, Any]) -> dict[str, Any]:
        """Heatmaps and mask overlays go to the encrypted store (deleted with the report); the section keeps
        references, not base64."""
        originals = {f.position: f.data for f in inputs.xray}
        for old in await repository.uploads_of(s, report.id, ("derived",)):
            await s.delete(old)
        images = []
        for img in result.get("images", []):
            img = dict(img)
            heatmaps, masks = img.pop("heatmaps", []), img.pop("masks", {})
            overlays = []
            if "error" not in img:
                drawn = await anyio.to_thread.run_sync(imaging.overlay, originals.get(img["position"], b""), masks,
                                                       img.get("detections", []))
                pngs = ([("overlay", drawn)] if drawn else [])
                for hm in heatmaps:
                    pngs.append((f"heatmap:{hm['label']}",
                                 await anyio.to_thread.run_sync(imaging.heatmap, hm["png_base64"])))
                for label, png in pngs:
                    stored = await anyio.to_thread.run_sync(self.store.put, report.user_id, png)
                    up = await repository.add_upload(s, report_id=report.id, user_id=report.user_id, kind="derived",
                                                     position=img["position"], label=label[:64],
                                                     sha256=stored.sha256, size_bytes=stored.size_bytes,
                                                     content_type="image/png")
                    overlays.append({"label": label, "image_id": str(up.id)})
            img["overlays"] = overlays
            images.append(img)
        return {**result, "images": images}

    async def complete(self, session: AsyncSession, report: Report, timings: dict[str, float] | None = None) -> None:
        tc = time.perf_counter()
        sections = (await repository.sections_of(session, [report.id]))[report.id]
        by_kind = {s.kind: {"status": s.status, "result": s.result, "reason": s.reason} for s in sections}
        dates = [parse_date(p.get("collected_at") or p.get("reported_at"))
                 for p in ((by_kind.get("lab") or {}).get("result") or {}).get("photos", [])]
        report_date = next((d for d in dates if d is not None), None) or report.created_at
        rows = ((by_kind.get("lab") or {}).get("result") or {}).get("indicators", [])
        codes = sorted({r["code"] for r in rows})
        hist: dict[str, list[HistoryPoint]] = {}
        for v in await repository.history(session, report.user_id, codes, report_date, report.id):
            hist.setdefault(v.code, []).append(HistoryPoint(v.taken_at, v.value, v.unit, str(v.report_id)))
        composed = compose(report_id=str(report.id), lang=report.lang, created_at=report.created_at,
                           report_date=report_date, sections=by_kind, history=hist, kb=self.kb,
                           booking_search_url=self.booking_search_url)
        body = composed.body
        body["timings_ms"] = timings or {}   # this run's sections only (a retry re-runs some)
        if self.rewriter is not None:
            body = await anyio.to_thread.run_sync(self.rewriter.apply, body)
        was_critical = report.critical
        report.urgency = composed.urgency
        report.critical = bool(composed.critical or composed.red_flags)
        report.report_date = report_date
        report.status = "completed"
        report.completions += 1
        report.completed_at = datetime.now(UTC)
        await repository.replace_indicator_values(session, report, composed.indicator_values, report_date)
        unavailable = [k for k, v in by_kind.items() if v["status"] == "unavailable"]
        await add_event(session, ReportCompletedV1(
            user_id=report.user_id, report_id=str(report.id), tags=composed.tags,
            abnormal=[{"code": a["code"], "flag": a["flag"]} for a in composed.abnormal],
            positive_findings=composed.positive_findings, urgency=composed.urgency,
            departments=composed.departments, report_date=report_date, unavailable_sections=unavailable,
            conditions=composed.conditions))
        if report.critical and not was_critical:
            await add_event(session, ReportCriticalV1(
                user_id=report.user_id, report_id=str(report.id),
                critical=[{"code": c["code"], "flag": c["flag"]} for c in composed.critical],
                red_flags=composed.red_flags))
        body["timings_ms"]["complete"] = round((time.perf_counter() - tc) * 1000, 1)
        report.body = body   # last: a JSONB value is serialised when assigned and flushed
        await session.flush()
