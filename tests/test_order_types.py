"""Every order type and time in force through its whole lifecycle, and the seed's priority
rules for each kind of modification, against docs/engine.md ("Order types, time in force and
modification (issue 3)"); then the venue rules (self-trade prevention, pro-rata: "Venue
rules: self-trade prevention and pro-rata (issue 3)").

Each test runs twice: on the reference model (tests/model.py) and on the compiled core through
`oms.Core.process` (skipped while `oms._engine` cannot be imported).  Both sides see the same
command dicts and are read back the same way, so each scenario states the expected behaviour
once.
"""

from __future__ import annotations

import numpy as np
import pytest

from model import EVENT_NAMES, ORDER_NAMES, ReferenceModel
from oms.codes import RejectCode as R
from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.layout import (
    COMMAND_DTYPE,
    AdminOp,
    CommandType as K,
    ExecInst,
    ExecType as X,
    OrdStatus as S,
    OrdType as T,
    Side,
    TimeInForce as TIF,
)

BUY, SELL = int(Side.BUY), int(Side.SELL)
NS = 10**9
DAY_NS = 86_400 * NS
DAY0 = 20_000 * DAY_NS                       # midnight UTC
T0 = DAY0 + 12 * 3600 * NS                   # 12:00 UTC
PX = 1_000_000                               # 100.00
TICK = 100
OPEN, CLOSE = 9 * 3600 + 1800, 16 * 3600     # symbol 1: 09:30-16:00 UTC


def config(**over) -> EngineConfig:
    symbols = [
        SymbolConfig(0, "AAA", tick_size=TICK, ref_price=PX),
        SymbolConfig(1, "HRS", tick_size=TICK, ref_price=PX, open_sec=OPEN, close_sec=CLOSE),
        SymbolConfig(2, "PROT", tick_size=TICK, ref_price=PX, market_protection_bps=100),
    ]
    accounts = [AccountConfig(i, f"A{i}") for i in range(4)]
    params = dict(max_orders=256, max_symbols=4, max_accounts=4, idem_capacity=256,
                  max_levels=32, symbols=symbols, accounts=accounts)
    params.update(over)
    return EngineConfig(**params)


# ---------------------------------------------------------------------------------------------
# Two backends behind one interface
# ---------------------------------------------------------------------------------------------


class ModelVenue:
    def __init__(self, cfg):
        self.m = ReferenceModel(cfg)

    def process(self, c: dict) -> list[dict]:
        return self.m.process(c)

    def orders(self) -> dict[int, dict]:
        return self.m.orders()

    def book(self, sid: int):
        return self.m.book(sid)

    def account(self, aid: int) -> dict:
        return self.m.accounts()[aid]

    def symbol(self, sid: int) -> dict:
        return self.m.symbols()[sid]


class EngineVenue:
    def __init__(self, cfg, core_cls):
        self.core = core_cls(cfg)

    def process(self, c: dict) -> list[dict]:
        rec = np.zeros(1, dtype=COMMAND_DTYPE)
        for name, value in c.items():
            rec[0][name] = value
        out = self.core.process(rec)
        return [{n: int(e[n]) for n in EVENT_NAMES} for e in out]

    def orders(self) -> dict[int, dict]:
        return {int(o["order_id"]): {n: int(o[n]) for n in ORDER_NAMES}
                for o in self.core.orders()}

    def book(self, sid: int):
        return tuple([(int(p), int(q), [int(i) for i in ids]) for p, q, ids in side]
                     for side in self.core.book(sid))

    def account(self, aid: int) -> dict:
        row = self.core.accounts()[aid]
        return {n: int(row[n]) for n in row.dtype.names if not n.startswith("_")}

    def symbol(self, sid: int) -> dict:
        row = self.core.symbols()[sid]
        return {n: int(row[n]) for n in row.dtype.names if not n.startswith("_")}


@pytest.fixture
def engine_core():
    """The compiled core's Core class; the engine half of every test skips without it."""
    try:
        import oms._engine as engine
    except ImportError as exc:
        pytest.skip(f"compiled engine not importable: {exc}")
    return engine.Core


@pytest.fixture(params=["model", "engine"])
def backend_factory(request):
    """config -> a backend: the reference model, or the compiled core (other scenario
    modules import this fixture and wrap the backend in their own command builders)."""
    if request.param == "model":
        return ModelVenue
    core_cls = request.getfixturevalue("engine_core")
    return lambda cfg: EngineVenue(cfg, core_cls)


@pytest.fixture
def venue_factory(backend_factory):
    return lambda cfg=None: Venue(backend_factory(cfg or config()))


@pytest.fixture
def venue(venue_factory):
    return venue_factory()


class Venue:
    """Command builders over a backend; `t` is the time of the next command."""

    def __init__(self, backend):
        self.b = backend
        self.t = T0
        self.cl = 0

    def _run(self, c: dict) -> list[dict]:
        c.setdefault("time_ns", self.t)
        return self.b.process(c)

    def new(self, side=BUY, qty=10, price=PX, ord_type=T.LIMIT, tif=TIF.DAY, account=0,
            symbol=0, **kw) -> list[dict]:
        self.cl += 1
        return self._run(dict(kind=K.NEW, session_id=1, cl_ord_id=self.cl, side=side, qty=qty,
                              price=price, ord_type=ord_type, tif=tif, account_id=account,
                              symbol_id=symbol, **kw))

    def rest(self, *args, **kw) -> int:
        """A NEW that must be accepted and rest untouched; returns its order id."""
        evs = self.new(*args, **kw)
        assert [(e["exec_type"], e["status"]) for e in evs] == [(X.NEW, S.ACCEPTED)], evs
        return evs[0]["order_id"]

    def replace(self, order_id, price, qty, **kw) -> list[dict]:
        self.cl += 1
        return self._run(dict(kind=K.REPLACE, session_id=1, order_id=order_id,
                              cl_ord_id=self.cl, price=price, qty=qty, **kw))

    def cancel(self, order_id) -> list[dict]:
        return self._run(dict(kind=K.CANCEL, session_id=1, order_id=order_id))

    def market_data(self, price, symbol=0) -> list[dict]:
        return self._run(dict(kind=K.MARKET_DATA, symbol_id=symbol, price=price))

    def timer(self, t) -> list[dict]:
        self.t = t
        return self._run(dict(kind=K.TIMER))

    def admin(self, op, **kw) -> list[dict]:
        return self._run(dict(kind=K.ADMIN, admin_op=int(op), **kw))

    def order(self, oid) -> dict:
        return self.b.orders()[oid]

    def book(self, sid=0):
        return self.b.book(sid)


