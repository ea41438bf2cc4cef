"""The saved plan (`plan --out FILE`, `apply FILE`): one encoder, one reader, one schema.

A plan file is the plan's JSON document (`schemas/plan.schema.json`, what `--format json`
prints) plus the options it was made with; `schemas/plan-file.schema.json` says so by
including the plan schema and requiring `options`. `read` checks a file against that schema
with jsonschema before anything of it is used, and gives back a `SavedPlan` (the plan through
`Plan.from_dict`). The file holds no secret: `--var` values are keyed digests
(`variable_digests`), compared again by `check_variables`; `check_fresh` refuses a saved plan
that a fresh plan no longer matches.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.resources
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.desired.schema import path_text
from reconciler.errors import ConfigError, StalePlanError
from reconciler.plan import Change, Plan
from reconciler.planner import PlanOptions
from reconciler.views.jsonview import PLAN_FORMAT, plan_document, render_document

PLAN_FILE_FORMAT = PLAN_FORMAT
PLAN_SCHEMA_RESOURCE = "schemas/plan.schema.json"
PLAN_FILE_SCHEMA_RESOURCE = "schemas/plan-file.schema.json"
_HINT = "write one with `reconciler plan --out FILE`"


@dataclass(frozen=True)
class SavedOptions:
    """The planning options a saved plan was made with: `apply FILE` plans again with them."""

    servers: tuple[str, ...] = ()
    prune_servers: frozenset[str] = frozenset()
    max_deletes: int | None = None
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    take_ownership: tuple[str, ...] = ()
    adopt: bool = True

    @classmethod
    def of(cls, options: PlanOptions, servers: Sequence[str]) -> SavedOptions:
        return cls(
            servers=tuple(servers),
            prune_servers=options.prune_servers,
            max_deletes=options.max_deletes,
            targets=options.targets,
            excludes=options.excludes,
            replace=options.replace,
            take_ownership=options.take_ownership,
            adopt=options.adopt,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "servers": list(self.servers),
            "prune_servers": sorted(self.prune_servers),
            "max_deletes": self.max_deletes,
            "targets": list(self.targets),
            "excludes": list(self.excludes),
            "replace": list(self.replace),
            "take_ownership": list(self.take_ownership),
            "adopt": self.adopt,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SavedOptions:
        return cls(
            servers=tuple(data.get("servers") or ()),
            prune_servers=frozenset(data.get("prune_servers") or ()),
            max_deletes=data.get("max_deletes"),
            targets=tuple(data.get("targets") or ()),
            excludes=tuple(data.get("excludes") or ()),
            replace=tuple(data.get("replace") or ()),
            take_ownership=tuple(data.get("take_ownership") or ()),
            adopt=data.get("adopt") is not False,
        )


@dataclass(frozen=True)
class SavedPlan:
    """A plan file as read: its plan, where its desired state is (absolute paths), the digests
    of the `--var` values it was made with, and its options."""

    plan: Plan
    paths: tuple[str, ...]
    options: SavedOptions
    var_files: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    variables_salt: str = ""


# -- writing ---------------------------------------------------------------------------------


def encode(plan: Plan, options: SavedOptions, location: str | Path) -> dict[str, Any]:
    """The plan file's document: the plan's JSON document with `options`, and every source path
    relative to the plan file's directory, so that `apply` finds them wherever it runs."""
    doc = plan_document(plan)
    base = Path(location).resolve().parent
    sources = dict(doc["sources"])
    sources["paths"] = [_relative(p, base) for p in sources.get("paths", ())]
    sources["var_files"] = [_relative(p, base) for p in sources.get("var_files", ())]
    doc["sources"] = sources
    doc["options"] = options.to_dict()
    return doc


def text(plan: Plan, options: SavedOptions, location: str | Path) -> str:
    """The plan file's text (the JSON document and a final newline)."""
    return render_document(encode(plan, options, location)) + "\n"


def _relative(path: str, base: Path) -> str:
    return os.path.relpath(Path(path).resolve(), base)


# -- reading ---------------------------------------------------------------------------------


