"""What can go wrong in the tips service. Messages are Chinese first, English second."""
from __future__ import annotations

from zhenxi_common.errors import NotFoundError, ServiceError


class TipNotFoundError(NotFoundError):
    code = "tip_not_found"
    default_message = "没有找到这条小贴士。 No such tip."


class ImageNotFoundError(NotFoundError):
    code = "image_not_found"
    default_message = "没有找到这张图片。 No such image."


class UnknownCategoryError(ServiceError):
    code = "unknown_category"
    status = 422
    default_message = "未知的分类。 Unknown category."


class UnknownLanguageError(ServiceError):
    code = "unknown_language"
    status = 422
    default_message = "不支持的语言，请用 zh-CN 或 en。 Unsupported language: use zh-CN or en."


class InvalidCursorError(ServiceError):
    code = "invalid_cursor"
    status = 422
    default_message = "翻页游标无效，请从第一页重新开始。 The cursor is not valid; start again from the first page."


class UnknownLinkError(ServiceError):
    code = "unknown_link"
    status = 422
    default_message = "关联的指标、影像发现、疾病或药物类别在知识库中不存在。 A linked code is not in the knowledge base."


class UnknownReferenceError(ServiceError):
    code = "unknown_reference"
    status = 422
    default_message = "参考来源不存在。 A reference id is not known."


class SlugTakenError(ServiceError):
    code = "slug_taken"
    status = 409
    default_message = "这个 slug 已被使用。 That slug is already used by another tip."


class ImageRejectedError(ServiceError):
    """Base for an uploaded image refused before or while decoding."""
    code = "image_rejected"
    status = 422
    default_message = "图片无法使用。 The image cannot be used."


class ImageUnreadableError(ImageRejectedError):
    code = "image_unreadable"
    default_message = "图片损坏或不是图片。 The file is corrupt or not an image."


class UnsupportedImageTypeError(ImageRejectedError):
    code = "unsupported_media_type"
    status = 415
    default_message = "只支持 JPEG、PNG、WebP 图片。 Only JPEG, PNG and WebP images are accepted."


class ImageTooManyPixelsError(ImageRejectedError):
    code = "image_too_many_pixels"
    default_message = "图片像素过多（可能是解压炸弹）。 The image has too many pixels (possible decompression bomb)."


class ImageFileTooLargeError(ImageRejectedError):
    code = "image_too_large"
    status = 413
    default_message = "图片文件过大。 The image file is too large."


class ImageTooSmallError(ImageRejectedError):
    code = "image_too_small"
    default_message = "图片尺寸太小。 The image is too small."
