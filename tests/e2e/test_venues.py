"""Routing to external venues end to end (issue 9, "Done when"): a real `oms serve` (journal
on) routes a FIX client's orders to two `oms venue-sim` processes over TCP; the simulators
are driven by their control channels (trades against our resting orders, busts, faults,
disconnects).  Everything is asserted on what the client sees (ExecType 150, OrdStatus 39,
CumQty 14, LeavesQty 151, LastMkt 30, Text 58), on the simulators' books, and on
`oms venues` / `oms replay --verify`; never on timings.

Prices: the simulators quote nothing (liquidity off), so their books hold only our orders.
Every test rests its buy orders above those earlier tests may have left, so a control trade
(an IOC sell at the test's price) can only hit the order the test means."""

from __future__ import annotations

import signal
import time

import pytest

pytest.importorskip("oms._fix")

from oms.codes import RejectCode                        # noqa: E402

from .venues_support import (SIM_NAMES, Sim, cancel, cl, dec, er, fresh_row,  # noqa: E402
                             nos, oms_server, oms_venues_table, quiet_for, replace,
                             replay_verify, routed, status_request, status_until,
                             wait_until, wait_up, wait_venue)


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("venue-sims")
    out: dict[str, Sim] = {}
    try:
        for name in SIM_NAMES:
            out[name] = Sim(name, tmp)
        yield out
    finally:
        for s in out.values():
            s.stop()


@pytest.fixture(scope="module")
def oms(sims, tmp_path_factory):
    srv = oms_server(tmp_path_factory.mktemp("oms-venues"), sims).start()
    try:
        for name in SIM_NAMES:
            wait_up(srv, name)
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(oms, sims):
    for s in sims.values():
        s.reset_faults()
    c = oms.fix("CLIENT1")
    c.logon(reset=True)
    yield c
    c.close()
    for s in sims.values():
        s.reset_faults()


def venue_code(text: str) -> RejectCode:
    """Our code named at the start of Text(58): `<CODE_NAME>: <message>`."""
    return RejectCode[text.split(":", 1)[0]]


def dropped_by(sim: Sim, before: int) -> None:
    wait_until(lambda: sim.counter("dropped") > before, what=f"{sim.name} dropping a message")


# -- the lifecycle ------------------------------------------------------------------------

def test_routed_acked_partially_filled_replaced_filled(oms, sims, client):
    a, b = sims["SIMA"], sims["SIMB"]
    o, r = cl(), cl()
    _, new = routed(client, o, qty=300, price="180.10")        # AAPL: primary SIMA
    oid = new[37]
    assert (new[151], new[14]) == ("300", "0")
    at_a = a.orders(oid)
    assert [(x["cl_ord_id"], x["leaves_qty"]) for x in at_a] == [(f"{oid}.1", 300)]
    assert not b.orders(oid)

    a.call("trade", symbol="AAPL", side="sell", qty=100, price="180.10")
    part = er(client, o, "F")
    assert (part[39], part[32], dec(part[31]), part[14], part[151], part[30]) == \
        ("1", "100", dec("180.10"), "100", "200", "SIMA")

    replace(client, r, o, qty=400, price="180.20")
    pend = er(client, r, "E")
    assert (pend[39], pend[41], pend[14]) == ("E", o, "100")
    rep = er(client, r, "5")
    assert (rep[39], rep[38], dec(rep[44]), rep[14], rep[151], rep[41], rep[37]) == \
        ("1", "400", dec("180.20"), "100", "300", o, oid)
    # the venue holds the new terms under a new venue ClOrdID
    assert [(x["cl_ord_id"], x["qty"], dec(x["price"]), x["leaves_qty"]) for x in a.orders(oid)] \
        == [(f"{oid}.2", 400, dec("180.20"), 300)]

    a.call("trade", symbol="AAPL", side="sell", qty=300, price="180.20")
    fill = er(client, r, "F")
    assert (fill[39], fill[32], dec(fill[31]), fill[14], fill[151], fill[30]) == \
        ("2", "300", dec("180.20"), "400", "0", "SIMA")
    assert not a.orders(oid)


