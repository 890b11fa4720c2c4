"""Run under ``torchrun --nproc_per_node P``: one physics loss and its gradient, experts split.

Used by ``tests/constraints/test_moe_parallel.py``: the 4 experts of a diffusion-sorption model
are split over P processes (gloo); rank 0 saves the loss and the parameter gradients averaged
over the ranks.
"""

import sys

import torch
import torch.distributed as dist

from sciml.constraints.sorption import SorptionPIHC, sorption_data

dist.init_process_group("gloo")
torch.manual_seed(0)  # the same network on every process
model = SorptionPIHC(
    experts=4,
    split="t",
    nx=17,
    nt=17,
    T=50.0,
    n_basis=4,
    width=8,
    layers=1,
    fno_modes=(4, 4),
    points=400,
    on_failure="ignore",
    expert_parallel=True,
).double()
data = sorption_data(2, nx=17, nt=17, T=50.0, seed=4, cells=64)
u0 = torch.stack([data[i]["u0"] for i in range(2)])
out = model(u0)  # training mode: random points, the same seed on every rank
loss = out.loss.mean()
loss.backward()
grads = {}
for name, p in model.named_parameters():
    g = p.grad.clone()
    dist.all_reduce(g)
    grads[name] = g / dist.get_world_size()
if dist.get_rank() == 0:
    torch.save(
        {"loss": loss.detach(), "weights": out.weights.detach(), "grads": grads}, sys.argv[1]
    )
dist.barrier()
dist.destroy_process_group()
