"""The `reconciler` command line: thin click commands over the library.

This is the only module that prints, prompts or picks an exit code. Every `ReconcilerError`
becomes a clean message with its hint (never a traceback), and every line written is scrubbed
of the secret values the run resolved, as a last line of defence. Exit codes: 0 success,
1 error, 2 "changes present" (`plan --detailed-exitcode`, `drift`).
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reconciler.errors import DiagnosticsError, ReconcilerError

T = TypeVar("T")


class Output:
    """Writes to stdout/stderr with every known secret value replaced by `(sensitive)`."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        # --no-color of the running command, for messages printed before or outside its views.
        self.no_color = False

    def learn(self, secrets: Iterable[str]) -> None:
        from reconciler.model import secret_forms

        forms = {form for s in secrets if len(s) >= 4 for form in secret_forms(s)}
        # Longest first, so that a secret containing another is replaced whole.
        self.secrets = sorted({*self.secrets, *forms}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "(sensitive)")
        return text

    def scrub_data(self, value: Any) -> Any:
        """A JSON value (a webhook payload) with every string in it scrubbed, keys included."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_data(v) for v in value]
        return value

    # color=True: click would strip ANSI codes from piped output, but whether to colour is
    # decided once, by `_color` (which honours FORCE_COLOR); uncoloured text holds none.
    def out(self, text: str = "", nl: bool = True) -> None:
        click.echo(self.scrub(text), nl=nl, color=True)

    def err(self, text: str = "", nl: bool = True) -> None:
        click.echo(self.scrub(text), err=True, nl=nl, color=True)


OUT = Output()


class ScrubbingStream:
    """A text stream that scrubs secrets before writing to stderr (for rich's live output)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.encoding = getattr(stream, "encoding", "utf-8")

    def write(self, text: str) -> int:
        self._stream.write(OUT.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import reconciler

    click.echo(f"reconciler, version {reconciler.__version__}")
    ctx.exit()


class _ScrubbingFormatter(logging.Formatter):
    """Formats a log record, traceback included, then scrubs every known secret form from it."""

    def format(self, record: logging.LogRecord) -> str:
        return OUT.scrub(super().format(record))


def _debug_log() -> None:
    """--debug: the tool's own log (requests, retries, internal errors with tracebacks) and
    httpx's request lines on stderr, each line scrubbed as the rest of the output is."""
    handler = logging.StreamHandler(ScrubbingStream(sys.stderr))
    handler.setFormatter(_ScrubbingFormatter("debug: %(name)s: %(message)s"))
    handler.name = "reconciler-debug"
    for name in ("reconciler", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        # One handler, on this run's stderr (a process may run several commands in tests).
        for old in [h for h in logger.handlers if h.name == handler.name]:
            logger.removeHandler(old)
        logger.addHandler(handler)


def _color(no_color: bool, stream: Any = None) -> bool:
    """Colour on a terminal; never with --no-color or NO_COLOR; FORCE_COLOR turns it on when
    piped (a CI log that renders ANSI codes), as NO_COLOR turns it off."""
    stream = stream or sys.stdout
    if no_color or OUT.no_color or os.environ.get("NO_COLOR", "") != "":
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _safe(text: str) -> str:
    """Text from files or servers (names, server messages), control characters escaped line by
    line: the views' one escaping function, for messages printed outside a view."""
    from reconciler.views._format import clean_lines

    return "\n".join(clean_lines(text))


def _fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    message = _safe(message)
    OUT.err(click.style("Error: ", fg="red", bold=True) + message if _color(False, sys.stderr) else f"Error: {message}")
    if hint:
        OUT.err(f"  hint: {_safe(hint)}")
    sys.exit(code)


def _source_reader() -> Callable[[str], tuple[str, ...] | None]:
    """Reads the lines of desired-state files (each once per report), for showing the line a
    diagnostic points at."""
    cache: dict[str, tuple[str, ...] | None] = {}

    def lines(file: str) -> tuple[str, ...] | None:
        if file not in cache:
            try:
                if os.path.getsize(file) > 10 * 1024 * 1024:
                    cache[file] = None
                else:
                    with open(file, encoding="utf-8", errors="replace") as fh:
                        cache[file] = tuple(fh.read().split("\n"))
            except OSError:
                cache[file] = None
        return cache[file]

    return lines


def _report_error(exc: ReconcilerError, fmt: str = "human", title: str = "Reconciler plan") -> NoReturn:
    if fmt == "markdown":
        # A pipeline posts what stdout holds: the error goes there too, never an empty comment.
        from reconciler.views.outcome import render_error_markdown

        diagnostics = exc.diagnostics if isinstance(exc, DiagnosticsError) else ()
        # Scrubbed before the Markdown escaping too: an escaped secret is another form of it.
        hint = OUT.scrub(exc.hint) if exc.hint else exc.hint
        OUT.out(render_error_markdown(title, OUT.scrub(str(exc)), hint=hint, diagnostics=diagnostics))
        fmt = "human"
    if isinstance(exc, DiagnosticsError):
        from reconciler import views

        if fmt == "json":
            OUT.out(views.render_diagnostics_json(exc.diagnostics))
        else:
            OUT.err(views.render_diagnostics(exc.diagnostics, color=_color(False, sys.stderr), source=_source_reader()))
        sys.exit(1)
    _fail(str(exc), exc.hint)


class _Box:
    """Carries a coroutine's result out of `asyncio.run` behind a cheap repr: when the run
    ends, asyncio's SIGINT bookkeeping formats the main task's repr, result included, and a
    plan of thousands of resources takes a noticeable time to repr."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def __repr__(self) -> str:
        return "<result>"


def _run_raising(coro: Coroutine[Any, Any, T]) -> T:
    """Runs `coro`; a ReconcilerError is raised to the caller."""

    async def boxed() -> _Box:
        box = _Box()
        box.value = await coro
        return box

    import asyncio

    result: T = asyncio.run(boxed()).value
    return result


def _run(coro: Coroutine[Any, Any, T], fmt: str = "human") -> T:
    try:
        return _run_raising(coro)
    except ReconcilerError as exc:
        _report_error(exc, fmt)
    except KeyboardInterrupt:
        # Ctrl-C before any write (reading, planning): there is nothing to report but that.
        OUT.err("\nInterrupted: nothing was changed.")
        sys.exit(1)


def _notes(run: Any) -> None:
    for note in run.notes:
        OUT.err(note)


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _fail(f"--var {pair!r} is not of the form key=value", "for example: --var env=staging")
        out[key.strip()] = value
    return out


def _sources(files: tuple[str, ...], var: tuple[str, ...], var_file: tuple[str, ...]) -> Any:
    from reconciler.engine import Sources

    if not files:
        _fail("no desired-state files given", "name one or more YAML files or directories")
    return Sources(tuple(files), _parse_vars(var), tuple(var_file))


def desired_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that loads a desired state."""
    f = click.option(
        "--var-file",
        "var_file",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="YAML file of variables.",
    )(f)
    f = click.option("--var", "var", multiple=True, metavar="KEY=VALUE", help="Template variable (repeatable).")(f)
    f = click.argument("files", nargs=-1, type=click.Path())(f)
    return f


def _complete(what: str) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        from reconciler import scaffold

        # While an option's value is completed, click leaves the file arguments unparsed in ctx.args.
        files = tuple(ctx.params.get("files") or ()) or tuple(a for a in ctx.args if not a.startswith("-"))
        names = scaffold.completion_names(list(files), what)
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]

    return complete


def plan_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that shape a plan (plan, apply)."""
    opts = [
        click.option("--prune", is_flag=True, help="Delete managed resources missing from the desired state."),
        click.option("--max-deletes", type=click.IntRange(0), default=None, help="Refuse plans deleting more than N."),
        click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="ADDRESS",
            help="Only this address (prefix).",
            shell_complete=_complete("address"),
        ),
        click.option(
            "--exclude",
            "excludes",
            multiple=True,
            metavar="ADDRESS",
            help="Leave this address out.",
            shell_complete=_complete("address"),
        ),
        click.option(
            "--replace",
            "replace",
            multiple=True,
            metavar="ADDRESS",
            help="Replace this resource even if unchanged.",
            shell_complete=_complete("address"),
        ),
        click.option(
            "--server",
            "servers",
            multiple=True,
            metavar="NAME",
            help="Only these servers (repeatable).",
            shell_complete=_complete("server"),
        ),
        click.option(
            "--take-ownership",
            "take_ownership",
            multiple=True,
            metavar="ADDRESS",
            help="Move this declared resource from another ownership scope to this one.",
        ),
        click.option(
            "--no-adopt",
            "no_adopt",
            is_flag=True,
            help="Leave declared resources that exist without a marker unmarked (read-only adoption).",
        ),
        click.option("--no-color", is_flag=True, help="No colour, even on a terminal (NO_COLOR is honoured too)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


class _Group(click.Group):
    """A command group whose usage errors exit 1: exit 2 means "changes" (`plan
    --detailed-exitcode`) or "drift" (`drift`), and a pipeline must never read a mistyped
    option as either."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010 (click declares it a class variable)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            setattr(exc, "exit_code", 1)  # noqa: B010 (click declares it a class variable)
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
        _debug_log()


@main.command()
@desired_options
@click.option("--format", "fmt", type=click.Choice(["human", "json"]), default="human", show_default=True)
@click.option(
    "--strict-secrets",
    is_flag=True,
    help="Treat an unset ${env:...} variable as an error (by default a warning: plan and apply need it).",
)
@click.option("--no-color", is_flag=True, help="No colour, even on a terminal (NO_COLOR is honoured too).")
def validate(
    files: tuple[str, ...],
    var: tuple[str, ...],
    var_file: tuple[str, ...],
    fmt: str,
    strict_secrets: bool,
    no_color: bool,
) -> None:
    """Check desired-state files without contacting any server.

    Reports every problem at once, each with file:line:column and a hint. Exits 0 when valid,
    1 otherwise.

    \b
    Example:
      reconciler validate examples/quickstart.yaml
      reconciler validate examples/multi-env/ --var-file examples/multi-env/vars/prod.yaml
    """
    OUT.no_color = no_color
    from reconciler import desired, views

    _refuse_saved_plan(files, "validate")
    sources = _sources(files, var, var_file)
    state, diagnostics = desired.check(
        list(sources.paths), variables=sources.variables, var_files=list(sources.var_files)
    )
    if not strict_secrets:
        # Validation is about the files; the secrets' values are needed by plan and apply. A
        # pull-request job may well run without them (forks have no access to CI secrets).
        diagnostics = [_unset_env_as_warning(d) for d in diagnostics]
    errors = [d for d in diagnostics if d.severity.value == "error"]
    if fmt == "json":
        OUT.out(views.render_diagnostics_json(diagnostics))
    else:
        if diagnostics:
            OUT.err(views.render_diagnostics(diagnostics, color=_color(no_color, sys.stderr), source=_source_reader()))
        if not errors and state is not None:
            n_files = len(state.files)
            n_resources = len(state.resources)
            OUT.out(
                f"Valid: {n_files} file{'s' if n_files != 1 else ''}, "
                f"{n_resources} resource{'s' if n_resources != 1 else ''}, "
                f"{len(state.servers)} server(s) checked ({', '.join(sources.paths)})"
            )
    sys.exit(1 if errors else 0)


def _unset_env_as_warning(diagnostic: Any) -> Any:
    from dataclasses import replace

    from reconciler.errors import Severity

    if diagnostic.code != "reference.env-missing":
        return diagnostic
    return replace(
        diagnostic,
        severity=Severity.WARNING,
        hint="plan and apply need it set; validate checks the files only (--strict-secrets to fail)",
    )


def _render_plan(plan: Any, fmt: str, color: bool) -> str:
    from reconciler import views

    if fmt == "json":
        return str(views.render_plan_json(plan))
    if fmt == "markdown":
        return str(views.render_plan_markdown(plan))
    return str(views.render_plan_human(plan, color=color))


@main.command()
@desired_options
@plan_options
@click.option("--format", "fmt", type=click.Choice(["human", "json", "markdown"]), default="human", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan (no secrets) for `apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.option(
    "--fail-on",
    "fail_on",
    default="",
    metavar="ACTIONS",
    help="Exit 1 when the plan holds these actions (comma-separated: create/add, update/change, replace, "
    "delete/destroy).",
)
@click.option("--max-changes", type=click.IntRange(0), default=None, help="Exit 1 when the plan has more changes.")
def plan(
    files: tuple[str, ...],
    var: tuple[str, ...],
    var_file: tuple[str, ...],
    fmt: str,
    out_file: str | None,
    detailed_exitcode: bool,
    fail_on: str,
    max_changes: int | None,
    prune: bool,
    max_deletes: int | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    replace: tuple[str, ...],
    servers: tuple[str, ...],
    take_ownership: tuple[str, ...],
    no_adopt: bool,
    no_color: bool,
) -> None:
    """Show what apply would change on the live servers. Writes nothing.

    \b
    Example:
      reconciler plan examples/quickstart.yaml
      reconciler plan config/ --format markdown --out plan.json --detailed-exitcode
    """
    OUT.no_color = no_color
    from reconciler import engine

    _refuse_saved_plan(files, "plan", fmt)
    sources = _sources(files, var, var_file)
    fail_actions = _parse_actions(fail_on)

    async def go() -> Any:
        run = await engine.open_run(sources, servers=servers, read_only=True)
        _notes(run)
        try:
            OUT.learn(engine.secret_values(run.state))
            options = engine.plan_options(
                run,
                prune=prune,
                max_deletes=max_deletes,
                targets=targets,
                excludes=excludes,
                replace=replace,
                take_ownership=take_ownership,
                adopt=not no_adopt,
            )
            return engine.make_plan(run, options), options
        finally:
            await run.aclose()

    result, options = _run(go(), fmt)
    refusal = _plan_refusal(result, fail_actions, max_changes)
    rendered = _render_plan(result, fmt, _color(no_color))
    if refusal is not None and fmt == "markdown":
        # The comment says first that the plan was refused, and which changes it refused.
        from reconciler.views.outcome import render_refusal_markdown

        rendered = render_refusal_markdown(refusal[0], refusal[2], hint=refusal[1]) + "\n\n" + rendered
    OUT.out(rendered)
    # The gates come before the plan file: a refused plan must leave nothing to apply.
    if refusal is not None:
        message, hint, _ = refusal
        if out_file:
            message += f"; no plan was saved to {out_file}"
        _fail(message, hint)
    if out_file:
        try:
            engine.write_text(out_file, OUT.scrub(engine.plan_file_text(result, options, servers, out_file)))
        except ReconcilerError as exc:
            _report_error(exc)
        OUT.err(f"Saved the plan to {out_file}; apply it with: reconciler apply {out_file}")
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


def _plan_refusal(
    plan: Any, fail_actions: set[Any], max_changes: int | None
) -> tuple[str, str | None, list[str]] | None:
    """`(message, hint, addresses)` when a pipeline gate refuses the plan, else None."""
    gate = [c for c in plan.actionable if c.action in fail_actions]
    if gate:
        names = ", ".join(sorted({c.action.value for c in gate}))
        return (
            f"the plan holds {len(gate)} change(s) of a kind --fail-on refuses ({names})",
            "review them; these need a human decision",
            [str(c.address) for c in gate],
        )
    if max_changes is not None and len(plan.actionable) > max_changes:
        return (f"the plan holds {len(plan.actionable)} changes, more than --max-changes {max_changes}", None, [])
    return None


def _parse_actions(text: str) -> set[Any]:
    from reconciler.plan import Action

    # The plan's own words count too: "Plan: 1 to add, 2 to change, 1 to replace, 1 to destroy."
    words = {"add": Action.CREATE, "change": Action.UPDATE, "destroy": Action.DELETE}
    out = set()
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        try:
            out.add(words.get(part) or Action(part))
        except ValueError:
            _fail(
                f"--fail-on: unknown action {part!r}",
                "use create (add), update (change), replace, or delete (destroy)",
            )
    return out


def _looks_like_plan_file(files: tuple[str, ...]) -> bool:
    if len(files) != 1 or not Path(files[0]).is_file():
        return False
    try:
        with open(files[0], "rb") as fh:
            head = fh.read(1_000_000)
    except OSError:
        return False
    # A JSON object carrying the plan format tag (YAML desired states never start with `{`).
    return head.lstrip().startswith(b"{") and b"reconciler-plan" in head


def _refuse_saved_plan(files: tuple[str, ...], command: str, fmt: str = "human") -> None:
    """A saved plan given where desired-state files are expected: say what to run instead of
    reporting each of its keys as an unknown field. With `--format markdown` the refusal is
    on stdout too: a pipeline posts stdout, and an empty comment would keep the previous one."""
    if _looks_like_plan_file(files):
        _report_error(
            ReconcilerError(
                f"{files[0]} is a saved plan, not a desired-state file: `reconciler {command}` reads YAML files",
                hint=f"use `reconciler apply {files[0]}` to apply it",
            ),
            fmt,
            title=f"Reconciler {command}",
        )


@main.command(name="apply")
@desired_options
@plan_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another apply's lock on a server before failing.",
)
@click.option("--format", "fmt", type=click.Choice(["human", "json"]), default="human", show_default=True)
def apply_cmd(
    files: tuple[str, ...],
    var: tuple[str, ...],
    var_file: tuple[str, ...],
    auto_approve: bool,
    lock_timeout: float,
    fmt: str,
    prune: bool,
    max_deletes: int | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    replace: tuple[str, ...],
    servers: tuple[str, ...],
    take_ownership: tuple[str, ...],
    no_adopt: bool,
    no_color: bool,
) -> None:
    """Make the changes a plan shows: creates, updates, replaces and (with --prune) deletes.

    Where the API allows it (Kubiya), each server's apply lock is taken before the live state
    is read, so that a second apply waits (--lock-timeout) or fails naming the holder.

    Given desired-state files, it plans, shows the plan and asks before acting. Given a plan
    file saved by `plan --out`, it plans again from the same files and options and applies
    only if the result is the saved plan; on any difference (a resource changed on the server,
    an edited file, other --var values) it refuses with exit 1, naming what differs. Ctrl-C stops starting new
    changes, waits for the calls in flight and prints what was and was not done.

    \b
    Example:
      reconciler apply examples/quickstart.yaml --auto-approve
      reconciler apply plan.json
    """
    OUT.no_color = no_color
    from reconciler import engine, views

    color = _color(no_color)
    saved: dict[str, Any] | None = None
    saved_opts: dict[str, Any] = {}
    if _looks_like_plan_file(files):
        given = [
            name
            for name, value in (
                ("--var-file", var_file),
                ("--prune", prune),
                ("--max-deletes", max_deletes is not None),
                ("--target", targets),
                ("--exclude", excludes),
                ("--replace", replace),
                ("--server", servers),
                ("--take-ownership", take_ownership),
                ("--no-adopt", no_adopt),
            )
            if value
        ]
        if given:
            _fail(
                f"{', '.join(given)} cannot be combined with a saved plan: it applies exactly what was planned",
                "give these options to `reconciler plan --out FILE` instead",
            )
        try:
            saved = engine.read_plan_file(files[0])
            sources, saved_opts = engine.options_from_file(saved, _parse_vars(var))
        except ReconcilerError as exc:
            _report_error(exc)
        servers = tuple(saved_opts.get("servers") or ())
    else:
        sources = _sources(files, var, var_file)

    async def go() -> Any:
        run = await engine.open_run(sources, servers=servers, lock_timeout=lock_timeout)
        _notes(run)
        try:
            OUT.learn(engine.secret_values(run.state))
            if saved is not None:
                engine.check_variables(saved, run)
                options = engine.saved_plan_options(run, saved_opts, saved)
                fresh = engine.make_plan(run, options)
                engine.check_saved(saved, fresh)
            else:
                options = engine.plan_options(
                    run,
                    prune=prune,
                    max_deletes=max_deletes,
                    targets=targets,
                    excludes=excludes,
                    replace=replace,
                    take_ownership=take_ownership,
                    adopt=not no_adopt,
                )
                fresh = engine.make_plan(run, options)
            if fmt == "human":
                OUT.out(views.render_plan_human(fresh, color=color))
            if not fresh.has_changes:
                return fresh, None
            if saved is None and not auto_approve and not _confirm():
                OUT.err("Apply cancelled.")
                sys.exit(1)
            return fresh, await _execute(run, fresh, color, quiet=fmt != "human")
        finally:
            await run.aclose()

    fresh, result = _run(go(), fmt)
    if result is None:
        if fmt == "json":
            OUT.out(views.render_plan_json(fresh))
        return
    if fmt == "json":
        OUT.out(views.render_apply_json(result))
    else:
        # The outcomes were written as they came; the failures and the summary follow them.
        OUT.out(views.render_apply_human(result, color=color, lines=False))
    sys.exit(0 if result.ok and not result.interrupted else 1)


def _confirm() -> bool:
    if not sys.stdin.isatty():
        _fail(
            "apply needs confirmation, and standard input is not a terminal",
            "review the plan, then run again with --auto-approve (or apply a saved plan file)",
        )
    answer = _ask("Do you want to perform these actions? Only 'yes' will be accepted to approve: ")
    if answer is None:
        OUT.err("")
        return False
    return answer.strip() == "yes"


def _ask(prompt: str) -> str | None:
    """One line from the terminal, or None on Ctrl-C or Ctrl-D.

    input() (and readline) cannot be used: a Ctrl-C that lands after the prompt is shown and
    before the read blocks is only noticed at the next key press, so the first Ctrl-C would
    seem to do nothing. Here the signal also writes to a pipe that the wait watches beside
    the terminal, so it ends the wait whenever it comes."""
    import select

    interrupted: list[int] = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous_fd = signal.set_wakeup_fd(wake_w)
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: interrupted.append(signum))
    try:
        OUT.out(prompt, nl=False)
        sys.stdout.flush()
        while not interrupted:
            ready, _, _ = select.select([sys.stdin, wake_r], [], [])
            if wake_r in ready:
                os.read(wake_r, 512)
                continue  # the handler has run (or another signal came): look again
            line = sys.stdin.readline()
            return line if line else None  # "" is end of input (Ctrl-D)
        return None
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(previous_fd)
        os.close(wake_r)
        os.close(wake_w)


async def _execute(run: Any, plan: Any, color: bool, quiet: bool) -> Any:
    """Runs the apply. The first Ctrl-C stops new work and lets the calls in flight finish; a
    second one stops at once, saying which calls were in flight (they may have completed)."""
    import asyncio

    from rich.console import Console

    from reconciler import engine
    from reconciler.apply import ApplyResult
    from reconciler.plan import NOT_STARTED, Failed, Skipped
    from reconciler.views.progress import ProgressObserver

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    console = Console(file=ScrubbingStream(sys.stderr), no_color=not color, highlight=False)  # type: ignore[arg-type]
    # The record of outcomes belongs on stdout (`apply > apply.log` keeps it); the bar and
    # notes are transient and go to stderr. JSON output carries its own record.
    records = Console(file=ScrubbingStream(sys.stderr if quiet else sys.stdout), no_color=not color, highlight=False)  # type: ignore[arg-type]
    observer = ProgressObserver(console, enabled=not quiet and sys.stderr.isatty(), records=records)
    task = asyncio.ensure_future(engine.execute(run, plan, observer=observer, stop=stop))
    hard = False

    def interrupt() -> None:
        nonlocal hard
        if stop.is_set():
            hard = True
            task.cancel()
            return
        stop.set()
        observer.note(
            "\nInterrupted: no new changes start; waiting for the calls in flight... (Ctrl-C again to stop now)"
        )

    installed = False
    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
        loop.add_signal_handler(signal.SIGTERM, interrupt)
        installed = True
    except (NotImplementedError, RuntimeError):
        pass
    try:
        return await task
    except asyncio.CancelledError:
        if not hard:
            raise
        known: dict[int, Any] = {id(o.change): o for o in observer.outcomes}
        started = set().union(*(p.in_flight for p in run.platforms.values()))
        in_flight = [c for c in plan.actionable if id(c) not in known and c.address in started]
        lost = "stopped while in flight (second interrupt)"
        for c in plan.actionable:
            if id(c) not in known:
                known[id(c)] = Failed(c, lost, unknown=True) if c.address in started else Skipped(c, NOT_STARTED)
                observer.outcome(known[id(c)])
        observer.close()
        OUT.err(
            f"\nTwo interrupts received: stopped immediately, without waiting for the {len(in_flight)} "
            "call(s) in flight. They may have completed on the server (listed below); "
            "`reconciler apply` again reads the live state first and converges."
        )
        outcomes = tuple(known[id(c)] for c in plan.actionable)
        return ApplyResult(outcomes, interrupted=True)
    finally:
        observer.close()
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)


@main.command()
@desired_options
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="NAME",
    help="Only these servers (repeatable).",
    shell_complete=_complete("server"),
)
@click.option("--format", "fmt", type=click.Choice(["human", "json", "markdown"]), default="human", show_default=True)
@click.option("--ignore-unmanaged", is_flag=True, help="Do not count unmanaged resources as drift.")
@click.option("--notify", "notify_url", metavar="URL", help="Post the report to this webhook (Slack-compatible JSON).")
@click.option(
    "--notify-always", is_flag=True, help="Post even when there is no drift, and when the check itself fails."
)
@click.option(
    "--environment",
    metavar="NAME",
    envvar="RECONCILER_ENVIRONMENT",
    help="Name of the environment checked (e.g. production), shown in the webhook message. "
    "Default: $RECONCILER_ENVIRONMENT.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="Also write the JSON report to this file (an error report when the check fails).",
)
@click.option("--no-color", is_flag=True, help="No colour, even on a terminal.")
def drift(
    files: tuple[str, ...],
    var: tuple[str, ...],
    var_file: tuple[str, ...],
    servers: tuple[str, ...],
    fmt: str,
    ignore_unmanaged: bool,
    notify_url: str | None,
    notify_always: bool,
    environment: str | None,
    out_file: str | None,
    no_color: bool,
) -> None:
    """Report what changed on the servers outside git. For cron jobs.

    Lists field-level drift on managed resources, managed resources deleted from the server,
    and unmanaged ones. Exits 0 when clean, 2 on drift, 1 on error. A failed --notify is
    reported on stderr and never hides the drift exit code. When the check itself fails,
    --out gets an error report (never the previous run's result) and --notify-always posts
    the failure.

    \b
    Example:
      reconciler drift config/ --format json --notify https://hooks.slack.com/services/T/B/X
    """
    OUT.no_color = no_color
    from reconciler import drift as drift_mod
    from reconciler import engine
    from reconciler.views import drift as drift_views

    _refuse_saved_plan(files, "drift")
    if notify_url:
        from urllib.parse import urlsplit

        try:
            # A webhook url's path is its token: never printed, whatever echoes it.
            OUT.learn([urlsplit(notify_url).path.rstrip("/")])
        except ValueError:
            pass
    sources = _sources(files, var, var_file)
    described: list[str] = list(servers)

    async def go() -> Any:
        run = await engine.open_run(sources, servers=servers, read_only=True)
        _notes(run)
        try:
            OUT.learn(engine.secret_values(run.state))
            described[:] = [_describe_server(config) for config in engine.select_servers(run.state, servers).values()]
            return engine.make_plan(run, engine.plan_options(run))
        finally:
            await run.aclose()

    try:
        result = _run_raising(go())
    except ReconcilerError as exc:
        _drift_failed(exc, fmt, out_file, notify_url if notify_always else None, environment, described, files)
    report = drift_mod.from_plan(result, include_unmanaged=not ignore_unmanaged)
    if fmt == "json":
        OUT.out(drift_views.render_drift_json(report))
    elif fmt == "markdown":
        OUT.out(drift_views.render_drift_markdown(report))
    else:
        OUT.out(drift_views.render_drift_human(report, color=_color(no_color)))
    if out_file:
        try:
            engine.write_text(out_file, OUT.scrub(drift_views.render_drift_json(report) + "\n"))
        except ReconcilerError as exc:
            _report_error(exc)
    if notify_url and (report.drifted or notify_always):
        payload = drift_views.render_drift_slack(report, environment=environment, servers=described, files=files)
        _notify(notify_url, payload, "Drift report posted to the webhook.")
    sys.exit(2 if report.drifted else 0)


def _describe_server(config: Any) -> str:
    """A server as a message names it: its name and host (never a path, user or query, which
    may hold a credential)."""
    from urllib.parse import urlsplit

    if config.url.startswith("sandbox:"):
        return f"{config.name} (sandbox)"
    try:
        host = urlsplit(config.url).hostname
    except ValueError:
        host = None
    return f"{config.name} ({host})" if host else str(config.name)


def _notify(url: str, payload: Any, done: str) -> None:
    """Posts `payload` to the webhook; every post goes through the scrubber, as every output does."""
    import asyncio

    from reconciler.platforms.notify import post_json

    try:
        asyncio.run(post_json(url, OUT.scrub_data(payload)))
        OUT.err(done)
    except ReconcilerError as exc:
        OUT.err(f"Warning: {_safe(str(exc))}")


def _drift_failed(
    exc: ReconcilerError,
    fmt: str,
    out_file: str | None,
    notify_url: str | None,
    environment: str | None,
    servers: list[str],
    files: tuple[str, ...],
) -> NoReturn:
    """The drift check could not run: the report file says so (a stale report would read as
    this run's), `--notify-always` posts the failure, and the error is reported (exit 1)."""
    from reconciler import engine
    from reconciler.views import outcome

    diagnostics = exc.diagnostics if isinstance(exc, DiagnosticsError) else ()
    summary = str(exc.args[0]) if diagnostics and exc.args else str(exc)
    message = summary
    if diagnostics:
        message += ": " + "; ".join(str(d).split("\n")[0] for d in diagnostics[:5])
    if out_file:
        try:
            text = outcome.render_drift_error_json(summary, hint=exc.hint, diagnostics=diagnostics, servers=servers)
            engine.write_text(out_file, OUT.scrub(text) + "\n")
        except ReconcilerError as write_exc:
            OUT.err(f"Warning: {_safe(str(write_exc))}")
    if notify_url:
        payload = outcome.render_drift_error_slack(
            OUT.scrub(message), environment=environment, servers=servers, files=files
        )
        _notify(notify_url, payload, "Drift check failure posted to the webhook.")
    _report_error(exc, fmt, title="Reconciler drift check")


@main.command()
@desired_options
@click.option("--server", "server", required=True, metavar="NAME", help="The server to export (declared in FILES).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["integration", "provider", "channel"]),
    help="Only these kinds (repeatable; providers come with their models).",
)
@click.option("--agent", "agents", multiple=True, metavar="ID", help="Console agents to export (repeatable).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Write the YAML here instead of stdout.")
@click.option(
    "--with-servers",
    is_flag=True,
    help="Also write `version:` and the server's declaration (credentials as references): a complete file.",
)
def export(
    files: tuple[str, ...],
    var: tuple[str, ...],
    var_file: tuple[str, ...],
    server: str,
    kinds: tuple[str, ...],
    agents: tuple[str, ...],
    out_file: str | None,
    with_servers: bool,
) -> None:
    """Write a server's live state as desired-state YAML, to adopt an existing setup.

    FILES declare the server (a file holding just `servers:` is enough). Secrets the server
    does not return become `${env:...}` references to fill in; fields the server adds are left
    out. Planned together with FILES, the export shows no changes. The console cannot list
    agents: name them with --agent, or declare channels on them in FILES.

    \b
    Example:
      reconciler export servers.yaml --server orkes --out orkes.yaml
      reconciler plan servers.yaml orkes.yaml
    """
    from reconciler import engine
    from reconciler.desired.export import export as export_yaml
    from reconciler.desired.export import references_by_path, references_of
    from reconciler.model import CHANNEL_FAMILIES, Address, Resource, ResourceKind, ServerKind

    _refuse_saved_plan(files, "export")
    sources = _sources(files, var, var_file)

    async def go() -> Any:
        state = engine.load(sources, servers=[server])
        OUT.learn(engine.secret_values(state))
        config = engine.select_servers(state, [server])[server]
        declared = [r for r in state.resources if r.address.server == server]
        wants_channels = not kinds or "channel" in kinds
        if config.kind is ServerKind.CONSOLE and wants_channels and not agents and not declared:
            _fail(
                f"server {server!r} is a console, whose API cannot list agents: nothing to export",
                f"name the agents: reconciler export {' '.join(files)} --server {server} --agent AGENT_ID",
            )
        from reconciler.platforms import connect
        from reconciler.platforms.http import sandbox_read_only

        for note in engine.sandbox_notes([config], read_only=True):
            OUT.err(note)
        token = sandbox_read_only.set(True)
        try:
            platform = connect(config)
        finally:
            sandbox_read_only.reset(token)
        try:
            await platform.warm()
            # Prepared as plan prepares them, so that live resources take their declared
            # identity (a bimpeai channel is named as declared, not as the console names it).
            scope = [platform.prepare(r) for r in declared]
            scope += [
                Resource(Address(ResourceKind.CHANNEL, server, (a, CHANNEL_FAMILIES[0]), "_"), {}) for a in agents
            ]
            return (
                config,
                await platform.read_live(scope),
                references_of(state.resources),
                references_by_path(state.resources),
            )
        finally:
            await platform.aclose()

    config, live, references, by_path = _run(go())
    text, needed = export_yaml(
        config, live, [ResourceKind(k) for k in kinds] or None, references, by_path, with_servers
    )
    if out_file:
        try:
            engine.write_text(out_file, OUT.scrub(text))
        except ReconcilerError as exc:
            _report_error(exc)
        OUT.err(f"Exported {sum(1 for i in live if not i.deleted)} resource(s) to {out_file}")
    else:
        OUT.out(text, nl=False)
    if needed:
        OUT.err("Set these variables before planning: " + ", ".join(needed))


@main.command(name="force-unlock")
@desired_options
@click.option("--server", "server", required=True, metavar="NAME", help="The server whose apply lock to remove.")
def force_unlock(files: tuple[str, ...], var: tuple[str, ...], var_file: tuple[str, ...], server: str) -> None:
    """Remove a server's apply lock, whoever holds it (an apply that died without releasing it).

    A lock also expires by itself 15 minutes after it was taken. Removing the lock of an apply
    that is still running lets another apply run at the same time: check first.

    \b
    Example:
      reconciler force-unlock config/ --server kubiya
    """
    from reconciler import engine
    from reconciler.platforms import connect

    sources = _sources(files, var, var_file)

    async def go() -> tuple[bool, str | None]:
        state = engine.load(sources, servers=[server])
        OUT.learn(engine.secret_values(state))
        platform = connect(engine.select_servers(state, [server])[server])
        try:
            return platform.supports_lock, await platform.break_lock()
        finally:
            await platform.aclose()

    supported, holder = _run(go())
    if not supported:
        OUT.out(f"Server {server!r}: its API offers no lock to remove (nothing done).")
    elif holder is None:
        OUT.out(f"Server {server!r}: no apply lock is held.")
    else:
        OUT.out(f"Server {server!r}: removed the apply lock held by {holder}.")


@main.group(cls=_Group)
def sandbox() -> None:
    """Run the local emulators of the three APIs (Kubiya, Conductor, console).

    \b
    Example:
      reconciler sandbox serve --port 8080 --db .reconciler/sandbox.db
    """


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option(
    "--db",
    "db_path",
    default=".reconciler/sandbox.db",
    show_default=True,
    help="SQLite database file, or :memory:.",
)
@click.option("--seed", "seed_file", type=click.Path(dir_okay=False), help="YAML seed file (tokens, keys, agents).")
@click.option("--latency-ms", type=float, default=0.0, help="Delay added to every API request.")
@click.option("--jitter-ms", type=float, default=0.0, help="Random extra delay, up to this much.")
@click.option("--error-rate", type=float, default=0.0, help="Fraction of requests answered 500/503.")
@click.option("--rate-limit", "rate_limit_rps", type=float, default=0.0, help="Requests per second before 429.")
@click.option("--drop-before-rate", type=float, default=0.0, help="Fraction of writes dropped before commit.")
@click.option("--drop-after-rate", type=float, default=0.0, help="Fraction of writes dropped after commit.")
@click.option("--throttle-every", type=click.IntRange(min=0), default=0, help="Answer every N-th request 429.")
@click.option("--error-every", type=click.IntRange(min=0), default=0, help="Answer every N-th request 500/503.")
@click.option("--drop-after-every", type=click.IntRange(min=0), default=0, help="Drop every N-th write after commit.")
@click.option("--fault-seed", type=int, default=None, help="Seed of the fault randomness, for repeatable runs.")
@click.option(
    "--log-level", default="warning", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def sandbox_serve(
    host: str,
    port: int,
    db_path: str,
    seed_file: str | None,
    log_level: str,
    fault_seed: int | None,
    **rates: float,
) -> None:
    """Serve the sandbox over HTTP.

    Point a server's `url` at it (e.g. `http://127.0.0.1:8080`) to use it like a real host.

    \b
    Example:
      reconciler sandbox serve --port 8080 --latency-ms 25 --error-rate 0.2
    """
    from reconciler.sandbox.faults import Faults
    from reconciler.sandbox.seed import SeedError, default_seed, load_seed
    from reconciler.sandbox.serve import bind, serve

    try:
        seed = load_seed(seed_file) if seed_file else None
        faults = Faults.from_dict({**rates, "seed": fault_seed})
    except (SeedError, ValueError) as exc:
        _fail(str(exc))
    # Bound before anything is announced: a busy port is an error, never "listening" first.
    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        _fail(f"{host}:{port} {reason}", "stop what is listening there, or choose another --port (0: any free one)")
    bound_port = sock.getsockname()[1]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}"
    lines = [f"Sandbox listening on {url} (database {db_path}); Ctrl-C to stop."]
    if seed_file:
        lines.append(f"Credentials: those of {seed_file}.")
    else:
        lines += _builtin_credentials(default_seed())
    try:
        text = "\n".join(lines)
        serve(sock, db_path, seed=seed, faults=faults, log_level=log_level, ready=lambda: click.echo(text, err=True))
    except Exception as exc:  # sqlite3 and OS errors opening the database
        _fail(f"cannot start the sandbox with database {db_path}: {exc}", "give --db a writable file, or :memory:")


def _builtin_credentials(seed: Any) -> list[str]:
    """The sandbox's own, public credentials, as a desired state's `servers:` would use them."""
    kubiya = ", ".join(f"{t} (organization {org})" for t, org in seed.kubiya_tokens.items())
    conductor = ", ".join(
        f"{k.id} / {k.secret} (organization {k.organization})" for k in seed.conductor_keys.values()
    )
    console = ", ".join(
        f"{k.key} (team {k.team}{'' if 'integrations:write' in k.scopes else ', read only'})"
        for k in seed.console_keys.values()
    )
    return [
        "Built-in credentials (--seed FILE replaces them):",
        f"  kubiya     token: {kubiya}",
        f"  conductor  key_id / key_secret: {conductor}",
        f"  console    api_key: {console}; agents: {', '.join(a.id for a in seed.console_agents)}",
    ]


@sandbox.command("reset")
@click.option("--db", "db_path", default=".reconciler/sandbox.db", show_default=True, help="SQLite database file.")
@click.option("--seed", "seed_file", type=click.Path(dir_okay=False), help="YAML seed file (tokens, keys, agents).")
@click.option("--url", default=None, help="Reset a running sandbox through its admin endpoint instead.")
def sandbox_reset(db_path: str, seed_file: str | None, url: str | None) -> None:
    """Wipe every resource in the sandbox and re-create the seeded rows.

    \b
    Example:
      reconciler sandbox reset --db .reconciler/sandbox.db
      reconciler sandbox reset --url http://127.0.0.1:8080
    """
    if url:
        import httpx

        try:
            response = httpx.post(url.rstrip("/") + "/_sandbox/reset", timeout=10)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach the sandbox at {url}: {exc}")
        if response.status_code != 200:
            _fail(f"the sandbox at {url} answered {response.status_code}")
        click.echo(f"sandbox at {url} reset")
        return
    from reconciler.sandbox.app import create_app
    from reconciler.sandbox.seed import SeedError, load_seed

    try:
        seed = load_seed(seed_file) if seed_file else None
    except SeedError as exc:
        _fail(str(exc))
    if db_path != ":memory:" and not Path(db_path).parent.exists():
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    try:
        app: Any = create_app(db_path, seed=seed)
        app.state.sandbox.reset()
        app.state.sandbox.db.close()
    except Exception as exc:  # sqlite3 and OS errors opening the database
        _fail(f"cannot reset the sandbox database {db_path}: {exc}", "give --db a writable SQLite file")
    click.echo(f"sandbox database {db_path} reset")


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Start a desired-state repository in DIRECTORY (default: here).

    Writes integrations/servers.yaml (the three kinds of server on the sandbox, credentials as
    references), integrations/examples.yaml (one resource of each kind), the editor schema
    the files point at, the GitHub Actions workflow, a .gitignore for .reconciler/, and the
    sandbox's built-in credentials in .reconciler/sandbox.env. Never overwrites a file.

    \b
    Example:
      reconciler init my-integrations && cd my-integrations
      set -a; . .reconciler/sandbox.env; set +a
      reconciler validate integrations/ && reconciler plan integrations/
    """
    from reconciler import scaffold

    root = Path(directory)
    files = scaffold.init_files()
    taken = scaffold.existing(root, files)
    if taken:
        _fail(
            f"{', '.join(str(root / p) for p in taken)} already exist(s); init never overwrites",
            "run it in an empty directory, or move these files away",
        )
    try:
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write into {root}: {exc.strerror or exc}", "choose a directory you can write to")
    for path in files:
        OUT.out(f"  created {root / path}")
    prefix = "" if directory == "." else f"cd {directory} && "
    OUT.out(
        "\nNext, against the built-in sandbox:\n"
        f"  {prefix}set -a; . {scaffold.SANDBOX_ENV_FILE}; set +a\n"
        f"  reconciler validate {scaffold.DESIRED_DIR}/\n"
        f"  reconciler plan {scaffold.DESIRED_DIR}/"
    )


@main.command(name="gitlab-note")
@click.argument("markdown", type=click.Path(dir_okay=False))
@click.option(
    "--name",
    default="reconciler-plan",
    show_default=True,
    help="Which note: its hidden marker. Use one name per plan posted on a merge request.",
)
@click.option(
    "--token-env",
    default="RECONCILER_NOTE_TOKEN",
    show_default=True,
    metavar="VAR",
    help="The environment variable holding a GitLab token with the `api` scope.",
)
def gitlab_note(markdown: str, name: str, token_env: str) -> None:
    """Post MARKDOWN (the plan) as the merge request's note, editing it in place on later runs.

    For GitLab CI merge-request pipelines: the merge request comes from CI_API_V4_URL,
    CI_PROJECT_ID and CI_MERGE_REQUEST_IID. The note starts with a hidden marker naming it
    (--name); a run finds the note holding its marker and edits it, so the merge request
    keeps one up-to-date plan note instead of one more note per push.

    \b
    Example:
      reconciler plan integrations/ --format markdown > plan.md
      reconciler gitlab-note plan.md
    """
    from reconciler.platforms import gitlab

    token = os.environ.get(token_env, "")
    OUT.learn([token])
    missing = [v for v in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID") if not os.environ.get(v)]
    if missing:
        _fail(
            f"{', '.join(missing)} not set: this posts to a merge request from a GitLab CI pipeline",
            "run it in a merge-request pipeline (rules: $CI_PIPELINE_SOURCE == \"merge_request_event\")",
        )
    if not token:
        _fail(
            f"{token_env} is not set",
            "give a project access token with the `api` scope (the job token cannot post notes)",
        )
    try:
        text = Path(markdown).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {markdown}: {getattr(exc, 'strerror', None) or exc}", "give the Markdown file plan wrote")
    env = os.environ
    target = gitlab.NoteTarget(env["CI_API_V4_URL"], env["CI_PROJECT_ID"], env["CI_MERGE_REQUEST_IID"])
    try:
        with gitlab.client(target, token) as http:
            done, note_id = gitlab.upsert_note(http, target, OUT.scrub(text), name=name)
    except ReconcilerError as exc:
        _report_error(exc)
    OUT.err(f"{'Updated' if done == 'updated' else 'Posted'} the merge request's plan note ({note_id}).")


@main.command()
def schema() -> None:
    """Print the JSON Schema of desired-state files (for editors and other tools).

    \b
    Example:
      reconciler schema > schemas/desired-state.schema.json
    """
    from reconciler import scaffold

    OUT.out(scaffold.schema_text(), nl=False)


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    Completes commands and options, and the values of --server (server names) and --target,
    --exclude, --replace (resource addresses) from the desired-state files on the command line
    (or integrations/), read offline.

    \b
    Example:
      reconciler completion bash > ~/.local/share/bash-completion/completions/reconciler
      reconciler completion zsh > "${fpath[1]}/_reconciler"
      reconciler completion fish > ~/.config/fish/completions/reconciler.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click knows the three shells of the choice
        _fail(f"no completion for {shell}")
    OUT.out(cls(main, {}, "reconciler", "_RECONCILER_COMPLETE").source())


def run() -> None:
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


if __name__ == "__main__":  # pragma: no cover
    run()
