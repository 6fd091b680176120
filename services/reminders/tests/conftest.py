import os

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def client(zx_env):
    # The tests drive the scheduler by hand (with a chosen clock); the delivery consumer stays on.
    os.environ["REMINDERS_SCHEDULER_ENABLED"] = "false"
    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="session")
def state(client):
    return client.app.state
