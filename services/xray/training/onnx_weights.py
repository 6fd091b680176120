"""Store an ONNX graph's large float32 weights as float16, computed in float32.

Each float32 initializer of at least ``min_elements`` values is stored as float16 and read through a ``Cast`` to
float32 under its original name, so every operator still computes in float32 (ONNX Runtime folds the casts once, when
the session is created: no cost per image). The file shrinks by about half; outputs move by the float16 rounding of the
weights only (checked by the caller on real images, and by the golden self-test).

    python services/xray/training/onnx_weights.py services/xray/models/chestnet.onnx   # rewrites it in place
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weights_to_fp16(model: onnx.ModelProto, min_elements: int = 1024) -> onnx.ModelProto:
    g = model.graph
    keep, casts, stored = [], [], []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and np.prod(init.dims, dtype=np.int64) >= min_elements:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
            stored.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__to_fp32"))
        else:
            keep.append(init)
    if not casts:
        return model
    nodes = casts + list(g.node)       # the casts first: the graph stays in topological order
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(keep + stored)
    return model


def main() -> None:
    for path in map(Path, sys.argv[1:]):
        before = path.stat().st_size
        model = weights_to_fp16(onnx.load(str(path)))
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        print(f"{path}: {before / 1e6:.1f} MB -> {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
