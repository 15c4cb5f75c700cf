"""`oms client` order syntax: every order type and field reaches BinaryClient.new_order /
replace (which sends `N` / `V` frames when needed)."""

from __future__ import annotations

import numpy as np
import pytest

from oms.client_cli import Session
from oms.config import demo_config, px
from oms.layout import EVENT_DTYPE, ExecInst, OrdType, Side, TimeInForce


class FakeClient:
    def __init__(self):
        self.calls = []
        self.rejects = []

    def new_order(self, *args, **kw):
        self.calls.append(("new", args, kw))

    def replace(self, *args, **kw):
        self.calls.append(("replace", args, kw))

    def read(self, wait):
        return np.zeros(0, dtype=EVENT_DTYPE)


def run(line: str):
    c, out = FakeClient(), []
    Session(c, demo_config(), account=1, out=out.append).command(line)
    return c.calls, out


@pytest.mark.parametrize("line, ord_type, price, kw", [
    ("buy 10 AAPL 190", OrdType.LIMIT, px("190"), {}),
    ("sell 10 aapl mkt", OrdType.MARKET, 0, {}),
    ("sell 10 AAPL mkt stop=189.5", OrdType.STOP, 0, dict(stop_price=px("189.5"))),
    ("sell 10 AAPL 189 stop=189.5", OrdType.STOP_LIMIT, px("189"), dict(stop_price=px("189.5"))),
    ("buy 10 AAPL mkt touch=185", OrdType.MARKET_IF_TOUCHED, 0, dict(stop_price=px("185"))),
    ("buy 10 AAPL 184 touch=185", OrdType.LIMIT_IF_TOUCHED, px("184"),
     dict(stop_price=px("185"))),
    ("sell 10 AAPL mkt trail=0.5", OrdType.TRAILING_STOP, 0, dict(trail_amount=px("0.5"))),
    ("sell 10 AAPL mkt trail=25bps", OrdType.TRAILING_STOP, 0, dict(trail_bps=25)),
    ("buy 500 AAPL 190 display=100 min=50 postonly", OrdType.LIMIT, px("190"),
     dict(display_qty=100, min_qty=50, exec_inst=ExecInst.POST_ONLY)),
    ("sell 10 AAPL 195 parent=7 oco=8", OrdType.LIMIT, px("195"),
     dict(parent_order_id=7, oco_order_id=8)),
])
def test_order_syntax(line, ord_type, price, kw):
    calls, out = run(line)
    (kind, args, got), = calls
    assert kind == "new" and args[2] in (Side.BUY, Side.SELL)
    assert (args[4], args[5], args[6]) == (price, ord_type, TimeInForce.DAY)
    assert got == kw and out[0].startswith("  sent ClOrdID")


def test_expire_means_gtd_and_replace_takes_a_stop():
    (_, args, kw), = run("buy 10 AAPL 190 expire=60 account=MM-DESK")[0]
    assert args[6] == TimeInForce.GTD and kw["expire_time_ns"] > 0 and args[7] == 0
    (kind, args, kw), = run("replace 3 mkt 10 stop=189.25")[0]
    assert (kind, args[1], args[2], kw["orig_cl_ord_id"], kw["stop_price"]) == (
        "replace", 0, 10, 3, px("189.25"))
    calls, out = run("buy 10 AAPL 190 sideways=1")
    assert not calls and "cannot read that" in out[0]
