"""The venue initiator codec (cext/oms/_venue_fix.pyx): VENUE_REQUEST events out as FIX 4.4
orders, venue ExecutionReports / OrderCancelRejects in as VENUE_EXEC commands.  simplefix is
the independent parser and builder on the other side."""

import time

import numpy as np
import pytest
import simplefix

from oms import _fix
from oms._fix import OrderAttrs, StrMap
from oms._venue_fix import (ANSWER_DTYPE, VENUE_OTHER, VENUE_STATUS, VenueCodec,
                            parse_venue_cl_ord_id_text, venue_cl_ord_id_text)
from oms.codes import RejectCode, from_venue_reason
from oms.layout import (EVENT_DTYPE, CommandType, EventType, ExecInst, OrdType, Side,
                        TimeInForce, VenueExec, VenueRequest)

OID = 4242


def vid(n, order_id=OID):
    return order_id << 16 | n


def make_codec(**kw):
    symbols = StrMap(63)
    symbols.add(b"AAPL", 0)
    symbols.add(b"MSFT", 1)
    c = VenueCodec(b"OMS", b"VEN1", 3, symbols, from_venue_reason,
                   lambda r: from_venue_reason(r, True), **kw)
    c.logged_on = True
    return c


def request(kind, n, orig=0, **fields):
    e = np.zeros(1, EVENT_DTYPE)[0]
    e["kind"] = EventType.VENUE_REQUEST
    e["exec_type"] = kind
    e["venue_id"] = 3
    e["order_id"] = OID
    e["venue_cl_ord_id"] = vid(n)
    e["venue_orig_cl_ord_id"] = vid(orig) if orig else 0
    e["side"] = Side.BUY
    e["ord_type"] = OrdType.LIMIT
    e["tif"] = TimeInForce.DAY
    e["price"] = 1_900_500
    e["qty"] = 100
    e["time_ns"] = 1_750_000_000_123_000_000
    for k, v in fields.items():
        e[k] = v
    return e


def parse_all(data):
    p = simplefix.FixParser()
    p.append_buffer(data)
    out = []
    while (m := p.get_message()) is not None:
        out.append(m)
    return out


def tag(m, t):
    v = m.get(t)
    return v.decode() if v is not None else None


# -- ENCODING --

def test_venue_cl_ord_id_text_round_trip():
    for v in (vid(1), vid(65535), vid(1, (1 << 48) - 1), vid(7, 1)):
        assert parse_venue_cl_ord_id_text(venue_cl_ord_id_text(v)) == v
    for bad in (b"", b"7", b"7.", b".1", b"7.0", b"7.65536", b"x.1", b"7.1a", b"CLIENT-1"):
        assert parse_venue_cl_ord_id_text(bad) == 0


def test_encode_new_cancel_replace_parsed_by_simplefix():
    c = make_codec(account=b"FIRM1")
    attrs = OrderAttrs()
    attrs.put(OID, display_qty=20, min_qty=10, exec_inst=int(ExecInst.POST_ONLY),
              expire_time_ns=1_760_000_000_000_000_000)
    ev = np.array([request(VenueRequest.NEW_ORDER, 1, tif=TimeInForce.GTD),
                   request(VenueRequest.REPLACE, 2, orig=1, price=1_901_000, qty=150),
                   request(VenueRequest.CANCEL, 3, orig=2, qty=150),
                   request(VenueRequest.NEW_ORDER, 1, venue_id=4),       # another venue
                   np.zeros(1, EVENT_DTYPE)[0]], dtype=EVENT_DTYPE)    # not a request
    c.out_seq = 10
    assert c.encode_requests(ev, len(ev), time.time_ns(), attrs) == 3
    assert c.out_seq == 13
    d, g, f = parse_all(c.take())
    for m, seq in ((d, 10), (g, 11), (f, 12)):
        assert tag(m, 8) == "FIX.4.4" and tag(m, 49) == "OMS" and tag(m, 56) == "VEN1"
        assert int(tag(m, 34)) == seq and tag(m, 1) == "FIRM1" and tag(m, 55) == "AAPL"
        assert tag(m, 54) == "1" and tag(m, 60) == "20250615-15:06:40.123"
    assert tag(d, 35) == "D" and tag(d, 11) == f"{OID}.1" and tag(d, 41) is None
    assert (tag(d, 40), tag(d, 44), tag(d, 38), tag(d, 59)) == ("2", "190.05", "100", "6")
    assert (tag(d, 18), tag(d, 111), tag(d, 110)) == ("6", "20", "10")
    assert tag(d, 126) == "20251009-08:53:20.000"
    assert tag(g, 35) == "G" and (tag(g, 11), tag(g, 41)) == (f"{OID}.2", f"{OID}.1")
    assert (tag(g, 44), tag(g, 38), tag(g, 40)) == ("190.1", "150", "2")
    assert tag(f, 35) == "F" and (tag(f, 11), tag(f, 41)) == (f"{OID}.3", f"{OID}.2")
    assert tag(f, 38) == "150" and tag(f, 40) is None and tag(f, 44) is None


