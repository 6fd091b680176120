"""The report end to end through the real fan-out: lab photo + X-ray + symptoms, formats, history, privacy."""
from __future__ import annotations


import pytest

from zhenxi_common.testing import signed

from conftest import sample

LAB = "lab_cbc_synthetic.jpg"
CXR = "cxr_nih_00000075_000.png"


def post(client, user: str, *, lab=(), xray=(), symptoms=None, wait=True, lang="zh", **form):
    files = [("lab", (n, sample(n), "image/jpeg")) for n in lab] + [("xray", (n, sample(n), "image/png")) for n in xray]
    data = dict(form)
    if symptoms is not None:
        data["symptoms"] = symptoms
    data["lang"] = lang
    return client.post(f"/v1/reports?wait={'true' if wait else 'false'}", files=files or None, data=data,
                       auth=signed(user))


@pytest.fixture(scope="module")
def full(client):
    r = post(client, "alice", lab=[LAB], xray=[CXR], symptoms="咳嗽三天，有点发烧，胸口闷", sex="female", age="35")
    assert r.status_code == 200, r.text
    return r.json()


def test_full_report_has_every_section_done(full):
    assert full["status"] == "completed"
    assert {s["kind"]: s["status"] for s in full["sections"]} == {"lab": "done", "xray": "done", "symptoms": "done"}
    body = full["report"]
    lab = body["sections"]["lab"]
    codes = {i["code"]: i for i in lab["indicators"]}
    assert {"WBC", "HGB", "NEUT%"} <= set(codes)
    assert codes["NEUT%"]["flag"] == "L"                      # printed ↓ on the synthetic sheet
    assert codes["HGB"]["reference"]["low"] is not None        # the printed range travels along
    assert all(i["flag"] in (None, "L", "N", "H", "LL", "HH", "POS", "NEG", "ABN") for i in lab["indicators"])
    img = body["sections"]["xray"]["images"][0]
    assert img["findings"] and isinstance(img["cardiothoracic_ratio"], float)
    assert {o["label"] for o in img["overlays"]} >= {"overlay"}
    assert body["sections"]["symptoms"]["symptoms"]
    assert body["trends"] == []          # alice has no earlier report (trends across reports: test_history)


def test_summary_sentences_trace_to_knowledge_and_abnormal_first(full):
    body = full["report"]
    summary = body["summary"]
    assert summary
    for s in summary:
        assert s["sources"][0].startswith("report_template:"), s
    ranks = [s["template"] for s in summary]
    assert ranks.index("indicator_low") < ranks.index("symptoms_advice")
    assert any("中性粒细胞百分比" in s["text"] for s in summary if s["template"] == "indicator_low")
    assert body["disclaimer"]["text"] and "不构成诊断" in body["disclaimer"]["text"]
    for d in body["departments"]:
        assert d["booking_url"].endswith(f"department={d['id']}")


def test_formats_html_fhir_pdf(client, full):
    rid = full["id"]
    html = client.get(f"/v1/reports/{rid}?format=html", auth=signed("alice"))
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "data:image/png;base64," in html.text and "http://" not in html.text.split("<body>")[0]
    assert "中性粒细胞百分比" in html.text
    fhir = client.get(f"/v1/reports/{rid}?format=fhir", auth=signed("alice"))
    assert fhir.status_code == 200
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate(fhir.json())
    kinds = [e.resource.__resource_type__ for e in bundle.entry]
    assert kinds[0] == "DiagnosticReport" and "ImagingStudy" in kinds and "Observation" in kinds
    loinc = [c for e in fhir.json()["entry"] if e["resource"]["resourceType"] == "Observation"
             for c in e["resource"]["code"]["coding"] if c["system"] == "http://loinc.org"]
    assert loinc
    pdf = client.get(f"/v1/reports/{rid}?format=pdf", auth=signed("alice"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf.content)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "血红蛋白" in text or "中性粒细胞" in text    # CJK text is really in the PDF, with its font


def test_other_user_gets_404_everywhere(client, full):
    rid = full["id"]
    for method, path in (("GET", f"/v1/reports/{rid}"), ("DELETE", f"/v1/reports/{rid}"),
                         ("POST", f"/v1/reports/{rid}:retry"), ("GET", f"/v1/reports/{rid}/events"),
                         ("GET", f"/v1/reports/{rid}?format=pdf")):
        r = client.request(method, path, auth=signed("mallory"))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "report_not_found"
    assert client.get(f"/v1/reports/{rid}", auth=signed("alice")).status_code == 200


def test_empty_report_is_422(client):
    r = client.post("/v1/reports", data={"symptoms": "   "}, auth=signed("alice"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_report"
    r = client.post("/v1/reports", auth=signed("alice"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_report"


def test_wrong_file_type_is_refused_before_storing(client):
    r = client.post("/v1/reports", files=[("xray", ("a.txt", b"hello world, not an image", "image/png"))],
                    auth=signed("alice"))
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


def test_a_refused_lab_photo_is_said_in_the_summary_with_what_to_do(client):
    # a blurred photo the OCR refuses: the report still completes, and its summary (which the HTML, PDF and FHIR
    # downloads carry) says that photo was not read and how to retake it, rather than an empty, clean-looking report
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(sample(LAB), np.uint8), cv2.IMREAD_COLOR)
    blurred = cv2.imencode(".jpg", cv2.GaussianBlur(img, (0, 0), 6))[1].tobytes()
    r = client.post("/v1/reports?wait=true", files=[("lab", ("blur.jpg", blurred, "image/jpeg"))],
                    data={"lang": "zh"}, auth=signed("refused-photo-user"))
    assert r.status_code == 200, r.text
    body = r.json()["report"]
    photo = body["sections"]["lab"]["photos"][0]
    assert photo["error"]["code"] == "image_too_blurry" and photo["error"]["hint"]
    said = [s for s in body["summary"] if s["template"] == "lab_photo_refused"]
    assert len(said) == 1 and "第1张" in said[0]["text"] and photo["error"]["hint"] in said[0]["text"]
    assert body["summary"][0]["template"] == "lab_photo_refused"
