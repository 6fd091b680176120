"""Small factories for the tips tests: images made with Pillow, events, admin-created tips."""
from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import UTC, date, datetime

from PIL import Image

from zhenxi_common.events import PlanChangedV1, ReportCompletedV1


def jpeg_with_exif(width: int = 900, height: int = 600) -> bytes:
    img = Image.new("RGB", (width, height), (200, 60, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"     # Make
    exif[0x0110] = "Model-123"             # Model
    exif[0x0112] = 6                       # Orientation: rotate 90° CW to display
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}   # GPS block
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(width: int = 400, height: int = 300, mode: str = "RGBA") -> bytes:
    img = Image.new(mode, (width, height), (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny file whose header claims 1.6 gigapixels: refused from the header, never decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)   # 1-bit greyscale
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (64, 64)).save(out, "GIF")
    return out.getvalue()


def report_event(user_id: str, abnormal: list[tuple[str, str]] = (), findings: list[str] = (),
                 conditions: list[str] = (), collected_on: date | None = date(2026, 11, 20),
                 occurred_at: datetime | None = None, event_id: uuid.UUID | None = None) -> ReportCompletedV1:
    return ReportCompletedV1(
        user_id=user_id, report_id=f"r-{uuid.uuid4().hex[:8]}", abnormal=[{"code": c, "flag": f} for c, f in abnormal],
        positive_findings=list(findings), conditions=list(conditions),
        report_date=datetime(collected_on.year, collected_on.month, collected_on.day, 9, tzinfo=UTC)
        if collected_on else None,
        occurred_at=occurred_at or datetime.now(UTC), event_id=event_id or uuid.uuid4())


def plan_event(user_id: str, drug_class: str | None = None, drug_id: str | None = None, plan_id: str = "p1",
               version: int = 1, change: str = "created") -> PlanChangedV1:
    return PlanChangedV1(user_id=user_id, plan_id=plan_id, version=version, change=change, drug_id=drug_id,
                         drug_class=drug_class)


def tip_body(**overrides) -> dict:
    body = {"lang": "zh-CN", "category": "diet", "title": "燕麦早餐帮助控制胆固醇",
            "summary": "早餐吃一碗燕麦，能帮助降低低密度脂蛋白胆固醇。",
            "body": "每天早餐吃**燕麦**，其中的膳食纤维有助于降低低密度脂蛋白胆固醇，对高血压和痛风人群也友好。",
            "references": ["cn-diet-2022"]}
    body.update(overrides)
    return body
