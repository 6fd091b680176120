"""The web client's third-party browser modules (gateway/web/package.json, e.g. the charting library), installed
with ``npm ci`` by ``up`` and ``test`` and again only when the lock file changes. Nothing here is committed."""
from __future__ import annotations

import hashlib
import shutil
import subprocess

from .topology import ROOT

WEB = ROOT / "gateway" / "web"


def ensure_web_deps(log=print) -> bool:
    lock = WEB / "package-lock.json"
    stamp = WEB / "node_modules" / ".zhenxi-lock"
    if not lock.exists():
        return True
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return True
    npm = shutil.which("npm")
    if npm is None:
        log("zhenxi: warning: npm not found; the web client's charts will be missing (install Node.js 18+)")
        return False
    log("zhenxi: installing the web client's browser modules (npm ci)")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"zhenxi: warning: npm ci failed in gateway/web:\n{proc.stderr[-2000:]}")
        return False
    stamp.write_text(digest)
    return True
