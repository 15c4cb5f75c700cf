"""Contingent orders (OCO, OTO, bracket), trigger sources and the six trigger groups, against
docs/engine.md ("Triggers", "Settling: the end of every command", "Contingent orders: OCO,
OTO and bracket").

Each scenario runs twice: on the reference model (tests/model.py) and on the compiled core
through its embedded API (`Core.process` with a COMMAND_DTYPE array; skipped while the core
cannot be imported).  Both are read back the same way, so each scenario states the expected
behaviour once.
"""

from __future__ import annotations

import pytest

from test_order_types import ModelVenue, backend_factory, engine_core  # noqa: F401 (fixtures)
from oms.codes import CODE_INFO, RejectCode as R, message
from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.layout import (
    AdminOp,
    CommandType as K,
    EventType as E,
    ExecType as X,
    MassCancelScope,
    OrdStatus as S,
    OrdType as T,
    Side,
    TimeInForce as TIF,
)

BUY, SELL = int(Side.BUY), int(Side.SELL)
NS = 10**9
DAY_NS = 86_400 * NS
T0 = 20_000 * DAY_NS + 12 * 3600 * NS        # 12:00 UTC
PX = 1_000_000                               # 100.00
TICK = 100

LAST, BID_ASK, MID, NOREF = 0, 1, 2, 3       # symbol ids


def config(**over) -> EngineConfig:
    symbols = [
        SymbolConfig(LAST, "LAST", tick_size=TICK, ref_price=PX),
        SymbolConfig(BID_ASK, "BA", tick_size=TICK, ref_price=PX, trigger_source="bid_ask"),
        SymbolConfig(MID, "MID", tick_size=TICK, ref_price=PX, trigger_source="mid"),
        SymbolConfig(NOREF, "NOREF", tick_size=TICK, ref_price=0),
    ]
    accounts = [AccountConfig(i, f"A{i}") for i in range(4)]
    params = dict(max_orders=256, max_symbols=4, max_accounts=4, idem_capacity=256,
                  max_levels=32, symbols=symbols, accounts=accounts)
    params.update(over)
    return EngineConfig(**params)


# the two backends (model, compiled core) come from tests/test_order_types.py's fixture


@pytest.fixture
def make(backend_factory):
    return lambda cfg=None: Venue(backend_factory(cfg or config()))


@pytest.fixture
def v(make):
    return make()


class Venue:
    """Command builders over a backend; every order is session 1, account 0 unless given."""

    def __init__(self, backend):
        self.b = backend
        self.t = T0
        self.cl = 0

    def run(self, c: dict) -> list[dict]:
        c.setdefault("time_ns", self.t)
        return self.b.process(c)

    def new(self, side=BUY, qty=10, price=PX, ord_type=T.LIMIT, tif=TIF.DAY, account=0,
            symbol=LAST, session=1, parent=0, oco=0, **kw) -> list[dict]:
        self.cl += 1
        return self.run(dict(kind=K.NEW, session_id=session, cl_ord_id=self.cl, side=side,
                             qty=qty, price=price, ord_type=ord_type, tif=tif,
                             account_id=account, symbol_id=symbol, parent_order_id=parent,
                             oco_order_id=oco, **kw))

    def accepted(self, *args, **kw) -> int:
        """A NEW that must be accepted with nothing else happening; returns its order id."""
        evs = self.new(*args, **kw)
        assert [(e["exec_type"], e["status"]) for e in evs] == [(X.NEW, S.ACCEPTED)], evs
        return evs[0]["order_id"]

    def stop(self, side, qty, stop_price, **kw) -> int:
        return self.accepted(side, qty, 0, T.STOP, stop_price=stop_price, **kw)

    def replace(self, order_id, price, qty, **kw) -> list[dict]:
        self.cl += 1
        return self.run(dict(kind=K.REPLACE, session_id=1, order_id=order_id,
                             cl_ord_id=self.cl, price=price, qty=qty, **kw))

    def cancel(self, order_id, session=1) -> list[dict]:
        return self.run(dict(kind=K.CANCEL, session_id=session, order_id=order_id))

    def mass_cancel(self, scope, **kw) -> list[dict]:
        return self.run(dict(kind=K.MASS_CANCEL, admin_op=int(scope), **kw))

    def market_data(self, price, symbol=LAST) -> list[dict]:
        return self.run(dict(kind=K.MARKET_DATA, symbol_id=symbol, price=price))

    def timer(self, t) -> list[dict]:
        self.t = t
        return self.run(dict(kind=K.TIMER))

    def admin(self, op, **kw) -> list[dict]:
        return self.run(dict(kind=K.ADMIN, admin_op=int(op), **kw))

    def order(self, oid) -> dict:
        return self.b.orders()[oid]

    def book(self, sid=LAST):
        return self.b.book(sid)


def steps(evs) -> list[tuple]:
    """(exec_type, order_id) of each event, plus last_qty / last_px for trades and the reject
    code when there is one."""
    out = []
    for e in evs:
        if e["exec_type"] == X.TRADE:
            out.append((X.TRADE, e["order_id"], e["last_qty"], e["last_px"]))
        elif e["reject_code"]:
            out.append((e["exec_type"], e["order_id"], R(e["reject_code"])))
        else:
            out.append((e["exec_type"], e["order_id"]))
    return out


def trade(oid, q, px):
    return (X.TRADE, oid, q, px)


def cancelled(oid, code):
    return (X.CANCELED, oid, code)


# =============================================================================================
# OCO
# =============================================================================================


def oco_pair(v, symbol=LAST, **kw):
    """A sell take-profit limit at PX + 5 ticks and a sell stop at PX - 5 ticks, OCO."""
    tp = v.accepted(SELL, 10, PX + 5 * TICK, symbol=symbol, **kw)
    sl = v.stop(SELL, 10, PX - 5 * TICK, oco=tp, symbol=symbol)
    return tp, sl


def test_oco_links_both_ways_without_an_event_or_version_change(v):
    tp, sl = oco_pair(v)
    a, b = v.order(tp), v.order(sl)
    assert (a["oco_order_id"], a["version"], a["held"]) == (sl, 1, 0)
    assert (b["oco_order_id"], b["version"], b["held"], b["trigger_px"]) == (
        tp, 1, 1, PX - 5 * TICK)
    assert a["parent_order_id"] == b["parent_order_id"] == 0
    assert a["child_order_id"] == b["child_order_id"] == 0


