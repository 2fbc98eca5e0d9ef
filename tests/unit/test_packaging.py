"""The environment files, Binder files and pyproject.toml agree, and the package imports light."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]

# conda-forge name -> PyPI name, where they differ.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "redis-py": "redis"}
# conda-only entries: the interpreter, pip, and the Redis *server* for local use.
CONDA_ONLY = {"python", "pip", "redis-server"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def conda_dependencies(path: Path) -> dict[str, str]:
    """{pypi-name: version spec} of the packages an environment.yml installs.

    Conda packages are listed directly; packages conda-forge lacks sit in one ``pip:`` list.
    """
    env = yaml.safe_load(path.read_text())
    deps = {}
    entries = []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            assert set(entry) == {"pip"}, f"{path.name}: the only nested entry may be pip:, not {entry!r}"
            entries += entry["pip"]
        else:
            entries.append(entry)
    for entry in entries:
        assert isinstance(entry, str), f"{path.name}: cannot read dependency {entry!r}"
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", entry.strip())
        assert match, f"{path.name}: cannot read dependency {entry!r}"
        name, spec = match.groups()
        if name in CONDA_ONLY:
            continue
        deps[canonical(CONDA_TO_PYPI.get(name, name))] = spec.replace(" ", "")
    return deps


def test_binder_environment_is_the_root_environment():
    """binder/environment.yml is byte-for-byte the root environment.yml (Binder reads only binder/)."""
    assert (ROOT / "binder" / "environment.yml").read_bytes() == (ROOT / "environment.yml").read_bytes()


def test_conda_environment_matches_pyproject_runtime_dependencies():
    """environment.yml lists the same runtime packages, with the same minimum versions, as pyproject."""
    runtime = {}
    for text in pyproject()["project"]["dependencies"]:
        req = Requirement(text)
        runtime[canonical(req.name)] = str(req.specifier)
    conda = conda_dependencies(ROOT / "environment.yml")
    assert sorted(conda) == sorted(runtime), "the two dependency lists name different packages"
    for name, spec in runtime.items():
        assert set(conda[name].split(",")) == set(spec.split(",")), (
            f"{name}: conda {conda[name]!r} vs pip {spec!r}"
        )


def test_conda_environment_pins_python_and_has_a_redis_server():
    """Binder gets Python 3.11 (not its 3.10 default), pip for postBuild, and a Redis server."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "python=3.11" in env["dependencies"]
    assert "pip" in env["dependencies"]
    assert "redis-server" in env["dependencies"]
    assert "redis-server" in (ROOT / "binder" / "apt.txt").read_text().split()


def test_binder_start_ends_with_exec():
    """binder/start is executable and hands over to JupyterLab with exec "$@" as its last command."""
    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    lines = [
        ln.strip() for ln in start.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    assert lines[-1] == 'exec "$@"'


def test_binder_post_build_stops_on_errors():
    """binder/postBuild is an executable bash script with set -e that installs the package."""
    post_build = ROOT / "binder" / "postBuild"
    text = post_build.read_text()
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    assert text.startswith("#!/bin/bash\n")
    assert re.search(r"^set -[a-z]*e[a-z]*\b", text, re.MULTILINE), "postBuild needs set -e"
    assert "pip install --no-deps -e ." in text


def test_import_is_light():
    """`import pushpull_lab` loads neither matplotlib, ipywidgets, redis nor aiohttp (checked in a fresh process)."""
    code = (
        "import sys, pushpull_lab\n"
        "heavy = sorted(m for m in ('matplotlib', 'ipywidgets', 'redis', 'aiohttp') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"import pushpull_lab imported: {result.stdout.strip()}"
