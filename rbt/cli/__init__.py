"""The ``rbt`` command line: thin wrappers over the library, one module per command.

:mod:`.args` holds what the data-reading commands share (argparse types, the data options and
loading them with a checkpoint's defaults); :mod:`.problems` is the CLI's wording of
:mod:`rbt.model_fit`'s problems. The library never imports this package.
"""

from __future__ import annotations

import argparse
import gc
import sys

from .. import __version__
from . import dashboard, explain, features, predict, train

COMMANDS = (features, train, predict, explain, dashboard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rbt", description="RBTransformer toolkit: BDE features, models, explanations.")
    parser.add_argument("--version", action="version", version=f"rbt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        if argv is None:  # the process's own command line: the interpreter exits next
            # its final collections then skip every object: pandas' and scipy's modules cost
            # 0.3 s of teardown otherwise (as rbt.cluster's workers do when they close)
            gc.freeze()


def _run(args) -> int:
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileExistsError, FileNotFoundError, OSError, ImportError) as err:
        print(f"rbt {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"rbt {args.command}: error: out of memory; try fewer files or windows at a time, "
              "or a smaller --batch-size / --internal-batch-size", file=sys.stderr)
        return 2