def test_oco_leg_trades_and_the_other_is_cancelled_peer_traded(v):
    tp, sl = oco_pair(v)
    evs = v.new(BUY, 10, PX + 5 * TICK, account=1)
    agg = evs[0]["order_id"]
    # the cancel is carried out when the command settles, after the trades; the cancelled
    # stop's own end queues a cancel of its peer, which is filled by then: nothing more
    assert steps(evs) == [(X.NEW, agg), trade(agg, 10, PX + 5 * TICK),
                          trade(tp, 10, PX + 5 * TICK), cancelled(sl, R.OCO_PEER_TRADED)]
    assert evs[-1]["status"] == S.CANCELLED and evs[-1]["version"] == 2
    o = v.order(sl)
    assert (o["status"], o["held"], o["leaves_qty"]) == (S.CANCELLED, 0, 0)
    assert v.b.account(0)["open_notional"] == 0


def test_oco_partial_fill_cancels_the_peer_and_the_traded_leg_carries_on(v):
    # docs/engine.md, "The contingent queue": the peer cancelled on the first (partial) fill
    # ends not FILLED, but its own peer has traded, so nothing more is cancelled
    tp, sl = oco_pair(v)
    evs = v.new(BUY, 4, PX + 5 * TICK, account=1)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 4, PX + 5 * TICK),
                          trade(tp, 4, PX + 5 * TICK), cancelled(sl, R.OCO_PEER_TRADED)]
    assert (v.order(tp)["status"], v.order(tp)["leaves_qty"]) == (S.PARTIALLY_FILLED, 6)
    assert v.book() == ([], [(PX + 5 * TICK, 6, [tp])])
    # and when the traded leg is cancelled later, its peer is already gone
    assert steps(v.cancel(tp)) == [(X.CANCELED, tp)]


def test_oco_stop_leg_triggers_trades_and_cancels_the_limit_leg(v):
    bid = v.accepted(BUY, 10, PX - 6 * TICK, account=1)
    tp, sl = oco_pair(v)
    evs = v.market_data(PX - 5 * TICK)
    assert steps(evs) == [(X.TRIGGERED, sl), trade(sl, 10, PX - 6 * TICK),
                          trade(bid, 10, PX - 6 * TICK), cancelled(tp, R.OCO_PEER_TRADED)]
    assert v.book() == ([], [])


def test_oco_leg_cancelled_cancels_the_other_linked_order_ended(v):
    tp, sl = oco_pair(v)
    evs = v.cancel(tp)
    assert steps(evs) == [(X.CANCELED, tp), cancelled(sl, R.LINKED_ORDER_ENDED)]
    assert v.order(sl)["held"] == 0 and v.b.account(0)["open_notional"] == 0


def test_oco_held_leg_cancelled_cancels_the_resting_leg(v):
    tp, sl = oco_pair(v)
    evs = v.cancel(sl)
    assert steps(evs) == [(X.CANCELED, sl), cancelled(tp, R.LINKED_ORDER_ENDED)]
    assert v.book() == ([], [])


def test_oco_leg_expiry_cancels_the_other(v):
    tp = v.accepted(SELL, 10, PX + 5 * TICK, tif=TIF.GTD, expire_time_ns=T0 + 5 * NS)
    sl = v.stop(SELL, 10, PX - 5 * TICK, oco=tp, tif=TIF.GTC)
    evs = v.timer(T0 + 5 * NS)
    assert steps(evs) == [(X.EXPIRED, tp), cancelled(sl, R.LINKED_ORDER_ENDED)]


def test_oco_across_symbols(v):
    a = v.accepted(SELL, 5, PX + TICK)
    b = v.accepted(SELL, 5, PX + TICK, symbol=BID_ASK, oco=a)
    evs = v.new(BUY, 5, PX + TICK, symbol=BID_ASK, account=1)
    assert steps(evs)[-1] == cancelled(a, R.OCO_PEER_TRADED)
    assert v.order(b)["status"] == S.FILLED


def test_oco_ioc_leg_remainder_cancels_the_peer(v):
    peer = v.accepted(SELL, 5, PX + 5 * TICK)
    evs = v.new(SELL, 5, PX, tif=TIF.IOC, oco=peer)        # nothing to trade: cancelled
    ioc = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, ioc), (X.CANCELED, ioc),
                          cancelled(peer, R.LINKED_ORDER_ENDED)]


# =============================================================================================
# OTO
# =============================================================================================


def test_oto_child_waits_then_is_activated_when_the_parent_fills(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent)
    c = v.order(child)
    assert (c["held"], c["status"], c["parent_order_id"], c["trigger_px"]) == (
        2, S.ACCEPTED, parent, 0)
    assert v.order(parent)["child_order_id"] == child
    assert v.book() == ([(PX, 10, [parent])], [])                 # the child is not there
    # accepted: risk reserved, as for any order
    assert v.b.account(0)["open_notional"] == 10 * PX + 10 * (PX + 5 * TICK)
    # a partial fill does not activate it
    evs = v.new(SELL, 4, PX, account=1)
    assert [e["exec_type"] for e in evs] == [X.NEW, X.TRADE, X.TRADE]
    assert v.order(child)["held"] == 2
    evs = v.new(SELL, 6, PX, account=1)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 6, PX), trade(parent, 6, PX),
                          (X.TRIGGERED, child)]
    ev = evs[-1]
    assert (ev["status"], ev["version"], ev["cum_qty"], ev["leaves_qty"]) == (
        S.ACCEPTED, 2, 0, 10)
    c = v.order(child)
    assert (c["held"], c["version"], c["updated_ns"]) == (0, 2, T0)
    assert c["priority"] > v.order(agg)["priority"]              # a new priority
    assert v.book() == ([], [(PX + 5 * TICK, 10, [child])])


def test_oto_activated_child_is_worked_as_on_entry(v):
    # the activated child crosses at once: it trades (in the same command)
    ask = v.accepted(SELL, 3, PX + TICK, account=1)
    parent = v.accepted(BUY, 2, PX)
    child = v.accepted(BUY, 5, PX + TICK, parent=parent, tif=TIF.IOC)
    evs = v.new(SELL, 2, PX, account=2)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 2, PX), trade(parent, 2, PX),
                          (X.TRIGGERED, child), trade(child, 3, PX + TICK),
                          trade(ask, 3, PX + TICK), (X.CANCELED, child)]


