"""Tests of the sandbox core: admin endpoints, fault injection, transports, storage, seed, CLI.

The Kubiya API serves as the guinea pig (any API would do): its writes are simple to make
and to check. Contract tests run through `sandbox_client` (in process and over HTTP);
dropped connections are checked through the in-process httpx transport and over a real
socket, since a starlette TestClient does not model a dropped connection.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from reconciler.cli import main
from reconciler.sandbox import transport as sandbox_transport
from reconciler.sandbox.app import create_app
from reconciler.sandbox.faults import Faults, Turns
from reconciler.sandbox.seed import SeedError, default_seed, load_seed
from tests.conftest import json_of
from tests.served import TLS, ServedSandbox

BASE = "/api/v1/custom-integrations"
AUTH = {"Authorization": "Bearer sandbox-kubiya-token"}
BODY = {"name": "probe", "integration_type": "postgres", "config": {}}
MEMORY = "sandbox::memory:"


def set_faults(client: httpx.Client, **faults: Any) -> None:
    response = client.put("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text


def listed(client: httpx.Client) -> list[str]:
    response = client.get(BASE, headers=AUTH)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()]


# --- stats -------------------------------------------------------------------------------------


def test_stats_count_by_method_route_template_and_status(sandbox_client: httpx.Client) -> None:
    created = sandbox_client.post(BASE, headers=AUTH, json=BODY).json()
    sandbox_client.get(BASE, headers=AUTH)
    sandbox_client.get(BASE)
    sandbox_client.get(f"{BASE}/{created['id']}", headers=AUTH)
    sandbox_client.delete(f"{BASE}/{created['id']}", headers=AUTH)
    sandbox_client.get("/_sandbox/health")  # admin calls are not counted

    stats = json_of(sandbox_client.get("/_sandbox/stats"))
    assert stats["total"] == 5
    assert stats["by_method"] == {"DELETE": 1, "GET": 3, "POST": 1}
    assert stats["by_route"] == {
        f"DELETE {BASE}/{{integration_id}}": 1,
        f"GET {BASE}": 2,
        f"GET {BASE}/{{integration_id}}": 1,
        f"POST {BASE}": 1,
    }
    assert stats["by_status"] == {"200": 2, "201": 1, "204": 1, "401": 1}
    assert stats["injected"] == {}


def test_clearing_stats(sandbox_client: httpx.Client) -> None:
    sandbox_client.get(BASE, headers=AUTH)
    assert json_of(sandbox_client.get("/_sandbox/stats"))["total"] == 1
    response = sandbox_client.delete("/_sandbox/stats")
    assert response.status_code == 204
    stats = json_of(sandbox_client.get("/_sandbox/stats"))
    assert stats == {"total": 0, "in_flight": 0, "by_method": {}, "by_route": {}, "by_status": {}, "injected": {}}


def test_requests_answered_by_a_fault_count_under_their_route_template(
    sandbox_client: httpx.Client,
) -> None:
    set_faults(sandbox_client, error_rate=1.0)
    sandbox_client.get(f"{BASE}/00000000-0000-4000-8000-000000000000", headers=AUTH)
    stats = json_of(sandbox_client.get("/_sandbox/stats"))
    assert stats["by_route"] == {f"GET {BASE}/{{integration_id}}": 1}
    assert sum(stats["injected"].values()) == 1


# --- fault settings ----------------------------------------------------------------------------


def test_faults_read_back_what_was_set(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.put(
        "/_sandbox/faults", json={"latency_ms": 5, "error_rate": 0.25, "seed": 7}
    )
    assert response.status_code == 200
    expected = {**Faults().to_dict(), "latency_ms": 5.0, "error_rate": 0.25, "seed": 7}
    assert json_of(response) == expected
    assert json_of(sandbox_client.get("/_sandbox/faults")) == expected
    set_faults(sandbox_client)
    assert json_of(sandbox_client.get("/_sandbox/faults")) == Faults().to_dict()


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 1.5},
        {"drop_after_rate": -0.1},
        {"latency_ms": -1},
        {"latency_ms": "inf"},
        {"error_rate": "nan"},
        {"error_rate": "often"},
        {"error_rate": None},
        {"error_rate": True},
        {"latency_ms": [100]},
        {"seed": "abc"},
        {"seed": 1.5},
        {"throttle_every": 2.5},
        {"error_every": -1},
        {"drop_after_every": True},
        {"bogus": 1},
        [{"error_rate": 1}],
    ],
)
def test_bad_fault_settings_are_400_and_change_nothing(
    sandbox_client: httpx.Client, body: Any
) -> None:
    set_faults(sandbox_client, latency_ms=1)
    response = sandbox_client.put("/_sandbox/faults", json=body)
    assert response.status_code == 400
    detail = json_of(response)["detail"]
    assert isinstance(detail, str)
    assert detail
    assert json_of(sandbox_client.get("/_sandbox/faults"))["latency_ms"] == 1.0


def test_malformed_fault_json_is_400(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.put(
        "/_sandbox/faults", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


# --- injected faults ---------------------------------------------------------------------------


def test_latency_is_added_to_api_requests(sandbox_client: httpx.Client) -> None:
    set_faults(sandbox_client, latency_ms=150)
    started = time.perf_counter()
    response = sandbox_client.get(BASE, headers=AUTH)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed >= 0.15


async def _turns_taken(waiters: int, cancel: frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    """Each waiter let through by `Turns`, with the loop turn it ran in (a callback chain of
    `call_soon` counts the turns)."""
    loop = asyncio.get_running_loop()
    turns = Turns()
    turn = 0
    done: list[tuple[int, int]] = []

    def count() -> None:
        nonlocal turn
        turn += 1
        if len(done) + len(cancel) < waiters:
            loop.call_soon(count)

    async def request(i: int) -> None:
        await turns.wait()
        done.append((i, turn))

    tasks = [asyncio.create_task(request(i)) for i in range(waiters)]
    await asyncio.sleep(0)  # every request waits for its turn now
    loop.call_soon(count)
    for i in cancel:
        tasks[i].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return done


def test_requests_whose_latency_ran_out_are_handled_one_per_loop_turn() -> None:
    done = asyncio.run(_turns_taken(4))
    assert [i for i, _ in done] == [0, 1, 2, 3]
    assert len({turn for _, turn in done}) == 4


def test_a_cancelled_wait_gives_its_turn_to_the_next() -> None:
    assert [i for i, _ in asyncio.run(_turns_taken(3, cancel=frozenset({0})))] == [1, 2]


def test_a_wait_after_the_queue_emptied_gets_its_turn() -> None:
    async def second_wait_done() -> bool:
        turns = Turns()
        await turns.wait()
        second = turns.wait()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return second.done()

    assert asyncio.run(second_wait_done())


def test_count_based_faults_hit_exactly_the_nth_requests(sandbox_client: httpx.Client) -> None:
    set_faults(sandbox_client, throttle_every=3, error_every=4, retry_after_s=0)
    statuses = [sandbox_client.get(BASE, headers=AUTH).status_code for _ in range(12)]
    assert statuses == [200, 200, 429, 500, 200, 429, 200, 503, 429, 200, 200, 429]


def test_error_rate_one_answers_5xx_and_writes_nothing(sandbox_client: httpx.Client) -> None:
    set_faults(sandbox_client, error_rate=1.0)
    statuses = set()
    for _ in range(6):
        response = sandbox_client.post(BASE, headers=AUTH, json=BODY)
        assert response.status_code in (500, 503)
        assert response.headers["content-type"].startswith("text/plain")
        statuses.add(response.status_code)
    set_faults(sandbox_client)
    assert listed(sandbox_client) == []
    injected = json_of(sandbox_client.get("/_sandbox/stats"))["injected"]
    assert sum(injected.get(str(s), 0) for s in statuses) == 6


def test_rate_limit_answers_429_with_headers(sandbox_client: httpx.Client) -> None:
    set_faults(sandbox_client, rate_limit_rps=2)
    responses = [sandbox_client.get(BASE, headers=AUTH) for _ in range(6)]
    limited = [r for r in responses if r.status_code == 429]
    # Six requests span at most one window boundary: at most four get through.
    assert len(limited) >= 2
    assert {r.status_code for r in responses} <= {200, 429}
    first = limited[0]
    assert first.headers["retry-after"] == "1"
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "0"
    assert int(first.headers["x-ratelimit-reset"]) >= int(time.time())
    assert json_of(first) == {"detail": "Too Many Requests"}  # Kubiya (FastAPI) shape


def test_the_admin_endpoints_are_never_faulted(sandbox_client: httpx.Client) -> None:
    set_faults(sandbox_client, error_rate=1.0, rate_limit_rps=1)
    for _ in range(3):
        assert sandbox_client.get("/_sandbox/health").status_code == 200
    assert sandbox_client.post("/_sandbox/reset").status_code == 200


def test_reset_wipes_every_resource(sandbox_client: httpx.Client) -> None:
    sandbox_client.post(BASE, headers=AUTH, json=BODY)
    assert listed(sandbox_client) == ["probe"]
    response = sandbox_client.post("/_sandbox/reset")
    assert (response.status_code, json_of(response)) == (200, {"status": "reset"})
    assert listed(sandbox_client) == []
    assert sandbox_client.post(BASE, headers=AUTH, json=BODY).status_code == 201


# --- dropped connections: in-process transport -------------------------------------------------


@pytest.fixture
def memory_app() -> Iterator[FastAPI]:
    """The shared application of `sandbox::memory:`, fresh for this test."""
    sandbox_transport.forget(MEMORY)
    try:
        yield sandbox_transport.app_for(MEMORY)
    finally:
        sandbox_transport.forget(MEMORY)


async def _post_and_list(app: FastAPI, url: str = MEMORY) -> tuple[BaseException | None, list[str]]:
    """POST once (keeping the error, if any), then list with the faults cleared."""
    async with httpx.AsyncClient(
        transport=sandbox_transport.transport(url), base_url=sandbox_transport.SANDBOX_BASE_URL
    ) as client:
        error: BaseException | None = None
        try:
            await client.post(BASE, headers=AUTH, json=BODY)
        except httpx.HTTPError as exc:
            error = exc
        app.state.sandbox.set_faults(Faults())
        response = await client.get(BASE, headers=AUTH)
        return error, [item["name"] for item in response.json()]


async def _concurrent_gets(count: int) -> weakref.ref[asyncio.AbstractEventLoop]:
    """`count` GETs at once through the in-process transport; a weak reference to the loop."""
    async with httpx.AsyncClient(
        transport=sandbox_transport.transport(MEMORY), base_url=sandbox_transport.SANDBOX_BASE_URL
    ) as client:
        answers = await asyncio.gather(*(client.get(BASE, headers=AUTH) for _ in range(count)))
    assert [a.status_code for a in answers] == [200] * count
    return weakref.ref(asyncio.get_running_loop())


def test_requests_with_latency_wait_for_their_turn(memory_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[None] = []
    real_wait = Turns.wait

    def counted(self: Turns) -> asyncio.Future[None]:
        waits.append(None)
        return real_wait(self)

    monkeypatch.setattr(Turns, "wait", counted)
    memory_app.state.sandbox.set_faults(Faults(latency_ms=1))
    asyncio.run(_concurrent_gets(3))
    assert len(waits) == 3


def test_the_turns_of_a_finished_loop_are_not_kept(memory_app: FastAPI) -> None:
    """The application outlives the loops that used it (one per `asyncio.run`)."""
    memory_app.state.sandbox.set_faults(Faults(latency_ms=1))
    loop = asyncio.run(_concurrent_gets(2))
    gc.collect()
    assert loop() is None


def test_in_process_drop_before_is_a_protocol_error_and_writes_nothing(
    memory_app: FastAPI,
) -> None:
    memory_app.state.sandbox.set_faults(Faults(drop_before_rate=1.0))
    error, names = asyncio.run(_post_and_list(memory_app))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert names == []


def test_in_process_drop_after_is_a_protocol_error_but_the_write_stands(
    memory_app: FastAPI,
) -> None:
    memory_app.state.sandbox.set_faults(Faults(drop_after_rate=1.0))
    error, names = asyncio.run(_post_and_list(memory_app))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert names == ["probe"]
    stats = memory_app.state.sandbox.stats.to_dict()
    assert stats["injected"] == {"drop_after": 1}
    assert stats["by_status"]["dropped"] == 1


def test_every_nth_write_loses_its_answer_after_the_commit(memory_app: FastAPI) -> None:
    memory_app.state.sandbox.set_faults(Faults(drop_after_every=2))
    names = [f"drop-{i}" for i in range(4)]

    async def go() -> tuple[list[object], list[str]]:
        async with httpx.AsyncClient(
            transport=sandbox_transport.transport(MEMORY), base_url=sandbox_transport.SANDBOX_BASE_URL
        ) as client:
            outcomes: list[object] = []
            for name in names:
                try:
                    outcomes.append((await client.post(BASE, headers=AUTH, json={**BODY, "name": name})).status_code)
                except httpx.RemoteProtocolError:
                    outcomes.append("dropped")
            listed = (await client.get(BASE, headers=AUTH)).json()
            return outcomes, sorted(item["name"] for item in listed)

    outcomes, listed = asyncio.run(go())
    assert outcomes == [201, "dropped", 201, "dropped"]
    assert listed == names  # the dropped writes were committed


def test_drops_only_hit_writes(memory_app: FastAPI) -> None:
    memory_app.state.sandbox.set_faults(Faults(drop_before_rate=1.0, drop_after_rate=1.0))

    async def read() -> int:
        async with httpx.AsyncClient(
            transport=sandbox_transport.transport(MEMORY), base_url="http://sandbox"
        ) as client:
            return (await client.get(BASE, headers=AUTH)).status_code

    assert asyncio.run(read()) == 200


def test_the_transport_shares_one_app_per_database(memory_app: FastAPI) -> None:
    assert sandbox_transport.transport(MEMORY).app is memory_app
    assert sandbox_transport.app_for(MEMORY) is memory_app


def test_an_unhandled_handler_error_is_a_plain_500_in_process() -> None:
    app = create_app(":memory:")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a sandbox bug")

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=sandbox_transport.transport(MEMORY, app=app), base_url="http://sandbox"
        ) as client:
            return await client.get("/boom")

    response = asyncio.run(call())
    assert (response.status_code, response.text) == (500, "Internal Server Error")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sandbox::memory:", ":memory:"),
        ("sandbox:", str(Path(".reconciler/sandbox.db").resolve())),
        ("sandbox:data/s.db", str(Path("data/s.db").resolve())),
    ],
)
def test_sandbox_urls_name_databases(url: str, expected: str) -> None:
    assert sandbox_transport.db_path_of(url) == expected


def test_a_non_sandbox_url_is_refused() -> None:
    with pytest.raises(ValueError, match="not a sandbox url"):
        sandbox_transport.db_path_of("http://127.0.0.1:8080")


# --- dropped connections: over HTTP ------------------------------------------------------------


@pytest.fixture
def served(served_sandbox: ServedSandbox) -> Iterator[httpx.Client]:
    served_sandbox.reset()
    try:
        with httpx.Client(base_url=served_sandbox.url, timeout=10, verify=TLS) as client:
            yield client
    finally:
        served_sandbox.reset()


@pytest.mark.parametrize(("fault", "written"), [("drop_before_rate", []), ("drop_after_rate", ["probe"])])
def test_drops_over_http_are_transport_errors(
    served: httpx.Client, fault: str, written: list[str]
) -> None:
    set_faults(served, **{fault: 1.0})
    with pytest.raises(httpx.TransportError):
        served.post(BASE, headers=AUTH, json=BODY)
    set_faults(served)
    assert listed(served) == written
    # The server is still healthy after the drop.
    assert served.get("/_sandbox/health").status_code == 200


# --- storage, CLI, seed ------------------------------------------------------------------------


def _create_on_file(db: Path, name: str = "probe") -> None:
    app = create_app(str(db))
    with TestClient(app) as client:
        assert client.post(BASE, headers=AUTH, json={**BODY, "name": name}).status_code == 201
    app.state.sandbox.db.close()


def _names_on_file(db: Path) -> list[str]:
    app = create_app(str(db))
    try:
        with TestClient(app) as client:
            return [item["name"] for item in client.get(BASE, headers=AUTH).json()]
    finally:
        app.state.sandbox.db.close()


def test_a_file_database_persists_across_apps(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _create_on_file(db, "first")
    _create_on_file(db, "second")
    assert _names_on_file(db) == ["second", "first"]


def test_the_reset_command_wipes_a_file_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _create_on_file(db)
    result = CliRunner().invoke(main, ["sandbox", "reset", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert str(db) in result.output
    assert _names_on_file(db) == []


def test_the_reset_command_creates_a_missing_database(tmp_path: Path) -> None:
    db = tmp_path / "deeper" / "s.db"
    result = CliRunner().invoke(main, ["sandbox", "reset", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert db.exists()


SEED_YAML = """\
kubiya:
  tokens:
    custom-token: acme
