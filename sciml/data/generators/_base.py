"""The contract every dataset generator follows, and the registry the CLI reads."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

__all__ = ["GENERATORS", "GeneratedData", "Generator", "finite_float", "positive_int", "register"]


@dataclass
class GeneratedData:
    """Samples of one PDE/ODE dataset, ready to be written by :func:`sciml.data.write_dataset`.

    Attributes
    ----------
    inputs : dict of str to torch.Tensor
        Input functions, each ``(n_samples, ...)`` (e.g. ``"u"``: source at the sensors).
    outputs : dict of str to torch.Tensor
        Solutions, each ``(n_samples, ...)``.
    coords : dict of str to torch.Tensor
        Shared coordinates (sensor locations, grids, dof coordinates), no sample dimension.
    attrs : dict
        Description: ``pde`` (text), the equation's parameters, and anything needed to check
        or reproduce the data (numbers and strings only).
    """

    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor]
    coords: dict[str, Tensor] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Number of samples (the common leading dimension)."""
        first = next(iter({**self.inputs, **self.outputs}.values()))
        return int(first.shape[0])


@dataclass(frozen=True)
class Generator:
    """A registered dataset generator.

    Attributes
    ----------
    name : str
        CLI name (``sciml data generate NAME``).
    fn : callable
        ``fn(n_samples, *, seed, progress, **options) -> GeneratedData``.
    description : str
        One line for ``sciml data list``.
    """

    name: str
    fn: Callable[..., GeneratedData]
    description: str


GENERATORS: dict[str, Generator] = {}


def register(name: str, description: str) -> Callable[[Callable[..., GeneratedData]], Any]:
    """Decorator adding a generator function to :data:`GENERATORS` under ``name``."""

    def decorator(fn: Callable[..., GeneratedData]) -> Callable[..., GeneratedData]:
        if name in GENERATORS:
            raise ValueError(f"generator {name!r} is already registered")
        GENERATORS[name] = Generator(name, fn, description)
        return fn

    return decorator


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming ``name`` if it is not an integer >= minimum."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        as_int = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if as_int < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return as_int


def finite_float(name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` with ``positive``), else a ValueError naming it."""
    what = "a finite number > 0" if positive else "a finite number"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not math.isfinite(as_float) or (positive and as_float <= 0):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return as_float