def test_oto_stop_child_is_held_on_activation_and_may_trigger_at_once(v):
    liq = v.accepted(BUY, 10, PX - 5 * TICK, account=1)
    parent = v.accepted(BUY, 5, PX)
    # a protective sell stop above the market: it fires as soon as it is held
    child = v.stop(SELL, 5, PX + TICK, parent=parent)
    assert v.order(child)["trigger_px"] == 0
    evs = v.new(SELL, 5, PX, account=2)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 5, PX), trade(parent, 5, PX),
                          (X.TRIGGERED, child), (X.TRIGGERED, child),
                          trade(child, 5, PX - 5 * TICK), trade(liq, 5, PX - 5 * TICK)]
    assert [e["version"] for e in evs[3:5]] == [2, 3]


def test_oto_stop_child_activated_is_held_with_its_stop_price(v):
    parent = v.accepted(BUY, 5, PX)
    child = v.stop(SELL, 5, PX - 5 * TICK, parent=parent)
    evs = v.new(SELL, 5, PX, account=2)
    assert steps(evs)[-1] == (X.TRIGGERED, child)
    c = v.order(child)
    assert (c["held"], c["trigger_px"], c["status"]) == (1, PX - 5 * TICK, S.ACCEPTED)
    assert v.market_data(PX - 4 * TICK) == []
    assert steps(v.market_data(PX - 5 * TICK))[0] == (X.TRIGGERED, child)


def test_oto_child_of_a_held_parent_activated_in_the_same_command(v):
    # the parent is a buy stop: when it triggers and fills, its child is activated in the
    # same settle, before any further trigger is examined
    ask = v.accepted(SELL, 5, PX + 2 * TICK, account=1)
    parent = v.stop(BUY, 5, PX + TICK)
    child = v.accepted(SELL, 5, PX + 6 * TICK, parent=parent)
    evs = v.market_data(PX + TICK)
    assert steps(evs) == [(X.TRIGGERED, parent), trade(parent, 5, PX + 2 * TICK),
                          trade(ask, 5, PX + 2 * TICK), (X.TRIGGERED, child)]
    assert v.book() == ([], [(PX + 6 * TICK, 5, [child])])


def test_oto_parent_cancelled_cancels_the_waiting_child(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent)
    evs = v.cancel(parent)
    assert steps(evs) == [(X.CANCELED, parent), cancelled(child, R.LINKED_ORDER_ENDED)]
    c = v.order(child)
    assert (c["status"], c["held"], c["version"]) == (S.CANCELLED, 0, 2)
    assert v.b.account(0)["open_notional"] == 0


def test_oto_parent_cancelled_after_a_partial_fill_cancels_the_child(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent)
    v.new(SELL, 4, PX, account=1)
    evs = v.cancel(parent)
    assert steps(evs) == [(X.CANCELED, parent), cancelled(child, R.LINKED_ORDER_ENDED)]
    assert v.order(parent)["cum_qty"] == 4


def test_oto_parent_expiring_after_a_partial_fill_cancels_the_child(v):
    parent = v.accepted(BUY, 10, PX, tif=TIF.GTD, expire_time_ns=T0 + 60 * NS)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent, tif=TIF.GTC)
    v.new(SELL, 3, PX, account=1)
    evs = v.timer(T0 + 60 * NS)
    assert steps(evs) == [(X.EXPIRED, parent), cancelled(child, R.LINKED_ORDER_ENDED)]


def test_oto_waiting_child_expires_on_its_own(v):
    parent = v.accepted(BUY, 10, PX, tif=TIF.GTC)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent, tif=TIF.GTD,
                       expire_time_ns=T0 + NS)
    evs = v.timer(T0 + NS)
    assert steps(evs) == [(X.EXPIRED, child)]
    assert v.order(child)["held"] == 0
    # the parent fills later: nothing to activate
    evs = v.new(SELL, 10, PX, account=1)
    assert [e["exec_type"] for e in evs] == [X.NEW, X.TRADE, X.TRADE]


def test_oto_child_cancelled_by_mass_cancel_outside_its_scope_after_the_report(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent, symbol=BID_ASK)
    evs = v.mass_cancel(MassCancelScope.SYMBOL, symbol_id=LAST)
    assert [(e["kind"], e["order_id"], e["reject_code"]) for e in evs] == [
        (E.EXEC_REPORT, parent, 0), (E.MASS_CANCEL_REPORT, 0, 0),
        (E.EXEC_REPORT, child, R.LINKED_ORDER_ENDED)]
    assert evs[1]["trade_id"] == 1


def test_kill_switch_cancels_waiting_orders_too(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent)
    evs = v.admin(AdminOp.KILL_SWITCH_ON)
    assert steps(evs)[:2] == [cancelled(parent, R.KILL_SWITCH_ACTIVE),
                              cancelled(child, R.KILL_SWITCH_ACTIVE)]
    assert evs[2]["trade_id"] == 2 and len(evs) == 3


def test_oto_child_of_an_already_filled_parent_is_worked_at_once(v):
    parent = v.accepted(BUY, 5, PX)
    v.new(SELL, 5, PX, account=1)
    assert v.order(parent)["status"] == S.FILLED
    child = v.accepted(SELL, 5, PX + 5 * TICK, parent=parent)
    c = v.order(child)
    assert (c["held"], c["parent_order_id"]) == (0, parent)
    assert v.order(parent)["child_order_id"] == 0
    assert v.book() == ([], [(PX + 5 * TICK, 5, [child])])


def test_oto_activated_trailing_stop_without_a_reference_is_cancelled(v):
    # bid_ask symbol: a sell trailing stop reads the best bid.  At its NEW the parent's own
    # bid is there; when the parent fills, the bid side is empty: TRIGGERED, then cancelled.
    parent = v.accepted(BUY, 5, PX, symbol=BID_ASK)
    child = v.accepted(SELL, 5, 0, T.TRAILING_STOP, trail_amount=3 * TICK, symbol=BID_ASK,
                       parent=parent)
    evs = v.new(SELL, 5, PX, symbol=BID_ASK, account=1)
    assert steps(evs)[-2:] == [(X.TRIGGERED, child), cancelled(child, R.NO_REFERENCE_PRICE)]
    assert v.order(child)["held"] == 0


