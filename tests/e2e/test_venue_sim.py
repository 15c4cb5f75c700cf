"""`oms venue-sim` over TCP: a real simulator process driven by a FIX 4.4 initiator (our
FixClient, as `oms serve`'s venue session would be) and by its JSON control channel:
liquidity, resting orders filled on demand, cancel / replace / status, every fault, busts
and corrections."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal as D

import msgspec
import pytest

pytest.importorskip("oms._fix")

from oms.client import ClientError, FixClient                # noqa: E402
from oms.venue_sim import (VenueSimControl, VenueSimError, default_sim_config,  # noqa: E402
                           load_sim_config, start_venue_sim, stop_venue_sim, to_toml)
from oms.venue_sim.process import free_port                  # noqa: E402

HOST = "127.0.0.1"
SIM = "SIMX"
NOW = "20250101-00:00:00"
COMP_IDS = [f"OMS{i}" for i in range(1, 13)]
orders = itertools.count(1)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("venue-sim")
    cfg = default_sim_config(SIM, free_port(), SIM, COMP_IDS, control_port=free_port(),
                             state_dir=str(tmp / "state"), log_level="debug")
    proc = start_venue_sim(cfg, config_path=tmp / "sim.toml", log_path=tmp / "sim.log")
    proc.log_path = tmp / "sim.log"
    yield proc
    assert stop_venue_sim(proc) == 0
    assert "event=stopped" in proc.log_path.read_text()


@pytest.fixture
def ctl(sim):
    with VenueSimControl(HOST, sim.config.control_port) as c:
        yield c
        c.call("faults", set=msgspec.to_builtins(sim.config.faults))   # back to none


comp_ids = iter(COMP_IDS)


def logged_on(sim, **kw) -> FixClient:
    c = FixClient(HOST, sim.config.port, next(comp_ids), target_comp_id=SIM, **kw)
    c.logon(reset=True)
    return c


def cl() -> str:
    """A ClOrdID in the form `oms serve`'s venue sessions send: <order>.<request>."""
    return f"{next(orders)}.1"


def nos(clordid, side=1, qty=100, price="190.00", symbol="AAPL"):
    return [(11, clordid), (55, symbol), (54, side), (38, qty), (40, 2), (44, price), (59, 1),
            (60, NOW)]


def report(c: FixClient, clordid: str, exec_type: str | None = None, msg_type="8"):
    return c.expect(lambda m: m.msg_type == msg_type and m.get(11) == clordid
                    and (exec_type is None or m.get(150) == exec_type))


def test_config_round_trips_through_toml(tmp_path):
    cfg = default_sim_config("A", 9001, "A", ["OMS"], accounts=["FUND"])
    path = tmp_path / "a.toml"
    path.write_text(to_toml(cfg))
    assert load_sim_config(path) == cfg
    with pytest.raises(msgspec.ValidationError, match=r"\$\.faults\.reject_ratio"):
        msgspec.toml.decode(b"[faults]\nreject_ratio = 2.0\n", type=type(cfg))


def test_example_config_is_valid():
    from pathlib import Path
    example = Path(__file__).parents[2] / "examples" / "venue-sim.toml"
    cfg = load_sim_config(example)
    assert cfg.accept_comp_ids and cfg.symbols


def test_logon_and_crossing_orders_fill_against_the_ladder(sim, ctl):
    c = logged_on(sim)
    c.send("D", nos(o := cl(), qty=150, price="190.05"))
    new = report(c, o, "0")
    fill = report(c, o, "F")
    assert new[37] == fill[37] and new[37] != "NONE"         # the venue's own OrderID
    assert D(fill[31]) == D("190.01") and fill[32] == "150" and fill[39] == "2"
    # more than a level: a partial fill per level crossed
    c.send("D", nos(o := cl(), qty=1500, price="420.02", symbol="MSFT"))
    first, second = report(c, o, "F"), report(c, o, "F")
    assert (D(first[31]), first[32], first[39]) == (D("420.01"), "1000", "1")
    assert (D(second[31]), second[32], second[39], second[14]) == (D("420.02"), "500", "2", "1500")
    # the filled level is quoted again
    c.send("D", nos(o := cl(), qty=10, price="420.01", symbol="MSFT"))
    assert D(report(c, o, "F")[31]) == D("420.01")
    c.logout()
    c.close()


