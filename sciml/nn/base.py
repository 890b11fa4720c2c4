"""Modules that remember how they were built, so a checkpoint can rebuild them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["record_init"]


def record_init[M: type[nn.Module]](cls: M) -> M:
    """Class decorator: store the ``__init__`` arguments (with defaults) as ``self.init_args``.

    :class:`sciml.train.Trainer` writes ``init_args`` into checkpoints, and
    ``cls(**checkpoint["model_init"])`` rebuilds the model. Arguments must be plain values
    (numbers, strings, bools, None, and lists/tuples/dicts of them).

    Parameters
    ----------
    cls : type
        An ``nn.Module`` subclass.

    Returns
    -------
    type
        The same class, with a wrapped ``__init__``.
    """
    init: Callable[..., None] = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        init(self, *args, **kwargs)
        if type(self) is cls or not hasattr(self, "init_args"):
            object.__setattr__(self, "init_args", arguments)

    cls.__init__ = wrapped  # type: ignore[method-assign]
    return cls
