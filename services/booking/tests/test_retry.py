import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from app.base import retry_deadlocks


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(times: int, sqlstate: str):
    calls = []

    @retry_deadlocks
    async def use_case() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise DBAPIError("UPDATE ...", {}, _PgError(sqlstate))
        return "done"

    return use_case, calls


def test_a_deadlock_victim_is_run_again():
    use_case, calls = _failing(1, "40P01")
    assert asyncio.run(use_case()) == "done" and len(calls) == 2


def test_other_database_errors_and_repeated_deadlocks_surface():
    use_case, calls = _failing(1, "23505")
    with pytest.raises(DBAPIError):
        asyncio.run(use_case())
    assert len(calls) == 1
    use_case, calls = _failing(5, "40P01")
    with pytest.raises(DBAPIError):
        asyncio.run(use_case())
    assert len(calls) == 3
