"""Helpers shared by the benchmark scripts: machine description, atomic JSON, tables."""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(**extra: Any) -> dict[str, Any]:
    """The ``"machine"`` section of a results file; ``extra`` adds package versions."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_start": list(os.getloadavg()),
        **extra,
    }


def _json_default(obj: Any) -> Any:
    """JSON encoding of NumPy scalars."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)!r}")


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
