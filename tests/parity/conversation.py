"""One scripted conversation with a Kubiya custom-integrations server, and how two runs compare.

The same steps are sent to the real router and to the sandbox. Each side's answers (status,
media type, whether `WWW-Authenticate` is set, body) and, after every step, each side's stored
rows are recorded; ids and timestamps are then replaced by tokens (`<id1>`, `<t:create-a>`) so
that two servers that create different uuids at different moments compare equal when they behave
alike: ids are numbered by first appearance, and a timestamp is named after the step that made
it, so that "set by this write" and "left as it was" survive the normalisation. How a timestamp is written (`Z` or
`+00:00`) is compared once per run, on its own (`timestamp_shapes`).

`differences` walks two normalised records and lists where they differ; an answer whose status
differs is one difference (the whole answer), as its body cannot be compared field by field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

PREFIX = "/api/v1/custom-integrations"
TOKEN = "sandbox-kubiya-token"  # organization "sandbox", in the sandbox's seed and the stand-in
TOKEN_2 = "sandbox-kubiya-token-2"  # organization "sandbox-2"
ABSENT = "<absent>"  # a key one side has and the other does not
UNKNOWN_ID = "0b6c1f9e-8a41-4c1e-9d2b-5f3a7e6d4c21"

AUTH = {"Authorization": f"Bearer {TOKEN}"}

A = {
    "name": "a",
    "integration_type": "postgres",
    "description": "primary",
    "config": {
        "env_vars": {"DB_HOST": "db.internal", "DB_PORT": "5432"},
        "secrets": ["DB_PASSWORD"],
        "files": [{"path": "~/.pgpass", "secret_ref": "PGPASS", "mode": "0600"}],
        "context_prompt": "Production database",
    },
    "tags": ["prod", "db"],
}
B = {"name": "b", "integration_type": "redis", "config": {}, "tags": ["prod"]}
A_UPDATE = {"description": "primary db", "config": {"env_vars": {"DB_HOST": "db2.internal"}}, "tags": ["prod"]}


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str = ""  # after PREFIX; `{a}` and `{b}` are the ids of the rows named a and b
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))
    json: Any = None
    content: bytes | None = None
    upper_id: bool = False  # send the path id in upper case (PostgreSQL's uuid accepts it)


CONVERSATION: tuple[Step, ...] = (
    Step("list-empty", "GET"),
    Step("list-userkey-scheme", "GET", headers={"Authorization": f"UserKey {TOKEN}"}),
    Step("list-raw-token", "GET", headers={"Authorization": TOKEN}),
    Step("missing-header", "GET", headers={}),
    Step("bad-token", "GET", headers={"Authorization": "Bearer not-a-kubiya-token"}),
    Step("invalid-body-without-token", "POST", headers={}, json={"name": ""}),
    Step("create-a", "POST", json=A),
    Step("create-b", "POST", json=B),
    Step("list", "GET"),
    Step("list-by-tags", "GET", "?tags=prod,db"),
    Step("list-by-type-none", "GET", "?integration_type=mongodb"),
    Step("get-a", "GET", "/{a}"),
    Step("get-b-upper-case-id", "GET", "/{b}", upper_id=True),
    Step("get-a-other-organization", "GET", "/{a}", headers={"Authorization": f"Bearer {TOKEN_2}"}),
    Step("create-duplicate-name", "POST", json={**B, "name": "a"}),
    Step("rename-b-into-a", "PUT", "/{b}", json={"name": "a"}),
    Step("update-a", "PUT", "/{a}", json=A_UPDATE),
    Step("update-a-no-op", "PUT", "/{a}", json=A_UPDATE),
    Step("update-a-empty", "PUT", "/{a}", json={}),
    Step("update-a-invalid-status", "PUT", "/{a}", json={"status": "paused"}),
    Step("soft-delete-a", "DELETE", "/{a}"),
    Step("list-after-soft-delete", "GET"),
    Step("list-deleted", "GET", "?status=deleted"),
    Step("get-soft-deleted-a", "GET", "/{a}"),
    Step("create-name-of-soft-deleted", "POST", json={**B, "name": "a"}),
    Step("hard-delete-a", "DELETE", "/{a}?hard_delete=true"),
    Step("get-hard-deleted-a", "GET", "/{a}"),
    Step("delete-hard-deleted-a", "DELETE", "/{a}"),
    Step("update-unknown-id", "PUT", f"/{UNKNOWN_ID}", json={"description": "x"}),
    Step("get-id-not-a-uuid", "GET", "/not-a-uuid"),
    Step("create-invalid", "POST", json={"name": "", "integration_type": "postgres"}),
    Step("create-malformed-json", "POST", content=b'{"name": ', headers={**AUTH, "Content-Type": "application/json"}),
    Step("list-invalid-status", "GET", "?status=bogus"),
)


@dataclass
class Side:
    """What one server answered and stored, step by step (raw, then normalised)."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _answer(response: httpx.Response) -> dict[str, Any]:
    media = response.headers.get("content-type", "").split(";")[0].strip()
    body: Any
    if not response.content:
        body = None
    elif media == "application/json":
        body = response.json()
    else:
        body = response.text
    return {
        "status": response.status_code,
        "content_type": media,
        "www_authenticate": "www-authenticate" in response.headers,
        "body": body,
    }


