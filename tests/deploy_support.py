"""Readers for the deployment files, shared by test_topology.py and test_deploy_manifests.py.

There is no Docker engine and no kubectl on CI, so this module holds what the tests need instead:
- ``render_kustomization``: a small kustomize renderer for exactly the features k8s/ uses (resources, namespace,
  images, strategic-merge patches with targets). Anything else in a kustomization.yaml is an error, so the
  renderer can never silently ignore a feature; where kubectl is installed a test compares it with the real one.
- ``parse_dockerfile``: instructions with line continuations, comments and heredocs.
- ``compose_services``: the docker-compose services that a set of profiles starts.
- ``settings_env``: what each app's ``Settings`` reads, imported in a subprocess (every app's package is ``app``).
"""
from __future__ import annotations

import ast
import copy
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = yaml.safe_load((ROOT / "platform.yaml").read_text())
K8S = ROOT / "k8s"
RENDER_TARGETS = {"base": K8S / "base", "cpu": K8S / "overlays" / "cpu", "gpu": K8S / "overlays" / "gpu"}
SECRET_TEMPLATE = K8S / "secrets" / "zhenxi-secrets.example.yaml"
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Settings read by every process (platform.yaml says JWT_SECRET is the gateway's only).
GATEWAY_ONLY_SHARED = {"JWT_SECRET"}


@dataclass(frozen=True)
class App:
    name: str
    dir: Path
    port: int
    env_prefix: str
    gpu: bool
    stateless: bool

    @property
    def dockerfile(self) -> Path:
        return self.dir / "Dockerfile"


def apps() -> dict[str, App]:
    """The gateway and every service of platform.yaml."""
    gw = PLATFORM["gateway"]
    out = {"gateway": App("gateway", ROOT / "gateway", gw["port"], gw["env_prefix"], bool(gw.get("gpu", False)),
                          bool(gw.get("stateless", True)))}
    for name, s in PLATFORM["services"].items():
        out[name] = App(name, ROOT / "services" / name, s["port"], s["env_prefix"], bool(s["gpu"]),
                        bool(s["stateless"]))
    return out


def shared_env_for(app: str) -> set[str]:
    names = set(PLATFORM["shared_env"])
    return names if app == "gateway" else names - GATEWAY_ONLY_SHARED


# --------------------------------------------------------------------------------------------------- kustomize

class KustomizeError(Exception):
    pass


KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
PATCH_KEYS = {"path", "patch", "target"}
TARGET_KEYS = {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
IMAGE_KEYS = {"name", "newName", "newTag", "digest"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
                  "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass", "PodSecurityPolicy",
                  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService"}


def _kustomization_file(directory: Path) -> Path:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            return directory / name
    raise KustomizeError(f"no kustomization file in {directory}")


def resource_id(doc: dict) -> tuple[str, str, str, str]:
    meta = doc.get("metadata", {})
    return doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"]


def render_kustomization(directory: Path) -> list[dict]:
    """What ``kustomize build DIRECTORY`` gives, for the features listed in KUSTOMIZATION_KEYS."""
    kfile = _kustomization_file(directory)
    kust = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(kust) - KUSTOMIZATION_KEYS
    if unknown:
        raise KustomizeError(f"{kfile}: unsupported kustomization fields {sorted(unknown)}")
    if kust.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{kfile}: kind must be Kustomization")
    docs: list[dict] = []
    for entry in kust.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            docs.extend(render_kustomization(path))
        elif path.is_file():
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
        else:
            raise KustomizeError(f"{kfile}: resource {entry!r} does not exist")
    seen: set[tuple] = set()
    for doc in docs:
        rid = resource_id(doc)
        if rid in seen:
            raise KustomizeError(f"{kfile}: duplicate resource {rid}")
        seen.add(rid)
    for patch in kust.get("patches", []):
        _apply_patch(directory, kfile, patch, docs)
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = kust["namespace"]
    for image in kust.get("images", []):
        if set(image) - IMAGE_KEYS or "name" not in image:
            raise KustomizeError(f"{kfile}: unsupported image entry {image}")
        for doc in docs:
            _set_images(doc, image)
    return docs


def _apply_patch(directory: Path, kfile: Path, entry: dict, docs: list[dict]) -> None:
    if set(entry) - PATCH_KEYS or ("path" in entry) == ("patch" in entry):
        raise KustomizeError(f"{kfile}: a patch needs exactly one of path/patch (and optionally target): {entry}")
    text = (directory / entry["path"]).read_text() if "path" in entry else entry["patch"]
    patch = yaml.safe_load(text)
    if not isinstance(patch, dict):
        raise KustomizeError(f"{kfile}: only strategic-merge patches are supported, got {type(patch).__name__}")
    target = entry.get("target")
    if target is None:
        target = {"kind": patch["kind"], "name": re.escape(patch["metadata"]["name"])}
    if set(target) - TARGET_KEYS:
        raise KustomizeError(f"{kfile}: unsupported patch target fields {sorted(set(target) - TARGET_KEYS)}")
    matched = [d for d in docs if _selected(d, target)]
    if not matched:
        raise KustomizeError(f"{kfile}: patch {entry.get('path', '<inline>')} matches no resource")
    body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind", "metadata")}
    for doc in matched:
        merged = strategic_merge(doc, body, ())
        doc.clear()
        doc.update(merged)


def _selected(doc: dict, target: dict) -> bool:
    group, _, version = doc["apiVersion"].rpartition("/")
    meta = doc.get("metadata", {})
    checks = [
        ("group", group), ("version", version), ("kind", doc["kind"]), ("namespace", meta.get("namespace", "")),
    ]
    for key, actual in checks:
        if key in target and target[key] != actual:
            return False
    if "name" in target and not re.fullmatch(target["name"], meta.get("name", "")):
        return False
    for key, field in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        if key in target:
            have = meta.get(field, {}) or {}
            for clause in str(target[key]).split(","):
                k, sep, v = clause.partition("=")
                if not sep or "!" in k:
                    raise KustomizeError(f"only equality selectors are supported: {target[key]!r}")
                if have.get(k.strip()) != v.strip():
                    return False
    return True


def _merge_key(path: tuple[str, ...], field: str) -> str | None:
    """Patch merge keys of the Kubernetes types k8s/ patches (the rest are replaced whole, as kustomize does)."""
    if field in ("containers", "initContainers", "ephemeralContainers", "volumes", "env", "imagePullSecrets"):
        return "name"
    if field == "volumeMounts":
        return "mountPath"
    if field == "ports":
        return "containerPort" if path and path[-1] in ("containers", "initContainers") else "port"
    return None


def strategic_merge(base: Any, patch: Any, path: tuple[str, ...]) -> Any:
    if isinstance(patch, dict):
        if any(str(k).startswith("$") for k in patch):
            raise KustomizeError(f"patch directives are not supported: {sorted(patch)} at {'.'.join(path)}")
        if not isinstance(base, dict):
            return copy.deepcopy(patch)
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = _merge_field(out[key], value, path, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(patch)


def _merge_field(base: Any, patch: Any, path: tuple[str, ...], key: str) -> Any:
    if isinstance(patch, list):
        mkey = _merge_key(path, key)
        if mkey is None or not isinstance(base, list):
            return copy.deepcopy(patch)
        out = copy.deepcopy(base)
        for item in patch:
            at = next((i for i, b in enumerate(out) if b.get(mkey) == item.get(mkey)), None)
            if at is None:
                out.append(copy.deepcopy(item))
            else:
                out[at] = strategic_merge(out[at], item, path + (key,))
        return out
    return strategic_merge(base, patch, path + (key,))


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` -> (name, tag, digest)."""
    rest, _, digest = image.partition("@")
    name, tag = rest, None
    if ":" in rest.rsplit("/", 1)[-1]:
        name, tag = rest.rsplit(":", 1)
    return name, tag, digest or None


def _set_images(node: Any, image: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for c in value:
                    name, tag, digest = split_image(c.get("image", ""))
                    if name != image["name"]:
                        continue
                    name = image.get("newName", name)
                    if "digest" in image:
                        c["image"] = f"{name}@{image['digest']}"
                    else:
                        tag = image.get("newTag", tag)
                        c["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            else:
                _set_images(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, image)


def pod_spec(doc: dict) -> dict | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def index(docs: list[dict]) -> dict[tuple[str, str], dict]:
    """(kind, name) -> resource."""
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container_env_names(container: dict, config_maps: dict[str, dict]) -> dict[str, str]:
    """Every variable a container gets, with where it comes from (envFrom ConfigMaps resolved)."""
    names: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            cm = config_maps.get(source["configMapRef"]["name"])
            if cm is None:
                raise KeyError(f"ConfigMap {source['configMapRef']['name']} is not rendered")
            for key in cm.get("data", {}):
                names[source.get("prefix", "") + key] = f"configmap/{cm['metadata']['name']}"
        else:
            raise KeyError(f"only configMapRef envFrom is expected, got {source}")
    for var in container.get("env", []):
        names[var["name"]] = "env"
    return names


# --------------------------------------------------------------------------------------------------- compose

def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_services(compose: dict, profiles: set[str]) -> dict[str, dict]:
    """Services ``docker compose --profile P ... up`` starts: those without profiles, and those with an active one."""
    return {name: svc for name, svc in compose["services"].items()
            if not svc.get("profiles") or set(svc["profiles"]) & profiles}


def compose_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment", {}) or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def compose_app_of(name: str, svc: dict) -> str | None:
    """Which platform app a compose service runs, from its image ``zhenxi/<app>:...``."""
    image = svc.get("image", "")
    m = re.fullmatch(r"zhenxi/([a-z0-9-]+):.*", image)
    return m.group(1) if m else None


def compose_hostnames(name: str, svc: dict) -> set[str]:
    names = {name}
    networks = svc.get("networks") or {}
    if isinstance(networks, dict):
        for net in networks.values():
            names.update((net or {}).get("aliases", []))
    return names


# --------------------------------------------------------------------------------------------------- Dockerfile

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    heredocs: tuple[str, ...] = ()

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD arguments, if used."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = re.sub(r"^(--\S+\s+)*CMD\s+", "", text)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) else None


def parse_dockerfile(path: Path) -> list[Instruction]:
    lines = path.read_text().splitlines()
    out: list[Instruction] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text = line
        while text.rstrip().endswith("\\") and i < len(lines):
            text = text.rstrip()[:-1] + " "
            nxt = lines[i]
            i += 1
            if nxt.lstrip().startswith("#"):
                continue
            text += nxt.strip()
        keyword, _, args = text.strip().partition(" ")
        heredocs = []
        for marker in re.findall(r"<<-?['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?", args):
            body = []
            while i < len(lines) and lines[i].strip() != marker:
                body.append(lines[i])
                i += 1
            i += 1
            heredocs.append("\n".join(body))
        out.append(Instruction(keyword.upper(), args.strip(), tuple(heredocs)))
    return out


def dockerfile_arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    out = {}
    for ins in instructions:
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            out[name.strip()] = default.strip().strip("'\"")
    return out


def uvicorn_port(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def dockerignore_patterns() -> list[tuple[bool, str]]:
    """(negated, pattern) in file order, as BuildKit reads .dockerignore."""
    out = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        out.append((negated, pattern.strip("/")))
    return out


def _glob_to_regex(pattern: str) -> str:
    """Go filepath.Match syntax plus ``**`` (any number of folders), as BuildKit reads .dockerignore."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            j = pattern.index("]", i)
            body = pattern[i + 1:j]
            out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def dockerignored(relpath: str) -> bool:
    """Whether BuildKit leaves ``relpath`` (or a parent folder of it) out of the build context."""
    ignored = False
    parts = relpath.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for negated, pattern in dockerignore_patterns():
        regex = re.compile(_glob_to_regex(pattern) + r"\Z", re.S)
        if any(regex.match(p) for p in prefixes):
            ignored = not negated
    return ignored


# --------------------------------------------------------------------------------------------------- settings

_SETTINGS_DUMP = r"""
import json, sys
from pydantic import AliasChoices, AliasPath
from app.config import Settings

cfg = Settings.model_config
prefix = cfg.get("env_prefix", "") or ""
fields = {}
for name, f in Settings.model_fields.items():
    alias = f.validation_alias or f.alias
    if alias is None:
        envs = [prefix + name]
    elif isinstance(alias, str):
        envs = [alias]
    elif isinstance(alias, AliasChoices):
        envs = [c if isinstance(c, str) else c.path[0] for c in alias.choices]
    elif isinstance(alias, AliasPath):
        envs = [alias.path[0]]
    else:
        raise TypeError(f"unexpected alias {alias!r}")
    default = f.default
    try:
        json.dumps(default)
    except TypeError:
        default = repr(default)
    fields[name] = {"env": envs, "default": default}
print(json.dumps({"env_prefix": prefix, "case_sensitive": bool(cfg.get("case_sensitive", False)),
                  "module_file": sys.modules["app.config"].__file__, "fields": fields}))
"""


def settings_env(app: App) -> dict:
    """``{"env_prefix", "fields": {field: {"env": [...], "default"}}, "reads": {ENV names}}`` of the app's Settings,
    imported in its own interpreter with the app's directory first on sys.path."""
    proc = subprocess.run([sys.executable, "-c", _SETTINGS_DUMP], cwd=app.dir, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(app.dir),
                                           "PYTHONDONTWRITEBYTECODE": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"importing {app.name} settings failed:\n{proc.stderr[-3000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    if Path(data["module_file"]).resolve().parent.parent != app.dir.resolve():
        raise RuntimeError(f"{app.name}: imported {data['module_file']}, not the app's own config")
    reads = set()
    for f in data["fields"].values():
        reads.update(e if data["case_sensitive"] else e.upper() for e in f["env"])
    data["reads"] = reads
    return data


def pyproject(app_dir: Path) -> dict:
    return tomllib.loads((app_dir / "pyproject.toml").read_text())


def requirement_names(requirements: list[str]) -> set[str]:
    out = set()
    for req in requirements:
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if m:
            out.add(re.sub(r"[-_.]+", "-", m.group(1)).lower())
    return out


# --------------------------------------------------------------------------------------------------- imports

class _ImportCollector(ast.NodeVisitor):
    """Top-level module names imported by a file, except imports guarded by ``except ImportError``."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._guarded = 0

    def visit_Try(self, node: ast.Try) -> None:
        catches = {n.id for h in node.handlers for n in ast.walk(h.type) if isinstance(n, ast.Name)} \
            if all(h.type is not None for h in node.handlers) else {"ImportError"}
        guarded = bool(catches & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
        self._guarded += guarded
        for stmt in node.body:
            self.visit(stmt)
        self._guarded -= guarded
        for stmt in node.handlers + node.orelse + node.finalbody:
            self.visit(stmt)

    def visit_Import(self, node: ast.Import) -> None:
        if not self._guarded:
            self.names.update(alias.name.split(".")[0] for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not self._guarded and node.level == 0 and node.module:
            self.names.add(node.module.split(".")[0])


def runtime_imports(app_dir: Path) -> dict[str, set[str]]:
    """Third-party top-level modules that the app's code and migrations import -> the files importing them."""
    out: dict[str, set[str]] = {}
    local = {"app", "migrations"}
    for folder in ("app", "migrations"):
        for py in sorted((app_dir / folder).rglob("*.py")):
            collector = _ImportCollector()
            collector.visit(ast.parse(py.read_text(), filename=str(py)))
            for name in collector.names - local - set(sys.stdlib_module_names) - {"__future__"}:
                out.setdefault(name, set()).add(py.relative_to(app_dir).as_posix())
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(requirements: list[str], known: dict[str, list[str]]) -> set[str]:
    """Canonical names of the distributions ``pip install`` brings in for ``requirements``: the declared ones and,
    through the installed metadata, everything they require (markers evaluated, requested extras followed).
    ``known`` gives requirement lists for local packages that are not installed from an index."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = _canonical(req.name)
        for wanted in [""] + sorted(req.extras):
            key = f"{name}[{wanted}]"
            if key in seen:
                continue
            seen.add(key)
            if name in known:
                children = known[name] if not wanted else []
            else:
                try:
                    children = importlib.metadata.requires(name) or []
                except importlib.metadata.PackageNotFoundError:
                    children = []
            todo.extend((Requirement(c), wanted) for c in children)
    return {k.split("[")[0] for k in seen}


def import_distributions() -> dict[str, set[str]]:
    """Top-level module -> canonical names of the installed distributions providing it."""
    return {mod: {_canonical(d) for d in dists} for mod, dists in importlib.metadata.packages_distributions().items()}
