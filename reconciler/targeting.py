"""Address patterns as a person gives them (`--target`, `--exclude`, `--replace`,
`--take-ownership`): whether a pattern names an address, whether it is well formed, and the
did-you-mean suggestion for one that names nothing. The planner scopes and checks a plan with
these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.errors import Diagnostic, error
from reconciler.model import Address, ResourceKind, split_address

ADDRESS_HINT = (
    "addresses read kind.server[.scope].name; quote a segment holding dots: "
    'model.orkes.local-llm."llama3.1", channel.console.agt_demo.mcp_server."docs.v2"'
)

# Flags that take one full address, not a prefix.
_FULL_ADDRESS_FLAGS = frozenset({"--replace", "--take-ownership"})


def matches(address: Address, pattern: str) -> bool:
    """Whether `pattern` names this address or one of its ancestors (a prefix of segments).

    A model matches its provider's address too: `provider.orkes.openai` covers
    `model.orkes.openai.gpt-4o`.
    """
    want = split_address(pattern)
    parts = [address.kind.value, address.server, *address.scope, address.name]
    if parts[: len(want)] == want:
        return True
    parent = address.parent
    if parent is not None:
        return matches(parent, pattern)
    return False


def in_scope(address: Address, targets: Sequence[str], excludes: Sequence[str]) -> bool:
    """Whether the address is inside `--target` (when given) and outside every `--exclude`."""
    if targets and not any(matches(address, t) for t in targets):
        return False
    return not any(matches(address, e) for e in excludes)


def suggest(pattern: str, known: Iterable[Address]) -> str:
    """` (did you mean X?)` for the closest known address, or the empty string."""
    import difflib

    texts = sorted({str(a) for a in known})
    # The same segments, quoted where they must be: the usual slip with `llama3.1`.
    unquoted = {t.replace('"', ""): t for t in texts}
    bare = pattern.replace('"', "")
    if bare in unquoted:
        return f" (did you mean {unquoted[bare]}?)"
    close = difflib.get_close_matches(pattern, texts, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def check_addresses(flags: Iterable[tuple[str, Sequence[str]]], known: Iterable[Address] = ()) -> list[Diagnostic]:
    """Malformed addresses given to each flag (`(flag, patterns)` pairs), as diagnostics."""
    known = list(known)
    out = []
    kinds = ", ".join(k.value for k in ResourceKind)
    for flag, patterns in flags:
        for pattern in patterns:
            try:
                parts = split_address(pattern)
                if flag in _FULL_ADDRESS_FLAGS:
                    Address.parse(pattern)
                elif not parts or parts[0] not in {k.value for k in ResourceKind}:
                    raise ValueError(f"an address starts with its kind ({kinds})")
            except ValueError as exc:
                out.append(
                    error(
                        "plan.bad-address",
                        f"{flag} {pattern!r} is not an address: {exc}{suggest(pattern, known)}",
                        hint=ADDRESS_HINT,
                    )
                )
    return out
