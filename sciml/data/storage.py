"""HDF5 datasets: one file per dataset, written atomically, read lazily as a torch Dataset.

File layout (format ``sciml.data/1``)::

    /inputs/<name>        (n_samples, ...)   input functions
    /outputs/<name>       (n_samples, ...)   solutions
    /coords/<name>        (...)              shared coordinates
    /normalizers/<name>/{mean,std}           per-field statistics of the training split
    attrs: format, generator, pde, parameters, seed, n_samples, n_train, n_test,
           sciml_version, created

The first ``n_train`` samples form the training split, the rest the test split.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sciml._files import atomic_output
from sciml.data.generators._base import GeneratedData

__all__ = ["FORMAT", "DictDataset", "H5Dataset", "Normalizer", "read_dataset", "write_dataset"]

FORMAT = "sciml.data/1"
_KINDS = ("inputs", "outputs")


class DictDataset(torch.utils.data.Dataset[dict[str, Tensor]]):
    """Samples ``{name: tensor[i]}`` of tensors already in memory, as a torch ``Dataset``.

    Parameters
    ----------
    tensors : mapping of str to torch.Tensor
        Fields with the samples along the first axis, all of the same length.

    Raises
    ------
    ValueError
        If there are no fields or they hold different numbers of samples.
    """

    def __init__(self, tensors: Mapping[str, Tensor]) -> None:
        if not tensors:
            raise ValueError("DictDataset needs at least one field")
        lengths = {name: int(values.shape[0]) for name, values in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"fields hold different numbers of samples: {lengths}")
        self.tensors = dict(tensors)
        self.n = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {name: values[index] for name, values in self.tensors.items()}


@dataclass(frozen=True)
class Normalizer:
    """Pointwise Gaussian normalisation ``(x - mean) / (std + eps)`` with statistics of a split.

    Attributes
    ----------
    mean, std : torch.Tensor
        Shaped like one sample of the field.
    eps : float
        Guards against division by zero where a field is constant.
    """

    mean: Tensor
    std: Tensor
    eps: float = 1e-8

    @classmethod
    def fit(cls, samples: Tensor) -> Normalizer:
        """Statistics over the sample dimension of ``(n, ...)`` data.

        Parameters
        ----------
        samples : torch.Tensor

        Returns
        -------
        Normalizer
        """
        if samples.shape[0] < 1:
            raise ValueError("cannot fit a normalizer on zero samples")
        return cls(samples.mean(dim=0), samples.std(dim=0, unbiased=False))

    def encode(self, x: Tensor) -> Tensor:
        """Normalise ``x`` (one sample or a batch)."""
        return (x - self.mean.to(x)) / (self.std.to(x) + self.eps)

    def decode(self, z: Tensor) -> Tensor:
        """Undo :meth:`encode`."""
        return z * (self.std.to(z) + self.eps) + self.mean.to(z)


def _as_tensors(kind: str, fields: Mapping[str, Any]) -> dict[str, Tensor]:
    """Fields as CPU tensors (NumPy arrays and nested sequences accepted), with a clear error.

    Booleans and integers pass (e.g. masks of boundary dofs in the coordinates); complex
    numbers and non-numeric arrays do not.
    """
    out = {}
    for name, values in fields.items():
        try:
            tensor = torch.as_tensor(np.asarray(values) if not torch.is_tensor(values) else values)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"{kind}/{name} is not an array of numbers: {error}") from error
        if tensor.is_complex():
            raise TypeError(f"{kind}/{name} has dtype {tensor.dtype}; store real numbers")
        out[name] = tensor.detach().cpu()
    return out


def write_dataset(
    path: str | os.PathLike[str],
    data: GeneratedData,
    *,
    n_train: int | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write a dataset to one HDF5 file, atomically (temporary name, then rename).

    Parameters
    ----------
    path : str or path-like
        Target ``.h5`` file; an existing file is replaced only once the new one is complete.
    data : GeneratedData
        Inputs, outputs, coordinates and attributes (see :mod:`sciml.data.generators`);
        fields may be torch tensors or NumPy arrays.
    n_train : int, optional
        Size of the training split (the first samples); default all samples.
    attrs : mapping, optional
        Extra attributes (numbers, strings, or sequences of them).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If fields disagree on the number of samples, contain NaN/Inf (coordinates included), or
        ``n_train`` is out of range.
    TypeError
        If a field is not an array of real numbers.
    """
    import h5py

    from sciml import __version__

    path = Path(path)
    fields = {kind: _as_tensors(kind, getattr(data, kind)) for kind in (*_KINDS, "coords")}
    data = GeneratedData(fields["inputs"], fields["outputs"], fields["coords"], dict(data.attrs))
    n = data.n_samples
    for kind in _KINDS:
        for name, values in getattr(data, kind).items():
            if values.ndim == 0:
                raise ValueError(f"{kind}/{name} is a scalar; expected {n} samples")
            if values.shape[0] != n:
                raise ValueError(f"{kind}/{name} has {values.shape[0]} samples, expected {n}")
    for kind in (*_KINDS, "coords"):
        for name, values in getattr(data, kind).items():
            if values.is_floating_point() and not bool(torch.isfinite(values).all()):
                raise ValueError(f"{kind}/{name} contains NaN/Inf; refusing to write it")
    n_train = n if n_train is None else int(n_train)
    if not 0 <= n_train <= n:
        raise ValueError(f"n_train must be in [0, {n}], got {n_train}")
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        for key, value in {**data.attrs, **(attrs or {})}.items():
            h5.attrs[key] = value
        # the file's own layout last: a generator's attributes (e.g. the "n_samples" of one
        # chunk) must not overwrite the split sizes the reader relies on
        h5.attrs["format"] = FORMAT
        h5.attrs["sciml_version"] = __version__
        h5.attrs["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        h5.attrs["n_samples"] = n
        h5.attrs["n_train"] = n_train
        h5.attrs["n_test"] = n - n_train
        for kind in _KINDS:
            group = h5.create_group(kind)
            for name, values in getattr(data, kind).items():
                array = values.detach().cpu().numpy()
                chunks = (1, *array.shape[1:]) if array.ndim > 1 else None
                group.create_dataset(name, data=array, chunks=chunks)
        coords = h5.create_group("coords")
        for name, values in data.coords.items():
            coords.create_dataset(name, data=values.detach().cpu().numpy())
        norms = h5.create_group("normalizers")
        if n_train > 0:
            for kind in _KINDS:
                for name, values in getattr(data, kind).items():
                    stats = Normalizer.fit(values[:n_train].to(torch.float64))
                    group = norms.create_group(name)
                    group.create_dataset("mean", data=stats.mean.numpy())
                    group.create_dataset("std", data=stats.std.numpy())
    return path


def _open(path: Path) -> Any:
    import h5py

    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"{path} is not a readable HDF5 file (corrupt or truncated): {error}"
        ) from error
    if h5.attrs.get("format") != FORMAT:
        h5.close()
        raise ValueError(f"{path} is not a sciml dataset (attribute format={FORMAT!r} missing)")
    for kind in (*_KINDS, "coords"):
        if kind not in h5:
            h5.close()
            raise ValueError(f"{path} is incomplete: group {kind!r} missing")
    return h5


