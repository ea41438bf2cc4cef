"""The golden-file helper: exact comparison, and rewriting only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.views import conftest


def test_mismatch_fails_and_update_rewrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "GOLDEN_DIR", tmp_path)
    (tmp_path / "g.txt").write_text("one\ntwo")
    monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    conftest.check_golden("g.txt", "one\ntwo")
    with pytest.raises(pytest.fail.Exception, match="-two"):
        conftest.check_golden("g.txt", "one\ntwo ")
    with pytest.raises(pytest.fail.Exception, match="missing golden file"):
        conftest.check_golden("absent.txt", "x")
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    conftest.check_golden("g.txt", "three")
    assert (tmp_path / "g.txt").read_text() == "three"
