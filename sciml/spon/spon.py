"""Structure-preserving operator network ``S = D o P o E`` on finite-element spaces."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from sciml.fem import (
    DirichletBC,
    FunctionSpace,
    dirichlet,
    interpolation_between,
    load_fields,
    match_dofs,
    project,
    save_fields,
    write_fields,
)
from sciml.fem.graph import dof_graph
from sciml.linalg import SparseMatrix
from sciml.nn.graph import GraphNetwork

__all__ = ["SPON", "Processor", "load_spon"]

ENCODERS = ("interpolation", "projection")
LIFTINGS = ("harmonic", "zero")


class Processor(Protocol):
    """What SPON calls to map node features to node values (a :class:`GraphNetwork` fits).

    ``processor(x, edge_index, edge_attr)`` with ``x`` of shape ``(batch, nodes, channels)``
    returns ``(batch, nodes, out_channels)``.
    """

    def __call__(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor: ...


def _merge_bcs(V: FunctionSpace, bcs: Any) -> DirichletBC | None:
    """One DirichletBC from None, marker names, a DirichletBC or a list of them."""
    if bcs is None:
        return None
    if isinstance(bcs, str):
        return dirichlet(V, bcs, 0.0)
    if isinstance(bcs, DirichletBC):
        items: list[DirichletBC] = [bcs]
    elif isinstance(bcs, Sequence) and all(isinstance(b, str) for b in bcs):
        return dirichlet(V, list(bcs), 0.0)
    elif isinstance(bcs, Sequence) and all(isinstance(b, DirichletBC) for b in bcs):
        items = list(bcs)
    else:
        raise TypeError(
            "bcs must be None, marker name(s), a DirichletBC or a list of DirichletBC, got "
            f"{type(bcs)!r}"
        )
    dofs = np.concatenate([b.dofs for b in items])
    values = torch.cat([b.values for b in items])
    if dofs.size and (dofs.min() < 0 or dofs.max() >= V.num_dofs):
        raise ValueError(f"Dirichlet dofs outside 0..{V.num_dofs - 1} of the output space")
    uniq, first = np.unique(dofs, return_index=True)
    return DirichletBC(dofs=uniq.astype(np.int64), values=values[torch.from_numpy(first)])


class SPON(nn.Module):
    r"""Structure-preserving operator network (Bouziani & Boulle 2024): ``S = D o P o E``.

    * **Encoder** ``E``: an input function (a callable of the coordinates, a dolfinx
      ``Function``, or dof values) becomes the dof vector of ``input_space``, by nodal
      interpolation or by L2 projection (``encoder``). Dof vectors of ``input_space`` pass
      unchanged.
    * **Processor** ``P`` (the only learned part): node features on the nodes of
      ``output_space`` -- the input transferred there by nodal interpolation, the node
      coordinates, a Dirichlet flag and the Dirichlet values -- are mapped by a graph network on
      the mesh graph (:func:`sciml.fem.graph.dof_graph`) to one value per output dof.
    * **Decoder** ``D``: the dof values are the coefficients of a finite-element function of
      ``output_space`` (:meth:`decode` returns a dolfinx ``Function``).

    Structure kept by construction, whatever the weights: the output is a function of
    ``output_space``; on the Dirichlet dofs it *equals* the prescribed values (the network
    predicts the free dofs only and the boundary values are copied in: a discrete lifting), so
    the boundary error is exactly zero. Only Dirichlet conditions are exact; Neumann/Robin data
    and the PDE itself are learned from the training data.

    Parameters
    ----------
    input_space, output_space : FunctionSpace
        Spaces of the input and output functions (may be on different meshes or degrees; the
        input is interpolated to the output nodes, so the output mesh must lie inside the
        input mesh).
    processor : module, optional
        Maps ``(x, edge_index, edge_attr)`` to node values (see :class:`Processor`); default a
        :class:`sciml.nn.GraphNetwork` with ``hidden`` width and ``layers`` steps.
    encoder : {"interpolation", "projection"}, default "interpolation"
        How a callable or foreign dolfinx ``Function`` becomes input dofs.
    bcs : marker name(s), DirichletBC or list of DirichletBC, optional
        The Dirichlet dofs of ``output_space``. Their values are those of the ``DirichletBC``
        (zero for marker names) unless :meth:`forward` receives per-sample values ``g``.
    hidden, layers : int
        Size of the default graph network.
    input_scale, output_scale : float, default 1
        Inputs are divided by ``input_scale``, Dirichlet values by ``output_scale``, and the
        network output is multiplied by ``output_scale`` (set them to the data's scale).
    lifting : {"harmonic", "zero"}, default "harmonic"
        Extension of the Dirichlet values to the free dofs (see :meth:`lift`): the output is
        ``lift + correction`` on the free dofs. The harmonic extension carries boundary data
        across the whole mesh at once, which a message-passing network with a few steps cannot.

    Examples
    --------
    >>> import dolfinx_solver  # noqa: F401  (before dolfinx)
    >>> import torch
    >>> from sciml.fem import FunctionSpace
    >>> from sciml.mesh import unit_square
    >>> V = FunctionSpace(unit_square(4), "P", 1)
    >>> net = SPON(V, V, bcs=["left", "right", "bottom", "top"], hidden=8, layers=2)
    >>> u = net(torch.randn(3, V.num_dofs), g=torch.ones(V.num_dofs))
    >>> u.shape, bool((u[:, net.bc_dofs] == 1).all())
    (torch.Size([3, 25]), True)
    """

    bc_dofs: Tensor
    bc_values: Tensor
    free_mask: Tensor
    node_coords: Tensor
    edge_index: Tensor
    edge_attr: Tensor

    def __init__(
        self,
        input_space: FunctionSpace,
        output_space: FunctionSpace,
        processor: nn.Module | None = None,
        *,
        encoder: str = "interpolation",
        bcs: str | Sequence[str] | DirichletBC | Sequence[DirichletBC] | None = None,
        hidden: int = 64,
        layers: int = 6,
        input_scale: float = 1.0,
        output_scale: float = 1.0,
        lifting: str = "harmonic",
    ) -> None:
        super().__init__()
        for name, space in (("input_space", input_space), ("output_space", output_space)):
            if not isinstance(space, FunctionSpace):
                raise TypeError(f"{name} must be a sciml.fem.FunctionSpace, got {type(space)!r}")
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
        if lifting not in LIFTINGS:
            raise ValueError(f"lifting must be one of {LIFTINGS}, got {lifting!r}")
        self.lifting = lifting
        if not (input_scale > 0 and output_scale > 0):
            raise ValueError("input_scale and output_scale must be positive")
        self.input_space, self.output_space = input_space, output_space
        self.encoder, self.hidden, self.layers = encoder, int(hidden), int(layers)
        self.input_scale, self.output_scale = float(input_scale), float(output_scale)
        self.bs_in, self.bs_out = input_space.block_size, output_space.block_size
        self.n_in, self.n_out = input_space.num_dofs, output_space.num_dofs

        graph = dof_graph(output_space)
        self.graph = graph
        self.gdim = int(graph.coordinates.shape[1])
        lo = graph.coordinates.min(dim=0).values
        coords = (graph.coordinates - lo) / graph.length  # in [0, 1] along the diagonal
        self.register_buffer("node_coords", coords, persistent=False)
        self.register_buffer("edge_index", graph.edge_index, persistent=False)
        self.register_buffer("edge_attr", graph.edge_attr, persistent=False)

        bc = _merge_bcs(output_space, bcs)
        dofs = np.zeros(0, np.int64) if bc is None else bc.dofs
        values = torch.zeros(0, dtype=torch.float64) if bc is None else bc.values
        self.register_buffer("bc_dofs", torch.from_numpy(dofs), persistent=False)
        # float64 and outside the state dict: ``model.float()`` must not round the data
        self.bc_values = values.to(torch.float64)
        free = torch.ones(self.n_out, dtype=torch.bool)
        free[self.bc_dofs] = False
        self.register_buffer("free_mask", free, persistent=False)
        self._harmonic = self._harmonic_solver() if lifting == "harmonic" and dofs.size else None

        self.transfer: SparseMatrix | None = self._input_transfer()
        self._transfer_cache: dict[tuple[torch.device, torch.dtype], SparseMatrix] = {}
        self.in_channels = self.bs_in + self.gdim + 1 + self.bs_out
        self.processor = processor if processor is not None else self.default_processor()

    # -- construction -------------------------------------------------------------------------
    def default_processor(self) -> nn.Module:
        """The graph network used when no processor is given."""
        return GraphNetwork(
            self.in_channels, self.bs_out, self.gdim + 1, hidden=self.hidden, layers=self.layers
        )

    def _harmonic_solver(self) -> tuple[Any, Any]:
        """Sparse LU of the free-free stiffness block, and the free-Dirichlet block."""
        import scipy.sparse.linalg as spla

        from sciml.fem import stiffness

        K = stiffness(self.output_space).to_scipy().tocsr()
        free = self.free_mask.numpy()
        bc = self.bc_dofs.numpy()
        try:
            lu = spla.splu(K[free][:, free].tocsc())
        except RuntimeError as error:  # a part of the mesh without Dirichlet dofs
            raise ValueError(
                "harmonic lifting impossible: the stiffness matrix restricted to the free dofs "
                "is singular (is every part of the mesh connected to a Dirichlet boundary?); "
                "use lifting='zero'"
            ) from error
        return lu, K[free][:, bc].tocsr()

    def lift(self, g_bc: Tensor) -> Tensor:
        """Dof vectors ``(batch, n_out)`` equal to ``g_bc`` on the Dirichlet dofs.

        With ``lifting="harmonic"`` the free dofs hold the discrete harmonic extension
        (``K_ff x = -K_fb g`` with the stiffness matrix ``K`` of the output space, solved by a
        sparse LU factorised once), which carries the boundary data into the whole domain; with
        ``"zero"`` they are zero. The lifting is data, not a learned quantity: no gradient flows
        to ``g_bc`` through the harmonic extension.

        Parameters
        ----------
        g_bc : torch.Tensor
            ``(batch, n_bc)`` Dirichlet values in the order of :attr:`bc_dofs`.

        Returns
        -------
        torch.Tensor
            ``(batch, n_out)`` in the dtype and on the device of ``g_bc``.
        """
        out = g_bc.new_zeros(g_bc.shape[0], self.n_out)
        out[:, self.bc_dofs] = g_bc
        if self._harmonic is not None:
            lu, K_fb = self._harmonic
            rhs = -(K_fb @ g_bc.detach().cpu().double().numpy().T)
            x = lu.solve(np.ascontiguousarray(rhs))
            out[:, self.free_mask] = torch.from_numpy(np.ascontiguousarray(x.T)).to(out)
        return out

    def _input_transfer(self) -> SparseMatrix | None:
        """Interpolation from the input space to the output nodes (None when they coincide)."""
        Vi, Vo = self.input_space, self.output_space
        same_nodes = (
            Vi.mesh is Vo.mesh
            and Vi.degree == Vo.degree
            and Vi.family == Vo.family
            and Vi.num_dofs // self.bs_in == Vo.num_dofs // self.bs_out
        )
        if same_nodes:
            return None
        target = FunctionSpace(Vo.mesh, Vo.family, Vo.degree, Vi.shape)
        return interpolation_between(Vi, target)

    # -- encoder ------------------------------------------------------------------------------
    def encode(self, u: Any) -> Tensor:
        """Input dof vectors ``(batch, input_space.num_dofs)`` from functions or dof values.

        Parameters
        ----------
        u : torch.Tensor, callable, dolfinx Function, or a list of callables/Functions
            Dof values ``(n_in,)`` or ``(batch, n_in)``; a function ``f(x)`` of the
            coordinates (dolfinx's convention, ``x`` of shape ``(3, npoints)``); a dolfinx
            ``Function`` (on ``input_space``: its values; elsewhere: interpolated or projected).

        Returns
        -------
        torch.Tensor
            ``(batch, n_in)``, float64 for functions, the input dtype for tensors.
        """
        if isinstance(u, Tensor):
            x = u if u.ndim == 2 else u.unsqueeze(0) if u.ndim == 1 else None
            if x is None or x.shape[1] != self.n_in:
                raise ValueError(
                    f"input dof values must be (batch, {self.n_in}) or ({self.n_in},) for the "
                    f"input space, got shape {tuple(u.shape)}"
                )
            if not bool(torch.isfinite(x).all()):
                raise ValueError("input dof values contain NaN/Inf")
            return x
        if isinstance(u, list | tuple):
            return torch.stack([self.encode(item)[0] for item in u])
        return self._encode_function(u).unsqueeze(0)

    def _encode_function(self, f: Any) -> Tensor:
        V = self.input_space
        space = getattr(f, "function_space", None)
        if space is not None and space == V.dolfinx_space:
            return torch.from_numpy(np.asarray(f.x.array[: V.num_dofs]).copy())
        if self.encoder == "projection":
            return project(V, f)
        if space is not None:  # a Function elsewhere: dolfinx interpolates across spaces
            target = V.function()
            target.interpolate(f)
            return torch.from_numpy(target.x.array[: V.num_dofs].copy())
        if not callable(f):
            raise TypeError(f"cannot encode an input of type {type(f)!r}")
        return V.interpolate(f)

    # -- processor ------------------------------------------------------------------------------
    def boundary_values(self, g: Tensor | None, batch: int, like: Tensor) -> Tensor:
        """Dirichlet values ``(batch, n_bc)`` from ``g`` (see :meth:`forward`)."""
        n_bc = int(self.bc_dofs.numel())
        if g is None:
            return self.bc_values.to(device=like.device, dtype=like.dtype).expand(batch, n_bc)
        g = g.to(like)
        if g.ndim == 1:
            g = g.unsqueeze(0).expand(batch, -1)
        if g.ndim != 2 or g.shape[0] != batch or g.shape[1] not in (n_bc, self.n_out):
            raise ValueError(
                f"g must hold Dirichlet values ({batch}, {n_bc}) or full dof vectors "
                f"({batch}, {self.n_out}) (a leading batch dimension may be omitted), got shape "
                f"{tuple(g.shape)}"
            )
        if not bool(torch.isfinite(g).all()):
            raise ValueError("Dirichlet values g contain NaN/Inf")
        return g[:, self.bc_dofs] if g.shape[1] == self.n_out and n_bc != self.n_out else g

    def node_features(self, u_in: Tensor, g_bc: Tensor, lift: Tensor | None = None) -> Tensor:
        """Processor input ``(batch, nodes, in_channels)``: input, coordinates, flag, lifting.

        Parameters
        ----------
        u_in : torch.Tensor
            ``(batch, n_in)`` input dofs.
        g_bc : torch.Tensor
            ``(batch, n_bc)`` Dirichlet values.
        lift : torch.Tensor, optional
            ``(batch, n_out)`` lifting of ``g_bc`` (see :meth:`lift`); computed when omitted.

        Returns
        -------
        torch.Tensor
        """
        batch = u_in.shape[0]
        x = u_in / self.input_scale
        if self.transfer is not None:
            key = (x.device, x.dtype)
            if key not in self._transfer_cache:
                self._transfer_cache[key] = self.transfer.to(device=x.device, dtype=x.dtype)
            x = (self._transfer_cache[key] @ x.T).T
        nodes = self.node_coords.shape[0]
        lift = (self.lift(g_bc) if lift is None else lift).to(x) / self.output_scale
        flag = (~self.free_mask).to(x.dtype).reshape(nodes, self.bs_out).amax(dim=1)
        return torch.cat(
            [
                x.reshape(batch, nodes, self.bs_in),
                self.node_coords.to(x).expand(batch, -1, -1),
                flag.expand(batch, nodes).unsqueeze(-1),
                lift.reshape(batch, nodes, self.bs_out),
            ],
            dim=-1,
        )

    def forward(self, u: Any, g: Tensor | None = None) -> Tensor:
        """Output dof values ``(batch, output_space.num_dofs)``.

        Parameters
        ----------
        u : torch.Tensor, callable or dolfinx Function (or a list of them)
            The input function(s); see :meth:`encode`.
        g : torch.Tensor, optional
            Dirichlet values per sample: ``(batch, n_bc)`` on :attr:`bc_dofs` (in their order) or
            full dof vectors ``(batch, n_out)`` of which the Dirichlet entries are used; 1-D
            for the same values in every sample. Default: the values given with ``bcs``.

        Returns
        -------
        torch.Tensor
            ``(batch, n_out)`` in the wider of the model's and the data's precision (a float32
            model fed float64 data returns float64); equal to ``g`` on the Dirichlet dofs, bit
            for bit.
        """
        u_in = self.encode(u)
        param = next(self.parameters(), None)
        out_dtype = u_in.dtype if u_in.is_floating_point() else torch.get_default_dtype()
        if g is not None and g.is_floating_point():
            out_dtype = torch.promote_types(out_dtype, g.dtype)
        if param is not None:
            if u_in.device != param.device:
                raise ValueError(
                    f"input is on {u_in.device} but the model is on {param.device}; move one"
                )
            out_dtype = torch.promote_types(out_dtype, param.dtype)
            u_in = u_in.to(param.dtype)
        batch = u_in.shape[0]
        # the Dirichlet values stay in the output precision: copied in, never rounded
        g_bc = self.boundary_values(g, batch, u_in.new_empty(0, dtype=out_dtype))
        lift = self.lift(g_bc)
        x = self.node_features(u_in, g_bc.to(u_in.dtype), lift)
        out = self.processor(x, self.edge_index, self.edge_attr.to(x.dtype))
        expected = (batch, x.shape[1], self.bs_out)
        if tuple(out.shape) != expected:
            raise ValueError(
                f"the processor returned shape {tuple(out.shape)}, expected {expected}"
            )
        pred = out.reshape(batch, self.n_out).to(out_dtype) * self.output_scale
        # free dofs: lifting + learned correction; Dirichlet dofs: the data, copied
        result = torch.where(self.free_mask, lift + pred, lift)
        return result

    # -- decoder and output -------------------------------------------------------------------
    def decode(self, dofs: Tensor) -> Any:
        """The dolfinx ``Function`` of ``output_space`` with the given dof values ``(n_out,)``."""
        return self.output_space.function(dofs.detach().cpu().double())

    def write_xdmf(self, path: str | os.PathLike[str], fields: dict[str, Tensor]) -> Path:
        """Write output-space fields (``(n_out,)`` or ``(steps, n_out)``) for ParaView.

        Parameters
        ----------
        path : str or path-like
            Target ``.xdmf`` file (written atomically).
        fields : dict of str to torch.Tensor
            Named dof vectors, e.g. ``{"prediction": u, "reference": u_h}``.

        Returns
        -------
        pathlib.Path
        """
        return write_fields(
            path, self.output_space, {k: v.detach().cpu().double() for k, v in fields.items()}
        )

    # -- save / load --------------------------------------------------------------------------
    def coarse_spaces(self) -> list[FunctionSpace]:
        """Extra spaces the model is built on (none here; the levels of a multigrid model)."""
        return []

    def config(self) -> dict[str, Any]:
        """Plain-value description of the model (without the spaces)."""
        return {
            "class": type(self).__name__,
            "encoder": self.encoder,
            "hidden": self.hidden,
            "layers": self.layers,
            "input_scale": self.input_scale,
            "output_scale": self.output_scale,
            "lifting": self.lifting,
            "processor": getattr(self.processor, "init_args", None),
            "processor_class": type(self.processor).__name__,
            "same_space": self.input_space is self.output_space,
            "coarse_levels": len(self.coarse_spaces()),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save weights, configuration and both spaces (mesh included) to a directory.

        The directory holds ``model.pt`` (weights and configuration), ``output_space.h5``
        (:func:`sciml.fem.save_fields`: mesh, element and the Dirichlet values) and
        ``input_space.h5`` when the input space is another one. It is
        written under a temporary name and renamed, so an existing save is never half
        overwritten.

        Parameters
        ----------
        path : str or path-like
            Directory to create (replaced if it exists).

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
        try:
            bc_full = torch.zeros(self.n_out, dtype=torch.float64)
            bc_full[self.bc_dofs.cpu()] = self.bc_values.cpu().double()
            mask = torch.zeros(self.n_out, dtype=torch.float64)
            mask[self.bc_dofs.cpu()] = 1.0
            if self.input_space is not self.output_space:
                save_fields(tmp / "input_space.h5", self.input_space, {})
            for i, V in enumerate(self.coarse_spaces()):
                save_fields(tmp / f"coarse_{i}.h5", V, {})
            save_fields(tmp / "output_space.h5", self.output_space, {"bc": bc_full, "mask": mask})
            state = {k: v for k, v in self.state_dict().items()}
            torch.save({"config": self.config(), "state_dict": state}, tmp / "model.pt")
            (tmp / "config.json").write_text(json.dumps(self.config(), indent=2))
            old = path.with_name(path.name + ".old")
            if path.exists():
                os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path


def load_spon(
    path: str | os.PathLike[str],
    *,
    processor_factory: Callable[[dict[str, Any]], nn.Module] | None = None,
    output_space: FunctionSpace | None = None,
    input_space: FunctionSpace | None = None,
) -> SPON:
    """Rebuild a model written by :meth:`SPON.save` (spaces, Dirichlet dofs, weights).

    The saved mesh is rebuilt from the file, and dolfinx may number its dofs differently
    from the mesh the model was trained on (e.g. one read from a ``.msh`` file). Pass the
    space the data live on as ``output_space`` (and ``input_space`` if the model has a
    separate one) to get a model that takes and returns dof vectors in that order, exactly
    as before saving; the spaces are checked to have the saved dofs.

    Parameters
    ----------
    path : str or path-like
        The saved directory.
    processor_factory : callable, optional
        Builds a custom processor from the saved configuration; not needed for the default
        graph network.
    output_space, input_space : FunctionSpace, optional
        Spaces in the numbering of the data (default: the spaces rebuilt from the file). For
        a model saved with one space for input and output, ``output_space`` serves both.

    Returns
    -------
    SPON

    Raises
    ------
    FileNotFoundError
        If ``path`` holds no saved model.
    ValueError
        If a given space does not have the saved dofs.
    """
    path = Path(path)
    if not (path / "model.pt").is_file():
        raise FileNotFoundError(f"{path} is not a saved SPON (no model.pt)")
    saved = torch.load(path / "model.pt", weights_only=True)
    config = saved["config"]
    Vo, fields = load_fields(path / "output_space.h5")
    if output_space is not None:
        try:
            perm = match_dofs(Vo, output_space)
        except ValueError as error:
            raise ValueError(f"output_space does not match the saved model: {error}") from error
        fields = {name: values[..., torch.from_numpy(perm)] for name, values in fields.items()}
        Vo = output_space
    if config.get("same_space"):
        Vi = Vo
    else:
        Vi = load_fields(path / "input_space.h5")[0]
        if input_space is not None:
            try:
                match_dofs(Vi, input_space)
            except ValueError as error:
                raise ValueError(f"input_space does not match the saved model: {error}") from error
            Vi = input_space
    dofs = np.flatnonzero(fields["mask"].numpy() > 0.5).astype(np.int64)
    bc = DirichletBC(dofs=dofs, values=fields["bc"][torch.from_numpy(dofs)])
    common = {
        "encoder": config["encoder"],
        "bcs": bc if dofs.size else None,
        "hidden": config["hidden"],
        "layers": config["layers"],
        "input_scale": config["input_scale"],
        "output_scale": config["output_scale"],
        "lifting": config["lifting"],
    }
    model: SPON
    if config["class"] == "MultigridSPON":
        from sciml.spon.multigrid import MultigridSPON

        coarse = [load_fields(path / f"coarse_{i}.h5")[0] for i in range(config["coarse_levels"])]
        model = MultigridSPON(
            Vi, Vo, coarse, heavy=config["heavy"], light=config["light"], **common
        )
    else:
        processor = processor_factory(config) if processor_factory is not None else None
        model = SPON(Vi, Vo, processor, **common)
    model.load_state_dict(saved["state_dict"])
    return model
