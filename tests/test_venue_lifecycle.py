"""External venues and routing (issue 9), scenario by scenario, against docs/engine.md
("External venues and routing"): routing (ex_destination, PRIMARY and CHEAPEST rules, an
unhealthy venue passed over, every route reject), acceptance of a routed order, the requests
sent to a venue (VENUE_REQUEST events), client and OMS cancels and replaces of an order at a
venue, and every VENUE_EXEC op.

Each scenario runs twice: on the reference model (tests/model.py) and on the compiled core
(`Core.process`), through tests/test_order_types.py's backend fixture, so each states the
expected behaviour once.
"""

from __future__ import annotations

import pytest

from test_order_types import backend_factory, engine_core  # noqa: F401 (fixtures)
from oms.codes import RejectCode as R
from oms.config import AccountConfig, EngineConfig, SymbolConfig, VenueConfig, VenueListing
from oms.layout import (
    AdminOp,
    CommandType as K,
    CxlRejResponseTo as RT,
    EventType as E,
    ExecType as X,
    MassCancelScope,
    OrdStatus as S,
    OrdType as T,
    Side,
    TimeInForce as TIF,
    VenueExec as V,
    VenueOrderState as VS,
    VenueRequest as VR,
)

BUY, SELL = int(Side.BUY), int(Side.SELL)
NS = 10**9
DAY_NS = 86_400 * NS
T0 = 20_000 * DAY_NS + 12 * 3600 * NS        # 12:00 UTC
PX = 1_000_000                               # 100.00
TICK = 100

AAA, CHP, LOC, TCK = 0, 1, 2, 3              # symbol ids
V1, V2, V3 = 1, 2, 3                         # venue ids
UP, DOWN, DEGRADED = 1, 0, 2


def config(**over) -> EngineConfig:
    venues = [
        VenueConfig(V1, "V1", taker_fee=30, cancel_on_disconnect=True),
        VenueConfig(V2, "V2", taker_fee=5, features=["iceberg", "post_only", "min_qty"]),
        VenueConfig(V3, "V3", taker_fee=-10, ord_types=["limit"]),
    ]
    symbols = [
        SymbolConfig(AAA, "AAA", tick_size=TICK, ref_price=PX,
                     venues=[VenueListing("V2"), VenueListing("V1")], primary_venue="V1"),
        SymbolConfig(CHP, "CHP", tick_size=TICK, ref_price=PX, route_rule="cheapest",
                     venues=[VenueListing("V1"), VenueListing("V2"), VenueListing("V3")]),
        SymbolConfig(LOC, "LOC", tick_size=TICK, ref_price=PX),
        SymbolConfig(TCK, "TCK", tick_size=TICK, ref_price=PX, lot_size=1,
                     venues=[VenueListing("V1", tick_size=5 * TICK, lot_size=10)]),
    ]
    accounts = [AccountConfig(i, f"A{i}") for i in range(3)]
    params = dict(max_orders=256, max_symbols=4, max_accounts=3, idem_capacity=256,
                  max_levels=32, symbols=symbols, accounts=accounts, venues=venues)
    params.update(over)
    return EngineConfig(**params)


def positions(backend, aid: int, sid: int) -> dict:
    """A position row, read the same way from either backend."""
    if hasattr(backend, "m"):
        return backend.m.positions().get((aid, sid), {})
    row = backend.core.positions()[aid, sid]
    out = {n: int(row[n]) for n in row.dtype.names if not n.startswith("_")}
    return out if any(out.values()) else {}


class Desk:
    """Command builders over a backend; orders are session 1, account 0 unless given."""

    def __init__(self, backend):
        self.b = backend
        self.t = T0
        self.cl = 0

    def run(self, c: dict) -> list[dict]:
        c.setdefault("time_ns", self.t)
        return self.b.process(c)

    def new(self, side=BUY, qty=10, price=PX, ord_type=T.LIMIT, tif=TIF.DAY, account=0,
            symbol=AAA, dest=0, **kw) -> list[dict]:
        self.cl += 1
        return self.run(dict(kind=K.NEW, session_id=1, cl_ord_id=self.cl, side=side, qty=qty,
                             price=price, ord_type=ord_type, tif=tif, account_id=account,
                             symbol_id=symbol, ex_destination=dest, **kw))

    def routed(self, *args, **kw) -> int:
        """A NEW routed to a venue at once: PENDING_NEW then VENUE_REQUEST NEW_ORDER."""
        evs = self.new(*args, **kw)
        assert [(e["kind"], e["exec_type"]) for e in evs] == [
            (E.EXEC_REPORT, X.PENDING_NEW), (E.VENUE_REQUEST, VR.NEW_ORDER)], evs
        return evs[0]["order_id"]

    def cancel(self, order_id, cl=0) -> list[dict]:
        return self.run(dict(kind=K.CANCEL, session_id=1, order_id=order_id, cl_ord_id=cl))

    def replace(self, order_id, price, qty, cl=None) -> list[dict]:
        self.cl += 1
        return self.run(dict(kind=K.REPLACE, session_id=1, order_id=order_id,
                             cl_ord_id=self.cl if cl is None else cl, price=price, qty=qty))

    def venue(self, op, oid=0, n=1, venue=V1, qty=0, price=0, **kw) -> list[dict]:
        return self.run(dict(kind=K.VENUE_EXEC, venue_id=venue, admin_op=int(op),
                             cl_ord_id=oid << 16 | n, qty=qty, price=price, **kw))

    def session(self, venue, state, seq=0) -> list[dict]:
        evs = self.run(dict(kind=K.VENUE_EXEC, venue_id=venue, admin_op=int(V.SESSION),
                            flags=state, venue_seq=seq))
        assert evs[-1]["kind"] == E.ADMIN_REPORT and evs[-1]["exec_type"] == V.SESSION, evs
        return evs

    def up(self, *venues):
        for v in venues or (V1, V2, V3):
            assert self.session(v, UP)[-1]["reject_code"] == 0

    def order(self, oid) -> dict:
        return self.b.orders()[oid]

    def account(self, aid=0) -> dict:
        return self.b.account(aid)