def test_oto_activated_trailing_stop_takes_its_trigger_from_the_reference(v):
    parent = v.accepted(BUY, 5, PX)
    child = v.accepted(SELL, 5, 0, T.TRAILING_STOP, trail_amount=3 * TICK, parent=parent)
    assert v.order(child)["trigger_px"] == 0
    v.market_data(PX + 10 * TICK)               # moves nothing: the child waits
    v.new(SELL, 5, PX, account=1)               # fills the parent, last = PX
    c = v.order(child)
    assert (c["held"], c["trigger_px"]) == (1, PX - 3 * TICK)


# =============================================================================================
# Bracket
# =============================================================================================


def bracket(v):
    """Entry: buy 10 at PX; take-profit: sell 10 at PX + 5 ticks; stop-loss: sell stop at
    PX - 5 ticks, OCO with the take-profit."""
    entry = v.accepted(BUY, 10, PX)
    tp = v.accepted(SELL, 10, PX + 5 * TICK, parent=entry)
    sl = v.stop(SELL, 10, PX - 5 * TICK, parent=entry, oco=tp)
    return entry, tp, sl


def test_bracket_legs_wait_for_the_entry(v):
    entry, tp, sl = bracket(v)
    assert v.order(entry)["child_order_id"] == tp                # the first leg only
    assert (v.order(tp)["held"], v.order(tp)["oco_order_id"]) == (2, sl)
    assert (v.order(sl)["held"], v.order(sl)["oco_order_id"]) == (2, tp)
    assert v.order(sl)["parent_order_id"] == entry
    assert v.book() == ([(PX, 10, [entry])], [])


def test_bracket_entry_fill_activates_both_legs(v):
    entry, tp, sl = bracket(v)
    evs = v.new(SELL, 10, PX, account=1)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 10, PX), trade(entry, 10, PX),
                          (X.TRIGGERED, tp), (X.TRIGGERED, sl)]
    assert v.book() == ([], [(PX + 5 * TICK, 10, [tp])])
    o = v.order(sl)
    assert (o["held"], o["trigger_px"]) == (1, PX - 5 * TICK)
    assert v.order(tp)["priority"] < o["priority"]


def test_bracket_take_profit_trades_and_cancels_the_stop_loss(v):
    entry, tp, sl = bracket(v)
    v.new(SELL, 10, PX, account=1)
    evs = v.new(BUY, 10, PX + 5 * TICK, account=1)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 10, PX + 5 * TICK),
                          trade(tp, 10, PX + 5 * TICK), cancelled(sl, R.OCO_PEER_TRADED)]
    assert v.order(tp)["status"] == S.FILLED
    assert v.b.account(0)["open_notional"] == 0


def test_bracket_stop_loss_triggers_on_a_price_move_and_cancels_the_take_profit(v):
    entry, tp, sl = bracket(v)
    v.new(SELL, 10, PX, account=1)
    bid = v.accepted(BUY, 20, PX - 6 * TICK, account=1)
    # a trade at PX - 5 ticks between two other accounts moves the last price to the stop
    v.accepted(BUY, 1, PX - 5 * TICK, account=2)
    evs = v.new(SELL, 1, PX - 5 * TICK, account=3)
    agg = evs[0]["order_id"]
    assert steps(evs)[:3] == [(X.NEW, agg), trade(agg, 1, PX - 5 * TICK),
                              trade(agg - 1, 1, PX - 5 * TICK)]
    assert steps(evs)[3:] == [(X.TRIGGERED, sl), trade(sl, 10, PX - 6 * TICK),
                              trade(bid, 10, PX - 6 * TICK), cancelled(tp, R.OCO_PEER_TRADED)]
    assert v.order(sl)["status"] == S.FILLED and v.book()[1] == []


def test_bracket_entry_cancelled_cancels_both_legs(v):
    entry, tp, sl = bracket(v)
    evs = v.cancel(entry)
    # the entry's end cancels its child (the take-profit), whose end cancels its peer
    assert steps(evs) == [(X.CANCELED, entry), cancelled(tp, R.LINKED_ORDER_ENDED),
                          cancelled(sl, R.LINKED_ORDER_ENDED)]
    assert v.b.account(0)["open_notional"] == 0


def test_bracket_take_profit_hit_by_a_crossing_replace_cancels_the_stop_loss(v):
    entry, tp, sl = bracket(v)
    bid = v.accepted(BUY, 10, PX - 2 * TICK, account=1)
    v.new(SELL, 10, PX, account=3, tif=TIF.IOC)          # fills the entry (the best bid)
    assert v.order(tp)["held"] == 0 and v.order(sl)["held"] == 1
    evs = v.replace(bid, PX + 5 * TICK, 10)
    assert steps(evs) == [(X.REPLACED, bid), trade(bid, 10, PX + 5 * TICK),
                          trade(tp, 10, PX + 5 * TICK), cancelled(sl, R.OCO_PEER_TRADED)]


def test_bracket_legs_activated_where_the_first_crosses_at_once(v):
    # the entry is a held buy stop; a resting bid above the take-profit's price is there
    # before the entry fills, so the take-profit trades as soon as it is activated and the
    # stop-loss, still waiting, is cancelled by the take-profit's trade without a TRIGGERED
    ask = v.accepted(SELL, 10, PX + 2 * TICK, account=1)
    entry = v.stop(BUY, 10, PX + TICK)
    tp = v.accepted(SELL, 10, PX + TICK, parent=entry)
    sl = v.stop(SELL, 10, PX - 5 * TICK, parent=entry, oco=tp)
    bid = v.accepted(BUY, 10, PX + TICK, account=2)
    evs = v.market_data(PX + TICK)
    assert steps(evs) == [
        (X.TRIGGERED, entry), trade(entry, 10, PX + 2 * TICK), trade(ask, 10, PX + 2 * TICK),
        (X.TRIGGERED, tp), trade(tp, 10, PX + TICK), trade(bid, 10, PX + TICK),
        cancelled(sl, R.OCO_PEER_TRADED)]
    assert (v.order(sl)["held"], v.order(sl)["version"]) == (0, 2)
    assert v.book() == ([], [])


