"""Tables of the ``ocr`` schema. Only this service reads or writes them."""
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from zhenxi_common.outbox import outbox_tables

SCHEMA = "ocr"
metadata = MetaData(schema=SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


outbox, inbox = outbox_tables(metadata)
