"""Atomic output: write into a temporary location, then move the finished files into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_output"]


@contextmanager
def atomic_output(path: Path, comm: Any = None) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` to; move the result into place on success.

    The temporary path has the same name as ``path`` inside a fresh folder next to it, so
    files that refer to their companions by name (XDMF and its ``.h5``) stay consistent. On
    success every file or folder written there is moved next to ``path`` (the companions first,
    ``path`` itself last); on error nothing is moved and the temporary folder is removed.

    Parameters
    ----------
    path : pathlib.Path
        Final location (a file, or a folder such as an ADIOS2 ``.bp``).
    comm : mpi4py.MPI.Comm, optional
        When given, rank 0 creates and moves, every rank sees the same temporary path and all
        ranks synchronise before and after the move.

    Yields
    ------
    pathlib.Path
        Where to write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    rank0 = comm is None or comm.rank == 0
    tmpdir = tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.") if rank0 else None
    if comm is not None:
        tmpdir = comm.bcast(tmpdir, root=0)
    assert tmpdir is not None
    try:
        yield Path(tmpdir) / path.name
        if comm is not None:
            comm.barrier()
        if rank0:
            written = sorted(Path(tmpdir).iterdir(), key=lambda p: p.name == path.name)
            for item in written:
                target = path.parent / item.name
                if target.is_dir() and item.is_dir():
                    shutil.rmtree(target)
                os.replace(item, target)
        if comm is not None:
            comm.barrier()
    finally:
        if rank0:
            shutil.rmtree(tmpdir, ignore_errors=True)
