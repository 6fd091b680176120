import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def client(zx_env):
    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c