@pytest.mark.parametrize("ord_type,fix_type,priced", [
    (OrdType.MARKET, "1", False), (OrdType.STOP, "1", False),
    (OrdType.MARKET_IF_TOUCHED, "1", False), (OrdType.TRAILING_STOP, "1", False),
    (OrdType.LIMIT, "2", True), (OrdType.STOP_LIMIT, "2", True),
    (OrdType.LIMIT_IF_TOUCHED, "2", True)])
def test_encode_sends_the_venue_type(ord_type, fix_type, priced):
    c = make_codec()
    price = 1_900_000 if priced else 0
    ev = np.array([request(VenueRequest.NEW_ORDER, 1, ord_type=ord_type, price=price,
                           side=Side.SELL, tif=TimeInForce.IOC, symbol_id=1)], EVENT_DTYPE)
    c.encode_requests(ev, 1, time.time_ns())
    (m,) = parse_all(c.take())
    assert tag(m, 40) == fix_type and (tag(m, 44) == "190") == priced
    assert (tag(m, 54), tag(m, 59), tag(m, 55), tag(m, 1)) == ("2", "3", "MSFT", None)
    assert tag(m, 18) is None and tag(m, 111) is None


# -- DECODING --

class Venue:
    """The venue side: builds its messages with simplefix."""

    def __init__(self):
        self.seq = 1

    def msg(self, msg_type, fields, seq=None, poss_dup=False):
        m = simplefix.FixMessage()
        m.append_pair(8, "FIX.4.4", header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, "VEN1", header=True)
        m.append_pair(56, "OMS", header=True)
        m.append_pair(34, self.seq if seq is None else seq, header=True)
        m.append_utc_timestamp(52, precision=3, header=True)
        if poss_dup:
            m.append_pair(43, "Y", header=True)
            m.append_utc_timestamp(122, precision=3, header=True)
        for t, v in fields:
            m.append_pair(t, v)
        if seq is None:
            self.seq += 1
        return m.encode()

    def er(self, exec_type, cl, ord_status="0", **kw):
        fields = [(37, "V-9"), (11, cl), (17, kw.pop("exec_id", f"E{self.seq}")),
                  (150, exec_type), (39, ord_status), (55, "AAPL"), (54, "1")]
        fields += [(int(k[1:]), v) for k, v in kw.items()]
        return self.msg("8", fields)


def decode(c, data):
    status = c.decode(data, 0, time.time_ns())
    return status, c.commands[:c.n_commands].copy(), c.answers[:c.n_answers].copy()


