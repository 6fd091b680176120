import uuid

import pytest
from fastapi.testclient import TestClient

from zhenxi_common.testing import signed


@pytest.fixture(scope="session")
def client(zx_env):
    import os

    os.environ["TIPS_CF_REFRESH_S"] = "0"   # rebuild the item-kNN model on every request: tests see fresh data
    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="session")
def ctx(client):
    return client.app.state.tips


@pytest.fixture
def user():
    """A fresh user id per test, so tests never see each other's favourites or profiles."""
    return f"u-{uuid.uuid4().hex[:10]}"


def as_user(user_id: str):
    return signed(user_id, role="patient")


def as_admin(user_id: str = "admin-1"):
    return signed(user_id, role="admin")
