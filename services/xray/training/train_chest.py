"""Train ChestNet (findings + CAM + attention U-Net + gate embedding), pick thresholds on validation,
evaluate once on the held-out test split, export ONNX and write metrics.

Data use (patient-disjoint, see models/splits/):
  train: NIH train (cxr_nih14/ + cxr_nih14_extra/, split models/splits/nih_extra.csv) + JSRT train (masks;
         nodule/normal labels) + COVID train (pneumonia labels). The extra films are AP-heavy: each view (AP, PA,
         not recorded) gets the same total loss weight among the NIH films (--no-view-weights turns that off).
  val:   NIH val of cxr_nih14/ only (checkpoint selection, thresholds); the mixed NIH val (+ the extra films'
         val patients) and JSRT val Dice are reported per epoch
  test:  NIH test (AUROC), JSRT test (Dice) -- read once, after everything is fixed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import cv2

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(HERE))
from chestnet import ChestNet, ChestNetExport  # noqa: E402
from metrics import auroc, bootstrap_ci, dice, mean_auroc_ci, youden_threshold  # noqa: E402
from prepare import CACHE, LABELS, ORGANS  # noqa: E402

MODELS = SVC / "models"
OUT_NAMES = LABELS + ["abnormal"]
SEED = 7
MIN_SPEC = 0.6


def augment(img: np.ndarray, masks: np.ndarray, rng: np.random.Generator, strong: bool = False):
    s = img.shape[0]
    ang = rng.uniform(-8, 8) if not strong else rng.uniform(-12, 12)
    sc = rng.uniform(0.9, 1.1) if not strong else rng.uniform(0.85, 1.2)
    tx, ty = rng.uniform(-0.06, 0.06, 2) * s if not strong else rng.uniform(-0.1, 0.1, 2) * s
    M = cv2.getRotationMatrix2D((s / 2, s / 2), ang, sc)
    M[:, 2] += (tx, ty)
    out = cv2.warpAffine(img, M, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    ms = np.stack([cv2.warpAffine(m, M, (s, s), flags=cv2.INTER_NEAREST, borderValue=0) for m in masks])
    f = out.astype(np.float32) / 255.0
    f = np.clip(f, 0, 1) ** rng.uniform(0.8, 1.25)
    f = np.clip((f - 0.5) * rng.uniform(0.9, 1.1) + 0.5 + rng.uniform(-0.05, 0.05), 0, 1)
    if strong:
        if rng.random() < 0.3:  # blur or sharpen: films differ in detector resolution and post-processing
            k = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.5, 1.2))
            f = k if rng.random() < 0.5 else np.clip(f + rng.uniform(0.3, 0.8) * (f - k), 0, 1)
        if rng.random() < 0.3:
            f = np.clip(f + rng.normal(0, rng.uniform(0.005, 0.02), f.shape).astype(np.float32), 0, 1)
        if rng.random() < 0.5:  # cutout: one random patch set to the image mean (masks untouched)
            h = int(s * rng.uniform(0.1, 0.25))
            y0, x0 = rng.integers(0, s - h, 2)
            f[y0:y0 + h, x0:x0 + h] = f.mean()
    return f, ms


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft Dice + focal loss, per organ channel."""
    p = torch.sigmoid(logits)
    inter = (p * target).sum((2, 3))
    d = 1 - (2 * inter + 1) / (p.sum((2, 3)) + target.sum((2, 3)) + 1)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pt = torch.exp(-bce)
    focal = ((1 - pt) ** 2 * bce).mean()
    return d.mean() + 10.0 * focal


def predict(net: ChestNet, x: np.ndarray, bs: int = 32):
    net.eval()
    P, SEG, E = [], [], []
    with torch.no_grad():
        for i in range(0, len(x), bs):
            xb = torch.from_numpy(x[i:i + bs].astype(np.float32) / 255.0)[:, None]
            logits, _, seg, emb = net(xb)
            P.append(torch.sigmoid(logits).numpy())
            if seg is not None:
                SEG.append(torch.sigmoid(F.interpolate(seg, size=xb.shape[-2:], mode="bilinear")).numpy())
            E.append(emb.numpy())
    return np.concatenate(P), (np.concatenate(SEG) if SEG else None), np.concatenate(E)


