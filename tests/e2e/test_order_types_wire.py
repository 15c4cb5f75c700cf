"""Every order type over the wire, against a real `oms serve`: a stop that triggers (and a stop
moved by a replace), trailing stops by amount and by basis points, an iceberg, an OCO pair and
a bracket, each over FIX (the tag mapping of docs/protocols.md, "Order types on FIX") and over
the binary protocol (frames `N` and `V`), checking the execution reports.

Every test shares the module's server and its AAPL book: each sets the last trade price it
needs with a self-cross of MM-DESK, and cancels what it left resting before it returns."""

from __future__ import annotations

import itertools
import time

import pytest

from oms.client import BinaryClient, FixClient, FixMessage
from oms.codes import RejectCode
from oms.config import px
from oms.layout import EventType, ExecInst, ExecType, MassCancelScope, OrdStatus, OrdType, Side

NOW = "20250101-00:00:00"
AAPL = 0
FUND_A, MM_DESK = 1, 0
_ids = itertools.count(1)
_bin_ids = itertools.count(1_000)


def cl(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}-{time.time_ns() % 10**9}"


# -- FIX ---------------------------------------------------------------------------------------

class FixTape:
    """A logged-on FIX client and every message it has received, searchable in any order."""

    def __init__(self, client: FixClient):
        self.c = client
        self.seen: list[FixMessage] = []

    def send(self, msg_type: str, fields) -> None:
        self.c.send(msg_type, fields)

    def get(self, pred, n: int = 1, timeout: float = 5.0) -> FixMessage:
        """The `n`-th message received that satisfies `pred` (waiting for it)."""
        deadline = time.monotonic() + timeout
        while True:
            hits = [m for m in self.seen if pred(m)]
            if len(hits) >= n:
                return hits[n - 1]
            if time.monotonic() > deadline:
                tail = "\n".join(m.raw.decode(errors="replace").replace("\x01", "|")
                                 for m in self.seen[-8:])
                raise AssertionError(f"no such message; last received:\n{tail}")
            self.seen += self.c.read(0.05)
            self.c.received.clear()

    def er(self, clordid: str, exec_type: str, n: int = 1) -> FixMessage:
        return self.get(lambda m: m.msg_type == "8" and m.get(11) == clordid
                        and m.get(150) == exec_type, n)

    def new(self, fields) -> FixMessage:
        """Send a NewOrderSingle; its ExecutionReport (New, or Rejected)."""
        clordid = dict(fields)[11]
        self.send("D", fields + [(60, NOW)])
        return self.get(lambda m: m.msg_type == "8" and m.get(11) == clordid
                        and m.get(150) in ("0", "8"))

    def mass_cancel(self) -> None:
        mc = cl("mc")
        self.send("q", [(11, mc), (530, 7), (60, NOW)])
        self.get(lambda m: m.msg_type == "r" and m.get(11) == mc)


def order(clordid, side, qty, ord_type, price=None, **tags) -> list:
    fields = [(11, clordid), (55, "AAPL"), (54, side), (40, ord_type), (38, qty)]
    if price is not None:
        fields.append((44, price))
    return fields + [(int(t[1:]), v) for t, v in tags.items()]


@pytest.fixture
def fix(server):
    """(FUND-A on CLIENT1, MM-DESK on MMDESK); both sessions' orders cancelled after."""
    f, mm = server.fix("CLIENT1"), server.fix("MMDESK")
    f.logon(reset=True)
    mm.logon(reset=True)
    tf, tm = FixTape(f), FixTape(mm)
    try:
        yield tf, tm
    finally:
        tf.mass_cancel()
        tm.mass_cancel()
        f.close()
        mm.close()


def fix_last(mm: FixTape, price: str) -> None:
    """Make `price` the last trade: MM-DESK buys 1 from itself."""
    b, s = cl("lb"), cl("ls")
    mm.new(order(b, 1, 1, 2, price))
    mm.send("D", order(s, 2, 1, 2, price) + [(60, NOW)])
    mm.get(lambda m: m.get(11) == s and m.get(150) == "F" and m.get(39) == "2")


