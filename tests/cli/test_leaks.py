"""No secret comes out in any form, even when a server echoes request bodies in its errors.

Secrets holding quotes, backslashes, newlines and non-ASCII text go through plan (every
format, the saved plan), apply (human and JSON), drift (every format, the report file and the
webhook post), export and validate against a sandbox answering every write with an error that
repeats the body it was sent, as text, base64 and URL-encoded. No output, no file and no
webhook body may hold any secret raw, JSON-escaped (once or twice), URL-encoded, or inside any
base64 text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from tests.cli.conftest import Hook, World

PASSWORD = 'pa"ss\\word-ünïcødé'
API_KEY = "sk-\"quoted\"\\back\\slash-ключ"
TOKEN = "tok/with+plus=and spaces-ü"
PEM = "-----BEGIN KEY-----\nMIIBsecretLINEone\nline\\two-é\n-----END KEY-----\n"
SECRETS = (PASSWORD, API_KEY, TOKEN, PEM)

BODY = """
integrations:
  - name: leaky
    server: kubiya
    type: postgres
    config:
      env_vars: {DB_PASSWORD: "${env:LEAK_PW}", PGHOST: db.internal}
      files:
        - {path: /etc/key.pem, content: "${file:key.pem}"}
providers:
  - name: leaky-llm
    server: orkes
    type: openai
    configuration: {api_key: "${env:LEAK_KEY}"}
channels:
  - server: console
    agent: agt_demo
    family: mcp_server
    name: leaky-mcp
    server_url: https://mcp.example.com/leak
    auth_type: bearer
    auth_config: {token: "${env:LEAK_TOKEN}"}
