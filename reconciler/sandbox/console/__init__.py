"""Sandbox emulator of the agents console (BimpeAI) API: an agent's integration channels.

Routes, under `/api/v1/console/agents/{agentId}/integrations`:
- `GET ""`: every live channel of the agent, all families, as
  `{id, type, name, status, is_connected, family, created_at}` in creation order;
- `GET /custom_api`, `GET /mcp_server`: `[{id, config}]` in creation order;
- `GET /bimpeai`: the native catalog, see below;
- `POST /{family}/configure`: always creates a channel (there is no update);
- `DELETE /{family}/{id}`: soft delete ("disconnect").
Plus `GET /api/v1/console/agents?page=&limit=&search=`, the team's agents as the SDK lists
them (`{id, name, description, created_at, updated_at}` in `data`, pagination in `meta`; it
needs the `agents:read` scope, which `sk_sandbox_readonly` lacks), and
`GET /api/v1/console/oauth/callback?state=...`, the sandbox's stand-in for the OAuth consent
screen (see "OAuth types").

Every success is `{"message": "Success", "data": ...}`; a DELETE answers 200 with `data: null`.
Every error is `{"message", "error", "code", "statusCode", "request_id"}` (the NestJS shape),
with `message` a list of `"path: message"` strings for field validation errors (the
bimpeai SDK 0.4.1 splits each at its first colon into a field error's path and message). Every response carries
`X-Request-Id`; error bodies repeat it as `request_id`.

Choices made where the API reference is silent (the vendor's server looks like NestJS, so its
defaults decide):
- Status codes: `configure` answers **201** (NestJS's default for POST), DELETE 200.
  An unknown route is 404 `not_found` ("Cannot GET /path"); a wrong method is 405
  `method_not_allowed` with an `Allow` header (`.../configure` also fits the DELETE route's
  `{id}`, so its Allow is `DELETE, POST`); a body over 1 MiB is **413**
  `payload_too_large` (what Express's body parser answers), checked before anything else.
- Order of checks: body size and JSON syntax (the body parser runs before the guards) →
  API key (401) → scope (403) → idempotent replay → field validation (400 `validation_error`)
  → agent (404 `not_found`; an agent of another team is indistinguishable from a missing one)
  → workflow (400 `workflow_required`) → channel id (404) → plan limit (409
  `integration_limit_reached`).
- Auth: `Authorization: Bearer sk_...` (scheme case-insensitive) wins over `X-Api-Key` when
  both are sent. Neither header → 401 `api_key_missing`; a header with an unknown key or
  another scheme → 401 `api_key_invalid`. GETs need `integrations:read`, writes
  `integrations:write`.
- Request ids: a client's `X-Request-Id` of 1-128 visible ASCII characters is echoed; any
  other value (or none) is replaced by `req_` + 24 hex characters.
- Channel ids are `ch_` + 24 lowercase hex characters, random, never reused. A channel's
  `status` is `active` (`is_connected: true`), `pending` (OAuth consent not given yet) or, once
  deleted, `disconnected` (never listed); `created_at` is ISO-8601 UTC with milliseconds.
- Bodies: JSON is parsed whatever the Content-Type (NaN, Infinity and over-deep nesting are
  malformed); an empty body counts as `{}`; unknown keys
  are ignored (whitelisting validation pipe). Optional fields accept `null` as "absent".
  `name` must be 1-255 characters; `base_url` and `server_url` must be http(s) URLs;
  `auth_type` is one of none|bearer|basic|api_key|custom for both custom_api and mcp_server;
  `auth_config` values must be strings. Key-based bimpeai types need their key (`bumpa`:
  `token`; `paystack`, `stripe`: `secret_key`); `currency`, when given, is three letters.
  Which `auth_config` keys an `auth_type` needs is not checked.
- Write-only fields (`auth_config`, `description`, `test_endpoint`, and every bimpeai
  credential and `currency`) are stored apart from the public config and never read back.
- Soft delete marks the row `disconnected`; it leaves every list, no longer counts toward the
  limit, and a second DELETE is 404.
- Plan limit: `channel_limit` counts the agent's live channels of every family, pending OAuth
  channels included; the configure that would exceed it is refused.
- Duplicate names are accepted in every family (sandbox rule).
- `GET /bimpeai` lists the five types in a fixed order (bumpa, paystack, stripe,
  google_calendar, google_sheets). A type with no live channel appears once as
  `{id: null, type, name, status: "inactive", is_connected: false}`; a type with live channels
  appears once per channel (normally once; configure always creates, so a second configure of
  a type shows two entries rather than hiding one). `name` is the type's display name.
- OAuth types (google_calendar, google_sheets): configure creates a live channel in status
  `pending` (`is_connected: false`; it counts toward the limit and can be deleted) and answers
  `{onboarding_url}`. In the sandbox that url points at `/api/v1/console/oauth/callback` on the
  sandbox itself: a GET of it (no API key, as a browser would) completes the consent and makes
  the channel `active`, `is_connected: true`; an unknown or used state is 404.
- Idempotency: a write with an `Idempotency-Key` (1-255 characters; an empty header is
  ignored) is remembered per team, in the same transaction as the write, when it succeeded
  (2xx): a repeat inside `seed.idempotency_window` seconds gets the first status and body back
  (with `Idempotent-Replayed: true` and its own `X-Request-Id`) and writes nothing. Failed
  writes are not remembered (they wrote nothing, so a retry cannot act twice). Reusing a
  remembered key for a different request (method, path or JSON body) is 400
  `validation_error`. Past the window the key is forgotten and the write acts again.
- Agents come from `seed.console_agents`; `reset` upserts them into `console_agents` (agent ids
  are global) and drops agents no longer in the seed, leaving their channels unreachable.
  Tables are prefixed `console_` because the three emulators share one database.
- 429 `rate_limited` comes from the fault-injection middleware, not from here.

Modules: `routes` (the HTTP handlers and routing errors), `wire` (the request pipeline: body,
API key, idempotency, answers), `store` (SQLite: tables, seeded agents, the per-route
actions) and `model` (paths, limits, the error type and the configure bodies' validation).
"""

from reconciler.sandbox.console.model import BIMPEAI_TYPES, FAMILIES, MAX_BODY_BYTES, OAUTH_CALLBACK, PREFIX
from reconciler.sandbox.console.routes import http_error, router, validation_error
from reconciler.sandbox.console.store import SCHEMA, reset
from reconciler.sandbox.console.wire import REASONS

# What `app` needs of every API (PREFIX, SCHEMA, router, reset, http_error), and the values
# the tests check.
__all__ = [
    "BIMPEAI_TYPES",
    "FAMILIES",
    "MAX_BODY_BYTES",
    "OAUTH_CALLBACK",
    "PREFIX",
    "REASONS",
    "SCHEMA",
    "http_error",
    "reset",
    "router",
    "validation_error",
]