# =============================================================================================
# Replace of waiting orders
# =============================================================================================


def test_replace_of_a_waiting_limit_stays_waiting(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.accepted(SELL, 10, PX + 5 * TICK, parent=parent)
    evs = v.replace(child, PX + 6 * TICK, 8)
    assert steps(evs) == [(X.REPLACED, child)]
    c = v.order(child)
    assert (c["held"], c["price"], c["qty"], c["version"]) == (2, PX + 6 * TICK, 8, 2)
    assert v.book() == ([(PX, 10, [parent])], [])
    assert v.b.account(0)["open_notional"] == 10 * PX + 8 * (PX + 6 * TICK)
    v.new(SELL, 10, PX, account=1)
    assert v.book() == ([], [(PX + 6 * TICK, 8, [child])])


def test_replace_of_a_waiting_stop_new_stop_price_used_at_activation(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.stop(SELL, 10, PX - 5 * TICK, parent=parent)
    evs = v.replace(child, 0, 10, stop_price=PX - 3 * TICK)
    assert steps(evs) == [(X.REPLACED, child)]
    assert v.order(child)["held"] == 2 and v.order(child)["stop_price"] == PX - 3 * TICK
    v.new(SELL, 10, PX, account=1)
    c = v.order(child)
    assert (c["held"], c["trigger_px"]) == (1, PX - 3 * TICK)


def test_replace_of_a_waiting_unpriced_order_needs_price_zero(v):
    parent = v.accepted(BUY, 10, PX)
    child = v.stop(SELL, 10, PX - 5 * TICK, parent=parent)
    ev, = v.replace(child, PX, 10)
    assert (ev["kind"], ev["reject_code"], ev["status"]) == (
        E.CANCEL_REJECT, R.INVALID_PRICE, S.ACCEPTED)
    assert v.order(child)["held"] == 2


# =============================================================================================
# Link checks
# =============================================================================================


def rejected(evs, code):
    ev, = evs
    assert (ev["kind"], ev["exec_type"], ev["status"], ev["order_id"]) == (
        E.EXEC_REPORT, X.REJECTED, S.REJECTED, 0)
    assert ev["reject_code"] == code, (R(ev["reject_code"]).name, code.name)
    assert message(ev["reject_code"]) == CODE_INFO[code].message
    return ev


def _unknown_parent(v):
    return dict(parent=99)


def _unknown_peer(v):
    return dict(oco=99)


def _parent_of_another_session(v):
    return dict(parent=v.accepted(BUY, 5, PX, session=2))


def _peer_of_another_account(v):
    return dict(oco=v.accepted(BUY, 5, PX, account=1))


UNKNOWN_CASES = {
    "unknown parent": _unknown_parent,
    "unknown peer": _unknown_peer,
    "parent of another session": _parent_of_another_session,
    "peer of another account": _peer_of_another_account,
}


@pytest.mark.parametrize("case", list(UNKNOWN_CASES))
def test_unknown_linked_order(v, case):
    links = UNKNOWN_CASES[case](v)
    before = len(v.b.orders())
    ev = rejected(v.new(SELL, 5, PX + TICK, **links), R.UNKNOWN_LINKED_ORDER)
    assert ev["cl_ord_id"] == v.cl and ev["qty"] == 5 and ev["price"] == PX + TICK
    assert len(v.b.orders()) == before


def test_unknown_linked_order_when_the_parent_was_evicted(make):
    v = make(config(max_orders=2))
    parent = v.accepted(BUY, 5, PX)
    v.new(SELL, 5, PX, account=1)     # both filled; the aggressor is the older terminal
    v.new(BUY, 1, PX, account=1, tif=TIF.IOC)     # evicts the aggressor, then cancelled
    v.new(BUY, 1, PX, account=1, tif=TIF.IOC)     # evicts the parent
    assert parent not in v.b.orders()
    rejected(v.new(SELL, 5, PX + TICK, parent=parent), R.UNKNOWN_LINKED_ORDER)


def _cancelled_parent(v):
    p = v.accepted(BUY, 5, PX)
    v.cancel(p)
    return dict(parent=p)


def _expired_parent(v):
    p = v.accepted(BUY, 5, PX, tif=TIF.GTD, expire_time_ns=T0 + NS)
    v.timer(T0 + NS)
    return dict(parent=p)


def _filled_peer(v):
    x = v.accepted(BUY, 5, PX)
    v.new(SELL, 5, PX, account=1)
    return dict(oco=x)


def _partially_traded_peer(v):
    x = v.accepted(BUY, 5, PX)
    v.new(SELL, 2, PX, account=1)
    return dict(oco=x)


DONE_CASES = {"cancelled parent": _cancelled_parent, "expired parent": _expired_parent,
              "filled peer": _filled_peer, "partially traded peer": _partially_traded_peer}


@pytest.mark.parametrize("case", list(DONE_CASES))
def test_linked_order_done(v, case):
    links = DONE_CASES[case](v)
    rejected(v.new(SELL, 5, PX + TICK, **links), R.LINKED_ORDER_DONE)


def _waiting_parent(v):
    p = v.accepted(BUY, 5, PX)
    return dict(parent=v.accepted(SELL, 5, PX + TICK, parent=p))


def _second_child_without_the_first_as_peer(v):
    p = v.accepted(BUY, 5, PX)
    v.accepted(SELL, 5, PX + TICK, parent=p)
    return dict(parent=p)


def _second_child_with_another_peer(v):
    p = v.accepted(BUY, 5, PX)
    v.accepted(SELL, 5, PX + TICK, parent=p)
    return dict(parent=p, oco=v.accepted(SELL, 5, PX + 9 * TICK))


def _peer_already_linked(v):
    a = v.accepted(SELL, 5, PX + TICK)
    v.accepted(SELL, 5, PX + 2 * TICK, oco=a)
    return dict(oco=a)


def _waiting_peer_for_a_free_order(v):
    p = v.accepted(BUY, 5, PX)
    return dict(oco=v.accepted(SELL, 5, PX + TICK, parent=p))


def _waiting_peer_of_another_parent(v):
    p1 = v.accepted(BUY, 5, PX)
    p2 = v.accepted(BUY, 5, PX - TICK)
    x = v.accepted(SELL, 5, PX + TICK, parent=p1)
    return dict(parent=p2, oco=x)


def _free_peer_for_a_waiting_order(v):
    p = v.accepted(BUY, 5, PX)
    return dict(parent=p, oco=v.accepted(SELL, 5, PX + 3 * TICK))


NOT_ALLOWED_CASES = {
    "waiting parent (no chains)": _waiting_parent,
    "second child without the first as peer": _second_child_without_the_first_as_peer,
    "second child with another peer": _second_child_with_another_peer,
    "peer already linked": _peer_already_linked,
    "waiting peer for a free order": _waiting_peer_for_a_free_order,
    "waiting peer of another parent": _waiting_peer_of_another_parent,
    "free peer for a waiting order": _free_peer_for_a_waiting_order,
}


@pytest.mark.parametrize("case", list(NOT_ALLOWED_CASES))
def test_link_not_allowed(v, case):
    links = NOT_ALLOWED_CASES[case](v)
    rejected(v.new(SELL, 5, PX + 4 * TICK, **links), R.LINK_NOT_ALLOWED)


def test_a_filled_parent_takes_a_second_child_and_a_free_peer(v):
    p = v.accepted(BUY, 5, PX)
    v.new(SELL, 5, PX, account=1)
    a = v.accepted(SELL, 5, PX + TICK, parent=p)                  # not waiting
    b = v.accepted(SELL, 5, PX + 2 * TICK, parent=p, oco=a)       # free peer: allowed
    assert v.order(a)["oco_order_id"] == b and v.order(p)["child_order_id"] == 0


def test_link_checks_come_after_the_duplicate_cl_ord_id_and_before_the_semantic_checks(v):
    p = v.accepted(BUY, 5, PX)                                    # cl_ord_id 1
    v.cl = 0
    rejected(v.new(SELL, 5, PX + TICK, parent=99, idem_lo=5), R.DUPLICATE_CL_ORD_ID)
    v.cl = 10
    rejected(v.new(SELL, 5, PX + 50, parent=99), R.UNKNOWN_LINKED_ORDER)   # off tick
    rejected(v.new(SELL, 5, PX + 50, parent=p), R.PRICE_NOT_ON_TICK)
    # syntax comes before the links
    rejected(v.new(SELL, 5, PX + TICK, parent=99, symbol=9), R.UNKNOWN_SYMBOL)


def test_parent_check_comes_before_the_peer_check(v):
    done = v.accepted(BUY, 5, PX - TICK)
    v.cancel(done)
    rejected(v.new(SELL, 5, PX + TICK, parent=done, oco=99), R.LINKED_ORDER_DONE)


def test_a_rejected_new_leaves_its_linked_orders_untouched(v):
    p = v.accepted(BUY, 5, PX)
    a = v.accepted(SELL, 5, PX + TICK, parent=p)
    # valid links, then a semantic reject: nothing is linked
    rejected(v.new(SELL, 5, PX + 2 * TICK + 1, parent=p, oco=a), R.PRICE_NOT_ON_TICK)
    assert (v.order(a)["oco_order_id"], v.order(a)["version"]) == (0, 1)
    b = v.accepted(SELL, 5, PX + 2 * TICK, parent=p, oco=a)
    assert v.order(a)["oco_order_id"] == b and v.order(p)["child_order_id"] == a


# =============================================================================================
# Trigger sources
# =============================================================================================


def test_bid_ask_buy_stop_fires_when_the_best_ask_reaches_it_without_a_trade(v):
    stop = v.stop(BUY, 5, PX + 3 * TICK, symbol=BID_ASK)          # no ask: absent
    low = v.accepted(SELL, 2, PX + TICK, symbol=BID_ASK, account=1)
    assert v.market_data(PX + 10 * TICK, symbol=BID_ASK) == []    # the last price: unused
    high = v.accepted(SELL, 5, PX + 4 * TICK, symbol=BID_ASK, account=1)
    assert v.order(stop)["held"] == 1                             # best ask PX + 1 tick
    evs = v.cancel(low, session=1)       # no trade: the best ask moves to PX + 4 ticks
    assert steps(evs) == [(X.CANCELED, low), (X.TRIGGERED, stop),
                          trade(stop, 5, PX + 4 * TICK), trade(high, 5, PX + 4 * TICK)]


def test_bid_ask_buy_stop_fires_on_the_ask_that_arrives(v):
    stop = v.stop(BUY, 5, PX + 3 * TICK, symbol=BID_ASK)
    evs = v.new(SELL, 5, PX + 4 * TICK, symbol=BID_ASK, account=1)
    ask = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, ask), (X.TRIGGERED, stop), trade(stop, 5, PX + 4 * TICK),
                          trade(ask, 5, PX + 4 * TICK)]


