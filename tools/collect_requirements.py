"""Print the path of a requirements file holding every service's declared dependencies (from pyproject.toml),
so one virtualenv can run the whole platform in development. Containers install one service each instead."""
import sys
import tempfile
import tomllib
from pathlib import Path

root = Path(sys.argv[1])
reqs: set[str] = set()
for pyproject in [root / "gateway" / "pyproject.toml", *sorted((root / "services").glob("*/pyproject.toml"))]:
    data = tomllib.loads(pyproject.read_text())
    for dep in data.get("project", {}).get("dependencies", []):
        if not dep.startswith("zhenxi-"):
            reqs.add(dep)
out = Path(tempfile.mkstemp(prefix="zhenxi-reqs-", suffix=".txt")[1])
out.write_text("\n".join(sorted(reqs)) + "\n")
print(out)