def test_fix_stop_triggers_after_a_stop_price_replace(server, fix):
    f, mm = fix
    dc = FixTape(server.fix("DROPCOPY", username="dropcopy", password="dropcopy-pass"))
    dc.c.logon(reset=True)
    try:
        fix_last(mm, "190.00")
        s1 = cl("stop")
        new = f.new(order(s1, 2, 5, 3, t99="189.00"))
        assert (new[150], new[39], new[40], new[99]) == ("0", "0", "3", "189")
        assert 44 not in new and 18 not in new
        copy = dc.get(lambda m: m.get(37) == new[37] and m.get(150) == "0")
        assert (copy[11], copy[40], copy[99]) == (s1, "3", "189")      # drop copy too
        r1 = cl("rep")
        f.send("G", [(11, r1), (41, s1), (55, "AAPL"), (54, 2), (40, 3), (38, 5),
                     (99, "189.50"), (60, NOW)])
        rep = f.er(r1, "5")
        assert (rep[41], rep[40], rep[99], rep[39], rep[37]) == (s1, "3", "189.5", "0", new[37])
        mm.new(order(cl("bid"), 1, 5, 2, "189.00"))
        fix_last(mm, "189.50")                  # the last trade reaches the moved stop
        trig = f.er(r1, "L")
        assert (trig[39], trig[40], trig[99], trig[151]) == ("0", "3", "189.5", "5")
        fill = f.er(r1, "F")
        assert (fill[39], fill[32], fill[31], fill[14], fill[151]) == ("2", "5", "189", "5", "0")
        assert dc.get(lambda m: m.get(37) == new[37] and m.get(150) == "L")[99] == "189.5"
    finally:
        dc.c.close()


def test_fix_stop_limit_mit_lit_and_post_only_reports(fix):
    f, mm = fix
    fix_last(mm, "190.00")
    sl = f.new(order(cl("sl"), 2, 5, 4, "188.50", t99="189.00"))
    assert (sl[150], sl[40], sl[44], sl[99]) == ("0", "4", "188.5", "189")
    mit = f.new(order(cl("mit"), 1, 5, "J", t99="187.00"))
    assert (mit[150], mit[40], mit[99]) == ("0", "J", "187") and 44 not in mit
    lit = f.new(order(cl("lit"), 1, 5, "j", "186.00", t99="187.00"))
    assert (lit[150], lit[40], lit[44], lit[99]) == ("0", "j", "186", "187")
    mm.new(order(cl("ask"), 2, 5, 2, "191.00"))
    po = f.new(order(cl("po"), 1, 5, 2, "180.00", t18="6", t110=5))
    assert (po[150], po[18], po[110]) == ("0", "6", "5")
    cross = f.new(order(cl("po"), 1, 5, 2, "195.00", t18="6"))   # would trade: rejected
    assert cross[150] == "8" and cross[58].startswith("POST_ONLY_WOULD_TRADE")
    gtd = f.new(order(cl("gtd"), 1, 5, 2, "180.00", t59=6, t126="20990101-00:00:00"))
    assert (gtd[150], gtd[59], gtd[126]) == ("0", "6", "20990101-00:00:00.000")
    bad = f.new(order(cl("bad"), 1, 5, "P", t211="1"))               # a peg without 18=a
    assert bad[150] == "8" and bad[58].startswith("INVALID_ORD_TYPE") and bad[103] == "11"
    f.send("D", order(cl("bad"), 1, 5, "P", t18="a", t211="1", t836="2") + [(60, NOW)])
    rej = f.get(lambda m: m.msg_type == "3")
    assert (rej[371], rej[373]) == ("836", "5") and "PegOffsetType" in rej[58]


