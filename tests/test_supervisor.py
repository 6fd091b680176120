"""``zhenxi up``'s supervisor with real services on real Postgres, Redis and NATS (issue #11, point 1): a SIGKILLed
service is restarted while the others keep serving, the log says why it died, a service that cannot start is
given up on after N fast crashes, and SIGINT (Ctrl-C) stops everything. Waits are bounded; assertions are on
behaviour, not on how long it took."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from zhenxi_common.testing import free_port, migrate

ROOT = Path(__file__).resolve().parents[1]
GUARD_S = 90.0

RUNNER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from zhenxi_cli.supervisor import ProcessSpec, Supervisor
specs = [ProcessSpec(**s) for s in json.loads(sys.argv[2])]
sys.exit(Supervisor(specs, backoff_s=0.2, fast_crash_s=30, max_fast_crashes=3, stop_timeout_s=10).run())
"""


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {GUARD_S:g} s: {what}")
        time.sleep(0.2)


def _pids_serving(port: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (d / "cmdline").read_bytes().split(b"\0")
                if b"uvicorn" in b" ".join(cmd) and str(port).encode() in cmd:
                    pids.append(int(d.name))
    return pids


def _spec(name: str, port: int, env: dict[str, str]) -> dict:
    return {"name": name, "cwd": str(ROOT / "services" / name.split("-")[0]), "env": env,
            "cmd": [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
                    "--port", str(port), "--no-access-log", "--no-proxy-headers"]}


@pytest.fixture
def supervised(zx_env, tmp_path):
    env = dict(os.environ)
    for name in ("tips", "booking"):
        migrate(ROOT / "services" / name, env)
    ports = {"tips": free_port(), "booking": free_port(), "tips-misconfigured": free_port()}
    # A real service that cannot start: production settings with placeholder secrets are refused at start-up.
    broken = {**env, "ZHENXI_ENV": "prod", "INTERNAL_SIGNING_KEY": "dev-insecure-change-me"}
    specs = [_spec("tips", ports["tips"], env), _spec("booking", ports["booking"], env),
             _spec("tips-misconfigured", ports["tips-misconfigured"], broken)]
    log_path = tmp_path / "supervisor.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(ROOT / "tools"), json.dumps(specs)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    try:
        yield proc, urls, ports, log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for port in ports.values():  # never leave a service behind
            for pid in _pids_serving(port):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_a_killed_service_is_restarted_and_the_others_keep_running(supervised):
    proc, urls, ports, log_path = supervised
    _wait(lambda: _ready(urls["tips"]) and _ready(urls["booking"]), "tips and booking ready")
    _wait(lambda: "giving up on it" in log_path.read_text(), "the misconfigured service given up on")
    log = log_path.read_text()
    assert "tips-misconfigured exited with code" in log and "crashed 3 times in a row" in log
    assert _ready(urls["tips"]) and _ready(urls["booking"])  # the crashing one took nobody down

    [victim] = _pids_serving(ports["tips"])
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: "tips killed by SIGKILL" in log_path.read_text(), "the death logged with its cause")
    # booking never noticed; tips comes back as a new process.
    assert _ready(urls["booking"])
    _wait(lambda: _ready(urls["tips"]) and _pids_serving(ports["tips"]) not in ([], [victim]), "tips restarted")
    assert proc.poll() is None
    assert "Restarting in" in log_path.read_text()

    # Ctrl-C: the supervisor stops every process and exits cleanly.
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=GUARD_S) == 0
    assert not _ready(urls["tips"]) and not _ready(urls["booking"])
    assert _pids_serving(ports["tips"]) == [] and _pids_serving(ports["booking"]) == []
