"""The pytest plugin's own helpers: ports are never handed out twice, and a service is only "ready" when the process
answering on its port is that service."""
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

from zhenxi_common.testing import free_port, running_service

ROOT = Path(__file__).resolve().parents[3]


def test_free_port_never_repeats_within_a_process():
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_a_port_answered_by_another_service_is_not_ready():
    class Impostor(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"status": "ready", "service": "reminders"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match="served by 'reminders'"):
            with running_service(ROOT / "services" / "tips", port, dict(os.environ), timeout_s=20, migrate_first=False):
                pass
    finally:
        server.shutdown()
