"""The scrubbing output: what a command prints, whole and without a secret, however large."""

from __future__ import annotations

import pytest

from reconciler.cli.output import _SLICE, Output


def test_a_document_larger_than_a_slice_is_written_whole(capsys: pytest.CaptureFixture[str]) -> None:
    text = "".join(f"line {i}\n" for i in range(3 * _SLICE // 8))
    assert len(text) > 2 * _SLICE
    Output().out(text)
    assert capsys.readouterr().out == text + "\n"


def test_a_secret_across_a_slice_boundary_is_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "s3cr3t-value-across"
    text = "x" * (_SLICE - 7) + secret + "y" * _SLICE
    out = Output()
    out.learn([secret])
    out.out(text, nl=False)
    printed = capsys.readouterr().out
    assert secret not in printed
    assert printed == "x" * (_SLICE - 7) + "(sensitive)" + "y" * _SLICE


def test_a_text_in_parts_is_written_whole(capsys: pytest.CaptureFixture[str]) -> None:
    parts = [f"part {i}\n" * (i % 7) for i in range(200)]
    out = Output()
    out.learn(["a-secret-nowhere-in-it"])
    out.out_parts(parts)
    assert capsys.readouterr().out == "".join(parts) + "\n"


@pytest.mark.parametrize("split", [1, 5, 12])
def test_a_secret_split_between_two_parts_is_scrubbed(capsys: pytest.CaptureFixture[str], split: int) -> None:
    secret = "s3cr3t-split-value"
    text = "before " + secret + " after"
    at = len("before ") + split
    out = Output()
    out.learn([secret])
    out.out_parts([text[:at], text[at:]], nl=False)
    assert capsys.readouterr().out == "before (sensitive) after"


def test_a_secret_spread_over_many_small_parts_is_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "another-s3cr3t-value"
    text = f"{{'token': '{secret}'}}"
    out = Output()
    out.learn([secret])
    out.out_parts(list(text), nl=False)
    assert capsys.readouterr().out == "{'token': '(sensitive)'}"
