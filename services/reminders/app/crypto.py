"""Personal fields at rest, sealed by ``zhenxi_common.sealing`` with one key derived from ``REMINDERS_DATA_KEY``
under the key id ``r1``. Values written before the shared format (a 1-byte version, then nonce and ciphertext)
still read."""
from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zhenxi_common.sealing import Sealer

KEY_ID = "r1"
_LEGACY = b"\x01"


class FieldCipher:
    def __init__(self, key: str) -> None:
        derived = hashlib.sha256(("zhenxi-reminders:" + key).encode()).digest()
        self._sealer = Sealer({KEY_ID: derived}, KEY_ID)
        self._legacy = AESGCM(derived)

    def encrypt(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        return self._sealer.seal(value.encode(), b"")

    def decrypt(self, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        if blob[:1] == _LEGACY:
            return self._legacy.decrypt(blob[1:13], blob[13:], None).decode()
        return self._sealer.open(blob, b"").decode()
