"""The layout's rules, checked: api imports no worker module, nothing imports the cli,
nothing happens at import, the worker's handler registry is the catalog the receiver reads,
no module grows past 400 lines, every exception relink defines has the one root,
shared.errors.RelinkError, and the cases core imports no database, Stripe, Celery or
logging."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

from shared.errors import RelinkError
from shared.events.catalog import HANDLED_EVENT_TYPES
from worker.inbox.handlers import HANDLERS

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 400
CORE = ROOT / "worker" / "cases" / "core"
IMPURE = ("sqlmodel", "sqlalchemy", "stripe", "celery", "structlog", "prometheus_client")
# What the core may import of the project: itself and these pure modules of shared/.
CORE_MAY_IMPORT = (
    "worker.cases.core",
    "shared.errors",
    "shared.events.header",
    "shared.cases.lifecycle",
    "shared.platform_webhooks.payloads",
    "shared.stripe_objects",
)


def test_importing_the_api_loads_no_worker_or_cli_module_reads_no_setting_and_writes_nothing(
    tmp_path: Path,
) -> None:
    script = (
        "import sys, api.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('worker', 'cli')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "STRIPE_WEBHOOK_SECRETS": "not-a-whsec-secret"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []  # no ./var/broker/queue, no database file


def imported_modules(path: Path) -> set[str]:
    """Every module a file names in an import statement, at any depth (lazy imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_api_worker_or_shared_imports_the_cli() -> None:
    """The cli sits on top: it may call api, worker, shared and sim, and nothing calls it."""
    importers = {
        str(path.relative_to(ROOT)): sorted(cli_modules)
        for package in ("api", "worker", "shared")
        for path in (ROOT / package).rglob("*.py")
        if (
            cli_modules := {
                name for name in imported_modules(path) if name == "cli" or name.startswith("cli.")
            }
        )
    }
    assert importers == {}


def test_the_handler_registry_is_the_catalog_the_receiver_reads() -> None:
    assert set(HANDLERS) == HANDLED_EVENT_TYPES


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in ("api", "worker", "cli", "shared")
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_exception_relink_defines_derives_from_relink_error() -> None:
    """One root: whatever relink raises has Stripe's fields, and api/errors.py renders any of
    them in the one error shape (the SDK's and the libraries' exceptions are theirs)."""
    strays = []
    for package in ("api", "worker", "shared"):
        for found in pkgutil.walk_packages([str(ROOT / package)], f"{package}."):
            module = importlib.import_module(found.name)
            strays += [
                f"{found.name}.{value.__name__}"
                for value in vars(module).values()
                if isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == found.name
                and not issubclass(value, RelinkError)
            ]
    assert strays == []


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(
                [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                if node.level == 0
                else [node.module]
            )
    return names


def test_the_cases_core_imports_no_database_stripe_celery_or_logging() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        for name in _imports(path):
            assert name.split(".")[0] not in IMPURE, (path.name, name)
            if name.split(".")[0] in ("api", "shared", "worker"):
                # an allowed module, or a package on the way to one (`from shared.x import y`)
                parent_of_allowed = any(m.startswith(name + ".") for m in CORE_MAY_IMPORT)
                assert name.startswith(CORE_MAY_IMPORT) or parent_of_allowed, (path.name, name)
        assert path.read_text().startswith("# pyright: strict") or path.name == "__init__.py"


def test_importing_the_cases_core_loads_no_impure_module() -> None:
    script = (
        "import sys, worker.cases.core.decide\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {IMPURE!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
