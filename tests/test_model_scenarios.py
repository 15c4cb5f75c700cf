"""Hand-written scenarios for the reference model (tests/model.py), checked against
docs/engine.md by hand, so that the model can be trusted before it judges the engine."""

from __future__ import annotations

from model import EVENT_NAMES, ReferenceModel
from oms.codes import RejectCode as R
from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.layout import (
    IDEMPOTENCY_TTL_NS,
    AdminOp,
    CommandType as K,
    CxlRejResponseTo,
    EventType as E,
    ExecType as X,
    MassCancelScope as Scope,
    OrdStatus as S,
)

DAY_NS = 86_400 * 10**9
T0 = 20_000 * DAY_NS + 10 * 3600 * 10**9          # 10:00 UTC on some day
REF = 10_000


def make(max_orders=100, idem_capacity=100, max_levels=16, symbols=None, accounts=None):
    if symbols is None:
        symbols = [SymbolConfig(0, "A", tick_size=100, ref_price=REF, collar_bps=5000),
                   SymbolConfig(1, "B", tick_size=1, ref_price=0)]
    if accounts is None:
        accounts = [AccountConfig(0, "X"), AccountConfig(1, "Y")]
    cfg = EngineConfig(max_orders=max_orders, max_symbols=4, max_accounts=4,
                       idem_capacity=idem_capacity, max_levels=max_levels,
                       symbols=symbols, accounts=accounts)
    return ReferenceModel(cfg)


def new(cl, side=1, price=REF, qty=10, ord_type=2, tif=1, session=1, account=0, symbol=0,
        t=T0, **kw):
    return dict(kind=K.NEW, cl_ord_id=cl, side=side, price=price, qty=qty, ord_type=ord_type,
                tif=tif, session_id=session, account_id=account, symbol_id=symbol,
                time_ns=t, **kw)


def cancel(orig=0, order_id=0, cl=0, session=1, t=T0, **kw):
    return dict(kind=K.CANCEL, orig_cl_ord_id=orig, order_id=order_id, cl_ord_id=cl,
                session_id=session, time_ns=t, **kw)


def replace(cl, orig=0, order_id=0, price=REF, qty=10, session=1, t=T0, **kw):
    return dict(kind=K.REPLACE, cl_ord_id=cl, orig_cl_ord_id=orig, order_id=order_id,
                price=price, qty=qty, session_id=session, time_ns=t, **kw)


def status(orig=0, order_id=0, session=1, t=T0):
    return dict(kind=K.STATUS, orig_cl_ord_id=orig, order_id=order_id, session_id=session,
                time_ns=t)


def admin(op, t=T0, **kw):
    return dict(kind=K.ADMIN, admin_op=op, time_ns=t, **kw)


def one(events):
    assert len(events) == 1, events
    return events[0]


def kinds(events):
    return [(e["kind"], e["exec_type"], e["order_id"]) for e in events]


# ---------------------------------------------------------------------------------------------


def test_event_has_every_field_and_sequences():
    m = make()
    ev = one(m.process(new(1)))
    assert set(ev) == set(EVENT_NAMES)
    assert (ev["seq"], ev["cmd_seq"], ev["time_ns"]) == (1, 1, T0)
    m.process(dict(kind=K.TIMER, time_ns=T0))
    ev = one(m.process(status(orig=1)))
    assert (ev["seq"], ev["cmd_seq"]) == (2, 3)
    assert m.counters() == dict(cmd_seq=3, event_seq=2, next_order_id=2, next_trade_id=1,
                                kill_switch=0)


def test_resting_order():
    m = make()
    ev = one(m.process(new(7, side=1, price=9_900, qty=5, strategy_id=3, display_qty=2,
                           min_qty=1)))
    assert ev["kind"] == E.EXEC_REPORT and ev["exec_type"] == X.NEW
    assert ev["status"] == S.ACCEPTED and ev["version"] == 1 and ev["order_id"] == 1
    assert (ev["qty"], ev["leaves_qty"], ev["cum_qty"], ev["avg_px"]) == (5, 5, 0, 0)
    assert ev["strategy_id"] == 3 and ev["reject_code"] == 0
    o = m.orders()[1]
    assert o["reserved_notional"] == 5 * 9_900
    # issue 3: an iceberg shows min(display_qty, leaves); DAY expires at the symbol's close
    assert (o["stop_price"], o["display_qty"], o["min_qty"]) == (0, 2, 1)
    assert (o["display_leaves"], o["priority"], o["risk_px"], o["held"]) == (2, 1, 9_900, 0)
    assert o["expire_time_ns"] == T0 - T0 % DAY_NS + DAY_NS
    assert o["created_ns"] == o["updated_ns"] == T0
    assert m.book(0) == ([(9_900, 5, [1])], [])
    assert m.accounts()[0]["open_notional"] == 49_500
    assert m.positions()[(0, 0)]["open_buy_qty"] == 5
    assert m.positions()[(0, 0)]["open_notional"] == 49_500


