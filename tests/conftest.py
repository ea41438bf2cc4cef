"""Shared fixtures: a fresh sandbox per test, in process or behind `reconciler sandbox serve`,
and the `sandbox:` url of a database of the test's own (`url`).

`sandbox_client` is parametrized over both ways of running the sandbox, so a contract test
written once runs against the ASGI app in process and against uvicorn on a real port (the
session's one `tests.served.ServedSandbox`, the harness the benchmark shares).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings

from reconciler.sandbox.app import create_app
from reconciler.sandbox.transport import forget
from tests.served import TLS, ServedSandbox

T = TypeVar("T")

# Property tests: 50 examples each in the everyday run; HYPOTHESIS_PROFILE=thorough for 500.
settings.register_profile("default", max_examples=50)
settings.register_profile("thorough", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.hookimpl(optionalhook=True)  # the hook exists only while xdist is loaded
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """What `-n auto` means for this suite: two workers per core, at most four more than the
    cores. Most of a test's wall time is spent waiting (on a `sandbox serve` subprocess, on
    injected latency, on a pseudo-terminal), not computing, so one worker per core leaves the
    cores idle half the time. PYTEST_XDIST_AUTO_NUM_WORKERS still overrides this."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(2 * cores, cores + 4)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The tool's cache (the compiled schema check) in a directory of the test run's own, for
    the tests and every process they start: never the user's home."""
    os.environ["RECONCILER_CACHE_DIR"] = str(tmp_path_factory.mktemp("reconciler-cache"))


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A `sandbox:` url of a database in the test's own directory, forgotten afterwards."""
    u = f"sandbox:{tmp_path / 'sandbox.db'}"
    yield u
    forget(u)


@pytest.fixture(scope="session")
def served_sandbox() -> Iterator[ServedSandbox]:
    served = ServedSandbox()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def sandbox_app() -> FastAPI:
    """A fresh in-memory sandbox application."""
    return create_app(":memory:")


@pytest.fixture(params=["inprocess", "serve"])
def sandbox_client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A sync httpx client on a fresh sandbox: in process, or over HTTP to `sandbox serve`."""
    if request.param == "inprocess":
        app = create_app(":memory:")
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    else:
        served: ServedSandbox = request.getfixturevalue("served_sandbox")
        served.reset()
        with httpx.Client(base_url=served.url, timeout=10, verify=TLS) as client:
            yield client


def json_of(response: httpx.Response) -> Any:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    return response.json()


class _CountingConnection:
    """A sqlite3 connection that counts the statements its callers issue (an `executemany`
    is one statement, as it is one call into SQLite)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements = 0

    def execute(self, *args: Any) -> Any:
        self.statements += 1
        return self._conn.execute(*args)

    def executemany(self, *args: Any) -> Any:
        self.statements += 1
        return self._conn.executemany(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def statements_of(app: Any, call: Callable[[], T]) -> tuple[int, T]:
    """How many SQL statements the sandbox behind `app` issued while `call` ran, and its result.

    Counting statements instead of timing a call says whether a handler issues a query per row,
    which is what makes it slow at size, and holds on a loaded machine as on an idle one."""
    db = app.state.sandbox.db
    real = db.conn
    counting = _CountingConnection(real)
    db.conn = counting
    try:
        result = call()
    finally:
        db.conn = real
    return counting.statements, result
