"""Deep operator networks (DeepONet, stacked/unstacked, Fourier trunk features, POD-DeepONet).

A DeepONet approximates an operator ``G: u -> G(u)(y)`` by

.. math:: G(u)(y) \\approx \\sum_{k=1}^p b_k(u)\\, t_k(y) + b_0,

with a *branch* network ``b`` reading the input function at ``m`` fixed sensors and a *trunk*
network ``t`` reading the query point ``y`` (Lu, Jin, Karniadakis 2021). POD-DeepONet replaces the
trunk by ``p`` POD modes of the training outputs at fixed points (Lu et al. 2022).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from sciml.nn import MLP, record_init

__all__ = ["DeepONet", "FourierFeatures", "pod_basis"]

Layout = Literal["cartesian", "pointwise"]


def pod_basis(outputs: Tensor, p: int, *, center: bool = True) -> tuple[Tensor, Tensor]:
    """POD modes (leading left singular vectors) of training outputs, by SVD.

    Parameters
    ----------
    outputs : torch.Tensor
        ``(n_samples, n_points)`` or, for several output components,
        ``(n_samples, n_points, num_outputs)`` (each component gets its own basis).
    p : int
        Number of modes, ``1 <= p <= min(n_samples, n_points)``.
    center : bool, default True
        Subtract the sample mean before the SVD (the mean is returned); otherwise the mean
        returned is zero.

    Returns
    -------
    modes : torch.Tensor
        Orthonormal columns: ``(n_points, p)``, or ``(n_points, p, num_outputs)``.
    mean : torch.Tensor
        ``(n_points,)``, or ``(n_points, num_outputs)``.

    Examples
    --------
    >>> import torch
    >>> modes, mean = pod_basis(torch.randn(20, 8), 3)
    >>> modes.shape, mean.shape
    (torch.Size([8, 3]), torch.Size([8]))
    """
    if outputs.ndim not in (2, 3):
        raise ValueError(
            "outputs must be (n_samples, n_points) or (n_samples, n_points, num_outputs), "
            f"got shape {tuple(outputs.shape)}"
        )
    n_samples, n_points = outputs.shape[:2]
    if not 1 <= p <= min(n_samples, n_points):
        raise ValueError(f"p must be in [1, {min(n_samples, n_points)}], got {p}")
    data = outputs if outputs.ndim == 3 else outputs.unsqueeze(-1)
    mean = data.mean(0) if center else torch.zeros_like(data[0])
    centred = (data - mean).permute(2, 1, 0)  # (num_outputs, n_points, n_samples)
    u, _, _ = torch.linalg.svd(centred, full_matrices=False)
    modes = u[..., :p].permute(1, 2, 0)  # (n_points, p, num_outputs)
    if outputs.ndim == 2:
        return modes[..., 0].contiguous(), mean[..., 0].contiguous()
    return modes.contiguous(), mean.contiguous()


class FourierFeatures(nn.Module):
    """Periodic feature map ``x -> [cos(2 pi k x / L), sin(2 pi k x / L)]_k`` per coordinate.

    For ``d``-dimensional points and ``K`` frequencies the output has ``2 K d`` features
    (``2 K d + d`` with ``include_input``), ordered ``[cos k_1 x, ..., cos k_K x, sin k_1 x, ...,
    sin k_K x]`` with the coordinates innermost, then the raw input if included.

    Parameters
    ----------
    frequencies : sequence of float
        The ``k`` values.
    period : float, default 1.0
        ``L``; outputs built from these features are ``L``-periodic in every coordinate.
    include_input : bool, default False
        Append the raw coordinates (the result is then no longer periodic).
    """

    omega: Tensor

    def __init__(
        self, frequencies: Sequence[float], period: float = 1.0, include_input: bool = False
    ) -> None:
        super().__init__()
        freqs = [float(k) for k in frequencies]
        if not freqs:
            raise ValueError("FourierFeatures needs at least one frequency")
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.register_buffer(
            "omega", torch.tensor(freqs) * (2 * math.pi / period), persistent=False
        )
        self.include_input = include_input

    def feature_size(self, d: int) -> int:
        """Number of features for ``d``-dimensional points."""
        return d * (2 * self.omega.numel() + int(self.include_input))

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(..., d)`` to ``(..., feature_size(d))``."""
        phase = (x.unsqueeze(-2) * self.omega.to(x.dtype).unsqueeze(-1)).flatten(-2)
        parts = [torch.cos(phase), torch.sin(phase)]
        if self.include_input:
            parts.append(x)
        return torch.cat(parts, dim=-1)


