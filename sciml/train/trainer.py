"""One training loop for every method: configuration, checkpoints, exact resume, DDP, AMP.

The loop is method-agnostic: a ``step_fn(model, batch) -> loss`` says how a batch is turned
into a scalar loss; :func:`supervised` builds the common one. Everything else -- optimiser and
schedule, gradient clipping, evaluation every ``eval_every`` epochs, progress bars (rank 0),
metrics history (JSON) and loss-curve plot, atomic checkpoints and bit-exact resume, data
parallelism under ``torchrun`` (gloo on CPU, NCCL on GPU), bf16 autocast on GPU -- is here.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from sciml._files import atomic_output
from sciml.train.losses import relative_l2

__all__ = ["TrainConfig", "Trainer", "load_checkpoint", "plot_history", "supervised"]

StepFn = Callable[[nn.Module, Any], Tensor]
Metric = Callable[[nn.Module, Any], Mapping[str, float | Tensor]]


@dataclass
class TrainConfig:
    """Settings of a training run (stored in every checkpoint).

    Attributes
    ----------
    epochs : int
        Number of passes over the training data.
    batch_size : int
        Global batch size (split evenly over the processes of a distributed run).
    lr, weight_decay : float
        Optimiser settings.
    optimizer : {"adam", "adamw", "sgd"}
    scheduler : {"none", "cosine", "step"}
        ``cosine`` anneals to 0 over all epochs; ``step`` multiplies by ``gamma`` every
        ``step_size`` epochs.
    step_size : int
    gamma : float
    grad_clip : float or None
        Clip the global gradient norm to this value.
    eval_every : int
        Evaluate on the test data every this many epochs (and after the last).
    checkpoint_every : int
        Write ``checkpoint.pt`` every this many epochs (0: only at the end).
    amp : bool
        bf16 autocast on CUDA (ignored on CPU).
    seed : int
        Seeds model-independent randomness: data order and the torch/NumPy/Python RNGs.
    out_dir : str or None
        Where ``checkpoint.pt``, ``history.json`` and ``loss.png`` go (None: nowhere).
    progress : bool
        tqdm progress bar (rank 0 only).
    num_workers : int
        DataLoader worker processes.
    """

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    scheduler: str = "none"
    step_size: int = 100
    gamma: float = 0.5
    grad_clip: float | None = None
    eval_every: int = 1
    checkpoint_every: int = 0
    amp: bool = False
    seed: int = 0
    out_dir: str | None = None
    progress: bool = True
    num_workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("epochs >= 0, batch_size >= 1 and eval_every >= 1 are required")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ValueError(f"optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        if self.scheduler not in ("none", "cosine", "step"):
            raise ValueError(f"scheduler must be none, cosine or step, got {self.scheduler!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr}")


def supervised(
    input_key: str, output_key: str, loss: Callable[[Tensor, Tensor], Tensor] = relative_l2
) -> StepFn:
    """Step function for ``loss(model(batch[input_key]), batch[output_key])``.

    Parameters
    ----------
    input_key, output_key : str
        Keys of the batch dictionaries (e.g. fields of a :class:`sciml.data.H5Dataset`).
    loss : callable, default :func:`relative_l2`

    Returns
    -------
    callable
        ``step_fn(model, batch) -> loss``.
    """

    def step(model: nn.Module, batch: Mapping[str, Tensor]) -> Tensor:
        return loss(model(batch[input_key]), batch[output_key])

    return step


def _rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


def _world() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to(v, device) for v in batch)
    return batch


class Trainer:
    """Train a model with a step function on a dataset.

    Parameters
    ----------
    model : torch.nn.Module
        If it has an ``init_args`` attribute (a dict of plain values), the checkpoint records it
        so that :func:`load_checkpoint` can rebuild the model.
    step_fn : callable
        ``step_fn(model, batch) -> scalar loss``; see :func:`supervised`.
    config : TrainConfig
    train_data : torch.utils.data.Dataset
    test_data : torch.utils.data.Dataset, optional
    metrics : callable, optional
        ``metrics(model, batch) -> {name: value}`` averaged over the test data at each
        evaluation (default: the step function's loss as ``test_loss``).
    normalizers : mapping, optional
        Objects with ``mean``/``std`` tensors (e.g. :class:`sciml.data.Normalizer`) to store in
        the checkpoints next to the weights.
    device : torch.device or str, optional
        Default: the local CUDA device when available (``LOCAL_RANK`` under torchrun), else CPU.

    Notes
    -----
    Under ``torchrun`` (or after ``torch.distributed.init_process_group``) the model is wrapped
    in ``DistributedDataParallel`` and every process sees ``batch_size / world_size`` samples
    per step. Data order comes from ``DistributedSampler`` in every run, including
    single-process ones, so a run on ``P`` processes takes the same global batches as a run on
    one (exactly, when the dataset size is a multiple of the batch size).
    """

    def __init__(
        self,
        model: nn.Module,
        step_fn: StepFn,
        config: TrainConfig,
        train_data: Dataset[Any],
        test_data: Dataset[Any] | None = None,
        *,
        metrics: Metric | None = None,
        normalizers: Mapping[str, Any] | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.config = config
        world = _world()
        if config.batch_size % world:
            raise ValueError(
                f"batch_size {config.batch_size} is not divisible by {world} processes"
            )
        if device is None:
            local = int(os.environ.get("LOCAL_RANK", 0))
            device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.module = model
        if torch.distributed.is_initialized():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.module, device_ids=ids)
        self.step_fn = step_fn
        self.metrics = metrics
        self.normalizers = dict(normalizers or {})
        self.train_data = train_data
        self.test_data = test_data
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler()
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.sampler: DistributedSampler[Any] = DistributedSampler(
            train_data, num_replicas=world, rank=_rank(), shuffle=True, seed=config.seed
        )
        self.loader = DataLoader(
            train_data,
            batch_size=config.batch_size // world,
            sampler=self.sampler,
            num_workers=config.num_workers,
            drop_last=False,
        )

    # ------------------------------------------------------------------ setup
    def _make_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        params = self.module.parameters()
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(params, lr=c.lr, weight_decay=c.weight_decay, momentum=0.9)

    def _make_scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        c = self.config
        if c.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, max(c.epochs, 1))
        if c.scheduler == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, c.step_size, c.gamma)
        return None

    @property
    def out_dir(self) -> Path | None:
        """Output folder, or None."""
        return Path(self.config.out_dir) if self.config.out_dir else None

    # ------------------------------------------------------------------ loop
    def fit(
        self, resume: str | os.PathLike[str] | None = None, *, until: int | None = None
    ) -> list[dict[str, Any]]:
        """Train until ``config.epochs``; optionally resume from a checkpoint first.

        Parameters
        ----------
        resume : str or path-like, optional
            A ``checkpoint.pt`` written by this class: model, optimiser, scheduler, epoch,
            history and every RNG state are restored, so the run continues exactly as if it
            had not stopped (bit for bit on the CPU). Resume with the same configuration: the
            learning-rate schedule depends on ``epochs``.
        until : int, optional
            Stop after this epoch (default ``config.epochs``) and write the checkpoint, as a
            scheduled interruption; a later ``fit(resume=...)`` continues the same run.

        Returns
        -------
        list of dict
            The metrics history, one entry per epoch.
        """
        c = self.config
        if resume is not None:
            self.load_state(resume)
        else:
            _seed_everything(c.seed)
        main = _rank() == 0
        bar = tqdm(
            total=c.epochs,
            initial=self.epoch,
            desc="training",
            unit="epoch",
            disable=not (c.progress and main),
        )
        last = c.epochs if until is None else min(until, c.epochs)
        while self.epoch < last:
            start = time.perf_counter()
            self.sampler.set_epoch(self.epoch)
            train_loss = self._train_epoch()
            self.epoch += 1
            record: dict[str, Any] = {
                "epoch": self.epoch,
                "train_loss": train_loss,
                "lr": self.optimizer.param_groups[0]["lr"],
            }
            if self.scheduler is not None:
                self.scheduler.step()
            if self.test_data is not None and (
                self.epoch % c.eval_every == 0 or self.epoch == last
            ):
                record.update(self.evaluate())
            record["seconds"] = time.perf_counter() - start
            self.history.append(record)
            bar.update(1)
            bar.set_postfix(
                {k: f"{v:.3e}" for k, v in record.items() if "loss" in k or "error" in k}
            )
            if main and self.out_dir is not None:
                self._write_history()
                if c.checkpoint_every and self.epoch % c.checkpoint_every == 0:
                    self.save_checkpoint(self.out_dir / "checkpoint.pt")
        bar.close()
        if main and self.out_dir is not None:
            self.save_checkpoint(self.out_dir / "checkpoint.pt")
            self._write_history()
            if self.history:
                plot_history(self.history, self.out_dir / "loss.png")
        return self.history

    def _autocast(self) -> Any:
        enabled = self.config.amp and self.device.type == "cuda"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _train_epoch(self) -> float:
        self.model.train()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        steps = 0
        for batch in self.loader:
            batch = _to(batch, self.device)
            self.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss = self.step_fn(self.model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {float(loss)} at epoch {self.epoch + 1}: lower the learning "
                    "rate, enable grad_clip, or check the data for NaN/Inf"
                )
            loss.backward()
            if self.config.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.module.parameters(), self.config.grad_clip)
            self.optimizer.step()
            total += loss.detach().to(torch.float64)
            steps += 1
        if torch.distributed.is_initialized():
            torch.distributed.all_reduce(total)
            total /= _world()
        return float(total) / max(steps, 1)

    @torch.no_grad()
    def evaluate(self, data: Dataset[Any] | None = None) -> dict[str, float]:
        """Average the metrics (or the loss) over a dataset (default the test data).

        Parameters
        ----------
        data : torch.utils.data.Dataset, optional

        Returns
        -------
        dict of str to float
        """
        data = self.test_data if data is None else data
        if data is None:
            return {}
        self.model.eval()
        loader = DataLoader(data, batch_size=self.config.batch_size, shuffle=False)
        sums: dict[str, float] = {}
        count = 0
        for batch in loader:
            batch = _to(batch, self.device)
            n = len(next(iter(batch.values()))) if isinstance(batch, Mapping) else len(batch[0])
            with self._autocast():
                values = (
                    self.metrics(self.module, batch)
                    if self.metrics is not None
                    else {"test_loss": self.step_fn(self.module, batch)}
                )
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + float(value) * n
            count += n
        return {key: value / max(count, 1) for key, value in sums.items()}

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the model and resume exactly (plain, tensor-only)."""
        return {
            "format": "sciml.train/1",
            "model_class": f"{type(self.module).__module__}.{type(self.module).__qualname__}",
            "model_init": getattr(self.module, "init_args", None),
            "model_state": self.module.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict() if self.scheduler else None,
            "epoch": self.epoch,
            "config": asdict(self.config),
            "history": self.history,
            "normalizers": {
                name: {"mean": n.mean, "std": n.std} for name, n in self.normalizers.items()
            },
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": _numpy_state(),
                "python": list(random.getstate()[1]),
                "python_version": random.getstate()[0],
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`state` atomically to ``path``.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        with atomic_output(path) as tmp:
            torch.save(self.state(), tmp)
        return path

    def load_state(self, path: str | os.PathLike[str]) -> None:
        """Restore model, optimiser, scheduler, epoch, history and RNG states from a checkpoint.

        Parameters
        ----------
        path : str or path-like
        """
        ckpt = load_checkpoint(path)
        self.module.load_state_dict(ckpt["model_state"])
        self.optimizer.load_state_dict(ckpt["optimizer_state"])
        if self.scheduler is not None and ckpt["scheduler_state"] is not None:
            self.scheduler.load_state_dict(ckpt["scheduler_state"])
        self.epoch = int(ckpt["epoch"])
        self.history = list(ckpt["history"])
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(  # noqa: NPY002 - the global NumPy RNG users may rely on
            ("MT19937", rng["numpy"][0].numpy().astype(np.uint32), *rng["numpy"][1])
        )
        random.setstate((rng["python_version"], tuple(rng["python"]), None))
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def _write_history(self) -> None:
        assert self.out_dir is not None
        with atomic_output(self.out_dir / "history.json") as tmp:
            tmp.write_text(json.dumps(self.history, indent=1))


def _numpy_state() -> tuple[Tensor, tuple[int, int, float]]:
    _, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - the global NumPy RNG users may rely on
    return torch.from_numpy(np.asarray(keys, dtype=np.int64)), (
        int(pos),
        int(has_gauss),
        float(cached),
    )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the global NumPy RNG users may rely on
    torch.manual_seed(seed)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :meth:`Trainer.save_checkpoint` (``weights_only=True``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
        With ``model_state``, ``model_init``, ``model_class``, ``config``, ``normalizers``,
        ``epoch``, ``history`` and the optimiser/scheduler/RNG states.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable sciml checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"{path} is not a readable checkpoint: {error}") from error
    if not isinstance(ckpt, dict) or ckpt.get("format") != "sciml.train/1":
        raise ValueError(f"{path} is not a sciml checkpoint")
    return ckpt


def plot_history(history: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Plot the loss curves of a history (log scale) to an image file.

    Parameters
    ----------
    history : list of dict
        As returned by :meth:`Trainer.fit`.
    path : str or path-like
        Image file (``.png``, ``.pdf``, ...), written atomically.

    Returns
    -------
    pathlib.Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    keys = sorted({k for h in history for k in h if "loss" in k or "error" in k})
    for key in keys:
        points = [(h["epoch"], h[key]) for h in history if key in h]
        ax.semilogy(*zip(*points, strict=True), marker="o" if len(points) < 30 else None, label=key)
    ax.set_xlabel("epoch")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path
