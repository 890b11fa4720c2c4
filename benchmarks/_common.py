"""Helpers shared by the benchmark scripts: machine description, atomic JSON, tables."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml._machine import cpu_model, machine_info  # noqa: F401  (re-exported)


def _json_default(obj: Any) -> Any:
    """JSON encoding of NumPy scalars."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)!r}")


def sync(device: torch.device) -> None:
    """Wait for the queued kernels of a CUDA ``device`` before a clock read (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, allow_nan=False, default=_json_default)
        fh.write("\n")
    os.replace(tmp, path)


def fmt(value: Any, spec: str) -> str:
    """Format a number, or '-' for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def targets_table(targets: list[dict[str, Any]]) -> list[str]:
    """Markdown table of target rows ``{name, measured, target, met}``."""
    lines = ["| target | measured | goal | met |", "|---|---:|---:|---|"]
    for t in targets:
        lines.append(
            f"| {t['name']} | {fmt(t['measured'], '.3g')} | {t['target']} "
            f"| {'yes' if t['met'] else 'no'} |"
        )
    return lines


def solver_rows_table(
    rows: list[dict[str, Any]], key_headers: list[str], key_cells: Any, key_align: list[str]
) -> list[str]:
    """Markdown rows of solver runs: ``key_cells(row)`` then iterations, times and residual.

    ``key_align`` holds the markdown alignment of each key column (``"---"``, ``"---:"``).
    Rows with an ``error`` say so in the iterations column; unconverged runs are marked.
    """
    head = [*key_headers, "solver", "iterations", "setup s", "solve s", "total s", "rel. residual"]
    align = [*key_align, "---", "---:", "---:", "---:", "---:", "---:"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        keys = " | ".join(key_cells(r))
        if "error" in r:
            lines.append(f"| {keys} | {r['solver']} | failed: {r['error']} | | | | |")
            continue
        mark = "" if r["converged"] else " (not converged)"
        lines.append(
            f"| {keys} | {r['solver']} | {r['iterations']}{mark} | {fmt(r['setup_s'], '.3f')} | "
            f"{fmt(r['solve_s'], '.3f')} | {fmt(r['total_s'], '.3f')} | "
            f"{r['relative_residual']:.1e} |"
        )
    return lines


def merge_rows(
    path: Path, rows: list[dict[str, Any]], key: tuple[str, ...] = ("case", "model")
) -> list[dict[str, Any]]:
    """Rows of the results file at ``path`` that ``rows`` do not replace, then ``rows``.

    A row is identified by its ``key`` fields (default ``(case, model)``), so re-running one
    case of a benchmark replaces that case's rows and keeps the others. New rows get a ``date``.
    """
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for r in rows:
        r.setdefault("date", stamp)
    old = json.loads(path.read_text())["results"] if path.exists() else []
    keys = {tuple(r[k] for k in key) for r in rows}
    return [r for r in old if tuple(r[k] for k in key) not in keys] + rows


def results_document(
    name: str,
    config: dict[str, Any],
    results: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    machine_of: Path | None = None,
) -> dict[str, Any]:
    """The JSON document of a benchmark: name, date, machine, config, results, targets.

    With ``machine_of`` (a results file), the machine recorded there is kept, if it exists:
    a run on another machine (a GPU section) merges rows that carry their own ``machine``.
    """
    machine = machine_info()
    if machine_of is not None and machine_of.exists():
        machine = json.loads(machine_of.read_text()).get("machine", machine)
    return {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "config": {**config, "threads": torch.get_num_threads()},
        "results": results,
        "targets": targets,
    }