def test_cross_trades_in_both_orders_events():
    m = make()
    m.process(new(1, side=2, price=10_100, qty=5, account=1, session=2))
    evs = m.process(new(2, side=1, price=10_200, qty=5, account=0))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.TRADE, X.TRADE]
    agg, rest = evs[1], evs[2]
    assert (agg["order_id"], rest["order_id"]) == (2, 1)
    for e in (agg, rest):
        assert (e["last_px"], e["last_qty"], e["trade_id"]) == (10_100, 5, 1)   # resting price
        assert e["status"] == S.FILLED and e["leaves_qty"] == 0 and e["cum_qty"] == 5
        assert e["avg_px"] == 10_100 and e["version"] == 2
    assert m.book(0) == ([], [])
    assert m.symbols()[0]["ref_price"] == 10_100
    pos = m.positions()
    assert pos[(0, 0)]["net_qty"] == 5 and pos[(0, 0)]["avg_px"] == 10_100
    assert pos[(1, 0)]["net_qty"] == -5 and pos[(1, 0)]["sold_qty"] == 5
    assert m.accounts()[0]["position_cost"] == 50_500
    assert m.accounts()[0]["open_notional"] == 0 and m.accounts()[1]["open_notional"] == 0
    assert m.orders()[1]["reserved_notional"] == 0
    assert m.counters()["next_trade_id"] == 2


def test_partial_fill_and_price_time_priority():
    m = make()
    m.process(new(1, side=2, price=10_100, qty=3))
    m.process(new(2, side=2, price=10_000, qty=2))
    m.process(new(3, side=2, price=10_000, qty=4))
    evs = m.process(new(4, side=1, price=10_100, qty=7, session=2))
    trades = [e for e in evs if e["exec_type"] == X.TRADE]
    assert [(e["order_id"], e["last_px"], e["last_qty"], e["trade_id"]) for e in trades] == [
        (4, 10_000, 2, 1), (2, 10_000, 2, 1),
        (4, 10_000, 4, 2), (3, 10_000, 4, 2),
        (4, 10_100, 1, 3), (1, 10_100, 1, 3)]
    last = trades[-2]
    assert last["status"] == S.FILLED and last["avg_px"] == (6 * 10_000 + 10_100) // 7
    assert trades[-1]["status"] == S.PARTIALLY_FILLED and trades[-1]["leaves_qty"] == 2
    assert m.book(0) == ([], [(10_100, 2, [1])])
    assert m.orders()[1]["reserved_notional"] == 2 * 10_100
    # aggressor larger than the book: remainder rests
    evs = m.process(new(5, side=1, price=10_100, qty=5, session=2))
    assert [(e["exec_type"], e["order_id"], e["status"]) for e in evs] == [
        (X.NEW, 5, S.ACCEPTED), (X.TRADE, 5, S.PARTIALLY_FILLED), (X.TRADE, 1, S.FILLED)]
    assert m.book(0) == ([(10_100, 3, [5])], [])
    assert m.orders()[5]["status"] == S.PARTIALLY_FILLED
    assert m.orders()[5]["reserved_notional"] == 3 * 10_100


def test_ioc_and_market_remainder_cancelled():
    m = make()
    m.process(new(1, side=2, price=10_000, qty=3))
    evs = m.process(new(2, side=1, price=10_000, qty=5, tif=3, session=2))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.TRADE, X.TRADE, X.CANCELED]
    c = evs[-1]
    assert (c["order_id"], c["status"], c["leaves_qty"], c["cum_qty"], c["version"]) == \
        (2, S.CANCELLED, 0, 3, 3)
    assert c["reject_code"] == 0
    assert m.book(0) == ([], [])
    assert m.positions()[(0, 0)]["open_buy_qty"] == 0
    # market order: trades at any price, remainder cancelled, holds no notional
    m.process(new(3, side=2, price=12_000, qty=2))
    evs = m.process(new(4, side=1, price=0, ord_type=1, qty=5, session=2))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.TRADE, X.TRADE, X.CANCELED]
    assert evs[1]["last_px"] == 12_000
    assert m.orders()[4]["reserved_notional"] == 0
    # market order with a price / without reference price
    assert one(m.process(new(5, price=5, ord_type=1)))["reject_code"] == R.INVALID_PRICE
    assert one(m.process(new(6, price=0, ord_type=1, symbol=1)))["reject_code"] == \
        R.NO_REFERENCE_PRICE


