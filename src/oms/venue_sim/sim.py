"""`oms venue-sim`: a simulated exchange, as a FIX 4.4 acceptor process.

It is `oms serve`'s gateway and engine configured as an exchange (`config.server_config`):
the engine has no external venues, so every order matches in its own book, with its own
OrderIDs and ExecIDs; the acceptor's session layer (ClOrdID tables, persisted sequence
numbers, resend and gap fill, OrderStatusRequest answers) is the one `oms serve` runs.  What
the simulator adds sits in subclasses of the gateway's classes:

- `SimGateway.submit` sees every command a counterparty's messages became before it enters
  the ring and applies the inbound faults (silent, drop_ratio, reject_ratio,
  disconnect_after): the session layer has already counted the message, so sequence numbers
  advance as they should and only the business handling is skipped;
- `SimFixSession.flush` holds outbound application messages for `ack_delay` (everything
  behind them waits too: the counterparty must see the numbers in order);
- `SimFixConnection.connection_lost` applies cancel-on-disconnect;
- `SimEgress.route` watches the events for the market maker's quotes and the trades to
  remember for busts and corrections;
- `MarketMaker` rests a ladder of post-only quotes per symbol from a reserved session
  (`MM_SESSION_ID`, account `SIM-MM`) through the same submit path, so they are journaled
  like everything else;
- `ControlServer` is the newline-delimited JSON control channel (`control.py` has the client).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import shutil
import signal
import sys
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path

import msgspec
import numpy as np

from oms._fix import format_timestamp
from oms.blotter import format_price
from oms.config import px
from oms.gateway.fix import ADMIN_TYPES, FixConnection, FixSession
from oms.gateway.gateway import Egress, Gateway
from oms.gateway.log import Log
from oms.gateway.store import split_messages
from oms.layout import (COMMAND_DTYPE, CommandType, EventType, ExecInst, ExecType,
                        MassCancelScope, OrdStatus, OrdType, Side, TimeInForce)
from oms.venue_sim.config import (MM_SESSION_ID, SimFaults, SimLiquidity, VenueSimConfig,
                                  load_sim_config, server_config)

TRADE_MEMORY = 100_000          # trades remembered for bust / correct, the most recent
LIVE = [OrdStatus.ACCEPTED, OrdStatus.PARTIALLY_FILLED, OrdStatus.PENDING_CANCEL,
        OrdStatus.PENDING_REPLACE]
FIX_STATUS = {OrdStatus.ACCEPTED: "0", OrdStatus.PARTIALLY_FILLED: "1", OrdStatus.FILLED: "2",
              OrdStatus.CANCELLED: "4", OrdStatus.PENDING_CANCEL: "6",
              OrdStatus.REJECTED: "8", OrdStatus.EXPIRED: "C", OrdStatus.PENDING_REPLACE: "E"}
QUOTE_ENDS = frozenset([ExecType.CANCELED, ExecType.REJECTED, ExecType.EXPIRED])


class ControlError(Exception):
    """A control request that cannot be carried out; its text is the answer's `error`."""


def _command(kind: int, **fields) -> np.ndarray:
    c = np.zeros(1, dtype=COMMAND_DTYPE)
    c["kind"] = kind
    c["time_ns"] = time.time_ns()
    for name, value in fields.items():
        c[name] = value
    return c


def _side(value) -> int:
    if value in (1, "1", "buy", "BUY", "b"):
        return Side.BUY
    if value in (2, "2", "sell", "SELL", "s"):
        return Side.SELL
    raise ControlError(f"side must be buy or sell, not {value!r}")


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------

class FaultState:
    """The faults in force (config values, changed at run time by the control channel), the
    seeded RNG behind the ratios, and what they did."""

    def __init__(self, cfg: SimFaults):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.counters = dict(received=0, dropped=0, rejected=0, disconnects=0,
                             cancel_on_disconnect=0, held=0)

    @property
    def inbound(self) -> bool:
        """Whether any fault looks at inbound messages (otherwise they pass untouched)."""
        c = self.cfg
        return bool(c.silent or c.drop_ratio or c.reject_ratio or c.disconnect_after)

    def update(self, changes: dict) -> SimFaults:
        """Apply `changes` (field -> value, validated as the config is); a new `seed`
        restarts the RNG."""
        try:
            self.cfg = msgspec.convert(msgspec.to_builtins(self.cfg) | dict(changes), SimFaults)
        except msgspec.ValidationError as exc:
            raise ControlError(f"faults: {exc}") from None
        if "seed" in changes:
            self.rng = random.Random(self.cfg.seed)
        return self.cfg


