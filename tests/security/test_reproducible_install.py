"""The hashed lock files (requirements/*.txt, written by requirements/compile) agree with
pyproject.toml, and the Dockerfile and CI install from them with --require-hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
BUILD_LOCK = ROOT / "requirements" / "build.txt"

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


def normalize(name: str) -> str:
    """PEP 503: `PyYAML`, `pyyaml` and `py_yaml` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    """name -> version of each `name[extras]==version` requirement (the others are left out:
    test_pyproject_pins_exactly names them)."""
    found: dict[str, str] = {}
    for requirement in requirements:
        if match := PIN.match(requirement.strip()):
            found[normalize(match["name"])] = match["version"]
    return found


def lock_entries(path: Path) -> list[str]:
    """The lock's requirements, each with its `\\`-continued --hash options on one line."""
    entries: list[str] = []
    for line in path.read_text().replace("\\\n", " ").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            entries.append(text)
    return entries


def locked(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in lock_entries(path):
        match = PIN.match(entry)
        assert match, f"{path.name}: {entry[:80]!r} is not a name==version pin"
        found[normalize(match["name"])] = match["version"]
    return found


RUNTIME_PINS = pins(PYPROJECT["dependencies"])
DEV_PINS = pins(PYPROJECT["optional-dependencies"]["dev"])


def test_pyproject_pins_exactly() -> None:
    requirements = PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["dev"]
    unpinned = [req for req in requirements if not PIN.match(req.strip())]
    assert unpinned == [], "pin these with == (then run requirements/compile)"
    assert "pyyaml" in DEV_PINS


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_lock_line_is_a_pin_with_hashes(lock: Path) -> None:
    entries = lock_entries(lock)
    assert len(entries) > len(RUNTIME_PINS)
    for entry in entries:
        assert PIN.match(entry), entry[:80]
        hashes = re.findall(r"--hash=sha256:([0-9a-f]+)", entry)
        assert hashes, f"{lock.name}: {entry.split()[0]} has no --hash"
        assert all(len(digest) == 64 for digest in hashes), entry.split()[0]
        assert not re.search(r"(^|\s)(-e|--editable|--index-url|--extra-index-url)\b", entry)


def test_runtime_lock_has_every_runtime_pin() -> None:
    lock = locked(RUNTIME_LOCK)
    for name, version in RUNTIME_PINS.items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_dev_lock_has_every_runtime_and_dev_pin() -> None:
    lock = locked(DEV_LOCK)
    for name, version in {**RUNTIME_PINS, **DEV_PINS}.items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_dev_lock_runs_the_runtime_versions() -> None:
    """CI tests exactly what the image runs: the dev lock is the runtime lock plus extras."""
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "relink" not in runtime
    assert "relink" not in dev


def test_dockerfile_and_ci_install_from_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements/build.txt" in dockerfile
    assert "pip install --no-cache-dir --require-hashes -r requirements/runtime.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps --no-build-isolation -e ." in dockerfile
    assert "pip install -q --require-hashes -r requirements/build.txt" in ci
    assert "pip install -q --require-hashes -r requirements/dev.txt" in ci
    assert "pip install -q --no-deps --no-build-isolation -e ." in ci
    assert "pip install -q -e '.[dev]'" not in ci
    assert "--upgrade pip" not in ci  # pip comes from the build lock, hashed


def test_the_build_backend_and_pip_are_pinned_and_hashed() -> None:
    """L12: `setuptools>=77` came unpinned and unhashed through build isolation, and CI
    upgraded pip to whatever was newest."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    (backend,) = build["requires"]
    lock = locked(BUILD_LOCK)
    assert pins([backend]) == {"setuptools": lock["setuptools"]}
    assert set(lock) == {"pip", "setuptools"}
    for entry in lock_entries(BUILD_LOCK):
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.split()[0]
