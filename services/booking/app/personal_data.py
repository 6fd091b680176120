"""Patient identifiers: validation (GB 11643 ID numbers, mainland mobiles), AES-GCM encryption at rest with a key id
so keys can rotate, HMAC blind indexes so admins can search without plaintext, and the masks every response uses.
Nothing here logs; callers must not log the plaintext either."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date


from zhenxi_common.sealing import Sealer

from .errors import InvalidIdNumberError, InvalidPhoneError

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[1-9]\d{16}[\dX]")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def gb11643_check_char(first17: str) -> str:
    """The check character of a resident identity number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def normalize_id_number(raw: str, *, today: date, field: str = "patient.id_number") -> str:
    value = raw.strip().upper()
    if not _ID_SHAPE.fullmatch(value):
        raise InvalidIdNumberError(field, "身份证号应为18位（最后一位可为X）。 The ID number must be 18 characters.",
                                   reason="format")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumberError(field, "身份证号中的出生日期不存在。 The birth date in the ID number is impossible.",
                                   reason="birth_date") from None
    if born > today or born.year < 1890:
        raise InvalidIdNumberError(field, "身份证号中的出生日期不合理。 The birth date in the ID number is impossible.",
                                   reason="birth_date")
    if gb11643_check_char(value[:17]) != value[17]:
        raise InvalidIdNumberError(field, "身份证号校验位不正确。 The ID number's check digit is wrong.",
                                   reason="check_digit")
    return value


def normalize_phone(raw: str, field: str = "patient.phone") -> str:
    value = re.sub(r"[\s-]", "", raw)
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    if not _MOBILE.fullmatch(value):
        raise InvalidPhoneError(field)
    return value


def mask_id_number(value: str) -> str:
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:]


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(1, len(value) - 1)


@dataclass(frozen=True)
class Sealed:
    key_id: str
    name: bytes
    id_number: bytes
    phone: bytes


class PersonalDataVault:
    """Each field sealed by ``zhenxi_common.sealing`` (the key id and field name as associated data) and
    HMAC-SHA256 blind indexes. Keys come from settings; ``active_key_id`` writes, every listed key reads."""

    def __init__(self, keys: dict[str, str], active_key_id: str, index_key: str) -> None:
        raw = {kid: base64.b64decode(k) for kid, k in keys.items()}
        if active_key_id not in raw:
            raise ValueError(f"active key id {active_key_id!r} is not among the configured keys")
        for kid, k in raw.items():
            if len(k) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (base64)")
        self._sealer = Sealer(raw, active_key_id)
        self.active_key_id = active_key_id
        self._index_key = index_key.encode()

    def encrypt(self, field: str, plaintext: str) -> bytes:
        return self._sealer.seal(plaintext.encode(), f"{self.active_key_id}:{field}".encode())

    def decrypt(self, field: str, blob: bytes, key_id: str) -> str:
        return self._sealer.open(blob, f"{key_id}:{field}".encode()).decode()

    def seal(self, name: str, id_number: str, phone: str) -> Sealed:
        kid = self.active_key_id
        return Sealed(kid, self.encrypt("name", name), self.encrypt("id_number", id_number),
                      self.encrypt("phone", phone))

    def blind_index(self, field: str, value: str) -> str:
        return hmac.new(self._index_key, f"{field}:{value}".encode(), hashlib.sha256).hexdigest()

    def mac(self, data: bytes) -> str:
        """Keyed digest of a request body: a plain hash of a body holding an ID number could be brute-forced."""
        return hmac.new(self._index_key, b"request:" + data, hashlib.sha256).hexdigest()
