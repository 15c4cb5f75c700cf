"""`oms demo`: a short scripted trading session on the built-in reference data.

Two halves, kept apart on purpose:

- **The script** (`SCRIPT`): plain data.  Each `Step` is a one-line narrative and the actions
  that illustrate it, written the way a client would say them: account and symbol names,
  decimal prices as strings, orders referred to by a label (the driver turns a label into the
  order's current ClOrdID, or, for a contingent link, into the order id the engine gave it).
- **The driver**: sends an action and returns the events it produced.  `EngineDriver` runs an
  in-process `Engine`; `TcpDriver` starts a real `oms serve` and plays the same script as a
  binary TCP client.  Both turn an action into one COMMAND_DTYPE record (`Driver.command`)
  and differ only in how they send it and collect its events (`_transmit`).

Every command carries an explicit time (a fixed trading day, a few ms apart), so the output is
the same on every run and in any time zone; the demo symbols trade around the clock.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import numpy as np

from oms.config import EngineConfig, demo_config, demo_venue_config, px
from oms.layout import (COMMAND_DTYPE, CommandType, EventType, ExecType, MassCancelScope,
                        OrdType, Side, TimeInForce)

# ---------------------------------------------------------------------------------------------
# The script: data only
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class New:
    """A new order.  `label` names it for later actions.  The order type follows from the
    prices unless `ord_type` names it: a `price` alone is a limit order, `stop` alone a stop
    (market once triggered), both a stop-limit, neither a market order.  `parent` and `oco`
    are labels of earlier orders of the same account: the order waits for `parent` to fill
    (OTO; with `oco` too, a bracket's second leg) and cancels / is cancelled by `oco`."""
    account: str
    label: str
    side: str                       # "BUY" | "SELL"
    qty: int
    symbol: str
    price: str | None
    tif: str = "DAY"
    idem_key: str | None = None     # a UUID: a resend with the same key is answered, not re-run
    stop: str | None = None         # stop (trigger) price
    parent: str | None = None       # label of the parent order (OTO, bracket legs)
    oco: str | None = None          # label of the OCO peer
    ord_type: str | None = None     # an OrdType name, when the prices do not say it
    dest: str | None = None         # ExDestination: a venue name (default: the router picks)

    @property
    def order_type(self) -> OrdType:
        if self.ord_type is not None:
            return OrdType[self.ord_type]
        if self.stop is not None:
            return OrdType.STOP if self.price is None else OrdType.STOP_LIMIT
        return OrdType.MARKET if self.price is None else OrdType.LIMIT


@dataclass(frozen=True)
class Resend:
    """The NEW sent under `label`, sent again unchanged (same ClOrdID, same idempotency key)."""
    label: str


@dataclass(frozen=True)
class Cancel:
    """Cancel an order: a label, or a raw ClOrdID (int) the driver passes through as is."""
    account: str
    order: str | int


@dataclass(frozen=True)
class Replace:
    """Cancel/replace: new limit price and new total quantity."""
    account: str
    order: str
    price: str
    qty: int


@dataclass(frozen=True)
class MassCancel:
    """Cancel every live order of the account."""
    account: str


Action = Union[New, Resend, Cancel, Replace, MassCancel]


@dataclass(frozen=True)
class Step:
    say: str
    actions: tuple[Action, ...]


DEMO_DAY = _dt.datetime(2025, 6, 2, 13, 30, tzinfo=_dt.timezone.utc)   # a Monday, 09:30 NY
START_NS = int(DEMO_DAY.timestamp()) * 1_000_000_000
COMMAND_GAP_NS = 2_000_000                                             # 2 ms between commands
IDEM_KEY = "6f1c2b9e-4d7a-4f0e-9a51-3c2d8e7b1a20"

MM, FUND, RETAIL = "MM-DESK", "FUND-A", "RETAIL-7"

SCRIPT: tuple[Step, ...] = (
    Step("MM-DESK quotes AAPL two levels deep: bids 189.95 x 500 and 189.90 x 1,000, "
         "offers 190.05 x 200 and 190.10 x 500", (
             New(MM, "mm-aapl-bid-1", "BUY", 500, "AAPL", "189.95"),
             New(MM, "mm-aapl-bid-2", "BUY", 1000, "AAPL", "189.90"),
             New(MM, "mm-aapl-ask-1", "SELL", 200, "AAPL", "190.05"),
             New(MM, "mm-aapl-ask-2", "SELL", 500, "AAPL", "190.10"),
         )),
    Step("MM-DESK quotes MSFT: bid 419.90 x 300, offer 420.10 x 300", (
        New(MM, "mm-msft-bid", "BUY", 300, "MSFT", "419.90"),
        New(MM, "mm-msft-ask", "SELL", 300, "MSFT", "420.10"),
    )),
    Step("FUND-A buys 300 AAPL at 190.05: partially fills 200 against MM-DESK's offer, "
         "the other 100 rest as the new best bid", (
             New(FUND, "fund-aapl-buy", "BUY", 300, "AAPL", "190.05"),
         )),
    Step("MM-DESK sells 100 AAPL at 190.05 into FUND-A's bid: the fund's order is now "
         "fully filled", (
             New(MM, "mm-aapl-sell", "SELL", 100, "AAPL", "190.05"),
         )),
    Step("RETAIL-7 bids 10 AAPL at 189.50, below the market: the order rests", (
        New(RETAIL, "retail-aapl-bid", "BUY", 10, "AAPL", "189.50"),
    )),
    Step("RETAIL-7 cancels its 189.50 bid", (
        Cancel(RETAIL, "retail-aapl-bid"),
    )),
    Step("FUND-A offers 200 MSFT at 420.15, one tick behind MM-DESK's 420.10 offer", (
        New(FUND, "fund-msft-ask", "SELL", 200, "MSFT", "420.15"),
    )),
    Step("MM-DESK re-prices its MSFT offer from 420.10 to 420.15 and raises it to 400: a worse "
         "price alone would keep its time priority, but a larger size loses it: it now queues "
         "behind FUND-A", (
             Replace(MM, "mm-msft-ask", "420.15", 400),
         )),
    Step("FUND-A cuts its 420.15 offer from 200 to 30: a pure size reduction keeps its place "
         "at the head of the queue", (
             Replace(FUND, "fund-msft-ask", "420.15", 30),
         )),
    Step("RETAIL-7 buys 50 MSFT at 420.15: FUND-A fills first (30, it kept its place), "
         "MM-DESK second (20, it lost its place)", (
             New(RETAIL, "retail-msft-buy", "BUY", 50, "MSFT", "420.15"),
         )),
    Step("FUND-A sends an IOC to buy 800 AAPL at 190.10: 500 fill against the offer, "
         "the remaining 300 are cancelled", (
             New(FUND, "fund-aapl-ioc", "BUY", 800, "AAPL", "190.10", tif="IOC"),
         )),
    Step("FUND-A sells 200 AAPL at market: fills at the best bid, 189.95, below its average "
         "cost (a realized loss)", (
             New(FUND, "fund-aapl-mkt", "SELL", 200, "AAPL", None),
         )),
    Step("FUND-A bids 100 AAPL at 190.005: rejected, the price is not on the 0.01 tick", (
        New(FUND, "fund-off-tick", "BUY", 100, "AAPL", "190.005"),
    )),
    Step("FUND-A bids 100 AAPL at 215.00: rejected, more than 10% away from the last trade "
         "(189.95)", (
             New(FUND, "fund-collar", "BUY", 100, "AAPL", "215.00"),
         )),
    Step("RETAIL-7 buys 100 MSFT at 420.15 (42,015.00 notional): rejected, above the account's "
         "25,000 per-order limit", (
             New(RETAIL, "retail-too-big", "BUY", 100, "MSFT", "420.15"),
         )),
    Step(f"FUND-A bids 100 AAPL at 189.00 GTC with idempotency key {IDEM_KEY}: the order rests", (
        New(FUND, "fund-aapl-gtc", "BUY", 100, "AAPL", "189.00", tif="GTC", idem_key=IDEM_KEY),
    )),
    Step("FUND-A's gateway times out and resends that order (same ClOrdID, same key): the "
         "engine answers with the original's status, nothing is created", (
             Resend("fund-aapl-gtc"),
         )),
    Step("FUND-A cancels ClOrdID 999999, which it never sent: rejected, unknown order", (
        Cancel(FUND, 999_999),
    )),
    Step("RETAIL-7 offers 20 of its MSFT at 421.00 GTC: the order rests", (
        New(RETAIL, "retail-msft-ask", "SELL", 20, "MSFT", "421.00", tif="GTC"),
    )),
    Step("FUND-A enters a bracket: buys 100 AAPL at 190.00 (the entry, now the best bid); a "
         "take-profit selling 100 at 190.50 and a stop-loss selling 100 on a 189.50 stop, each "
         "other's OCO peer, wait for the entry to fill", (
             New(FUND, "fund-entry", "BUY", 100, "AAPL", "190.00"),
             New(FUND, "fund-take-profit", "SELL", 100, "AAPL", "190.50", parent="fund-entry"),
             New(FUND, "fund-stop-loss", "SELL", 100, "AAPL", None, stop="189.50",
                 parent="fund-entry", oco="fund-take-profit"),
         )),
    Step("MM-DESK sells 100 AAPL at 190.00 and fills the entry: both legs are activated "
         "(TRIGGERED): the take-profit rests as the offer, the stop-loss is held by the OMS "
         "until AAPL trades at 189.50 or lower", (
             New(MM, "mm-aapl-sell-2", "SELL", 100, "AAPL", "190.00"),
         )),
    Step("RETAIL-7 buys 100 AAPL at 190.50 and fills the take-profit: its OCO peer, the "
         "stop-loss, is cancelled (OCO_PEER_TRADED)", (
             New(RETAIL, "retail-aapl-buy", "BUY", 100, "AAPL", "190.50"),
         )),
    Step("RETAIL-7 protects those 100 AAPL with a sell stop at 190.00, below the market (last "
         "190.50): held by the OMS, not in the book", (
             New(RETAIL, "retail-aapl-stop", "SELL", 100, "AAPL", None, stop="190.00"),
         )),
    Step("FUND-A sells 100 AAPL at market: it fills at 189.95 against MM-DESK's bid; RETAIL-7's "
         "stop is triggered when AAPL traded at 189.95 and sells its 100 at market, also at "
         "189.95 (a 55.00 loss)", (
             New(FUND, "fund-aapl-mkt-2", "SELL", 100, "AAPL", None),
         )),
    Step("MM-DESK pulls all its remaining orders (mass cancel by account)", (
        MassCancel(MM),
    )),
)



@dataclass(frozen=True)
class VenueStep:
    """A step of the venue act: its action's events are collected until one shows
    `until` (an ExecType name) for the action's order: the venue answers asynchronously."""
    say: str
    action: Action
    until: str


# Played only through oms serve (TcpDriver): the venues are real processes over TCP, so the
# act runs on the wall clock and its times differ from run to run.
VENUE_SCRIPT: tuple[VenueStep, ...] = (
    VenueStep("FUND-A buys 100 NVDA at 140.05.  NVDA is listed at SIM-A and SIM-B, two "
              "`oms venue-sim` exchanges the server started beside itself; the router picks "
              "SIM-B, the cheaper taker fee.  The order is PENDING_NEW until SIM-B "
              "acknowledges it over FIX, then fills against SIM-B's market maker at 140.01",
              New(FUND, "fund-nvda-buy", "BUY", 100, "NVDA", "140.05"), "TRADE"),
    VenueStep("FUND-A bids 100 NVDA at 139.00 with ExDestination SIM-A: routed there as "
              "asked; it rests in SIM-A's book",
              New(FUND, "fund-nvda-bid", "BUY", 100, "NVDA", "139.00", dest="SIM-A"), "NEW"),
    VenueStep("FUND-A cancels it: PENDING_CANCEL until SIM-A confirms the cancel",
              Cancel(FUND, "fund-nvda-bid"), "CANCELED"),
)


# ---------------------------------------------------------------------------------------------
# The drivers: an in-process engine, or oms serve over TCP
# ---------------------------------------------------------------------------------------------

class Driver:
    """What every driver shares: the labels.  ClOrdIDs are assigned from 1001 up, one per
    NEW, REPLACE and CANCEL, like a FIX client's; a label maps to its order's current ClOrdID
    (a REPLACE changes it) and to the order id of its NEW report (what a contingent link
    names).  Each action becomes one COMMAND_DTYPE record (`command`); a subclass sends it
    and returns the events it produced (`_transmit`), and implements `finish`, `book` and
    `positions`."""

    def __init__(self, config: EngineConfig):
        self.config = config
        self.accounts = {a.name: a.account_id for a in config.accounts}
        self.symbols = {s.name: s.symbol_id for s in config.symbols}
        self.venues = {v.name: v.venue_id for v in config.venues}
        self.next_cl_ord_id = 1001
        self.current: dict[str, int] = {}     # label -> the order's current ClOrdID
        self.order_ids: dict[str, int] = {}   # label -> the order id of its NEW report
        self.sent: dict[str, np.ndarray] = {}  # label -> the NEW command, for Resend
        self.unreported: list = []

    def _cl_ord_id(self) -> int:
        self.next_cl_ord_id += 1
        return self.next_cl_ord_id - 1

    def _session(self, account_id: int) -> int:
        """The session id commands carry (0: the gateway sets it)."""
        return 0

    def _target(self, order: str | int) -> int:
        return order if isinstance(order, int) else self.current[order]

    def _order_id(self, label: str | None) -> int:
        if label is None:
            return 0
        try:
            return self.order_ids[label]
        except KeyError:
            raise ValueError(f"order {label!r} has no order id: it was never accepted") from None

    def command(self, action: Action, time_ns: int) -> np.ndarray:
        """The command record (one row) that carries `action` at `time_ns`."""
        if isinstance(action, Resend):
            cmd = self.sent[action.label].copy()
            cmd["time_ns"] = time_ns
            return cmd
        cmd = np.zeros(1, dtype=COMMAND_DTYPE)
        c = cmd[0]
        c["time_ns"] = time_ns
        if isinstance(action, New):
            account_id = self.accounts[action.account]
            key = uuid.UUID(action.idem_key).int if action.idem_key else 0
            c["kind"] = CommandType.NEW
            c["session_id"] = self._session(account_id)
            c["account_id"] = account_id
            c["symbol_id"] = self.symbols[action.symbol]
            c["side"] = Side[action.side]
            c["ord_type"] = action.order_type
            c["tif"] = TimeInForce[action.tif]
            c["qty"] = action.qty
            c["price"] = 0 if action.price is None else px(action.price)
            c["stop_price"] = 0 if action.stop is None else px(action.stop)
            c["parent_order_id"] = self._order_id(action.parent)
            c["oco_order_id"] = self._order_id(action.oco)
            if action.dest is not None:
                c["ex_destination"] = self.venues[action.dest] + 1
            c["idem_hi"], c["idem_lo"] = key >> 64, key & ((1 << 64) - 1)
            c["cl_ord_id"] = self._cl_ord_id()
        elif isinstance(action, Cancel):
            c["kind"] = CommandType.CANCEL
            c["session_id"] = self._session(self.accounts[action.account])
            c["orig_cl_ord_id"] = self._target(action.order)
            c["cl_ord_id"] = self._cl_ord_id()
        elif isinstance(action, Replace):
            c["kind"] = CommandType.REPLACE
            c["session_id"] = self._session(self.accounts[action.account])
            c["orig_cl_ord_id"] = self._target(action.order)
            c["price"] = px(action.price)
            c["qty"] = action.qty
            c["cl_ord_id"] = self._cl_ord_id()
        elif isinstance(action, MassCancel):
            c["kind"] = CommandType.MASS_CANCEL
            c["admin_op"] = MassCancelScope.ACCOUNT
            c["account_id"] = self.accounts[action.account]
        else:
            raise TypeError(f"unknown demo action {action!r}")
        return cmd

    def send(self, action: Action, time_ns: int) -> np.ndarray:
        """Send one action at `time_ns`; returns the events it produced (EVENT_DTYPE)."""
        cmd = self.command(action, time_ns)
        events = self._transmit(cmd)
        cl_ord_id = int(cmd[0]["cl_ord_id"])
        report = [ev for ev in events if ev["kind"] == EventType.EXEC_REPORT
                  and int(ev["cl_ord_id"]) == cl_ord_id]
        if isinstance(action, New):
            self.sent[action.label] = cmd
            self.current[action.label] = cl_ord_id
            if report and report[0]["exec_type"] in (ExecType.NEW, ExecType.PENDING_NEW):
                self.order_ids[action.label] = int(report[0]["order_id"])
        elif isinstance(action, Replace) and any(
                ev["exec_type"] == ExecType.REPLACED for ev in report):
            self.current[action.order] = cl_ord_id
        return events

    def _transmit(self, cmd: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class EngineDriver(Driver):
    """Plays actions on an in-process `Engine`.  Each account trades on its own session
    (session id = account id + 1), as it would through a gateway."""

    def __init__(self, config: EngineConfig):
        from oms._engine import Engine    # the compiled core, imported only when driving it
        super().__init__(config)
        self.engine = Engine(config)
        self.engine.start()

    def _session(self, account_id: int) -> int:
        return account_id + 1

    def _transmit(self, cmd: np.ndarray) -> np.ndarray:
        e = self.engine
        seq = int(e.submit_batch(cmd, stamp_time=False)[0])
        e.wait(seq)                          # blocks until processed
        drained = e.poll()                   # wait() leaves events queued: take them all
        self.unreported.extend(drained[drained["cmd_seq"] != seq])
        return drained[drained["cmd_seq"] == seq]

    def finish(self) -> list:
        """Stop the engine (everything sent is processed first); returns any event that no
        `send` returned (none, unless the engine emitted one for no command of ours)."""
        self.engine.stop()
        self.unreported.extend(self.engine.poll())
        return self.unreported

    def book(self, symbol: str):
        return self.engine.core.book(self.symbols[symbol])

    def positions(self):
        return self.engine.positions()


STATUS_PROBE = (1 << 63) - 1     # a ClOrdID no demo order uses: its STATUS answer ends a step


class TcpDriver(Driver):
    """Plays actions through a real `oms serve` (started on this process's background thread,
    on ephemeral localhost ports, journal off) and a binary TCP client (`oms.client`).

    Every account trades through the demo user's one binary session, which may set command
    time (the script's times make the output reproducible); a NEW with a stop price or a link
    goes as an `N` frame.  After each action the driver sends a STATUS for an id no order has:
    its answer arrives after every event of the action, so the events in between are exactly
    the action's."""

    def __init__(self, config: EngineConfig):
        import io
        import tempfile
        from oms.client import BinaryClient
        from oms.gateway.config import default_config
        from oms.gateway.log import Log
        from oms.server import ServerThread
        super().__init__(config)
        self._tmp = tempfile.TemporaryDirectory(prefix="oms-demo-")
        # the engine's demo venues are `oms venue-sim` processes on free ports
        server_config = default_config(engine=config, venue_ports=(0, 0), fix_port=0,
                                       binary_port=0, state_dir=self._tmp.name,
                                       journal=False)
        self.log = io.StringIO()
        self.server = ServerThread(server_config, Log(self.log, "warning")).start()
        self.client = BinaryClient("127.0.0.1", self.server.binary_port, "demo", "demo").connect()

    def _transmit(self, cmd: np.ndarray) -> np.ndarray:
        from oms.client import ClientError
        c = self.client
        time_ns = int(cmd[0]["time_ns"])
        c.send_commands(cmd)
        c.status(orig_cl_ord_id=STATUS_PROBE, time_ns=time_ns)
        events = c.wait_for(lambda ev: ev["cl_ord_id"] == STATUS_PROBE, timeout=10)[:-1]
        if c.rejects:
            raise ClientError(f"the server rejected a demo frame: {c.rejects}")
        return events

    plays_venues = True              # the server's simulated venues are real processes

    def wait_until_up(self, timeout: float = 30.0) -> None:
        """Until every venue session of the server is logged on."""
        import time
        deadline = time.monotonic() + timeout
        sessions = self.server.gateway.venue_sessions.values()
        while not all(vs.state == "UP" for vs in sessions):
            if time.monotonic() > deadline:
                raise RuntimeError("the demo venues did not come up: " + self.log.getvalue())
            time.sleep(0.05)

    def send_until(self, action: Action, time_ns: int, exec_type: ExecType) -> np.ndarray:
        """Send one action; returns its events up to the first report of `exec_type` for
        the action's ClOrdID (a venue answers when it answers)."""
        cmd = self.command(action, time_ns)
        cl_ord_id = int(cmd[0]["cl_ord_id"])
        self.client.send_commands(cmd)
        events = self.client.wait_for(
            lambda ev: ev["exec_type"] == exec_type and ev["cl_ord_id"] == cl_ord_id
            and ev["kind"] == EventType.EXEC_REPORT, timeout=20)
        if isinstance(action, New):
            self.current[action.label] = cl_ord_id
            first = events[events["cl_ord_id"] == cl_ord_id][0]
            self.order_ids[action.label] = int(first["order_id"])
        return events

    def finish(self) -> list:
        """Stop the client and the server; returns events that answered no action."""
        self.unreported.extend(self.client.read(0.05))
        self.client.close()
        self.server.stop()
        self._tmp.cleanup()
        return self.unreported

    def book(self, symbol: str):
        return self.server.gateway.engine.core.book(self.symbols[symbol])

    def positions(self):
        return self.server.gateway.engine.positions()


# ---------------------------------------------------------------------------------------------
# The player: script + driver -> text
# ---------------------------------------------------------------------------------------------

def symbols_touched(script: Sequence[Step]) -> list[str]:
    """Symbols the script's orders name, in order of first appearance."""
    seen: dict[str, None] = {}
    for step in script:
        for action in step.actions:
            if isinstance(action, New):
                seen.setdefault(action.symbol)
    return list(seen)


def run_demo(out: Callable[[str], Any] = print, quiet: bool = False,
             config: EngineConfig | None = None, script: Sequence[Step] = SCRIPT,
             driver: Any = None) -> int:
    """Play `script` and write the blotter, the final books and the positions through `out`
    (one line per call).  `quiet` keeps only the books and positions.  Returns an exit code:
    0, or 1 if the engine emitted an event that answers none of the script's commands."""
    from oms import blotter

    config = config or demo_venue_config()
    driver = driver or EngineDriver(config)
    names = blotter.Names(config)
    n_events = 0
    indent = "  "
    venue_lines: list[str] = []
    try:
        if not quiet:
            out(f"oms demo: a scripted session on the built-in reference data, "
                f"{DEMO_DAY:%a %Y-%m-%d} from {DEMO_DAY:%H:%M} UTC")
            out("accounts: " + ", ".join(a.name for a in config.accounts)
                + "; symbols: " + ", ".join(s.name for s in config.symbols))
            out("")
            out(indent + blotter.blotter_header())
        time_ns = START_NS
        for number, step in enumerate(script, 1):
            if not quiet:
                out(f"[{number}] {step.say}")
            for action in step.actions:
                events = driver.send(action, time_ns)
                time_ns += COMMAND_GAP_NS
                n_events += len(events)
                if not quiet:
                    for line in blotter.format_events(events, names):
                        out(indent + line)
        if getattr(driver, "plays_venues", False) and config.venues:
            venue_lines = play_venue_act(driver, names, indent)
    finally:
        stray = driver.finish()
    if stray and not quiet:
        out("events answering no command of the script:")
        for line in blotter.format_events(stray, names):
            out(indent + line)

    n_commands = sum(len(step.actions) for step in script)
    if not quiet:
        out("")
        out(f"{n_commands} commands, {n_events} events.")
    for i, symbol in enumerate(symbols_touched(script)):
        bids, asks = driver.book(symbol)
        if i or not quiet:
            out("")
        out(f"Final book {symbol}")
        tick = next((s.tick_size for s in config.symbols if s.name == symbol), None)
        for line in blotter.format_book(bids, asks, tick, indent=indent):
            out(line)
    out("")
    out("Positions and P&L (USD; unrealized at the last trade price)")
    # the script's symbols: the venue act's (printed after it) vary with the venues' clock
    touched = symbols_touched(script)
    script_ids = {s.symbol_id for s in config.symbols if s.name in touched}
    rows = driver.positions()
    for line in blotter.format_positions(
            [r for r in rows if int(r["symbol_id"]) in script_ids], names, indent=indent):
        out(line)
    if venue_lines and not quiet:
        out("")
        for line in venue_lines:
            out(line)
        out("")
        out("Positions in the symbols routed out")
        for line in blotter.format_positions(
                [r for r in rows if int(r["symbol_id"]) not in script_ids], names,
                indent=indent):
            out(line)
    return 1 if stray else 0


VENUE_ACT_TITLE = "Routed out: orders sent to external venues over FIX"


def play_venue_act(driver: Any, names: Any, indent: str) -> list[str]:
    """The venue act (VENUE_SCRIPT) through oms serve: its blotter lines.  On the wall
    clock: the venues are processes that answer in their own time."""
    import time
    from oms import blotter
    driver.wait_until_up()
    lines = [VENUE_ACT_TITLE + " (wall-clock times; these rows differ from run to run)",
             "", indent + blotter.blotter_header()]
    for number, step in enumerate(VENUE_SCRIPT, 1):
        lines.append(f"[V{number}] {step.say}")
        events = driver.send_until(step.action, time.time_ns(), ExecType[step.until])
        lines.extend(indent + line for line in blotter.format_events(events, names))
    return lines
