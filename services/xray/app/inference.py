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
    # Worker threads sleep instead of spinning between ops: on 2 shared cores spinning doubled the CPU time of both
    # models (detector 85 -> 45 ms CPU, chest network 55 -> 29 ms at batch 1) and lengthened the wall time under load.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=so, providers=provider_list or providers())


def load_meta(onnx_path: Path) -> dict:
    side = onnx_path.with_suffix(".json")
    return json.loads(side.read_text()) if side.exists() else {}


def centre_crop(work: np.ndarray, frac: float) -> np.ndarray:
    h, w = work.shape[:2]
    ch, cw = int(round(h * frac)), int(round(w * frac))
    y0, x0 = int(round((h - ch) / 2)), int(round((w - cw) / 2))
    return work[y0:y0 + ch, x0:x0 + cw]


# Test-time views of the working image for the chest network (chosen on validation: training/findings_tta_explore.py).
TTA_VIEWS = {
    "flip": lambda w: np.ascontiguousarray(w[:, ::-1]),
    "crop90": lambda w: centre_crop(w, 0.9),
    "crop80": lambda w: centre_crop(w, 0.8),
}
# Views whose CAMs map back onto the original film by mirroring them left to right.
CAM_MIRRORED_VIEWS = {"flip"}


@dataclass
class ChestOutput:
    probs: np.ndarray       # (15,)   14 findings + abnormal
    cams: np.ndarray        # (15, h, w) raw class activation maps
    masks: np.ndarray       # (3, S, S) left lung, right lung, heart probabilities at network size
    embedding: np.ndarray   # (1280,)
    mask_thresholds: tuple[float, ...] = (0.5, 0.5, 0.5)  # per organ, from the sidecar (chosen on JSRT val)

    @functools.cached_property
    def binary_masks(self) -> np.ndarray:
        """(3, S, S) bool, one component per organ; computed once, shared by measurement heads and post-processing."""
        return binarize(self.masks, self.mask_thresholds)


class ChestModel:
    def __init__(self, onnx_path: Path | str = MODELS_DIR / "chestnet.onnx", threads: int = 2,
                 verify_sha256: bool | None = True):
        self.path = Path(onnx_path)
        self.meta = load_meta(self.path)
        self.labels: list[str] = self.meta.get("labels", [])
        self.thresholds: dict[str, float] = self.meta.get("thresholds", {})
        self.organs: list[str] = self.meta.get("organs", ["left_lung", "right_lung", "heart"])
        self.size: int = int(self.meta.get("input", {}).get("size", CLS_SIZE))
        # organ -> probability threshold of its mask (training/seg_post_explore.py); 0.5 where the sidecar has none
        mt = self.meta.get("mask_thresholds") or {}
        self.mask_thresholds: tuple[float, ...] = tuple(float(mt.get(o, 0.5)) for o in self.organs)
        # finding -> {measurement, coef, intercept}: probability from a mask measurement (training/measurement_heads.py)
        self.measurement_heads: dict[str, dict] = self.meta.get("measurement_heads", {})
        # finding -> {"combine": "max"}: the finding's probability becomes max(network, the detector's best box
        # score inside the lungs); applied by the analyzer, which runs both models (training/detector_heads_explore.py)
        self.detector_heads: dict[str, dict] = self.meta.get("detector_heads", {})
        # Test-time augmentation (optional): extra views whose finding probabilities are averaged with the original
        # image's (``"tta": {"views": ["flip"]}``; absent = one view). The mirror's CAMs are mirrored back and
        # averaged too (a crop's CAMs cover another field, so they are not); masks, the embedding and the
        # measurement heads always come from the original view, so the gate and the detector's lung views see what
        # they see without TTA.
        self.tta_views: list[str] = [v for v in (self.meta.get("tta") or {}).get("views", []) if v != "orig"]
        for v in self.tta_views:
            if v not in TTA_VIEWS:
                raise ValueError(f"unknown test-time view {v!r}")
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

    def apply_detector_heads(self, out: ChestOutput, best: dict | None, work_shape: tuple[int, ...]) -> None:
        """``best``: the detector's best box inside the lungs ({"score", "box"} in working-image pixels) or None.
        Where the box's score beats the network's probability it becomes the finding's probability, and the
        finding's CAM becomes the box (so the heat map shows what raised it)."""
        if best is None:
            return
        for finding, head in self.detector_heads.items():
            if finding not in self.labels or head.get("combine") != "max":
                continue
            k = self.labels.index(finding)
            if float(best["score"]) <= float(out.probs[k]):
                continue
            out.probs[k] = float(best["score"])
            H, W = work_shape[:2]
            h, w = out.cams.shape[1:]
            x1, y1, x2, y2 = best["box"]
            box = np.zeros((H, W), np.float32)
            box[int(max(0, y1)):int(np.ceil(min(H, y2))), int(max(0, x1)):int(np.ceil(min(W, x2)))] = 1.0
            cell = cv2.resize(box, (w, h), interpolation=cv2.INTER_AREA)
            peak = float(cell.max())
            if peak > 0:
                out.cams[k] = cell / peak * out.probs[k]

    @staticmethod
    def preprocess(works: Sequence[np.ndarray], size: int = CLS_SIZE) -> np.ndarray:
        return np.stack([to_network_input(w, size) for w in works]).astype(np.float32)

    def run(self, works: Sequence[np.ndarray]) -> list[ChestOutput]:
        if not works:
            return []
        n = len(works)
        views = list(works) + [TTA_VIEWS[v](w) for v in self.tta_views for w in works]
        x = self.preprocess(views, self.size)
        probs, cams, masks, emb = self.session.run(["probs", "cams", "masks", "embedding"], {"image": x})
        if self.tta_views:
            probs = probs.reshape(1 + len(self.tta_views), n, -1).mean(0)
            by_view = cams.reshape(1 + len(self.tta_views), n, *cams.shape[1:])
            cam_views = [by_view[0]] + [by_view[j + 1][..., ::-1]
                                        for j, v in enumerate(self.tta_views) if v in CAM_MIRRORED_VIEWS]
            cams = np.mean(cam_views, axis=0, dtype=np.float32) if len(cam_views) > 1 else cams
        outs = [ChestOutput(probs[i].copy(), cams[i].copy(), masks[i], emb[i], self.mask_thresholds)
                for i in range(n)]
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