# ---------------------------------------------------------------------------------------------
# Session layer hooks
# ---------------------------------------------------------------------------------------------

class SimFixSession(FixSession):
    """A FIX session whose outbound application messages can be held for `ack_delay`."""

    def __init__(self, gw: "SimGateway", cfg):
        super().__init__(gw, cfg)
        self.held: deque = deque()          # (due, connection, bytes), in sequence order
        self.release_timer: asyncio.TimerHandle | None = None

    def flush(self) -> None:
        delay = self.gw.faults.cfg.ack_delay
        if not delay and not self.held:
            return super().flush()
        out = self.codec.take()
        if not out:
            return
        self.store.append(out)
        conn = self.conn
        if conn is None or not self.codec.logged_on:
            return
        while self.held and self.held[0][1] is not conn:
            self.held.popleft()             # for a lost connection: resent on request
        now = time.monotonic()
        last = self.held[-1][0] if self.held else now
        if any(mt not in ADMIN_TYPES for _, mt, _ in split_messages(out)):
            due = max(now + delay, last)
            self.gw.faults.counters["held"] += 1
        elif self.held:
            due = last                      # an admin message may not overtake a held one
        else:
            conn.write(out)
            return
        self.held.append((due, conn, out))
        self._schedule()

    def _schedule(self) -> None:
        if self.release_timer is None and self.held:
            wait = max(0.0, self.held[0][0] - time.monotonic())
            self.release_timer = self.gw.loop.call_later(wait, self._release)

    def _release(self) -> None:
        self.release_timer = None
        now = time.monotonic()
        while self.held and self.held[0][0] <= now:
            _, conn, out = self.held.popleft()
            if conn is self.conn and not conn.closing:
                conn.write(out)
        self._schedule()


class SimFixConnection(FixConnection):
    """A connection of the simulator's acceptor: counts application messages for
    `disconnect_after` and reports a lost session for cancel-on-disconnect."""

    def __init__(self, gw: "SimGateway"):
        super().__init__(gw)
        self.app_messages = 0

    def connection_lost(self, exc) -> None:
        s = self.session
        super().connection_lost(exc)
        if s is not None:
            self.gw.session_dropped(s)


# ---------------------------------------------------------------------------------------------
# Egress: quotes and trades
# ---------------------------------------------------------------------------------------------

class SimEgress(Egress):
    def route(self, k: int) -> None:
        gw: SimGateway = self.gw
        ev = self.buf[:k]
        if gw.own_mass_cancels:
            # the simulator's own mass cancels (venue kill, cancel-on-disconnect) are
            # unsolicited: their cancels go out, their OrderMassCancelReport does not
            mine = (ev["kind"] == EventType.MASS_CANCEL_REPORT) & np.isin(
                ev["cmd_seq"], list(gw.own_mass_cancels))
            if mine.any():
                gw.own_mass_cancels.difference_update(ev["cmd_seq"][mine].tolist())
                self.buf["session_id"][:k][mine] = MM_SESSION_ID
        mm = ev["session_id"] == MM_SESSION_ID
        if mm.any():
            gw.mm.on_events(ev[mm & (ev["kind"] == EventType.EXEC_REPORT)])
        trades = ~mm & (ev["kind"] == EventType.EXEC_REPORT) & (ev["exec_type"] == ExecType.TRADE)
        if trades.any():
            gw.trades.record(ev[trades])
        super().route(k)
        gw.mm.refill()


