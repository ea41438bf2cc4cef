"""A merge request's plan note on GitLab, kept up to date in place (GitLab REST API v4).

A pipeline runs `plan` on every push to a merge request; posting a new note each time buries
the review under stale plans. So the note starts with a hidden marker (an HTML comment naming
it), and each run lists the merge request's notes, finds the one holding its marker and edits
it (`PUT .../notes/:id`); only when there is none yet does it create one. Several plans on one
merge request (one per environment, say) use different marker names.

The token (a project access token with the `api` scope; the CI job token cannot write notes)
goes in a `PRIVATE-TOKEN` header and is never part of a message; error messages name the
status and the server's message only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.errors import PlatformError
from reconciler.platforms.answers import server_message

# The transport every note client uses (None: the network). Tests put an in-process fake
# GitLab here.
TRANSPORT: httpx.BaseTransport | None = None

# Pages listed at most while looking for the marked note (100 notes each).
MAX_PAGES = 50
PER_PAGE = 100


def marker_of(name: str) -> str:
    """The hidden first line that identifies the note named `name`."""
    return f"<!-- reconciler-plan:{name} -->"


@dataclass(frozen=True)
class NoteTarget:
    """Where the note goes: the API root (`CI_API_V4_URL`), the project (`CI_PROJECT_ID`, an
    id or a path) and the merge request's iid (`CI_MERGE_REQUEST_IID`)."""

    api_url: str
    project: str
    merge_request: str

    @property
    def notes_path(self) -> str:
        return f"/projects/{quote(self.project, safe='')}/merge_requests/{quote(self.merge_request, safe='')}/notes"


def client(target: NoteTarget, token: str, *, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        base_url=target.api_url.rstrip("/"),
        headers={"PRIVATE-TOKEN": token, "Accept": "application/json"},
        timeout=timeout,
        transport=TRANSPORT,
    )


def _checked(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        hint = {
            401: "the token is missing, expired or revoked",
            403: "the token needs the `api` scope and at least the Reporter role on the project",
            404: "check CI_PROJECT_ID and CI_MERGE_REQUEST_IID (this runs on merge request pipelines only)",
        }.get(response.status_code)
        raise PlatformError(
            f"GitLab answered {response.status_code} to {what}: {server_message(response)}",
            status=response.status_code,
            hint=hint,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise PlatformError(f"GitLab answered {what} with something that is not JSON") from exc


def _send(http: httpx.Client, method: str, path: str, what: str, **kwargs: Any) -> Any:
    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise PlatformError(
            f"GitLab did not answer {what} ({type(exc).__name__})", hint="check CI_API_V4_URL and the network"
        ) from exc
    return _checked(response, what)


def find_note(http: httpx.Client, target: NoteTarget, marker: str) -> int | None:
    """The id of the merge request's note that starts with `marker`, or None."""
    for page in range(1, MAX_PAGES + 1):
        notes = _send(
            http,
            "GET",
            target.notes_path,
            "the list of merge-request notes",
            params={"per_page": PER_PAGE, "page": page, "sort": "asc", "order_by": "created_at"},
        )
        if not isinstance(notes, list):
            raise PlatformError("GitLab answered the list of merge-request notes with something that is not a list")
        for note in notes:
            if (
                isinstance(note, dict)
                and not note.get("system")
                and str(note.get("body") or "").startswith(marker)
                and isinstance(note.get("id"), int)
            ):
                return int(note["id"])
        if len(notes) < PER_PAGE:
            return None
    return None


def upsert_note(http: httpx.Client, target: NoteTarget, text: str, *, name: str = "reconciler-plan") -> tuple[str, int]:
    """Creates the note named `name` with `text`, or edits it in place when it exists.
    Returns `("created" | "updated", note id)`."""
    marker = marker_of(name)
    body = {"body": f"{marker}\n{text}"}
    existing = find_note(http, target, marker)
    if existing is not None:
        _send(http, "PUT", f"{target.notes_path}/{existing}", "the note's update", json=body)
        return "updated", existing
    made = _send(http, "POST", target.notes_path, "the new note", json=body)
    note_id = made.get("id") if isinstance(made, dict) else None
    if not isinstance(note_id, int):
        raise PlatformError("GitLab created the note but answered without its id")
    return "created", note_id
