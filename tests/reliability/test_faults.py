"""Apply under injected faults: latency, 5xx answers, 429 storms, connections dropped after
the write committed. Whatever happens, re-running converges, with no duplicates and nothing lost.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from reconciler.apply import apply
from reconciler.model import Resource
from reconciler.outcomes import Done
from reconciler.plan import Plan
from reconciler.platforms import Platform
from reconciler.platforms.retry import RetryPolicy
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.transport import app_for, transport
from tests.platforms.test_roundtrip import Harness, chan, integ, model, prov


def desired(n: int) -> list[Resource]:
    out = [integ(f"int-{i:04d}") for i in range(n)]
    for p in range(n // 10):
        out.append(prov(f"prov-{p:03d}"))
        out.extend(model(f"prov-{p:03d}", f"m-{j}") for j in range(3))
    out.extend(chan(f"ch-{i}") for i in range(10))
    return out


async def live_counts(url: str) -> tuple[Counter[str], Counter[str], int]:
    async with httpx.AsyncClient(transport=transport(url), base_url="http://s") as c:
        rows = (
            await c.get("/api/v1/custom-integrations", headers={"Authorization": "Bearer sandbox-kubiya-token"})
        ).json()
        token = (
            await c.post("/api/token", json={"keyId": "sandbox-key-id", "keySecret": "sandbox-key-secret"})
        ).json()["token"]
        providers = (
            await c.get("/api/integrations/", params={"activeOnly": "false"}, headers={"X-Authorization": token})
        ).json()
        chans = (
            await c.get(
                "/api/v1/console/agents/agt_demo/integrations/mcp_server",
                headers={"Authorization": "Bearer sk_sandbox"},
            )
        ).json()
    names = Counter(r["name"] for r in rows)
    chan_names = Counter(ch["config"]["name"] for ch in chans["data"])
    apis = sum(len(p.get("apis") or []) for p in providers)
    return names, chan_names, apis


@pytest.mark.slow
def test_apply_500_resources_under_faults_converges_without_duplicates(url: str) -> None:
    app = app_for(url)
    # Faults by count, not by chance or by the clock: the same ones happen on a loaded machine.
    # Every 7th request is throttled, every 5th (not throttled) fails with a 5xx, every 10th
    # write that reaches its handler loses its answer after the commit.
    app.state.sandbox.set_faults(
        Faults(latency_ms=1, jitter_ms=2, throttle_every=7, error_every=5, drop_after_every=10, retry_after_s=0.2)
    )
    # Quick backoff so the test stays fast; the policy's bounds are what is exercised.
    h = Harness(url, retry=RetryPolicy(attempts=8, base=0.001, cap=0.01))
    want = desired(400)  # 400 integrations + 40 providers + 120 models + 10 channels = 570
    assert len(want) >= 500
    runs = 0
    history: list[str] = []
    while True:
        runs += 1
        plan, platforms = asyncio.run(h.plan(want))
        if not plan.has_changes:
            break
        assert runs <= 4, f"did not converge in 3 applies: {history}"

        async def go(plan: Plan = plan, platforms: dict[str, Platform] = platforms) -> list[object]:
            result = await apply(plan, platforms)
            for p in platforms.values():
                await p.aclose()
            return [o for o in result.outcomes if not isinstance(o, Done)]

        not_done = asyncio.run(go())
        history.append(f"apply {runs}: {len(plan.actionable)} changes, {len(not_done)} not done")
    stats = app.state.sandbox.stats.to_dict()
    # Every integration and channel is one answered write and the providers with their models at
    # least one bulk save: at least that many writes, and requests, were made, so the counts
    # below follow from the schedule whatever the order of the requests.
    writes = 400 + 10 + 1
    assert stats["injected"].get("429", 0) >= writes // 7, stats
    assert stats["injected"].get("500", 0) + stats["injected"].get("503", 0) >= writes // 5 - writes // 7, stats
    assert stats["injected"].get("drop_after", 0) >= writes // 10, stats
    app.state.sandbox.set_faults(Faults())
    names, chan_names, apis = asyncio.run(live_counts(url))
    assert len(names) == 400
    assert max(names.values()) == 1
    assert len(chan_names) == 10, chan_names
    assert max(chan_names.values()) == 1, chan_names
    assert apis == 120