def steps(evs) -> list[tuple]:
    """(exec_type, order_id) of each event, plus last_qty / last_px for trades."""
    out = []
    for e in evs:
        if e["exec_type"] == X.TRADE:
            out.append((X.TRADE, e["order_id"], e["last_qty"], e["last_px"]))
        else:
            out.append((e["exec_type"], e["order_id"]))
    return out


def trade(oid, q, px):
    return (X.TRADE, oid, q, px)


# =============================================================================================
# Order types
# =============================================================================================


def test_market_order_sweeps_then_cancels_the_rest(venue):
    a = venue.rest(SELL, 3, PX, account=1)
    b = venue.rest(SELL, 4, PX + TICK, account=1)
    evs = venue.new(BUY, 10, 0, T.MARKET, TIF.IOC)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 3, PX), trade(a, 3, PX),
                          trade(m, 4, PX + TICK), trade(b, 4, PX + TICK), (X.CANCELED, m)]
    o = venue.order(m)
    assert (o["status"], o["cum_qty"], o["leaves_qty"]) == (S.CANCELLED, 7, 0)
    assert o["risk_px"] == PX                      # valued at the reference when accepted
    assert venue.book() == ([], [])
    assert venue.b.account(0)["open_notional"] == 0


def test_market_order_reserves_at_the_reference_price(venue):
    # a market order holds leaves * ref while it works; here it fills at once against a
    # resting sell, so the reservation shows on the NEW report's risk, not in the end state
    venue.rest(SELL, 5, PX + 5 * TICK, account=1)
    m = venue.new(BUY, 5, 0, T.MARKET)[0]["order_id"]
    o = venue.order(m)
    assert (o["risk_px"], o["status"], o["reserved_notional"]) == (PX, S.FILLED, 0)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_market_protection_stops_at_ref_plus_or_minus_bps(venue, side):
    # symbol 2: 100 bps around the reference (100.00): a buy trades up to 101.00, a sell
    # down to 99.00; the rest is cancelled, not swept through an empty book
    sign = 1 if side == BUY else -1
    other = SELL if side == BUY else BUY
    near = venue.rest(other, 3, PX + sign * 1_000, symbol=2, account=1)     # 100.10 / 99.90
    edge = venue.rest(other, 2, PX + sign * 10_000, symbol=2, account=1)    # exactly 1%
    venue.rest(other, 5, PX + sign * 10_100, symbol=2, account=1)           # beyond
    evs = venue.new(side, 10, 0, T.MARKET, symbol=2)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 3, PX + sign * 1_000),
                          trade(near, 3, PX + sign * 1_000), trade(m, 2, PX + sign * 10_000),
                          trade(edge, 2, PX + sign * 10_000), (X.CANCELED, m)]
    assert venue.order(m)["cum_qty"] == 5


def test_market_protection_is_set_by_set_symbol(venue):
    ev = venue.admin(AdminOp.SET_SYMBOL, symbol_id=0, price=TICK, qty=1, min_qty=1,
                     display_qty=1_000_000, stop_price=PX, orig_cl_ord_id=86_400,
                     trail_bps=50)[0]
    assert ev["reject_code"] == 0
    venue.rest(SELL, 5, PX + 6_000, account=1)                 # 0.6%: beyond 0.5%
    evs = venue.new(BUY, 5, 0, T.MARKET)
    assert [e["exec_type"] for e in evs] == [X.NEW, X.CANCELED]


def test_limit_order_rests_fills_partially_then_completely(venue):
    lim = venue.rest(BUY, 10, PX)
    o = venue.order(lim)
    assert (o["priority"], o["risk_px"], o["reserved_notional"]) == (1, PX, 10 * PX)
    assert o["expire_time_ns"] == DAY0 + DAY_NS                # DAY: the symbol's close
    evs = venue.new(SELL, 4, PX, account=1)
    assert steps(evs)[1:] == [trade(evs[0]["order_id"], 4, PX), trade(lim, 4, PX)]
    assert evs[-1]["status"] == S.PARTIALLY_FILLED and evs[-1]["leaves_qty"] == 6
    assert venue.order(lim)["reserved_notional"] == 6 * PX
    evs = venue.new(SELL, 6, PX - TICK, account=1)             # trades at the resting price
    assert evs[-1]["status"] == S.FILLED and evs[-1]["last_px"] == PX
    assert venue.book() == ([], [])


@pytest.mark.parametrize("side", [BUY, SELL])
def test_stop_is_held_then_triggered_by_market_data_and_works_as_market(venue, side):
    sign = 1 if side == BUY else -1
    other = SELL if side == BUY else BUY
    liq = venue.rest(other, 4, PX + sign * 3 * TICK, account=1)
    evs = venue.new(side, 6, 0, T.STOP, stop_price=PX + sign * 2 * TICK)
    stop = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, stop)]
    o = venue.order(stop)
    assert (o["held"], o["trigger_px"], o["risk_px"]) == (1, PX + sign * 2 * TICK, PX)
    assert venue.book() == (([], [(PX + 3 * TICK, 4, [liq])]) if side == BUY
                            else ([(PX - 3 * TICK, 4, [liq])], []))      # not at the venue
    assert venue.market_data(PX + sign * TICK) == []                      # not yet
    evs = venue.market_data(PX + sign * 2 * TICK)                         # touches the stop
    assert steps(evs) == [(X.TRIGGERED, stop), trade(stop, 4, PX + sign * 3 * TICK),
                          trade(liq, 4, PX + sign * 3 * TICK), (X.CANCELED, stop)]
    assert evs[0]["status"] == S.ACCEPTED and evs[0]["version"] == 2
    o = venue.order(stop)
    assert (o["held"], o["status"], o["cum_qty"]) == (0, S.CANCELLED, 4)


def test_stop_triggered_by_a_trade_and_cascading(venue):
    # two sell stops (99.90 and 99.85); a trade at 99.90 triggers the first, whose market
    # sell trades at 99.80, which the scan (restarted from the lowest id) then sees for the
    # second one
    b1 = venue.rest(BUY, 1, PX - 10 * TICK, account=1)             # 99.90
    b2 = venue.rest(BUY, 5, PX - 20 * TICK, account=1)             # 99.80
    s1 = venue.new(SELL, 2, 0, T.STOP, stop_price=PX - 10 * TICK)[0]["order_id"]
    s2 = venue.new(SELL, 2, 0, T.STOP, stop_price=PX - 15 * TICK)[0]["order_id"]
    evs = venue.new(SELL, 1, PX - 10 * TICK, account=2)
    agg = evs[0]["order_id"]
    assert steps(evs) == [
        (X.NEW, agg), trade(agg, 1, PX - 10 * TICK), trade(b1, 1, PX - 10 * TICK),
        (X.TRIGGERED, s1), trade(s1, 2, PX - 20 * TICK), trade(b2, 2, PX - 20 * TICK),
        (X.TRIGGERED, s2), trade(s2, 2, PX - 20 * TICK), trade(b2, 2, PX - 20 * TICK)]
    assert venue.order(s1)["status"] == S.FILLED and venue.order(s2)["status"] == S.FILLED


