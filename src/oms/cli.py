"""The `oms` command line.

    oms demo [--quiet]     a scripted trading session on the built-in reference data,
                           through a real `oms serve` and a TCP client
    oms serve [--config F] the server: FIX 4.2/4.4 and binary gateways in front of the engine
    oms venue-sim -c F     a simulated exchange: FIX 4.4 acceptor, matching engine,
                           liquidity, faults and a control channel (oms.venue_sim)
    oms client ...         interactive order entry against `oms serve`
    oms venues [--config F] the external venues of a running `oms serve`: session state,
                           latency, reject rate, outstanding orders, health
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
    from oms.config import demo_venue_config
    from oms.demo import EngineDriver, TcpDriver, run_demo
    config = demo_venue_config()
    driver = EngineDriver(config) if args.in_process else TcpDriver(config)
    return run_demo(print, quiet=args.quiet, config=config, driver=driver)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.hash_password:
        import getpass
        from oms.gateway.auth import hash_password
        print(hash_password(getpass.getpass("password: ")))
        return 0
    import msgspec
    from oms.gateway.config import load_config
    try:
        config = load_config(args.config)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        print(f"oms serve: bad config {args.config}: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("fix_port", args.fix_port), ("binary_port", args.binary_port),
                                   ("state_dir", args.state_dir)) if v is not None}
    if overrides:
        config = msgspec.convert(msgspec.to_builtins(config) | {
            "server": msgspec.to_builtins(config.server) | overrides}, type(config))
    if args.check:
        print(f"oms serve: {args.config or 'embedded defaults'}: OK "
              f"({len(config.sessions)} sessions, {len(config.users)} users)")
        return 0
    from oms.server import serve
    return serve(config)


def cmd_venue_sim(args: argparse.Namespace) -> int:
    from oms.venue_sim.sim import main
    return main(args.config, port=args.port, control_port=args.control_port, check=args.check)


def cmd_client(args: argparse.Namespace) -> int:
    from oms.client_cli import run_client
    return run_client(args)


def cmd_venues(args: argparse.Namespace) -> int:
    from oms.venues.status import main as venues_main
    return venues_main(args.config, as_json=args.json)


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
    demo.add_argument("--in-process", action="store_true",
                      help="drive the engine directly instead of through oms serve over TCP")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser(
        "serve", help="run the server: FIX and binary gateways in front of the engine",
        description="Start the engine and its FIX 4.2/4.4 and binary TCP gateways.  With no "
                    "--config, the embedded defaults (oms.toml.example spells them out). "
                    "SIGINT or SIGTERM shut down cleanly.")
    serve.add_argument("--config", "-c", metavar="FILE", help="TOML configuration")
    serve.add_argument("--fix-port", type=int, help="override server.fix_port")
    serve.add_argument("--binary-port", type=int, help="override server.binary_port")
    serve.add_argument("--state-dir", help="override server.state_dir")
    serve.add_argument("--check", action="store_true", help="validate the config and exit")
    serve.add_argument("--hash-password", action="store_true",
                       help="read a password and print its salted hash for the config")
    serve.set_defaults(func=cmd_serve)

    venue_sim = sub.add_parser(
        "venue-sim", help="run a simulated exchange (FIX 4.4 acceptor) for oms serve's venues",
        description="Start a FIX 4.4 acceptor in front of its own matching engine, run as an "
                    "exchange: market-maker liquidity, configurable faults and a JSON "
                    "control channel (examples/venue-sim.toml documents every setting). "
                    "SIGINT or SIGTERM shut down cleanly.")
    venue_sim.add_argument("--config", "-c", metavar="FILE", required=True,
                           help="TOML configuration")
    venue_sim.add_argument("--port", type=int, help="override port (the FIX acceptor)")
    venue_sim.add_argument("--control-port", type=int, help="override control_port")
    venue_sim.add_argument("--check", action="store_true", help="validate the config and exit")
    venue_sim.set_defaults(func=cmd_venue_sim)

    client = sub.add_parser(
        "client", help="interactive order entry against oms serve (binary protocol)",
        description="Log in to oms serve and enter orders from the terminal: buy, sell, "
                    "cancel, replace, status, masscancel, watch.  Type `help` once connected.")
    client.add_argument("--host", default="127.0.0.1")
    client.add_argument("--port", type=int, default=9879)
    client.add_argument("--user", default="fund-a")
    client.add_argument("--password", help="default: prompt")
    client.add_argument("--account", help="default account name (default: the first of the "
                                          "reference data the user trades for)")
    client.add_argument("--config", "-c", metavar="FILE",
                        help="server config, for symbol and account names (default: embedded)")
    client.set_defaults(func=cmd_client)

    venues = sub.add_parser(
        "venues", help="the external venues of a running oms serve and their health",
        description="Print the venue table oms serve writes to <state_dir>/venues.json every "
                    "second: session state, sequence numbers, ack and round-trip latency "
                    "percentiles, reject rate, outstanding requests, health problems.")
    venues.add_argument("--config", "-c", metavar="FILE",
                        help="the server's TOML configuration (for its state_dir)")
    venues.add_argument("--json", action="store_true", help="print the raw status as JSON")
    venues.set_defaults(func=cmd_venues)

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
