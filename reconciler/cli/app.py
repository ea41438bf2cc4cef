"""The `reconciler` command group: --version, --debug and the per-command reset of the output.
The commands register themselves on `main` from their own modules (see `reconciler.cli`), each
module imported when one of its commands is first looked up (`COMMAND_MODULES`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping

import click

from reconciler.cli.options import Group
from reconciler.cli.output import OUT, debug_log

# The module that registers each command. A run imports only its own command's module (a plan
# needs none of apply's, drift's or the sandbox's); listing the commands (`--help`, completion,
# a mistyped name) imports them all. A new command module must be named here.
COMMAND_MODULES: Mapping[str, str] = {
    "validate": "reconciler.cli.plan",
    "plan": "reconciler.cli.plan",
    "apply": "reconciler.cli.apply",
    "drift": "reconciler.cli.drift",
    "export": "reconciler.cli.export",
    "force-unlock": "reconciler.cli.export",
    "sandbox": "reconciler.cli.sandbox",
    "init": "reconciler.cli.kit",
    "gitlab-note": "reconciler.cli.kit",
    "schema": "reconciler.cli.kit",
    "completion": "reconciler.cli.kit",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """`main`'s commands by name (what click keeps in `Group.commands`): looking a command up
    imports the module that registers it; iterating imports every command's module."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = modules
        self._commands: dict[str, click.Command] = {}

    def _load_all(self) -> None:
        for module in dict.fromkeys(self._modules.values()):
            importlib.import_module(module)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._commands and name in self._modules:
            importlib.import_module(self._modules[name])
        return self._commands[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        del self._commands[name]

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter(dict(self._commands))

    def __len__(self) -> int:
        self._load_all()
        return len(self._commands)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import reconciler

    click.echo(f"reconciler, version {reconciler.__version__}")
    ctx.exit()


@click.group(
    cls=Group,
    commands=LazyCommands(COMMAND_MODULES),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="RECONCILER_DEBUG",
    help="Log requests, retries and internal errors with their tracebacks to stderr (secrets scrubbed). "
    "Also RECONCILER_DEBUG=1.",
)
def main(debug: bool = False) -> None:
    """Declarative reconciler for Kubiya integrations, Conductor providers and console channels.

    Keep the integrations you want in a YAML file; `plan` shows what would change on the live
    servers, `apply` makes exactly those changes.

    \b
    Example:
      reconciler plan examples/quickstart.yaml
    """
    # The secrets to scrub are those of this command's files: when commands run one after
    # another in one process (tests, an embedding program), one's values never mask another's text.
    OUT.secrets = []
    OUT.no_color = False
    if debug:
        debug_log()
