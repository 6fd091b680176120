"""The dates a lab sheet prints, as the report stores them (history points, the report's date)."""
from datetime import UTC, datetime

from app.worker import parse_date


def test_a_sheets_time_without_a_zone_is_china_time():
    # '2026-12-01T08:30:00' from the OCR header is 08:30 on the sheet's clock (UTC+8), i.e. 00:30 UTC; stored as
    # 08:30 UTC it moved every sample eight hours later
    assert parse_date("2026-12-01T08:30:00") == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    assert parse_date("2026/12/01 08:30") == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    assert parse_date("2026-12-01T08:30:00+00:00") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def test_a_date_alone_stays_its_day():
    assert parse_date("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_date("not a date") is None and parse_date(None) is None