@pytest.fixture
def make(backend_factory):
    return lambda cfg=None: Desk(backend_factory(cfg or config()))


@pytest.fixture
def d(make):
    desk = make()
    desk.up()
    return desk


def steps(evs) -> list[tuple]:
    """(kind, exec_type, order_id) of each event, plus the reject code when there is one."""
    out = []
    for e in evs:
        step = (E(e["kind"]).name, e["exec_type"], e["order_id"])
        if e["reject_code"]:
            step += (R(e["reject_code"]),)
        out.append(step)
    return out


def vcl(oid, n):
    return oid << 16 | n


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------


def test_venues_start_down_and_routing_needs_them_up(make):
    d = make()
    ev = d.new(dest=1 + V1)[0]
    assert (ev["exec_type"], ev["reject_code"]) == (X.REJECTED, R.VENUE_UNAVAILABLE)
    ev = d.new()[0]
    assert (ev["exec_type"], ev["reject_code"]) == (X.REJECTED, R.NO_ROUTE)
    assert ev["venue_id"] == 0 and ev["order_id"] == 0
    d.up(V1)
    assert d.new()[0]["venue_id"] == V1


def test_primary_rule_routes_to_the_primary_then_by_id(d):
    evs = d.new()
    pending, req = evs
    assert (pending["exec_type"], pending["status"], pending["venue_id"]) == (
        X.PENDING_NEW, S.ROUTED, V1)
    assert pending["version"] == 1 and pending["leaves_qty"] == 10
    assert (req["kind"], req["exec_type"], req["venue_id"]) == (E.VENUE_REQUEST, VR.NEW_ORDER, V1)
    oid = pending["order_id"]
    assert (req["venue_cl_ord_id"], req["venue_orig_cl_ord_id"]) == (vcl(oid, 1), 0)
    assert (req["ord_type"], req["price"], req["qty"], req["leaves_qty"]) == (T.LIMIT, PX, 10, 10)
    assert pending["venue_cl_ord_id"] == 0
    o = d.order(oid)
    assert (o["status"], o["venue_id"], o["venue_state"], o["venue_live_req"],
            o["venue_last_req"]) == (S.ROUTED, V1, VS.NEW_SENT, 1, 1)
    assert o["reserved_notional"] == 10 * PX and d.account()["open_notional"] == 10 * PX
    # V1 (the primary) does not take icebergs: the next listed by id that does, V2
    assert d.new(qty=10, display_qty=2)[0]["venue_id"] == V2
    # the primary unhealthy: passed over
    d.session(V1, DEGRADED)
    assert d.new()[0]["venue_id"] == V2


def test_cheapest_rule_routes_by_taker_fee(d):
    assert d.new(symbol=CHP)[0]["venue_id"] == V3            # taker fee -10
    # V3 takes limit orders only: a market order goes to the next cheapest, V2
    evs = d.new(symbol=CHP, ord_type=T.MARKET, price=0, tif=TIF.IOC)
    assert evs[0]["venue_id"] == V2
    assert (evs[1]["ord_type"], evs[1]["price"]) == (T.MARKET, 0)
    d.session(V3, DOWN)
    assert d.new(symbol=CHP)[0]["venue_id"] == V2
    d.session(V2, DEGRADED)
    assert d.new(symbol=CHP)[0]["venue_id"] == V1


def test_no_route_when_no_listed_venue_takes_the_order(d):
    # the auction TIFs are not in the venues' default tif masks
    ev = d.new(tif=TIF.AT_CLOSE)[0]
    assert (ev["exec_type"], ev["reject_code"]) == (X.REJECTED, R.NO_ROUTE)
    d.session(V2, DOWN)
    ev = d.new(display_qty=2)[0]                             # only V2 takes icebergs
    assert ev["reject_code"] == R.NO_ROUTE
    assert d.b.orders() == {} or all(o["venue_id"] != V2 for o in d.b.orders().values())


