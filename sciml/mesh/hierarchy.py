"""Nested hierarchies of uniformly refined meshes, for multigrid and convergence studies."""

from __future__ import annotations

from sciml.mesh.mesh import Mesh

__all__ = ["refinement_hierarchy"]


def refinement_hierarchy(mesh: Mesh, levels: int) -> list[Mesh]:
    """Refine a mesh uniformly ``levels`` times; return all meshes, coarsest first.

    Each mesh is nested in the previous one (every fine cell lies in one coarse cell) and keeps
    the markers, so finite-element spaces on consecutive levels are nested too.

    Parameters
    ----------
    mesh : Mesh
        The coarsest mesh.
    levels : int
        Number of refinements (``levels + 1`` meshes are returned).

    Returns
    -------
    list of Mesh
    """
    if levels < 0:
        raise ValueError(f"levels must be >= 0, got {levels}")
    meshes = [mesh]
    for _ in range(levels):
        meshes.append(meshes[-1].refine())
    return meshes