def test_fix_trailing_stops_by_amount_and_bps(fix):
    f, mm = fix
    fix_last(mm, "190.00")
    t1, t2 = cl("trail"), cl("trailbps")
    a = f.new(order(t1, 2, 5, "P", t18="a", t211="1.00"))        # trigger 189.00
    assert (a[150], a[40], a[18], a[211]) == ("0", "P", "a", "1") and 836 not in a
    b = f.new(order(t2, 2, 5, "P", t18="a", t211="50", t836=1))  # 0.5%: trigger 189.05
    assert (b[150], b[40], b[18], b[211], b[836]) == ("0", "P", "a", "50", "1")
    fix_last(mm, "191.00")                       # the stops follow: 190.00 and 190.045
    mm.new(order(cl("bid"), 1, 5, 2, "190.01"))
    fix_last(mm, "190.02")                       # only the bps stop is reached
    trig = f.er(t2, "L")
    assert (trig[40], trig[18], trig[211], trig[836]) == ("P", "a", "50", "1")
    assert f.er(t2, "F")[31] == "190.01"         # the last trade stays above 190.00
    assert not [m for m in f.seen if m.get(11) == t1 and m.get(150) != "0"]
    mm.new(order(cl("bid"), 1, 5, 2, "189.00"))
    fix_last(mm, "190.00")                       # now the amount stop
    assert f.er(t1, "L")[211] == "1"
    assert (f.er(t1, "F")[39], f.er(t1, "F")[31]) == ("2", "189")


def test_fix_iceberg(fix):
    f, mm = fix
    ice = cl("ice")
    new = f.new(order(ice, 1, 300, 2, "185.00", t111=100))
    assert (new[150], new[111], new[44], new[151]) == ("0", "100", "185", "300")
    mm.send("D", order(cl("hit"), 2, 150, 2, "185.00") + [(60, NOW)])
    one, two = f.er(ice, "F", 1), f.er(ice, "F", 2)
    assert (one[32], one[14], one[151], one[111]) == ("100", "100", "200", "100")
    assert (two[32], two[14], two[151], two[39]) == ("50", "150", "150", "1")


def test_fix_oco_pair(fix):
    f, mm = fix
    fix_last(mm, "190.00")
    tp, sl = cl("tp"), cl("sl")
    a = f.new(order(tp, 2, 5, 2, "192.00"))
    b = f.new(order(sl, 2, 5, 3, t99="188.00", t7102=a[37]))
    assert (b[150], b[7102], b[99]) == ("0", a[37], "188")
    mm.new(order(cl("lift"), 1, 5, 2, "192.00"))
    assert f.er(tp, "F")[39] == "2"
    gone = f.er(sl, "4")
    assert gone[39] == "4" and gone[58].startswith("OCO_PEER_TRADED")
    bad = f.new(order(cl("x"), 2, 5, 3, t99="188.00", t7102="not-an-id"))
    assert bad[150] == "8" and bad[58].startswith("UNKNOWN_LINKED_ORDER")


def test_fix_bracket(fix):
    f, mm = fix
    fix_last(mm, "190.00")
    entry, tp, sl = cl("entry"), cl("tp"), cl("sl")
    e = f.new(order(entry, 1, 5, 2, "189.00"))
    t = f.new(order(tp, 2, 5, 2, "195.00", t7101=e[37]))
    s = f.new(order(sl, 2, 5, 3, t99="185.00", t7101=e[37], t7102=t[37]))
    assert (t[150], t[7101]) == ("0", e[37])
    assert (s[150], s[7101], s[7102], s[99]) == ("0", e[37], t[37], "185")
    mm.send("D", order(cl("fill"), 2, 5, 2, "189.00") + [(60, NOW)])
    assert f.er(entry, "F")[39] == "2"
    assert f.er(tp, "L")[39] == "0" and f.er(sl, "L")[99] == "185"     # both legs activated
    mm.new(order(cl("bid"), 1, 5, 2, "184.00"))
    fix_last(mm, "185.00")                       # the stop-loss fires ...
    assert f.er(sl, "L", 2)[40] == "3"
    fill = f.er(sl, "F")
    assert (fill[39], fill[31]) == ("2", "184")
    gone = f.er(tp, "4")                         # ... and cancels the take-profit
    assert gone[58].startswith("OCO_PEER_TRADED")


