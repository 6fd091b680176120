"""Fixtures shared by the cross-service deployment tests: the compose file and the rendered k8s manifests,
each loaded once per run."""
import contextlib
import os
import sys
from pathlib import Path

import pytest
import yaml

from zhenxi_common.testing import free_port, running_service

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_support as ds  # noqa: E402


@pytest.fixture(scope="session")
def compose() -> dict:
    return ds.load_compose()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    return {name: ds.render_kustomization(path) for name, path in ds.RENDER_TARGETS.items()}


ROOT = Path(__file__).resolve().parents[1]
PLATFORM = yaml.safe_load((ROOT / "platform.yaml").read_text())


@pytest.fixture(scope="session")
def platform(zx_env):
    """Every service in platform.yaml and the gateway as real processes (started once per run): one database
    (a schema each), Redis and NATS. A service added to platform.yaml is part of it (and of the API fuzz)."""
    env = dict(os.environ)
    # A shared, loaded CI machine answers slower than production: generous probe timeouts and budgets here
    # (the short ones are exercised by test_faults.py).
    env.update({"GATEWAY_HEALTH_PROBE_TIMEOUT_S": "10", "GATEWAY_DOCS_FETCH_TIMEOUT_S": "20",
                "GATEWAY_UPSTREAM_BUDGETS_S": '{"*": 120, "GET": 60}'})
    ports = {name: free_port() for name in PLATFORM["services"]}
    for name, port in ports.items():
        env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(running_service(ROOT / "services" / name, port, env, timeout_s=180))
                for name, port in ports.items()}
        urls["gateway"] = stack.enter_context(running_service(ROOT / "gateway", free_port(), env))
        yield urls
