"""XrayAnalyzer: the analysis pipeline, bytes in, one analysis dict out. No FastAPI and no database here: the
service layer (``app/service.py``) runs the stages for the API, the CLI and the benches call them directly.

Stages: prepare (decode, window, model-free gate checks) -> infer (chest network + detector, in a worker thread or
through the dynamic batcher) -> finish (gate decision, findings, heatmaps, measurements, masks).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import anyio.to_thread
import cv2
import numpy as np

from app.batching import DynamicBatcher
from app.errors import ModelUnavailableError, NotChestXrayError, ServiceError
from app.gate import Gate
from app.heatmap import OUTSIDE_FLAG, chest_region, mask_png, overlay_png, png_b64, restrict
from app.imaging import Limits, LoadedImage, load_image, prepare_gray
from app.inference import MODELS_DIR, ChestModel, ChestOutput, Detector, providers
from app.measurements import ORGANS, lung_plausibility, measure, resize_masks


def cpu_cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def default_threads() -> int:
    """ONNX Runtime intra-op threads per session when not configured: every core this process may use on CPU, 2 with
    CUDA (the host side only). Measured on 2 cores (bench/xray_speed.py, README "Speed", issue 17): with worker
    threads that sleep instead of spin, one 2-thread session analyses a film in 107-113 ms p50 against 153-159 ms for
    single-threaded sessions, and serves 4 or 16 concurrent requests at the same images/s (a worker thread per
    request shares the session). Earlier, with spinning threads, two 1-thread runs had been faster."""
    if "CUDAExecutionProvider" in providers():
        return 2
    return cpu_cores()


def default_instances(threads: int = 1) -> int:
    """Batches run at once when dynamic batching is on: one on a GPU; on CPU as many as fit the cores with
    ``threads`` each (one per core for single-threaded sessions, one for sessions that use every core)."""
    if "CUDAExecutionProvider" in providers():
        return 1
    return max(1, cpu_cores() // max(1, threads))


def default_batching() -> bool:
    """Dynamic batching only where it pays. On 2 CPU cores bench/xray_speed.py measured it slower than a worker
    thread per request at concurrency 1, 4 and 16 (see the README): the per-image cost of both networks does not
    fall with the batch size on a CPU, so gathering only adds the wait. On a GPU it does fall."""
    return "CUDAExecutionProvider" in providers()


@dataclass
class AnalyzerConfig:
    models_dir: Path = field(default_factory=lambda: Path(os.environ.get("XRAY_MODELS_DIR", MODELS_DIR)))
    threads: int = 0                 # ONNX Runtime intra-op threads per session; 0 = auto (default_threads)
    instances: int = 0               # batches run at once; 0 = auto (1 on CUDA, else the cores / threads)
    max_batch: int = 8
    max_wait_ms: float = 5.0
    verify_sha256: bool = True
    limits: Limits = field(default_factory=Limits)
    include_masks: bool = True
    include_heatmaps: bool = True
    overlay_side: int = 256          # heat-map overlay PNGs: longest side in px (the CAM is 8x8), unless the caller
    #                                  asks for another served size (the API serves them at the input's size)
    batching: bool | None = None     # dynamic batching of the model stage; None = auto (on with CUDA, off on CPU)


@dataclass
class Prepared:
    image: LoadedImage
    work: np.ndarray               # windowed uint8, longest side <= 512
    timings: dict


@dataclass
class Raw:
    chest: ChestOutput
    detections: list[dict]         # boxes in working-image pixels
    timings: dict


def work_lungs(chest: ChestOutput, shape: tuple[int, ...]) -> np.ndarray:
    """Both lungs of the chest network's masks as one bool mask at working-image size (for the detector)."""
    m = chest.binary_masks
    lung = (m[0] | m[1]).astype(np.uint8)
    return cv2.resize(lung, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


class XrayAnalyzer:
    def __init__(self, config: AnalyzerConfig | None = None):
        self.config = config or AnalyzerConfig()
        d = Path(self.config.models_dir)
        self.threads = self.config.threads or default_threads()
        try:
            self.chest = ChestModel(d / "chestnet.onnx", self.threads, self.config.verify_sha256)
            self.detector = Detector(d / "detector.onnx", self.threads, self.config.verify_sha256)
            self.gate = Gate(d / "chestnet_gate.npz", d / "gate.json")
        except (FileNotFoundError, OSError) as e:
            raise ModelUnavailableError(details={"reason": type(e).__name__}) from None
        self.labels = self.chest.labels
        self.version = {"chestnet": self.chest.meta.get("version"), "chestnet_sha256": self.chest.meta.get("sha256", "")[:12],
                        "detector": self.detector.meta.get("version"),
                        "detector_sha256": self.detector.meta.get("sha256", "")[:12]}
        self.instances = self.config.instances or default_instances(self.threads)
        self.batching = default_batching() if self.config.batching is None else self.config.batching
        self.batcher: DynamicBatcher[Prepared, Raw] = DynamicBatcher(self.infer, self.config.max_batch,
                                                                     self.config.max_wait_ms, self.instances)

    # ------------------------------------------------------------------------------------------------ stages
    def prepare(self, data: bytes, filename: str | None = None, content_type: str | None = None) -> Prepared:
        t0 = time.perf_counter()
        img = load_image(data, filename, content_type, self.config.limits)
        t1 = time.perf_counter()
        reasons = self.gate.precheck(img.width, img.height, img.colourfulness)
        if reasons:
            raise NotChestXrayError(details={"reasons": reasons})
        work = prepare_gray(img.gray)
        t2 = time.perf_counter()
        return Prepared(img, work, {"decode": (t1 - t0) * 1e3, "window": (t2 - t1) * 1e3})

    def infer(self, batch: Sequence[Prepared]) -> list[Raw]:
        t0 = time.perf_counter()
        chest = self.chest.run([p.work for p in batch])
        t1 = time.perf_counter()
        lungs = [work_lungs(c, p.work.shape) for c, p in zip(chest, batch)] if self.detector.needs_lungs else None
        dets, best = self.detector.run_scored([p.work for p in batch], lungs=lungs)
        for c, b, p in zip(chest, best, batch):
            self.chest.apply_detector_heads(c, b, p.work.shape)
        t2 = time.perf_counter()
        n = len(batch)
        tm = {"chest_model": (t1 - t0) * 1e3 / n, "detector": (t2 - t1) * 1e3 / n, "batch_size": n}
        return [Raw(c, d, dict(tm)) for c, d in zip(chest, dets)]

    def finish(self, p: Prepared, raw: Raw, include_masks: bool | None = None,
               include_heatmaps: bool | None = None, overlay_size: tuple[int, int] | None = None) -> dict:
        """``overlay_size`` (width, height): the size the heat-map overlays are served at; they are rendered once,
        at that size (default: longest side ``config.overlay_side``)."""
        t0 = time.perf_counter()
        include_masks = self.config.include_masks if include_masks is None else include_masks
        include_heatmaps = self.config.include_heatmaps if include_heatmaps is None else include_heatmaps
        img = p.image
        masks = raw.chest.binary_masks
        plaus = lung_plausibility(masks)
        decision = self.gate.decide(raw.chest.embedding, plaus)
        if not decision.accepted:
            raise NotChestXrayError(details=decision.as_dict())
        region = chest_region(masks)
        findings = []
        probs = raw.chest.probs
        for k, label in enumerate(self.labels):
            if label == "abnormal":
                continue
            thr = float(self.chest.thresholds.get(label, 0.5))
            f = {"label": label, "probability": round(float(probs[k]), 4), "threshold": round(thr, 4),
                 "positive": bool(probs[k] >= thr)}
            if f["positive"]:
                heat, outside = restrict(raw.chest.cams[k], region)
                f["heatmap"] = {"outside_lung_fraction": round(outside, 3),
                                "attention_outside_lungs": bool(outside > OUTSIDE_FLAG)}
                if include_heatmaps:
                    f["heatmap"]["overlay_png_base64"] = png_b64(overlay_png(
                        p.work, heat, max_side=self.config.overlay_side, size=overlay_size))
            findings.append(f)
        ia = self.labels.index("abnormal")
        thr_a = float(self.chest.thresholds.get("abnormal", 0.5))
        sx, sy = img.width / p.work.shape[1], img.height / p.work.shape[0]
        detections = [{"label": self.detector.classes[0], "score": round(d["score"], 4),
                       "box": [round(d["box"][0] * sx, 1), round(d["box"][1] * sy, 1),
                               round(d["box"][2] * sx, 1), round(d["box"][3] * sy, 1)]}
                      for d in raw.detections]
        out = {
            "model_version": self.version,
            "image": {"width": img.width, "height": img.height, "format": img.source,
                      **({"dicom": img.dicom_meta} if img.dicom_meta else {})},
            "gate": decision.as_dict(),
            "abnormal": {"probability": round(float(probs[ia]), 4), "threshold": round(thr_a, 4),
                         "positive": bool(probs[ia] >= thr_a)},
            "findings": findings,
            "detections": detections,
            "measurements": measure(masks, img.width, img.height, img.pixel_spacing_mm),
        }
        if include_masks:
            full = resize_masks(masks, img.width, img.height)
            out["masks"] = {o: png_b64(mask_png(m)) for o, m in zip(ORGANS, full)}
        t1 = time.perf_counter()
        out["timings_ms"] = {k: round(v, 2) if isinstance(v, float) else v
                             for k, v in {**p.timings, **raw.timings, "postprocess": (t1 - t0) * 1e3}.items()}
        return out

    def masks_at_input_size(self, p: Prepared, raw: Raw) -> dict[str, np.ndarray]:
        full = resize_masks(raw.chest.binary_masks, p.image.width, p.image.height)
        return dict(zip(ORGANS, full))

    # ------------------------------------------------------------------------------------------------ entry points
    def analyze(self, data: bytes, filename: str | None = None, content_type: str | None = None) -> dict:
        p = self.prepare(data, filename, content_type)
        return self.finish(p, self.infer([p])[0])

    def analyze_many(self, items: Sequence[tuple[bytes, str | None, str | None]]) -> list[dict | ServiceError]:
        """Batch entry point: refused items come back as their ServiceError, in place."""
        prepared: list[Prepared | ServiceError] = []
        for data, name, ct in items:
            try:
                prepared.append(self.prepare(data, name, ct))
            except ServiceError as e:
                prepared.append(e)
        ok = [p for p in prepared if isinstance(p, Prepared)]
        raws = iter(self.infer(ok)) if ok else iter(())
        out: list[dict | ServiceError] = []
        for p in prepared:
            if isinstance(p, ServiceError):
                out.append(p)
                continue
            try:
                out.append(self.finish(p, next(raws)))
            except ServiceError as e:
                out.append(e)
        return out

    async def run_models(self, p: Prepared) -> Raw:
        """The model stage off the event loop: through the dynamic batcher when batching is on, else in a worker
        thread of its own."""
        if self.batching:
            return await self.batcher.submit(p)
        return (await anyio.to_thread.run_sync(self.infer, [p]))[0]

    async def aclose(self) -> None:
        await self.batcher.aclose()

    # ------------------------------------------------------------------------------------------------ self-test
    def selftest(self, golden_dir: Path | None = None) -> dict:
        """Run the bundled NIH golden image and compare with the outputs recorded at export time."""
        golden_dir = golden_dir or Path(self.config.models_dir) / "golden"
        expected = json.loads((golden_dir / "expected.json").read_text())
        data = (golden_dir / expected["image"]).read_bytes()
        got = self.analyze(data, expected["image"], "image/png")
        problems = []
        tol = expected.get("tolerance", {})
        ptol = float(tol.get("probability", 0.02))
        gp = {f["label"]: f["probability"] for f in got["findings"]}
        gp["abnormal"] = got["abnormal"]["probability"]
        for label, p in expected["probabilities"].items():
            if abs(gp.get(label, -1.0) - p) > ptol:
                problems.append(f"{label}: {gp.get(label)} vs {p}")
        m_exp, m_got = expected["measurements"], got["measurements"]
        for key in ("left_lung_area_px", "right_lung_area_px"):
            if abs(m_got[key] - m_exp[key]) > float(tol.get("area_rel", 0.03)) * max(1.0, m_exp[key]):
                problems.append(f"{key}: {m_got[key]} vs {m_exp[key]}")
        if (m_exp["cardiothoracic_ratio"] is None) != (m_got["cardiothoracic_ratio"] is None) or (
                m_exp["cardiothoracic_ratio"] is not None
                and abs(m_got["cardiothoracic_ratio"] - m_exp["cardiothoracic_ratio"]) > float(tol.get("ctr", 0.02))):
            problems.append(f"ctr: {m_got['cardiothoracic_ratio']} vs {m_exp['cardiothoracic_ratio']}")
        if len(got["detections"]) != expected["n_detections"]:
            problems.append(f"detections: {len(got['detections'])} vs {expected['n_detections']}")
        return {"ok": not problems, "problems": problems, "image": expected["image"]}
