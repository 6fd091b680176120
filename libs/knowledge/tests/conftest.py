import shutil
from pathlib import Path

import pytest

from zhenxi_knowledge import default_root, get_knowledge


@pytest.fixture(scope="session")
def kb():
    return get_knowledge()


@pytest.fixture
def kb_copy(tmp_path) -> Path:
    """A private copy of knowledge/ a test may break."""
    dst = tmp_path / "knowledge"
    shutil.copytree(default_root(), dst, ignore=shutil.ignore_patterns("*.md"))
    return dst
