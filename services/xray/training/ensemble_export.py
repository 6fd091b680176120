"""Served chest graph as an ensemble of two findings networks that share their frozen trunk (issue 17).

Both findings networks keep the ImageNet EfficientNet-Lite0 stem and blocks 0-4 frozen (train_chest.py
--frozen-blocks 5), so their block-4 outputs are the same tensor: the new network's blocks 5-15 and head are grafted
onto the committed graph at that point (checked numerically, not assumed). Outputs keep their names and meaning:

* ``probs`` = mean of the two networks' probabilities, ``cams`` = mean of their class activation maps;
* ``masks`` (SegNet) and ``embedding`` (the gate's input) stay the committed graph's, so the gate statistics and
  thresholds, the CTR head and the detector's lung views are unchanged.

    ensemble_export.py --base models/chestnet.onnx --add cache/cand_base/chestnet.onnx [MORE.onnx ...] \
        --out cache/ens/chestnet.onnx

More than one ``--add`` graph makes an ensemble of 1 + N networks (``net2/``, ``net3/``, ... ; plain mean). An
``--add`` given as ``PATH:PREFIX`` takes the network behind ``PREFIX``probs / ``PREFIX``cams of a served ensemble
(e.g. ``models/chestnet.onnx:net2/``, the member shipped there, float16 weights as served).

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


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--add", nargs="+", required=True, help="PATH or PATH:PREFIX (a member of a served ensemble)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    base = onnx.load(str(args.base))
    meta = json.loads(args.base.with_suffix(".json").read_text())
    if "ensemble" in meta:
        raise SystemExit("--base is already an ensemble")
    tb = trunk_name(base, [TRUNK_BASE, TRUNK_ADD])
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 256, 256), dtype=np.float32)
    # The trunks are compared as served: weights rounded to float16 (a member taken from a served graph already is).
    (a,) = run(weights_to_fp16(copy_model(base)), x, [tb])
    nodes, inits, trunk_err = [], [], 0.0
    adds = [(Path(a.split(":")[0]), a.split(":")[1] if ":" in a else "") for a in args.add]
    for j, (path, pre_in) in enumerate(adds, start=2):
        add = onnx.load(str(path))
        ta = trunk_name(add, [TRUNK_ADD, TRUNK_BASE])
        # The shared trunk: same values in both graphs, or the graft would change the added network.
        (b,) = run(weights_to_fp16(copy_model(add)), x, [ta])
        trunk_err = max(trunk_err, float(np.abs(a - b).max()))
        # Relative to the block-4 output's range (~37 on this input): two exports fold BatchNorm into the frozen
        # convolutions with different float rounding, which float16 storage can turn into ~2e-5 of the range; a
        # trunk with other weights differs by the order of the range itself.
        if trunk_err > 1e-4 * float(np.abs(a).max()):
            raise SystemExit(f"block-4 outputs of {path} differ by {trunk_err} (range {np.abs(a).max():.1f}): "
                             "the trunks are not shared")
        branch = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(add)).extract_model(
            [ta], [pre_in + "probs", pre_in + "cams"])

        def ren(n: str, ta=ta, pre=f"net{j}/", pre_in=pre_in) -> str:
            if n == ta:
                return tb
            if n in (pre_in + "probs", pre_in + "cams"):
                return pre + n[len(pre_in):]
            return n if not n else pre + n
        nd, ini = copy_renamed(branch.graph, f"net{j}/", ren)
        nodes += nd
        inits += ini
    k = 1 + len(args.add)
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
    half = helper.make_tensor("ensemble/half" if k == 2 else "ensemble/inv_n", onnx.TensorProto.FLOAT, [], [1.0 / k])
    extra = []
    for o in ("probs", "cams"):
        if k == 2:
            extra.append(helper.make_node("Add", [f"net1/{o}", f"net2/{o}"], [f"ensemble/{o}_sum"],
                                          name=f"ensemble/{o}_add"))
        else:
            extra.append(helper.make_node("Sum", [f"net{j}/{o}" for j in range(1, k + 1)], [f"ensemble/{o}_sum"],
                                          name=f"ensemble/{o}_add"))
        extra.append(helper.make_node("Mul", [f"ensemble/{o}_sum", half.name], [o], name=f"ensemble/{o}_mean"))
    graph = helper.make_graph(base_nodes + nodes + extra, "chestnet_ensemble", list(g.input), list(g.output),
                              list(g.initializer) + inits + [half])
    model = helper.make_model(graph, opset_imports=base.opset_import, producer_name="zhenxi ensemble_export")
    model.ir_version = base.ir_version
    # Stored with float16 weights (computed in float32) to keep the committed file small. The graph is checked as
    # stored against the mean of its parts with the same float16 weights, and, loosely, against the float32 parts
    # (the rounding moves the probabilities by ~1e-3; the golden self-test checks it on a real film).
    model = weights_to_fp16(model)
    onnx.checker.check_model(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out))
    names = ["probs", "cams", "masks", "embedding"]
    got = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"]).run(names, {"image": x})
    err, fp16_err = 0.0, 0.0
    for half_weights in (True, False):
        cast = weights_to_fp16 if half_weights else (lambda m: m)
        rb = run(cast(copy_model(base)), x, names)
        ra = [run(cast(onnx.load(str(p))), x, [pre + "probs", pre + "cams"]) for p, pre in adds]
        mean = [(rb[i] + sum(r[i] for r in ra)) / k for i in (0, 1)]
        if half_weights:
            # CAMs are logit maps (range ~10): compared relative to their range, like the trunk above.
            err = max(float(np.abs(got[0] - mean[0]).max()),
                      float(np.abs(got[1] - mean[1]).max()) / max(1.0, float(np.abs(mean[1]).max())),
                      float(np.abs(got[2] - rb[2]).max()), float(np.abs(got[3] - rb[3]).max()))
        else:
            fp16_err = float(np.abs(got[0] - mean[0]).max())
    if err > 1e-4:
        raise SystemExit(f"ensemble graph differs from the mean of its parts by {err}")
    if fp16_err > 0.01:
        raise SystemExit(f"float16 weights move the probabilities by {fp16_err}")
    meta["weights"] = {"storage": "float16 (Cast to float32 in the graph)", "max_prob_diff_vs_float32": fp16_err}
    meta["sha256"] = hashlib.sha256(args.out.read_bytes()).hexdigest()
    meta["ensemble"] = {
        "members": [{"onnx": args.base.name, "sha256": hashlib.sha256(args.base.read_bytes()).hexdigest()}]
        + [{"onnx": str(p) + (f" (member {pre})" if pre else ""), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
           for p, pre in adds],
        "combine": f"probs and cams = mean of the {'two' if k == 2 else k} findings networks; masks and embedding "
                   "from the first",
        "shared_trunk": tb, "trunk_max_abs_diff": trunk_err}
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"ensemble export ok: trunk diff {trunk_err:.2e}, output diff {err:.2e}, "
          f"{args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
