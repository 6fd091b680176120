"""Train the nodule/mass detector: YOLOv8n from yolov8n.yaml (no downloaded weights), CPU, then export ONNX
and evaluate it through the serving code path (app.inference) on the JSRT test split.

Data: JSRT nodule boxes (centre + diameter square on the 512 grid) + the NIH Mass/Nodule boxes of bboxes.csv,
JSRT normals and some NIH images without Mass/Nodule as background images. Splits: models/splits/.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(HERE / "cache" / "ultralytics_cfg"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SVC))
import tv_nms_shim  # noqa: E402,F401  (must precede any torchvision import)
import numpy as np  # noqa: E402
import cv2  # noqa: E402

from metrics import sensitivity_at_fp  # noqa: E402
from prepare import CACHE, DATA, read_split  # noqa: E402

MODELS = SVC / "models"
YDIR = CACHE / "yolo"
CLASS = "nodule_or_mass"


def build_dataset(n_nih_bg: int = 30, seed: int = 3) -> dict[str, list[tuple[str, list[list[float]]]]]:
    """Returns split -> [(work image path, [[x1,y1,x2,y2], ...])] and writes the YOLO folder layout."""
    if YDIR.exists():
        shutil.rmtree(YDIR)
    items: dict[str, list[tuple[str, list[list[float]]]]] = {"train": [], "val": [], "test": []}
    sp = read_split("jsrt")
    for r in csv.DictReader(open(DATA / "cxr_jsrt_scr" / "labels.csv")):
        boxes = []
        if r["label"] == "nodule" and r["bbox_x1"]:
            boxes.append([float(r[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")])
        items[sp[r["image"]]].append((str(CACHE / "work" / "cxr_jsrt_scr" / Path(r["image"]).name), boxes))
    sp = read_split("nih")
    nih_boxes: dict[str, list[list[float]]] = {}
    for r in csv.DictReader(open(DATA / "cxr_nih14" / "bboxes.csv")):
        if r["finding"] in ("Mass", "Nodule"):
            x, y, w, h = (float(r[k]) for k in "xywh")
            nih_boxes.setdefault(r["image"], []).append([x, y, x + w, y + h])
    rng = np.random.default_rng(seed)
    bg = []
    for r in csv.DictReader(open(DATA / "cxr_nih14" / "labels.csv")):
        path = str(CACHE / "work" / "cxr_nih14" / Path(r["image"]).name)
        if r["image"] in nih_boxes:
            items[sp[r["image"]]].append((path, nih_boxes[r["image"]]))
        elif r["Mass"] == "0" and r["Nodule"] == "0" and sp[r["image"]] == "train":
            bg.append((path, []))
    for i in rng.choice(len(bg), size=min(n_nih_bg, len(bg)), replace=False):
        items["train"].append(bg[i])
    for part, rows in items.items():
        (YDIR / "images" / part).mkdir(parents=True, exist_ok=True)
        (YDIR / "labels" / part).mkdir(parents=True, exist_ok=True)
        for path, boxes in rows:
            img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            h, w = img.shape
            name = Path(path).stem
            os.symlink(path, YDIR / "images" / part / f"{name}.png")
            with open(YDIR / "labels" / part / f"{name}.txt", "w") as f:
                for x1, y1, x2, y2 in boxes:
                    f.write(f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")
    (YDIR / "data.yaml").write_text(f"path: {YDIR}\ntrain: images/train\nval: images/val\ntest: images/test\n"
                                    f"names:\n  0: {CLASS}\n")
    return items


def evaluate_onnx(onnx_path: Path, rows, conf: float = 0.01):
    from app.inference import Detector
    det = Detector(onnx_path, threads=2, verify_sha256=None)
    dets, gts = [], []
    for path, boxes in rows:
        work = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        out = det.run([work], conf=conf)[0]
        dets.append([(d["score"], d["box"]) for d in out])
        gts.append(boxes)
    return dets, gts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--imgsz", type=int, default=384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="export runs/yolo/weights/best.pt, then evaluate")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    items = build_dataset()
    print({k: (len(v), sum(len(b) for _, b in v)) for k, v in items.items()})
    run_dir = HERE / "runs" / "yolo"
    if args.export_only:
        from ultralytics import YOLO
        out = YOLO(str(run_dir / "weights" / "best.pt")).export(format="onnx", imgsz=args.imgsz, opset=17,
                                                                 dynamic=True, simplify=False, nms=False)
        MODELS.mkdir(exist_ok=True)
        shutil.copy(out, MODELS / "detector.onnx")
    elif not args.eval_only:
        from ultralytics import YOLO
        model = YOLO("yolov8n.yaml")
        t0 = time.time()
        model.train(data=str(YDIR / "data.yaml"), epochs=args.epochs, imgsz=args.imgsz, batch=16, device="cpu",
                    workers=0, amp=False, plots=False, project=str(HERE / "runs"), name="yolo", exist_ok=True,
                    pretrained=False, seed=0, deterministic=False, verbose=False, patience=100,
                    mosaic=1.0, close_mosaic=5, fliplr=0.5, degrees=5.0, scale=0.3, translate=0.1,
                    hsv_h=0.0, hsv_s=0.0, hsv_v=0.3, cos_lr=True, warmup_epochs=2, single_cls=True)
        print("train seconds", time.time() - t0)
        best = YOLO(str(run_dir / "weights" / "best.pt"))
        out = best.export(format="onnx", imgsz=args.imgsz, opset=17, dynamic=True, simplify=False, nms=False)
        MODELS.mkdir(exist_ok=True)
        shutil.copy(out, MODELS / "detector.onnx")
    onnx_path = MODELS / "detector.onnx"
    # Operating threshold: score at 1 false positive per image on validation; sensitivity reported on test.
    dv, gv = evaluate_onnx(onnx_path, items["val"])
    val_sens, thr = sensitivity_at_fp(dv, gv, 1.0)
    dt, gt = evaluate_onnx(onnx_path, items["test"])
    res = {}
    for fp in (0.25, 0.5, 1.0, 2.0):
        s, t = sensitivity_at_fp(dt, gt, fp)
        res[f"sens_at_{fp}_fp"] = {"sensitivity": s, "score": t}
    # Image-level bootstrap CI of sensitivity at 1 FP/image.
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(500):
        idx = rng.integers(0, len(dt), len(dt))
        if sum(len(gt[i]) for i in idx) == 0:
            continue
        boots.append(sensitivity_at_fp([dt[i] for i in idx], [gt[i] for i in idx], 1.0)[0])
    # Sensitivity at the fixed validation threshold.
    n_gt = sum(len(g) for g in gt)
    hits, fps = 0, 0
    for ds, gs in zip(dt, gt):
        kept = [b for s, b in ds if s >= thr]
        found = set()
        for b in kept:
            m = [k for k, g in enumerate(gs) if g[0] <= (b[0] + b[2]) / 2 <= g[2] and g[1] <= (b[1] + b[3]) / 2 <= g[3]]
            found.update(m)
            fps += 0 if m else 1
        hits += len(found)
    metrics = {"test_images": len(dt), "test_lesions": n_gt, **res,
               "sens_at_1fp_ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
               "val_sens_at_1fp": val_sens, "operating_threshold": thr,
               "at_operating_threshold": {"sensitivity": hits / max(1, n_gt), "fp_per_image": fps / len(dt)},
               "train": {k: (len(v), sum(len(b) for _, b in v)) for k, v in items.items()},
               "epochs": args.epochs, "imgsz": args.imgsz}
    (MODELS / "detector_metrics.json").write_text(json.dumps(metrics, indent=2))
    meta = {"model": "detector", "onnx": "detector.onnx", "version": time.strftime("%Y%m%d"),
            "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(), "imgsz": args.imgsz,
            "classes": [CLASS], "score_threshold": thr, "iou_threshold": 0.45,
            "threshold_rule": "score at 1 false positive per image on the validation split"}
    (MODELS / "detector.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