def test_cancel_rejected_by_the_venue_as_too_late(oms, sims, client):
    """The venue fills the order; its report is held (ack_delay) while our cancel travels,
    so the cancel reaches a venue where the order is already filled: the fill, then the
    venue's OrderCancelReject (too late), reach the client; the order stays filled."""
    a = sims["SIMA"]
    o, x = cl(), cl()
    _, new = routed(client, o, qty=100, price="181.00")
    a.call("faults", set={"ack_delay": 1.0})
    a.call("trade", symbol="AAPL", side="sell", qty=100, price="181.00")
    wait_until(lambda: not a.orders(new[37]), what="the fill at the venue")
    cancel(client, x, o)
    pend = er(client, x, "6")
    assert (pend[39], pend[41]) == ("6", o)
    fill = er(client, o, "F")
    assert (fill[39], fill[32], fill[14], fill[151], fill[30]) == ("2", "100", "100", "0", "SIMA")
    rej = er(client, x, None, msg_type="9")
    assert (rej[41], rej[434], rej[39], rej[102]) == (o, "1", "2", "0")
    assert rej[58].startswith("VENUE_TOO_LATE:") and venue_code(rej[58]) == 954
    st = status_request(client, o)
    assert (st[39], st[14], st[151]) == ("2", "100", "0")


def test_venue_reject_reaches_the_client(oms, sims, client):
    a = sims["SIMA"]
    a.call("faults", set={"reject_ratio": 1.0, "reject_reason": 3,
                          "reject_text": "order exceeds venue limit"})
    o = cl()
    client.send("D", nos(o, price="181.50"))
    assert er(client, o, "A")[39] == "A"
    rej = er(client, o, "8")
    assert (rej[39], rej[103], rej[14], rej[151]) == ("8", "3", "0", "0")
    assert rej[58].startswith("VENUE_ORDER_EXCEEDS_LIMIT:")
    assert venue_code(rej[58]) == RejectCode.VENUE_ORDER_EXCEEDS_LIMIT == 953
    # a reason we have no code for: the generic venue reject
    a.call("faults", set={"reject_reason": 99, "reject_text": "whatever"})
    p = cl()
    client.send("D", nos(p, price="181.50"))
    er(client, p, "A")
    rej = er(client, p, "8")
    assert rej[39] == "8" and venue_code(rej[58]) == RejectCode.VENUE_REJECTED == 950


def test_silent_venue_leaves_the_order_pending(oms, sims, client):
    """No answer within response_timeout (0.5 s): an ORDER_STATUS report with
    VENUE_NO_RESPONSE; the order stays PENDING_NEW, nothing is invented."""
    a = sims["SIMA"]
    a.call("faults", set={"silent": True})
    before = a.counter("dropped")
    o = cl()
    client.send("D", nos(o, price="172.00"))
    pend = er(client, o, "A")
    st = er(client, o, "I")
    assert (st[39], st[14], st[151]) == ("A", "0", "100")
    assert st[58].startswith("VENUE_NO_RESPONSE:") and venue_code(st[58]) == 959
    dropped_by(a, before)                         # it reached the venue, which ignored it
    assert not a.orders(pend[37])
    later = quiet_for(client, o, 1.0)
    assert not [m for m in later if m.get(150) in ("0", "F", "4", "8", "C")], later
    again = status_request(client, o)
    assert (again[39], again[14], again[151]) == ("A", "0", "100")


# -- disconnects and reconciliation ---------------------------------------------------------

def test_disconnect_keeps_orders_and_reconciles(oms, sims, client):
    """SIMA's policy in the OMS: no cancel on disconnect.  The venue drops the session with
    an acknowledged order resting and one it never processed; after the reconnect the
    resting order is still live (and fills), the lost one is found unknown by the
    reconciliation's OrderStatusRequest and sent again with the same ClOrdID."""
    a = sims["SIMA"]
    o, lost = cl(), cl()
    _, new = routed(client, o, qty=200, price="183.00")
    a.call("faults", set={"silent": True})
    before = a.counter("dropped")
    client.send("D", nos(lost, qty=50, price="182.50"))
    lost_oid = er(client, lost, "A")[37]
    dropped_by(a, before)
    a.call("faults", set={"silent": False})
    logons = fresh_row(oms, "SIMA")["logons"]
    assert a.call("disconnect", comp_id="OMS")["closed"] == ["OMS"]
    wait_up(oms, "SIMA", min_logons=logons + 1)
    st = status_request(client, o)
    assert (st[39], st[14], st[151]) == ("0", "0", "200")
    ack = er(client, lost, "0")
    assert (ack[39], ack[151], ack[37]) == ("0", "50", lost_oid)
    assert [x["cl_ord_id"] for x in a.orders(lost_oid)] == [f"{lost_oid}.1"]   # once
    a.call("trade", symbol="AAPL", side="sell", qty=200, price="183.00")
    fill = er(client, o, "F")
    assert (fill[39], fill[14], fill[151], fill[30]) == ("2", "200", "0", "SIMA")
    assert not [m for m in client.received if m.get(11) in (o, lost) and m.get(150) in "48"]


