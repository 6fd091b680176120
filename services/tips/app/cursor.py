"""Opaque keyset cursors: base64url JSON of the last row's sort key, tagged with the ordering it belongs to."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from zhenxi_common import cursors

from .errors import InvalidCursorError


def encode(kind: str, key: object, row_id: uuid.UUID) -> str:
    k = key.isoformat() if isinstance(key, datetime) else key
    return cursors.encode({"o": kind, "k": k, "i": str(row_id)})


def decode(cursor: str | None, kind: str) -> tuple | None:
    if not cursor:
        return None
    try:
        data = cursors.decode(cursor)
        if not isinstance(data, dict) or data.get("o") != kind:
            raise ValueError("cursor belongs to another listing")
        row_id = uuid.UUID(str(data["i"]))
        if kind == "search":
            key: object = Decimal(str(data["k"]))
        else:
            key = datetime.fromisoformat(str(data["k"]))
            if key.tzinfo is None:
                raise ValueError("naive time")
        return key, row_id
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise InvalidCursorError(details={"reason": str(exc)[:100]}) from exc
