"""SQLite storage of the console emulator: its tables, the seeded agents, remembered
idempotent answers, and the per-route actions, each run in one transaction by `wire.serve`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Any
from urllib.parse import urlencode

from reconciler.sandbox.console.model import (
    BIMPEAI_TYPES,
    OAUTH_CALLBACK,
    VALIDATORS,
    Action,
    Agent,
    ApiError,
    Call,
    dumps,
    iso,
)
from reconciler.sandbox.seed import Seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_agents (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    workflow INTEGER NOT NULL,
    channel_limit INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_channels (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    team TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    family TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets TEXT NOT NULL,
    oauth_state TEXT UNIQUE,
    created_at REAL NOT NULL,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS console_channels_live
    ON console_channels (agent_id, family, seq) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS console_idempotency (
    team TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (team, key)
);
CREATE INDEX IF NOT EXISTS console_idempotency_age ON console_idempotency (created_at);
"""


def reset(conn: sqlite3.Connection, seed: Seed) -> None:
    """Make `console_agents` match the seed; channels are state and are left alone."""
    conn.executemany(
        "INSERT INTO console_agents (id, team, workflow, channel_limit) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET team = excluded.team, workflow = excluded.workflow,"
        " channel_limit = excluded.channel_limit",
        [(a.id, a.team, int(a.workflow), a.channel_limit) for a in seed.console_agents],
    )
    ids = [a.id for a in seed.console_agents]
    marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM console_agents WHERE id NOT IN ({marks})", ids)


def remembered(
    conn: sqlite3.Connection, team: str, key: str, fingerprint: str, now: float, window: float
) -> tuple[int, str] | None:
    """The remembered answer to `key`, or None when it is unknown or past the window."""
    conn.execute("DELETE FROM console_idempotency WHERE created_at <= ?", (now - window,))
    row = conn.execute(
        "SELECT fingerprint, status, body FROM console_idempotency WHERE team = ? AND key = ?",
        (team, key),
    ).fetchone()
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise ApiError(
            400,
            "validation_error",
            f"Idempotency-Key {key!r} was already used for a different request",
        )
    return int(row["status"]), str(row["body"])


def agent_of(conn: sqlite3.Connection, call: Call) -> Agent:
    row = conn.execute(
        "SELECT id, team, workflow, channel_limit FROM console_agents WHERE id = ? AND team = ?",
        (call.agent_id, call.team),
    ).fetchone()
    if row is None:
        raise ApiError(404, "not_found", "Agent not found")
    agent = Agent(row["id"], row["team"], bool(row["workflow"]), int(row["channel_limit"]))
    if not agent.workflow:
        raise ApiError(
            400,
            "workflow_required",
            "This agent has no workflow: create a workflow before configuring integrations",
        )
    return agent


# ---------------------------------------------------------------- actions


def list_all(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
    agent_of(conn, call)
    rows = conn.execute(
        "SELECT id, family, type, name, status, created_at FROM console_channels"
        " WHERE agent_id = ? AND team = ? AND deleted_at IS NULL ORDER BY seq",
        (call.agent_id, call.team),
    ).fetchall()
    return 200, [
        {
            "id": row["id"],
            "type": row["type"],
            "name": row["name"],
            "status": row["status"],
            "is_connected": row["status"] == "active",
            "family": row["family"],
            "created_at": iso(row["created_at"]),
        }
        for row in rows
    ]


def live_rows(conn: sqlite3.Connection, call: Call, family: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT id, type, name, status, config FROM console_channels"
        " WHERE agent_id = ? AND family = ? AND team = ? AND deleted_at IS NULL ORDER BY seq",
        (call.agent_id, family, call.team),
    ).fetchall()


def list_family_action(family: str) -> Action:
    def action(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
        agent_of(conn, call)
        rows = live_rows(conn, call, family)
        return 200, [{"id": row["id"], "config": json.loads(row["config"])} for row in rows]

    return action


def list_bimpeai(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
    agent_of(conn, call)
    by_type: dict[str, list[dict[str, Any]]] = {kind: [] for kind in BIMPEAI_TYPES}
    for row in live_rows(conn, call, "bimpeai"):
        by_type[row["type"]].append(
            {
                "id": row["id"],
                "type": row["type"],
                "name": row["name"],
                "status": row["status"],
                "is_connected": row["status"] == "active",
            }
        )
    entries: list[dict[str, Any]] = []
    for kind, display in BIMPEAI_TYPES.items():
        placeholder = {
            "id": None,
            "type": kind,
            "name": display,
            "status": "inactive",
            "is_connected": False,
        }
        entries.extend(by_type[kind] or [placeholder])
    return 200, entries


def configure_action(family: str) -> Action:
    validate = VALIDATORS[family]

    def action(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
        channel = validate(call.body)
        agent = agent_of(conn, call)
        (live,) = conn.execute(
            "SELECT COUNT(*) FROM console_channels WHERE agent_id = ? AND deleted_at IS NULL",
            (agent.id,),
        ).fetchone()
        if live >= agent.channel_limit:
            raise ApiError(
                409,
                "integration_limit_reached",
                f"Integration limit reached: this agent's plan allows {agent.channel_limit} integrations",
            )
        channel_id = "ch_" + secrets.token_hex(12)
        state = secrets.token_hex(16) if channel.status == "pending" else None
        conn.execute(
            "INSERT INTO console_channels (id, team, agent_id, family, type, name, status, config,"
            " secrets, oauth_state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel_id,
                call.team,
                agent.id,
                channel.family,
                channel.type,
                channel.name,
                channel.status,
                dumps(channel.config),
                dumps(channel.secrets),
                state,
                call.now,
            ),
        )
        if family != "bimpeai":
            return 201, {"id": channel_id, "config": channel.config}
        if state is None:
            return 201, {"success": True, "channel_id": channel_id}
        query = urlencode({"state": state, "type": channel.type})
        return 201, {"onboarding_url": f"{call.base_url}{OAUTH_CALLBACK}?{query}"}

    return action


def disconnect_action(family: str, channel_id: str) -> Action:
    def action(conn: sqlite3.Connection, call: Call) -> tuple[int, Any]:
        agent = agent_of(conn, call)
        updated = conn.execute(
            "UPDATE console_channels SET status = 'disconnected', deleted_at = ?,"
            " oauth_state = NULL WHERE id = ? AND agent_id = ? AND family = ? AND team = ?"
            " AND deleted_at IS NULL",
            (call.now, channel_id, agent.id, family, call.team),
        ).rowcount
        if updated == 0:
            raise ApiError(404, "not_found", "Integration not found")
        return 200, None

    return action
