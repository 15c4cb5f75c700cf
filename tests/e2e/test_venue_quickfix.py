"""Our FIX 4.4 venue initiator (src/oms/venues) against QuickFIX as the venue: a real
`oms serve` routes client orders to tests/e2e/quickfix_venue.py, a QuickFIX SocketAcceptor
with the FIX44 DataDictionary acting as a simple exchange (issue 9: "the same flow against a
QuickFIX acceptor").  Everything is asserted on what the FIX client sees."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("quickfix")

from oms.client import FixClient                        # noqa: E402
from oms.venues.status import read_status               # noqa: E402

from .conftest import HOST, Server, free_port           # noqa: E402
from .venues_support import ACCOUNTS                    # noqa: E402

NOW = "20250101-00:00:00"
VENUE_SCRIPT = Path(__file__).with_name("quickfix_venue.py")
ids = itertools.count(1)

# engine reference data: the demo accounts, AAPL (not listed at QFX) and ACME (listed at QFX:
# routed there by the table), quoted by the venue at 99.95 / 100.05, 1,000 shares a side
ENGINE = """
[engine]
max_orders = 65536
idem_capacity = 65536

[[engine.symbols]]
symbol_id = 0
name = "AAPL"
tick_size = 100
ref_price = 1900000
collar_bps = 1000

[[engine.symbols]]
symbol_id = 4
name = "ACME"
tick_size = 100
ref_price = 1000000
collar_bps = 1000
venues = [{venue = "QFX"}]

