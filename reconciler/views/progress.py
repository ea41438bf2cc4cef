"""Live progress of an apply on a rich Console: the apply `Observer` that people watch.

Two streams: the record of outcomes (one line per change done or failed, which `apply >
apply.log` keeps: stdout) and the transient progress (a bar, notes such as "Interrupted":
stderr). When enabled, the bar (done/total, failures, elapsed time) runs at the bottom of the
terminal and vanishes when closed; when the record goes to the same terminal, each outcome is
printed above the bar, its marker coloured. When not enabled (not a terminal, `--json`, a CI
log), each outcome is one plain line with no styling and no bar. Whether to enable it, and
where each stream goes, is the CLI's decision.

Changes never started (the apply was interrupted, or their server is down) are not listed one
by one: `close()` writes one line per reason with their count (each is in `--format json`).

Markers are `✓`/`✗`/`-`, or `ok`/`FAIL`/`skip` when the console's encoding cannot write them.
"""

from __future__ import annotations

from types import TracebackType

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
from reconciler.views import _format as fmt
from reconciler.views.human import outcome_marker

_STYLE = {"done": "green", "failed": "red", "skipped": "yellow"}


class ProgressObserver:
    """Implements `reconciler.apply.Observer`. Call `close()` (or use it as a context manager)
    when the apply returns, so that the bar is taken down before the summary is printed."""

    def __init__(self, console: Console, enabled: bool, records: Console | None = None) -> None:
        self.console = console
        # Outcomes go to `records` (the same console by default). When the bar is on and the
        # record goes to the terminal too, lines are printed through the bar's console so that
        # they scroll above it instead of tearing it.
        self.records = records or console
        self.enabled = enabled
        self.unicode = self.records.encoding.lower().replace("-", "").startswith("utf")
        self.outcomes: list[Outcome] = []
        self.failed = 0
        self.seen = 0
        self.not_started: dict[str, int] = {}
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def started(self, total: int) -> None:
        if not self.enabled or self._progress is not None:
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

    def outcome(self, outcome: Outcome) -> None:
        self.seen += 1
        self.outcomes.append(outcome)
        reason = fmt.collapsible(outcome)
        if reason is not None:
            # Changes never started are counted and shown as one line per reason at the end.
            self.not_started[reason] = self.not_started.get(reason, 0) + 1
            self._advance()
            return
        status, text = fmt.outcome_parts(outcome)
        marker = outcome_marker(status, self.unicode)
        if status == "failed":
            self.failed += 1
        if not self.enabled:
            # Plain lines go straight to the stream: rich's rendering costs more than the
            # request behind a line when thousands of them scroll by in a CI log.
            self.records.file.write(f"{marker} {text}\n")
            return
        line = Text.assemble((marker, _STYLE[status]), " ", text)
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
            self.console.file.write(text + "\n")
            self.console.file.flush()

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
        not_started, self.not_started = self.not_started, {}
        for reason, count in not_started.items():
            marker = outcome_marker("skipped", self.unicode)
            if self.enabled:
                self.records.print(
                    Text.assemble((marker, _STYLE["skipped"]), " ", fmt.collapsed_line(reason, count)),
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                self.records.file.write(f"{marker} {fmt.collapsed_line(reason, count)}\n")

    def __enter__(self) -> ProgressObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
