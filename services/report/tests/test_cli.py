"""``./zhenxi analyze`` without a stack: the services' pipelines in-process, the report composed locally."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT


def analyze(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZHENXI_URL": "http://127.0.0.1:9"}   # nothing listens there: in-process mode
    return subprocess.run([sys.executable, "-m", "zhenxi_cli", "analyze", *args], cwd=ROOT, env={
        **env, "PYTHONPATH": str(ROOT / "tools")}, capture_output=True, text=True, timeout=timeout)


def test_analyze_symptoms_in_process_prints_the_report_json():
    p = analyze("--symptoms", "突然胸口剧烈疼痛，出冷汗，喘不上气")
    assert p.returncode == 0, p.stderr[-2000:]
    body = json.loads(p.stdout)
    assert body["sections"]["symptoms"]["status"] == "done"
    assert body["urgent"] is True and body["summary"][0]["template"] == "red_flag"   # a red flag leads
    assert body["disclaimer"]["text"]


def test_analyze_with_nothing_is_a_clear_error():
    p = analyze(timeout=60)
    assert p.returncode == 2
    assert json.loads(p.stdout)["error"]["code"] == "empty_report"
