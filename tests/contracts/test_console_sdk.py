"""Contract tests: what the console sandbox answers, checked against the vendor's own SDK.

`bimpeai-0.4.1-models.json` beside this file holds the JSON Schema of each response model of
the `bimpeai` 0.4.1 SDK (its `x-source` field names the wheel, its digest and the files) and
which model the SDK validates each call's `data` with. The SDK itself is not installed: it
needs httpx 0.28 or newer, while the tool supports 0.27, and its models are all a test needs.

Every exchange of a plan/apply cycle over the three channel families (a key-based and an OAuth
bimpeai type included) and the agents list the tool reads for suggestions is recorded at the
transport; each success must be the SDK's envelope, and its `data` must validate against the
model the SDK reads it with. Validation errors must be the `"path: message"` strings the SDK
splits into field errors, and a `Retry-After` given as an HTTP date must be honoured.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from reconciler.apply import apply
from reconciler.errors import PlatformError
from reconciler.live import connect
from reconciler.model import Address, Resource, ResourceKind, Sensitive, ServerConfig, ServerKind
from reconciler.outcomes import Done
from reconciler.planner import PlanOptions, make_plan
from reconciler.platforms.console import ConsolePlatform
from reconciler.platforms.http import HttpClient
from reconciler.platforms.retry import RetryPolicy
from reconciler.sandbox import transport as sandbox_transport_module
from reconciler.sandbox.credentials import built_in
from reconciler.sandbox.transport import forget, transport

SDK = json.loads((Path(__file__).parent / "bimpeai-0.4.1-models.json").read_text())
PREFIX = "/api/v1/console"
# The API reference documents `{success, channel_id}` as the answer to a configure of a
# key-based bimpeai type (bumpa, paystack, stripe); the SDK reads every bimpeai configure answer
# as `OnboardingUrl`, which requires `onboarding_url`. The sandbox follows the reference (the
# client reads both); that one answer is checked against the reference's shape instead.
KEY_BASED_ANSWER = {
    "type": "object",
    "required": ["success", "channel_id"],
    "properties": {"success": {"const": True}, "channel_id": {"type": "string"}},
}


@dataclass
class Exchange:
    method: str
    path: str
    body: Any
    status: int
    answer: Any


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, log: list[Exchange]) -> None:
        self.inner = inner
        self.log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = request.content
        response = await self.inner.handle_async_request(request)
        answer = await response.aread()
        self.log.append(
            Exchange(
                request.method,
                request.url.path,
                json.loads(sent) if sent else None,
                response.status_code,
                json.loads(answer) if answer else None,
            )
        )
        return httpx.Response(response.status_code, headers=response.headers, content=answer)


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Exchange]]]:
    url = f"sandbox:{tmp_path / 'contract.db'}"
    log: list[Exchange] = []
    monkeypatch.setattr(sandbox_transport_module, "transport", lambda u: Recording(transport(u), log))
    yield url, log
    forget(url)


def channel(family: str, name: str, **body: Any) -> Resource:
    write_only = tuple(k for k in ("auth_config", "description", "secret_key") if k in body)
    return Resource(Address(ResourceKind.CHANNEL, "c", ("agt_demo", family), name), body, write_only=write_only)


def converge(url: str, desired: list[Resource], options: PlanOptions | None = None) -> None:
    async def go() -> None:
        platform = connect(ServerConfig("c", ServerKind.CONSOLE, url))
        prepared = [platform.prepare(r) for r in desired]
        plan = make_plan(prepared, await platform.read(prepared), options)
        result = await apply(plan, {"c": platform})
        await platform.aclose()
        assert result.ok, [o for o in result.outcomes if not isinstance(o, Done)]

    asyncio.run(go())


def unknown_agent(url: str) -> None:
    """A read of an agent that does not exist: the tool lists the agents to suggest one."""

    async def go() -> None:
        platform = connect(ServerConfig("c", ServerKind.CONSOLE, url))
        with pytest.raises(PlatformError) as refused:
            await platform.read([Resource(Address(ResourceKind.CHANNEL, "c", ("agt_dem", "mcp_server"), "x"), {})])
        await platform.aclose()
        assert "did you mean `agt_demo`?" in (refused.value.hint or "")

    asyncio.run(go())


def full_cycle(url: str) -> None:
    converge(
        url,
        [
            channel("custom_api", "api", base_url="https://api.example.com", auth_type="bearer",
                    auth_config={"token": Sensitive("t-1")}, description="d"),
            channel("mcp_server", "docs", server_url="https://mcp.example.com/mcp"),
            channel("bimpeai", "payments", type="stripe", secret_key=Sensitive("sk_test_1")),
            channel("bimpeai", "calendar", type="google_calendar"),
        ],
    )  # fmt: skip
    # A changed channel is disconnected and configured again; a removed one is disconnected.
    converge(
        url,
        [channel("mcp_server", "docs", server_url="https://mcp.example.com/v2")],
        PlanOptions(prune_servers=frozenset({"c"})),
    )
    unknown_agent(url)


def sdk_call(method: str, path: str) -> dict[str, str] | None:
    """The SDK operation a request is, or None (a DELETE: the SDK reads no data from it)."""
    relative = path.removeprefix(PREFIX)
    for template, call in SDK["operations"].items():
        op_method, op_path = template.split(" ", 1)
        pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(op_path)) + "$"
        if op_method == method and re.match(pattern, relative):
            return dict(call)
    assert method == "DELETE", f"{method} {path} is not a call of the SDK"
    return None


def model_validator(name: str) -> Draft202012Validator:
    schema = SDK["models"][name]
    return Draft202012Validator(schema)


def test_every_success_the_sandbox_answers_is_what_the_sdk_reads(recorded: tuple[str, list[Exchange]]) -> None:
    url, log = recorded
    full_cycle(url)
    seen: set[str] = set()
    for ex in log:
        if not 200 <= ex.status < 300:
            continue
        assert not list(Draft202012Validator(SDK["envelope"]).iter_errors(ex.answer)), f"{ex.method} {ex.path}"
        call = sdk_call(ex.method, ex.path)
        if call is None:
            assert ex.answer["data"] is None
            continue
        seen.add(call["model"])
        if call["model"] == "OnboardingUrl" and "onboarding_url" not in ex.answer["data"]:
            schema_check = Draft202012Validator(KEY_BASED_ANSWER)
            items = [ex.answer["data"]]
        else:
            schema_check = model_validator(call["model"])
            items = ex.answer["data"] if call["data"] == "list" else [ex.answer["data"]]
            assert isinstance(items, list), f"{ex.method} {ex.path}: `data` is not a list"
        for item in items:
            errors = list(schema_check.iter_errors(item))
            assert not errors, f"{ex.method} {ex.path}: {errors[0].message} at {list(errors[0].absolute_path)}"
        if "meta" in call:
            meta = ex.answer["meta"]
            assert not list(model_validator(call["meta"]).iter_errors(meta)), f"{ex.method} {ex.path}: meta"
    # Every model the tool's calls are read with was exercised.
    assert seen == {"Agent", "CustomApiIntegration", "McpServerIntegration", "BimpeaiIntegration", "OnboardingUrl"}


@pytest.mark.parametrize(
    ("family", "body", "paths"),
    [
        ("custom_api", {"name": "", "base_url": "not a url"}, ["name", "base_url"]),
        ("mcp_server", {"name": "a", "transport": "smoke"}, ["server_url", "transport"]),
        ("bimpeai", {"type": "stripe", "currency": "euro"}, ["currency", "secret_key"]),
    ],
)
def test_validation_errors_are_the_path_and_message_strings_the_sdk_splits(
    tmp_path: Path, family: str, body: dict[str, Any], paths: list[str]
) -> None:
    url = f"sandbox:{tmp_path / 'v.db'}"

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport(url), base_url="http://sandbox") as client:
            return await client.post(
                f"{PREFIX}/agents/agt_demo/integrations/{family}/configure",
                json=body,
                headers={"Authorization": "Bearer sk_sandbox"},
            )

    try:
        answer = asyncio.run(go())
    finally:
        forget(url)
    error = answer.json()
    assert (answer.status_code, error["code"]) == (400, "validation_error")
    # The SDK (`_exceptions.py: _parse_field_errors`) splits each string at its first colon.
    split = [entry.partition(":") for entry in error["message"]]
    assert sorted(path for path, _, _ in split) == sorted(paths)
    assert all(sep == ":" and rest.strip() for _, sep, rest in split)


@pytest.mark.parametrize(
    ("retry_after", "tries"),
    [("Wed, 21 Oct 2015 07:28:00 GMT", 2), ("Fri, 01 Jan 2100 00:00:00 GMT", 1), ("soon", 2)],
    ids=["date-passed", "date-too-far", "unreadable"],
)
def test_a_console_retry_after_given_as_an_http_date(tmp_path: Path, retry_after: str, tries: int) -> None:
    """A date in the past is retried at once; one beyond the longest wait honoured gives up; an
    unreadable value falls back to the usual backoff."""
    url = f"sandbox:{tmp_path / 'r.db'}"
    seen: list[str] = []
    inner = transport(url)

    class Limited(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            if len(seen) == 1:
                body = {"message": "Too many requests", "error": "Too Many Requests", "code": "rate_limited",
                        "statusCode": 429, "request_id": "req_1"}  # fmt: skip
                return httpx.Response(429, headers={"Retry-After": retry_after}, json=body)
            return await inner.handle_async_request(request)

    config = ServerConfig("c", ServerKind.CONSOLE, url)
    platform = ConsolePlatform(config, transport=transport(url), credentials=built_in("console"))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    platform.client = HttpClient(
        config, platform.client.auth, retry=RetryPolicy(base=0.001, cap=0.002), transport=Limited(), sleep=sleep
    )

    async def go() -> None:
        try:
            await platform.client.request("GET", f"{PREFIX}/agents/agt_demo/integrations/mcp_server")
        except PlatformError:
            pass
        await platform.aclose()

    try:
        asyncio.run(go())
    finally:
        forget(url)
    assert len(seen) == tries
    assert all(w <= 0.002 for w in waits)