def test_stop_limit_triggered_by_a_trade(venue):
    early = venue.rest(SELL, 2, PX + 2 * TICK, account=1)
    sl = venue.new(BUY, 5, PX + 2 * TICK, T.STOP_LIMIT, stop_price=PX + TICK)[0]["order_id"]
    other = venue.rest(BUY, 3, PX + TICK, account=2)
    # a sell trades 1 against `other` at PX + TICK: the reference touches the stop, which
    # then buys the 2 offered at PX + 2 ticks and rests its remaining 3 at its limit
    evs = venue.new(SELL, 1, PX + TICK, account=3)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 1, PX + TICK), trade(other, 1, PX + TICK),
                          (X.TRIGGERED, sl), trade(sl, 2, PX + 2 * TICK),
                          trade(early, 2, PX + 2 * TICK)]
    o = venue.order(sl)
    assert (o["held"], o["status"], o["cum_qty"], o["leaves_qty"]) == (
        0, S.PARTIALLY_FILLED, 2, 3)
    assert venue.book() == ([(PX + 2 * TICK, 3, [sl]), (PX + TICK, 2, [other])], [])


def test_stop_limit_lifecycle(venue):
    bid = venue.rest(BUY, 3, PX - 3 * TICK, account=1)
    evs = venue.new(SELL, 5, PX - 3 * TICK, T.STOP_LIMIT, stop_price=PX - 2 * TICK)
    sl = evs[0]["order_id"]
    assert venue.order(sl)["held"] == 1 and venue.order(sl)["risk_px"] == PX - 3 * TICK
    evs = venue.market_data(PX - 2 * TICK)
    assert steps(evs) == [(X.TRIGGERED, sl), trade(sl, 3, PX - 3 * TICK),
                          trade(bid, 3, PX - 3 * TICK)]
    o = venue.order(sl)
    assert (o["status"], o["leaves_qty"], o["held"]) == (S.PARTIALLY_FILLED, 2, 0)
    assert venue.book() == ([], [(PX - 3 * TICK, 2, [sl])])     # the rest rests at its limit
    evs = venue.new(BUY, 2, PX, account=1)
    assert evs[-1]["order_id"] == sl and evs[-1]["status"] == S.FILLED


@pytest.mark.parametrize("side", [BUY, SELL])
def test_market_if_touched(venue, side):
    # MIT: a buy triggers when the reference falls to its trigger, a sell when it rises
    sign = -1 if side == BUY else 1
    other = SELL if side == BUY else BUY
    liq = venue.rest(other, 10, PX + sign * 3 * TICK, account=1)
    mit = venue.new(side, 4, 0, T.MARKET_IF_TOUCHED,
                    stop_price=PX + sign * 2 * TICK)[0]["order_id"]
    assert venue.market_data(PX - sign * TICK) == []                    # moving away
    assert venue.market_data(PX + sign * TICK) == []
    evs = venue.market_data(PX + sign * 2 * TICK)
    assert steps(evs) == [(X.TRIGGERED, mit), trade(mit, 4, PX + sign * 3 * TICK),
                          trade(liq, 4, PX + sign * 3 * TICK)]
    assert venue.order(mit)["status"] == S.FILLED


def test_limit_if_touched_triggers_and_rests(venue):
    lit = venue.new(SELL, 4, PX + 3 * TICK, T.LIMIT_IF_TOUCHED,
                    stop_price=PX + 2 * TICK)[0]["order_id"]
    assert venue.market_data(PX + TICK) == []
    evs = venue.market_data(PX + 2 * TICK)
    assert steps(evs) == [(X.TRIGGERED, lit)]
    assert venue.book() == ([], [(PX + 3 * TICK, 4, [lit])])
    o = venue.order(lit)
    assert (o["held"], o["status"], o["reserved_notional"]) == (0, S.ACCEPTED, 4 * (PX + 3 * TICK))
    evs = venue.new(BUY, 4, PX + 3 * TICK, account=1)
    assert evs[-1]["order_id"] == lit and evs[-1]["status"] == S.FILLED


def test_trailing_stop_by_amount_ratchets_then_triggers(venue):
    bid = venue.rest(BUY, 10, PX - 20 * TICK, account=1)
    ts = venue.new(SELL, 3, 0, T.TRAILING_STOP, trail_amount=5 * TICK)[0]["order_id"]
    assert venue.order(ts)["trigger_px"] == PX - 5 * TICK       # from the reference
    venue.market_data(PX + 10 * TICK)
    assert venue.order(ts)["trigger_px"] == PX + 5 * TICK       # follows the rise
    venue.market_data(PX + 7 * TICK)
    assert venue.order(ts)["trigger_px"] == PX + 5 * TICK       # never moves back
    assert venue.order(ts)["held"] == 1
    evs = venue.market_data(PX + 5 * TICK)
    assert steps(evs) == [(X.TRIGGERED, ts), trade(ts, 3, PX - 20 * TICK),
                          trade(bid, 3, PX - 20 * TICK)]


def test_trailing_stop_by_bps(venue):
    ask = venue.rest(SELL, 10, PX + 50 * TICK, account=1)
    ts = venue.new(BUY, 2, 0, T.TRAILING_STOP, trail_bps=100)[0]["order_id"]
    assert venue.order(ts)["trigger_px"] == PX + PX // 100
    assert venue.market_data(PX - 10_000) == []                  # 99.00: offset 0.99
    assert venue.order(ts)["trigger_px"] == 990_000 + 9_900
    assert venue.market_data(995_000) == []                      # up again: stays
    assert venue.order(ts)["trigger_px"] == 999_900
    evs = venue.market_data(999_900)                             # reaches it
    assert steps(evs) == [(X.TRIGGERED, ts), trade(ts, 2, PX + 50 * TICK),
                          trade(ask, 2, PX + 50 * TICK)]


