"""The optional LLM may reword the summary but never change numbers or safety text (a local server speaking the
OpenAI chat-completions contract stands in for the operator's model)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from zhenxi_common.testing import signed

from conftest import sample


class _ChatServer(BaseHTTPRequestHandler):
    """A local server speaking the OpenAI chat-completions contract. It rewords every line and, on purpose,
    changes the number in one of them, which the report must refuse."""
    seen: list = []

    def do_POST(self):  # noqa: N802
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(req)
        lines = req["messages"][-1]["content"].split("\n\n", 1)[1].splitlines()
        out = [f"（通俗说法）{ln}" for ln in lines]
        out[0] = out[0].replace("3", "9")
        body = json.dumps({"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "\n".join(out)}, "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_llm_rewords_only_and_keeps_numbers_and_safety_text(client):
    from app.llm import OpenAICompatibleWriter, SummaryRewriter

    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    engine = client.app.state.engine_worker
    try:
        engine.rewriter = SummaryRewriter(OpenAICompatibleWriter(f"http://127.0.0.1:{server.server_port}/v1", "local"))
        r = client.post("/v1/reports?wait=true", files=[("lab", ("c.jpg", sample("lab_cbc_synthetic_critical.jpg"),
                                                                  "image/jpeg"))], auth=signed("llm-user"))
    finally:
        engine.rewriter = None
        server.shutdown()
    body = r.json()["report"]
    assert _ChatServer.seen, "the writer was not called"
    sent = _ChatServer.seen[-1]["messages"][-1]["content"]
    reworded = [s for s in body["summary"] if s.get("reworded_by") == "llm"]
    kept = [s for s in body["summary"] if "reworded_by" not in s]
    assert reworded and all(s["text"].startswith("（通俗说法）") for s in reworded)
    # the line whose number the LLM changed keeps its template wording
    assert any(s["template"] not in ("critical_value", "red_flag") for s in kept)
    for s in body["summary"]:
        if s["template"] in ("critical_value", "red_flag"):
            assert "reworded_by" not in s and s["text"] not in sent     # safety text never leaves
    assert body["disclaimer"]["text"] not in sent and body["urgent_banner"]["text"] not in sent
