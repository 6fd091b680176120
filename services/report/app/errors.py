"""What can go wrong with a report request, as data (bilingual messages, a machine-readable code)."""
from zhenxi_common.errors import ConflictError, NotFoundError, PayloadTooLargeError, ServiceError


class EmptyReportError(ServiceError):
    code = "empty_report"
    status = 422
    default_message = ("请至少上传一张化验单照片、一张胸片或填写症状描述。 "
                       "Upload at least one lab photo or chest X-ray, or describe your symptoms.")


class TooManyFilesError(ServiceError):
    code = "too_many_files"
    status = 422
    default_message = "上传的文件太多。 Too many files in one report."


class FileTooLargeError(PayloadTooLargeError):
    code = "file_too_large"
    default_message = "文件太大。 A file is larger than allowed."


class EmptyFileError(ServiceError):
    code = "empty_file"
    status = 422
    default_message = "上传的文件是空的。 An uploaded file is empty."


class UnsupportedMediaTypeError(ServiceError):
    code = "unsupported_media_type"
    status = 415
    default_message = ("不支持的文件格式：化验单请用 JPEG/PNG/WebP/HEIC/PDF，胸片请用 PNG/JPEG/DICOM。 "
                       "Unsupported file type: lab photos JPEG/PNG/WebP/HEIC/PDF, X-rays PNG/JPEG/DICOM.")


class SymptomsTooLongError(ServiceError):
    code = "symptoms_too_long"
    status = 422
    default_message = "症状描述太长。 The symptom description is too long."


class ReportNotFoundError(NotFoundError):
    code = "report_not_found"
    default_message = "没有这份报告。 No such report."


class ReportInProgressError(ConflictError):
    code = "report_in_progress"
    default_message = "报告仍在生成中，请稍后再试。 The report is still being prepared; try again shortly."


class ReportNotReadyError(ConflictError):
    code = "report_not_ready"
    default_message = "报告尚未完成，暂时只能以 JSON 查看进度。 The report is not finished; only JSON shows progress."


class NothingToRetryError(ConflictError):
    code = "nothing_to_retry"
    default_message = "报告中没有需要重试的部分。 Every section of this report is already complete."


class ImageNotFoundError(NotFoundError):
    code = "image_not_found"
    default_message = "没有这张图片。 No such image."


class PdfUnavailableError(ServiceError):
    code = "pdf_unavailable"
    status = 503
    default_message = "PDF 暂不可用（缺少中文字体）。 PDF export is unavailable (no CJK font installed)."
