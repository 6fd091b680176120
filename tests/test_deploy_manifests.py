"""The deployment files are well-formed and complete: docker-compose.yml, the Dockerfiles, .dockerignore and k8s/
(kustomize base + cpu/gpu overlays rendered offline and checked against the Kubernetes JSON schemas).

How ports, env names and probes agree with platform.yaml and the services' settings is test_topology.py's job."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_support as ds  # noqa: E402

APPS = ds.apps()
GPU_APPS = {name for name, app in APPS.items() if app.gpu}
INFRA = {"postgres", "redis", "nats"}
# Oldest Kubernetes minor we deploy to, and the newest kubernetes-validate ships schemas for.
KUBE_VERSIONS = ("1.30", kv_utils.latest_version())


@pytest.fixture(scope="module")
def secret_template() -> dict:
    return yaml.safe_load(ds.SECRET_TEMPLATE.read_text())


# --------------------------------------------------------------------------------------------------- compose

def test_compose_builds_every_app_from_an_existing_dockerfile(compose):
    built = {}
    for name, svc in compose["services"].items():
        if "build" not in svc:
            continue
        build = svc["build"]
        assert build["context"] == ".", f"{name}: build context must be the repository root"
        dockerfile = ds.ROOT / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {build['dockerfile']} does not exist"
        app = ds.compose_app_of(name, svc)
        assert app in APPS, f"{name}: image {svc.get('image')!r} is not zhenxi/<app>:<tag> of a platform app"
        assert dockerfile == APPS[app].dockerfile, f"{name} builds {dockerfile}, expected {APPS[app].dockerfile}"
        built.setdefault(app, []).append(name)
    assert set(built) == set(APPS), f"apps without a compose service: {sorted(set(APPS) - set(built))}"


def test_compose_infrastructure_is_postgres16_redis7_nats2_jetstream_with_volumes(compose):
    services = compose["services"]
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")
    assert services["nats"]["image"].split(":")[1].split("-")[0].split(".")[0] == "2"
    assert "-js" in services["nats"]["command"] or "--jetstream" in services["nats"]["command"]
    declared = set(compose.get("volumes") or {})
    for name in INFRA:
        svc = services[name]
        assert "healthcheck" in svc, f"{name} has no healthcheck"
        mounts = [v.split(":")[0] for v in svc.get("volumes", [])]
        assert mounts and all(m in declared for m in mounts), f"{name}: needs a named volume, has {mounts}"
        assert not svc.get("profiles"), f"{name} must run in every profile"


@pytest.mark.parametrize("profiles", [set(), {"cpu"}, {"gpu"}], ids=["no-profile", "cpu", "gpu"])
def test_compose_dependencies_exist_and_gate_on_health_and_migrations(compose, profiles):
    active = ds.compose_services(compose, profiles)
    for name, svc in active.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must use the long form with conditions"
        for dep, spec in deps.items():
            assert dep in active, f"{name} depends on {dep}, which profile(s) {sorted(profiles)} do not start"
            expected = "service_completed_successfully" if dep.endswith("-migrate") else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {dep}: condition {spec.get('condition')}"
            if expected == "service_healthy":
                assert "healthcheck" in active[dep], f"{name} waits for {dep} to be healthy, but it has no check"
        app = ds.compose_app_of(name, svc)
        if app is None:
            continue
        if name.endswith("-migrate"):
            assert svc["command"] == ["alembic", "upgrade", "head"]
            assert svc.get("restart", "no") == "no"
            assert deps["postgres"]["condition"] == "service_healthy"
        else:
            assert INFRA <= set(deps), f"{name} must wait for {sorted(INFRA - set(deps))}"
            assert f"{app}-migrate" in deps, f"{name} must start after its migrations"
            assert "healthcheck" in svc, f"{name} has no healthcheck"


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_each_profile_runs_every_app_exactly_once_under_its_own_hostname(compose, profile):
    active = ds.compose_services(compose, {profile})
    for app in APPS:
        providers = [n for n, s in active.items()
                     if ds.compose_app_of(n, s) == app and not n.endswith("-migrate")
                     and app in ds.compose_hostnames(n, s)]
        assert len(providers) == 1, f"profile {profile}: {app} is served by {providers}"
        svc = active[providers[0]]
        devices = (svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", []))
        if profile == "gpu" and app in GPU_APPS:
            assert providers[0] == f"{app}-gpu"
            assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices), \
                f"{providers[0]} must reserve an NVIDIA GPU"
            assert svc["image"].endswith("-gpu")
            assert svc["build"].get("args", {}).get("ORT_PACKAGE", "").startswith("onnxruntime-gpu")
        else:
            assert not devices, f"profile {profile}: {providers[0]} must not reserve a GPU"
            assert "ORT_PACKAGE" not in svc["build"].get("args", {})


def test_only_the_gateway_publishes_a_port(compose):
    published = {n for n, s in compose["services"].items() if s.get("ports")}
    assert published == {"gateway"}


# --------------------------------------------------------------------------------------------------- Dockerfiles

@pytest.mark.parametrize("app", sorted(APPS))
def test_dockerfile_shape(app):
    a = APPS[app]
    ins = ds.parse_dockerfile(a.dockerfile)
    kinds = [i.keyword for i in ins]
    args = ds.dockerfile_arg_defaults(ins)
    froms = [i.args for i in ins if i.keyword == "FROM"]
    base = froms[-1].split()[0]  # the runtime stage (the gateway builds its web modules in an earlier node stage)
    base = args.get(base.strip("${}"), base) if base.startswith("$") else base
    assert base == "python:3.11-slim"
    rel = a.dir.relative_to(ds.ROOT).as_posix()
    runs = [i.args for i in ins if i.keyword == "RUN"]
    copies = [i.args.split() for i in ins if i.keyword == "COPY"]
    common_copy = kinds.index("COPY") if ["libs/common", "libs/common"] in copies else None
    assert common_copy is not None, "libs/common must be copied"
    common_install = next(n for n, r in enumerate(runs) if "pip install ./libs/common" in r)
    app_install = next(n for n, r in enumerate(runs) if f"pip install -e ./{rel}" in r)
    assert common_install < app_install, "the shared library is installed before the app"
    assert [rel, rel] in copies
    # Non-root at run time, numeric so that Kubernetes' runAsNonRoot can verify it.
    user = [i.args for i in ins if i.keyword == "USER"]
    assert user and user[-1].split(":")[0].isdigit() and user[-1].split(":")[0] != "0"
    workdir = [i.args for i in ins if i.keyword == "WORKDIR"][-1]
    assert workdir == f"/app/{rel}", "the app runs from its folder (alembic.ini, migrations/ live there)"
    cmd = next(i for i in ins if i.keyword == "CMD").exec_form()
    assert cmd[:3] == ["uvicorn", "--factory", "app.main:create_app"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    health = [i for i in ins if i.keyword == "HEALTHCHECK"]
    assert len(health) == 1 and health[0].exec_form(), "one exec-form HEALTHCHECK"
    # knowledge/ lands at /app/knowledge (the repo layout, see docs/DEPLOY.md) in exactly the images that read it:
    # those depending on zhenxi-knowledge (libs/knowledge, installed before the app) or whose code names the folder.
    deps = ds.requirement_names(ds.pyproject(a.dir)["project"].get("dependencies", []))
    uses_package = "zhenxi-knowledge" in deps
    reads_knowledge = uses_package or any(re.search(r"[\"']knowledge[\"']", py.read_text())
                                          for py in (a.dir / "app").rglob("*.py"))
    assert (["knowledge", "knowledge"] in copies) == reads_knowledge, \
        f"{app}: {'copy' if reads_knowledge else 'do not copy'} knowledge/ into the image"
    if uses_package:
        assert ["libs/knowledge", "libs/knowledge"] in copies, f"{app}: copy libs/knowledge into the image"
        knowledge_install = next(n for n, r in enumerate(runs) if "pip install ./libs/knowledge" in r)
        assert knowledge_install < app_install, "the knowledge package is installed before the app"
    if a.gpu:
        assert args.get("ORT_PACKAGE") == "onnxruntime"
        assert any("ORT_PACKAGE" in r and "onnxruntime-gpu" not in r for r in runs)


@pytest.mark.parametrize("app", sorted(APPS))
def test_image_installs_what_cmd_and_migrations_run(app):
    """uvicorn (CMD) and alembic (migrate) must come from the app's dependency closure, and the app's pyproject
    must be installable (`pip install -e` in the Dockerfile)."""
    a = APPS[app]
    common = ds.pyproject(ds.ROOT / "libs" / "common")
    project = ds.pyproject(a.dir)
    assert "build-system" in project, f"{app}/pyproject.toml has no [build-system]"
    deps = ds.requirement_names(project["project"].get("dependencies", []))
    assert "zhenxi-common" in deps
    closure = deps | ds.requirement_names(common["project"]["dependencies"])
    assert {"uvicorn", "alembic"} <= closure
    include = project.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {}).get("include", [])
    assert any(p in ("app", "app*") for p in include), f"{app}: setuptools must package app*"
    assert (a.dir / "alembic.ini").is_file() and (a.dir / "migrations" / "env.py").is_file()


@pytest.mark.parametrize("app", sorted(APPS))
def test_image_dependencies_cover_every_import(app):
    """The shared venv has every team's packages; an image has only what the app's pyproject (and zhenxi-common's)
    pull in. A module imported by app/ or migrations/ that its dependencies do not bring would crash the container."""
    common = ds.pyproject(ds.ROOT / "libs" / "common")["project"]
    declared = ds.pyproject(APPS[app].dir)["project"].get("dependencies", [])
    knowledge = ds.pyproject(ds.ROOT / "libs" / "knowledge")["project"]
    closure = ds.dependency_closure(declared, known={"zhenxi-common": common["dependencies"],
                                                     "zhenxi-knowledge": knowledge["dependencies"]})
    providers = ds.import_distributions()
    providers.setdefault("zhenxi_common", set()).add("zhenxi-common")
    providers.setdefault("zhenxi_knowledge", set()).add("zhenxi-knowledge")
    missing = {}
    for module, files in ds.runtime_imports(APPS[app].dir).items():
        dists = providers.get(module)
        if not dists or not dists & closure:
            missing[module] = f"{sorted(dists) if dists else 'not installed'} (imported by {sorted(files)[0]})"
    assert not missing, f"{app}/pyproject.toml must declare the packages for: {missing}"


def test_dockerignore_keeps_what_images_need_and_drops_local_state():
    needed = ["libs/common/pyproject.toml", "libs/common/zhenxi_common/__init__.py", "knowledge",
              "libs/knowledge/pyproject.toml", "libs/knowledge/zhenxi_knowledge/__init__.py",
              "services/xray/models/chestnet.onnx", "services/xray/models/chestnet.json", "gateway/web/public/index.html",
              "gateway/web/package-lock.json"]
    for app in APPS.values():
        rel = app.dir.relative_to(ds.ROOT).as_posix()
        needed += [f"{rel}/pyproject.toml", f"{rel}/alembic.ini", f"{rel}/app/main.py", f"{rel}/migrations/env.py",
                   f"{rel}/Dockerfile"]
    for path in needed:
        assert not ds.dockerignored(path), f".dockerignore drops {path}"
    for path in [".git/config", ".venv/bin/python", ".venv-train/bin/python", "services/ocr/app/__pycache__/x.pyc",
                 "services/ocr/tests/test_x.py", "services/xray/training/runs/x", "libs/common/x.egg-info/PKG-INFO",
                 ".env"]:
        assert ds.dockerignored(path), f".dockerignore keeps {path}"


# --------------------------------------------------------------------------------------------------- kustomize

def test_renderer_refuses_features_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(ds.KustomizeError, match="commonLabels"):
        ds.render_kustomization(tmp_path)


def test_renderer_merges_containers_by_name_and_replaces_tolerations(tmp_path):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"template": {"spec": {
               "tolerations": [{"key": "a", "operator": "Exists"}],
               "containers": [{"name": "app", "image": "zhenxi/x", "resources": {"limits": {"cpu": "1"}}},
                              {"name": "side", "image": "busybox:1"}]}}}}
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "whatever"},
             "spec": {"template": {"spec": {
                 "tolerations": [{"key": "b", "operator": "Exists"}],
                 "containers": [{"name": "app", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}
    (tmp_path / "dep.yaml").write_text(yaml.safe_dump(dep))
    (tmp_path / "patch.yaml").write_text(yaml.safe_dump(patch))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["dep.yaml"], "namespace": "ns",
        "images": [{"name": "zhenxi/x", "newTag": "1-gpu"}],
        "patches": [{"path": "patch.yaml", "target": {"kind": "Deployment", "name": "x|y"}}]}))
    (out,) = ds.render_kustomization(tmp_path)
    spec = out["spec"]["template"]["spec"]
    assert out["metadata"]["namespace"] == "ns"
    assert spec["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert spec["containers"][0] == {"name": "app", "image": "zhenxi/x:1-gpu",
                                     "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": 1}}}
    assert spec["containers"][1] == {"name": "side", "image": "busybox:1"}


def _kubectl_kustomize(path: Path) -> list[dict] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and "unknown command" in proc.stderr:
        return None
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_renderer_agrees_with_kubectl_kustomize_where_installed(rendered, target):
    real = _kubectl_kustomize(ds.RENDER_TARGETS[target])
    if real is None:
        pytest.skip("kubectl is not installed; the offline renderer stands alone")
    mine = {ds.resource_id(d): d for d in rendered[target]}
    theirs = {ds.resource_id(d): d for d in real}
    assert mine.keys() == theirs.keys()
    for rid, doc in mine.items():
        assert doc == theirs[rid], f"{target}: {rid} differs from kubectl kustomize"


_validated: set[str] = set()


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_rendered_manifests_match_the_kubernetes_schemas_strictly(rendered, target):
    assert rendered[target], f"{target} renders nothing"
    for doc in rendered[target]:
        for version in KUBE_VERSIONS:
            key = version + json.dumps(doc, sort_keys=True)
            if key in _validated:
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
                pytest.fail(f"{target}: {doc['kind']}/{doc['metadata']['name']} invalid for k8s {version}: "
                            f"{getattr(exc, 'message', exc)} at {list(getattr(exc, 'path', []))}")
            _validated.add(key)


def test_secret_template_is_valid_and_only_placeholders(secret_template):
    kubernetes_validate.validate(secret_template, KUBE_VERSIONS[-1], strict=True)
    assert secret_template["metadata"]["name"] == "zhenxi-secrets"
    for key, value in secret_template["stringData"].items():
        # zhenxi_common.settings refuses values containing "change-me" outside dev/test.
        assert "change-me" in value, f"{key} in the template must be an obvious placeholder"


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_every_app_has_deployment_service_config_pdb_and_hpa_when_stateless(rendered, target):
    idx = ds.index(rendered[target])
    assert not [d for d in rendered[target] if d["kind"] == "Secret"], "no Secret may be rendered (keep them out of git)"
    namespaces = {d["metadata"].get("namespace") for d in rendered[target] if d["kind"] != "Namespace"}
    assert namespaces == {"zhenxi"}
    for app in APPS.values():
        dep = idx[("Deployment", app.name)]
        svc = idx[("Service", app.name)]
        pdb = idx[("PodDisruptionBudget", app.name)]
        assert ("ConfigMap", f"{app.name}-config") in idx
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        for selector in (dep["spec"]["selector"]["matchLabels"], svc["spec"]["selector"],
                         pdb["spec"]["selector"]["matchLabels"]):
            assert selector.items() <= pod_labels.items(), f"{app.name}: a selector does not match its pods"
        hpa = idx.get(("HorizontalPodAutoscaler", app.name))
        if app.stateless:
            assert hpa is not None, f"{app.name} is stateless and needs an HPA"
            assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.name}
            assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
            assert "replicas" not in dep["spec"], f"{app.name}: the HPA owns replicas"
            assert pdb["spec"].get("minAvailable") == 1
        else:
            assert hpa is None, f"{app.name} is not stateless and must not autoscale"
            assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
            assert pdb["spec"].get("maxUnavailable") == 1, "a single replica's PDB must still allow node drains"


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_pods_are_hardened_resourced_and_migrate_first(rendered, target, secret_template):
    idx = ds.index(rendered[target])
    config_maps = {name: d for (kind, name), d in idx.items() if kind == "ConfigMap"}
    secret_keys = set(secret_template["stringData"])
    for app in APPS.values():
        dep = idx[("Deployment", app.name)]
        spec = ds.pod_spec(dep)
        assert spec["enableServiceLinks"] is False, \
            f"{app.name}: service links inject <SVC>_PORT=tcp://..., which prefixed settings would read"
        assert spec["securityContext"]["runAsNonRoot"] is True
        (app_c,) = spec["containers"]
        (migrate,) = spec["initContainers"]
        assert migrate["command"] == ["alembic", "upgrade", "head"]
        assert migrate["image"] == app_c["image"]
        for c in (app_c, migrate):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{app.name}/{c['name']}: {kind}"
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            ds.container_env_names(c, config_maps)  # every envFrom ConfigMap exists
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "zhenxi-secrets" and ref["key"] in secret_keys, \
                        f"{app.name}: secret {ref} is not in the template"
        mounts = {m["mountPath"] for m in app_c["volumeMounts"]}
        assert "/tmp" in mounts, "read-only root filesystem needs a writable /tmp"


def _by_app(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in docs:
        app = d["metadata"].get("labels", {}).get("app.kubernetes.io/name")
        out.setdefault(app, []).append(d)
    return out


def test_gpu_overlay_puts_only_the_model_services_on_gpus(rendered):
    cpu, gpu = ds.index(rendered["cpu"]), ds.index(rendered["gpu"])
    assert GPU_APPS, "platform.yaml marks no service gpu: true"
    assert "nvidia" not in json.dumps(rendered["cpu"]), "the cpu overlay must not mention GPUs"
    for app in APPS:
        cpu_pod, gpu_pod = ds.pod_spec(cpu[("Deployment", app)]), ds.pod_spec(gpu[("Deployment", app)])
        cpu_image = cpu_pod["containers"][0]["image"]
        gpu_image = gpu_pod["containers"][0]["image"]
        name, cpu_tag, _ = ds.split_image(cpu_image)
        assert name == f"zhenxi/{app}" and cpu_tag, f"{app}: the overlay must pin a tag, got {cpu_image}"
        assert not cpu_tag.endswith("-gpu")
        if app not in GPU_APPS:
            assert _by_app(rendered["gpu"])[app] == _by_app(rendered["cpu"])[app], \
                f"the gpu overlay must leave {app} as the cpu overlay has it"
            continue
        assert gpu_image == f"zhenxi/{app}:{cpu_tag}-gpu", "GPU image = same release, -gpu tag"
        assert gpu_pod["initContainers"][0]["image"] == gpu_image
        assert gpu_pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu_pod["tolerations"]
        limits = gpu_pod["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == 1
        assert {"cpu", "memory"} <= set(limits), "the GPU patch must add to the limits, not replace them"
        assert "nvidia.com/gpu" not in gpu_pod["initContainers"][0]["resources"].get("limits", {}), \
            "migrations need no GPU"


def _under(path: str, mounts: set[str]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


@pytest.mark.parametrize("target", sorted(ds.RENDER_TARGETS))
def test_k8s_paths_in_config_are_writable_mounts_and_shared_volumes_are_rwx(rendered, target):
    """The root filesystem is read-only: a path handed to an app in its config must be a mounted volume, and a
    volume shared by several replicas must be ReadWriteMany."""
    idx = ds.index(rendered[target])
    config_maps = {name: d for (kind, name), d in idx.items() if kind == "ConfigMap"}
    for app in APPS.values():
        dep = idx[("Deployment", app.name)]
        spec = ds.pod_spec(dep)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"] + spec.get("initContainers", []):
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert all(m["name"] in volumes for m in c.get("volumeMounts", [])), f"{app.name}: unknown volume"
            values = {}
            for source in c.get("envFrom", []):
                values.update(config_maps[source["configMapRef"]["name"]].get("data", {}))
            values.update({v["name"]: v["value"] for v in c.get("env", []) if "value" in v})
            for key, value in values.items():
                if str(value).startswith("/"):
                    assert _under(value, mounts), f"{target}/{app.name}/{c['name']}: {key}={value} is not mounted"
        replicated = ("HorizontalPodAutoscaler", app.name) in idx or dep["spec"].get("replicas", 1) > 1
        for vol in volumes.values():
            if "persistentVolumeClaim" in vol:
                pvc = idx.get(("PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"]))
                assert pvc is not None, f"{app.name}: PVC {vol['persistentVolumeClaim']['claimName']} not rendered"
                if replicated:
                    assert "ReadWriteMany" in pvc["spec"]["accessModes"], \
                        f"{app.name} has several replicas sharing {pvc['metadata']['name']}: needs ReadWriteMany"


def test_compose_paths_in_env_are_volumes_or_tmpfs(compose):
    for name, svc in compose["services"].items():
        if ds.compose_app_of(name, svc) is None:
            continue
        mounts = set(svc.get("tmpfs", []))
        for vol in svc.get("volumes", []):
            source, _, target = vol.partition(":")
            assert source in (compose.get("volumes") or {}), f"{name}: volume {source} is not declared"
            mounts.add(target.split(":")[0])
        for key, value in ds.compose_env(svc).items():
            if value.startswith("/"):
                assert _under(value, mounts), f"compose {name}: {key}={value} is neither a volume nor tmpfs"
