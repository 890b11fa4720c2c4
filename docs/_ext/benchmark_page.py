"""Write ``docs/benchmarks.rst`` from ``benchmarks/results/*.json`` (run by ``conf.py``).

Every results document (see ``benchmarks/_common.py``) gives one section: the machine it ran
on, what it measures (its ``config["description"]``), its targets with the measured values
and whether they were met, and its figure when a PNG of the same name exists. The page is
regenerated at every build, so it always shows the stored results.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sciml._files import atomic_output
from sciml.app.bench import TITLES, device_rows_on, load_results


def _escape(text: str) -> str:
    """Plain text safe inside reStructuredText (no markup, no references)."""
    for char in ("\\", "*", "`", "|", "_"):
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}"
    return _escape(str(value)) if value is not None else "-"


def _section(stem: str, doc: dict[str, Any], results: Path, docs: Path) -> list[str]:
    title = TITLES.get(stem, stem)
    lines = [title, "-" * len(title), ""]
    machine = doc.get("machine") or {}
    gpu = machine.get("gpu") or "none"
    devices = [d for d in device_rows_on(doc) if d != gpu]
    rows = f" Rows marked [cuda] ran on {', '.join(devices)}." if devices else ""
    lines += [
        f"``benchmarks/{stem}.py`` -- run {str(doc.get('date', '?'))[:10]} on "
        f"{machine.get('cpu', '?')} ({machine.get('cores', '?')} cores, torch "
        f"{machine.get('torch', '?')}, GPU: {gpu}).{rows}",
        "",
    ]
    description = (doc.get("config") or {}).get("description")
    if description:
        lines += [" ".join(str(description).split()), ""]
    targets = doc.get("targets") or []
    if targets:
        lines += [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 50 15 20 15",
            "",
            "   * - target",
            "     - measured",
            "     - goal",
            "     - met",
        ]
        for t in targets:
            lines += [
                f"   * - {_cell(t.get('name'))}",
                f"     - {_cell(t.get('measured'))}",
                f"     - {_cell(t.get('target'))}",
                f"     - {_cell(t.get('met'))}",
            ]
        met = sum(bool(t.get("met")) for t in targets)
        lines += ["", f"{met} of {len(targets)} targets met.", ""]
    figure = results / f"{stem}.png"
    if figure.exists():
        rel = os.path.relpath(figure, docs).replace(os.sep, "/")
        lines += [f".. image:: {rel}", f"   :alt: {title}", "   :width: 100%", ""]
    return lines


def render(results: Path, docs: Path) -> str:
    """The reStructuredText of the benchmarks page.

    Parameters
    ----------
    results : Path
        ``benchmarks/results``.
    docs : Path
        The documentation source folder (image paths are relative to it).

    Returns
    -------
    str
    """
    out = [
        "Benchmarks",
        "==========",
        "",
        "Generated from ``benchmarks/results/*.json`` at every documentation build. Each",
        "benchmark compares sciml with its peers in the same run (ratios, not absolute",
        "seconds); the full tables, the commands and the discussion of every figure are in",
        "``benchmarks/README.md``.",
        "",
    ]
    for stem, doc in load_results(results):
        out += _section(stem, doc, results, docs)
    return "\n".join(out).rstrip() + "\n"


def write(results: Path, docs: Path) -> Path:
    """Write ``docs/benchmarks.rst`` if its content changed (atomically); return its path."""
    target = docs / "benchmarks.rst"
    text = render(results, docs)
    if target.exists() and target.read_text() == text:
        return target
    with atomic_output(target) as tmp:
        tmp.write_text(text)
    return target
