"""Secret references inside string values: `${env:NAME}` and `${file:PATH}`.

A string that holds at least one reference is resolved into one `Sensitive` value (the whole
string, so that `"Bearer ${env:TOKEN}"` never leaks its secret half). `${file:PATH}` reads a
UTF-8 file relative to the desired-state file that holds the reference, with one trailing
newline stripped. `$${env:NAME}` writes the literal text `${env:NAME}`. Shell-style
expansions such as `${HOME}` or `${name:-default}` are left alone, while `${evn:X}`-like
typos of a scheme are errors rather than silently literal text.

Problems come back as `Problem`s (code, message, hint) for the caller to place; no message
holds a resolved value.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.model import Sensitive

SCHEMES = ("env", "file")
MAX_SECRET_FILE_BYTES = 1024 * 1024

# `$${` escapes; the body runs to the first `}` (a reference never holds one).
_REFERENCE = re.compile(r"\$(\$?)\{([a-z][a-z0-9_]*):([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_UNTERMINATED = re.compile(r"(?<!\$)\$\{(env|file):[^}]*\Z")
# `${name:-x}`, `${name:=x}`, `${name:?x}`, `${name:+x}`: shell syntax, not a reference.
_SHELL_OPERATORS = ("-", "=", "?", "+")


@dataclass(frozen=True)
class Problem:
    """A reference that cannot be resolved. `code` is a Diagnostic code."""

    code: str
    message: str
    hint: str | None = None


@dataclass
class Resolver:
    """Resolves references for one load: `environ` is read, secret files are read once."""

    environ: Mapping[str, str]
    _files: dict[Path, str | Problem] = field(default_factory=dict)

    def resolve(self, text: str, base_dir: Path) -> tuple[str | Sensitive, list[Problem]]:
        """`text` with its references resolved: a Sensitive if it held any, else a str."""
        if "${" not in text:
            return text, []
        problems: list[Problem] = []
        parts: list[str] = []
        sources: list[str] = []
        last = 0
        for match in _REFERENCE.finditer(text):
            escaped, scheme, body = match.group(1), match.group(2), match.group(3)
            if scheme not in SCHEMES:
                if escaped or body.startswith(_SHELL_OPERATORS):
                    continue
                problems.append(
                    Problem(
                        "reference.unknown-scheme",
                        f"unknown reference scheme {scheme!r} in `${{{scheme}:…}}`",
                        "a reference is ${env:NAME} or ${file:PATH}; write $${ for a literal ${",
                    )
                )
                continue
            parts.append(text[last : match.start()])
            last = match.end()
            if escaped:
                parts.append(match.group(0)[1:])
                continue
            sources.append(f"{scheme}:{body}")
            value = self._env(body) if scheme == "env" else self._file(body, base_dir)
            if isinstance(value, Problem):
                problems.append(value)
            else:
                parts.append(value)
        parts.append(text[last:])
        rest = parts[-1]
        if _UNTERMINATED.search(rest):
            problems.append(
                Problem(
                    "reference.unterminated",
                    "a `${env:` or `${file:` reference has no closing `}`",
                    "close it: ${env:NAME}",
                )
            )
        joined = "".join(parts)
        if not sources:
            return joined, problems
        return Sensitive(joined, source=",".join(sources)), problems

    def unread(self) -> Resolver:
        """A resolver that checks references but reads neither the environment nor files:
        every reference resolves to an empty sensitive value."""
        return _Unread(self.environ)

    def _env(self, name: str) -> str | Problem:
        if not _ENV_NAME.match(name):
            return Problem(
                "reference.bad-name",
                f"{name!r} is not an environment variable name",
                "names are letters, digits and `_`, not starting with a digit",
            )
        value = self.environ.get(name)
        if value is None:
            return Problem(
                "reference.env-missing",
                f"the environment variable {name} is not set",
                f"export {name}=… before running, or use ${{file:PATH}} instead",
            )
        return value

    def _file(self, written: str, base_dir: Path) -> str | Problem:
        if not written.strip():
            return Problem("reference.bad-path", "`${file:}` needs a path", "write ${file:PATH}")
        path = Path(os.path.expanduser(written))
        if not path.is_absolute():
            path = base_dir / path
        cached = self._files.get(path)
        if cached is None:
            cached = self._files[path] = _read_secret_file(path, written)
        return cached


class _Unread(Resolver):
    def _env(self, name: str) -> str | Problem:
        problem = super()._env(name)
        return problem if isinstance(problem, Problem) and problem.code == "reference.bad-name" else ""

    def _file(self, written: str, base_dir: Path) -> str | Problem:
        if not written.strip():
            return Problem("reference.bad-path", "`${file:}` needs a path", "write ${file:PATH}")
        return ""


def _read_secret_file(path: Path, written: str) -> str | Problem:
    hint = "the path is relative to the file that holds the reference"
    try:
        # Opened without blocking and checked before reading: a FIFO would wait for a writer
        # and a device (`/dev/zero`, a terminal) may never end, so only a regular file is read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            if not stat.S_ISREG(mode):
                return Problem(
                    "reference.file-unreadable",
                    f"the secret file {written!r} is not a regular file (it is {_file_kind(mode)}); "
                    "only regular files are read",
                    "point ${file:...} at a file holding the secret",
                )
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except FileNotFoundError:
        return Problem("reference.file-missing", f"the secret file {written!r} does not exist", hint)
    except IsADirectoryError:
        return Problem("reference.file-unreadable", f"the secret file {written!r} is a directory", hint)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return Problem(
            "reference.file-unreadable",
            f"the secret file {written!r} cannot be read ({reason})",
            hint,
        )
    if len(data) > MAX_SECRET_FILE_BYTES:
        return Problem(
            "reference.file-too-large",
            f"the secret file {written!r} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Problem(
            "reference.file-encoding",
            f"the secret file {written!r} is not UTF-8 text",
            "store the secret as text (base64-encode binary keys)",
        )
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def has_reference(text: str) -> bool:
    """Whether `text` holds at least one (unescaped) `${env:…}` or `${file:…}` reference."""
    if "${" not in text:
        return False
    return any(m.group(1) == "" and m.group(2) in SCHEMES for m in _REFERENCE.finditer(text))


def suggested_env_name(*parts: str) -> str:
    """An environment variable name to suggest in hints, e.g. `KUBIYA_TOKEN`."""
    joined = "_".join(parts).upper()
    name = re.sub(r"[^A-Z0-9_]+", "_", joined).strip("_") or "SECRET"
    return "_" + name if name[0].isdigit() else name
