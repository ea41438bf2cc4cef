"""Parity of the sandbox with the real Kubiya router (kubiya-control-plane-api 1.0.2).

Not part of the everyday suite (marked `parity`, deselected by default): it needs PostgreSQL
and the router's own virtual environment. Run it with `tests/parity/run.sh`, as `.ci/run` does.

The conversation in `conversation.py` is played against the published router, against the
router with its response model corrected, and against a fresh sandbox beside each. For every
step, the answers (status, media type, WWW-Authenticate, body) and the stored rows after it
must agree, except where `known_divergences.py` says why they do not; and every entry there
must still be needed.
"""

from __future__ import annotations

import pytest

from tests.parity import conversation
from tests.parity.conftest import RUNS, Outcome
from tests.parity.conversation import CONVERSATION, Difference
from tests.parity.known_divergences import KNOWN, Known, unexplained

pytestmark = pytest.mark.parity

STEPS = [step.name for step in CONVERSATION]


def _all_differences(outcome: Outcome) -> list[Difference]:
    found: list[Difference] = []
    for run, (real, sandbox) in outcome.normalised.items():
        for step in STEPS:
            found += conversation.answer_differences(run, step, real.answers[step], sandbox.answers[step])
            found += conversation.state_differences(run, step, real.states[step], sandbox.states[step])
    real_raw, sandbox_raw = outcome.raw["corrected"]
    shapes = (conversation.timestamp_shapes(real_raw), conversation.timestamp_shapes(sandbox_raw))
    if shapes[0] != shapes[1]:
        found.append(Difference("corrected", "timestamp-shapes", "timestamps", *shapes))
    return found


@pytest.fixture(scope="module")
def differences(outcome: Outcome) -> list[Difference]:
    return _all_differences(outcome)


def _report(found: list[Difference]) -> str:
    return "differences not in tests/parity/known_divergences.py:\n" + "\n".join(f"  {d}" for d in found)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("run", RUNS)
def test_answers_agree(run: str, step: str, differences: list[Difference]) -> None:
    mine = [d for d in differences if d.run == run and d.step == step and d.where.startswith("answer")]
    assert unexplained(mine) == [], _report(unexplained(mine))


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("run", RUNS)
def test_stored_rows_agree(run: str, step: str, differences: list[Difference]) -> None:
    mine = [d for d in differences if d.run == run and d.step == step and d.where.startswith("state")]
    assert unexplained(mine) == [], _report(unexplained(mine))


def test_timestamps_are_written_alike(differences: list[Difference]) -> None:
    mine = [d for d in differences if d.step == "timestamp-shapes"]
    assert unexplained(mine) == [], _report(unexplained(mine))


def test_the_published_router_stored_every_write(outcome: Outcome) -> None:
    """Its 500s come after the commit: the rows it stored are the sandbox's, apart from known fields."""
    real, _ = outcome.raw["published"]
    assert [(row["organization_id"], row["name"], row["status"]) for row in real.states["soft-delete-a"]] == [
        ("sandbox", "b", "active"),
        ("sandbox", "a", "deleted"),
    ]


@pytest.mark.parametrize("known", KNOWN, ids=[known.key for known in KNOWN])
def test_each_known_divergence_still_occurs(known: Known, differences: list[Difference]) -> None:
    assert any(known.matches(d) for d in differences), (
        f"the known divergence {known.key!r} no longer occurs: delete it from tests/parity/known_divergences.py"
    )
