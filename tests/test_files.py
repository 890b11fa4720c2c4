"""Atomic output: a failed write leaves neither a partial file nor a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciml._files import atomic_output


def test_success_moves_companions_and_target(tmp_path: Path) -> None:
    target = tmp_path / "out.xdmf"
    target.write_text("old")
    with atomic_output(target) as tmp:
        tmp.write_text("new")
        tmp.with_suffix(".h5").write_text("data")
        assert not (tmp_path / "out.h5").exists()
    assert target.read_text() == "new" and (tmp_path / "out.h5").read_text() == "data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "out.xdmf"]


def test_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "data.h5"
    target.write_text("complete")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["data.h5"]
