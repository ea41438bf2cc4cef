"""Where a client's requests go: the TLS contexts, the transport of a url, and what keeps
httpcore's per-request work small. The in-process sandbox's transport is passed in by the
composition root; nothing here knows the sandbox."""

from __future__ import annotations

import functools
import importlib.util
import ssl
import sys

import httpcore
import httpx

from reconciler.platforms.netstream import AsyncioBackend

# The host of a `sandbox:` server's requests: its url names none, and they go to the transport
# passed in (the composition root passes the in-process sandbox's), never to the network.
IN_PROCESS_BASE_URL = "http://sandbox.invalid"

# Where a client's requests go instead of the network (adapters take one without naming httpx).
Transport = httpx.AsyncBaseTransport


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for the process: loading the CA bundle costs ~20 ms per client."""
    return ssl.create_default_context()


@functools.cache
def no_tls_context() -> ssl.SSLContext:
    """A client TLS context with no trusted certificate: every TLS handshake fails."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@functools.cache
def sniffio_absent_once() -> None:
    """Records sniffio as absent when it is not installed, so that importing it fails at once.

    httpcore asks sniffio which async library is running for every lock, event and shielded
    section it sets up (about three per request), importing it inside the call each time.
    anyio no longer needs sniffio, so it is often not installed, and each of those imports then
    searches the whole of sys.path before failing (~60 us): a quarter of an apply's CPU. A None
    entry in sys.modules is Python's own "known absent" mark: the import fails at once, and
    httpcore takes asyncio, exactly as after the search. Done by the first client, so that
    commands that send no request do not pay for the one search."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class ViaClient(httpx.AsyncBaseTransport):
    """A client's whole send as a transport: the answer left unread, as a transport's is."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.client.send(request, stream=True)


def transport_of(client: httpx.AsyncClient) -> httpx.AsyncBaseTransport:
    """The transport the client itself would use for its base url (a proxy from the
    environment included). httpx names no public way to ask: where its private one is missing,
    the client's own send is the transport."""
    pick = getattr(client, "_transport_for_url", None)
    if pick is None:
        return ViaClient(client)
    transport: httpx.AsyncBaseTransport = pick(client.base_url)
    return transport


def is_direct(client: httpx.AsyncClient, transport: httpx.AsyncBaseTransport) -> bool:
    """Whether `transport` is the client's own, the one for servers reached without a proxy.
    httpx names no public way to ask: where its private attribute is missing, the answer is
    no, and the transport httpx picked is kept."""
    return transport is getattr(client, "_transport", None)


def on_asyncio_sockets(transport: httpx.AsyncBaseTransport) -> bool:
    """Makes the connections of httpx's own transport (a proxy's included) with
    `AsyncioBackend` instead of httpcore's anyio default; True when it did. httpx names no
    public way to choose the backend of the pool it builds: where its private one is missing,
    the transport is left as it is (slower, and the same in what it does)."""
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        return False
    pool._network_backend = AsyncioBackend()
    return True
