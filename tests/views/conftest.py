"""Golden-file comparison for the view tests.

`UPDATE_GOLDEN=1 python3 -m pytest tests/views` rewrites the files under `golden/`; otherwise
the output must match them byte for byte.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(f"missing golden file {path}; run UPDATE_GOLDEN=1 python3 -m pytest tests/views")
    expected = path.read_bytes().decode("utf-8")
    if text != expected:
        diff = "\n".join(
            difflib.unified_diff(expected.split("\n"), text.split("\n"), "golden/" + name, "output", lineterm="")
        )
        pytest.fail(f"output differs from golden/{name} (UPDATE_GOLDEN=1 to accept):\n{diff}")


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    return check_golden
