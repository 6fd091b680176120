import os

import pytest
from fastapi.testclient import TestClient

from fakes import FakeWeChat


@pytest.fixture(scope="session")
def wechat():
    with FakeWeChat() as w:
        yield w


@pytest.fixture(scope="session")
def client(zx_env, wechat):
    # The tests drive the scheduler by hand (with a chosen clock); the outbox relay and the delivery and booking
    # consumers run for real against NATS.
    os.environ.update({"REMINDERS_SCHEDULER_ENABLED": "false", "REMINDERS_WECHAT_BASE_URL": wechat.url,
                       "REMINDERS_WECHAT_APPID": "wx-test-app", "REMINDERS_WECHAT_SECRET": "wx-test-secret",
                       "REMINDERS_WECHAT_TEMPLATE_ID": "tmpl-dose"})
    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="session")
def state(client):
    return client.app.state


@pytest.fixture(scope="session")
def in_tx(client, state):
    """Run ``fn(session)`` in one committed transaction on the app's own loop (service calls with a chosen clock)."""
    def run(fn):
        async def go():
            async with state.sessionmaker() as session, session.begin():
                return await fn(session)
        return client.portal.call(go)
    return run


@pytest.fixture(scope="session")
def call(client):
    """Run an async callable on the app's loop."""
    def run(fn, *args, **kw):
        async def go():
            return await fn(*args, **kw)
        return client.portal.call(go)
    return run


@pytest.fixture
def paused_relay(state, call):
    """The app's relay stopped for the test (so it cannot take the test's rows: the test's own relays alone decide
    what is sent), started again after."""
    call(state.outbox_relay.stop)
    try:
        yield
    finally:
        async def restart():
            state.outbox_relay.start()
        call(restart)
