"""Where the time goes: py-spy samples a running benchmark process, and the samples are
summed by the innermost frame's library (each sample counted once), so a benchmark can print
"psycopg 31 %, Starlette/FastAPI 22 % …" beside its figures.

py-spy is not a dependency of relink: `.venv/bin/pip install py-spy`; without it, `--profile`
says so and the benchmark runs unprofiled.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (label, top-level packages or modules as py-spy names a frame's file): a sample goes to the
# label of its innermost frame that has one.
LIBRARIES: list[tuple[str, set[str]]] = [
    ("psycopg (PostgreSQL driver, waits included)", {"psycopg", "psycopg_binary", "psycopg_pool"}),
    ("SQLAlchemy / SQLModel", {"sqlalchemy", "sqlmodel"}),
    ("Celery / kombu / redis client (publish, consume)", {"celery", "kombu", "redis", "amqp"}),
    ("stripe SDK (signature check, objects)", {"stripe"}),
    ("JSON (orjson, json)", {"json", "orjson"}),
    ("pydantic", {"pydantic", "pydantic_core", "pydantic_settings"}),
    ("FastAPI / Starlette (routing, middleware, dependencies)", {"fastapi", "starlette"}),
    ("uvicorn / httptools / h11 (HTTP server)", {"uvicorn", "httptools", "h11"}),
    ("structlog / logging", {"structlog", "logging"}),
    ("prometheus-client", {"prometheus_client"}),
    ("asyncio / threads (event loop, executor)", {"asyncio", "concurrent", "threading.py"}),
    ("requests / urllib3 (HTTP client)", {"requests", "urllib3"}),
    ("aiosmtpd / email (SMTP, messages)", {"aiosmtpd", "email"}),
    ("the Stripe simulator (sim/)", {"sim"}),
    ("relink's own code", {"api", "worker", "shared"}),
]
_LABEL = {name: label for label, names in LIBRARIES for name in names}
_FILE = re.compile(r"\((?P<file>[^():]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    """py-spy beside this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, subprocesses: bool = False) -> subprocess.Popen[bytes]:
    """Sample `pid` (and with `subprocesses` its children) until `finish`, collapsed stacks
    into `out`."""
    command = [str(py_spy()), "record", "--pid", str(pid), "--format", "raw"]
    command += ["--output", str(out), "--nonblocking"]
    if subprocesses:
        command.append("--subprocesses")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(sampler: subprocess.Popen[bytes]) -> None:
    """Stop sampling; py-spy writes its file on SIGINT."""
    sampler.send_signal(signal.SIGINT)
    sampler.wait(timeout=60)


def by_library(collapsed: Path) -> list[tuple[str, float]]:
    """Share of samples per library (innermost matching frame), largest first."""
    counts: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        counts[_library(stack.split(";"))] += int(samples)
    total = sum(counts.values()) or 1
    return [(label, n / total) for label, n in counts.most_common()]


def _library(frames: list[str]) -> str:
    for frame in reversed(frames):
        found = _FILE.search(frame)
        label = _LABEL.get(found["file"].split("/")[0]) if found else None
        if label is not None:
            return label
    return "other (interpreter, standard library)"


def print_summary(title: str, collapsed: Path) -> None:
    if not collapsed.exists() or collapsed.stat().st_size == 0:
        print(f"\n{title}: no samples (py-spy needs ptrace; run as root or with CAP_SYS_PTRACE)")
        return
    print(f"\n{title} (py-spy, share of samples by innermost library):")
    for label, share in by_library(collapsed):
        if share >= 0.01:
            print(f"  {share:>6.1%}  {label}")
