"""Frozen values shared by every stage: addresses, resources, lifecycle rules, secret markers.

A resource's `body` is its *managed fields* in one canonical shape, the same shape whether it
was read from a desired-state file or from a live server, so that comparing the two is a plain
comparison. Values that must never be shown are wrapped in `Sensitive`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from reconciler.errors import Location
from reconciler.records import quick_init


class ServerKind(str, Enum):
    """The three control-plane APIs the reconciler speaks."""

    KUBIYA = "kubiya"
    CONDUCTOR = "conductor"
    CONSOLE = "console"


class ResourceKind(str, Enum):
    """What an address names. `model` is an integration API under a Conductor provider."""

    INTEGRATION = "integration"  # Kubiya custom integration
    PROVIDER = "provider"  # Conductor integration provider
    MODEL = "model"  # Conductor integration API (model, index, table) under a provider
    CHANNEL = "channel"  # console channel of an agent


SERVER_KIND_OF: dict[ResourceKind, ServerKind] = {
    ResourceKind.INTEGRATION: ServerKind.KUBIYA,
    ResourceKind.PROVIDER: ServerKind.CONDUCTOR,
    ResourceKind.MODEL: ServerKind.CONDUCTOR,
    ResourceKind.CHANNEL: ServerKind.CONSOLE,
}

CHANNEL_FAMILIES = ("custom_api", "mcp_server", "bimpeai")

# The tag the reconciler puts on everything it creates, where the API has tags. Only resources
# carrying it are ever candidates for deletion.
MANAGED_TAG_KEY = "managed-by"
MANAGED_TAG_VALUE = "reconciler"
# Kubiya tags are plain strings.
MANAGED_TAG = f"{MANAGED_TAG_KEY}:{MANAGED_TAG_VALUE}"
# Where a keyed fingerprint of write-only values is kept, as a tag next to the marker.
FINGERPRINT_TAG_KEY = "reconciler-fingerprint"
# Where the names (never the values) of the configuration keys last declared for a Conductor
# provider are kept, comma-separated: a key declared before and gone now is removed.
KEYS_TAG_KEY = "reconciler-keys"
# Where the apply lock's holder and expiry are kept (tags of the Kubiya lock integration).
LOCK_TAG_PREFIX = "reconciler-lock"

# The ownership scope of a server, written into the marker: the default scope (no `owner:`)
# writes the plain marker, so markers written before scopes existed belong to it; scope X
# writes `reconciler:X`.
DEFAULT_OWNER = ""


def marker_value(owner: str) -> str:
    """The marker's value for an ownership scope (`reconciler` or `reconciler:<owner>`)."""
    return MANAGED_TAG_VALUE if not owner else f"{MANAGED_TAG_VALUE}:{owner}"


def kubiya_marker(owner: str) -> str:
    """The Kubiya string tag marking a resource as owned by this scope."""
    return f"{MANAGED_TAG_KEY}:{marker_value(owner)}"


def owner_of_marker(value: str) -> str | None:
    """The scope a marker value names, or None when the value is no reconciler marker."""
    if value == MANAGED_TAG_VALUE:
        return DEFAULT_OWNER
    head, sep, owner = value.partition(":")
    if sep and head == MANAGED_TAG_VALUE and owner:
        return owner
    return None


def owner_of_kubiya_tag(tag: str) -> str | None:
    """The scope a Kubiya string tag marks, or None when it is no marker."""
    key, sep, value = tag.partition(":")
    if not sep or key != MANAGED_TAG_KEY:
        return None
    return owner_of_marker(value)


def owner_label(owner: str) -> str:
    """How a scope is named to people."""
    return f"scope {owner!r}" if owner else "the default scope"


def _quote(segment: str) -> str:
    # str methods instead of the regex: addresses are built for every resource of a plan.
    if segment and segment.isascii() and segment.replace("-", "").replace("_", "").isalnum():
        return segment
    escaped = segment.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@quick_init
