"""`./zhenxi xray IMAGE... [--masks DIR]`: one JSON object per line per image; models load once.

Exit status: 0 when every image was analysed, 2 when any image was refused (its error object is printed on its
line), 1 when the models themselves cannot be loaded.
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import sys
from pathlib import Path

import cv2
import numpy as np

from app.errors import ServiceError


def _content_type(path: Path) -> str | None:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return "application/dicom"
    return mimetypes.guess_type(path.name)[0]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="zhenxi xray", description="分析胸片 Analyse chest X-rays (PNG, JPEG, DICOM).")
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--masks", type=Path, default=None,
                    help="write DIR/<image stem>/{left_lung,right_lung,heart}.png at the input's size")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0 = every core)")
    ap.add_argument("--no-images", action="store_true", help="leave base64 PNGs (masks, heatmaps) out of the JSON")
    ap.add_argument("--selftest", action="store_true", help="check the bundled golden image first")
    args = ap.parse_args(argv)

    from app.analyzer import AnalyzerConfig, XrayAnalyzer
    try:
        analyzer = XrayAnalyzer(AnalyzerConfig(threads=args.threads, include_masks=not args.no_images,
                                               include_heatmaps=not args.no_images))
    except ServiceError as e:
        print(json.dumps(e.to_body(), ensure_ascii=False))
        return 1
    if args.selftest:
        st = analyzer.selftest()
        print(json.dumps({"selftest": st}, ensure_ascii=False))
        if not st["ok"]:
            return 1
    refused = False
    for path in args.images:
        line: dict
        try:
            try:
                data = path.read_bytes()
            except OSError as e:
                raise FileNotFoundError(str(e)) from None
            p = analyzer.prepare(data, path.name, _content_type(path))
            raw = analyzer.infer([p])[0]
            line = analyzer.finish(p, raw)
            if args.masks is not None:
                out = args.masks / path.stem
                out.mkdir(parents=True, exist_ok=True)
                for organ, m in analyzer.masks_at_input_size(p, raw).items():
                    cv2.imwrite(str(out / f"{organ}.png"), m.astype(np.uint8) * 255)
                line["masks_dir"] = str(out)
        except ServiceError as e:
            refused = True
            line = e.to_body()
        except FileNotFoundError as e:
            refused = True
            line = {"error": {"code": "file_not_found", "message": "找不到文件。 File not found.",
                              "details": {"reason": str(e)[:200]}}}
        line = {"file": str(path), **line}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 2 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
