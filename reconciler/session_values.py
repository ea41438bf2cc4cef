"""The values a session's commands take and give back (`engine.Session`).

A command builds one frozen request from its options (`PlanRequest` for `plan`, `apply` and
`drift`; `ExportRequest` for `export`) and gets back one value (`Planned`, `Applied`,
`Exported`, `Unlocked`) for its view to render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

# Named in annotations only: a plan's command starts without the plan file's and apply's modules.
if TYPE_CHECKING:
    from reconciler import planfile
    from reconciler.model import ResourceKind
    from reconciler.outcomes import ApplyResult
    from reconciler.plan import Plan


@dataclass(frozen=True)
class PlanRequest:
    """How to plan (the options of `plan` and `apply`): `servers` limits the run to those
    servers; the rest are `planner.PlanOptions` as a person gives them."""

    servers: tuple[str, ...] = ()
    prune: bool = False
    max_deletes: int | None = None
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    take_ownership: tuple[str, ...] = ()
    adopt: bool = True


@dataclass(frozen=True)
class ExportRequest:
    """What `export` writes: one server's live state, of these kinds (all when empty), these
    console agents, and with `with_servers` the server's declaration too."""

    server: str
    kinds: tuple[ResourceKind, ...] = ()
    agents: tuple[str, ...] = ()
    with_servers: bool = False


@dataclass(frozen=True)
class Planned:
    """A plan and the options it was made with, as a plan file saves them."""

    plan: Plan
    options: planfile.SavedOptions


@dataclass(frozen=True)
class Applied:
    """What `apply` did: the plan it made and `result`, absent when there was nothing to do or
    `review` declined (`declined`)."""

    plan: Plan
    result: ApplyResult | None = None
    declined: bool = False


@dataclass(frozen=True)
class Exported:
    """The YAML text of an export, the variables it references and how many resources it holds."""

    text: str
    needed: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class Unlocked:
    """`force_unlock`: whether the server's API has a lock, and who held it (None: nobody)."""

    supported: bool
    holder: str | None
