"""The apply `Observer` without a terminal: one plain line per outcome on the record stream,
notes on their own stream, and at the end one line per reason that counts the changes never
started. What an apply in CI, under `--format json` or into a file shows as it goes; it needs
no rich, so such an apply never imports it. `progress.ProgressObserver` adds the live bar."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from reconciler.outcomes import Outcome
from reconciler.views import _format as fmt
from reconciler.views.human import outcome_marker


class TextStream(Protocol):
    """What the observer writes to (a text file, or the CLI's scrubbing stream)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class LineObserver:
    """Implements `reconciler.apply.Observer`. Call `close()` (or use it as a context manager)
    when the apply returns. `records` takes the outcomes, `notes` the transient messages."""

    def __init__(self, records: TextStream, notes: TextStream, *, encoding: str | None = None) -> None:
        self.records_file = records
        self.notes_file = notes
        # Markers `✓`/`✗`/`-` only where the record's encoding can write them.
        encoding = encoding or getattr(records, "encoding", None) or "utf-8"
        self.unicode = encoding.lower().replace("-", "").startswith("utf")
        self.outcomes: list[Outcome] = []
        self.failed = 0
        self.seen = 0
        self.not_started: dict[str, int] = {}

    def started(self, total: int) -> None:
        """The apply starts `total` changes (a plain record shows no count)."""

    def outcome(self, outcome: Outcome) -> None:
        self.seen += 1
        self.outcomes.append(outcome)
        reason = fmt.collapsible(outcome)
        if reason is not None:
            # Changes never started are counted and shown as one line per reason at the end.
            self.not_started[reason] = self.not_started.get(reason, 0) + 1
            self._counted(outcome)
            return
        status, text = fmt.outcome_parts(outcome)
        if status == "failed":
            self.failed += 1
        self._line(status, text)

    def _counted(self, outcome: Outcome) -> None:
        """An outcome counted at the end rather than shown now."""

    def _line(self, status: str, text: str) -> None:
        # Plain lines go straight to the stream: rich's rendering costs more than the request
        # behind a line when thousands of them scroll by in a CI log.
        self.records_file.write(f"{outcome_marker(status, self.unicode)} {text}\n")

    def note(self, text: str) -> None:
        """A transient message (e.g. "Interrupted: ..."), on the notes stream."""
        self.notes_file.write(text + "\n")
        self.notes_file.flush()

    def close(self) -> None:
        """Writes one line per reason that counts the changes not started."""
        not_started, self.not_started = self.not_started, {}
        for reason, count in not_started.items():
            self._line("skipped", fmt.collapsed_line(reason, count))

    def __enter__(self) -> LineObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
