"""Async SQLAlchemy: one engine per process (created in lifespan), one transaction per request.

The session dependency commits when the route returns and rolls back when it raises; repositories only
``flush()``. After a commit that wrote outbox rows, the outbox relay is woken so events leave promptly."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Table, event
from sqlalchemy.orm import Session
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine, outbox_table: Table | None = None,
                      on_outbox_commit: Callable[[], None] | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions know this service's outbox table (for ``add_event``) and call ``on_outbox_commit`` after any
    commit that staged events."""

    class _Session(Session):
        pass

    @event.listens_for(_Session, "after_commit")
    def _after_commit(sync_session: Session) -> None:
        if sync_session.info.pop("outbox_dirty", False) and on_outbox_commit is not None:
            on_outbox_commit()

    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_Session,
                              info={"outbox_table": outbox_table})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session, session.begin():
        yield session


# scope="function": commit happens before the response is sent, so a 2xx means the data is durable.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
