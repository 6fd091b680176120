import os
import socket
import uuid
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zhenxi_common.settings import BaseServiceSettings

SERVICE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = SERVICE_DIR.parent.parent


def _replica_id() -> str:
    # Unique per process: each replica needs its own consumer for model hot-swap events.
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Settings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XRAY_", extra="ignore")

    service_name: str = "xray"
    port: int = 8102
    # Model uploads and training zips are larger than the platform default; each route applies its own cap.
    max_body_bytes: int = 210 * 1024 * 1024

    # --- model registry -------------------------------------------------------------------------------------
    # Where model blobs live (content-addressed). Shared by every replica (a shared volume in Compose/k8s).
    model_store: Path = REPO_ROOT / ".zhenxi" / "xray-models"
    # The committed models (ONNX + JSON sidecars + golden image) registered as initial active versions.
    bundled_models_dir: Path = SERVICE_DIR / "models"
    # The golden image every candidate model must run on; default: models/golden (see expected.json).
    golden_image: Path | None = None
    max_model_bytes: int = 200 * 1024 * 1024
    seed_bundled_models: bool = True
    # Which committed ONNX files (by file stem) are registered, and as which task.
    bundled_tasks: dict[str, str] = {"chestnet": "chest", "detector": "detection"}
    chest_model_name: str = "chestnet"
    detector_model_name: str = "detector"
    replica_id: str = Field(default_factory=_replica_id)
    # Safety net next to the NATS hot-swap event: each replica re-reads the active set this often.
    reconcile_interval_s: float = 30.0

    # --- inference ------------------------------------------------------------------------------------------
    threads: int = 0            # ONNX Runtime intra-op threads per session; 0 = auto: every core on CPU, 2 on CUDA
    instances: int = 0          # dynamic-batching instances (batches run at once); 0 = 1 on CUDA, else cores / threads
    max_batch: int = 8
    max_wait_ms: float = 5.0
    # Dynamic batching of the two networks: None = auto, on with the CUDA execution provider and off on CPU, where
    # bench/xray_speed.py measured a worker thread per request faster at every concurrency (README, "Speed").
    batching: bool | None = None
    max_image_bytes: int = 20 * 1024 * 1024

    # --- fine-tuning jobs -----------------------------------------------------------------------------------
    max_training_zip_bytes: int = 200 * 1024 * 1024
    max_training_files: int = 5000
    max_training_uncompressed_bytes: int = 1024 * 1024 * 1024
    max_training_image_bytes: int = 20 * 1024 * 1024
    max_compression_ratio: float = 200.0
    min_images_per_class: int = 10
    max_classes: int = 50
    training_ack_wait_s: float = 600.0
    sse_heartbeat_s: float = 15.0
    sse_poll_s: float = 2.0

    def resolved_golden_image(self) -> Path | None:
        if self.golden_image is not None:
            return self.golden_image
        golden = self.bundled_models_dir / "golden"
        expected = golden / "expected.json"
        if expected.exists():
            import json

            try:
                return golden / json.loads(expected.read_text())["image"]
            except (ValueError, KeyError):
                pass
        pngs = sorted(golden.glob("*.png"))
        return pngs[0] if pngs else None

    @property
    def work_queue_stream(self) -> str:
        from zhenxi_common.bus import stream_name_for

        return f"{stream_name_for(self.nats_subject_prefix)}_XRAY_TRAINING"

    @property
    def work_queue_subject(self) -> str:
        # Outside ``<prefix>>`` on purpose: the platform's event stream already owns every subject under the
        # prefix, and JetStream streams may not overlap.
        return f"work.{self.nats_subject_prefix}xray.training.jobs"
