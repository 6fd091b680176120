"""Set the gate's thresholds from held-out VALIDATION chest films only, then measure it (full serving path)
on TEST chest films and on synthetic non-chest images. Writes models/gate.json and models/gate_metrics.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SVC))
from prepare import DATA, read_split  # noqa: E402
import synth_negatives as sn  # noqa: E402

MODELS = SVC / "models"
SOURCES = {"nih": "cxr_nih14", "jsrt": "cxr_jsrt_scr", "covid": "cxr_covid_permissive"}


def cxr_files(part: str) -> list[Path]:
    out = []
    for split_name, folder in SOURCES.items():
        for img, sp in read_split(split_name).items():
            if sp == part:
                out.append(DATA / folder / img)
    return sorted(out)


def gate_eval(analyzer, n_neg_per_kind: int = 20, seed0: int = 10_000) -> dict:
    """Accuracy of accept/refuse through XrayAnalyzer on test CXRs + synthetic negatives."""
    from app.errors import NotChestXrayError, ServiceError
    res = {"cxr": {"n": 0, "accepted": 0}, "non_cxr": {}}
    for f in cxr_files("test"):
        try:
            analyzer.analyze(f.read_bytes(), f.name, "image/png")
            res["cxr"]["accepted"] += 1
        except NotChestXrayError:
            pass
        res["cxr"]["n"] += 1
    for kind in sn.KINDS:
        r = {"n": 0, "refused": 0}
        for i in range(n_neg_per_kind):
            arr = sn.make(kind, seed0 + i)
            data = sn.jpeg_bytes(arr) if kind == "document_photo" else sn.png_bytes(arr)
            try:
                analyzer.analyze(data, f"{kind}.png", None)
            except NotChestXrayError:
                r["refused"] += 1
            except ServiceError:
                r["refused"] += 1
            r["n"] += 1
        res["non_cxr"][kind] = r
    n_neg = sum(v["n"] for v in res["non_cxr"].values())
    refused = sum(v["refused"] for v in res["non_cxr"].values())
    res["cxr"]["acceptance_rate"] = res["cxr"]["accepted"] / max(1, res["cxr"]["n"])
    res["non_cxr_refusal_rate"] = refused / max(1, n_neg)
    res["balanced_accuracy"] = (res["cxr"]["acceptance_rate"] + res["non_cxr_refusal_rate"]) / 2
    res["accuracy"] = (res["cxr"]["accepted"] + refused) / (res["cxr"]["n"] + n_neg)
    return res


def main() -> None:
    import cv2
    from app.gate import Gate
    from app.imaging import prepare_gray
    from app.inference import ChestModel
    from app.analyzer import AnalyzerConfig, XrayAnalyzer

    chest = ChestModel(MODELS / "chestnet.onnx", threads=2)
    gate = Gate(MODELS / "chestnet_gate.npz", MODELS / "missing.json")
    val = cxr_files("val")
    D, R = [], []
    for i in range(0, len(val), 16):
        works = [prepare_gray(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)) for f in val[i:i + 16]]
        for out in chest.run(works):
            d, r = gate.distances(out.embedding)
            D.append(float(d[0]))
            R.append(float(r[0]))
    cfg = {"maha_threshold": float(np.percentile(D, 99) * 1.2), "resid_threshold": float(np.percentile(R, 99) * 1.2),
           "hard_factor": 1.0, "soft_factor": 0.9, "max_colourfulness": 18.0, "aspect_range": [0.45, 2.2],
           "rule": "thresholds = 1.2 x the 99th percentile of validation chest-film distances (Mahalanobis in the "
                   "top 32 principal components, and the residual norm); OOD score = the larger ratio; refuse when "
                   "OOD score > hard_factor, or > soft_factor with implausible lungs, or when no lungs are found",
           "n_val_cxr": len(val)}
    (MODELS / "gate.json").write_text(json.dumps(cfg, indent=2))
    analyzer = XrayAnalyzer(AnalyzerConfig(include_masks=False, include_heatmaps=False))
    res = gate_eval(analyzer)
    (MODELS / "gate_metrics.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