class TradeLog:
    """The trades the simulator reported to its counterparties, by ExecID (as the acceptor's
    codec writes it: the gateway's prefix and the event sequence), for busts and
    corrections."""

    def __init__(self, prefix: bytes):
        self.prefix = prefix
        self.trades: OrderedDict[str, dict] = OrderedDict()
        self.count = 0

    def record(self, rows) -> None:
        for r in rows:
            exec_id = (self.prefix + b"%d" % int(r["seq"])).decode()
            self.trades[exec_id] = dict(
                session_id=int(r["session_id"]), order_id=int(r["order_id"]),
                cl_ord_id=int(r["cl_ord_id"]), symbol_id=int(r["symbol_id"]),
                side=int(r["side"]), price=int(r["last_px"]), qty=int(r["last_qty"]),
                order_qty=int(r["qty"]), cum_qty=int(r["cum_qty"]),
                leaves_qty=int(r["leaves_qty"]), avg_px=int(r["avg_px"]),
                status=int(r["status"]))
            self.count += 1
        while len(self.trades) > TRADE_MEMORY:
            self.trades.popitem(last=False)

    def get(self, exec_id: str) -> dict:
        t = self.trades.get(exec_id)
        if t is None:
            raise ControlError(f"unknown exec_id {exec_id!r} (not a trade this simulator "
                               f"reported, or older than the last {TRADE_MEMORY})")
        return t


# ---------------------------------------------------------------------------------------------
# Liquidity
# ---------------------------------------------------------------------------------------------

