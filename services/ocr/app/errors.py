"""What can go wrong with an uploaded lab-report photo. Every error carries a Chinese-first message and a
``hint`` (in ``details``) telling the user how to take a better photo."""
from __future__ import annotations

from typing import Any

from zhenxi_common.errors import ServiceError


class ImageRejectedError(ServiceError):
    """Base for input the quality gate or the decoder refuses (HTTP 422 unless stated)."""

    status = 422
    code = "image_rejected"
    default_message = "图片无法用于识别。 The image cannot be used."
    hint = "请重新拍摄。 Please retake the photo."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        details = {"hint": self.hint, **(details or {})}
        super().__init__(message, details=details)


class ImageUnreadableError(ImageRejectedError):
    code = "image_unreadable"
    default_message = "图片无法解码（文件损坏或不是图片）。 The file could not be decoded as an image."
    hint = "请上传 JPEG、PNG、WebP、HEIC 或 PDF 格式的完整文件。 Upload a complete JPEG, PNG, WebP, HEIC or PDF file."


class UnsupportedMediaTypeError(ImageRejectedError):
    status = 415
    code = "unsupported_media_type"
    default_message = "不支持的文件类型。 Unsupported file type."
    hint = "请上传 JPEG、PNG、WebP、HEIC 或 PDF。 Upload JPEG, PNG, WebP, HEIC or PDF."


class ImageTooLargeError(ImageRejectedError):
    """Too many pixels (checked from the header, before decoding: decompression bombs)."""

    code = "image_too_large"
    default_message = "图片像素过多。 The image has too many pixels."
    hint = "请上传不超过 4000 万像素的图片。 Upload an image of at most 40 megapixels."


class FileTooLargeError(ImageTooLargeError):
    """Too many bytes: same code, HTTP 413."""

    status = 413
    default_message = "文件过大。 The file is too large."
    hint = "请上传小于 20 MB 的文件。 Upload a file under 20 MB."


class ImageTooSmallError(ImageRejectedError):
    code = "image_too_small"
    default_message = "图片分辨率过低，文字无法辨认。 The image resolution is too low to read."
    hint = "请使用原图上传，或靠近报告单重新拍摄。 Upload the original photo or move closer to the report."


class ImageTooBlurryError(ImageRejectedError):
    code = "image_too_blurry"
    default_message = "图片模糊，无法识别文字。 The image is too blurry to read."
    hint = "请保持手机稳定、对焦清晰后重拍。 Hold the phone steady and let it focus, then retake."


class ImageTooDarkError(ImageRejectedError):
    code = "image_too_dark"
    default_message = "图片过暗。 The image is too dark."
    hint = "请在光线充足处重拍，避免阴影。 Retake in good light and avoid shadows."


class ImageOverexposedError(ImageRejectedError):
    code = "image_overexposed"
    default_message = "图片过曝（太亮），文字看不清。 The image is overexposed."
    hint = "请避开强光或闪光灯反光后重拍。 Avoid glare and flash reflections, then retake."


class NotADocumentError(ImageRejectedError):
    code = "not_a_document"
    default_message = "图片中没有找到检验报告单。 No lab report was found in the image."
    hint = "请将整张报告单放入画面后拍摄。 Fit the whole report sheet in the frame."


ALL_ERRORS: tuple[type[ImageRejectedError], ...] = (
    ImageUnreadableError, UnsupportedMediaTypeError, ImageTooLargeError, FileTooLargeError, ImageTooSmallError,
    ImageTooBlurryError, ImageTooDarkError, ImageOverexposedError, NotADocumentError,
)
