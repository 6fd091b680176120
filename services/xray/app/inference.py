"""ONNX Runtime models, loaded once, with pure pre/post-processing around ``run(batch)``.

* ``ChestModel``  -- chestnet.onnx: 14 findings + abnormal, CAMs, gate embedding, and lung/heart masks (one graph:
                    the findings network + the attention U-Net on a frozen ImageNet encoder, see training/).
* ``Detector``    -- detector.onnx: YOLOv8n nodule/mass boxes.
Each model's JSON sidecar carries its sha256, labels and operating thresholds.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import onnxruntime as ort

from app.imaging import CLS_SIZE, letterbox, to_network_input
from app.measurements import binarize, measure

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class ModelIntegrityError(RuntimeError):
    """The ONNX file on disk is not the one its sidecar describes."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def providers() -> list[str]:
    avail = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail]


def open_session(path: Path, threads: int, expected_sha256: str | None,
                 provider_list: list[str] | None = None) -> ort.InferenceSession:
    if expected_sha256 is not None:
        got = sha256_file(path)
        if got != expected_sha256:
            raise ModelIntegrityError(f"{path.name}: sha256 {got[:12]}... does not match the sidecar")
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, threads)
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=so, providers=provider_list or providers())


def load_meta(onnx_path: Path) -> dict:
    side = onnx_path.with_suffix(".json")
    return json.loads(side.read_text()) if side.exists() else {}


@dataclass
class ChestOutput:
    probs: np.ndarray       # (15,)   14 findings + abnormal
    cams: np.ndarray        # (15, h, w) raw class activation maps
    masks: np.ndarray       # (3, S, S) left lung, right lung, heart probabilities at network size
    embedding: np.ndarray   # (1280,)

    @functools.cached_property
    def binary_masks(self) -> np.ndarray:
        """(3, S, S) bool, one component per organ; computed once, shared by measurement heads and post-processing."""
        return binarize(self.masks)


class ChestModel:
    def __init__(self, onnx_path: Path | str = MODELS_DIR / "chestnet.onnx", threads: int = 2,
                 verify_sha256: bool | None = True):
        self.path = Path(onnx_path)
        self.meta = load_meta(self.path)
        self.labels: list[str] = self.meta.get("labels", [])
        self.thresholds: dict[str, float] = self.meta.get("thresholds", {})
        self.organs: list[str] = self.meta.get("organs", ["left_lung", "right_lung", "heart"])
        self.size: int = int(self.meta.get("input", {}).get("size", CLS_SIZE))
        # finding -> {measurement, coef, intercept}: probability from a mask measurement (training/measurement_heads.py)
        self.measurement_heads: dict[str, dict] = self.meta.get("measurement_heads", {})
        self.session = open_session(self.path, threads, self.meta.get("sha256") if verify_sha256 else None)

    def apply_measurement_heads(self, out: ChestOutput) -> None:
        """Replace a finding's network probability by a logistic on a measurement of the masks (e.g. Cardiomegaly
        from the cardiothoracic ratio), and its CAM by the organ the measurement reads. When the masks give no
        measurement the network's own probability stays."""
        if not self.measurement_heads:
            return
        masks = out.binary_masks
        m = measure(masks, masks.shape[2], masks.shape[1])
        for finding, head in self.measurement_heads.items():
            value = m.get(head["measurement"])
            if value is None or finding not in self.labels:
                continue
            k = self.labels.index(finding)
            out.probs[k] = 1.0 / (1.0 + np.exp(-(head["coef"] * float(value) + head["intercept"])))
            h, w = out.cams.shape[1:]
            heart = cv2.resize(masks[2].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
            out.cams[k] = heart * float(out.probs[k])

    @staticmethod
    def preprocess(works: Sequence[np.ndarray], size: int = CLS_SIZE) -> np.ndarray:
        return np.stack([to_network_input(w, size) for w in works]).astype(np.float32)

    def run(self, works: Sequence[np.ndarray]) -> list[ChestOutput]:
        if not works:
            return []
        x = self.preprocess(works, self.size)
        probs, cams, masks, emb = self.session.run(["probs", "cams", "masks", "embedding"], {"image": x})
        outs = [ChestOutput(probs[i].copy(), cams[i].copy(), masks[i], emb[i]) for i in range(len(works))]
        for o in outs:
            self.apply_measurement_heads(o)
        return outs


def decode_yolo(raw: np.ndarray, conf: float, iou: float, scale: float, pad: tuple[int, int],
                shape: tuple[int, int], max_det: int = 20) -> list[dict]:
    """One image's YOLOv8 head output (4 + n_classes, anchors) -> boxes in working-image pixels, NMS applied."""
    scores = raw[4:].max(0)
    keep = scores >= conf
    if not keep.any():
        return []
    cx, cy, w, h = raw[:4, keep]
    s = scores[keep]
    x1 = (cx - w / 2 - pad[0]) / scale
    y1 = (cy - h / 2 - pad[1]) / scale
    x2 = (cx + w / 2 - pad[0]) / scale
    y2 = (cy + h / 2 - pad[1]) / scale
    H, W = shape
    x1, x2 = np.clip(x1, 0, W), np.clip(x2, 0, W)
    y1, y2 = np.clip(y1, 0, H), np.clip(y2, 0, H)
    rects = [[float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in zip(x1, y1, x2, y2)]
    idx = cv2.dnn.NMSBoxes(rects, s.astype(float).tolist(), conf, iou)
    idx = np.array(idx).reshape(-1)[:max_det]
    return [{"score": float(s[i]), "box": [float(x1[i]), float(y1[i]), float(x2[i]), float(y2[i])]} for i in idx]


class Detector:
    def __init__(self, onnx_path: Path | str = MODELS_DIR / "detector.onnx", threads: int = 2,
                 verify_sha256: bool | None = True):
        self.path = Path(onnx_path)
        self.meta = load_meta(self.path)
        self.imgsz = int(self.meta.get("imgsz", 384))
        self.score_threshold = float(self.meta.get("score_threshold", 0.25))
        self.iou_threshold = float(self.meta.get("iou_threshold", 0.45))
        self.classes = self.meta.get("classes", ["nodule_or_mass"])
        self.session = open_session(self.path, threads, self.meta.get("sha256") if verify_sha256 else None)
        self.input_name = self.session.get_inputs()[0].name

    def preprocess(self, works: Sequence[np.ndarray]):
        batch, geo = [], []
        for w in works:
            lb, scale, pad = letterbox(w, self.imgsz)
            batch.append(np.repeat(lb[None].astype(np.float32) / 255.0, 3, axis=0))
            geo.append((scale, pad, w.shape[:2]))
        return np.stack(batch), geo

    def run(self, works: Sequence[np.ndarray], conf: float | None = None) -> list[list[dict]]:
        if not works:
            return []
        x, geo = self.preprocess(works)
        (raw,) = self.session.run(None, {self.input_name: x})
        c = self.score_threshold if conf is None else conf
        return [decode_yolo(raw[i], c, self.iou_threshold, *geo[i]) for i in range(len(works))]
