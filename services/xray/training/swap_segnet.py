"""Serve a retrained SegNet inside the committed chest graph: every node behind ``probs``, ``cams`` and ``embedding``
is kept as it is (findings ensemble, CAMs, gate embedding), and the ``masks`` branch is replaced by the one of
``--seg`` (cache/segnet.onnx from train_seg.py), grafted with ``combine_export.graft_masks``.

The new branch's weights are stored as float16 and cast to float32 inside the graph, like the rest of the file
(onnx_weights.py). Checked here on random input: probs/cams/embedding equal to the committed graph's, masks within
0.01 of the float32 SegNet.

    swap_segnet.py [--base models/chestnet.onnx] [--seg cache/segnet.onnx] [--out models/chestnet.onnx]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from combine_export import NAMES, graft_masks  # noqa: E402
from onnx_weights import weights_to_fp16  # noqa: E402
from prepare import CACHE  # noqa: E402

MODELS = HERE.parent / "models"


def share_identical_weights(model: onnx.ModelProto, prefix: str = "segnet/") -> int:
    """Point the grafted branch at the graph's own copy of every weight it holds (the frozen ImageNet stem and early
    blocks that SegNet and the findings networks both keep: equal up to the float rounding of two exports, at most
    1e-5, or one float16 step for weights stored as float16), and drop its copy. ONNX Runtime then computes the shared
    layers once (common-subexpression elimination), as in the graph exported in one piece; without this the grafted
    graph runs them twice (+~8 ms CPU per image). Returns the number of weights shared."""
    g = model.graph
    own: dict[tuple, list[tuple[str, np.ndarray]]] = {}
    for t in g.initializer:
        if not t.name.startswith(prefix):
            own.setdefault((t.data_type, tuple(t.dims)), []).append((t.name, numpy_helper.to_array(t)))
    alias = {}
    for t in g.initializer:
        if not t.name.startswith(prefix):
            continue
        a = numpy_helper.to_array(t)
        for name, b in own.get((t.data_type, tuple(t.dims)), []):
            if a.dtype == np.float16:
                same = np.allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-3, atol=1e-6)
            elif a.dtype == np.float32:
                same = np.allclose(a, b, rtol=0, atol=1e-5)
            else:
                same = np.array_equal(a, b)
            if same:
                alias[t.name] = name
                break
    for n in g.node:
        for i, name in enumerate(n.input):
            if name in alias:
                n.input[i] = alias[name]
    keep = [t for t in g.initializer if t.name not in alias]
    del g.initializer[:]
    g.initializer.extend(keep)
    return len(alias)


def run(path_or_bytes, names, x):
    s = ort.InferenceSession(path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes),
                             providers=["CPUExecutionProvider"])
    return s.run(names, {"image": x})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, default=MODELS / "chestnet.onnx")
    ap.add_argument("--seg", type=Path, default=CACHE / "segnet.onnx")
    ap.add_argument("--out", type=Path, default=MODELS / "chestnet.onnx")
    args = ap.parse_args()
    base_bytes = args.base.read_bytes()  # read before --out may overwrite it
    meta = json.loads(args.base.with_suffix(".json").read_text())
    base = onnx.load_from_string(base_bytes)
    rest = onnx.utils.Extractor(base).extract_model(["image"], ["probs", "cams", "embedding"])
    seg = onnx.load(str(args.seg))
    if "masks" not in {o.name for o in seg.graph.output}:
        raise SystemExit(f"{args.seg}: no 'masks' output")
    model = weights_to_fp16(graft_masks(rest, args.seg))
    shared = share_identical_weights(model)
    onnx.checker.check_model(model)
    blob = model.SerializeToString()
    x = np.random.default_rng(0).random((2, 1, 256, 256), dtype=np.float32)
    got = run(blob, NAMES, x)
    ref = run(base_bytes, NAMES, x)
    (seg_ref,) = run(args.seg, ["masks"], x)
    kept = max(float(np.abs(got[i] - ref[i]).max()) for i in (0, 1, 3))
    if kept > 1e-5:
        raise SystemExit(f"probs/cams/embedding moved by {kept}: the findings part was not kept as it is")
    mask_err = float(np.abs(got[2] - seg_ref).max())
    if mask_err > 0.01:
        raise SystemExit(f"float16 weights move the masks by {mask_err}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(blob)
    meta["sha256"] = hashlib.sha256(blob).hexdigest()
    meta["masks_from"] = ("SegNet: attention U-Net decoder on a frozen ImageNet EfficientNet-Lite0 encoder "
                          "(train_seg.py), grafted into the committed graph by swap_segnet.py")
    seg_meta = args.seg.with_suffix(".json")
    if seg_meta.exists():  # a served graph as the source: its mask thresholds go with its masks
        sm = json.loads(seg_meta.read_text())
        for k in ("mask_thresholds", "mask_threshold_rule"):
            if k in sm:
                meta[k] = sm[k]
            else:
                meta.pop(k, None)
    meta.setdefault("weights", {})["masks_max_diff_vs_float32"] = mask_err
    meta["weights"]["segnet_weights_shared_with_findings_network"] = shared
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"swapped SegNet: {shared} weights shared with the findings part, findings/embedding diff {kept:.1e}, "
          f"masks diff vs float32 {mask_err:.1e}, "
          f"{len(blob) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
