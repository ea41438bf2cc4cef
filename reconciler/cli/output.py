"""What the CLI writes: the scrubbing `Output` (every line written passes through it), colour,
and the one way an error is reported (a message and its hint, or diagnostics; never a
traceback). The only place, with the commands, that writes to stdout or stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import click

from reconciler.errors import DiagnosticsError, ReconcilerError
from reconciler.views import OutputFormat

# Characters written at once by `Output.out`.
_SLICE = 1 << 20


class Output:
    """Writes to stdout/stderr with every known secret value replaced by `(sensitive)`."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        # --no-color of the running command, for messages printed before or outside its views.
        self.no_color = False

    def learn(self, secrets: Iterable[str]) -> None:
        from reconciler.secrecy import secret_forms

        forms = {form for s in secrets if len(s) >= 4 for form in secret_forms(s)}
        # Longest first, so that a secret containing another is replaced whole.
        self.secrets = sorted({*self.secrets, *forms}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "(sensitive)")
        return text

    def scrub_data(self, value: Any) -> Any:
        """A JSON value (a webhook payload) with every string in it scrubbed, keys included."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_data(v) for v in value]
        return value

    # color=True: click would strip ANSI codes from piped output, but whether to colour is
    # decided once, by `_color` (which honours FORCE_COLOR); uncoloured text holds none.
    def out(self, text: str = "", nl: bool = True) -> None:
        text = self.scrub(text)
        if len(text) <= _SLICE:
            click.echo(text, nl=nl, color=True)
            return
        # A large document (a plan of 50k resources is tens of MB) is written in slices:
        # echoing it whole would copy it twice more (the newline added, then encoded).
        for start in range(0, len(text), _SLICE):
            click.echo(text[start : start + _SLICE], nl=False, color=True)
        if nl:
            click.echo("", color=True)

    def out_parts(self, parts: Iterable[str], nl: bool = True) -> None:
        """Write a text given in parts (a large plan, made as it is written), scrubbed as a
        whole would be: the end of each part is held back, as long as the longest secret form
        less one character, and scrubbed with the next, so a secret split between two parts
        is still found."""
        keep = max(map(len, self.secrets), default=1) - 1
        held = ""
        for part in parts:
            text = self.scrub(held + part)
            cut = max(len(text) - keep, 0)
            held = text[cut:]
            if cut:
                click.echo(text[:cut], nl=False, color=True)
        click.echo(held, nl=nl, color=True)

    def err(self, text: str = "", nl: bool = True) -> None:
        click.echo(self.scrub(text), err=True, nl=nl, color=True)


OUT = Output()


class ScrubbingStream:
    """A text stream that scrubs secrets before writing to stderr (for rich's live output)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.encoding = getattr(stream, "encoding", "utf-8")

    def write(self, text: str) -> int:
        self._stream.write(OUT.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())


class _ScrubbingFormatter(logging.Formatter):
    """Formats a log record, traceback included, then scrubs every known secret form from it."""

    def format(self, record: logging.LogRecord) -> str:
        return OUT.scrub(super().format(record))


def debug_log() -> None:
    """--debug: the tool's own log (requests, retries, internal errors with tracebacks) and
    httpx's request lines on stderr, each line scrubbed as the rest of the output is."""
    handler = logging.StreamHandler(ScrubbingStream(sys.stderr))
    handler.setFormatter(_ScrubbingFormatter("debug: %(name)s: %(message)s"))
    handler.name = "reconciler-debug"
    for name in ("reconciler", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        # One handler, on this run's stderr (a process may run several commands in tests).
        for old in [h for h in logger.handlers if h.name == handler.name]:
            logger.removeHandler(old)
        logger.addHandler(handler)


def color(no_color: bool, stream: Any = None) -> bool:
    """Colour on a terminal; never with --no-color or NO_COLOR; FORCE_COLOR turns it on when
    piped (a CI log that renders ANSI codes), as NO_COLOR turns it off."""
    stream = stream or sys.stdout
    if no_color or OUT.no_color or os.environ.get("NO_COLOR", "") != "":
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def safe(text: str) -> str:
    """Text from files or servers (names, server messages), control characters escaped line by
    line: the views' one escaping function, for messages printed outside a view."""
    from reconciler.views._format import clean_lines

    return "\n".join(clean_lines(text))


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    message = safe(message)
    OUT.err(click.style("Error: ", fg="red", bold=True) + message if color(False, sys.stderr) else f"Error: {message}")
    if hint:
        OUT.err(f"  hint: {safe(hint)}")
    sys.exit(code)


def source_reader() -> Callable[[str], tuple[str, ...] | None]:
    """Reads the lines of desired-state files (each once per report), for showing the line a
    diagnostic points at."""
    cache: dict[str, tuple[str, ...] | None] = {}

    def lines(file: str) -> tuple[str, ...] | None:
        if file not in cache:
            try:
                if os.path.getsize(file) > 10 * 1024 * 1024:
                    cache[file] = None
                else:
                    with open(file, encoding="utf-8", errors="replace") as fh:
                        cache[file] = tuple(fh.read().split("\n"))
            except OSError:
                cache[file] = None
        return cache[file]

    return lines


def report_error(exc: ReconcilerError, fmt: str = OutputFormat.HUMAN, title: str = "Reconciler plan") -> NoReturn:
    if fmt == "markdown":
        # A pipeline posts what stdout holds: the error goes there too, never an empty comment.
        from reconciler.views.outcome import render_error_markdown

        diagnostics = exc.diagnostics if isinstance(exc, DiagnosticsError) else ()
        # Scrubbed before the Markdown escaping too: an escaped secret is another form of it.
        hint = OUT.scrub(exc.hint) if exc.hint else exc.hint
        OUT.out(render_error_markdown(title, OUT.scrub(str(exc)), hint=hint, diagnostics=diagnostics))
        fmt = "human"
    if isinstance(exc, DiagnosticsError):
        from reconciler import views

        if fmt == "json":
            OUT.out(views.render_diagnostics_json(exc.diagnostics))
        else:
            OUT.err(views.render_diagnostics(exc.diagnostics, color=color(False, sys.stderr), source=source_reader()))
        sys.exit(1)
    fail(str(exc), exc.hint)
