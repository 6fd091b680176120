import os

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def nlp(tmp_path_factory):
    """One real service (knowledge, jieba dictionary, embedding model) for all pure tests."""
    from app.config import Settings
    from app.service import NlpService

    settings = Settings(cache_dir=tmp_path_factory.mktemp("nlp-cache"))
    return NlpService.create(settings)


@pytest.fixture(scope="session")
def kb(nlp):
    return nlp.kb


@pytest.fixture(scope="session")
def client(zx_env):
    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c
