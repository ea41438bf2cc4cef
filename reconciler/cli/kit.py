"""Commands around the desired state: `init` (a new repository), `gitlab-note` (post the plan
on a merge request), `schema` (the desired-state JSON Schema) and `completion`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.app import main
from reconciler.cli.output import OUT, fail, report_error
from reconciler.errors import ReconcilerError


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
        fail(
            f"{', '.join(str(root / p) for p in taken)} already exist(s); init never overwrites",
            "run it in an empty directory, or move these files away",
        )
    try:
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write into {root}: {exc.strerror or exc}", "choose a directory you can write to")
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
        fail(
            f"{', '.join(missing)} not set: this posts to a merge request from a GitLab CI pipeline",
            "run it in a merge-request pipeline (rules: $CI_PIPELINE_SOURCE == \"merge_request_event\")",
        )
    if not token:
        fail(
            f"{token_env} is not set",
            "give a project access token with the `api` scope (the job token cannot post notes)",
        )
    try:
        text = Path(markdown).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {markdown}: {getattr(exc, 'strerror', None) or exc}", "give the Markdown file plan wrote")
    env = os.environ
    target = gitlab.NoteTarget(env["CI_API_V4_URL"], env["CI_PROJECT_ID"], env["CI_MERGE_REQUEST_IID"])
    try:
        with gitlab.client(target, token) as http:
            done, note_id = gitlab.upsert_note(http, target, OUT.scrub(text), name=name)
    except ReconcilerError as exc:
        report_error(exc)
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
        fail(f"no completion for {shell}")
    OUT.out(cls(main, {}, "reconciler", "_RECONCILER_COMPLETE").source())
