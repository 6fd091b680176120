"""PP-OCR on ONNX Runtime through the ``rapidocr`` package: the models ship inside its wheel and are loaded by
explicit path (never the package's download route), their SHA-256 checked against the package's own manifest.
Loaded once per process, warmed up; CUDA when onnxruntime offers it, else CPU with a fixed thread count.

``OcrEngine.run(batch)`` takes upright page images and returns text lines with boxes and scores, timing
detection and recognition separately. Pre/post-processing helpers are pure functions."""
from __future__ import annotations

import copy
import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

log = logging.getLogger("zhenxi.ocr.inference")

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"


@dataclass
class TextLine:
    text: str
    score: float
    quad: np.ndarray  # 4x2 float32, page pixels (tl, tr, br, bl)

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs, ys = self.quad[:, 0], self.quad[:, 1]
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


@dataclass
class PageOcr:
    lines: list[TextLine]
    upside_down: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineOptions:
    threads: int = 2
    use_cuda: bool = True
    det_max_side: int = 960  # 0 = rapidocr default sizing (short side >= 736)
    rec_batch_size: int = 24
    page_cls_samples: int = 12  # 0 = per-line angle classifier on every crop (rapidocr's default behaviour)
    rec_bucketed: bool = True  # batches of similar width, no padding to 320 px (False: rapidocr's batching)
    rec_max_pad: float = 1.15
    ort_spinning: bool = False  # ORT intra-op threads busy-wait between ops (ORT's default is True)
    box_thresh: float = 0.3  # lower than rapidocr (0.5): keeps lone "-" results (urinalysis) that 0.5 drops
    unclip_ratio: float = 1.6


def rapidocr_model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def _manifest_sha256(name: str) -> str | None:
    import rapidocr

    text = (Path(rapidocr.__file__).resolve().parent / "default_models.yaml").read_text(encoding="utf-8")
    m = re.search(re.escape(name) + r"\s*\n\s*SHA256:\s*([0-9a-f]{64})", text)
    return m.group(1) if m else None


