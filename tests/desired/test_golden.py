"""Golden tests: each file (or directory) under `invalid/` is a broken desired state, and the
`.expected` file beside it holds the exact diagnostics it must produce, one `str(d)` each.

Regenerate after an intended change of wording with `UPDATE_GOLDEN=1 pytest tests/desired`,
then review the diff: the expected files are the specification of the messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.desired import check, load
from reconciler.errors import DiagnosticsError

HERE = Path(__file__).parent
INVALID = HERE / "invalid"
# The one variable the cases may use; its value must never show up in any output.
ENVIRON = {"PRESENT_TOKEN": "golden-secret-value-1234"}


def _cases() -> list[Path]:
    return sorted(p for p in INVALID.iterdir() if p.is_dir() or p.name.endswith((".yaml", ".yaml.j2")))


def _expected_path(case: Path) -> Path:
    return case.with_name(case.name.split(".")[0] + ".expected")


def test_there_are_enough_cases() -> None:
    assert len(_cases()) >= 20
    for case in _cases():
        assert _expected_path(case).exists(), f"{case.name} has no .expected file"


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_invalid_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    given = str(case.relative_to(HERE))
    state, diagnostics = check([given], environ=ENVIRON)
    rendered = "".join(f"{d}\n" for d in diagnostics)
    expected = _expected_path(case)
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(rendered, encoding="utf-8")
    assert state is None, "an invalid case produced a desired state"
    assert rendered == expected.read_text(encoding="utf-8")
    assert ENVIRON["PRESENT_TOKEN"] not in rendered

    with pytest.raises(DiagnosticsError) as raised:
        load([given], environ=ENVIRON)
    assert f"{raised.value}\n" == rendered
