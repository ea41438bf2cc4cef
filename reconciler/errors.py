"""The error hierarchy and the Diagnostic value every layer reports problems with.

Problems in the user's input are collected as `Diagnostic`s (severity, message, where, hint)
and returned or raised together in a `DiagnosticsError`, so that a user sees all of them at
once. Failures while talking to a server are `PlatformError`s; each layer translates the
exceptions of the library it owns into these with `raise ... from`. No message built here may
hold a secret value: callers pass addresses and field paths, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reconciler.records import quick_init


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@quick_init
@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A place in a desired-state file. `line` and `column` are 1-based; 0 means unknown."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.file}:{self.line}:{self.column}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the input, the plan or a server answer.

    `code` is a stable machine-readable identifier (e.g. `yaml.duplicate-key`), `message` the
    one-line summary, `location` where in a file (if known), `address` which resource (if any),
    `hint` what the user can do about it.
    """

    severity: Severity
    code: str
    message: str
    location: Location | None = None
    address: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = str(self.location) if self.location else (self.address or "")
        head = f"{where}: " if where else ""
        text = f"{head}{self.severity.value}: {self.message}"
        if self.address and self.location:
            text += f" [{self.address}]"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "column": self.location.column if self.location else None,
            "address": self.address,
            "hint": self.hint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnostic:
        file = data.get("file")
        location = None if file is None else Location(file, data.get("line") or 0, data.get("column") or 0)
        return cls(
            Severity(data["severity"]), data["code"], data["message"], location, data.get("address"), data.get("hint")
        )


def error(
    code: str,
    message: str,
    *,
    location: Location | None = None,
    address: str | None = None,
    hint: str | None = None,
) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, location, address, hint)


def warning(
    code: str,
    message: str,
    *,
    location: Location | None = None,
    address: str | None = None,
    hint: str | None = None,
) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, location, address, hint)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors in file order, so that output is stable and reads top to bottom."""

    def key(d: Diagnostic) -> tuple[str, int, int, str, str]:
        loc = d.location or Location("")
        return (loc.file, loc.line, loc.column, d.address or "", d.message)

    return sorted(diagnostics, key=key)


class ReconcilerError(Exception):
    """Base of every error the reconciler raises on purpose. Its text is safe to print."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class DiagnosticsError(ReconcilerError):
    """One or more problems, reported together."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.diagnostics = sort_diagnostics(self.diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        ReconcilerError.__init__(self, f"{len(errors)} error(s) found")

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)

    def __hash__(self) -> int:
        return id(self)


class ConfigError(ReconcilerError):
    """A problem with command-line options or settings that is not tied to a file position."""


class PlatformError(ReconcilerError):
    """A server answered with an error, or could not be reached.

    `status` is the HTTP status (0 when no answer came), `address` the resource concerned,
    `retryable` whether trying again may succeed, `maybe_written` that it answers a write with a
    server error, which some servers give after carrying the write out. The message holds no
    secret values.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        address: str | None = None,
        retryable: bool = False,
        hint: str | None = None,
        maybe_written: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.address = address
        self.retryable = retryable
        self.maybe_written = maybe_written


class WireShapeError(PlatformError):
    """A server's answer is valid JSON of the wrong shape (a row that is no object, a name that
    is no string): raised only where an adapter parses list rows (its `from_wire`)."""


class UnreachableError(PlatformError):
    """No answer came: connection refused, reset, or timed out.

    `sent`: the request may have reached the server (a refused or failed connection, or a
    request never started, did not); only then is the outcome of a write unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        address: str | None = None,
        retryable: bool = False,
        hint: str | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, address=address, retryable=retryable, hint=hint)
        self.sent = sent


class ServerDownError(UnreachableError):
    """No request was started: the server's circuit is open (several connection failures in a
    row) or its deadline for this command has passed."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, sent=False)


class AuthError(PlatformError):
    """The server refused the credentials (401) or the scope (403)."""


class ConflictError(PlatformError):
    """The server's state no longer matches what the plan was made against."""


class LockedError(ReconcilerError):
    """Another apply holds the server's apply lock (and did not release it in time)."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the live state of the resources it touches."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = sorted(addresses)
        listed = ", ".join(self.addresses)
        super().__init__(
            f"the desired or the live state changed since the plan was made: {listed}",
            hint="run `reconciler plan` again and review the new plan",
        )
