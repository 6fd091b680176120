"""End to end: every service and the gateway as real processes on one database (a schema each), Redis and NATS;
a user registers, logs in and reaches every service through the gateway only."""
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = yaml.safe_load((ROOT / "platform.yaml").read_text())


def test_all_processes_ready_and_reachable_through_the_gateway(platform):
    gw = platform["gateway"]
    health = httpx.get(f"{gw}/api/health", timeout=10)
    assert health.status_code == 200, health.text
    assert set(health.json()["services"]) == set(PLATFORM["services"])

    creds = {"username": "e2e_patient", "password": "e2e-password-1"}
    assert httpx.post(f"{gw}/api/auth/register", json=creds).status_code == 201
    tokens = httpx.post(f"{gw}/api/auth/login", json=creds).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    for name in PLATFORM["services"]:
        r = httpx.get(f"{gw}/api/{name}/v1/info", headers=auth, timeout=10)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["service"] == name and r.json()["caller"]["role"] == "patient"
        direct = httpx.get(f"{platform[name]}/v1/info", timeout=10)
        assert direct.status_code == 401 and direct.json()["error"]["code"] == "gateway_required"

    spec = httpx.get(f"{gw}/api/openapi.json", timeout=10).json()
    for name in PLATFORM["services"]:
        assert f"/api/{name}/v1/info" in spec["paths"]
