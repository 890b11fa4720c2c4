"""Random fields, PDE data generators, HDF5 datasets.

* :func:`rbf_grf_1d`, :func:`periodic_grf`, :func:`fe_grf` -- seeded Gaussian random fields.
* :data:`GENERATORS` -- registered dataset generators (``sciml data list``), run reproducibly
  in seeded chunks by :func:`generate` / :func:`generate_dataset`, serially or in parallel.
* :func:`write_dataset`, :func:`read_dataset`, :class:`H5Dataset`, :class:`Normalizer` --
  one HDF5 file per dataset, written atomically, read lazily as a torch Dataset;
  :class:`DictDataset` -- the same samples from tensors already in memory.
"""

from sciml.data.generate import chunk_seeds, generate, generate_dataset
from sciml.data.generators import GENERATORS, GeneratedData, Generator, register
from sciml.data.grf import fe_grf, periodic_grf, rbf_grf_1d, rbf_kernel
from sciml.data.storage import (
    FORMAT,
    DictDataset,
    H5Dataset,
    Normalizer,
    read_dataset,
    write_dataset,
)

__all__ = [
    "FORMAT",
    "GENERATORS",
    "DictDataset",
    "GeneratedData",
    "Generator",
    "H5Dataset",
    "Normalizer",
    "chunk_seeds",
    "fe_grf",
    "generate",
    "generate_dataset",
    "periodic_grf",
    "rbf_grf_1d",
    "rbf_kernel",
    "read_dataset",
    "register",
    "write_dataset",
]
