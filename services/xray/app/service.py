"""The analysis use case: one upload in, one stored analysis out. No FastAPI here.

``AnalysisService.analyze`` owns the whole pipeline -- lease the served models, prepare, run the networks
(batched or not, see ``XrayAnalyzer.run_models``), finish, run the active fine-tuned classifiers -- then writes the
analysis and its ``XrayAnalyzedV1`` event to the outbox in the caller's transaction. Routes only parse the upload
and shape the response.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.events import XrayAnalyzedV1
from zhenxi_common.identity import Identity
from zhenxi_common.outbox import add_event

from . import repository
from .analyzer import Prepared, XrayAnalyzer
from .errors import ModelUnavailableError
from .models import Analysis
from .runtime import Generation, ModelRuntime


@dataclass(frozen=True)
class Upload:
    """An uploaded image as the route received it (already capped at the byte limit)."""
    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass
class AnalysisResult:
    """The stored analysis plus what is served once and never stored: overlays, masks, timings."""
    analysis: Analysis
    heatmaps: list[dict[str, Any]]
    masks: dict[str, str]
    timings_ms: dict[str, Any]


class AnalysisService:
    def __init__(self, runtime: ModelRuntime, chest_model_name: str):
        self.runtime = runtime
        self.chest_model_name = chest_model_name

    def _analyzer(self, gen: Generation) -> XrayAnalyzer:
        if gen.analyzer is None:
            raise ModelUnavailableError(details={"reason": gen.errors.get(self.chest_model_name)})
        return gen.analyzer

    async def analyze(self, session: AsyncSession, user: Identity, upload: Upload) -> AnalysisResult:
        """Analyse one image for ``user`` and record it; raises a ``ServiceError`` for anything refused (nothing is
        written then)."""
        async with self.runtime.lease() as gen:
            analyzer = self._analyzer(gen)
            prepared = await anyio.to_thread.run_sync(analyzer.prepare, upload.data, upload.filename,
                                                      upload.content_type)
            raw = await analyzer.run_models(prepared)
            # Overlays are served at the input's resolution: rendered there once, never re-encoded.
            size = (prepared.image.width, prepared.image.height)
            result = await anyio.to_thread.run_sync(partial(analyzer.finish, prepared, raw, overlay_size=size))
            classifications = await self._classify(gen, prepared)
        del prepared
        heatmaps = _take_overlays(result)
        row = await repository.add_analysis(session, user.user_id, result, classifications)
        await add_event(session, XrayAnalyzedV1(user_id=user.user_id, analysis_id=str(row.id),
                                                positive_findings=[f["label"] for f in result["findings"]
                                                                   if f.get("positive")]))
        return AnalysisResult(row, heatmaps, result.get("masks", {}), result.get("timings_ms", {}))

    @staticmethod
    async def _classify(gen: Generation, prepared: Prepared) -> list[dict[str, Any]]:
        """The active fine-tuned classifiers, on the same working image."""
        out = []
        for name, (row, clf) in sorted(gen.classifiers.items()):
            probs = await anyio.to_thread.run_sync(clf.run, prepared.work)
            out.append({"model": name, "version": row.version, "probabilities": probs,
                        "top_label": max(probs, key=probs.get)})
        return out

    async def selftest(self) -> dict[str, Any]:
        """The bundled golden image through the active models, compared with the outputs recorded for them."""
        async with self.runtime.lease() as gen:
            analyzer = self._analyzer(gen)
            try:
                st = await anyio.to_thread.run_sync(analyzer.selftest)
            except FileNotFoundError:
                st = {"ok": False, "image": None,
                      "problems": ["no golden outputs are recorded for the active chest model version"]}
            return {**st, "model_version": dict(analyzer.version)}


def _take_overlays(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Move the positive findings' overlay PNGs out of the findings (which are stored) into the served list."""
    w, h = int(result["image"]["width"]), int(result["image"]["height"])
    out = []
    for f in result.get("findings", []):
        hm = f.get("heatmap") or {}
        b64 = hm.pop("overlay_png_base64", None)
        if b64 is None:
            continue
        out.append({"label": f["label"], "png_base64": b64, "width": w, "height": h,
                    "outside_lung_fraction": hm.get("outside_lung_fraction"),
                    "attention_outside_lungs": hm.get("attention_outside_lungs")})
    return out
