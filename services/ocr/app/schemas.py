"""Public contract of the ocr service."""
from typing import Literal

from pydantic import BaseModel, Field


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


# The shared flag vocabulary (zhenxi_knowledge.FLAGS): L N H, LL HH beyond critical limits, POS NEG for
# qualitative results, ABN abnormal without a direction.
Flag = Literal["L", "N", "H", "LL", "HH", "POS", "NEG", "ABN"]


class Reference(BaseModel):
    low: float | None = None
    high: float | None = None
    text: str | None = None
    source: Literal["printed", "default", "adult_default"] | None = Field(
        None, description="printed on the sheet; or the knowledge-base default when none was printed "
                          "(adult_default: the patient is a child and only an adult range is known — not used to flag)")


class FieldConfidence(BaseModel):
    name: float
    value: float
    unit: float
    reference: float
    flag: float
    structure: float | None = None


class Indicator(BaseModel):
    code: str | None = Field(description="canonical code from knowledge/indicators, e.g. WBC, HGB, GLU; null for a "
                                         "printed row the knowledge base does not know (returned as printed)")
    name: str
    name_en: str | None
    loinc: str | None
    panel: str | None
    value: float | None = Field(description="number in `unit` (converted to the canonical unit when the sheet "
                                            "printed another); null for qualitative results")
    value_text: str = Field(description="the result as printed")
    name_printed: str | None = Field(None, description="the indicator's name as printed (OCR text)")
    value_printed: str | None = Field(None, description="the result as printed, without its flag mark")
    range_printed: str | None = Field(None, description="the reference range as printed, null when none")
    unit_printed: str | None = Field(None, description="the unit as printed, null when none")
    flag_mark: str | None = Field(None, description="the flag mark as printed (↑, H, 偏高, *), null when none")
    row_confidence: float | None = Field(None, description="recognition scores combined with structural "
                                                           "agreement (value parses, unit fits, value/range/arrow "
                                                           "agree)")
    comparator: Literal["<", "<=", ">", ">="] | None = None
    qualitative: str | None = Field(None, description="negative | trace | positive | 1+ .. 4+")
    unit: str | None
    unit_text: str | None = Field(description="the unit as printed, null when none was printed")
    reference: Reference
    flag: Flag | None = Field(description="the sheet's flag: the printed arrow/letter when present, else value vs "
                                          "the printed range, else vs the knowledge base's range; HH/LL only where "
                                          "the sheet prints them (↑↑, HH); POS/NEG for qualitative results. A "
                                          "critical value never overrides it: see `critical` / `flag_critical`")
    flag_printed: Flag | None
    flag_computed: Flag | None
    critical: bool = Field(description="value beyond the knowledge base's critical (危急值) limits, whatever the "
                                       "sheet printed (a `critical_value` warning names it)")
    flag_critical: Literal["HH", "LL"] | None = Field(None, description="HH / LL when the value is beyond the "
                                                                        "knowledge base's critical high / low limit, "
                                                                        "else null: what critical alerts read")
    confidence: float = Field(description="recognition score (value, name) times the structural agreement "
                                          "(field_confidence.structure); needs_review when below 0.80")
    field_confidence: FieldConfidence
    needs_review: bool = Field(description="confidence below 0.80, a name from structure alone, or a name that is a "
                                           "guess (review reason name_uncertain), or a doubt that always asks for "
                                           "review (flag_not_decided, equivocal_without_mark, decimal_point_lost)")
    review_reasons: list[str]
    box: list[float] = Field(description="x0, y0, x1, y1 on the normalised (deskewed, upright) page")
    row: int | None = Field(None, description="the row number printed on the sheet, when it numbers its rows")
    page: int


class Header(BaseModel):
    hospital: str | None = None
    report_title: str | None = None
    sample_type: str | None = None
    sex: Literal["male", "female"] | None = None
    age: int | None = Field(None, description="completed years as the header prints the age (an infant of 8 months: 0)")
    age_years: float | None = Field(None, description="the age in years with months and days as fractions (8 months: "
                                                      "0.667; 15 days: 0.041): what default ranges are chosen by")
    collected_at: str | None = None
    received_at: str | None = None
    reported_at: str | None = None
    tested_at: str | None = None


class Warning_(BaseModel):
    code: str
    message: str
    indicator: str | None = None
    page: int | None = Field(None, description="the page (or the sheet of a photo holding two) the warning is about")
    details: dict | None = Field(None, description="reshoot_suggested: reasons (row_numbers_missing, "
                                                   "result_not_read, low_confidence_rows, names_not_read, "
                                                   "rows_not_returned, row_pitch_gap, flag_not_decided, "
                                                   "mark_not_read, decimal_point_lost), expected_rows, read_rows, "
                                                   "missing_rows, rows_without_result, low_confidence_rows, "
                                                   "names_not_read, rows_not_returned, row_gaps, rows_without_flag, "
                                                   "rows_without_mark (a +/- mark seen in its cell, not read), "
                                                   "rows_point_lost (a whole number whose decimal point was lost); "
                                                   "sheets_read_apart: sheets (several report sheets side by side "
                                                   "in one photo, each read as a page of its own; each sheet's "
                                                   "report type and header in quality.sheets)")


class LabReport(BaseModel):
    report_type: str
    header: Header
    indicators: list[Indicator]
    warnings: list[Warning_]
    quality: dict
    timings_ms: dict[str, float]
    knowledge_version: str
    layout: dict | None = Field(None, description="header_rows: column header rows found (0 → orientation retried)")
