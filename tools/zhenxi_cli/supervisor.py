"""The local process supervisor behind ``zhenxi up``: the same intent as Compose's ``restart:`` and Kubernetes'
restart policy. One process dying does not stop the others; it is restarted with exponential back-off, and the
log says why it died (signal or exit code, and its last lines). After ``max_fast_crashes`` crashes in a row, each
within ``fast_crash_s`` of starting, it is given up on (logged) while the rest keep running. Ctrl-C (SIGINT) or
SIGTERM stops every process: SIGTERM first, SIGKILL after ``stop_timeout_s``.

Each child runs in its own session, so a Ctrl-C at the terminal reaches only the supervisor, which then stops
the children in order (their graceful shutdown is not raced by the terminal's signal)."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class ProcessSpec:
    name: str
    cmd: list[str]
    cwd: str
    env: dict[str, str]


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    fast_crashes: int = 0
    restart_at: float | None = None
    gave_up: bool = False
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=5))


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], *, out: TextIO = sys.stdout, backoff_s: float = 1.0,
                 backoff_max_s: float = 30.0, fast_crash_s: float = 10.0, max_fast_crashes: int = 5,
                 stop_timeout_s: float = 10.0) -> None:
        self.children = [_Child(s) for s in specs]
        self.out = out
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.fast_crash_s = fast_crash_s
        self.max_fast_crashes = max_fast_crashes
        self.stop_timeout_s = stop_timeout_s
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._width = max((len(s.name) for s in specs), default=6)

    # -- output -------------------------------------------------------------------------------------------------
    def log(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self._width}} | {line}\n")
            self.out.flush()

    def _pump(self, child: _Child, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            child.tail.append(line)
            self.log(child.spec.name, line)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def _start(self, child: _Child) -> None:
        s = child.spec
        child.tail.clear()
        child.proc = subprocess.Popen(s.cmd, cwd=s.cwd, env=s.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None
        threading.Thread(target=self._pump, args=(child, child.proc), daemon=True).start()
        self.log("system", f"{s.name} started (pid {child.proc.pid})")

    def _on_exit(self, child: _Child, returncode: int) -> None:
        uptime = time.monotonic() - child.started_at
        fast = uptime < self.fast_crash_s
        child.fast_crashes = child.fast_crashes + 1 if fast else 0
        why = describe_exit(returncode)
        last = f"; last output: {child.tail[-1][:300]}" if child.tail else ""
        child.proc = None
        if child.fast_crashes >= self.max_fast_crashes:
            child.gave_up = True
            self.log("system", f"{child.spec.name} {why} after {uptime:.1f} s{last}. It crashed "
                               f"{child.fast_crashes} times in a row within {self.fast_crash_s:g} s of starting: "
                               f"giving up on it; the other processes keep running")
            return
        delay = min(self.backoff_s * 2 ** max(child.fast_crashes - 1, 0), self.backoff_max_s)
        child.restart_at = time.monotonic() + delay
        self.log("system", f"{child.spec.name} {why} after {uptime:.1f} s{last}. Restarting in {delay:.1f} s "
                           f"(fast crash {child.fast_crashes} of {self.max_fast_crashes} in a row)")

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for c in running:
            self.log("system", f"stopping {c.spec.name} (pid {c.proc.pid})")
            _signal(c.proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for c in running:
            try:
                c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log("system", f"{c.spec.name} did not stop in {self.stop_timeout_s:g} s: SIGKILL")
                _signal(c.proc, signal.SIGKILL)
                c.proc.wait(timeout=5)

    def request_stop(self, *_: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        """Supervise until SIGINT/SIGTERM (returns 0) or until every process has been given up on (returns 1)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self.request_stop)
            signal.signal(signal.SIGTERM, self.request_stop)
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping.is_set():
                now = time.monotonic()
                for child in self.children:
                    if child.proc is not None and (code := child.proc.poll()) is not None:
                        self._on_exit(child, code)
                    elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
                        self._start(child)
                if all(c.gave_up for c in self.children):
                    self.log("system", "every process was given up on; stopping")
                    return 1
                self.stopping.wait(0.2)
            return 0
        finally:
            self._stop_all()


def _signal(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # the child and anything it spawned (its own session)
    except ProcessLookupError:
        pass