"""


def test_a_seed_file_replaces_the_built_in_tokens(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(SEED_YAML, encoding="utf-8")
    seed = load_seed(seed_file)
    assert seed.kubiya_tokens == {"custom-token": "acme"}
    assert seed.console_agents == []
    with TestClient(create_app(":memory:", seed=seed)) as client:
        response = client.post(
            BASE, headers={"Authorization": "Bearer custom-token"}, json=BODY
        )
        assert response.status_code == 201
        assert response.json()["organization_id"] == "acme"
        assert client.get(BASE, headers=AUTH).status_code == 401


def test_the_built_in_seed_has_two_kubiya_organizations() -> None:
    seed = default_seed()
    assert seed.kubiya_tokens == {
        "sandbox-kubiya-token": "sandbox",
        "sandbox-kubiya-token-2": "sandbox-2",
    }


def test_serve_with_a_seed_file(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(SEED_YAML, encoding="utf-8")
    server = ServedSandbox("--seed", str(seed_file))
    try:
        with httpx.Client(base_url=server.url, timeout=10, verify=TLS) as client:
            response = client.post(
                BASE, headers={"Authorization": "Bearer custom-token"}, json=BODY
            )
            assert response.status_code == 201
            assert response.json()["organization_id"] == "acme"
            assert client.get(BASE, headers=AUTH).status_code == 401
    finally:
        server.stop()


def test_serve_takes_count_based_faults_from_its_options() -> None:
    server = ServedSandbox("--throttle-every", "2", "--error-every", "3")
    try:
        with httpx.Client(base_url=server.url, timeout=10, verify=TLS) as client:
            assert client.get("/_sandbox/faults").json()["throttle_every"] == 2
            statuses = [client.get(BASE, headers=AUTH).status_code for _ in range(4)]
    finally:
        server.stop()
    assert statuses == [200, 429, 500, 429]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kubiya: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("conductor:\n  keys:\n    - {id: only-an-id}\n", "malformed seed data"),
        ("console:\n  agents:\n    - {id: a, channel_limit: lots}\n", "malformed seed data"),
        ("kubiya:\n  tokens: [a, b]\n", "malformed seed data"),
    ],
)
def test_a_malformed_seed_file_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError, match=message) as raised:
        load_seed(seed_file)
    assert str(seed_file) in str(raised.value)
    result = CliRunner().invoke(
        main, ["sandbox", "reset", "--db", str(tmp_path / "s.db"), "--seed", str(seed_file)]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_missing_seed_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read the seed file"):
        load_seed(tmp_path / "nope.yaml")
    result = CliRunner().invoke(
        main, ["sandbox", "serve", "--db", ":memory:", "--seed", str(tmp_path / "nope.yaml")]
    )
    assert result.exit_code == 1
    assert "cannot read the seed file" in result.output


def test_serve_refuses_bad_fault_options() -> None:
    result = CliRunner().invoke(main, ["sandbox", "serve", "--db", ":memory:", "--error-rate", "2"])
    assert result.exit_code == 1
    assert "out of range" in result.output
