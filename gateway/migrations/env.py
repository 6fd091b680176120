from app.models import SCHEMA, metadata
from zhenxi_common.migrations import run_migrations

run_migrations(metadata, SCHEMA)
