"""Console (BimpeAI) channels, family by family: the fields each takes, those it reads back,
its defaults and secret fields.

Canonical body: the family's fields as written, with the API's defaults filled in. Only
`read_back` fields come back on read; the others (`auth_config`, `description`,
`test_endpoint`, bimpeai keys) are write-only, and the console has nowhere to keep a
fingerprint of them. The console has no update: any change re-creates the channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds.spec import KindSpec
from reconciler.model import CHANNEL_FAMILIES, ResourceKind

# The keys of `auth_config` that hold secrets, and the bimpeai fields that do.
AUTH_CONFIG_SECRETS = ("token", "api_key", "password")
BIMPEAI_SECRETS = ("token", "secret_key")
# The write-only credential the console requires to create a bimpeai channel of each type.
BIMPEAI_REQUIRED_SECRET: Mapping[str, str] = {"bumpa": "token", "paystack": "secret_key", "stripe": "secret_key"}
# The credentials in `auth_config` each `auth_type` cannot work without (checked by validate).
AUTH_NEEDS: Mapping[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "basic": ("username", "password"),
    "api_key": ("api_key",),
}
# The secret each `auth_type` keeps in `auth_config`: export writes it as a reference to fill
# in, since it is write-only and never read back.
AUTH_KEYS: Mapping[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "api_key": ("api_key",),
    "basic": ("password",),
    "custom": ("token",),
}


def _channel(
    family: str,
    fields: tuple[str, ...],
    read_back: tuple[str, ...],
    defaults: Mapping[str, Any],
    secrets: tuple[str, ...],
) -> KindSpec:
    def canonical(body: Mapping[str, Any]) -> dict[str, Any]:
        return {**defaults, **body}

    canonical.__doc__ = f"A {family} channel's body as the adapter's read produces it: defaults filled in."
    return KindSpec(
        kind=ResourceKind.CHANNEL,
        family=family,
        fields=fields,
        canonical=canonical,
        ignorable=fields,
        defaults=defaults,
        read_back=read_back,
        secret_fields=secrets,
        updatable=False,
    )


_AUTH_SECRETS = tuple(f"auth_config.{k}" for k in AUTH_CONFIG_SECRETS)

CHANNELS: Mapping[str, KindSpec] = {
    "custom_api": _channel(
        "custom_api",
        ("base_url", "auth_type", "description", "auth_config", "test_endpoint"),
        ("base_url", "auth_type"),
        {"auth_type": "none"},
        _AUTH_SECRETS,
    ),
    "mcp_server": _channel(
        "mcp_server",
        ("server_url", "transport", "auth_type", "auth_config"),
        ("server_url", "transport", "auth_type"),
        {"transport": "streamable_http", "auth_type": "none"},
        _AUTH_SECRETS,
    ),
    "bimpeai": _channel(
        "bimpeai",
        ("type", "token", "public_key", "secret_key", "currency"),
        ("type",),
        {},
        BIMPEAI_SECRETS,
    ),
}

assert set(CHANNELS) == set(CHANNEL_FAMILIES)
