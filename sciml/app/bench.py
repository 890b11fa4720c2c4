"""``sciml bench``: run the scripts of ``benchmarks/`` and refresh ``benchmarks/README.md``.

Every benchmark script writes ``benchmarks/results/NAME.json`` (raw figures, the machine and a
``targets`` list of rows ``{name, measured, target, met}``). This module finds the scripts,
runs them (each in its own process, with the interpreter running sciml), reads their results
and keeps a generated block at the top of ``benchmarks/README.md`` -- every target of every
benchmark with its measured value -- in step with the JSON files. The documentation's
Benchmarks page reads the same files through :func:`load_results`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciml._files import atomic_output

__all__ = [
    "BEGIN",
    "END",
    "SUMMARY_BEGIN",
    "SUMMARY_END",
    "TITLES",
    "BenchRun",
    "device_rows_on",
    "find_benchmarks",
    "list_benchmarks",
    "load_results",
    "refresh_readme",
    "run_benchmarks",
    "summary_markdown",
    "targets_markdown",
]

#: Section titles, in the order benchmarks are listed.
TITLES = {
    "linalg": "Sparse linear algebra",
    "fem": "Finite-element assembly",
    "implicit": "Implicit differentiation",
    "data": "Dataset generation",
    "operators": "Operator learning (DeepONet, FNO)",
    "spon": "Structure-preserving operator networks",
    "dcdm": "Deep conjugate direction method (grids)",
    "dcdm_graph": "Deep conjugate direction method (meshes)",
    "pihc_sorption": "Hard constraints: diffusion-sorption",
    "pihc_navier_stokes": "Hard constraints: Navier-Stokes",
    "pihc_fem": "Hard constraints: finite elements",
    "pihc_parallel": "Hard constraints: experts on separate processes",
}

#: Markers of the generated block in ``benchmarks/README.md``.
BEGIN = "<!-- sciml bench: targets (generated from results/*.json; do not edit) -->"
END = "<!-- /sciml bench: targets -->"
#: Markers of the generated per-benchmark summary in the top-level ``README.md``.
SUMMARY_BEGIN = "<!-- sciml bench: summary (generated from benchmarks/results/*.json) -->"
SUMMARY_END = "<!-- /sciml bench: summary -->"


@dataclass(frozen=True)
class BenchRun:
    """The outcome of one benchmark script.

    Attributes
    ----------
    name : str
        Script name without ``.py``.
    returncode : int
        Exit status of the script (0: it ran and wrote its results).
    seconds : float
        Wall time.
    results : pathlib.Path
        The JSON file it was asked to write.
    """

    name: str
    returncode: int
    seconds: float
    results: Path


def find_benchmarks(folder: str | os.PathLike[str] | None = None) -> Path:
    """The ``benchmarks/`` folder of a sciml source checkout.

    Parameters
    ----------
    folder : str or path-like, optional
        Explicit location. Default: ``./benchmarks`` when it holds benchmark scripts, else the
        ``benchmarks/`` folder next to the installed ``sciml`` package (an editable install of a
        clone).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If no folder with benchmark scripts is found (they are not part of the wheel).
    """
    import sciml

    candidates = (
        [Path(folder)]
        if folder is not None
        else [Path.cwd() / "benchmarks", Path(sciml.__file__).resolve().parents[1] / "benchmarks"]
    )
    for candidate in candidates:
        if candidate.is_dir() and list_benchmarks(candidate):
            return candidate.resolve()
    raise FileNotFoundError(
        "no benchmarks/ folder with benchmark scripts found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); the scripts live in a clone of the sciml repository: run from its root or pass "
        "--dir"
    )


def _in_order(names: Iterable[str]) -> list[str]:
    """Benchmark names in the order of ``TITLES``, the others after them alphabetically."""
    order = list(TITLES)
    return sorted(names, key=lambda s: (order.index(s) if s in order else len(order), s))


def list_benchmarks(folder: str | os.PathLike[str]) -> list[str]:
    """Names of the benchmark scripts in ``folder`` (``*.py`` not starting with ``_``).

    Parameters
    ----------
    folder : str or path-like

    Returns
    -------
    list of str
        In the order of ``TITLES``, then alphabetical.
    """
    names = [p.stem for p in Path(folder).glob("*.py") if not p.name.startswith("_")]
    return _in_order(names)


def run_benchmarks(
    folder: str | os.PathLike[str],
    names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
    echo: Callable[[str], None] = print,
) -> list[BenchRun]:
    """Run benchmark scripts one after the other, each in a fresh process.

    Parameters
    ----------
    folder : str or path-like
        The ``benchmarks/`` folder.
    names : sequence of str, optional
        Scripts to run (default: all of :func:`list_benchmarks`).
    quick : bool, default False
        Pass ``--quick`` (smoke-test sizes, seconds to a few minutes per script).
    out_dir : str or path-like, optional
        Where the JSON results go (``--out out_dir/NAME.json``). Default: the scripts' own
        default, ``benchmarks/results/NAME.json`` (replaced atomically by each script).
    echo : callable, default print
        Receives one line per script as it starts and ends.

    Returns
    -------
    list of BenchRun
        One per script, in the order run; a script that fails does not stop the others.

    Raises
    ------
    ValueError
        If a name is not a script in ``folder``.
    """
    folder = Path(folder)
    available = list_benchmarks(folder)
    chosen = available if names is None else list(names)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise ValueError(f"unknown benchmarks {unknown}; available: {available}")
    runs = []
    for i, name in enumerate(chosen, 1):
        results = (Path(out_dir) if out_dir else folder / "results") / f"{name}.json"
        command = [sys.executable, str(folder / f"{name}.py")]
        if quick:
            command.append("--quick")
        if out_dir is not None:
            command += ["--out", str(results)]
        echo(f"[{i}/{len(chosen)}] {name}: {' '.join(command[1:])}")
        start = time.perf_counter()
        code = subprocess.call(command, cwd=folder.parent)
        seconds = time.perf_counter() - start
        echo(f"    {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s")
        runs.append(BenchRun(name, code, seconds, results))
    return runs


def load_results(results: str | os.PathLike[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every ``NAME.json`` of a results folder, in the order of ``TITLES``.

    Parameters
    ----------
    results : str or path-like
        E.g. ``benchmarks/results``.

    Returns
    -------
    list of (str, dict)
        ``(name, document)`` pairs.

    Raises
    ------
    ValueError
        If a file is not readable JSON (its name is in the message).
    """
    results = Path(results)
    stems = _in_order(p.stem for p in results.glob("*.json"))
    documents = []
    for stem in stems:
        try:
            documents.append((stem, json.loads((results / f"{stem}.json").read_text())))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"benchmark results {stem}.json cannot be read: {error}") from error
    return documents


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    if value is None:
        return "-"
    return " ".join(str(value).replace("|", "\\|").split())


