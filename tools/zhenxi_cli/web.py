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


def ensure_apt_packages(log=print) -> None:
    """The Debian packages of deploy/apt-packages.txt (CJK fonts, chromium for the browser tests): installed when
    missing and this is root on a Debian-like system, otherwise named so the developer can install them."""
    import os

    listing = ROOT / "deploy" / "apt-packages.txt"
    wanted = [line.split("#", 1)[0].strip() for line in listing.read_text().splitlines()]
    wanted = [w for w in wanted if w]
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return
    missing = [p for p in wanted if subprocess.call([dpkg, "-s", p], stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL) != 0]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log(f"zhenxi: warning: missing Debian packages {' '.join(missing)} (apt-get install -y ...); "
            "the tests that need them skip")
        return
    log(f"zhenxi: installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.call(["apt-get", "install", "-y", "-qq", *missing], env=env, stdout=subprocess.DEVNULL) != 0:
        subprocess.call(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
        subprocess.call(["apt-get", "install", "-y", "-qq", *missing], env=env, stdout=subprocess.DEVNULL)
