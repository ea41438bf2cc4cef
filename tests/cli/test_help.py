"""`--help` of every command and subcommand, and `--version`."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from reconciler import __version__
from reconciler.cli import main
from tests.cli.conftest import World


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name)


COMMANDS = list(walk(main))


def test_the_walk_finds_every_command() -> None:
    assert {
        (),
        ("validate",),
        ("plan",),
        ("apply",),
        ("drift",),
        ("export",),
        ("sandbox",),
        ("sandbox", "serve"),
        ("sandbox", "reset"),
    } <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "main")
def test_help_shows_usage_and_an_example(world: World, path: tuple[str, ...]) -> None:
    result = world.run(*path, "--help")
    assert result.exit_code == 0, result.output
    # CliRunner names the program after the function: `main`.
    assert result.stdout.startswith(" ".join(("Usage: main", *path)) + " [OPTIONS]")
    assert "Example:" in result.stdout
    example = result.stdout.split("Example:", 1)[1]
    # The example is a real command line of this very command.
    assert f"reconciler {' '.join(path)}".rstrip() in example


@pytest.mark.parametrize("path", [p for p in COMMANDS if p], ids=" ".join)
def test_short_help_flag(world: World, path: tuple[str, ...]) -> None:
    assert world.run(*path, "-h").stdout == world.run(*path, "--help").stdout


def test_version(world: World) -> None:
    result = world.run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"reconciler, version {__version__}"
