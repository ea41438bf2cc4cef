"""`reconciler sandbox serve` in a subprocess on a free loopback port, with its admin endpoints.

The one served-sandbox harness of the repository: the tests' `served_sandbox` fixture and the
benchmark (`bench/harness.py`) both start their servers with `ServedSandbox`. It needs httpx
and the installed tool only, never pytest, so that the benchmark can import it.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

# One TLS context for every client the tests and this harness make: httpx loads the CA bundle
# for each client it makes without one, which costs a tenth of a second on a busy machine.
TLS = ssl.create_default_context()


class ServeError(RuntimeError):
    """`sandbox serve` exited before it answered, or did not answer in time."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedSandbox:
    """A `reconciler sandbox serve` subprocess on a free loopback port.

    `extra` are more options of `sandbox serve` (`--seed FILE`, count-based faults); `db` is its
    database (in memory unless given); its standard error is a pipe unless `stderr` says where
    it goes (a log file). The admin client is made at the first admin call, so a caller that
    reads the server's stderr itself (`proc.communicate()`) leaves no connection behind.
    """

    def __init__(
        self,
        *extra: str,
        db: str = ":memory:",
        cwd: Path | None = None,
        stderr: IO[bytes] | int = subprocess.PIPE,
        startup_s: float = 20.0,
        admin_timeout_s: float = 10.0,
    ) -> None:
        self._admin: httpx.Client | None = None
        self._admin_timeout_s = admin_timeout_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", "sandbox", "serve", "--port", str(self.port), "--db", db, *extra],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "NO_COLOR": "1"},
        )
        deadline = time.monotonic() + startup_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode().strip() if self.proc.stderr else ""
                raise ServeError(f"sandbox serve exited with {self.proc.returncode}" + (f": {err}" if err else ""))
            try:
                if httpx.get(self.url + "/_sandbox/health", timeout=0.5, verify=TLS).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServeError(f"sandbox serve did not come up within {startup_s:g} s")

    @property
    def admin(self) -> httpx.Client:
        """A client on the server's base url, for its admin endpoints and direct calls."""
        if self._admin is None:
            self._admin = httpx.Client(base_url=self.url, timeout=self._admin_timeout_s, verify=TLS)
        return self._admin

    def reset(self) -> None:
        """A fresh server: no data but the seed's, no faults, no request statistics."""
        self.admin.post("/_sandbox/reset").raise_for_status()
        self.admin.put("/_sandbox/faults", json={}).raise_for_status()
        self.clear_stats()

    def latency(self, ms: float) -> None:
        """The same latency on every API request from now on (the other faults cleared)."""
        self.admin.put("/_sandbox/faults", json={"latency_ms": ms}).raise_for_status()

    def clear_stats(self) -> None:
        self.admin.delete("/_sandbox/stats").raise_for_status()

    def stats(self) -> dict[str, Any]:
        """Requests served since the last `clear_stats`, by method, route and status."""
        response = self.admin.get("/_sandbox/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (0 where /proc is not available)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