""" + ACCOUNTS + """
[[engine.venues]]
venue_id = 1
name = "QFX"
"""

VENUE_SESSION = """
[[venues]]
name = "QFX"
host = "{host}"
port = {port}
target_comp_id = "QFX"
heartbeat = 5
reconnect_interval = 0.5
reconnect_max = 2.0
response_timeout = 2.0
probe_interval = 1.0
"""


class QuickFixVenue:
    """tests/e2e/quickfix_venue.py as a subprocess, driven by its stdin line protocol."""

    def __init__(self, tmp: Path):
        self.port = free_port()
        self.dir = tmp / "qfx"
        self.proc = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []

    def start(self) -> "QuickFixVenue":
        self.proc = subprocess.Popen(
            [sys.executable, str(VENUE_SCRIPT), "--port", str(self.port), "--dir",
             str(self.dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_line(lambda l: l.startswith("READY"), 30)
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, pred, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"venue: no matching line; saw {self.seen[-10:]}")
            self.seen.append(line)
            if pred(line):
                return line
            if time.monotonic() > deadline:
                raise AssertionError(f"venue: no matching line; saw {self.seen[-10:]}")

    def control(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.wait_line(lambda l: l.startswith(("OK", "ERR", "ORDERS")))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    v = QuickFixVenue(tmp_path_factory.mktemp("qfx")).start()
    yield v
    v.stop()


@pytest.fixture(scope="module")
def oms(venue, tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("oms-qfx"),
                 tiers=ENGINE + VENUE_SESSION.format(host=HOST, port=venue.port))
    srv.start()
    venue.wait_line(lambda l: l.startswith("LOGON"), 20)
    yield srv
    srv.stop()


@pytest.fixture
def client(oms):
    c = oms.fix("CLIENT1")
    c.logon(reset=True)
    yield c
    c.close()


def cl() -> str:
    return f"q-{next(ids)}-{time.time_ns() % 10**9}"


def nos(clordid, side=1, qty=100, price="99.00", symbol="ACME", extra=()):
    fields = [(11, clordid), (55, symbol), (54, side), (40, 2 if price else 1), (38, qty)]
    if price:
        fields.append((44, price))
    return fields + [(60, NOW)] + list(extra)


def er(c: FixClient, clordid: str, exec_type: str, msg_type: str = "8", timeout: float = 10):
    return c.expect(lambda m: m.msg_type == msg_type and m.get(11) == clordid
                    and (msg_type == "9" or m.get(150) == exec_type), timeout=timeout)


def routed(c: FixClient, clordid: str, **kw):
    """Send a NewOrderSingle and take its PENDING_NEW and NEW (the venue's ack)."""
    c.send("D", nos(clordid, **kw))
    pending = er(c, clordid, "A")
    assert pending[39] == "A" and pending[14] == "0"
    new = er(c, clordid, "0")
    assert new[39] == "0" and new[37] == pending[37]
    return new


def wait_up(oms: Server, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(oms.dir / "state")
        if st:
            v = {x["venue"]: x for x in st["venues"]}.get("QFX")
            if v and v["state"] == "UP" and v["engine_state"] == "UP":
                return v
        time.sleep(0.1)
    raise AssertionError(f"venue QFX not UP: {read_status(oms.dir / 'state')}")


# -- SESSION -----------------------------------------------------------------------------------

def test_venue_session_is_up(oms, venue):
    v = wait_up(oms)
    assert v["target_comp_id"] == "QFX" and v["venue_id"] == 1
    out = subprocess.run([sys.executable, "-m", "oms.cli", "venues", "--config",
                          str(oms.config)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("QFX"))
    assert row.split()[2] == "UP"


# -- ORDERS ------------------------------------------------------------------------------------

def test_routed_by_table_acked_and_rests(client, oms):
    wait_up(oms)
    o = cl()
    new = routed(client, o)
    assert new[151] == "100" and new[14] == "0" and new[55] == "ACME"


def test_crossing_order_fills(client, oms):
    wait_up(oms)
    o = cl()
    routed(client, o, qty=300, price="100.10")
    fill = er(client, o, "F")
    assert (fill[39], fill[32], fill[31], fill[14], fill[151]) == \
        ("2", "300", "100.05", "300", "0")
    assert fill.get(30) == "QFX"


def test_partial_fill_then_rest_filled(client, oms, venue):
    wait_up(oms)
    o = cl()
    new = routed(client, o, qty=1500, price="100.10")
    part = er(client, o, "F")
    assert (part[39], part[32], part[14], part[151]) == ("1", "1000", "1000", "500")
    assert venue.control(f"trade cl={new[37]}.") == "OK trade 1"
    rest = er(client, o, "F")
    assert (rest[39], rest[32], rest[31], rest[14], rest[151]) == \
        ("2", "500", "100.1", "1500", "0")


def test_sell_crosses_bid(client, oms):
    wait_up(oms)
    o = cl()
    routed(client, o, side=2, qty=200, price="99.90")
    fill = er(client, o, "F")
    assert (fill[39], fill[31], fill[14], fill[151]) == ("2", "99.95", "200", "0")


def test_replace_then_fill(client, oms, venue):
    wait_up(oms)
    o, r = cl(), cl()
    new = routed(client, o, qty=100, price="99.00")
    client.send("G", [(11, r), (41, o), (55, "ACME"), (54, 1), (40, 2), (38, 200),
                      (44, "99.50"), (60, NOW)])
    pending = er(client, r, "E")
    assert pending[39] == "E" and pending[41] == o
    rep = er(client, r, "5")
    assert (rep[39], rep[38], rep[44], rep[151], rep[14]) == ("0", "200", "99.5", "200", "0")
    assert rep[41] == o and rep[37] == new[37]
    assert venue.control(f"trade cl={new[37]}.") == "OK trade 1"
    fill = er(client, r, "F")
    assert (fill[39], fill[32], fill[31], fill[14], fill[151]) == \
        ("2", "200", "99.5", "200", "0")


def test_replace_into_the_quote_fills(client, oms):
    wait_up(oms)
    o, r = cl(), cl()
    routed(client, o, qty=100, price="99.00")
    client.send("G", [(11, r), (41, o), (55, "ACME"), (54, 1), (40, 2), (38, 100),
                      (44, "100.05"), (60, NOW)])
    er(client, r, "5")
    fill = er(client, r, "F")
    assert (fill[39], fill[31], fill[14], fill[151]) == ("2", "100.05", "100", "0")


def test_cancel_accepted(client, oms):
    wait_up(oms)
    o, c = cl(), cl()
    routed(client, o)
    client.send("F", [(11, c), (41, o), (55, "ACME"), (54, 1), (38, 100), (60, NOW)])
    pend = er(client, c, "6")
    assert pend[39] == "6"
    done = er(client, c, "4")
    assert (done[39], done[14], done[151], done[41]) == ("4", "0", "0", o)


def test_cancel_rejected_too_late(client, oms, venue):
    """The venue fills the order while our cancel is on its way: the fill arrives first,
    then its OrderCancelReject (too late); the order stays filled."""
    wait_up(oms)
    o, c = cl(), cl()
    new = routed(client, o)
    assert venue.control(f"trade cl={new[37]}. hold") == "OK trade 1"
    client.send("F", [(11, c), (41, o), (55, "ACME"), (54, 1), (38, 100), (60, NOW)])
    pend = er(client, c, "6")
    assert pend[39] == "6"
    fill = er(client, o, "F")
    assert (fill[32], fill[14], fill[151]) == ("100", "100", "0")
    rej = er(client, c, None, msg_type="9")
    assert rej[41] == o and rej[434] == "1" and rej[39] == "2"
    assert rej[102] == "0" and rej[58].startswith("VENUE_TOO_LATE")


def test_venue_reject_reaches_client(client, oms, venue):
    wait_up(oms)
    assert venue.control("reject_next 3 order exceeds venue limit") == "OK reject_next"
    o = cl()
    client.send("D", nos(o))
    er(client, o, "A")
    rej = er(client, o, "8")
    assert rej[39] == "8" and rej[103] == "3"
    assert rej[58].startswith("VENUE_ORDER_EXCEEDS_LIMIT")
    assert (rej[14], rej[151]) == ("0", "0")


def test_venue_reject_without_reason(client, oms, venue):
    wait_up(oms)
    assert venue.control("reject_next 0 no") == "OK reject_next"
    o = cl()
    client.send("D", nos(o))
    er(client, o, "A")
    rej = er(client, o, "8")
    assert rej[39] == "8" and rej[58].startswith("VENUE_REJECTED")


def test_business_reject_of_an_order(client, oms, venue):
    """QuickFIX answers a message type it does not take with a BusinessMessageReject (35=j,
    RefSeqNum, no BusinessRejectRefID): the order is rejected, not left pending."""
    wait_up(oms)
    assert venue.control("unsupported_next") == "OK unsupported_next"
    o = cl()
    client.send("D", nos(o))
    er(client, o, "A")
    rej = er(client, o, "8")
    assert rej[39] == "8" and rej[58].startswith("VENUE_REJECTED")


def test_ex_destination(client, oms):
    wait_up(oms)
    o = cl()
    client.send("D", nos(o, qty=100, price="100.10", extra=[(100, "QFX")]))
    er(client, o, "A")
    er(client, o, "0")
    fill = er(client, o, "F")
    assert fill[39] == "2" and fill[31] == "100.05" and fill.get(30) == "QFX"
    # INTERNAL: the in-process book, no PENDING_NEW
    i = cl()
    client.send("D", nos(i, qty=10, price="95.00", extra=[(100, "INTERNAL")]))
    got = client.wait_for(lambda m: m.msg_type == "8" and m.get(11) == i)
    assert [m[150] for m in got if m.get(11) == i] == ["0"], got[-1].get(58)
    # a venue that does not list the symbol
    n = cl()
    client.send("D", nos(n, symbol="AAPL", price="190.00", extra=[(100, "QFX")]))
    rej = er(client, n, "8")
    assert rej[58].startswith("VENUE_NOT_LISTED")


def test_status_shows_traffic(oms):
    time.sleep(1.5)                           # venues.json is rewritten every second
    v = wait_up(oms)
    assert v["outstanding"] == 0 and v["sent"] >= 10 and v["session_rejects"] == 0


def test_silent_venue_times_out(client, oms, venue):
    """A venue that stops answering: the order stays pending new (nothing invented) and the
    client hears VENUE_NO_RESPONSE in an order status report."""
    wait_up(oms)
    assert venue.control("silent on") == "OK silent"
    try:
        o = cl()
        client.send("D", nos(o))
        er(client, o, "A")
        st = er(client, o, "I", timeout=15)
        assert st[39] == "A" and st[58].startswith("VENUE_NO_RESPONSE")
        assert (st[14], st[151]) == ("0", "100")
    finally:
        assert venue.control("silent off") == "OK silent"


# -- DISCONNECTS, GAPS, RECONCILIATION ---------------------------------------------------------

def wait_down(oms: Server, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(oms.dir / "state")
        v = {x["venue"]: x for x in (st or {}).get("venues", [])}.get("QFX")
        if v and v["state"] != "UP":
            return v
        time.sleep(0.05)
    raise AssertionError(f"venue QFX still UP: {read_status(oms.dir / 'state')}")


def test_fill_while_disconnected_arrives_by_resend(client, oms, venue):
    """The venue fills a resting order while the session is down: QuickFIX keeps the report
    in its store; after the next Logon our initiator sees the gap, asks for a resend and
    books the fill once."""
    wait_up(oms)
    o = cl()
    new = routed(client, o)
    assert venue.control("block on") == "OK block"
    try:
        assert venue.control("disconnect") == "OK disconnect"
        wait_down(oms)
        assert venue.control(f"trade cl={new[37]}.") == "OK trade 1"
    finally:
        assert venue.control("block off") == "OK block"
    wait_up(oms)
    fill = er(client, o, "F", timeout=15)
    assert (fill[39], fill[32], fill[14], fill[151]) == ("2", "100", "100", "0")
    client.read(1.0)
    assert not [m for m in client.received if m.get(11) == o and m.get(150) == "F"]


def test_lost_order_is_resent_after_reconnect(client, oms, venue):
    """A NewOrderSingle the venue never processed: after the reconnect the reconciliation's
    OrderStatusRequest finds it unknown and sends it again with the same ClOrdID."""
    wait_up(oms)
    assert venue.control("silent on") == "OK silent"
    o = cl()
    try:
        client.send("D", nos(o))
        er(client, o, "A")
        er(client, o, "I", timeout=15)               # VENUE_NO_RESPONSE: still pending new
        assert venue.control("block on") == "OK block"
        assert venue.control("disconnect") == "OK disconnect"
        wait_down(oms)
    finally:
        venue.control("silent off")
        venue.control("block off")
    wait_up(oms)
    new = er(client, o, "0", timeout=15)
    assert new[39] == "0" and new[151] == "100"
    orders = json.loads(venue.control("orders").split(" ", 1)[1])
    assert len([x for x in orders if x["cl"].startswith(new[37] + ".")]) == 1


def test_cancel_sent_while_down_is_resent_after_reconnect(client, oms, venue):
    """A cancel the engine sends while the session is down waits in our store; the
    reconciliation after the Logon finds the order still live and sends it again."""
    wait_up(oms)
    o, c = cl(), cl()
    routed(client, o)
    assert venue.control("block on") == "OK block"
    try:
        assert venue.control("disconnect") == "OK disconnect"
        wait_down(oms)
        client.send("F", [(11, c), (41, o), (55, "ACME"), (54, 1), (38, 100), (60, NOW)])
        assert er(client, c, "6")[39] == "6"
    finally:
        assert venue.control("block off") == "OK block"
    wait_up(oms)
    done = er(client, c, "4", timeout=15)
    assert (done[39], done[14], done[151], done[41]) == ("4", "0", "0", o)


def test_replace_rejected_by_venue(client, oms, venue):
    wait_up(oms)
    o, r = cl(), cl()
    new = routed(client, o)
    assert venue.control(f"trade cl={new[37]}. hold") == "OK trade 1"
    client.send("G", [(11, r), (41, o), (55, "ACME"), (54, 1), (40, 2), (38, 200),
                      (44, "99.50"), (60, NOW)])
    er(client, r, "E")
    fill = er(client, o, "F")
    assert fill[39] == "2" and fill[14] == "100"
    rej = er(client, r, None, msg_type="9")
    assert rej[434] == "2" and rej[41] == o and rej[39] == "2"
    assert rej[58].startswith("VENUE_TOO_LATE")


def test_unsolicited_venue_cancel(client, oms, venue):
    wait_up(oms)
    o = cl()
    new = routed(client, o)
    assert venue.control(f"cancel cl={new[37]}. venue halt") == "OK cancel 1"
    done = er(client, o, "4")
    assert (done[39], done[151]) == ("4", "0") and done[58].startswith("VENUE_CANCELLED")


def test_bust_of_a_venue_fill(client, oms, venue):
    wait_up(oms)
    o = cl()
    new = routed(client, o, qty=1500, price="100.10")
    part = er(client, o, "F")
    assert part[14] == "1000"
    assert venue.control(f"bust cl={new[37]}.") == "OK bust 1"
    bust = er(client, o, "H")
    assert (bust[32], bust[31], bust[14], bust[151]) == ("1000", "100.05", "0", "1500")
    assert bust[39] == "0"


def test_oms_restart_keeps_the_session(oms, venue):
    """oms serve stops and starts again: both sides keep their sequence numbers (no reset),
    the resting order survives, and it is cancelled at the venue after the restart."""
    wait_up(oms)
    c = oms.fix("CLIENT1")
    c.logon(reset=True)
    o, x = cl(), cl()
    routed(c, o)
    c.close()
    assert oms.stop() == 0
    venue.wait_line(lambda l: l.startswith("LOGOUT"), 10)
    oms.start()
    venue.wait_line(lambda l: l.startswith("LOGON"), 20)
    wait_up(oms)
    c = oms.fix("CLIENT1")
    c.logon(reset=True)
    try:
        c.send("F", [(11, x), (41, o), (55, "ACME"), (54, 1), (38, 100), (60, NOW)])
        er(c, x, "6")
        done = er(c, x, "4")
        assert (done[39], done[151]) == ("4", "0")
    finally:
        c.close()
    assert "MsgSeqNum too low" not in oms.log_text()


def test_market_ioc_partial_then_remainder_cancelled(client, oms):
    wait_up(oms)
    o = cl()
    client.send("D", nos(o, qty=1500, price=None, extra=[(59, 3)]))
    er(client, o, "A")
    er(client, o, "0")
    fill = er(client, o, "F")
    assert (fill[39], fill[32], fill[31], fill[14], fill[151]) == \
        ("1", "1000", "100.05", "1000", "500")
    done = er(client, o, "4")
    assert (done[39], done[14], done[151]) == ("4", "1000", "0")


def test_gtd_order_goes_out_with_expire_time(client, oms):
    wait_up(oms)
    o = cl()
    expire = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + 3600))
    new = routed(client, o, extra=[(59, 6), (126, expire)])
    assert new[59] == "6"


def test_reset_on_logon(tmp_path):
    """ResetSeqNumFlag(141)=Y on every Logon: QuickFIX resets too and answers 141=Y, and
    orders flow after each (re)start of oms serve."""
    v = QuickFixVenue(tmp_path).start()
    (tmp_path / "oms").mkdir()
    srv = Server(tmp_path / "oms", tiers=ENGINE + VENUE_SESSION.format(host=HOST, port=v.port)
                 + "reset_on_logon = true\n")
    try:
        for _ in range(2):
            srv.start()
            v.wait_line(lambda l: l.startswith("LOGON"), 20)
            wait_up(srv)
            c = srv.fix("CLIENT1")
            c.logon(reset=True)
            o = cl()
            routed(c, o, qty=10, price="100.10")
            assert er(c, o, "F")[39] == "2"
            c.close()
            assert srv.stop() == 0
            v.wait_line(lambda l: l.startswith("LOGOUT"), 10)
        assert "venue_logon_failed" not in srv.log_text()
        assert "sequence_gap" not in srv.log_text()
    finally:
        srv.stop()
        v.stop()