def lung_box(lung: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of a bool lung mask, grown by ``margin`` of its size on each side; the whole
    image when the mask is empty."""
    h, w = lung.shape
    ys, xs = np.nonzero(lung)
    if xs.size == 0:
        return 0, 0, w, h
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return int(max(0, x0 - mx)), int(max(0, y0 - my)), int(min(w, x1 + mx)), int(min(h, y1 + my))


def view_image(work: np.ndarray, box: Sequence[int], flip: bool) -> np.ndarray:
    """The pixels of one detector view before letterboxing: work[box], mirrored left to right when ``flip``."""
    x0, y0, x1, y1 = (int(v) for v in box)
    img = work[y0:y1, x0:x1]
    return np.ascontiguousarray(img[:, ::-1]) if flip else img


def view_canvas(work: np.ndarray, box: Sequence[int], flip: bool, size: int):
    """One detector view as ``Detector`` builds it: work[box], mirrored or not, letterboxed to size x size. Returns
    (canvas, to_canvas); to_canvas maps [x1, y1, x2, y2] in working pixels to canvas pixels, clipped to the crop
    unless clip=False. training/train_yolo.py cuts its training crops from these canvases (issue 17)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    canvas, scale, (px, py) = letterbox(np.ascontiguousarray(view_image(work, box, flip)), size)
    cw, ch = x1 - x0, y1 - y0

    def to_canvas(b: Sequence[float], clip: bool = True) -> list[float]:
        a, c = b[0] - x0, b[2] - x0
        if flip:
            a, c = cw - c, cw - a
        top, bottom = b[1] - y0, b[3] - y0
        if clip:
            a, c = min(max(a, 0), cw), min(max(c, 0), cw)
            top, bottom = min(max(top, 0), ch), min(max(bottom, 0), ch)
        return [float(a * scale + px), float(top * scale + py), float(c * scale + px), float(bottom * scale + py)]
    return canvas, to_canvas


def lung_region(lung: np.ndarray, kind: str) -> np.ndarray | None:
    """Where a nodule may be reported: ``hull`` = the convex hull of both lungs together (it keeps the lung behind
    the heart and the diaphragm, which the lung masks leave out); ``dilate<k>`` = the masks grown by k px."""
    if kind == "hull":
        pts = cv2.findNonZero(lung.astype(np.uint8))
        if pts is None:
            return None
        out = np.zeros(lung.shape, np.uint8)
        cv2.fillConvexPoly(out, cv2.convexHull(pts), 1)
        return out.astype(bool)
    if kind.startswith("dilate"):
        k = int(kind[len("dilate"):])
        return cv2.dilate(lung.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    raise ValueError(f"unknown lung region {kind!r}")


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def fuse_views(per_view: Sequence[list[dict]], iou: float) -> list[dict]:
    """Detections of several views of one image -> one list: greedy clusters by IoU, a cluster's score the mean over
    views of that view's best score in it (a view that missed it counts 0), its box the score-weighted mean."""
    flat = sorted(((d["score"], d["box"], v) for v, ds in enumerate(per_view) for d in ds), key=lambda t: -t[0])
    clusters: list[dict] = []
    for s, b, v in flat:
        for c in clusters:
            if _iou(c["box"], b) >= iou:
                c["members"].append((s, b))
                c["best"][v] = max(s, c["best"].get(v, 0.0))
                break
        else:
            clusters.append({"box": b, "members": [(s, b)], "best": {v: s}})
    out = []
    for c in clusters:
        w = np.array([m[0] for m in c["members"]])
        box = (np.array([m[1] for m in c["members"]]) * w[:, None]).sum(0) / w.sum()
        out.append({"score": float(sum(c["best"].values()) / len(per_view)), "box": [float(x) for x in box]})
    out.sort(key=lambda d: -d["score"])
    return out


def _centre_in(mask: np.ndarray, box: Sequence[float]) -> bool:
    h, w = mask.shape
    return bool(mask[int(np.clip((box[1] + box[3]) / 2, 0, h - 1)), int(np.clip((box[0] + box[2]) / 2, 0, w - 1))])


def _centre_near(mask: np.ndarray, box: Sequence[float], k: int) -> bool:
    """Whether the box centre lies in ``mask`` dilated by a k x k square (``lung_region(mask, f"dilate{k}")``),
    looking only at the k x k window around the centre."""
    h, w = mask.shape
    cx, cy = int(np.clip((box[0] + box[2]) / 2, 0, w - 1)), int(np.clip((box[1] + box[3]) / 2, 0, h - 1))
    r0, r1 = (k - 1) // 2, k // 2  # cv2's anchor for an even kernel sits right/below the centre
    return bool(mask[max(0, cy - r1):cy + r0 + 1, max(0, cx - r1):cx + r0 + 1].any())


class Detector:
    """YOLOv8 boxes on views of the working image. The sidecar's ``inference`` block (optional) says which views:
    ``views`` = [{"crop": "full" | "lungs", "margin": m, "size": px, "flip": bool}, ...] (``lungs`` = the lung box
    from the U-Net masks, grown by ``margin``), ``fuse_iou`` for merging several views, and ``region`` (``hull`` or
    ``dilate<k>``): detections whose centre falls outside it are dropped. Without the block: the full image at
    ``imgsz``, no region filter (how the detector was trained and first served)."""

    def __init__(self, onnx_path: Path | str = MODELS_DIR / "detector.onnx", threads: int = 2,
                 verify_sha256: bool | None = True):
        self.path = Path(onnx_path)
        self.meta = load_meta(self.path)
        self.imgsz = int(self.meta.get("imgsz", 384))
        self.score_threshold = float(self.meta.get("score_threshold", 0.25))
        self.iou_threshold = float(self.meta.get("iou_threshold", 0.45))
        self.classes = self.meta.get("classes", ["nodule_or_mass"])
        inf = self.meta.get("inference") or {}
        self.views: list[dict] = [dict(v) for v in inf.get("views", [])] or [
            {"crop": "full", "size": self.imgsz, "flip": False}]
        self.fuse_iou = float(inf.get("fuse_iou", 0.3))
        self.region: str | None = inf.get("region")
        # Optional down-weighting inside the region but off the lung masks (the mediastinum, the heart, below the
        # domes): {"dilate": k, "factor": f} multiplies the fused score of a box whose centre lies outside the
        # masks grown by k px by f (issue 17, training/nodule_crop_explore.py).
        off = inf.get("off_lungs") or {}
        self.off_lungs_dilate = int(off.get("dilate", 15))
        self.off_lungs_factor = float(off.get("factor", 1.0))
        # Optional box-size prior from the JSRT nodule diameters: {"min_side": px, "factor": f} multiplies the score of
        # a box whose shorter side (working-image px) is below min_side by f (training/nodule_prior_explore.py).
        prior = inf.get("size_prior") or {}
        self.prior_min_side = float(prior.get("min_side", 0.0))
        self.prior_factor = float(prior.get("factor", 1.0))
        self.session = open_session(self.path, threads, self.meta.get("sha256") if verify_sha256 else None)
        self.input_name = self.session.get_inputs()[0].name

    @property
    def needs_lungs(self) -> bool:
        return self.region is not None or any(v.get("crop") == "lungs" for v in self.views)

    def preprocess(self, works: Sequence[np.ndarray], size: int | None = None):
        batch, geo = [], []
        for w in works:
            lb, scale, pad = letterbox(w, size or self.imgsz)
            batch.append(np.repeat(lb[None].astype(np.float32) / 255.0, 3, axis=0))
            geo.append((scale, pad, w.shape[:2]))
        return np.stack(batch), geo

    def _run_view(self, works: Sequence[np.ndarray], lungs: Sequence[np.ndarray | None], view: dict,
                  conf: float) -> list[list[dict]]:
        crops = []
        for w, lung in zip(works, lungs):
            h, wd = w.shape[:2]
            box = (lung_box(lung, float(view.get("margin", 0.05)))
                   if view.get("crop") == "lungs" and lung is not None else (0, 0, wd, h))
            crops.append(box)
        imgs = [view_image(w, box, bool(view.get("flip"))) for w, box in zip(works, crops)]
        x, geo = self.preprocess(imgs, int(view.get("size", self.imgsz)))
        (raw,) = self.session.run(None, {self.input_name: x})
        out = []
        for i, (x0, y0, x1, y1) in enumerate(crops):
            ds = decode_yolo(raw[i], conf, self.iou_threshold, *geo[i], max_det=50 if len(self.views) > 1 else 20)
            for d in ds:
                a, b, c, e = d["box"]
                if view.get("flip"):
                    a, c = (x1 - x0) - c, (x1 - x0) - a
                d["box"] = [a + x0, b + y0, c + x0, e + y0]
            out.append(ds)
        return out

    def run(self, works: Sequence[np.ndarray], conf: float | None = None,
            lungs: Sequence[np.ndarray | None] | None = None) -> list[list[dict]]:
        """``lungs``: per working image, a bool lung mask at working size (both lungs), or None; without masks the
        lung views fall back to the full image and no region filter applies."""
        return self.run_scored(works, conf, lungs)[0]

    def run_scored(self, works: Sequence[np.ndarray], conf: float | None = None,
                   lungs: Sequence[np.ndarray | None] | None = None) -> tuple[list[list[dict]], list[dict | None]]:
        """Boxes at or above ``conf`` (default: the operating threshold), and per image the best box inside the lung
        region, however low its score (down to 0.01; None when there is none): the input of the Nodule finding
        head (``detector_heads`` in chestnet.json)."""
        if not works:
            return [], []
        c = self.score_threshold if conf is None else conf
        lungs = list(lungs) if lungs is not None else [None] * len(works)
        # Views are fused before thresholding, so each view keeps weaker boxes that another view may confirm.
        view_conf = min(c, 0.01)
        per_view = [self._run_view(works, lungs, v, view_conf) for v in self.views]
        out, best = [], []
        for i in range(len(works)):
            ds = per_view[0][i] if len(self.views) == 1 else fuse_views([pv[i] for pv in per_view], self.fuse_iou)
            if self.region and lungs[i] is not None:
                region = lung_region(lungs[i], self.region)
                if region is not None:
                    ds = [d for d in ds if _centre_in(region, d["box"])]
                    if self.off_lungs_factor != 1.0:
                        for d in ds:
                            if not _centre_near(lungs[i], d["box"], self.off_lungs_dilate):
                                d["score"] *= self.off_lungs_factor
                        ds.sort(key=lambda d: -d["score"])
            if self.prior_factor != 1.0:
                for d in ds:
                    if min(d["box"][2] - d["box"][0], d["box"][3] - d["box"][1]) < self.prior_min_side:
                        d["score"] *= self.prior_factor
                ds.sort(key=lambda d: -d["score"])
            best.append(max(ds, key=lambda d: d["score"], default=None))
            out.append([d for d in ds if d["score"] >= c][:20])
        return out, best
