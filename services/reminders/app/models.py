"""Tables of the ``reminders`` schema. Only this service reads or writes them."""
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from zhenxi_common.outbox import outbox_tables

SCHEMA = "reminders"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


outbox, inbox = outbox_tables(metadata)
