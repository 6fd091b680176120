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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.aio import wait_set
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


@dataclass
class SectionView:
    """A section as this run knows it (the shape ``service.report_out`` reads)."""
    kind: str
    status: str
    result: dict[str, Any] | None
    reason: dict[str, Any] | None
    runs: int

    def set(self, status: str, result: dict[str, Any] | None, reason: dict[str, Any] | None) -> None:
        self.status, self.result, self.reason = status, result, reason


OWN_CONNECTION = "report_own_connection"


async def release(session: AsyncSession) -> None:
    """Close ``session`` and, when it was bound to a connection of its own (``ReportService.create``: one
    connection for the create and the claim, so one pool check-out and one pre-ping), that connection too."""
    conn = session.info.pop(OWN_CONNECTION, None)
    try:
        await session.close()
    finally:
        if conn is not None:
            await conn.close()


def inputs_aad(report_id: uuid.UUID) -> bytes:
    return f"report-inputs:{report_id}".encode()


# the clock a lab sheet prints its times in: mainland China, Hong Kong and Taiwan are all UTC+8
SHEET_ZONE = timezone(timedelta(hours=8))


def parse_date(text: str | None) -> datetime | None:
    """A sheet's date or date and time. A time printed without a zone is the sheet's local time (UTC+8), not
    UTC: '2026-12-01 08:30' is 00:30 UTC. A date alone stays that day (midnight UTC), whatever the zone."""
    if not text:
        return None
    t = str(text).strip().replace("/", "-").replace("年", "-").replace("月", "-").replace("日", "")
    for candidate in (t, t[:19], t[:16], t[:10]):
        try:
            d = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if d.tzinfo:
            return d
        return d.replace(tzinfo=UTC if len(candidate) <= 10 else SHEET_ZONE)
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
        # The finished report as this replica committed it, for a ``?wait`` caller (no read-back).
        self._finished: dict[uuid.UUID, tuple[Report, list[SectionView]]] = {}

    async def accept(self, session: AsyncSession, report: Report, inputs: ReportInputs,
                     kinds: list[str]) -> asyncio.Task | None:
        """A report this replica has just committed (``session``: the one that created it, now without a
        transaction, handed over to the engine). With a worker slot free it is claimed at once, in a new
        transaction of that session, by id with the same ``FOR NO KEY UPDATE SKIP LOCKED`` as any claim, and
        processed from the inputs in memory (no read-back of its rows, files or sealed inputs). Without a free
        slot, or if another replica's poll took it first, the queue has it: nothing is lost either way. Returns the
        task that claims and processes it (None: left to the queue)."""
        if self._slots.locked():
            await release(session)
            self.wake()
            return None
        await self._slots.acquire()   # free: taken without waiting
        task = asyncio.create_task(self._claim_fresh(session, report, inputs, kinds), name=f"report-{report.id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def _claim_fresh(self, session: AsyncSession, report: Report, inputs: ReportInputs,
                           kinds: list[str]) -> None:
        try:
            tx = await session.begin()
            claimed = await repository.claim_one(session, report.id)
        except BaseException as exc:
            await release(session)
            self._slots.release()
            self.wake()
            if isinstance(exc, asyncio.CancelledError):
                raise
            log.exception("claiming a new report failed", extra={"report_id": str(report.id)})
            return
        if claimed is None:   # another replica's poll was quicker; it processes the report
            await tx.rollback()
            await release(session)
            self._slots.release()
            return
        await self._process_claimed(session, tx, claimed, fresh=(inputs, kinds))

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

    async def wait_done(self, report_id: uuid.UUID, timeout_s: float, is_done: Any
                        ) -> tuple[bool, tuple[Report, list[SectionView]] | None]:
        """Until the report completes here (event) or elsewhere (polled through ``is_done``). Returns whether it
        is done and, when this replica committed it, the report and its sections as committed (so the answer
        needs no read-back)."""
        ev = self._done.setdefault(report_id, asyncio.Event())
        try:
            with anyio.move_on_after(timeout_s):
                while True:
                    if ev.is_set():   # processed here and committed: no need to ask the database
                        return True, self._finished.pop(report_id, None)
                    if await is_done():
                        return True, None
                    # The event answers at once when this replica processes it; the database is asked every
                    # 2 s only for a report another replica took (it was 0.5 s: ~12 extra round trips a report).
                    with anyio.move_on_after(2.0):
                        await ev.wait()
            return False, None
        finally:
            self._done.pop(report_id, None)
            self._finished.pop(report_id, None)

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
                await wait_set(self._wake, self.poll_s)
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

    async def _process_claimed(self, session: AsyncSession, tx: Any, report: Report,
                               fresh: tuple[ReportInputs, list[str]] | None = None) -> None:
        report_id = report.id
        stale: set[str] = set()
        try:
            try:
                states, stale = await self.process(session, report, fresh)
                await tx.commit()
                if report_id in self._done:   # a ?wait caller: the answer as committed, without a read-back
                    self._finished[report_id] = (report, states)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("report processing failed", extra={"report_id": str(report_id)})
                stale = set()
                await tx.rollback()
                await self._mark_failed(report_id)
        finally:
            ev = self._done.get(report_id)
            if ev is not None:
                ev.set()
            await release(session)
            # The slot is free again. No wake-up poll here: a loop waiting for a slot takes it without one, and
            # a report that found no free slot woke the loop itself (``accept``); a poll now would only compete
            # with the answer being sent.
            self._slots.release()
        if stale:
            await self._sweep(report.user_id, stale)

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
        for up in await repository.uploads_of(session, report.id, ("lab", "xray")):
            try:
                data = await anyio.to_thread.run_sync(self.store.get, report.user_id, up.sha256)
            except StoreError as exc:
                broken[up.kind] = str(exc)
                continue
            getattr(inputs, up.kind).append(FileInput(up.position, data, f"{up.kind}-{up.position}",
                                                      up.content_type))
        return inputs, broken

    async def process(self, session: AsyncSession, report: Report,
                      fresh: tuple[ReportInputs, list[str]] | None = None) -> tuple[list[SectionView], set[str]]:
        """Run the report's unfinished sections and complete it in ``session`` (the claim's transaction, which
        the caller commits). ``fresh``: the inputs and kinds of a report this replica has just created, so no
        row, file or sealed input is read back. Returns the sections as committed (for a ``?wait`` answer)
        and the derived images a re-run replaced (swept after the commit)."""
        started = time.perf_counter()
        queued_ms = (datetime.now(UTC) - report.created_at).total_seconds() * 1000
        report.attempts += 1
        if fresh is not None:
            inputs, kinds = fresh
            known = {k: SectionView(k, "pending", None, None, 0) for k in kinds}
            broken: dict[str, str] = {}
        else:
            sections = (await repository.sections_of(session, [report.id]))[report.id]
            known = {s.kind: SectionView(s.kind, s.status, s.result, s.reason, s.runs) for s in sections}
            inputs, broken = await self._load_inputs(session, report)
        todo = [k for k, v in known.items() if v.status in ("pending", "running")]
        who = Identity(user_id=report.user_id, role="patient", via="service")

        started_rows: asyncio.Task | None = None
        # Sections still running; the last one to finish is written by the completion's transaction (the claim),
        # not one of its own: one transaction fewer between the slowest call and the answer. Until that commit
        # it is as unfinished as a section whose call was in flight, so a crash re-runs it, as it would them.
        remaining: set[str] = set()
        last: list[SectionOutcome] = []

        async def mark_running(kinds: list[str]) -> None:
            async with self.sessionmaker() as s, s.begin():
                for kind in kinds:
                    await repository.set_section(s, report.id, kind, status="running", reason=None,
                                                 runs=Section.runs + 1)

        async def on_start(kinds: list[str]) -> None:
            # "running" is progress for the SSE stream, not a precondition: it is written beside the first calls
            # instead of before them (one transaction off the critical path); a section's result waits for it.
            nonlocal started_rows
            for kind in kinds:
                known[kind].runs += 1
            remaining.update(kinds)
            started_rows = asyncio.create_task(mark_running(kinds))

        async def on_done(outcome: SectionOutcome) -> None:
            remaining.discard(outcome.kind)
            if not remaining and outcome.kind in todo:
                last.append(outcome)
                return
            result = outcome.result
            if started_rows is not None:
                await asyncio.shield(started_rows)
            stale: set[str] = set()
            async with self.sessionmaker() as s, s.begin():
                if outcome.kind == "xray" and result is not None:
                    result, stale = await self._store_derived(s, report, inputs, result)
                await repository.set_section(s, report.id, outcome.kind, status=outcome.status, result=result,
                                             reason=outcome.reason)
            known[outcome.kind].set(outcome.status, result, outcome.reason)
            if stale:
                await self._sweep(report.user_id, stale)

        for kind in [k for k in todo if k in broken]:
            todo.remove(kind)
            await on_done(SectionOutcome(kind, "unavailable", None,
                                         SectionUnavailable("report", "storage", broken[kind]).to_dict(), 0.0))
        lookup = None
        if not inputs.medications and "lab" in todo and hasattr(self.downstream, "current_medications"):
            lookup = asyncio.create_task(self._medications(who))   # overlaps OCR; the lab section awaits it

            async def from_reminders() -> tuple[list[str], str]:
                return await lookup

            inputs.medications_lookup = from_reminders
        t0 = time.perf_counter()
        try:
            outcomes = await fan_out(self.downstream, who, inputs, todo, on_start, on_done)
        finally:
            if lookup is not None and not lookup.done():
                lookup.cancel()
            if started_rows is not None and not started_rows.done():
                await started_rows
        t1 = time.perf_counter()
        # Where the time goes (ms): created -> claimed, claimed -> fan-out, each section, fan-out -> composed.
        timings = {k: round(o.seconds * 1000, 1) for k, o in outcomes.items()}
        timings.update(queued=round(queued_ms, 1), prepare=round((t0 - started) * 1000, 1),
                       fan_out=round((t1 - t0) * 1000, 1))
        stale = await self.complete(session, report, known, inputs, last, timings)
        return [known[k] for k in sorted(known)], stale

    async def _medications(self, who: Identity) -> tuple[list[str], str]:
        """The user's current medications from reminders; never fails the report."""
        try:
            names = await self.downstream.current_medications(who)
        except SectionUnavailable as exc:
            log.warning("medications from reminders unavailable: %s", exc.reason)
            return [], "unavailable"
        except Exception as exc:   # a malformed answer is the same as no answer
            log.warning("medications from reminders unavailable: %s", type(exc).__name__)
            return [], "unavailable"
        return ([], "none") if names is None else (names, "reminders")

    async def _sweep(self, user_id: str, shas: set[str]) -> None:
        """Files of derived images a re-run replaced, once that commit is done, unless another row of this user
        still refers to the same content (content-addressed: an identical image of another report)."""
        async with self.sessionmaker() as s:
            gone = [sha for sha in shas if not await repository.sha_still_used(s, user_id, sha)]
        for sha in gone:
            await anyio.to_thread.run_sync(self.store.delete, user_id, sha)

    async def _store_derived(self, s: AsyncSession, report: Report, inputs: ReportInputs,
                             result: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """Heatmaps and mask overlays go to the encrypted store (deleted with the report); the section keeps
        references, not base64. Returns the section result and the content hashes of the derived images it
        replaced (a re-run), for ``_sweep`` after the commit."""
        originals = {f.position: f.data for f in inputs.xray}
        replaced: set[str] = set()
        for old in await repository.uploads_of(s, report.id, ("derived",)):
            replaced.add(old.sha256)
            await s.delete(old)
        new_shas: set[str] = set()
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
                    new_shas.add(stored.sha256)
                    up = await repository.add_upload(s, report_id=report.id, user_id=report.user_id, kind="derived",
                                                     position=img["position"], label=label[:64],
                                                     sha256=stored.sha256, size_bytes=stored.size_bytes,
                                                     content_type="image/png")
                    overlays.append({"label": label, "image_id": str(up.id)})
            img["overlays"] = overlays
            images.append(img)
        return {**result, "images": images}, replaced - new_shas

    async def complete(self, session: AsyncSession, report: Report, known: dict[str, SectionView],
                       inputs: ReportInputs, last: list[SectionOutcome] | tuple = (),
                       timings: dict[str, float] | None = None) -> set[str]:
        """Write the last section's outcome, compose, and stage the completion (body, status, indicator values,
        outbox events) in the claim's transaction. ``known``: every section as this run holds it (read at the
        claim, or written by it: with the row lock held nothing else changes them). Returns the derived images
        the last section replaced, for a sweep after the commit."""
        tc = time.perf_counter()
        stale: set[str] = set()
        for outcome in last:
            result = outcome.result
            if outcome.kind == "xray" and result is not None:
                result, stale = await self._store_derived(session, report, inputs, result)
            await repository.set_section(session, report.id, outcome.kind, status=outcome.status, result=result,
                                         reason=outcome.reason)
            known[outcome.kind].set(outcome.status, result, outcome.reason)
        by_kind = {k: {"status": v.status, "result": v.result, "reason": v.reason} for k, v in sorted(known.items())}
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
        # Values exist only from an earlier completion (a retry); a first completion has none to replace.
        await repository.replace_indicator_values(session, report, composed.indicator_values, report_date,
                                                  replace=report.completions > 1)
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
        return stale
