"""Queries for consultations and messages. Every read is scoped to the owner; only flush(), never commit()."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Consultation, Message

# Phone and ID numbers are masked before a message is stored: the history is kept, the identifiers are not.
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_identifiers(text: str) -> str:
    text = _ID_CARD.sub(lambda m: m.group(1) + "********" + m.group(2)[-1], text)
    return _MOBILE.sub(r"\1****\2", text)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


async def create_consultation(session: AsyncSession, user_id: str, title: str) -> Consultation:
    c = Consultation(id=uuid.uuid4(), user_id=user_id, title=mask_identifiers(title)[:100])
    session.add(c)
    await session.flush()
    await session.refresh(c)
    return c


async def get_consultation(session: AsyncSession, user_id: str, consultation_id: str) -> Consultation | None:
    cid = _uuid(consultation_id)
    if cid is None:
        return None
    return (await session.execute(
        select(Consultation).where(Consultation.id == cid, Consultation.user_id == user_id))).scalar_one_or_none()


async def list_consultations(session: AsyncSession, user_id: str, limit: int = 50) -> list[Consultation]:
    rows = await session.execute(select(Consultation).where(Consultation.user_id == user_id)
                                 .order_by(Consultation.updated_at.desc(), Consultation.id).limit(limit))
    return list(rows.scalars())


async def list_messages(session: AsyncSession, consultation_id: uuid.UUID, limit: int | None = None) -> list[Message]:
    q = select(Message).where(Message.consultation_id == consultation_id)
    if limit is None:
        q = q.order_by(Message.created_at, Message.id)
        return list((await session.execute(q)).scalars())
    rows = list((await session.execute(q.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))).scalars())
    return rows[::-1]


async def add_message(session: AsyncSession, consultation: Consultation, role: str, content: str, *,
                      kind: str | None = None, urgency: str | None = None, sources: list | None = None,
                      departments: list | None = None, knowledge_version: str | None = None) -> Message:
    msg = Message(id=uuid.uuid4(), consultation_id=consultation.id, role=role, content=mask_identifiers(content),
                  kind=kind, urgency=urgency, sources=sources or [], departments=departments or [],
                  knowledge_version=knowledge_version, created_at=datetime.now(timezone.utc))
    session.add(msg)
    await session.execute(update(Consultation).where(Consultation.id == consultation.id)
                          .values(updated_at=datetime.now(timezone.utc)))
    await session.flush()
    return msg