def test_ex_destination_names_the_venue(d):
    assert d.new(dest=1 + V2)[0]["venue_id"] == V2
    evs = d.new(dest=1)                                      # INTERNAL
    assert [(e["exec_type"], e["venue_id"]) for e in evs] == [(X.NEW, 0)]
    # a symbol with no listing goes INTERNAL with the router's choice
    assert [(e["exec_type"], e["venue_id"]) for e in d.new(symbol=LOC)] == [(X.NEW, 0)]


@pytest.mark.parametrize("kw, code", [
    (dict(dest=1 + 9), R.UNKNOWN_DESTINATION),               # not configured
    (dict(dest=1 + 16), R.UNKNOWN_DESTINATION),              # not below MAX_VENUES
    (dict(dest=65535), R.UNKNOWN_DESTINATION),
    (dict(dest=1 + V3, symbol=AAA), R.VENUE_NOT_LISTED),
    (dict(dest=1 + V1, symbol=LOC), R.VENUE_NOT_LISTED),
    (dict(dest=1 + V3, symbol=CHP, ord_type=T.MARKET, price=0, tif=TIF.IOC),
     R.VENUE_UNSUPPORTED_ORDER),
    (dict(dest=1 + V3, symbol=CHP, ord_type=T.STOP, price=0, stop_price=PX + TICK),
     R.VENUE_UNSUPPORTED_ORDER),                             # a STOP is sent as MARKET
    (dict(dest=1 + V1, display_qty=2), R.VENUE_UNSUPPORTED_ORDER),
    (dict(dest=1 + V1, min_qty=2), R.VENUE_UNSUPPORTED_ORDER),
    (dict(dest=1 + V1, exec_inst=1), R.VENUE_UNSUPPORTED_ORDER),
    (dict(dest=1 + V1, tif=TIF.AT_CLOSE), R.VENUE_UNSUPPORTED_ORDER),
    (dict(dest=1 + V1, symbol=TCK, price=PX + TICK), R.VENUE_TICK_OR_LOT),
    (dict(dest=1 + V1, symbol=TCK, qty=15), R.VENUE_TICK_OR_LOT),
])
def test_route_rejects(d, kw, code):
    ev = d.new(**kw)
    assert len(ev) == 1 and (ev[0]["exec_type"], ev[0]["status"], ev[0]["reject_code"]) == (
        X.REJECTED, S.REJECTED, code), ev
    assert ev[0]["venue_id"] == 0 and d.b.orders() == {}


def test_listing_tick_and_lot_passed_over_by_the_router(d):
    ev = d.new(symbol=TCK, price=PX + TICK)[0]               # off V1's 500 tick
    assert ev["reject_code"] == R.NO_ROUTE
    assert d.new(symbol=TCK, price=PX + 5 * TICK, qty=20)[0]["venue_id"] == V1


def test_route_stage_comes_after_risk_and_before_capacity(make):
    cfg = config(max_orders=1, accounts=[AccountConfig(0, "A0", max_order_qty=5)])
    d = make(cfg)
    d.up()
    assert d.new(qty=10, dest=1 + 9)[0]["reject_code"] == R.RISK_MAX_ORDER_QTY
    assert d.new(qty=5)[0]["exec_type"] == X.PENDING_NEW
    assert d.new(qty=5, dest=1 + 9)[0]["reject_code"] == R.UNKNOWN_DESTINATION
    assert d.new(qty=5)[0]["reject_code"] == R.ORDER_STORE_FULL


def test_without_venues_nothing_changes(make):
    cfg = config(venues=[], symbols=[SymbolConfig(AAA, "AAA", tick_size=TICK, ref_price=PX)])
    d = make(cfg)
    evs = d.new(dest=1 + V1)
    assert [(e["exec_type"], e["venue_id"]) for e in evs] == [(X.NEW, 0)]
    # "Unknown kind (including VENUE_EXEC, which needs an external venue)": still unknown
    ev = d.venue(V.SESSION, flags=UP)[0]
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (
        E.ADMIN_REPORT, 0, R.UNKNOWN_COMMAND)


# ---------------------------------------------------------------------------------------------
# The whole life of an order at a venue
# ---------------------------------------------------------------------------------------------


