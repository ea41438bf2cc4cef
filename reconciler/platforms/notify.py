"""Posting a report to a webhook (Slack-compatible JSON), with retries.

Retries connection errors, 429 and 5xx with the one `RetryPolicy` (`NOTIFY_RETRY` unless a
caller passes another), a bounded number of times. A failure is
raised as a `PlatformError` whose message names the status but never echoes the url's path
(webhook urls embed their secret token).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler.errors import PlatformError
from reconciler.platforms.answers import server_message
from reconciler.platforms.retry import RETRY_STATUSES, RetryPolicy

# A webhook is one call at the end of a command: fewer, slower tries than an API's.
NOTIFY_RETRY = RetryPolicy(attempts=4, base=0.5, cap=4.0)


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}"
    except ValueError:
        return "the webhook"


def _without_path(message: str, url: str) -> str:
    """`: <message>`, or nothing when the server's text echoes any part of the url's path or
    query (a webhook url's path is its secret token: `Cannot POST /services/T0/B0/XoXo`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    pieces = [p for p in (*parts.path.split("/"), *parts.query.split("&")) if len(p) >= 4]
    lowered = message.lower()
    if any(piece.lower() in lowered for piece in pieces) or (parts.path not in ("", "/") and parts.path in message):
        return " (its message is left out: it repeats the url)"
    return f": {message}"


async def post_json(
    url: str,
    payload: Any,
    *,
    retry: RetryPolicy = NOTIFY_RETRY,
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """POST `payload`; returns the number of tries it took."""
    where = _host(url)
    attempts = max(1, retry.attempts)
    last = ""
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = await client.post(url, json=payload)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
                raise PlatformError(
                    f"notifying failed: the --notify url is not usable ({type(exc).__name__})",
                    hint="give an http(s) url, e.g. https://hooks.slack.com/services/...",
                ) from exc
            except httpx.HTTPError as exc:
                last = f"no answer ({type(exc).__name__})"
            else:
                if response.status_code < 300:
                    return attempt
                last = f"answered {response.status_code}{_without_path(server_message(response), url)}"
                if response.status_code not in RETRY_STATUSES:
                    break
            if attempt < attempts:
                await sleep(retry.delay(attempt))
    raise PlatformError(f"notifying {where} failed: {last}", hint="check the --notify url; the report itself is intact")
