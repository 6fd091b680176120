"""``./zhenxi analyze`` against a running stack: every service and the gateway as real processes (the ``platform``
fixture); the command logs in through the gateway and the report is the user's own, stored by the report service."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CXR = ROOT / "services" / "report" / "samples" / "cxr_nih_00000075_000.png"


def analyze(gw: str, creds: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZHENXI_URL": gw, "ZHENXI_USERNAME": creds["username"],
           "ZHENXI_PASSWORD": creds["password"], "PYTHONPATH": str(ROOT / "tools")}
    env.pop("ZHENXI_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "zhenxi_cli", "analyze", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=420)


def test_analyze_runs_on_the_stack_and_the_report_is_the_users(platform):
    gw = platform["gateway"]
    creds = {"username": f"cli_{uuid.uuid4().hex[:8]}", "password": "cli-password-1"}
    assert httpx.post(f"{gw}/api/auth/register", json=creds, timeout=30).status_code == 201
    token = httpx.post(f"{gw}/api/auth/login", json=creds, timeout=30).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    p = analyze(gw, creds, "--xray", str(CXR), "--symptoms", "咳嗽三天，有点发烧")
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    body = json.loads(p.stdout)
    report_id = str(uuid.UUID(body["id"]))          # a stored report (in-process mode has no id of its own)
    assert body["sections"]["symptoms"]["status"] == "done"
    assert body["sections"]["xray"]["status"] == "done"
    assert body["sections"]["xray"]["images"][0]["overlays"]     # derived images stored by the report service
    listed = httpx.get(f"{gw}/api/report/v1/reports", headers=auth, timeout=30).json()
    assert report_id in [r["id"] for r in listed["items"]]

    p = analyze(gw, creds, "--symptoms", "头痛两天", "--format", "fhir")
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    bundle = json.loads(p.stdout)
    assert bundle["resourceType"] == "Bundle"
    listed = httpx.get(f"{gw}/api/report/v1/reports", headers=auth, timeout=30).json()
    assert len(listed["items"]) == 2