def test_decode_a_whole_life_in_one_read():
    c = make_codec()
    v = Venue()
    cl1, cl2, cl3 = f"{OID}.1", f"{OID}.2", f"{OID}.3"
    data = b"".join([
        v.er("0", cl1),
        v.er("F", cl1, "1", t31="190.05", t32="40", exec_id="T1"),
        v.er("E", cl2, "E", t41=cl1),
        v.er("5", cl2, "1", t41=cl1, t44="190.1", t38="150"),
        v.er("F", cl2, "1", t31="190.1", t32="10", exec_id="T2"),
        v.er("H", cl2, "1", t19="T1"),
        v.er("G", cl2, "1", t19="T2", t31="190.09", t32="12"),
        v.er("6", cl3, "6", t41=cl2),
        v.msg("9", [(37, "V-9"), (11, cl3), (41, cl2), (39, "1"), (434, "1"), (102, "0")]),
        v.er("4", cl2, "4", t41=cl1),
        v.er("C", cl2, "C"),
        v.er("8", f"{OID}.4", "8", t103="1"),
    ])
    status, cmds, answers = decode(c, data)
    assert status == _fix.NEED_MORE and c.pos == len(data) and c.in_seq == 13
    assert (cmds["kind"] == CommandType.VENUE_EXEC).all() and (cmds["venue_id"] == 3).all()
    assert list(cmds["venue_seq"]) == [1, 2, 4, 5, 6, 7, 9, 10, 11, 12]
    ops = [VenueExec(x).name for x in cmds["admin_op"]]
    assert ops == ["ACK", "FILL", "REPLACED", "FILL", "BUST", "CORRECT", "CANCEL_REJECT",
                   "CANCELED", "EXPIRED", "REJECT"]
    assert list(cmds["cl_ord_id"]) == [vid(1), vid(1), vid(2), vid(2), vid(2), vid(2),
                                       vid(3), vid(2), vid(2), vid(4)]
    fill, repl, bust, corr = cmds[1], cmds[2], cmds[4], cmds[5]
    assert (fill["price"], fill["qty"]) == (1_900_500, 40)
    assert (repl["price"], repl["qty"]) == (1_901_000, 150)
    assert (bust["price"], bust["qty"]) == (1_900_500, 40)           # T1, remembered
    assert (corr["price"], corr["qty"], corr["stop_price"], corr["display_qty"]) == (
        1_900_900, 12, 1_901_000, 10)                                    # T2 was 10 @ 190.10
    assert cmds[6]["reason"] == RejectCode.VENUE_TOO_LATE               # CxlRejReason 0
    assert cmds[7]["reason"] == RejectCode.VENUE_CANCELLED
    assert cmds[9]["reason"] == RejectCode.VENUE_UNKNOWN_SYMBOL         # OrdRejReason 1
    assert c.unresolved == 0 and c.trade(b"T2") == (1_900_900, 12)
    # every message answered something, the pending ones (E, 6) included
    assert bytes(answers["exec_type"]).decode() == "0FE5FHG694C8"
    assert bytes(answers["msg_type"]).decode() == "888888889888"
    assert answers["orig_cl_ord_id"][2] == vid(1) and answers["cl_ord_id"][8] == vid(3)


def test_decode_reason_tables_mirror_from_venue_reason():
    c = make_codec()
    v = Venue()
    reasons = list(range(0, 8)) + [99, None]
    data = b""
    for r in reasons:
        extra = {} if r is None else {"t103": str(r)}
        data += v.er("8", f"{OID}.1", "8", **extra)
    for r in reasons:
        fields = [(11, f"{OID}.2"), (41, f"{OID}.1"), (39, "0"), (434, "1")]
        if r is not None:
            fields.append((102, r))
        data += v.msg("9", fields)
    _, cmds, _ = decode(c, data)
    n = len(reasons)
    assert list(cmds["reason"][:n]) == [from_venue_reason(r) for r in reasons]
    assert list(cmds["reason"][n:]) == [from_venue_reason(r, True) for r in reasons]


