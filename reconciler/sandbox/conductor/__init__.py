"""Sandbox emulator of Orkes Conductor's integration API (section 2 of `api-reference.md`).

Serves everything under `/api` that the Kubiya and console emulators do not claim: the token
exchange, providers (`/api/integrations/provider/{name}`), their APIs (`.../integration/{api}`)
and tags, the bulk save and list (`/api/integrations/`) and the type catalog
(`/api/integrations/def`). Handlers are in `routes`, the request pipeline in `wire`, storage
in `store`, body checks in `model`, tokens in `auth`, the type catalog in `catalog`.

Every request runs as: authenticate (`X-Authorization: <JWT>`, no `Bearer`), read and parse
the body, then one database transaction. Order matters as on the vendor's server, whose
security filter runs first: a call without a valid token is a 401 even on an unknown route
or with a malformed body.

Choices where the reference is silent:
- `POST /api/token` with an unknown key id or a wrong secret answers 401 in the auth-error
  shape with `error: INVALID_TOKEN`; a body without `keyId`/`keySecret` is a 400.
- Writes (provider upsert, API upsert, DELETEs, tag calls, bulk save) answer 200 with an
  empty body. DELETE of a provider or API that does not exist is also a 200 (idempotent).
- An unknown provider is a 404 for GET, the API upsert, the API list and the tag calls.
- `activeOnly` (default true) also hides disabled APIs inside the bulk list and the API list.
  `modelsCount` counts every API of the provider, enabled or not.
- The single-provider POST replaces the provider's fields whole: an omitted `description`
  becomes "", an omitted `enabled` true, an omitted `configuration` {}. Tags are untouched.
- The bulk POST: an item's `tags` (when present) replace the provider's tags; APIs not
  listed are kept; a listed API gets its `description` and `enabled`, and keeps the
  configuration, `maxTokens` and `frequency` it has (the bulk shape cannot carry them).
  An unknown type is a 400 there (one failing item), not the single POST's 404. Every item
  is also checked against the items before it (a name listed twice with two types fails
  the later one).
- Names (provider, API) must be non-blank, without '/', at most 255 characters.
  `GET .../integration/all` lists a provider's API names, so an API named `all` is never read.
- Lists are ordered by name; `createdBy`/`updatedBy` are the caller's key id. No call sets
  tags on an integration API, so an API's `tags` is always [].
- Error `instance` is the sandbox host's name. Bodies over 1 MiB are a 413; an unexpected
  server error is a 500 in the same shape with `retryable: true`.
"""

from reconciler.sandbox.conductor.routes import PREFIX, SCHEMA, reset, router
from reconciler.sandbox.conductor.wire import http_error, validation_error

# What `app` needs of every API.
__all__ = ["PREFIX", "SCHEMA", "http_error", "reset", "router", "validation_error"]
