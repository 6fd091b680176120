"""Which findings networks to serve together, with which per-finding heads and whether to add a mirrored view:
measured on the validation splits of ``refit_heads_extra.py`` (NIH-only = ``cxr_nih14/`` val, 93 films; mixed = those
+ the extra films' val patients, 314), as served (the served graph's masks for the CTR Cardiomegaly head, the
detector's best lung box for the Nodule head). Test films are never read.

A member is ``PATH`` (its ``probs`` output) or ``PATH:TENSOR`` (an intermediate output, e.g. the served ensemble's
``net1/probs`` and ``net2/probs``), named ``NAME=...``:

    members_explore.py m1=models/chestnet.onnx:net1/probs m2=models/chestnet.onnx:net2/probs \
        sa=training/cache/cand_strongaug/chestnet.onnx [--flip]

Prints, for every non-empty subset of the members (probabilities averaged), the mean AUROC over the 14 findings with
the sidecar's heads, without the CTR head and without the detector head; with ``--flip`` also with the mirrored
film's probabilities averaged in. Writes runs/members_explore<tag>.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SVC = HERE.parent
sys.path.insert(0, str(SVC))
sys.path.insert(0, str(HERE))
from eval_served import COMMITTED, detector_best, rows_for, works_for  # noqa: E402
from metrics import auroc  # noqa: E402
from refit_heads_extra import FINDINGS  # noqa: E402


def member_probs(path: Path, tensor: str, x: np.ndarray, threads: int) -> np.ndarray:
    """The member's probabilities on ``x``, cached by the graph's sha256, the tensor and the input's checksum."""
    import hashlib
    key = hashlib.sha256(path.read_bytes() + tensor.encode() + hashlib.sha256(x.tobytes()).digest()).hexdigest()[:16]
    cache = HERE / "cache" / "members_explore" / f"{key}.npy"
    if cache.exists():
        return np.load(cache)
    P = _member_probs(path, tensor, x, threads)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, P)
    return P


def _member_probs(path: Path, tensor: str, x: np.ndarray, threads: int) -> np.ndarray:
    import onnx
    import onnxruntime as ort
    from onnx import helper
    model = onnx.load(str(path))
    if tensor not in {o.name for o in model.graph.output}:
        model.graph.output.append(helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return np.concatenate([s.run([tensor], {"image": x[i:i + 8]})[0] for i in range(0, len(x), 8)])


def mean_auroc(Y: np.ndarray, P: np.ndarray, mask: np.ndarray) -> tuple[float, dict]:
    per = {n: auroc(Y[mask, k], P[mask, k]) for k, n in enumerate(FINDINGS)}
    return float(np.nanmean(list(per.values()))), per


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("members", nargs="+", help="NAME=PATH[:TENSOR]")
    ap.add_argument("--flip", action="store_true", help="also score the mirrored film averaged in (findings TTA)")
    ap.add_argument("--tag", default="", help="runs/members_explore<tag>.json")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "2")))
    args = ap.parse_args()
    from app.inference import ChestModel, ChestOutput
    t0 = time.time()
    rows = rows_for("val")
    works = works_for(rows)
    D = detector_best("val", rows, works)
    Y = np.array([[float(r[k]) for k in FINDINGS] for r in rows])
    nih = np.array([r["folder"] == "cxr_nih14" for r in rows])
    served = ChestModel(COMMITTED, threads=args.threads)
    x = served.preprocess(works, served.size)
    masks = np.concatenate([served.session.run(["masks"], {"image": x[i:i + 8]})[0] for i in range(0, len(x), 8)])
    xf = np.ascontiguousarray(x[..., ::-1]) if args.flip else None

    views: dict[str, dict[str, np.ndarray]] = {"orig": {}, "flip": {}}
    for spec in args.members:
        name, _, ref = spec.partition("=")
        path, _, tensor = ref.partition(":")
        views["orig"][name] = member_probs(Path(path), tensor or "probs", x, args.threads)
        if args.flip:
            views["flip"][name] = member_probs(Path(path), tensor or "probs", xf, args.threads)
        print(f"{name}: scored ({time.time() - t0:.0f}s)", flush=True)

    def heads(P: np.ndarray, ctr: bool, det: bool) -> np.ndarray:
        out = []
        for p, m, d in zip(P, masks, D):
            o = ChestOutput(p.astype(np.float32).copy(), np.zeros((15, 8, 8), np.float32), m, np.zeros(1),
                            served.mask_thresholds)
            if ctr:
                served.apply_measurement_heads(o)
            if det:
                served.apply_detector_heads(o, {"score": float(d), "box": [0, 0, 1, 1]} if d > 0 else None, (8, 8))
            out.append(o.probs)
        return np.asarray(out)

    names = list(views["orig"])
    report = {"films": len(rows), "films_nih14": int(nih.sum()), "members": args.members, "results": {}}
    print(f"{'members':<16}{'view':<6}{'served':>14}{'no CTR head':>14}{'no det head':>14}{'network':>14}"
          "   (NIH-only / mixed)")
    for r in range(1, len(names) + 1):
        for combo in itertools.combinations(names, r):
            for view in (["orig", "orig+flip"] if args.flip else ["orig"]):
                P = np.mean([views["orig"][n] for n in combo], 0)
                if view == "orig+flip":
                    P = (P + np.mean([views["flip"][n] for n in combo], 0)) / 2
                res = {}
                for label, ctr, det in (("served", True, True), ("no_ctr", False, True),
                                        ("no_det", True, False), ("network", False, False)):
                    S = heads(P, ctr, det)
                    a, per = mean_auroc(Y, S, nih)
                    b, per_mix = mean_auroc(Y, S, np.ones(len(rows), bool))
                    res[label] = {"nih14": round(a, 4), "mixed": round(b, 4),
                                  "per_finding_nih14": {k: round(v, 4) for k, v in per.items()},
                                  "per_finding_mixed": {k: round(v, 4) for k, v in per_mix.items()}}
                key = "+".join(combo) + ("" if view == "orig" else " flip")
                report["results"][key] = res
                print(f"{'+'.join(combo):<16}{view[-4:]:<6}" + "".join(
                    f"{res[k]['nih14']:.3f}/{res[k]['mixed']:.3f}".rjust(14)
                    for k in ("served", "no_ctr", "no_det", "network")), flush=True)
    report["seconds"] = round(time.time() - t0)
    report["load_avg"] = [round(v, 2) for v in os.getloadavg()]
    (HERE / "runs").mkdir(exist_ok=True)
    (HERE / "runs" / f"members_explore{args.tag}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
