"""Dataset generators, each registered by name in :data:`GENERATORS`."""

from sciml.data.generators._base import GENERATORS, GeneratedData, Generator, register

__all__ = ["GENERATORS", "GeneratedData", "Generator", "register"]
