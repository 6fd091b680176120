"""The detector's hard negatives (models/splits/detector_hard_negatives.csv): false positives of the detectors served
so far on training films, one row per box on the working image, with the mining round that found it. Torch-free, so
the rule that adds a round is tested with the service's tests; ``train_yolo.py --mine`` runs the detector."""
from __future__ import annotations

import csv
from pathlib import Path

from metrics import box_iou

FIELDS = ["image", "score", "x1", "y1", "x2", "y2", "round"]


def read(path: Path) -> list[dict]:
    """Rows as dicts (score and box as floats, round as int; a file from before rounds were recorded is round 1)."""
    if not path.exists():
        return []
    return [{"image": r["image"], "score": float(r["score"]),
             "box": [float(r[k]) for k in ("x1", "y1", "x2", "y2")], "round": int(r.get("round") or 1)}
            for r in csv.DictReader(open(path))]


def add_round(listed: list[dict], mined: dict[str, list[tuple[float, list[float]]]], per_image: int = 3,
              keep_iou: float = 0.3) -> tuple[list[dict], int]:
    """The listed rows plus a new round: per image, the ``per_image`` highest-scoring false positives of ``mined``
    (image -> [(score, box)], best first), less those overlapping a box already listed on that image (IoU >=
    ``keep_iou``): a negative found again is kept once, and still counts among the image's top ``per_image``.
    Returns (rows, number added)."""
    new_round = max((r["round"] for r in listed), default=0) + 1
    by_image: dict[str, list[list[float]]] = {}
    for r in listed:
        by_image.setdefault(r["image"], []).append(r["box"])
    rows, added = list(listed), 0
    for image, dets in mined.items():
        for score, box in dets[:per_image]:
            if any(box_iou(box, b) >= keep_iou for b in by_image.get(image, [])):
                continue
            rows.append({"image": image, "score": round(float(score), 4), "box": [round(float(v), 1) for v in box],
                         "round": new_round})
            added += 1
    return rows, added


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows([r["image"], r["score"], *r["box"], r["round"]] for r in rows)
