"""The product's core flow as a contract: ocr's ``LabReport`` for a synthetic lab sheet, posted as it is to nlp's
interpretation API, gives an interpretation for every abnormal item. Both services run as real processes (real
OCR models, real knowledge) on the test database, Redis and NATS; requests are signed as the gateway signs them."""
import os
import random
import sys
from pathlib import Path

import cv2
import httpx
import pytest

from zhenxi_common.testing import free_port, running_service, signed
from zhenxi_knowledge import ABNORMAL_FLAGS, HIGH_FLAGS, LOW_FLAGS, get_knowledge

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "ocr" / "synth"))
import generate as synth  # noqa: E402

# Seeds picked so that each sheet prints abnormal results: a biochemistry sheet (H and L values, arrows) and a
# urinalysis sheet (positive qualitative results and a low value). The tests check the truth has them.
SHEETS = [("biochemistry", "contract-biochemistry-0"), ("urinalysis", "contract-urinalysis-1")]


@pytest.fixture(scope="module")
def services(zx_env):
    env = dict(os.environ)
    env["NLP_DENSE_RETRIEVAL"] = "false"  # interpretation needs no embeddings; keeps start-up short
    with running_service(ROOT / "services" / "ocr", free_port(), env, timeout_s=240) as ocr, \
            running_service(ROOT / "services" / "nlp", free_port(), env, timeout_s=240) as nlp:
        yield {"ocr": ocr, "nlp": nlp}


def _sheet(panel: str, seed: str) -> tuple[bytes, dict]:
    img, truth = synth.make_report(random.Random(seed), 0, synth.available_fonts(), distortion="clean", panel=panel)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return jpg.tobytes(), truth


def _direction(flag: str | None) -> str | None:
    return "high" if flag in HIGH_FLAGS else "low" if flag in LOW_FLAGS else flag


@pytest.mark.parametrize("panel,seed", SHEETS)
def test_lab_report_posted_as_is_is_interpreted_item_by_item(services, panel, seed):
    image, truth = _sheet(panel, seed)
    assert [i for i in truth["indicators"] if i["flag"] in ABNORMAL_FLAGS], "the sheet must print abnormal results"
    auth = signed("contract-user")
    with httpx.Client(timeout=120) as http:
        r = http.post(f"{services['ocr']}/v1/lab-reports:parse", files={"file": ("sheet.jpg", image, "image/jpeg")},
                      auth=auth)
        assert r.status_code == 200, r.text
        report = r.json()
        abnormal = [i for i in report["indicators"] if i["flag"] in ABNORMAL_FLAGS]
        # ocr read abnormal results off the sheet, as printed (how many it finds is the ocr bench's business)
        printed = {i["code"]: i["flag"] for i in truth["indicators"]}
        assert len(abnormal) >= 2 and all(_direction(printed[i["code"]]) == _direction(i["flag"]) for i in abnormal)

        r = http.post(f"{services['nlp']}/v1/interpretations", json=report, auth=auth)  # as it is
        assert r.status_code == 200, r.text
    body = r.json()
    assert body["knowledge_version"] == report["knowledge_version"] == get_knowledge().version
    rows = {row["code"]: row for row in body["indicators"]}
    assert not body["unknown_indicators"]
    for item in abnormal:
        row = rows[item["code"]]
        assert row["flag"] in ABNORMAL_FLAGS and _direction(row["flag"]) == _direction(item["flag"]), (item, row)
        exp = row["explanation"]
        assert exp and exp["meaning"] and exp["source"]["id"].startswith(f"interpretation:{item['code']}"), row
    normal = [i for i in report["indicators"] if i["flag"] in ("N", "NEG")]
    assert normal and all(rows[i["code"]]["explanation"] is None for i in normal)


def test_a_printed_mark_the_range_contradicts_is_kept_and_named_on_both_sides(services):
    """Issue 9, the sheet is the truth: a blood count marks ↑/↓ beside values inside their printed ranges. ocr
    keeps the mark as the row's flag and warns; nlp, given ocr's printed flag as the report service sends it,
    keeps it too and names what the range alone gives."""
    img, marked = synth.make_marked_report(random.Random("contract-printed-flag"), synth.available_fonts())
    assert len(marked) >= 2
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    auth = signed("contract-user")
    with httpx.Client(timeout=120) as http:
        r = http.post(f"{services['ocr']}/v1/lab-reports:parse",
                      files={"file": ("sheet.jpg", jpg.tobytes(), "image/jpeg")}, auth=auth)
        assert r.status_code == 200, r.text
        report = r.json()
        read = [i for i in report["indicators"] if i["code"] in marked and i["flag_printed"] == marked[i["code"]]]
        assert read, report["indicators"]
        warned = {w.get("indicator") for w in report["warnings"] if w["code"] == "flag_disagrees_with_range"}
        assert {i["code"] for i in read} <= warned
        payload = {"indicators": [{"code": i["code"], "value": i["value"], "unit": i["unit"],
                                   "reference": {"low": i["reference"]["low"], "high": i["reference"]["high"]},
                                   "flag": i["flag_printed"]} for i in report["indicators"] if i["code"]],
                   "sex": "male", "age": 40}
        r = http.post(f"{services['nlp']}/v1/interpretations", json=payload, auth=auth)
        assert r.status_code == 200, r.text
    rows = {row["code"]: row for row in r.json()["indicators"]}
    for i in read:
        row = rows[i["code"]]
        assert row["flag"] == marked[i["code"]] and row["explanation"], row
        assert row["flag_disagreement"] == {"printed": marked[i["code"]], "from_range": "N",
                                            "range_source": "report"}, row
