"""Plain-Python reference model of the engine, written from docs/engine.md alone.

Slow and obvious on purpose: dicts, lists and deques, one command at a time.  The hypothesis
comparison (tests/test_model_equivalence.py) drives the compiled core and this model with the
same commands and requires identical events and final state.  Every rule below cites the part
of docs/engine.md it implements; when the two disagree, the document decides.  The section
"Order types, time in force and modification (issue 3)" extends and overrides the earlier ones
(order types, TIF, icebergs, triggers, priority, TIMER); it is implemented throughout.
The later section "Venue rules: self-trade prevention and pro-rata" is implemented too:
account stp_mode (price-time matching: cancel newest / cancel oldest / decrement, and FOK /
min-qty availability without own orders) and symbol matching = pro-rata with
pro_rata_min_alloc, both set by config and by SET_ACCOUNT / SET_SYMBOL.
Triggers follow "Triggers" (trigger sources last / bid_ask / mid, absent references, the six
groups and the "next order to trigger") and run only in the settle phase at the end of every
command ("Settling: the end of every command"), together with the contingent queue of
"Contingent orders: OCO, OTO and bracket" (link checks, waiting orders, cancel / activate).
"Auctions": AT_OPEN / AT_CLOSE orders wait for their symbol's auction (held = 3), which TIMER
runs as a uniform-price uncross with the book.
"External venues and routing (issue 9)": venue rows and listings from EngineConfig.venues /
SymbolConfig.venues, the route stage of NEW (ex_destination, PRIMARY / CHEAPEST), orders
routed out (ROUTED + PENDING_NEW, VENUE_REQUEST events), client and OMS cancels / replaces of
orders at a venue (ORDER_PENDING, deferred cancels), and VENUE_EXEC with every op.  Where that
section is silent or ambiguous the choice made is commented where it is implemented.

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
    MAX_VENUES,
    NS_PER_SEC,
    ORDER_FIELDS,
    POSITION_FIELDS,
    SYMBOL_FIELDS,
    AdminOp,
    CommandType,
    CxlRejResponseTo,
    EventType,
    ExecInst,
    ExecType,
    MassCancelScope,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
    VenueExec,
    VenueFeature,
    VenueOrderState,
    VenueRequest,
    VenueState,
)

COMMAND_NAMES = [n for n, _ in COMMAND_FIELDS if not n.startswith("_")]
EVENT_NAMES = [n for n, _ in EVENT_FIELDS if not n.startswith("_")]
# Engine-internal order fields, not part of the compared state (docs/engine.md, "New fields").
ENGINE_INTERNAL = frozenset({"prev", "next", "trigger_heap_pos", "expiry_heap_pos"})
ORDER_NAMES = [n for n, _ in ORDER_FIELDS if not n.startswith("_") and n not in ENGINE_INTERNAL]
SYMBOL_NAMES = [n for n, _ in SYMBOL_FIELDS if not n.startswith("_")]
ACCOUNT_NAMES = [n for n, _ in ACCOUNT_FIELDS if not n.startswith("_")]
POSITION_NAMES = [n for n, _ in POSITION_FIELDS]

BUY, SELL = int(Side.BUY), int(Side.SELL)
MARKET, LIMIT = int(OrdType.MARKET), int(OrdType.LIMIT)
STOP, STOP_LIMIT = int(OrdType.STOP), int(OrdType.STOP_LIMIT)
MIT, LIT = int(OrdType.MARKET_IF_TOUCHED), int(OrdType.LIMIT_IF_TOUCHED)
TRAILING = int(OrdType.TRAILING_STOP)
DAY, GTC, IOC = int(TimeInForce.DAY), int(TimeInForce.GTC), int(TimeInForce.IOC)
FOK, GTD = int(TimeInForce.FOK), int(TimeInForce.GTD)
AT_OPEN, AT_CLOSE = int(TimeInForce.AT_OPEN), int(TimeInForce.AT_CLOSE)
AUCTION_TIFS = (AT_OPEN, AT_CLOSE)      # "Auctions": orders that wait for their auction
ORD_TYPES = {int(v) for v in OrdType}
TIFS = {int(v) for v in TimeInForce}
POST_ONLY = int(ExecInst.POST_ONLY)

# docs/engine.md, issue 3, "New fields": the three families of order types.
PRICED = frozenset({LIMIT, STOP_LIMIT, LIT})                     # carry a limit price
STOP_FAMILY = frozenset({STOP, STOP_LIMIT, MIT, LIT, TRAILING})  # held until triggered
MARKET_LIKE = frozenset({MARKET, STOP, MIT, TRAILING})           # execute as market orders
WITH_STOP_PRICE = frozenset({STOP, STOP_LIMIT, MIT, LIT})        # need a stop_price

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
DAY_NS = SECONDS_PER_DAY * NS_PER_SEC
INT64_MAX = 2**63 - 1

# "Venue rules" reference data (config names -> stored values).
_MATCHING = {"price_time": 0, "pro_rata": 1}
_STP_MODES = {"none": 0, "cancel_newest": 1, "cancel_oldest": 2, "decrement": 3}
# "Triggers": SymbolConfig.trigger_source -> stored value.
_TRIGGER_SOURCES = {"last": 0, "bid_ask": 1, "mid": 2}
SRC_LAST, SRC_BID_ASK, SRC_MID = 0, 1, 2
# Order.held (docs/engine.md, "New fields").
HELD_NO, HELD_TRIGGER, HELD_PARENT, HELD_AUCTION = 0, 1, 2, 3

# "External venues and routing (issue 9)".
ST_ROUTED = int(OrdStatus.ROUTED)
TERMINAL_STATUSES = (ST_FILLED, ST_CANCELLED, ST_REJECTED, ST_EXPIRED)
VS_NOT_SENT, VS_NEW_SENT, VS_LIVE = 0, 1, 2
VS_CANCEL_SENT, VS_REPLACE_SENT, VS_DONE = 3, 4, 5
assert (VS_NOT_SENT, VS_NEW_SENT, VS_LIVE, VS_CANCEL_SENT, VS_REPLACE_SENT, VS_DONE) == tuple(
    int(v) for v in VenueOrderState)
VENUE_DOWN, VENUE_UP = int(VenueState.DOWN), int(VenueState.UP)
CANCEL_DEFERRED = 1                     # Order.venue_flags bit
_VENUE_ORD_TYPES = {"market": MARKET, "limit": LIMIT}
_VENUE_FEATURES = {"iceberg": int(VenueFeature.ICEBERG), "post_only": int(VenueFeature.POST_ONLY),
                   "min_qty": int(VenueFeature.MIN_QTY)}
_TIF_NAMES = {"day": DAY, "gtc": GTC, "ioc": IOC, "fok": FOK, "gtd": GTD, "at_open": AT_OPEN,
              "at_close": AT_CLOSE}
# "Venue type of an order": the stop family is sent as the type it becomes when triggered.
VENUE_TYPE = {MARKET: MARKET, LIMIT: LIMIT, STOP: MARKET, MIT: MARKET, TRAILING: MARKET,
              STOP_LIMIT: LIMIT, LIT: LIMIT}


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


class _BookSide:
    """One side of one symbol's book: price -> list of (priority, order id), in increasing
    priority (docs/engine.md, issue 3: "A level's orders are kept in increasing priority")."""

    def __init__(self, is_bid: bool):
        self.is_bid = is_bid
        self.levels: dict[int, list[tuple[int, int]]] = {}
        self.prices: list[int] = []          # ascending

    def best(self):
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def has_level(self, price: int) -> bool:
        return price in self.levels

    def contains(self, price: int, oid: int) -> bool:
        level = self.levels.get(price)
        return level is not None and any(i == oid for _, i in level)

    def insert(self, price: int, priority: int, oid: int) -> None:
        """Join the level after every order of lower priority."""
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = []
            bisect.insort(self.prices, price)
        bisect.insort(level, (priority, oid))

    def remove(self, price: int, oid: int) -> None:
        level = self.levels[price]
        k = next(k for k, (_, i) in enumerate(level) if i == oid)
        del level[k]
        if not level:
            del self.levels[price]
            i = bisect.bisect_left(self.prices, price)
            assert self.prices[i] == price
            del self.prices[i]

    def head(self, price: int) -> int:
        return self.levels[price][0][1]

    def crossing_prices(self, limit, buying: bool) -> list[int]:
        """Prices of this (opposite) side that an aggressor with `limit` (None: any) reaches."""
        if limit is None:
            return list(self.prices)
        return [p for p in self.prices if (p <= limit if buying else p >= limit)]

    def snapshot(self, orders) -> list:
        prices = reversed(self.prices) if self.is_bid else self.prices
        out = []
        for p in prices:
            ids = [i for _, i in self.levels[p]]
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
        # issue 3, "New fields": state not exposed by counters().
        self.next_priority = 1
        self.last_timer_ns = 0

        # Reference data: only defined rows are stored (undefined rows are all zero).
        self._symbols: dict[int, dict] = {}
        for s in config.symbols:
            self._symbols[s.symbol_id] = dict(
                tick_size=s.tick_size, lot_size=s.lot_size, min_qty=s.min_qty,
                max_qty=s.max_qty, ref_price=s.ref_price, collar_bps=s.collar_bps,
                open_sec=s.open_sec, close_sec=s.close_sec, defined=1, halted=int(s.halted),
                market_protection_bps=s.market_protection_bps,
                matching=_MATCHING[getattr(s, "matching", "price_time")],
                pro_rata_min_alloc=getattr(s, "pro_rata_min_alloc", 1),
                trigger_source=_TRIGGER_SOURCES[getattr(s, "trigger_source", "last")])
        self._accounts: dict[int, dict] = {}
        for a in config.accounts:
            self._accounts[a.account_id] = dict(
                credit_limit=a.credit_limit, max_order_qty=a.max_order_qty,
                max_order_notional=a.max_order_notional, max_position=a.max_position,
                gross_limit=a.gross_limit, concentration_pct=a.concentration_pct,
                open_notional=0, position_cost=0, defined=1, enabled=int(a.enabled),
                stp_mode=_STP_MODES[getattr(a, "stp_mode", "none")])
        self._positions: dict[tuple[int, int], dict] = {}

        # "External venues and routing": venue rows (only defined ones stored), listings per
        # (symbol, venue), and each symbol's route rule and primary venue.
        self._venues: dict[int, dict] = {}
        for v in getattr(config, "venues", []):
            self._venues[v.venue_id] = dict(
                defined=1, state=VENUE_DOWN,
                ord_type_mask=sum({1 << _VENUE_ORD_TYPES[t] for t in v.ord_types}),
                tif_mask=sum({1 << _TIF_NAMES[t] for t in v.tifs}),
                features=sum({_VENUE_FEATURES[f] for f in v.features}),
                maker_fee=v.maker_fee, taker_fee=v.taker_fee,
                cancel_on_disconnect=int(v.cancel_on_disconnect), last_seq=0)
        ids = {v.name: v.venue_id for v in getattr(config, "venues", [])}
        self._listings: dict[tuple[int, int], dict] = {}
        self._routes: dict[int, dict] = {}
        for s in config.symbols:
            listings = getattr(s, "venues", [])
            for li in listings:
                self._listings[(s.symbol_id, ids[li.venue])] = dict(
                    listed=1, tick_size=li.tick_size, lot_size=li.lot_size)
            primary = getattr(s, "primary_venue", None)
            if primary is None and listings:
                primary = listings[0].venue          # default: the first listed
            self._routes[s.symbol_id] = dict(
                route_rule=0 if getattr(s, "route_rule", "primary") == "primary" else 1,
                primary_venue=ids[primary] if primary is not None else 0)

        # Order store.
        self._orders: dict[int, dict] = {}          # order id -> order (live or terminal)
        self._fresh_slots = 0                       # slots [0, _fresh_slots) have been used
        self._closed: deque[int] = deque()          # terminal order ids, oldest terminal first
        self._live: set[int] = set()                # ACCEPTED / PARTIALLY_FILLED order ids
        self._held: set[int] = set()                # held = 1: stop family not yet triggered
        # (orders waiting for a parent, held = 2, or an auction, held = 3, are in neither the
        # held set nor the book)
        self._cl_index: dict[tuple[int, int], int] = {}   # (session, cl_ord_id) -> order id

        # Idempotency: key -> [order id, insertion number, stored time]; FIFO of insertions.
        self._idem: dict[tuple[int, int], list] = {}
        self._idem_fifo: deque[tuple[tuple[int, int], int, int]] = deque()
        self._idem_insertions = 0

        self._books: dict[int, tuple[_BookSide, _BookSide]] = {}

        self._events: list[dict] = []
        self._cmd: dict = {}
        # "The contingent queue": FIFO of ("cancel", order id, code) / ("activate", order id),
        # carried out when the command settles.
        self._queue: deque[tuple] = deque()

    # -----------------------------------------------------------------------------------------
    # Accessors
    # -----------------------------------------------------------------------------------------

    def orders(self) -> dict[int, dict]:
        return {oid: {n: o[n] for n in ORDER_NAMES} for oid, o in self._orders.items()}

    def positions(self) -> dict[tuple[int, int], dict]:
        return {k: dict(p) for k, p in self._positions.items() if any(p.values())}

    def accounts(self) -> dict[int, dict]:
        return {i: {n: a[n] for n in ACCOUNT_NAMES} for i, a in self._accounts.items()}

    def symbols(self) -> dict[int, dict]:
        return {i: {n: s[n] for n in SYMBOL_NAMES} for i, s in self._symbols.items()}

    def book(self, symbol_id: int):
        sides = self._books.get(symbol_id)
        if sides is None:
            return [], []
        return sides[0].snapshot(self._orders), sides[1].snapshot(self._orders)

    def venues(self) -> dict[int, dict]:
        """The defined venue rows (VenueRef: state, masks, fees, last_seq)."""
        return {i: dict(v) for i, v in self._venues.items()}

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
            version=o["version"], status=o["status"], strategy_id=o["strategy_id"],
            stop_price=o["stop_price"], trigger_px=o["trigger_px"],
            venue_id=o["venue_id"])         # issue 9: the order's venue is in every event

    def _cmd_fields(self, order_id: int | None = None) -> dict:
        c = self._cmd
        return dict(
            order_id=c["order_id"] if order_id is None else order_id,
            cl_ord_id=c["cl_ord_id"], orig_cl_ord_id=c["orig_cl_ord_id"],
            session_id=c["session_id"], account_id=c["account_id"], symbol_id=c["symbol_id"],
            side=c["side"], ord_type=c["ord_type"], tif=c["tif"], price=c["price"],
            qty=c["qty"], strategy_id=c["strategy_id"], stop_price=c["stop_price"],
            cum_qty=0, leaves_qty=0, avg_px=0, version=0,
            # issue 9: "events with command fields take venue_id from the command (0 but for
            # VENUE_EXEC)": the command's field, whatever the command (it is normally 0 on
            # every other kind)
            venue_id=c["venue_id"])

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
            self._timer(c)
        elif kind == CommandType.ADMIN:
            self._admin(c)
        elif kind == CommandType.VENUE_EXEC and self._venues:
            self._venue_exec(c)
        else:   # unknown, including VENUE_EXEC when no venue is configured
            self._emit(EventType.ADMIN_REPORT, 0, self._cmd_fields(), R.UNKNOWN_COMMAND)
        self._settle()      # every command settles, including rejected ones (a no-op)
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
        reserved = o["leaves_qty"] * o["risk_px"]       # issue 3: valued at risk_px everywhere
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
        # (issue 9: an order at a venue may also end REJECTED, by the venue or a disconnect:
        # "ends not FILLED" too)
        if status in (ST_CANCELLED, ST_EXPIRED, ST_REJECTED):
            # "The contingent queue": an order ends not FILLED (for any reason): cancel its
            # OCO peer unless the peer has traded (its first trade ended this order), then
            # its child.
            peer = self._orders.get(o["oco_order_id"]) if o["oco_order_id"] else None
            if peer is not None and peer["cum_qty"] == 0:
                self._queue.append(("cancel", o["oco_order_id"], R.LINKED_ORDER_ENDED))
            if o["child_order_id"]:
                self._queue.append(("cancel", o["child_order_id"], R.LINKED_ORDER_ENDED))

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
        return 0        # pending states never outlast a command (docs/engine.md, CANCEL)

    # --- checks shared by NEW and REPLACE ----------------------------------------------------

    @staticmethod
    def _semantic(s: dict, ord_type: int, price: int, stop_price: int, trail_amount: int,
                  qty: int, display_qty: int, min_qty: int) -> int:
        """issue 3, "Semantic": tick of price (priced types), stop_price and trail_amount (when
        non-zero); lot of qty, display_qty and min_qty (when non-zero); symbol min / max;
        collar of priced types; market-like types need a reference price."""
        tick = s["tick_size"]
        if ord_type in PRICED and price % tick != 0:
            return R.PRICE_NOT_ON_TICK
        if stop_price != 0 and stop_price % tick != 0:
            return R.PRICE_NOT_ON_TICK
        if trail_amount != 0 and trail_amount % tick != 0:
            return R.PRICE_NOT_ON_TICK
        lot = s["lot_size"]
        if qty % lot != 0:
            return R.QTY_NOT_ON_LOT
        if display_qty != 0 and display_qty % lot != 0:
            return R.QTY_NOT_ON_LOT
        if min_qty != 0 and min_qty % lot != 0:
            return R.QTY_NOT_ON_LOT
        if qty < s["min_qty"]:
            return R.QTY_BELOW_MIN
        if qty > s["max_qty"]:
            return R.QTY_ABOVE_MAX
        ref = s["ref_price"]
        if ord_type in PRICED:
            if s["collar_bps"] > 0 and ref > 0 and abs(price - ref) * 10000 > ref * s["collar_bps"]:
                return R.PRICE_OUTSIDE_COLLAR
        elif ref == 0:
            return R.NO_REFERENCE_PRICE
        return 0

    def _business(self, a: dict, s: dict, time_ns: int, sid: int = 0, side: int = 0,
                  price: int = 0, exec_inst: int = 0, tif: int = 0) -> int:
        if self.kill_switch:
            return R.KILL_SWITCH_ACTIVE
        if not a["enabled"]:
            return R.ACCOUNT_DISABLED
        if s["halted"]:
            return R.SYMBOL_HALTED
        sec = (time_ns // NS_PER_SEC) % SECONDS_PER_DAY
        open_now = s["open_sec"] <= sec < s["close_sec"]
        if tif == AT_OPEN:
            # "Auctions": an at-the-open order is taken only while the session is closed
            if open_now:
                return R.NOT_IN_AUCTION_PHASE
        elif not open_now:
            return R.MARKET_CLOSED
        if exec_inst & POST_ONLY:
            # issue 3: "a POST_ONLY order that would trade on entry" (after MARKET_CLOSED).
            bids, asks = self._book_sides(sid)
            if side == BUY:
                best = asks.best()
                if best is not None and best <= price:
                    return R.POST_ONLY_WOULD_TRADE
            else:
                best = bids.best()
                if best is not None and best >= price:
                    return R.POST_ONLY_WOULD_TRADE
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
        self._book_position(o["account_id"], o["symbol_id"], o["side"], q, px)

    def _book_position(self, aid: int, sid: int, side: int, q: int, px: int) -> None:
        """"Positions, on each fill of q at px" (a bust books the opposite side)."""
        a = self._accounts[aid]
        p = self._position(aid, sid)
        d = q if side == BUY else -q
        if side == BUY:
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

    def _limit(self, o: dict):
        """issue 3, "Working an order": the price an aggressor may not trade beyond (None: any).
        Market-like orders are protected by the symbol's market_protection_bps around the
        reference price taken now."""
        if o["ord_type"] in PRICED:
            return o["price"]
        s = self._symbols[o["symbol_id"]]
        bps = s["market_protection_bps"]
        if bps <= 0:
            return None
        ref = s["ref_price"]
        band = ref * bps // 10000
        return ref + band if o["side"] == BUY else ref - band

    def _stp_on(self, o: dict) -> bool:
        """Venue rules: the aggressor's account has a self-trade prevention mode."""
        return self._accounts[o["account_id"]]["stp_mode"] != 0

    def _match(self, o: dict, limit) -> bool:
        """The order (not in the book) trades as aggressor against the opposite side, up to
        `limit`.  Returns whether it traded.  Venue rules: pro-rata symbols allocate each
        crossing level at once; price-time matching applies self-trade prevention."""
        if self._symbols[o["symbol_id"]]["matching"] == 1:
            return self._match_pro_rata(o, limit)
        t = self._cmd["time_ns"]
        opp = self._opposite_side(o)
        s = self._symbols[o["symbol_id"]]
        stp = self._accounts[o["account_id"]]["stp_mode"]
        traded = False
        while o["leaves_qty"] > 0:
            best = opp.best()
            if best is None:
                break
            if limit is not None:
                if o["side"] == BUY and best > limit:
                    break
                if o["side"] == SELL and best < limit:
                    break
            r = self._orders[opp.head(best)]
            iceberg = r["display_qty"] > 0
            if stp and r["account_id"] == o["account_id"]:
                if stp == 1:        # cancel newest: the aggressor's leaves; matching ends
                    self._cancel_order(o, R.SELF_TRADE_PREVENTED)
                    break
                if stp == 2:        # cancel oldest: the resting order; matching goes on
                    self._cancel_order(r, R.SELF_TRADE_PREVENTED)
                    continue
                # decrement both by the resting order's visible quantity
                d = min(o["leaves_qty"], r["display_leaves"] if iceberg else r["leaves_qty"])
                self._decrement(o, d)
                if iceberg:
                    r["display_leaves"] -= d
                self._decrement(r, d)      # leaves the book if no leaves are left
                if r["leaves_qty"] > 0 and iceberg and r["display_leaves"] == 0:
                    self._refresh_iceberg(opp, best, r)
                continue
            # A resting iceberg trades only its displayed part per match.
            q = min(o["leaves_qty"], r["display_leaves"] if iceberg else r["leaves_qty"])
            px = best
            self._trade(o, r, q, px, t, s)
            if iceberg:
                r["display_leaves"] -= q
            traded = True
            if r["leaves_qty"] == 0:
                opp.remove(best, r["order_id"])
            elif iceberg and r["display_leaves"] == 0:
                self._refresh_iceberg(opp, best, r)
        return traded

    def _refresh_iceberg(self, side: _BookSide, price: int, r: dict) -> None:
        """Replenished silently; the refresh loses time priority (back of the level)."""
        r["display_leaves"] = min(r["display_qty"], r["leaves_qty"])
        side.remove(price, r["order_id"])
        r["priority"] = self._take_priority()
        side.insert(price, r["priority"], r["order_id"])

    def _trade(self, o: dict, r: dict, q: int, px: int, t: int, s: dict) -> None:
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        first = {o["order_id"]: o["cum_qty"] == 0, r["order_id"]: r["cum_qty"] == 0}
        self._apply_fill(o, q, px, t)
        self._apply_fill(r, q, px, t)
        # When one match fills both, the aggressor becomes terminal first (so it is the
        # older terminal order, evicted first), as everything else in a match is done
        # "aggressor first".
        for x in (o, r):
            if x["leaves_qty"] == 0:
                self._become_terminal(x, ST_FILLED)
        s["ref_price"] = px
        self._emit(EventType.EXEC_REPORT, ExecType.TRADE, self._order_fields(o),
                   last_px=px, last_qty=q, trade_id=trade_id)
        self._emit(EventType.EXEC_REPORT, ExecType.TRADE, self._order_fields(r),
                   last_px=px, last_qty=q, trade_id=trade_id)
        # "The contingent queue": each fill queues its order's actions, the aggressor's
        # fill first, then the resting order's: its first fill cancels its OCO peer, then,
        # when it is now FILLED, its child is activated.
        for x in (o, r):
            self._queue_fill_actions(x, first[x["order_id"]])

    def _queue_fill_actions(self, x: dict, first_fill: bool) -> None:
        if first_fill and x["oco_order_id"]:
            self._queue.append(("cancel", x["oco_order_id"], R.OCO_PEER_TRADED))
        if x["status"] == ST_FILLED and x["child_order_id"]:
            self._queue.append(("activate", x["child_order_id"]))

    def _decrement(self, o: dict, d: int) -> None:
        """Venue rules, STP *decrement*: qty and leaves lose d, version += 1, reservation
        updated; no leaves left -> CANCELLED (CANCELED), else RESTATED (status unchanged);
        both with SELF_TRADE_PREVENTED."""
        self._release(o)
        o["qty"] -= d
        o["leaves_qty"] -= d
        o["version"] += 1
        o["updated_ns"] = self._cmd["time_ns"]
        if o["leaves_qty"] == 0:
            self._unbook(o)
            self._become_terminal(o, ST_CANCELLED)
            self._emit(EventType.EXEC_REPORT, ExecType.CANCELED, self._order_fields(o),
                       R.SELF_TRADE_PREVENTED)
        else:
            self._reserve(o)
            self._emit(EventType.EXEC_REPORT, ExecType.RESTATED, self._order_fields(o),
                       R.SELF_TRADE_PREVENTED)

    def _match_pro_rata(self, o: dict, limit) -> bool:
        """Venue rules, "Pro-rata": each crossing level, best first, is allocated at once over
        the eligible orders' whole leaves (own account left out when STP is on); allocations
        below pro_rata_min_alloc are 0; the rest goes in priority order; then the allocated
        orders trade in priority order."""
        t = self._cmd["time_ns"]
        opp = self._opposite_side(o)
        s = self._symbols[o["symbol_id"]]
        min_alloc = s["pro_rata_min_alloc"]
        own = o["account_id"] if self._stp_on(o) else None
        traded = False
        prices = opp.crossing_prices(limit, o["side"] == BUY)
        if o["side"] == SELL:
            prices = prices[::-1]           # best bid first
        for px in prices:
            if o["leaves_qty"] == 0:
                break
            elig = [self._orders[i] for _, i in opp.levels[px]
                    if self._orders[i]["account_id"] != own]
            e = sum(r["leaves_qty"] for r in elig)
            if e == 0:
                continue
            q_total = min(o["leaves_qty"], e)
            alloc = []
            for r in elig:
                a = q_total * r["leaves_qty"] // e
                alloc.append(a if a >= min_alloc else 0)
            rest = q_total - sum(alloc)
            for k, r in enumerate(elig):
                if rest == 0:
                    break
                extra = min(rest, r["leaves_qty"] - alloc[k])
                alloc[k] += extra
                rest -= extra
            for r, a in zip(elig, alloc):
                if a <= 0:
                    continue
                self._trade(o, r, a, px, t, s)
                traded = True
                if r["display_qty"] > 0:    # after every trade, the last one too (to 0)
                    r["display_leaves"] = min(r["display_qty"], r["leaves_qty"])
                if r["leaves_qty"] == 0:
                    opp.remove(px, r["order_id"])
        return traded

    def _take_priority(self) -> int:
        p = self.next_priority
        self.next_priority += 1
        return p

    def _unbook(self, o: dict) -> None:
        """Take the order out of its book level, out of the held set, or out of waiting
        (held = 0: "Leaving the held set by cancel, expiry or mass cancel also sets held = 0";
        a waiting order that ends is read the same way).  An iceberg's display_leaves is left
        as it was."""
        if o["held"]:
            self._held.discard(o["order_id"])
            o["held"] = HELD_NO
            return
        side = self._own_side(o)
        if side.contains(o["price"], o["order_id"]):
            side.remove(o["price"], o["order_id"])

    def _cancel_order(self, o: dict, reject_code: int = 0, cl_sub: int = 0) -> None:
        """PENDING_CANCEL -> CANCELLED, confirmed at once; the order may or may not rest."""
        self._end_order(o, ST_CANCELLED)
        fields = self._order_fields(o)
        if cl_sub:
            fields["cl_ord_id"] = cl_sub
            fields["orig_cl_ord_id"] = o["cl_ord_id"]
        self._emit(EventType.EXEC_REPORT, ExecType.CANCELED, fields, reject_code)

    def _end_order(self, o: dict, status: int) -> None:
        """Out of the book (or the held set), leaves 0, reservation released, terminal."""
        self._unbook(o)
        self._release(o)
        o["leaves_qty"] = 0
        o["version"] += 1
        o["updated_ns"] = self._cmd["time_ns"]
        self._become_terminal(o, status)

    def _rest(self, o: dict) -> None:
        """Rest the order's leaves at its priority position in its level, or cancel them with
        BOOK_FULL.  An iceberg shows min(display_qty, leaves)."""
        side = self._own_side(o)
        if not side.has_level(o["price"]) and len(side.levels) >= self.max_levels:
            self._cancel_order(o, R.BOOK_FULL)
        else:
            if o["display_qty"] > 0:
                o["display_leaves"] = min(o["display_qty"], o["leaves_qty"])
            side.insert(o["price"], o["priority"], o["order_id"])

    def _work(self, o: dict, replace: bool = False) -> None:
        """issue 3, "Working an order": the aggressive phase (FOK, min_qty, match up to the
        limit), then rest or cancel the leaves.  A replace skips the FOK and min_qty rules.
        (Triggers are not checked here: only when the command settles.)"""
        limit = self._limit(o)
        skip = False
        if not replace:
            opp = self._opposite_side(o)
            # Venue rules: with STP on, the aggressor's own resting orders are left out.
            own = o["account_id"] if self._stp_on(o) else None
            available = sum(sum(self._orders[i]["leaves_qty"] for _, i in opp.levels[p]
                                if self._orders[i]["account_id"] != own)
                            for p in opp.crossing_prices(limit, o["side"] == BUY))
            if o["tif"] == FOK and available < o["leaves_qty"]:
                self._cancel_order(o)
                return
            skip = o["min_qty"] > 0 and available < min(o["min_qty"], o["leaves_qty"])
        if not skip:
            self._match(o, limit)
        if o["leaves_qty"] > 0:
            if o["ord_type"] in MARKET_LIKE or o["tif"] in (IOC, FOK):
                self._cancel_order(o)
            else:
                self._rest(o)

    # --- triggers -----------------------------------------------------------------------------

    @staticmethod
    def _trail_offset(o: dict, ref: int) -> int:
        return o["trail_amount"] if o["trail_amount"] else ref * o["trail_bps"] // 10000

    @staticmethod
    def _fires(o: dict, ref: int) -> bool:
        if o["ord_type"] in (STOP, STOP_LIMIT, TRAILING):
            return ref >= o["trigger_px"] if o["side"] == BUY else ref <= o["trigger_px"]
        return ref <= o["trigger_px"] if o["side"] == BUY else ref >= o["trigger_px"]

    def _reference(self, sid: int, side: int):
        """"Triggers", References: the reference of a held order of `side`, None if absent.
        last: ref_price (absent when 0); bid_ask: a BUY reads the best ask, a SELL the best
        bid (absent when that side has no level); mid: (best bid + best ask) // 2 (absent when
        either side has no level)."""
        s = self._symbols[sid]
        src = s["trigger_source"]
        if src == SRC_LAST:
            return s["ref_price"] if s["ref_price"] != 0 else None
        bids, asks = self._book_sides(sid)
        if src == SRC_BID_ASK:
            return asks.best() if side == BUY else bids.best()
        bid, ask = bids.best(), asks.best()
        if bid is None or ask is None:
            return None
        return (bid + ask) // 2

    def _move_trailing(self, o: dict, ref: int) -> None:
        """"Trailing stops": SELL: ref - offset if that is above trigger_px; BUY: ref + offset
        if below."""
        off = self._trail_offset(o, ref)
        if o["side"] == SELL:
            if ref - off > o["trigger_px"]:
                o["trigger_px"] = ref - off
        elif ref + off < o["trigger_px"]:
            o["trigger_px"] = ref + off

    # The six groups: (side, types) -> True when ordered by trigger_px ascending (fires when
    # ref >= trigger_px), False when descending (fires when ref <= trigger_px); then order id.
    _GROUPS = [
        (BUY, (STOP, STOP_LIMIT), True),      # buy stops
        (BUY, (MIT, LIT), False),             # buy touches
        (BUY, (TRAILING,), True),             # buy trailing
        (SELL, (STOP, STOP_LIMIT), False),    # sell stops
        (SELL, (MIT, LIT), True),             # sell touches
        (SELL, (TRAILING,), False),           # sell trailing
    ]

    def _examine(self, sid: int):
        """"Triggers": examining a symbol: first move all its held trailing stops (each with
        its side's reference, when present); then its next order to trigger is, among the
        first orders of its six groups that fire, the one with the lowest order id."""
        held = [self._orders[i] for i in sorted(self._held)
                if self._orders[i]["symbol_id"] == sid]
        for o in held:
            if o["ord_type"] == TRAILING:
                ref = self._reference(sid, o["side"])
                if ref is not None:
                    self._move_trailing(o, ref)
        candidates = []
        for side, types, ascending in self._GROUPS:
            group = [o for o in held if o["side"] == side and o["ord_type"] in types]
            if not group:
                continue
            if ascending:
                first = min(group, key=lambda o: (o["trigger_px"], o["order_id"]))
            else:
                first = min(group, key=lambda o: (-o["trigger_px"], o["order_id"]))
            ref = self._reference(sid, side)
            if ref is not None and self._fires(first, ref):
                candidates.append(first)
        if not candidates:
            return None
        return min(candidates, key=lambda o: o["order_id"])

    def _trigger(self, o: dict) -> None:
        """"Triggering" an order: out of the held set, held = 0, a new priority, version + 1,
        TRIGGERED, then worked as on entry."""
        self._held.discard(o["order_id"])
        o["held"] = HELD_NO
        o["priority"] = self._take_priority()    # joins the market now
        o["version"] += 1
        o["updated_ns"] = self._cmd["time_ns"]
        self._emit(EventType.EXEC_REPORT, ExecType.TRIGGERED, self._order_fields(o))
        if o["venue_id"]:
            self._send_new(o)       # issue 9: sent to its venue instead (status stays ACCEPTED)
        else:
            self._work(o)

    def _arm(self, o: dict) -> bool:
        """A stop-family order's trigger_px = stop_price (TRAILING_STOP: from its side's
        reference); False when that reference is absent (nothing set)."""
        if o["ord_type"] == TRAILING:
            ref = self._reference(o["symbol_id"], o["side"])
            if ref is None:
                return False
            off = self._trail_offset(o, ref)
            o["trigger_px"] = ref - off if o["side"] == SELL else ref + off
        else:
            o["trigger_px"] = o["stop_price"]
        return True

    def _hold_or_work(self, o: dict) -> bool:
        """After the NEW report (or an activation): a stop-family order is held with its
        trigger set (see _arm); any other order is worked.  Returns False when a trailing
        stop's reference is absent (nothing done)."""
        if o["ord_type"] in STOP_FAMILY:
            if not self._arm(o):
                return False
            o["held"] = HELD_TRIGGER
            self._held.add(o["order_id"])
        elif o["venue_id"]:
            self._send_new(o)       # issue 9: an activated order routed to a venue is sent
        else:
            self._work(o)
        return True

    # --- settling and the contingent queue ----------------------------------------------------

    def _settle(self) -> None:
        """"Settling: the end of every command": until neither kind is left, carry out the
        contingent queue (FIFO); when it is empty, examine every symbol (moving its trailing
        stops) and, of those that then have a next order to trigger, the one with the lowest
        symbol id triggers it (then back to the queue)."""
        while True:
            if self._queue:
                action = self._queue.popleft()
                if action[0] == "cancel":
                    self._contingent_cancel(action[1], action[2])
                else:
                    self._activate(action[1])
                continue
            found = [o for o in (self._examine(sid) for sid in sorted(self._symbols))
                     if o is not None]
            if not found:
                return
            self._trigger(found[0])

    def _contingent_cancel(self, oid: int, code: int) -> None:
        """*cancel*(id, code): if still known and live, cancelled exactly as by CANCEL (no
        ClOrdID substitution), CANCELED with reject_code = code; its end queues further
        actions."""
        o = self._orders.get(oid)
        # issue 9: besides live orders, those in ROUTED and PENDING_REPLACE (not
        # PENDING_CANCEL); an order at a venue is asked to cancel
        if o is None or o["status"] not in LIVE_STATUSES + (ST_ROUTED, ST_PENDING_REPLACE):
            return
        self._own_cancel(o, code)

    def _activate(self, oid: int) -> None:
        """*activate*(id): if still known, live and waiting: held = 0, a new priority,
        version + 1, TRIGGERED; then as at acceptance (held with its trigger, or worked as on
        entry); a TRAILING_STOP whose side's reference is absent is cancelled instead
        (NO_REFERENCE_PRICE).  Then, if it is still live with cum_qty == 0 and its OCO peer
        waits for the same parent, the peer is activated the same way, at once.  No NEW check
        is repeated."""
        o = self._orders.get(oid)
        if o is None or o["status"] not in LIVE_STATUSES or o["held"] != HELD_PARENT:
            return
        o["held"] = HELD_NO
        o["priority"] = self._take_priority()
        o["version"] += 1
        o["updated_ns"] = self._cmd["time_ns"]
        self._emit(EventType.EXEC_REPORT, ExecType.TRIGGERED, self._order_fields(o))
        if not self._hold_or_work(o):
            self._cancel_order(o, R.NO_REFERENCE_PRICE)
        if o["oco_order_id"] and o["status"] in LIVE_STATUSES and o["cum_qty"] == 0:
            peer = self._orders.get(o["oco_order_id"])
            if (peer is not None and peer["held"] == HELD_PARENT
                    and peer["parent_order_id"] == o["parent_order_id"]):
                self._activate(peer["order_id"])

    # -----------------------------------------------------------------------------------------
    # NEW
    # -----------------------------------------------------------------------------------------

    def _new_syntax(self, c: dict) -> int:
        """issue 3, "NEW validation" (replaces the seed's syntax list)."""
        if c["cl_ord_id"] == 0:
            return R.MISSING_CL_ORD_ID
        if c["side"] not in (BUY, SELL):
            return R.INVALID_SIDE
        ot, tif, qty = c["ord_type"], c["tif"], c["qty"]
        if ot not in ORD_TYPES:
            return R.INVALID_ORD_TYPE
        if tif not in TIFS:
            return R.INVALID_TIF
        if tif in AUCTION_TIFS and ot not in (MARKET, LIMIT):
            return R.UNSUPPORTED_TIF
        if qty < 1 or qty > MAX_QTY:
            return R.INVALID_QTY
        if ot in PRICED:
            if c["price"] < 1 or c["price"] > MAX_PRICE:
                return R.INVALID_PRICE
        elif c["price"] != 0:
            return R.INVALID_PRICE
        if ot in WITH_STOP_PRICE:
            if c["stop_price"] < 1 or c["stop_price"] > MAX_PRICE:
                return R.INVALID_STOP_PRICE
        elif c["stop_price"] != 0:
            return R.INVALID_STOP_PRICE
        ta, tb = c["trail_amount"], c["trail_bps"]
        if ot == TRAILING:
            if not ((1 <= ta <= MAX_PRICE and tb == 0) or (ta == 0 and 1 <= tb <= 10000)):
                return R.INVALID_TRAIL
        elif ta != 0 or tb != 0:
            return R.INVALID_TRAIL
        dq = c["display_qty"]
        if dq != 0 and not (1 <= dq < qty and ot in PRICED
                            and tif not in (IOC, FOK, AT_OPEN, AT_CLOSE)):
            return R.INVALID_DISPLAY_QTY
        if not (0 <= c["min_qty"] <= qty) or (c["min_qty"] != 0 and tif in AUCTION_TIFS):
            return R.INVALID_MIN_QTY
        if tif == GTD:
            if c["expire_time_ns"] <= c["time_ns"]:
                return R.INVALID_EXPIRE_TIME
        elif c["expire_time_ns"] != 0:
            return R.INVALID_EXPIRE_TIME
        ei = c["exec_inst"]
        if ei & ~POST_ONLY or (ei & POST_ONLY and not (
                ot == LIMIT and tif not in (IOC, FOK, AT_OPEN, AT_CLOSE))):
            return R.INVALID_EXEC_INST
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

        code, waits = self._link_checks(c)
        if code:
            return self._reject_new(code)

        s = self._symbols[c["symbol_id"]]
        a = self._accounts[c["account_id"]]
        ot = c["ord_type"]
        code = self._semantic(s, ot, c["price"], c["stop_price"], c["trail_amount"], c["qty"],
                              c["display_qty"], c["min_qty"])
        if code:
            return self._reject_new(code)
        # "Trailing stops": a TRAILING_STOP NEW whose side's reference is absent (semantic,
        # after the market-like reference check).
        if ot == TRAILING and self._reference(c["symbol_id"], c["side"]) is None:
            return self._reject_new(R.NO_REFERENCE_PRICE)
        code = self._business(a, s, t, c["symbol_id"], c["side"], c["price"], c["exec_inst"],
                              c["tif"])
        if code:
            return self._reject_new(code)
        p = self._peek_position(c["account_id"], c["symbol_id"])
        px = c["price"] if ot in PRICED else s["ref_price"]         # risk_px
        code = self._risk(a, c["side"], c["qty"], c["qty"], px, a["open_notional"],
                          p["net_qty"], p["avg_px"], p["open_notional"], p["open_buy_qty"],
                          p["open_sell_qty"])
        if code:
            return self._reject_new(code)
        # issue 9, "NEW: the route stage": after the risk checks, before the capacity checks.
        code, venue_id = self._route(c)
        if code:
            return self._reject_new(code)
        if self._fresh_slots >= self.max_orders and not self._closed:
            return self._reject_new(R.ORDER_STORE_FULL)
        if len(self._idem_fifo) >= self.idem_capacity:
            return self._reject_new(R.IDEMPOTENCY_TABLE_FULL)
        # The linked orders, looked up before allocation (a FILLED parent may be evicted by
        # it; a waiting order's parent and an OCO peer are live, so never evicted).
        parent_id, peer_id = c["parent_order_id"], c["oco_order_id"]
        parent = self._orders.get(parent_id) if waits else None
        peer = self._orders.get(peer_id) if peer_id else None

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
        tif = c["tif"]
        if tif == DAY:      # expires at its symbol's session close of the command's UTC day
            # Near the end of int64 time that close is not representable: it saturates at
            # INT64_MAX (docs/engine.md is silent; exact arithmetic, as for idempotency keys).
            expire = min((t // DAY_NS) * DAY_NS + s["close_sec"] * NS_PER_SEC, INT64_MAX)
        elif tif == GTD:
            expire = c["expire_time_ns"]
        else:
            expire = 0
        o = dict.fromkeys(ORDER_NAMES, 0)
        o.update(
            # "ids": cl_ord_id, session, account, symbol.  A new order has no original
            # ClOrdID: orig_cl_ord_id = 0 whatever the command carries (docs/engine.md only
            # says "ids"; the engine reads it this way too).
            order_id=oid, cl_ord_id=c["cl_ord_id"], orig_cl_ord_id=0,
            price=c["price"], stop_price=c["stop_price"], qty=c["qty"], cum_qty=0,
            leaves_qty=c["qty"], cum_notional=0, display_qty=c["display_qty"],
            min_qty=c["min_qty"], expire_time_ns=expire, created_ns=t,
            updated_ns=t, reserved_notional=0, session_id=c["session_id"],
            account_id=c["account_id"], symbol_id=c["symbol_id"], version=1,
            strategy_id=c["strategy_id"], side=c["side"], ord_type=c["ord_type"],
            tif=tif, status=ST_ACCEPTED,        # PENDING -> VALIDATED -> ROUTED -> ACCEPTED
            priority=self._take_priority(), display_leaves=0, risk_px=px,
            trail_amount=c["trail_amount"], trail_bps=c["trail_bps"], exec_inst=c["exec_inst"],
            held=0, trigger_px=0, parent_order_id=parent_id, oco_order_id=peer_id,
            child_order_id=0, venue_id=venue_id)
        o["_slot"] = slot
        self._orders[oid] = o
        self._live.add(oid)
        self._cl_index[(c["session_id"], c["cl_ord_id"])] = oid
        self._idem_insertions += 1
        self._idem[key] = [oid, self._idem_insertions, t]
        self._idem_fifo.append((key, self._idem_insertions, t))
        # "Contingent orders", at acceptance: the peer links back (no event, no version
        # change); a waiting order becomes its parent's child if the parent has none.
        if peer is not None:
            peer["oco_order_id"] = oid
        if waits:
            o["held"] = HELD_PARENT
            if parent["child_order_id"] == 0:
                parent["child_order_id"] = oid
        self._reserve(o)
        if venue_id and not waits and o["ord_type"] not in STOP_FAMILY:
            # issue 9, "Acceptance ... for an order routed to a venue": worked at once (an
            # auction TIF included: the venue runs its auction), it stops at ROUTED, reports
            # PENDING_NEW and is sent.
            o["status"] = ST_ROUTED     # PENDING -> VALIDATED -> ROUTED
            self._emit(EventType.EXEC_REPORT, ExecType.PENDING_NEW, self._order_fields(o))
            self._send_new(o)
            return
        if not waits and o["ord_type"] in STOP_FAMILY:
            # "Acceptance": the trigger is set before the NEW report, which shows it (and set
            # again, to the same value, when the order is held just below)
            assert self._arm(o)
        self._emit(EventType.EXEC_REPORT, ExecType.NEW, self._order_fields(o))

        if tif in AUCTION_TIFS:
            o["held"] = HELD_AUCTION        # "Auctions": waits for its auction
        elif not waits:
            # Held by the OMS, not sent to the venue, until its trigger; or worked.  (The
            # trailing reference was checked above, and nothing has changed it since.)
            assert self._hold_or_work(o)

    def _link_checks(self, c: dict) -> tuple[int, bool]:
        """"NEW: link checks" -> (reject code or 0, whether the new order waits)."""
        sess, acct = c["session_id"], c["account_id"]
        pid, xid = c["parent_order_id"], c["oco_order_id"]
        waits = False
        # 0. an auction order does not wait itself (it may be a parent or an OCO peer)
        if c["tif"] in AUCTION_TIFS and (pid != 0 or xid != 0):
            return R.LINK_NOT_ALLOWED, False
        if pid != 0:
            p = self._orders.get(pid)
            if p is None or p["session_id"] != sess or p["account_id"] != acct:
                return R.UNKNOWN_LINKED_ORDER, False
            if p["status"] in (ST_CANCELLED, ST_EXPIRED, ST_REJECTED):
                return R.LINKED_ORDER_DONE, False
            if p["held"] == HELD_PARENT:
                return R.LINK_NOT_ALLOWED, False
            # "While P is live the new order waits ... when P is FILLED it is activated; when
            # P ends otherwise it is cancelled": live is read as not ended (issue 9: a parent
            # at a venue may be ROUTED or pending, not terminal)
            waits = p["status"] not in TERMINAL_STATUSES
            if waits and p["child_order_id"] != 0 and xid != p["child_order_id"]:
                return R.LINK_NOT_ALLOWED, False
        if xid != 0:
            x = self._orders.get(xid)
            if x is None or x["session_id"] != sess or x["account_id"] != acct:
                return R.UNKNOWN_LINKED_ORDER, False
            # "X terminal or X.cum_qty > 0" (issue 9: an order at a venue may be ROUTED or
            # pending, neither live nor terminal)
            if x["status"] in TERMINAL_STATUSES or x["cum_qty"] > 0:
                return R.LINKED_ORDER_DONE, False
            if x["oco_order_id"] != 0:
                return R.LINK_NOT_ALLOWED, False
            x_waits = x["held"] == HELD_PARENT
            if x_waits and (not waits or x["parent_order_id"] != pid):
                return R.LINK_NOT_ALLOWED, False
            if not x_waits and waits:
                return R.LINK_NOT_ALLOWED, False
        return 0, waits

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
        if o["venue_state"] != VS_NOT_SENT:
            # issue 9, "CANCEL and REPLACE of an order routed to a venue"
            if o["venue_state"] != VS_LIVE:
                return self._cancel_reject(o, rt, R.ORDER_PENDING)
            return self._send_cancel(o, c["cl_ord_id"], 0)
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
        # issue 9: an order at a venue (sent) is replaced only while LIVE there
        at_venue = o["venue_state"] != VS_NOT_SENT
        if at_venue and o["venue_state"] != VS_LIVE:
            return self._cancel_reject(o, rt, R.ORDER_PENDING)
        qty, price = c["qty"], c["price"]
        ot = o["ord_type"]
        # A waiting order (held = 2) is replaced by the same rules as a held one.
        held = o["held"] != HELD_NO
        if qty < 1 or qty > MAX_QTY:
            return self._cancel_reject(o, rt, R.INVALID_QTY)
        # issue 3: a held order of an unpriced type is replaced with price 0; every other
        # order (held STOP_LIMIT / LIT, and every worked order, which is priced) needs a price.
        # (issue 9: an unpriced order at a venue, e.g. a MARKET DAY order, is worked but not
        # priced: it too is replaced with price 0)
        if ot not in PRICED:
            if price != 0:
                return self._cancel_reject(o, rt, R.INVALID_PRICE)
        elif price < 1 or price > MAX_PRICE:
            return self._cancel_reject(o, rt, R.INVALID_PRICE)
        # A held STOP / STOP_LIMIT / MIT / LIT takes a new stop_price when cmd.stop_price != 0
        # (anything else ignores cmd.stop_price), checked right after the price.
        new_stop = c["stop_price"] if held and ot in WITH_STOP_PRICE else 0
        if new_stop and not (1 <= new_stop <= MAX_PRICE):
            return self._cancel_reject(o, rt, R.INVALID_STOP_PRICE)
        if (c["session_id"], c["cl_ord_id"]) in self._cl_index:
            return self._cancel_reject(o, rt, R.DUPLICATE_CL_ORD_ID)
        if qty <= o["cum_qty"]:
            return self._cancel_reject(o, rt, R.REPLACE_QTY_BELOW_CUM)
        stop = new_stop or o["stop_price"]
        if price == o["price"] and qty == o["qty"] and stop == o["stop_price"]:
            return self._cancel_reject(o, rt, R.REPLACE_CHANGES_NOTHING)
        s = self._symbols[o["symbol_id"]]
        a = self._accounts[o["account_id"]]
        # Semantic checks "on the new price and quantity": the order's unchanged stop_price,
        # trail_amount, display_qty and min_qty are not checked again (the engine's reading).
        code = self._semantic(s, ot, price, new_stop, 0, qty, 0, 0)
        if code:
            return self._cancel_reject(o, rt, code)
        # "business checks of NEW (kill switch, account enabled, halted, session hours)": the
        # four listed, not POST_ONLY_WOULD_TRADE (the engine's reading: a post-only order
        # replaced to a crossing price trades).
        code = self._business(a, s, c["time_ns"], tif=o["tif"])
        if code:
            return self._cancel_reject(o, rt, code)
        p = self._peek_position(o["account_id"], o["symbol_id"])
        new_leaves = qty - o["cum_qty"]
        risk_px = price if ot in PRICED else o["risk_px"]
        res = o["reserved_notional"]
        open_buy = p["open_buy_qty"] - (o["leaves_qty"] if o["side"] == BUY else 0)
        open_sell = p["open_sell_qty"] - (o["leaves_qty"] if o["side"] == SELL else 0)
        code = self._risk(a, o["side"], qty, new_leaves, risk_px, a["open_notional"] - res,
                          p["net_qty"], p["avg_px"], p["open_notional"] - res, open_buy,
                          open_sell)
        if code:
            return self._cancel_reject(o, rt, code)

        if at_venue:
            # issue 9: the request goes to the venue; nothing else changes until it answers
            # (the reservation stays)
            o["venue_last_req"] += 1
            o["venue_state"] = VS_REPLACE_SENT
            o["pending_cl_ord_id"] = c["cl_ord_id"]
            o["status"] = ST_PENDING_REPLACE
            fields = self._order_fields(o)
            fields.update(cl_ord_id=c["cl_ord_id"], orig_cl_ord_id=o["cl_ord_id"], price=price,
                          qty=qty)
            self._emit(EventType.EXEC_REPORT, ExecType.PENDING_REPLACE, fields)
            fields = self._order_fields(o)
            fields.update(price=price, qty=qty)
            self._emit(EventType.VENUE_REQUEST, VenueRequest.REPLACE, fields,
                       venue_cl_ord_id=self._venue_cl(o, o["venue_last_req"]),
                       venue_orig_cl_ord_id=self._venue_cl(o, o["venue_live_req"]))
            return

        # Accepted: PENDING_REPLACE -> ACCEPTED / PARTIALLY_FILLED.  Priority (the seed's
        # rules): lost when the price improves or the quantity increases, else kept, also at
        # a new level (where the order takes its place by priority).  A worked order whose
        # price changed or which lost priority leaves its level and is worked again; one that
        # keeps both (a smaller size) stays where it is.
        improves = price > o["price"] if o["side"] == BUY else price < o["price"]
        loses = improves or qty > o["qty"]
        if loses:
            o["priority"] = self._take_priority()
        rework = not held and (loses or price != o["price"])
        if rework:
            self._unbook(o)
        self._release(o)
        del self._cl_index[(o["session_id"], o["cl_ord_id"])]
        o["orig_cl_ord_id"] = o["cl_ord_id"]
        o["cl_ord_id"] = c["cl_ord_id"]
        self._cl_index[(o["session_id"], o["cl_ord_id"])] = o["order_id"]
        o["price"] = price
        o["qty"] = qty
        o["leaves_qty"] = qty - o["cum_qty"]
        o["risk_px"] = risk_px
        o["display_leaves"] = min(o["display_qty"], o["leaves_qty"])
        if new_stop:
            o["stop_price"] = o["trigger_px"] = new_stop
        o["version"] += 1
        o["updated_ns"] = c["time_ns"]
        o["status"] = ST_ACCEPTED if o["cum_qty"] == 0 else ST_PARTIAL
        self._reserve(o)
        self._emit(EventType.EXEC_REPORT, ExecType.REPLACED, self._order_fields(o))
        if rework:
            # Not as entry (no FOK / min_qty): trades if it now crosses, else rests by priority.
            self._work(o, replace=True)

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
            # issue 9: besides live orders, those in ROUTED and PENDING_REPLACE (not
            # PENDING_CANCEL); the count is of every order selected
            if o["status"] not in LIVE_STATUSES + (ST_ROUTED, ST_PENDING_REPLACE):
                continue
            if all(o[name] == c[name] for name in active):
                self._own_cancel(o, reject_code)
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

    def _instant_passed(self, sec: int, t: int) -> bool:
        """Whether an instant day * D + sec * 10^9 lies in (last_timer_ns, t] (exact)."""
        at = sec * NS_PER_SEC
        latest = (t - at) // DAY_NS * DAY_NS + at       # the latest such instant <= t
        return latest > self.last_timer_ns

    def _timer(self, c: dict) -> None:
        """issue 3, "TIMER", and "Auctions": the closing auctions of the symbols whose
        session closed in (last_timer_ns, T]; expiry of DAY / GTD orders in (expire_time_ns,
        order id) order; revalidation of the GTC orders of every symbol whose session opened
        in (last_timer_ns, T]; then the opening auctions of those symbols."""
        t = c["time_ns"]
        for sid in sorted(self._symbols):
            if self._instant_passed(self._symbols[sid]["close_sec"], t):
                self._run_auction(sid, AT_CLOSE)
        # issue 9: expiry passes over orders with venue_state != NOT_SENT (the venue expires
        # them and reports it)
        due = sorted((self._orders[i]["expire_time_ns"], i) for i in self._live
                     if 0 < self._orders[i]["expire_time_ns"] <= t
                     and self._orders[i]["venue_state"] == VS_NOT_SENT)
        for _, oid in due:
            o = self._orders[oid]
            self._end_order(o, ST_EXPIRED)
            self._emit(EventType.EXEC_REPORT, ExecType.EXPIRED, self._order_fields(o))
        # Symbols in increasing id, each one's GTC orders in increasing order id (the spec
        # says "for every symbol ..."; the engine goes symbol by symbol).
        for sid in sorted(self._symbols):
            s = self._symbols[sid]
            open_ns = s["open_sec"] * NS_PER_SEC
            last_open = (t - open_ns) // DAY_NS * DAY_NS + open_ns     # latest open <= t
            if last_open <= self.last_timer_ns:
                continue
            for oid in sorted(self._live):
                o = self._orders[oid]
                if o["symbol_id"] != sid or o["tif"] != GTC or oid not in self._live:
                    continue
                if o["status"] not in LIVE_STATUSES:    # issue 9: ROUTED / pending: not live
                    continue
                # issue 9: "The OMS's own cancels" (GTC revalidation)
                if not self._accounts[o["account_id"]]["enabled"]:
                    self._own_cancel(o, R.ACCOUNT_DISABLED)
                elif s["halted"]:
                    self._own_cancel(o, R.SYMBOL_HALTED)
        for sid in sorted(self._symbols):
            if self._instant_passed(self._symbols[sid]["open_sec"], t):
                self._run_auction(sid, AT_OPEN)
        self.last_timer_ns = max(self.last_timer_ns, t)

    # --- auctions -----------------------------------------------------------------------------

    def _run_auction(self, sid: int, tif: int) -> None:
        """"Auctions": a symbol's auction of `tif` (none without waiting orders of that TIF);
        halted: its waiting orders are cancelled with SYMBOL_HALTED; else the uncross, then
        every waiting order of the TIF that is left is cancelled (code 0), in increasing
        order id."""
        def waiting():
            return [self._orders[i] for i in sorted(self._live)
                    if self._orders[i]["symbol_id"] == sid
                    and self._orders[i]["held"] == HELD_AUCTION and self._orders[i]["tif"] == tif]
        orders = waiting()
        if not orders:
            return
        if self._symbols[sid]["halted"]:
            for o in orders:
                self._cancel_order(o, R.SYMBOL_HALTED)
            return
        self._uncross(sid, orders)
        for o in waiting():
            self._cancel_order(o)

    def _uncross(self, sid: int, waiting: list[dict]) -> None:
        """"Uncrossing": a uniform-price call auction of the waiting orders with the whole
        book (whole leaves).  The price maximises the volume min(D, S); ties: the smallest
        |D - S|, then (ref > 0) the nearest to ref, then the lowest.  The eligible buys
        (limit descending, MARKET first, then priority) and sells (limit ascending, MARKET
        first, then priority) are paired off from their heads at that price."""
        s = self._symbols[sid]
        bids, asks = self._book_sides(sid)
        book = [self._orders[i] for side in (bids, asks) for lvl in side.levels.values()
                for _, i in lvl]
        parts = waiting + book
        buys = [o for o in parts if o["side"] == BUY]
        sells = [o for o in parts if o["side"] == SELL]

        def limit(o):           # None: a MARKET order (buy +infinity, sell -infinity)
            return None if o["ord_type"] == MARKET else o["price"]

        def buys_at(p):
            return [o for o in buys if limit(o) is None or limit(o) >= p]

        def sells_at(p):
            return [o for o in sells if limit(o) is None or limit(o) <= p]

        ref = s["ref_price"]
        candidates = {limit(o) for o in parts if limit(o) is not None}
        if ref > 0:
            candidates.add(ref)
        best = None
        for p in sorted(candidates):
            d = sum(o["leaves_qty"] for o in buys_at(p))
            sv = sum(o["leaves_qty"] for o in sells_at(p))
            key = (-min(d, sv), abs(d - sv), abs(p - ref) if ref > 0 else 0, p)
            if best is None or key < best[0]:
                best = (key, p)
        if best is None or best[0][0] == 0:
            return                          # the largest volume is 0: nothing trades
        p = best[1]
        volume = -best[0][0]
        eb = sorted(buys_at(p), key=lambda o: (limit(o) is not None, -(limit(o) or 0),
                                               o["priority"]))
        es = sorted(sells_at(p), key=lambda o: (limit(o) is not None, limit(o) or 0,
                                                o["priority"]))
        t = self._cmd["time_ns"]
        i = j = 0
        while volume > 0:
            b, o = eb[i], es[j]
            q = min(b["leaves_qty"], o["leaves_qty"])
            # exactly as a price-time match: the buy's fill and TRADE first, then the sell's
            self._trade(b, o, q, p, t, s)
            volume -= q
            for x in (b, o):
                if x["held"] == HELD_AUCTION:
                    if x["leaves_qty"] == 0:
                        x["held"] = HELD_NO             # a filled waiting order
                elif x["leaves_qty"] == 0:
                    self._own_side(x).remove(x["price"], x["order_id"])
                elif x["display_qty"] > 0:              # partly filled, stays where it is
                    x["display_leaves"] = min(x["display_qty"], x["leaves_qty"])
            if b["leaves_qty"] == 0:
                i += 1
            if o["leaves_qty"] == 0:
                j += 1

    def _admin(self, c: dict) -> None:
        op = c["admin_op"]
        code = 0
        extra = {}
        if op == AdminOp.SET_SYMBOL:
            tick, lot, mn, mx = c["price"], c["qty"], c["min_qty"], c["display_qty"]
            ref, collar = c["stop_price"], c["expire_time_ns"]
            # issue 3: market_protection_bps from trail_bps.  docs/engine.md's table states no
            # range; the engine (and SymbolConfig) take 0..10000.
            protection = c["trail_bps"]
            # venue rules: matching from flags (0/1), pro_rata_min_alloc from strategy_id
            # (0 taken as 1)
            matching, min_alloc = c["flags"], c["strategy_id"] or 1
            trigger_source = c["exec_inst"]      # "Triggers": 0..2, above 2 invalid
            open_sec, close_sec = c["order_id"], c["orig_cl_ord_id"]   # unsigned
            ok = (c["symbol_id"] < self.max_symbols and tick >= 1 and lot >= 1
                  and 1 <= mn <= mx <= MAX_QTY and 0 <= ref <= MAX_PRICE
                  and 0 <= collar <= 10000 and open_sec < close_sec <= SECONDS_PER_DAY
                  and 0 <= protection <= 10000 and matching in (0, 1)
                  and trigger_source <= 2)
            if ok:
                old = self._symbols.get(c["symbol_id"])
                halted = old["halted"] if old is not None else 0
                self._symbols[c["symbol_id"]] = dict(
                    tick_size=tick, lot_size=lot, min_qty=mn, max_qty=mx, ref_price=ref,
                    collar_bps=collar, open_sec=open_sec, close_sec=close_sec, defined=1,
                    halted=halted, market_protection_bps=protection, matching=matching,
                    pro_rata_min_alloc=min_alloc, trigger_source=trigger_source)
            else:
                code = R.INVALID_ADMIN
        elif op == AdminOp.SET_ACCOUNT:
            limits = dict(credit_limit=c["price"], max_order_qty=c["qty"],
                          max_order_notional=c["stop_price"], max_position=c["display_qty"],
                          gross_limit=c["min_qty"])
            pct, flags = c["expire_time_ns"], c["flags"]
            stp = c["trail_bps"]                # venue rules: stp_mode, above 3 invalid
            ok = (c["account_id"] < self.max_accounts
                  and all(0 <= v <= LIMIT_MAX for v in limits.values())
                  and 0 <= pct <= 100 and flags in (0, 1) and stp <= 3)
            if ok:
                old = self._accounts.get(c["account_id"])
                row = dict(limits, concentration_pct=pct,
                           open_notional=old["open_notional"] if old else 0,
                           position_cost=old["position_cost"] if old else 0,
                           defined=1, enabled=flags, stp_mode=stp)
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

    # -----------------------------------------------------------------------------------------
    # External venues and routing (issue 9)
    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _venue_cl(o: dict, n: int) -> int:
        """The venue ClOrdID of request n of order o."""
        return o["order_id"] << 16 | n

    def _listed(self, sid: int) -> list[int]:
        """The venues listing symbol sid, by increasing id."""
        return sorted(v for (s, v) in self._listings if s == sid)

    def _supports(self, v: dict, c: dict) -> bool:
        """"A venue supports an order when its ord_type_mask has the venue type, its tif_mask
        the order's tif, and features has iceberg when display_qty > 0, post-only when
        POST_ONLY is set, minimum quantity when min_qty > 0"."""
        if not v["ord_type_mask"] & (1 << VENUE_TYPE[c["ord_type"]]):
            return False
        if not v["tif_mask"] & (1 << c["tif"]):
            return False
        if c["display_qty"] > 0 and not v["features"] & int(VenueFeature.ICEBERG):
            return False
        if c["exec_inst"] & POST_ONLY and not v["features"] & int(VenueFeature.POST_ONLY):
            return False
        if c["min_qty"] > 0 and not v["features"] & int(VenueFeature.MIN_QTY):
            return False
        return True

    @staticmethod
    def _fits(li: dict, c: dict) -> bool:
        """"A venue fits an order when the listing's tick (if non-zero) divides price and
        stop_price (each when non-zero) and the listing's lot (if non-zero) divides qty,
        display_qty and min_qty (each when non-zero)"."""
        tick, lot = li["tick_size"], li["lot_size"]
        if tick:
            for x in (c["price"], c["stop_price"]):
                if x != 0 and x % tick != 0:
                    return False
        if lot:
            for x in (c["qty"], c["display_qty"], c["min_qty"]):
                if x != 0 and x % lot != 0:
                    return False
        return True

    def _route(self, c: dict) -> tuple[int, int]:
        """"NEW: the route stage" -> (reject code or 0, venue id).  With no venue configured
        nothing of issue 9 applies: every order goes to INTERNAL."""
        if not self._venues:
            return 0, 0
        d, sid = c["ex_destination"], c["symbol_id"]
        if d >= 2:
            vid = d - 1
            v = self._venues.get(vid) if vid < MAX_VENUES else None
            if v is None:
                return R.UNKNOWN_DESTINATION, 0
            li = self._listings.get((sid, vid))
            if li is None:
                return R.VENUE_NOT_LISTED, 0
            if v["state"] != VENUE_UP:
                return R.VENUE_UNAVAILABLE, 0
            if not self._supports(v, c):
                return R.VENUE_UNSUPPORTED_ORDER, 0
            if not self._fits(li, c):
                return R.VENUE_TICK_OR_LOT, 0
            return 0, vid
        listed = self._listed(sid)
        if d == 1 or not listed:
            return 0, 0
        route = self._routes.get(sid, dict(route_rule=0, primary_venue=0))
        if route["route_rule"] == 0:            # PRIMARY: the primary, then the others by id
            primary = route["primary_venue"]
            cands = ([primary] if primary in listed else []) + [
                v for v in listed if v != primary]
        else:                                   # CHEAPEST: by (taker_fee, id)
            cands = sorted(listed, key=lambda v: (self._venues[v]["taker_fee"], v))
        for vid in cands:
            v = self._venues[vid]
            if (v["state"] == VENUE_UP and self._supports(v, c)
                    and self._fits(self._listings[(sid, vid)], c)):
                return 0, vid
        return R.NO_ROUTE, 0

    def _send_new(self, o: dict) -> None:
        """send_new: a new request number, NEW_SENT, VENUE_REQUEST NEW_ORDER (the venue type,
        the order's price (0 for a MARKET venue type), qty = leaves_qty = its leaves)."""
        o["venue_last_req"] += 1
        o["venue_live_req"] = o["venue_last_req"]
        o["venue_state"] = VS_NEW_SENT
        vt = VENUE_TYPE[o["ord_type"]]
        fields = self._order_fields(o)
        fields.update(ord_type=vt, price=0 if vt == MARKET else o["price"],
                      qty=o["leaves_qty"], leaves_qty=o["leaves_qty"])
        self._emit(EventType.VENUE_REQUEST, VenueRequest.NEW_ORDER, fields,
                   venue_cl_ord_id=self._venue_cl(o, o["venue_last_req"]),
                   venue_orig_cl_ord_id=0)

    def _send_cancel(self, o: dict, cl: int, code: int) -> None:
        """send_cancel(cl, code): a new request number, CANCEL_SENT, pending ClOrdID and code,
        CANCEL_DEFERRED cleared, status PENDING_CANCEL; EXEC_REPORT PENDING_CANCEL (with the
        client's ClOrdID when cl != 0), then VENUE_REQUEST CANCEL."""
        o["venue_last_req"] += 1
        o["venue_state"] = VS_CANCEL_SENT
        o["pending_cl_ord_id"] = cl
        o["pending_code"] = code
        o["venue_flags"] &= ~CANCEL_DEFERRED
        o["status"] = ST_PENDING_CANCEL
        fields = self._order_fields(o)
        if cl != 0:
            fields.update(cl_ord_id=cl, orig_cl_ord_id=o["cl_ord_id"])
        self._emit(EventType.EXEC_REPORT, ExecType.PENDING_CANCEL, fields, code)
        self._emit(EventType.VENUE_REQUEST, VenueRequest.CANCEL, self._order_fields(o),
                   venue_cl_ord_id=self._venue_cl(o, o["venue_last_req"]),
                   venue_orig_cl_ord_id=self._venue_cl(o, o["venue_live_req"]))

    def _own_cancel(self, o: dict, code: int) -> None:
        """"The OMS's own cancels" (mass cancel, kill switch, OCO/OTO actions, GTC
        revalidation): NOT_SENT as before; LIVE: send_cancel(0, code); NEW_SENT or
        REPLACE_SENT: deferred (no event); CANCEL_SENT: nothing."""
        vs = o["venue_state"]
        if vs == VS_NOT_SENT:
            self._cancel_order(o, code)
        elif vs == VS_LIVE:
            self._send_cancel(o, 0, code)
        elif vs in (VS_NEW_SENT, VS_REPLACE_SENT):
            o["venue_flags"] |= CANCEL_DEFERRED
            o["pending_code"] = code

    def _venue_end(self, o: dict, status: int, exec_type: int, code: int,
                   cl_sub: int = 0) -> None:
        """An order at a venue ends (REJECTED / CANCELLED / EXPIRED): leaves 0, reservation
        released, venue_state DONE (and, as every other end of an order, version + 1 and
        updated_ns), terminal; then its report."""
        self._release(o)
        o["leaves_qty"] = 0
        o["version"] += 1
        o["updated_ns"] = self._cmd["time_ns"]
        o["venue_state"] = VS_DONE
        self._become_terminal(o, status)
        fields = self._order_fields(o)
        if cl_sub:
            fields.update(cl_ord_id=cl_sub, orig_cl_ord_id=o["cl_ord_id"])
        self._emit(EventType.EXEC_REPORT, exec_type, fields, code)

    def _venue_ack(self, o: dict) -> None:
        """ACK (and the implicit acknowledgement): LIVE; ROUTED -> ACCEPTED with the NEW report
        (an ACCEPTED order emits nothing); then a deferred cancel is sent."""
        o["venue_state"] = VS_LIVE
        if o["status"] == ST_ROUTED:
            o["status"] = ST_ACCEPTED
            self._emit(EventType.EXEC_REPORT, ExecType.NEW, self._order_fields(o))
        if o["venue_flags"] & CANCEL_DEFERRED:
            self._send_cancel(o, 0, o["pending_code"])

    def _venue_book_fill(self, o: dict, q: int, px: int) -> int:
        """A venue's fill of q at px, booked (no event); returns the reject code of its report
        (VENUE_OVERFILL, VENUE_LATE_FILL or 0).  Live order: as a match's fill (pending status
        and a request in flight stay; FILLED when no leaves), contingent actions queued.
        Terminal order (a late fill): cum, notional, version, updated_ns and position; status,
        leaves and reservation stay; no contingent action.  Both: ref_price = px."""
        t = self._cmd["time_ns"]
        code = 0
        if o["status"] in TERMINAL_STATUSES:
            o["cum_qty"] += q
            o["cum_notional"] += q * px
            o["version"] += 1
            o["updated_ns"] = t
            self._update_position(o, q, px)
            code = R.VENUE_LATE_FILL
        else:
            first = o["cum_qty"] == 0
            self._release(o)
            if q > o["leaves_qty"]:
                code = R.VENUE_OVERFILL
            o["cum_qty"] += q
            o["leaves_qty"] = max(o["leaves_qty"] - q, 0)
            o["cum_notional"] += q * px
            o["version"] += 1
            o["updated_ns"] = t
            if o["leaves_qty"] == 0:
                if o["venue_state"] not in (VS_CANCEL_SENT, VS_REPLACE_SENT):
                    o["venue_state"] = VS_DONE
                self._become_terminal(o, ST_FILLED)
            else:
                if o["status"] not in (ST_PENDING_CANCEL, ST_PENDING_REPLACE):
                    o["status"] = ST_PARTIAL
                self._reserve(o)
            self._update_position(o, q, px)
            self._queue_fill_actions(o, first)
        self._symbols[o["symbol_id"]]["ref_price"] = px
        return code

    def _venue_book_bust(self, o: dict, q: int, px: int) -> None:
        """BUST of q at px, booked (no event): cum and notional back, the opposite trade in the
        position, version + 1; a non-terminal order gets its leaves back (PARTIALLY_FILLED ->
        ACCEPTED when no fill is left), a terminal one keeps status and leaves."""
        o["cum_qty"] -= q
        o["cum_notional"] -= q * px
        self._book_position(o["account_id"], o["symbol_id"], 3 - o["side"], q, px)
        o["version"] += 1
        if o["status"] not in TERMINAL_STATUSES:
            self._release(o)
            o["leaves_qty"] += q
            self._reserve(o)
            if o["cum_qty"] == 0 and o["status"] == ST_PARTIAL:
                o["status"] = ST_ACCEPTED

    def _take_trade_id(self) -> int:
        tid = self.next_trade_id
        self.next_trade_id += 1
        return tid

    def _venue_exec(self, c: dict) -> None:
        """"VENUE_EXEC: what a venue said"."""
        op = c["admin_op"]
        vid = c["venue_id"]

        def report(code: int, **extra) -> None:
            # "Every ADMIN_REPORT of a VENUE_EXEC has command fields and exec_type =
            # admin_op & 0xFF"
            self._emit(EventType.ADMIN_REPORT, op, self._cmd_fields(), code, **extra)

        # 1. the venue
        v = self._venues.get(vid) if 1 <= vid < MAX_VENUES else None
        if v is None:
            return report(R.UNKNOWN_DESTINATION)
        # 2. SESSION: sets the state and the sequence base (not checked against it)
        if op == VenueExec.SESSION:
            if c["flags"] > 2:
                return report(R.INVALID_ADMIN)
            v["state"] = c["flags"]
            v["last_seq"] = c["venue_seq"]
            count = 0
            if v["state"] == VENUE_DOWN and v["cancel_on_disconnect"]:
                for oid in sorted(self._live):
                    o = self._orders[oid]
                    if (o["venue_id"] != vid or not VS_NEW_SENT <= o["venue_state"] <= VS_REPLACE_SENT
                            or o["status"] in TERMINAL_STATUSES):
                        continue
                    if o["status"] == ST_ROUTED:
                        self._venue_end(o, ST_REJECTED, ExecType.REJECTED, R.VENUE_DISCONNECTED)
                    else:
                        self._venue_end(o, ST_CANCELLED, ExecType.CANCELED, R.VENUE_DISCONNECTED)
                    count += 1
            return report(0, trade_id=count)
        # 3. a resent message already applied
        seq = c["venue_seq"]
        if seq != 0 and seq <= v["last_seq"]:
            return report(R.VENUE_DUPLICATE_MESSAGE)
        if seq != 0:
            v["last_seq"] = seq
        # (an admin_op that is no VenueExec: docs/engine.md does not say; taken as INVALID_ADMIN)
        if not 1 <= op <= 11:
            return report(R.INVALID_ADMIN)
        # 4. the order and the request the message answers
        cl = c["cl_ord_id"]
        o = self._orders.get(cl >> 16)
        n = cl & 0xFFFF
        if o is None or o["venue_id"] != vid or n == 0 or n > o["venue_last_req"]:
            return report(R.UNKNOWN_ORDER)
        # 5. the implicit acknowledgement
        if (op not in (VenueExec.ACK, VenueExec.REJECT, VenueExec.TIMEOUT)
                and o["venue_state"] == VS_NEW_SENT and n == o["venue_live_req"]):
            self._venue_ack(o)

        vs = o["venue_state"]
        terminal = o["status"] in TERMINAL_STATUSES
        last = n == o["venue_last_req"]
        qty, price = c["qty"], c["price"]

        def bad_trade(q: int, px: int) -> int:
            if not 1 <= q <= MAX_QTY:
                return R.INVALID_QTY
            if not 1 <= px <= MAX_PRICE:
                return R.INVALID_PRICE
            return 0

        if op == VenueExec.ACK:
            if vs != VS_NEW_SENT or n != o["venue_live_req"]:
                return report(R.VENUE_UNEXPECTED_REPORT)
            self._venue_ack(o)
        elif op == VenueExec.REJECT:
            if vs != VS_NEW_SENT or n != o["venue_live_req"]:
                return report(R.VENUE_UNEXPECTED_REPORT)
            code = c["reason"] or R.VENUE_REJECTED
            if o["status"] == ST_ROUTED:
                self._venue_end(o, ST_REJECTED, ExecType.REJECTED, code)
            else:
                self._venue_end(o, ST_CANCELLED, ExecType.CANCELED, code)
        elif op == VenueExec.FILL:
            code = bad_trade(qty, price)
            if code:
                return report(code)
            code = self._venue_book_fill(o, qty, price)
            self._emit(EventType.EXEC_REPORT, ExecType.TRADE, self._order_fields(o), code,
                       last_px=price, last_qty=qty, trade_id=self._take_trade_id())
        elif op == VenueExec.CANCELED:
            if terminal:
                return report(R.VENUE_UNEXPECTED_REPORT)
            if vs == VS_CANCEL_SENT and last:       # the confirmation of our cancel
                self._venue_end(o, ST_CANCELLED, ExecType.CANCELED, o["pending_code"],
                                o["pending_cl_ord_id"])
            else:                                   # the venue cancelled on its own
                self._venue_end(o, ST_CANCELLED, ExecType.CANCELED, c["reason"])
        elif op == VenueExec.REPLACED:
            # (a terminal order: docs/engine.md does not say; taken as not fitting)
            if vs != VS_REPLACE_SENT or not last or terminal:
                return report(R.VENUE_UNEXPECTED_REPORT)
            if not 1 <= qty <= MAX_QTY:
                return report(R.INVALID_QTY)
            if not 1 <= price <= MAX_PRICE:
                return report(R.INVALID_PRICE)
            self._release(o)
            key = (o["session_id"], o["cl_ord_id"])
            if self._cl_index.get(key) == o["order_id"]:
                del self._cl_index[key]
            o["orig_cl_ord_id"] = o["cl_ord_id"]
            o["cl_ord_id"] = o["pending_cl_ord_id"]
            self._cl_index[(o["session_id"], o["cl_ord_id"])] = o["order_id"]
            o["price"] = price
            o["qty"] = qty
            o["leaves_qty"] = max(qty - o["cum_qty"], 0)
            if o["ord_type"] in PRICED:             # risk_px as REPLACE sets it
                o["risk_px"] = price
            o["version"] += 1
            o["updated_ns"] = self._cmd["time_ns"]
            o["venue_live_req"] = n
            if o["leaves_qty"] == 0:
                o["venue_state"] = VS_DONE
                self._become_terminal(o, ST_FILLED)
            else:
                o["status"] = ST_ACCEPTED if o["cum_qty"] == 0 else ST_PARTIAL
                o["venue_state"] = VS_LIVE
                self._reserve(o)
            self._emit(EventType.EXEC_REPORT, ExecType.REPLACED, self._order_fields(o))
            o["pending_cl_ord_id"] = 0
            if o["venue_flags"] & CANCEL_DEFERRED and o["venue_state"] == VS_LIVE:
                self._send_cancel(o, 0, o["pending_code"])
        elif op == VenueExec.CANCEL_REJECT:
            if vs not in (VS_CANCEL_SENT, VS_REPLACE_SENT) or not last:
                return report(R.VENUE_UNEXPECTED_REPORT)
            was_replace = vs == VS_REPLACE_SENT
            if terminal:                            # a FILLED order stays FILLED
                o["venue_state"] = VS_DONE
            else:
                o["status"] = ST_ACCEPTED if o["cum_qty"] == 0 else ST_PARTIAL
                o["venue_state"] = VS_LIVE
            fields = self._order_fields(o)
            fields.update(cl_ord_id=o["pending_cl_ord_id"] or o["cl_ord_id"],
                          orig_cl_ord_id=o["cl_ord_id"])
            rt = CxlRejResponseTo.REPLACE if was_replace else CxlRejResponseTo.CANCEL
            self._emit(EventType.CANCEL_REJECT, 0, fields, c["reason"] or R.VENUE_REJECTED,
                       response_to=int(rt))
            o["pending_cl_ord_id"] = 0
            if (o["venue_flags"] & CANCEL_DEFERRED and was_replace
                    and o["venue_state"] == VS_LIVE):
                self._send_cancel(o, 0, o["pending_code"])
        elif op == VenueExec.EXPIRED:
            if terminal:
                return report(R.VENUE_UNEXPECTED_REPORT)
            self._venue_end(o, ST_EXPIRED, ExecType.EXPIRED, c["reason"])
        elif op == VenueExec.BUST:
            code = bad_trade(qty, price) or (R.INVALID_QTY if qty > o["cum_qty"] else 0)
            if code:
                return report(code)
            self._venue_book_bust(o, qty, price)
            self._emit(EventType.EXEC_REPORT, ExecType.TRADE_CANCEL, self._order_fields(o),
                       last_px=price, last_qty=qty, trade_id=self._take_trade_id())
        elif op == VenueExec.CORRECT:
            old_q, old_px = c["display_qty"], c["stop_price"]
            code = (bad_trade(old_q, old_px) or (R.INVALID_QTY if old_q > o["cum_qty"] else 0)
                    or bad_trade(qty, price))
            if code:
                return report(code)
            self._venue_book_bust(o, old_q, old_px)
            self._venue_book_fill(o, qty, price)    # a late fill on a terminal order
            self._emit(EventType.EXEC_REPORT, ExecType.TRADE_CORRECT, self._order_fields(o),
                       last_px=price, last_qty=qty, trade_id=self._take_trade_id())
        else:   # TIMEOUT
            if vs not in (VS_NEW_SENT, VS_CANCEL_SENT, VS_REPLACE_SENT) or not last:
                return report(R.VENUE_UNEXPECTED_REPORT)
            self._emit(EventType.EXEC_REPORT, ExecType.ORDER_STATUS, self._order_fields(o),
                       R.VENUE_NO_RESPONSE)
