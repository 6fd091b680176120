"""Fixtures shared by the cross-service deployment tests: the compose file and the rendered k8s manifests,
each loaded once per run."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_support as ds  # noqa: E402


@pytest.fixture(scope="session")
def compose() -> dict:
    return ds.load_compose()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    return {name: ds.render_kustomization(path) for name, path in ds.RENDER_TARGETS.items()}
