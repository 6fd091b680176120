"""Encrypted, content-addressed file store for uploads and the images derived from them.

A file is addressed by the SHA-256 of its plaintext, under a per-user folder (so one user's delete never removes
another user's file and a path reveals nothing across users). On disk it is AES-256-GCM ciphertext:
``ZXR1 | key-id length | key id | 12-byte nonce | ciphertext+tag``; the address is bound in as associated data,
so a file moved to another address fails to decrypt. Keys come from settings, several at once so keys can be
rotated: new files use the active key id, old files keep decrypting with theirs."""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zhenxi_common.settings import PLACEHOLDER_SECRET

MAGIC = b"ZXR1"


class StoreError(RuntimeError):
    pass


def parse_keys(spec: str, active: str) -> dict[str, bytes]:
    """``kid:base64key,kid2:base64key``. The development placeholder derives a fixed key (refused in prod by
    the settings check)."""
    if spec == PLACEHOLDER_SECRET:
        return {active: hashlib.sha256(PLACEHOLDER_SECRET.encode()).digest()}
    keys: dict[str, bytes] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, _, b64 = part.partition(":")
        key = base64.b64decode(b64 + "=" * (-len(b64) % 4))
        if len(key) not in (16, 24, 32):
            raise StoreError(f"upload key {kid!r} must be 16, 24 or 32 bytes")
        keys[kid] = key
    if active not in keys:
        raise StoreError(f"the active upload key id {active!r} is not among the configured keys")
    return keys


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size_bytes: int


class UploadStore:
    def __init__(self, root: Path, keys: dict[str, bytes], active_key_id: str) -> None:
        self.root = Path(root)
        self.keys = keys
        self.active = active_key_id
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _owner_dir(user_id: str) -> str:
        return hashlib.sha256(f"zhenxi-report-owner:{user_id}".encode()).hexdigest()[:32]

    def path_for(self, user_id: str, sha256: str) -> Path:
        return self.root / self._owner_dir(user_id) / sha256[:2] / sha256

    def _aad(self, user_id: str, sha256: str) -> bytes:
        return f"{self._owner_dir(user_id)}/{sha256}".encode()

    def put(self, user_id: str, data: bytes) -> StoredFile:
        """Encrypt and write ``data`` (atomic rename; an identical file already stored is kept as is)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(user_id, sha)
        if path.exists():
            return StoredFile(sha, len(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        kid = self.active.encode()
        nonce = os.urandom(12)
        blob = MAGIC + bytes([len(kid)]) + kid + nonce + AESGCM(self.keys[self.active]).encrypt(
            nonce, data, self._aad(user_id, sha))
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
        if not blob.startswith(MAGIC):
            raise StoreError("not an encrypted upload")
        n = blob[4]
        kid = blob[5:5 + n].decode()
        nonce = blob[5 + n:17 + n]
        key = self.keys.get(kid)
        if key is None:
            raise StoreError(f"no key {kid!r} to decrypt this upload")
        try:
            data = AESGCM(key).decrypt(nonce, blob[17 + n:], self._aad(user_id, sha256))
        except InvalidTag as exc:
            raise StoreError("upload failed its integrity check") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreError("upload content does not match its address")
        return data

    def exists(self, user_id: str, sha256: str) -> bool:
        return self.path_for(user_id, sha256).exists()

    def delete(self, user_id: str, sha256: str) -> None:
        self.path_for(user_id, sha256).unlink(missing_ok=True)


class Sealer:
    """AES-GCM for small personal values kept in the database (symptom text, age, medications)."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        self.keys = keys
        self.active = active_key_id

    def seal(self, data: bytes, aad: bytes) -> bytes:
        kid = self.active.encode()
        nonce = os.urandom(12)
        return MAGIC + bytes([len(kid)]) + kid + nonce + AESGCM(self.keys[self.active]).encrypt(nonce, data, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if not blob.startswith(MAGIC):
            raise StoreError("not a sealed value")
        n = blob[4]
        kid = blob[5:5 + n].decode()
        key = self.keys.get(kid)
        if key is None:
            raise StoreError(f"no key {kid!r} to open this value")
        try:
            return AESGCM(key).decrypt(blob[5 + n:17 + n], blob[17 + n:], aad)
        except InvalidTag as exc:
            raise StoreError("sealed value failed its integrity check") from exc
