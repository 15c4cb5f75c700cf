"""Plain-Python reference model of the engine, written from docs/engine.md alone.

Slow and obvious on purpose: dicts, lists and deques, one command at a time.  The hypothesis
comparison (tests/test_model_equivalence.py) drives the compiled core and this model with the
same commands and requires identical events and final state.  Every rule below cites the part
of docs/engine.md it implements; when the two disagree, the document decides.

Interface:
    model = ReferenceModel(config)           # oms.config.EngineConfig
    events = model.process(cmd)              # cmd: dict keyed by COMMAND_FIELDS names (missing = 0)
    model.orders() / positions() / accounts() / symbols() / book(sid) / counters()
"""

from __future__ import annotations

import bisect
from collections import deque

from oms.codes import RejectCode as R
from oms.config import LIMIT_MAX
from oms.layout import (
    ACCOUNT_FIELDS,
    COMMAND_FIELDS,
    EVENT_FIELDS,
    IDEMPOTENCY_TTL_NS,
    MAX_PRICE,
    MAX_QTY,
    NS_PER_SEC,
    ORDER_FIELDS,
    POSITION_FIELDS,
    SYMBOL_FIELDS,
    AdminOp,
    CommandType,
    CxlRejResponseTo,
    EventType,
    ExecType,
    MassCancelScope,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
)

COMMAND_NAMES = [n for n, _ in COMMAND_FIELDS if not n.startswith("_")]
EVENT_NAMES = [n for n, _ in EVENT_FIELDS if not n.startswith("_")]
ORDER_NAMES = [n for n, _ in ORDER_FIELDS if not n.startswith("_") and n not in ("prev", "next")]
SYMBOL_NAMES = [n for n, _ in SYMBOL_FIELDS if not n.startswith("_")]
ACCOUNT_NAMES = [n for n, _ in ACCOUNT_FIELDS if not n.startswith("_")]
POSITION_NAMES = [n for n, _ in POSITION_FIELDS]

BUY, SELL = int(Side.BUY), int(Side.SELL)
MARKET, LIMIT = int(OrdType.MARKET), int(OrdType.LIMIT)
DAY, GTC, IOC = int(TimeInForce.DAY), int(TimeInForce.GTC), int(TimeInForce.IOC)
ORD_TYPES = {int(v) for v in OrdType}
TIFS = {int(v) for v in TimeInForce}

ST_ACCEPTED = int(OrdStatus.ACCEPTED)
ST_PARTIAL = int(OrdStatus.PARTIALLY_FILLED)
ST_FILLED = int(OrdStatus.FILLED)
ST_CANCELLED = int(OrdStatus.CANCELLED)
ST_REJECTED = int(OrdStatus.REJECTED)
ST_EXPIRED = int(OrdStatus.EXPIRED)
ST_PENDING_CANCEL = int(OrdStatus.PENDING_CANCEL)
ST_PENDING_REPLACE = int(OrdStatus.PENDING_REPLACE)
LIVE_STATUSES = (ST_ACCEPTED, ST_PARTIAL)

DERIVED_KEY_BIT = 0x8000000000000000
SECONDS_PER_DAY = 86400


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


class _BookSide:
    """One side of one symbol's book: price -> FIFO of order ids (an insertion-ordered dict)."""

    def __init__(self, is_bid: bool):
        self.is_bid = is_bid
        self.levels: dict[int, dict[int, None]] = {}
        self.prices: list[int] = []          # ascending

    def best(self):
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def has_level(self, price: int) -> bool:
        return price in self.levels

    def append(self, price: int, oid: int) -> None:
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = {}
            bisect.insort(self.prices, price)
        level[oid] = None

    def remove(self, price: int, oid: int) -> None:
        level = self.levels[price]
        del level[oid]
        if not level:
            del self.levels[price]
            i = bisect.bisect_left(self.prices, price)
            assert self.prices[i] == price
            del self.prices[i]

    def head(self, price: int) -> int:
        return next(iter(self.levels[price]))

    def snapshot(self, orders) -> list:
        prices = reversed(self.prices) if self.is_bid else self.prices
        out = []
        for p in prices:
            ids = list(self.levels[p])
            out.append((p, sum(orders[i]["leaves_qty"] for i in ids), ids))
        return out


