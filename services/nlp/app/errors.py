"""Errors the nlp service raises; each renders as ``{"error": {code, message, details}}``."""
from zhenxi_common.errors import NotFoundError, ServiceError


class EmptyTextError(ServiceError):
    code = "empty_text"
    status = 422
    default_message = "请输入要分析的文字。 The text is empty."


class TextTooLongError(ServiceError):
    code = "text_too_long"
    status = 413
    default_message = "文字太长，请精简后再试。 The text is too long."


class NoIndicatorsError(ServiceError):
    code = "no_indicators"
    status = 422
    default_message = "请至少提供一项检验指标。 Provide at least one indicator."


class UnknownIndicatorsError(ServiceError):
    code = "unknown_indicators"
    status = 422
    default_message = "无法识别所提供的检验指标。 None of the indicators is known."


class UnknownFindingError(ServiceError):
    code = "unknown_finding"
    status = 422
    default_message = "不认识的影像发现。 Unknown X-ray finding."


class MissingQueryError(ServiceError):
    code = "missing_query"
    status = 422
    default_message = "请提供 finding 或 q 参数。 Give either finding or q."


class ConsultationNotFoundError(NotFoundError):
    code = "consultation_not_found"
    default_message = "找不到该咨询。 Consultation not found."
