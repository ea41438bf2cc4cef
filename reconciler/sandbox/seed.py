"""Seed data of the sandbox: who may call it (tokens, key pairs, API keys) and which agents exist.

The built-in default lets the quickstart run with no set-up; `--seed FILE` replaces it with a
YAML file of the same shape (see `DEFAULT_SEED_YAML`). Seed data is configuration, not state:
`reset` wipes the stored resources and re-creates the seeded rows (agents) from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.sandbox.credentials import CONDUCTOR_KEY_ID, CONDUCTOR_KEY_SECRET, CONSOLE_API_KEY, KUBIYA_TOKEN

# The first key of each API is the built-in one (`credentials`): what a `sandbox:` server
# declaring no credentials uses.
DEFAULT_SEED_YAML = f"""\
kubiya:
  # bearer token -> organization
  tokens:
    {KUBIYA_TOKEN}: sandbox
    sandbox-kubiya-token-2: sandbox-2
conductor:
  # key pairs exchanged at POST /api/token for a JWT; each belongs to an organization
  keys:
    - {{id: {CONDUCTOR_KEY_ID}, secret: {CONDUCTOR_KEY_SECRET}, organization: sandbox}}
    - {{id: sandbox-key-id-2, secret: sandbox-key-secret-2, organization: sandbox-2}}
  token_ttl_seconds: 2700
console:
  api_keys:
    - {{key: {CONSOLE_API_KEY}, team: sandbox, scopes: ["integrations:read", "integrations:write", "agents:read"]}}
    - {{key: sk_sandbox_readonly, team: sandbox, scopes: ["integrations:read"]}}
    - {{key: sk_sandbox_2, team: sandbox-2, scopes: ["integrations:read", "integrations:write", "agents:read"]}}
  agents:
    - {{id: agt_demo, name: Demo agent, team: sandbox, workflow: true, channel_limit: 25}}
    - {{id: agt_noflow, name: Agent without a workflow, team: sandbox, workflow: false, channel_limit: 25}}
    - {{id: agt_other, name: Other team's agent, team: sandbox-2, workflow: true, channel_limit: 25}}
  idempotency_window_seconds: 86400
"""


@dataclass(frozen=True)
class ConductorKey:
    id: str
    secret: str
    organization: str


@dataclass(frozen=True)
class ConsoleKey:
    key: str
    team: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ConsoleAgent:
    id: str
    team: str
    workflow: bool
    channel_limit: int
    # Shown by the agents list (`GET /api/v1/console/agents`); the id when the seed names none.
    name: str = ""


@dataclass
class Seed:
    kubiya_tokens: dict[str, str] = field(default_factory=dict)
    conductor_keys: dict[str, ConductorKey] = field(default_factory=dict)
    conductor_token_ttl: float = 2700.0
    console_keys: dict[str, ConsoleKey] = field(default_factory=dict)
    console_agents: list[ConsoleAgent] = field(default_factory=list)
    idempotency_window: float = 86400.0


class SeedError(ValueError):
    """The seed file is not of the expected shape."""


def parse_seed(data: Any, source: str = "<seed>") -> Seed:
    if not isinstance(data, dict):
        raise SeedError(f"{source}: the seed must be a mapping with kubiya, conductor, console")
    try:
        kub = data.get("kubiya") or {}
        con = data.get("conductor") or {}
        cons = data.get("console") or {}
        return Seed(
            kubiya_tokens={str(k): str(v) for k, v in (kub.get("tokens") or {}).items()},
            conductor_keys={
                str(k["id"]): ConductorKey(
                    str(k["id"]), str(k["secret"]), str(k.get("organization", "sandbox"))
                )
                for k in con.get("keys") or []
            },
            conductor_token_ttl=float(con.get("token_ttl_seconds", 2700)),
            console_keys={
                str(k["key"]): ConsoleKey(
                    str(k["key"]), str(k.get("team", "sandbox")), frozenset(k.get("scopes") or [])
                )
                for k in cons.get("api_keys") or []
            },
            console_agents=[
                ConsoleAgent(
                    str(a["id"]),
                    str(a.get("team", "sandbox")),
                    bool(a.get("workflow", True)),
                    int(a.get("channel_limit", 25)),
                    str(a.get("name") or a["id"]),
                )
                for a in cons.get("agents") or []
            ],
            idempotency_window=float(cons.get("idempotency_window_seconds", 86400)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SeedError(f"{source}: malformed seed data ({exc})") from exc


def default_seed() -> Seed:
    return parse_seed(yaml.safe_load(DEFAULT_SEED_YAML), "<built-in seed>")


def load_seed(path: str | Path) -> Seed:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise SeedError(f"{p}: cannot read the seed file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise SeedError(f"{p}: not valid YAML ({exc})") from exc
    return parse_seed(data, str(p))