def test_iceberg_shows_its_display_and_refreshes_to_the_back(venue):
    ice = venue.rest(SELL, 10, PX, account=1, display_qty=3)
    other = venue.rest(SELL, 4, PX, account=2)
    o = venue.order(ice)
    assert (o["display_leaves"], o["priority"]) == (3, 1)
    # a buy of 5: the iceberg's displayed 3 first, then (refreshed, now behind) the other 2
    evs = venue.new(BUY, 5, PX)
    b = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, b), trade(b, 3, PX), trade(ice, 3, PX),
                          trade(b, 2, PX), trade(other, 2, PX)]      # no event for a refresh
    o = venue.order(ice)
    assert (o["display_leaves"], o["leaves_qty"], o["priority"]) == (3, 7, 4)
    assert venue.book() == ([], [(PX, 9, [other, ice])])
    # the other order's 2 then the iceberg's slices of 3, 3, 1
    evs = venue.new(BUY, 9, PX)
    fills = [(e["order_id"], e["last_qty"]) for e in evs[2::2]]
    assert fills == [(other, 2), (ice, 3), (ice, 3), (ice, 1)]
    assert venue.order(ice)["status"] == S.FILLED
    assert venue.book() == ([], [])


def test_iceberg_alone_refreshes_within_one_aggressor(venue):
    ice = venue.rest(BUY, 7, PX, account=1, display_qty=2)
    evs = venue.new(SELL, 5, PX - TICK)
    assert [(e["order_id"], e["last_qty"]) for e in evs[2::2]] == [(ice, 2), (ice, 2), (ice, 1)]
    o = venue.order(ice)
    assert (o["leaves_qty"], o["display_leaves"]) == (2, 1)


def test_min_qty_not_available_means_no_trade_at_all(venue):
    ask = venue.rest(SELL, 3, PX, account=1)
    # min 5 but only 3 available up to its limit: it does not trade, it rests (and the book
    # is left crossed: a resting order is only matched by a later aggressor)
    mq = venue.new(BUY, 10, PX, min_qty=5)
    m = mq[0]["order_id"]
    assert steps(mq) == [(X.NEW, m)]
    assert venue.book() == ([(PX, 10, [m])], [(PX, 3, [ask])])
    # as IOC it is cancelled untouched
    ioc = venue.new(BUY, 10, PX + TICK, tif=TIF.IOC, min_qty=5, account=2)
    assert [(e["exec_type"], e["cum_qty"]) for e in ioc] == [(X.NEW, 0), (X.CANCELED, 0)]
    # resting, its min_qty no longer matters: a sell of 1 trades with it
    evs = venue.new(SELL, 1, PX, account=3)
    assert evs[-1]["order_id"] == m and evs[-1]["last_qty"] == 1


def test_min_qty_above_leaves_needs_only_the_leaves(venue):
    venue.rest(SELL, 3, PX, account=1)
    venue.rest(SELL, 3, PX + TICK, account=1)
    evs = venue.new(BUY, 4, PX + TICK, min_qty=4, tif=TIF.IOC)    # min(4, 4) <= 6
    assert evs[-2]["status"] == S.FILLED and [e["last_qty"] for e in evs[1::2]] == [3, 1]


def test_min_qty_met_trades_everything_it_can(venue):
    a = venue.rest(SELL, 3, PX, account=1)
    b = venue.rest(SELL, 3, PX + TICK, account=1)
    evs = venue.new(BUY, 10, PX + TICK, min_qty=6)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 3, PX), trade(a, 3, PX), trade(m, 3, PX + TICK),
                          trade(b, 3, PX + TICK)]
    assert venue.order(m)["leaves_qty"] == 4 and venue.book()[0] == [(PX + TICK, 4, [m])]


def test_post_only_rests(venue):
    venue.rest(SELL, 3, PX + TICK, account=1)
    po = venue.rest(BUY, 5, PX, exec_inst=ExecInst.POST_ONLY)
    assert venue.order(po)["exec_inst"] == ExecInst.POST_ONLY
    ev = venue.new(BUY, 5, PX + TICK, exec_inst=ExecInst.POST_ONLY)[0]
    assert ev["reject_code"] == R.POST_ONLY_WOULD_TRADE


# =============================================================================================
# Time in force
# =============================================================================================


def test_day_order_expires_at_the_close(venue):
    # symbol 1 closes at 16:00 UTC: expire_time_ns is that instant of the order's day
    d = venue.rest(BUY, 10, PX, symbol=1)
    assert venue.order(d)["expire_time_ns"] == DAY0 + CLOSE * NS
    venue.new(SELL, 4, PX, symbol=1, account=1)                   # partially filled first
    assert venue.timer(DAY0 + CLOSE * NS - 1) == []
    evs = venue.timer(DAY0 + CLOSE * NS)
    assert steps(evs) == [(X.EXPIRED, d)]
    assert (evs[0]["status"], evs[0]["cum_qty"], evs[0]["leaves_qty"]) == (S.EXPIRED, 4, 0)
    assert venue.book(1) == ([], [])
    assert venue.b.account(0)["open_notional"] == 0
    assert venue.timer(DAY0 + CLOSE * NS + 1) == []


def test_held_day_stop_expires(venue):
    s = venue.new(BUY, 10, 0, T.STOP, stop_price=PX + 10 * TICK)[0]["order_id"]
    evs = venue.timer(DAY0 + DAY_NS)                              # midnight: 24h symbol
    assert steps(evs) == [(X.EXPIRED, s)]
    o = venue.order(s)
    assert (o["status"], o["reserved_notional"]) == (S.EXPIRED, 0)
    assert venue.market_data(PX + 20 * TICK) == []               # gone from the held set


def test_gtd_expires_at_its_time_in_expiry_order(venue):
    g1 = venue.rest(BUY, 1, PX - TICK, tif=TIF.GTD, expire_time_ns=T0 + 60 * NS)
    g2 = venue.rest(BUY, 1, PX - TICK, tif=TIF.GTD, expire_time_ns=T0 + 30 * NS)
    g3 = venue.rest(BUY, 1, PX - TICK, tif=TIF.GTD, expire_time_ns=T0 + 30 * NS)
    gtc = venue.rest(BUY, 1, PX - TICK, tif=TIF.GTC)
    assert venue.timer(T0 + 29 * NS) == []
    assert steps(venue.timer(T0 + 90 * NS)) == [(X.EXPIRED, g2), (X.EXPIRED, g3),
                                                (X.EXPIRED, g1)]
    assert venue.book()[0] == [(PX - TICK, 1, [gtc])]


