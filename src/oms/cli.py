"""The `oms` command line.

    oms demo [--quiet]     a scripted trading session on the built-in reference data
    oms version            the installed version
    oms replay DIR ...     rebuild, inspect or verify the state a journal records
    oms journal ACTION DIR dump, stats or tail of a journal
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("oms")
    except PackageNotFoundError:
        return "unknown (not installed)"


def cmd_demo(args: argparse.Namespace) -> int:
    from oms.demo import run_demo
    return run_demo(print, quiet=args.quiet)


def cmd_version(args: argparse.Namespace) -> int:
    print(f"oms {_version()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oms", description="Order management system with a compiled core.")
    parser.add_argument("--version", action="version", version=f"oms {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo", help="play a scripted trading session and print the blotter, books and P&L",
        description="Start an engine with the built-in reference data (oms.config."
                    "demo_config), play a short scripted session with fixed command times, "
                    "and print every event, the final books and the positions.")
    demo.add_argument("--quiet", "-q", action="store_true",
                      help="print only the final books and positions, not the blotter")
    demo.set_defaults(func=cmd_demo)

    version = sub.add_parser("version", help="print the installed version")
    version.set_defaults(func=cmd_version)

    from oms.journal_cli import add_commands as add_journal_commands
    add_journal_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:                     # `oms demo | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
