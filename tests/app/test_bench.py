"""``sciml bench``: finding and running benchmark scripts, the generated README block."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from sciml.app.bench import (
    BEGIN,
    END,
    device_rows_on,
    find_benchmarks,
    list_benchmarks,
    load_results,
    refresh_readme,
    run_benchmarks,
    summary_markdown,
    targets_markdown,
)
from sciml.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import argparse, json, sys
    from pathlib import Path
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "{name}.json")
    a = p.parse_args()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({{"quick": a.quick, "targets": [
        {{"name": "speed | ratio", "measured": {value}, "target": "<= 1", "met": {met}}}]}}))
    sys.exit({code})
    """
)


def fake_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    for name, value, met, code in (("alpha", 0.5, True, 0), ("beta", 2.0, False, 3)):
        (folder / f"{name}.py").write_text(
            SCRIPT.format(name=name, value=value, met=met, code=code)
        )
    (folder / "_helpers.py").write_text("")
    (folder / "README.md").write_text("# Benchmarks\n\nHand-written text.\n")
    return folder


def test_list_and_find(tmp_path: Path) -> None:
    names = list_benchmarks(ROOT / "benchmarks")
    assert names[:3] == ["linalg", "fem", "implicit"] and "pihc_fem" in names
    assert not [n for n in names if n.startswith("_")]
    assert find_benchmarks(ROOT / "benchmarks") == (ROOT / "benchmarks").resolve()
    assert list_benchmarks(fake_folder(tmp_path)) == ["alpha", "beta"]
    with pytest.raises(FileNotFoundError, match="--dir"):
        find_benchmarks(tmp_path / "nowhere")


def test_run_reports_each_script(tmp_path: Path) -> None:
    folder = fake_folder(tmp_path)
    lines: list[str] = []
    runs = run_benchmarks(folder, quick=True, out_dir=tmp_path / "out", echo=lines.append)
    assert [(r.name, r.returncode) for r in runs] == [("alpha", 0), ("beta", 3)]
    assert json.loads((tmp_path / "out" / "alpha.json").read_text())["quick"] is True
    assert any("FAILED (exit 3)" in line for line in lines)
    runs = run_benchmarks(folder, ["alpha"], echo=lines.append)  # default: results/NAME.json
    assert runs[0].results == folder / "results" / "alpha.json" and runs[0].results.exists()
    assert json.loads(runs[0].results.read_text())["quick"] is False
    with pytest.raises(ValueError, match="unknown benchmarks"):
        run_benchmarks(folder, ["gamma"])


def test_readme_block_is_inserted_then_kept_in_step(tmp_path: Path) -> None:
    folder = fake_folder(tmp_path)
    run_benchmarks(folder, echo=lambda _: None)
    readme = folder / "README.md"
    assert refresh_readme(readme, folder / "results")
    text = readme.read_text()
    assert text.startswith("# Benchmarks\n") and "Hand-written text." in text
    assert text.index(BEGIN) < text.index("speed \\| ratio") < text.index(END)
    assert "1 of 2 targets met." in text and "**no**" in text
    assert not refresh_readme(readme, folder / "results")  # unchanged results: no rewrite
    doc = json.loads((folder / "results" / "beta.json").read_text())
    doc["targets"][0].update(measured=0.9, met=True)
    (folder / "results" / "beta.json").write_text(json.dumps(doc))
    assert refresh_readme(readme, folder / "results")
    text = readme.read_text()
    assert text.count(BEGIN) == 1 and "2 of 2 targets met." in text
    readme.write_text(text.replace(END, ""))
    with pytest.raises(ValueError, match="marker"):
        refresh_readme(readme, folder / "results")
    (folder / "results" / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json"):
        load_results(folder / "results")


def test_rows_measured_on_a_gpu_are_named(tmp_path: Path) -> None:
    doc = {
        "date": "2026-12-04T17:00:00+00:00",
        "machine": {"cpu": "Test CPU", "gpu": None},
        "results": [{"solver": "cg"}, {"solver": "cg [cuda]", "device": "Test GPU"}],
        "targets": [{"name": "t", "measured": 1.0, "target": "<= 2", "met": True}],
    }
    assert device_rows_on(doc) == ["Test GPU"]
    (tmp_path / "x.json").write_text(json.dumps(doc))
    summary = summary_markdown(tmp_path)
    assert "2026-12-04, Test CPU (no GPU); rows [cuda] on Test GPU" in summary
    assert "Test CPU; rows [cuda] on Test GPU" in targets_markdown(tmp_path)
    doc["results"].pop()
    (tmp_path / "x.json").write_text(json.dumps(doc))
    assert "rows [cuda]" not in summary_markdown(tmp_path)


def test_committed_readme_matches_the_stored_results(tmp_path: Path) -> None:
    copy = tmp_path / "README.md"
    shutil.copy(ROOT / "benchmarks" / "README.md", copy)
    assert not refresh_readme(copy, ROOT / "benchmarks" / "results"), (
        "benchmarks/README.md is out of date: run `sciml bench --readme-only`"
    )
    top = tmp_path / "TOP.md"
    shutil.copy(ROOT / "README.md", top)
    assert not refresh_readme(top, ROOT / "benchmarks" / "results", block="summary"), (
        "README.md's benchmark summary is out of date: run `sciml bench --readme-only`"
    )
    summary = summary_markdown(ROOT / "benchmarks" / "results")
    for stem, doc in load_results(ROOT / "benchmarks" / "results"):
        targets = doc.get("targets") or []
        met = sum(bool(t["met"]) for t in targets)
        assert f"`benchmarks/{stem}.py` | {met} of {len(targets)} |" in summary
    with pytest.raises(ValueError, match="block"):
        refresh_readme(top, ROOT / "benchmarks" / "results", block="everything")
    table = targets_markdown(ROOT / "benchmarks" / "results")
    for stem, doc in load_results(ROOT / "benchmarks" / "results"):
        assert table.count(f"`{stem}.py`") == len(doc.get("targets") or []), stem


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = fake_folder(tmp_path)
    assert main(["bench", "--dir", str(folder), "--list"]) == 0
    assert capsys.readouterr().out.split() == ["alpha", "beta"]
    assert main(["bench", "--dir", str(folder), "--quick", "alpha"]) == 0
    assert "results in" in capsys.readouterr().out
    assert not (folder / "results").exists()  # quick runs leave the stored results alone
    assert main(["bench", "--dir", str(folder)]) == 1  # beta fails
    captured = capsys.readouterr()
    assert "failed: beta" in captured.err and "refreshed" in captured.out
    assert main(["bench", "--dir", str(tmp_path / "none")]) == 2
    assert main(["bench", "--dir", str(folder), "nosuch"]) == 2