def test_gtc_survives_the_close_and_is_revalidated_at_the_open(venue):
    gtc = venue.rest(BUY, 5, PX, symbol=1, tif=TIF.GTC)
    keep = venue.rest(BUY, 5, PX, symbol=1, tif=TIF.GTC, account=1)
    day = venue.rest(BUY, 5, PX, symbol=1, account=0)
    assert venue.order(gtc)["expire_time_ns"] == 0
    assert steps(venue.timer(DAY0 + CLOSE * NS)) == [(X.EXPIRED, day)]
    # account 0 disabled overnight: cancelled at the next session open, the other stays
    venue.admin(AdminOp.SET_ACCOUNT, account_id=0, price=4 * 10**16, qty=10**8,
                stop_price=4 * 10**16, display_qty=4 * 10**16, min_qty=4 * 10**16,
                expire_time_ns=100, flags=0)
    assert venue.timer(DAY0 + DAY_NS + OPEN * NS - 1) == []
    evs = venue.timer(DAY0 + DAY_NS + OPEN * NS)
    assert steps(evs) == [(X.CANCELED, gtc)] and evs[0]["reject_code"] == R.ACCOUNT_DISABLED
    # halted: cancelled at the open after that; a later TIMER in the same session does not
    venue.admin(AdminOp.HALT_SYMBOL, symbol_id=1)
    assert venue.timer(DAY0 + DAY_NS + OPEN * NS + 1) == []
    evs = venue.timer(DAY0 + 2 * DAY_NS + OPEN * NS + 5 * NS)
    assert steps(evs) == [(X.CANCELED, keep)] and evs[0]["reject_code"] == R.SYMBOL_HALTED


def test_ioc_fills_what_it_can_and_never_rests(venue):
    a = venue.rest(SELL, 3, PX, account=1)
    evs = venue.new(BUY, 5, PX + TICK, tif=TIF.IOC)
    i = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, i), trade(i, 3, PX), trade(a, 3, PX), (X.CANCELED, i)]
    assert venue.book() == ([], [])


def test_fok_is_all_or_nothing(venue):
    a = venue.rest(SELL, 3, PX, account=1)
    b = venue.rest(SELL, 3, PX + TICK, account=1)
    venue.rest(SELL, 9, PX + 2 * TICK, account=1)                # beyond its limit
    evs = venue.new(BUY, 7, PX + TICK, tif=TIF.FOK)              # 6 available: nothing
    assert steps(evs) == [(X.NEW, evs[0]["order_id"]), (X.CANCELED, evs[0]["order_id"])]
    assert evs[-1]["cum_qty"] == 0 and evs[-1]["reject_code"] == 0
    evs = venue.new(BUY, 6, PX + TICK, tif=TIF.FOK)              # exactly enough
    f = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, f), trade(f, 3, PX), trade(a, 3, PX), trade(f, 3, PX + TICK),
                          trade(b, 3, PX + TICK)]
    assert evs[-2]["status"] == S.FILLED


def test_fok_counts_hidden_iceberg_quantity(venue):
    ice = venue.rest(SELL, 10, PX, account=1, display_qty=2)
    evs = venue.new(BUY, 9, PX, tif=TIF.FOK)
    assert evs[-2]["status"] == S.FILLED
    assert venue.order(ice)["leaves_qty"] == 1


def test_fok_stop_triggered_with_too_little_liquidity_is_cancelled_whole(venue):
    venue.rest(SELL, 2, PX + 5 * TICK, account=1)
    s = venue.new(BUY, 5, 0, T.STOP, tif=TIF.FOK, stop_price=PX + TICK)[0]["order_id"]
    evs = venue.market_data(PX + TICK)
    assert steps(evs) == [(X.TRIGGERED, s), (X.CANCELED, s)]


# =============================================================================================
# Modification: the seed's priority rules, stated per kind of modification
# =============================================================================================
#
# Two buy orders rest: A (older) and B.  A is modified; a sell of 1 then arrives at the
# price of the level they share afterwards.  Which one trades first?

PRIORITY_RULES = [
    # (modification of A, its new price / qty relative to PX / 10, who trades first)
    ("qty down keeps priority", 0, -5, "A"),
    ("qty up loses priority", 0, +5, "B"),
    ("price worse keeps priority at the new level", -1, 0, "A"),
    ("price better loses priority at the new level", +1, 0, "B"),
    ("worse price and smaller qty keep priority", -1, -5, "A"),
    ("worse price and larger qty lose priority", -1, +5, "B"),
    ("better price and smaller qty lose priority", +1, -5, "B"),
    ("better price and larger qty lose priority", +1, +5, "B"),
]


@pytest.mark.parametrize("side", [BUY, SELL])
@pytest.mark.parametrize("name,dprice,dqty,first", PRIORITY_RULES,
                         ids=[r[0] for r in PRIORITY_RULES])
def test_priority_after_modification(venue, side, name, dprice, dqty, first):
    sign = 1 if side == BUY else -1               # "better" is higher for a buy
    other = SELL if side == BUY else BUY
    new_px = PX + sign * dprice * TICK
    # A rests at PX; B rests at A's new price (so they share the level afterwards) but
    # arrives after A; for a better price B is already there when A moves in.
    a = venue.rest(side, 10, PX)
    b = venue.rest(side, 10, new_px, account=1)
    evs = venue.replace(a, new_px, 10 + dqty)
    assert steps(evs) == [(X.REPLACED, a)]
    level = venue.book()[0 if side == BUY else 1]
    assert len(level) == 1                          # A left PX when it moved
    order_at_level = next(ids for p, _, ids in level if p == new_px)
    expected = [a, b] if first == "A" else [b, a]
    assert order_at_level == expected, name
    evs = venue.new(other, 1, new_px, account=2)
    assert evs[2]["order_id"] == (a if first == "A" else b), name
    # priority numbers tell the same story
    pa, pb = venue.order(a)["priority"], venue.order(b)["priority"]
    assert (pa < pb) == (first == "A")


def test_qty_down_keeps_the_place_in_a_longer_queue(venue):
    ids = [venue.rest(BUY, 5, PX, account=i % 3) for i in range(4)]
    venue.replace(ids[1], PX, 2)                                     # smaller: stays 2nd
    assert venue.book()[0] == [(PX, 17, ids)]
    venue.replace(ids[1], PX, 3)                                     # larger: to the back
    assert venue.book()[0] == [(PX, 18, [ids[0], ids[2], ids[3], ids[1]])]


def test_worse_price_keeps_priority_among_the_new_levels_orders(venue):
    # A (priority 1) moves down to a level where C (priority 3) and D (priority 4) rest:
    # it goes in front of them, behind nobody; B (priority 2) stays at the old level
    a = venue.rest(BUY, 5, PX)
    b = venue.rest(BUY, 5, PX, account=1)
    c = venue.rest(BUY, 5, PX - TICK, account=1)
    d = venue.rest(BUY, 5, PX - TICK, account=2)
    venue.replace(a, PX - TICK, 5)
    assert venue.book()[0] == [(PX, 5, [b]), (PX - TICK, 15, [a, c, d])]
    # a sell sweeping both levels takes B, then A, C, D
    evs = venue.new(SELL, 20, PX - TICK, account=3)
    assert [e["order_id"] for e in evs[2::2]] == [b, a, c, d]


