"""Servers of the parity suite: a throwaway PostgreSQL cluster, the real Kubiya router on it
(published, and with its response model corrected), and a `reconciler sandbox serve` beside
each. Nothing here is skipped: a missing piece is an error that says what to install.

`tests/parity/run.sh` installs PostgreSQL (Debian's `postgresql`) and the router's virtual
environment, then runs this suite with `PARITY_ROUTER_PYTHON` pointing at that environment.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.parity import conversation

HERE = Path(__file__).resolve().parent
RUNS = ("published", "corrected")
START_TIMEOUT = 180.0  # the vendor's app imports for 10 to 40 s on a busy machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    pytest.fail(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed: the parity suite needs them. "
        "Install Debian's `postgresql` package (tests/parity/run.sh does so when it runs as root).",
        pytrace=False,
    )


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` system user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class Postgres:
    bindir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bindir = _postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="reconciler-parity-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    port = _free_port()

    def check(command: list[str], what: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"PostgreSQL: {what} failed:\n{done.stdout}{done.stderr}", pytrace=False)

    check(
        _as_postgres_user(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
        ),
        "initdb",
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    check(
        _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        "starting the server",
    )
    try:
        for run in RUNS:
            check([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", run], f"createdb {run}")
        yield Postgres(bindir, port)
    finally:
        subprocess.run(
            _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


class Process:
    """A server subprocess whose output goes to a log file, shown when it does not come up."""

    def __init__(self, name: str, command: list[str], url: str, ready_path: str, log: Path) -> None:
        self.name = name
        self.url = url
        self.ready_path = ready_path
        self.log = log
        self._log_file = log.open("wb")
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        tail = self.log.read_text(errors="replace")[-4000:]
        state = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "did not answer in time"
        pytest.fail(f"{self.name} {state}; its log ends with:\n{tail}", pytrace=False)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


@dataclass
class Pair:
    real: Process
    sandbox: Process
    sandbox_db: Path


def _router_python() -> str:
    python = os.environ.get("PARITY_ROUTER_PYTHON", "")
    if not python or not os.access(python, os.X_OK):
        pytest.fail(
            "PARITY_ROUTER_PYTHON must name the Python of a virtual environment with the real Kubiya router "
            "(tests/parity/router.lock). Run the suite with tests/parity/run.sh, which makes that environment.",
            pytrace=False,
        )
    return python


@pytest.fixture(scope="session")
def pairs(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pair]]:
    """Per run, the real router and a fresh sandbox, all four started at once."""
    python = _router_python()
    logs = tmp_path_factory.mktemp("parity-logs")
    started: dict[str, Pair] = {}
    try:
        for run in RUNS:
            port = _free_port()
            command = [python, str(HERE / "kubiya_router.py"), "--port", str(port), "--database-url", postgres.url(run)]
            if run == "corrected":
                command.append("--corrected")
            real = Process(f"the real router ({run})", command, f"http://127.0.0.1:{port}", "/__parity/rows", logs / f"router-{run}.log")
            sandbox_port = _free_port()
            db = logs / f"sandbox-{run}.db"
            sandbox = Process(
                f"the sandbox ({run})",
                [sys.executable, "-m", "reconciler.cli", "sandbox", "serve", "--port", str(sandbox_port), "--db", str(db)],
                f"http://127.0.0.1:{sandbox_port}",
                "/_sandbox/health",
                logs / f"sandbox-{run}.log",
            )
            started[run] = Pair(real, sandbox, db)
        deadline = time.monotonic() + START_TIMEOUT
        for pair in started.values():
            pair.real.wait_ready(deadline)
            pair.sandbox.wait_ready(deadline)
        yield started
    finally:
        for pair in started.values():
            pair.real.stop()
            pair.sandbox.stop()


def _real_rows(real: httpx.Client) -> list[dict[str, Any]]:
    """The router's stored rows, as its `/__parity/rows` gives them."""
    rows: list[dict[str, Any]] = real.get("/__parity/rows").raise_for_status().json()
    return rows


def _sandbox_rows(db: Path) -> list[dict[str, Any]]:
    """The sandbox's stored rows, in the shape and order of the router's `/__parity/rows`."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT id, organization_id, name, integration_type, description, status, config, tags,"
            " created_at, updated_at, created_by FROM kubiya_custom_integrations ORDER BY created_at DESC, seq DESC"
        ).fetchall()
    finally:
        conn.close()
    return [{**dict(row), "config": orjson.loads(row["config"]), "tags": orjson.loads(row["tags"])} for row in rows]


@dataclass
class Outcome:
    raw: dict[str, tuple[conversation.Side, conversation.Side]]  # run -> (real, sandbox)
    normalised: dict[str, tuple[conversation.Side, conversation.Side]]


@pytest.fixture(scope="session")
def outcome(pairs: dict[str, Pair]) -> Outcome:
    """The conversation, played once against each server of each run."""
    raw: dict[str, tuple[conversation.Side, conversation.Side]] = {}
    for run, pair in pairs.items():
        # A connection per request: uvicorn closes a connection after an unhandled error (the
        # published router's 500s), and a kept-alive one would then fail the next request.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=pair.real.url, timeout=30, limits=fresh) as real, httpx.Client(
            base_url=pair.sandbox.url, timeout=30, limits=fresh
        ) as sandbox:
            real_side = conversation.run(real, functools.partial(_real_rows, real))
            sandbox_side = conversation.run(sandbox, functools.partial(_sandbox_rows, pair.sandbox_db))
        raw[run] = (real_side, sandbox_side)
    normalised = {run: (conversation.normalise(r), conversation.normalise(s)) for run, (r, s) in raw.items()}
    return Outcome(raw, normalised)
