"""``./zhenxi triage "TEXT"`` / ``./zhenxi triage --file F`` and ``./zhenxi interpret FILE.json``.

Runs in-process from the knowledge files; needs no database or running stack. Output is JSON (one object per
line for ``--file``). Bad input prints ``{"error": {code, message, details}}`` and exits with 2."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from zhenxi_common.errors import ServiceError, error_body


def _print(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _service(dense: bool):
    from .config import Settings
    from .service import NlpService

    settings = Settings()
    settings.dense_retrieval = dense  # triage and interpretation never need the embedding model
    return NlpService.create(settings)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zhenxi", description="Zhenxi NLP: symptom triage and result interpretation")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("triage", help="analyse symptom text and print JSON")
    t.add_argument("text", nargs="?", help="the symptom description")
    t.add_argument("--file", type=Path, help="one text per line; prints one JSON object per line")
    t.add_argument("--lang", choices=["zh", "en"])
    i = sub.add_parser("interpret", help="interpret a JSON file of indicators and print JSON")
    i.add_argument("file", type=Path, help='JSON: {"indicators":[{"code","value","unit"}], "sex", "age", ...} '
                                            "or a bare list of indicators")
    i.add_argument("--lang", choices=["zh", "en"])
    args = parser.parse_args(argv)

    if args.command == "triage":
        if (args.text is None) == (args.file is None):
            parser.error("give TEXT or --file, not both")
        svc = _service(dense=False)
        texts = [args.text] if args.file is None else _read_lines(args.file)
        if texts is None:
            _print(error_body("file_unreadable", "无法读取文件。 Cannot read the file.", {"path": str(args.file)}))
            return 2
        rc = 0
        for text in texts:
            try:
                _print(svc.analyze_symptoms(text, args.lang))
            except ServiceError as exc:
                _print(exc.to_body())
                rc = 2
        return rc

    try:
        payload = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _print(error_body("file_unreadable", "无法读取JSON文件。 Cannot read the JSON file.",
                          {"path": str(args.file), "reason": type(exc).__name__}))
        return 2
    if isinstance(payload, list):
        payload = {"indicators": payload}
    from pydantic import ValidationError

    from .schemas import InterpretationRequest

    try:
        req = InterpretationRequest.model_validate(payload)
    except ValidationError as exc:
        _print(error_body("validation_error", "请求格式不正确。 The request is not valid.",
                          {"errors": [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]}))
        return 2
    svc = _service(dense=False)
    try:
        sex, age = req.subject()
        _print(svc.interpret(req.items(), sex=sex, age=age, medications=req.medications, lang=args.lang or req.lang))
    except ServiceError as exc:
        _print(exc.to_body())
        return 2
    return 0


def _read_lines(path: Path) -> list[str] | None:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
