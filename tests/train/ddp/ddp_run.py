"""Run under ``torchrun --nproc_per_node P``: train a small model and save its weights.

Used by ``tests/train/test_ddp.py`` to compare a 2-process (gloo) run with a 1-process run of
the same global batch size.
"""

import sys

import torch
import torch.distributed as dist
from torch import nn

from sciml.train import TrainConfig, Trainer, supervised


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)  # identical initial weights on every process
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Data(torch.utils.data.Dataset):
    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=gen, dtype=torch.float64)
        self.y = torch.sin(self.x[:, :3]) + self.x[:, 1:] ** 2

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


dist.init_process_group("gloo")
model = Net().double()
config = TrainConfig(epochs=3, batch_size=16, lr=1e-2, progress=False, seed=5)
Trainer(model, supervised("x", "y"), config, Data(), device="cpu").fit()
if dist.get_rank() == 0:
    torch.save(model.state_dict(), sys.argv[1])
dist.barrier()
dist.destroy_process_group()
