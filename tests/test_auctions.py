"""Opening and closing auctions (docs/engine.md, "Auctions: at the open and at the close"):
AT_OPEN / AT_CLOSE orders wait for their symbol's auction, which TIMER runs as a
uniform-price uncross with the book.  Each scenario runs on the reference model and on the
compiled core (the harness of tests/test_order_types.py)."""

from __future__ import annotations

from test_order_types import (  # noqa: F401  (fixtures are found by name)
    BUY, CLOSE, DAY0, NS, OPEN, PX, SELL, TICK, backend_factory, config, engine_core, steps,
    trade, venue, venue_factory,
)
from oms.codes import RejectCode as R
from oms.config import SymbolConfig
from oms.layout import AdminOp, ExecType as X, OrdStatus as S, OrdType as T, TimeInForce as TIF

HRS = 1                                   # symbol 1 trades 09:30-16:00 UTC
PRE_OPEN = DAY0 + 8 * 3600 * NS
AT_OPEN_T = DAY0 + OPEN * NS
AT_CLOSE_T = DAY0 + CLOSE * NS
MIDDAY = DAY0 + 12 * 3600 * NS


def opg(v, side, qty, price=0, account=0, **kw):
    """An at-the-open order (MARKET when no price) entered before the open."""
    v.t = PRE_OPEN
    ord_type = T.LIMIT if price else T.MARKET
    return v.new(side=side, qty=qty, price=price, ord_type=ord_type, tif=TIF.AT_OPEN,
                 account=account, symbol=HRS, **kw)


def accepted(evs) -> int:
    assert [(e["exec_type"], e["status"]) for e in evs] == [(X.NEW, S.ACCEPTED)], evs
    return evs[0]["order_id"]


def test_opening_auction_price_is_max_volume_then_min_imbalance_then_nearest_reference(venue):
    v = venue
    mkt_buy = accepted(opg(v, BUY, 50))
    buy_101 = accepted(opg(v, BUY, 100, PX + TICK))                      # 100.01
    sell_99 = accepted(opg(v, SELL, 120, PX - TICK, account=1))           # 99.99
    sell_102 = accepted(opg(v, SELL, 100, PX + 2 * TICK, account=1))      # 100.02
    assert v.order(mkt_buy)["held"] == 3 and v.book(HRS) == ([], [])
    # candidates 99.99, 100.00 (reference), 100.01, 100.02: 120 trade at the first three
    # with the same imbalance (30); 100.00 is nearest the reference
    evs = v.timer(AT_OPEN_T)
    assert steps(evs) == [
        trade(mkt_buy, 50, PX), trade(sell_99, 50, PX),           # market buys first
        trade(buy_101, 70, PX), trade(sell_99, 70, PX),
        (X.CANCELED, buy_101), (X.CANCELED, sell_102),            # for the auction only
    ]
    assert v.order(buy_101)["cum_qty"] == 70 and v.order(buy_101)["status"] == S.CANCELLED
    assert v.b.symbol(HRS)["ref_price"] == PX
    assert v.book(HRS) == ([], [])


def test_opening_auction_uncrosses_with_resting_book_orders(venue):
    v = venue
    v.t = MIDDAY
    gtc_sell = v.rest(side=SELL, qty=40, price=PX + TICK, tif=TIF.GTC, account=1, symbol=HRS)
    buy = accepted(opg(v, BUY, 100, PX + 3 * TICK))
    evs = v.timer(DAY0 + 86_400 * NS + OPEN * NS)               # the next day's open
    # the only candidate with volume: 100.01 (40) beats 100.03 (40, same imbalance 60) by
    # distance to the reference 100.00
    assert steps(evs) == [trade(buy, 40, PX + TICK), trade(gtc_sell, 40, PX + TICK),
                          (X.CANCELED, buy)]
    assert v.order(gtc_sell)["status"] == S.FILLED and v.book(HRS) == ([], [])


def test_closing_auction_takes_day_orders_before_they_expire(venue):
    v = venue
    v.t = MIDDAY
    day_buy = v.rest(side=BUY, qty=30, price=PX, symbol=HRS)
    gtc_buy = v.rest(side=BUY, qty=30, price=PX - TICK, tif=TIF.GTC, symbol=HRS)
    sell = accepted(v.new(side=SELL, qty=45, price=0, ord_type=T.MARKET, tif=TIF.AT_CLOSE,
                          account=1, symbol=HRS))
    evs = v.timer(AT_CLOSE_T)
    # 45 trade at 99.99: buys at or above it are 60, the sell is a market order
    assert steps(evs) == [trade(day_buy, 30, PX - TICK), trade(sell, 30, PX - TICK),
                          trade(gtc_buy, 15, PX - TICK), trade(sell, 15, PX - TICK)]
    assert v.order(sell)["status"] == S.FILLED
    assert v.order(gtc_buy)["leaves_qty"] == 15 and v.order(gtc_buy)["status"] == S.PARTIALLY_FILLED
    assert v.book(HRS)[0] == [(PX - TICK, 15, [gtc_buy])]         # the rest stays resting