def test_decode_stops_for_the_session_layer():
    c = make_codec()
    v = Venue()
    hb = v.msg("0", [])
    er = v.er("0", f"{OID}.1")
    status, cmds, _ = decode(c, hb + er)
    assert status == _fix.SESSION and c.msg_type == b"0" and c.pos == len(hb) and len(cmds) == 0
    c.in_seq += 1                                    # the session layer took the heartbeat
    status, cmds, _ = decode(c, (hb + er)[c.pos:])
    assert status == _fix.NEED_MORE and len(cmds) == 1 and c.in_seq == 3
    # a gap: the message is handed over, not applied
    v.seq = 7
    status, cmds, _ = decode(c, v.er("F", f"{OID}.1", t31="1", t32="1"))
    assert status == _fix.SESSION and c.msg_seq == 7 and len(cmds) == 0 and c.in_seq == 3
    # a resend at the expected number is applied; one below it goes to the session layer
    status, cmds, _ = decode(c, v.msg("8", [(11, f"{OID}.1"), (150, "0"), (39, "0")], seq=3,
                                      poss_dup=True))
    assert status == _fix.NEED_MORE and len(cmds) == 1 and cmds[0]["venue_seq"] == 3
    status, cmds, _ = decode(c, v.msg("8", [(11, f"{OID}.1"), (150, "0"), (39, "0")], seq=2,
                                      poss_dup=True))
    assert status == _fix.SESSION and c.poss_dup and len(cmds) == 0
    # an order status report: for reconciliation
    v.seq = 4
    status, cmds, _ = decode(c, v.er("I", f"{OID}.1", "8", t58="UNKNOWN_ORDER"))
    assert status == VENUE_STATUS and c.get(39) == b"8" and len(cmds) == 0 and c.in_seq == 5
    # another application message: counted, handed over
    status, _, _ = decode(c, v.msg("j", [(45, 3), (372, "D"), (380, 3)]))
    assert status == VENUE_OTHER and c.in_seq == 6 and c.get(372) == b"D"
    # malformed: a required tag missing; wrong CompID
    status, _, _ = decode(c, v.msg("8", [(11, f"{OID}.1"), (39, "0")]))
    assert status == _fix.REJECT and c.ref_tag == 150 and c.in_seq == 6
    c.in_seq += 1                                    # the session layer rejected it
    m = v.msg("8", [(11, f"{OID}.1"), (150, "0"), (39, "0")]).replace(b"49=VEN1", b"49=VEN2")
    m = m[:m.rindex(b"10=")] + b"10=%03d\x01" % (_fix.checksum(m[:m.rindex(b"10=")]))
    status, _, _ = decode(c, m)
    assert status == _fix.REJECT and c.reject_reason == 9


def test_decode_not_our_clordid_and_unknown_trade():
    c = make_codec()
    v = Venue()
    _, cmds, _ = decode(c, v.er("0", "SOMEONE-ELSES") + v.er("H", f"{OID}.1", t19="nope")
                        + v.er("H", f"{OID}.1", t19="nope", t31="10", t32="5"))
    assert cmds[0]["cl_ord_id"] == 0                # the engine answers UNKNOWN_ORDER
    assert cmds[1]["qty"] == 0 and c.unresolved == 1
    assert (cmds[2]["price"], cmds[2]["qty"]) == (100_000, 5)    # LastPx/LastQty of the bust


def test_batch_full_and_trades_persist():
    c = make_codec(capacity=4)
    v = Venue()
    data = b"".join(v.er("F", f"{OID}.1", t31="1.5", t32="1", exec_id=f"X{i}") for i in range(10))
    status, cmds, answers = decode(c, data)
    assert status == _fix.BATCH_FULL and len(cmds) == 4 and len(answers) == 4
    pos, total = 0, 0
    c2 = make_codec(capacity=4)
    while True:
        status = c2.decode(data, pos, time.time_ns())
        total += c2.n_commands
        pos = c2.pos
        if status != _fix.BATCH_FULL:
            break
    assert total == 10 and status == _fix.NEED_MORE
    blob = c2.export_trades(0)
    c3 = make_codec()
    assert c3.load_trades(blob) == 10 and c3.trade(b"X7") == (15_000, 1)
    assert c2.export_trades(8) == blob[len(c2.export_trades(0)) - len(c2.export_trades(8)):]
    assert ANSWER_DTYPE.itemsize == 24
