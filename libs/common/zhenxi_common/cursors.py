"""Opaque keyset cursors for paginated listings: the last row's sort key as base64url JSON.

A service puts in what its ordering needs and maps a ValueError from ``decode`` to its own 422 error."""
from __future__ import annotations

import base64
import json
from typing import Any


def encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(raw: str) -> Any:
    """The key ``encode`` was given. Raises ValueError for anything that is not such a cursor."""
    try:
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError) as exc:   # binascii.Error, JSON and UTF-8 errors are ValueErrors
        raise ValueError(f"not a cursor: {exc}") from None
