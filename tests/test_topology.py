"""platform.yaml is the single source of truth for ports, env prefixes, shared env vars and probe paths.
These tests hold every other place to it: each app's Settings (imported for real, one interpreter per app because
every app's package is ``app``), the Dockerfiles, docker-compose.yml and the rendered k8s manifests."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_support as ds  # noqa: E402

APPS = ds.apps()
PROBES = ds.PLATFORM["probes"]


@pytest.fixture(scope="module")
def settings() -> dict[str, dict]:
    return {name: ds.settings_env(app) for name, app in APPS.items()}


def test_platform_yaml_is_consistent_with_itself():
    ports = [a.port for a in APPS.values()]
    assert len(set(ports)) == len(ports), "two apps share a port"
    for app in APPS.values():
        assert app.env_prefix == app.name.upper() + "_", f"{app.name}: prefix {app.env_prefix}"
        assert app.dir.is_dir(), f"{app.name}: {app.dir} is missing"
    assert set(PROBES) >= {"liveness", "readiness", "metrics"}


# --------------------------------------------------------------------------------------------------- settings

@pytest.mark.parametrize("app", sorted(APPS))
def test_settings_use_the_platform_prefix_port_and_shared_env(settings, app):
    s = settings[app]
    assert s["env_prefix"] == APPS[app].env_prefix
    assert s["fields"]["port"]["default"] == APPS[app].port, f"{app}: Settings.port default drifted"
    assert s["fields"]["service_name"]["default"] == app
    missing = ds.shared_env_for(app) - s["reads"]
    assert not missing, f"{app}: Settings does not read shared env {sorted(missing)}"


def test_gateway_settings_know_every_service_url(settings):
    for name, app in APPS.items():
        if name != "gateway":
            assert f"GATEWAY_{name.upper()}_URL" in settings["gateway"]["reads"]
            default = settings["gateway"]["fields"][f"{name}_url"]["default"]
            assert urlparse(default).port == app.port, f"gateway default URL for {name} has the wrong port"


# --------------------------------------------------------------------------------------------------- Docker

@pytest.mark.parametrize("app", sorted(APPS))
def test_dockerfile_serves_and_checks_the_platform_port(app):
    ins = ds.parse_dockerfile(APPS[app].dockerfile)
    cmd = next(i for i in ins if i.keyword == "CMD").exec_form()
    assert ds.uvicorn_port(cmd) == APPS[app].port, f"{app}: CMD port"
    assert [i.args for i in ins if i.keyword == "EXPOSE"] == [str(APPS[app].port)]
    health = " ".join(next(i for i in ins if i.keyword == "HEALTHCHECK").exec_form())
    url = urlparse(re.search(r"https?://[^'\" ]+", health).group(0))
    assert (url.port, url.path) == (APPS[app].port, PROBES["liveness"])


# --------------------------------------------------------------------------------------------------- compose

def _compose_by_app(compose: dict) -> dict[str, list[tuple[str, dict]]]:
    out: dict[str, list[tuple[str, dict]]] = {}
    for name, svc in compose["services"].items():
        app = ds.compose_app_of(name, svc)
        if app is not None:
            out.setdefault(app, []).append((name, svc))
    return out


@pytest.mark.parametrize("app", sorted(APPS))
def test_compose_sets_only_env_the_settings_read(compose, settings, app):
    by_app = _compose_by_app(compose)
    assert by_app.get(app), f"{app} is not in docker-compose.yml"
    for name, svc in by_app[app]:
        env = ds.compose_env(svc)
        unknown = set(env) - settings[app]["reads"]
        assert not unknown, f"compose {name} sets {sorted(unknown)}, which {app}'s Settings do not read"
        if name.endswith("-migrate"):
            assert "DATABASE_URL" in env
            continue
        missing = ds.shared_env_for(app) - set(env)
        assert not missing, f"compose {name} lacks shared env {sorted(missing)}"
        health = " ".join(svc["healthcheck"]["test"])
        url = urlparse(re.search(r"https?://[^'\" ]+", health).group(0))
        assert (url.port, url.path) == (APPS[app].port, PROBES["readiness"]), f"compose {name} healthcheck"


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_compose_gateway_reaches_each_service_at_its_platform_port(compose, profile):
    active = ds.compose_services(compose, {profile})
    env = ds.compose_env(active["gateway"])
    hostnames = {}
    for name, svc in active.items():
        if not name.endswith("-migrate") and ds.compose_app_of(name, svc):
            for host in ds.compose_hostnames(name, svc):
                hostnames[host] = ds.compose_app_of(name, svc)
    for name, app in APPS.items():
        if name == "gateway":
            continue
        url = urlparse(env[f"GATEWAY_{name.upper()}_URL"])
        assert hostnames.get(url.hostname) == name and url.port == app.port, \
            f"profile {profile}: GATEWAY_{name.upper()}_URL={url.geturl()} does not reach {name}:{app.port}"


# --------------------------------------------------------------------------------------------------- k8s

@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_k8s_ports_probes_and_metrics_follow_platform_yaml(rendered, target):
    idx = ds.index(rendered[target])
    for app in APPS.values():
        dep = idx[("Deployment", app.name)]
        (c,) = ds.pod_spec(dep)["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"http": app.port}, f"{target}/{app.name}: containerPort"
        for probe, path in (("readinessProbe", PROBES["readiness"]), ("livenessProbe", PROBES["liveness"])):
            get = c[probe]["httpGet"]
            assert get["path"] == path and get["port"] in ("http", app.port), f"{target}/{app.name}: {probe}"
        if "startupProbe" in c:
            assert c["startupProbe"]["httpGet"]["path"] == PROBES["liveness"]
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/port"] == str(app.port) and ann["prometheus.io/path"] == PROBES["metrics"]
        (sp,) = idx[("Service", app.name)]["spec"]["ports"]
        assert sp["port"] == app.port and sp["targetPort"] in ("http", app.port)


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_k8s_sets_only_env_the_settings_read(rendered, settings, target):
    idx = ds.index(rendered[target])
    config_maps = {name: d for (kind, name), d in idx.items() if kind == "ConfigMap"}
    for app in APPS.values():
        spec = ds.pod_spec(idx[("Deployment", app.name)])
        for c in spec["containers"] + spec.get("initContainers", []):
            env = ds.container_env_names(c, config_maps)
            unknown = set(env) - settings[app.name]["reads"]
            assert not unknown, f"{target}/{app.name}/{c['name']} sets {sorted(unknown)}, not read by its Settings"
            if c["name"] == "app":
                missing = ds.shared_env_for(app.name) - set(env)
                assert not missing, f"{target}/{app.name} lacks shared env {sorted(missing)}"
            else:
                assert "DATABASE_URL" in env


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_k8s_gateway_reaches_each_service_at_its_platform_port(rendered, target):
    idx = ds.index(rendered[target])
    data = idx[("ConfigMap", "gateway-config")]["data"]
    for name, app in APPS.items():
        if name == "gateway":
            continue
        url = urlparse(data[f"GATEWAY_{name.upper()}_URL"])
        service = url.hostname.split(".")[0]
        assert service == name and ("Service", service) in idx and url.port == app.port, \
            f"{target}: GATEWAY_{name.upper()}_URL={url.geturl()}"


def _cuda_switch(app: str, settings: dict) -> str | None:
    name = f"{APPS[app].env_prefix}USE_CUDA"
    return name if name in settings[app]["reads"] else None


def test_gpu_variants_turn_cuda_on_where_the_settings_have_a_switch(compose, rendered, settings):
    """CPU deployments say use_cuda=false, GPU ones true (compose variants and k8s overlays alike)."""
    cpu_idx, gpu_idx = ds.index(rendered["cpu"]), ds.index(rendered["gpu"])
    for app in (a for a in APPS.values() if a.gpu):
        switch = _cuda_switch(app.name, settings)
        if switch is None:
            continue
        assert ds.compose_env(compose["services"][app.name])[switch] == "false"
        assert ds.compose_env(compose["services"][f"{app.name}-gpu"])[switch] == "true"
        assert cpu_idx[("ConfigMap", f"{app.name}-config")]["data"][switch] == "false"
        assert gpu_idx[("ConfigMap", f"{app.name}-config")]["data"][switch] == "true"
