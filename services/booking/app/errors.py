"""Errors the booking service raises; each renders as ``{"error": {code, message, details}}``. Input errors
name the offending field in ``details.field``."""
from typing import Any

from zhenxi_common.errors import ConflictError, FieldError, NotFoundError, ServiceError


class InvalidIdNumberError(FieldError):
    code = "invalid_id_number"
    default_message = "身份证号无效（校验位或出生日期不正确）。 The ID number is not valid."


class InvalidPhoneError(FieldError):
    code = "invalid_phone"
    default_message = "手机号无效，请输入11位大陆手机号。 Give an 11-digit mainland mobile number."


class InvalidDateError(FieldError):
    code = "invalid_date"
    default_message = "日期无效。 The date is not valid."


class UnknownDepartmentError(FieldError):
    code = "unknown_department"
    default_message = "没有这个科室。 Unknown department id."


class InvalidCursorError(FieldError):
    code = "invalid_cursor"
    default_message = "分页游标无效。 The cursor is not valid."


class MissingLookupKeyError(FieldError):
    code = "lookup_key_required"
    default_message = "请只提供 id_number 或 phone 其中之一。 Give exactly one of id_number or phone."

    def __init__(self) -> None:
        super().__init__("id_number")


class HospitalNotFoundError(NotFoundError):
    code = "hospital_not_found"
    default_message = "找不到该医院。 Hospital not found."


class DoctorNotFoundError(NotFoundError):
    code = "doctor_not_found"
    default_message = "找不到该医生。 Doctor not found."


class SessionNotFoundError(NotFoundError):
    code = "session_not_found"
    default_message = "找不到该出诊时段。 Session not found."


class HoldNotFoundError(NotFoundError):
    code = "hold_not_found"
    default_message = "找不到该预留号源。 Hold not found."


class BookingNotFoundError(NotFoundError):
    code = "booking_not_found"
    default_message = "找不到该预约。 Booking not found."


class SessionRuleError(ServiceError):
    status = 409

    def __init__(self, message: str | None = None, *, field: str = "session_id", **details: Any) -> None:
        super().__init__(message, details={"field": field, **details})


class SessionFullError(SessionRuleError):
    code = "session_full"
    default_message = "该时段号源已约满。 This session is fully booked."


class SessionClosedError(SessionRuleError):
    code = "session_closed"
    default_message = "该时段已停诊。 This session has been closed."


class SessionInPastError(SessionRuleError):
    code = "session_in_past"
    default_message = "该时段已过。 This session is in the past."


class BookingWindowClosedError(SessionRuleError):
    code = "booking_window_closed"
    default_message = "已过预约截止时间（就诊前一日15:00）。 Booking for this session has closed."


class SessionExistsError(SessionRuleError):
    code = "session_exists"
    default_message = "该医生在该日期时段已有出诊安排。 The doctor already has this session."


class HoldExpiredError(SessionRuleError):
    code = "hold_expired"
    default_message = "预留已过期，请重新选择号源。 The hold has expired; choose a slot again."


class HoldUsedError(SessionRuleError):
    code = "hold_not_active"
    default_message = "该预留已使用或已释放。 The hold was already used or released."


class DailyCapError(SessionRuleError):
    code = "daily_cap_reached"
    default_message = "该就诊人当日预约数已达上限。 The patient has reached the daily booking limit."


class DuplicateBookingError(SessionRuleError):
    code = "already_booked_session"
    default_message = "该就诊人已预约此医生的本时段。 The patient already booked this doctor's session."


class NoShowBanError(SessionRuleError):
    code = "no_show_banned"
    status = 403
    default_message = "爽约次数过多，暂停预约。 Too many missed appointments; booking is suspended."


class CancelDeadlinePassedError(SessionRuleError):
    code = "cancel_deadline_passed"
    default_message = "已过取消截止时间。 The cancellation deadline has passed."


class BookingNotActiveError(SessionRuleError):
    code = "booking_not_active"
    default_message = "该预约已取消或已结束。 The booking is no longer active."


class IdempotencyKeyReusedError(ConflictError):
    code = "idempotency_key_reused"
    default_message = "该 Idempotency-Key 已用于不同的请求。 The Idempotency-Key was used with a different body."


class HisTimeoutError(ServiceError):
    code = "his_timeout"
    status = 504
    default_message = "医院系统无响应，预留仍保留，请稍后用同一 Idempotency-Key 重试。 The hospital system timed out."


class HisRejectedError(ServiceError):
    code = "his_rejected"
    status = 502
    default_message = "医院系统拒绝了该请求。 The hospital system refused the request."