def test_bid_ask_sell_stop_reads_the_bid(v):
    stop = v.stop(SELL, 5, PX - 3 * TICK, symbol=BID_ASK)
    # an ask below the trigger and a low last price do not fire it: it reads the bid
    v.accepted(SELL, 1, PX - 5 * TICK, symbol=BID_ASK, account=1)
    assert v.market_data(PX - 10 * TICK, symbol=BID_ASK) == []
    evs = v.new(BUY, 2, PX - 6 * TICK, symbol=BID_ASK, account=2)
    bid = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, bid), (X.TRIGGERED, stop), trade(stop, 2, PX - 6 * TICK),
                          trade(bid, 2, PX - 6 * TICK), (X.CANCELED, stop)]


def test_mid_reference(v):
    stop = v.stop(BUY, 5, PX + 2 * TICK, symbol=MID)
    bid = v.accepted(BUY, 1, PX, symbol=MID, account=1)          # one side: absent
    ask = v.accepted(SELL, 1, PX + 2 * TICK, symbol=MID, account=2)   # mid PX + 1 tick
    assert steps(v.replace(bid, PX + TICK, 1)) == [(X.REPLACED, bid)]  # mid PX + 150
    assert steps(v.cancel(ask)) == [(X.CANCELED, ask)]           # one side again
    evs = v.new(SELL, 1, PX + 4 * TICK, symbol=MID, account=2)   # mid (PX+1 + PX+4) // 2
    ask2 = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, ask2), (X.TRIGGERED, stop), trade(stop, 1, PX + 4 * TICK),
                          trade(ask2, 1, PX + 4 * TICK), (X.CANCELED, stop)]


