"""Live progress of an apply on a rich Console: the apply `Observer` that people watch (the
plain `lines.LineObserver` with a bar).

Two streams: the record of outcomes (one line per change done or failed, which `apply >
apply.log` keeps: stdout) and the transient progress (a bar, notes such as "Interrupted":
stderr). The bar (done/total, failures, elapsed time) runs at the bottom of the terminal and
vanishes when closed; when the record goes to the same terminal, each outcome is printed above
the bar, its marker coloured. Without a terminal (`--json`, a CI log) the CLI uses the plain
`LineObserver` instead; where each stream goes is the CLI's decision.

Changes never started (the apply was interrupted, or their server is down) are not listed one
by one: `close()` writes one line per reason with their count (each is in `--format json`).

Markers are `✓`/`✗`/`-`, or `ok`/`FAIL`/`skip` when the console's encoding cannot write them.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from reconciler.outcomes import Outcome
from reconciler.views.human import outcome_marker
from reconciler.views.lines import LineObserver

_STYLE = {"done": "green", "failed": "red", "skipped": "yellow"}


class ProgressObserver(LineObserver):
    """Implements `reconciler.apply.Observer`. Call `close()` (or use it as a context manager)
    when the apply returns, so that the bar is taken down before the summary is printed."""

    def __init__(self, console: Console, records: Console | None = None) -> None:
        # Outcomes go to `records` (the same console by default). When the bar is on and the
        # record goes to the terminal too, lines are printed through the bar's console so that
        # they scroll above it instead of tearing it.
        self.records = records or console
        super().__init__(self.records.file, console.file, encoding=self.records.encoding)
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def started(self, total: int) -> None:
        if self._progress is not None:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task("Applying", total=total)
        self._progress.start()

    def _counted(self, outcome: Outcome) -> None:
        self._advance()

    def _line(self, status: str, text: str) -> None:
        line = Text.assemble((outcome_marker(status, self.unicode), _STYLE[status]), " ", text)
        # Printing through the Progress's console keeps the line above the live bar.
        self._record_console().print(line, highlight=False, soft_wrap=True)
        self._advance()

    def _record_console(self) -> Console:
        if self._progress is not None and self.records.is_terminal:
            return self.console
        return self.records

    def note(self, text: str) -> None:
        """A transient message (e.g. "Interrupted: ..."), above the bar, on the progress stream."""
        if self._progress is not None:
            self.console.print(Text(text), highlight=False, soft_wrap=True)
        else:
            super().note(text)

    def _advance(self) -> None:
        if self._progress is not None and self._task is not None:
            description = f"Applying ({self.failed} failed)" if self.failed else "Applying"
            self._progress.update(self._task, advance=1, description=description)

    def close(self) -> None:
        """Takes the bar down (it leaves nothing behind), then writes one line per reason that
        counts the changes not started."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
        super().close()
