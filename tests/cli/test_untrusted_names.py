"""Names created on a server by anyone who can create a resource there reach every view of
`drift`: the terminal, Markdown, JSON and the Slack webhook. None of them may show such a name
as anything but text: no terminal control, no Slack mention or link, no early end of a code span."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Hook, World

SLACK_BAIT = "ping <!channel> & <https://evil.example|click> `x"
SPOOF = "\x1b[2K\rNo drift: the live state matches the desired state."


@pytest.fixture
def applied(world: World) -> tuple[World, Path]:
    path = world.desired()
    assert world.run("apply", path, "--auto-approve").exit_code == 0
    return world, path


def slack_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def test_slack_mentions_and_links_in_names_are_escaped(applied: tuple[World, Path], hook: Hook) -> None:
    world, path = applied
    world.create_unmanaged(SLACK_BAIT)
    assert world.run("drift", path, "--notify", hook.url).exit_code == 2
    (posted,) = hook.received
    line = next(t for t in slack_texts(posted.json()) if "evil" in t)
    assert "ping &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in line


def test_slack_payload_holds_no_raw_angle_bracket_from_a_name(applied: tuple[World, Path], hook: Hook) -> None:
    world, path = applied
    world.create_unmanaged(SLACK_BAIT)
    world.run("drift", path, "--notify", hook.url)
    (posted,) = hook.received
    assert not any("<" in text or ">" in text for text in slack_texts(posted.json()))


def test_a_backtick_in_a_name_cannot_end_the_code_span(applied: tuple[World, Path], hook: Hook) -> None:
    world, path = applied
    world.create_unmanaged("a`*bold*`b")
    world.run("drift", path, "--notify", hook.url)
    (posted,) = hook.received
    line = next(t for t in slack_texts(posted.json()) if "bold" in t)
    # The address is one code span: its two delimiters are the only backticks on the line.
    assert line.count("`") == 2


def test_slack_message_names_the_environment_and_the_servers(applied: tuple[World, Path], hook: Hook) -> None:
    world, path = applied
    world.create_unmanaged("hand-made")
    world.run("drift", path, "--notify", hook.url, env={"RECONCILER_ENVIRONMENT": "production"})
    (posted,) = hook.received
    payload = posted.json()
    assert payload["blocks"][0]["text"]["text"] == "reconciler drift report (production)"
    (context,) = [b for b in payload["blocks"] if b["type"] == "context"]
    assert context["elements"][0]["text"] == (
        "*Environment:* production · *Servers:* kubiya (sandbox), orkes (sandbox), console (sandbox)"
        f" · *Desired state:* {path}"
    )


@pytest.mark.parametrize("fmt", ["human", "markdown"])
def test_drift_never_prints_control_characters_from_a_name(applied: tuple[World, Path], fmt: str) -> None:
    world, path = applied
    world.create_unmanaged(SPOOF)
    result = world.run("drift", path, "--format", fmt)
    assert result.exit_code == 2
    assert "\x1b" not in result.stdout
    assert "\r" not in result.stdout
    assert "\\x1b[2K\\x0dNo drift" in result.stdout


def test_drift_json_escapes_c1_and_bidi_characters(applied: tuple[World, Path]) -> None:
    world, path = applied
    world.create_unmanaged("evil\u009b2J\u202ename")
    result = world.run("drift", path, "--format", "json")
    assert "\u009b" not in result.stdout
    assert "\u202e" not in result.stdout
    (item,) = json.loads(result.stdout)["items"]
    assert item["address"] == 'integration.kubiya."evil\u009b2J\u202ename"'


def test_a_server_message_with_control_characters_is_escaped_in_a_warning(applied: tuple[World, Path], hook: Hook) -> None:
    world, path = applied
    world.create_unmanaged("hand-made")
    hook.answer(403, b'{"message": "\\u001b[2K\\rDrift report posted"}')
    result = world.run("drift", path, "--notify", hook.url)
    assert "\x1b" not in result.stderr
    assert "\r" not in result.stderr
    assert "answered 403: \\x1b[2K\\x0dDrift report posted" in result.stderr