def test_replace_crossing_trades_as_aggressor_then_rests(venue):
    ask = venue.rest(SELL, 3, PX + TICK, account=1)
    bid = venue.rest(BUY, 10, PX)
    evs = venue.replace(bid, PX + TICK, 10)
    assert steps(evs) == [(X.REPLACED, bid), trade(bid, 3, PX + TICK),
                          trade(ask, 3, PX + TICK)]
    assert venue.book() == ([(PX + TICK, 7, [bid])], [])


def test_replace_ignores_min_qty_and_counts_fills_against_the_new_qty(venue):
    bid = venue.rest(BUY, 10, PX, min_qty=10)
    venue.new(SELL, 4, PX, account=1)                                  # resting: min ignored
    assert venue.order(bid)["cum_qty"] == 4
    venue.rest(SELL, 2, PX + TICK, account=1)
    evs = venue.replace(bid, PX + TICK, 8)                            # leaves 4; 2 available
    assert steps(evs)[0] == (X.REPLACED, bid) and evs[0]["leaves_qty"] == 4
    assert venue.order(bid)["cum_qty"] == 6 and venue.order(bid)["leaves_qty"] == 2


def test_iceberg_replace_resets_its_display(venue):
    ice = venue.rest(SELL, 20, PX, account=1, display_qty=5)
    venue.new(BUY, 3, PX)                                              # shows 2 of its 5
    assert venue.order(ice)["display_leaves"] == 2
    venue.replace(ice, PX, 15)                                         # smaller: keeps place
    o = venue.order(ice)
    assert (o["display_leaves"], o["leaves_qty"], o["priority"]) == (5, 12, 1)
    venue.replace(ice, PX, 6)                                          # leaves 3 < display
    assert venue.order(ice)["display_leaves"] == 3


def test_held_stop_replace_changes_stop_and_may_trigger(venue):
    liq = venue.rest(SELL, 10, PX + 2 * TICK, account=1)
    s = venue.new(BUY, 5, 0, T.STOP, stop_price=PX + 5 * TICK)[0]["order_id"]
    evs = venue.replace(s, 0, 6, stop_price=PX + 3 * TICK)
    assert steps(evs) == [(X.REPLACED, s)]
    o = venue.order(s)
    assert (o["stop_price"], o["trigger_px"], o["held"], o["qty"]) == (
        PX + 3 * TICK, PX + 3 * TICK, 1, 6)
    evs = venue.replace(s, 0, 6, stop_price=PX)                        # at the reference
    assert steps(evs) == [(X.REPLACED, s), (X.TRIGGERED, s), trade(s, 6, PX + 2 * TICK),
                          trade(liq, 6, PX + 2 * TICK)]


def test_triggered_order_joins_the_level_behind_orders_already_there(venue):
    # the stop-limit was accepted before B, but it joins the market when triggered
    sl = venue.new(BUY, 5, PX, T.STOP_LIMIT, stop_price=PX + TICK)[0]["order_id"]
    b = venue.rest(BUY, 5, PX, account=1)
    venue.market_data(PX + TICK)
    assert venue.book()[0] == [(PX, 10, [b, sl])]
    assert venue.order(sl)["priority"] > venue.order(b)["priority"]


def test_cancel_of_a_held_order(venue):
    s = venue.new(SELL, 5, 0, T.STOP, stop_price=PX - TICK)[0]["order_id"]
    assert venue.b.account(0)["open_notional"] == 5 * PX
    evs = venue.cancel(s)
    assert steps(evs) == [(X.CANCELED, s)]
    assert venue.order(s)["held"] == 0 and venue.b.account(0)["open_notional"] == 0
    assert venue.market_data(PX - 2 * TICK) == []


# =============================================================================================
# Venue rules: self-trade prevention and pro-rata
# =============================================================================================

STP = int(R.SELF_TRADE_PREVENTED)
PRO_RATA = 3                                 # symbol id of the pro-rata symbol below


def venue_config(min_alloc=1) -> EngineConfig:
    """Accounts 0 (no STP), 1 cancel newest, 2 cancel oldest, 3 decrement; symbol 3 is
    pro-rata with the given minimum allocation."""
    symbols = [SymbolConfig(0, "AAA", tick_size=TICK, ref_price=PX),
               SymbolConfig(PRO_RATA, "PR", tick_size=TICK, ref_price=PX, matching="pro_rata",
                            pro_rata_min_alloc=min_alloc)]
    accounts = [AccountConfig(0, "A0"), AccountConfig(1, "NEWEST", stp_mode="cancel_newest"),
                AccountConfig(2, "OLDEST", stp_mode="cancel_oldest"),
                AccountConfig(3, "DECR", stp_mode="decrement")]
    return config(symbols=symbols, accounts=accounts)


@pytest.fixture
def vv(venue_factory):
    return venue_factory(venue_config())


def codes(evs) -> list[int]:
    return [e["reject_code"] for e in evs]


def test_stp_none_trades_with_itself(vv):
    a = vv.rest(SELL, 5, PX, account=0)
    evs = vv.new(BUY, 5, PX, account=0)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 5, PX), trade(a, 5, PX)]


def test_stp_cancel_newest_cancels_the_aggressor_and_ends_matching(vv):
    x = vv.rest(SELL, 3, PX, account=0)
    own = vv.rest(SELL, 5, PX + TICK, account=1)
    behind = vv.rest(SELL, 5, PX + TICK, account=0)
    evs = vv.new(BUY, 10, PX + TICK, account=1)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 3, PX), trade(x, 3, PX), (X.CANCELED, m)]
    assert evs[-1]["reject_code"] == STP
    assert (evs[-1]["status"], evs[-1]["cum_qty"], evs[-1]["leaves_qty"]) == (S.CANCELLED, 3, 0)
    # the own resting order, and the one behind it, are untouched
    assert vv.book() == ([], [(PX + TICK, 10, [own, behind])])
    assert vv.b.account(1)["open_notional"] == 5 * (PX + TICK)


def test_stp_cancel_oldest_cancels_the_resting_order_and_goes_on(vv):
    own = vv.rest(SELL, 4, PX, account=2)
    other = vv.rest(SELL, 3, PX, account=0)
    evs = vv.new(BUY, 5, PX, account=2)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), (X.CANCELED, own), trade(m, 3, PX), trade(other, 3, PX)]
    assert codes(evs) == [0, STP, 0, 0]
    o = vv.order(own)
    assert (o["status"], o["leaves_qty"], o["qty"]) == (S.CANCELLED, 0, 4)
    assert vv.book() == ([(PX, 2, [m])], [])


