"""Sandbox emulator of the conductor API (placeholder: routes are added by the conductor emulator work)."""

from __future__ import annotations

import sqlite3

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from reconciler.sandbox.seed import Seed

PREFIX = "/api"
SCHEMA = ""
router = APIRouter()


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Re-create the seeded rows after a wipe."""


def http_error(request: Request, status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status)
