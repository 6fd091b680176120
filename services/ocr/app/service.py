"""Lab-report parsing, end to end: bytes → quality gate → geometry → OCR → layout → indicators.

``LabReportParser`` is the service layer: no FastAPI, no database. It keeps no personal data: the OCR text
itself is never returned or logged, only whitelisted header fields and matched indicators."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from . import geometry, imaging, quality
from .errors import NotADocumentError
from .inference import EngineOptions, OcrEngine, PageOcr
from .knowledge import Indicator, KnowledgeBase, load_knowledge
from .layout import analyse
from .parsing import RowItem, Token, choose_indicator, interpret, parse_row, same_direction
from .report_header import extract_header, report_type

log = logging.getLogger("zhenxi.ocr.service")
MIN_TEXT_LINES = 3


@dataclass(frozen=True)
class ParserOptions:
    limits: imaging.Limits = imaging.Limits()
    gate: quality.GateThresholds = quality.GateThresholds()
    engine: EngineOptions = EngineOptions()
    review_threshold: float = 0.80
    use_geometry: bool = True

    @classmethod
    def from_settings(cls, s: Any) -> "ParserOptions":
        return cls(
            limits=imaging.Limits(max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels,
                                  pdf_max_pages=s.pdf_max_pages),
            gate=quality.GateThresholds(min_side_px=s.min_side_px),
            engine=EngineOptions(threads=s.threads, use_cuda=s.use_cuda, det_max_side=s.det_max_side,
                                 rec_batch_size=s.rec_batch_size, rec_max_pad=s.rec_max_pad,
                                 page_cls_samples=s.page_cls_samples),
            review_threshold=s.review_threshold,
        )


def _fmt_num(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:g}"


def _round(x: float | None, decimals: int) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(round(x, max(decimals, 0) + 2))


class LabReportParser:
    def __init__(self, options: ParserOptions = ParserOptions(), engine: OcrEngine | None = None,
                 knowledge: KnowledgeBase | None = None) -> None:
        self.options = options
        self.kb = knowledge or load_knowledge()
        self.engine = engine or OcrEngine(options.engine)

    def warm_up(self) -> None:
        self.engine.warm_up()

    # ---------------------------------------------------------------------------------------------------------
    def parse(self, data: bytes, filename: str | None = None, content_type: str | None = None) -> dict[str, Any]:
        """Raise an ImageRejectedError subclass for unusable input; otherwise return the report (possibly with
        no indicators and a warning saying why)."""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        t0 = t_start
        pages, fmt = imaging.decode(data, content_type, self.options.limits)
        q = quality.check(pages[0], self.options.gate)
        timings["gate"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        geo = [geometry.normalise_page(p) if self.options.use_geometry else
               geometry.GeometryResult(p, None, 0, 0.0) for p in pages]
        timings["geometry"] = (time.perf_counter() - t0) * 1000
        ocr = self.engine.run([g.image for g in geo])
        n_lines = sum(len(p.lines) for p in ocr)
        if n_lines < MIN_TEXT_LINES:
            # The cheap gate let it through (e.g. an X-ray with a few markers); the detector found no real text.
            raise NotADocumentError(details={"text_lines": n_lines})
        for k in ("det", "cls", "rec"):
            timings[k] = sum(p.timings_ms.get(k, 0.0) for p in ocr)
        t0 = time.perf_counter()
        result = self._assemble(ocr, geo)
        timings["parse"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - t_start) * 1000
        result["quality"] = {**q.as_dict(), "format": fmt, "pages": len(pages),
                             "geometry": [g.as_dict() | {"upside_down": o.upside_down} for g, o in zip(geo, ocr)]}
        result["timings_ms"] = {k: round(v, 1) for k, v in timings.items()}
        log.info("lab report parsed", extra={"indicators": len(result["indicators"]), "format": fmt,
                                             "report_type": result["report_type"], "total_ms": timings["total"]})
        return result

    # ---------------------------------------------------------------------------------------------------------
    def _assemble(self, ocr: list[PageOcr], geo: list[geometry.GeometryResult]) -> dict[str, Any]:
        warnings: list[dict[str, Any]] = []
        indicators: list[dict[str, Any]] = []
        used: set[str] = set()
        outside_tokens: list[Token] = []
        all_tokens: list[Token] = []
        items_per_page: list[tuple[int, list[RowItem]]] = []
        for pno, (page, g) in enumerate(zip(ocr, geo)):
            tokens = [Token(line.text, line.score, line.box) for line in page.lines]
            all_tokens.extend(tokens)
            lay = analyse(tokens, float(g.image.shape[1]))
            outside_tokens.extend(lay.outside)
            items: list[RowItem] = []
            for row in lay.rows:
                items.extend(parse_row(self.kb, row))
            items_per_page.append((pno, items))
        header = extract_header(outside_tokens or all_tokens, self.kb)
        sex = header.get("sex")
        title_text = [t.text for t in (outside_tokens or all_tokens)]
        # First pass: which panels does this report hold? Used to break name ties (pH: urine or blood gas).
        panels_seen: set[str] = set()
        for _, items in items_per_page:
            for it in items:
                for _, ms in it.names:
                    if ms and ms[0].score >= 0.95:
                        panels_seen.add(ms[0].indicator.panel)
        for pno, items in items_per_page:
            for it in items:
                choice = choose_indicator(self.kb, it, used, panels_seen)
                if choice is None:
                    continue
                ind, name_conf, how = choice
                rec = self._indicator_record(ind, name_conf, how, it, sex, pno, warnings)
                if rec is None:
                    continue
                used.add(ind.code)
                indicators.append(rec)
        rtype = report_type([h for h in title_text if len(h) <= 40], [i["panel"] for i in indicators], self.kb)
        if not indicators:
            warnings.append({"code": "no_indicators_found",
                             "message": "未识别到检验指标：可能不是检验报告单，或版式无法识别。 "
                                        "No lab indicators were recognised: not a lab report, or an unknown layout."})
        return {"report_type": rtype, "header": header, "indicators": indicators, "warnings": warnings,
                "knowledge_version": self.kb.version}

    def _indicator_record(self, ind: Indicator, name_conf: float, how: str, it: RowItem, sex: str | None,
                          page: int, warnings: list[dict[str, Any]]) -> dict[str, Any] | None:
        pv = it.parsed_value
        assert pv is not None and it.value is not None
        review_reasons: list[str] = []
        # ---- unit --------------------------------------------------------------------------------------------
        factor = 1.0
        unit = ind.unit
        unit_text = it.unit.text if it.unit else None
        unit_conf = 0.85
        if unit_text:
            res = self.kb.resolve_unit(unit_text, ind)
            if res is None:
                unit, unit_conf = unit_text, 0.3
                review_reasons.append("unit_unrecognised")
            else:
                factor = res[1]
                unit_conf = it.unit.score
        ifcc = ind.ifcc_mmol_mol
        converter = (lambda x: x * factor)
        if ifcc and unit_text and "mmol/mol" in unit_text.replace(" ", "").lower():
            unit, unit_conf = ind.unit, it.unit.score if it.unit else 0.85
            converter = (lambda x: ifcc.slope * x + ifcc.intercept)
        # ---- value -------------------------------------------------------------------------------------------
        value = None
        if pv.number is not None:
            if ind.kind == "text":
                return None
            value = _round(converter(pv.number), ind.decimals)
        elif ind.kind == "quantitative" and ind.unit is not None:
            # '阴性' printed against a quantitative test (e.g. a CRP sheet): keep the text, no number
            review_reasons.append("qualitative_result_for_quantitative_test")
        value_conf = it.value.score
        # ---- reference range ---------------------------------------------------------------------------------
        pr = it.parsed_range
        if pr is not None:
            plow, phigh = pr.for_sex(sex)
            low = _round(converter(plow), ind.decimals) if plow is not None else None
            high = _round(converter(phigh), ind.decimals) if phigh is not None else None
            reference = {"low": low, "high": high, "text": pr.text, "source": "printed"}
            ref_conf = it.range.score if it.range else 0.85
        else:
            dr = ind.default_range(sex)
            low, high = (dr.low, dr.high) if dr else (None, None)
            text = ind.ref_text or (f"{_fmt_num(low)}-{_fmt_num(high)}" if low is not None and high is not None
                                    else "")
            reference = {"low": low, "high": high, "text": text or None,
                         "source": "default" if dr else None}
            ref_conf = 0.9
        # ---- flag --------------------------------------------------------------------------------------------
        computed: str | None = None
        if value is not None:
            computed = interpret(value, low, high, ind.critical)
        elif pv.qualitative is not None:
            if pv.qualitative == "negative":
                computed = "NEG"
            elif pr is not None and pr.qualitative == "negative" or ind.normal:
                computed = "POS"
        printed = it.flag_code
        if printed in ("ABN", "POS") and computed in ("H", "L", "HH", "LL"):
            printed = computed  # a bare '*' says "abnormal"; the numbers say which way
        flag = printed or computed
        flag_conf = it.flag.score if printed and it.flag else min(value_conf, ref_conf)
        if printed and computed and not same_direction(printed, computed):
            warnings.append({"code": "flag_disagrees_with_range", "indicator": ind.code,
                             "message": f"打印的提示({printed})与数值/参考范围({computed})不一致，以打印为准。 "
                                        f"Printed flag {printed} disagrees with value vs range ({computed}); "
                                        "the printed flag is kept."})
            review_reasons.append("flag_disagrees_with_range")
        critical = False
        if value is not None and ind.critical is not None:
            c = ind.critical
            critical = (c.high is not None and value >= c.high) or (c.low is not None and value <= c.low)
            if critical:
                # beyond a 危急值 limit the flag says so (LL/HH), in the direction the sheet and the value agree on
                crit_flag = "HH" if c.high is not None and value >= c.high else "LL"
                if flag is None or same_direction(flag, crit_flag):
                    flag = crit_flag
        # ---- plausibility ------------------------------------------------------------------------------------
        if value is not None and high not in (None, 0) and value > 50 * abs(high):
            review_reasons.append("implausible_value")
        if value is not None and low not in (None, 0) and value < low / 50 and value != 0:
            review_reasons.append("implausible_value")
        if pv.comparator:
            review_reasons.append("censored_value")
        if how in ("fuzzy", "prefix") and name_conf < 0.85:
            review_reasons.append("name_uncertain")
        field_conf = {"name": round(name_conf, 3), "value": round(value_conf, 3), "unit": round(unit_conf, 3),
                      "reference": round(ref_conf, 3), "flag": round(flag_conf, 3)}
        overall = min(field_conf.values())
        if overall < self.options.review_threshold:
            review_reasons.append("low_confidence")
        boxes = [c.box for c, _ in it.names] + [it.value.box] + [c.box for c in (it.range, it.unit, it.flag) if c]
        box = [round(min(b[0] for b in boxes), 1), round(min(b[1] for b in boxes), 1),
               round(max(b[2] for b in boxes), 1), round(max(b[3] for b in boxes), 1)]
        return {
            "code": ind.code, "name": ind.name, "name_en": ind.name_en, "loinc": ind.loinc, "panel": ind.panel,
            "value": value, "value_text": it.value.text, "comparator": pv.comparator,
            "qualitative": pv.qualitative,
            "unit": unit, "unit_text": unit_text,
            "reference": reference, "flag": flag, "flag_printed": printed, "flag_computed": computed,
            "critical": bool(critical),
            "confidence": round(overall, 3), "field_confidence": field_conf,
            "needs_review": bool(review_reasons), "review_reasons": sorted(set(review_reasons)),
            "box": box, "page": page,
        }
