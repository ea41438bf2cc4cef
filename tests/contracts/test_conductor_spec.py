"""Contract tests: what the Conductor adapter sends, and what the sandbox answers, checked
against the vendor's own OpenAPI spec (`orkes-openapi-integrations.json` beside this file: the
part of the Orkes spec the reconciler uses, unchanged; its source repository and commit are
in its `x-source` field).

Every exchange of a full plan/apply cycle (creates with tags and models, updates, a tag
removal, a model with a configuration, deletes, a replacement, a type without a published
category) is recorded at the transport. Each request must go to an operation of the spec and
its body must validate against that operation's request schema, with no property the schema
does not declare; each JSON answer must validate against the operation's response schema. No
request body may hold the mask the server shows in place of a secret.
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
from jsonschema import Draft4Validator

from reconciler.apply import apply
from reconciler.live import connect
from reconciler.model import Address, Resource, ResourceKind, Sensitive, ServerConfig, ServerKind
from reconciler.outcomes import Done
from reconciler.planner import PlanOptions, make_plan
from reconciler.sandbox import transport as sandbox_transport_module
from reconciler.sandbox.transport import forget, transport

SPEC = json.loads((Path(__file__).parent / "orkes-openapi-integrations.json").read_text())
MASK = "********"


@dataclass
class Exchange:
    method: str
    path: str
    body: Any
    status: int
    answer: bytes
    content_type: str


class Recording(httpx.AsyncBaseTransport):
    """Passes every request to the sandbox and keeps a copy of it and of its answer."""

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
                answer,
                response.headers.get("content-type", ""),
            )
        )
        return httpx.Response(response.status_code, headers=response.headers, content=answer)


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its properties
    and says nothing about others: a request may only carry what the server declares."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def validator(schema: Any, *, strict: bool) -> Draft4Validator:
    components = SPEC["components"]
    if strict:
        components = _strict(components)
    # OpenAPI 3.0 schemas are (close to) draft 4; the root carries the components so that
    # `#/components/schemas/X` references resolve.
    return Draft4Validator({**(_strict(schema) if strict else schema), "components": components})


def operation(method: str, path: str) -> dict[str, Any]:
    """The spec's operation for a concrete request path (templates matched segment-wise)."""
    for template, ops in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            # A literal segment (`/integration/all`) beats a template segment.
            literal = SPEC["paths"].get(path, {}).get(method.lower())
            found: dict[str, Any] = literal or ops[method.lower()]
            return found
    raise AssertionError(f"{method} {path} is not an operation of the Orkes spec")


def request_schema(op: dict[str, Any]) -> Any:
    return op["requestBody"]["content"]["application/json"]["schema"]


def response_schema(op: dict[str, Any]) -> Any | None:
    content = op["responses"]["200"].get("content") or {}
    media = content.get("application/json") or content.get("*/*")
    return None if media is None else media["schema"]


def holds_mask(value: Any) -> bool:
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(holds_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_mask(v) for v in value)
    return False


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Exchange]]]:
    url = f"sandbox:{tmp_path / 'contract.db'}"
    log: list[Exchange] = []
    monkeypatch.setattr(sandbox_transport_module, "transport", lambda u: Recording(transport(u), log))
    yield url, log
    forget(url)


def provider(name: str, kind: str = "openai", **body: Any) -> Resource:
    config = body.pop("configuration", {"api_key": Sensitive(f"sk-{name}")})
    full = {"type": kind, "description": "", "enabled": True, "configuration": config, "tags": []}
    full.update(body)
    secret = tuple(f"configuration.{k}" for k in ("api_key", "password", "externalId") if k in config)
    return Resource(Address(ResourceKind.PROVIDER, "o", (), name), full, write_only=secret)


def model(parent: str, name: str, **body: Any) -> Resource:
    return Resource(
        Address(ResourceKind.MODEL, "o", (parent,), name),
        {"description": name, "enabled": True, "configuration": {}, **body},
    )


def converge(url: str, desired: list[Resource], options: PlanOptions | None = None) -> None:
    async def go() -> None:
        platform = connect(ServerConfig("o", ServerKind.CONDUCTOR, url, batch_size=2))
        await platform.warm()
        prepared = [platform.prepare(r) for r in desired]
        plan = make_plan(prepared, await platform.read(prepared), options)
        result = await apply(plan, {"o": platform})
        await platform.aclose()
        assert result.ok, [o for o in result.outcomes if not isinstance(o, Done)]

    asyncio.run(go())


AWS_CONFIG = {"connectionType": "EXTERNAL_ROLE", "region": "us-east-1", "roleArn": "arn:aws:iam::1:role/r",
              "externalId": Sensitive("ext-1")}  # fmt: skip


