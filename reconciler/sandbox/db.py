"""The sandbox's SQLite store: one connection, one transaction per request.

Handlers run on the event loop and never await inside a transaction, so requests are
serialized and each write is atomic: a crash or a dropped connection never leaves half a write.
A file database uses WAL so that a reader process (tests, `sqlite3`) does not block it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Database:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
        # uvicorn may run handlers from more than one thread (lifespan, threadpool); a lock
        # keeps one transaction at a time on the shared connection.
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def executescript(self, script: str) -> None:
        with self._lock:
            self.conn.executescript(script)

    def close(self) -> None:
        with self._lock:
            self.conn.close()
