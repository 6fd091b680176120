"""Keyed AEAD for values at rest: AES-GCM with a key id in every blob so keys can rotate.

A sealed value is ``ZXR1 | key-id length | key id | 12-byte nonce | ciphertext+tag``. New values use the active key
id; every configured key still opens the values written with it. The caller passes associated data naming where
the value belongs (a row, a field, a file address), so a value copied elsewhere fails to open."""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .settings import PLACEHOLDER_SECRET

MAGIC = b"ZXR1"


class SealError(RuntimeError):
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
            raise SealError(f"key {kid!r} must be 16, 24 or 32 bytes")
        keys[kid] = key
    if active not in keys:
        raise SealError(f"the active key id {active!r} is not among the configured keys")
    return keys


class Sealer:
    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise SealError(f"the active key id {active_key_id!r} is not among the configured keys")
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active_key_id

    def seal(self, data: bytes, aad: bytes) -> bytes:
        kid = self.active.encode()
        nonce = os.urandom(12)
        return MAGIC + bytes([len(kid)]) + kid + nonce + self._aeads[self.active].encrypt(nonce, data, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if not blob.startswith(MAGIC) or len(blob) < 5:
            raise SealError("not a sealed value")
        n = blob[4]
        kid = blob[5:5 + n].decode()
        aead = self._aeads.get(kid)
        if aead is None:
            raise SealError(f"no key {kid!r} to open this value")
        try:
            return aead.decrypt(blob[5 + n:17 + n], blob[17 + n:], aad)
        except InvalidTag as exc:
            raise SealError("sealed value failed its integrity check") from exc
