"""What can go wrong in the model registry, as data (code, HTTP status, bilingual message)."""
from __future__ import annotations

from zhenxi_common.errors import ConflictError, NotFoundError, ServiceError, UpstreamUnavailableError


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"
    default_message = "没有这个模型版本。 No such model version."


class ModelTooLargeError(ServiceError):
    code = "model_too_large"
    status = 413
    default_message = "模型文件过大。 The model file is too large."


class ModelInvalidError(ServiceError):
    code = "model_invalid"
    status = 422
    default_message = "这不是可加载的 ONNX 模型。 The file is not a loadable ONNX model."


class ModelSignatureMismatchError(ServiceError):
    code = "model_signature_mismatch"
    status = 422
    default_message = ("模型的输入/输出与该任务要求不符。 "
                       "The model's inputs and outputs do not match what this task needs.")


class ModelGoldenCheckError(ServiceError):
    code = "model_golden_check_failed"
    status = 422
    default_message = ("模型在标准测试图像上的输出无效。 "
                       "The model did not produce valid outputs on the golden test image.")


class ModelMetadataInvalidError(ServiceError):
    code = "model_metadata_invalid"
    status = 422
    default_message = "模型元数据无效。 The model metadata is not valid."


class UnknownTaskError(ServiceError):
    code = "unknown_task"
    status = 422
    default_message = "未知的模型任务。 Unknown model task."


class InvalidModelNameError(ServiceError):
    code = "invalid_model_name"
    status = 422
    default_message = "模型名或版本号格式不正确。 The model name or version is not valid."


class ModelDuplicateError(ConflictError):
    code = "model_duplicate"
    default_message = "同一个模型文件已经登记过。 This exact model file is already registered."


class ModelVersionExistsError(ConflictError):
    code = "model_version_exists"
    default_message = "该模型名下已有这个版本号。 This model already has a version with this number."


class NothingToRollBackError(ConflictError):
    code = "nothing_to_roll_back"
    default_message = "没有可回滚到的上一个版本。 There is no previous version to roll back to."


class ModelBlobMissingError(ConflictError):
    code = "model_blob_missing"
    default_message = ("模型文件缺失或已损坏，不能启用。 "
                       "The model file is missing or corrupt in the model store; it cannot be promoted.")


class GoldenImageMissingError(UpstreamUnavailableError):
    code = "golden_image_missing"
    default_message = "缺少标准测试图像，无法校验模型。 The golden image is missing, so models cannot be validated."


class RangeNotSatisfiableError(ServiceError):
    code = "range_not_satisfiable"
    status = 416
    default_message = "请求的字节范围无效。 The requested byte range cannot be served."


class MalformedRangeError(ServiceError):
    code = "range_invalid"
    status = 400
    default_message = "Range 请求头格式不正确。 The Range header is malformed."
