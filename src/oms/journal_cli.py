"""`oms replay` and `oms journal`: post-mortems over a journal directory.

    oms replay DIR [--until SEQ|TIME] [--verify] [--orders ...] [--positions] [--book SYMBOL]
    oms journal dump DIR [--json] [--limit N] [--from-seq N]
    oms journal stats DIR
    oms journal tail DIR [-n N] [--json]
    oms journal archive DIR [--keep-plain N] [--delete-older-than-days D]
    oms journal index DIR
    oms journal history DIR (--order-id N | --cl-ord-id N [--session S] | --account A | --symbol S)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

import numpy as np

from oms.blotter import format_book, format_event, format_positions, format_table
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, CommandType, EventType, OrdStatus


# -- progress --

class Progress:
    """A one-line progress bar with rate and ETA on stderr (only when stderr is a terminal,
    or when forced), for long replays."""

    def __init__(self, total: int, label: str, force: bool = False):
        self.total = max(total, 1)
        self.label = label
        self.enabled = force or sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.2 and done < self.total):
            return
        self.last = now
        elapsed = max(now - self.t0, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * min(done, self.total) / self.total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done:,}/{self.total:,}  {rate:,.0f}/s  ETA {eta:5.1f} s")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _count_commands(directory: str) -> int:
    from oms.journal import scan_journal
    return sum(len(s.commands) for s in scan_journal(directory))


def _parse_until(value: str) -> tuple[int | None, int | None]:
    """An integer is a command sequence; anything else an ISO-8601 time (UTC if naive)."""
    if value.isdigit():
        return int(value), None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--until takes a command sequence number or an ISO time, not {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return None, int(when.timestamp() * 1_000_000_000)


def _record_dict(rec, dtype) -> dict:
    return {name: int(rec[name]) for name in dtype.names if not name.startswith("_")}


def _command_text(cmd) -> str:
    kind = CommandType(int(cmd["kind"])).name if int(cmd["kind"]) in CommandType._value2member_map_ \
        else f"KIND_{int(cmd['kind'])}"
    fields = ", ".join(f"{k}={v}" for k, v in _record_dict(cmd, COMMAND_DTYPE).items()
                       if v and k not in ("kind",))
    return f"CMD   {kind:<12} {fields}"


# -- oms replay --

def cmd_replay(args: argparse.Namespace) -> int:
    from oms.journal import JournalError, read_config, replay, verify

    config = read_config(args.directory)
    total = _count_commands(args.directory)
    progress = Progress(total, "replay", force=args.progress)
    try:
        if args.verify:
            commands, events = verify(args.directory, progress=progress)
            progress.finish()
            print(f"verified: {commands:,} commands re-executed, {events:,} journaled events "
                  f"reproduced exactly")
            return 0
        until_seq, until_time = _parse_until(args.until) if args.until else (None, None)
        core, replayed = replay(args.directory, until_seq=until_seq, until_time_ns=until_time,
                                use_snapshots=not args.no_snapshots, progress=progress)
    except JournalError as exc:
        progress.finish()
        print(f"oms replay: {exc}", file=sys.stderr)
        return 1
    progress.finish()
    counters = core.counters()
    print(f"state at command {counters['cmd_seq']:,} (event {counters['event_seq']:,}); "
          f"{replayed:,} commands replayed")
    if args.orders or args.account is not None or args.symbol is not None or args.status \
            or args.order_id is not None:
        _print_orders(core, config, args)
    if args.positions:
        rows = _position_rows(core)
        print("\n".join(format_positions(rows, config)) if rows else "no positions")
    for name in args.book or []:
        _print_book(core, config, name)
    return 0


def _symbol_id(config, name: str) -> int:
    for sym in config.symbols:
        if sym.name == name:
            return sym.symbol_id
    if name.isdigit():
        return int(name)
    raise SystemExit(f"oms replay: unknown symbol {name!r}")


def _account_id(config, name: str) -> int:
    for acc in config.accounts:
        if acc.name == name:
            return acc.account_id
    if name.isdigit():
        return int(name)
    raise SystemExit(f"oms replay: unknown account {name!r}")


def _print_orders(core, config, args) -> None:
    orders = core.orders()
    mask = np.ones(len(orders), dtype=bool)
    if args.account is not None:
        mask &= orders["account_id"] == _account_id(config, args.account)
    if args.symbol is not None:
        mask &= orders["symbol_id"] == _symbol_id(config, args.symbol)
    if args.status:
        mask &= orders["status"] == OrdStatus[args.status.upper()]
    if args.order_id is not None:
        mask &= orders["order_id"] == args.order_id
    selected = np.sort(orders[mask], order="order_id")
    if args.json:
        for o in selected:
            print(json.dumps({k: int(o[k]) for k in o.dtype.names if not k.startswith("_")}))
        return
    rows = []
    for o in selected:
        ev = {name: int(o[name]) for name in ("order_id", "cl_ord_id", "orig_cl_ord_id",
                                               "account_id", "symbol_id", "side", "ord_type",
                                               "tif", "price", "qty", "cum_qty", "leaves_qty",
                                               "status", "version", "strategy_id")}
        ev.update(kind=int(EventType.EXEC_REPORT), exec_type=7, time_ns=int(o["updated_ns"]),
                  avg_px=int(o["cum_notional"]) // int(o["cum_qty"]) if o["cum_qty"] else 0,
                  last_px=0, last_qty=0, trade_id=0, reject_code=0, response_to=0,
                  session_id=int(o["session_id"]), seq=0, cmd_seq=0)
        rows.append(format_event(ev, config))
    print(f"{len(rows)} order(s)")
    print("\n".join(rows))


def _position_rows(core) -> list[dict]:
    pos = core.positions()
    refs = core.symbols()["ref_price"]
    rows = []
    for account_id, symbol_id in zip(*np.nonzero((pos["net_qty"] != 0) | (pos["bought_qty"] != 0)
                                                 | (pos["sold_qty"] != 0))):
        p = pos[account_id, symbol_id]
        rows.append(dict(account_id=int(account_id), symbol_id=int(symbol_id),
                         net_qty=int(p["net_qty"]), avg_px=int(p["avg_px"]),
                         realized_pnl=int(p["realized_pnl"]),
                         unrealized_pnl=(int(refs[symbol_id]) - int(p["avg_px"])) * int(p["net_qty"]),
                         bought_qty=int(p["bought_qty"]), sold_qty=int(p["sold_qty"])))
    return rows


def _print_book(core, config, name: str) -> None:
    symbol_id = _symbol_id(config, name)
    bids, asks = core.book(symbol_id)
    tick = next((s.tick_size for s in config.symbols if s.symbol_id == symbol_id), None)
    print(f"book {name}")
    print("\n".join(format_book(bids, asks, tick)))


# -- oms journal --

def cmd_journal_dump(args: argparse.Namespace) -> int:
    from oms.journal import iter_records, read_config
    config = read_config(args.directory)
    shown = 0
    for path, offset, kind, rec in iter_records(args.directory):
        if args.from_seq is not None and kind == 1 and int(rec["seq"]) < args.from_seq:
            continue
        if args.from_seq is not None and kind == 2 and int(rec["cmd_seq"]) < args.from_seq:
            continue
        _print_record(path, offset, kind, rec, config, args.json)
        shown += 1
        if args.limit is not None and shown >= args.limit:
            break
    return 0


def _print_record(path, offset, kind, rec, config, as_json: bool) -> None:
    if as_json:
        body = _record_dict(rec, COMMAND_DTYPE if kind == 1 else EVENT_DTYPE)
        print(json.dumps({"segment": path.rsplit("/", 1)[-1], "offset": offset,
                          "type": "command" if kind == 1 else "event", **body}))
    elif kind == 1:
        print(f"{int(rec['seq']):>10}  {_command_text(rec)}")
    else:
        print(f"{int(rec['cmd_seq']):>10}  EVENT {format_event(rec, config)}")


def cmd_journal_tail(args: argparse.Namespace) -> int:
    from oms.journal import iter_records, read_config
    config = read_config(args.directory)
    last = []
    for item in iter_records(args.directory):
        last.append(item)
        if len(last) > args.n:
            last.pop(0)
    for path, offset, kind, rec in last:
        _print_record(path, offset, kind, rec, config, args.json)
    return 0


def cmd_journal_stats(args: argparse.Namespace) -> int:
    from oms.journal import scan_journal
    scans = scan_journal(args.directory)
    cmds = np.concatenate([s.commands for s in scans]) if scans else np.empty(0, COMMAND_DTYPE)
    evs = np.concatenate([s.events for s in scans]) if scans else np.empty(0, EVENT_DTYPE)
    size = sum(s.end for s in scans)
    print(f"journal {args.directory}: {len(scans)} segment(s), {size:,} bytes of records, "
          f"{len(cmds):,} commands, {len(evs):,} events")
    rows = [[CommandType(k).name if k in CommandType._value2member_map_ else f"kind {k}",
             f"{n:,}"] for k, n in zip(*np.unique(cmds["kind"], return_counts=True))]
    print("\n".join(format_table(["COMMAND", "COUNT"], rows, align="<>", indent="  ")))
    rows = [[EventType(k).name if k in EventType._value2member_map_ else f"kind {k}",
             f"{n:,}"] for k, n in zip(*np.unique(evs["kind"], return_counts=True))]
    print("\n".join(format_table(["EVENT", "COUNT"], rows, align="<>", indent="  ")))
    if len(cmds):
        seqs = cmds["seq"]
        gaps = np.nonzero(np.diff(seqs) != 1)[0]
        print(f"command sequence {int(seqs[0]):,}..{int(seqs[-1]):,}: "
              + (f"{len(gaps)} gap(s), first after {int(seqs[gaps[0]]):,}" if len(gaps)
                 else "no gaps"))
        seconds = (cmds["time_ns"] // 1_000_000_000)
        secs, counts = np.unique(seconds, return_counts=True)
        span = max(int(secs[-1] - secs[0]) + 1, 1)
        print(f"command time {dt.datetime.fromtimestamp(int(secs[0]), dt.timezone.utc):%Y-%m-%d %H:%M:%S}"
              f" .. {dt.datetime.fromtimestamp(int(secs[-1]), dt.timezone.utc):%H:%M:%S} UTC: "
              f"mean {len(cmds) / span:,.0f}/s, peak {int(counts.max()):,} in one second")
    for s in scans:
        if s.error_offset >= 0:
            kind = "corrupt (valid records follow)" if s.valid_after_error else "torn tail"
            print(f"{kind}: {s.path} offset {s.error_offset}: {s.error_reason}")
    return 0


def cmd_journal_archive(args: argparse.Namespace) -> int:
    from oms.journal import JournalError, archive
    try:
        actions = archive(args.directory, keep_plain=args.keep_plain, level=args.level,
                          delete_older_than_days=args.delete_older_than_days)
    except JournalError as exc:
        print(f"oms journal archive: {exc}", file=sys.stderr)
        return 1
    print("\n".join(actions) if actions else "nothing to archive")
    return 0


def cmd_journal_index(args: argparse.Namespace) -> int:
    from oms.history import HistoryIndex
    index = HistoryIndex(args.directory)
    try:
        n = index.update()
    finally:
        index.close()
    print(f"indexed {n:,} events")
    return 0


def cmd_journal_history(args: argparse.Namespace) -> int:
    from oms.history import HistoryIndex
    from oms.journal import read_config
    config = read_config(args.directory)
    index = HistoryIndex(args.directory)
    try:
        index.update()
        if args.order_id is not None:
            order_ids = [args.order_id]
        elif args.cl_ord_id is not None:
            order_ids = index.find_cl_ord_id(args.session, args.cl_ord_id)
        else:
            account = _account_id(config, args.account) if args.account else None
            symbol = _symbol_id(config, args.symbol) if args.symbol else None
            order_ids = index.closed_orders(account_id=account, symbol_id=symbol)
            if args.limit is not None:
                order_ids = order_ids[-args.limit:]
        if not order_ids:
            print("no such order in the history index")
            return 1
        for oid in order_ids:
            events = index.order_events(oid)
            print(f"order {oid}: {len(events)} event(s)")
            for ev in events:
                if args.json:
                    print(json.dumps(_record_dict(ev, EVENT_DTYPE)))
                else:
                    print("  " + format_event(ev, config))
    finally:
        index.close()
    return 0


def add_commands(sub) -> None:
    """Register `replay` and `journal` on the `oms` command's subparsers."""
    rp = sub.add_parser(
        "replay", help="rebuild the engine state from a journal, inspect it, or verify it",
        description="Re-execute a journal's commands through the engine's step function. "
                    "Without --verify, prints the state at the end (or at --until) and the "
                    "orders, positions and books asked for.")
    rp.add_argument("directory", help="journal directory (as written by a journaled engine)")
    rp.add_argument("--until", help="stop after this command sequence number, or before the "
                                    "first command later than this ISO time (UTC if naive)")
    rp.add_argument("--verify", action="store_true",
                    help="re-execute every command from the start and check that every "
                         "journaled event is reproduced exactly; report the first divergence")
    rp.add_argument("--orders", action="store_true", help="list the orders in the store")
    rp.add_argument("--account", help="only orders of this account (name or id)")
    rp.add_argument("--symbol", help="only orders of this symbol (name or id)")
    rp.add_argument("--status", help="only orders in this status (e.g. accepted, filled)")
    rp.add_argument("--order-id", type=int, help="only this order")
    rp.add_argument("--positions", action="store_true", help="print positions and P&L")
    rp.add_argument("--book", action="append", metavar="SYMBOL", help="print a symbol's book")
    rp.add_argument("--json", action="store_true", help="orders as JSON lines")
    rp.add_argument("--no-snapshots", action="store_true",
                    help="replay from the first command, ignoring snapshots")
    rp.add_argument("--progress", action="store_true",
                    help="show the progress bar even when stderr is not a terminal")
    rp.set_defaults(func=cmd_replay)

    jp = sub.add_parser("journal", help="read a journal: dump, stats, tail")
    jsub = jp.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    dump = jsub.add_parser("dump", help="print every record")
    dump.add_argument("directory")
    dump.add_argument("--json", action="store_true", help="JSON lines")
    dump.add_argument("--limit", type=int, help="at most this many records")
    dump.add_argument("--from-seq", type=int, help="start at this command sequence")
    dump.set_defaults(func=cmd_journal_dump)
    stats = jsub.add_parser("stats", help="counts by type, rates over time, gaps, damage")
    stats.add_argument("directory")
    stats.set_defaults(func=cmd_journal_stats)
    tail = jsub.add_parser("tail", help="print the last records")
    tail.add_argument("directory")
    tail.add_argument("-n", type=int, default=20, help="how many records (default 20)")
    tail.add_argument("--json", action="store_true", help="JSON lines")
    tail.set_defaults(func=cmd_journal_tail)
    arch = jsub.add_parser("archive", help="compress closed segments (zstd); optional "
                                           "deletion of old archives covered by a snapshot")
    arch.add_argument("directory")
    arch.add_argument("--keep-plain", type=int, default=2,
                      help="newest segments left uncompressed (default 2, at least 1)")
    arch.add_argument("--level", type=int, default=3, help="zstd level (default 3)")
    arch.add_argument("--delete-older-than-days", type=float,
                      help="delete archives created before this many days ago, if the newest "
                           "snapshot covers them")
    arch.set_defaults(func=cmd_journal_archive)
    idx = jsub.add_parser("index", help="bring the order-history index (LMDB) up to date")
    idx.add_argument("directory")
    idx.set_defaults(func=cmd_journal_index)
    hist = jsub.add_parser("history", help="a past order's events, from the history index")
    hist.add_argument("directory")
    hist.add_argument("--order-id", type=int)
    hist.add_argument("--cl-ord-id", type=int)
    hist.add_argument("--session", type=int, default=0, help="session of --cl-ord-id")
    hist.add_argument("--account", help="closed orders of this account (name or id)")
    hist.add_argument("--symbol", help="closed orders of this symbol (name or id)")
    hist.add_argument("--limit", type=int, default=20, help="newest N orders (default 20)")
    hist.add_argument("--json", action="store_true", help="events as JSON lines")
    hist.set_defaults(func=cmd_journal_history)
