"""What can go wrong with an uploaded image, as data: each error has a stable code and an HTTP status.

Codes and statuses are the platform's, the same as ocr's: ``image_too_large`` always means "more than we accept",
413 when the file has too many bytes, 422 when the picture has too many pixels (a decompression bomb included)."""
from __future__ import annotations

from zhenxi_common.errors import ServiceError


class UnsupportedMediaTypeError(ServiceError):
    code = "unsupported_media_type"
    status = 415
    default_message = "只接受 PNG、JPEG 或 DICOM 图像。 Only PNG, JPEG or DICOM images are accepted."


class ImageUnreadableError(ServiceError):
    code = "image_unreadable"
    status = 422
    default_message = "无法读取该图像，文件可能已损坏。 The image could not be read; the file may be corrupt."


class ImageTooLargeError(ServiceError):
    """Too many pixels (checked from the header, before decoding)."""
    code = "image_too_large"
    status = 422
    default_message = "图像像素过多。 The image has too many pixels."


class FileTooLargeError(ImageTooLargeError):
    """Too many bytes: same code, HTTP 413."""
    status = 413
    default_message = "文件过大。 The file is too large."


class ImageTooSmallError(ServiceError):
    code = "image_too_small"
    status = 422
    default_message = "图像太小，无法分析。 The image is too small to analyse."


class DicomInvalidError(ServiceError):
    code = "dicom_invalid"
    status = 422
    default_message = "DICOM 文件无效或无法解码。 The DICOM file is invalid or cannot be decoded."


class NotChestXrayError(ServiceError):
    code = "not_chest_xray"
    status = 422
    default_message = "这看起来不是一张正位胸片。 This does not look like a frontal chest X-ray."


class ModelUnavailableError(ServiceError):
    code = "model_unavailable"
    status = 503
    default_message = "分析模型暂不可用。 The analysis model is not available."
