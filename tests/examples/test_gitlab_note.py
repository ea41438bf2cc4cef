"""The GitLab merge-request plan note: one note, edited in place on every later run.

A small fake of GitLab's notes API (list with pages, create, edit; the `PRIVATE-TOKEN` header
checked) is served in process through an httpx transport; the real client code and the real
`reconciler gitlab-note` command talk to it.
"""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.platforms import gitlab

API = "https://gitlab.example.com/api/v4"
TOKEN = "glpat-Sup3rS3cretT0ken"
NOTES = "/api/v4/projects/acme%2Fintegrations/merge_requests/7/notes"
ENV = {
    "CI_API_V4_URL": API,
    "CI_PROJECT_ID": "acme/integrations",
    "CI_MERGE_REQUEST_IID": "7",
    "RECONCILER_NOTE_TOKEN": TOKEN,
}


@dataclass
class FakeGitLab:
    """GitLab's merge-request notes of one merge request, as the REST API v4 serves them."""

    notes: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    answer_status: int | None = None

    def add(self, body: str, *, system: bool = False) -> int:
        note_id = 1000 + len(self.notes)
        self.notes.append({"id": note_id, "body": body, "system": system, "author": {"username": "someone"}})
        return note_id

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().split("?")[0]
        self.requests.append((request.method, path))
        if request.headers.get("PRIVATE-TOKEN") != TOKEN:
            return httpx.Response(401, json={"message": "401 Unauthorized"})
        if self.answer_status is not None:
            return httpx.Response(self.answer_status, json={"message": f"{self.answer_status} refused"})
        if request.method == "GET" and path == NOTES:
            per_page, page = int(request.url.params["per_page"]), int(request.url.params["page"])
            chunk = self.notes[(page - 1) * per_page : page * per_page]
            return httpx.Response(200, json=chunk)
        if request.method == "POST" and path == NOTES:
            body = json.loads(request.content)["body"]
            note_id = self.add(body)
            return httpx.Response(201, json={"id": note_id, "body": body})
        if request.method == "PUT" and path.startswith(NOTES + "/"):
            note_id = int(path.rsplit("/", 1)[1])
            (note,) = [n for n in self.notes if n["id"] == note_id]
            note["body"] = json.loads(request.content)["body"]
            return httpx.Response(200, json=note)
        return httpx.Response(404, json={"message": "404 Not found"})

    def bodies(self) -> list[str]:
        return [n["body"] for n in self.notes]


class ServedGitLab:
    """A `FakeGitLab` on a loopback port, for the pipeline's own commands (run as processes)."""

    def __init__(self, fake: FakeGitLab) -> None:
        self.fake = fake
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = httpx.Request(
                    self.command,
                    "http://gitlab.test" + self.path,
                    headers=dict(self.headers),
                    content=self.rfile.read(length) if length else b"",
                )
                response = outer.fake(request)
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v4"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGitLab:
    served = FakeGitLab()
    monkeypatch.setattr(gitlab, "TRANSPORT", httpx.MockTransport(served))
    return served


def post(tmp_path: Path, text: str, *args: str, env: dict[str, str] = ENV) -> Any:
    markdown = tmp_path / "plan.md"
    markdown.write_text(text)
    return CliRunner().invoke(main, ["gitlab-note", str(markdown), *args], env=env)


def test_the_first_run_posts_a_note_starting_with_its_marker(fake: FakeGitLab, tmp_path: Path) -> None:
    done = post(tmp_path, "### Reconciler plan: 1 to add\n")
    assert done.exit_code == 0, done.output
    assert fake.bodies() == ["<!-- reconciler-plan:reconciler-plan -->\n### Reconciler plan: 1 to add\n"]


def test_a_later_run_edits_the_same_note_in_place(fake: FakeGitLab, tmp_path: Path) -> None:
    fake.add("lgtm")
    assert post(tmp_path, "### Reconciler plan: 1 to add\n").exit_code == 0
    fake.add("one more review comment")
    fake.requests.clear()
    again = post(tmp_path, "### Reconciler plan: 2 to add\n")
    assert again.exit_code == 0, again.output
    assert fake.bodies() == [
        "lgtm",
        "<!-- reconciler-plan:reconciler-plan -->\n### Reconciler plan: 2 to add\n",
        "one more review comment",
    ]
    assert fake.requests == [("GET", NOTES), ("PUT", f"{NOTES}/1001")]
    assert "Updated the merge request's plan note (1001)." in again.stderr


def test_the_marked_note_is_found_past_the_first_page(fake: FakeGitLab, tmp_path: Path) -> None:
    for n in range(gitlab.PER_PAGE + 20):
        fake.add(f"discussion {n}")
    marked = fake.add("<!-- reconciler-plan:reconciler-plan -->\nold plan")
    assert post(tmp_path, "new plan").exit_code == 0
    assert len(fake.notes) == gitlab.PER_PAGE + 21
    assert fake.notes[-1] == {**fake.notes[-1], "id": marked, "body": "<!-- reconciler-plan:reconciler-plan -->\nnew plan"}


def test_a_note_only_quoting_the_marker_or_a_system_note_is_not_taken(fake: FakeGitLab, tmp_path: Path) -> None:
    fake.add("> <!-- reconciler-plan:reconciler-plan -->\n> quoted by a reviewer")
    fake.add("<!-- reconciler-plan:reconciler-plan -->\nsystem", system=True)
    assert post(tmp_path, "plan").exit_code == 0
    assert fake.bodies()[2] == "<!-- reconciler-plan:reconciler-plan -->\nplan"
    assert fake.bodies()[:2] == [
        "> <!-- reconciler-plan:reconciler-plan -->\n> quoted by a reviewer",
        "<!-- reconciler-plan:reconciler-plan -->\nsystem",
    ]


def test_each_name_keeps_its_own_note(fake: FakeGitLab, tmp_path: Path) -> None:
    assert post(tmp_path, "staging plan", "--name", "staging").exit_code == 0
    assert post(tmp_path, "production plan", "--name", "production").exit_code == 0
    assert post(tmp_path, "staging plan v2", "--name", "staging").exit_code == 0
    assert fake.bodies() == [
        "<!-- reconciler-plan:staging -->\nstaging plan v2",
        "<!-- reconciler-plan:production -->\nproduction plan",
    ]


def test_a_refusal_is_a_clean_error_that_never_shows_the_token(fake: FakeGitLab, tmp_path: Path) -> None:
    fake.answer_status = 403
    refused = post(tmp_path, "plan")
    assert refused.exit_code == 1
    assert "Error: GitLab answered 403 to the list of merge-request notes: 403 refused" in refused.stderr
    assert "needs the `api` scope" in refused.stderr
    assert TOKEN not in refused.output


def test_outside_a_merge_request_pipeline_it_says_what_is_missing(fake: FakeGitLab, tmp_path: Path) -> None:
    env = {**ENV, "CI_MERGE_REQUEST_IID": ""}
    refused = post(tmp_path, "plan", env=env)
    assert refused.exit_code == 1
    assert "CI_MERGE_REQUEST_IID not set" in refused.stderr
    assert fake.requests == []