def test_cancel_paths():
    m = make()
    m.process(new(1, side=1, price=9_900, qty=5))
    # wrong session by order id, unknown cl
    ev = one(m.process(cancel(order_id=1, session=2, cl=50)))
    assert ev["kind"] == E.CANCEL_REJECT and ev["reject_code"] == R.UNKNOWN_ORDER
    assert ev["response_to"] == CxlRejResponseTo.CANCEL and ev["status"] == S.REJECTED
    assert ev["order_id"] == 1 and ev["cl_ord_id"] == 50 and ev["exec_type"] == 0
    # stale version
    ev = one(m.process(cancel(orig=1, cl=51, expected_version=7)))
    assert ev["reject_code"] == R.STALE_VERSION and ev["cl_ord_id"] == 51
    assert ev["orig_cl_ord_id"] == 1 and ev["status"] == S.ACCEPTED and ev["qty"] == 5
    # success with cl substitution
    ev = one(m.process(cancel(orig=1, cl=52, expected_version=1, t=T0 + 5)))
    assert ev["exec_type"] == X.CANCELED and ev["status"] == S.CANCELLED
    assert (ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["version"], ev["leaves_qty"]) == \
        (52, 1, 2, 0)
    assert m.orders()[1]["cl_ord_id"] == 1 and m.orders()[1]["updated_ns"] == T0 + 5
    assert m.book(0) == ([], []) and m.accounts()[0]["open_notional"] == 0
    ev = one(m.process(cancel(order_id=1)))
    assert ev["reject_code"] == R.ORDER_ALREADY_CLOSED and ev["cl_ord_id"] == 0
    assert ev["orig_cl_ord_id"] == 1
    # filled
    m.process(new(2, side=2, price=10_000, qty=1))
    m.process(new(3, side=1, price=10_000, qty=1, session=2))
    assert one(m.process(cancel(orig=2)))["reject_code"] == R.ORDER_ALREADY_FILLED
    # cancel without cl: the order's own ids
    m.process(new(4, side=1, price=9_800, qty=1, orig_cl_ord_id=0))
    ev = one(m.process(cancel(orig=4)))
    assert (ev["cl_ord_id"], ev["orig_cl_ord_id"]) == (4, 0)


def test_replace_keeps_or_loses_priority():
    m = make()
    m.process(new(1, side=1, price=9_900, qty=10))
    m.process(new(2, side=1, price=9_900, qty=10))
    m.process(new(3, side=1, price=9_900, qty=10))
    # pure quantity decrease keeps the place
    ev = one(m.process(replace(11, orig=1, price=9_900, qty=6, t=T0 + 1)))
    assert ev["exec_type"] == X.REPLACED and ev["status"] == S.ACCEPTED
    assert (ev["cl_ord_id"], ev["orig_cl_ord_id"], ev["version"], ev["leaves_qty"]) == \
        (11, 1, 2, 6)
    assert m.book(0) == ([(9_900, 26, [1, 2, 3])], [])
    assert m.orders()[1]["reserved_notional"] == 6 * 9_900
    # quantity increase loses it
    one(m.process(replace(12, orig=11, price=9_900, qty=7)))
    assert m.book(0) == ([(9_900, 27, [2, 3, 1])], [])
    # price change loses it
    one(m.process(replace(21, order_id=2, price=9_800, qty=10)))
    assert m.book(0) == ([(9_900, 17, [3, 1]), (9_800, 10, [2])], [])
    assert m.accounts()[0]["open_notional"] == 10 * 9_900 + 7 * 9_900 + 10 * 9_800
    # the old ClOrdID is free again, the new one is taken
    assert one(m.process(replace(12, orig=21, price=9_700, qty=10)))["reject_code"] == \
        R.DUPLICATE_CL_ORD_ID
    assert one(m.process(status(orig=1)))["reject_code"] == R.UNKNOWN_ORDER
    assert one(m.process(status(orig=12)))["order_id"] == 1


def test_replace_rejects_and_crossing():
    m = make()
    m.process(new(1, side=1, price=9_900, qty=10))
    rt = CxlRejResponseTo.REPLACE
    ev = one(m.process(replace(0, orig=1)))
    assert ev["reject_code"] == R.MISSING_CL_ORD_ID and ev["response_to"] == rt
    ev = one(m.process(replace(5, orig=1, price=9_900, qty=10)))
    assert ev["reject_code"] == R.REPLACE_CHANGES_NOTHING
    assert ev["cl_ord_id"] == 5 and ev["orig_cl_ord_id"] == 1 and ev["status"] == S.ACCEPTED
    assert one(m.process(replace(1, orig=1, qty=3)))["reject_code"] == R.DUPLICATE_CL_ORD_ID
    assert one(m.process(replace(5, orig=1, qty=0)))["reject_code"] == R.INVALID_QTY
    assert one(m.process(replace(5, orig=1, price=0)))["reject_code"] == R.INVALID_PRICE
    assert one(m.process(replace(5, orig=1, price=9_950)))["reject_code"] == \
        R.PRICE_NOT_ON_TICK
    assert one(m.process(replace(5, orig=1, price=20_000)))["reject_code"] == \
        R.PRICE_OUTSIDE_COLLAR
    ev = one(m.process(replace(5, orig=9)))
    assert ev["reject_code"] == R.UNKNOWN_ORDER and ev["status"] == S.REJECTED
    # partial fill, then qty <= cum
    m.process(new(2, side=2, price=9_900, qty=4, session=2))
    assert one(m.process(replace(5, orig=1, qty=4)))["reject_code"] == R.REPLACE_QTY_BELOW_CUM
    # crossing replace: REPLACED first, then trades, the remainder rests
    m.process(new(3, side=2, price=10_100, qty=3, session=2))
    evs = m.process(replace(6, orig=1, price=10_100, qty=12))
    assert [e["exec_type"] for e in evs] == [X.REPLACED, X.TRADE, X.TRADE]
    assert evs[0]["status"] == S.PARTIALLY_FILLED and evs[0]["leaves_qty"] == 8
    assert evs[1]["leaves_qty"] == 5 and evs[1]["cum_qty"] == 7
    assert m.book(0) == ([(10_100, 5, [1])], [])
    assert m.orders()[1]["reserved_notional"] == 5 * 10_100