def test_mid_is_floored(make):
    cfg = config(symbols=[SymbolConfig(0, "M", tick_size=1, ref_price=PX,
                                       trigger_source="mid")])
    v = make(cfg)
    v.accepted(BUY, 1, PX, symbol=0, account=1)
    v.accepted(SELL, 1, PX + 3, symbol=0, account=2)           # mid (2 PX + 3) // 2 = PX + 1
    buy = v.accepted(BUY, 1, PX - 10, T.STOP_LIMIT, stop_price=PX + 2, symbol=0)
    assert v.order(buy)["held"] == 1
    evs = v.new(SELL, 1, PX + 10, T.STOP_LIMIT, stop_price=PX + 1, symbol=0)
    sell = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, sell), (X.TRIGGERED, sell)]


def test_absent_last_reference_fires_nothing(v):
    # ref_price 0: a sell stop-limit at PX would fire at once if 0 were a price
    sl = v.accepted(SELL, 5, PX - 10 * TICK, T.STOP_LIMIT, stop_price=PX, symbol=NOREF)
    assert v.order(sl)["held"] == 1
    assert v.market_data(PX + TICK, symbol=NOREF) == []
    evs = v.market_data(PX, symbol=NOREF)
    assert steps(evs) == [(X.TRIGGERED, sl)]
    assert v.book(NOREF) == ([], [(PX - 10 * TICK, 5, [sl])])


@pytest.mark.parametrize("side", [BUY, SELL])
def test_trailing_stop_new_needs_its_side_reference(v, side):
    other = SELL if side == BUY else BUY
    sign = 1 if side == BUY else -1
    rejected(v.new(side, 5, 0, T.TRAILING_STOP, trail_amount=3 * TICK, symbol=BID_ASK),
             R.NO_REFERENCE_PRICE)
    # the same side of the book does not help
    v.accepted(side, 1, PX - sign * 9 * TICK, symbol=BID_ASK, account=1)
    rejected(v.new(side, 5, 0, T.TRAILING_STOP, trail_amount=3 * TICK, symbol=BID_ASK),
             R.NO_REFERENCE_PRICE)
    v.accepted(other, 1, PX + sign * 2 * TICK, symbol=BID_ASK, account=1)
    ts = v.accepted(side, 5, 0, T.TRAILING_STOP, trail_amount=3 * TICK, symbol=BID_ASK)
    assert v.order(ts)["trigger_px"] == PX + sign * 5 * TICK
    # mid: both sides are needed
    rejected(v.new(side, 5, 0, T.TRAILING_STOP, trail_bps=100, symbol=MID),
             R.NO_REFERENCE_PRICE)


def test_trailing_stop_moves_with_its_side_reference(v):
    bid = v.accepted(BUY, 10, PX, symbol=BID_ASK, account=1)
    ts = v.accepted(SELL, 5, 0, T.TRAILING_STOP, trail_amount=3 * TICK, symbol=BID_ASK)
    assert v.order(ts)["trigger_px"] == PX - 3 * TICK
    high = v.accepted(BUY, 1, PX + 5 * TICK, symbol=BID_ASK, account=1)
    assert v.order(ts)["trigger_px"] == PX + 2 * TICK            # moved with the bid
    evs = v.cancel(high)                                          # the bid falls back to PX
    assert steps(evs) == [(X.CANCELED, high), (X.TRIGGERED, ts), trade(ts, 5, PX),
                          trade(bid, 5, PX)]


def test_set_symbol_changes_the_trigger_source_and_triggers(make):
    v = make()
    stop = v.stop(BUY, 1, PX + 2 * TICK)                          # last: PX, held
    ask = v.accepted(SELL, 1, PX + 3 * TICK, account=1)
    fields = dict(symbol_id=LAST, price=TICK, qty=1, min_qty=1, display_qty=1_000_000,
                  stop_price=PX, orig_cl_ord_id=86_400)
    ev, = v.admin(AdminOp.SET_SYMBOL, exec_inst=3, **fields)
    assert ev["reject_code"] == R.INVALID_ADMIN
    evs = v.admin(AdminOp.SET_SYMBOL, exec_inst=1, **fields)      # bid_ask: the ask
    assert evs[0]["kind"] == E.ADMIN_REPORT and evs[0]["reject_code"] == 0
    assert steps(evs[1:]) == [(X.TRIGGERED, stop), trade(stop, 1, PX + 3 * TICK),
                              trade(ask, 1, PX + 3 * TICK)]
    if isinstance(v.b, ModelVenue):
        assert v.b.m.symbols()[LAST]["trigger_source"] == 1
    else:
        assert int(v.b.core.symbols()[LAST]["trigger_source"]) == 1


# =============================================================================================
# The six groups and the next order to trigger
# =============================================================================================


@pytest.mark.parametrize("first", ["touch", "stop"])
def test_two_groups_firing_at_once_lower_order_id_first(v, first):
    # a buy limit-if-touched (fires when the reference falls to PX - 1 tick) and a sell
    # stop-limit (falls to PX - 2 ticks); both rest when triggered, without crossing
    def touch():
        return v.accepted(BUY, 1, PX - 5 * TICK, T.LIMIT_IF_TOUCHED, stop_price=PX - TICK)

    def stop():
        return v.accepted(SELL, 1, PX - 4 * TICK, T.STOP_LIMIT, stop_price=PX - 2 * TICK)
    ids = [touch(), stop()] if first == "touch" else [stop(), touch()]
    evs = v.market_data(PX - 3 * TICK)
    assert steps(evs) == [(X.TRIGGERED, ids[0]), (X.TRIGGERED, ids[1])]


def test_within_a_group_the_trigger_price_reached_first(v):
    a = v.accepted(SELL, 1, PX - 10 * TICK, T.STOP_LIMIT, stop_price=PX - 3 * TICK)
    b = v.accepted(SELL, 1, PX - 10 * TICK, T.STOP_LIMIT, stop_price=PX - TICK)
    evs = v.market_data(PX - 5 * TICK)
    # the falling price reaches b's trigger (PX - 1 tick) before a's
    assert steps(evs) == [(X.TRIGGERED, b), (X.TRIGGERED, a)]


