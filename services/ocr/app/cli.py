"""``./zhenxi ocr PHOTO... [--format json|fhir]``: parse lab-report photos in-process (no running stack needed).
Prints one JSON object per line per photo; a refused photo prints its error object on its line. Exit status 2
when any photo was refused, 0 otherwise."""
from __future__ import annotations

import argparse
import json
import mimetypes
import sys
from pathlib import Path

from zhenxi_common.errors import error_body

from .errors import ImageRejectedError


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="zhenxi ocr", description="解析检验报告单照片 Parse lab-report photos.")
    ap.add_argument("photos", nargs="+", type=Path, help="JPEG / PNG / WebP / HEIC / PDF files")
    ap.add_argument("--format", choices=["json", "fhir"], default="json")
    args = ap.parse_args(argv)

    from .config import Settings
    from .fhir import to_bundle
    from .service import LabReportParser, ParserOptions

    parser = LabReportParser(ParserOptions.from_settings(Settings()))
    refused = False
    for photo in args.photos:
        try:
            data = photo.read_bytes()
        except OSError as exc:
            refused = True
            print(json.dumps(error_body("file_not_readable", "无法读取文件。 The file could not be read.",
                                        {"file": str(photo), "reason": type(exc).__name__}), ensure_ascii=False))
            continue
        try:
            report = parser.parse(data, photo.name, mimetypes.guess_type(photo.name)[0])
        except ImageRejectedError as exc:
            refused = True
            body = exc.to_body()
            body["error"]["details"]["file"] = str(photo)
            print(json.dumps(body, ensure_ascii=False))
            continue
        out = to_bundle(report) if args.format == "fhir" else report
        print(json.dumps(out, ensure_ascii=False))
        sys.stdout.flush()
    return 2 if refused else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
