"""A desired body's digest (`plan.body_digest`): the SHA-256 of its masked JSON text with
sorted keys, so that a saved plan and a fresh one, or two versions of the tool, agree."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.model import Sensitive
from reconciler.plan import body_digest
from reconciler.secrecy import masked

_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_BODIES = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        _LEAVES | st.builds(Sensitive, st.text(min_size=1, max_size=8)),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    ),
    max_size=5,
)


@given(body=_BODIES, fingerprints=st.lists(st.text(max_size=8), max_size=2))
def test_the_digest_is_of_the_masked_json_with_sorted_keys(body: dict[str, Any], fingerprints: list[str]) -> None:
    text = json.dumps(masked(body), sort_keys=True, default=str)
    expected = hashlib.sha256(text.encode() + "".join(fingerprints).encode()).hexdigest()[:24]
    assert body_digest(body, fingerprints) == expected