def run(client: httpx.Client, rows: Callable[[], list[dict[str, Any]]]) -> Side:
    """Send CONVERSATION through `client`; `rows()` reads the server's stored rows."""
    side = Side()
    ids: dict[str, str] = {}
    for step in CONVERSATION:
        path = step.path
        for name in ("a", "b"):
            if "{" + name + "}" in path:
                row_id = ids[name]
                path = path.replace("{" + name + "}", row_id.upper() if step.upper_id else row_id)
        response = client.request(
            step.method, PREFIX + path, headers=step.headers, json=step.json, content=step.content
        )
        side.answers[step.name] = _answer(response)
        state = rows()
        side.states[step.name] = state
        # The ids come from what was stored, as the published router's answers cannot carry them.
        for row in state:
            if row["organization_id"] == "sandbox":
                ids.setdefault(row["name"], row["id"])
    return side


# --- Normalisation ---------------------------------------------------------------------------

_TIMESTAMP_KEYS = ("created_at", "updated_at")


def _walk(value: Any, visit: Callable[[str, Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: visit(k, _walk(v, visit)) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, visit) for v in value]
    return value


def timestamp_shapes(side: Side) -> list[str]:
    """How the side writes timestamps in its answers: digits as 9, any fraction as `.f`."""
    shapes: set[str] = set()

    def visit(key: str, value: Any) -> Any:
        if key in _TIMESTAMP_KEYS and isinstance(value, str):
            shapes.add(re.sub(r"\d", "9", re.sub(r"(T\d\d:\d\d:\d\d)(\.\d+)?", r"\1.f", value)))
        return value

    for step in CONVERSATION:
        _walk(side.answers[step.name]["body"], visit)
    return sorted(shapes)


def normalise(side: Side) -> Side:
    """The side with ids numbered by first appearance and each timestamp named after the step
    in whose answer or stored rows it first appeared (`<t:update-a>`)."""
    ids: dict[str, str] = {}
    moments: dict[datetime, str] = {}
    current = ""

    def replace(key: str, value: Any) -> Any:
        if key in _TIMESTAMP_KEYS and isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moments.setdefault(moment, f"<t:{current}>")
        if key == "id" and isinstance(value, str):
            return ids.setdefault(value, f"<id{len(ids) + 1}>")
        return value

    out = Side()
    for step in CONVERSATION:
        current = step.name
        answer = side.answers[step.name]
        out.answers[step.name] = {**answer, "body": _walk(answer["body"], replace)}
        out.states[step.name] = _walk(side.states[step.name], replace)
    return out


# --- Differences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    run: str
    step: str
    where: str  # e.g. `answer`, `answer.body.detail.message`, `state[0].created_by`
    real: Any
    sandbox: Any

    def __str__(self) -> str:
        return f"[{self.run}] {self.step}: {self.where}: real {self.real!r} / sandbox {self.sandbox!r}"


def _diff(where: str, real: Any, sandbox: Any) -> list[tuple[str, Any, Any]]:
    if isinstance(real, dict) and isinstance(sandbox, dict):
        out: list[tuple[str, Any, Any]] = []
        # Key order is part of a JSON body as a client sees it; compare it, then the values.
        if list(real) != list(sandbox) and set(real) == set(sandbox):
            out.append((f"{where}(key order)", list(real), list(sandbox)))
        for key in [*real, *(k for k in sandbox if k not in real)]:
            out += _diff(f"{where}.{key}", real.get(key, ABSENT), sandbox.get(key, ABSENT))
        return out
    if isinstance(real, list) and isinstance(sandbox, list) and len(real) == len(sandbox):
        return [d for i, (r, s) in enumerate(zip(real, sandbox, strict=True)) for d in _diff(f"{where}[{i}]", r, s)]
    if real == sandbox and type(real) is type(sandbox):
        return []
    return [(where, real, sandbox)]


def answer_differences(run_name: str, step: str, real: dict[str, Any], sandbox: dict[str, Any]) -> list[Difference]:
    if real["status"] != sandbox["status"]:
        return [Difference(run_name, step, "answer", real, sandbox)]
    return [Difference(run_name, step, w, r, s) for w, r, s in _diff("answer", real, sandbox)]


def state_differences(
    run_name: str, step: str, real: list[dict[str, Any]], sandbox: list[dict[str, Any]]
) -> list[Difference]:
    if len(real) != len(sandbox):
        return [Difference(run_name, step, "state", real, sandbox)]
    return [Difference(run_name, step, w, r, s) for w, r, s in _diff("state", real, sandbox)]
