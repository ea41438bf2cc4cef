"""Where the sandbox and the real Kubiya router are known to answer differently, and why.

Every difference the parity suite finds must match an entry here, and every entry must still
match a difference: a new divergence fails the suite, and so does one that went away (delete
its entry then). An entry names the runs and steps it covers, where the difference is (a
regular expression over locations such as `answer.body.detail.message` or
`state[1].updated_at`), and what each side has there (a value, or a predicate).

Runs: `published` is kubiya-control-plane-api 1.0.2 as published; `corrected` is the same with
its response model's `created_at`/`updated_at` declared as datetimes (tests/parity/kubiya_router.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.parity.conversation import Difference

STAND_IN_USER = "7d8f9a10-0000-4000-8000-000000000001"  # the uuid the token stand-in gives the caller
RUNS = frozenset({"published", "corrected"})
PLAIN_500 = {"status": 500, "content_type": "text/plain", "www_authenticate": False, "body": "Internal Server Error"}
AUTH_FAILURES = ("missing-header", "invalid-body-without-token", "bad-token")


@dataclass(frozen=True)
class Known:
    key: str
    reason: str
    where: str  # regular expression, matched against the whole location
    real: Any  # the value on the real side, or a predicate over it
    sandbox: Any
    steps: tuple[str, ...] | None = None  # None: every step
    runs: frozenset[str] = RUNS

    def matches(self, difference: Difference) -> bool:
        return (
            difference.run in self.runs
            and (self.steps is None or difference.step in self.steps)
            and re.fullmatch(self.where, difference.where) is not None
            and _holds(self.real, difference.real)
            and _holds(self.sandbox, difference.sandbox)
        )


def _holds(expected: Any, actual: Any) -> bool:
    if callable(expected):
        check: Callable[[Any], bool] = expected
        return check(actual)
    return bool(expected == actual)


def _success(answer: Any) -> bool:
    return isinstance(answer, dict) and 200 <= answer["status"] < 300 and answer["content_type"] == "application/json"


KNOWN: tuple[Known, ...] = (
    Known(
        key="response-model-500",
        reason=(
            "1.0.2's CustomIntegrationResponse declares `created_at: str` and `updated_at: str` for"
            " DateTime columns, so FastAPI's response validation fails on every answer that carries"
            " an integration: a plain-text 500, after the write was committed (the stored rows are"
            " compared on their own and agree). The `corrected` run compares these bodies."
        ),
        runs=frozenset({"published"}),
        steps=(
            "create-a", "create-b", "list", "list-by-tags", "get-a", "get-b-upper-case-id", "update-a",
            "update-a-no-op", "update-a-empty", "list-after-soft-delete", "list-deleted", "get-soft-deleted-a",
        ),
        where="answer",
        real=PLAIN_500,
        sandbox=_success,
    ),
    Known(
        key="created-by",
        reason=(
            "The router stores the caller's user uuid (from Kubiya's user endpoint) as `created_by`;"
            " the sandbox's tokens name an organization, not a user, so it stores null. The client"
            " neither reads nor compares `created_by`."
        ),
        where=r"(answer\.body(\[\d+\])?|state\[\d+\])\.created_by",
        real=STAND_IN_USER,
        sandbox=None,
    ),
    Known(
        key="204-content-type",
        reason=(
            "The router's 204 (DELETE) has an empty body labelled `application/json` (FastAPI's"
            " default response class); the sandbox's has no Content-Type. Neither has a body, and"
            " the client reads none."
        ),
        steps=("soft-delete-a", "hard-delete-a"),
        where=r"answer\.content_type",
        real="application/json",
        sandbox="",
    ),
    Known(
        key="timestamp-shape",
        reason=(
            "The router's answers write UTC timestamps as pydantic does (`...Z`), the sandbox's as"
            " Python's isoformat (`...+00:00`): the same instant in two RFC 3339 spellings. The"
            " published router sends no timestamps at all (response-model-500)."
        ),
        runs=frozenset({"corrected"}),
        steps=("timestamp-shapes",),
        where="timestamps",
        real=["9999-99-99T99:99:99.fZ"],
        sandbox=["9999-99-99T99:99:99.f+99:99"],
    ),
)


def unexplained(differences: list[Difference]) -> list[Difference]:
    return [d for d in differences if not any(known.matches(d) for known in KNOWN)]
