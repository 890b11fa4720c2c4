"""A description of the machine a figure was measured on (benchmarks, the demo)."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["cpu_model", "machine_info", "torch_threads"]


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo``, else :func:`platform.processor`.

    Returns
    -------
    str
        E.g. ``"AMD EPYC 7B13"``; ``"unknown"`` when nothing says.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(**extra: Any) -> dict[str, Any]:
    """CPU, core count, GPU, torch/NumPy/Python versions and the load average.

    Parameters
    ----------
    **extra
        Further entries (e.g. package versions of peers).

    Returns
    -------
    dict
        JSON-serialisable description.
    """
    import numpy as np
    import torch

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


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` torch CPU threads and restore the previous number after.

    Small networks often run faster on one thread than on several, and much faster when the
    cores are shared with other work; the command line's ``--threads`` options use this.

    Parameters
    ----------
    threads : int or None
        Number of intra-op threads; ``None`` leaves torch's setting alone.

    Yields
    ------
    None

    Raises
    ------
    ValueError
        If ``threads`` is below 1.
    """
    import torch

    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
