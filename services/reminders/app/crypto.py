"""Personal fields at rest, sealed by ``zhenxi_common.sealing`` with one key derived from ``REMINDERS_DATA_KEY``
under the key id ``r1``."""
from __future__ import annotations

import hashlib

from zhenxi_common.sealing import Sealer

KEY_ID = "r1"


class FieldCipher:
    def __init__(self, key: str) -> None:
        derived = hashlib.sha256(("zhenxi-reminders:" + key).encode()).digest()
        self._sealer = Sealer({KEY_ID: derived}, KEY_ID)

    def encrypt(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        return self._sealer.seal(value.encode(), b"")

    def decrypt(self, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        return self._sealer.open(blob, b"").decode()
