"""API tests on the real stack (Postgres, Redis, NATS) through the gateway-signed identity."""
import pytest
from zhenxi_common.testing import signed

ME = signed("user-a")
OTHER = signed("user-b")


def test_interpretations(client):
    r = client.post("/v1/interpretations", auth=ME, json={
        "indicators": [{"code": "HGB", "value": 95, "unit": "g/L"}, {"code": "MCV", "value": "71"},
                       {"name": "空腹血糖", "value": 7.8, "unit": "mmol/L", "reference_range": "3.9-6.1"}],
        "sex": "female", "age": 40})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["urgency"] in ("soon", "urgent")
    assert "microcytic_anemia" in {p["id"] for p in body["patterns"]}
    glu = next(i for i in body["indicators"] if i["code"] == "GLU")
    assert glu["flag"] == "H" and glu["reference"]["source"] == "report"


def test_symptom_analysis(client):
    r = client.post("/v1/symptoms:analyze", auth=ME, json={"text": "咳嗽一周，有黄痰，没有发烧"})
    assert r.status_code == 200
    body = r.json()
    assert body["departments"][0]["id"] == "respiratory"
    assert "fever" in [s["id"] for s in body["negated_symptoms"]]
    assert body["routing"]["decided_by"] in {"rules", "model", "rules+model"}  # which evidence decided
    assert body["routing"]["model"][0]["id"] == "respiratory"


def test_disease_lookup(client):
    r = client.get("/v1/diseases", params={"finding": "Pneumothorax"}, auth=ME)
    assert r.status_code == 200
    assert "pneumothorax" in [d["id"] for d in r.json()["diseases"]]
    r = client.get("/v1/diseases/gout", auth=ME)
    assert r.status_code == 200 and r.json()["treatment"]


@pytest.mark.parametrize("method,path,payload,status,code", [
    ("post", "/v1/symptoms:analyze", {"text": ""}, 422, "empty_text"),
    ("post", "/v1/symptoms:analyze", {"text": "头" * 100_000}, 413, "text_too_long"),
    ("post", "/v1/symptoms:analyze", {}, 422, "validation_error"),
    ("post", "/v1/interpretations", {"indicators": [{"code": "NOPE", "value": 1}]}, 422, "unknown_indicators"),
    ("post", "/v1/interpretations", {"indicators": []}, 422, "validation_error"),
    ("get", "/v1/diseases?finding=Banana", None, 422, "unknown_finding"),
    ("get", "/v1/diseases", None, 422, "missing_query"),
    ("get", "/v1/diseases/not_a_disease", None, 404, "not_found"),
    ("post", "/v1/consultations", {"question": "   "}, 422, "empty_text"),
])
def test_bad_input_is_a_clear_4xx(client, method, path, payload, status, code):
    r = getattr(client, method)(path, auth=ME, **({"json": payload} if payload is not None else {}))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]


@pytest.mark.parametrize("text", ["😀🙏😭", "<img src=x onerror=alert(1)>", "1; DROP TABLE nlp.consultations;--",
                                  "ﾊﾟｿｺﾝ 안녕하세요 привет"])
def test_odd_text_is_handled_gracefully(client, text):
    r = client.post("/v1/symptoms:analyze", auth=ME, json={"text": text})
    assert r.status_code == 200
    assert r.json()["understood"] is False and r.json()["reason"]


def test_consultation_flow_and_privacy(client):
    r = client.post("/v1/consultations", auth=ME, json={"question": "高血压要注意什么？我的电话13812345678"})
    assert r.status_code == 201, r.text
    c = r.json()
    assert [m["role"] for m in c["messages"]] == ["user", "assistant"]
    assert "13812345678" not in c["messages"][0]["content"]  # identifiers are masked before storage
    answer = c["messages"][1]
    assert answer["kind"] == "answer" and answer["sources"][0]["id"] == "disease:hypertension"

    r = client.post(f"/v1/consultations/{c['id']}/messages", auth=ME, json={"content": "那平时吃什么药？"})
    assert r.status_code == 201
    assert r.json()["answer"]["sources"][0]["id"] == "disease:hypertension"

    r = client.post(f"/v1/consultations/{c['id']}/messages", auth=ME, json={"content": "突然说话不清楚，嘴歪了"})
    assert r.json()["answer"]["kind"] == "emergency"

    full = client.get(f"/v1/consultations/{c['id']}", auth=ME).json()
    assert len(full["messages"]) == 6

    # Another user can neither read nor write it, nor see it in their list.
    assert client.get(f"/v1/consultations/{c['id']}", auth=OTHER).status_code == 404
    assert client.post(f"/v1/consultations/{c['id']}/messages", auth=OTHER,
                       json={"content": "hi"}).json()["error"]["code"] == "consultation_not_found"
    assert c["id"] not in [x["id"] for x in client.get("/v1/consultations", auth=OTHER).json()["consultations"]]
    assert c["id"] in [x["id"] for x in client.get("/v1/consultations", auth=ME).json()["consultations"]]
    assert client.get("/v1/consultations/not-a-uuid", auth=ME).status_code == 404


def test_knowledge_info(client):
    body = client.get("/v1/knowledge", auth=ME).json()
    assert body["interpretations"] == body["indicators"] and body["diseases"] >= 200


def test_a_printed_flag_that_the_range_contradicts_comes_back_with_both(client):
    """The API keeps the sheet's printed flag and returns the disagreement (issue 9); without a printed flag the
    request is answered as before."""
    r = client.post("/v1/interpretations", auth=ME, json={"indicators": [
        {"code": "HGB", "value": 150, "unit": "g/L", "reference": {"low": 130, "high": 175}, "flag": "H"},
        {"code": "WBC", "value": 6.0, "unit": "10^9/L", "reference": {"low": 3.5, "high": 9.5}}], "sex": "male"})
    assert r.status_code == 200, r.text
    rows = {i["code"]: i for i in r.json()["indicators"]}
    assert rows["HGB"]["flag"] == "H"
    assert rows["HGB"]["flag_disagreement"] == {"printed": "H", "from_range": "N", "range_source": "report"}
    assert rows["WBC"]["flag"] == "N" and rows["WBC"]["flag_disagreement"] is None