def evaluate(P, Y, SEG=None, M=None):
    res = {"auroc": {}}
    for k, name in enumerate(OUT_NAMES):
        res["auroc"][name] = auroc(Y[:, k], P[:, k])
    vals = [res["auroc"][n] for n in LABELS if np.isfinite(res["auroc"][n])]
    res["mean_auroc"] = float(np.mean(vals)) if vals else float("nan")
    if SEG is not None and len(SEG):
        res["dice"] = {o: float(np.mean([dice(SEG[i, c] > 0.5, M[i, c]) for i in range(len(SEG))]))
                       for c, o in enumerate(ORGANS)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--finish-only", action="store_true", help="export + evaluate the saved best checkpoint")
    ap.add_argument("--no-finish", action="store_true", help="train and save the best checkpoint only")
    ap.add_argument("--export-only", action="store_true", help="re-export the saved checkpoint, keep thresholds")
    ap.add_argument("--frozen-blocks", type=int, default=5, help="encoder blocks kept frozen (with the stem)")
    ap.add_argument("--smooth", type=float, default=0.0, help="label smoothing: y -> y(1-s) + s/2")
    ap.add_argument("--strong-aug", action="store_true", help="wider geometry, blur/sharpen, noise, cutout")
    ap.add_argument("--no-view-weights", action="store_true")
    ap.add_argument("--val-from", type=int, default=1, help="validate (and select) from this epoch on (saves CPU)")
    ap.add_argument("--limit", type=int, default=0, help="debug: at most N training films")
    ap.add_argument("--with-decoder", action="store_true",
                    help="also train the jointly trained lung/heart decoder on JSRT masks (not served; twice the CPU)")
    ap.add_argument("--seed", type=int, default=SEED,
                    help="initialisation, batch order and augmentation draws (another seed = another ensemble member)")
    ap.add_argument("--tag", default="", help="run name: checkpoint cache/chestnet_best<tag>.pt, runs/chest_history<tag>.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    d = np.load(CACHE / "chest256.npz")
    X, Y, Mk, split, src, segmask = d["x"], d["y"], d["m"], d["split"], d["src"], d["segmask"]
    view = d["view"] if "view" in d else np.array([""] * len(X))
    tr = np.where(split == "train")[0]
    nih_val = np.where((split == "val") & (src == "cxr_nih14"))[0]
    mix_val = np.where((split == "val") & np.isin(src, ["cxr_nih14", "cxr_nih14_extra"]))[0]
    # Per-film loss weight: among the NIH training films each view group (AP, PA, not recorded) weighs the same.
    weight = np.ones(len(X), np.float32)
    nih_tr = tr[np.isin(src[tr], ["cxr_nih14", "cxr_nih14_extra"])]
    if not args.no_view_weights and len(nih_tr):
        groups = {v: int((view[nih_tr] == v).sum()) for v in np.unique(view[nih_tr])}
        for v, n in groups.items():
            weight[nih_tr[view[nih_tr] == v]] = len(nih_tr) / (len(groups) * n)
        print("view weights", {v: round(len(nih_tr) / (len(groups) * n), 3) for v, n in groups.items()})
    ckpt = HERE / "cache" / f"chestnet_best{args.tag}.pt"
    if args.limit:
        tr = tr[:: max(1, len(tr) // args.limit)]
    nih_test = np.where((split == "test") & (src == "cxr_nih14"))[0]
    js_val = np.where((split == "val") & (src == "cxr_jsrt_scr"))[0]
    js_test = np.where((split == "test") & (src == "cxr_jsrt_scr"))[0]
    print(f"train {len(tr)} | nih val {len(nih_val)} mixed val {len(mix_val)} test {len(nih_test)} | jsrt val {len(js_val)} test {len(js_test)}")

    net = ChestNet()
    net.skip_decoder = not args.with_decoder
    net.encoder.load_imagenet()
    if args.export_only:
        net.load_state_dict(torch.load(HERE / "cache" / "chestnet_best.pt"))
        path = export(net)
        meta = json.loads((MODELS / "chestnet.json").read_text())
        meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        meta["outputs"] = ["probs", "cams", "embedding"]
        (MODELS / "chestnet.json").write_text(json.dumps(meta, indent=2))
        return
    if args.finish_only:
        net.load_state_dict(torch.load(ckpt))
        hist_path = HERE / "runs" / f"chest_history{args.tag}.json"
        history = json.loads(hist_path.read_text()) if hist_path.exists() else []
        if isinstance(history, dict):
            history = history["history"]
        finish(net, X, Y, Mk, split, src, nih_val, nih_test, js_val, js_test, history, args)
        return
    frozen = [net.encoder._conv_stem, net.encoder._bn0] + list(net.encoder._blocks[:args.frozen_blocks])
    for m in frozen:
        for p in m.parameters():
            p.requires_grad = False
    enc_params = [p for p in net.encoder.parameters() if p.requires_grad]
    enc_ids = {id(p) for p in enc_params}
    other = [p for p in net.parameters() if p.requires_grad and id(p) not in enc_ids]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": 4e-4}, {"params": other, "lr": 1.5e-3}], weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(tr) / args.batch)
    total = steps_per_epoch * args.epochs
    base = [g["lr"] for g in opt.param_groups]

    best, best_score, history = None, -1.0, []
    step = 0
    for ep in range(args.epochs):
        net.train()
        for m in frozen:
            m.eval()
        perm = rng.permutation(tr)
        t0, tot = time.time(), 0.0
        for b in range(0, len(perm), args.batch):
            idx = perm[b:b + args.batch]
            xs, ms = zip(*(augment(X[i], Mk[i], rng, args.strong_aug) for i in idx))
            xb = torch.from_numpy(np.stack(xs))[:, None]
            mb = torch.from_numpy(np.stack(ms).astype(np.float32))
            yb = torch.from_numpy(Y[idx])
            sm = torch.from_numpy(segmask[idx].astype(bool))
            warm = min(1.0, (step + 1) / steps_per_epoch)
            for g, lr in zip(opt.param_groups, base):
                g["lr"] = lr * warm * 0.5 * (1 + math.cos(math.pi * step / total))
            logits, _, seg, _ = net(xb)
            known = ~torch.isnan(yb)
            wb = torch.from_numpy(weight[idx])[:, None].expand_as(yb)
            tgt_y = yb[known] * (1 - args.smooth) + args.smooth / 2
            loss = (F.binary_cross_entropy_with_logits(logits[known], tgt_y, reduction="none") * wb[known]).sum() \
                / wb[known].sum()
            if sm.any() and seg is not None:
                tgt = F.avg_pool2d(mb[sm], 2)
                loss = loss + 0.5 * seg_loss(seg[sm], tgt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            step += 1
        t_train = time.time() - t0
        if ep + 1 < args.val_from:
            print(f"ep {ep + 1} loss {tot / len(tr):.4f} ({t_train:.0f}s train)", flush=True)
            continue
        Pm, _, _ = predict(net, X[mix_val])
        Sj = predict(net, X[js_val])[1] if args.with_decoder else None
        in_nih = src[mix_val] == "cxr_nih14"
        ev = evaluate(Pm[in_nih], Y[mix_val][in_nih], Sj, Mk[js_val])
        ev_mix = evaluate(Pm, Y[mix_val])
        mdice = float(np.mean(list(ev["dice"].values()))) if "dice" in ev else float("nan")
        # Selection on the NIH-only validation mean AUROC (the served masks come from SegNet, not this decoder).
        score = ev["mean_auroc"]
        history.append({"epoch": ep + 1, "loss": tot / len(tr), "val_mean_auroc": ev["mean_auroc"],
                        "val_mixed_mean_auroc": ev_mix["mean_auroc"],
                        "val_auroc": ev["auroc"], "val_mixed_auroc": ev_mix["auroc"],
                        "val_abnormal_auroc": ev["auroc"]["abnormal"], "val_dice": ev.get("dice"),
                        "train_s": round(t_train), "epoch_s": round(time.time() - t0)})
        print(f"ep {ep + 1} loss {tot / len(tr):.4f} val mAUROC nih {ev['mean_auroc']:.3f} mixed "
              f"{ev_mix['mean_auroc']:.3f} abn {ev['auroc']['abnormal']:.3f} dice {mdice:.3f} "
              f"({t_train:.0f}s train, {time.time() - t0:.0f}s)", flush=True)
        (HERE / "runs" / f"chest_history{args.tag}.json").write_text(json.dumps(
            {"args": vars(args), "history": history} if args.tag else history))
        if score > best_score:
            best_score, best = score, {k: v.clone() for k, v in net.state_dict().items()}
            torch.save(best, ckpt)
    net.load_state_dict(best)
    torch.save(best, ckpt)
    if args.no_finish:
        return
    finish(net, X, Y, Mk, split, src, nih_val, nih_test, js_val, js_test, history, args)


def finish(net, X, Y, Mk, split, src, nih_val, nih_test, js_val, js_test, history, args) -> dict:
    # Thresholds: Youden on NIH validation (never on test).
    Pv, _, _ = predict(net, X[nih_val])
    # Youden's J with specificity >= 0.6: unconstrained Youden on ~93 noisy films picked points that flag nearly
    # every film (e.g. specificity 0.04), useless to a patient.
    thresholds = {n: youden_threshold(Y[nih_val, k], Pv[:, k], MIN_SPEC) for k, n in enumerate(OUT_NAMES)}
    val_pos = {n: int(np.nansum(Y[nih_val, k])) for k, n in enumerate(OUT_NAMES)}
    ev_val = evaluate(Pv, Y[nih_val])
    # Test: read once.
    Pt, _, _ = predict(net, X[nih_test])
    Yt = Y[nih_test]
    per = {}
    for k, n in enumerate(OUT_NAMES):
        a = auroc(Yt[:, k], Pt[:, k])
        lo, hi = bootstrap_ci(Yt[:, k], Pt[:, k])
        pos = Yt[:, k] == 1
        pred = Pt[:, k] >= thresholds[n]
        per[n] = {"auroc": a, "ci95": [lo, hi], "test_positives": int(pos.sum()), "val_positives": val_pos[n],
                  "val_auroc": ev_val["auroc"][n], "threshold": thresholds[n],
                  "sensitivity": float((pred & pos).sum() / max(1, pos.sum())),
                  "specificity": float((~pred & ~pos).sum() / max(1, (~pos).sum())),
                  "few_positives": bool(pos.sum() < 8)}
    m, mlo, mhi = mean_auroc_ci(Yt[:, :14], Pt[:, :14])
    Sj = predict(net, X[js_test])[1]
    dice_test, dice_ci = None, None
    if Sj is not None:  # the jointly trained decoder (--with-decoder); not served
        dice_test = {o: float(np.mean([dice(Sj[i, c] > 0.5, Mk[js_test][i, c]) for i in range(len(Sj))]))
                     for c, o in enumerate(ORGANS)}
        dice_ci = {}
        for c, o in enumerate(ORGANS):
            ds = np.array([dice(Sj[i, c] > 0.5, Mk[js_test][i, c]) for i in range(len(Sj))])
            r = np.random.default_rng(0)
            boots = [ds[r.integers(0, len(ds), len(ds))].mean() for _ in range(1000)]
            dice_ci[o] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
    # Gate: embedding distribution of training chest X-rays (all three sources).
    tr = np.where(split == "train")[0]
    _, _, E = predict(net, X[tr])
    _, _, Ev = predict(net, X[np.where(split == "val")[0]])
    mu = E.mean(0)
    U, S, Vt = np.linalg.svd(E - mu, full_matrices=False)
    k = 32
    comps = Vt[:k]
    var = (S[:k] ** 2) / (len(E) - 1) + 1e-6

    def maha(e):
        z = (e - mu) @ comps.T
        resid = np.linalg.norm((e - mu) - z @ comps, axis=1)
        return np.sqrt(((z ** 2) / var).sum(1)), resid
    dtr, rtr = maha(E)
    dv, rv = maha(Ev)
    MODELS.mkdir(exist_ok=True)
    np.savez(MODELS / "chestnet_gate.npz", mean=mu.astype(np.float32), components=comps.astype(np.float32),
             variances=var.astype(np.float32),
             train_maha=dtr.astype(np.float32), train_resid=rtr.astype(np.float32),
             val_maha=dv.astype(np.float32), val_resid=rv.astype(np.float32))
    # The served graph (findings + SegNet masks in one ONNX) is written by combine_export.py; here only the sidecar:
    # its measurement/detector heads stay (measurement_heads.py and detector_heads_explore.py --adopt re-decide them
    # and their thresholds against this network afterwards).
    meta_path = MODELS / "chestnet.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta.update({
        "model": "chestnet", "version": time.strftime("%Y%m%d"), "onnx": "chestnet.onnx",
        "input": {"size": 256, "channels": 1, "range": "0..1 windowed (percentile 0.5-99.5 + CLAHE)"},
        "labels": OUT_NAMES, "organs": ORGANS,
        "thresholds": thresholds, "threshold_rule": f"Youden J with specificity >= {MIN_SPEC} on the NIH validation split",
        "gate_stats": "chestnet_gate.npz",
    })
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    metrics = {"split": "NIH test (patient-disjoint), JSRT test", "n_test_nih": int(len(nih_test)),
               "n_test_jsrt": int(len(js_test)), "per_finding": per,
               "mean_auroc_14": {"value": m, "ci95": [mlo, mhi]},
               "val_mean_auroc_14": ev_val["mean_auroc"],
               "dice_test": dice_test, "dice_test_ci95": dice_ci,
               "train_films": {str(k): int(v) for k, v in zip(*np.unique(src[tr], return_counts=True))},
               "history": history, "epochs": len(history) or args.epochs}
    (MODELS / "chestnet_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps({n: (round(v["auroc"], 3), [round(c, 3) for c in v["ci95"]]) for n, v in per.items()}))
    print("mean", m, mlo, mhi, "dice", dice_test)
    return metrics


def export(net: ChestNet, with_masks: bool = False) -> Path:
    """Served graph has no mask output: SegNet (train_seg.py) provides the masks."""
    net.eval()
    path = MODELS / "chestnet.onnx"
    ex = ChestNetExport(net, with_masks).eval()
    dummy = torch.rand(2, 1, 256, 256)
    names = ["probs", "cams", "masks", "embedding"] if with_masks else ["probs", "cams", "embedding"]
    torch.onnx.export(ex, (dummy,), str(path), input_names=["image"], output_names=names,
                      dynamic_axes={n: {0: "n"} for n in ["image"] + names},
                      opset_version=17, dynamo=False)
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    o = sess.run(None, {"image": dummy.numpy()})
    with torch.no_grad():
        t = ex(dummy)
    err = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(o, t))
    print("onnx max abs diff", err, "size MB", path.stat().st_size / 1e6)
    if err > 1e-3:
        raise RuntimeError(f"ONNX output differs from torch by {err}")
    return path


if __name__ == "__main__":
    main()
