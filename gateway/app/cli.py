"""``./zhenxi create-user USERNAME [--role admin]``: create an account directly in the database, e.g. the first
administrator (registration over HTTP only ever creates patients). The password comes from ZHENXI_PASSWORD or a
prompt, never from the command line."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys

from zhenxi_common.db import make_engine, make_sessionmaker
from zhenxi_common.errors import ServiceError

from .config import Settings
from .models import outbox
from .schemas import ROLES, Credentials
from .service import AuthService


async def create_user(settings: Settings, username: str, password: str, role: str) -> dict:
    creds = Credentials(username=username, password=password)
    engine = make_engine(settings.database_url, 1)
    try:
        sessionmaker = make_sessionmaker(engine, outbox)
        auth = AuthService(settings, redis=None, sessionmaker=sessionmaker)  # type: ignore[arg-type]
        async with sessionmaker() as session, session.begin():
            user = await auth.register(session, creds.username, creds.password)
            if role != "patient":
                user = await auth.set_role(session, creds.username, role)
        return {"id": str(user.id), "username": user.username, "role": user.role}
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zhenxi create-user", description=__doc__)
    parser.add_argument("username")
    parser.add_argument("--role", choices=ROLES, default="patient")
    args = parser.parse_args(argv)
    password = os.environ.get("ZHENXI_PASSWORD") or getpass.getpass("password: ")
    try:
        out = asyncio.run(create_user(Settings(), args.username, password, args.role))
    except ServiceError as exc:
        print(json.dumps(exc.to_body(), ensure_ascii=False))
        return 2
    except ValueError as exc:  # pydantic validation of username/password
        print(json.dumps({"error": {"code": "validation_error", "message": str(exc).splitlines()[0]}}))
        return 2
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