def test_ack_partial_fill_replace_replaced_fill(d):
    oid = d.routed()
    evs = d.venue(V.ACK, oid)
    assert steps(evs) == [("EXEC_REPORT", X.NEW, oid)]
    assert (evs[0]["status"], evs[0]["version"], evs[0]["venue_id"]) == (S.ACCEPTED, 1, V1)
    assert d.order(oid)["venue_state"] == VS.LIVE

    ev = d.venue(V.FILL, oid, qty=4, price=PX)[0]
    assert (ev["exec_type"], ev["status"], ev["last_qty"], ev["last_px"], ev["cum_qty"],
            ev["leaves_qty"], ev["trade_id"], ev["version"]) == (
        X.TRADE, S.PARTIALLY_FILLED, 4, PX, 4, 6, 1, 2)
    assert positions(d.b, 0, AAA)["net_qty"] == 4
    assert d.account()["open_notional"] == 6 * PX

    evs = d.replace(oid, PX - TICK, 12)
    rep_cl = d.cl
    assert steps(evs) == [("EXEC_REPORT", X.PENDING_REPLACE, oid),
                          ("VENUE_REQUEST", VR.REPLACE, oid)]
    pend, req = evs
    assert (pend["status"], pend["cl_ord_id"], pend["orig_cl_ord_id"], pend["price"],
            pend["qty"], pend["leaves_qty"], pend["version"]) == (
        S.PENDING_REPLACE, rep_cl, 1, PX - TICK, 12, 6, 2)
    assert (req["cl_ord_id"], req["price"], req["qty"], req["venue_cl_ord_id"],
            req["venue_orig_cl_ord_id"]) == (1, PX - TICK, 12, vcl(oid, 2), vcl(oid, 1))
    o = d.order(oid)
    assert (o["price"], o["qty"], o["status"], o["venue_state"], o["pending_cl_ord_id"],
            o["venue_last_req"], o["venue_live_req"]) == (
        PX, 10, S.PENDING_REPLACE, VS.REPLACE_SENT, rep_cl, 2, 1)
    assert d.account()["open_notional"] == 6 * PX                # the reservation stays
    # a second request while one is in flight
    assert steps(d.cancel(oid)) == [("CANCEL_REJECT", 0, oid, R.ORDER_PENDING)]

    ev = d.venue(V.REPLACED, oid, n=2, qty=12, price=PX - TICK)[0]
    assert (ev["exec_type"], ev["status"], ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["price"],
            ev["qty"], ev["leaves_qty"], ev["version"]) == (
        X.REPLACED, S.PARTIALLY_FILLED, rep_cl, 1, PX - TICK, 12, 8, 3)
    o = d.order(oid)
    assert (o["venue_state"], o["venue_live_req"], o["pending_cl_ord_id"], o["risk_px"]) == (
        VS.LIVE, 2, 0, PX - TICK)
    assert d.account()["open_notional"] == 8 * (PX - TICK)
    # the index moved to the new ClOrdID
    st = d.run(dict(kind=K.STATUS, session_id=1, orig_cl_ord_id=rep_cl))[0]
    assert st["order_id"] == oid and st["reject_code"] == 0

    ev = d.venue(V.FILL, oid, n=2, qty=8, price=PX - TICK)[0]
    assert (ev["status"], ev["cum_qty"], ev["leaves_qty"], ev["avg_px"]) == (
        S.FILLED, 12, 0, (4 * PX + 8 * (PX - TICK)) // 12)
    o = d.order(oid)
    assert o["venue_state"] == VS.DONE and o["reserved_notional"] == 0
    assert d.account()["open_notional"] == 0
    assert positions(d.b, 0, AAA)["net_qty"] == 12
    assert d.b.symbol(AAA)["ref_price"] == PX - TICK


def test_cancel_then_cancel_reject_too_late_then_fill(d):
    oid = d.routed()
    d.venue(V.ACK, oid)
    evs = d.cancel(oid, cl=77)
    assert steps(evs) == [("EXEC_REPORT", X.PENDING_CANCEL, oid), ("VENUE_REQUEST", VR.CANCEL, oid)]
    assert (evs[0]["cl_ord_id"], evs[0]["orig_cl_ord_id"], evs[0]["status"]) == (
        77, 1, S.PENDING_CANCEL)
    assert (evs[1]["cl_ord_id"], evs[1]["venue_cl_ord_id"], evs[1]["venue_orig_cl_ord_id"]) == (
        1, vcl(oid, 2), vcl(oid, 1))
    o = d.order(oid)
    assert (o["venue_state"], o["pending_cl_ord_id"], o["pending_code"]) == (VS.CANCEL_SENT, 77, 0)
    ev = d.venue(V.CANCEL_REJECT, oid, n=2, reason=R.VENUE_TOO_LATE)[0]
    assert (ev["kind"], ev["response_to"], ev["reject_code"], ev["cl_ord_id"],
            ev["orig_cl_ord_id"], ev["status"]) == (
        E.CANCEL_REJECT, RT.CANCEL, R.VENUE_TOO_LATE, 77, 1, S.ACCEPTED)
    o = d.order(oid)
    assert (o["status"], o["venue_state"], o["pending_cl_ord_id"]) == (S.ACCEPTED, VS.LIVE, 0)
    ev = d.venue(V.FILL, oid, n=2, qty=10, price=PX)[0]
    assert ev["status"] == S.FILLED and d.order(oid)["venue_state"] == VS.DONE


def test_cancel_confirmed_with_the_clients_clordid(d):
    oid = d.routed()
    d.venue(V.ACK, oid)
    d.cancel(oid, cl=55)
    ev = d.venue(V.CANCELED, oid, n=2)[0]
    assert (ev["exec_type"], ev["status"], ev["cl_ord_id"], ev["orig_cl_ord_id"],
            ev["leaves_qty"], ev["reject_code"]) == (X.CANCELED, S.CANCELLED, 55, 1, 0, 0)
    assert d.order(oid)["venue_state"] == VS.DONE and d.account()["open_notional"] == 0
    # the venue cannot cancel it again
    ev = d.venue(V.CANCELED, oid, n=2)[0]
    assert (ev["kind"], ev["exec_type"], ev["reject_code"], ev["venue_id"], ev["cl_ord_id"]) == (
        E.ADMIN_REPORT, V.CANCELED, R.VENUE_UNEXPECTED_REPORT, V1, vcl(oid, 2))


def test_venue_reject_of_a_routed_order(d):
    oid = d.routed()
    ev = d.venue(V.REJECT, oid, reason=R.VENUE_EXCHANGE_CLOSED)[0]
    assert (ev["exec_type"], ev["status"], ev["reject_code"], ev["leaves_qty"]) == (
        X.REJECTED, S.REJECTED, R.VENUE_EXCHANGE_CLOSED, 0)
    assert d.order(oid)["venue_state"] == VS.DONE and d.account()["open_notional"] == 0
    oid = d.routed()
    assert d.venue(V.REJECT, oid)[0]["reject_code"] == R.VENUE_REJECTED     # reason 0
    # a reject after the ack does not fit
    oid = d.routed()
    d.venue(V.ACK, oid)
    assert d.venue(V.REJECT, oid)[0]["reject_code"] == R.VENUE_UNEXPECTED_REPORT
    assert d.order(oid)["status"] == S.ACCEPTED


def test_routed_order_cancel_and_replace_are_pending(d):
    oid = d.routed()
    ev = d.cancel(oid, cl=9)[0]
    assert (ev["kind"], ev["response_to"], ev["reject_code"], ev["cl_ord_id"],
            ev["orig_cl_ord_id"], ev["status"], ev["venue_id"]) == (
        E.CANCEL_REJECT, RT.CANCEL, R.ORDER_PENDING, 9, 1, S.ROUTED, V1)
    ev = d.replace(oid, PX, 20)[0]
    assert (ev["response_to"], ev["reject_code"]) == (RT.REPLACE, R.ORDER_PENDING)
    assert d.order(oid)["venue_last_req"] == 1


def test_implicit_ack_by_a_fill(d):
    oid = d.routed()
    evs = d.venue(V.FILL, oid, qty=3, price=PX)
    assert [(e["exec_type"], e["status"]) for e in evs] == [
        (X.NEW, S.ACCEPTED), (X.TRADE, S.PARTIALLY_FILLED)]
    assert d.order(oid)["venue_state"] == VS.LIVE


def test_cancel_on_disconnect(d):
    a = d.routed()                                           # NEW_SENT, ROUTED
    b = d.routed()
    d.venue(V.ACK, b)                                        # LIVE
    c = d.routed(dest=1 + V2)                                # another venue
    evs = d.session(V1, DOWN)
    assert steps(evs) == [("EXEC_REPORT", X.REJECTED, a, R.VENUE_DISCONNECTED),
                          ("EXEC_REPORT", X.CANCELED, b, R.VENUE_DISCONNECTED),
                          ("ADMIN_REPORT", V.SESSION, 0)]
    assert evs[-1]["trade_id"] == 2 and evs[-1]["venue_id"] == V1
    assert d.order(a)["status"] == S.REJECTED and d.order(b)["status"] == S.CANCELLED
    assert d.order(c)["status"] == S.ROUTED
    assert d.account()["open_notional"] == 10 * PX
    # V2 does not cancel on disconnect
    evs = d.session(V2, DOWN)
    assert len(evs) == 1 and evs[0]["trade_id"] == 0
    assert d.order(c)["venue_state"] == VS.NEW_SENT


def test_kill_switch_defers_the_cancel_of_an_unacknowledged_order(d):
    oid = d.routed()
    evs = d.run(dict(kind=K.ADMIN, admin_op=int(AdminOp.KILL_SWITCH_ON)))
    assert steps(evs) == [("ADMIN_REPORT", AdminOp.KILL_SWITCH_ON, 0)]
    assert evs[0]["trade_id"] == 1
    o = d.order(oid)
    assert (o["status"], o["venue_flags"], o["pending_code"]) == (
        S.ROUTED, 1, R.KILL_SWITCH_ACTIVE)
    evs = d.venue(V.ACK, oid)
    assert steps(evs) == [("EXEC_REPORT", X.NEW, oid),
                          ("EXEC_REPORT", X.PENDING_CANCEL, oid, R.KILL_SWITCH_ACTIVE),
                          ("VENUE_REQUEST", VR.CANCEL, oid)]
    assert evs[2]["venue_cl_ord_id"] == vcl(oid, 2)
    o = d.order(oid)
    assert (o["venue_flags"], o["venue_state"], o["pending_cl_ord_id"]) == (0, VS.CANCEL_SENT, 0)
    ev = d.venue(V.CANCELED, oid, n=2)[0]
    assert (ev["status"], ev["reject_code"], ev["cl_ord_id"]) == (
        S.CANCELLED, R.KILL_SWITCH_ACTIVE, 1)


def test_mass_cancel_selects_routed_live_and_replacing_not_cancelling(d):
    a = d.routed()                                           # ROUTED: deferred
    b = d.routed()
    d.venue(V.ACK, b)                                        # LIVE: cancel sent
    c = d.routed()
    d.venue(V.ACK, c)
    d.replace(c, PX, 20)                                     # PENDING_REPLACE: deferred
    e = d.routed()
    d.venue(V.ACK, e)
    d.cancel(e)                                              # PENDING_CANCEL: not selected
    f = d.new(symbol=LOC)[0]["order_id"]                     # internal
    evs = d.run(dict(kind=K.MASS_CANCEL, admin_op=int(MassCancelScope.ALL)))
    assert steps(evs) == [("EXEC_REPORT", X.PENDING_CANCEL, b), ("VENUE_REQUEST", VR.CANCEL, b),
                          ("EXEC_REPORT", X.CANCELED, f), ("MASS_CANCEL_REPORT", 0, 0)]
    assert evs[-1]["trade_id"] == 4
    assert d.order(a)["venue_flags"] == 1 and d.order(c)["venue_flags"] == 1
    # the replace is confirmed: then the deferred cancel goes out
    evs = d.venue(V.REPLACED, c, n=2, qty=20, price=PX)
    assert steps(evs) == [("EXEC_REPORT", X.REPLACED, c), ("EXEC_REPORT", X.PENDING_CANCEL, c),
                          ("VENUE_REQUEST", VR.CANCEL, c)]
    assert evs[2]["venue_orig_cl_ord_id"] == vcl(c, 2) and evs[2]["venue_cl_ord_id"] == vcl(c, 3)


def test_fill_while_pending_cancel_then_too_late(d):
    oid = d.routed()
    d.venue(V.ACK, oid)
    d.cancel(oid)
    ev = d.venue(V.FILL, oid, n=2, qty=4, price=PX)[0]
    assert (ev["status"], ev["cum_qty"], ev["leaves_qty"]) == (S.PENDING_CANCEL, 4, 6)
    ev = d.venue(V.FILL, oid, n=2, qty=6, price=PX)[0]
    assert (ev["status"], ev["leaves_qty"]) == (S.FILLED, 0)
    assert d.order(oid)["venue_state"] == VS.CANCEL_SENT       # the venue owes its answer
    ev = d.venue(V.CANCEL_REJECT, oid, n=2, reason=R.VENUE_TOO_LATE)[0]
    assert (ev["kind"], ev["status"], ev["reject_code"]) == (
        E.CANCEL_REJECT, S.FILLED, R.VENUE_TOO_LATE)
    assert d.order(oid)["venue_state"] == VS.DONE


def test_filled_while_replacing_takes_no_replaced_report(d):
    oid = d.routed()
    d.venue(V.ACK, oid)
    d.replace(oid, PX - TICK, 20)
    ev = d.venue(V.FILL, oid, n=2, qty=10, price=PX)[0]
    assert (ev["status"], ev["leaves_qty"]) == (S.FILLED, 0)
    assert d.order(oid)["venue_state"] == VS.REPLACE_SENT      # the venue owes its answer
    o = d.order(oid)
    ev = d.venue(V.REPLACED, oid, n=2, qty=20, price=PX - TICK)[0]
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (
        E.ADMIN_REPORT, V.REPLACED, R.VENUE_UNEXPECTED_REPORT)
    assert d.order(oid) == o
    ev = d.venue(V.CANCEL_REJECT, oid, n=2, reason=R.VENUE_TOO_LATE)[0]
    assert (ev["kind"], ev["response_to"], ev["status"]) == (E.CANCEL_REJECT, RT.REPLACE,
                                                             S.FILLED)
    assert d.order(oid)["venue_state"] == VS.DONE


def test_overfill_and_late_fill(d):
    oid = d.routed()
    ev = d.venue(V.FILL, oid, qty=12, price=PX)[-1]
    assert (ev["status"], ev["cum_qty"], ev["leaves_qty"], ev["reject_code"]) == (
        S.FILLED, 12, 0, R.VENUE_OVERFILL)
    ev = d.venue(V.FILL, oid, qty=1, price=PX + TICK)[0]
    assert (ev["exec_type"], ev["status"], ev["cum_qty"], ev["leaves_qty"], ev["reject_code"],
            ev["trade_id"]) == (X.TRADE, S.FILLED, 13, 0, R.VENUE_LATE_FILL, 2)
    assert positions(d.b, 0, AAA)["net_qty"] == 13
    assert d.b.symbol(AAA)["ref_price"] == PX + TICK


def test_bust_and_correct_with_positions(d):
    oid = d.routed(side=SELL)
    d.venue(V.ACK, oid)
    d.venue(V.FILL, oid, qty=4, price=PX)
    assert positions(d.b, 0, AAA)["net_qty"] == -4
    # BUST of the whole fill: leaves back, PARTIALLY_FILLED -> ACCEPTED (BUST's changes are
    # listed: updated_ns is not among them)
    updated = d.order(oid)["updated_ns"]
    d.t += NS
    ev = d.venue(V.BUST, oid, qty=4, price=PX)[0]
    assert d.order(oid)["updated_ns"] == updated
    assert (ev["exec_type"], ev["status"], ev["cum_qty"], ev["leaves_qty"], ev["last_qty"],
            ev["last_px"], ev["trade_id"], ev["avg_px"]) == (
        X.TRADE_CANCEL, S.ACCEPTED, 0, 10, 4, PX, 2, 0)
    p = positions(d.b, 0, AAA)
    assert (p["net_qty"], p["sold_qty"], p["bought_qty"]) == (0, 4, 4)
    assert d.account()["open_notional"] == 10 * PX
    # bust more than was filled
    ev = d.venue(V.BUST, oid, qty=1, price=PX)[0]
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (
        E.ADMIN_REPORT, V.BUST, R.INVALID_QTY)
    d.venue(V.FILL, oid, qty=5, price=PX)
    # CORRECT: 5 at PX becomes 3 at PX + TICK
    v0 = d.order(oid)["version"]
    ev = d.venue(V.CORRECT, oid, display_qty=5, stop_price=PX, qty=3, price=PX + TICK)[0]
    assert (ev["exec_type"], ev["status"], ev["cum_qty"], ev["leaves_qty"], ev["last_qty"],
            ev["last_px"], ev["trade_id"], ev["reject_code"]) == (
        X.TRADE_CORRECT, S.PARTIALLY_FILLED, 3, 7, 3, PX + TICK, 4, 0)
    assert ev["avg_px"] == PX + TICK
    assert d.order(oid)["version"] == v0 + 2             # booked as by BUST and FILL
    p = positions(d.b, 0, AAA)
    assert p["net_qty"] == -3 and p["avg_px"] == PX + TICK
    # CORRECT of a trade larger than the fills: nothing changes
    ev = d.venue(V.CORRECT, oid, display_qty=4, stop_price=PX, qty=1, price=PX)[0]
    assert (ev["kind"], ev["reject_code"]) == (E.ADMIN_REPORT, R.INVALID_QTY)
    assert d.order(oid)["cum_qty"] == 3


def test_duplicate_venue_seq(d):
    oid = d.routed()
    assert d.venue(V.ACK, oid, venue_seq=5)[0]["exec_type"] == X.NEW
    for seq in (5, 4):
        ev = d.venue(V.FILL, oid, qty=1, price=PX, venue_seq=seq)[0]
        assert (ev["kind"], ev["exec_type"], ev["reject_code"], ev["venue_id"]) == (
            E.ADMIN_REPORT, V.FILL, R.VENUE_DUPLICATE_MESSAGE, V1)
    assert d.order(oid)["cum_qty"] == 0
    assert d.venue(V.FILL, oid, qty=1, price=PX, venue_seq=0)[0]["exec_type"] == X.TRADE
    assert d.venue(V.FILL, oid, qty=1, price=PX, venue_seq=7)[0]["exec_type"] == X.TRADE
    assert d.venue(V.FILL, oid, qty=1, price=PX, venue_seq=6)[0]["reject_code"] == \
        R.VENUE_DUPLICATE_MESSAGE
    # a SESSION sets the base: 1 is new again
    d.session(V1, UP, seq=0)
    assert d.venue(V.FILL, oid, qty=1, price=PX, venue_seq=1)[0]["exec_type"] == X.TRADE
    assert d.order(oid)["cum_qty"] == 3


def test_timeout_reports_and_changes_nothing(d):
    oid = d.routed()
    o = d.order(oid)
    ev = d.venue(V.TIMEOUT, oid)[0]
    assert (ev["kind"], ev["exec_type"], ev["status"], ev["reject_code"]) == (
        E.EXEC_REPORT, X.ORDER_STATUS, S.ROUTED, R.VENUE_NO_RESPONSE)
    assert d.order(oid) == o
    d.venue(V.ACK, oid)
    assert d.venue(V.TIMEOUT, oid)[0]["reject_code"] == R.VENUE_UNEXPECTED_REPORT
    d.cancel(oid)
    assert d.venue(V.TIMEOUT, oid, n=2)[0]["reject_code"] == R.VENUE_NO_RESPONSE


def test_venue_expired_and_timer_passes_over(d):
    oid = d.routed(tif=TIF.GTD, expire_time_ns=T0 + NS)
    d.venue(V.ACK, oid)
    d.t = T0 + 2 * NS
    assert d.run(dict(kind=K.TIMER)) == []                   # the venue expires it
    ev = d.venue(V.EXPIRED, oid, reason=R.VENUE_CANCELLED)[0]
    assert (ev["exec_type"], ev["status"], ev["reject_code"]) == (
        X.EXPIRED, S.EXPIRED, R.VENUE_CANCELLED)


def test_unknown_orders_and_venues(d):
    oid = d.routed()
    internal = d.new(symbol=LOC)[0]["order_id"]
    for kw in (dict(oid=oid, n=2), dict(oid=oid, n=0), dict(oid=oid, venue=V2),
               dict(oid=internal), dict(oid=99)):
        ev = d.venue(V.ACK, **kw)[0]
        assert (ev["kind"], ev["reject_code"]) == (E.ADMIN_REPORT, R.UNKNOWN_ORDER), kw
    for venue in (0, 9, 16):
        ev = d.venue(V.ACK, oid, venue=venue)[0]
        assert (ev["reject_code"], ev["exec_type"], ev["venue_id"]) == (
            R.UNKNOWN_DESTINATION, V.ACK, venue)
    ev = d.venue(V.SESSION, flags=3)[0]
    assert (ev["reject_code"], ev["exec_type"]) == (R.INVALID_ADMIN, V.SESSION)
    ev = d.venue(V.FILL, oid, qty=0, price=PX)[-1]
    assert ev["reject_code"] == R.INVALID_QTY
    ev = d.venue(V.FILL, oid, qty=1, price=0)[-1]
    assert ev["reject_code"] == R.INVALID_PRICE


def test_held_stop_is_sent_when_triggered(d):
    evs = d.new(ord_type=T.STOP, price=0, stop_price=PX + TICK)
    assert [(e["exec_type"], e["status"], e["venue_id"]) for e in evs] == [
        (X.NEW, S.ACCEPTED, V1)]
    oid = evs[0]["order_id"]
    assert d.order(oid)["venue_state"] == VS.NOT_SENT
    evs = d.run(dict(kind=K.MARKET_DATA, symbol_id=AAA, price=PX + TICK))
    assert steps(evs) == [("EXEC_REPORT", X.TRIGGERED, oid), ("VENUE_REQUEST", VR.NEW_ORDER, oid)]
    assert (evs[1]["ord_type"], evs[1]["price"], evs[1]["status"]) == (T.MARKET, 0, S.ACCEPTED)
    # already ACCEPTED: the ack emits nothing
    assert d.venue(V.ACK, oid) == []
    assert d.order(oid)["venue_state"] == VS.LIVE


def test_held_order_at_a_venue_is_cancelled_in_the_oms(d):
    oid = d.new(ord_type=T.STOP_LIMIT, price=PX, stop_price=PX + TICK)[0]["order_id"]
    evs = d.cancel(oid)
    assert steps(evs) == [("EXEC_REPORT", X.CANCELED, oid)]
    assert d.order(oid)["venue_state"] == VS.NOT_SENT


def test_oco_peer_at_a_venue_is_cancelled_through_it(d):
    a = d.new(symbol=LOC, qty=5)[0]["order_id"]                   # internal
    b = d.routed(side=SELL, price=PX + 5 * TICK, oco_order_id=a)
    d.venue(V.ACK, b)
    # a trades: its OCO peer at the venue is asked to cancel
    evs = d.new(symbol=LOC, side=SELL, qty=5, account=1)
    assert steps(evs)[-2:] == [("EXEC_REPORT", X.PENDING_CANCEL, b, R.OCO_PEER_TRADED),
                               ("VENUE_REQUEST", VR.CANCEL, b)]
    ev = d.venue(V.CANCELED, b, n=2)[0]
    assert (ev["status"], ev["reject_code"]) == (S.CANCELLED, R.OCO_PEER_TRADED)


def test_oto_child_of_a_routed_parent_waits_and_ends_with_its_rejection(d):
    p = d.routed()
    evs = d.new(side=SELL, price=PX + 5 * TICK, parent_order_id=p, dest=1)
    child = evs[0]["order_id"]
    assert [(e["exec_type"], e["venue_id"]) for e in evs] == [(X.NEW, 0)]
    assert d.order(child)["held"] == 2 and d.order(p)["child_order_id"] == child
    evs = d.venue(V.REJECT, p)
    assert steps(evs) == [("EXEC_REPORT", X.REJECTED, p, R.VENUE_REJECTED),
                          ("EXEC_REPORT", X.CANCELED, child, R.LINKED_ORDER_ENDED)]


def test_oto_child_at_a_venue_is_sent_when_its_parent_fills(d):
    p = d.routed()
    child = d.new(side=SELL, price=PX + 5 * TICK, parent_order_id=p)[0]["order_id"]
    assert d.order(child)["venue_id"] == V1 and d.order(child)["status"] == S.ACCEPTED
    evs = d.venue(V.FILL, p, qty=10, price=PX)
    assert steps(evs) == [("EXEC_REPORT", X.NEW, p), ("EXEC_REPORT", X.TRADE, p),
                          ("EXEC_REPORT", X.TRIGGERED, child),
                          ("VENUE_REQUEST", VR.NEW_ORDER, child)]
    assert evs[-1]["status"] == S.ACCEPTED


def test_market_order_at_a_venue_is_replaced_with_price_zero(d):
    oid = d.routed(ord_type=T.MARKET, price=0)
    d.venue(V.ACK, oid)
    assert d.replace(oid, PX, 20)[0]["reject_code"] == R.INVALID_PRICE
    evs = d.replace(oid, 0, 20)
    assert steps(evs) == [("EXEC_REPORT", X.PENDING_REPLACE, oid),
                          ("VENUE_REQUEST", VR.REPLACE, oid)]
