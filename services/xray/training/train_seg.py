"""SegNet: attention U-Net decoder on a FROZEN ImageNet EfficientNet-Lite0 encoder, trained on JSRT/SCR masks.

Why separate from ChestNet: ChestNet's encoder is fine-tuned on three sources with source-specific labels, so its
deep features become source-specific and its (JSRT-only supervised) decoder does not transfer to NIH/COVID films.
Generic ImageNet features + strong intensity/geometry augmentation transfer far better. Selection on JSRT val Dice
and on the share of NIH val films with plausible lungs (no NIH masks exist); JSRT test Dice reported once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SVC))
from chestnet import EfficientNetLite0, UpBlock  # noqa: E402
from metrics import dice  # noqa: E402
from prepare import CACHE, ORGANS  # noqa: E402
from train_chest import seg_loss  # noqa: E402

MODELS = SVC / "models"


class SegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = EfficientNetLite0()
        self.up4 = UpBlock(320, 112, 64)
        self.up3 = UpBlock(64, 40, 48)
        self.up2 = UpBlock(48, 24, 32)
        self.up1 = UpBlock(32, 16, 16)
        self.seg = nn.Conv2d(16, 3, 1)
        self.register_buffer("mean", torch.tensor(0.498))
        self.register_buffer("std", torch.tensor(0.502))

    def features(self, x):
        x = ((x - self.mean) / self.std).expand(-1, 3, -1, -1)
        feats, _ = self.encoder(x)
        return feats

    def decode(self, feats):
        s2, s4, s8, s16, s32 = feats
        d = self.up1(self.up2(self.up3(self.up4(s32, s16), s8), s4), s2)
        return self.seg(d)

    def forward(self, x):
        return self.decode(self.features(x))


class SegExport(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        seg = self.net(image)
        return torch.sigmoid(F.interpolate(seg, size=image.shape[-2:], mode="bilinear", align_corners=False))


def augment(img, masks, rng):
    s = img.shape[0]
    M = cv2.getRotationMatrix2D((s / 2, s / 2), rng.uniform(-10, 10), rng.uniform(0.75, 1.15))
    M[:, 2] += rng.uniform(-0.08, 0.08, 2) * s
    out = cv2.warpAffine(img, M, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=int(rng.integers(0, 256)))
    ms = np.stack([cv2.warpAffine(m, M, (s, s), flags=cv2.INTER_NEAREST, borderValue=0) for m in masks])
    if rng.random() < 0.3:  # burnt-in text / markers, as on NIH and COVID films
        for _ in range(int(rng.integers(1, 4))):
            x, y = int(rng.integers(0, s - 40)), int(rng.integers(0, s // 4))
            cv2.putText(out, "LR"[int(rng.integers(2))], (x, y + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2)
    f = out.astype(np.float32) / 255.0
    f = f ** rng.uniform(0.6, 1.6)
    f = (f - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.1, 0.1)
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        f = f + rng.normal(0, rng.uniform(0.01, 0.04), f.shape).astype(np.float32)
    return np.clip(f, 0, 1).astype(np.float32), ms


def run_masks(net, x, bs=32):
    out = []
    net.eval()
    with torch.no_grad():
        for i in range(0, len(x), bs):
            xb = torch.from_numpy(x[i:i + bs].astype(np.float32) / 255.0)[:, None]
            out.append(torch.sigmoid(F.interpolate(net(xb), size=xb.shape[-2:], mode="bilinear")).numpy())
    return np.concatenate(out)


def plausible_rate(P) -> float:
    from app.measurements import binarize, lung_plausibility
    return float(np.mean([lung_plausibility(binarize(p))["plausible"] for p in P]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--full-res-loss", action="store_true",
                    help="loss on the logits upsampled to the input size against the 256 px masks (default: the "
                         "masks average-pooled to the decoder's 128 px output, as the committed SegNet was trained)")
    ap.add_argument("--eval-every", type=int, default=3)
    ap.add_argument("--no-test", action="store_true",
                    help="stop after choosing the checkpoint on validation: no test Dice, no metrics file")
    ap.add_argument("--test-only", action="store_true",
                    help="score cache/segnet_best.pt on the test split once, export and write the metrics file")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    d = np.load(CACHE / "chest256.npz")
    X, Mk, split, src = d["x"], d["m"], d["split"], d["src"]
    js = src == "cxr_jsrt_scr"
    tr, va, te = (np.where(js & (split == p))[0] for p in ("train", "val", "test"))
    nih_va = np.where((src == "cxr_nih14") & (split == "val"))[0]
    cov_va = np.where((src == "cxr_covid_permissive") & (split == "val"))[0]
    net = SegNet()
    net.encoder.load_imagenet()
    if args.test_only:
        net.load_state_dict(torch.load(CACHE / "segnet_best.pt"))
        hist = json.loads((CACHE / "segnet_history.json").read_text())
        args.epochs = hist[-1]["epochs"] if hist and "epochs" in hist[-1] else args.epochs
        args.full_res_loss = any(h.get("full_res_loss") for h in hist)
        return finish(net, X, Mk, split, src, te, hist, args)
    for p in net.encoder.parameters():
        p.requires_grad = False
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, 2e-3, weight_decay=1e-4)
    steps = math.ceil(len(tr) / args.batch) * args.epochs
    step, best, best_score, hist = 0, None, -1.0, []
    for ep in range(args.epochs):
        net.train()
        net.encoder.eval()
        t0 = time.time()
        for b in range(0, len(tr), args.batch):
            idx = rng.permutation(tr)[: args.batch] if b == 0 else tr[rng.integers(0, len(tr), args.batch)]
            xs, ms = zip(*(augment(X[i], Mk[i], rng) for i in idx))
            xb = torch.from_numpy(np.stack(xs))[:, None]
            mb = torch.from_numpy(np.stack(ms).astype(np.float32))
            if not args.full_res_loss:
                mb = F.avg_pool2d(mb, 2)
            for g in opt.param_groups:
                g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
            with torch.no_grad():
                feats = net.features(xb)
            logits = net.decode(feats)
            if args.full_res_loss:
                logits = F.interpolate(logits, size=mb.shape[-2:], mode="bilinear", align_corners=False)
            loss = seg_loss(logits, mb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if (ep + 1) % args.eval_every == 0 or ep == args.epochs - 1:
            Pv = run_masks(net, X[va])
            dv = float(np.mean([dice(Pv[i, c] > 0.5, Mk[va][i, c]) for i in range(len(va)) for c in range(3)]))
            pn = plausible_rate(run_masks(net, X[nih_va]))
            pc = plausible_rate(run_masks(net, X[cov_va]))
            score = dv + 0.5 * (pn + pc) / 2
            hist.append({"epoch": ep + 1, "val_dice": dv, "nih_val_plausible": pn, "covid_val_plausible": pc,
                         "full_res_loss": bool(args.full_res_loss)})
            print(f"ep {ep + 1} loss {float(loss.detach()):.3f} jsrt val dice {dv:.3f} plausible nih {pn:.2f} covid {pc:.2f} "
                  f"({time.time() - t0:.0f}s)", flush=True)
            if score > best_score:
                best_score, best = score, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best)
    torch.save(best, CACHE / "segnet_best.pt")
    hist.append({"epochs": args.epochs, "best_score": best_score})
    (CACHE / "segnet_history.json").write_text(json.dumps(hist, indent=2))
    if args.no_test:
        export_onnx(net)
        print("chosen on validation, exported to cache/segnet.onnx; test not read (--test-only once the choice is "
              "final)")
        return
    finish(net, X, Mk, split, src, te, hist, args)


def export_onnx(net) -> Path:
    """cache/segnet.onnx, checked against torch; served inside chestnet.onnx (combine_export.py, swap_segnet.py)."""
    path = CACHE / "segnet.onnx"
    ex = SegExport(net).eval()
    dummy = torch.rand(2, 1, 256, 256)
    torch.onnx.export(ex, (dummy,), str(path), input_names=["image"], output_names=["masks"],
                      dynamic_axes={"image": {0: "n"}, "masks": {0: "n"}}, opset_version=17, dynamo=False)
    import onnxruntime as ort
    o = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": dummy.numpy()})[0]
    with torch.no_grad():
        err = float(np.abs(o - ex(dummy).numpy()).max())
    assert err < 1e-3, err
    return path


def finish(net, X, Mk, split, src, te, hist, args) -> None:
    hist = [h for h in hist if "epoch" in h]
    Pt = run_masks(net, X[te])
    dice_test, dice_ci = {}, {}
    r = np.random.default_rng(0)
    for c, o in enumerate(ORGANS):
        ds = np.array([dice(Pt[i, c] > 0.5, Mk[te][i, c]) for i in range(len(te))])
        dice_test[o] = float(ds.mean())
        boots = [ds[r.integers(0, len(ds), len(ds))].mean() for _ in range(1000)]
        dice_ci[o] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
    nih_te = np.where((src == "cxr_nih14") & (split == "test"))[0]
    plaus_test = plausible_rate(run_masks(net, X[nih_te]))
    path = export_onnx(net)
    (MODELS / "segnet_metrics.json").write_text(json.dumps({
        "n_test_jsrt": int(len(te)), "dice_test": dice_test, "dice_test_ci95": dice_ci,
        "nih_test_plausible_lungs": plaus_test, "history": hist, "epochs": args.epochs,
        "loss_resolution": "256 px (logits upsampled)" if args.full_res_loss else "128 px (masks average-pooled)"},
        indent=2))
    print("test dice", dice_test, "nih test plausible", plaus_test, "onnx MB", path.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
