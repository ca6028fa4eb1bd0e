"""Run every benchmark, or the ones named: ``python -m bench [ws] [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

import bench

HELPERS = {"common", "bare_app"}


def available() -> list[str]:
    """The benchmark modules of this package, by name."""
    names = [m.name for m in pkgutil.iter_modules([str(Path(bench.__file__).parent)])]
    return sorted(name for name in names if name not in HELPERS and not name.startswith("_"))


def main() -> None:
    """Parse the command line and run the chosen benchmarks in turn."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="name",
        help=f"benchmarks to run (default: all of {', '.join(available())})",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="reduced sizes, for a smoke run")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(available())}"
        )
    for name in args.names or available():
        importlib.import_module(f"bench.{name}").run(quick=args.quick)


if __name__ == "__main__":
    main()