def test_duplicate_idempotency_key():
    m = make()
    m.process(new(1, side=1, price=9_900, qty=10))
    # the same request again (derived key from session + ClOrdID)
    ev = one(m.process(new(1, side=2, price=9_800, qty=3, t=T0 + 1)))
    assert ev["exec_type"] == X.ORDER_STATUS and ev["reject_code"] == R.DUPLICATE_REQUEST
    assert (ev["order_id"], ev["side"], ev["price"], ev["qty"], ev["status"]) == \
        (1, 1, 9_900, 10, S.ACCEPTED)
    # another session: another key, but no duplicate ClOrdID either
    assert one(m.process(new(1, session=2)))["exec_type"] == X.NEW
    # explicit key re-used with another ClOrdID
    m.process(new(10, idem_hi=0, idem_lo=77, price=9_800))
    ev = one(m.process(new(11, idem_hi=0, idem_lo=77, price=9_700)))
    assert ev["reject_code"] == R.DUPLICATE_REQUEST and ev["order_id"] == 3
    assert ev["cl_ord_id"] == 10
    # syntax comes before idempotency
    assert one(m.process(new(11, side=9, idem_lo=77)))["reject_code"] == R.INVALID_SIDE
    # 24h later the key has expired: only the ClOrdID blocks (still in the store)
    later = T0 + IDEMPOTENCY_TTL_NS
    assert one(m.process(new(10, idem_lo=77, t=later)))["reject_code"] == \
        R.DUPLICATE_CL_ORD_ID
    ev = one(m.process(new(12, idem_lo=77, t=later)))
    assert ev["exec_type"] == X.NEW and ev["order_id"] == 4


def test_idempotency_expiry_popping_and_overwrite():
    m = make(idem_capacity=3)
    for cl in (1, 2, 3):
        m.process(new(cl, idem_lo=cl, price=9_000 + cl * 100))
    assert one(m.process(new(4, price=9_500)))["reject_code"] == R.IDEMPOTENCY_TABLE_FULL
    later = T0 + IDEMPOTENCY_TTL_NS
    # pops keys 1 and 2 (two heads), stores key 1 again: FIFO = [3, 1']
    ev = one(m.process(new(5, idem_lo=1, price=9_500, t=later)))
    assert ev["exec_type"] == X.NEW and ev["order_id"] == 4
    assert len(m._idem_fifo) == 2
    # pops key 3; the FIFO is [1']; key 1 is live again -> duplicate of order 4
    ev = one(m.process(new(6, idem_lo=1, price=9_500, t=later + 1)))
    assert ev["reject_code"] == R.DUPLICATE_REQUEST and ev["order_id"] == 4
    # overwrite in place: the stale FIFO entry of key 2 must not remove the new entry
    m2 = make(idem_capacity=10)
    m2.process(new(1, idem_lo=1, price=9_100))           # ins 1 (key 1)
    m2.process(new(2, idem_lo=2, price=9_200))           # ins 2
    m2.process(new(3, idem_lo=3, price=9_300))           # ins 3
    m2.process(new(4, idem_lo=4, price=9_400, t=later))  # pops ins 1, 2; stores ins 4
    m2.process(new(5, idem_lo=3, price=9_500, t=later))  # pops ins 3 (expired) ...
    # ... key 3 was removed, so it is stored again as a fresh entry: accepted
    assert m2.orders()[5]["cl_ord_id"] == 5
    m3 = make(idem_capacity=10)
    for cl in (1, 2, 3, 4):
        m3.process(new(cl, idem_lo=cl, price=9_000 + 100 * cl))
    m3.process(new(5, idem_lo=4, price=9_500, t=later))  # pops 1, 2; key 4 expired: overwrite
    m3.process(new(6, idem_lo=9, price=9_600, t=later))  # pops 3 and stale 4: keeps key 4
    ev = one(m3.process(new(7, idem_lo=4, price=9_700, t=later)))
    assert ev["reject_code"] == R.DUPLICATE_REQUEST and ev["order_id"] == 5


