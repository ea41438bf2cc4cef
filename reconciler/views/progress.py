"""Live progress of an apply on a rich Console: the apply `Observer` that people watch.

When enabled, a progress bar (done/total, failures, elapsed time) runs at the bottom of the
terminal and each outcome is printed above it as it arrives, its marker coloured. When not
enabled (not a terminal, `--json`, a CI log), each outcome is one plain line with no styling
and no bar. Whether to enable it is the CLI's decision.

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

from reconciler.plan import Outcome
from reconciler.views import _format as fmt
from reconciler.views.human import outcome_marker

_STYLE = {"done": "green", "failed": "red", "skipped": "yellow"}


class ProgressObserver:
    """Implements `reconciler.apply.Observer`. Call `close()` (or use it as a context manager)
    when the apply returns, so that the bar is taken down before the summary is printed."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self.unicode = console.encoding.lower().replace("-", "").startswith("utf")
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
            self.console.file.write(f"{marker} {text}\n")
            return
        line = Text.assemble((marker, _STYLE[status]), " ", text)
        # Printing through the Progress's console keeps the line above the live bar.
        self.console.print(line, highlight=False, soft_wrap=True)
        self._advance()

    def _advance(self) -> None:
        if self._progress is not None and self._task is not None:
            description = f"Applying ({self.failed} failed)" if self.failed else "Applying"
            self._progress.update(self._task, advance=1, description=description)

    def close(self) -> None:
        not_started, self.not_started = self.not_started, {}
        for reason, count in not_started.items():
            marker = outcome_marker("skipped", self.unicode)
            if self.enabled:
                self.console.print(
                    Text.assemble((marker, _STYLE["skipped"]), " ", fmt.collapsed_line(reason, count)),
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                self.console.file.write(f"{marker} {fmt.collapsed_line(reason, count)}\n")
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def __enter__(self) -> ProgressObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