def test_disconnect_after_an_order_recovers_by_resend(oms, sims, client):
    """The venue takes a NewOrderSingle and drops the connection before its answer goes
    out (disconnect_after): after the reconnect the acknowledgement arrives by the
    session's resend, and the venue holds the order once (no double order)."""
    a = sims["SIMA"]
    disconnects = a.counter("disconnects")
    logons = fresh_row(oms, "SIMA")["logons"]
    a.call("faults", set={"disconnect_after": 1})
    o = cl()
    client.send("D", nos(o, qty=70, price="183.50"))
    oid = er(client, o, "A")[37]
    wait_until(lambda: a.counter("disconnects") > disconnects, what="the venue's disconnect")
    a.call("faults", set={"disconnect_after": 0})
    new = er(client, o, "0")
    assert (new[39], new[151], new[37]) == ("0", "70", oid)
    wait_up(oms, "SIMA", min_logons=logons + 1)
    assert [x["cl_ord_id"] for x in a.orders(oid)] == [f"{oid}.1"]
    a.call("trade", symbol="AAPL", side="sell", qty=70, price="183.50")
    fill = er(client, o, "F")
    assert (fill[39], fill[14], fill[30]) == ("2", "70", "SIMA")


def test_disconnect_with_cancel_on_disconnect(oms, sims, client):
    """SIMB cancels on disconnect, in the OMS's engine config and at the venue itself: the
    acknowledged orders end CANCELLED and the unacknowledged one REJECTED, with
    VENUE_DISCONNECTED; the venue's own cancels, recovered by resend after the logon,
    change nothing more."""
    b = sims["SIMB"]
    o1, o2, o3 = cl(), cl(), cl()
    _, n1 = routed(client, o1, symbol="MSFT", qty=100, price="410.00")   # cheapest: SIMB
    _, n2 = routed(client, o2, symbol="AAPL", qty=100, price="184.00", dest="SIMB")
    assert b.orders(n1[37]) and b.orders(n2[37])
    b.call("faults", set={"silent": True})
    before = b.counter("dropped")
    client.send("D", nos(o3, qty=10, price="184.10", dest="SIMB"))
    er(client, o3, "A")
    dropped_by(b, before)
    b.call("faults", set={"silent": False, "cancel_on_disconnect": True})
    logons = fresh_row(oms, "SIMB")["logons"]
    assert b.call("disconnect", comp_id="OMS")["closed"] == ["OMS"]
    for o in (o1, o2):
        done = er(client, o, "4")
        assert (done[39], done[14], done[151]) == ("4", "0", "0")
        assert venue_code(done[58]) == RejectCode.VENUE_DISCONNECTED
    rej = er(client, o3, "8")
    assert (rej[39], rej[151]) == ("8", "0") and venue_code(rej[58]) == 958
    wait_up(oms, "SIMB", min_logons=logons + 1)
    assert not b.orders(n1[37]) and not b.orders(n2[37])       # the venue cancelled them
    later = quiet_for(client, o1, 1.0)
    assert not [m for m in later if m.get(11) in (o1, o2, o3)], later
    st = status_request(client, o1, symbol="MSFT")
    assert (st[39], st[151]) == ("4", "0")


# -- busts, routing, health ---------------------------------------------------------------

