"""Run a registered generator in seeded chunks, serially or over worker processes.

The samples are produced in chunks of ``chunk_size``; chunk ``c`` is generated with its own
seed derived from ``(seed, c)``. The chunking, not the number of workers, fixes the random
streams, so a run with ``workers=4`` writes exactly the file a serial run writes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sciml.data.generators import GENERATORS
from sciml.data.generators._base import GeneratedData
from sciml.data.storage import write_dataset

__all__ = ["chunk_seeds", "generate", "generate_dataset"]


def chunk_seeds(seed: int, n_chunks: int) -> list[int]:
    """Independent per-chunk seeds derived from one seed (``numpy.random.SeedSequence``).

    Parameters
    ----------
    seed : int
    n_chunks : int

    Returns
    -------
    list of int
    """
    children = np.random.SeedSequence(seed).spawn(n_chunks)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _run_chunk(name: str, n: int, seed: int, options: dict[str, Any]) -> GeneratedData:
    torch.set_num_threads(1)
    return GENERATORS[name].fn(n, seed=seed, progress=False, **options)


def _concatenate(parts: list[GeneratedData]) -> GeneratedData:
    first = parts[0]
    return GeneratedData(
        inputs={k: torch.cat([p.inputs[k] for p in parts]) for k in first.inputs},
        outputs={k: torch.cat([p.outputs[k] for p in parts]) for k in first.outputs},
        coords=first.coords,
        attrs=first.attrs,
    )


def generate(
    name: str,
    n_samples: int,
    *,
    seed: int = 0,
    chunk_size: int = 32,
    workers: int = 1,
    progress: bool = False,
    **options: Any,
) -> GeneratedData:
    """Generate ``n_samples`` samples of a registered dataset, reproducibly.

    Parameters
    ----------
    name : str
        A key of :data:`sciml.data.GENERATORS`.
    n_samples : int
    seed : int, default 0
    chunk_size : int, default 32
        Samples per seeded chunk (part of the dataset's identity: keep it to reproduce a file).
    workers : int, default 1
        Worker processes; the result does not depend on it.
    progress : bool, default False
        A tqdm bar over chunks with the estimated remaining time.
    **options
        Passed to the generator.

    Returns
    -------
    GeneratedData
        With ``seed``, ``chunk_size`` and the options recorded in ``attrs``.

    Raises
    ------
    KeyError
        For an unknown dataset name (the message lists the known ones).
    ValueError
        For non-positive sizes.
    """
    if name not in GENERATORS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(GENERATORS))}")
    if n_samples < 1 or chunk_size < 1 or workers < 1:
        raise ValueError("n_samples, chunk_size and workers must be positive")
    sizes = [min(chunk_size, n_samples - start) for start in range(0, n_samples, chunk_size)]
    seeds = chunk_seeds(seed, len(sizes))
    bar = tqdm(total=n_samples, desc=f"generating {name}", unit="sample", disable=not progress)
    parts: list[GeneratedData] = []
    if workers == 1:
        for n, s in zip(sizes, seeds, strict=True):
            parts.append(GENERATORS[name].fn(n, seed=s, progress=False, **options))
            bar.update(n)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(_run_chunk, name, n, s, options)
                for n, s in zip(sizes, seeds, strict=True)
            ]
            for future, n in zip(futures, sizes, strict=True):
                parts.append(future.result())
                bar.update(n)
    bar.close()
    data = _concatenate(parts)
    data.attrs.update(
        {
            "generator": name,
            "seed": seed,
            "chunk_size": chunk_size,
            "chunk_seeds_from": "numpy SeedSequence(seed).spawn",
        }
    )
    for key, value in options.items():
        data.attrs[f"option_{key}"] = value
    return data


def generate_dataset(
    name: str,
    out: str | os.PathLike[str],
    *,
    n_train: int,
    n_test: int,
    seed: int = 0,
    chunk_size: int = 32,
    workers: int = 1,
    progress: bool = False,
    **options: Any,
) -> Path:
    """Generate a dataset and write it to HDF5 (training split first, then test).

    Parameters
    ----------
    name : str
    out : str or path-like
    n_train, n_test : int
    seed, chunk_size, workers, progress, **options
        As in :func:`generate`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    start = time.perf_counter()
    data = generate(
        name,
        n_train + n_test,
        seed=seed,
        chunk_size=chunk_size,
        workers=workers,
        progress=progress,
        **options,
    )
    data.attrs["generation_seconds"] = time.perf_counter() - start
    return write_dataset(out, data, n_train=n_train)