def device_rows_on(doc: dict[str, Any]) -> list[str]:
    """The GPUs that rows of a results document ran on (their ``device`` entries).

    A benchmark run on a CPU machine can merge rows measured on a GPU machine (``--device
    cuda``); the document's ``machine`` stays the CPU's and each such row names its device.

    Parameters
    ----------
    doc : dict
        A results document (``benchmarks/results/NAME.json``).

    Returns
    -------
    list of str
        Sorted device names, without ``"cpu"``.

    Examples
    --------
    >>> device_rows_on({"results": [{"device": "NVIDIA H200"}, {"device": "cpu"}, {}]})
    ['NVIDIA H200']
    """
    rows = doc.get("results") or []
    return sorted({str(r["device"]) for r in rows if r.get("device") not in (None, "cpu")})


def _run_on(doc: dict[str, Any], no_gpu: str = "") -> str:
    """``"date, CPU + GPU"`` of a results document (``no_gpu`` appended when it had none)."""
    machine = doc.get("machine") or {}
    gpu = machine.get("gpu")
    head = f"{str(doc.get('date', '?'))[:10]}, {machine.get('cpu', '?')}"
    devices = [d for d in device_rows_on(doc) if d != gpu]
    rows = f"; rows [cuda] on {', '.join(devices)}" if devices else ""
    return head + (f" + {gpu}" if gpu else no_gpu) + rows


