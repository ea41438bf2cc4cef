"""How a command runs in the process: its coroutine under `asyncio.run` (Ctrl-C before any
write is one line, a ReconcilerError a clean report), and the `reconciler` executable's exit
without the interpreter's teardown.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from reconciler.cli.output import OUT, report_error
from reconciler.errors import ReconcilerError

T = TypeVar("T")

# The results of the commands of a process that ends without teardown (see run_executable),
# held until it ends: a plan of 50,000 resources, freed object by object when the command
# returns, costs a measurable part of the command for nothing.
_kept: list[Any] | None = None


class _Box:
    """Carries a coroutine's result out of `asyncio.run` behind a cheap repr: when the run
    ends, asyncio's SIGINT bookkeeping formats the main task's repr, result included, and a
    plan of thousands of resources takes a noticeable time to repr."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def __repr__(self) -> str:
        return "<result>"


def run_raising(coro: Coroutine[Any, Any, T]) -> T:
    """Runs `coro`; a ReconcilerError is raised to the caller."""

    async def boxed() -> _Box:
        box = _Box()
        box.value = await coro
        return box

    import asyncio

    result: T = asyncio.run(boxed()).value
    return result


def run_command(coro: Coroutine[Any, Any, T], fmt: str = "human") -> T:
    try:
        result = run_raising(coro)
    except ReconcilerError as exc:
        report_error(exc, fmt)
    except KeyboardInterrupt:
        # Ctrl-C before any write (reading, planning): there is nothing to report but that.
        OUT.err("\nInterrupted: nothing was changed.")
        sys.exit(1)
    if _kept is not None:
        _kept.append(result)
    return result


def run_executable(main: Callable[[], Any]) -> None:
    """The `reconciler` executable.

    One-shot commands run with the garbage collector off and skip the interpreter's teardown:
    a plan of thousands of resources builds a large heap of acyclic objects, and collecting or
    freeing it object by object costs more than the work itself. Output is flushed first;
    the long-running `sandbox serve` keeps the ordinary behaviour.
    """
    long_running = len(sys.argv) > 1 and sys.argv[1] == "sandbox"
    # Under a profiler or tracer (cProfile, coverage) the ordinary exit lets it write its data.
    if long_running or sys.getprofile() is not None or sys.gettrace() is not None:
        main()
        return
    gc.disable()
    global _kept
    _kept = []
    code: int = 0
    try:
        main()
    except SystemExit as exc:
        if isinstance(exc.code, int):
            code = exc.code
        elif exc.code is not None:
            OUT.err(str(exc.code))
            code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or 1
    os._exit(code)
