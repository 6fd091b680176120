"""The lab section's indicator rows when the interpretation is missing: OCR's own flags are what is left."""
from pathlib import Path

from app.fanout import _indicator_rows


def _ocr_row(**kw):
    base = {"code": "WBC", "name": "白细胞计数", "value": 35.2, "value_text": "35.2", "unit": "10^9/L",
            "reference": {"low": 3.5, "high": 9.5, "text": "3.5-9.5", "source": "printed"}, "flag": "H",
            "critical": True, "flag_critical": "HH", "needs_review": False}
    return base | kw


def test_ocrs_critical_flag_keeps_the_alert_when_nlp_gave_no_interpretation():
    """OCR returns the sheet's H beside its own critical flag HH (issue 9); the report row keeps #10's HH."""
    rows = _indicator_rows([_ocr_row(), _ocr_row(code="PLT", value=20, flag="L", flag_critical="LL"),
                            _ocr_row(code="NEUT#", value=25, flag="L", flag_critical="HH"),
                            _ocr_row(code="HGB", value=140, flag="N", critical=False, flag_critical=None)],
                           {"error": {"code": "unavailable"}})
    by = {r["code"]: r for r in rows}
    assert (by["WBC"]["flag"], by["WBC"]["critical"]) == ("HH", True)
    assert (by["PLT"]["flag"], by["PLT"]["critical"]) == ("LL", True)
    # the sheet's direction is never turned round: a printed ↓ stays L, and the row is still critical
    assert (by["NEUT#"]["flag"], by["NEUT#"]["critical"]) == ("L", True)
    assert (by["HGB"]["flag"], by["HGB"]["critical"]) == ("N", False)


def test_nlps_flag_comes_first():
    rows = _indicator_rows([_ocr_row()], {"indicators": [{"code": "WBC", "flag": "HH", "status": "critical_high"}]})
    assert rows[0]["flag"] == "HH" and rows[0]["critical"] is True


def test_the_sheets_printed_flag_travels_to_nlp():
    """What the report sends nlp for a row: the sheet's printed mark when there is one (issue 9), nothing
    otherwise (nlp then flags the value against the range, as before)."""
    from app.fanout import _nlp_indicator

    assert _nlp_indicator(_ocr_row(flag_printed="H"))["flag"] == "H"
    assert "flag" not in _nlp_indicator(_ocr_row(flag_printed=None))   # OCR's computed flag is not sent as printed


def test_a_row_the_sheet_marks_keeps_its_mark_when_the_range_disagrees(upstreams, report_env):
    """A real sheet through real OCR and real nlp: rows whose value lies inside the printed range but which the
    sheet marks ↑ or ↓ come back with the sheet's flag, and the row names the disagreement; unmarked rows keep
    the value-vs-range flag."""
    import random
    import sys

    import anyio
    import cv2

    from zhenxi_common.identity import Identity

    from app.config import Settings
    from app.downstream import HttpDownstream
    from app.fanout import FileInput, ReportInputs, run_lab

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services" / "ocr" / "synth"))
    import generate as synth

    img, marked = synth.make_marked_report(random.Random("report-printed-flag"), synth.available_fonts())
    assert len(marked) >= 2, "the drawn sheet must hold normal rows to mark"
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok

    settings = Settings()
    ds = HttpDownstream(ocr_url=upstreams["ocr"].url, xray_url=upstreams["xray"].url, nlp_url=upstreams["nlp"].url,
                        signing_key=settings.internal_signing_key, timeouts={"ocr": 120, "xray": 25, "nlp": 60})

    async def go():
        try:
            return await run_lab(ds, Identity("printed-flag-user", "user"),
                                 ReportInputs(lab=[FileInput(0, jpg.tobytes(), "sheet.jpg", "image/jpeg")], sex="male",
                                              age=40))
        finally:
            await ds.aclose()

    lab = anyio.run(go)
    by = {r["code"]: r for r in lab["indicators"]}
    read_marked = [c for c in marked if c in by and by[c]["flag_printed"] == marked[c]]
    assert read_marked, (marked, {c: by.get(c) for c in marked})    # OCR read the marks (its bench's business)
    for code in read_marked:
        row = by[code]
        assert row["flag"] == marked[code], row
        assert row["flag_disagreement"] == {"printed": marked[code], "from_range": "N", "range_source": "report"}, row
    unmarked = [r for r in lab["indicators"] if r["code"] not in marked and r["flag_printed"] is None]
    assert unmarked and all(r["flag_disagreement"] is None for r in unmarked)
