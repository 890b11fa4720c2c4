"""Workflows that combine the methods: the main job, config-file training runs, benchmarks.

This is the application layer: it sits above the method packages (``sciml.operators``,
``sciml.spon``, ``sciml.dcdm``, ``sciml.constraints``), which never import each other, and is
what the ``sciml`` command line calls. Its modules import their dependencies lazily, so that
``sciml --help`` stays fast.
"""

from sciml.app.examples import EXAMPLE_SIZE_VARIABLE, example_size

__all__ = ["EXAMPLE_SIZE_VARIABLE", "example_size"]
