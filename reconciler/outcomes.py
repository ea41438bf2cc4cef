"""What executing a change came to: `Done`, `Failed` (with a `FailureCode`) or `Skipped`,
variants, never None-means-skipped; `ApplyResult`, the outcomes of one apply in plan order;
and the translation of the HTTP layer's errors into failures."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reconciler.errors import AuthError, ConflictError, PlatformError, ServerDownError, UnreachableError
from reconciler.plan import Action, Change


class FailureCode(str, Enum):
    """Why a change failed, as data (views print the message; callers may branch on this).

    `conflict`: the server's copy moved since the plan (or another writer won); `unreachable`:
    no answer came; `auth`: the credentials or their scope were refused; `server`: the server
    answered an error; `internal`: a bug of the reconciler (the traceback is in the --debug log).
    """

    CONFLICT = "conflict"
    UNREACHABLE = "unreachable"
    AUTH = "auth"
    SERVER = "server"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Done:
    """The change was carried out. `id` is the server's key of the resulting resource."""

    change: Change
    id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Failed:
    """The change was attempted and failed. `message` is safe to print (no secret values).
    `unknown` is set when the request may have been written anyway (no answer came).
    `code` says what kind of failure it is."""

    change: Change
    message: str
    status: int = 0
    unknown: bool = False
    code: FailureCode = FailureCode.SERVER


@dataclass(frozen=True)
class Skipped:
    """The change was not attempted: a dependency failed, the run was interrupted, or the
    resource changed on the server since the plan was made."""

    change: Change
    reason: str


Outcome = Done | Failed | Skipped

# The reason of a change skipped because the apply was interrupted before it started.
NOT_STARTED = "not started: the apply was interrupted"


@dataclass(frozen=True)
class ApplySummary:
    added: int = 0
    changed: int = 0
    replaced: int = 0
    destroyed: int = 0
    failed: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "added": self.added,
            "changed": self.changed,
            "replaced": self.replaced,
            "destroyed": self.destroyed,
            "failed": self.failed,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class ApplyResult:
    """Outcomes in plan order. `interrupted`: the run was stopped before it finished."""

    outcomes: tuple[Outcome, ...]
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return all(isinstance(o, Done) for o in self.outcomes)

    def summary(self) -> ApplySummary:
        counts = {"added": 0, "changed": 0, "replaced": 0, "destroyed": 0, "failed": 0, "skipped": 0}
        key = {Action.CREATE: "added", Action.UPDATE: "changed", Action.REPLACE: "replaced", Action.DELETE: "destroyed"}
        for o in self.outcomes:
            if isinstance(o, Done):
                counts[key[o.change.action]] += 1
            elif isinstance(o, Failed):
                counts["failed"] += 1
            else:
                counts["skipped"] += 1
        return ApplySummary(**counts)


def failure_code(exc: PlatformError) -> FailureCode:
    """The code of a failed request."""
    if isinstance(exc, ConflictError) or exc.status in (409, 412):
        return FailureCode.CONFLICT
    if isinstance(exc, AuthError):
        return FailureCode.AUTH
    if isinstance(exc, UnreachableError):
        return FailureCode.UNREACHABLE
    return FailureCode.SERVER


def conflict(change: Change, what: str) -> Failed:
    """The outcome of a change whose resource `what` (e.g. "changed") since the plan was made."""
    return Failed(
        change,
        f"{change.address} {what} since the plan was made; not overwritten "
        "(another apply or a person changed it: run plan again)",
        409,
        code=FailureCode.CONFLICT,
    )


def failed(change: Change, exc: PlatformError) -> Outcome:
    """The outcome of a change whose request failed. It is unknown whether it was carried out
    only when a write may have reached the server; a change never started (the server's
    circuit is open or its deadline passed) is skipped."""
    if isinstance(exc, ServerDownError):
        return Skipped(change, f"not started: {server_down_reason(exc)}")
    if isinstance(exc, ConflictError):
        return conflict(change, str(exc))
    message = str(exc)
    if exc.hint:
        message += f" (hint: {exc.hint})"
    sent = exc.sent if isinstance(exc, UnreachableError) else exc.maybe_written
    unknown = sent and change.action is not Action.NOOP
    return Failed(change, message, exc.status, unknown=unknown, code=failure_code(exc))


def server_down_reason(exc: ServerDownError) -> str:
    """What a `ServerDownError` says after `not sent: ` (why nothing was started)."""
    return str(exc).split(": not sent: ", 1)[-1]
