"""What an answer or a failed connection says, in the project's words: an error answer's
message (never an echoed secret), the cause of a connection failure, a JSON body decoded or
refused clearly."""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from reconciler.errors import AuthError, PlatformError
from reconciler.model import ServerConfig
from reconciler.platforms.retry import RETRY_STATUSES

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def server_message(response: httpx.Response) -> str:
    """A short, secret-free description of an error answer.

    Only the servers' message fields are used (FastAPI `detail` strings, Conductor `message`,
    console `message`/`code`); validation details keep their locations and messages but drop
    the echoed `input`, which may be a secret we sent.
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError, UnicodeDecodeError):
        text = response.text.strip().splitlines()[0] if response.text.strip() else ""
        return text[:200] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            parts = []
            for item in detail[:5]:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            return "; ".join(parts) or "validation failed"
        if isinstance(detail, dict):
            return str(detail.get("message") or detail.get("error") or "request refused")
        message = body.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message[:5])
        code = body.get("code") or body.get("error")
        if message and code and isinstance(code, str):
            return f"{message} ({code})"
        if message:
            return str(message)
    return response.reason_phrase or f"HTTP {response.status_code}"


def connection_cause(exc: BaseException) -> tuple[str, bool]:
    """What went wrong with a connection, in words, and whether the request may have been sent
    (it was not when the connection itself failed: refused, no such host, TLS)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 12:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    # Only a failure while connecting is known to have sent nothing: a TLS error (or any
    # other) once the connection stood may have come after the request was written.
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        for e in chain:
            if isinstance(e, socket.gaierror) or "Name or service not known" in text or "nodename nor servname" in text:
                return "the host name was not found (DNS)", False
            if isinstance(e, ssl.SSLError) or "SSL" in text or "TLS" in text:
                reason = getattr(e, "reason", None) if isinstance(e, ssl.SSLError) else None
                detail = f" ({reason})" if reason else ""
                return (
                    f"the TLS handshake failed{detail}: is it an http:// server, or is its certificate not trusted?",
                    False,
                )
            if isinstance(e, ConnectionRefusedError) or "Connection refused" in text:
                return "connection refused: nothing listens on that port", False
        return f"could not connect ({type(exc).__name__}: {str(exc)[:120] or 'no detail'})", False
    return f"the connection failed ({type(exc).__name__}: {str(exc)[:120] or 'no detail'})", True


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def decode(response: httpx.Response, what: str) -> Any:
    """The JSON body of an answer, or a clear error when it is not JSON or is truncated."""
    try:
        # The standard library, not orjson: on the list answers of a large server (12 MB for
        # 25,000 integrations) it is as fast, and its peak is the result's size where orjson's
        # is twice that again. NaN and Infinity are refused, as JSON has no such values.
        return json.loads(response.content, parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _not_valid(response, what) from exc


_SPACE = re.compile(r"[ \t\n\r]*")


def decode_items(response: httpx.Response, what: str) -> Iterator[Any]:
    """The items of a JSON array answer, decoded one at a time as they are iterated, or a
    clear error (when iterated, for a bad item). A list answer of a large server is tens of
    megabytes: decoded whole, every row of it would be held at once, where a caller that
    turns each row into what it keeps holds one (a third less peak memory for a plan of
    50,000 resources). The answer's text is checked to be an array at once."""
    content = response.content
    try:
        text = content.decode(json.detect_encoding(content), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise _not_valid(response, what) from exc
    start = _SPACE.match(text).end()  # type: ignore[union-attr]
    if text[start : start + 1] != "[":
        decode(response, what)  # not JSON at all: that error first
        raise PlatformError(f"{what}: expected a JSON array")
    # The answer's bytes are not held while the items are read: only their text is.
    return _items(text, start + 1, (len(content), response.status_code), what)


def _items(text: str, at: int, answer: tuple[int, int], what: str) -> Iterator[Any]:
    decoder = json.JSONDecoder(parse_constant=_not_json)
    space = _SPACE.match
    at = space(text, at).end()  # type: ignore[union-attr]
    if text[at : at + 1] == "]":
        at += 1
    else:
        while True:
            try:
                item, at = decoder.raw_decode(text, at)
            except ValueError as exc:
                raise _invalid(answer, what) from exc
            yield item
            at = space(text, at).end()  # type: ignore[union-attr]
            mark = text[at : at + 1]
            at += 1
            if mark == "]":
                break
            if mark != ",":
                raise _invalid(answer, what)
            at = space(text, at).end()  # type: ignore[union-attr]
    if space(text, at).end() != len(text):  # type: ignore[union-attr]
        raise _invalid(answer, what)


def _not_valid(response: httpx.Response, what: str) -> PlatformError:
    return _invalid((len(response.content), response.status_code), what)


def _invalid(answer: tuple[int, int], what: str) -> PlatformError:
    """`answer`: its size in bytes and its status."""
    size, status = answer
    return PlatformError(
        f"{what}: the server's answer is not valid JSON ({size} bytes)",
        status=status,
        hint="the server or a proxy in between returned something unexpected; try again",
    )


def looks_like_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("content-type", "") or response.content.lstrip()[:1] == b"<"


def where(server: ServerConfig) -> str:
    """`servers.NAME.url at FILE:LINE:COL`, for hints."""
    at = f" at {server.url_location}" if server.url_location else ""
    return f"servers.{server.name}.url{at}"


def refusal(
    server: ServerConfig, request: str, method: str, path: str, response: httpx.Response, address: str | None
) -> PlatformError:
    """The error of an answer that is not a success (`request`: `METHOD URL`, for the message):
    what the server said, and a hint at the likely cause (the credentials, a redirect, a
    doubled base path, a web page instead of the API)."""
    status = response.status_code
    message = f"{request} answered {status}: {server_message(response)}"
    doubled = doubled_base_path(server, path)
    if status in (401, 403):
        # Behind a doubled base path no route matched: the refusal says nothing of the
        # credentials (a gateway or an auth filter in front of every path answers first).
        return AuthError(message, status=status, address=address, hint=doubled or auth_hint(server, response))
    hint = None
    if 300 <= status < 400:
        target = response.headers.get("location")
        hint = f"the server redirects{f' to {target}' if target else ''}: put the final url in {where(server)}"
    elif status in (404, 405) and doubled:
        hint = doubled
    elif status in (404, 405) and looks_like_html(response):
        hint = f"the server answered a web page, not the API: check the base path of {where(server)}"
    return PlatformError(
        message,
        status=status,
        address=address,
        retryable=status in RETRY_STATUSES,
        hint=hint,
        maybe_written=status >= 500 and method in WRITE_METHODS,
    )


def doubled_base_path(server: ServerConfig, path: str) -> str | None:
    """A hint when the url's path ends with the segment the API's paths start with (a url
    written `https://host/api` for an API whose paths are `/api/...`), else None."""
    if server.is_sandbox:
        return None
    from urllib.parse import urlsplit

    base = urlsplit(server.url).path.rstrip("/")
    last = base.rsplit("/", 1)[-1]
    first = path.lstrip("/").split("/", 1)[0]
    if not last or last != first:
        return None
    return (
        f"{where(server)} ends in `/{last}`, and the API's paths already start with `/{first}` "
        f"(this request went to {base}{path}): remove the trailing `/{last}` from the url"
    )


def auth_hint(server: ServerConfig, response: httpx.Response) -> str:
    """Which credential was refused, and where it comes from."""
    fields = []
    for field, value in server.credentials.items():
        source = getattr(value, "source", "")
        location = server.credential_locations.get(field)
        fields.append(
            f"servers.{server.name}.{field}"
            + (f" (${{{source}}})" if source else "")
            + (f" at {location}" if location else "")
        )
    names = ", ".join(fields) or f"the sandbox's built-in credentials of server {server.name!r}"
    at = f", declared at {server.location}" if server.location and not fields else ""
    text = f"check {names}{at}"
    if response.status_code == 403:
        return "the credentials were accepted but lack a permission (scope) for this call: " + text
    return text + f"; if they are right, check that {where(server)} is the API's base url"
