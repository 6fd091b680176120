"""Served chest graph as an ensemble of two findings networks that share their frozen trunk (issue 17).

Both findings networks keep the ImageNet EfficientNet-Lite0 stem and blocks 0-4 frozen (train_chest.py
--frozen-blocks 5), so their block-4 outputs are the same tensor: the new network's blocks 5-15 and head are grafted
onto the committed graph at that point (checked numerically, not assumed). Outputs keep their names and meaning:

* ``probs`` = mean of the two networks' probabilities, ``cams`` = mean of their class activation maps;
* ``masks`` (SegNet) and ``embedding`` (the gate's input) stay the committed graph's, so the gate statistics and
  thresholds, the CTR head and the detector's lung views are unchanged.

    ensemble_export.py --base models/chestnet.onnx --add cache/cand_base/chestnet.onnx --out cache/ens/chestnet.onnx

``--base`` must be a single-network graph (its sidecar has no ``ensemble`` block). The sidecar beside ``--out`` is
the base's, with sha256 and an ``ensemble`` block; thresholds are re-chosen by eval_served.py --write-thresholds.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from combine_export import copy_renamed
from onnx_weights import weights_to_fp16

HERE = Path(__file__).resolve().parent
TRUNK_BASE = "/chest/encoder/_blocks.4/Add_output_0"   # committed graph (combine_export.Combined: chest = ...)
TRUNK_ADD = "/encoder/_blocks.4/Add_output_0"          # a graph from combine_export.py --seg-from-onnx


def trunk_name(model: onnx.ModelProto, candidates: list[str]) -> str:
    outs = {o for n in model.graph.node for o in n.output}
    for c in candidates:
        if c in outs:
            return c
    raise SystemExit(f"no block-4 output among {candidates}")


def run(model: onnx.ModelProto, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(names, {"image": x})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--add", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    base, add = onnx.load(str(args.base)), onnx.load(str(args.add))
    meta = json.loads(args.base.with_suffix(".json").read_text())
    if "ensemble" in meta:
        raise SystemExit("--base is already an ensemble")
    tb = trunk_name(base, [TRUNK_BASE, TRUNK_ADD])
    ta = trunk_name(add, [TRUNK_ADD, TRUNK_BASE])
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 256, 256), dtype=np.float32)
    # The shared trunk: same values in both graphs, or the graft would change the added network.
    (a,), (b,) = run(base, x, [tb]), run(add, x, [ta])
    trunk_err = float(np.abs(a - b).max())
    if trunk_err > 1e-4:
        raise SystemExit(f"block-4 outputs differ by {trunk_err}: the trunks are not shared")
    branch = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(add)).extract_model([ta], ["probs", "cams"])
    keep = {ta: tb}

    def ren(n: str) -> str:
        return keep.get(n, n if not n else "net2/" + n)
    nodes, inits = copy_renamed(branch.graph, "net2/", ren)
    # The base's probs/cams become net1/*, then the served outputs are their means with net2's.
    g = base.graph
    base_nodes = []
    for nd in g.node:
        new = onnx.NodeProto()
        new.CopyFrom(nd)
        for i, o in enumerate(new.output):
            if o in ("probs", "cams"):
                new.output[i] = "net1/" + o
        for i, o in enumerate(new.input):
            if o in ("probs", "cams"):
                new.input[i] = "net1/" + o
        base_nodes.append(new)
    half = helper.make_tensor("ensemble/half", onnx.TensorProto.FLOAT, [], [0.5])
    extra = []
    for o in ("probs", "cams"):
        extra.append(helper.make_node("Add", [f"net1/{o}", f"net2/{o}"], [f"ensemble/{o}_sum"], name=f"ensemble/{o}_add"))
        extra.append(helper.make_node("Mul", [f"ensemble/{o}_sum", "ensemble/half"], [o], name=f"ensemble/{o}_mean"))
    graph = helper.make_graph(base_nodes + nodes + extra, "chestnet_ensemble", list(g.input), list(g.output),
                              list(g.initializer) + inits + [half])
    model = helper.make_model(graph, opset_imports=base.opset_import, producer_name="zhenxi ensemble_export")
    model.ir_version = base.ir_version
    onnx.checker.check_model(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out))
    names = ["probs", "cams", "masks", "embedding"]
    got = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"]).run(names, {"image": x})
    rb = ort.InferenceSession(str(args.base), providers=["CPUExecutionProvider"]).run(names, {"image": x})
    ra = ort.InferenceSession(str(args.add), providers=["CPUExecutionProvider"]).run(names, {"image": x})
    err = max(float(np.abs(got[0] - (rb[0] + ra[0]) / 2).max()), float(np.abs(got[1] - (rb[1] + ra[1]) / 2).max()),
              float(np.abs(got[2] - rb[2]).max()), float(np.abs(got[3] - rb[3]).max()))
    if err > 1e-4:
        raise SystemExit(f"ensemble graph differs from the mean of its parts by {err}")
    # Stored with float16 weights (computed in float32) to keep the committed file small; the rounding moves the
    # probabilities by ~1e-3, checked here and by the golden self-test.
    onnx.save(weights_to_fp16(model), str(args.out))
    small = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"]).run(names, {"image": x})
    fp16_err = float(np.abs(small[0] - got[0]).max())
    if fp16_err > 0.01:
        raise SystemExit(f"float16 weights move the probabilities by {fp16_err}")
    meta["weights"] = {"storage": "float16 (Cast to float32 in the graph)", "max_prob_diff_vs_float32": fp16_err}
    meta["sha256"] = hashlib.sha256(args.out.read_bytes()).hexdigest()
    meta["ensemble"] = {
        "members": [{"onnx": args.base.name, "sha256": hashlib.sha256(args.base.read_bytes()).hexdigest()},
                    {"onnx": str(args.add), "sha256": hashlib.sha256(args.add.read_bytes()).hexdigest()}],
        "combine": "probs and cams = mean of the two findings networks; masks and embedding from the first",
        "shared_trunk": tb, "trunk_max_abs_diff": trunk_err}
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"ensemble export ok: trunk diff {trunk_err:.2e}, output diff {err:.2e}, "
          f"{args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