def _fourier_from_spec(spec: str | Mapping[str, Any]) -> FourierFeatures:
    if isinstance(spec, str):
        if spec != "fourier":
            raise ValueError(f"unknown trunk_features {spec!r}; use 'fourier' or a dict")
        return FourierFeatures([1, 2])
    spec = dict(spec)
    kind = spec.pop("type", "fourier")
    if kind != "fourier":
        raise ValueError(f"unknown trunk_features type {kind!r}; only 'fourier' is available")
    unknown = set(spec) - {"frequencies", "period", "include_input"}
    if unknown:
        raise ValueError(f"unknown trunk_features keys {sorted(unknown)}")
    return FourierFeatures(
        spec.get("frequencies", [1, 2]),
        period=float(spec.get("period", 1.0)),
        include_input=bool(spec.get("include_input", False)),
    )


@record_init
class DeepONet(nn.Module):
    """Deep operator network ``G(u)(y) = sum_k b_k(u) t_k(y) + b_0``.

    Parameters
    ----------
    branch_sizes : sequence of int
        Branch MLP widths; ``branch_sizes[0] = m`` (number of sensors). Unstacked:
        ``branch_sizes[-1] = p``. Stacked: ``branch_sizes[-1]`` must be 1 (each of the ``p``
        branch nets produces one coefficient per output). With POD: ``branch_sizes[-1] = p``
        (the number of modes).
    trunk_sizes : sequence of int or None
        Trunk MLP widths; ``trunk_sizes[0]`` is the trunk *input* size: the query dimension
        ``d``, or the expanded size ``d * (2 K + include_input)`` when ``trunk_features`` gives
        ``K`` Fourier frequencies (``d`` is then inferred from it). ``trunk_sizes[-1] = p``.
        Must be None with ``pod_basis``.
    stacked : bool, default False
        ``p`` independent branch nets with scalar output instead of one with ``p`` outputs.
    activation : str, default "relu"
        Hidden activation of both nets (see :func:`sciml.nn.activation`). The trunk's last layer
        is activated too; the branch's is linear.
    num_outputs : int, default 1
        Output components. The last layers of branch and trunk are widened to
        ``p * num_outputs`` (``num_outputs`` per stacked branch net) and split per output.
    trunk_features : None, "fourier" or dict, default None
        Feature expansion of the query points before the trunk: ``"fourier"`` means
        frequencies ``[1, 2]`` (cos/sin(2 pi x), cos/sin(4 pi x)); a dict
        ``{"type": "fourier", "frequencies": [...], "period": 1.0, "include_input": False}``
        customises it. See :class:`FourierFeatures`.
    pod_basis : torch.Tensor, tuple, or list of two int, default None
        POD-DeepONet: the modes ``(n_points, p)`` (``(n_points, p, num_outputs)`` for several
        outputs), or a tuple ``(modes, mean)`` as returned by :func:`pod_basis`. The basis is
        stored in buffers ``pod_modes`` / ``pod_mean`` (in the state dict) and replaces the trunk.
        ``init_args`` records only the plain shape ``[n_points, p]``; passing such a list builds
        a zero basis that ``load_state_dict`` then fills, so
        ``DeepONet(**model.init_args).load_state_dict(model.state_dict())`` rebuilds the model.

    Attributes
    ----------
    b0 : torch.nn.Parameter
        Output bias, one per output component.

    Examples
    --------
    >>> import torch
    >>> net = DeepONet([100, 40, 40], [1, 40, 40])
    >>> net(torch.randn(8, 100), torch.rand(50, 1)).shape  # Cartesian layout
    torch.Size([8, 50])
    >>> net(torch.randn(8, 100), torch.rand(8, 1), layout="pointwise").shape
    torch.Size([8])
    """

    pod_modes: Tensor
    pod_mean: Tensor

    def __init__(
        self,
        branch_sizes: Sequence[int],
        trunk_sizes: Sequence[int] | None,
        *,
        stacked: bool = False,
        activation: str = "relu",
        num_outputs: int = 1,
        trunk_features: str | Mapping[str, Any] | None = None,
        pod_basis: Tensor | tuple[Tensor, Tensor | None] | Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        branch = [int(s) for s in branch_sizes]
        if len(branch) < 2:
            raise ValueError(f"branch_sizes must list at least two widths, got {branch}")
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be positive, got {num_outputs}")
        self.num_outputs = int(num_outputs)
        self.stacked = bool(stacked)
        self.m = branch[0]
        self._pod_spec: list[int] | None = None
        self.features: FourierFeatures | None = None
        self.trunk: MLP | None = None
        c = self.num_outputs

        if pod_basis is not None:
            if trunk_sizes is not None or trunk_features is not None:
                raise ValueError("pod_basis replaces the trunk: pass trunk_sizes=None, no features")
            modes, mean = self._pod_tensors(pod_basis)
            self.register_buffer("pod_modes", modes)
            self.register_buffer("pod_mean", mean)
            self.n_points, self.p = int(modes.shape[0]), int(modes.shape[1])
            self._pod_spec = [self.n_points, self.p]
            self.query_dim: int | None = None
        else:
            if trunk_sizes is None:
                raise ValueError("trunk_sizes is required unless pod_basis is given")
            trunk = [int(s) for s in trunk_sizes]
            if len(trunk) < 2:
                raise ValueError(f"trunk_sizes must list at least two widths, got {trunk}")
            self.p = trunk[-1]
            if trunk_features is not None:
                self.features = _fourier_from_spec(trunk_features)
                per_dim = self.features.feature_size(1)
                if trunk[0] % per_dim:
                    raise ValueError(
                        f"trunk_sizes[0] = {trunk[0]} is not the Fourier-expanded size "
                        f"d * {per_dim} for any query dimension d"
                    )
                self.query_dim = trunk[0] // per_dim
            else:
                self.query_dim = trunk[0]
            self.trunk = MLP([*trunk[:-1], self.p * c], activation, final_activation=True)

        if self.stacked:
            if branch[-1] != 1:
                raise ValueError(
                    f"stacked DeepONet: branch_sizes[-1] must be 1 (one coefficient per branch "
                    f"net), got {branch[-1]}"
                )
            self.branches = nn.ModuleList(MLP([*branch[:-1], c], activation) for _ in range(self.p))
        else:
            if branch[-1] != self.p:
                what = "the number of POD modes" if pod_basis is not None else "trunk_sizes[-1]"
                raise ValueError(
                    f"branch_sizes[-1] = {branch[-1]} must equal p = {self.p} ({what})"
                )
            self.branch = MLP([*branch[:-1], self.p * c], activation)
        self.b0 = nn.Parameter(torch.zeros(c))

    # -- init_args: keep the POD basis out of it (plain values only) --------------------------
    @property
    def init_args(self) -> dict[str, Any]:
        """Constructor arguments as plain values (``pod_basis`` reduced to ``[n_points, p]``)."""
        return dict(self.__dict__["_init_args"])

    @init_args.setter
    def init_args(self, value: dict[str, Any]) -> None:
        value = dict(value)
        if self._pod_spec is not None:
            value["pod_basis"] = list(self._pod_spec)
        self.__dict__["_init_args"] = value

    def _pod_tensors(
        self, spec: Tensor | tuple[Tensor, Tensor | None] | Sequence[int]
    ) -> tuple[Tensor, Tensor]:
        c = self.num_outputs
        mean: Tensor | None
        if isinstance(spec, Tensor):
            modes, mean = spec, None
        elif (
            isinstance(spec, Sequence)
            and len(spec) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) for s in spec)
        ):
            n_points, p = cast("Sequence[int]", spec)
            shape = (n_points, p) if c == 1 else (n_points, p, c)
            modes, mean = torch.zeros(shape), None
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Tensor):
            modes, mean = spec
        else:
            raise TypeError(
                "pod_basis must be a modes tensor, a (modes, mean) tuple or [n_points, p]"
            )
        want = "(n_points, p)" if c == 1 else f"(n_points, p, {c})"
        if modes.ndim != (2 if c == 1 else 3) or (c > 1 and modes.shape[2] != c):
            raise ValueError(f"pod_basis modes must be {want}, got {tuple(modes.shape)}")
        modes = modes.detach().to(torch.get_default_dtype()).clone()
        if mean is None:
            mean = torch.zeros((modes.shape[0], *tuple(modes.shape[2:])))
        mean = mean.detach().to(modes.dtype).clone()
        if mean.shape != (modes.shape[0], *tuple(modes.shape[2:])):
            raise ValueError(
                f"pod_basis mean must have shape {(modes.shape[0], *modes.shape[2:])}, "
                f"got {tuple(mean.shape)}"
            )
        if c == 1:
            modes, mean = modes.unsqueeze(-1), mean.unsqueeze(-1)
        return modes.contiguous(), mean.contiguous()

    # -- forward --------------------------------------------------------------------------------
    def branch_coefficients(self, u: Tensor) -> Tensor:
        """Branch output ``(batch, num_outputs, p)`` for ``u`` of shape ``(batch, m)``."""
        if u.ndim != 2 or u.shape[1] != self.m:
            raise ValueError(
                f"u must be (batch, m) with m = {self.m} sensors, got shape {tuple(u.shape)}"
            )
        if self.stacked:
            return torch.stack([net(u) for net in self.branches], dim=-1)  # (B, C, p)
        return self.branch(u).unflatten(-1, (self.num_outputs, self.p))

    def trunk_basis(self, y: Tensor) -> Tensor:
        """Trunk output ``(n, num_outputs, p)`` for points ``y`` of shape ``(n, d)``."""
        if self.trunk is None:
            raise RuntimeError("a POD-DeepONet has no trunk")
        z = self.features(y) if self.features is not None else y
        return self.trunk(z).unflatten(-1, (self.num_outputs, self.p))

    def forward(
        self, u: Tensor, y: Tensor | None = None, *, layout: Layout | None = None
    ) -> Tensor:
        """Evaluate ``G(u)(y)``.

        Parameters
        ----------
        u : torch.Tensor
            ``(batch, m)`` input functions at the sensors.
        y : torch.Tensor, optional
            Query points (e.g. a grid or FE dof coordinates): ``(n_points, d)`` shared by the
            batch (Cartesian layout) or ``(batch, d)`` one per sample (pointwise layout). A 1D
            tensor is read as ``(n, 1)`` when ``d = 1``. Optional for POD-DeepONet, whose points
            are fixed (if given, it must have ``n_points`` rows).
        layout : {"cartesian", "pointwise"}, optional
            Inferred from the shapes; required when ``y.shape[0] == batch`` (ambiguous).

        Returns
        -------
        torch.Tensor
            Cartesian: ``(batch, n_points)``; pointwise: ``(batch,)``. A trailing
            ``num_outputs`` dimension is added when ``num_outputs > 1``.
        """
        if layout not in (None, "cartesian", "pointwise"):
            raise ValueError(f"layout must be 'cartesian', 'pointwise' or None, got {layout!r}")
        b = self.branch_coefficients(u)  # (B, C, p)
        batch = u.shape[0]
        if self.trunk is None:  # POD-DeepONet
            if layout == "pointwise":
                raise ValueError("POD-DeepONet evaluates at its fixed points: no pointwise layout")
            if y is not None and y.shape[0] != self.n_points:
                raise ValueError(
                    f"POD-DeepONet has {self.n_points} fixed points, y has shape {tuple(y.shape)}"
                )
            out = torch.einsum("bcp,npc->bnc", b, self.pod_modes) + self.pod_mean + self.b0
            return out.squeeze(-1) if self.num_outputs == 1 else out

        if y is None:
            raise ValueError("y (query points) is required")
        if y.ndim == 1 and self.query_dim == 1:
            y = y.unsqueeze(-1)
        if y.ndim != 2 or y.shape[1] != self.query_dim:
            raise ValueError(
                f"y must be (n_points, {self.query_dim}) or (batch, {self.query_dim}), "
                f"got shape {tuple(y.shape)}"
            )
        if layout is None:
            if y.shape[0] == batch:
                raise ValueError(
                    f"ambiguous layout: y has {batch} rows, the batch size; pass "
                    "layout='cartesian' or layout='pointwise'"
                )
            layout = "cartesian"
        elif layout == "pointwise" and y.shape[0] != batch:
            raise ValueError(
                f"pointwise layout needs one point per sample: y has {y.shape[0]} rows, "
                f"batch is {batch}"
            )
        t = self.trunk_basis(y.to(b.dtype))  # (n, C, p)
        if layout == "cartesian":
            out = torch.einsum("bcp,ncp->bnc", b, t) + self.b0
        else:
            out = (b * t).sum(-1) + self.b0
        return out.squeeze(-1) if self.num_outputs == 1 else out