def read(path: str | Path) -> SavedPlan:
    """The saved plan at `path`, checked against `schemas/plan-file.schema.json`, with its
    source paths resolved against the plan file's directory; a ConfigError otherwise."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the plan file ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not a plan file (invalid JSON)", hint=_HINT) from exc
    if not isinstance(data, dict) or data.get("format") != PLAN_FILE_FORMAT:
        raise ConfigError(f"{p}: not a reconciler plan file", hint=_HINT)
    found = problems(data)
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise ConfigError(
            f"{p}: the plan file does not match schemas/plan.schema.json: {shown}",
            hint="make the plan again with `reconciler plan --out FILE`; do not edit plan files",
        )
    base = p.resolve().parent
    sources = data["sources"]
    saved = SavedPlan(
        plan=Plan.from_dict(data),
        paths=tuple(str(base / x) for x in sources.get("paths", [])),
        options=SavedOptions.from_dict(data["options"]),
        var_files=tuple(str(base / x) for x in sources.get("var_files", [])),
        variables=dict(sources.get("variables") or {}),
        variables_salt=str(sources.get("variables_salt") or ""),
    )
    if not saved.paths:
        raise ConfigError("the plan file names no desired-state files")
    return saved


def _schema(resource: str) -> Any:
    return json.loads(importlib.resources.files("reconciler").joinpath(resource).read_text("utf-8"))


@functools.cache
def _validator() -> Any:
    # jsonschema is imported when a plan file is read, not by every command.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
    from referencing import Registry, Resource

    plan_schema = Resource.from_contents(_schema(PLAN_SCHEMA_RESOURCE))
    registry: Registry[Any] = Registry().with_resource("plan.schema.json", plan_schema)
    return Draft202012Validator(_schema(PLAN_FILE_SCHEMA_RESOURCE), registry=registry)


def problems(document: Any) -> list[str]:
    """What keeps a saved plan from matching `schemas/plan-file.schema.json`, each naming the
    field (`changes[3].action`) and the rule it breaks; empty when it matches. Values are never
    echoed: a hand-edited plan file may hold anything. A missing `options` (a plan printed by
    `--format json`) is named only when the plan itself matches."""
    found = []
    without_options = False
    for err in sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        where = path_text(err.absolute_path) or "the document"
        if err.validator == "required" and len(err.schema_path) == 1:
            # The plan-file schema's own `required`: only `options`.
            without_options = True
        elif err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            found.append(f"{where}: unknown field(s) {', '.join(map(repr, extra))}")
        elif err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            found.append(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
        else:
            found.append(f"{where}: does not satisfy `{err.validator}` of the plan schema")
    if without_options and not found:
        found = ["the document: missing field(s) 'options' (a plan printed by --format json, not saved by --out)"]
    return found


# -- checking against a fresh plan -----------------------------------------------------------


def variable_digests(variables: Mapping[str, str], key: bytes, salt: str) -> dict[str, str]:
    """`{name: keyed digest of its value}` (HMAC-SHA256 under `key` and the plan's `salt`)."""
    out = {}
    for name in sorted(variables):
        mac = hmac.new(key + salt.encode(), digestmod=hashlib.sha256)
        mac.update(name.encode() + b"\0" + variables[name].encode())
        out[name] = mac.hexdigest()[:32]
    return out


def check_variables(saved: SavedPlan, given: Mapping[str, str]) -> None:
    """Refuse `--var` values other than the ones the plan was made with, compared by keyed
    digest (`given`: `variable_digests` of apply's values under the plan's salt)."""
    want = saved.variables
    missing = sorted(want.keys() - given.keys())
    extra = sorted(given.keys() - want.keys())
    differ = sorted(k for k in want.keys() & given.keys() if not hmac.compare_digest(want[k], given[k]))
    found = []
    if missing:
        found.append(f"missing {', '.join(missing)}")
    if differ:
        found.append(f"other values for {', '.join(differ)}")
    if extra:
        found.append(f"not in the plan: {', '.join(extra)}")
    if found:
        raise ConfigError(
            "the --var values differ from those the plan was made with (" + "; ".join(found) + ")",
            hint="give apply the same --var values as plan (the plan file keeps only their digests)",
        )


def stale_addresses(saved: Plan, fresh: Plan) -> list[str]:
    """Addresses where the fresh plan differs from the saved one: any other action, other
    fields, another digest of what will be written, or a live copy with another version."""

    def key(change: Change) -> tuple[Any, ...]:
        return (change.action, change.digest, change.live_version, change.fields)

    saved_changes = {str(c.address): key(c) for c in saved.actionable}
    fresh_changes = {str(c.address): key(c) for c in fresh.actionable}
    differing = {a for a in saved_changes.keys() | fresh_changes.keys() if saved_changes.get(a) != fresh_changes.get(a)}
    return sorted(differing)


def check_fresh(saved: Plan, fresh: Plan) -> None:
    """Refuse to apply a saved plan that a fresh plan no longer matches (StalePlanError)."""
    stale = stale_addresses(saved, fresh)
    if stale:
        raise StalePlanError(stale)
