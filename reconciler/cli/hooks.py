"""The session's hooks as the CLI answers them: notes go to stderr, scrubbed like all output."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reconciler.cli.output import OUT
from reconciler.engine import Hooks, Session
from reconciler.model import ServerConfig


class CliHooks(Hooks):
    """Notes on stderr; once the live state is read, the secrets to scrub are learnt (not
    before: a server's error message must not lose words that happen to be a secret's value
    while the read fails); `on_connected` (drift) learns which servers were read."""

    def __init__(self, on_connected: Callable[[Mapping[str, ServerConfig]], None] | None = None) -> None:
        self._on_connected = on_connected

    def note(self, text: str) -> None:
        OUT.err(text)

    def connected(self, session: Session, servers: Mapping[str, ServerConfig]) -> None:
        OUT.learn(session.secrets)
        if self._on_connected is not None:
            self._on_connected(servers)
