"""The content-addressed model store on disk: immutable ``blobs/<sha256>``, temp writes, and the symlink views
in the layout the analyzer reads. No database and no FastAPI here."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from zhenxi_common.errors import ServiceError

from ..inference import sha256_file
from .errors import ModelTooLargeError

CHUNK = 1 << 20


@dataclass
class TempBlob:
    path: Path
    sha256: str
    size: int


class ModelStore:
    """Content-addressed files under ``root``: ``blobs/<sha256>`` (immutable), ``tmp/`` (writes in progress),
    ``views/<key>/`` (symlink farms in the layout XrayAnalyzer reads), ``uploads/`` (training zips)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.views = self.root / "views"
        self.uploads = self.root / "uploads"
        for d in (self.blobs, self.tmp, self.views, self.uploads):
            d.mkdir(parents=True, exist_ok=True)

    def blob_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a sha256")
        return self.blobs / sha256

    def has(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def new_temp(self, suffix: str = ".part") -> Path:
        return self.tmp / f"{uuid.uuid4().hex}{suffix}"

    def write_stream(self, src: IO[bytes], max_bytes: int, too_large: Callable[[int], ServiceError]) -> TempBlob:
        """Copy ``src`` to a temp file (hashing as it goes), fsync it; refuses past ``max_bytes``."""
        path = self.new_temp()
        h = hashlib.sha256()
        size = 0
        try:
            with open(path, "wb") as out:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise too_large(size)
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return TempBlob(path, h.hexdigest(), size)

    def write_bytes(self, data: bytes) -> TempBlob:
        import io

        return self.write_stream(io.BytesIO(data), len(data), lambda n: ModelTooLargeError())

    def commit(self, blob: TempBlob) -> bool:
        """Atomically move a verified temp file to ``blobs/<sha256>``. False if the blob was already there."""
        target = self.blob_path(blob.sha256)
        if target.exists():
            blob.path.unlink(missing_ok=True)
            return False
        os.replace(blob.path, target)
        _fsync_dir(self.blobs)
        return True

    def put_file(self, path: Path) -> str:
        with open(path, "rb") as f:
            blob = self.write_stream(f, 1 << 40, lambda n: ModelTooLargeError())
        self.commit(blob)
        return blob.sha256

    def verify(self, sha256: str, size: int | None = None) -> bool:
        p = self.blob_path(sha256)
        if not p.is_file() or (size is not None and p.stat().st_size != size):
            return False
        return sha256_file(p) == sha256

    def remove(self, sha256: str) -> None:
        self.blob_path(sha256).unlink(missing_ok=True)

    def sweep_temp(self, older_than_s: float = 3600.0) -> None:
        cutoff = time.time() - older_than_s
        for p in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < cutoff:
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink()

    def view(self, files: dict[str, str | bytes | Path]) -> Path:
        """A directory holding ``files`` (relative path -> blob sha256, literal bytes, or a file to link to).
        Its name is derived from the contents, so equal views are shared; built in tmp/ and renamed into place."""
        key_src = json.dumps({k: (v.hex() if isinstance(v, bytes) else str(v)) for k, v in sorted(files.items())},
                             sort_keys=True).encode()
        key = hashlib.sha256(key_src).hexdigest()[:24]
        final = self.views / key
        if final.is_dir():
            return final
        work = self.tmp / f"view-{uuid.uuid4().hex}"
        for rel, src in files.items():
            dest = work / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(src, bytes):
                dest.write_bytes(src)
            elif isinstance(src, Path):
                os.symlink(src.resolve(), dest)
            else:
                os.symlink(self.blob_path(src).resolve(), dest)
        try:
            os.rename(work, final)
        except OSError:  # another replica or task built the same view first
            shutil.rmtree(work, ignore_errors=True)
        return final


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
