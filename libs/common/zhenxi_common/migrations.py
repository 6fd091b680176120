"""Alembic glue shared by every service: each service migrates only its own schema and keeps its own
``alembic_version`` table there, so services can be migrated and rolled back independently."""
from __future__ import annotations

import asyncio
import os

from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from .outbox import outbox_tables

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/zhenxi"


def database_url(config_url: str | None) -> str:
    return os.environ.get("DATABASE_URL") or config_url or DEFAULT_URL


def run_migrations(metadata: MetaData, schema: str) -> None:
    """Body of a service's ``migrations/env.py`` (online, async)."""
    from alembic import context

    url = database_url(context.config.get_main_option("sqlalchemy.url"))

    def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
        return type_ != "schema" or name == schema

    def do_run(connection: Connection) -> None:
        # Replicas starting together (k8s initContainers) take turns instead of racing on the same DDL.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"zhenxi-migrate-{schema}"})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(connection=connection, target_metadata=metadata, version_table_schema=schema,
                          include_schemas=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run())


def create_platform_tables(schema: str) -> None:
    """For a service's first revision: the outbox and inbox tables every service carries."""
    from alembic import op

    for table in outbox_tables(MetaData(schema=schema)):
        table.create(op.get_bind())


def drop_platform_tables(schema: str) -> None:
    from alembic import op

    for table in reversed(outbox_tables(MetaData(schema=schema))):
        table.drop(op.get_bind())
