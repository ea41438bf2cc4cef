"""Conductor's authentication: the access key exchanged for a token (`POST /api/token`),
sent as `X-Authorization` and renewed before it expires or when the server refuses it."""

from __future__ import annotations

import asyncio
from typing import Any

from reconciler.errors import PlatformError
from reconciler.platforms.answers import decode
from reconciler.platforms.auth import Auth
from reconciler.platforms.http import HttpClient

# The official SDK renews its token every 45 minutes.
TOKEN_LIFETIME = 45 * 60


class TokenAuth(Auth):
    """`POST /api/token` with a key pair gives a JWT sent as `X-Authorization` (no Bearer).

    Renewed after 45 minutes, and once, with the request retried once, on a 401/403 whose
    `error` is `EXPIRED_TOKEN` or `INVALID_TOKEN`.
    """

    def __init__(self, key_id: str, key_secret: str) -> None:
        self._key_id = key_id
        self._key_secret = key_secret
        self._token: str | None = None
        self._obtained = 0.0
        self._lock = asyncio.Lock()
        self.exchanges = 0

    async def _exchange(self, client: HttpClient) -> None:
        response = await client.request(
            "POST",
            "/api/token",
            json_body={"keyId": self._key_id, "keySecret": self._key_secret},
            authenticated=False,
            # One try: the exchange is part of a try of the request it serves, which retries.
            retry=False,
        )
        body = decode(response, "POST /api/token")
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PlatformError("POST /api/token: the answer holds no token")
        self._token = token
        self._obtained = asyncio.get_running_loop().time()
        self.exchanges += 1

    async def headers(self, client: HttpClient) -> dict[str, str]:
        now = asyncio.get_running_loop().time()
        if self._token is None or now - self._obtained > TOKEN_LIFETIME:
            async with self._lock:
                if self._token is None or asyncio.get_running_loop().time() - self._obtained > TOKEN_LIFETIME:
                    await self._exchange(client)
        assert self._token is not None
        return {"X-Authorization": self._token}

    async def settled(self) -> bool:
        """Whether a token is held, once any exchange under way has ended (none is started)."""
        async with self._lock:
            return self._token is not None

    async def refresh_on(self, client: HttpClient, response: Any) -> bool:
        try:
            code = response.json().get("error")
        except (ValueError, AttributeError):
            return False
        if code not in ("EXPIRED_TOKEN", "INVALID_TOKEN"):
            return False
        stale = self._token
        async with self._lock:
            if self._token == stale:  # nobody renewed it meanwhile
                await self._exchange(client)
        return True
