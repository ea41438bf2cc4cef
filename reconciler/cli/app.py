"""The `reconciler` command group: --version, --debug and the per-command reset of the output.
The commands register themselves on `main` from their own modules (see `reconciler.cli`).
"""

from __future__ import annotations

import click

from reconciler.cli.options import Group
from reconciler.cli.output import OUT, debug_log


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import reconciler

    click.echo(f"reconciler, version {reconciler.__version__}")
    ctx.exit()


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