def verify_model(path: Path) -> str:
    """SHA-256 of a shipped model, refused if it differs from rapidocr's manifest."""
    if not path.exists():
        raise FileNotFoundError(f"OCR model missing from the rapidocr wheel: {path.name}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = _manifest_sha256(path.name)
    if expected is not None and expected != digest:
        raise RuntimeError(f"OCR model checksum mismatch for {path.name}")
    return digest


def cuda_available() -> bool:
    return "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(path: Path, threads: int, use_cuda: bool, spinning: bool = False) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    providers: list[str] = ["CPUExecutionProvider"]
    if use_cuda:
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


def quad_to_crop(img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Perspective-crop one text line (rapidocr's own cropping, which also turns tall crops upright)."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    return get_rotate_crop_image(img, copy.deepcopy(quad.astype(np.float32)))


def rotate_quads_180(quads: np.ndarray, w: int, h: int) -> np.ndarray:
    """Map boxes found on an image to the same image turned 180° (order kept tl, tr, br, bl)."""
    out = np.empty_like(quads)
    out[..., 0] = (w - 1) - quads[..., 0]
    out[..., 1] = (h - 1) - quads[..., 1]
    return out[:, [2, 3, 0, 1], :]


REC_HEIGHT = 48


def rec_batches(ratios: list[float], max_batch: int, max_pad: float) -> list[list[int]]:
    """Group crops of similar width/height ratio: sorted by ratio, a batch closes when the next crop would make
    the batch's widest crop more than ``max_pad`` times its narrowest (so little compute goes to padding)."""
    order = sorted(range(len(ratios)), key=lambda i: ratios[i])
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and (len(cur) >= max_batch or ratios[i] > max_pad * max(ratios[cur[0]], 1.0)):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def rec_preprocess(crops: list[np.ndarray], min_ratio: float = 1.0) -> tuple[np.ndarray, list[float], float]:
    """Resize crops to height 48 keeping their ratio, pad right to the batch's widest (multiple of 8), scale
    to [-1, 1]; NCHW float32. Returns the batch, each crop's ratio and the batch ratio."""
    ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
    max_ratio = max([min_ratio, *ratios])
    width = int(math.ceil(REC_HEIGHT * max_ratio / 8.0) * 8)
    batch = np.zeros((len(crops), 3, REC_HEIGHT, width), np.float32)
    for k, (c, r) in enumerate(zip(crops, ratios)):
        w = min(width, max(1, int(math.ceil(REC_HEIGHT * r))))
        im = cv2.resize(c, (w, REC_HEIGHT)).astype(np.float32)
        batch[k, :, :, :w] = (im.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch, ratios, max_ratio


def ctc_log_likelihood(probs: np.ndarray, labels: list[int], blank: int = 0) -> float:
    """log P(labels | frames) under CTC (the recogniser's own decoding model): the sum over every alignment of the
    label sequence to the T frames (probs: T x classes, rows summing to 1), by the forward recursion in log space."""
    logp = np.log(np.maximum(probs, 1e-30))
    ext = [blank]
    for lab in labels:
        ext += [lab, blank]
    n = len(ext)
    alpha = np.full(n, -np.inf)
    alpha[0] = logp[0, blank]
    if n > 1:
        alpha[1] = logp[0, ext[1]]
    # a label may skip the blank before it unless it repeats the previous label
    skip = np.array([k >= 2 and ext[k] != blank and ext[k] != ext[k - 2] for k in range(n)])
    for t in range(1, len(logp)):
        prev = alpha
        step = np.full(n, -np.inf)
        step[1:] = prev[:-1]
        jump = np.full(n, -np.inf)
        jump[2:] = np.where(skip[2:], prev[:-2], -np.inf)
        alpha = np.logaddexp(np.logaddexp(prev, step), jump) + logp[t, ext]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if n > 1 else alpha[-1])


def pick_cls_samples(quads: np.ndarray, k: int) -> list[int]:
    """The k widest text lines: long lines are what the angle classifier judges best."""
    widths = [float(np.linalg.norm(q[1] - q[0])) for q in quads]
    return list(np.argsort(widths)[::-1][:k])


class OcrEngine:
    def __init__(self, options: EngineOptions = EngineOptions()) -> None:
        from rapidocr import RapidOCR

        self.options = options
        mdir = rapidocr_model_dir()
        self.model_sha256 = {n: verify_model(mdir / n) for n in (DET_MODEL, REC_MODEL, CLS_MODEL)}
        self.use_cuda = bool(options.use_cuda and cuda_available())
        params = {
            "Global.log_level": "error",
            "Global.use_cls": True,
            "EngineConfig.onnxruntime.intra_op_num_threads": options.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "EngineConfig.onnxruntime.use_cuda": self.use_cuda,
            "Det.model_path": str(mdir / DET_MODEL),
            "Det.box_thresh": options.box_thresh,
            "Det.unclip_ratio": options.unclip_ratio,
            "Rec.model_path": str(mdir / REC_MODEL),
            "Rec.rec_batch_num": options.rec_batch_size,
            "Cls.model_path": str(mdir / CLS_MODEL),
        }
        if options.det_max_side:
            params["Det.limit_side_len"] = options.det_max_side
            params["Det.limit_type"] = "max"
        self._rapid = RapidOCR(params=params)
        self.det = self._rapid._load_det_model()
        self.cls = self._rapid._load_cls_model()
        self.rec = self._rapid._load_rec_model()
        # Our own sessions (rapidocr keeps its pre/post-processing): threads fixed, no busy-wait spinning
        # (the CPUs are shared; spinning threads steal them from everyone, measured faster without), CUDA first
        # when present.
        for wrapper, name in ((self.det, DET_MODEL), (self.cls, CLS_MODEL), (self.rec, REC_MODEL)):
            wrapper.session.session = make_session(mdir / name, options.threads, self.use_cuda, options.ort_spinning)
        self.providers = self.det.session.session.get_providers()

    def warm_up(self) -> None:
        img = np.full((256, 512, 3), 255, np.uint8)
        cv2.putText(img, "WBC 6.52 3.5-9.5", (10, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
        self.run([img])

    def info(self) -> dict[str, object]:
        return {"models": self.model_sha256, "providers": self.providers, "threads": self.options.threads}

    # -- one batch of pages --------------------------------------------------------------------------------
    def run(self, pages: list[np.ndarray], turn_vote: bool = True, det_side: int | None = None) -> list[PageOcr]:
        """``turn_vote``: whether the page-level angle vote may turn a page by 180° (off when the caller has
        turned the page itself, to read it the other way round: the vote would only turn it back). ``det_side``:
        the detector's input size (longest side) for these pages, instead of the configured one."""
        if det_side is None or not self.options.det_max_side:
            return [self._run_page(p, turn_vote) for p in pages]
        # read by the detector's preprocessing on every call; an engine serves one call at a time (the API runs
        # parse under a CapacityLimiter of 1 per process), so no other call sees the changed size
        self.det.limit_side_len = det_side
        try:
            return [self._run_page(p, turn_vote) for p in pages]
        finally:
            self.det.limit_side_len = self.options.det_max_side

    def _run_page(self, img: np.ndarray, turn_vote: bool = True) -> PageOcr:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        det = self.det(img)
        timings["det"] = (time.perf_counter() - t0) * 1000
        if det.boxes is None or len(det.boxes) == 0:
            timings.update(cls=0.0, rec=0.0)
            return PageOcr([], False, timings)
        quads = np.asarray(det.boxes, dtype=np.float32)
        t0 = time.perf_counter()
        det_ms = timings["det"]
        crops = [quad_to_crop(img, q) for q in quads]
        upside_down = False
        check_ms = 0.0  # the recogniser's look at a turn the angle vote asks for (counted as rec, not cls)
        if not turn_vote:
            pass  # read as given
        elif self.options.page_cls_samples > 0:
            idx = pick_cls_samples(quads, self.options.page_cls_samples)
            res = self.cls([crops[i] for i in idx])
            votes = [s if "180" in lbl else -s for lbl, s in res.cls_res]
            upside_down = bool(len(votes) >= 3 and sum(bool(v > 0.5) for v in votes) > len(votes) / 2)
            if upside_down:
                # the classifier is fooled now and then (moiré from a monitor, a grid over the text): the turn
                # stands only when the recogniser also reads the sampled lines better turned (mean score)
                # (six of the sampled lines: the widest, enough to tell print from garble either way)
                t_rec = time.perf_counter()
                sample = [crops[i] for i in idx[:6]]
                as_is = float(np.mean([sc for _, sc in self.recognise(sample)]))
                turned = float(np.mean([sc for _, sc in self.recognise([cv2.rotate(c, cv2.ROTATE_180)
                                                                          for c in sample])]))
                upside_down = turned > as_is
                check_ms = (time.perf_counter() - t_rec) * 1000
            if upside_down:
                # the text detector is not rotation-invariant: small marks (+, ↑) found on the page read upright
                # are lost on it upside down, so the page is turned and its text found again
                img = cv2.rotate(img, cv2.ROTATE_180)
                t1 = time.perf_counter()
                det = self.det(img)
                timings["det"] += (time.perf_counter() - t1) * 1000
                if det.boxes is None or len(det.boxes) == 0:
                    h, w = img.shape[:2]
                    quads = rotate_quads_180(quads, w, h)
                    crops = [cv2.rotate(c, cv2.ROTATE_180) for c in crops]
                else:
                    quads = np.asarray(det.boxes, dtype=np.float32)
                    crops = [quad_to_crop(img, q) for q in quads]
        else:
            crops = self.cls(crops).img_list
        timings["cls"] = (time.perf_counter() - t0) * 1000 - (timings["det"] - det_ms) - check_ms  # (det's, rec's)
        t0 = time.perf_counter()
        texts = self.recognise(crops)
        timings["rec"] = (time.perf_counter() - t0) * 1000 + check_ms
        lines = [TextLine(t, s, q) for (t, s), q in zip(texts, quads) if t.strip() and s >= 0.3]
        return PageOcr(lines, upside_down, timings)

    def word_likelihoods(self, crops: list[np.ndarray], words: list[list[str]]) -> list[dict[str, float]]:
        """How well each of a crop's candidate ``words`` explains it: the word's CTC log-likelihood under the
        recogniser, per character (a word with a character the recogniser does not know is left out). Read
        against a short list of known words, a crop greedy decoding garbles (dot-matrix print) still ranks its
        own word first. Batched like ``recognise``; each crop is scored on its own frames."""
        out: list[dict[str, float]] = [{} for _ in crops]
        index = self.rec.postprocess_op.dict
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        for idx in rec_batches(ratios, self.options.rec_batch_size, self.options.rec_max_pad):
            batch, wh, max_wh = rec_preprocess([crops[i] for i in idx])
            probs = self.rec.session(batch)
            for k, i in enumerate(idx):
                frames = probs[k][: max(1, math.ceil(probs.shape[1] * wh[k] / max_wh))]
                for w in words[i]:
                    labels = [index.get(ch) for ch in w]
                    if w and None not in labels:
                        out[i][w] = ctc_log_likelihood(frames, labels) / len(w)
        return out

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        if not self.options.rec_bucketed:
            from rapidocr.ch_ppocr_rec import TextRecInput

            rec = self.rec(TextRecInput(img=crops, return_word_box=False))
            return [(str(t), float(s)) for t, s in zip(rec.txts, rec.scores)]
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        for idx in rec_batches(ratios, self.options.rec_batch_size, self.options.rec_max_pad):
            batch, wh, max_wh = rec_preprocess([crops[i] for i in idx])
            preds = self.rec.session(batch)
            lines, _ = self.rec.postprocess_op(preds, False, wh_ratio_list=wh, max_wh_ratio=max_wh)
            for i, (txt, score) in zip(idx, lines):
                out[i] = (str(txt), float(score))
        return out
