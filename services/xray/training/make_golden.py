"""Record the serving outputs for the bundled NIH golden image (models/golden/), used by XrayAnalyzer.selftest()."""
from __future__ import annotations

import json
import sys
from pathlib import Path

SVC = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SVC))
GOLDEN = SVC / "models" / "golden"
IMAGE = "00017611_000.png"  # NIH ChestX-ray14, test split of models/splits/nih.csv (never trained on)


def main() -> None:
    from app.analyzer import AnalyzerConfig, XrayAnalyzer
    a = XrayAnalyzer(AnalyzerConfig(include_masks=False, include_heatmaps=False))
    out = a.analyze((GOLDEN / IMAGE).read_bytes(), IMAGE, "image/png")
    probs = {f["label"]: f["probability"] for f in out["findings"]}
    probs["abnormal"] = out["abnormal"]["probability"]
    expected = {"image": IMAGE, "source": "NIH ChestX-ray14 (NIH Clinical Center; Wang et al., CVPR 2017)",
                "model_version": out["model_version"], "probabilities": probs,
                "positive": [f["label"] for f in out["findings"] if f["positive"]],
                "measurements": out["measurements"], "n_detections": len(out["detections"]),
                "gate": out["gate"],
                "tolerance": {"probability": 0.02, "area_rel": 0.03, "ctr": 0.02}}
    (GOLDEN / "expected.json").write_text(json.dumps(expected, indent=2))
    st = a.selftest()
    print(json.dumps(expected, indent=2), st)
    if not st["ok"]:
        raise SystemExit("selftest fails right after recording")


if __name__ == "__main__":
    main()
