"""``./zhenxi analyze [--lab PHOTO ...] [--xray IMAGE ...] [--symptoms TEXT] [--format json|html|pdf|fhir]
[--out FILE]``: one analysis report from the shell.

Against the running stack when one answers (``ZHENXI_URL``, default http://127.0.0.1:8000) and credentials are
given (``ZHENXI_TOKEN``, or ``ZHENXI_USERNAME`` + ``ZHENXI_PASSWORD``); otherwise without any server: each
service's own pipeline runs through its command line (``./zhenxi ocr``/``xray``/``interpret``/``triage``, every
service's package is called ``app`` so each runs in its own interpreter), concurrently, and the report is
composed here with the same code the service uses. No history (trends) in that mode: that needs the database."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zhenxi_common.errors import error_body
from zhenxi_common.identity import Identity

from .config import REPO_ROOT, Settings
from .downstream import InputRefused, SectionUnavailable

CONTENT = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".dcm": "application/dicom",
           ".pdf": "application/pdf", ".webp": "image/webp", ".heic": "image/heic"}


class CliDownstream:
    """The fan-out's downstream interface, served by the services' in-process pipelines (no servers)."""

    def __init__(self, timeout_s: float = 300.0) -> None:
        self.timeout_s = timeout_s
        self.tmp = Path(tempfile.mkdtemp(prefix="zhenxi-analyze-"))

    async def _run(self, service: str, args: list[str]) -> list[dict[str, Any]]:
        env = {**os.environ, "ZHENXI_ENV": os.environ.get("ZHENXI_ENV", "dev"), "OMP_NUM_THREADS": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", *args, cwd=REPO_ROOT / "services" / service, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            raise SectionUnavailable(service, "timeout") from None
        lines = [json.loads(ln) for ln in out.decode().splitlines() if ln.strip().startswith("{")]
        if not lines:
            raise SectionUnavailable(service, "upstream_error", err.decode()[-200:])
        return lines

    def _file(self, data: bytes, filename: str) -> Path:
        p = self.tmp / f"{uuid.uuid4().hex}{Path(filename).suffix or '.bin'}"
        p.write_bytes(data)
        return p

    @staticmethod
    def _refused(service: str, line: dict[str, Any]) -> None:
        if "error" in line:
            raise InputRefused.from_error(service, 422, line["error"])

    async def parse_lab(self, who: Identity, data: bytes, filename: str, content_type: str | None) -> dict:
        line = (await self._run("ocr", [str(self._file(data, filename))]))[0]
        self._refused("ocr", line)
        return line

    async def interpret(self, who: Identity, payload: dict) -> dict:
        f = self.tmp / f"{uuid.uuid4().hex}.json"
        f.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        line = (await self._run("nlp", ["interpret", str(f), "--lang", payload.get("lang", "zh")]))[0]
        self._refused("nlp", line)
        return line

    async def analyze_xray(self, who: Identity, data: bytes, filename: str, content_type: str | None) -> dict:
        line = (await self._run("xray", [str(self._file(data, filename))]))[0]
        self._refused("xray", line)
        line["heatmaps"] = [{"label": f["label"], "png_base64": f["heatmap"]["overlay_png_base64"]}
                            for f in line.get("findings", [])
                            if (f.get("heatmap") or {}).get("overlay_png_base64")]
        for f in line.get("findings", []):
            (f.get("heatmap") or {}).pop("overlay_png_base64", None)
        return line

    async def analyze_symptoms(self, who: Identity, text: str, lang: str | None) -> dict:
        args = ["triage", text] + (["--lang", lang] if lang else [])
        line = (await self._run("nlp", args))[0]
        self._refused("nlp", line)
        return line

    async def aclose(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


async def analyze_in_process(files: dict[str, list[Path]], symptoms: str | None, lang: str,
                             settings: Settings) -> tuple[dict[str, Any], dict[str, bytes]]:
    from . import imaging, knowledge
    from .compose import compose
    from .fanout import FileInput, ReportInputs, fan_out

    inputs = ReportInputs(symptoms=symptoms, lang=lang)
    for kind in ("lab", "xray"):
        for pos, path in enumerate(files[kind]):
            getattr(inputs, kind).append(FileInput(pos, path.read_bytes(), path.name, CONTENT.get(path.suffix.lower())))
    ds = CliDownstream()
    try:
        outcomes = await fan_out(ds, Identity("cli", "patient"), inputs, inputs.kinds())
    finally:
        await ds.aclose()
    images: dict[str, bytes] = {}
    sections = {}
    for kind, o in outcomes.items():
        result = o.result
        if kind == "xray" and result is not None:
            for img in result["images"]:
                if "error" in img:
                    continue
                overlays = []
                drawn = imaging.overlay(inputs.xray[img["position"]].data, img.pop("masks", {}), img.get("detections", []))
                pngs = [("overlay", drawn)] if drawn else []
                pngs += [(f"heatmap:{h['label']}", imaging.heatmap(h["png_base64"])) for h in img.pop("heatmaps", [])]
                for label, png in pngs:
                    image_id = f"{img['position']}-{label}"
                    images[image_id] = png
                    overlays.append({"label": label, "image_id": image_id})
                img["overlays"] = overlays
        sections[kind] = {"status": o.status, "result": result, "reason": o.reason}
    now = datetime.now(UTC)
    kb = knowledge.load(settings.knowledge_dir)
    composed = compose(report_id=f"local-{uuid.uuid4().hex[:12]}", lang=lang, created_at=now, report_date=now,
                       sections=sections, history={}, kb=kb, booking_search_url=settings.booking_search_url)
    return composed.body, images


def _stack(url: str) -> dict[str, str] | None:
    """Auth headers for the running stack, or None when there is no stack or no credentials."""
    import httpx

    try:
        if httpx.get(f"{url}/api/health", timeout=2).status_code >= 500:
            return None
    except httpx.HTTPError:
        return None
    token = os.environ.get("ZHENXI_TOKEN")
    if not token and os.environ.get("ZHENXI_USERNAME") and os.environ.get("ZHENXI_PASSWORD"):
        r = httpx.post(f"{url}/api/auth/login", json={"username": os.environ["ZHENXI_USERNAME"],
                                                      "password": os.environ["ZHENXI_PASSWORD"]}, timeout=10)
        if r.status_code == 200:
            token = r.json()["access_token"]
        else:  # say so: "no credentials" would send the user looking for a variable they did set
            try:
                code = r.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = f"HTTP {r.status_code}"
            print(f"zhenxi analyze: the stack refused the login of ZHENXI_USERNAME={os.environ['ZHENXI_USERNAME']} "
                  f"({code}); running in-process, nothing is stored", file=sys.stderr)
            return None
    if not token:
        print("zhenxi analyze: a stack answers but no ZHENXI_TOKEN / ZHENXI_USERNAME+ZHENXI_PASSWORD; "
              "running in-process", file=sys.stderr)
        return None
    return {"Authorization": f"Bearer {token}"}


def analyze_on_stack(url: str, headers: dict[str, str], files: dict[str, list[Path]], symptoms: str | None,
                     lang: str, fmt: str) -> tuple[int, bytes]:
    import httpx

    multipart = [(kind, (p.name, p.read_bytes(), CONTENT.get(p.suffix.lower(), "application/octet-stream")))
                 for kind in ("lab", "xray") for p in files[kind]]
    data = {"lang": lang, **({"symptoms": symptoms} if symptoms else {})}
    r = httpx.post(f"{url}/api/report/v1/reports?wait=true", files=multipart or None, data=data, headers=headers,
                   timeout=600)
    if r.status_code not in (200, 202):
        return 2, r.content
    state = r.json()
    rid = state["id"]
    deadline = time.monotonic() + 900
    while state["status"] not in ("completed", "failed") and time.monotonic() < deadline:   # ?wait gave up: poll
        time.sleep(1.0)
        state = httpx.get(f"{url}/api/report/v1/reports/{rid}", headers=headers, timeout=60).json()
    if state["status"] != "completed":
        return 2, json.dumps(state, ensure_ascii=False, indent=2).encode()
    if fmt == "json":
        return 0, json.dumps(state["report"], ensure_ascii=False, indent=2).encode()
    out = httpx.get(f"{url}/api/report/v1/reports/{rid}?format={fmt}", headers=headers, timeout=120)
    return (0 if out.status_code == 200 else 2), out.content


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="zhenxi analyze", description="一份完整的分析报告 One full analysis report.")
    ap.add_argument("--lab", nargs="*", type=Path, default=[], help="lab-report photos")
    ap.add_argument("--xray", nargs="*", type=Path, default=[], help="chest X-rays (PNG, JPEG, DICOM)")
    ap.add_argument("--symptoms", default=None, help="symptom description")
    ap.add_argument("--lang", choices=["zh", "en"], default="zh")
    ap.add_argument("--format", choices=["json", "html", "pdf", "fhir"], default="json")
    ap.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    ap.add_argument("--local", action="store_true", help="never use a running stack")
    args = ap.parse_args(argv)
    files = {"lab": args.lab, "xray": args.xray}
    if not args.lab and not args.xray and not (args.symptoms or "").strip():
        print(json.dumps(error_body("empty_report", "请至少给出一张化验单、一张胸片或症状描述。 Give at least one "
                                    "lab photo, X-ray or a symptom description."), ensure_ascii=False))
        return 2
    missing = [str(p) for p in [*args.lab, *args.xray] if not p.is_file()]
    if missing:
        print(json.dumps(error_body("file_not_found", "找不到文件。 File not found.", {"files": missing}),
                         ensure_ascii=False))
        return 2
    settings = Settings()
    url = os.environ.get("ZHENXI_URL", "http://127.0.0.1:8000").rstrip("/")
    headers = None if args.local else _stack(url)
    if headers is not None:
        rc, payload = analyze_on_stack(url, headers, files, args.symptoms, args.lang, args.format)
    else:
        from . import render

        body, images = asyncio.run(analyze_in_process(files, args.symptoms, args.lang, settings))
        rc = 0
        if args.format == "json":
            payload = json.dumps(body, ensure_ascii=False, indent=2).encode()
        elif args.format == "html":
            payload = render.html(body, images).encode()
        elif args.format == "fhir":
            payload = json.dumps(render.fhir(body, "cli"), ensure_ascii=False, indent=2).encode()
        else:
            font = settings.font_path()
            if font is None:
                print(json.dumps(error_body("pdf_unavailable", "缺少中文字体。 No CJK font installed."),
                                 ensure_ascii=False))
                return 2
            payload = render.pdf(body, images, font)
    if args.out is not None:
        args.out.write_bytes(payload)
        print(json.dumps({"written": str(args.out), "bytes": len(payload)}, ensure_ascii=False))
    else:
        sys.stdout.buffer.write(payload + (b"\n" if not payload.endswith(b"\n") else b""))
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
