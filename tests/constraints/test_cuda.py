"""The hard constraints on a CUDA device give the CPU's losses, weights and gradients.

The networks run in float64 here: in float32 the GPU's cuDNN convolutions (TF32) and cuFFT
round differently from the CPU's (relative differences ~1e-4 in the loss, seen on an H200), which
would hide a real device bug in the constraint solve behind a loose tolerance.
"""

from __future__ import annotations

import copy

import pytest
import torch

from sciml.constraints.sorption import SorptionPIHC, sorption_data
from sciml.constraints.vorticity import VorticityPIHC

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _same_on_cuda(model: torch.nn.Module, u0: torch.Tensor) -> None:
    """One training step (random residual points, same seed) on the CPU and on CUDA agree."""
    model = model.double()
    gpu = copy.deepcopy(model).cuda()
    outs, grads = [], []
    for m, x in ((model, u0), (gpu, u0.cuda())):
        m.train()
        torch.manual_seed(3)  # the residual points are drawn on the CPU, then moved
        out = m(x)
        out.loss.mean().backward()
        assert out.u.device == x.device and out.constraint is not None
        assert out.constraint.failures == 0
        outs.append(out)
        grads.append([p.grad.detach().cpu() for p in m.parameters()])
    cpu, cuda = outs
    torch.testing.assert_close(cuda.loss.cpu(), cpu.loss, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(cuda.weights.cpu(), cpu.weights, rtol=1e-6, atol=1e-9)
    # implicit gradients amplify rounding where the least-squares problem is ill-conditioned
    # (a few entries differ by ~5e-6 relative on an H200), and some vanish up to rounding:
    # compare the whole gradient vector, per tensor against its overall size
    scale = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads[0]])))
    for a, b in zip(grads[0], grads[1], strict=True):
        assert float(torch.linalg.vector_norm(b - a)) <= 1e-5 * scale


@pytest.mark.parametrize(("experts", "split"), [(1, "t"), (4, "t"), (4, "x")])
def test_sorption_constraint_on_cuda_matches_cpu(experts: int, split: str) -> None:
    ds = sorption_data(2, nx=33, nt=17, T=50.0, seed=3, cells=64)
    u0 = torch.stack([ds[i]["u0"] for i in range(2)])
    torch.manual_seed(0)
    model = SorptionPIHC(
        mode="hard",
        experts=experts,
        split=split,
        points=800,
        T=50.0,
        tol=1e-12,
        max_steps=300,
        pde={"eps": 1.0},
        nx=33,
        nt=17,
        width=8,
        layers=1,
        fno_modes=(4, 4),
        n_basis=6,
    )
    _same_on_cuda(model, u0)


def test_vorticity_experts_on_cuda_match_cpu() -> None:
    torch.manual_seed(0)
    model = VorticityPIHC(
        mode="hard",
        splits=(2, 2),
        n_basis=4,
        points=400,
        n=16,
        nt=5,
        T=0.02,
        width=6,
        layers=1,
        fno_modes=(2, 4, 4),
    )
    _same_on_cuda(model, torch.randn(2, 16, 16, dtype=torch.float64))