def test_eviction_with_tiny_store():
    m = make(max_orders=2)
    m.process(new(1, side=1, price=9_900, qty=1))
    m.process(new(2, side=1, price=9_800, qty=1))
    assert one(m.process(new(3, price=9_700)))["reject_code"] == R.ORDER_STORE_FULL
    m.process(cancel(orig=2))                     # order 2 terminal first
    m.process(cancel(orig=1))
    assert one(m.process(new(3, price=9_700)))["order_id"] == 3     # evicts order 2
    assert set(m.orders()) == {1, 3}
    ev = one(m.process(status(order_id=2)))
    assert ev["reject_code"] == R.UNKNOWN_ORDER and ev["status"] == S.REJECTED
    assert one(m.process(cancel(orig=2)))["reject_code"] == R.UNKNOWN_ORDER
    # ClOrdID 2 is free again, but its idempotency key is live: evicted original
    ev = one(m.process(new(2, price=9_600, qty=4)))
    assert ev["reject_code"] == R.DUPLICATE_REQUEST and ev["order_id"] == 2
    assert ev["status"] == 0 and ev["price"] == 9_600 and ev["qty"] == 4
    assert one(m.process(new(2, price=9_600, idem_lo=5)))["order_id"] == 4  # evicts order 1
    assert set(m.orders()) == {3, 4}
    assert one(m.process(new(9, price=9_500)))["reject_code"] == R.ORDER_STORE_FULL


def test_eviction_order_when_both_fill():
    m = make(max_orders=3)
    m.process(new(1, side=2, price=10_000, qty=1))
    m.process(new(2, side=1, price=10_000, qty=1, session=2))    # both filled
    m.process(new(3, side=1, price=9_000, qty=1))
    # one match fills both: the aggressor (2) became terminal first and is evicted first
    m.process(new(4, side=1, price=9_100, qty=1))
    assert set(m.orders()) == {1, 3, 4}


def test_book_full():
    m = make(max_levels=1)
    m.process(new(1, side=1, price=9_900, qty=1))
    m.process(new(2, side=1, price=9_900, qty=1))                # same level: fine
    evs = m.process(new(3, side=1, price=9_800, qty=2))
    assert [e["exec_type"] for e in evs] == [X.NEW, X.CANCELED]
    assert evs[1]["reject_code"] == R.BOOK_FULL and evs[1]["status"] == S.CANCELLED
    assert m.accounts()[0]["open_notional"] == 2 * 9_900
    m.process(new(4, side=2, price=10_100, qty=1))              # other side has its own levels
    # replace moving to a new level while the old level stays: BOOK_FULL after REPLACED
    evs = m.process(replace(5, orig=1, price=9_800, qty=1))
    assert [e["exec_type"] for e in evs] == [X.REPLACED, X.CANCELED]
    assert evs[1]["reject_code"] == R.BOOK_FULL
    # the last order of the level can move
    evs = m.process(replace(6, orig=2, price=9_800, qty=1))
    assert [e["exec_type"] for e in evs] == [X.REPLACED]
    assert m.book(0) == ([(9_800, 1, [2])], [(10_100, 1, [4])])


def test_validation_order_and_codes():
    m = make(symbols=[SymbolConfig(0, "A", tick_size=100, lot_size=10, min_qty=20, max_qty=100,
                                   ref_price=REF, collar_bps=1000, open_sec=9 * 3600,
                                   close_sec=17 * 3600),
                      SymbolConfig(1, "H", tick_size=1, halted=True)],
             accounts=[AccountConfig(0, "X"), AccountConfig(1, "D", enabled=False)])
    cases = [
        (new(0, side=9), R.MISSING_CL_ORD_ID),
        (new(1, side=0, ord_type=9), R.INVALID_SIDE),
        (new(1, ord_type=8, tif=9), R.INVALID_ORD_TYPE),
        (new(1, tif=9), R.INVALID_TIF),
        (new(1, tif=0, qty=0), R.INVALID_TIF),
        (new(1, tif=6, ord_type=3, qty=0), R.UNSUPPORTED_TIF),   # auction TIF, stop type
        (new(1, qty=10**8 + 1, price=0), R.INVALID_QTY),
        (new(1, qty=20, price=10**10 + 1, account=5), R.INVALID_PRICE),
        (new(1, qty=20, account=5, symbol=7), R.UNKNOWN_ACCOUNT),
        (new(1, qty=20, symbol=7), R.UNKNOWN_SYMBOL),
        (new(1, qty=25, price=10_050), R.PRICE_NOT_ON_TICK),
        (new(1, qty=25), R.QTY_NOT_ON_LOT),
        (new(1, qty=10), R.QTY_BELOW_MIN),
        (new(1, qty=110), R.QTY_ABOVE_MAX),
        (new(1, qty=20, price=11_100), R.PRICE_OUTSIDE_COLLAR),
        (new(1, qty=20, account=1, t=T0 - 3 * 3600 * 10**9), R.ACCOUNT_DISABLED),
        (new(1, qty=20, t=T0 - 3 * 3600 * 10**9), R.MARKET_CLOSED),
        (new(1, qty=20, t=T0 + 7 * 3600 * 10**9), R.MARKET_CLOSED),         # 17:00 excluded
        (new(1, qty=20, symbol=1), R.SYMBOL_HALTED),
    ]
    for cmd, code in cases:
        ev = one(m.process(cmd))
        assert ev["reject_code"] == code, (cmd, ev)
        assert ev["exec_type"] == X.REJECTED and ev["status"] == S.REJECTED
        assert ev["order_id"] == 0 and ev["version"] == 0
    ok = one(m.process(new(1, qty=20, price=11_000, t=T0 + 7 * 3600 * 10**9 - 1)))
    assert ok["exec_type"] == X.NEW
    assert one(m.process(new(1, qty=20, price=11_000)))["reject_code"] == R.DUPLICATE_REQUEST
    assert one(m.process(new(1, qty=20, session=1, idem_lo=3)))["reject_code"] == \
        R.DUPLICATE_CL_ORD_ID
    # floor: a negative time is 23:59:59 of the previous day, outside 9-17
    assert one(m.process(new(2, qty=20, t=-1)))["reject_code"] == R.MARKET_CLOSED
    assert m.counters()["next_order_id"] == 2