def targets_markdown(results: str | os.PathLike[str]) -> str:
    """A Markdown table of every target of every benchmark, with the run's date and machine.

    Parameters
    ----------
    results : str or path-like
        Folder of ``NAME.json`` files.

    Returns
    -------
    str
    """
    lines = [
        "| benchmark | run on | target | measured | goal | met |",
        "|---|---|---|---:|---:|---|",
    ]
    met_total = count = 0
    for stem, doc in load_results(results):
        where = _run_on(doc)
        for target in doc.get("targets") or []:
            lines.append(
                f"| `{stem}.py` | {_cell(where)} | {_cell(target.get('name'))} "
                f"| {_cell(target.get('measured'))} | {_cell(target.get('target'))} "
                f"| {_cell(target.get('met'))} |"
            )
            met_total += bool(target.get("met"))
            count += 1
            where = ""
    lines.append("")
    lines.append(f"{met_total} of {count} targets met.")
    return "\n".join(lines)


def summary_markdown(results: str | os.PathLike[str]) -> str:
    """A Markdown table with one row per benchmark: what it measures and targets met.

    Parameters
    ----------
    results : str or path-like
        Folder of ``NAME.json`` files.

    Returns
    -------
    str
    """
    lines = ["| benchmark | script | targets met | run on |", "|---|---|---:|---|"]
    for stem, doc in load_results(results):
        targets = doc.get("targets") or []
        met = sum(bool(t.get("met")) for t in targets)
        where = _run_on(doc, no_gpu=" (no GPU)")
        lines.append(
            f"| {_cell(TITLES.get(stem, stem))} | `benchmarks/{stem}.py` "
            f"| {met} of {len(targets)} | {_cell(where)} |"
        )
    return "\n".join(lines)


def refresh_readme(
    readme: str | os.PathLike[str], results: str | os.PathLike[str], *, block: str = "targets"
) -> bool:
    """Rewrite a generated block of a README from the benchmark results.

    ``block="targets"`` (``benchmarks/README.md``): every target with its measured value,
    between ``BEGIN`` and ``END``. ``block="summary"`` (the top-level ``README.md``):
    one row per benchmark (:func:`summary_markdown`), between ``SUMMARY_BEGIN`` and
    ``SUMMARY_END``. When the file has no such block, it is inserted after the first
    heading. The file is replaced atomically and only if it changed.

    Parameters
    ----------
    readme : str or path-like
    results : str or path-like
    block : {"targets", "summary"}, default "targets"

    Returns
    -------
    bool
        Whether the file changed.

    Raises
    ------
    FileNotFoundError
        If ``readme`` does not exist.
    ValueError
        If it has one marker without the other.
    """
    if block == "targets":
        begin, end = BEGIN, END
        body = f"## All targets at a glance\n\n{targets_markdown(results)}"
    elif block == "summary":
        begin, end, body = SUMMARY_BEGIN, SUMMARY_END, summary_markdown(results)
    else:
        raise ValueError(f"block must be 'targets' or 'summary', got {block!r}")
    readme = Path(readme)
    text = readme.read_text()
    generated = f"{begin}\n{body}\n{end}"
    has_begin, has_end = begin in text, end in text
    if has_begin != has_end:
        raise ValueError(f"{readme}: one of the generated-block markers is missing")
    if has_begin:
        head, rest = text.split(begin, 1)
        new = head + generated + rest.split(end, 1)[1]
    else:
        lines = text.splitlines(keepends=True)
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
        new = "".join(lines[:at]) + "\n" + generated + "\n" + "".join(lines[at:])
    if new == text:
        return False
    with atomic_output(readme) as tmp:
        tmp.write_text(new)
    return True
