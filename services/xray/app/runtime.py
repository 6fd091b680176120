"""The serving runtime: the hot-swappable set of models this replica serves (the analyzer's chest network and
detector, plus the active fine-tuned classifiers), loaded from the registry's active set. Requests lease one
consistent generation; a promotion builds the next generation beside it and the old one is closed when its
last request finishes."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.errors import ServiceError

from .analyzer import default_threads
from .config import Settings
from .inference import open_session
from .models import ModelVersion
from .registry import ModelBlobMissingError, ModelStore, active_set

log = logging.getLogger("xray.runtime")


class Classifier:
    """An active fine-tuned classifier, run on the same working image the analyzer prepared."""

    def __init__(self, path: Path, meta: dict, threads: int):
        self.session = open_session(path, threads, None)
        self.labels: list[str] = list(meta["sidecar"]["labels"])
        self.size = int(meta["sidecar"].get("input", {}).get("size", 224))
        self.input_name = self.session.get_inputs()[0].name

    def run(self, work: np.ndarray) -> dict[str, float]:
        from app.imaging import to_network_input

        (probs,) = self.session.run(None, {self.input_name: to_network_input(work, self.size)[None]})
        return {label: round(float(p), 4) for label, p in zip(self.labels, probs[0])}


@dataclass
class Generation:
    """One consistent set of served models. Requests hold a lease on the generation they started with, so a
    swap never pulls a model out from under a running request."""
    analyzer: Any = None
    classifiers: dict[str, tuple[ModelVersion, Classifier]] = field(default_factory=dict)
    loaded: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    users: int = 0
    retired: bool = False


class ModelRuntime:
    def __init__(self, settings: Settings, store: ModelStore, sessionmaker: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.store = store
        self.sessionmaker = sessionmaker
        self.current = Generation()
        self._live: list[Generation] = [self.current]
        self._lock = asyncio.Lock()
        self.swaps = 0
        self.reconciles = 0

    def describe(self) -> dict:
        g = self.current
        return {"replica_id": self.settings.replica_id, "swaps": self.swaps, "reconciles": self.reconciles,
                "analyzer_ready": g.analyzer is not None, "models": g.loaded, "errors": g.errors}

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Generation]:
        gen = self.current
        gen.users += 1
        try:
            yield gen
        finally:
            gen.users -= 1
            if gen.retired and gen.users == 0:
                await self._release(gen)

    async def _release(self, gen: Generation) -> None:
        if gen in self._live:
            self._live.remove(gen)
        if gen.analyzer is not None and all(g.analyzer is not gen.analyzer for g in self._live):
            await gen.analyzer.aclose()

    async def reconcile(self) -> bool:
        """Load what the registry says is active; returns True if anything was swapped."""
        async with self._lock:
            self.reconciles += 1
            async with self.sessionmaker() as session:
                rows = await active_set(session)
            s = self.settings
            # Only what this replica serves: the analyzer's two models and the fine-tuned classifiers.
            rows = [r for r in rows if r.name in (s.chest_model_name, s.detector_model_name)
                    or r.task == "classification"]
            wanted = {r.name: r for r in rows}
            old = self.current
            if {n: r.sha256 for n, r in wanted.items()} == {n: m["sha256"] for n, m in old.loaded.items()}:
                return False
            new = Generation()
            chest, det = wanted.get(s.chest_model_name), wanted.get(s.detector_model_name)
            role_names = (s.chest_model_name, s.detector_model_name)
            if ({n: wanted[n].sha256 for n in role_names if n in wanted}
                    == {n: old.loaded[n]["sha256"] for n in role_names if n in old.loaded}):
                new.analyzer = old.analyzer
                for n in role_names:
                    if n in old.loaded:
                        new.loaded[n] = old.loaded[n]
                for n in (s.chest_model_name, s.detector_model_name):
                    if n in old.errors:
                        new.errors[n] = old.errors[n]
            elif chest is not None and det is not None:
                try:
                    new.analyzer = await anyio.to_thread.run_sync(self._build_analyzer, chest, det)
                    for r in (chest, det):
                        new.loaded[r.name] = _loaded(r)
                except (ServiceError, OSError, RuntimeError, ValueError, KeyError) as e:
                    log.error("could not load the active chest/detector models; keeping the previous ones",
                              extra={"error": type(e).__name__, "detail": str(e)[:200]})
                    new.analyzer = old.analyzer
                    for n in (s.chest_model_name, s.detector_model_name):
                        if n in old.loaded:
                            new.loaded[n] = old.loaded[n]
                    new.errors[s.chest_model_name] = f"load_failed: {type(e).__name__}"
            else:
                new.errors[s.chest_model_name] = "chest and detector models are not both active"
            for r in rows:
                if r.task != "classification":
                    continue
                prev = old.classifiers.get(r.name)
                if prev is not None and prev[0].sha256 == r.sha256:
                    new.classifiers[r.name] = prev
                    new.loaded[r.name] = old.loaded[r.name]
                    continue
                try:
                    clf = await anyio.to_thread.run_sync(self._build_classifier, r)
                except (ServiceError, OSError, RuntimeError, ValueError, KeyError) as e:
                    log.error("could not load a classifier", extra={"model": r.name, "error": type(e).__name__})
                    new.errors[r.name] = f"load_failed: {type(e).__name__}"
                    if prev is not None:
                        new.classifiers[r.name] = prev
                        new.loaded[r.name] = old.loaded[r.name]
                    continue
                new.classifiers[r.name] = (r, clf)
                new.loaded[r.name] = _loaded(r)
            self.current = new
            self._live.append(new)
            old.retired = True
            if old.users == 0:
                await self._release(old)
            self.swaps += 1
            log.info("served models updated", extra={"models": {n: m["version"] for n, m in new.loaded.items()}})
            return True

    def _build_analyzer(self, chest: ModelVersion, det: ModelVersion):
        from app.analyzer import AnalyzerConfig, XrayAnalyzer
        from app.imaging import Limits

        for r in (chest, det):
            if not self.store.verify(r.sha256, r.size_bytes):
                raise ModelBlobMissingError(details={"name": r.name, "version": r.version})
        files: dict[str, str | bytes | Path] = {}
        for r, role in ((chest, "chestnet"), (det, "detector")):
            files[f"{role}.onnx"] = r.sha256
            files[f"{role}.json"] = json.dumps(r.meta["sidecar"], indent=1).encode()
            for rel, sha in (r.meta.get("assets") or {}).items():
                files[rel] = sha
        golden = self.settings.resolved_golden_image()
        if golden is not None and golden.is_file():
            files[f"golden/{golden.name}"] = golden
        view = self.store.view(files)
        s = self.settings
        return XrayAnalyzer(AnalyzerConfig(models_dir=view, threads=s.threads, instances=s.instances,
                                           max_batch=s.max_batch, max_wait_ms=s.max_wait_ms, batching=s.batching,
                                           limits=Limits(max_bytes=s.max_image_bytes)))

    def _build_classifier(self, row: ModelVersion) -> Classifier:
        if not self.store.verify(row.sha256, row.size_bytes):
            raise ModelBlobMissingError(details={"name": row.name, "version": row.version})
        return Classifier(self.store.blob_path(row.sha256), row.meta, self.settings.threads or default_threads())

    async def aclose(self) -> None:
        for gen in list(self._live):
            gen.retired = True
            if gen.analyzer is not None:
                with contextlib.suppress(Exception):
                    await gen.analyzer.aclose()
        self._live.clear()


def _loaded(r: ModelVersion) -> dict:
    return {"version": r.version, "sha256": r.sha256, "task": r.task}