class MarketMaker:
    """The simulator's own liquidity: per symbol a ladder of post-only GTC quotes (post-only:
    a quote never trades as the aggressor, so re-quoting cannot chase an order resting
    inside the ladder).  A level filled completely is quoted again, with the other empty
    levels of its side; a quote the engine rejects (it would have crossed a resting order)
    stays out until the next refill of its side or a `quote` request."""

    def __init__(self, gw: "SimGateway", cfg: SimLiquidity, symbols):
        self.gw = gw
        self.cfg = cfg
        # ClOrdIDs unique across restarts of a journaled simulator: they start at the clock
        self.ids = itertools.count(time.time_ns())
        self.ladders: dict[tuple[int, int], list[int]] = {}
        self.lot_qty: dict[int, int] = {}
        for s in symbols:
            self.lot_qty[s.symbol_id] = max(s.min_qty, -(-cfg.qty // s.lot_size) * s.lot_size)
            if not s.ref_price:
                continue
            for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
                prices = [s.ref_price + sign * (cfg.spread_ticks + i * cfg.level_ticks)
                          * s.tick_size for i in range(cfg.levels)]
                self.ladders[(s.symbol_id, side)] = [p for p in prices if p > 0]
        self.levels: dict[tuple[int, int, int], int] = {}    # (symbol, side, level) -> ClOrdID
        self.quotes: dict[int, tuple[int, int, int]] = {}    # ClOrdID -> (symbol, side, level)
        self.dirty: set[tuple[int, int]] = set()
        self.fills = 0

    def start(self) -> None:
        # a journaled simulator recovers its old quotes: withdraw them, then quote afresh
        cmds = [_command(CommandType.MASS_CANCEL, session_id=MM_SESSION_ID,
                         admin_op=MassCancelScope.SESSION)]
        if self.cfg.enabled:
            for key in self.ladders:
                cmds += self._quotes(key)
        self.gw.submit_own(np.concatenate(cmds))

    def _quotes(self, key: tuple[int, int], only_empty: bool = False) -> list[np.ndarray]:
        symbol, side = key
        out = []
        for level, price in enumerate(self.ladders.get(key, ())):
            slot = (symbol, side, level)
            if only_empty and slot in self.levels:
                continue
            cl = next(self.ids)
            self.levels[slot] = cl
            self.quotes[cl] = slot
            out.append(_command(CommandType.NEW, session_id=MM_SESSION_ID, account_id=0,
                                symbol_id=symbol, side=side, ord_type=OrdType.LIMIT,
                                tif=TimeInForce.GTC, exec_inst=ExecInst.POST_ONLY,
                                cl_ord_id=cl, price=price, qty=self.lot_qty[symbol]))
        return out

    def on_events(self, rows) -> None:
        """The market maker's execution reports of one egress batch."""
        for cl, et, leaves in zip(rows["cl_ord_id"].tolist(), rows["exec_type"].tolist(),
                                  rows["leaves_qty"].tolist()):
            slot = self.quotes.get(cl)
            if slot is None:
                continue
            if et == ExecType.TRADE:
                self.fills += 1
                if leaves:
                    continue
                self.dirty.add(slot[:2])
            elif et not in QUOTE_ENDS:
                continue
            del self.quotes[cl]
            if self.levels.get(slot) == cl:
                del self.levels[slot]

    def refill(self) -> None:
        if not self.dirty:
            return
        cmds = []
        if self.cfg.enabled:
            for key in sorted(self.dirty):
                cmds += self._quotes(key, only_empty=True)
        self.dirty.clear()
        if cmds:
            self.gw.submit_own(np.concatenate(cmds))

    def requote(self) -> int:
        """Quote every empty level (the `quote` control request); returns how many."""
        cmds = []
        for key in self.ladders:
            cmds += self._quotes(key, only_empty=True)
        if cmds:
            self.gw.submit_own(np.concatenate(cmds))
        return len(cmds)

    def take(self, symbol: int, side: int, qty: int, price: int) -> int:
        """An aggressive IOC order from the market maker (a market order when `price` is 0)
        that trades the counterparties' resting orders: the maker's own quotes on the side
        it would hit are withdrawn first and put back after.  Returns its command number."""
        hit = Side.BUY if side == Side.SELL else Side.SELL
        cmds = [_command(CommandType.MASS_CANCEL, session_id=MM_SESSION_ID, symbol_id=symbol,
                         side=hit, admin_op=MassCancelScope.SESSION | MassCancelScope.SYMBOL
                         | MassCancelScope.SIDE),
                _command(CommandType.NEW, session_id=MM_SESSION_ID, account_id=0,
                         symbol_id=symbol, side=side, tif=TimeInForce.IOC,
                         ord_type=OrdType.LIMIT if price else OrdType.MARKET,
                         cl_ord_id=next(self.ids), price=price, qty=qty)]
        if self.cfg.enabled:
            cmds += self._quotes((symbol, hit))
        seqs = self.gw.submit_own(np.concatenate(cmds))
        return int(seqs[1])


# ---------------------------------------------------------------------------------------------
# The gateway as an exchange
# ---------------------------------------------------------------------------------------------

class SimGateway(Gateway):
    fix_session_type = SimFixSession
    fix_connection_type = SimFixConnection

    def __init__(self, cfg: VenueSimConfig, log: Log):
        self.sim = cfg
        self.faults = FaultState(cfg.faults)
        super().__init__(server_config(cfg), log)
        self.temp_state_dir = not cfg.state_dir
        self.egress = SimEgress(self)
        self.inbound = {id(s.codec.commands): s for s in self.fix_by_comp.values()}
        self.symbol_ids = {s.name: s.symbol_id for s in cfg.symbols}
        self.symbol_names = {s.symbol_id: s.name for s in cfg.symbols}
        self.ticks = {s.symbol_id: s.tick_size for s in cfg.symbols}
        self.mm = MarketMaker(self, cfg.liquidity, cfg.symbols)
        self.trades = TradeLog(self.exec_id_prefix)
        self.own_mass_cancels: set[int] = set()
        self.own_ids = itertools.count(1)       # ExecIDs of the simulator's own reports
        self.stopping = False
        self.control: asyncio.AbstractServer | None = None
        self.control_handler: ControlServer | None = None
        self.control_port = 0

    # -- INGRESS --

    def submit(self, commands, n: int) -> None:
        s = self.inbound.get(id(commands))
        if s is None:
            return super().submit(commands, n)
        f = self.faults
        f.counters["received"] += n
        if not f.inbound:
            return super().submit(commands, n)
        cfg = f.cfg
        rows = commands[:n]
        keep = np.ones(n, dtype=bool)
        kinds = rows["kind"].tolist()
        for i in range(n):
            if cfg.silent or (cfg.drop_ratio and f.rng.random() < cfg.drop_ratio):
                keep[i] = False
                f.counters["dropped"] += 1
            elif (kinds[i] == CommandType.NEW and cfg.reject_ratio
                  and f.rng.random() < cfg.reject_ratio):
                keep[i] = False
                f.counters["rejected"] += 1
                self.reject_new(s, rows[i])
        if keep.all():
            super().submit(commands, n)
        elif keep.any():
            kept = rows[keep]
            super().submit(kept, len(kept))
        conn = s.conn
        if cfg.disconnect_after and conn is not None and not conn.closing:
            conn.app_messages += n
            if conn.app_messages >= cfg.disconnect_after:
                f.counters["disconnects"] += 1
                self.log.info("venue_sim_disconnect", session=s.session_id,
                              reason="disconnect_after", messages=conn.app_messages)
                conn.close()

    def submit_own(self, cmds: np.ndarray) -> np.ndarray:
        """The simulator's own commands (quotes, takes, unsolicited cancels): into the ring
        as the gateway submits a session's; returns their command numbers."""
        seqs = self.engine.submit_batch(cmds, stamp_time=False)
        self.attrs.note(cmds, len(cmds), seqs)
        self.egress.submitted(int(seqs[-1]))
        return seqs

    def reject_new(self, s: FixSession, row) -> None:
        """A NewOrderSingle the reject_ratio picked: ExecutionReport 150=8 39=8, never
        submitted."""
        cfg = self.faults.cfg
        symbol = int(row["symbol_id"])
        fields = [(37, "NONE"), (11, self.cl_text(s, int(row["cl_ord_id"]))),
                  (17, self.own_exec_id(b"R")), (150, "8"), (39, "8"),
                  (55, self.symbol_names.get(symbol, str(symbol))), (54, int(row["side"])),
                  (38, int(row["qty"])), (151, 0), (14, 0), (6, 0),
                  (60, format_timestamp(time.time_ns())), (103, cfg.reject_reason),
                  (58, cfg.reject_text)]
        s.send(b"8", fields)

    # -- SESSIONS --

    def session_dropped(self, s: FixSession) -> None:
        if self.faults.cfg.cancel_on_disconnect and self.running and not self.stopping:
            self.faults.counters["cancel_on_disconnect"] += 1
            self.log.info("venue_sim_cancel_on_disconnect", session=s.session_id)
            self.cancel_session(s)

    def cancel_session(self, s: FixSession) -> None:
        """Unsolicited cancels of every live order of the session (delivered, or stored for
        its resend when it is not connected)."""
        seqs = self.submit_own(_command(CommandType.MASS_CANCEL, session_id=s.session_id,
                                        admin_op=MassCancelScope.SESSION))
        self.own_mass_cancels.add(int(seqs[0]))

    def fix_session(self, comp_id: str | None) -> list[FixSession]:
        if comp_id is None:
            return list(self.fix_by_comp.values())
        s = self.fix_by_comp.get(comp_id.encode())
        if s is None:
            raise ControlError(f"unknown comp_id {comp_id!r}")
        return [s]

    # -- IDS --

    @staticmethod
    def cl_text(s: FixSession, cl_ord_id: int) -> bytes:
        if 0 < cl_ord_id <= 0xFFFFFFFF:
            name = s.codec.clordids.name(cl_ord_id - 1)
            if name:
                return name
        return b"%d" % cl_ord_id

    def own_exec_id(self, kind: bytes) -> bytes:
        return self.exec_id_prefix + kind + b"%d" % next(self.own_ids)

    # -- LIFETIME --

    async def start(self) -> None:
        await super().start()
        self.mm.start()
        if self.sim.control_port:
            self.control_handler = ControlServer(self)
            self.control = await asyncio.start_server(self.control_handler.handle,
                                                      self.sim.host, self.sim.control_port)
            self.control_port = self.control.sockets[0].getsockname()[1]
        self.log.info("venue_sim_ready", venue=self.sim.name, fix_port=self.fix_port,
                      control_port=self.control_port, comp_id=self.sim.comp_id,
                      accept=",".join(self.sim.accept_comp_ids),
                      liquidity=self.sim.liquidity.enabled)

    async def stop(self, reason: str = "venue simulator shutting down") -> None:
        self.stopping = True
        if self.control is not None:
            self.control.close()
            await self.control_handler.close()
        await super().stop(reason)
        if self.temp_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Control channel
# ---------------------------------------------------------------------------------------------

class ControlServer:
    """Newline-delimited JSON: each request `{"op": ..., ...}` gets one answer line, `{"ok":
    true, ...}` or `{"ok": false, "error": "..."}`.  Runs on the I/O thread, so a request
    sees and changes the simulator between two reads, never in the middle of one."""

    def __init__(self, gw: SimGateway):
        self.gw = gw
        self.writers: set[asyncio.StreamWriter] = set()

    async def close(self) -> None:
        """Every client's connection closed, their handlers ended."""
        for w in list(self.writers):
            w.close()
        for _ in range(100):
            if not self.writers:
                break
            await asyncio.sleep(0.01)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict) or not isinstance(req.get("op"), str):
                        raise ControlError('a request is a JSON object with an "op"')
                    op = req.pop("op")
                    method = getattr(self, f"op_{op}", None)
                    if method is None:
                        raise ControlError(f"unknown op {op!r}")
                    answer = {"ok": True, **method(**req)}
                except (ControlError, ValueError, TypeError) as exc:
                    answer = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    # -- ops --

    def op_status(self) -> dict:
        gw = self.gw
        sessions = []
        for s in gw.fix_by_comp.values():
            c = s.codec
            sessions.append(dict(comp_id=s.cfg.sender_comp_id, session_id=s.session_id,
                                 logged_on=bool(s.conn is not None and c.logged_on),
                                 peer=s.conn.peer if s.conn is not None else "",
                                 in_seq=c.in_seq, out_seq=c.out_seq))
        orders = gw.engine.core.orders()
        live = orders[np.isin(orders["status"], LIVE) & (orders["session_id"] != MM_SESSION_ID)]
        by_id = gw.sessions_by_id
        listed = []
        for o in live[:1000]:
            s = by_id.get(int(o["session_id"]))
            listed.append(dict(
                order_id=int(o["order_id"]), comp_id=s.cfg.sender_comp_id if s else "",
                cl_ord_id=gw.cl_text(s, int(o["cl_ord_id"])).decode() if s else "",
                symbol=gw.symbol_names.get(int(o["symbol_id"]), ""),
                side="buy" if o["side"] == Side.BUY else "sell",
                price=format_price(int(o["price"])), qty=int(o["qty"]),
                cum_qty=int(o["cum_qty"]), leaves_qty=int(o["leaves_qty"]),
                status=OrdStatus(int(o["status"])).name))
        return dict(venue=gw.sim.name, fix_port=gw.fix_port, sessions=sessions,
                    live_orders=len(live), orders=listed, trades=gw.trades.count,
                    quotes=len(gw.mm.quotes), maker_fills=gw.mm.fills,
                    faults=msgspec.to_builtins(gw.faults.cfg), counters=dict(gw.faults.counters))

    def op_faults(self, set: dict | None = None) -> dict:
        if set is not None:
            if not isinstance(set, dict):
                raise ControlError('"set" is an object of fault fields')
            cfg = self.gw.faults.update(set)
            self.gw.log.info("venue_sim_faults", **msgspec.to_builtins(cfg))
        return dict(faults=msgspec.to_builtins(self.gw.faults.cfg))

    def op_trade(self, symbol: str, side, qty: int, price=None) -> dict:
        gw = self.gw
        sid = gw.symbol_ids.get(symbol)
        if sid is None:
            raise ControlError(f"unknown symbol {symbol!r}")
        if not isinstance(qty, int) or qty < 1:
            raise ControlError("qty must be a positive integer")
        units = px(price) if price is not None else 0
        seq = gw.mm.take(sid, _side(side), qty, units)
        return dict(cmd_seq=seq)

    def op_trades(self, last: int = 20) -> dict:
        gw = self.gw
        out = []
        for exec_id, t in list(gw.trades.trades.items())[-last:]:
            s = gw.sessions_by_id.get(t["session_id"])
            out.append(dict(exec_id=exec_id, comp_id=s.cfg.sender_comp_id if s else "",
                            cl_ord_id=gw.cl_text(s, t["cl_ord_id"]).decode() if s else "",
                            order_id=t["order_id"], symbol=gw.symbol_names.get(t["symbol_id"]),
                            side="buy" if t["side"] == Side.BUY else "sell",
                            price=format_price(t["price"]), qty=t["qty"]))
        return dict(trades=out)

    def _adjust(self, exec_id: str, exec_type: str, price: int, qty: int) -> str:
        """ExecutionReport 150=H (bust) or 150=G (correction) of a reported trade, with
        ExecRefID(19) = its ExecID."""
        gw = self.gw
        t = gw.trades.get(exec_id)
        s = gw.sessions_by_id.get(t["session_id"])
        if s is None:
            raise ControlError("the trade's session is gone")
        new_id = gw.own_exec_id(exec_type.encode())
        cum = t["cum_qty"] - t["qty"] + (qty if exec_type == "G" else 0)
        fields = [(37, t["order_id"]), (11, gw.cl_text(s, t["cl_ord_id"])), (17, new_id),
                  (19, exec_id), (150, exec_type), (39, FIX_STATUS.get(t["status"], "0")),
                  (55, gw.symbol_names.get(t["symbol_id"], str(t["symbol_id"]))),
                  (54, t["side"]), (38, t["order_qty"]), (32, qty),
                  (31, format_price(price)), (151, t["leaves_qty"]), (14, cum),
                  (60, format_timestamp(time.time_ns()))]
        s.send(b"8", fields)
        gw.log.info("venue_sim_trade_adjusted", exec_type=exec_type, exec_id=exec_id,
                    new_exec_id=new_id.decode(), session=s.session_id, qty=qty,
                    price=format_price(price))
        return new_id.decode()

    def op_bust(self, exec_id: str) -> dict:
        t = self.gw.trades.get(exec_id)
        new_id = self._adjust(exec_id, "H", t["price"], t["qty"])
        self.gw.trades.trades.pop(exec_id, None)
        return dict(exec_id=new_id, exec_ref_id=exec_id)

    def op_correct(self, exec_id: str, price=None, qty: int | None = None) -> dict:
        t = self.gw.trades.get(exec_id)
        units = px(price) if price is not None else t["price"]
        qty = t["qty"] if qty is None else qty
        if not isinstance(qty, int) or qty < 1 or units < 1:
            raise ControlError("a correction needs a positive price and qty")
        new_id = self._adjust(exec_id, "G", units, qty)
        # the counterparty knows the trade by either id now, with the corrected values
        for key in (exec_id, new_id):
            self.gw.trades.trades[key] = t | dict(price=units, qty=qty,
                                                  cum_qty=t["cum_qty"] - t["qty"] + qty)
        return dict(exec_id=new_id, exec_ref_id=exec_id)

    def op_disconnect(self, comp_id: str | None = None) -> dict:
        closed = []
        for s in self.gw.fix_session(comp_id):
            if s.conn is not None and not s.conn.closing:
                self.gw.log.info("venue_sim_disconnect", session=s.session_id, reason="control")
                s.conn.close()
                closed.append(s.cfg.sender_comp_id)
        return dict(closed=closed)

    def op_cancel_all(self, comp_id: str | None = None) -> dict:
        sessions = self.gw.fix_session(comp_id)
        for s in sessions:
            self.gw.cancel_session(s)
        return dict(sessions=[s.cfg.sender_comp_id for s in sessions])

    def op_quote(self) -> dict:
        return dict(quotes=self.gw.mm.requote())


# ---------------------------------------------------------------------------------------------
# Process
# ---------------------------------------------------------------------------------------------

def open_log(cfg: VenueSimConfig) -> Log:
    stream = None
    if cfg.log_file:
        Path(cfg.log_file).parent.mkdir(parents=True, exist_ok=True)
        stream = open(cfg.log_file, "a", buffering=1)
    return Log(stream, cfg.log_level)


async def _run(cfg: VenueSimConfig, log: Log) -> None:
    gw = SimGateway(cfg, log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda s=sig: (log.info("signal", name=s.name), stop.set()))
    await gw.start()
    await stop.wait()
    await gw.stop()


def run(cfg: VenueSimConfig) -> int:
    """Run until SIGINT or SIGTERM; returns the exit code."""
    import faulthandler

    import uvloop
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    log = open_log(cfg)
    try:
        uvloop.run(_run(cfg, log))
    except OSError as exc:                 # e.g. the port is taken
        log.error("startup_failed", error=str(exc))
        return 1
    return 0


def main(config_path: str, port: int | None = None, control_port: int | None = None,
         check: bool = False) -> int:
    try:
        cfg = load_sim_config(config_path)
        overrides = {k: v for k, v in (("port", port), ("control_port", control_port))
                     if v is not None}
        if overrides:
            cfg = msgspec.structs.replace(cfg, **overrides)
            cfg.__post_init__()
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        print(f"oms venue-sim: bad config {config_path}: {exc}", file=sys.stderr)
        return 2
    if check:
        print(f"oms venue-sim: {config_path}: OK ({cfg.name}, {len(cfg.accept_comp_ids)} "
              f"sessions, {len(cfg.symbols)} symbols)")
        return 0
    return run(cfg)