def test_resting_order_is_filled_by_a_control_trade(sim, ctl):
    c = logged_on(sim)
    c.send("D", nos(o := cl(), qty=300, price="189.00"))
    oid = report(c, o, "0")[37]
    status = ctl.call("status")
    assert any(x["cl_ord_id"] == o and x["leaves_qty"] == 300 for x in status["orders"])
    ctl.call("trade", symbol="AAPL", side="sell", qty=100, price="189.00")
    fill = report(c, o, "F")
    assert (fill[37], D(fill[31]), fill[32], fill[39], fill[151]) == (oid, D("189"), "100", "1", "200")
    ctl.call("trade", symbol="AAPL", side="sell", qty=500)          # a market order
    fill = report(c, o, "F")
    assert (fill[32], fill[39], fill[151]) == ("200", "2", "0")
    # the market maker's bids are back
    c.send("D", nos(o := cl(), side=2, qty=10, price="189.99"))
    assert D(report(c, o, "F")[31]) == D("189.99")
    with pytest.raises(VenueSimError, match="unknown symbol"):
        ctl.call("trade", symbol="NOPE", side="sell", qty=1)
    c.logout()
    c.close()


def test_cancel_replace_and_order_status(sim, ctl):
    c = logged_on(sim)
    c.send("D", nos(o := cl(), qty=3, price="5900.00", symbol="ESZ6"))
    oid = report(c, o, "0")[37]
    base = o.split(".")[0]
    c.send("G", [(11, r := f"{base}.2"), (41, o), (55, "ESZ6"), (54, 1), (38, 5), (40, 2),
                 (44, "5925.00"), (60, NOW)])
    replaced = report(c, r, "5")
    assert (replaced[37], replaced[41], replaced[38], D(replaced[44])) == (oid, o, "5", D("5925"))
    c.send("H", [(11, r), (54, 1), (55, "ESZ6")])
    status = report(c, r, "I")
    assert (status[39], status[37], status[151]) == ("0", oid, "5")
    c.send("H", [(11, "999999.1"), (54, 1), (55, "ESZ6")])
    unknown = report(c, "999999.1", "I")
    assert unknown[39] == "8" and unknown[37] == "NONE"       # what reconciliation reads
    c.send("F", [(11, x := f"{base}.3"), (41, r), (55, "ESZ6"), (54, 1), (38, 5), (60, NOW)])
    cancelled = report(c, x, "4")
    assert (cancelled[37], cancelled[41], cancelled[39]) == (oid, r, "4")
    c.send("F", [(11, y := f"{base}.4"), (41, x), (55, "ESZ6"), (54, 1), (38, 5), (60, NOW)])
    assert report(c, y, msg_type="9")[102] in ("0", "1")      # too late / unknown
    c.logout()
    c.close()


def test_reject_ratio_one_rejects_every_new_order(sim, ctl):
    ctl.call("faults", set={"reject_ratio": 1.0, "reject_reason": 3, "reject_text": "no"})
    c = logged_on(sim)
    c.send("D", nos(o := cl()))
    rej = report(c, o)
    assert (rej[150], rej[39], rej[103], rej[58], rej[37]) == ("8", "8", "3", "no", "NONE")
    c.send("H", [(11, o), (54, 1), (55, "AAPL")])               # never reached the book
    assert report(c, o, "I")[39] == "8"
    assert ctl.call("status")["counters"]["rejected"] >= 1
    ctl.call("faults", set={"reject_ratio": 0.0})
    c.send("D", nos(o := cl(), price="180.00"))
    assert report(c, o, "0")[39] == "0"
    with pytest.raises(VenueSimError, match="reject_ratio"):
        ctl.call("faults", set={"reject_ratio": 3})
    c.logout()
    c.close()


def test_silent_venue_answers_nothing_but_heartbeats(sim, ctl):
    c = logged_on(sim, heartbeat=1)
    ctl.call("faults", set={"silent": True})
    c.send("D", nos(o := cl(), price="180.00"))
    deadline = time.monotonic() + 2.5
    got = []
    while time.monotonic() < deadline:
        got += c.read(0.2)
    assert not any(m.msg_type == "8" for m in got)
    assert any(m.msg_type == "0" for m in got)                  # the session is alive
    ctl.call("faults", set={"silent": False})
    c.send("H", [(11, o), (54, 1), (55, "AAPL")])               # the order never arrived
    assert report(c, o, "I")[39] == "8"
    c.logout()
    c.close()