def full_cycle(url: str) -> None:
    first = [
        provider("oa", category="AI_MODEL", tags=[{"key": "team", "value": "ml"}, {"key": "env", "value": "prod"}]),
        model("oa", "gpt-4o"),
        model("oa", "tuned", configuration={"temperature": "0.2"}),
        provider("cloud", "aws", configuration=dict(AWS_CONFIG)),
        provider("old"),
        model("old", "m1"),
    ]
    converge(url, first)
    second = [
        # Updated: description, a tag removed (DELETE /tags), a model changed and one added.
        provider("oa", category="AI_MODEL", description="changed", tags=[{"key": "team", "value": "ml"}]),
        model("oa", "gpt-4o", description="changed"),
        model("oa", "tuned", configuration={"temperature": "0.3"}),
        model("oa", "new-model"),
        # A type whose category is not published, given one from the real enum by the user.
        provider("cloud", "aws", category="API", configuration={k: v for k, v in AWS_CONFIG.items() if k != "externalId"}),
    ]
    converge(url, second, PlanOptions(prune_servers=frozenset({"o"}), replace=("provider.o.oa",)))


def test_every_request_body_the_adapter_sends_matches_the_spec(recorded: tuple[str, list[Exchange]]) -> None:
    url, log = recorded
    full_cycle(url)
    checked = 0
    for ex in log:
        op = operation(ex.method, ex.path)
        if ex.body is None:
            assert "requestBody" not in op or ex.method == "DELETE", f"{ex.method} {ex.path} sent no body"
            continue
        errors = sorted(validator(request_schema(op), strict=True).iter_errors(ex.body), key=str)
        assert not errors, f"{ex.method} {ex.path}: {errors[0].message} at {list(errors[0].absolute_path)}"
        checked += 1
    kinds = {(ex.method, operation(ex.method, ex.path)["operationId"]) for ex in log if ex.body is not None}
    # The cycle exercised every kind of write the adapter makes.
    assert {k[0] for k in kinds} == {"POST", "DELETE"}
    assert len(kinds) >= 4, kinds
    assert checked >= 6


def test_no_request_body_ever_holds_the_mask(recorded: tuple[str, list[Exchange]]) -> None:
    url, log = recorded
    full_cycle(url)
    # The server did show masks: the live configurations the adapter read held them.
    assert any(MASK.encode() in ex.answer for ex in log)
    offending = [f"{ex.method} {ex.path}" for ex in log if holds_mask(ex.body)]
    assert offending == []


def test_a_type_without_a_published_category_is_sent_without_one(recorded: tuple[str, list[Exchange]]) -> None:
    url, log = recorded
    converge(url, [provider("cloud", "aws", configuration=dict(AWS_CONFIG))])
    bulk = [ex.body for ex in log if ex.method == "POST" and ex.path == "/api/integrations/"]
    assert len(bulk) == 1
    assert [item["name"] for item in bulk[0]] == ["cloud"]
    assert "category" not in bulk[0][0]


def test_every_answer_of_the_sandbox_matches_the_spec(recorded: tuple[str, list[Exchange]]) -> None:
    url, log = recorded
    full_cycle(url)
    # Reads the adapter does not make, so that every operation of the kept spec is answered once.
    token = next(json.loads(ex.answer)["token"] for ex in log if ex.path == "/api/token")

    async def more_reads() -> None:
        async with httpx.AsyncClient(transport=transport(url), base_url="http://sandbox.invalid") as c:
            for path in [
                "/api/integrations/provider",
                "/api/integrations/provider/cloud",
                "/api/integrations/provider/oa/integration",
                "/api/integrations/provider/oa/integration/all",
                "/api/integrations/provider/oa/integration/gpt-4o",
                "/api/integrations/provider/oa/tags",
            ]:
                response = await c.get(path, headers={"X-Authorization": token})
                log.append(Exchange("GET", path, None, response.status_code, response.content, "application/json"))

    asyncio.run(more_reads())
    answered: set[str] = set()
    for ex in log:
        if ex.status != 200 or not ex.answer:
            continue
        op = operation(ex.method, ex.path)
        schema = response_schema(op)
        assert schema is not None, f"{ex.method} {ex.path} answered a body the spec does not declare"
        body = json.loads(ex.answer)
        errors = sorted(validator(schema, strict=True).iter_errors(body), key=str)
        assert not errors, f"{ex.method} {ex.path}: {errors[0].message} at {list(errors[0].absolute_path)}"
        answered.add(op["operationId"])
    read_ops = {
        op["operationId"] for ops in SPEC["paths"].values() for m, op in ops.items() if m == "get"
    } | {SPEC["paths"]["/api/token"]["post"]["operationId"]}
    assert read_ops <= answered, read_ops - answered

