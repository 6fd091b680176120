"""Export the served chest graph: ChestNet (findings, CAMs, embedding) + SegNet (lung/heart masks) in ONE ONNX file,
so the service loads one chest model with the outputs probs, cams, masks, embedding. Thresholds are kept.

SegNet comes from ``cache/segnet_best.pt`` (train_seg.py), or with ``--seg-from-onnx PATH`` from the ``masks`` branch
of an existing served graph, copied node for node (so a retrained findings network keeps the committed SegNet:
the masks, the CTR head and the detector's lung views stay exactly as they were).

    combine_export.py [--checkpoint cache/chestnet_best.pt] [--seg-from-onnx models/chestnet.onnx] [--out PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import io
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

MODELS = HERE.parent / "models"
NAMES = ["probs", "cams", "masks", "embedding"]


class Combined(nn.Module):
    def __init__(self, chest: ChestNet, seg):
        super().__init__()
        self.chest = ChestNetExport(chest, with_masks=False)
        from train_seg import SegExport
        self.seg = SegExport(seg)

    def forward(self, image):
        probs, cams, emb = self.chest(image)
        return probs, cams, self.seg(image), emb


def _export(m: nn.Module, names: list[str]):
    import onnx
    buf = io.BytesIO()
    dummy = torch.rand(2, 1, 256, 256)
    torch.onnx.export(m, (dummy,), buf, input_names=["image"], output_names=names,
                      dynamic_axes={n: {0: "n"} for n in ["image"] + names}, opset_version=17, dynamo=False)
    return onnx.load_from_string(buf.getvalue())


def copy_renamed(graph, prefix: str, ren):
    """Copies of a graph's nodes (named ``prefix`` + name, tensors renamed by ``ren``) and initializers (renamed),
    ready to be added to another graph beside its own."""
    import onnx
    nodes, inits = [], []
    for nd in graph.node:
        new = onnx.NodeProto()
        new.CopyFrom(nd)
        new.name = prefix + (nd.name or nd.op_type)
        del new.input[:]
        new.input.extend(ren(i) for i in nd.input)
        del new.output[:]
        new.output.extend(ren(o) for o in nd.output)
        nodes.append(new)
    for t in graph.initializer:
        new = onnx.TensorProto()
        new.CopyFrom(t)
        new.name = ren(t.name)
        inits.append(new)
    return nodes, inits


def graft_masks(chest_model, seg_source: Path):
    """Add the ``masks`` branch of ``seg_source`` (every node that the output ``masks`` depends on, with its
    initializers, names prefixed) to a graph with the outputs probs, cams, embedding; both read ``image``."""
    import onnx
    from onnx import helper
    src = onnx.load(str(seg_source))
    seg = onnx.utils.Extractor(src).extract_model(["image"], ["masks"])
    keep = {"image", "masks"}

    def ren(n: str) -> str:
        return n if (not n or n in keep) else "segnet/" + n
    nodes, inits = copy_renamed(seg.graph, "segnet/", ren)
    g = chest_model.graph
    outs = {o.name: o for o in g.output}
    outs["masks"] = seg.graph.output[0]
    graph = helper.make_graph(list(g.node) + nodes, "chestnet", list(g.input), [outs[n] for n in NAMES],
                              list(g.initializer) + inits)
    model = helper.make_model(graph, opset_imports=chest_model.opset_import, producer_name="zhenxi combine_export")
    model.ir_version = chest_model.ir_version
    onnx.checker.check_model(model)
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, default=CACHE / "chestnet_best.pt")
    ap.add_argument("--seg-from-onnx", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=MODELS / "chestnet.onnx")
    ap.add_argument("--meta-from", type=Path, default=MODELS / "chestnet.json",
                    help="sidecar whose labels/thresholds/heads are kept (sha256 and outputs are rewritten)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    import onnx
    import onnxruntime as ort
    chest = ChestNet()
    chest.load_state_dict(torch.load(args.checkpoint))
    chest.eval()
    dummy = torch.rand(2, 1, 256, 256)
    if args.seg_from_onnx:
        src = args.seg_from_onnx.read_bytes()  # read before --out may overwrite it
        tmp = CACHE / "seg_source.onnx"
        tmp.write_bytes(src)
        model = graft_masks(_export(ChestNetExport(chest, with_masks=False).eval(), ["probs", "cams", "embedding"]),
                            tmp)
        with torch.no_grad():
            ref = list(ChestNetExport(chest, with_masks=False).eval()(dummy))
        old = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        ref.insert(2, torch.from_numpy(old.run(["masks"], {"image": dummy.numpy()})[0]))
    else:
        from train_seg import SegNet
        seg = SegNet()
        seg.load_state_dict(torch.load(CACHE / "segnet_best.pt"))
        m = Combined(chest, seg.eval()).eval()
        model = _export(m, NAMES)
        with torch.no_grad():
            ref = m(dummy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out))
    out = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"]).run(NAMES, {"image": dummy.numpy()})
    err = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(out, ref))
    if err > 1e-3:
        raise RuntimeError(f"ONNX differs from torch by {err}")
    meta = json.loads(args.meta_from.read_text())
    meta["sha256"] = hashlib.sha256(args.out.read_bytes()).hexdigest()
    meta["outputs"] = NAMES
    meta["masks_from"] = "SegNet: attention U-Net decoder on a frozen ImageNet EfficientNet-Lite0 encoder (train_seg.py)"
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print("combined export ok, max diff", err, "MB", args.out.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
