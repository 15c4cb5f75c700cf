"""The compiled FIX codec: decoding whole reads into commands, validation, encoding events,
and hypothesis fuzzing of malformed input (no crash, no hang, every message decoded or
rejected)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import simplefix
from hypothesis import given, settings, strategies as st

fix = pytest.importorskip("oms._fix")
from oms._fix import (BUSINESS_REJECT, GARBLED, NEED_MORE, REJECT, SESSION, THROTTLED,  # noqa: E402
                      FixCodec, StrMap, checksum, format_price_units, parse_price,
                      parse_timestamp, format_timestamp)
import oms.gateway.gateway  # noqa: E402,F401  (configures the reject-code table)
from oms.codes import RejectCode  # noqa: E402
from oms.layout import (EVENT_DTYPE, CommandType, EventType, ExecType, MassCancelScope,  # noqa: E402
                        OrdStatus, OrdType, Side, TimeInForce)

NOW = time.time_ns()


def codec(begin=b"FIX.4.4", logged_on=True, **kw) -> FixCodec:
    accounts = StrMap()
    accounts.add(b"FUND-A", 1)
    names = StrMap()
    for i, n in enumerate([b"MM-DESK", b"FUND-A", b"RETAIL-7"]):
        names.add(n, i)
    symbols = StrMap()
    for i, n in enumerate([b"AAPL", b"MSFT"]):
        symbols.add(n, i)
    c = FixCodec(begin, b"OMS", b"CLI", 7, accounts, names, symbols, default_account=1,
                 exec_id_prefix=b"X", **kw)
    c.logged_on = logged_on
    return c


def message(msg_type, fields, seq=1, begin="FIX.4.4", sender="CLI", target="OMS") -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, begin)
    m.append_pair(35, msg_type)
    m.append_pair(49, sender)
    m.append_pair(56, target)
    m.append_pair(34, seq)
    m.append_utc_timestamp(52, precision=3)
    for tag, value in fields:
        m.append_pair(tag, value)
    return m.encode()


def nos(cl="A1", seq=1, **over):
    f = {11: cl, 55: "AAPL", 54: "1", 40: "2", 38: "100", 44: "190.05", 60: "20250101-00:00:00"}
    f.update({int(k[1:]): v for k, v in over.items()})
    return message("D", [(k, v) for k, v in f.items() if v is not None], seq)


def test_whole_read_becomes_commands():
    c = codec()
    buf = bytearray(nos("A1", 1) + nos("A2", 2, t54="2", t40="1", t44=None, t59="3")
                    + nos("A1", 3)[:20])
    assert c.decode(buf, 0, NOW) == NEED_MORE
    assert c.n_commands == 2 and c.in_seq == 3 and c.pos == len(buf) - 20
    cmds = c.commands[:2]
    assert list(cmds["kind"]) == [CommandType.NEW] * 2
    assert list(cmds["cl_ord_id"]) == [1, 2] and list(cmds["session_id"]) == [7, 7]
    assert list(cmds["side"]) == [Side.BUY, Side.SELL]
    assert list(cmds["ord_type"]) == [OrdType.LIMIT, OrdType.MARKET]
    assert list(cmds["tif"]) == [TimeInForce.DAY, TimeInForce.IOC]
    assert list(cmds["price"]) == [1_900_500, 0] and list(cmds["qty"]) == [100, 100]
    assert list(cmds["account_id"]) == [1, 1] and list(cmds["symbol_id"]) == [0, 0]
    assert list(cmds["time_ns"]) == [NOW, NOW]


def test_names_unknown_to_the_session_become_unknown_ids():
    c = codec()
    c.decode(bytearray(nos(t1="MM-DESK", t55="ZZZ")), 0, NOW)
    assert c.commands[0]["account_id"] == 0xFFFFFFFF and c.commands[0]["symbol_id"] == 0xFFFFFFFF


def test_cancel_replace_status_mass_cancel():
    c = codec()
    msgs = [nos("A1", 1),
            message("F", [(11, "C1"), (41, "A1"), (55, "AAPL"), (54, 1), (60, "20250101-00:00:00")], 2),
            message("G", [(11, "R1"), (41, "A1"), (37, "55"), (55, "AAPL"), (54, 1), (40, 2),
                          (38, 50), (44, "190.1"), (60, "20250101-00:00:00")], 3),
            message("H", [(11, "R1"), (55, "AAPL"), (54, 1)], 4),
            message("q", [(11, "M1"), (530, 1), (55, "MSFT"), (54, 2), (60, "20250101-00:00:00")], 5)]
    assert c.decode(bytearray(b"".join(msgs)), 0, NOW) == NEED_MORE
    k = c.commands[:5]
    assert list(k["kind"]) == [CommandType.NEW, CommandType.CANCEL, CommandType.REPLACE,
                               CommandType.STATUS, CommandType.MASS_CANCEL]
    assert (k[1]["cl_ord_id"], k[1]["orig_cl_ord_id"]) == (2, 1)
    assert (k[2]["order_id"], k[2]["price"], k[2]["qty"]) == (55, 1_901_000, 50)
    assert k[3]["orig_cl_ord_id"] == 3 == k[3]["cl_ord_id"]
    assert k[4]["admin_op"] == MassCancelScope.SESSION | MassCancelScope.SYMBOL | MassCancelScope.SIDE
    assert (k[4]["symbol_id"], k[4]["side"]) == (1, Side.SELL)


@pytest.mark.parametrize("raw, reason, tag", [
    (nos(t38="1.5"), 5, 38), (nos(t44="1.00001"), 5, 44), (nos(t38="abc"), 6, 38),
    (nos(t54="12"), 5, 54), (nos(t11="x" * 40), 5, 11), (nos(t60=None), 1, 60),
    (nos(t11=None), 1, 11), (nos(t126="2025"), 6, 126),
])
def test_application_validation(raw, reason, tag):
    c = codec()
    assert c.decode(bytearray(raw), 0, NOW) == REJECT
    assert (c.reject_reason, c.ref_tag) == (reason, tag) and c.text
    assert c.pos == len(raw) and c.n_commands == 0


def test_fix42_needs_handl_inst():
    c = codec(b"FIX.4.2")
    raw = nos().replace(b"FIX.4.4", b"FIX.4.2")
    raw = raw[:raw.rindex(b"10=")]
    raw += b"10=%03d\x01" % checksum(raw)
    assert c.decode(bytearray(raw), 0, NOW) == REJECT and c.ref_tag == 21


def test_stops_for_the_session_layer():
    c = codec()
    assert c.decode(bytearray(message("0", [], 1)), 0, NOW) == SESSION and c.msg_type == b"0"
    assert c.get(52) is not None and c.msg_seq == 1
    assert c.decode(bytearray(nos(seq=9)), 0, NOW) == SESSION and c.msg_seq == 9
    raw = message("D", [(11, "A"), (43, "Y")], 1)
    assert c.decode(bytearray(raw), 0, NOW) == SESSION and c.poss_dup
    assert codec(logged_on=False).decode(bytearray(nos()), 0, NOW) == SESSION


def test_business_reject_throttle_and_comp_ids():
    c = codec()
    assert c.decode(bytearray(message("AE", [], 1)), 0, NOW) == BUSINESS_REJECT
    assert c.bmr_reason == 3
    c.order_budget = 1
    buf = bytearray(nos("A", 1) + nos("B", 2))
    assert c.decode(buf, 0, NOW) == THROTTLED and c.n_commands == 1 and c.get(11) == b"B"
    c.in_seq = 3
    assert c.decode(bytearray(message("0", [], 3, sender="EVIL")), 0, NOW) == SESSION
    assert c.check_header(NOW) == REJECT and c.reject_reason == 9
    c.max_latency_ns = 10**9
    assert c.decode(bytearray(nos(seq=3)), 0, NOW + 5 * 10**9) == REJECT and c.reject_reason == 10


def test_garbled_and_framing():
    c = codec()
    assert c.decode(bytearray(b"hello"), 0, NOW) == GARBLED and c.pos == 0
    assert c.decode(bytearray(b"8=FIX.4.4\x019=abc\x01"), 0, NOW) == GARBLED
    assert c.decode(bytearray(b"8=FIX.4.4\x019=12"), 0, NOW) == NEED_MORE


def test_encode_events():
    c = codec()
    c.decode(bytearray(nos("ORD-1", 1)), 0, NOW)
    ev = np.zeros(3, dtype=EVENT_DTYPE)
    ev["session_id"] = 7
    ev[0] = ev[0]
    for name, v in dict(kind=EventType.EXEC_REPORT, exec_type=ExecType.TRADE,
                        status=OrdStatus.PARTIALLY_FILLED, cl_ord_id=1, order_id=5, seq=42,
                        price=1_900_500, qty=100, cum_qty=40, leaves_qty=60, avg_px=1_900_512,
                        last_px=1_900_500, last_qty=40, account_id=1, side=1, ord_type=2,
                        tif=1, time_ns=NOW, trade_id=3).items():
        ev[0][name] = v
    ev[1]["kind"] = EventType.CANCEL_REJECT
    ev[1]["reject_code"] = RejectCode.UNKNOWN_ORDER
    ev[1]["response_to"] = 1
    ev[1]["status"] = OrdStatus.REJECTED
    ev[2]["session_id"] = 8                                  # another session's: skipped
    assert c.encode_events(ev, 3, NOW) == 2
    parser = simplefix.FixParser()
    parser.append_buffer(c.take())
    er, cxl = parser.get_message(), parser.get_message()
    assert parser.get_message() is None
    assert er.get(35) == b"8" and er.get(11) == b"ORD-1" and er.get(150) == b"F"
    assert (er.get(39), er.get(14), er.get(151), er.get(6), er.get(31), er.get(32)) == \
        (b"1", b"40", b"60", b"190.0512", b"190.05", b"40")
    assert er.get(1) == b"FUND-A" and er.get(55) == b"AAPL" and er.get(17) == b"X42"
    assert er.get(34) == b"1" and cxl.get(34) == b"2" and c.out_seq == 3
    assert cxl.get(35) == b"9" and cxl.get(102) == b"1" and b"UNKNOWN_ORDER" in cxl.get(58)


def test_number_and_time_helpers():
    assert parse_price(b"190.05") == 1_900_500 and parse_price(b"-0.5") == -5000
    assert parse_price(b"7") == 70_000 and parse_price(b"1.23450") == 12_345
    for bad in (b"", b"1.00001", b"1e5", b"--1", b"."):
        with pytest.raises(ValueError):
            parse_price(bad)
    assert format_price_units(1_900_500) == b"190.05" and format_price_units(-5) == b"-0.0005"
    assert format_price_units(10_000) == b"1"
    t = parse_timestamp(b"20250602-13:30:00.123")
    assert t == 1_748_871_000_123_000_000 and format_timestamp(t) == b"20250602-13:30:00.123"
    assert parse_timestamp(b"20250602-25:30:00") is None


def test_strmap_persists_in_order():
    m = StrMap()
    assert [m.add(s) for s in (b"a", b"bb", b"a", b"ccc")] == [0, 1, 0, 2]
    again = StrMap()
    assert again.load(m.export(0)) == 3 and again.get(b"ccc") == 2 and again.name(1) == b"bb"
    with pytest.raises(ValueError):
        m.add(b"x" * 40)


# -- FUZZ --------------------------------------------------------------------------------------

FIELD = st.tuples(st.sampled_from([11, 38, 40, 44, 54, 55, 59, 60, 1, 453, 448, 41, 37, 530,
                                   99, 126, 43, 122, 7, 16, 36, 123, 112, 5000, 18, 110, 111,
                                   211, 836, 7101, 7102]),
                  st.binary(min_size=0, max_size=12).filter(lambda b: b"\x01" not in b))


@st.composite
def fix_streams(draw):
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["valid", "fields", "bytes", "mutate"]))
        if kind == "bytes":
            parts.append(draw(st.binary(max_size=120)))
            continue
        mt = draw(st.sampled_from(["D", "F", "G", "H", "q", "0", "1", "2", "4", "A", "ZZ", "j"]))
        fields = draw(st.lists(FIELD, max_size=10)) if kind != "valid" else []
        raw = message(mt, [(t, v) for t, v in fields if v], draw(st.integers(1, 5)))
        if kind == "valid":
            raw = nos(seq=draw(st.integers(1, 5)))
        if kind == "mutate" and raw:
            i = draw(st.integers(0, len(raw) - 1))
            raw = raw[:i] + draw(st.binary(min_size=0, max_size=3)) + raw[i + 1:]
        parts.append(raw)
    return b"".join(parts)


@settings(max_examples=400, deadline=None)
@given(fix_streams())
def test_fuzz_decoder_never_crashes_or_hangs(data):
    c = codec()
    buf = bytearray(data)
    pos, steps = 0, 0
    while steps < 1000:
        steps += 1
        status = c.decode(buf, pos, NOW)
        assert 0 <= c.n_commands <= c.cmd_capacity
        if status == GARBLED:
            nxt = buf.find(b"8=FIX", c.pos + 1)
            if nxt < 0:
                break
            pos = nxt
            continue
        assert c.pos >= pos
        if status == NEED_MORE:
            break
        assert c.pos > pos or status == 1            # every other result consumed a message
        if status in (SESSION, REJECT, BUSINESS_REJECT, THROTTLED):
            c.in_seq = max(c.in_seq, c.msg_seq + 1) if c.msg_seq < 10**6 else c.in_seq
        pos = c.pos
    assert steps < 1000
    c.encode_events(np.zeros(4, dtype=EVENT_DTYPE), 4, NOW)
