"""Is this a frontal chest X-ray? Three independent kinds of evidence:

1. image statistics before any model: colour (X-rays are gray), aspect ratio;
2. out-of-distribution distance of the chest network's embedding from the embeddings of our training chest films
   (Mahalanobis distance in the top principal components + the residual off that subspace);
3. lung-mask plausibility from the U-Net: two lungs of plausible size on the correct sides, a heart.

Thresholds come from the chest films alone (quantiles of held-out validation distances), never from the
synthetic negatives, so the gate is not tuned to our own fakes; see models/gate.json.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.inference import MODELS_DIR


@dataclass
class GateDecision:
    accepted: bool
    reasons: list[str]
    ood_score: float          # 1.0 = at the chest-film threshold; larger = further from chest films
    lungs_plausible: bool

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "reasons": self.reasons, "ood_score": round(self.ood_score, 3),
                "lungs_plausible": self.lungs_plausible}


class Gate:
    def __init__(self, stats_path: Path | str = MODELS_DIR / "chestnet_gate.npz",
                 config_path: Path | str = MODELS_DIR / "gate.json"):
        s = np.load(stats_path)
        self.mean = s["mean"].astype(np.float32)
        self.components = s["components"].astype(np.float32)
        self.variances = s["variances"].astype(np.float32)
        cfg_path = Path(config_path)
        self.cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        self.max_colourfulness = float(self.cfg.get("max_colourfulness", 18.0))
        self.aspect_range = tuple(self.cfg.get("aspect_range", [0.45, 2.2]))
        self.maha_threshold = float(self.cfg.get("maha_threshold", np.percentile(s["val_maha"], 99) * 1.2))
        self.resid_threshold = float(self.cfg.get("resid_threshold", np.percentile(s["val_resid"], 99) * 1.2))
        self.hard_factor = float(self.cfg.get("hard_factor", 1.0))
        # below hard_factor, implausible lungs still refuse when the embedding is already unusual
        self.soft_factor = float(self.cfg.get("soft_factor", 0.9))

    def distances(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = np.atleast_2d(emb).astype(np.float32) - self.mean
        z = e @ self.components.T
        resid = np.linalg.norm(e - z @ self.components, axis=1)
        return np.sqrt(((z ** 2) / self.variances).sum(1)), resid

    def ood_score(self, emb: np.ndarray) -> float:
        d, r = self.distances(emb)
        return float(max(d[0] / self.maha_threshold, r[0] / self.resid_threshold))

    def precheck(self, width: int, height: int, colourfulness: float) -> list[str]:
        """Model-free reasons to refuse; cheap, so checked before inference."""
        reasons = []
        if colourfulness > self.max_colourfulness:
            reasons.append("colour_image")
        aspect = width / max(1, height)
        if not self.aspect_range[0] <= aspect <= self.aspect_range[1]:
            reasons.append("aspect_ratio")
        return reasons

    def decide(self, emb: np.ndarray, plausibility: dict) -> GateDecision:
        score = self.ood_score(emb)
        plausible = bool(plausibility["plausible"])
        lung_l, lung_r = plausibility["areas"][:2]
        reasons = []
        if score > self.hard_factor:
            reasons.append("far_from_chest_xrays")
        elif score > self.soft_factor and not plausible:
            reasons.append("unlike_chest_xrays_and_no_lungs")
        if lung_l < 0.01 and lung_r < 0.01:
            reasons.append("no_lungs_found")
        return GateDecision(not reasons, reasons, score, plausible)
