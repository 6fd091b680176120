"""Building blocks for request models whose OpenAPI schema says what the code enforces, so that schemathesis
(tests/test_api_fuzz.py) finds no gap between the document and the behaviour. See docs/API_CONVENTIONS.md.

- ``StrictModel``: unknown fields are refused (422) and the schema says ``additionalProperties: false``.
- ``NonEmptyStr`` / ``Text(max)``: a string the code refuses when empty carries ``minLength: 1`` in the schema.
- ``NonEmptyList``: a list the code refuses when empty carries ``minItems: 1``."""
from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


def Text(max_length: int, min_length: int = 1):  # noqa: N802 - reads as a type in a model
    """A string with the bounds the code enforces, declared in the schema."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length)]


NonEmptyList = Annotated[list[T], Field(min_length=1)]
