"""Export the served chest graph: ChestNet (findings, CAMs, embedding) + SegNet (lung/heart masks) in ONE ONNX file,
so the service loads one chest model with the outputs probs, cams, masks, embedding. Thresholds are kept."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from chestnet import ChestNet, ChestNetExport  # noqa: E402
from prepare import CACHE  # noqa: E402
from train_seg import SegExport, SegNet  # noqa: E402

MODELS = HERE.parent / "models"


class Combined(nn.Module):
    def __init__(self, chest: ChestNet, seg: SegNet):
        super().__init__()
        self.chest = ChestNetExport(chest, with_masks=False)
        self.seg = SegExport(seg)

    def forward(self, image):
        probs, cams, emb = self.chest(image)
        return probs, cams, self.seg(image), emb


def main() -> None:
    torch.set_num_threads(2)
    chest, seg = ChestNet(), SegNet()
    chest.load_state_dict(torch.load(CACHE / "chestnet_best.pt"))
    seg.load_state_dict(torch.load(CACHE / "segnet_best.pt"))
    m = Combined(chest.eval(), seg.eval()).eval()
    path = MODELS / "chestnet.onnx"
    names = ["probs", "cams", "masks", "embedding"]
    dummy = torch.rand(2, 1, 256, 256)
    torch.onnx.export(m, (dummy,), str(path), input_names=["image"], output_names=names,
                      dynamic_axes={n: {0: "n"} for n in ["image"] + names}, opset_version=17, dynamo=False)
    import onnxruntime as ort
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": dummy.numpy()})
    with torch.no_grad():
        ref = m(dummy)
    err = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(out, ref))
    if err > 1e-3:
        raise RuntimeError(f"ONNX differs from torch by {err}")
    meta = json.loads((MODELS / "chestnet.json").read_text())
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta["outputs"] = names
    meta["masks_from"] = "SegNet: attention U-Net decoder on a frozen ImageNet EfficientNet-Lite0 encoder (train_seg.py)"
    (MODELS / "chestnet.json").write_text(json.dumps(meta, indent=2))
    print("combined export ok, max diff", err, "MB", path.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