@dataclass(frozen=True, order=True)
class Address:
    """Identifies one resource across runs.

    String form: `<kind>.<server>[.<scope>...].<name>`, a segment in double quotes when it holds
    anything but letters, digits, `-` and `_`. Scope is `(provider,)` for a model and
    `(agent, family)` for a channel; empty otherwise. Examples:
    `integration.prod.postgres-main`, `model.orkes.openai-marketing.gpt-4o`,
    `channel.console.agt_demo.mcp_server."Docs search"`.
    """

    # Slots instead of a __dict__: a plan holds two addresses per resource. `_text`, `_hash` and
    # `_parent` are caches filled on first use (a plan sorts, hashes and prints every address
    # many times; hashing the kind goes through Enum.__hash__, in Python).
    __slots__ = ("_hash", "_parent", "_text", "kind", "name", "scope", "server")

    kind: ResourceKind
    server: str
    scope: tuple[str, ...]
    name: str

    def __str__(self) -> str:
        try:
            return self._text
        except AttributeError:
            parts = [self.kind.value, self.server, *self.scope, self.name]
            text = ".".join(_quote(p) for p in parts)
            object.__setattr__(self, "_text", text)
            return text

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            value = hash((self.kind, self.server, self.scope, self.name))
            object.__setattr__(self, "_hash", value)
            return value

    def __reduce__(self) -> tuple[type[Address], tuple[ResourceKind, str, tuple[str, ...], str]]:
        # Copies and pickles carry the four fields, never the caches (slots of a frozen class
        # cannot be restored by assignment).
        return (Address, (self.kind, self.server, self.scope, self.name))

    # The caches, as mypy sees them (ClassVar keeps them out of the dataclass's fields).
    _parent: ClassVar[Address | None]
    _text: ClassVar[str]
    _hash: ClassVar[int]

    @property
    def parent(self) -> Address | None:
        """The provider a model belongs to; None for every other kind."""
        if self.kind is not ResourceKind.MODEL:
            return None
        try:
            return self._parent
        except AttributeError:
            parent = Address(ResourceKind.PROVIDER, self.server, (), self.scope[0])
            object.__setattr__(self, "_parent", parent)
            return parent

    @classmethod
    def parse(cls, text: str) -> Address:
        """Inverse of `str()`. Raises ValueError with a readable message."""
        parts = split_address(text)
        if not parts:
            raise ValueError(f"empty address {text!r}")
        try:
            kind = ResourceKind(parts[0])
        except ValueError:
            kinds = ", ".join(k.value for k in ResourceKind)
            raise ValueError(f"unknown resource kind {parts[0]!r} in {text!r} (one of {kinds})") from None
        expected = {ResourceKind.MODEL: 4, ResourceKind.CHANNEL: 5}.get(kind, 3)
        if len(parts) != expected:
            raise ValueError(f"address {text!r} has {len(parts)} parts, {kind.value} takes {expected}")
        return cls(kind, parts[1], tuple(parts[2:-1]), parts[-1])


def split_address(text: str) -> list[str]:
    """Split an address (or an address prefix) into its segments, honouring quotes."""
    parts: list[str] = []
    buf: list[str] = []
    i = 0
    quoted = False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ".":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted:
        raise ValueError(f"unterminated quote in address {text!r}")
    parts.append("".join(buf))
    return [p for p in parts] if text else []


# The leaf types of a parsed JSON or YAML value, exactly (not their subclasses): the hot
# comparisons and walks over bodies test these before anything slower.
PLAIN_TYPES = frozenset({str, int, bool, float, type(None)})


class Sensitive:
    """A secret value. It prints as `(sensitive)` everywhere; only `.reveal()` gives the value.

    Equality compares the values, so that two loads of the same secret are equal, and hashing
    uses a digest, so that a Sensitive can sit in sets without exposing itself.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        # Where the value came from, e.g. `env:OPENAI_KEY`; safe to show.
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Sensitive('(sensitive)')"

    def __str__(self) -> str:
        return "(sensitive)"

    def __format__(self, spec: str) -> str:
        return "(sensitive)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sensitive):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __reduce__(self) -> Any:
        # Pickling would carry the value to places it must not go (plan files, caches).
        raise TypeError("a Sensitive value cannot be serialized")


SENSITIVE_MASK = "(sensitive)"

def reveal(value: Any) -> Any:
    """A value with its secrets revealed: for comparing, and for the request that writes them."""
    if isinstance(value, Sensitive):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal(v) for v in value]
    return value


# C0 and C1 control characters, DEL, and the Unicode bidirectional embeddings, overrides and
# isolates ("Trojan Source"). Newlines are included: callers that keep lines split them first.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_unsafe(text: str) -> str:
    """`text` with every control or bidi character written as a visible escape: the one
    escaping of untrusted text every view uses (`views._format.clean`)."""
    return _UNSAFE.sub(_escape_char, text)


def fingerprint(key: bytes, values: Mapping[str, Any]) -> str:
    """A keyed digest of write-only values, to detect a change without holding the values.

    Stable for the same values and key; without the key it reveals nothing usable to guess a
    secret. Keys are sorted so that order does not matter.
    """
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for name in sorted(values):
        value = values[name]
        raw = value.reveal() if isinstance(value, Sensitive) else str(value)
        mac.update(name.encode())
        mac.update(b"\0")
        mac.update(raw.encode())
        mac.update(b"\0")
    return mac.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Per-resource rules from the desired state.

    `prevent_destroy`: the plan fails rather than delete or replace it.
    `ignore_changes`: field paths (dotted, e.g. `config.env_vars.LOG_LEVEL`) left out of the diff.
    `replace_on_type_change`: a change of type is planned as delete-then-create instead of an error.
    """

    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_type_change: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class Resource:
    """A resource as the desired state declares it.

    `body` holds the managed fields in canonical shape (see each platform's docstring), with
    secret values as `Sensitive`. `write_only` names the body fields whose live value cannot
    be read back (compared through a fingerprint instead). `location` is where it was declared.
    """

    address: Address
    body: Mapping[str, Any]
    location: Location | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    write_only: tuple[str, ...] = ()
    # Keyed digest of the write-only values, set by the platform adapter when the server can
    # store one next to the resource; None when it cannot (the values are then not compared).
    fingerprint: str | None = None
    # Records (dotted paths) where the server may add keys of its own: live keys the desired
    # state does not name are left alone there. Everywhere else a live key the desired state
    # lacks is a difference (the write replaces the record whole and would remove it).
    open_paths: tuple[str, ...] = ()
    # Where the address's scope is written (a channel's `agent:` value), for error messages.
    scope_location: Location | None = None
    # False on an update of a live resource that carries no ownership marker and is not being
    # adopted (`--no-adopt`): the write keeps the server's marker state, so that the resource
    # stays unmanaged (no marker, no fingerprint or key record that only an owner writes).
    mark: bool = True

    @property
    def type(self) -> str | None:
        """The resource's immutable type (integration type, provider type, channel family)."""
        value = self.body.get("type")
        return value if isinstance(value, str) else None