"""

ENV = {"LEAK_PW": PASSWORD, "LEAK_KEY": API_KEY, "LEAK_TOKEN": TOKEN}
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def _texts(secret: str) -> set[str]:
    """The secret as it stands in text and inside a JSON body."""
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def _forms(secret: str) -> set[str]:
    out = set()
    for text in _texts(secret):
        out |= {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
        out |= {quote(text, safe=""), quote_plus(text, safe="")}
    return out


def _decoded_base64(text: str) -> list[bytes]:
    out = []
    for token in _BASE64.findall(text):
        for alphabet in (base64.b64decode, base64.urlsafe_b64decode):
            for start in range(4):
                chunk = token[start:]
                chunk = chunk[: len(chunk) - len(chunk) % 4]
                try:
                    out.append(alphabet(chunk))
                except (binascii.Error, ValueError):
                    pass
    return out


def _leaks(text: str) -> list[str]:
    found = [f"{s!r} as {f!r}" for s in SECRETS for f in _forms(s) if f in text]
    decoded = _decoded_base64(text)
    found += [
        f"{s!r} in base64" for s in SECRETS if any(t.encode() in d for t in _texts(s) for d in decoded)
    ]
    # A line of the multi-line secret on its own.
    found += [f"PEM line {line!r}" for line in ("MIIBsecretLINEone",) if line in text]
    return found


def test_no_secret_in_any_form_in_any_output_or_file(world: World, hook: Hook) -> None:
    world.write("key.pem", PEM)
    path = world.desired(BODY)
    world.faults(echo_error_rate=1.0)
    outputs = []
    commands: tuple[tuple[object, ...], ...] = (
        ("plan", path),
        ("plan", path, "--format", "json", "--out", world.tmp / "plan.json"),
        ("plan", path, "--format", "markdown"),
        ("apply", path, "--auto-approve"),
        ("apply", path, "--auto-approve", "--format", "json"),
        ("drift", path, "--format", "json", "--out", world.tmp / "drift.json"),
        ("validate", path),
    )
    for args in commands:
        result = world.run(*args, env=ENV)
        outputs.append((" ".join(map(str, args[:4])), result.stdout + result.stderr))
    # The echoing server was reached, and its errors were shown (scrubbed).
    assert "could not process the request" in outputs[3][1]

    # Then the secrets reach the servers, are rotated in the desired state (each rotated value
    # holds the original, so a leak of either is found), and drift and export read them back.
    world.faults(echo_error_rate=0.0)
    assert world.run("apply", path, "--auto-approve", env=ENV).exit_code == 0
    rotated = {k: v + "-rotated" for k, v in ENV.items()}
    notify = hook.url + "/services/T0/B0/x"
    for args in (
        ("drift", path),
        ("drift", path, "--format", "markdown", "--notify", notify, "--notify-always"),
        ("export", path, "--server", "kubiya", "--out", world.tmp / "export-kubiya.yaml"),
        ("export", path, "--server", "orkes", "--with-servers"),
        ("export", path, "--server", "console", "--agent", "agt_demo"),
    ):
        result = world.run(*args, env=rotated)
        outputs.append((" ".join(map(str, args[:4])), result.stdout + result.stderr))
    # Drift saw the rotated secrets and export wrote the live resources, so both had secrets to hide.
    # (The channel token is write-only: the console never returns it.)
    assert "Drift: 2 changed" in outputs[-5][1], outputs[-5][1]
    assert "leaky-llm" in outputs[-2][1]
    assert "leaky-mcp" in outputs[-1][1]
    # The webhook was posted to, so its bodies are checked too.
    assert hook.received
    outputs += [(f"webhook post {i}", r.body.decode("utf-8", "replace")) for i, r in enumerate(hook.received)]
    files = ("plan.json", "drift.json", "export-kubiya.yaml")
    assert "name: leaky" in (world.tmp / "export-kubiya.yaml").read_text()
    outputs += [(name, (world.tmp / name).read_text()) for name in files]
    leaks = {name: _leaks(text) for name, text in outputs}
    assert leaks == {name: [] for name, _ in outputs}


def test_the_checker_finds_each_form() -> None:
    # The test above would pass on output that hides nothing if the checker were blind.
    body = json.dumps({"p": PASSWORD, "k": API_KEY})
    assert _leaks(body)
    assert _leaks(json.dumps(body))
    assert _leaks("x " + base64.b64encode(b"u:" + TOKEN.encode()).decode() + " y")
    assert _leaks(quote(PEM, safe=""))
    assert _leaks(quote(body, safe=""))
    assert _leaks(base64.b64encode(body.encode()).decode())


# A secret holding every character the views escape; MARKER survives each escaping unchanged,
# so finding it means some form of the secret got through.
MARKER = "Zq7xMarker"
ESCAPED = f'a_b|c<d>&e"f\\g`h*{MARKER}[i]~#!\nline-two'


def _rendered_views(secret: str) -> dict[str, str]:
    """The secret inside a server's message, as each report and notifier view renders it."""
    from reconciler.views.drift import slack_escape
    from reconciler.views.markdown import code_span, escape_text
    from reconciler.views.outcome import render_drift_error_slack, render_error_markdown

    message = f"the server answered 500: {secret}"
    return {
        "markdown text": escape_text(message),
        "markdown code span": code_span(message),
        "markdown error": render_error_markdown("Reconciler plan", message),
        "slack text": slack_escape(message),
        "slack payload": json.dumps(render_drift_error_slack(message)),
        "slack payload, ASCII": json.dumps(render_drift_error_slack(message), ensure_ascii=True),
    }


def test_every_escaped_view_of_a_secret_is_scrubbed() -> None:
    from reconciler.cli import Output

    out = Output()
    out.learn([ESCAPED])
    views = _rendered_views(ESCAPED)
    assert all(MARKER in text for text in views.values())  # each view holds the secret before the scrub
    assert {name: MARKER in out.scrub(text) for name, text in views.items()} == {name: False for name in views}


def test_a_webhook_post_goes_through_the_scrubber(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler import cli
    from reconciler.views.outcome import render_drift_error_slack

    monkeypatch.setattr(cli.OUT, "secrets", [])
    cli.OUT.learn([ESCAPED])
    # The payload is built from a message the scrubber has not seen, as a drift report is.
    cli._notify(hook.url + "/services/T0/B0/x", render_drift_error_slack(f"echoed: {ESCAPED}"), "posted")
    (received,) = hook.received
    assert b"(sensitive)" in received.body
    assert MARKER.encode() not in received.body