def test_risk_codes():
    tight = AccountConfig(0, "T", credit_limit=100_000, max_order_qty=50,
                          max_order_notional=60_000, max_position=20, gross_limit=150_000,
                          concentration_pct=50)
    m = make(accounts=[tight, AccountConfig(1, "Y")])
    assert one(m.process(new(1, qty=51)))["reject_code"] == R.RISK_MAX_ORDER_QTY
    assert one(m.process(new(1, qty=7)))["reject_code"] == R.RISK_MAX_ORDER_NOTIONAL  # 70k
    assert one(m.process(new(1, qty=5)))["exec_type"] == X.NEW                # 50k open
    assert one(m.process(new(2, qty=6)))["reject_code"] == R.RISK_CREDIT_LIMIT  # 110k
    m = make(accounts=[tight, AccountConfig(1, "Y")])
    for cl in (1, 2, 3, 4):
        m.process(new(cl, qty=5, side=1, price=1_000, symbol=1))
    assert one(m.process(new(5, qty=1, side=1, price=1_000, symbol=1)))["reject_code"] == \
        R.RISK_POSITION_LIMIT
    # sells count against the same limit: open_sell + qty - net
    assert one(m.process(new(5, qty=20, side=2, price=1_500, symbol=1)))["exec_type"] == X.NEW
    assert one(m.process(new(6, qty=1, side=2, price=1_500, symbol=1)))["reject_code"] == \
        R.RISK_POSITION_LIMIT
    tight2 = AccountConfig(0, "T", credit_limit=200_000, max_order_notional=100_000,
                           max_position=20, gross_limit=150_000, concentration_pct=50)
    m = make(accounts=[tight2, AccountConfig(1, "Y")])
    m.process(new(1, qty=5, side=2, price=10_000, account=1))
    m.process(new(2, qty=5, side=1, price=10_000))           # buys 5 @ 1.0: cost 50k
    assert m.accounts()[0]["position_cost"] == 50_000
    m.process(new(3, qty=4, side=1, price=5_000, symbol=1))  # 20k open in symbol 1
    # gross: 50k + 20k + 90k = 160k > 150k
    assert one(m.process(new(4, qty=9, side=2, price=10_000)))["reject_code"] == \
        R.RISK_GROSS_EXPOSURE
    # concentration: (50k + 0 + 30k) * 100 > 150k * 50
    assert one(m.process(new(4, qty=3, side=2, price=10_000)))["reject_code"] == \
        R.RISK_CONCENTRATION
    assert one(m.process(new(4, qty=2, side=2, price=10_000)))["exec_type"] == X.NEW


def test_replace_risk_without_own_reservation():
    acc = AccountConfig(0, "T", credit_limit=100_000)
    m = make(accounts=[acc])
    m.process(new(1, qty=9, price=10_000))                   # 90k of 100k
    # 10 * 10_000 = 100k fits once the order's own 90k is taken out
    assert one(m.process(replace(2, orig=1, qty=10)))["exec_type"] == X.REPLACED
    assert one(m.process(replace(3, orig=2, qty=11)))["reject_code"] == R.RISK_CREDIT_LIMIT
    assert m.accounts()[0]["open_notional"] == 100_000


