"""Access tokens of the Conductor emulator: HS256 JWTs minted at `POST /api/token`.

A token is a real three-part JWT (`header.claims.signature`, base64url without padding,
HMAC-SHA256), built with the standard library. Claims: `sub` (the key id), `org` (the key's
organization, which scopes every row the caller sees), `iat` and `exp` (seconds since the
epoch, from the sandbox clock; `exp = clock() + seed.conductor_token_ttl`).

The signing key is derived from the seed's key pairs, so a token stays valid across restarts
of a sandbox with the same seed (as a CLI run against a file database expects), and a token
whose key pair was removed from the seed, or moved to another organization, is rejected.

Failures are `AuthError` with the vendor's codes: `INVALID_TOKEN` (missing, malformed, badly
signed, unknown key) and `EXPIRED_TOKEN` (well-formed and signed, but `exp` has passed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.seed import ConductorKey, Seed

INVALID_TOKEN = "INVALID_TOKEN"
EXPIRED_TOKEN = "EXPIRED_TOKEN"

_HEADER = {"alg": "HS256", "typ": "JWT"}


class AuthError(Exception):
    """A 401: `code` is `INVALID_TOKEN` or `EXPIRED_TOKEN`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who calls: the key pair's id (recorded as createdBy/updatedBy) and its organization."""

    key_id: str
    organization: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(seed: Seed) -> bytes:
    digest = hashlib.sha256(b"reconciler-sandbox-conductor-jwt")
    for key in sorted(seed.conductor_keys.values(), key=lambda k: k.id):
        for part in (key.id, key.secret, key.organization):
            digest.update(b"\0" + part.encode("utf-8"))
    return digest.digest()


def _sign(seed: Seed, signing_input: str) -> str:
    mac = hmac.new(_signing_key(seed), signing_input.encode("ascii"), hashlib.sha256)
    return _b64encode(mac.digest())


def _numeric_date(seconds: float) -> int | float:
    # RFC 7519 allows a fractional NumericDate; keep whole seconds whole so that tokens look
    # ordinary, but do not round a short test TTL away.
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)


def authenticate_key(seed: Seed, key_id: str, key_secret: str) -> ConductorKey:
    """The key pair, if the id is known and the secret matches."""
    key = seed.conductor_keys.get(key_id)
    if key is None or not hmac.compare_digest(key.secret.encode(), key_secret.encode()):
        raise AuthError(INVALID_TOKEN, "Invalid key id or key secret")
    return key


def mint(seed: Seed, key: ConductorKey, now: float) -> str:
    claims = {
        "sub": key.id,
        "org": key.organization,
        "iat": int(now),
        "exp": _numeric_date(now + seed.conductor_token_ttl),
    }
    header = _b64encode(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_sign(seed, signing_input)}"


def verify(seed: Seed, token: str | None, now: float) -> Principal:
    """The caller a token stands for, or `AuthError`."""
    if not token:
        raise AuthError(INVALID_TOKEN, "Missing X-Authorization header: a token is required")
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError(INVALID_TOKEN, "Invalid token: not a JWT")
    header_b64, claims_b64, signature = parts
    if not hmac.compare_digest(_sign(seed, f"{header_b64}.{claims_b64}"), signature):
        raise AuthError(INVALID_TOKEN, "Invalid token: signature verification failed")
    try:
        header: Any = json.loads(_b64decode(header_b64))
        claims: Any = json.loads(_b64decode(claims_b64))
    except (binascii.Error, ValueError) as exc:
        raise AuthError(INVALID_TOKEN, "Invalid token: undecodable") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise AuthError(INVALID_TOKEN, "Invalid token: unexpected header or claims")
    key_id, org, exp = claims.get("sub"), claims.get("org"), claims.get("exp")
    if not isinstance(key_id, str) or not isinstance(org, str):
        raise AuthError(INVALID_TOKEN, "Invalid token: missing subject")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise AuthError(INVALID_TOKEN, "Invalid token: missing expiry")
    key = seed.conductor_keys.get(key_id)
    if key is None or key.organization != org:
        raise AuthError(INVALID_TOKEN, "Invalid token: the key was revoked")
    if now >= exp:
        raise AuthError(EXPIRED_TOKEN, "Token has expired")
    return Principal(key_id=key.id, organization=key.organization)
