"""What can go wrong in the reminders service. Messages are Chinese first, English second; ``details.field``
names the offending field where there is one."""
from __future__ import annotations


from zhenxi_common.errors import ConflictError, FieldError, NotFoundError


class PlanNotFoundError(NotFoundError):
    code = "plan_not_found"
    default_message = "找不到该用药计划。 No such plan."


class OccurrenceNotFoundError(NotFoundError):
    code = "occurrence_not_found"
    default_message = "找不到该次服药。 No such dose."


class DeviceNotFoundError(NotFoundError):
    code = "device_not_found"
    default_message = "找不到该设备。 No such device."


class ConsentNotFoundError(NotFoundError):
    code = "consent_not_found"
    default_message = "找不到该授权。 No such consent."


class PlanInPastError(FieldError):
    code = "plan_in_past"
    default_message = "该计划的所有服药时间都已过去。 Every dose of this plan is in the past."


class EndBeforeStartError(FieldError):
    code = "end_before_start"
    default_message = "结束日期早于开始日期。 end_date is before start_date."


class TooManyDosesError(FieldError):
    code = "too_many_doses"
    default_message = "每天服药次数过多。 Too many doses a day."


class WebhookHostNotAllowedError(FieldError):
    code = "webhook_host_not_allowed"
    default_message = "该网址的主机不在允许列表中。 The webhook host is not on the allowlist."


class PreconditionInvalidError(FieldError):
    code = "if_match_invalid"
    default_message = "If-Match 必须是资源的版本号。 If-Match must be the resource's version number."


class VersionConflictError(ConflictError):
    code = "version_conflict"
    default_message = "数据已在其他设备上修改。 The resource was changed elsewhere; here is its current state."


class AlreadyRecordedError(ConflictError):
    code = "already_recorded"
    default_message = "该次服药已记录为其他状态。 This dose is already recorded with another state."


class NotRecordableError(FieldError):
    code = "not_recordable"
    default_message = "该提醒不能记录服药。 This reminder is not a dose."


class PrnTooSoonError(ConflictError):
    code = "prn_too_soon"
    default_message = "距上次服药未满最短间隔。 Too soon after the last dose."


class ConsentRequiredError(NotFoundError):
    """Another user's adherence without a grant: 404, as for any resource one may not see."""
    code = "not_found"
    default_message = "Not found."


class CalendarTokenInvalidError(NotFoundError):
    code = "calendar_token_invalid"
    default_message = "日历链接无效或已撤销。 The calendar link is not valid or was revoked."


class ImportInvalidError(FieldError):
    code = "import_invalid"
    default_message = "导入的数据无效。 The import document is not valid."
