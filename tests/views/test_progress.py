"""The apply observers (plain lines without a terminal, the live bar on one), driven by hand
and by the real apply engine."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from reconciler.apply import Observer, apply
from reconciler.model import Address, ServerConfig, ServerKind
from reconciler.outcomes import Done, Failed, Outcome, Skipped
from reconciler.plan import Change
from reconciler.schedule import Executor
from reconciler.views.lines import LineObserver
from reconciler.views.progress import ProgressObserver
from tests.views import plans


class AsciiFile(io.StringIO):
    encoding = "ascii"


def _outcomes() -> list[Done | Failed | Skipped]:
    return list(plans.partial_failure_result().outcomes)


def test_without_a_terminal_each_outcome_is_one_plain_line() -> None:
    out = io.StringIO()
    observer = LineObserver(out, io.StringIO())
    outcomes = _outcomes()
    observer.started(len(outcomes))
    for o in outcomes:
        observer.outcome(o)
    observer.close()
    lines = out.getvalue().split("\n")
    assert "\x1b" not in out.getvalue()
    assert len(lines) == len(outcomes) + 1
    assert lines[-1] == ""
    assert lines[0] == "✓ channel.console.agt_demo.custom_api.dup-hook: destroyed (id ch_9)"
    # Long lines are not wrapped at the console width: one outcome, one line.
    assert lines[2].startswith('✗ channel.console.agt_demo.mcp_server."Docs search": replace failed')
    assert observer.seen == len(outcomes)
    assert observer.failed == 3


def test_the_bar_shows_with_styled_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=120)
    outcomes = _outcomes()
    with ProgressObserver(console) as observer:
        observer.started(len(outcomes))
        for o in outcomes:
            observer.outcome(o)
    text = out.getvalue()
    assert "\x1b[32m✓\x1b[0m channel.console.agt_demo.custom_api.dup-hook" in text
    assert "\x1b[31m✗\x1b[0m provider.orkes.openai: update failed" in text
    assert "Applying" in text  # the bar's description
    # Closed by the context manager: a later note is a plain line, not a redraw of the bar.
    observer.note("after")
    assert out.getvalue()[len(text) :] == "after\n"


def test_ascii_stream_gets_ascii_markers() -> None:
    out = AsciiFile()
    observer = LineObserver(out, io.StringIO())
    for o in _outcomes():
        observer.outcome(o)
    text = out.getvalue()
    assert "✓" not in text
    assert "✗" not in text
    assert "ok channel.console.agt_demo.custom_api.dup-hook: destroyed" in text
    assert "FAIL provider.orkes.openai" in text


def test_markup_and_emoji_codes_in_names_are_printed_literally() -> None:
    change = plans.representative_plan().actionable[0]
    out = io.StringIO()
    observer = LineObserver(out, io.StringIO())
    observer.outcome(Failed(change, "bad [bold]markup[/bold] :smile: here"))
    assert "bad [bold]markup[/bold] :smile: here" in out.getvalue()


class _DoneExecutor:
    """Carries out every change at once (the adapter verbs `apply` schedules)."""

    replace_words = ("deleted", "creating")
    down = None

    def __init__(self, server: str) -> None:
        self.server = ServerConfig(server, ServerKind.KUBIYA, "http://unused.invalid")
        self.in_flight: set[Address] = set()

    def bulk(self, change: Change) -> bool:
        return False

    def rides_with(self, change: Change) -> Address | None:
        return None

    async def check(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        return ()

    async def save(self, change: Change) -> Outcome:
        return Done(change)

    async def save_batch(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        return [Done(c) for c in changes]

    async def delete(self, change: Change) -> Outcome:
        return Done(change)


def test_observes_a_real_apply() -> None:
    plan = plans.representative_plan()
    out = io.StringIO()
    observer = LineObserver(out, io.StringIO())
    as_protocol: Observer = observer
    executors: dict[str, Executor] = {s: _DoneExecutor(s) for s in plan.servers}
    result = asyncio.run(apply(plan, executors, observer=as_protocol))
    observer.close()
    lines = out.getvalue().strip().split("\n")
    assert len(lines) == len(plan.actionable) == len(result.outcomes)
    assert all(line.startswith("✓ ") for line in lines)
    assert {line.split(":")[0][2:] for line in lines} == {str(c.address) for c in plan.actionable}


def test_a_note_goes_to_the_notes_stream_not_the_record() -> None:
    records, notes = io.StringIO(), io.StringIO()
    LineObserver(records, notes).note("Interrupted")
    assert (records.getvalue(), notes.getvalue()) == ("", "Interrupted\n")


def test_the_bar_s_record_of_outcomes_is_the_plain_one_with_colour() -> None:
    plain, painted = io.StringIO(), io.StringIO()
    console = Console(file=painted, force_terminal=True, color_system="standard", width=200)
    observers = [LineObserver(plain, io.StringIO()), ProgressObserver(console)]
    for observer in observers:
        for o in _outcomes():
            observer.outcome(o)
        observer.close()
    assert Text.from_ansi(painted.getvalue()).plain == plain.getvalue()
