"""Training runs described by a config file, and the evaluation of their checkpoints.

The engine of ``sciml train CONFIG`` and ``sciml evaluate CHECKPOINT``. A config file is TOML
(``.toml``), YAML (``.yaml``/``.yml``, needs PyYAML) or JSON (``.json``, e.g. the ``run.json``
a run writes) with three sections:

.. code-block:: toml

    [data]                        # a dataset file, or a generator run into the output folder
    generator = "antiderivative"  # or: path = "data.h5" (relative to the config file)
    n_train = 200
    n_test = 50
    input = "u"                   # names of dataset fields
    output = "s"

    [model]
    kind = "deeponet"             # "fno", "deeponet" or "spon", plus constructor arguments

    [train]                       # fields of sciml.train.TrainConfig
    epochs = 100

``[data]``
    ``input``, ``output`` (required): fields of the dataset. Exactly one of ``path`` (an
    existing sciml HDF5 dataset; relative to the config file) and ``generator`` (a key of
    :data:`sciml.data.GENERATORS`) with ``n_train``, ``n_test`` (required, >= 1), ``seed``
    (0), ``chunk_size`` (32) and ``options`` (a table of generator options, checked against
    the generator's signature). A generated dataset is written to ``<out_dir>/dataset.h5`` and
    reused by later runs while these settings are unchanged (else regenerated). ``normalize``
    (default true, except for spon): pointwise normalisation with training statistics.
    ``boundary`` (spon only; default ``"g"`` when the dataset has it): the field of Dirichlet
    values. ``points`` (deeponet only; default found from the shapes): the coordinate(s) of
    the query points.
``[model]``
    ``kind`` (required) and keyword arguments of :class:`sciml.operators.FNO`,
    :class:`sciml.operators.DeepONet` or :class:`sciml.spon.SPON` (checked against their
    signatures). What is not given is derived from the data: FNO channels and ``modes`` (up
    to :data:`FNO_MODES`, half the grid at most; an int is used in every spatial dimension),
    DeepONet ``branch_sizes`` ``[m, 40, p]``, ``trunk_sizes`` ``[d, 40, 40]`` and
    ``num_outputs``, SPON's finite-element space (rebuilt from the dataset's geometry), ``bcs``
    (every facet marker) and ``input_scale``/``output_scale`` (training standard deviations).
    DeepONet's ``pod_basis`` takes the number of POD modes of the training outputs.
``[train]`` (optional)
    Fields of :class:`sciml.train.TrainConfig` except ``extra``, type-checked (an int is
    accepted for a float). ``out_dir`` defaults to ``runs/<config stem>``; a relative one is
    relative to the working folder.

:func:`load_config` reads and validates a file into a :class:`RunConfig`;
:func:`train_from_config` builds data, model and a relative-L2 step function (in physical
units: predictions and targets are decoded through the normalisers), trains with
:class:`sciml.train.Trainer` and writes the run folder; :func:`evaluate_checkpoint` rebuilds
the model from a checkpoint and measures the per-sample relative L2 error on a dataset split.

Everything a checkpoint needs to be evaluated again -- model kind, field names, dataset, for
SPON the geometry of the finite-element space -- is recorded in it, under
``config["extra"]["run"]`` (the :class:`~sciml.train.TrainConfig` ``extra`` field).

This module imports torch, h5py, matplotlib and dolfinx only inside its functions.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import os
import re
import time
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor, nn

    from sciml.data import DictDataset
    from sciml.train import TrainConfig

__all__ = [
    "MODEL_KINDS",
    "ConfigError",
    "DataConfig",
    "Evaluation",
    "ModelConfig",
    "RunConfig",
    "TrainResult",
    "evaluate_checkpoint",
    "load_config",
    "train_from_config",
]

#: Model kinds of the ``[model]`` section.
MODEL_KINDS = ("fno", "deeponet", "spon")

#: Version tag of the run record stored in checkpoints.
RUN_FORMAT = "sciml.app.run/1"

#: Config file suffixes and their formats.
SUFFIXES = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}

#: Default Fourier modes per dimension of an FNO (capped at half the grid size).
FNO_MODES = 12

#: Default hidden width of the DeepONet branch and trunk nets (the paper's antiderivative net).
DEEPONET_WIDTH = 40

#: Name of a generated dataset inside the run folder.
DATASET_FILE = "dataset.h5"

#: SPON's default ``[data] boundary`` when the dataset has it (the Dirichlet data of
#: ``poisson_meshes``).
SPON_BOUNDARY = "g"

_DATA_KEYS = {
    "path": "an existing sciml HDF5 dataset (relative to the config file)",
    "generator": "a dataset generator (`sciml data list`), run into the output folder",
    "n_train": "training samples to generate",
    "n_test": "test samples to generate",
    "seed": "seed of the generator",
    "chunk_size": "samples per seeded chunk of the generator",
    "options": "generator options",
    "input": "field fed to the model",
    "output": "field the model predicts",
    "normalize": "pointwise Gaussian normalisation of input and output (not for spon)",
    "boundary": "spon: the field holding the Dirichlet values",
    "points": "deeponet: the coordinate(s) of the query points",
}
_GENERATOR_KEYS = ("n_train", "n_test", "seed", "chunk_size", "options")
_TRAIN_RESERVED = ("extra",)  # set by train_from_config (the run record)
#: ``fail(key, message[, section])``: the exception to raise for a bad key (builders' errors)
_Fail = Callable[..., Exception]

# constructor arguments that the data decide, per kind (not accepted in [model])
_DERIVED = {"fno": (), "deeponet": (), "spon": ("input_space", "output_space", "processor")}


class ConfigError(ValueError):
    """An invalid run configuration; the message names the file, the section and the key."""


# ------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class DataConfig:
    """The ``[data]`` section.

    Attributes
    ----------
    input, output : str
        Dataset fields (inputs or outputs of the file) fed to and predicted by the model.
    path : pathlib.Path or None
        An existing dataset file (absolute); exclusive with ``generator``.
    generator : str or None
        A key of :data:`sciml.data.GENERATORS`; the dataset is written to
        ``<out_dir>/dataset.h5`` and reused while its settings stay the same.
    n_train, n_test : int
        Split sizes of a generated dataset.
    seed, chunk_size : int
        As in :func:`sciml.data.generate`.
    options : dict
        Generator options.
    normalize : bool or None
        Encode input and output with the pointwise statistics of the training split (the
        model sees normalised values, losses and errors are computed in physical units).
        None: True for ``fno`` and ``deeponet``, False for ``spon`` (which scales its data
        itself with ``input_scale`` / ``output_scale``).
    boundary : str or None
        SPON only: the field with the Dirichlet values (full dof vectors); default ``"g"``
        when the dataset has it, else zero Dirichlet values.
    points : tuple of str or None
        DeepONet only: coordinate(s) of the dataset giving the query points (one ``(N, d)``
        array, or ``d`` arrays shaped like the output grid); default found from the shapes.
    """

    input: str
    output: str
    path: Path | None = None
    generator: str | None = None
    n_train: int = 0
    n_test: int = 0
    seed: int = 0
    chunk_size: int = 32
    options: dict[str, Any] = field(default_factory=dict)
    normalize: bool | None = None
    boundary: str | None = None
    points: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelConfig:
    """The ``[model]`` section.

    Attributes
    ----------
    kind : {"fno", "deeponet", "spon"}
    options : dict
        Constructor arguments of :class:`sciml.operators.FNO`,
        :class:`sciml.operators.DeepONet` or :class:`sciml.spon.SPON`; those not given are
        derived from the data (channels, modes, sensor count, widths, the FE space, scales).
    """

    kind: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration (see :func:`load_config`).

    Attributes
    ----------
    data : DataConfig
    model : ModelConfig
    train : sciml.train.TrainConfig
        ``out_dir`` is absolute; ``extra`` is empty (train_from_config fills it).
    source : pathlib.Path or None
        The config file, if read from one.
    text : str or None
        Its text, copied into the run folder.
    """

    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    source: Path | None = None
    text: str | None = None

    @classmethod
    def from_dict(
        cls,
        raw: Mapping[str, Any],
        *,
        source: str | os.PathLike[str] | None = None,
        text: str | None = None,
    ) -> RunConfig:
        """Validate parsed sections (as read from a config file).

        Parameters
        ----------
        raw : mapping
            ``{"data": {...}, "model": {...}, "train": {...}}``; ``train`` is optional.
        source : str or path-like, optional
            The file they come from: relative dataset paths are resolved against its folder,
            the default ``out_dir`` is ``runs/<its stem>``, and error messages name it.
        text : str, optional
            The file's text, copied into the run folder by :func:`train_from_config`.

        Returns
        -------
        RunConfig

        Raises
        ------
        ConfigError
            For unknown sections or keys, wrong types or values, or an unknown model kind or
            generator; the message names the file, the section and the key.
        FileNotFoundError
            If ``[data] path`` does not exist.
        """
        where = str(source) if source is not None else "<config>"
        src = Path(source).resolve() if source is not None else None
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected sections [data], [model], [train]")
        unknown = sorted(set(raw) - {"data", "model", "train"})
        if unknown:
            raise ConfigError(
                f"{where}: unknown section(s) {unknown}; valid sections: [data], [model], [train]"
            )
        for name in ("data", "model"):
            if name not in raw:
                raise ConfigError(f"{where}: section [{name}] is missing")
        sections = {name: _section(raw, name, where) for name in ("data", "model", "train")}
        model = _parse_model(sections["model"], where)
        data = _parse_data(sections["data"], model.kind, where, src)
        stem = src.stem if src is not None else "run"
        train = _parse_train(sections["train"], where, default_out=Path("runs") / stem)
        return cls(data, model, train, src, text)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain sections (``json``-serialisable, absolute paths).

        Returns
        -------
        dict
        """
        data = {
            key: value
            for key, value in dataclasses.asdict(self.data).items()
            if value is not None and not (self.data.path is not None and key in _GENERATOR_KEYS)
        }
        if self.data.path is not None:
            data["path"] = str(self.data.path)
        if self.data.points is not None:
            data["points"] = list(self.data.points)
        train = {k: v for k, v in dataclasses.asdict(self.train).items() if v is not None}
        train.pop("extra", None)
        return {
            "data": data,
            "model": {"kind": self.model.kind, **self.model.options},
            "train": train,
        }


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read and validate a run config file.

    The format follows the suffix: ``.toml`` (:mod:`tomllib`), ``.yaml``/``.yml`` (PyYAML's
    safe loader, also reading ``1e-3`` as a number) or ``.json`` (the ``run.json`` record a
    run writes, which reproduces it).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    RunConfig

    Raises
    ------
    FileNotFoundError
        If the config file or the dataset file it names does not exist.
    ConfigError
        For an unknown suffix, a syntax error, or an invalid section or key (see
        :meth:`RunConfig.from_dict`).
    ImportError
        For a YAML file without PyYAML installed.
    """
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(
            f"{path}: unknown config format {path.suffix!r}; use .toml, .yaml/.yml (needs "
            "PyYAML) or .json"
        )
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    raw: Any
    if kind == "toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from error
    elif kind == "yaml":
        raw = _load_yaml(text, path)
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: invalid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected sections [data], [model], [train] at the top level")
    return RunConfig.from_dict(raw, source=path, text=text)


