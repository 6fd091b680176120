"""Semantic emergency detector: a safety net under the red-flag rules.

The rules catch the phrasings the lexicon knows; patients find new ones ("怎么叫都没反应", "嘴唇都紫了").
This is an L2 logistic regression over two views of the text: the multilingual USE sentence embedding (meaning) and
hashed character 1-3-grams (typos, dialect, fragments). It is trained by ``training/train_emergency.py`` on the
labelled question sets in bench/data *except* the blind test set, and its threshold is chosen by leave-one-file-out
cross-validation (each file is a different author), so the operating point reflects phrasing it has not seen.
A fired detector adds the ``rf_possible_emergency`` red flag; it never lowers an urgency. Two thresholds: the base one
(cross-validated recall >= 0.9) when the rules found nothing reassuring, a strict one (cross-validated false-positive
rate <= 1%) when they recognised the text and judged it benign (only mild routine symptoms, or the dangerous ones
negated or in the past).
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from .retrieval import Encoder

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "emergency_head.npz"
HASH_DIM = 2048


def char_grams(texts: list[str], dim: int = HASH_DIM) -> np.ndarray:
    """Binary hashed character 1-3-grams of the lower-cased text, L2-normalised per row (crc32: stable across
    processes, unlike ``hash``)."""
    out = np.zeros((len(texts), dim), np.float32)
    for i, t in enumerate(texts):
        t = t.lower()
        grams = {t[j:j + n] for n in (1, 2, 3) for j in range(len(t) - n + 1)}
        for g in grams:
            out[i, zlib.crc32(g.encode("utf-8")) % dim] = 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1.0)


def features(encoder: Encoder, texts: list[str], dim: int = HASH_DIM) -> np.ndarray:
    return np.hstack([np.asarray(encoder.encode(texts), np.float32), char_grams(texts, dim)])


class SemanticEmergency:
    def __init__(self, encoder: Encoder, path: Path = MODEL_PATH) -> None:
        data = np.load(path)
        self.encoder = encoder
        self.weights = data["weights"].astype(np.float32)
        self.bias = float(data["bias"])
        self.threshold = float(data["threshold"])
        self.threshold_strict = float(data["threshold_strict"]) if "threshold_strict" in data else self.threshold
        self.hash_dim = int(data["hash_dim"])
        meta = path.with_suffix(".json")
        self.meta = json.loads(meta.read_text()) if meta.exists() else {}

    def probability(self, text: str) -> float:
        x = features(self.encoder, [text], self.hash_dim)[0]
        return float(1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias))))

    def fires(self, text: str, strict: bool = False) -> tuple[bool, float]:
        """``strict``: the rules understood the text and judged it benign, so only a confident score overrides."""
        p = self.probability(text)
        return p >= (self.threshold_strict if strict else self.threshold), p
