"""Personal fields at rest: AES-256-GCM with a key derived from ``REMINDERS_DATA_KEY``. Each value gets a fresh
nonce and carries a 1-byte format version so the key can be rotated later."""
from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class FieldCipher:
    def __init__(self, key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(("zhenxi-reminders:" + key).encode()).digest())

    def encrypt(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode(), None)

    def decrypt(self, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        if blob[:1] != _VERSION:
            raise ValueError("unknown field format")
        return self._aead.decrypt(blob[1:13], blob[13:], None).decode()