def test_stp_decrement_aggressor_larger(vv):
    own = vv.rest(SELL, 4, PX, account=3)
    evs = vv.new(BUY, 10, PX, account=3)
    m = evs[0]["order_id"]
    # first the aggressor (restated to 6), then the resting order (nothing left: cancelled)
    assert steps(evs) == [(X.NEW, m), (X.RESTATED, m), (X.CANCELED, own)]
    assert codes(evs) == [0, STP, STP]
    r = evs[1]
    assert (r["qty"], r["leaves_qty"], r["cum_qty"], r["status"], r["version"]) == \
        (6, 6, 0, S.ACCEPTED, 2)
    c = evs[2]
    assert (c["qty"], c["leaves_qty"], c["status"], c["version"]) == (0, 0, S.CANCELLED, 2)
    assert vv.book() == ([(PX, 6, [m])], [])
    assert vv.b.account(3)["open_notional"] == 6 * PX


def test_stp_decrement_aggressor_smaller(vv):
    own = vv.rest(SELL, 10, PX, account=3)
    other = vv.rest(SELL, 10, PX, account=0)
    evs = vv.new(BUY, 4, PX, account=3)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), (X.CANCELED, m), (X.RESTATED, own)]
    assert codes(evs) == [0, STP, STP]
    o = vv.order(own)
    assert (o["qty"], o["leaves_qty"], o["status"], o["priority"]) == (6, 6, S.ACCEPTED, 1)
    assert vv.book() == ([], [(PX, 16, [own, other])])     # keeps its place
    assert vv.b.account(3)["open_notional"] == 6 * PX


def test_stp_decrement_against_an_iceberg_uses_its_visible_part_and_refreshes(vv):
    ice = vv.rest(SELL, 10, PX, account=3, display_qty=3)
    other = vv.rest(SELL, 5, PX, account=0)
    evs = vv.new(BUY, 5, PX, account=3)
    m = evs[0]["order_id"]
    # d = min(5, displayed 3): both restated; the iceberg's display is used up, so it
    # refreshes to the back; then the aggressor trades its 2 left with the other order
    assert steps(evs) == [(X.NEW, m), (X.RESTATED, m), (X.RESTATED, ice), trade(m, 2, PX),
                          trade(other, 2, PX)]
    assert (evs[1]["qty"], evs[1]["leaves_qty"]) == (2, 2)
    assert (evs[2]["qty"], evs[2]["leaves_qty"]) == (7, 7)
    o = vv.order(ice)
    assert (o["display_leaves"], o["leaves_qty"]) == (3, 7)
    assert o["priority"] > vv.order(other)["priority"]
    assert vv.book() == ([], [(PX, 10, [other, ice])])
    assert evs[-2]["status"] == S.FILLED and evs[-2]["qty"] == 2


def test_stp_decrement_iceberg_partially_visible(vv):
    ice = vv.rest(SELL, 10, PX, account=3, display_qty=4)
    evs = vv.new(BUY, 1, PX, account=3, tif=TIF.IOC)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), (X.CANCELED, m), (X.RESTATED, ice)]
    o = vv.order(ice)
    assert (o["display_leaves"], o["leaves_qty"], o["qty"], o["priority"]) == (3, 9, 9, 1)


def test_stp_fok_leaves_out_own_liquidity(vv):
    vv.rest(SELL, 5, PX, account=3)
    vv.rest(SELL, 3, PX, account=0)
    evs = vv.new(BUY, 6, PX, account=3, tif=TIF.FOK)          # 3 available, not 8
    f = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, f), (X.CANCELED, f)]
    assert codes(evs) == [0, 0] and evs[-1]["cum_qty"] == 0
    # without STP the same FOK finds 8 and fills
    evs = vv.new(BUY, 6, PX, account=0, tif=TIF.FOK)
    assert evs[-2]["status"] == S.FILLED


def test_stp_min_qty_leaves_out_own_liquidity(vv):
    own = vv.rest(SELL, 5, PX, account=1)
    vv.rest(SELL, 3, PX, account=0)
    evs = vv.new(BUY, 8, PX, account=1, min_qty=4)             # 3 available: no matching
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m)]
    assert vv.order(own)["leaves_qty"] == 5


def test_stp_applies_to_a_crossing_replace(vv):
    own = vv.rest(SELL, 5, PX + TICK, account=1)
    b = vv.rest(BUY, 5, PX, account=1)
    evs = vv.replace(b, PX + TICK, 5)
    assert steps(evs) == [(X.REPLACED, b), (X.CANCELED, b)]
    assert evs[-1]["reject_code"] == STP
    assert vv.book() == ([], [(PX + TICK, 5, [own])])


def test_set_account_stp_mode_mapping_and_range(vv):
    evs = vv.admin(AdminOp.SET_ACCOUNT, account_id=0, price=10**12, qty=1000,
                   stop_price=10**12, display_qty=1000, min_qty=10**12, expire_time_ns=100,
                   flags=1, trail_bps=3)
    assert codes(evs) == [0] and vv.b.account(0)["stp_mode"] == 3
    evs = vv.admin(AdminOp.SET_ACCOUNT, account_id=0, price=10**12, qty=1000,
                   stop_price=10**12, display_qty=1000, min_qty=10**12, expire_time_ns=100,
                   flags=1, trail_bps=4)
    assert codes(evs) == [R.INVALID_ADMIN] and vv.b.account(0)["stp_mode"] == 3
    own = vv.rest(SELL, 4, PX, account=0)
    evs = vv.new(BUY, 4, PX, account=0)                        # now decrement
    assert steps(evs)[1:] == [(X.CANCELED, evs[0]["order_id"]), (X.CANCELED, own)]


def _set_symbol(v, sid, **kw):
    return v.admin(AdminOp.SET_SYMBOL, symbol_id=sid, price=TICK, qty=1, min_qty=1,
                   display_qty=1000, stop_price=PX, order_id=0, orig_cl_ord_id=86_400, **kw)


def test_set_symbol_matching_mapping_and_range(vv):
    assert codes(_set_symbol(vv, 0, flags=1, strategy_id=0)) == [0]
    sym = vv.b.symbol(0)
    assert (sym["matching"], sym["pro_rata_min_alloc"]) == (1, 1)
    assert codes(_set_symbol(vv, 0, flags=1, strategy_id=7)) == [0]
    assert vv.b.symbol(0)["pro_rata_min_alloc"] == 7
    assert codes(_set_symbol(vv, 0, flags=2, strategy_id=3)) == [R.INVALID_ADMIN]
    sym = vv.b.symbol(0)
    assert (sym["matching"], sym["pro_rata_min_alloc"]) == (1, 7)
    assert codes(_set_symbol(vv, 0, flags=0)) == [0]
    assert (vv.b.symbol(0)["matching"], vv.b.symbol(0)["pro_rata_min_alloc"]) == (0, 1)


