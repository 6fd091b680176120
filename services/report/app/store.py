"""Encrypted, content-addressed file store for uploads and the images derived from them.

A file is addressed by the SHA-256 of its plaintext, under a per-user folder (so one user's delete never removes
another user's file and a path reveals nothing across users). On disk it is sealed by ``zhenxi_common.sealing``
(AES-GCM with a key id, so keys rotate); the address is bound in as associated data, so a file moved to another
address fails to decrypt."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Sealer and parse_keys are the shared ones; StoreError is the shared SealError so one except catches both
# a missing file and a value that fails to open.
from zhenxi_common.sealing import SealError as StoreError
from zhenxi_common.sealing import Sealer, parse_keys

__all__ = ["Sealer", "StoreError", "StoredFile", "UploadStore", "parse_keys"]


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size_bytes: int


class UploadStore:
    def __init__(self, root: Path, keys: dict[str, bytes], active_key_id: str) -> None:
        self.root = Path(root)
        self._sealer = Sealer(keys, active_key_id)
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _owner_dir(user_id: str) -> str:
        return hashlib.sha256(f"zhenxi-report-owner:{user_id}".encode()).hexdigest()[:32]

    def path_for(self, user_id: str, sha256: str) -> Path:
        return self.root / self._owner_dir(user_id) / sha256[:2] / sha256

    def _aad(self, user_id: str, sha256: str) -> bytes:
        return f"{self._owner_dir(user_id)}/{sha256}".encode()

    def put(self, user_id: str, data: bytes, sha256: str | None = None) -> StoredFile:
        """Encrypt and write ``data`` (atomic rename; an identical file already stored is kept as is).
        ``sha256``: its hash when the caller already has it (it is the address and is checked on every read)."""
        sha = sha256 or hashlib.sha256(data).hexdigest()
        path = self.path_for(user_id, sha)
        if path.exists():
            return StoredFile(sha, len(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = self._sealer.seal(data, self._aad(user_id, sha))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredFile(sha, len(data))

    def get(self, user_id: str, sha256: str) -> bytes:
        path = self.path_for(user_id, sha256)
        try:
            blob = path.read_bytes()
        except FileNotFoundError as exc:
            raise StoreError("stored file is missing") from exc
        data = self._sealer.open(blob, self._aad(user_id, sha256))
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreError("upload content does not match its address")
        return data

    def exists(self, user_id: str, sha256: str) -> bool:
        return self.path_for(user_id, sha256).exists()

    def delete(self, user_id: str, sha256: str) -> None:
        self.path_for(user_id, sha256).unlink(missing_ok=True)