def test_bust_and_correction(oms, sims, client):
    a = sims["SIMA"]
    o = cl()
    _, new = routed(client, o, qty=300, price="185.00")
    oid = new[37]
    a.call("trade", symbol="AAPL", side="sell", qty=120, price="185.00")
    part = er(client, o, "F")
    assert (part[39], part[14], part[151]) == ("1", "120", "180")
    trades = a.trades_of(oid)
    assert [t["qty"] for t in trades] == [120]
    a.call("bust", exec_id=trades[0]["exec_id"])
    bust = er(client, o, "H")
    assert (bust[39], bust[32], dec(bust[31]), bust[14], bust[151]) == \
        ("0", "120", dec("185.00"), "0", "300")
    # a second trade, corrected from 100 to 80 shares
    a.call("trade", symbol="AAPL", side="sell", qty=100, price="185.00")
    fill = er(client, o, "F")
    assert (fill[14], fill[151]) == ("100", "200")
    second = [t for t in a.trades_of(oid) if t["qty"] == 100]
    a.call("correct", exec_id=second[0]["exec_id"], qty=80, price="185.00")
    corr = er(client, o, "G")
    assert (corr[39], corr[32], corr[14], corr[151]) == ("1", "80", "80", "220")
    x = cl()
    cancel(client, x, o, qty=300)
    assert er(client, x, "6")[39] == "6"
    done = er(client, x, "4")
    assert (done[39], done[14], done[151], done[41]) == ("4", "80", "0", o)
    assert not a.orders(oid)


def test_routing_by_table_and_ex_destination(oms, sims, client):
    """AAPL's table: primary SIMA; MSFT's: the cheapest, SIMB; ExDestination(100) overrides
    either.  Each order is found at its venue only, and its fill names it in LastMkt(30)."""
    cases = [("AAPL", None, "SIMA", "186.00"), ("MSFT", None, "SIMB", "412.00"),
             ("AAPL", "SIMB", "SIMB", "186.10"), ("MSFT", "SIMA", "SIMA", "412.10")]
    for symbol, dest, venue, price in cases:
        o = cl()
        _, new = routed(client, o, symbol=symbol, qty=10, price=price, dest=dest)
        oid = new[37]
        other = "SIMB" if venue == "SIMA" else "SIMA"
        assert len(sims[venue].orders(oid)) == 1 and not sims[other].orders(oid), \
            (symbol, dest, venue)
        sims[venue].call("trade", symbol=symbol, side="sell", qty=10, price=price)
        fill = er(client, o, "F")
        assert (fill[39], fill[14], fill[30]) == ("2", "10", venue), (symbol, dest)
    o = cl()
    client.send("D", nos(o, dest="NOWHERE"))
    rej = er(client, o, "8")
    assert venue_code(rej[58]) == RejectCode.UNKNOWN_DESTINATION


def test_unhealthy_venue_is_skipped(oms, sims, client):
    """SIMB is DEGRADED once more than half its recent answers are rejects: the router
    passes it over for MSFT (cheapest rule) and sends the order to SIMA; naming SIMB is
    refused as unavailable; `oms venues` shows the states."""
    a, b = sims["SIMA"], sims["SIMB"]
    wait_up(oms, "SIMB")
    row = fresh_row(oms, "SIMB")
    good = row["answers"] - row["rejects"]        # at most this many in the health windows
    b.call("faults", set={"reject_ratio": 1.0})
    for _ in range(good + 2):
        o = cl()
        client.send("D", nos(o, symbol="MSFT", qty=5, price="413.00", dest="SIMB"))
        code = venue_code(er(client, o, "8")[58])
        if code == RejectCode.VENUE_UNAVAILABLE:      # judged DEGRADED already
            break
        assert code == RejectCode.VENUE_REJECTED
    b.call("faults", set={"reject_ratio": 0.0})
    row = wait_venue(oms, "SIMB", lambda v: v["state"] == "DEGRADED"
                     and v["engine_state"] == "DEGRADED", what="DEGRADED")
    assert any(p.startswith("reject rate") for p in row["problems"]), row
    table = oms_venues_table(oms)
    assert table["SIMA"][2] == "UP" and table["SIMB"][2] == "DEGRADED"

    o = cl()
    _, new = routed(client, o, symbol="MSFT", qty=10, price="414.00")
    assert a.orders(new[37]) and not b.orders(new[37])
    a.call("trade", symbol="MSFT", side="sell", qty=10, price="414.00")
    fill = er(client, o, "F")
    assert (fill[39], fill[30]) == ("2", "SIMA")
    p = cl()
    client.send("D", nos(p, symbol="MSFT", qty=10, price="414.00", dest="SIMB"))
    assert venue_code(er(client, p, "8")[58]) == RejectCode.VENUE_UNAVAILABLE


# -- the journal ------------------------------------------------------------------------------

def test_journal_of_the_session_verifies(oms):
    """Everything above, venue messages included, replays bit for bit after a clean
    shutdown."""
    assert oms.stop() == 0
    out = replay_verify(oms.dir / "state")
    assert int(out.split()[1].replace(",", "")) >= 2        # at least the two logons