def read_dataset(path: str | os.PathLike[str]) -> GeneratedData:
    """Read a whole dataset into memory.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    GeneratedData
        With every attribute of the file in ``attrs``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable sciml dataset.
    """
    with _open(Path(path)) as h5:
        try:
            fields = {
                kind: {name: torch.from_numpy(ds[()]) for name, ds in h5[kind].items()}
                for kind in (*_KINDS, "coords")
            }
        except OSError as error:
            raise ValueError(f"{path}: corrupt data ({error})") from error
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
    return GeneratedData(fields["inputs"], fields["outputs"], fields["coords"], attrs)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class H5Dataset(torch.utils.data.Dataset[dict[str, Tensor]]):
    """A split of an HDF5 dataset as a torch ``Dataset``, read lazily sample by sample.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`write_dataset`.
    split : {"train", "test", "all"}, default "train"
    fields : sequence of str, optional
        Input/output names to return (default all of them).
    normalize : bool, default False
        Return fields encoded with the normalisers stored in the file (training-split
        statistics); :meth:`normalizer` gives the matching decoder.
    dtype : torch.dtype, default torch.float32
        Dtype of the returned samples.
    preload : bool, default False
        Read the split into memory once (normalised and cast) instead of sample by sample:
        faster for datasets that fit in memory.

    Notes
    -----
    The HDF5 file is opened on first access in each process, so the dataset can be used with
    ``DataLoader(num_workers > 0)``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str = "train",
        *,
        fields: Sequence[str] | None = None,
        normalize: bool = False,
        dtype: torch.dtype = torch.float32,
        preload: bool = False,
    ) -> None:
        self.path = Path(path)
        with _open(self.path) as h5:
            n_train = int(h5.attrs["n_train"])
            n_samples = int(h5.attrs["n_samples"])
            available = {name: kind for kind in _KINDS for name in h5[kind]}
            self.attrs = {key: _plain(value) for key, value in h5.attrs.items()}
            self.coords = {name: torch.from_numpy(ds[()]) for name, ds in h5["coords"].items()}
            self._normalizers = {
                name: Normalizer(torch.from_numpy(g["mean"][()]), torch.from_numpy(g["std"][()]))
                for name, g in h5["normalizers"].items()
            }
        ranges = {"train": (0, n_train), "test": (n_train, n_samples), "all": (0, n_samples)}
        if split not in ranges:
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        self.start, self.stop = ranges[split]
        names = list(available) if fields is None else list(fields)
        unknown = [f for f in names if f not in available]
        if unknown:
            raise KeyError(f"{self.path} has no field(s) {unknown}; available: {sorted(available)}")
        if normalize and split != "all" and not self._normalizers:
            raise ValueError(f"{self.path} stores no normalizers (empty training split)")
        self.fields = {name: available[name] for name in names}
        self.normalize = normalize
        self.dtype = dtype
        self._h5: Any = None
        self._memory: dict[str, Tensor] | None = None
        if preload:
            with _open(self.path) as h5:
                self._memory = {
                    name: self._prepare(
                        name, torch.from_numpy(h5[kind][name][self.start : self.stop])
                    )
                    for name, kind in self.fields.items()
                }

    def _prepare(self, name: str, value: Tensor) -> Tensor:
        if self.normalize:
            value = self._normalizers[name].encode(value.to(torch.float64))
        return value.to(self.dtype)

    def __len__(self) -> int:
        return self.stop - self.start

    def normalizer(self, name: str) -> Normalizer:
        """The stored normaliser of a field (training-split statistics).

        Parameters
        ----------
        name : str

        Returns
        -------
        Normalizer
        """
        try:
            return self._normalizers[name]
        except KeyError:
            raise KeyError(f"no normalizer stored for {name!r}") from None

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a split of {len(self)} samples")
        if self._memory is not None:
            return {name: values[index] for name, values in self._memory.items()}
        if self._h5 is None:
            self._h5 = _open(self.path)
        i = self.start + (index % len(self))
        return {
            name: self._prepare(name, torch.from_numpy(self._h5[kind][name][i]))
            for name, kind in self.fields.items()
        }

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"] = None  # file handles do not travel to worker processes
        return state

    def __del__(self) -> None:
        if getattr(self, "_h5", None) is not None:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                self._h5.close()
