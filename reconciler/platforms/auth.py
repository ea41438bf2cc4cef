"""How a request carries its credentials: `Auth` (none), `BearerAuth` (the Kubiya token, the
console's API key); Conductor's token exchange is in `conductor_auth`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from reconciler.platforms.http import HttpClient


class Auth:
    """Adds credentials to a request; may refresh them once when the server refuses them."""

    async def headers(self, client: HttpClient) -> dict[str, str]:
        return {}

    async def refresh_on(self, client: HttpClient, response: httpx.Response) -> bool:
        """Called on 401/403; returns True when credentials were renewed and a retry may work."""
        return False


class BearerAuth(Auth):
    """`Authorization: Bearer <token>`: the Kubiya token, the console's API key."""

    def __init__(self, token: str) -> None:
        self._header = {"Authorization": f"Bearer {token}"}

    async def headers(self, client: HttpClient) -> dict[str, str]:
        return self._header