def test_sigkill_mid_session_recovers(sims, tmp_path):
    """`oms serve` is killed with orders live at the venue (two acknowledged, one
    partially filled, one sent and never answered).  Restarted on the same state_dir it
    loses none, logs on to the venue with its persisted sequence numbers, recovers the
    fill the venue sent while it was down, resends the lost order, and books a fill sent
    after the restart; the journal verifies."""
    a = sims["SIMA"]
    for s in sims.values():
        s.reset_faults()
    srv = oms_server(tmp_path, {"SIMA": a}, comp_id="OMSK").start()
    try:
        wait_up(srv, "SIMA")
        c = srv.fix("CLIENT1", target_comp_id="OMSK")
        c.logon(reset=True)
        sell, buy, lost = cl(), cl(), cl()
        routed(c, sell, side=2, qty=100, price="195.00")
        _, nb = routed(c, buy, qty=300, price="187.50")
        a.call("trade", symbol="AAPL", side="sell", qty=100, price="187.50")
        part = er(c, buy, "F")
        assert (part[39], part[14], part[151]) == ("1", "100", "200")
        a.call("faults", set={"silent": True})
        before = a.counter("dropped")
        c.send("D", nos(lost, qty=50, price="186.50"))
        lost_oid = er(c, lost, "A")[37]
        dropped_by(a, before)
        seqs = fresh_row(srv, "SIMA")
        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
        c.close()
        a.call("faults", set={"silent": False})
        # while the OMS is down the venue fills the sell order: its report waits in the
        # venue's store for our resend request
        a.call("trade", symbol="AAPL", side="buy", qty=100, price="195.00")

        srv.start()
        row = wait_up(srv, "SIMA")
        assert row["in_seq"] > seqs["in_seq"] and row["out_seq"] > seqs["out_seq"]
        log = srv.log_text()
        restart = log[log.rfind("event=listening"):]
        logons = [line for line in restart.splitlines() if "event=venue_logon_sent" in line]
        assert logons and all("reset=False" in line for line in logons), logons
        assert "venue_seq_too_low" not in log and "MsgSeqNum too low" not in log
        assert "MsgSeqNum too low" not in a.log_path.read_text()

        c = srv.fix("CLIENT1", target_comp_id="OMSK")
        c.logon(reset=True)
        s_sell = status_until(c, sell, lambda m: m[39] == "2", side=2)
        assert (s_sell[39], s_sell[14], s_sell[151]) == ("2", "100", "0")
        s_buy = status_request(c, buy)
        assert (s_buy[39], s_buy[14], s_buy[151]) == ("1", "100", "200")
        s_lost = status_until(c, lost, lambda m: m[39] == "0")
        assert (s_lost[39], s_lost[151]) == ("0", "50")
        assert [x["cl_ord_id"] for x in a.orders(lost_oid, "OMSK")] == [f"{lost_oid}.1"]

        a.call("trade", symbol="AAPL", side="sell", qty=200, price="187.50")
        fill = er(c, buy, "F")
        assert (fill[39], fill[32], fill[14], fill[151], fill[30], fill[37]) == \
            ("2", "200", "300", "0", "SIMA", nb[37])
        c.close()
        assert srv.stop() == 0
        replay_verify(tmp_path / "state")
    finally:
        srv.stop()


def test_sigkill_right_after_a_request_went_out(sims, tmp_path):
    """Killed just after sending a NewOrderSingle, before anything came back from the venue
    (no probes, a long heartbeat: nothing inbound in between): the sequence number that
    request used must not be used again after the restart, and the request itself must be
    in the store for the reconciliation to resend it."""
    a = sims["SIMA"]
    for s in sims.values():
        s.reset_faults()
    srv = oms_server(tmp_path, {"SIMA": a}, comp_id="OMSK2", heartbeat=30, probe=0).start()
    try:
        wait_up(srv, "SIMA")
        c = srv.fix("CLIENT1", target_comp_id="OMSK2")
        c.logon(reset=True)
        acked, lost = cl(), cl()
        routed(c, acked, qty=10, price="186.00")
        a.call("faults", set={"silent": True})
        before = a.counter("dropped")
        c.send("D", nos(lost, qty=20, price="186.20"))
        pending = er(c, lost, "A")
        lost_oid = pending[37]
        dropped_by(a, before)
        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
        c.close()
        a.call("faults", set={"silent": False})

        srv.start()
        wait_up(srv, "SIMA")
        # the client session resumes without a reset: the server's numbers go on after the
        # last one the client saw (the PENDING_NEW just before the kill)
        assert c.logon().seq > pending.seq
        s_lost = status_until(c, lost, lambda m: m[39] == "0")
        assert (s_lost[39], s_lost[151]) == ("0", "20")
        assert [x["cl_ord_id"] for x in a.orders(lost_oid, "OMSK2")] == [f"{lost_oid}.1"]
        s_acked = status_request(c, acked)
        assert (s_acked[39], s_acked[151]) == ("0", "10")
        assert "MsgSeqNum too low" not in a.log_path.read_text()
        c.close()
        assert srv.stop() == 0
        replay_verify(tmp_path / "state")
    finally:
        srv.stop()


