"""Sandbox emulator of the Kubiya Agent Control Plane's custom integrations.

`/api/v1/custom-integrations`, as in `shared/api-reference.md` section 1: FastAPI routes and
pydantic models shaped like the vendor's server (so that 422 bodies are FastAPI's own), one
SQLite table, tenancy by the organization of the caller's token (`Seed.kubiya_tokens`).

The vendor's quirks are reproduced on purpose:
- names are unique per organization among rows that are not `deleted` (409), while the unique
  index on (organization, name) also covers soft-deleted rows: creating or renaming into the
  name of a soft-deleted row answers a plain-text `500 Internal Server Error`, writing nothing;
- DELETE is a soft delete (`status: deleted`) unless `?hard_delete=true`; the list hides deleted
  rows unless a `status` filter is given; `tags=a,b` is an AND filter;
- PUT is partial (omitted or null fields are left alone) but `config` and `tags` are replaced
  whole; `integration_type` may be changed; nothing is masked;
- `config` is stored as the vendor's pydantic model dumps it: every key present, defaults
  filled, unknown keys dropped.

Where the reference is silent, the sandbox does what the vendor's FastAPI server (SQLAlchemy
over PostgreSQL) most plausibly does:
- `created_by` is null: the sandbox's tokens name an organization, not a user;
- `id` is a uuid4 string; `created_at` and `updated_at` are ISO-8601 UTC with microseconds
  (`2025-12-16T10:00:00.123456+00:00`); the list is ordered by `created_at` descending, ties
  broken by insertion order (newest first);
- `updated_at` changes on every PUT that changes a value (never going backwards, even under a
  frozen test clock, because clients use it as a version token); a PUT that changes nothing,
  and a soft DELETE of a deleted row, leave it as it was, as an ORM flush of an unchanged row
  writes nothing;
- a path id that is not a UUID (in any form PostgreSQL's `uuid` type accepts) fails the
  database cast: plain-text 500, like the name trap. A UUID in another accepted form
  (upper case, braces, no hyphens) finds the row;
- strings PostgreSQL cannot store (a NUL character, a lone surrogate) anywhere in a write:
  plain-text 500, nothing written;
- auth comes before body validation, except malformed JSON, which FastAPI rejects (422)
  before any dependency runs. The token is found as the vendor finds it (`Bearer `,
  `UserKey `, `Baerer `, a bare token, or a `UserKey` header; schemes are case-sensitive), and
  a 401 carries the vendor's texts: no token → `Authorization header is required`, an unknown
  one → `Invalid or expired authentication token` (its hint too), with no `WWW-Authenticate`;
- a body over 1 MiB answers 413 `{"detail": "Request Entity Too Large"}`, as the
  ingress in front of the real server would, before auth or parsing.

Modules: `routes` (the handlers, the body-size limit, auth), `store` (the SQLite table and
rows as the vendor renders them) and `model` (the vendor's request models).
"""

from reconciler.sandbox.kubiya.routes import MAX_BODY_BYTES, PREFIX, http_error, router
from reconciler.sandbox.kubiya.store import COLUMNS, SCHEMA, TABLE, reset

# What `app` needs of every API (PREFIX, SCHEMA, router, reset, http_error), and the values
# the tests use.
__all__ = ["COLUMNS", "MAX_BODY_BYTES", "PREFIX", "SCHEMA", "TABLE", "http_error", "reset", "router"]
