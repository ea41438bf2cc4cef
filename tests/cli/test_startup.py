"""What a plan loads: a plan against servers over HTTP imports neither apply's modules, nor the
other commands' modules, nor the views it does not render, nor the sandbox and SQLite, so that
a small plan starts fast; and every command is found in the module that registers it."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import reconciler.cli
from reconciler.cli import main
from reconciler.cli.app import COMMAND_MODULES
from tests.cli.conftest import BASIC_ADDRESSES, World, process_env

# Modules a `plan --format json` over HTTP has no use for (each imported where it is used).
NOT_FOR_A_PLAN = {
    "reconciler.apply",
    "reconciler.schedule",
    "reconciler.drift",
    "reconciler.cli.apply",
    "reconciler.cli.drift",
    "reconciler.cli.export",
    "reconciler.cli.kit",
    "reconciler.cli.sandbox",
    "reconciler.views.human",
    "reconciler.views.markdown",
    "reconciler.views.progress",
    "reconciler.sandbox",
    "sqlite3",
    "rich",
    # httpx's pools are never used for a server reached directly (platforms.h1), and closing
    # one would import anyio's backend.
    "anyio._backends._asyncio",
    "jinja2",
    "jsonschema",
}


# The command as the executable runs it, then the names of every module loaded, one a line.
# (`-X importtime` would not do: it does not report modules imported by importlib.import_module.)
RUN_THEN_LIST_MODULES = """\
import sys
from reconciler.cli import main
try:
    main(sys.argv[2:], standalone_mode=False)
finally:
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        out.write("\\n".join(sorted(sys.modules)))
"""


def modules_of(world: World, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The command run as the executable runs it, and the names of every module it loaded."""
    listing = world.tmp / "modules.txt"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_THEN_LIST_MODULES, listing, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=process_env(world.env),
        cwd=world.tmp,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, set(listing.read_text(encoding="utf-8").splitlines())


@pytest.mark.serve
def test_a_plan_over_http_imports_only_what_it_uses(served_world: World) -> None:
    proc, loaded = modules_of(served_world, "plan", str(served_world.desired()), "--format", "json")
    assert {c["address"] for c in json.loads(proc.stdout)["changes"]} == set(BASIC_ADDRESSES)
    assert {"reconciler.cli.plan", "reconciler.planner", "reconciler.views.jsonview"} <= loaded
    assert loaded & NOT_FOR_A_PLAN == set()


@pytest.mark.serve
def test_an_apply_whose_output_is_no_terminal_imports_no_rich(served_world: World) -> None:
    proc, loaded = modules_of(served_world, "apply", str(served_world.desired()), "--auto-approve", "--format", "json")
    assert json.loads(proc.stdout)["summary"]["added"] == len(BASIC_ADDRESSES)
    assert "reconciler.views.lines" in loaded
    assert {m for m in loaded if m.split(".")[0] == "rich"} == set()


def test_every_command_is_named_with_the_module_that_registers_it() -> None:
    # Every module of the package imported: a command registered where COMMAND_MODULES does
    # not look would be missing from a run that does not list the commands.
    for module in pkgutil.iter_modules(reconciler.cli.__path__, "reconciler.cli."):
        if module.name != "reconciler.cli.__main__":
            importlib.import_module(module.name)
    commands = dict(main.commands.items())
    assert {name: command.callback.__module__ for name, command in commands.items() if command.callback} == dict(
        COMMAND_MODULES
    )
