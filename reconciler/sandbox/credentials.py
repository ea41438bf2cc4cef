"""The sandbox's built-in credentials: public, seeded by default, accepted only by the sandbox.

A `sandbox:` server that declares no credentials uses these: the composition root
(`reconciler.live`) passes them to the adapter, which never names them itself. By the kind of
API (`kubiya`, `conductor`, `console`), then by the credential's field in `servers:`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

KUBIYA_TOKEN = "sandbox-kubiya-token"
CONDUCTOR_KEY_ID = "sandbox-key-id"
CONDUCTOR_KEY_SECRET = "sandbox-key-secret"
CONSOLE_API_KEY = "sk_sandbox"

BUILT_IN: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "kubiya": MappingProxyType({"token": KUBIYA_TOKEN}),
        "conductor": MappingProxyType({"key_id": CONDUCTOR_KEY_ID, "key_secret": CONDUCTOR_KEY_SECRET}),
        "console": MappingProxyType({"api_key": CONSOLE_API_KEY}),
    }
)


def built_in(kind: str) -> Mapping[str, str]:
    """The built-in credentials of an API kind, by field name (empty for an unknown kind)."""
    return BUILT_IN.get(kind, MappingProxyType({}))