def test_positions_flip_and_realized_pnl():
    m = make()
    m.process(new(1, side=2, price=10_000, qty=4, account=1, session=2))
    m.process(new(2, side=1, price=10_000, qty=4))           # long 4 @ 10_000
    m.process(new(3, side=1, price=10_200, qty=10, account=1, session=2))
    m.process(new(4, side=2, price=10_200, qty=6))           # sell 6 @ 10_200: short 2
    p = m.positions()[(0, 0)]
    assert p["realized_pnl"] == 200 * 4 and p["net_qty"] == -2 and p["avg_px"] == 10_200
    assert p["bought_qty"] == 4 and p["sold_qty"] == 6
    assert m.accounts()[0]["position_cost"] == 2 * 10_200
    m.process(new(5, side=2, price=10_200, qty=1))           # trades with the rest of 3
    p = m.positions()[(0, 0)]
    assert p["net_qty"] == -3 and p["avg_px"] == 10_200
    m.process(cancel(orig=3, session=2))
    m.process(new(6, side=2, price=10_000, qty=3, account=1, session=2))
    m.process(new(7, side=1, price=10_000, qty=2))           # buy 2 back at 10_000
    p = m.positions()[(0, 0)]
    assert p["net_qty"] == -1 and p["realized_pnl"] == 800 + 400 and p["avg_px"] == 10_200
    assert m.accounts()[0]["position_cost"] == 10_200
    p1 = m.positions()[(1, 0)]          # account 1: short 4 @ 10_000, bought 7 @ 10_200, sold 2
    assert p1["bought_qty"] == 7 and p1["sold_qty"] == 6
    # short 4 @ 10_000; buy 6 @ 10_200 closes 4 (pnl -800) and opens long 2 @ 10_200;
    # buy 1 @ 10_200: long 3 @ 10_200; sell 2 @ 10_000: pnl -400, long 1 @ 10_200
    assert p1["realized_pnl"] == -800 - 400 and p1["net_qty"] == 1 and p1["avg_px"] == 10_200
    # averaging: buy more at another price
    m.process(new(8, side=2, price=9_000, qty=1, account=1, session=2))
    m.process(new(9, side=1, price=9_000, qty=3, account=1, session=2))  # 1 @ 9_000 + rest
    p1 = m.positions()[(1, 0)]
    # self-trade, aggressor (buy) first: long 2 @ (10_200 + 9_000) // 2, then sell 1 at 9_000
    assert p1["net_qty"] == 1 and p1["avg_px"] == 9_600
    assert p1["realized_pnl"] == -1200 + (9_000 - 9_600)
    assert m.book(0) == ([(9_000, 2, [9])], [(10_000, 1, [6])])


def test_mass_cancel_and_kill_switch():
    m = make()
    m.process(new(1, side=1, price=9_900, session=1, account=0, strategy_id=1))
    m.process(new(2, side=2, price=10_100, session=1, account=1, strategy_id=1))
    m.process(new(3, side=1, price=9_800, session=2, account=0, strategy_id=2))
    m.process(new(4, side=1, price=9_700, session=2, account=0, symbol=1, strategy_id=2))
    evs = m.process(dict(kind=K.MASS_CANCEL, admin_op=Scope.ACCOUNT | Scope.SIDE,
                         account_id=0, side=1, session_id=9, order_id=5, time_ns=T0))
    assert kinds(evs) == [(E.EXEC_REPORT, X.CANCELED, 1), (E.EXEC_REPORT, X.CANCELED, 3),
                          (E.EXEC_REPORT, X.CANCELED, 4), (E.MASS_CANCEL_REPORT, 0, 5)]
    assert evs[-1]["trade_id"] == 3 and evs[-1]["session_id"] == 9
    m.process(new(5, side=1, price=9_900, session=1))
    evs = m.process(admin(AdminOp.KILL_SWITCH_ON))
    assert kinds(evs) == [(E.EXEC_REPORT, X.CANCELED, 2), (E.EXEC_REPORT, X.CANCELED, 5),
                          (E.ADMIN_REPORT, AdminOp.KILL_SWITCH_ON, 0)]
    assert all(e["reject_code"] == R.KILL_SWITCH_ACTIVE for e in evs[:2])
    assert evs[-1]["trade_id"] == 2 and evs[-1]["reject_code"] == 0
    assert m.counters()["kill_switch"] == 1
    assert one(m.process(new(6)))["reject_code"] == R.KILL_SWITCH_ACTIVE
    one(m.process(admin(AdminOp.KILL_SWITCH_OFF)))
    assert one(m.process(new(6)))["exec_type"] == X.NEW


