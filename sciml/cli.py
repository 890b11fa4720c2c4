"""The ``sciml`` command line: ``demo``, ``data``, ``train``, ``evaluate``, ``solve``, ``bench``."""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

_THREADS_HELP = (
    "torch CPU threads (default: torch's choice); 1 is often faster for small networks, "
    "and much faster when other work shares the cores"
)


def _option(text: str) -> tuple[str, Any]:
    """Parse ``key=value``; the value as a Python literal when possible, else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip().replace("-", "_"), value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sciml",
        description="sciml: scientific machine learning on PDEs and operators. Start with "
        "`sciml demo`; every command has its own --help.",
    )
    top = parser.add_subparsers(dest="command", required=True)
    demo = top.add_parser(
        "demo",
        help="the main job: every method on small generated problems (about 2 min on a CPU)",
        description="Generate small datasets with sciml's solvers, train an FNO, a DeepONet and "
        "a SPON briefly, solve an obstacle pressure-Poisson system with the pretrained DCDM vs "
        "AMG-PCG, train a hard-constrained model on diffusion-sorption; print a summary table "
        "and write PNG figures, XDMF fields and summary.md/json into the output folder.",
    )
    demo.add_argument("--out", type=Path, default=Path("sciml-demo"), help="output folder")
    demo.add_argument(
        "--size", choices=("full", "small"), default="full", help="small: the tests' sizes"
    )
    demo.add_argument(
        "--stage",
        dest="stages",
        action="append",
        choices=("fno", "deeponet", "spon", "dcdm", "pihc"),
        help="run only this stage (repeatable; default all)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: see the docs)"
    )
    data = top.add_parser("data", help="PDE datasets").add_subparsers(dest="action", required=True)
    data.add_parser("list", help="list the dataset generators")
    gen = data.add_parser("generate", help="generate a dataset into an HDF5 file")
    gen.add_argument("name", help="dataset name (see `sciml data list`)")
    gen.add_argument("--n-train", type=int, required=True)
    gen.add_argument("--n-test", type=int, default=0)
    gen.add_argument("--out", type=Path, required=True, help="output .h5 file")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=1, help="processes (same result as serial)")
    gen.add_argument("--chunk-size", type=int, default=32, help="samples per seeded chunk")
    gen.add_argument(
        "--set",
        dest="options",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generator option, e.g. --set resolution=64",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    info = data.add_parser("info", help="describe a dataset file")
    info.add_argument("path", type=Path)
    train = top.add_parser(
        "train",
        help="train a model described by a TOML or YAML config file",
        description="Train an FNO, a DeepONet or a SPON from a config file with [data], [model] "
        "and [train] sections (see examples/configs/). The run folder gets the dataset, "
        "checkpoint.pt, history.json, loss.png and a copy of the configuration.",
    )
    train.add_argument("config", type=Path, help="the .toml or .yaml file")
    train.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=int, default=None, help=_THREADS_HELP)
    evaluate = top.add_parser(
        "evaluate",
        help="measure the test error of a checkpoint written by `sciml train`",
        description="Rebuild the model of a `sciml train` checkpoint, print its relative L2 "
        "error per sample (mean, median, max) on a dataset split and write a figure comparing "
        "prediction and reference next to the checkpoint.",
    )
    evaluate.add_argument("checkpoint", type=Path, help="checkpoint.pt or its run folder")
    evaluate.add_argument(
        "--data", type=Path, default=None, help="another dataset with the same fields"
    )
    evaluate.add_argument("--split", choices=("test", "train", "all"), default="test")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--threads", type=int, default=None, help=_THREADS_HELP)
    bench = top.add_parser(
        "bench",
        help="run the benchmarks of a source checkout and refresh benchmarks/README.md",
        description="Run the scripts in benchmarks/ (each writes benchmarks/results/NAME.json: "
        "figures, machine, targets; full runs take minutes to half an hour each on a 2-core "
        "CPU), then rewrite the generated targets table at the top of benchmarks/README.md. "
        "With --quick the scripts run at smoke-test sizes into --out (default: a temporary "
        "folder) and the stored results and README are left alone.",
    )
    bench.add_argument("names", nargs="*", help="benchmarks to run (default: all; see --list)")
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.add_argument("--quick", action="store_true", help="smoke-test sizes (see above)")
    bench.add_argument("--out", type=Path, help="folder for the JSON results")
    bench.add_argument("--dir", type=Path, help="the benchmarks/ folder (default: found)")
    bench.add_argument(
        "--readme-only",
        action="store_true",
        help="run nothing: refresh benchmarks/README.md from the stored results",
    )
    solve = top.add_parser(
        "solve",
        help="solve a sparse linear system (a matrix file or a generated Poisson problem)",
        description="Solve A x = b with a Krylov solver of sciml.linalg and report iterations, "
        "residual and time. b is a vector of ones unless --rhs random.",
    )
    source = solve.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--matrix", type=Path, help="matrix file: Matrix Market (.mtx) or SciPy sparse (.npz)"
    )
    source.add_argument(
        "--poisson", type=int, metavar="N", help="the 5-point Laplacian on an N x N grid"
    )
    solve.add_argument("--solver", choices=("cg", "minres", "gmres"), default="cg")
    solve.add_argument("--precond", choices=("none", "jacobi", "amg"), default="amg")
    solve.add_argument("--rtol", type=float, default=1e-8, help="relative to ||b||")
    solve.add_argument("--maxiter", type=int, default=None)
    solve.add_argument("--rhs", choices=("ones", "random"), default="ones")
    solve.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    return parser


def _load_matrix(path: Path) -> Any:
    """A SciPy CSR matrix from a ``.mtx`` or ``.npz`` file, with a clear error otherwise."""
    import scipy.io
    import scipy.sparse as sp

    if not path.exists():
        raise FileNotFoundError(f"matrix file {path} does not exist")
    try:
        if path.suffix == ".mtx":
            A = scipy.io.mmread(path, spmatrix=False)
        elif path.suffix == ".npz":
            A = sp.load_npz(path)
        else:
            raise ValueError(f"matrix file {path}: expected .mtx or .npz, got {path.suffix!r}")
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"matrix file {path} cannot be read: {error}") from error
    A = sp.csr_array(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"matrix file {path}: the matrix must be square, got {A.shape}")
    return A


def _solve(args: argparse.Namespace) -> int:
    import torch

    from sciml.linalg import SparseMatrix, amg, cg, gmres, jacobi, minres, poisson2d

    device = torch.device(args.device)
    if args.matrix is not None:
        A = SparseMatrix.from_scipy(_load_matrix(args.matrix), device=device, dtype=torch.float64)
        what = str(args.matrix)
    else:
        if args.poisson < 1:
            raise ValueError(f"--poisson needs N >= 1, got {args.poisson}")
        A = poisson2d(args.poisson, device=device)
        what = f"Poisson {args.poisson} x {args.poisson}"
    n = A.shape[0]
    if args.rhs == "ones":
        b = torch.ones(n, dtype=torch.float64, device=device)
    else:
        b = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        b = b.to(device)
    start = time.perf_counter()
    M = {"none": lambda: None, "jacobi": lambda: jacobi(A), "amg": lambda: amg(A)}[args.precond]()
    setup = time.perf_counter() - start
    method = {"cg": cg, "minres": minres, "gmres": gmres}[args.solver]
    start = time.perf_counter()
    sol = method(A, b, rtol=args.rtol, maxiter=args.maxiter, M=M)
    elapsed = time.perf_counter() - start
    relative = float(sol.residual_norm) / max(float(b.norm()), 1e-300)
    print(f"system      {what}: {n} unknowns, {A.nnz} non-zeros, {device}")
    print(f"solver      {args.solver}, preconditioner {args.precond}, rtol {args.rtol:g}")
    print(f"result      {sol.message}")
    print(f"residual    ||b - A x|| / ||b|| = {relative:.3e}")
    print(f"time        setup {setup:.3f} s, solve {elapsed:.3f} s")
    return 0 if bool(sol.converged.all()) else 1


def _train(args: argparse.Namespace) -> int:
    from sciml._machine import torch_threads
    from sciml.app.runs import train_from_config

    try:
        with torch_threads(args.threads):
            result = train_from_config(
                args.config, progress=False if args.quiet else None, device=args.device
            )
    except (FileNotFoundError, ValueError, KeyError, TypeError, ImportError) as error:
        print(f"sciml train: {error}", file=sys.stderr)
        return 2
    print(f"trained in {result.seconds:.1f} s; run folder {result.out_dir}")
    if result.test_loss is not None:
        print(f"relative L2 error: train {result.train_loss:.4g}, test {result.test_loss:.4g}")
    print(f"checkpoint  {result.checkpoint}")
    print(f"evaluate it with: sciml evaluate {result.checkpoint}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from sciml._machine import torch_threads
    from sciml.app.runs import evaluate_checkpoint

    try:
        with torch_threads(args.threads):
            ev = evaluate_checkpoint(
                args.checkpoint, data=args.data, split=args.split, device=args.device
            )
    except (FileNotFoundError, ValueError, KeyError, TypeError, ImportError) as error:
        print(f"sciml evaluate: {error}", file=sys.stderr)
        return 2
    print(f"{ev.checkpoint} on the {ev.split} split of {ev.dataset} ({len(ev.errors)} samples)")
    print(f"relative L2 error: mean {ev.mean:.4g}, median {ev.median:.4g}, max {ev.max:.4g}")
    if ev.recorded_test_loss is not None:
        print(f"(test error recorded at the end of training: {ev.recorded_test_loss:.4g})")
    print(f"figure      {ev.plot} (sample {ev.sample})")
    return 0


def _bench(args: argparse.Namespace) -> int:
    import tempfile

    from sciml.app.bench import find_benchmarks, list_benchmarks, refresh_readme, run_benchmarks

    try:
        folder = find_benchmarks(args.dir)
    except FileNotFoundError as error:
        print(f"sciml bench: {error}", file=sys.stderr)
        return 2
    if args.list:
        for name in list_benchmarks(folder):
            print(name)
        return 0
    failed = []
    if not args.readme_only:
        out = args.out
        if args.quick and out is None:
            out = Path(tempfile.mkdtemp(prefix="sciml-bench-"))
        try:
            runs = run_benchmarks(folder, args.names or None, quick=args.quick, out_dir=out)
        except ValueError as error:
            print(f"sciml bench: {error}", file=sys.stderr)
            return 2
        failed = [run.name for run in runs if run.returncode != 0]
        if out is not None:
            print(f"results in {out}")
    if args.readme_only or not (args.quick or args.out):
        pages = [(folder / "README.md", "targets"), (folder.parent / "README.md", "summary")]
        for readme, block in pages:
            if readme.exists():
                changed = refresh_readme(readme, folder / "results", block=block)
                print(f"{readme}: {'refreshed' if changed else 'already up to date'}")
    if failed:
        print(f"sciml bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sciml`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from sciml.app.demo import run_demo

        result = run_demo(
            args.out,
            size=args.size,
            stages=args.stages,
            progress=not args.quiet,
            threads=args.threads,
        )
        print()
        print(result.table(markdown=False))
        print(f"\n{len(result.files)} files in {result.out_dir} ({result.seconds:.0f} s):")
        for path in result.files:
            print(f"  {path.relative_to(result.out_dir)}")
        return 0
    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "solve":
        try:
            return _solve(args)
        except (FileNotFoundError, ValueError, TypeError) as error:
            print(f"sciml solve: {error}", file=sys.stderr)
            return 2
    from sciml.data import GENERATORS, generate_dataset, read_dataset

    if args.action == "list":
        for name in sorted(GENERATORS):
            print(f"{name:<22} {GENERATORS[name].description}")
        return 0
    if args.action == "generate":
        try:
            path = generate_dataset(
                args.name,
                args.out,
                n_train=args.n_train,
                n_test=args.n_test,
                seed=args.seed,
                chunk_size=args.chunk_size,
                workers=args.workers,
                progress=not args.quiet,
                **dict(args.options),
            )
        except (KeyError, ValueError, TypeError) as error:
            print(f"sciml data generate: {error}", file=sys.stderr)
            return 2
        print(f"wrote {path}")
        return 0
    try:
        data = read_dataset(args.path)
    except (FileNotFoundError, ValueError) as error:
        print(f"sciml data info: {error}", file=sys.stderr)
        return 2
    print(f"{args.path}")
    for key in sorted(data.attrs):
        print(f"  {key}: {data.attrs[key]}")
    for kind in ("inputs", "outputs", "coords"):
        for name, values in getattr(data, kind).items():
            print(f"  {kind}/{name}: {tuple(values.shape)} {values.dtype}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
