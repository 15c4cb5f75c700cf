"""Every reject code, triggered through the direct driver (`Core.process`), against
docs/engine.md.

`TRIGGERS` maps each RejectCode to a scenario that produces it; `test_reject_code` runs one
per code (so a code without a scenario fails by name).  The sections after it pin the
details of each family: check order, boundaries, idempotency, capacity and eviction.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import (DAY_NS, NS, PX, T0, admin, by_order, cancel, cmd, cmds, config, market,
                     market_data, new, one, replace, set_account, set_symbol, status)
from oms import Core
from oms.codes import CODE_INFO, CodeInfo, RejectCode as R, message
from oms.config import AccountConfig, SymbolConfig
from oms.layout import (
    IDEMPOTENCY_TTL_NS,
    LIMIT_MAX,
    MAX_PRICE,
    MAX_QTY,
    AdminOp,
    CommandType as K,
    CxlRejResponseTo as RT,
    EventType as E,
    ExecInst,
    ExecType as X,
    OrdStatus as S,
    OrdType,
    Side,
    TimeInForce,
    VenueExec as VX,
)

BUY, SELL = Side.BUY, Side.SELL
DAY0 = T0 - T0 % DAY_NS              # midnight UTC of T0's day
OPEN, CLOSE = 9 * 3600 + 30 * 60, 16 * 3600

# symbols: 0 plain with a 10% collar; 1 lots/min/max and no reference price;
# 2 restricted hours 09:30-16:00 UTC; 3 halted; 4 open 23:00-24:00 UTC only
SYMBOLS = [
    SymbolConfig(0, "AAA", tick_size=100, ref_price=PX, collar_bps=1000),
    SymbolConfig(1, "LOT", tick_size=1, lot_size=100, min_qty=200, max_qty=10_000, ref_price=0),
    SymbolConfig(2, "HRS", tick_size=100, ref_price=PX, open_sec=OPEN, close_sec=CLOSE),
    SymbolConfig(3, "HLT", tick_size=100, ref_price=PX, halted=True),
    SymbolConfig(4, "LATE", tick_size=100, ref_price=PX, open_sec=23 * 3600, close_sec=86_400),
]
# accounts: 0 and 1 unlimited; 2 disabled; 3 is the risk account (limits per test)
ACCOUNTS = [AccountConfig(0, "A0"), AccountConfig(1, "A1"),
            AccountConfig(2, "OFF", enabled=False)]


def make(risk=None, **capacities) -> Core:
    accounts = list(ACCOUNTS)
    if risk is not None:
        accounts.append(AccountConfig(3, "RISK", **risk))
    return Core(config(symbols=SYMBOLS, accounts=accounts, **capacities))


def run(core, *records):
    return core.process(cmds(records))


def rests(core, *records):
    """Process orders that must all be accepted and rest; returns their order ids."""
    ids = []
    for r in records:
        ev = one(core.process(r))
        assert (ev["exec_type"], ev["status"]) == (X.NEW, S.ACCEPTED), ev
        ids.append(int(ev["order_id"]))
    return ids


def rejected_new(ev, code):
    assert (ev["kind"], ev["exec_type"], ev["status"]) == (E.EXEC_REPORT, X.REJECTED, S.REJECTED)
    assert ev["reject_code"] == code, (R(ev["reject_code"]).name, code.name)
    assert ev["order_id"] == 0


def cancel_rejected(ev, code, response_to, status):
    assert (ev["kind"], ev["exec_type"], ev["status"]) == (E.CANCEL_REJECT, 0, status)
    assert ev["response_to"] == response_to
    assert ev["reject_code"] == code, (R(ev["reject_code"]).name, code.name)


def nothing_created(core, created=0, stored=None):
    """No order beyond the `created` ones exists (`stored` of them still in the store)."""
    assert core.counters()["next_order_id"] == created + 1
    assert len(core.orders()) == (created if stored is None else stored)


def new_on_a_fresh_core(code, fields):
    """A NEW with these fields on a fresh core: accepted (code NONE), or rejected with the
    code and nothing created."""
    core = make()
    ev = run(core, new(**fields))[0]
    if code == R.NONE:
        assert (ev["exec_type"], ev["reject_code"]) == (X.NEW, 0)
    else:
        rejected_new(ev, code)
        nothing_created(core)


# =============================================================================================
# One scenario per code
# =============================================================================================

NEW_REJECT = (E.EXEC_REPORT, X.REJECTED, S.REJECTED)

# (code, command overrides of a valid NEW on symbol 0, account 0)
SYNTAX_CASES = [
    (R.MISSING_CL_ORD_ID, dict(cl=0)),
    (R.INVALID_SIDE, dict(side=0)),
    (R.INVALID_SIDE, dict(side=3)),
    (R.INVALID_ORD_TYPE, dict(ord_type=0)),
    (R.INVALID_ORD_TYPE, dict(ord_type=8)),
    (R.INVALID_TIF, dict(tif=0)),
    (R.INVALID_TIF, dict(tif=8)),
    # auction TIFs (AT_OPEN / AT_CLOSE) take MARKET and LIMIT orders only
    (R.UNSUPPORTED_TIF, dict(tif=TimeInForce.AT_CLOSE, ord_type=OrdType.STOP_LIMIT,
                             stop_price=PX)),
    (R.UNSUPPORTED_TIF, dict(tif=TimeInForce.AT_OPEN, ord_type=OrdType.STOP, price=0,
                             stop_price=PX)),
    (R.INVALID_QTY, dict(qty=0)),
    (R.INVALID_QTY, dict(qty=-5)),
    (R.INVALID_QTY, dict(qty=MAX_QTY + 1)),
    (R.INVALID_PRICE, dict(price=0)),
    (R.INVALID_PRICE, dict(price=-100)),
    (R.INVALID_PRICE, dict(price=MAX_PRICE + 100)),
    (R.INVALID_PRICE, dict(ord_type=OrdType.MARKET, price=100)),
    # issue 3: priced types (LIMIT, STOP_LIMIT, LIT) need a price, the others none
    (R.INVALID_PRICE, dict(ord_type=OrdType.STOP_LIMIT, price=0, stop_price=PX)),
    (R.INVALID_PRICE, dict(ord_type=OrdType.LIMIT_IF_TOUCHED, price=-1, stop_price=PX)),
    (R.INVALID_PRICE, dict(ord_type=OrdType.STOP, price=PX, stop_price=PX)),
    (R.INVALID_PRICE, dict(ord_type=OrdType.TRAILING_STOP, price=PX, trail_amount=100)),
    # STOP / STOP_LIMIT / MIT / LIT need a stop price in 1..MAX_PRICE, the others none
    (R.INVALID_STOP_PRICE, dict(ord_type=OrdType.STOP, price=0)),
    (R.INVALID_STOP_PRICE, dict(ord_type=OrdType.STOP_LIMIT, stop_price=-100)),
    (R.INVALID_STOP_PRICE, dict(ord_type=OrdType.MARKET_IF_TOUCHED, price=0,
                                stop_price=MAX_PRICE + 1)),
    (R.INVALID_STOP_PRICE, dict(ord_type=OrdType.LIMIT_IF_TOUCHED, stop_price=0)),
    (R.INVALID_STOP_PRICE, dict(stop_price=PX)),
    (R.INVALID_STOP_PRICE, dict(ord_type=OrdType.MARKET, price=0, stop_price=1)),
    (R.INVALID_STOP_PRICE, dict(ord_type=OrdType.TRAILING_STOP, price=0, stop_price=PX,
                                trail_amount=100)),
    # a trailing stop needs exactly one of trail_amount / trail_bps; other types neither
    (R.INVALID_TRAIL, dict(ord_type=OrdType.TRAILING_STOP, price=0)),
    (R.INVALID_TRAIL, dict(ord_type=OrdType.TRAILING_STOP, price=0, trail_amount=100,
                           trail_bps=10)),
    (R.INVALID_TRAIL, dict(ord_type=OrdType.TRAILING_STOP, price=0, trail_amount=-100)),
    (R.INVALID_TRAIL, dict(ord_type=OrdType.TRAILING_STOP, price=0,
                           trail_amount=MAX_PRICE + 1)),
    (R.INVALID_TRAIL, dict(ord_type=OrdType.TRAILING_STOP, price=0, trail_bps=10_001)),
    (R.INVALID_TRAIL, dict(trail_amount=100)),
    (R.INVALID_TRAIL, dict(ord_type=OrdType.STOP, price=0, stop_price=PX, trail_bps=5)),
    # display_qty: 1 <= display < qty, priced type, not IOC / FOK
    (R.INVALID_DISPLAY_QTY, dict(qty=10, display_qty=10)),
    (R.INVALID_DISPLAY_QTY, dict(qty=10, display_qty=-1)),
    (R.INVALID_DISPLAY_QTY, dict(ord_type=OrdType.MARKET, price=0, display_qty=1)),
    (R.INVALID_DISPLAY_QTY, dict(ord_type=OrdType.STOP, price=0, stop_price=PX,
                                 display_qty=1)),
    (R.INVALID_DISPLAY_QTY, dict(tif=TimeInForce.IOC, display_qty=1)),
    (R.INVALID_DISPLAY_QTY, dict(tif=TimeInForce.FOK, display_qty=1)),
    # min_qty in 0..qty
    (R.INVALID_MIN_QTY, dict(qty=10, min_qty=11)),
    (R.INVALID_MIN_QTY, dict(min_qty=-1)),
    # GTD needs expire_time_ns > time_ns; the other TIFs none
    (R.INVALID_EXPIRE_TIME, dict(tif=TimeInForce.GTD, expire_time_ns=T0)),
    (R.INVALID_EXPIRE_TIME, dict(tif=TimeInForce.GTD)),
    (R.INVALID_EXPIRE_TIME, dict(tif=TimeInForce.GTD, expire_time_ns=T0 - 1)),
    (R.INVALID_EXPIRE_TIME, dict(expire_time_ns=T0 + NS)),
    (R.INVALID_EXPIRE_TIME, dict(tif=TimeInForce.GTC, expire_time_ns=T0 + NS)),
    # exec_inst: only POST_ONLY, and only on LIMIT orders that can rest
    (R.INVALID_EXEC_INST, dict(exec_inst=2)),
    (R.INVALID_EXEC_INST, dict(exec_inst=3)),
    (R.INVALID_EXEC_INST, dict(exec_inst=ExecInst.POST_ONLY, tif=TimeInForce.IOC)),
    (R.INVALID_EXEC_INST, dict(exec_inst=ExecInst.POST_ONLY, tif=TimeInForce.FOK)),
    (R.INVALID_EXEC_INST, dict(exec_inst=ExecInst.POST_ONLY, ord_type=OrdType.MARKET,
                               price=0)),
    (R.INVALID_EXEC_INST, dict(exec_inst=ExecInst.POST_ONLY, ord_type=OrdType.STOP_LIMIT,
                               stop_price=PX + 100)),
    (R.UNKNOWN_ACCOUNT, dict(account=5)),              # below max_accounts, not defined
    (R.UNKNOWN_ACCOUNT, dict(account=10**6)),          # beyond max_accounts
    (R.UNKNOWN_SYMBOL, dict(symbol=6)),
    (R.UNKNOWN_SYMBOL, dict(symbol=10**6)),
]


def _syntax(code):
    overrides = next(o for c, o in SYNTAX_CASES if c == code)

    def scenario():
        core = make()
        return one(run(core, new(**overrides))), NEW_REJECT
    return scenario


def _new_reject(records, last, risk=None, **capacities):
    def scenario():
        core = make(risk, **capacities)
        run(core, *records)
        return one(run(core, last)), NEW_REJECT
    return scenario


def _cancel_reject_filled():
    core = make()
    run(core, new(1, side=SELL, session=2, account=1), new(2))
    return one(run(core, cancel(order_id=2))), (E.CANCEL_REJECT, 0, S.FILLED)


def _cancel_reject_closed():
    core = make()
    run(core, new(1), cancel(order_id=1))
    return one(run(core, cancel(order_id=1))), (E.CANCEL_REJECT, 0, S.CANCELLED)


def _unknown_order():
    return one(run(make(), cancel(order_id=42))), (E.CANCEL_REJECT, 0, S.REJECTED)


def _stale_version():
    core = make()
    run(core, new(1))
    return one(run(core, cancel(order_id=1, version=2))), (E.CANCEL_REJECT, 0, S.ACCEPTED)


def _duplicate_request():
    core = make()
    run(core, new(1, idem_hi=7, idem_lo=7))
    return (one(run(core, new(2, idem_hi=7, idem_lo=7))),
            (E.EXEC_REPORT, X.ORDER_STATUS, S.ACCEPTED))


def _replace_below_cum():
    core = make()
    run(core, new(1, qty=10), new(2, side=SELL, qty=4, session=2, account=1))
    return (one(run(core, replace(order_id=1, cl=3, qty=4))),
            (E.CANCEL_REJECT, 0, S.PARTIALLY_FILLED))


def _replace_nothing():
    core = make()
    run(core, new(1))
    return one(run(core, replace(order_id=1, cl=3))), (E.CANCEL_REJECT, 0, S.ACCEPTED)


def _book_full():
    core = make(max_levels=1)
    run(core, new(1, price=PX))
    evs = run(core, new(2, price=PX - 100))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.CANCELED]
    return evs[1], (E.EXEC_REPORT, X.CANCELED, S.CANCELLED)


def _post_only_would_trade():
    core = make()
    run(core, new(1, side=SELL, price=PX, session=2, account=1))
    return (one(run(core, new(2, price=PX, exec_inst=ExecInst.POST_ONLY))), NEW_REJECT)


def _self_trade_prevented():
    # docs/engine.md, "Venue rules": cancel newest cancels the aggressor's leaves
    core = Core(config(symbols=SYMBOLS, accounts=[
        AccountConfig(0, "A0", stp_mode="cancel_newest"), AccountConfig(1, "A1")]))
    run(core, new(1, side=SELL, price=PX))
    evs = run(core, new(2, price=PX))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.CANCELED]
    return evs[1], (E.EXEC_REPORT, X.CANCELED, S.CANCELLED)


def _oco_peer_traded():
    # docs/engine.md, "Contingent orders": the first trade of one OCO leg cancels the other
    core = make()
    run(core, new(1, side=SELL, qty=10), new(2, side=SELL, price=PX + 100, oco_order_id=1))
    evs = run(core, new(3, qty=10, session=2, account=1))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.TRADE, X.TRADE, X.CANCELED]
    assert evs[-1]["order_id"] == 2
    return evs[-1], (E.EXEC_REPORT, X.CANCELED, S.CANCELLED)


def _linked_order_ended():
    # an OTO parent cancelled: its waiting child is cancelled when the command settles
    core = make()
    run(core, new(1), new(2, side=SELL, price=PX + 100, parent_order_id=1))
    evs = run(core, cancel(order_id=1))
    assert [(e["exec_type"], e["order_id"]) for e in evs] == [(X.CANCELED, 1), (X.CANCELED, 2)]
    return evs[1], (E.EXEC_REPORT, X.CANCELED, S.CANCELLED)


def _invalid_admin():
    ev = one(run(make(), admin(99)))
    return ev, (E.ADMIN_REPORT, 99, 0)


def _unknown_command():
    return one(run(make(), cmd(K.VENUE_EXEC))), (E.ADMIN_REPORT, 0, 0)


# -- external venues (docs/engine.md, "External venues and routing"): the desk of
# test_venue_lifecycle over the compiled core, venues V1..V3 up unless a scenario says not


def _desk(up=True):
    from test_order_types import EngineVenue
    from test_venue_lifecycle import Desk, config as venue_config
    desk = Desk(EngineVenue(venue_config(), Core))
    if up:
        desk.up()
    return desk


def _route_reject(up=True, **kw):
    def scenario():
        return _desk(up).new(**kw)[0], NEW_REJECT
    return scenario


def _order_pending():
    d = _desk()
    oid = d.routed()
    return one(d.replace(oid, PX + 100, 10)), (E.CANCEL_REJECT, 0, S.ROUTED)


def _venue_reject(reason):
    """A routed order the venue rejects with `reason` (0: the venue gave none we map)."""
    def scenario():
        d = _desk()
        oid = d.routed()
        return d.venue(VX.REJECT, oid, reason=int(reason))[0], (
            E.EXEC_REPORT, X.REJECTED, S.REJECTED)
    return scenario


def _venue_cancel_reject(reason):
    def scenario():
        d = _desk()
        oid = d.routed()
        d.venue(VX.ACK, oid)
        d.cancel(oid, cl=77)
        return d.venue(VX.CANCEL_REJECT, oid, n=2, reason=int(reason))[0], (
            E.CANCEL_REJECT, 0, S.ACCEPTED)
    return scenario


def _venue_cancelled():
    d = _desk()
    oid = d.routed()
    d.venue(VX.ACK, oid)
    return d.venue(VX.CANCELED, oid, reason=int(R.VENUE_CANCELLED))[0], (
        E.EXEC_REPORT, X.CANCELED, S.CANCELLED)


def _venue_disconnected():
    d = _desk()
    oid = d.routed()
    d.venue(VX.ACK, oid)
    evs = d.session(1, 0)                                  # V1 cancels on disconnect
    assert evs[0]["order_id"] == oid
    return evs[0], (E.EXEC_REPORT, X.CANCELED, S.CANCELLED)


def _venue_no_response():
    d = _desk()
    oid = d.routed()
    return d.venue(VX.TIMEOUT, oid)[0], (E.EXEC_REPORT, X.ORDER_STATUS, S.ROUTED)


def _venue_duplicate_message():
    d = _desk()
    oid = d.routed()
    d.venue(VX.ACK, oid, venue_seq=5)
    return d.venue(VX.FILL, oid, qty=1, price=PX, venue_seq=5)[0], (
        E.ADMIN_REPORT, VX.FILL, 0)


def _venue_overfill():
    d = _desk()
    oid = d.routed()
    return d.venue(VX.FILL, oid, qty=12, price=PX)[-1], (E.EXEC_REPORT, X.TRADE, S.FILLED)


def _venue_late_fill():
    d = _desk()
    oid = d.routed()
    d.venue(VX.FILL, oid, qty=10, price=PX)
    return d.venue(VX.FILL, oid, qty=1, price=PX)[0], (E.EXEC_REPORT, X.TRADE, S.FILLED)


def _venue_unexpected_report():
    d = _desk()
    oid = d.routed()
    d.venue(VX.ACK, oid)
    return d.venue(VX.REJECT, oid)[0], (E.ADMIN_REPORT, VX.REJECT, 0)



TRIGGERS = {code: _syntax(code) for code, _ in SYNTAX_CASES}
TRIGGERS.update({
    R.UNKNOWN_COMMAND: _unknown_command,
    R.DUPLICATE_CL_ORD_ID: _new_reject([new(1, idem_lo=1)], new(1, idem_lo=2)),
    R.DUPLICATE_REQUEST: _duplicate_request,
    R.UNKNOWN_ORDER: _unknown_order,
    R.STALE_VERSION: _stale_version,
    R.PRICE_NOT_ON_TICK: _new_reject([], new(price=PX + 50)),
    R.QTY_NOT_ON_LOT: _new_reject([], new(symbol=1, qty=250)),
    R.QTY_BELOW_MIN: _new_reject([], new(symbol=1, qty=100)),
    R.QTY_ABOVE_MAX: _new_reject([], new(symbol=1, qty=10_100)),
    R.PRICE_OUTSIDE_COLLAR: _new_reject([], new(price=PX * 12 // 10)),
    R.NO_REFERENCE_PRICE: _new_reject([], market(symbol=1, qty=200)),
    R.MARKET_CLOSED: _new_reject([], new(symbol=2, t=DAY0 + CLOSE * NS)),
    R.SYMBOL_HALTED: _new_reject([], new(symbol=3)),
    R.KILL_SWITCH_ACTIVE: _new_reject([admin(AdminOp.KILL_SWITCH_ON)], new()),
    R.ACCOUNT_DISABLED: _new_reject([], new(account=2)),
    R.POST_ONLY_WOULD_TRADE: _post_only_would_trade,
    R.SELF_TRADE_PREVENTED: _self_trade_prevented,
    R.RISK_MAX_ORDER_QTY: _new_reject([], new(account=3, qty=11),
                                      risk=dict(max_order_qty=10)),
    R.RISK_MAX_ORDER_NOTIONAL: _new_reject([], new(account=3, qty=11),
                                           risk=dict(max_order_notional=10 * PX)),
    R.RISK_CREDIT_LIMIT: _new_reject([new(1, account=3, qty=10)], new(2, account=3, qty=6),
                                     risk=dict(credit_limit=15 * PX)),
    R.RISK_POSITION_LIMIT: _new_reject([new(1, account=3, qty=8)], new(2, account=3, qty=3),
                                       risk=dict(max_position=10)),
    R.RISK_GROSS_EXPOSURE: _new_reject([], new(account=3, qty=11),
                                       risk=dict(gross_limit=10 * PX)),
    R.RISK_CONCENTRATION: _new_reject([], new(account=3, qty=11),
                                      risk=dict(gross_limit=100 * PX, concentration_pct=10)),
    R.ORDER_ALREADY_FILLED: _cancel_reject_filled,
    R.ORDER_ALREADY_CLOSED: _cancel_reject_closed,
    R.REPLACE_QTY_BELOW_CUM: _replace_below_cum,
    R.REPLACE_CHANGES_NOTHING: _replace_nothing,
    R.ORDER_STORE_FULL: _new_reject([new(1), new(2)], new(3), max_orders=2),
    R.IDEMPOTENCY_TABLE_FULL: _new_reject([new(1), new(2)], new(3), idem_capacity=2),
    R.BOOK_FULL: _book_full,
    R.INVALID_ADMIN: _invalid_admin,
    # contingent orders: link checks (after the duplicate ClOrdID check) and the cancels of
    # the contingent queue
    R.UNKNOWN_LINKED_ORDER: _new_reject([], new(parent_order_id=99)),
    R.LINKED_ORDER_DONE: _new_reject([new(1), cancel(order_id=1)], new(2, oco_order_id=1)),
    R.LINK_NOT_ALLOWED: _new_reject([new(1), new(2, side=SELL, price=PX + 100,
                                                  parent_order_id=1)],
                                    new(3, parent_order_id=2)),       # no chains
    R.OCO_PEER_TRADED: _oco_peer_traded,
    # an AT_OPEN order while its symbol's session is open (symbol 0 trades around the clock)
    R.NOT_IN_AUCTION_PHASE: _new_reject([], new(tif=TimeInForce.AT_OPEN)),
    R.LINKED_ORDER_ENDED: _linked_order_ended,
    R.ORDER_PENDING: _order_pending,
    R.NO_ROUTE: _route_reject(up=False),
    R.UNKNOWN_DESTINATION: _route_reject(dest=1 + 9),
    R.VENUE_NOT_LISTED: _route_reject(dest=1 + 3),
    R.VENUE_UNAVAILABLE: _route_reject(up=False, dest=1 + 1),
    R.VENUE_UNSUPPORTED_ORDER: _route_reject(dest=1 + 1, display_qty=2),
    R.VENUE_TICK_OR_LOT: _route_reject(dest=1 + 1, symbol=3, qty=15),
    R.VENUE_REJECTED: _venue_reject(0),
    R.VENUE_UNKNOWN_SYMBOL: _venue_reject(R.VENUE_UNKNOWN_SYMBOL),
    R.VENUE_EXCHANGE_CLOSED: _venue_reject(R.VENUE_EXCHANGE_CLOSED),
    R.VENUE_ORDER_EXCEEDS_LIMIT: _venue_reject(R.VENUE_ORDER_EXCEEDS_LIMIT),
    R.VENUE_DUPLICATE_ORDER: _venue_reject(R.VENUE_DUPLICATE_ORDER),
    R.VENUE_TOO_LATE: _venue_cancel_reject(R.VENUE_TOO_LATE),
    R.VENUE_UNKNOWN_ORDER: _venue_cancel_reject(R.VENUE_UNKNOWN_ORDER),
    R.VENUE_CANCELLED: _venue_cancelled,
    R.VENUE_DISCONNECTED: _venue_disconnected,
    R.VENUE_NO_RESPONSE: _venue_no_response,
    R.VENUE_DUPLICATE_MESSAGE: _venue_duplicate_message,
    R.VENUE_OVERFILL: _venue_overfill,
    R.VENUE_LATE_FILL: _venue_late_fill,
    R.VENUE_UNEXPECTED_REPORT: _venue_unexpected_report,
})


@pytest.mark.parametrize("code", [c for c in R if c != R.NONE], ids=lambda c: c.name)
def test_reject_code(code):
    assert code in TRIGGERS, f"no scenario triggers {code.name}"
    ev, (kind, exec_type, status_) = TRIGGERS[code]()
    assert (ev["kind"], ev["exec_type"], ev["status"]) == (kind, exec_type, status_)
    assert ev["reject_code"] == code, (R(ev["reject_code"]).name, code.name)
    text = message(ev["reject_code"])
    assert isinstance(text, str) and text.strip() and text == CODE_INFO[code].message
    assert not text.startswith("unknown reject code")


def test_every_code_has_a_fix_mapped_table_row():
    assert set(CODE_INFO) == set(R)
    for code in R:
        info = CODE_INFO[code]
        assert isinstance(info, CodeInfo)
        assert type(info.ord_rej_reason) is int and type(info.cxl_rej_reason) is int
        assert info.ord_rej_reason >= 0 and info.cxl_rej_reason >= 0
        if code != R.NONE:
            assert info.message.strip(), code.name
    assert len({c.value for c in R}) == len(R.__members__)       # no aliases
    assert message(R.NONE) == "" and message(65_000) == "unknown reject code 65000"


# =============================================================================================
# Syntax
# =============================================================================================

@pytest.mark.parametrize("code,overrides", SYNTAX_CASES,
                         ids=[f"{c.name}-{'-'.join(f'{k}={v}' for k, v in o.items())}"
                              for c, o in SYNTAX_CASES])
def test_syntax_reject_echoes_command_and_creates_nothing(code, overrides):
    core = make()
    args = dict(cl=11, strategy=4)
    args.update(overrides)
    c = new(**args)
    ev = one(core.process(c))
    rejected_new(ev, code)
    for f in ("cl_ord_id", "session_id", "account_id", "symbol_id", "side", "ord_type", "tif",
              "price", "qty", "strategy_id"):
        assert ev[f] == c[0][f], f
    assert (ev["cum_qty"], ev["leaves_qty"], ev["avg_px"], ev["version"]) == (0, 0, 0, 0)
    assert (ev["seq"], ev["cmd_seq"], ev["time_ns"]) == (1, 1, T0)
    nothing_created(core)
    assert message(code)


def test_syntax_checks_run_in_spec_order():
    core = make()
    bad = dict(cl=0, side=9, ord_type=9, tif=9, qty=0, price=0, stop_price=0, trail_amount=5,
               display_qty=10, min_qty=11, expire_time_ns=5, exec_inst=2, account=7,
               symbol=7)
    # (field, the value that fixes it, the code while it is bad): issue 3's list
    order = [("cl", 1, R.MISSING_CL_ORD_ID), ("side", BUY, R.INVALID_SIDE),
             ("ord_type", OrdType.STOP_LIMIT, R.INVALID_ORD_TYPE),
             ("tif", TimeInForce.AT_OPEN, R.INVALID_TIF),
             ("tif", TimeInForce.DAY, R.UNSUPPORTED_TIF),
             ("qty", 10, R.INVALID_QTY), ("price", PX, R.INVALID_PRICE),
             ("stop_price", PX + 500, R.INVALID_STOP_PRICE),
             ("trail_amount", 0, R.INVALID_TRAIL),
             ("display_qty", 4, R.INVALID_DISPLAY_QTY), ("min_qty", 2, R.INVALID_MIN_QTY),
             ("expire_time_ns", 0, R.INVALID_EXPIRE_TIME),
             ("exec_inst", 0, R.INVALID_EXEC_INST),
             ("account", 0, R.UNKNOWN_ACCOUNT), ("symbol", 0, R.UNKNOWN_SYMBOL)]
    for field, fix, code in order:
        rejected_new(one(core.process(new(**bad))), code)
        bad[field] = fix
    ev = one(core.process(new(**bad)))                  # held: stop above the reference
    assert (ev["exec_type"], ev["ord_type"]) == (X.NEW, OrdType.STOP_LIMIT)
    o = core.orders()[0]
    assert (o["held"], o["trigger_px"], o["display_qty"], o["min_qty"]) == (1, PX + 500, 4, 2)


def test_price_and_qty_bounds_are_inclusive():
    core = make()
    for cl, price in ((1, 1), (2, MAX_PRICE)):                # symbol 1: tick 1, no collar
        assert one(run(core, new(cl, price=price, symbol=1, qty=200)))["exec_type"] == X.NEW
    # MAX_QTY passes syntax; symbol 0's own maximum (1,000,000) then rejects it
    rejected_new(one(run(core, new(3, qty=MAX_QTY))), R.QTY_ABOVE_MAX)


def test_market_data_rejects_are_admin_reports():
    core = make()
    ev = one(run(core, market_data(symbol=6)))
    assert (ev["kind"], ev["reject_code"]) == (E.ADMIN_REPORT, R.UNKNOWN_SYMBOL)
    for bad in (0, -1, MAX_PRICE + 1):
        ev = one(run(core, market_data(symbol=0, price=bad)))
        assert (ev["kind"], ev["reject_code"], ev["price"]) == (E.ADMIN_REPORT, R.INVALID_PRICE,
                                                                bad)
    assert len(run(core, market_data(symbol=0, price=MAX_PRICE))) == 0
    assert core.symbols()[0]["ref_price"] == MAX_PRICE


@pytest.mark.parametrize("kind", [0, K.VENUE_EXEC, 10, 255])
def test_unknown_command(kind):
    core = make()
    ev = one(run(core, cmd(kind, session_id=3, cl_ord_id=9)))
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (E.ADMIN_REPORT, 0,
                                                               R.UNKNOWN_COMMAND)
    assert (ev["session_id"], ev["cl_ord_id"]) == (3, 9)
    assert message(R.UNKNOWN_COMMAND)
    assert len(run(core, cmd(K.TIMER))) == 0
    assert core.counters()["cmd_seq"] == 2


# =============================================================================================
# Identity: duplicates, idempotency, unknown orders, versions
# =============================================================================================

def test_duplicate_cl_ord_id_new_and_replace():
    core = make()
    rests(core, new(1, idem_lo=1), new(2, idem_lo=2))
    rejected_new(one(run(core, new(1, idem_lo=3))), R.DUPLICATE_CL_ORD_ID)
    # another session may use the same ClOrdID
    assert one(run(core, new(1, session=2, idem_lo=4)))["exec_type"] == X.NEW
    # replace onto another order's ClOrdID, or onto its own current one
    for target_cl in (2, 1):
        ev = one(run(core, replace(order_id=1, cl=target_cl, qty=5)))
        cancel_rejected(ev, R.DUPLICATE_CL_ORD_ID, RT.REPLACE, S.ACCEPTED)
        assert (ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["order_id"]) == (target_cl, 1, 1)
    assert core.counters()["next_order_id"] == 4
    assert message(R.DUPLICATE_CL_ORD_ID)


def test_duplicate_request_answers_with_original_and_creates_nothing():
    core = make()
    first = one(run(core, new(1, qty=10, idem_hi=0xABC, idem_lo=0xDEF)))
    ev = one(run(core, new(99, qty=3, price=PX - 100, idem_hi=0xABC, idem_lo=0xDEF)))
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (E.EXEC_REPORT, X.ORDER_STATUS,
                                                               R.DUPLICATE_REQUEST)
    for f in ("order_id", "cl_ord_id", "price", "qty", "leaves_qty", "status", "version"):
        assert ev[f] == first[f], f
    nothing_created(core, 1)
    assert core.book(0) == ([(PX, 10, [1])], [])
    # the answer reflects the original's current state
    run(core, new(5, side=SELL, qty=4, session=2, account=1))
    ev = one(run(core, new(1, idem_hi=0xABC, idem_lo=0xDEF, t=T0 + 5)))
    assert (ev["status"], ev["cum_qty"], ev["leaves_qty"], ev["time_ns"]) == (
        S.PARTIALLY_FILLED, 4, 6, T0 + 5)
    assert message(R.DUPLICATE_REQUEST)


def test_duplicate_request_with_derived_key_precedes_duplicate_cl_ord_id():
    core = make()
    run(core, new(7))
    ev = one(run(core, new(7, qty=1)))             # no UUID: key is (session, ClOrdID)
    assert (ev["exec_type"], ev["reject_code"], ev["order_id"]) == (X.ORDER_STATUS,
                                                                   R.DUPLICATE_REQUEST, 1)
    # same ClOrdID in another session: a different derived key, a different order
    assert one(run(core, new(7, session=2)))["exec_type"] == X.NEW


def test_syntax_is_checked_before_idempotency():
    core = make()
    run(core, new(1, idem_lo=5))
    rejected_new(one(run(core, new(1, qty=0, idem_lo=5))), R.INVALID_QTY)


@pytest.mark.parametrize("dt,duplicate", [(IDEMPOTENCY_TTL_NS - 1, True),
                                          (IDEMPOTENCY_TTL_NS, False),
                                          (IDEMPOTENCY_TTL_NS + DAY_NS, False)])
def test_idempotency_key_is_forgotten_after_24h(dt, duplicate):
    core = make()
    run(core, new(1, idem_hi=1, idem_lo=2))
    evs = run(core, new(2, idem_hi=1, idem_lo=2, t=T0 + dt))
    if duplicate:
        assert one(evs)["reject_code"] == R.DUPLICATE_REQUEST
        nothing_created(core, 1)
    else:
        ev = one(evs)
        assert (ev["exec_type"], ev["order_id"], ev["cl_ord_id"]) == (X.NEW, 2, 2)
        # and the key now answers for the new order
        ev = one(run(core, new(3, idem_hi=1, idem_lo=2, t=T0 + dt)))
        assert (ev["reject_code"], ev["order_id"]) == (R.DUPLICATE_REQUEST, 2)


def test_expired_derived_key_leaves_the_cl_ord_id_blocked():
    core = make()
    run(core, new(1))
    rejected_new(one(run(core, new(1, t=T0 + IDEMPOTENCY_TTL_NS))), R.DUPLICATE_CL_ORD_ID)


def test_expired_key_reused_before_it_is_popped_is_overwritten_in_place():
    # three keys expire together; a NEW pops at most two, so the third is still in the
    # table (expired) when it is re-used: it must answer for the new order afterwards
    core = make()
    run(core, new(1, idem_lo=11), new(2, idem_lo=12), new(3, idem_lo=13))
    t = T0 + IDEMPOTENCY_TTL_NS
    ev = one(run(core, new(4, idem_lo=13, t=t)))
    assert (ev["exec_type"], ev["order_id"]) == (X.NEW, 4)
    run(core, new(5, idem_lo=99, t=t))              # pops the stale FIFO entry of key 13
    ev = one(run(core, new(6, idem_lo=13, t=t)))
    assert (ev["reject_code"], ev["order_id"]) == (R.DUPLICATE_REQUEST, 4)
    ev = one(run(core, new(7, idem_lo=11, t=t)))   # popped: absent, a new order
    assert ev["exec_type"] == X.NEW


def test_duplicate_request_of_an_evicted_order_carries_the_stored_id():
    core = make(max_orders=1)
    run(core, new(1, idem_lo=1), cancel(order_id=1))
    run(core, new(2, idem_lo=2))                     # evicts order 1
    c = new(9, qty=3, idem_lo=1, strategy=8)
    ev = one(run(core, c))
    assert (ev["exec_type"], ev["reject_code"], ev["order_id"], ev["status"]) == (
        X.ORDER_STATUS, R.DUPLICATE_REQUEST, 1, 0)
    assert (ev["cl_ord_id"], ev["qty"], ev["strategy_id"], ev["version"]) == (9, 3, 8, 0)
    nothing_created(core, created=2, stored=1)


def _order_lookup_commands():
    return {
        "cancel": (lambda **k: cancel(cl=77, **k), E.CANCEL_REJECT),
        "replace": (lambda **k: replace(cl=77, qty=5, **k), E.CANCEL_REJECT),
        "status": (lambda **k: status(**k), E.EXEC_REPORT),
    }


@pytest.mark.parametrize("what", ["cancel", "replace", "status"])
@pytest.mark.parametrize("how", ["no-such-id", "no-such-clordid", "other-session-id",
                                 "other-session-clordid"])
def test_unknown_order(what, how):
    core = make()
    run(core, new(5, session=2))                     # order 1, session 2
    build, kind = _order_lookup_commands()[what]
    target = {"no-such-id": dict(order_id=9), "no-such-clordid": dict(orig=6),
              "other-session-id": dict(order_id=1), "other-session-clordid": dict(orig=5)}[how]
    c = build(session=1, **target)
    ev = one(run(core, c))
    assert ev["kind"] == kind and ev["reject_code"] == R.UNKNOWN_ORDER
    assert ev["status"] == S.REJECTED
    assert (ev["order_id"], ev["orig_cl_ord_id"], ev["session_id"]) == (
        c[0]["order_id"], c[0]["orig_cl_ord_id"], 1)
    assert ev["version"] == 0 and ev["leaves_qty"] == 0          # nothing of order 1 leaks
    if what == "status":
        assert ev["exec_type"] == X.ORDER_STATUS
    else:
        assert ev["response_to"] == (RT.CANCEL if what == "cancel" else RT.REPLACE)
        assert ev["cl_ord_id"] == 77
    # the other session's order is untouched
    mine = one(run(core, status(order_id=1, session=2)))
    assert (mine["status"], mine["version"], mine["cl_ord_id"]) == (S.ACCEPTED, 1, 5)
    assert message(R.UNKNOWN_ORDER)


@pytest.mark.parametrize("what", ["cancel", "replace"])
def test_stale_version(what):
    core = make()
    rests(core, new(1))
    run(core, replace(order_id=1, cl=2, qty=8))       # version 2 now
    build = (lambda v: cancel(order_id=1, cl=3, version=v)) if what == "cancel" else \
        (lambda v: replace(order_id=1, cl=3, qty=6, version=v))
    for stale in (1, 3):
        ev = one(run(core, build(stale)))
        cancel_rejected(ev, R.STALE_VERSION, RT.CANCEL if what == "cancel" else RT.REPLACE,
                        S.ACCEPTED)
        assert (ev["version"], ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["qty"]) == (2, 3, 2, 8)
    ev = one(run(core, build(2)))
    assert ev["exec_type"] == (X.CANCELED if what == "cancel" else X.REPLACED)
    assert ev["version"] == 3


# =============================================================================================
# Semantic
# =============================================================================================

@pytest.mark.parametrize("code,fields", [
    (R.PRICE_NOT_ON_TICK, dict(price=PX + 1)),
    (R.PRICE_NOT_ON_TICK, dict(price=PX - 99)),
    (R.QTY_NOT_ON_LOT, dict(symbol=1, qty=201)),
    (R.QTY_BELOW_MIN, dict(symbol=1, qty=100)),
    (R.QTY_ABOVE_MAX, dict(symbol=1, qty=10_100)),
    (R.PRICE_OUTSIDE_COLLAR, dict(price=PX + PX // 10 + 100)),
    (R.PRICE_OUTSIDE_COLLAR, dict(price=PX - PX // 10 - 100, side=SELL)),
    (R.NO_REFERENCE_PRICE, dict(symbol=1, qty=200, price=0, ord_type=OrdType.MARKET)),
    (R.NONE, dict(price=PX + PX // 10)),                      # collar edge: inside
    (R.NONE, dict(price=PX - PX // 10, side=SELL)),
    (R.NONE, dict(symbol=1, qty=200, price=1)),               # no ref: no collar
    (R.NONE, dict(symbol=1, qty=10_000, price=12_345)),
], ids=lambda v: v.name if isinstance(v, R) else None)
def test_semantic(code, fields):
    new_on_a_fresh_core(code, fields)
    if code != R.NONE:
        assert message(code)


def test_market_data_sets_the_reference_for_collar_and_market_orders():
    core = make()
    rejected_new(one(run(core, market(symbol=1, qty=200))), R.NO_REFERENCE_PRICE)
    run(core, market_data(symbol=1, price=5_000))
    evs = run(core, market(symbol=1, qty=200))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.CANCELED]       # no liquidity
    run(core, market_data(symbol=0, price=2 * PX))
    rejected_new(one(run(core, new(2, price=PX))), R.PRICE_OUTSIDE_COLLAR)
    assert one(run(core, new(3, price=2 * PX)))["exec_type"] == X.NEW


def test_replace_applies_semantic_checks():
    core = make()
    rests(core, new(1), new(2, symbol=1, qty=200, price=5_000))
    for c, code in [(replace(order_id=1, cl=10, price=PX + 1), R.PRICE_NOT_ON_TICK),
                    (replace(order_id=1, cl=10, price=2 * PX), R.PRICE_OUTSIDE_COLLAR),
                    (replace(order_id=2, cl=10, price=5_000, qty=250), R.QTY_NOT_ON_LOT),
                    (replace(order_id=2, cl=10, price=5_000, qty=100), R.QTY_BELOW_MIN),
                    (replace(order_id=2, cl=10, price=5_000, qty=20_000), R.QTY_ABOVE_MAX)]:
        cancel_rejected(one(run(core, c)), code, RT.REPLACE, S.ACCEPTED)
    assert [int(o["version"]) for o in core.orders()] == [1, 1]


@pytest.mark.parametrize("fields,code", [
    (dict(cl=0), R.MISSING_CL_ORD_ID),
    (dict(qty=0), R.INVALID_QTY),
    (dict(qty=MAX_QTY + 1), R.INVALID_QTY),
    (dict(price=0), R.INVALID_PRICE),
    (dict(price=MAX_PRICE + 1), R.INVALID_PRICE),
])
def test_replace_syntax(fields, code):
    core = make()
    rests(core, new(1))
    args = dict(order_id=1, cl=10, qty=5)
    args.update(fields)
    ev = one(run(core, replace(**args)))
    cancel_rejected(ev, code, RT.REPLACE, S.ACCEPTED)
    assert (ev["order_id"], ev["orig_cl_ord_id"], ev["qty"], ev["price"]) == (1, 1, 10, PX)


# =============================================================================================
# Business
# =============================================================================================

def test_kill_switch_blocks_new_orders_until_off():
    core = make()
    rests(core, new(1))
    evs = run(core, admin(AdminOp.KILL_SWITCH_ON))
    assert [(e["exec_type"], e["reject_code"]) for e in evs] == [
        (X.CANCELED, R.KILL_SWITCH_ACTIVE), (AdminOp.KILL_SWITCH_ON, 0)]
    rejected_new(one(run(core, new(2))), R.KILL_SWITCH_ACTIVE)
    run(core, admin(AdminOp.KILL_SWITCH_OFF))
    assert one(run(core, new(3)))["exec_type"] == X.NEW


def test_account_disabled_and_reenabled():
    core = make()
    rejected_new(one(run(core, new(account=2))), R.ACCOUNT_DISABLED)
    run(core, set_account(2, credit=LIMIT_MAX, max_order_qty=MAX_QTY,
                          max_order_notional=LIMIT_MAX, max_position=LIMIT_MAX, gross=LIMIT_MAX,
                          pct=100, enabled=1))
    assert one(run(core, new(account=2)))["exec_type"] == X.NEW


def test_symbol_halted_by_config_and_by_admin():
    core = make()
    rejected_new(one(run(core, new(symbol=3))), R.SYMBOL_HALTED)
    rests(core, new(1))
    run(core, admin(AdminOp.HALT_SYMBOL, symbol_id=0))
    rejected_new(one(run(core, new(2))), R.SYMBOL_HALTED)
    cancel_rejected(one(run(core, replace(order_id=1, cl=5, qty=5))), R.SYMBOL_HALTED,
                    RT.REPLACE, S.ACCEPTED)
    assert one(run(core, cancel(order_id=1)))["exec_type"] == X.CANCELED   # cancels allowed
    run(core, admin(AdminOp.RESUME_SYMBOL, symbol_id=3))
    assert one(run(core, new(3, symbol=3)))["exec_type"] == X.NEW


@pytest.mark.parametrize("t,is_open", [
    (DAY0 + OPEN * NS - 1, False),           # 09:29:59.999999999
    (DAY0 + OPEN * NS, True),                # 09:30:00
    (DAY0 + 12 * 3600 * NS, True),
    (DAY0 + CLOSE * NS - 1, True),           # 15:59:59.999999999
    (DAY0 + CLOSE * NS, False),              # 16:00:00
    (DAY0, False),
    (DAY0 + DAY_NS - 1, False),
    (DAY0 - DAY_NS + OPEN * NS, True),       # the day before, at the open
    (DAY0 + 7 * DAY_NS + CLOSE * NS - 1, True),
])
def test_market_closed_at_session_boundaries(t, is_open):
    core = make()
    ev = one(run(core, new(symbol=2, t=t)))
    if is_open:
        assert ev["exec_type"] == X.NEW
    else:
        rejected_new(ev, R.MARKET_CLOSED)
        assert ev["time_ns"] == t
        assert message(R.MARKET_CLOSED)


@pytest.mark.parametrize("t,is_open", [
    (-1, True),                              # 23:59:59.999999999 of 1969-12-31: floor
    (-NS, True),
    (-3600 * NS, True),                      # 23:00:00
    (-3600 * NS - 1, False),
    (0, False),
    (DAY0 + 23 * 3600 * NS, True),
    (DAY0 + 23 * 3600 * NS - 1, False),
])
def test_market_hours_use_floor_seconds_of_the_utc_day(t, is_open):
    ev = one(run(make(), new(symbol=4, t=t)))
    assert ev["exec_type"] == (X.NEW if is_open else X.REJECTED)
    if not is_open:
        assert ev["reject_code"] == R.MARKET_CLOSED


def test_replace_outside_hours_is_rejected_and_cancel_is_not():
    core = make()
    rests(core, new(1, symbol=2, t=DAY0 + OPEN * NS))
    cancel_rejected(one(run(core, replace(order_id=1, cl=2, qty=5, t=DAY0 + CLOSE * NS))),
                    R.MARKET_CLOSED, RT.REPLACE, S.ACCEPTED)
    assert one(run(core, cancel(order_id=1, t=DAY0 + CLOSE * NS)))["exec_type"] == X.CANCELED


def test_business_checks_run_in_spec_order():
    core = make()
    run(core, admin(AdminOp.KILL_SWITCH_ON))
    # disabled account, halted symbol, closed: the kill switch wins
    worst = new(account=2, symbol=3, t=DAY0)
    rejected_new(one(run(core, worst)), R.KILL_SWITCH_ACTIVE)
    run(core, admin(AdminOp.KILL_SWITCH_OFF))
    rejected_new(one(run(core, worst)), R.ACCOUNT_DISABLED)
    rejected_new(one(run(core, new(symbol=3, t=DAY0))), R.SYMBOL_HALTED)
    # semantic before business, business before risk
    rejected_new(one(run(core, new(price=PX + 1, account=2))), R.PRICE_NOT_ON_TICK)
    core = make(risk=dict(max_order_qty=1))
    run(core, admin(AdminOp.HALT_SYMBOL, symbol_id=0))
    rejected_new(one(run(core, new(account=3, qty=5))), R.SYMBOL_HALTED)


# =============================================================================================
# Risk (account 3; symbol 0 at PX = 100.00)
# =============================================================================================

RISK_CASES = [
    # id, limits, setup, trigger, just-inside variant of the trigger
    ("max-qty", dict(max_order_qty=10), [], new(account=3, qty=11), new(account=3, qty=10),
     R.RISK_MAX_ORDER_QTY),
    ("max-notional", dict(max_order_notional=10 * PX), [],
     new(account=3, qty=11), new(account=3, qty=10), R.RISK_MAX_ORDER_NOTIONAL),
    ("max-notional-market", dict(max_order_notional=10 * PX), [],
     market(account=3, qty=11), market(account=3, qty=10), R.RISK_MAX_ORDER_NOTIONAL),
    ("credit", dict(credit_limit=15 * PX), [new(1, account=3, qty=10)],
     new(2, account=3, qty=6), new(2, account=3, qty=5), R.RISK_CREDIT_LIMIT),
    ("position-buy", dict(max_position=10), [new(1, account=3, qty=4)],
     new(2, account=3, qty=7), new(2, account=3, qty=6), R.RISK_POSITION_LIMIT),
    ("position-sell", dict(max_position=10), [new(1, side=SELL, account=3, qty=4)],
     new(2, side=SELL, account=3, qty=7), new(2, side=SELL, account=3, qty=6),
     R.RISK_POSITION_LIMIT),
    ("gross", dict(gross_limit=10 * PX), [], new(account=3, qty=11), new(account=3, qty=10),
     R.RISK_GROSS_EXPOSURE),
    ("concentration", dict(gross_limit=100 * PX, concentration_pct=10), [],
     new(account=3, qty=11), new(account=3, qty=10), R.RISK_CONCENTRATION),
    ("concentration-zero-pct", dict(concentration_pct=0), [],
     new(account=3, qty=1), None, R.RISK_CONCENTRATION),
]


@pytest.mark.parametrize("limits,setup,trigger,inside,code",
                         [c[1:] for c in RISK_CASES], ids=[c[0] for c in RISK_CASES])
def test_risk_check_trips_exactly_at_its_limit(limits, setup, trigger, inside, code):
    core = make(risk=limits)
    rests(core, *setup)
    ev = run(core, trigger)[0]
    rejected_new(ev, code)
    assert message(code)
    if inside is not None:
        core = make(risk=limits)
        rests(core, *setup)
        ev = run(core, inside)[0]
        assert (ev["exec_type"], ev["reject_code"]) == (X.NEW, 0)


def test_risk_checks_run_in_spec_order():
    # every limit is tight; relax them one at a time in the documented order
    limits = dict(max_order_qty=1, max_order_notional=PX, credit_limit=PX, max_position=1,
                  gross_limit=PX, concentration_pct=1)
    codes = [("max_order_qty", R.RISK_MAX_ORDER_QTY),
             ("max_order_notional", R.RISK_MAX_ORDER_NOTIONAL),
             ("credit_limit", R.RISK_CREDIT_LIMIT), ("max_position", R.RISK_POSITION_LIMIT),
             ("gross_limit", R.RISK_GROSS_EXPOSURE), ("concentration_pct", R.RISK_CONCENTRATION)]
    for name, code in codes:
        rejected_new(one(run(make(risk=limits), new(account=3, qty=5))), code)
        limits[name] = {"concentration_pct": 100, "gross_limit": 100 * PX}.get(name, LIMIT_MAX)
    assert one(run(make(risk=limits), new(account=3, qty=5)))["exec_type"] == X.NEW


def test_risk_position_limit_counts_the_filled_position():
    core = make(risk=dict(max_position=10))
    run(core, new(1, side=SELL, qty=8, session=2, account=1))
    evs = run(core, new(2, account=3, qty=8))                 # long 8
    assert evs[-1]["status"] == S.FILLED
    rejected_new(one(run(core, new(3, account=3, qty=3, price=PX - 100))),
                 R.RISK_POSITION_LIMIT)                      # 8 + 0 + 3 > 10
    assert one(run(core, new(4, account=3, qty=2, price=PX - 100)))["exec_type"] == X.NEW
    # a sell nets against the long: open_sell + qty - net <= 10
    assert one(run(core, new(5, side=SELL, account=3, qty=18, price=PX + 100)))[
        "exec_type"] == X.NEW
    rejected_new(one(run(core, new(6, side=SELL, account=3, qty=1, price=PX + 100))),
                 R.RISK_POSITION_LIMIT)


def test_risk_credit_is_released_by_cancel():
    core = make(risk=dict(credit_limit=10 * PX))
    rests(core, new(1, account=3, qty=10))
    rejected_new(one(run(core, new(2, account=3, qty=1))), R.RISK_CREDIT_LIMIT)
    run(core, cancel(order_id=1))
    assert one(run(core, new(3, account=3, qty=10)))["exec_type"] == X.NEW
    assert core.accounts()[3]["open_notional"] == 10 * PX


def test_replace_risk_excludes_the_orders_own_reservation():
    core = make(risk=dict(credit_limit=10 * PX, max_order_qty=12))
    rests(core, new(1, account=3, qty=10))
    # the new leaves (10 @ PX - 100) fit once the order's own 10 @ PX is taken out
    assert one(run(core, replace(order_id=1, cl=2, qty=10, price=PX - 100)))[
        "exec_type"] == X.REPLACED
    cancel_rejected(one(run(core, replace(order_id=1, cl=3, qty=11, price=PX - 100))),
                    R.RISK_CREDIT_LIMIT, RT.REPLACE, S.ACCEPTED)
    cancel_rejected(one(run(core, replace(order_id=1, cl=3, qty=13, price=PX - 100))),
                    R.RISK_MAX_ORDER_QTY, RT.REPLACE, S.ACCEPTED)


def test_risk_before_capacity():
    core = make(risk=dict(max_order_qty=5), max_orders=1)
    rests(core, new(1))
    rejected_new(one(run(core, new(2, account=3, qty=6))), R.RISK_MAX_ORDER_QTY)
    rejected_new(one(run(core, new(3, account=3, qty=5))), R.ORDER_STORE_FULL)


# =============================================================================================
# Lifecycle
# =============================================================================================

@pytest.mark.parametrize("what", ["cancel", "replace"])
def test_order_already_filled(what):
    core = make()
    run(core, new(1, side=SELL, session=2, account=1), new(2, qty=10))
    c = cancel(order_id=2, cl=9) if what == "cancel" else replace(order_id=2, cl=9, qty=20)
    ev = one(run(core, c))
    cancel_rejected(ev, R.ORDER_ALREADY_FILLED, RT.CANCEL if what == "cancel" else RT.REPLACE,
                    S.FILLED)
    assert (ev["order_id"], ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["cum_qty"]) == (2, 9, 2, 10)
    assert message(R.ORDER_ALREADY_FILLED)


@pytest.mark.parametrize("what", ["cancel", "replace"])
@pytest.mark.parametrize("how", ["cancelled", "ioc-remainder", "market-remainder",
                                 "book-full", "mass-cancel", "kill-switch"])
def test_order_already_closed(what, how):
    core = make(max_levels=1)
    setup = {
        "cancelled": [new(1), cancel(order_id=1)],
        "ioc-remainder": [new(1, tif=TimeInForce.IOC)],
        "market-remainder": [market(1)],
        "book-full": [new(5, price=PX - 100), new(1)],      # second bid level: no room
        "mass-cancel": [new(1), cmd(K.MASS_CANCEL)],
        "kill-switch": [new(1), admin(AdminOp.KILL_SWITCH_ON),
                        admin(AdminOp.KILL_SWITCH_OFF)],
    }[how]
    run(core, *setup)
    c = cancel(orig=1) if what == "cancel" else replace(orig=1, cl=9, qty=20)
    ev = one(run(core, c))
    cancel_rejected(ev, R.ORDER_ALREADY_CLOSED, RT.CANCEL if what == "cancel" else RT.REPLACE,
                    S.CANCELLED)
    assert ev["leaves_qty"] == 0
    assert message(R.ORDER_ALREADY_CLOSED)


def test_replace_qty_below_cum():
    core = make()
    run(core, new(1, qty=10), new(2, side=SELL, qty=4, session=2, account=1))
    for q in (4, 3, 1):
        ev = one(run(core, replace(order_id=1, cl=3, qty=q)))
        cancel_rejected(ev, R.REPLACE_QTY_BELOW_CUM, RT.REPLACE, S.PARTIALLY_FILLED)
        assert (ev["cum_qty"], ev["leaves_qty"], ev["qty"]) == (4, 6, 10)
    ev = one(run(core, replace(order_id=1, cl=3, qty=5)))
    assert (ev["exec_type"], ev["status"], ev["leaves_qty"]) == (X.REPLACED, S.PARTIALLY_FILLED, 1)
    assert message(R.REPLACE_QTY_BELOW_CUM)


def test_replace_changes_nothing():
    core = make()
    rests(core, new(1, qty=10))
    ev = one(run(core, replace(order_id=1, cl=3, qty=10, price=PX)))
    cancel_rejected(ev, R.REPLACE_CHANGES_NOTHING, RT.REPLACE, S.ACCEPTED)
    assert (ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["version"]) == (3, 1, 1)
    for c in (replace(order_id=1, cl=3, qty=9), replace(order_id=1, cl=4, qty=9, price=PX + 100)):
        assert one(run(core, c))["exec_type"] == X.REPLACED
    assert message(R.REPLACE_CHANGES_NOTHING)


# =============================================================================================
# Capacity and eviction
# =============================================================================================

def test_order_store_full_when_every_order_is_live():
    core = make(max_orders=3)
    rests(core, new(1), new(2), new(3, side=SELL, price=PX + 100))
    ev = one(run(core, new(4, price=PX - 100)))
    rejected_new(ev, R.ORDER_STORE_FULL)
    assert (ev["cl_ord_id"], ev["price"]) == (4, PX - 100)
    assert len(core.orders()) == 3 and core.counters()["next_order_id"] == 4
    for oid in (1, 2, 3):
        assert one(run(core, status(order_id=oid)))["status"] == S.ACCEPTED
    # the rejected order stored no key: once there is room it is accepted
    run(core, cancel(order_id=2))
    assert one(run(core, new(4, price=PX - 100)))["exec_type"] == X.NEW
    assert message(R.ORDER_STORE_FULL)


def test_eviction_takes_the_oldest_terminal_order():
    core = make(max_orders=3)
    rests(core, new(1, idem_lo=1), new(2, idem_lo=2), new(3, idem_lo=3))
    run(core, cancel(order_id=2), cancel(order_id=1))    # 2 became terminal first
    ev = one(run(core, new(4, idem_lo=4)))
    assert (ev["exec_type"], ev["order_id"]) == (X.NEW, 4)
    # order 2 is gone: unknown to STATUS, CANCEL and REPLACE, by id and by ClOrdID
    for c in (status(order_id=2), status(orig=2), cancel(order_id=2), cancel(orig=2),
              replace(order_id=2, cl=20, qty=5), replace(orig=2, cl=20, qty=5)):
        assert one(run(core, c))["reject_code"] == R.UNKNOWN_ORDER
    # order 1 (terminal later) is still known
    assert one(run(core, status(order_id=1)))["status"] == S.CANCELLED
    assert sorted(int(o["order_id"]) for o in core.orders()) == [1, 3, 4]
    # the evicted ClOrdID is free again (a new key, since its old key is still live)
    ev = one(run(core, new(2, idem_lo=22)))
    assert (ev["exec_type"], ev["order_id"], ev["cl_ord_id"]) == (X.NEW, 5, 2)
    assert one(run(core, status(order_id=1)))["reject_code"] == R.UNKNOWN_ORDER
    rejected_new(one(run(core, new(6, idem_lo=6))), R.ORDER_STORE_FULL)


def test_eviction_of_a_replaced_order_frees_its_current_cl_ord_id():
    core = make(max_orders=1)
    rests(core, new(1, idem_lo=1))
    run(core, replace(order_id=1, cl=2, qty=5), cancel(orig=2))
    rests(core, new(3, idem_lo=3))                          # evicts order 1
    assert one(run(core, status(orig=2)))["reject_code"] == R.UNKNOWN_ORDER
    run(core, cancel(orig=3))
    assert one(run(core, new(2, idem_lo=4)))["exec_type"] == X.NEW


def test_eviction_order_when_aggressor_and_resting_fill_together():
    core = make(max_orders=2)
    run(core, new(1, side=SELL, session=2, account=1))
    evs = run(core, new(2))                                  # both FILLED in one match
    assert [(e["order_id"], e["status"]) for e in evs[1:]] == [(2, S.FILLED), (1, S.FILLED)]
    run(core, new(3, price=PX - 100))                        # evicts one of them
    assert one(run(core, status(order_id=2)))["reject_code"] == R.UNKNOWN_ORDER
    assert one(run(core, status(order_id=1, session=2)))["status"] == S.FILLED


def test_both_orders_of_one_match_are_evicted_in_turn():
    # aggressor and resting order filled by one match are both terminal: the next two NEWs
    # evict them one after the other (aggressor first), neither is ORDER_STORE_FULL
    core = make(max_orders=2)
    run(core, new(1, side=SELL, session=2, account=1), new(2))
    assert one(run(core, new(3, price=PX - 100)))["exec_type"] == X.NEW      # evicts 2
    assert one(run(core, new(4, price=PX - 100)))["exec_type"] == X.NEW      # evicts 1
    assert sorted(int(o["order_id"]) for o in core.orders()) == [3, 4]
    rejected_new(one(run(core, new(5, price=PX - 100))), R.ORDER_STORE_FULL)


def test_idempotency_table_full_and_recovery_after_24h():
    core = make(idem_capacity=2)
    run(core, new(1, qty=0))                                 # rejected: stores no key
    rests(core, new(1), new(2))
    ev = one(run(core, new(3)))
    rejected_new(ev, R.IDEMPOTENCY_TABLE_FULL)
    nothing_created(core, 2)
    # cancelling does not free keys: only expiry does
    run(core, cancel(order_id=1))
    rejected_new(one(run(core, new(3, t=T0 + IDEMPOTENCY_TTL_NS - 1))),
                 R.IDEMPOTENCY_TABLE_FULL)
    ev = one(run(core, new(3, t=T0 + IDEMPOTENCY_TTL_NS)))
    assert (ev["exec_type"], ev["order_id"]) == (X.NEW, 3)
    assert message(R.IDEMPOTENCY_TABLE_FULL)


def test_capacity_checks_order_store_before_idempotency_table():
    core = make(max_orders=1, idem_capacity=1)
    rests(core, new(1))
    rejected_new(one(run(core, new(2))), R.ORDER_STORE_FULL)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_book_full(side):
    core = make(max_levels=1)
    other = SELL if side == BUY else BUY
    away = PX - 100 if side == BUY else PX + 100
    rests(core, new(1, side=side), new(2, side=side),          # same level: fine
          new(3, side=other, price=PX + 500 if side == BUY else PX - 500))   # other side
    evs = run(core, new(4, side=side, price=away, qty=7, strategy=3))
    assert [(e["exec_type"], e["status"], e["reject_code"]) for e in evs] == [
        (X.NEW, S.ACCEPTED, 0), (X.CANCELED, S.CANCELLED, R.BOOK_FULL)]
    ev = evs[1]
    assert (ev["kind"], ev["order_id"], ev["leaves_qty"], ev["cum_qty"], ev["version"]) == (
        E.EXEC_REPORT, 4, 0, 0, 2)
    bids, asks = core.book(0)
    assert len(bids) == 1 and len(asks) == 1
    assert core.accounts()[0]["open_notional"] == 20 * PX + 10 * (
        PX + 500 if side == BUY else PX - 500)
    assert message(R.BOOK_FULL)


def test_book_full_after_partial_fill_cancels_the_remainder():
    core = make(max_levels=1)
    rests(core, new(1, side=SELL, qty=3, session=2, account=1),
          new(2, side=BUY, price=PX - 500, session=2, account=1))
    evs = run(core, new(3, side=BUY, price=PX, qty=10))      # buys 3, then bid side is full
    assert [(e["exec_type"], e["order_id"]) for e in evs] == [
        (X.NEW, 3), (X.TRADE, 3), (X.TRADE, 1), (X.CANCELED, 3)]
    assert (evs[-1]["reject_code"], evs[-1]["cum_qty"], evs[-1]["status"]) == (
        R.BOOK_FULL, 3, S.CANCELLED)


# =============================================================================================
# Admin
# =============================================================================================

def _valid_symbol(**over):
    args = dict(symbol=5, tick=100, lot=1, min_qty=1, max_qty=1000, ref=PX, collar=100,
                open_sec=0, close_sec=86_400)
    args.update(over)
    return set_symbol(**args)


def _valid_account(**over):
    args = dict(account=4, credit=LIMIT_MAX, max_order_qty=10, max_order_notional=0,
                max_position=LIMIT_MAX, gross=0, pct=100, enabled=1)
    args.update(over)
    return set_account(**args)


INVALID_ADMINS = [
    ("op-0", admin(0)),
    ("op-7", admin(7)),
    ("op-99", admin(99)),
    ("sym-id", _valid_symbol(symbol=8)),
    ("sym-tick", _valid_symbol(tick=0)),
    ("sym-lot", _valid_symbol(lot=0)),
    ("sym-min0", _valid_symbol(min_qty=0)),
    ("sym-min>max", _valid_symbol(min_qty=1001)),
    ("sym-max", _valid_symbol(max_qty=MAX_QTY + 1)),
    ("sym-ref<0", _valid_symbol(ref=-1)),
    ("sym-ref", _valid_symbol(ref=MAX_PRICE + 1)),
    ("sym-collar<0", _valid_symbol(collar=-1)),
    ("sym-collar", _valid_symbol(collar=10_001)),
    ("sym-open=close", _valid_symbol(open_sec=3600, close_sec=3600)),
    ("sym-open>close", _valid_symbol(open_sec=7200, close_sec=3600)),
    ("sym-close", _valid_symbol(close_sec=86_401)),
    ("sym-protection", _valid_symbol(trail_bps=10_001)),     # market_protection_bps 0..10000
    ("sym-protection-u32", _valid_symbol(trail_bps=2**32 - 1)),
    ("acc-id", _valid_account(account=8)),
    ("acc-credit<0", _valid_account(credit=-1)),
    ("acc-credit", _valid_account(credit=LIMIT_MAX + 1)),
    ("acc-qty", _valid_account(max_order_qty=LIMIT_MAX + 1)),
    ("acc-notional", _valid_account(max_order_notional=-1)),
    ("acc-position", _valid_account(max_position=LIMIT_MAX + 1)),
    ("acc-gross", _valid_account(gross=-5)),
    ("acc-pct", _valid_account(pct=101)),
    ("acc-pct<0", _valid_account(pct=-1)),
    ("acc-flags", _valid_account(enabled=2)),
    ("halt-undefined", admin(AdminOp.HALT_SYMBOL, symbol_id=6)),
    ("halt-beyond", admin(AdminOp.HALT_SYMBOL, symbol_id=10**6)),
    ("resume-undefined", admin(AdminOp.RESUME_SYMBOL, symbol_id=7)),
]


@pytest.mark.parametrize("command", [c for _, c in INVALID_ADMINS],
                         ids=[i for i, _ in INVALID_ADMINS])
def test_invalid_admin_leaves_state_untouched(command):
    core = make()
    before = (core.symbols().copy(), core.accounts().copy(), core.counters())
    ev = one(core.process(command.copy()))
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (
        E.ADMIN_REPORT, command[0]["admin_op"] & 0xFF, R.INVALID_ADMIN)
    assert (ev["symbol_id"], ev["account_id"], ev["price"], ev["qty"]) == (
        command[0]["symbol_id"], command[0]["account_id"], command[0]["price"],
        command[0]["qty"])
    after = (core.symbols(), core.accounts(), core.counters())
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert after[2] == dict(before[2], cmd_seq=1, event_seq=1)
    assert message(R.INVALID_ADMIN)


@pytest.mark.parametrize("command", [
    _valid_symbol(), _valid_symbol(open_sec=86_399, close_sec=86_400),
    _valid_symbol(min_qty=1000, max_qty=1000, collar=10_000, ref=MAX_PRICE),
    _valid_symbol(max_qty=MAX_QTY, ref=0, collar=0),
    _valid_symbol(trail_bps=10_000),
    _valid_account(), _valid_account(credit=0, pct=0, enabled=0),
    _valid_account(credit=LIMIT_MAX, max_order_qty=LIMIT_MAX, max_order_notional=LIMIT_MAX,
                   max_position=LIMIT_MAX, gross=LIMIT_MAX),
], ids=["sym", "sym-last-second", "sym-edges", "sym-max", "sym-protection", "acc", "acc-zero",
        "acc-max"])
def test_admin_boundary_values_are_accepted(command):
    core = make()
    ev = one(core.process(command.copy()))
    assert (ev["kind"], ev["exec_type"], ev["reject_code"]) == (
        E.ADMIN_REPORT, command[0]["admin_op"], 0)


def test_set_symbol_keeps_halted_and_set_account_keeps_usage():
    core = make(risk=dict())
    rests(core, new(1, account=3, qty=10))
    run(core, set_account(3, credit=LIMIT_MAX, max_order_qty=5, max_order_notional=LIMIT_MAX,
                          max_position=LIMIT_MAX, gross=LIMIT_MAX, pct=100))
    acc = core.accounts()[3]
    assert (acc["open_notional"], acc["max_order_qty"]) == (10 * PX, 5)
    rejected_new(one(run(core, new(2, account=3, qty=6))), R.RISK_MAX_ORDER_QTY)
    run(core, set_symbol(3, tick=1, ref=PX))
    s = core.symbols()[3]
    assert (s["halted"], s["tick_size"], s["defined"]) == (1, 1, 1)
    rejected_new(one(run(core, new(3, symbol=3))), R.SYMBOL_HALTED)
    # SET_SYMBOL defines a new symbol
    run(core, set_symbol(6, tick=100, ref=PX))
    ev = one(run(core, new(4, symbol=6)))
    assert (ev["exec_type"], ev["symbol_id"]) == (X.NEW, 6)
    assert by_order(core.orders(), ev["order_id"])[0]["symbol_id"] == 6


# =============================================================================================
# Issue 3: the new fields' checks beyond syntax (semantic, business, replace)
# =============================================================================================

STOP_LIMIT = dict(ord_type=OrdType.STOP_LIMIT, stop_price=PX + 500)     # held: above ref
STOP = dict(ord_type=OrdType.STOP, price=0, stop_price=PX + 500)
TRAIL = dict(ord_type=OrdType.TRAILING_STOP, price=0, side=SELL)


@pytest.mark.parametrize("code,fields", [
    (R.PRICE_NOT_ON_TICK, dict(STOP_LIMIT, stop_price=PX + 550)),          # stop off tick
    (R.PRICE_NOT_ON_TICK, dict(STOP, stop_price=PX + 1)),
    (R.PRICE_NOT_ON_TICK, dict(TRAIL, trail_amount=150)),                  # trail off tick
    (R.NONE, dict(TRAIL, trail_amount=200)),
    (R.NONE, dict(TRAIL, trail_bps=33)),                                   # bps: no tick
    (R.QTY_NOT_ON_LOT, dict(symbol=1, qty=1_000, price=5_000, display_qty=150)),
    (R.QTY_NOT_ON_LOT, dict(symbol=1, qty=1_000, price=5_000, min_qty=250)),
    (R.NONE, dict(symbol=1, qty=1_000, price=5_000, display_qty=200, min_qty=300)),
    # the collar applies to the limit price of priced types, not to the stop price
    (R.PRICE_OUTSIDE_COLLAR, dict(STOP_LIMIT, price=PX * 12 // 10)),
    (R.NONE, dict(STOP_LIMIT, stop_price=PX * 2)),
    # market-like types need a reference price; priced stop types do not
    (R.NO_REFERENCE_PRICE, dict(STOP, symbol=1, qty=200, stop_price=5_000)),
    (R.NO_REFERENCE_PRICE, dict(ord_type=OrdType.MARKET_IF_TOUCHED, price=0, symbol=1,
                                qty=200, stop_price=5_000)),
    (R.NO_REFERENCE_PRICE, dict(TRAIL, symbol=1, qty=200, trail_bps=100)),
    (R.NONE, dict(ord_type=OrdType.LIMIT_IF_TOUCHED, symbol=1, qty=200, price=5_000,
                  stop_price=4_000)),
    # semantic order: tick (price, stop, trail) before lot (qty, display, min)
    (R.PRICE_NOT_ON_TICK, dict(symbol=0, qty=10, price=PX + 1, display_qty=3)),
    (R.QTY_NOT_ON_LOT, dict(symbol=1, qty=1_000, price=5_000, display_qty=150, min_qty=1)),
], ids=lambda v: v.name if isinstance(v, R) else None)
def test_semantic_checks_of_the_new_fields(code, fields):
    new_on_a_fresh_core(code, fields)


@pytest.mark.parametrize("side", [BUY, SELL])
def test_post_only_would_trade_at_and_through_the_opposite_best(side):
    core = make()
    other = SELL if side == BUY else BUY
    sign = 1 if side == BUY else -1
    rests(core, new(1, side=other, price=PX, session=2, account=1))
    for price in (PX, PX + sign * 100):                       # at the best, through it
        rejected_new(one(run(core, new(2, side=side, price=price,
                                       exec_inst=ExecInst.POST_ONLY))),
                     R.POST_ONLY_WOULD_TRADE)
    nothing_created(core, 1)
    # one tick away it rests, with its exec_inst kept
    ev = one(run(core, new(3, side=side, price=PX - sign * 100, exec_inst=ExecInst.POST_ONLY)))
    assert (ev["exec_type"], ev["status"]) == (X.NEW, S.ACCEPTED)
    assert int(core.orders()[1]["exec_inst"]) == ExecInst.POST_ONLY
    # an empty opposite side: nothing to trade with
    core = make()
    assert one(run(core, new(4, side=side, exec_inst=ExecInst.POST_ONLY)))["exec_type"] == X.NEW


def test_post_only_is_checked_after_market_closed_and_before_risk():
    core = make(risk=dict(max_order_qty=1))
    rests(core, new(1, side=SELL, price=PX, symbol=2, t=DAY0 + OPEN * NS, session=2,
                    account=1))
    crossing = dict(symbol=2, price=PX, exec_inst=ExecInst.POST_ONLY, account=3, qty=5)
    rejected_new(one(run(core, new(2, t=DAY0 + CLOSE * NS, **crossing))), R.MARKET_CLOSED)
    rejected_new(one(run(core, new(2, t=DAY0 + OPEN * NS, **crossing))),
                 R.POST_ONLY_WOULD_TRADE)
    rejected_new(one(run(core, new(2, t=DAY0 + OPEN * NS, **dict(crossing, price=PX - 100)))),
                 R.RISK_MAX_ORDER_QTY)


def test_post_only_replaced_to_a_crossing_price_trades():
    # REPLACE's business checks are the four of the seed (kill switch, account, halted,
    # hours): POST_ONLY_WOULD_TRADE is a NEW check only (the engine's reading)
    core = make()
    rests(core, new(1, side=SELL, price=PX, session=2, account=1),
          new(2, price=PX - 100, exec_inst=ExecInst.POST_ONLY))
    evs = run(core, replace(order_id=2, cl=3, price=PX, qty=10))
    assert [(e["exec_type"], e["order_id"]) for e in evs] == [
        (X.REPLACED, 2), (X.TRADE, 2), (X.TRADE, 1)]


def test_replace_of_a_held_order_price_rules():
    core = make()
    rests(core, new(1, **STOP), new(2, **STOP_LIMIT))
    # unpriced held type: price must be 0
    for price in (PX, 1, -1):
        cancel_rejected(one(run(core, replace(order_id=1, cl=10, price=price, qty=5))),
                        R.INVALID_PRICE, RT.REPLACE, S.ACCEPTED)
    ev = one(run(core, replace(order_id=1, cl=10, price=0, qty=5)))
    assert (ev["exec_type"], ev["qty"], ev["price"]) == (X.REPLACED, 5, 0)
    # priced held type: price in 1..MAX_PRICE
    for price in (0, -100, MAX_PRICE + 1):
        cancel_rejected(one(run(core, replace(order_id=2, cl=11, price=price, qty=5))),
                        R.INVALID_PRICE, RT.REPLACE, S.ACCEPTED)
    assert one(run(core, replace(order_id=2, cl=11, price=PX - 100, qty=5)))[
        "exec_type"] == X.REPLACED
    assert [int(o["held"]) for o in core.orders()] == [1, 1]


@pytest.mark.parametrize("stop,code", [
    (-100, R.INVALID_STOP_PRICE), (MAX_PRICE + 100, R.INVALID_STOP_PRICE),
    (PX + 550, R.PRICE_NOT_ON_TICK), (PX + 600, R.NONE),
])
def test_replace_of_a_held_order_new_stop_price(stop, code):
    core = make()
    rests(core, new(1, **STOP))
    ev = run(core, replace(order_id=1, cl=10, price=0, qty=10, stop_price=stop))[0]
    if code == R.NONE:
        assert ev["exec_type"] == X.REPLACED
        o = core.orders()[0]
        assert (o["stop_price"], o["trigger_px"], o["held"]) == (stop, stop, 1)
    else:
        cancel_rejected(ev, code, RT.REPLACE, S.ACCEPTED)
        o = core.orders()[0]
        assert (o["stop_price"], o["trigger_px"], o["version"]) == (PX + 500, PX + 500, 1)


def test_replace_stop_price_check_order():
    core = make()
    rests(core, new(1, **STOP), new(2))
    # right after the price: a bad price wins, a bad stop beats a duplicate ClOrdID
    cancel_rejected(one(run(core, replace(order_id=1, cl=2, price=5, qty=10, stop_price=-1))),
                    R.INVALID_PRICE, RT.REPLACE, S.ACCEPTED)
    cancel_rejected(one(run(core, replace(order_id=1, cl=2, price=0, qty=10, stop_price=-1))),
                    R.INVALID_STOP_PRICE, RT.REPLACE, S.ACCEPTED)
    cancel_rejected(one(run(core, replace(order_id=1, cl=2, price=0, qty=10,
                                          stop_price=PX + 600))),
                    R.DUPLICATE_CL_ORD_ID, RT.REPLACE, S.ACCEPTED)


def test_replace_changes_nothing_counts_the_stop_price():
    core = make()
    rests(core, new(1, **STOP))
    for stop in (0, PX + 500):                                  # not given, or the same
        cancel_rejected(one(run(core, replace(order_id=1, cl=10, price=0, qty=10,
                                              stop_price=stop))),
                        R.REPLACE_CHANGES_NOTHING, RT.REPLACE, S.ACCEPTED)
    assert one(run(core, replace(order_id=1, cl=10, price=0, qty=10, stop_price=PX + 400)))[
        "exec_type"] == X.REPLACED


def test_replace_ignores_the_stop_price_of_worked_and_trailing_orders():
    core = make()
    rests(core, new(1), new(2, **dict(TRAIL, trail_amount=200)))
    # a worked LIMIT: cmd.stop_price is ignored (and so is not even range-checked)
    ev = one(run(core, replace(order_id=1, cl=10, qty=5, stop_price=-1)))
    assert ev["exec_type"] == X.REPLACED and core.orders()[0]["stop_price"] == 0
    # a trailing stop keeps its trigger; same price and qty: changes nothing
    cancel_rejected(one(run(core, replace(order_id=2, cl=11, price=0, qty=10,
                                          stop_price=PX))),
                    R.REPLACE_CHANGES_NOTHING, RT.REPLACE, S.ACCEPTED)


def test_replace_semantic_checks_only_the_new_values():
    # the order's own stop_price / trail_amount / display_qty / min_qty are not re-checked
    # against reference data changed since (the engine's reading of "on the new price and
    # quantity")
    core = make()
    rests(core, new(1, **STOP), new(2, **dict(TRAIL, trail_amount=100)),
          new(3, qty=10, display_qty=3, min_qty=3, price=PX - 100))
    run(core, set_symbol(0, tick=200, lot=2, ref=PX))
    assert one(run(core, replace(order_id=1, cl=10, price=0, qty=8)))["exec_type"] == X.REPLACED
    assert one(run(core, replace(order_id=2, cl=11, price=0, qty=8)))["exec_type"] == X.REPLACED
    ev = run(core, replace(order_id=3, cl=12, price=PX - 200, qty=8))[0]
    assert ev["exec_type"] == X.REPLACED
    # but a new stop price is: off the new tick
    cancel_rejected(one(run(core, replace(order_id=1, cl=13, price=0, qty=8,
                                          stop_price=PX + 300))),
                    R.PRICE_NOT_ON_TICK, RT.REPLACE, S.ACCEPTED)
    cancel_rejected(one(run(core, replace(order_id=3, cl=14, price=PX - 200, qty=9))),
                    R.QTY_NOT_ON_LOT, RT.REPLACE, S.ACCEPTED)


def test_gtc_revalidation_cancels_carry_the_business_code():
    core = make()
    rests(core, new(1, tif=TimeInForce.GTC, account=1), new(2, tif=TimeInForce.GTC, symbol=4,
                                                            t=DAY0 + 23 * 3600 * NS),
          new(3, tif=TimeInForce.GTC))
    run(core, set_account(1, credit=LIMIT_MAX, max_order_qty=MAX_QTY,
                          max_order_notional=LIMIT_MAX, max_position=LIMIT_MAX,
                          gross=LIMIT_MAX, pct=100, enabled=0),
        admin(AdminOp.HALT_SYMBOL, symbol_id=4))
    evs = run(core, cmd(K.TIMER, t=DAY0 + DAY_NS + 23 * 3600 * NS))   # after both opens
    assert [(e["exec_type"], e["order_id"], e["reject_code"]) for e in evs] == [
        (X.CANCELED, 1, R.ACCOUNT_DISABLED), (X.CANCELED, 2, R.SYMBOL_HALTED)]
