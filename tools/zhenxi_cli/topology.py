"""Reads platform.yaml, the single source of truth for ports and names."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Component:
    name: str
    port: int
    directory: Path
    env_prefix: str


def components() -> list[Component]:
    data = yaml.safe_load((ROOT / "platform.yaml").read_text())
    out = [Component(name, spec["port"], ROOT / "services" / name, spec["env_prefix"])
           for name, spec in data["services"].items()]
    gw = data["gateway"]
    out.append(Component("gateway", gw["port"], ROOT / "gateway", gw["env_prefix"]))
    return out
