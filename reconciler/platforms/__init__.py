"""One adapter per control-plane API, over one shared HTTP layer.

`connect(server)` gives the adapter for a server's kind. Only this package (and the sandbox)
talks HTTP; everything above it sees `LiveResource`s and `Outcome`s. It never reaches the
sandbox itself: for a `sandbox:` server the composition root (`reconciler.live.connect`) passes
in the sandbox's transport and built-in credentials.
"""

from __future__ import annotations

import sys
import types

if "httpx" not in sys.modules:
    # httpx imports its command-line client on import when click and rich are installed (they
    # are: ours), pulling in rich.syntax and pygments: about 100 ms of every cold start. An
    # empty stand-in makes that import fail, which httpx handles by leaving its CLI out.
    sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))

from collections.abc import Mapping
from typing import Protocol

from reconciler.model import ServerConfig, ServerKind
from reconciler.platforms.base import Platform
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.console import ConsolePlatform
from reconciler.platforms.kubiya import KubiyaPlatform
from reconciler.platforms.retry import RetryPolicy
from reconciler.platforms.transports import Transport


class Adapter(Protocol):
    """How an adapter is made (each adapter class is one)."""

    def __call__(
        self,
        server: ServerConfig,
        *,
        transport: Transport | None = ...,
        credentials: Mapping[str, str] | None = ...,
        retry: RetryPolicy | None = ...,
    ) -> Platform: ...


ADAPTERS: dict[ServerKind, Adapter] = {
    ServerKind.KUBIYA: KubiyaPlatform,
    ServerKind.CONDUCTOR: ConductorPlatform,
    ServerKind.CONSOLE: ConsolePlatform,
}


def connect(
    server: ServerConfig,
    *,
    transport: Transport | None = None,
    credentials: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
) -> Platform:
    """The adapter of `server`. `transport`: where its requests go instead of the network;
    `credentials`: values, by field, of the credentials the server does not declare; `retry`:
    the retry policy of its requests (the default one when None)."""
    return ADAPTERS[server.kind](server, transport=transport, credentials=credentials, retry=retry)


__all__ = ["ADAPTERS", "Platform", "connect"]
