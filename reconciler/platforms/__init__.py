"""One adapter per control-plane API, over one shared HTTP layer.

`connect(server)` gives the adapter for a server's kind. Only this package (and the sandbox)
talks HTTP; everything above it sees `LiveResource`s and `Outcome`s.
"""

from __future__ import annotations

import sys
import types

if "httpx" not in sys.modules:
    # httpx imports its command-line client on import when click and rich are installed (they
    # are: ours), pulling in rich.syntax and pygments: about 100 ms of every cold start. An
    # empty stand-in makes that import fail, which httpx handles by leaving its CLI out.
    sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))

from reconciler.model import ServerConfig, ServerKind
from reconciler.platforms.base import Platform
from reconciler.platforms.conductor import ConductorPlatform
from reconciler.platforms.console import ConsolePlatform
from reconciler.platforms.kubiya import KubiyaPlatform

ADAPTERS: dict[ServerKind, type[Platform]] = {
    ServerKind.KUBIYA: KubiyaPlatform,
    ServerKind.CONDUCTOR: ConductorPlatform,
    ServerKind.CONSOLE: ConsolePlatform,
}


def connect(server: ServerConfig) -> Platform:
    return ADAPTERS[server.kind](server)


__all__ = ["ADAPTERS", "Platform", "connect"]
