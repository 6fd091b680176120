"""Report tests run against real Postgres, Redis and NATS (the plugin's ``zx_env``) and real ocr, xray and nlp
processes, which the fault tests kill, pause (SIGSTOP) and bring back."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from zhenxi_common.testing import free_port, migrate

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
SERVICE_DIR = HERE.parent
ROOT = SERVICE_DIR.parents[1]
SAMPLES = SERVICE_DIR / "samples"


class ServiceProcess:
    """A real service under uvicorn that a test can stop, kill, pause and restart."""

    def __init__(self, name: str, env: dict[str, str], port: int | None = None) -> None:
        self.name = name
        self.dir = ROOT / "services" / name
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> "ServiceProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log"],
            cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def start(self, timeout_s: float = 180.0) -> "ServiceProcess":
        return self.spawn().wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float = 180.0) -> "ServiceProcess":
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.proc.stderr.read().decode()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                r = httpx.get(f"{self.url}/readyz", timeout=1)
                if r.status_code == 200 and r.json().get("service") == self.name:
                    return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after {timeout_s}s")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def upstreams(zx_env):
    """ocr, xray and nlp as real processes on this run's database (each migrates its own schema)."""
    env = dict(os.environ)
    procs = {name: ServiceProcess(name, env) for name in ("ocr", "xray", "nlp")}
    for p in procs.values():
        migrate(p.dir, env)
    try:
        for p in procs.values():     # all three load their models at once
            p.spawn()
        for p in procs.values():
            p.wait_ready()
        yield procs
    finally:
        for p in procs.values():
            p.stop()


@pytest.fixture(scope="session")
def report_env(zx_env, upstreams, tmp_path_factory) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "REPORT_OCR_URL": upstreams["ocr"].url, "REPORT_XRAY_URL": upstreams["xray"].url,
        "REPORT_NLP_URL": upstreams["nlp"].url,
        # Short enough that a paused service makes its section unavailable quickly; long enough for a CPU
        # shared with other work to finish a real OCR or X-ray analysis.
        "REPORT_OCR_TIMEOUT_S": "25", "REPORT_XRAY_TIMEOUT_S": "25", "REPORT_NLP_TIMEOUT_S": "8",
        "REPORT_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
        "REPORT_WORKER_POLL_S": "0.5",
    })
    return env


@pytest.fixture(scope="session")
def report_app_env(report_env):
    saved = {k: os.environ.get(k) for k in report_env}
    os.environ.update(report_env)
    yield report_env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def client(report_app_env):
    """The report app wired to the real upstream processes (one app per run: a second one would be a second
    worker claiming the same reports)."""
    from app.config import Settings
    from app.main import create_app

    with TestClient(create_app(Settings())) as c:
        yield c


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()
