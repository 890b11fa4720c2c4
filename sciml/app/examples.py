"""The size switch of the example scripts (the sphinx-gallery in ``examples/``).

Every ``examples/plot_*.py`` script runs in one of two configurations, chosen by the
environment variable ``SCIML_EXAMPLE_SIZE``:

``small`` (the default)
    Small data and short training, so that the whole gallery executes within the docs build
    of CI (a minute or less per script on two CPU cores). The numbers it prints are those of
    a brief run, not of a converged model.
``full``
    The configuration of a real study: more samples, larger networks, longer training. It
    takes minutes per script on a laptop CPU and reaches the accuracy the method is capable
    of at that problem size.

Run one script at full size with ``SCIML_EXAMPLE_SIZE=full python examples/plot_fno_darcy.py``,
or the whole gallery with ``SCIML_EXAMPLE_SIZE=full make docs``.
"""

from __future__ import annotations

import os
from typing import Literal

__all__ = ["EXAMPLE_SIZE_VARIABLE", "example_size"]

EXAMPLE_SIZE_VARIABLE = "SCIML_EXAMPLE_SIZE"
"""Name of the environment variable read by :func:`example_size`."""

_SIZES = ("small", "full")


def example_size() -> Literal["small", "full"]:
    """The configuration the example scripts run in, from ``SCIML_EXAMPLE_SIZE``.

    Returns
    -------
    {"small", "full"}
        ``"small"`` when the variable is unset or empty (CI and the docs build), ``"full"``
        when it is set to ``full``. Case and surrounding blanks are ignored.

    Raises
    ------
    ValueError
        If the variable holds anything else (a typo should not silently run the small case).

    Examples
    --------
    >>> import os
    >>> os.environ.pop("SCIML_EXAMPLE_SIZE", None) and None
    >>> example_size()
    'small'
    """
    value = os.environ.get(EXAMPLE_SIZE_VARIABLE, "").strip().lower()
    if value in ("", "small"):
        return "small"
    if value == "full":
        return "full"
    raise ValueError(
        f"{EXAMPLE_SIZE_VARIABLE}={os.environ[EXAMPLE_SIZE_VARIABLE]!r} is not a size of the "
        f"examples; use one of {', '.join(_SIZES)} (or leave it unset for small)"
    )
