"""The lab section's indicator rows when the interpretation is missing: OCR's own flags are what is left."""
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
