"""One timing case of ``pihc_parallel.py``, run under ``torchrun`` (gloo, one thread per process).

``python -m torch.distributed.run --standalone --nproc_per_node P _pihc_parallel_worker.py
CASE.json OUT.json``. ``CASE.json`` names the problem (``sorption`` or ``navier_stokes``), the
model options, the batch, the parallel scheme and the repeats:

* ``"experts"``: every process runs the whole batch and solves ``K / P`` of the experts
  (``expert_parallel=True``; the paper's scheme: experts on separate devices);
* ``"data"``: every process runs ``batch / P`` of the samples with all experts, and the
  parameter gradients are averaged (what ``DistributedDataParallel`` does; available to the
  global constraint too).

Each timed step is a forward and backward pass of the physics loss between two barriers, so the
time is that of the slowest process. Rank 0 writes the median step time, the loss of the first
step (to check that the split does not change it) and the mean inner LM steps.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from sciml.constraints.sorption import SorptionPIHC, sorption_data
from sciml.constraints.vorticity import VorticityPIHC, vorticity_data


def main() -> None:
    case = json.loads(Path(sys.argv[1]).read_text())
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    scheme = case["scheme"]
    if scheme not in ("experts", "data"):
        raise ValueError(f"unknown scheme {scheme!r}")
    torch.manual_seed(case["seed"])  # the same network on every process
    options = dict(case["model"])
    options["expert_parallel"] = scheme == "experts" and size > 1
    if case["problem"] == "sorption":
        model: torch.nn.Module = SorptionPIHC(**options)
        data = sorption_data(case["batch"], nx=options["nx"], nt=options["nt"], seed=2)
    else:
        model = VorticityPIHC(**options)
        common = {k: options[k] for k in ("n", "nt", "T", "nu")}
        data = vorticity_data(case["batch"], seed=2, **common)
    u0 = torch.stack([data[i]["u0"] for i in range(case["batch"])])
    if scheme == "data":
        if case["batch"] % size:
            raise ValueError(f"{size} processes must divide the batch {case['batch']}")
        share = case["batch"] // size
        u0 = u0[rank * share : (rank + 1) * share]
    model.train()
    times, lm_steps, first_loss = [], [], None
    for i in range(case["repeats"] + 1):
        torch.manual_seed(case["seed"] + 1 + i)  # the same residual points on every process
        dist.barrier()
        start = time.perf_counter()
        out = model(u0)
        loss = out.loss.sum() / case["batch"]  # this process's share of the batch mean
        loss.backward()
        if size > 1:  # batch split: sum the shares; experts split: every process holds
            for p in model.parameters():  # the whole loss, so average
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    if scheme == "experts":
                        p.grad /= size
        dist.barrier()
        elapsed = time.perf_counter() - start
        total = loss.detach().clone()
        if scheme == "data" and size > 1:
            dist.all_reduce(total)
        if i == 0:
            first_loss = float(total)
        else:
            times.append(elapsed)
            lm_steps.append(float(out.constraint.steps.float().mean()))
        model.zero_grad(set_to_none=True)
    if rank == 0:
        result = {
            "train_step_s": statistics.median(times),
            "train_step_s_all": times,
            "loss": first_loss,
            "lm_steps": statistics.mean(lm_steps),
            "processes": size,
            "threads": torch.get_num_threads(),
        }
        tmp = Path(sys.argv[2] + ".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(sys.argv[2])
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