def test_drop_ratio_one_drops_but_sequence_numbers_advance(sim, ctl):
    c = logged_on(sim)
    ctl.call("faults", set={"drop_ratio": 1.0})
    c.send("D", nos(o := cl(), price="180.00"))
    c.send("1", [(112, "still-there")])
    hb = c.expect(lambda m: m.msg_type == "0" and m.get(112) == "still-there")
    assert not any(m.msg_type in ("2", "3", "5") for m in c.received)   # no gap, no reject
    ctl.call("faults", set={"drop_ratio": 0.0})
    c.send("D", nos(p := cl(), price="180.00"))
    assert report(c, p, "0")[34] == str(int(hb[34]) + 1)
    c.logout()
    c.close()


def test_disconnect_after_closes_and_a_relogon_resumes(sim, ctl):
    c = logged_on(sim)
    ctl.call("faults", set={"disconnect_after": 2})
    c.send("D", nos(a := cl(), price="180.00"))
    c.send("D", nos(b := cl(), price="180.01"))
    seen = []
    with pytest.raises(ClientError):
        while True:
            seen += c.read(1.0)
    ctl.call("faults", set={"disconnect_after": 0})
    last_seen = max([m.seq for m in seen] + [1])
    c.close()
    out_seq = c.next_seq
    reply = c.logon()                                          # no reset: sequences resume
    assert reply.msg_type == "A" and reply.seq > last_seen
    assert not any(m.msg_type == "5" for m in c.received)
    c.send("2", [(7, last_seen + 1), (16, 0)])
    missed = [o for o in (a, b) if o not in [m.get(11) for m in seen]]
    assert b in missed                  # the connection closed before its answer went out
    for o in missed:
        assert report(c, o, "0")[43] == "Y"                    # recovered by the resend
    status = ctl.call("status")
    me = next(s for s in status["sessions"] if s["comp_id"] == c.codec.sender_comp_id.decode())
    assert me["logged_on"] and me["in_seq"] == c.next_seq and c.next_seq > out_seq
    c.logout()
    c.close()


def test_cancel_on_disconnect_and_venue_kill(sim, ctl):
    ctl.call("faults", set={"cancel_on_disconnect": True})
    c = logged_on(sim)
    c.send("D", nos(a := cl(), price="180.00"))
    report(c, a, "0")
    seq_before = max(m.seq for m in c.received) if c.received else 2
    ctl.call("disconnect", comp_id=c.codec.sender_comp_id.decode())
    with pytest.raises(ClientError):
        while True:
            c.read(1.0)
    c.close()
    reply = c.logon()
    c.send("2", [(7, 2), (16, 0)])
    cancelled = report(c, a, "4")
    assert cancelled[39] == "4" and reply.seq > seq_before
    ctl.call("faults", set={"cancel_on_disconnect": False})
    c.send("D", nos(b := cl(), price="180.00"))
    report(c, b, "0")
    ctl.call("cancel_all", comp_id=c.codec.sender_comp_id.decode())
    assert report(c, b, "4")[39] == "4"
    time.sleep(0.2)
    assert not any(m.msg_type == "r" for m in c.read(0.2) + c.received)   # unsolicited
    c.logout()
    c.close()


def test_bust_and_correct_name_the_trade(sim, ctl):
    c = logged_on(sim)
    c.send("D", nos(o := cl(), qty=40, price="190.10"))
    fill = report(c, o, "F")
    exec_id = fill[17]
    assert any(t["exec_id"] == exec_id for t in ctl.call("trades")["trades"])
    corrected = ctl.call("correct", exec_id=exec_id, price="190.02", qty=30)
    g = report(c, o, "G")
    assert (g[19], g[17], D(g[31]), g[32]) == (exec_id, corrected["exec_id"], D("190.02"), "30")
    busted = ctl.call("bust", exec_id=exec_id)
    h = report(c, o, "H")
    assert (h[19], h[17], h[37]) == (exec_id, busted["exec_id"], fill[37])
    with pytest.raises(VenueSimError, match="unknown exec_id"):
        ctl.call("bust", exec_id=exec_id)                      # busted once
    c.logout()
    c.close()


def test_ack_delay_still_answers_in_order(sim, ctl):
    ctl.call("faults", set={"ack_delay": 0.2})
    c = logged_on(sim)
    c.send("D", nos(o := cl(), qty=5, price="190.05"))
    msgs = c.wait_for(lambda m: m.get(11) == o and m.get(150) == "F")
    seqs = [m.seq for m in msgs]
    assert seqs == sorted(seqs)
    assert ctl.call("status")["counters"]["held"] >= 1
    ctl.call("faults", set={"ack_delay": 0.0})
    c.logout()
    c.close()
