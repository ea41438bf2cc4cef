"""The console emulator's values: its paths and limits, the error it answers, a validated
configure body (one validator per family, class-validator style messages) and the JSON text
of its answers.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

PREFIX = "/api/v1/console"
CHANNELS = PREFIX + "/agents/{agent_id}/integrations"
OAUTH_CALLBACK = PREFIX + "/oauth/callback"

MAX_BODY_BYTES = 1024 * 1024
MAX_NAME = 255
MAX_IDEMPOTENCY_KEY = 255
READ_SCOPE = "integrations:read"
WRITE_SCOPE = "integrations:write"

FAMILIES = ("custom_api", "mcp_server", "bimpeai")
AUTH_TYPES = ("none", "bearer", "basic", "api_key", "custom")
AUTH_CONFIG_KEYS = ("token", "api_key", "header_name", "username", "password")
TRANSPORTS = ("http_sse", "streamable_http")
# bimpeai type -> display name, in the order the catalog lists them.
BIMPEAI_TYPES = {
    "bumpa": "Bumpa",
    "paystack": "Paystack",
    "stripe": "Stripe",
    "google_calendar": "Google Calendar",
    "google_sheets": "Google Sheets",
}
# The credential each key-based type cannot work without; the other types go through OAuth.
BIMPEAI_REQUIRED_KEY = {"bumpa": "token", "paystack": "secret_key", "stripe": "secret_key"}
BIMPEAI_CREDENTIALS = ("token", "public_key", "secret_key")

_CURRENCY = re.compile(r"[A-Za-z]{3}")


class ApiError(Exception):
    """An error answer in the console's shape; raised anywhere inside a request."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | list[str],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Agent:
    id: str
    team: str
    workflow: bool
    channel_limit: int


@dataclass(frozen=True)
class NewChannel:
    """A validated configure body: what to store, split into readable and write-only parts."""

    family: str
    type: str
    name: str
    status: str
    config: dict[str, Any]
    secrets: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One authenticated request, as the per-route actions see it."""

    team: str
    agent_id: str
    # The parsed JSON body of a POST (not validated yet); None for GET and DELETE.
    body: Any
    # `sandbox.clock()` read once per request, so that every row written shares one time.
    now: float
    # Where the caller reached the sandbox, for the absolute onboarding url.
    base_url: str


Action = Callable[[sqlite3.Connection, Call], tuple[int, Any]]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- body validation


class _Fields:
    """Collects class-validator style messages over one JSON object."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []

    def string(self, name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.errors.append(f"{name}: should not be empty")
            return None
        if not isinstance(value, str):
            self.errors.append(f"{name}: must be a string")
            return None
        if required and not value:
            self.errors.append(f"{name}: should not be empty")
        if max_len is not None and len(value) > max_len:
            self.errors.append(f"{name}: must be shorter than or equal to {max_len} characters")
        return value

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.errors.append(f"{name}: must be a URL address")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.data.get(name)
        if value is None:
            if default is None:
                self.errors.append(f"{name}: should not be empty")
            return default
        if value not in choices:
            self.errors.append(f"{name}: must be one of the following values: {', '.join(choices)}")
            return default
        return str(value)

    def string_map(self, name: str, keys: tuple[str, ...]) -> dict[str, str]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.errors.append(f"{name}: must be an object")
            return {}
        out: dict[str, str] = {}
        for key in keys:
            item = value.get(key)
            if item is None:
                continue
            if not isinstance(item, str):
                self.errors.append(f"{name}.{key}: must be a string")
            else:
                out[key] = item
        return out

    def done(self) -> None:
        if self.errors:
            raise ApiError(400, "validation_error", self.errors)


def _fields(body: Any) -> _Fields:
    if not isinstance(body, dict):
        raise ApiError(400, "validation_error", ["request body must be a JSON object"])
    return _Fields(body)


def _validate_custom_api(body: Any) -> NewChannel:
    f = _fields(body)
    name = f.string("name", required=True, max_len=MAX_NAME)
    description = f.string("description")
    base_url = f.url("base_url")
    auth_type = f.choice("auth_type", AUTH_TYPES, "none")
    auth_config = f.string_map("auth_config", AUTH_CONFIG_KEYS)
    test_endpoint = f.string("test_endpoint")
    f.done()
    assert name is not None
    return NewChannel(
        family="custom_api",
        type="custom_api",
        name=name,
        status="active",
        config={"name": name, "base_url": base_url, "auth_type": auth_type},
        secrets={
            "description": description,
            "auth_config": auth_config,
            "test_endpoint": test_endpoint,
        },
    )


def _validate_mcp_server(body: Any) -> NewChannel:
    f = _fields(body)
    name = f.string("name", required=True, max_len=MAX_NAME)
    server_url = f.url("server_url", required=True)
    transport = f.choice("transport", TRANSPORTS, "streamable_http")
    auth_type = f.choice("auth_type", AUTH_TYPES, "none")
    auth_config = f.string_map("auth_config", AUTH_CONFIG_KEYS)
    f.done()
    assert name is not None
    return NewChannel(
        family="mcp_server",
        type="mcp_server",
        name=name,
        status="active",
        config={
            "name": name,
            "server_url": server_url,
            "transport": transport,
            "auth_type": auth_type,
        },
        secrets={"auth_config": auth_config},
    )


def _validate_bimpeai(body: Any) -> NewChannel:
    f = _fields(body)
    kind = f.choice("type", tuple(BIMPEAI_TYPES), None)
    credentials = {name: f.string(name) for name in BIMPEAI_CREDENTIALS}
    currency = f.string("currency")
    if currency is not None and not _CURRENCY.fullmatch(currency):
        f.errors.append("currency: must be a valid ISO4217 currency code")
    required = BIMPEAI_REQUIRED_KEY.get(kind or "")
    # A key of the wrong type already has its message; an absent or empty one gets this one.
    if required is not None and body.get(required) in (None, ""):
        f.errors.append(f"{required}: should not be empty")
    f.done()
    assert kind is not None
    return NewChannel(
        family="bimpeai",
        type=kind,
        name=BIMPEAI_TYPES[kind],
        status="active" if kind in BIMPEAI_REQUIRED_KEY else "pending",
        config={},
        secrets={**credentials, "currency": currency},
    )


VALIDATORS: dict[str, Callable[[Any], NewChannel]] = {
    "custom_api": _validate_custom_api,
    "mcp_server": _validate_mcp_server,
    "bimpeai": _validate_bimpeai,
}