def test_no_cross_cancels_every_auction_order_and_leaves_the_book_alone(venue):
    v = venue
    v.t = MIDDAY
    resting = v.rest(side=SELL, qty=10, price=PX + 5 * TICK, tif=TIF.GTC, symbol=HRS)
    a = accepted(opg(v, BUY, 10, PX))
    b = accepted(opg(v, SELL, 10, PX + TICK, account=1))
    evs = v.timer(DAY0 + 86_400 * NS + OPEN * NS)
    assert steps(evs) == [(X.CANCELED, a), (X.CANCELED, b)]
    assert all(e["reject_code"] == 0 for e in evs)
    assert v.book(HRS) == ([], [(PX + 5 * TICK, 10, [resting])])


def test_halted_symbol_cancels_its_auction_orders(venue):
    v = venue
    a = accepted(opg(v, BUY, 10, PX))
    b = accepted(opg(v, SELL, 10, PX, account=1))
    v.admin(AdminOp.HALT_SYMBOL, symbol_id=HRS)
    evs = v.timer(AT_OPEN_T)
    assert steps(evs) == [(X.CANCELED, a), (X.CANCELED, b)]
    assert {e["reject_code"] for e in evs} == {R.SYMBOL_HALTED}


def test_auction_orders_can_be_cancelled_and_replaced_while_waiting(venue):
    v = venue
    a = accepted(opg(v, BUY, 10, PX))
    b = accepted(opg(v, SELL, 10, PX + TICK, account=1))
    evs = v.replace(a, PX + TICK, 20)                     # stays waiting for the auction
    assert [e["exec_type"] for e in evs] == [X.REPLACED] and v.order(a)["held"] == 3
    c = accepted(opg(v, SELL, 5, PX, account=1))
    assert [e["exec_type"] for e in v.cancel(c)] == [X.CANCELED]
    evs = v.timer(AT_OPEN_T)
    assert steps(evs) == [trade(a, 10, PX + TICK), trade(b, 10, PX + TICK), (X.CANCELED, a)]


def test_auction_entry_rules(venue):
    v = venue
    v.t = MIDDAY                                          # the session is open
    evs = v.new(side=BUY, qty=10, price=PX, tif=TIF.AT_OPEN, symbol=HRS)
    assert evs[0]["reject_code"] == R.NOT_IN_AUCTION_PHASE
    v.t = PRE_OPEN                                        # ... and closed
    evs = v.new(side=BUY, qty=10, price=PX, tif=TIF.AT_CLOSE, symbol=HRS)
    assert evs[0]["reject_code"] == R.MARKET_CLOSED
    cases = [
        (dict(ord_type=T.STOP, price=0, stop_price=PX), R.UNSUPPORTED_TIF),
        (dict(display_qty=5), R.INVALID_DISPLAY_QTY),
        (dict(min_qty=5), R.INVALID_MIN_QTY),
        (dict(exec_inst=1), R.INVALID_EXEC_INST),
        (dict(parent_order_id=1), R.LINK_NOT_ALLOWED),
    ]
    for extra, code in cases:
        kw = dict(side=BUY, qty=10, price=PX, tif=TIF.AT_OPEN, symbol=HRS)
        kw.update(extra)
        evs = v.new(**kw)
        assert evs[0]["exec_type"] == X.REJECTED and evs[0]["reject_code"] == code, (extra, evs)


def test_lowest_price_breaks_the_last_tie_without_a_reference(venue_factory):
    cfg = config()
    symbols = list(cfg.symbols)
    symbols[HRS] = SymbolConfig(HRS, "HRS", tick_size=TICK, ref_price=0, open_sec=OPEN,
                                close_sec=CLOSE)
    v = venue_factory(cfg.__class__(**{**{f: getattr(cfg, f) for f in cfg.__struct_fields__},
                                       "symbols": symbols}))
    buy = accepted(opg(v, BUY, 10, PX + 2 * TICK))
    sell = accepted(opg(v, SELL, 10, PX, account=1))
    # 100.00, 100.02: both trade 10 with no imbalance, no reference: the lower one
    evs = v.timer(AT_OPEN_T)
    assert steps(evs) == [trade(buy, 10, PX), trade(sell, 10, PX)]
