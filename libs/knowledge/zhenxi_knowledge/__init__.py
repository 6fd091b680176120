"""Zhenxi's medical knowledge as one read-only package: ``from zhenxi_knowledge import get_knowledge``."""
from .flags import (ABNORMAL_FLAGS, ARROWS_DOWN, ARROWS_UP, CRITICAL_FLAGS, FLAGS, HIGH_FLAGS, LOW_FLAGS, Flag, arrow_flag, bracketed_grade, direction,
                    flag_number, flag_text, parse_flag, qualitative_grade, same_direction)
from .loader import Assessment, Knowledge, KnowledgeError, default_root, get_knowledge
from .models import (URGENCY_ORDER, Condition, CriticalReading, Department, DepartmentCues, Drug, DrugClass, Finding,
                     Indicator, Interpretation, MedicationClass, MissedDoseAdvice, Pattern, Reading, RedFlag,
                     ReportTemplates, ReportText, ReportTrends, ReportType, Symptom, TrendThreshold, max_urgency)
from .ranges import NONE_SEEN_WORDS, ParsedRange, Range, allows_trace, parse_range, parse_sex_ranges
from .text import norm_name, norm_text, norm_unit
from .units import UnitTable

__all__ = [
    "ABNORMAL_FLAGS", "ARROWS_DOWN", "allows_trace", "NONE_SEEN_WORDS", "ARROWS_UP", "CRITICAL_FLAGS", "FLAGS",
    "HIGH_FLAGS", "LOW_FLAGS", "URGENCY_ORDER", "Assessment",
    "Condition", "CriticalReading", "Department", "DepartmentCues", "Drug", "DrugClass", "Finding", "Flag",
    "Indicator", "Interpretation", "Knowledge", "KnowledgeError", "MedicationClass", "MissedDoseAdvice",
    "ParsedRange", "Pattern", "Range", "Reading", "RedFlag", "ReportTemplates", "ReportText", "ReportTrends",
    "ReportType", "TrendThreshold", "Symptom", "UnitTable", "arrow_flag", "bracketed_grade",
    "default_root", "direction", "flag_number", "flag_text", "get_knowledge", "max_urgency", "norm_name",
    "norm_text", "norm_unit", "parse_flag", "parse_range", "parse_sex_ranges", "qualitative_grade",
    "same_direction",
]