# YAML 1.1 (PyYAML) reads 1e-3 and 1.0e3 as strings: they need a dot and a signed exponent
_YAML_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


@functools.cache
def _yaml_loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """The safe loader, with exponent-only floats such as ``1e-3``."""

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_FLOAT, list("-+0123456789."))
    return Loader


def _load_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError as error:
        raise ImportError(
            f"{path}: reading a YAML config needs PyYAML: `pip install pyyaml`, or write the "
            "config as TOML"
        ) from error
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from error


def _section(raw: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table of keys, got {value!r}")
    return dict(value)


def _fail(where: str, section: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: [{section}] {key}: {message}")


def _check_keys(
    values: Mapping[str, Any], accepted: Sequence[str], where: str, section: str, what: str = ""
) -> None:
    unknown = sorted(set(values) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{where}: [{section}] unknown key(s) {unknown}{what}; accepted: "
            f"{', '.join(sorted(accepted))}"
        )


def _integer(where: str, section: str, key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, section, key, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _name(where: str, section: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, section, key, f"must be a non-empty string, got {value!r}")
    return value


def _parse_data(raw: dict[str, Any], kind: str, where: str, source: Path | None) -> DataConfig:
    _check_keys(raw, list(_DATA_KEYS), where, "data")
    for key in ("input", "output"):
        if key not in raw:
            raise _fail(where, "data", key, "missing (the name of a dataset field)")
    names = {key: _name(where, "data", key, raw[key]) for key in ("input", "output")}
    if ("path" in raw) == ("generator" in raw):
        raise ConfigError(f"{where}: [data] needs exactly one of `path` and `generator`")
    normalize = raw.get("normalize")
    if normalize is not None and not isinstance(normalize, bool):
        raise _fail(where, "data", "normalize", f"must be true or false, got {normalize!r}")
    if kind == "spon" and normalize:
        raise _fail(
            where,
            "data",
            "normalize",
            "spon scales its data itself (input_scale, output_scale); set normalize = false",
        )
    boundary = raw.get("boundary")
    if boundary is not None:
        if kind != "spon":
            raise _fail(where, "data", "boundary", f"only used by spon, not {kind}")
        boundary = _name(where, "data", "boundary", boundary)
    points: tuple[str, ...] | None = None
    if "points" in raw:
        if kind != "deeponet":
            raise _fail(where, "data", "points", f"only used by deeponet, not {kind}")
        value = raw["points"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise _fail(where, "data", "points", f"must be a name or a list of names: {value!r}")
        points = tuple(items)
    common: dict[str, Any] = {
        **names,
        "normalize": normalize,
        "boundary": boundary,
        "points": points,
    }
    if "path" in raw:
        extra = sorted(set(raw) & set(_GENERATOR_KEYS))
        if extra:
            raise ConfigError(f"{where}: [data] {extra} only go with `generator`, not `path`")
        path = Path(_name(where, "data", "path", raw["path"])).expanduser()
        if not path.is_absolute():
            path = (source.parent if source is not None else Path.cwd()) / path
        path = path.resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{where}: [data] path: dataset file not found: {path}")
        return DataConfig(path=path, **common)

    from sciml.data import GENERATORS

    generator = _name(where, "data", "generator", raw["generator"])
    if generator not in GENERATORS:
        raise _fail(
            where,
            "data",
            "generator",
            f"unknown generator {generator!r}; known: {', '.join(sorted(GENERATORS))}",
        )
    for key in ("n_train", "n_test"):
        if key not in raw:
            raise _fail(where, "data", key, "missing (needed with `generator`)")
    options = raw.get("options", {})
    if not isinstance(options, Mapping):
        raise _fail(where, "data", "options", f"must be a table of options, got {options!r}")
    accepted = [
        name
        for name in inspect.signature(GENERATORS[generator].fn).parameters
        if name not in ("n_samples", "seed", "progress")
    ]
    _check_keys(options, accepted, where, "data", f" in options of generator {generator!r}")
    return DataConfig(
        generator=generator,
        n_train=_integer(where, "data", "n_train", raw["n_train"], 1),
        n_test=_integer(where, "data", "n_test", raw["n_test"], 1),
        seed=_integer(where, "data", "seed", raw.get("seed", 0), 0),
        chunk_size=_integer(where, "data", "chunk_size", raw.get("chunk_size", 32), 1),
        options=dict(options),
        **common,
    )


def _model_class(kind: str) -> type[nn.Module]:
    if kind == "fno":
        from sciml.operators import FNO

        return FNO
    if kind == "deeponet":
        from sciml.operators import DeepONet

        return DeepONet
    from sciml.spon import SPON

    return SPON


def _accepted_model_keys(kind: str) -> list[str]:
    parameters = inspect.signature(_model_class(kind)).parameters
    return [name for name in parameters if name not in _DERIVED[kind]]


def _parse_model(raw: dict[str, Any], where: str) -> ModelConfig:
    if "kind" not in raw:
        raise _fail(where, "model", "kind", f"missing; one of {', '.join(MODEL_KINDS)}")
    kind = raw.pop("kind")
    if kind not in MODEL_KINDS:
        raise _fail(where, "model", "kind", f"unknown {kind!r}; one of {', '.join(MODEL_KINDS)}")
    _check_keys(raw, _accepted_model_keys(kind), where, "model", f" for kind {kind!r}")
    return ModelConfig(kind, raw)


def _train_fields() -> dict[str, Any]:
    from sciml.train import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as the annotated type (int -> float allowed), or a TypeError."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                try:
                    return _coerce(value, arg)
                except TypeError:
                    continue
        raise TypeError(f"expected {hint}, got {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(f"expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _parse_train(raw: dict[str, Any], where: str, default_out: Path) -> TrainConfig:
    from sciml.train import TrainConfig

    hints = _train_fields()
    accepted = [name for name in hints if name not in _TRAIN_RESERVED]
    _check_keys(raw, accepted, where, "train", " (fields of sciml.train.TrainConfig)")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            values[key] = _coerce(value, hints[key])
        except TypeError as error:
            raise _fail(where, "train", key, str(error)) from None
    out = values.get("out_dir") or default_out
    values["out_dir"] = str(Path(out).expanduser().resolve())  # relative: to the working folder
    try:
        return TrainConfig(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: [train] {error}") from error


# ------------------------------------------------------------------------------ data
def _prepare_dataset(run: RunConfig, out_dir: Path, progress: bool) -> Path:
    """The dataset file of a run: the given one, or a generated one in ``out_dir``.

    A generated dataset is reused when ``out_dir/dataset.h5`` exists and was written with the
    same generator settings (recorded in its ``sciml_run_data`` attribute); otherwise it is
    (re)generated and written atomically.
    """
    d = run.data
    if d.path is not None:
        return d.path
    assert d.generator is not None
    spec = {
        "generator": d.generator,
        "n_train": d.n_train,
        "n_test": d.n_test,
        "seed": d.seed,
        "chunk_size": d.chunk_size,
        "options": d.options,
    }
    key = json.dumps(spec, sort_keys=True)
    target = out_dir / DATASET_FILE
    if target.is_file() and _stored_spec(target) == key:
        return target

    from sciml.data import generate, write_dataset

    start = time.perf_counter()
    try:
        data = generate(
            d.generator,
            d.n_train + d.n_test,
            seed=d.seed,
            chunk_size=d.chunk_size,
            progress=progress,
            **d.options,
        )
    except (TypeError, ValueError, KeyError) as error:
        where = str(run.source) if run.source else "<config>"
        raise ConfigError(f"{where}: [data] generator {d.generator!r} failed: {error}") from error
    attrs = {
        "generation_seconds": time.perf_counter() - start,
        "sciml_run_data": key,
    }
    return write_dataset(target, data, n_train=d.n_train, attrs=attrs)


def _stored_spec(path: Path) -> str | None:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("sciml_run_data")
    except OSError:
        return None
    return value if isinstance(value, str) else None


@dataclass
class _Fields:
    """The fields of a run read from a dataset file, split, in float64."""

    path: Path
    train: dict[str, Tensor]
    test: dict[str, Tensor]
    coords: dict[str, Tensor]
    attrs: dict[str, Any]

    def split(self, name: str) -> dict[str, Tensor]:
        if name == "train":
            return self.train
        if name == "test":
            return self.test
        return {k: _cat(self.train[k], self.test[k]) for k in self.train}


def _cat(a: Tensor, b: Tensor) -> Tensor:
    import torch

    return torch.cat([a, b])


def _select(data: Any, path: Path, names: Mapping[str, str], where: str) -> _Fields:
    """The named fields (``{role: field}``) of a dataset read by :func:`read_dataset`, split."""
    import torch

    available = {**data.inputs, **data.outputs}
    chosen: dict[str, Tensor] = {}
    for role, name in names.items():
        if name not in available:
            raise ValueError(
                f"{where}: {role} {name!r}: the dataset {path} has no such field; available: "
                f"{', '.join(sorted(available))}"
            )
        chosen[name] = available[name].to(torch.float64)
    n_train = int(data.attrs["n_train"])
    rows = {int(v.shape[0]) for v in chosen.values()}
    if len(rows) != 1 or not 0 <= n_train <= min(rows):
        raise ValueError(f"{path}: inconsistent sample counts {sorted(rows)}, n_train={n_train}")
    return _Fields(
        path,
        {k: v[:n_train] for k, v in chosen.items()},
        {k: v[n_train:] for k, v in chosen.items()},
        dict(data.coords),
        dict(data.attrs),
    )


# ------------------------------------------------------------------------------ problem
@dataclass
class _Problem:
    """How a model of one kind consumes a batch of dataset fields, and how errors are taken."""

    kind: str
    input: str
    output: str
    boundary: str | None
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    normalizers: dict[str, Any] = field(default_factory=dict)
    points: Tensor | None = None
    point_names: tuple[str, ...] | None = None
    fno_spatial: int = 0
    space: Any = None
    geometry: dict[str, Any] | None = None

    def encode(self, fields: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Model-side float32 tensors of the fields (normalised where a normaliser exists)."""
        import torch

        out = {}
        for name, values in fields.items():
            norm = self.normalizers.get(name)
            out[name] = (norm.encode(values) if norm is not None else values).to(torch.float32)
        return out

    def physical(self, name: str, values: Tensor) -> Tensor:
        norm = self.normalizers.get(name)
        return norm.decode(values) if norm is not None else values

    def predict(self, model: nn.Module, batch: Mapping[str, Tensor]) -> Tensor:
        """The model's output for a batch, shaped like the output field (model units)."""
        x = batch[self.input]
        if self.kind == "fno":  # channels last in the data, first in the model
            s = self.fno_spatial
            y = model(x.movedim(-1, 1) if len(self.input_shape) > s else x.unsqueeze(1))
            return y.movedim(1, -1) if len(self.output_shape) > s else y.squeeze(1)
        if self.kind == "deeponet":
            assert self.points is not None
            y = model(x.flatten(1), self.points.to(device=x.device, dtype=x.dtype))
            return y.reshape(x.shape[0], *self.output_shape)
        g = batch[self.boundary] if self.boundary is not None else None
        return model(x, g)

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor]) -> Tensor:
        """Mean relative L2 error in physical units (the step function of the run)."""
        from sciml.train import relative_l2

        pred = self.physical(self.output, self.predict(model, batch))
        return relative_l2(pred, self.physical(self.output, batch[self.output]))

    def errors(self, model: nn.Module, data: DictDataset, batch_size: int) -> tuple[Tensor, Tensor]:
        """Per-sample relative L2 errors and the predictions (physical units) of a split."""
        import torch

        from sciml.train import relative_l2_per_sample

        model.eval()
        errors, preds = [], []
        with torch.no_grad():
            for start in range(0, len(data), batch_size):
                batch = {k: v[start : start + batch_size] for k, v in data.tensors.items()}
                pred = self.physical(self.output, self.predict(model, batch))
                ref = self.physical(self.output, batch[self.output])
                errors.append(relative_l2_per_sample(pred, ref))
                preds.append(pred)
        return torch.cat(errors), torch.cat(preds)


def _sample_shape(fields: _Fields, name: str) -> tuple[int, ...]:
    return tuple(int(s) for s in fields.train[name].shape[1:])


def _normalizers(fields: _Fields, names: Sequence[str]) -> dict[str, Any]:
    from sciml.data import Normalizer

    return {name: Normalizer.fit(fields.train[name]) for name in names}


def _spatial_dims(in_shape: tuple[int, ...], out_shape: tuple[int, ...], modes: Any) -> int:
    if isinstance(modes, list | tuple):
        return len(modes)
    return min(len(in_shape), len(out_shape))


def _build_fno(
    options: dict[str, Any], fields: _Fields, problem: _Problem, fail: _Fail
) -> tuple[nn.Module, dict[str, Any]]:
    from sciml.operators import FNO

    in_shape, out_shape = problem.input_shape, problem.output_shape
    s = _spatial_dims(in_shape, out_shape, options.get("modes"))
    if s < 1 or len(in_shape) - s not in (0, 1) or len(out_shape) - s not in (0, 1):
        raise fail(
            "modes",
            f"cannot read input {in_shape} and output {out_shape} samples as fields on a grid "
            f"with {s} spatial dimension(s) (and at most one trailing channel axis)",
        )
    if in_shape[:s] != out_shape[:s]:
        raise fail("modes", f"input grid {in_shape[:s]} and output grid {out_shape[:s]} differ")
    grid = in_shape[:s]
    derived = {
        "in_channels": in_shape[s] if len(in_shape) > s else 1,
        "out_channels": out_shape[s] if len(out_shape) > s else 1,
        "modes": [max(1, min(FNO_MODES, n // 2)) for n in grid],
    }
    if isinstance(options.get("modes"), int):
        options["modes"] = [options["modes"]] * s
    for key in ("in_channels", "out_channels"):
        if key in options and options[key] != derived[key]:
            raise fail(key, f"the data have {derived[key]} {key.replace('_', ' ')}")
    resolved = {**derived, **options}
    problem.fno_spatial = s
    return FNO(**resolved), resolved


def _find_points(
    fields: _Fields, out_shape: tuple[int, ...], names: tuple[str, ...] | None, fail: _Fail
) -> tuple[tuple[str, ...], Tensor, int]:
    """Query points ``(N, d)`` for DeepONet, their coordinate names and the output count."""
    import torch

    coords = {k: v for k, v in fields.coords.items() if v.is_floating_point()}
    candidates = [(out_shape, 1)]
    if len(out_shape) > 1:
        candidates.append((out_shape[:-1], out_shape[-1]))

    def stack(chosen: Sequence[str]) -> Tensor:
        arrays = [coords[n] for n in chosen]
        if len(arrays) == 1 and arrays[0].ndim == 2:
            return arrays[0]
        if any(a.shape != arrays[0].shape for a in arrays):
            raise fail("points", f"coordinates {list(chosen)} differ in shape")
        return torch.stack([a.reshape(-1) for a in arrays], dim=1)

    if names is not None:
        missing = [n for n in names if n not in coords]
        if missing:
            raise fail(
                "points", f"no coordinate(s) {missing}; available: {', '.join(sorted(coords))}"
            )
        points = stack(names)
        for grid, outputs in candidates:
            if points.shape[0] == math.prod(grid):
                return names, points, outputs
        raise fail(
            "points", f"{points.shape[0]} points do not match output samples of shape {out_shape}"
        )
    for grid, outputs in candidates:
        shaped = sorted(n for n, v in coords.items() if tuple(v.shape) == grid)
        if shaped:
            return tuple(shaped), stack(shaped), outputs
        listed = sorted(
            n for n, v in coords.items() if v.ndim == 2 and v.shape[0] == math.prod(grid)
        )
        if len(listed) == 1:
            return tuple(listed), coords[listed[0]], outputs
    raise fail(
        "points",
        f"cannot tell the query points of output samples of shape {out_shape} from the "
        f"coordinates {sorted(coords)}; name them in [data] points",
    )


def _build_deeponet(
    options: dict[str, Any], fields: _Fields, problem: _Problem, fail: _Fail
) -> tuple[nn.Module, dict[str, Any]]:
    from sciml.operators import DeepONet, pod_basis

    names, points, outputs = _find_points(
        fields, problem.output_shape, problem.point_names, lambda k, m: fail(k, m, "data")
    )
    problem.point_names, problem.points = names, points.float()
    m = math.prod(problem.input_shape)
    d = int(points.shape[1])
    if options.get("num_outputs", outputs) != outputs:
        raise fail("num_outputs", f"the output field has {outputs} component(s)")
    options["num_outputs"] = outputs
    pod = options.pop("pod_basis", None)
    width = DEEPONET_WIDTH
    basis: Any = None
    if pod is not None:
        if isinstance(pod, bool) or not isinstance(pod, int) or pod < 1:
            raise fail("pod_basis", f"give the number of POD modes (an integer), got {pod!r}")
        if "trunk_sizes" in options or "trunk_features" in options:
            raise fail("pod_basis", "POD modes replace the trunk: drop trunk_sizes/features")
        n_points = math.prod(problem.output_shape) // outputs
        train = problem.encode({problem.output: fields.train[problem.output]})[problem.output]
        train = train.reshape(train.shape[0], n_points, outputs).squeeze(-1)
        try:
            basis = pod_basis(train, pod)
        except ValueError as error:
            raise fail("pod_basis", str(error)) from None
        p = pod
        options["trunk_sizes"] = None
    else:
        if "trunk_features" in options and "trunk_sizes" not in options:
            raise fail("trunk_sizes", "give trunk_sizes with trunk_features (its input size)")
        options.setdefault("trunk_sizes", [d, width, width])
        trunk = options["trunk_sizes"]
        if not isinstance(trunk, list) or len(trunk) < 2:
            raise fail("trunk_sizes", f"must be a list of at least two widths, got {trunk!r}")
        if "trunk_features" not in options and trunk[0] != d:
            raise fail("trunk_sizes", f"must start with the query dimension {d}, got {trunk!r}")
        p = trunk[-1]
    options.setdefault("branch_sizes", [m, width, 1 if options.get("stacked") else p])
    branch = options["branch_sizes"]
    if not isinstance(branch, list) or len(branch) < 2 or branch[0] != m:
        raise fail("branch_sizes", f"must be a list starting with the {m} sensors, got {branch!r}")
    model = DeepONet(**options, pod_basis=basis)
    resolved = {**options, **({"pod_basis": pod} if pod is not None else {})}
    if pod is not None:
        resolved.pop("trunk_sizes")
    return model, resolved


def _fe_geometry(attrs: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Plain description of the FE space of a dataset, from which it can be rebuilt."""
    generator = attrs.get("generator")
    if generator == "poisson_meshes":
        return {"mesh": attrs["mesh"], "level": int(attrs["level"]), "degree": int(attrs["degree"])}
    if generator == "darcy":
        return {"unit_square": int(attrs["resolution"]), "degree": 1}
    raise ValueError(
        f"spon needs a finite-element dataset whose mesh can be rebuilt (generators "
        f"poisson_meshes or darcy); {path} comes from {generator!r}"
    )


def _fe_space(geometry: Mapping[str, Any], fields: _Fields) -> Any:
    """Rebuild the FE space of ``geometry`` and check it against the dataset's dofs."""
    import numpy as np

    from sciml.fem import FunctionSpace

    if "mesh" in geometry:
        from sciml.data.generators.fe_poisson import mesh_path
        from sciml.mesh import load

        mesh = load(mesh_path(geometry["mesh"], geometry["level"]))
    else:
        from sciml.mesh import unit_square

        mesh = unit_square(geometry["unit_square"])
    space = FunctionSpace(mesh, "Lagrange", geometry["degree"])
    stored = fields.coords.get("dof_coordinates")
    if stored is not None:
        ours = space.dof_coordinates
        if stored.shape != ours.shape or not np.allclose(stored.numpy(), ours, atol=1e-10):
            raise ValueError(
                f"the finite-element space rebuilt from {dict(geometry)} does not match the dof "
                f"coordinates of {fields.path} (was the mesh changed since?)"
            )
    return space


def _build_spon(
    options: dict[str, Any], fields: _Fields, problem: _Problem, fail: _Fail
) -> tuple[nn.Module, dict[str, Any]]:
    from sciml.data.generators.fe_poisson import boundary_markers
    from sciml.spon import SPON

    geometry = _fe_geometry(fields.attrs, fields.path)
    space = _fe_space(geometry, fields)
    problem.space, problem.geometry = space, geometry
    for role, shape in (("input", problem.input_shape), ("output", problem.output_shape)):
        if shape != (space.num_dofs,):
            raise fail(role, f"spon needs dof vectors ({space.num_dofs},), got {shape}", "data")
    bcs = options.get("bcs", boundary_markers(space.mesh))
    if isinstance(bcs, str):
        bcs = [bcs]
    if not isinstance(bcs, list) or not all(isinstance(b, str) for b in bcs):
        raise fail("bcs", f"must be boundary marker name(s), got {bcs!r}")
    options["bcs"] = bcs
    options.setdefault("input_scale", float(fields.train[problem.input].std()))
    options.setdefault("output_scale", float(fields.train[problem.output].std()))
    return SPON(space, space, **options), options


_BUILDERS = {"fno": _build_fno, "deeponet": _build_deeponet, "spon": _build_spon}


def _problem(
    kind: str,
    names: Mapping[str, Any],
    fields: _Fields,
    normalize: bool,
    point_names: tuple[str, ...] | None = None,
) -> _Problem:
    problem = _Problem(
        kind=kind,
        input=names["input"],
        output=names["output"],
        boundary=names.get("boundary"),
        input_shape=_sample_shape(fields, names["input"]),
        output_shape=_sample_shape(fields, names["output"]),
        point_names=point_names,
    )
    if normalize:
        problem.normalizers = _normalizers(fields, [problem.input, problem.output])
    return problem


# ------------------------------------------------------------------------------ training
@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_from_config` wrote and measured.

    Attributes
    ----------
    out_dir : pathlib.Path
        The run folder.
    checkpoint, history_file : pathlib.Path
        ``checkpoint.pt`` and ``history.json``.
    loss_plot : pathlib.Path or None
        ``loss.png`` (None after zero epochs).
    config_copy : pathlib.Path or None
        The config file's text, as ``config.<suffix>`` (None for a config not read from a file).
    run_file : pathlib.Path
        ``run.json``: the resolved configuration (derived defaults included); a valid config
        file that reproduces the run.
    dataset : pathlib.Path
        The dataset trained on.
    history : list of dict
        One record per epoch (``train_loss``, ``test_loss`` at evaluations, ``lr``, ...).
    seconds : float
        Wall time of data preparation and training.
    """

    out_dir: Path
    checkpoint: Path
    history_file: Path
    loss_plot: Path | None
    config_copy: Path | None
    run_file: Path
    dataset: Path
    history: list[dict[str, Any]]
    seconds: float

    @property
    def train_loss(self) -> float | None:
        """Mean relative L2 training error of the last epoch (None after zero epochs)."""
        return float(self.history[-1]["train_loss"]) if self.history else None

    @property
    def test_loss(self) -> float | None:
        """Mean relative L2 test error after the last epoch (None after zero epochs)."""
        return float(self.history[-1]["test_loss"]) if self.history else None


def _write_text(path: Path, text: str) -> Path:
    from sciml._files import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _build_run(run: RunConfig, dataset: Path) -> tuple[_Fields, _Problem, nn.Module, RunConfig]:
    """Fields, problem and model (seeded by ``[train] seed``) of a run, and the resolved config
    (derived defaults filled in)."""
    import torch

    from sciml.data import read_dataset

    where = str(run.source) if run.source is not None else "<config>"
    d, kind = run.data, run.model.kind
    raw = read_dataset(dataset)
    roles = {"[data] input": d.input, "[data] output": d.output}
    boundary = d.boundary
    if kind == "spon" and boundary is None and SPON_BOUNDARY in raw.inputs:
        boundary = SPON_BOUNDARY
    if boundary is not None:
        roles["[data] boundary"] = boundary
    fields = _select(raw, dataset, roles, where)
    if len(fields.test[d.input]) == 0:
        raise ValueError(f"{where}: the dataset {dataset} has an empty test split")
    normalize = (kind != "spon") if d.normalize is None else d.normalize
    names = {"input": d.input, "output": d.output, "boundary": boundary}
    problem = _problem(kind, names, fields, normalize, d.points)

    def fail(key: str, message: str, section: str = "model") -> ConfigError:
        return _fail(where, section, key, message)

    torch.manual_seed(run.train.seed)
    try:
        model, options = _BUILDERS[kind](dict(run.model.options), fields, problem, fail)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: [model] {kind}: {error}") from error
    data = dataclasses.replace(
        d, normalize=normalize, boundary=boundary, points=problem.point_names
    )
    resolved = dataclasses.replace(run, data=data, model=ModelConfig(kind, options))
    return fields, problem, model, resolved


def train_from_config(
    config: RunConfig | str | os.PathLike[str],
    *,
    progress: bool | None = None,
    device: str | None = None,
) -> TrainResult:
    """Train the run a config describes and write its folder.

    The folder (``[train] out_dir``) receives the generated dataset (``dataset.h5``, with a
    ``generator``), the config's text (``config.toml``/``.yaml``), ``run.json`` (the resolved
    configuration), and from :class:`~sciml.train.Trainer` ``checkpoint.pt``,
    ``history.json`` and ``loss.png``. The model is initialised from ``[train] seed``; the loss
    is the mean relative L2 error of the predictions in physical units (decoded through the
    normalisers), which is also the ``test_loss`` of the history.

    Parameters
    ----------
    config : RunConfig, str or path-like
        A configuration, or a config file for :func:`load_config`.
    progress : bool, optional
        Progress bars of generation and training; default ``[train] progress``.
    device : str, optional
        Torch device of the training (default: CUDA when available, else the CPU).

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        For an invalid configuration, a generator failure, or model arguments the data or the
        constructor reject (the message names the file, the section and the key).
    FileNotFoundError
        For a missing config or dataset file.
    ValueError
        If the dataset lacks a named field, has an empty test split, or does not suit the
        model kind.
    """
    from sciml.data import DictDataset
    from sciml.train import Trainer

    start = time.perf_counter()
    run = config if isinstance(config, RunConfig) else load_config(config)
    assert run.train.out_dir is not None
    out_dir = Path(run.train.out_dir)
    show = run.train.progress if progress is None else progress
    dataset = _prepare_dataset(run, out_dir, show)
    fields, problem, model, resolved = _build_run(run, dataset)
    config_copy = None
    if run.source is not None and run.text is not None:
        config_copy = _write_text(out_dir / f"config{run.source.suffix.lower()}", run.text)
    record = {
        "format": RUN_FORMAT,
        "kind": problem.kind,
        "dataset": str(dataset),
        "dataset_in_run": run.data.path is None,  # generated into the run folder: moves with it
        "input": problem.input,
        "output": problem.output,
        "boundary": problem.boundary,
        "points": list(problem.point_names) if problem.point_names else None,
        "normalize": bool(problem.normalizers),
        "input_shape": list(problem.input_shape),
        "output_shape": list(problem.output_shape),
        "fno_spatial": problem.fno_spatial,
        "spon": {"geometry": problem.geometry, "options": resolved.model.options}
        if problem.kind == "spon"
        else None,
        "config": resolved.to_dict(),
    }
    record = json.loads(json.dumps(record))  # plain values only (checkpoints load weights_only)
    run_file = _write_text(out_dir / "run.json", json.dumps(resolved.to_dict(), indent=2))
    train_config = dataclasses.replace(
        run.train, out_dir=str(out_dir), progress=show, extra={"run": record}
    )
    train_set = DictDataset(problem.encode(fields.train))
    test_set = DictDataset(problem.encode(fields.test))
    trainer = Trainer(
        model,
        problem.loss,
        train_config,
        train_set,
        test_set,
        normalizers=problem.normalizers,
        device=device,
    )
    history = trainer.fit()
    plot = out_dir / "loss.png"
    return TrainResult(
        out_dir=out_dir,
        checkpoint=out_dir / "checkpoint.pt",
        history_file=out_dir / "history.json",
        loss_plot=plot if history else None,
        config_copy=config_copy,
        run_file=run_file,
        dataset=dataset,
        history=history,
        seconds=time.perf_counter() - start,
    )


# ------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class Evaluation:
    """Errors of a checkpoint on a dataset split (relative L2 per sample, physical units).

    Attributes
    ----------
    checkpoint, dataset : pathlib.Path
    split : str
    errors : tuple of float
        One per sample of the split, in order.
    mean, median, max : float
    sample : int
        Index (in the split) of the sample shown in the plot: the one of median error.
    plot : pathlib.Path
        PNG comparing prediction and reference for that sample, next to the checkpoint.
    recorded_test_loss : float or None
        The last ``test_loss`` of the checkpoint's history, for comparison.
    """

    checkpoint: Path
    dataset: Path
    split: str
    errors: tuple[float, ...]
    mean: float
    median: float
    max: float
    sample: int
    plot: Path
    recorded_test_loss: float | None


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    split: str = "test",
    device: str = "cpu",
) -> Evaluation:
    """Rebuild a model from a :func:`train_from_config` checkpoint and measure its errors.

    Parameters
    ----------
    checkpoint : str or path-like
        ``checkpoint.pt``, or the run folder holding it.
    data : str or path-like, optional
        A dataset with the same fields (and sample shapes) as the run's; default the dataset
        recorded in the checkpoint. Normalisation uses the checkpoint's (training) statistics.
    split : {"test", "train", "all"}, default "test"
    device : str, default "cpu"
        Torch device for the predictions.

    Returns
    -------
    Evaluation
        With the per-sample errors and the path of ``evaluation_<split>.png`` (its name has
        the dataset's stem when ``data`` is another file).

    Raises
    ------
    FileNotFoundError
        If the checkpoint or the dataset does not exist.
    ValueError
        If the checkpoint is unreadable or was not written by :func:`train_from_config`, or the
        dataset's fields or shapes do not match the model, or the split is empty.
    """
    import numpy as np

    from sciml.data import DictDataset
    from sciml.train import load_checkpoint

    path = Path(checkpoint).resolve()
    if path.is_dir():
        path = path / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    record = (ckpt.get("config") or {}).get("extra", {}).get("run")
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise ValueError(f"{path} was not written by train_from_config (no run record)")
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    recorded = Path(record["dataset"])
    if record.get("dataset_in_run"):
        recorded = path.parent / DATASET_FILE
    dataset = Path(data).resolve() if data is not None else recorded
    if not dataset.is_file():
        raise FileNotFoundError(f"dataset file not found: {dataset}")
    where = f"{path} on {dataset}"
    kind = record["kind"]
    roles = {"input": record["input"], "output": record["output"]}
    if record.get("boundary"):
        roles["boundary"] = record["boundary"]
    from sciml.data import read_dataset

    fields = _select(read_dataset(dataset), dataset, roles, where)
    names = {"input": record["input"], "output": record["output"], "boundary": record["boundary"]}
    points = tuple(record["points"]) if record.get("points") else None
    problem = _problem(kind, names, fields, normalize=False, point_names=points)
    _check_shapes(problem, record, where)
    problem.normalizers = {
        name: _normalizer(stats) for name, stats in (ckpt.get("normalizers") or {}).items()
    }
    problem.fno_spatial = int(record.get("fno_spatial", 0))
    model = _rebuild(ckpt, record, fields, problem, where)
    model.load_state_dict(ckpt["model_state"])
    model.to(device)
    samples = DictDataset({k: v.to(device) for k, v in problem.encode(fields.split(split)).items()})
    if len(samples) == 0:
        raise ValueError(f"{where}: the {split} split is empty")
    batch = int(ckpt["config"].get("batch_size", 32))
    errors, preds = problem.errors(model, samples, batch)
    values = errors.double().cpu().numpy()
    order = np.argsort(values, kind="stable")
    sample = int(order[(len(order) - 1) // 2])
    reference = problem.physical(problem.output, samples.tensors[problem.output][sample])
    stem = "" if dataset == recorded else f"{dataset.stem}_"
    plot = _plot(
        problem,
        fields,
        reference.cpu(),
        preds[sample].cpu(),
        path.parent / f"evaluation_{stem}{split}.png",
        f"{kind}: {split} sample {sample}, the median one (relative L2 error "
        f"{values[sample]:.2e}; mean over {len(values)} samples {values.mean():.2e})",
    )
    history = ckpt.get("history") or []
    tests = [h["test_loss"] for h in history if "test_loss" in h]
    return Evaluation(
        checkpoint=path,
        dataset=dataset,
        split=split,
        errors=tuple(float(v) for v in values),
        mean=float(values.mean()),
        median=float(np.median(values)),
        max=float(values.max()),
        sample=sample,
        plot=plot,
        recorded_test_loss=float(tests[-1]) if tests else None,
    )


def _normalizer(stats: Mapping[str, Tensor]) -> Any:
    from sciml.data import Normalizer

    return Normalizer(stats["mean"], stats["std"])


def _check_shapes(problem: _Problem, record: Mapping[str, Any], where: str) -> None:
    """The dataset's samples must be shaped as in training (an unnormalised FNO may change
    its grid, not its channels)."""
    for role in ("input", "output"):
        want = tuple(record[f"{role}_shape"])
        got = getattr(problem, f"{role}_shape")
        if got == want:
            continue
        spatial = int(record.get("fno_spatial", 0))
        regrid = (
            record["kind"] == "fno"
            and not record["normalize"]
            and len(got) == len(want)
            and got[spatial:] == want[spatial:]
        )
        if not regrid:
            raise ValueError(
                f"{where}: field {record[role]!r} has samples of shape {got}, the model was "
                f"trained on {want}"
            )


def _rebuild(
    ckpt: Mapping[str, Any],
    record: Mapping[str, Any],
    fields: _Fields,
    problem: _Problem,
    where: str,
) -> nn.Module:
    from sciml.spon import SPON

    kind = record["kind"]
    cls = _model_class(kind)
    expected = f"{cls.__module__}.{cls.__qualname__}"
    if ckpt.get("model_class") != expected:
        raise ValueError(f"{where}: model class {ckpt.get('model_class')!r}, expected {expected}")
    if kind == "deeponet":
        _, points, _ = _find_points(
            fields,
            problem.output_shape,
            problem.point_names,
            lambda key, message: ValueError(f"{where}: {key}: {message}"),
        )
        problem.points = points.float()
    if kind == "spon":
        problem.geometry = dict(record["spon"]["geometry"])
        problem.space = _fe_space(problem.geometry, fields)
        n = problem.space.num_dofs
        if problem.input_shape != (n,) or problem.output_shape != (n,):
            raise ValueError(f"{where}: the fields are not dof vectors of the model's space")
        return SPON(problem.space, problem.space, **record["spon"]["options"])
    init = ckpt.get("model_init")
    if not isinstance(init, dict):
        raise ValueError(f"{where}: the checkpoint records no model_init")
    return cls(**init)


# ------------------------------------------------------------------------------ plots
def _plot(
    problem: _Problem,
    fields: _Fields,
    reference: Tensor,
    prediction: Tensor,
    path: Path,
    title: str,
) -> Path:
    """Reference against prediction for one sample: lines (1-D), images (2-D grids), the FE
    mesh (spon, 2-D), a scatter of scattered 2-D points, else a parity plot."""
    import matplotlib.tri as mtri
    import numpy as np
    from matplotlib.figure import Figure

    from sciml._files import atomic_output

    ref = reference.double().numpy()
    pred = prediction.double().numpy()
    channels = problem.kind == "fno" and len(problem.output_shape) > problem.fno_spatial
    channels = channels or (
        problem.kind == "deeponet"
        and problem.points is not None
        and math.prod(problem.output_shape) != problem.points.shape[0]
    )
    grid = ref.shape[:-1] if channels else ref.shape
    ref2 = ref.reshape(*grid, -1)
    pred2 = pred.reshape(*grid, -1)
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    triangulation = None
    if problem.kind == "spon" and problem.space.mesh.gdim == 2:
        x = problem.space.dof_coordinates
        cells = np.asarray(problem.space.dolfinx_space.dofmap.list)
        if cells.shape[1] in (3, 6):  # triangles (P1, P2): their vertex dofs come first
            triangulation = mtri.Triangulation(x[:, 0], x[:, 1], cells[:, :3])
    elif problem.kind == "deeponet" and problem.points is not None:
        pts = problem.points.double().numpy()
        if pts.shape[1] == 2 and len(grid) == 1:
            triangulation = mtri.Triangulation(pts[:, 0], pts[:, 1])
    extent = _grid_extent(fields, grid) if len(grid) == 2 else None
    if triangulation is not None or len(grid) == 2:
        axes = fig.subplots(1, 3)
        panels = [(ref2[..., 0], "reference"), (pred2[..., 0], "prediction")]
        panels.append((np.abs(pred2[..., 0] - ref2[..., 0]), "|error|"))
        for ax, (values, name) in zip(axes, panels, strict=True):
            if triangulation is not None:
                art = ax.tripcolor(triangulation, values, shading="gouraud")
                ax.set_aspect("equal")
            else:
                art = ax.imshow(values.T, origin="lower", extent=extent)
            ax.set_title(name)
            fig.colorbar(art, ax=ax, shrink=0.8)
    elif len(grid) == 1:
        ax = fig.subplots()
        xs, label = _line_coordinate(problem, fields, grid[0])
        for c in range(ref2.shape[-1]):
            suffix = f" [{c}]" if ref2.shape[-1] > 1 else ""
            ax.plot(xs, ref2[:, c], color=f"C{c}", label=f"reference{suffix}")
            ax.plot(xs, pred2[:, c], "--", color=f"C{c}", label=f"prediction{suffix}")
        ax.set_xlabel(label)
        ax.legend()
    else:
        ax = fig.subplots()
        ax.plot(ref.reshape(-1), pred.reshape(-1), ".", markersize=2)
        bounds = [float(ref.min()), float(ref.max())]
        ax.plot(bounds, bounds, "k-", linewidth=0.8)
        ax.set_xlabel("reference")
        ax.set_ylabel("prediction")
    fig.suptitle(title)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return path


def _grid_extent(fields: _Fields, grid: tuple[int, ...]) -> tuple[float, ...] | None:
    """``(x0, x1, y0, y1)`` of a 2-D grid from two coordinates shaped like it, if any."""
    axes = [v for _, v in sorted(fields.coords.items()) if tuple(v.shape) == grid]
    axes = [v for v in axes if v.is_floating_point()]
    if len(axes) < 2:
        return None
    return (float(axes[0].min()), float(axes[0].max()), float(axes[1].min()), float(axes[1].max()))


def _line_coordinate(problem: _Problem, fields: _Fields, n: int) -> tuple[Any, str]:
    """Abscissa of a 1-D output and its name: the query points, a coordinate, or the index."""
    import numpy as np

    if problem.points is not None and problem.points.shape[1] == 1:
        return problem.points[:, 0].double().numpy(), ", ".join(problem.point_names or ())
    for name in sorted(fields.coords):
        values = fields.coords[name]
        if values.is_floating_point() and tuple(values.shape) == (n,):
            return values.double().numpy(), name
    return np.arange(n), "index"