def test_admin_ops():
    m = make()
    ev = one(m.process(admin(AdminOp.SET_SYMBOL, symbol_id=2, price=50, qty=5, min_qty=5,
                             display_qty=500, stop_price=20_000, expire_time_ns=100,
                             order_id=3600, orig_cl_ord_id=7200)))
    assert ev["kind"] == E.ADMIN_REPORT and ev["exec_type"] == AdminOp.SET_SYMBOL
    assert ev["reject_code"] == 0 and ev["order_id"] == 3600 and ev["price"] == 50
    assert m.symbols()[2] == dict(tick_size=50, lot_size=5, min_qty=5, max_qty=500,
                                  ref_price=20_000, collar_bps=100, open_sec=3600,
                                  close_sec=7200, defined=1, halted=0,
                                  market_protection_bps=0, matching=0, pro_rata_min_alloc=1,
                                  trigger_source=0)
    bad = [dict(symbol_id=4), dict(price=0), dict(qty=0), dict(min_qty=0),
           dict(min_qty=600), dict(display_qty=10**8 + 1), dict(stop_price=-1),
           dict(stop_price=10**10 + 1), dict(expire_time_ns=10_001), dict(order_id=86_400),
           dict(orig_cl_ord_id=86_401)]
    base = dict(symbol_id=2, price=50, qty=5, min_qty=5, display_qty=500, stop_price=0,
                expire_time_ns=0, order_id=0, orig_cl_ord_id=86_400)
    assert one(m.process(admin(AdminOp.SET_SYMBOL, **base)))["reject_code"] == 0
    for b in bad:
        ev = one(m.process(admin(AdminOp.SET_SYMBOL, **{**base, **b, "symbol_id": 2,
                                                        **({"symbol_id": 4} if "symbol_id" in b else {})})))
        assert ev["reject_code"] == R.INVALID_ADMIN, b
    assert m.symbols()[2]["close_sec"] == 86_400
    # halt / resume keep through SET_SYMBOL
    one(m.process(admin(AdminOp.HALT_SYMBOL, symbol_id=2)))
    one(m.process(admin(AdminOp.SET_SYMBOL, **base)))
    assert m.symbols()[2]["halted"] == 1
    assert one(m.process(admin(AdminOp.RESUME_SYMBOL, symbol_id=3)))["reject_code"] == \
        R.INVALID_ADMIN
    one(m.process(admin(AdminOp.RESUME_SYMBOL, symbol_id=2)))
    assert m.symbols()[2]["halted"] == 0
    # accounts: usage kept, disabled blocks
    m.process(new(1, price=9_900, qty=1))
    ev = one(m.process(admin(AdminOp.SET_ACCOUNT, account_id=0, price=10**6, qty=5,
                             stop_price=10**6, display_qty=10, min_qty=10**6,
                             expire_time_ns=50, flags=0)))
    assert ev["reject_code"] == 0
    a = m.accounts()[0]
    assert a["open_notional"] == 9_900 and a["enabled"] == 0 and a["max_order_qty"] == 5
    assert one(m.process(new(2)))["reject_code"] == R.ACCOUNT_DISABLED
    for b in [dict(flags=2), dict(expire_time_ns=101), dict(price=-1),
              dict(min_qty=4 * 10**16 + 1), dict(account_id=4)]:
        cmd = dict(account_id=0, price=1, qty=1, stop_price=1, display_qty=1, min_qty=1,
                   expire_time_ns=1, flags=1)
        cmd.update(b)
        assert one(m.process(admin(AdminOp.SET_ACCOUNT, **cmd)))["reject_code"] == \
            R.INVALID_ADMIN
    assert m.accounts()[0]["enabled"] == 0
    ev = one(m.process(admin(AdminOp.SET_ACCOUNT, account_id=3, flags=1)))   # new account
    assert ev["reject_code"] == 0 and m.accounts()[3]["defined"] == 1
    for op in (0, 7, 200):
        ev = one(m.process(admin(op)))
        assert ev["reject_code"] == R.INVALID_ADMIN and ev["exec_type"] == op


def test_market_data_timer_unknown():
    m = make()
    assert m.process(dict(kind=K.MARKET_DATA, symbol_id=1, price=5_000, time_ns=T0)) == []
    assert m.symbols()[1]["ref_price"] == 5_000
    ev = one(m.process(dict(kind=K.MARKET_DATA, symbol_id=3, price=5_000, time_ns=T0)))
    assert ev["kind"] == E.ADMIN_REPORT and ev["reject_code"] == R.UNKNOWN_SYMBOL
    ev = one(m.process(dict(kind=K.MARKET_DATA, symbol_id=1, price=0, time_ns=T0)))
    assert ev["reject_code"] == R.INVALID_PRICE
    assert m.process(dict(kind=K.TIMER, time_ns=T0)) == []
    for kind in (0, 7, 200):
        ev = one(m.process(dict(kind=kind, time_ns=T0, order_id=4, cl_ord_id=3)))
        assert ev["kind"] == E.ADMIN_REPORT and ev["reject_code"] == R.UNKNOWN_COMMAND
        assert ev["order_id"] == 4 and ev["cl_ord_id"] == 3
    assert m.counters()["cmd_seq"] == 7 and m.counters()["event_seq"] == 5