def test_next_order_is_the_lowest_id_among_the_groups_first_orders(v):
    a = v.accepted(BUY, 1, PX - 10 * TICK, T.STOP_LIMIT, stop_price=PX + 2 * TICK)
    c = v.accepted(SELL, 1, PX + 10 * TICK, T.LIMIT_IF_TOUCHED, stop_price=PX + TICK)
    b = v.accepted(BUY, 1, PX - 10 * TICK, T.STOP_LIMIT, stop_price=PX + TICK)
    evs = v.market_data(PX + 3 * TICK)
    # firsts: buy stops -> b (lowest trigger), sell touches -> c; c has the lower id.  a,
    # although it fires and has the lowest id of all, waits for its group's turn
    assert steps(evs) == [(X.TRIGGERED, c), (X.TRIGGERED, b), (X.TRIGGERED, a)]


def test_trailing_group_ordered_by_the_moved_triggers(v):
    wide = v.accepted(SELL, 1, 0, T.TRAILING_STOP, trail_amount=6 * TICK)
    tight = v.accepted(SELL, 1, 0, T.TRAILING_STOP, trail_amount=2 * TICK)
    assert v.market_data(PX + 10 * TICK) == []
    assert (v.order(wide)["trigger_px"], v.order(tight)["trigger_px"]) == (
        PX + 4 * TICK, PX + 8 * TICK)
    evs = v.market_data(PX)
    assert steps(evs) == [(X.TRIGGERED, tight), (X.CANCELED, tight),
                          (X.TRIGGERED, wide), (X.CANCELED, wide)]


def test_lowest_symbol_id_triggers_first(v):
    # both symbols: account 1 offers at PX + 1 tick, account 2 at PX + 5 ticks; the mid
    # symbol also has a bid at PX
    far = {}
    for sym in (BID_ASK, MID):
        v.accepted(SELL, 1, PX + TICK, symbol=sym, account=1)
        far[sym] = v.accepted(SELL, 5, PX + 5 * TICK, symbol=sym, account=2)
    v.accepted(BUY, 1, PX, symbol=MID, account=2)
    mid_stop = v.stop(BUY, 5, PX + 2 * TICK, symbol=MID)          # mid PX + 50: held
    ba_stop = v.stop(BUY, 5, PX + 3 * TICK, symbol=BID_ASK)       # ask PX + 1 tick: held
    evs = v.mass_cancel(MassCancelScope.ACCOUNT, account_id=1)
    assert [e["kind"] for e in evs[:3]] == [E.EXEC_REPORT, E.EXEC_REPORT,
                                            E.MASS_CANCEL_REPORT]
    assert [(e["exec_type"], e["order_id"], e["symbol_id"]) for e in evs[3:]] == [
        (X.TRIGGERED, ba_stop, BID_ASK), (X.TRADE, ba_stop, BID_ASK),
        (X.TRADE, far[BID_ASK], BID_ASK), (X.TRIGGERED, mid_stop, MID),
        (X.TRADE, mid_stop, MID), (X.TRADE, far[MID], MID)]


def test_triggers_wait_for_the_contingent_queue(v):
    # a sell fills a parent at PX - 3 ticks; its child, activated before any trigger is
    # examined, buys at PX + 1 tick: the buy MIT at PX - 2 ticks never sees the low price
    parent = v.accepted(BUY, 1, PX - 3 * TICK)
    child = v.accepted(BUY, 1, PX + TICK, parent=parent)
    ask = v.accepted(SELL, 1, PX + TICK, account=1)
    mit = v.accepted(BUY, 1, 0, T.MARKET_IF_TOUCHED, stop_price=PX - 2 * TICK, account=2)
    evs = v.new(SELL, 1, PX - 3 * TICK, account=3)
    agg = evs[0]["order_id"]
    assert steps(evs) == [(X.NEW, agg), trade(agg, 1, PX - 3 * TICK),
                          trade(parent, 1, PX - 3 * TICK), (X.TRIGGERED, child),
                          trade(child, 1, PX + TICK), trade(ask, 1, PX + TICK)]
    assert v.order(mit)["held"] == 1




# =============================================================================================
# Auction orders and links
# =============================================================================================


def test_auction_order_does_not_wait_but_may_be_a_parent_or_a_peer(v):
    p = v.accepted(BUY, 5, PX, tif=TIF.GTC)
    rejected(v.new(SELL, 5, PX + TICK, tif=TIF.AT_CLOSE, parent=p), R.LINK_NOT_ALLOWED)
    rejected(v.new(SELL, 5, PX + TICK, tif=TIF.AT_CLOSE, oco=p), R.LINK_NOT_ALLOWED)
    auc = v.accepted(SELL, 5, PX + TICK, tif=TIF.AT_CLOSE)
    child = v.accepted(BUY, 5, PX - TICK, tif=TIF.GTC, parent=auc)
    peer = v.accepted(SELL, 5, PX + 2 * TICK, tif=TIF.GTC, oco=auc)
    assert [v.order(i)["held"] for i in (auc, child, peer)] == [3, 2, 0]
    assert (v.order(auc)["child_order_id"], v.order(auc)["oco_order_id"]) == (child, peer)
    # the closing auction (midnight) finds nothing to cross: the auction order is cancelled,
    # and its end cancels its peer, then its child
    evs = v.timer(T0 - T0 % DAY_NS + DAY_NS)
    assert steps(evs) == [(X.CANCELED, auc), cancelled(peer, R.LINKED_ORDER_ENDED),
                          cancelled(child, R.LINKED_ORDER_ENDED)]
    assert v.order(p)["status"] == S.ACCEPTED


def test_auction_fill_activates_a_child(v):
    auc = v.accepted(SELL, 5, PX, tif=TIF.AT_CLOSE)
    child = v.accepted(BUY, 5, PX - 5 * TICK, tif=TIF.GTC, parent=auc)
    bid = v.accepted(BUY, 5, PX, tif=TIF.GTC, account=1)
    evs = v.timer(T0 - T0 % DAY_NS + DAY_NS)
    assert steps(evs) == [trade(bid, 5, PX), trade(auc, 5, PX), (X.TRIGGERED, child)]
    assert v.book() == ([(PX - 5 * TICK, 5, [child])], [])
