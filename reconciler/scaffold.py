"""The kit around the desired state: the files `reconciler init` writes into a new repository,
the JSON Schema `reconciler schema` prints, and the names and addresses shell completion offers.

Nothing here prints or talks to a server: `init_files` returns the files to write, and
`completion_names` reads desired-state files offline (unset `${env:...}` variables do not
matter to it).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

DESIRED_DIR = "integrations"
SCHEMA_PATH = "schemas/desired-state.schema.json"
WORKFLOW_PATH = ".github/workflows/integrations.yml"

# The sandbox's built-in credentials: public, and accepted only by the sandbox.
SANDBOX_CREDENTIALS = {
    "KUBIYA_TOKEN": "sandbox-kubiya-token",
    "ORKES_KEY_ID": "sandbox-key-id",
    "ORKES_KEY_SECRET": "sandbox-key-secret",
    "CONSOLE_API_KEY": "sk_sandbox",
}
SANDBOX_ENV_FILE = ".reconciler/sandbox.env"

_MODELINE = f"# yaml-language-server: $schema=../{SCHEMA_PATH}\n"

_SERVERS = (
    _MODELINE
    + """#
# The servers this repository manages. They start on the built-in sandbox (`sandbox:` urls:
# no server needed; state in .reconciler/sandbox.db); point each url at the real host when
# ready. Credentials are always references to environment variables, never literals: for the
# sandbox, `set -a; . .reconciler/sandbox.env; set +a` sets its built-in ones.
servers:
  kubiya:
    kind: kubiya
    url: "sandbox:"                  # later: your Kubiya Agent Control Plane, https://...
    token: ${env:KUBIYA_TOKEN}
  orkes:
    kind: conductor
    url: "sandbox:"                  # later: e.g. https://play.orkes.io
    key_id: ${env:ORKES_KEY_ID}
    key_secret: ${env:ORKES_KEY_SECRET}
  console:
    kind: console
    url: "sandbox:"                  # later: your agents console, https://...
    api_key: ${env:CONSOLE_API_KEY}
"""
)

_EXAMPLES = (
    _MODELINE
    + """#
# One resource of each kind, to edit or replace. `reconciler plan integrations/` shows what
# apply would change; `reconciler validate integrations/` checks the files offline.

integrations:                        # Kubiya custom integrations
  - name: postgres-main
    server: kubiya
    type: postgres
    description: Main database
    config:
      env_vars: {PGHOST: db.internal, PGPORT: "5432"}   # strings only: quote numbers
      secrets: [PG_PASSWORD]         # a secret's name in the Kubiya vault, not its value

providers:                           # Conductor integration providers and their models
  - name: local-llm
    server: orkes
    type: ollama
    description: Models served by a local Ollama
    configuration:
      endpoint: http://localhost:11434
    apis:
      - name: llama3.1
        description: General chat model

channels:                            # console channels of an agent
  - server: console
    agent: agt_demo                  # the sandbox's demo agent
    family: mcp_server
    name: docs-search
    server_url: https://mcp.example.com/mcp
"""
)


def schema_text() -> str:
    """The JSON Schema of desired-state files (draft 2020-12), as shipped in the package."""
    return importlib.resources.files("reconciler").joinpath("schemas/desired-state.schema.json").read_text("utf-8")


def workflow_text() -> str:
    """The GitHub Actions workflow of `examples/ci/` (the package carries a copy)."""
    return importlib.resources.files("reconciler").joinpath("data/ci/github-actions.yml").read_text("utf-8")


def init_files() -> dict[str, str]:
    """The files of a new desired-state repository, by path relative to its root."""
    return {
        f"{DESIRED_DIR}/servers.yaml": _SERVERS,
        f"{DESIRED_DIR}/examples.yaml": _EXAMPLES,
        SCHEMA_PATH: schema_text(),
        WORKFLOW_PATH: workflow_text(),
        ".gitignore": "# reconciler's local state: the sandbox database, saved plans\n.reconciler/\n",
        SANDBOX_ENV_FILE: "".join(f"{k}={v}\n" for k, v in SANDBOX_CREDENTIALS.items()),
    }


def existing(root: Path, files: Mapping[str, str]) -> list[str]:
    """The paths among `files` that already exist under `root` (init never overwrites)."""
    return [path for path in files if (root / path).exists()]


class _AnyEnv(Mapping[str, str]):
    """An environment in which every variable is set: completion needs names, not secrets."""

    def __getitem__(self, key: str) -> str:
        return "completion"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def get(self, key: str, default: object = None) -> str:
        return "completion"


def completion_names(paths: Sequence[str], what: str) -> list[str]:
    """Server names (`what="server"`) or resource addresses (`"address"`) declared in the
    desired-state files `paths` (default: `integrations/` when it exists); empty when they
    cannot be read. Templates are not rendered (they need their variables)."""
    from reconciler import desired

    chosen = [p for p in paths if not p.endswith(".j2")] or ([DESIRED_DIR] if Path(DESIRED_DIR).is_dir() else [])
    if not chosen:
        return []
    try:
        state, _ = desired.check(chosen, environ=_AnyEnv())
    # Completion runs inside the user's shell on every <Tab>: whatever goes wrong reading the
    # files (this tree's bugs included), it offers nothing rather than print a traceback there.
    except Exception:  # noqa: BLE001
        return []
    if state is None:
        return []
    if what == "server":
        return sorted(state.servers)
    return sorted({str(r.address) for r in state.resources})