@quick_init
@dataclass(frozen=True, slots=True)
class LiveResource:
    """A resource as a server holds it, normalized into the desired shape.

    `id`: the server's key for it (Kubiya UUID, console channel id; the name for Conductor).
    `managed`: it carries the reconciler's marker. `deleted`: a Kubiya soft-deleted row, which
    still holds its name. `fingerprint`: the stored keyed digest of write-only values, if any.
    `version`: an opaque token that changes whenever the server's copy changes, used to detect
    that someone else wrote it since the plan was made. `owner`: the ownership scope its marker
    names (meaningful only when `managed`; `DEFAULT_OWNER` for the plain marker).
    `applied_keys`: the configuration key names declared at the last apply (Conductor
    providers), None when the server holds no such record.
    """

    address: Address
    id: str
    body: Mapping[str, Any]
    managed: bool = False
    deleted: bool = False
    fingerprint: str | None = None
    version: str = ""
    owner: str = DEFAULT_OWNER
    applied_keys: tuple[str, ...] | None = None

    @property
    def type(self) -> str | None:
        value = self.body.get("type")
        return value if isinstance(value, str) else None

    def with_body(self, body: Mapping[str, Any], address: Address | None = None) -> LiveResource:
        """The same resource holding `body` (and `address`, an equal one held elsewhere).
        Every field named, positionally: twice as fast as dataclasses.replace, and made once
        per live resource of a plan (not at all when nothing would change)."""
        if body is self.body and (address is None or address is self.address):
            return self
        return LiveResource(
            self.address if address is None else address,
            self.id,
            body,
            self.managed,
            self.deleted,
            self.fingerprint,
            self.version,
            self.owner,
            self.applied_keys,
        )


@dataclass(frozen=True)
class ServerConfig:
    """A named connection from the `servers:` section.

    `url` is an `http(s)://` base address or `sandbox:[PATH]` for the in-process sandbox.
    `credentials` holds resolved secret references by field (`token` for Kubiya; `key_id` and
    `key_secret` for Conductor; `api_key` for the console); empty means the sandbox's built-in
    credentials (only allowed with a `sandbox:` url). `parallelism`: at most this many requests
    in flight. `rate_limit`: requests per second, 0 for none. `timeout`: seconds one request may
    take in all (connect, send, the whole answer). `deadline`: seconds everything one command
    does with this server may take, retries included. `max_response_mb`: largest answer read.
    `url_location`: where the `url:` value is written, `credential_locations` where each
    credential is (both for error messages).
    `prune`: delete managed resources missing from the desired state. `batch_size`: providers
    per Conductor bulk save. `fingerprint_key`: key of the fingerprints of write-only values
    (defaults to one derived from the credentials). `owner`: the ownership scope written into
    the marker of everything this desired state writes there (`DEFAULT_OWNER` when unset).
    `channel_limit`: console only, the channels an agent may hold under the team's plan, as the
    user declares it (the API does not publish it); None when unknown.
    """

    name: str
    kind: ServerKind
    url: str
    credentials: Mapping[str, Sensitive] = field(default_factory=dict)
    parallelism: int = 16
    rate_limit: float = 0.0
    timeout: float = 30.0
    prune: bool = False
    batch_size: int = 50
    fingerprint_key: Sensitive | None = None
    location: Location | None = None
    deadline: float = 600.0
    max_response_mb: float = 512.0
    url_location: Location | None = None
    owner: str = DEFAULT_OWNER
    channel_limit: int | None = None
    credential_locations: Mapping[str, Location] = field(default_factory=dict)

    @property
    def is_sandbox(self) -> bool:
        return self.url.startswith("sandbox:")
