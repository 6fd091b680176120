"""POST /v1/lab-reports:parse on the real service stack (Postgres/Redis/NATS via the zx_env fixture)."""
from zhenxi_common.testing import signed

from factories import encode, natural_scene, report, requires_cjk_font, side_by_side

URL = "/v1/lab-reports:parse"

pytestmark = requires_cjk_font


def test_parse_returns_indicators(client):
    img, truth = report(seed=31, layout="classic", distortion="clean", panel="kidney")
    r = client.post(URL, files={"file": ("r.jpg", encode(img), "image/jpeg")}, auth=signed("u-ocr"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"report_type", "header", "indicators", "warnings", "quality", "timings_ms"}
    got = {i["code"] for i in body["indicators"]}
    assert got == {g["code"] for g in truth["indicators"]}  # every row, nothing invented (rates: the bench)
    assert got <= {g["code"] for g in truth["indicators"]}


def test_two_reports_in_one_photo_come_back_as_two_pages(client):
    """Over HTTP, two sheets in one photo: each indicator and each warning says which sheet it belongs to, and
    quality.sheets gives each sheet's report type."""
    a, a_truth = report(seed=11, layout="classic", distortion="clean", panel="liver")
    b, b_truth = report(seed=14, layout="classic", distortion="clean", panel="electrolytes")
    r = client.post(URL, files={"file": ("two.jpg", encode(side_by_side(a, b)), "image/jpeg")}, auth=signed("u-ocr"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["report_type"] for s in body["quality"]["sheets"]] == ["liver", "electrolytes"]
    for page, truth in ((0, a_truth), (1, b_truth)):
        assert {i["code"] for i in body["indicators"] if i["page"] == page} == {g["code"] for g in truth["indicators"]}
    split = [w for w in body["warnings"] if w["code"] == "sheets_read_apart"]
    assert len(split) == 1 and "page" in split[0]  # (the warnings' schema carries the page)
    assert all(w["page"] in (0, 1) for w in body["warnings"] if w is not split[0])


def test_parse_fhir(client):
    img, _ = report(seed=32, layout="two_column", distortion="clean", panel="blood_routine")
    r = client.post(URL + "?format=fhir", files={"file": ("r.png", encode(img, ".png"), "image/png")},
                    auth=signed("u-ocr"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.json()["resourceType"] == "Bundle" and r.json()["entry"]


def test_bad_inputs_are_clear_4xx(client):
    cases = [
        (("x.txt", b"just some text", "text/plain"), 415, "unsupported_media_type"),
        (("x.jpg", b"\xff\xd8\xff\xe0 truncated", "image/jpeg"), 422, "image_unreadable"),
        (("cat.jpg", encode(natural_scene()), "image/jpeg"), 422, "not_a_document"),
    ]
    for file, status, code in cases:
        r = client.post(URL, files={"file": file}, auth=signed("u-ocr"))
        assert r.status_code == status, (code, r.text)
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["details"]["hint"]


def test_requires_gateway_identity(client):
    img, _ = report(seed=33, layout="classic", distortion="clean", panel="lipids")
    r = client.post(URL, files={"file": ("r.jpg", encode(img), "image/jpeg")})
    assert r.status_code == 401


def test_missing_file_is_validation_error(client):
    r = client.post(URL, auth=signed("u-ocr"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_a_file_over_the_upload_limit_meets_the_routes_own_413(client):
    # the request body may hold a whole allowed file and its envelope: a file one byte over the upload limit gets
    # the route's image_too_large (with its bilingual message), not the platform's generic payload_too_large
    from app.config import Settings

    limit = Settings().max_upload_bytes
    assert Settings().max_body_bytes > limit
    r = client.post(URL, files={"file": ("big.jpg", b"\xff\xd8\xff" + b"\0" * (limit - 2), "image/jpeg")},
                    auth=signed("u-ocr"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "image_too_large", r.text


def test_the_openapi_document_declares_the_fhir_answer(client):
    # format=fhir answers as application/fhir+json (a Bundle): the document says so beside the JSON report
    doc = client.get("/openapi.json").json()
    content = doc["paths"]["/v1/lab-reports:parse"]["post"]["responses"]["200"]["content"]
    assert "application/json" in content
    assert content["application/fhir+json"]["schema"]["properties"]["resourceType"]["enum"] == ["Bundle"]