def test_venue_message_counted_but_not_journaled_is_asked_for_again(sims, tmp_path):
    """The kill window between the session store and the journal: the store counts a venue
    message once its command is on the input ring, the journal once the business thread
    wrote it.  Here the store claims the venue's fill (its number saved) but the journal
    never got it (the fill was sent while the OMS was down).  Restarted, the session
    resumes at the journal's number, asks for the fill again, and the client sees it."""
    a = sims["SIMA"]
    for s in sims.values():
        s.reset_faults()
    srv = oms_server(tmp_path, {"SIMA": a}, comp_id="OMSK3", heartbeat=30, probe=0).start()
    try:
        wait_up(srv, "SIMA")
        c = srv.fix("CLIENT1", target_comp_id="OMSK3")
        c.logon(reset=True)
        buy = cl()
        routed(c, buy, qty=100, price="187.50")
        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
        c.close()
        a.call("trade", symbol="AAPL", side="sell", qty=100, price="187.50")
        seqnums = tmp_path / "state" / "sessions" / "venue-SIMA" / "seqnums"
        in_seq, out_seq = map(int, seqnums.read_text().split())
        seqnums.write_text(f"{in_seq + 1} {out_seq}".ljust(40))   # the fill, "counted"

        srv.start()
        wait_up(srv, "SIMA")
        assert "event=venue_resume_from_journal" in srv.log_text()
        c = srv.fix("CLIENT1", target_comp_id="OMSK3")
        c.logon(reset=True)
        s_buy = status_until(c, buy, lambda m: m[39] == "2")
        assert (s_buy[39], s_buy[14], s_buy[151]) == ("2", "100", "0")
        c.close()
        assert srv.stop() == 0
        replay_verify(tmp_path / "state")
    finally:
        srv.stop()


def test_ack_lost_with_a_sequence_reset_is_found_by_the_status_query(sims, tmp_path):
    """The venue took the order but its acknowledgement was lost for good: the OMS died
    while the venue held it back (`ack_delay`), and the session resets its numbers on
    logon (141=Y), so no resend can bring it.  The reconciliation's OrderStatusRequest
    finds the order live at the venue, and that answer acknowledges it: the client sees
    NEW, and the venue holds one order, not two."""
    a = sims["SIMA"]
    for s in sims.values():
        s.reset_faults()
    srv = oms_server(tmp_path, {"SIMA": a}, comp_id="OMSK4", heartbeat=30, probe=0,
                     reset_on_logon=True).start()
    try:
        wait_up(srv, "SIMA")
        c = srv.fix("CLIENT1", target_comp_id="OMSK4")
        c.logon(reset=True)
        a.call("faults", set={"ack_delay": 2.0})
        buy = cl()
        c.send("D", nos(buy, qty=40, price="186.40"))
        oid = er(c, buy, "A")[37]
        deadline = time.monotonic() + 5
        while not a.orders(oid, "OMSK4") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert a.orders(oid, "OMSK4"), "the venue never got the order"
        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
        c.close()
        a.call("faults", set={"ack_delay": 0.0})

        srv.start()
        wait_up(srv, "SIMA")
        c = srv.fix("CLIENT1", target_comp_id="OMSK4")
        c.logon(reset=True)
        s_buy = status_until(c, buy, lambda m: m[39] == "0")
        assert (s_buy[39], s_buy[151]) == ("0", "40")
        assert "action=acknowledged" in srv.log_text()
        assert [x["cl_ord_id"] for x in a.orders(oid, "OMSK4")] == [f"{oid}.1"]
        c.close()
        assert srv.stop() == 0
        replay_verify(tmp_path / "state")
    finally:
        srv.stop()