def test_pro_rata_allocates_in_proportion(vv):
    a = vv.rest(SELL, 10, PX, account=0, symbol=PRO_RATA)
    b = vv.rest(SELL, 20, PX, account=0, symbol=PRO_RATA)
    c = vv.rest(SELL, 30, PX, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 30, PX, account=2, symbol=PRO_RATA)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 5, PX), trade(a, 5, PX), trade(m, 10, PX),
                          trade(b, 10, PX), trade(m, 15, PX), trade(c, 15, PX)]
    assert [e["trade_id"] for e in evs[1:]] == [1, 1, 2, 2, 3, 3]
    assert vv.book(PRO_RATA) == ([], [(PX, 30, [a, b, c])])


def test_pro_rata_leftover_goes_in_priority_order(vv):
    a = vv.rest(SELL, 3, PX, account=0, symbol=PRO_RATA)
    b = vv.rest(SELL, 3, PX, account=0, symbol=PRO_RATA)
    c = vv.rest(SELL, 4, PX, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 5, PX, account=0, symbol=PRO_RATA)
    m = evs[0]["order_id"]
    # E = 10, Q = 5: 5*3//10 = 1, 1, 5*4//10 = 2; the 1 left goes to the first: a
    assert steps(evs)[1::2] == [trade(m, 2, PX), trade(m, 1, PX), trade(m, 2, PX)]
    assert [e["order_id"] for e in evs[2::2]] == [a, b, c]


def test_pro_rata_leftover_fills_an_order_up_to_its_leaves(vv):
    a = vv.rest(SELL, 1, PX, account=0, symbol=PRO_RATA)
    b = vv.rest(SELL, 1, PX, account=0, symbol=PRO_RATA)
    c = vv.rest(SELL, 8, PX, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 6, PX, account=0, symbol=PRO_RATA)
    # 6*1//10 = 0, 0, 6*8//10 = 4; the 2 left: a takes 1 (its leaves), b takes 1
    assert [(e["order_id"], e["last_qty"]) for e in evs[2::2]] == [(a, 1), (b, 1), (c, 4)]
    assert evs[-2]["status"] == S.FILLED and vv.book(PRO_RATA) == ([], [(PX, 4, [c])])


def test_pro_rata_min_allocation(venue_factory):
    v = venue_factory(venue_config(min_alloc=3))
    a = v.rest(SELL, 2, PX, account=0, symbol=PRO_RATA)
    b = v.rest(SELL, 10, PX, account=0, symbol=PRO_RATA)
    c = v.rest(SELL, 8, PX, account=0, symbol=PRO_RATA)
    evs = v.new(BUY, 10, PX, account=0, symbol=PRO_RATA)
    # E = 20, Q = 10: a 1 -> 0 (below 3), b 5, c 4; the 1 left goes to a (first in priority)
    assert [(e["order_id"], e["last_qty"]) for e in evs[2::2]] == [(a, 1), (b, 5), (c, 4)]
    v.rest(SELL, 5, PX, account=0, symbol=PRO_RATA)          # a fourth order, behind c
    evs = v.new(BUY, 4, PX, account=0, symbol=PRO_RATA)
    # E = 1 + 5 + 4 + 5 = 15, Q = 4: 0, 1, 1, 1 -> all below 3; the 4 go in priority order
    assert [(e["order_id"], e["last_qty"]) for e in evs[2::2]] == [(a, 1), (b, 3)]


def test_pro_rata_sweeps_levels_best_first(vv):
    a = vv.rest(SELL, 4, PX, account=0, symbol=PRO_RATA)
    b = vv.rest(SELL, 6, PX + TICK, account=0, symbol=PRO_RATA)
    c = vv.rest(SELL, 6, PX + TICK, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 10, PX + TICK, account=0, symbol=PRO_RATA)
    assert [(e["order_id"], e["last_qty"], e["last_px"]) for e in evs[2::2]] == \
        [(a, 4, PX), (b, 3, PX + TICK), (c, 3, PX + TICK)]
    assert vv.b.symbol(PRO_RATA)["ref_price"] == PX + TICK


def test_pro_rata_leaves_out_own_orders_with_stp(vv):
    own = vv.rest(SELL, 10, PX, account=1, symbol=PRO_RATA)
    other = vv.rest(SELL, 4, PX, account=0, symbol=PRO_RATA)
    far = vv.rest(SELL, 2, PX + TICK, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 8, PX + TICK, account=1, symbol=PRO_RATA, tif=TIF.IOC)
    m = evs[0]["order_id"]
    # own orders neither trade nor are cancelled (cancel newest does not apply here)
    assert steps(evs) == [(X.NEW, m), trade(m, 4, PX), trade(other, 4, PX),
                          trade(m, 2, PX + TICK), trade(far, 2, PX + TICK), (X.CANCELED, m)]
    assert codes(evs) == [0] * 6
    assert vv.book(PRO_RATA) == ([], [(PX, 10, [own])])


def test_pro_rata_level_of_only_own_orders_is_passed_over(vv):
    own = vv.rest(SELL, 5, PX, account=3, symbol=PRO_RATA)
    other = vv.rest(SELL, 3, PX + TICK, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 3, PX + TICK, account=3, symbol=PRO_RATA)
    m = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, m), trade(m, 3, PX + TICK), trade(other, 3, PX + TICK)]
    assert vv.order(own)["leaves_qty"] == 5


def test_pro_rata_fok_leaves_out_own_liquidity(vv):
    vv.rest(SELL, 5, PX, account=2, symbol=PRO_RATA)
    vv.rest(SELL, 3, PX, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 4, PX, account=2, symbol=PRO_RATA, tif=TIF.FOK)
    assert steps(evs) == [(X.NEW, evs[0]["order_id"]), (X.CANCELED, evs[0]["order_id"])]


def test_pro_rata_iceberg_trades_whole_leaves_and_keeps_priority(vv):
    ice = vv.rest(SELL, 10, PX, account=0, symbol=PRO_RATA, display_qty=2)
    other = vv.rest(SELL, 10, PX, account=0, symbol=PRO_RATA)
    evs = vv.new(BUY, 10, PX, account=1, symbol=PRO_RATA)
    assert [(e["order_id"], e["last_qty"]) for e in evs[2::2]] == [(ice, 5), (other, 5)]
    o = vv.order(ice)
    assert (o["display_leaves"], o["leaves_qty"], o["priority"]) == (2, 5, 1)
    assert vv.book(PRO_RATA) == ([], [(PX, 10, [ice, other])])
    vv.new(BUY, 10, PX, account=1, symbol=PRO_RATA)
    o = vv.order(ice)
    assert (o["display_leaves"], o["leaves_qty"], o["status"]) == (0, 0, S.FILLED)
