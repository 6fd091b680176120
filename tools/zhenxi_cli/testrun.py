"""``zhenxi test``: every suite against real Postgres, Redis and NATS. Each service is its own pytest process
(every service's package is called ``app``). Exit code 5 ("no tests collected") counts as success."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from . import infra
from .web import ensure_apt_packages, ensure_web_deps
from .topology import ROOT, components

NO_TESTS = 5


def suites() -> list[tuple[str, Path]]:
    out = [("libs", ROOT / "libs" / "common"), ("knowledge", ROOT / "libs" / "knowledge")]
    out += [(c.name, c.directory) for c in components()]
    out.append(("cross-service", ROOT / "tests"))
    return [(n, d) for n, d in out if (d / "tests").is_dir() or n == "cross-service" and d.is_dir()]


def _counts(xml_path: Path) -> tuple[int, int, int]:
    if not xml_path.exists():
        return 0, 0, 0
    root = ET.parse(xml_path).getroot()
    suites_ = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites_)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites_)
    skipped = sum(int(s.get("skipped", 0)) for s in suites_)
    return tests - failed - skipped, failed, skipped


TRAIN_VENV = ROOT / ".venv-train"
APT_LIST = ROOT / "deploy" / "apt-packages.txt"


def ensure_system_packages() -> None:
    """The Debian packages the suites need (CJK fonts for the synthetic lab reports), as .ci/run installs them:
    only the missing ones, only where apt-get exists and we are root. Otherwise a clear warning: the OCR tests
    that need a CJK font then fail and say which package to install."""
    if not APT_LIST.exists():
        return
    # one package a line; '#' starts a comment, on its own line or after the name
    wanted = [name for ln in APT_LIST.read_text(encoding="utf-8").splitlines()
              if (name := ln.split("#", 1)[0].strip())]
    missing = [p for p in wanted if subprocess.call(["dpkg", "-s", p], stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL) != 0] if shutil.which("dpkg") else wanted
    if not missing:
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        print(f"zhenxi: warning: missing Debian packages {' '.join(missing)} (not root or no apt-get); "
              "install them for the OCR tests", flush=True)
        return
    print(f"zhenxi: installing Debian packages the tests need: {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ok = subprocess.call(["apt-get", "update", "-qq"], env=env) == 0 and subprocess.call(
        ["apt-get", "install", "-y", "-qq", *missing], env=env, stdout=subprocess.DEVNULL) == 0
    if not ok:
        print("zhenxi: warning: apt-get install failed; the OCR tests that need a CJK font will fail", flush=True)


def ensure_training_env() -> None:
    """The optional torch environment of the x-ray fine-tuning worker (CPU torch pinned by constraints), so its
    end-to-end test runs instead of skipping. A failure here only warns: that test then skips with its reason."""
    py = TRAIN_VENV / "bin" / "python"
    trainer = ROOT / "services" / "xray" / "trainer" / "requirements.txt"
    constraints = ROOT / "services" / "xray" / "training" / "constraints.txt"
    stamp = TRAIN_VENV / ".zhenxi-deps"
    digest = hashlib.sha256(trainer.read_bytes() + constraints.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    print("zhenxi: preparing the training environment (.venv-train, CPU torch)", flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(TRAIN_VENV)],
        [str(py), "-m", "pip", "install", "--quiet", "-c", str(constraints), "torch==2.13.0"],
        [str(py), "-m", "pip", "install", "--quiet", "-c", str(constraints), "-r", str(trainer),
         "-e", str(ROOT / "libs" / "common")],
    ]
    for step in steps:
        if subprocess.call(step) != 0:
            print(f"zhenxi: warning: could not prepare .venv-train ({' '.join(step[:4])}…)", flush=True)
            return
    stamp.write_text(digest)


def run(args) -> int:
    selected = set(args.suites or [])
    ensure_system_packages()
    if args.with_training:
        ensure_training_env()
    ensure_apt_packages()
    if not selected or selected & {"gateway", "cross-service"}:
        ensure_web_deps()
    results_dir = infra.STATE / "test-results"
    results_dir.mkdir(parents=True, exist_ok=True)
    totals = [0, 0, 0]
    bad: list[str] = []
    with infra.resolve() as inf:
        env = dict(os.environ)
        env.update(inf.env())
        env["ZHENXI_ENV"] = "test"
        for name, directory in suites():
            if selected and name not in selected:
                continue
            xml = results_dir / f"{name}.xml"
            xml.unlink(missing_ok=True)
            testdir = directory if name == "cross-service" else directory / "tests"
            cmd = [sys.executable, "-m", "pytest", str(testdir), "-q", "-p", "no:cacheprovider",
                   f"--junitxml={xml}", "--rootdir", str(directory), *args.pytest_args]
            print(f"\n===== {name} ({directory.relative_to(ROOT)}) =====", flush=True)
            t0 = time.monotonic()
            code = subprocess.call(cmd, cwd=directory, env=env)
            passed, failed, skipped = _counts(xml)
            print(f"----- {name}: exit {code}, {passed} passed, {failed} failed, {skipped} skipped "
                  f"in {time.monotonic() - t0:.0f}s", flush=True)
            if code not in (0, NO_TESTS):
                bad.append(name)
                failed = max(failed, 1)
            totals[0] += passed
            totals[1] += failed
            totals[2] += skipped
    print()
    if bad:
        print(f"failing suites: {', '.join(bad)}")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if bad else 0