class ReferenceModel:
    def __init__(self, config):
        self.config = config
        self.max_orders = config.max_orders
        self.max_symbols = config.max_symbols
        self.max_accounts = config.max_accounts
        self.idem_capacity = config.idem_capacity
        self.max_levels = config.max_levels

        # Counters.
        self.cmd_seq = 0
        self.event_seq = 0
        self.next_order_id = 1
        self.next_trade_id = 1
        self.kill_switch = 0

        # Reference data: only defined rows are stored (undefined rows are all zero).
        self._symbols: dict[int, dict] = {}
        for s in config.symbols:
            self._symbols[s.symbol_id] = dict(
                tick_size=s.tick_size, lot_size=s.lot_size, min_qty=s.min_qty,
                max_qty=s.max_qty, ref_price=s.ref_price, collar_bps=s.collar_bps,
                open_sec=s.open_sec, close_sec=s.close_sec, defined=1, halted=int(s.halted))
        self._accounts: dict[int, dict] = {}
        for a in config.accounts:
            self._accounts[a.account_id] = dict(
                credit_limit=a.credit_limit, max_order_qty=a.max_order_qty,
                max_order_notional=a.max_order_notional, max_position=a.max_position,
                gross_limit=a.gross_limit, concentration_pct=a.concentration_pct,
                open_notional=0, position_cost=0, defined=1, enabled=int(a.enabled))
        self._positions: dict[tuple[int, int], dict] = {}

        # Order store.
        self._orders: dict[int, dict] = {}          # order id -> order (live or terminal)
        self._fresh_slots = 0                       # slots [0, _fresh_slots) have been used
        self._closed: deque[int] = deque()          # terminal order ids, oldest terminal first
        self._live: set[int] = set()                # ACCEPTED / PARTIALLY_FILLED order ids
        self._cl_index: dict[tuple[int, int], int] = {}   # (session, cl_ord_id) -> order id

        # Idempotency: key -> [order id, insertion number, stored time]; FIFO of insertions.
        self._idem: dict[tuple[int, int], list] = {}
        self._idem_fifo: deque[tuple[tuple[int, int], int, int]] = deque()
        self._idem_insertions = 0

        self._books: dict[int, tuple[_BookSide, _BookSide]] = {}

        self._events: list[dict] = []
        self._cmd: dict = {}

    # -----------------------------------------------------------------------------------------
    # Accessors
    # -----------------------------------------------------------------------------------------

    def orders(self) -> dict[int, dict]:
        return {oid: {n: o[n] for n in ORDER_NAMES} for oid, o in self._orders.items()}

    def positions(self) -> dict[tuple[int, int], dict]:
        return {k: dict(p) for k, p in self._positions.items() if any(p.values())}

    def accounts(self) -> dict[int, dict]:
        return {i: dict(a) for i, a in self._accounts.items()}

    def symbols(self) -> dict[int, dict]:
        return {i: dict(s) for i, s in self._symbols.items()}

    def book(self, symbol_id: int):
        sides = self._books.get(symbol_id)
        if sides is None:
            return [], []
        return sides[0].snapshot(self._orders), sides[1].snapshot(self._orders)

    def counters(self) -> dict:
        return dict(cmd_seq=self.cmd_seq, event_seq=self.event_seq,
                    next_order_id=self.next_order_id, next_trade_id=self.next_trade_id,
                    kill_switch=self.kill_switch)

    # -----------------------------------------------------------------------------------------
    # Events
    # -----------------------------------------------------------------------------------------

    def _emit(self, kind: int, exec_type: int, fields: dict, reject_code: int = 0,
              **extra) -> dict:
        self.event_seq += 1
        ev = dict.fromkeys(EVENT_NAMES, 0)
        ev.update(fields)
        ev.update(extra)
        ev["seq"] = self.event_seq
        ev["cmd_seq"] = self.cmd_seq
        ev["time_ns"] = self._cmd["time_ns"]
        ev["kind"] = int(kind)
        ev["exec_type"] = int(exec_type) & 0xFF
        ev["reject_code"] = int(reject_code)
        self._events.append(ev)
        return ev

    @staticmethod
    def _order_fields(o: dict) -> dict:
        cum = o["cum_qty"]
        return dict(
            order_id=o["order_id"], cl_ord_id=o["cl_ord_id"], orig_cl_ord_id=o["orig_cl_ord_id"],
            session_id=o["session_id"], account_id=o["account_id"], symbol_id=o["symbol_id"],
            side=o["side"], ord_type=o["ord_type"], tif=o["tif"], price=o["price"],
            qty=o["qty"], cum_qty=cum, leaves_qty=o["leaves_qty"],
            avg_px=o["cum_notional"] // cum if cum else 0,
            version=o["version"], status=o["status"], strategy_id=o["strategy_id"])

    def _cmd_fields(self, order_id: int | None = None) -> dict:
        c = self._cmd
        return dict(
            order_id=c["order_id"] if order_id is None else order_id,
            cl_ord_id=c["cl_ord_id"], orig_cl_ord_id=c["orig_cl_ord_id"],
            session_id=c["session_id"], account_id=c["account_id"], symbol_id=c["symbol_id"],
            side=c["side"], ord_type=c["ord_type"], tif=c["tif"], price=c["price"],
            qty=c["qty"], strategy_id=c["strategy_id"],
            cum_qty=0, leaves_qty=0, avg_px=0, version=0)

    # -----------------------------------------------------------------------------------------
    # Dispatch
    # -----------------------------------------------------------------------------------------

    def process(self, cmd: dict) -> list[dict]:
        c = {n: int(cmd.get(n, 0)) for n in COMMAND_NAMES}
        self.cmd_seq += 1
        c["seq"] = self.cmd_seq
        self._cmd = c
        self._events = []
        kind = c["kind"]
        if kind == CommandType.NEW:
            self._new(c)
        elif kind == CommandType.CANCEL:
            self._cancel_cmd(c)
        elif kind == CommandType.REPLACE:
            self._replace(c)
        elif kind == CommandType.MASS_CANCEL:
            self._mass_cancel(c)
        elif kind == CommandType.STATUS:
            self._status(c)
        elif kind == CommandType.MARKET_DATA:
            self._market_data(c)
        elif kind == CommandType.TIMER:
            pass
        elif kind == CommandType.ADMIN:
            self._admin(c)
        else:   # unknown, including VENUE_EXEC
            self._emit(EventType.ADMIN_REPORT, 0, self._cmd_fields(), R.UNKNOWN_COMMAND)
        events, self._events = self._events, []
        return events

    # -----------------------------------------------------------------------------------------
    # Helpers: reference data, positions, books, risk usage, order store
    # -----------------------------------------------------------------------------------------

    def _symbol(self, sid: int):
        return self._symbols.get(sid) if sid < self.max_symbols else None

    def _account(self, aid: int):
        return self._accounts.get(aid) if aid < self.max_accounts else None

    def _position(self, aid: int, sid: int) -> dict:
        p = self._positions.get((aid, sid))
        if p is None:
            p = self._positions[(aid, sid)] = dict.fromkeys(POSITION_NAMES, 0)
        return p

    def _peek_position(self, aid: int, sid: int) -> dict:
        p = self._positions.get((aid, sid))
        return p if p is not None else dict.fromkeys(POSITION_NAMES, 0)

    def _book_sides(self, sid: int) -> tuple[_BookSide, _BookSide]:
        sides = self._books.get(sid)
        if sides is None:
            sides = self._books[sid] = (_BookSide(True), _BookSide(False))
        return sides

    def _own_side(self, o: dict) -> _BookSide:
        bids, asks = self._book_sides(o["symbol_id"])
        return bids if o["side"] == BUY else asks

    def _opposite_side(self, o: dict) -> _BookSide:
        bids, asks = self._book_sides(o["symbol_id"])
        return asks if o["side"] == BUY else bids

    def _release(self, o: dict) -> None:
        """Take the order's current reservation out of the usage."""
        a = self._accounts[o["account_id"]]
        p = self._position(o["account_id"], o["symbol_id"])
        a["open_notional"] -= o["reserved_notional"]
        p["open_notional"] -= o["reserved_notional"]
        if o["side"] == BUY:
            p["open_buy_qty"] -= o["leaves_qty"]
        else:
            p["open_sell_qty"] -= o["leaves_qty"]
        o["reserved_notional"] = 0

    def _reserve(self, o: dict) -> None:
        """Put the (open) order's reservation, computed from its current leaves/price, in."""
        a = self._accounts[o["account_id"]]
        p = self._position(o["account_id"], o["symbol_id"])
        reserved = o["leaves_qty"] * o["price"] if o["ord_type"] == LIMIT else 0
        o["reserved_notional"] = reserved
        a["open_notional"] += reserved
        p["open_notional"] += reserved
        if o["side"] == BUY:
            p["open_buy_qty"] += o["leaves_qty"]
        else:
            p["open_sell_qty"] += o["leaves_qty"]

    def _become_terminal(self, o: dict, status: int) -> None:
        o["status"] = status
        self._live.discard(o["order_id"])
        self._closed.append(o["order_id"])

    def _find_target(self, c: dict):
        if c["order_id"] != 0:
            o = self._orders.get(c["order_id"])
            if o is None or o["session_id"] != c["session_id"]:
                return None
            return o
        oid = self._cl_index.get((c["session_id"], c["orig_cl_ord_id"]))
        return None if oid is None else self._orders[oid]

    @staticmethod
    def _status_code(o: dict) -> int:
        st = o["status"]
        if st == ST_FILLED:
            return R.ORDER_ALREADY_FILLED
        if st in (ST_CANCELLED, ST_REJECTED, ST_EXPIRED):
            return R.ORDER_ALREADY_CLOSED
        if st in (ST_PENDING_CANCEL, ST_PENDING_REPLACE):
            return R.ORDER_PENDING
        return 0

    # --- checks shared by NEW and REPLACE ----------------------------------------------------

    @staticmethod
    def _semantic(s: dict, ord_type: int, price: int, qty: int) -> int:
        if ord_type == LIMIT and price % s["tick_size"] != 0:
            return R.PRICE_NOT_ON_TICK
        if qty % s["lot_size"] != 0:
            return R.QTY_NOT_ON_LOT
        if qty < s["min_qty"]:
            return R.QTY_BELOW_MIN
        if qty > s["max_qty"]:
            return R.QTY_ABOVE_MAX
        ref = s["ref_price"]
        if ord_type == LIMIT:
            if s["collar_bps"] > 0 and ref > 0 and abs(price - ref) * 10000 > ref * s["collar_bps"]:
                return R.PRICE_OUTSIDE_COLLAR
        elif ref == 0:
            return R.NO_REFERENCE_PRICE
        return 0

    def _business(self, a: dict, s: dict, time_ns: int) -> int:
        if self.kill_switch:
            return R.KILL_SWITCH_ACTIVE
        if not a["enabled"]:
            return R.ACCOUNT_DISABLED
        if s["halted"]:
            return R.SYMBOL_HALTED
        sec = (time_ns // NS_PER_SEC) % SECONDS_PER_DAY
        if not (s["open_sec"] <= sec < s["close_sec"]):
            return R.MARKET_CLOSED
        return 0

    @staticmethod
    def _risk(a: dict, side: int, total_qty: int, qty: int, px: int, a_open: int,
              p_net: int, p_avg: int, p_open_notional: int, p_open_buy: int,
              p_open_sell: int) -> int:
        notional = qty * px
        if total_qty > a["max_order_qty"]:
            return R.RISK_MAX_ORDER_QTY
        if notional > a["max_order_notional"]:
            return R.RISK_MAX_ORDER_NOTIONAL
        if a_open + notional > a["credit_limit"]:
            return R.RISK_CREDIT_LIMIT
        if side == BUY:
            if p_net + p_open_buy + qty > a["max_position"]:
                return R.RISK_POSITION_LIMIT
        else:
            if p_open_sell + qty - p_net > a["max_position"]:
                return R.RISK_POSITION_LIMIT
        if a["position_cost"] + a_open + notional > a["gross_limit"]:
            return R.RISK_GROSS_EXPOSURE
        if (abs(p_net) * p_avg + p_open_notional + notional) * 100 > \
                a["gross_limit"] * a["concentration_pct"]:
            return R.RISK_CONCENTRATION
        return 0

    # --- matching -----------------------------------------------------------------------------

    def _apply_fill(self, o: dict, q: int, px: int, t: int) -> None:
        self._release(o)
        o["cum_qty"] += q
        o["leaves_qty"] -= q
        o["cum_notional"] += q * px
        o["version"] += 1
        o["updated_ns"] = t
        if o["leaves_qty"] == 0:
            o["status"] = ST_FILLED     # joins the closed FIFO in _match
        else:
            o["status"] = ST_PARTIAL
            self._reserve(o)
        self._update_position(o, q, px)

    def _update_position(self, o: dict, q: int, px: int) -> None:
        a = self._accounts[o["account_id"]]
        p = self._position(o["account_id"], o["symbol_id"])
        d = q if o["side"] == BUY else -q
        if o["side"] == BUY:
            p["bought_qty"] += q
        else:
            p["sold_qty"] += q
        cost_before = abs(p["net_qty"]) * p["avg_px"]
        net = p["net_qty"]
        if net == 0 or _sign(net) == _sign(d):
            p["avg_px"] = (p["avg_px"] * abs(net) + px * q) // (abs(net) + q)
            p["net_qty"] = net + d
        else:
            closed = min(q, abs(net))
            p["realized_pnl"] += (px - p["avg_px"]) * closed * _sign(net)
            p["net_qty"] = net + _sign(d) * closed
            if p["net_qty"] == 0:
                p["avg_px"] = 0
            if q > closed:
                p["net_qty"] = _sign(d) * (q - closed)
                p["avg_px"] = px
        a["position_cost"] += abs(p["net_qty"]) * p["avg_px"] - cost_before

    def _match(self, o: dict) -> None:
        """The order (not in the book) trades as aggressor against the opposite side."""
        t = self._cmd["time_ns"]
        opp = self._opposite_side(o)
        s = self._symbols[o["symbol_id"]]
        while o["leaves_qty"] > 0:
            best = opp.best()
            if best is None:
                break
            if o["ord_type"] == LIMIT:
                if o["side"] == BUY and best > o["price"]:
                    break
                if o["side"] == SELL and best < o["price"]:
                    break
            r = self._orders[opp.head(best)]
            q = min(o["leaves_qty"], r["leaves_qty"])
            px = best
            trade_id = self.next_trade_id
            self.next_trade_id += 1
            self._apply_fill(o, q, px, t)
            self._apply_fill(r, q, px, t)
            # When one match fills both, the aggressor becomes terminal first (so it is the
            # older terminal order, evicted first), as everything else in a match is done
            # "aggressor first".  docs/engine.md does not say it in so many words.
            for x in (o, r):
                if x["leaves_qty"] == 0:
                    self._become_terminal(x, ST_FILLED)
            s["ref_price"] = px
            self._emit(EventType.EXEC_REPORT, ExecType.TRADE, self._order_fields(o),
                       last_px=px, last_qty=q, trade_id=trade_id)
            self._emit(EventType.EXEC_REPORT, ExecType.TRADE, self._order_fields(r),
                       last_px=px, last_qty=q, trade_id=trade_id)
            if r["leaves_qty"] == 0:
                opp.remove(best, r["order_id"])

    def _cancel_order(self, o: dict, reject_code: int = 0, cl_sub: int = 0) -> None:
        """PENDING_CANCEL -> CANCELLED, confirmed at once; the order may or may not rest."""
        side = self._own_side(o)
        level = side.levels.get(o["price"])
        if level is not None and o["order_id"] in level:
            side.remove(o["price"], o["order_id"])
        self._release(o)
        o["leaves_qty"] = 0
        o["version"] += 1
        o["updated_ns"] = self._cmd["time_ns"]
        self._become_terminal(o, ST_CANCELLED)
        fields = self._order_fields(o)
        if cl_sub:
            fields["cl_ord_id"] = cl_sub
            fields["orig_cl_ord_id"] = o["cl_ord_id"]
        self._emit(EventType.EXEC_REPORT, ExecType.CANCELED, fields, reject_code)

    def _rest(self, o: dict) -> None:
        """Rest the order's leaves at the tail of its level, or cancel them with BOOK_FULL."""
        side = self._own_side(o)
        if not side.has_level(o["price"]) and len(side.levels) >= self.max_levels:
            self._cancel_order(o, R.BOOK_FULL)
        else:
            side.append(o["price"], o["order_id"])

    # -----------------------------------------------------------------------------------------
    # NEW
    # -----------------------------------------------------------------------------------------

    def _new_syntax(self, c: dict) -> int:
        if c["cl_ord_id"] == 0:
            return R.MISSING_CL_ORD_ID
        if c["side"] not in (BUY, SELL):
            return R.INVALID_SIDE
        if c["ord_type"] not in ORD_TYPES:
            return R.INVALID_ORD_TYPE
        if c["ord_type"] not in (MARKET, LIMIT):
            return R.UNSUPPORTED_ORD_TYPE
        if c["tif"] not in TIFS:
            return R.INVALID_TIF
        if c["tif"] not in (DAY, GTC, IOC):
            return R.UNSUPPORTED_TIF
        if c["qty"] < 1 or c["qty"] > MAX_QTY:
            return R.INVALID_QTY
        if c["ord_type"] == LIMIT:
            if c["price"] < 1 or c["price"] > MAX_PRICE:
                return R.INVALID_PRICE
        elif c["price"] != 0:
            return R.INVALID_PRICE
        if self._account(c["account_id"]) is None:
            return R.UNKNOWN_ACCOUNT
        if self._symbol(c["symbol_id"]) is None:
            return R.UNKNOWN_SYMBOL
        return 0

    def _reject_new(self, code: int) -> None:
        fields = self._cmd_fields(order_id=0)
        fields["status"] = ST_REJECTED
        self._emit(EventType.EXEC_REPORT, ExecType.REJECTED, fields, code)

    def _new(self, c: dict) -> None:
        t = c["time_ns"]
        # Expiry: up to two FIFO head entries, while the head is expired, before any check.
        for _ in range(2):
            if not self._idem_fifo:
                break
            key, ins, head_time = self._idem_fifo[0]
            if head_time + IDEMPOTENCY_TTL_NS > t:
                break
            self._idem_fifo.popleft()
            entry = self._idem.get(key)
            if entry is not None and entry[1] == ins:
                del self._idem[key]

        code = self._new_syntax(c)
        if code:
            return self._reject_new(code)

        if c["idem_hi"] == 0 and c["idem_lo"] == 0:
            key = (DERIVED_KEY_BIT | c["session_id"], c["cl_ord_id"])
        else:
            key = (c["idem_hi"], c["idem_lo"])
        entry = self._idem.get(key)
        if entry is not None and entry[2] + IDEMPOTENCY_TTL_NS > t:
            orig = self._orders.get(entry[0])
            if orig is not None:
                fields = self._order_fields(orig)
            else:
                fields = self._cmd_fields(order_id=entry[0])
                fields["status"] = 0
            self._emit(EventType.EXEC_REPORT, ExecType.ORDER_STATUS, fields,
                       R.DUPLICATE_REQUEST)
            return

        if (c["session_id"], c["cl_ord_id"]) in self._cl_index:
            return self._reject_new(R.DUPLICATE_CL_ORD_ID)

        s = self._symbols[c["symbol_id"]]
        a = self._accounts[c["account_id"]]
        code = self._semantic(s, c["ord_type"], c["price"], c["qty"])
        if code:
            return self._reject_new(code)
        code = self._business(a, s, t)
        if code:
            return self._reject_new(code)
        p = self._peek_position(c["account_id"], c["symbol_id"])
        px = c["price"] if c["ord_type"] == LIMIT else s["ref_price"]
        code = self._risk(a, c["side"], c["qty"], c["qty"], px, a["open_notional"],
                          p["net_qty"], p["avg_px"], p["open_notional"], p["open_buy_qty"],
                          p["open_sell_qty"])
        if code:
            return self._reject_new(code)
        if self._fresh_slots >= self.max_orders and not self._closed:
            return self._reject_new(R.ORDER_STORE_FULL)
        if len(self._idem_fifo) >= self.idem_capacity:
            return self._reject_new(R.IDEMPOTENCY_TABLE_FULL)

        # Create: slot (evicting the oldest terminal order if no fresh slot is left).
        if self._fresh_slots < self.max_orders:
            slot = self._fresh_slots
            self._fresh_slots += 1
        else:
            victim = self._orders.pop(self._closed.popleft())
            slot = victim["_slot"]
            vkey = (victim["session_id"], victim["cl_ord_id"])
            if self._cl_index.get(vkey) == victim["order_id"]:
                del self._cl_index[vkey]
        oid = self.next_order_id
        self.next_order_id += 1
        o = dict.fromkeys(ORDER_NAMES, 0)
        o.update(
            # "ids": cl_ord_id, session, account, symbol.  A new order has no original
            # ClOrdID: orig_cl_ord_id = 0 whatever the command carries (docs/engine.md only
            # says "ids"; the engine reads it this way too).
            order_id=oid, cl_ord_id=c["cl_ord_id"], orig_cl_ord_id=0,
            price=c["price"], stop_price=c["stop_price"], qty=c["qty"], cum_qty=0,
            leaves_qty=c["qty"], cum_notional=0, display_qty=c["display_qty"],
            min_qty=c["min_qty"], expire_time_ns=c["expire_time_ns"], created_ns=t,
            updated_ns=t, reserved_notional=0, session_id=c["session_id"],
            account_id=c["account_id"], symbol_id=c["symbol_id"], version=1,
            strategy_id=c["strategy_id"], side=c["side"], ord_type=c["ord_type"],
            tif=c["tif"], status=ST_ACCEPTED)   # PENDING -> VALIDATED -> ROUTED -> ACCEPTED
        o["_slot"] = slot
        self._orders[oid] = o
        self._live.add(oid)
        self._cl_index[(c["session_id"], c["cl_ord_id"])] = oid
        self._idem_insertions += 1
        self._idem[key] = [oid, self._idem_insertions, t]
        self._idem_fifo.append((key, self._idem_insertions, t))
        self._reserve(o)
        self._emit(EventType.EXEC_REPORT, ExecType.NEW, self._order_fields(o))

        self._match(o)
        if o["leaves_qty"] > 0:
            if o["ord_type"] == MARKET or o["tif"] == IOC:
                self._cancel_order(o)
            else:
                self._rest(o)

    # -----------------------------------------------------------------------------------------
    # CANCEL / REPLACE / STATUS
    # -----------------------------------------------------------------------------------------

    def _cancel_reject(self, o, response_to: int, code: int) -> None:
        if o is None:
            fields = self._cmd_fields()
            fields["status"] = ST_REJECTED
        else:
            fields = self._order_fields(o)
            fields["cl_ord_id"] = self._cmd["cl_ord_id"]
            fields["orig_cl_ord_id"] = o["cl_ord_id"]
        self._emit(EventType.CANCEL_REJECT, 0, fields, code, response_to=int(response_to))

    def _cancel_cmd(self, c: dict) -> None:
        o = self._find_target(c)
        rt = CxlRejResponseTo.CANCEL
        if o is None:
            return self._cancel_reject(None, rt, R.UNKNOWN_ORDER)
        code = self._status_code(o)
        if code:
            return self._cancel_reject(o, rt, code)
        if c["expected_version"] != 0 and c["expected_version"] != o["version"]:
            return self._cancel_reject(o, rt, R.STALE_VERSION)
        self._cancel_order(o, 0, c["cl_ord_id"])

    def _replace(self, c: dict) -> None:
        o = self._find_target(c)
        rt = CxlRejResponseTo.REPLACE
        if o is None:
            return self._cancel_reject(None, rt, R.UNKNOWN_ORDER)
        if c["cl_ord_id"] == 0:
            return self._cancel_reject(o, rt, R.MISSING_CL_ORD_ID)
        code = self._status_code(o)
        if code:
            return self._cancel_reject(o, rt, code)
        if c["expected_version"] != 0 and c["expected_version"] != o["version"]:
            return self._cancel_reject(o, rt, R.STALE_VERSION)
        qty, price = c["qty"], c["price"]
        if qty < 1 or qty > MAX_QTY:
            return self._cancel_reject(o, rt, R.INVALID_QTY)
        if price < 1 or price > MAX_PRICE:
            return self._cancel_reject(o, rt, R.INVALID_PRICE)
        if (c["session_id"], c["cl_ord_id"]) in self._cl_index:
            return self._cancel_reject(o, rt, R.DUPLICATE_CL_ORD_ID)
        if qty <= o["cum_qty"]:
            return self._cancel_reject(o, rt, R.REPLACE_QTY_BELOW_CUM)
        if price == o["price"] and qty == o["qty"]:
            return self._cancel_reject(o, rt, R.REPLACE_CHANGES_NOTHING)
        s = self._symbols[o["symbol_id"]]
        a = self._accounts[o["account_id"]]
        code = self._semantic(s, o["ord_type"], price, qty)
        if code:
            return self._cancel_reject(o, rt, code)
        code = self._business(a, s, c["time_ns"])
        if code:
            return self._cancel_reject(o, rt, code)
        p = self._peek_position(o["account_id"], o["symbol_id"])
        new_leaves = qty - o["cum_qty"]
        res = o["reserved_notional"]
        open_buy = p["open_buy_qty"] - (o["leaves_qty"] if o["side"] == BUY else 0)
        open_sell = p["open_sell_qty"] - (o["leaves_qty"] if o["side"] == SELL else 0)
        code = self._risk(a, o["side"], qty, new_leaves, price, a["open_notional"] - res,
                          p["net_qty"], p["avg_px"], p["open_notional"] - res, open_buy,
                          open_sell)
        if code:
            return self._cancel_reject(o, rt, code)

        # Accepted: PENDING_REPLACE -> ACCEPTED / PARTIALLY_FILLED.
        moves = price != o["price"] or qty > o["qty"]
        if moves:
            self._own_side(o).remove(o["price"], o["order_id"])
        self._release(o)
        del self._cl_index[(o["session_id"], o["cl_ord_id"])]
        o["orig_cl_ord_id"] = o["cl_ord_id"]
        o["cl_ord_id"] = c["cl_ord_id"]
        self._cl_index[(o["session_id"], o["cl_ord_id"])] = o["order_id"]
        o["price"] = price
        o["qty"] = qty
        o["leaves_qty"] = qty - o["cum_qty"]
        o["version"] += 1
        o["updated_ns"] = c["time_ns"]
        o["status"] = ST_ACCEPTED if o["cum_qty"] == 0 else ST_PARTIAL
        self._reserve(o)
        self._emit(EventType.EXEC_REPORT, ExecType.REPLACED, self._order_fields(o))
        if moves:
            self._match(o)
            if o["leaves_qty"] > 0:
                self._rest(o)

    def _status(self, c: dict) -> None:
        o = self._find_target(c)
        if o is None:
            fields = self._cmd_fields()
            fields["status"] = ST_REJECTED
            self._emit(EventType.EXEC_REPORT, ExecType.ORDER_STATUS, fields, R.UNKNOWN_ORDER)
        else:
            self._emit(EventType.EXEC_REPORT, ExecType.ORDER_STATUS, self._order_fields(o))

    # -----------------------------------------------------------------------------------------
    # MASS_CANCEL / MARKET_DATA / ADMIN
    # -----------------------------------------------------------------------------------------

    def _cancel_matching(self, scope: int, c: dict, reject_code: int) -> int:
        checks = [(MassCancelScope.SESSION, "session_id"), (MassCancelScope.ACCOUNT, "account_id"),
                  (MassCancelScope.SYMBOL, "symbol_id"), (MassCancelScope.SIDE, "side"),
                  (MassCancelScope.STRATEGY, "strategy_id")]
        active = [name for bit, name in checks if scope & int(bit)]
        count = 0
        for oid in sorted(self._live):
            o = self._orders[oid]
            if o["status"] not in LIVE_STATUSES:
                continue
            if all(o[name] == c[name] for name in active):
                self._cancel_order(o, reject_code)
                count += 1
        return count

    def _mass_cancel(self, c: dict) -> None:
        count = self._cancel_matching(c["admin_op"], c, 0)
        self._emit(EventType.MASS_CANCEL_REPORT, 0, self._cmd_fields(), trade_id=count)

    def _market_data(self, c: dict) -> None:
        s = self._symbol(c["symbol_id"])
        if s is None:
            self._emit(EventType.ADMIN_REPORT, 0, self._cmd_fields(), R.UNKNOWN_SYMBOL)
        elif not (1 <= c["price"] <= MAX_PRICE):
            self._emit(EventType.ADMIN_REPORT, 0, self._cmd_fields(), R.INVALID_PRICE)
        else:
            s["ref_price"] = c["price"]

    def _admin(self, c: dict) -> None:
        op = c["admin_op"]
        code = 0
        extra = {}
        if op == AdminOp.SET_SYMBOL:
            tick, lot, mn, mx = c["price"], c["qty"], c["min_qty"], c["display_qty"]
            ref, collar = c["stop_price"], c["expire_time_ns"]
            open_sec, close_sec = c["order_id"], c["orig_cl_ord_id"]   # unsigned
            ok = (c["symbol_id"] < self.max_symbols and tick >= 1 and lot >= 1
                  and 1 <= mn <= mx <= MAX_QTY and 0 <= ref <= MAX_PRICE
                  and 0 <= collar <= 10000 and open_sec < close_sec <= SECONDS_PER_DAY)
            if ok:
                old = self._symbols.get(c["symbol_id"])
                halted = old["halted"] if old is not None else 0
                self._symbols[c["symbol_id"]] = dict(
                    tick_size=tick, lot_size=lot, min_qty=mn, max_qty=mx, ref_price=ref,
                    collar_bps=collar, open_sec=open_sec, close_sec=close_sec, defined=1,
                    halted=halted)
            else:
                code = R.INVALID_ADMIN
        elif op == AdminOp.SET_ACCOUNT:
            limits = dict(credit_limit=c["price"], max_order_qty=c["qty"],
                          max_order_notional=c["stop_price"], max_position=c["display_qty"],
                          gross_limit=c["min_qty"])
            pct, flags = c["expire_time_ns"], c["flags"]
            ok = (c["account_id"] < self.max_accounts
                  and all(0 <= v <= LIMIT_MAX for v in limits.values())
                  and 0 <= pct <= 100 and flags in (0, 1))
            if ok:
                old = self._accounts.get(c["account_id"])
                row = dict(limits, concentration_pct=pct,
                           open_notional=old["open_notional"] if old else 0,
                           position_cost=old["position_cost"] if old else 0,
                           defined=1, enabled=flags)
                self._accounts[c["account_id"]] = row
            else:
                code = R.INVALID_ADMIN
        elif op in (AdminOp.HALT_SYMBOL, AdminOp.RESUME_SYMBOL):
            s = self._symbol(c["symbol_id"])
            if s is None:
                code = R.INVALID_ADMIN
            else:
                s["halted"] = 1 if op == AdminOp.HALT_SYMBOL else 0
        elif op == AdminOp.KILL_SWITCH_ON:
            self.kill_switch = 1
            extra["trade_id"] = self._cancel_matching(0, c, R.KILL_SWITCH_ACTIVE)
        elif op == AdminOp.KILL_SWITCH_OFF:
            self.kill_switch = 0
        else:
            code = R.INVALID_ADMIN
        self._emit(EventType.ADMIN_REPORT, op, self._cmd_fields(), code, **extra)
