"""Optional second stage: refit the 15 linear findings heads on frozen embeddings with L2 logistic regression
(C chosen per head on NIH validation AUROC). The new head replaces the fine-tuned one only for the findings where
it is better on validation. A linear head on the pooled features keeps CAMs exact. Test data is not touched.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from chestnet import ChestNet  # noqa: E402
from metrics import auroc  # noqa: E402
from prepare import CACHE  # noqa: E402
from train_chest import OUT_NAMES, augment, predict  # noqa: E402


def main() -> None:
    torch.set_num_threads(2)
    d = np.load(CACHE / "chest256.npz")
    X, Y, Mk, split, src = d["x"], d["y"], d["m"], d["split"], d["src"]
    net = ChestNet()
    ck = CACHE / "chestnet_best.pt"
    net.load_state_dict(torch.load(ck))
    tr = np.where(split == "train")[0]
    va = np.where((split == "val") & (src == "cxr_nih14"))[0]
    rng = np.random.default_rng(11)
    # train embeddings: original + 1 augmented view (cheap regularisation)
    aug = np.stack([(augment(X[i], Mk[i], rng)[0] * 255).round().astype(np.uint8) for i in tr])
    Ptr, _, Etr = predict(net, np.concatenate([X[tr], aug]))
    Ytr = np.concatenate([Y[tr], Y[tr]])
    Pva, _, Eva = predict(net, X[va])
    mu, sd = Etr.mean(0), Etr.std(0) + 1e-6
    Ztr, Zva = (Etr - mu) / sd, (Eva - mu) / sd
    W = net.fc.weight.detach().numpy().copy()
    b = net.fc.bias.detach().numpy().copy()
    changed = []
    for k, name in enumerate(OUT_NAMES):
        known = ~np.isnan(Ytr[:, k])
        y = Ytr[known, k]
        if y.sum() < 3:
            continue
        base = auroc(Y[va, k], Pva[:, k])
        best = (base, None)
        for C in (0.001, 0.003, 0.01, 0.03):
            lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(Ztr[known], y)
            a = auroc(Y[va, k], lr.decision_function(Zva))
            if np.isfinite(a) and a > best[0] + 0.01:
                best = (a, lr)
        if best[1] is not None:
            lr = best[1]
            W[k] = lr.coef_[0] / sd
            b[k] = lr.intercept_[0] - float((lr.coef_[0] * mu / sd).sum())
            changed.append((name, round(base, 3), round(best[0], 3)))
    print("refit heads (val AUROC before -> after):", changed)
    if changed:
        sdict = net.state_dict()
        sdict["fc.weight"] = torch.from_numpy(W)
        sdict["fc.bias"] = torch.from_numpy(b)
        torch.save(sdict, ck)
    (HERE / "runs" / "refit_head.txt").write_text(repr(changed) + "\n")


if __name__ == "__main__":
    main()