def test_fix42_trigger_is_restated(server):
    f = FixTape(server.fix("CLIENT2", username="fix-fund", password="fix-fund-pass"))
    mm = FixTape(server.fix("MMDESK"))
    f.c.logon(reset=True)
    mm.c.logon(reset=True)
    try:
        fix_last(mm, "190.00")
        s1 = cl("stop42")
        new = f.new(order(s1, 2, 5, 3, t99="189.00", t21=1))
        assert (new[20], new[40], new[99]) == ("0", "3", "189")
        mm.new(order(cl("bid"), 1, 5, 2, "188.00"))
        fix_last(mm, "189.00")
        trig = f.er(s1, "D")                     # FIX 4.2 has no ExecType L
        assert (trig[20], trig[39]) == ("0", "0") and 378 not in trig
        assert f.er(s1, "2")[31] == "188"
    finally:
        f.mass_cancel()
        mm.mass_cancel()
        f.c.close()
        mm.c.close()


# -- BINARY ------------------------------------------------------------------------------------

class BinTape:
    """A logged-in binary client and every event it has received, as dicts."""

    def __init__(self, client: BinaryClient):
        self.c = client
        self.seen: list[dict] = []

    def get(self, pred, n: int = 1, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            hits = [e for e in self.seen if pred(e)]
            if len(hits) >= n:
                return hits[n - 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no such event; rejects {self.c.rejects}; last events "
                                     f"{self.seen[-6:]}")
            for ev in self.c.read(0.05):
                self.seen.append({k: ev[k].item() for k in ev.dtype.names
                                  if not k.startswith("_")})

    def ev(self, cl_ord_id: int, exec_type: int, n: int = 1) -> dict:
        return self.get(lambda e: e["cl_ord_id"] == cl_ord_id and e["exec_type"] == exec_type, n)

    def new(self, side, qty, ord_type=OrdType.LIMIT, price=0, account=FUND_A, **kw) -> dict:
        """Send a new order; its NEW (or REJECTED) event."""
        c = next(_bin_ids)
        self.c.new_order(c, AAPL, side, qty, price, ord_type, account=account, **kw)
        return self.get(lambda e: e["cl_ord_id"] == c and e["exec_type"] in (ExecType.NEW,
                                                                            ExecType.REJECTED))

    def mass_cancel(self) -> None:
        c = next(_bin_ids)
        self.c.mass_cancel(c)
        self.get(lambda e: e["kind"] == EventType.MASS_CANCEL_REPORT and e["cl_ord_id"] == c)


@pytest.fixture
def binary(server):
    """(FUND-A as fund-a, MM-DESK as mm-desk); both sessions' orders cancelled after."""
    with server.binary("fund-a") as f, server.binary("mm-desk") as mm:
        tf, tm = BinTape(f), BinTape(mm)
        try:
            yield tf, tm
        finally:
            tf.mass_cancel()
            tm.mass_cancel()


def bin_last(mm: BinTape, price: str) -> None:
    mm.new(Side.BUY, 1, price=px(price), account=MM_DESK)
    c = next(_bin_ids)
    mm.c.new_order(c, AAPL, Side.SELL, 1, px(price), account=MM_DESK)
    mm.get(lambda e: e["cl_ord_id"] == c and e["status"] == OrdStatus.FILLED)


def test_binary_stop_triggers_after_a_stop_price_replace(binary):
    f, mm = binary
    bin_last(mm, "190.00")
    new = f.new(Side.SELL, 5, OrdType.STOP, stop_price=px("189.00"))
    assert (new["exec_type"], new["ord_type"], new["price"]) == (ExecType.NEW, OrdType.STOP, 0)
    rep_id = next(_bin_ids)
    f.c.replace(rep_id, 0, 5, orig_cl_ord_id=new["cl_ord_id"], stop_price=px("189.50"))
    rep = f.ev(rep_id, ExecType.REPLACED)
    assert rep["order_id"] == new["order_id"] and rep["status"] == OrdStatus.ACCEPTED
    mm.new(Side.BUY, 5, price=px("189.00"), account=MM_DESK)
    bin_last(mm, "189.50")
    trig = f.ev(rep_id, ExecType.TRIGGERED)
    assert (trig["status"], trig["leaves_qty"]) == (OrdStatus.ACCEPTED, 5)
    fill = f.ev(rep_id, ExecType.TRADE)
    assert (fill["status"], fill["last_px"], fill["last_qty"]) == (OrdStatus.FILLED,
                                                                   px("189.00"), 5)


def test_binary_other_types_and_rejects(binary):
    f, mm = binary
    bin_last(mm, "190.00")
    assert f.new(Side.SELL, 5, OrdType.STOP_LIMIT, px("188.50"),
                 stop_price=px("189.00"))["exec_type"] == ExecType.NEW
    assert f.new(Side.BUY, 5, OrdType.MARKET_IF_TOUCHED,
                 stop_price=px("187.00"))["exec_type"] == ExecType.NEW
    assert f.new(Side.BUY, 5, OrdType.LIMIT_IF_TOUCHED, px("186.00"),
                 stop_price=px("187.00"))["exec_type"] == ExecType.NEW
    mm.new(Side.SELL, 5, price=px("191.00"), account=MM_DESK)
    po = f.new(Side.BUY, 5, price=px("195.00"), exec_inst=ExecInst.POST_ONLY)
    assert po["reject_code"] == RejectCode.POST_ONLY_WOULD_TRADE
    bad = f.new(Side.SELL, 5, OrdType.TRAILING_STOP, trail_amount=px("1"), trail_bps=5)
    assert bad["reject_code"] == RejectCode.INVALID_TRAIL
    old = f.new(Side.SELL, 5, OrdType.STOP)             # an `O` frame has no stop price
    assert old["reject_code"] == RejectCode.INVALID_STOP_PRICE


def test_binary_trailing_stops_by_amount_and_bps(binary):
    f, mm = binary
    bin_last(mm, "190.00")
    a = f.new(Side.SELL, 5, OrdType.TRAILING_STOP, trail_amount=px("1.00"))
    b = f.new(Side.SELL, 5, OrdType.TRAILING_STOP, trail_bps=50)
    assert a["exec_type"] == b["exec_type"] == ExecType.NEW
    bin_last(mm, "191.00")
    mm.new(Side.BUY, 5, price=px("190.01"), account=MM_DESK)
    bin_last(mm, "190.02")
    assert f.ev(b["cl_ord_id"], ExecType.TRIGGERED)["ord_type"] == OrdType.TRAILING_STOP
    assert f.ev(b["cl_ord_id"], ExecType.TRADE)["last_px"] == px("190.01")
    assert not [e for e in f.seen if e["cl_ord_id"] == a["cl_ord_id"]
                and e["exec_type"] != ExecType.NEW]
    mm.new(Side.BUY, 5, price=px("189.00"), account=MM_DESK)
    bin_last(mm, "190.00")
    f.ev(a["cl_ord_id"], ExecType.TRIGGERED)
    assert f.ev(a["cl_ord_id"], ExecType.TRADE)["status"] == OrdStatus.FILLED


def test_binary_iceberg(binary):
    f, mm = binary
    ice = f.new(Side.BUY, 300, price=px("185.00"), display_qty=100)
    assert ice["exec_type"] == ExecType.NEW
    mm.new(Side.SELL, 150, price=px("185.00"), account=MM_DESK)
    one = f.ev(ice["cl_ord_id"], ExecType.TRADE, 1)
    two = f.ev(ice["cl_ord_id"], ExecType.TRADE, 2)
    assert (one["last_qty"], one["leaves_qty"]) == (100, 200)
    assert (two["last_qty"], two["cum_qty"], two["leaves_qty"]) == (50, 150, 150)


def test_binary_oco_pair(binary):
    f, mm = binary
    bin_last(mm, "190.00")
    tp = f.new(Side.SELL, 5, price=px("192.00"))
    sl = f.new(Side.SELL, 5, OrdType.STOP, stop_price=px("188.00"), oco_order_id=tp["order_id"])
    assert sl["exec_type"] == ExecType.NEW
    mm.new(Side.BUY, 5, price=px("192.00"), account=MM_DESK)
    assert f.ev(tp["cl_ord_id"], ExecType.TRADE)["status"] == OrdStatus.FILLED
    gone = f.ev(sl["cl_ord_id"], ExecType.CANCELED)
    assert gone["reject_code"] == RejectCode.OCO_PEER_TRADED
    bad = f.new(Side.SELL, 5, OrdType.STOP, stop_price=px("188.00"), oco_order_id=10**12)
    assert bad["reject_code"] == RejectCode.UNKNOWN_LINKED_ORDER


def test_binary_bracket(binary):
    f, mm = binary
    bin_last(mm, "190.00")
    entry = f.new(Side.BUY, 5, price=px("189.00"))
    tp = f.new(Side.SELL, 5, price=px("195.00"), parent_order_id=entry["order_id"])
    sl = f.new(Side.SELL, 5, OrdType.STOP, stop_price=px("185.00"),
               parent_order_id=entry["order_id"], oco_order_id=tp["order_id"])
    assert tp["exec_type"] == sl["exec_type"] == ExecType.NEW
    mm.new(Side.SELL, 5, price=px("189.00"), account=MM_DESK)
    assert f.ev(entry["cl_ord_id"], ExecType.TRADE)["status"] == OrdStatus.FILLED
    f.ev(tp["cl_ord_id"], ExecType.TRIGGERED)
    f.ev(sl["cl_ord_id"], ExecType.TRIGGERED)
    mm.new(Side.BUY, 5, price=px("184.00"), account=MM_DESK)
    bin_last(mm, "185.00")
    f.ev(sl["cl_ord_id"], ExecType.TRIGGERED, 2)
    assert f.ev(sl["cl_ord_id"], ExecType.TRADE)["last_px"] == px("184.00")
    assert f.ev(tp["cl_ord_id"], ExecType.CANCELED)["reject_code"] == RejectCode.OCO_PEER_TRADED


def test_binary_old_frames_still_work(binary):
    """`O` and `U` frames still work next to `N` and `V` (old clients)."""
    f, _ = binary
    o = f.new(Side.BUY, 5, price=px("180.00"))
    rep_id = next(_bin_ids)
    f.c.replace(rep_id, px("180.50"), 5, orig_cl_ord_id=o["cl_ord_id"])
    assert f.ev(rep_id, ExecType.REPLACED)["price"] == px("180.50")
    f.c.mass_cancel(next(_bin_ids), scope=MassCancelScope.SYMBOL, symbol=AAPL)
    assert f.ev(rep_id, ExecType.CANCELED)["status"] == OrdStatus.CANCELLED


def test_fix_reports_after_a_restart_keep_stop_prices_and_trails(tmp_path):
    """The gateway rebuilds what reports show beyond the engine's events (StopPx, trails,
    links) from the recovered engine's live orders."""
    from .conftest import Server
    srv = Server(tmp_path).start()
    try:
        f = FixTape(srv.fix("CLIENT1"))
        f.c.logon(reset=True)
        stop = f.new(order("keep-stop", 2, 5, 4, "180.00", t99="181.00"))
        assert stop[150] == "0", stop.get(58)
        trail = f.new(order("keep-trail", 2, 5, "P", t18="a", t211="25", t836=1,
                            t7102=stop[37]))
        assert trail[150] == "0" and trail[7102] == stop[37], trail.get(58)
        f.c.logout()
        f.c.close()
    finally:
        assert srv.stop() == 0
    srv.start()
    try:
        f = FixTape(srv.fix("CLIENT1"))
        f.c.logon(reset=True)
        for clordid in ("keep-stop", "keep-trail"):
            f.send("H", [(11, clordid), (55, "AAPL"), (54, 2)])
        st = f.get(lambda m: m.get(11) == "keep-stop" and m.get(150) == "I")
        assert (st[40], st[44], st[99], st[7102]) == ("4", "180", "181", trail[37])
        st = f.get(lambda m: m.get(11) == "keep-trail" and m.get(150) == "I")
        assert (st[40], st[18], st[211], st[836], st[7102]) == ("P", "a", "25", "1", stop[37])
        f.c.close()
    finally:
        srv.stop()
