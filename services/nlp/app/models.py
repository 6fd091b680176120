"""Tables of the ``nlp`` schema. Only this service reads or writes them."""
import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, MetaData, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhenxi_common.outbox import outbox_tables

SCHEMA = "nlp"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


class Consultation(Base):
    """A Q&A conversation; it belongs to exactly one user and only they can read it."""
    __tablename__ = "consultations"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    __table_args__ = (Index("ix_consultations_user_updated", "user_id", "updated_at"),)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.consultations.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # user | assistant
    content: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str | None] = mapped_column(String(32))  # answer | emergency | out_of_scope | not_understood
    urgency: Mapped[str | None] = mapped_column(String(16))
    sources: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    departments: Mapped[list] = mapped_column(JSONB, nullable=False, default=list)
    knowledge_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    __table_args__ = (Index("ix_messages_consultation_created", "consultation_id", "created_at"),)


outbox, inbox = outbox_tables(metadata)
