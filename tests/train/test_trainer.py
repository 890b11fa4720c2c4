"""The training loop: learning, exact resume, checkpoints, DDP equivalence, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from sciml.train import (
    TrainConfig,
    Trainer,
    load_checkpoint,
    relative_l2,
    relative_l2_per_sample,
    supervised,
)


class MLP(nn.Module):
    """A small network that records its init arguments (rebuildable from a checkpoint)."""

    def __init__(self, width: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.init_args = {"width": width, "dropout": dropout}
        self.net = nn.Sequential(
            nn.Linear(4, width), nn.Tanh(), nn.Dropout(dropout), nn.Linear(width, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Linear3(torch.utils.data.Dataset):
    """y = x A^T + 1 for fixed A: a learnable map, as dict samples like H5Dataset's."""

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=gen)
        A = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 10
        self.y = self.x @ A.T + 1.0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def make(tmp: Path | None, epochs: int, **overrides: object) -> Trainer:
    torch.manual_seed(0)
    settings: dict[str, object] = {
        "epochs": epochs,
        "batch_size": 8,
        "lr": 1e-2,
        "scheduler": "cosine",
        "grad_clip": 1.0,
        "out_dir": str(tmp) if tmp else None,
        "progress": False,
        "seed": 3,
    }
    config = TrainConfig(**{**settings, **overrides})  # type: ignore[arg-type]
    return Trainer(MLP(), supervised("x", "y"), config, Linear3(64, 0), Linear3(32, 1))


def test_training_reduces_the_test_error_and_writes_artefacts(tmp_path: Path) -> None:
    trainer = make(tmp_path, epochs=30)
    history = trainer.fit()
    assert len(history) == 30 and history[-1]["test_loss"] < 0.25 * history[0]["test_loss"]
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert json.loads((tmp_path / "history.json").read_text())[-1]["epoch"] == 30
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["epoch"] == 30 and ckpt["model_init"] == {"width": 16, "dropout": 0.1}
    rebuilt = MLP(**ckpt["model_init"])
    rebuilt.load_state_dict(ckpt["model_state"])
    rebuilt.eval()
    trainer.module.eval()
    x = torch.randn(5, 4)
    torch.testing.assert_close(rebuilt(x), trainer.module(x))


def test_resume_is_bit_exact(tmp_path: Path) -> None:
    full = make(tmp_path / "full", epochs=6)
    full.fit()
    half = make(tmp_path / "half", epochs=6)
    half.fit(until=3)  # an interrupted run: checkpoint after epoch 3 of 6
    resumed = make(tmp_path / "resumed", epochs=6)
    torch.manual_seed(1234)  # the resume must restore every RNG, whatever the state now
    resumed.fit(resume=tmp_path / "half" / "checkpoint.pt")
    for a, b in zip(
        full.module.state_dict().values(), resumed.module.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert [h["train_loss"] for h in full.history] == [h["train_loss"] for h in resumed.history]


def test_losses_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    pred = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    torch.testing.assert_close(relative_l2_per_sample(pred, target), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(relative_l2(pred, target), torch.tensor(0.5))
    with pytest.raises(ValueError, match="shape mismatch"):
        relative_l2(pred, target[:1])
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="divisible"):
        with monkeypatch.context() as m:  # pretend to be one of 2 processes
            m.setattr(torch.distributed, "is_initialized", lambda: True)
            m.setattr(torch.distributed, "get_world_size", lambda: 2)
            Trainer(MLP(), supervised("x", "y"), TrainConfig(batch_size=7), Linear3(8, 0))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    poisoned = Linear3(16, 0)
    poisoned.y[5, 1] = float("nan")
    bad = Trainer(MLP(), supervised("x", "y"), TrainConfig(epochs=1, progress=False), poisoned)
    with pytest.raises(FloatingPointError, match="check the data for NaN/Inf"):
        bad.fit()


def test_fe_norm_loss_measures_functions_not_vectors() -> None:
    pytest.importorskip("dolfinx_solver")
    import numpy as np

    from sciml.fem import FunctionSpace
    from sciml.mesh import unit_square
    from sciml.train import FENormLoss

    V = FunctionSpace(unit_square(8), "P", 1)
    u = V.interpolate(lambda x: np.sin(np.pi * x[0]) * np.sin(np.pi * x[1]))
    batch = torch.stack([u, 2 * u])
    for norm in ("l2", "h1"):
        loss = FENormLoss(V, norm)
        torch.testing.assert_close(loss(1.1 * batch, batch), torch.tensor(0.1, dtype=torch.float64))
    pred = batch.clone().requires_grad_(True)
    FENormLoss(V)(pred * 1.05, batch).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    with pytest.raises(ValueError, match="norm"):
        FENormLoss(V, "linf")
