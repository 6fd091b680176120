import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def client(zx_env):
    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def _cjk_font():
    from synth.generate import available_fonts

    if not available_fonts():
        pytest.fail("no CJK font: ./zhenxi test installs deploy/apt-packages.txt (as root), "
                    "or apt-get install fonts-wqy-zenhei")
