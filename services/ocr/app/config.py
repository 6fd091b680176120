from pathlib import Path

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings


MULTIPART_ROOM = 1024 * 1024  # a multipart envelope's boundaries and part headers, with room to spare


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    service_name: str = "ocr"
    port: int = 8101

    # The knowledge root (zhenxi_knowledge); None = the package default: the repo's knowledge/, /app/knowledge in images.
    knowledge_dir: Path | None = None
    # ONNX Runtime threads per session (the machine is shared: keep it small).
    threads: int = 2
    use_cuda: bool = True  # used only when onnxruntime-gpu actually offers the CUDA provider
    # Input limits, checked before decoding pixels.
    max_upload_bytes: int = 20 * 1024 * 1024
    # the request body may hold the largest allowed file plus its multipart envelope, so that a file over the
    # limit meets the route's own refusal (image_too_large, with its hint) and one at the limit is read
    max_body_bytes: int = 21 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side_px: int = 280
    pdf_max_pages: int = 2
    # Speed levers (numbers in services/ocr/README.md).
    det_max_side: int = 960  # detection input: longest side after geometry (rapidocr default keeps ~full size)
    rec_batch_size: int = 24
    rec_max_pad: float = 1.15  # a recognition batch's widest crop is at most this times its narrowest
    page_cls_samples: int = 12  # text lines fed to the angle classifier to decide 0 vs 180 for the whole page
    # Fields whose confidence is below this are flagged needs_review.
    review_threshold: float = 0.80

    @model_validator(mode="after")
    def _body_holds_an_upload(self) -> "Settings":
        self.max_body_bytes = max(self.max_body_bytes, self.max_upload_bytes + MULTIPART_ROOM)
        return self
