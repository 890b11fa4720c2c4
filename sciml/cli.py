"""The ``sciml`` command line: ``sciml data list|generate|info``."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


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
    parser = argparse.ArgumentParser(prog="sciml", description="sciml command line")
    top = parser.add_subparsers(dest="command", required=True)
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
    return parser


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
