"""The FIX codec's mapping of every order type and order field (docs/protocols.md, "Order types
on FIX"): NewOrderSingle and OrderCancelReplaceRequest decoding, ExecutionReport encoding with
the gateway's OrderAttrs, and hypothesis properties of both."""

from __future__ import annotations

import time

import numpy as np
import pytest
import simplefix
from hypothesis import given, settings, strategies as st

fix = pytest.importorskip("oms._fix")
from oms._fix import NEED_MORE, REJECT, FixCodec, OrderAttrs, StrMap  # noqa: E402
import oms.gateway.gateway  # noqa: E402,F401  (configures the reject-code table)
from oms.codes import RejectCode  # noqa: E402
from oms.layout import (COMMAND_DTYPE, EVENT_DTYPE, CommandType, EventType, ExecInst,  # noqa: E402
                        ExecType, OrdStatus, OrdType, Side, TimeInForce)

NOW = time.time_ns()
UNKNOWN_ID = 0xFFFFFFFFFFFFFFFF


def codec(begin=b"FIX.4.4") -> FixCodec:
    accounts = StrMap()
    accounts.add(b"FUND-A", 1)
    names = StrMap()
    for i, n in enumerate([b"MM-DESK", b"FUND-A"]):
        names.add(n, i)
    symbols = StrMap()
    symbols.add(b"AAPL", 0)
    c = FixCodec(begin, b"OMS", b"CLI", 7, accounts, names, symbols, default_account=1,
                 exec_id_prefix=b"X")
    c.logged_on = True
    return c


def message(msg_type, fields, seq=1, begin="FIX.4.4") -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, begin)
    m.append_pair(35, msg_type)
    m.append_pair(49, "CLI")
    m.append_pair(56, "OMS")
    m.append_pair(34, seq)
    m.append_utc_timestamp(52, precision=3)
    for tag, value in fields:
        m.append_pair(tag, value)
    return m.encode()


def nos(**tags) -> bytes:
    f = {11: "A1", 55: "AAPL", 54: "2", 40: "2", 38: "100", 60: "20250101-00:00:00"}
    f.update({int(k[1:]): v for k, v in tags.items()})
    return message("D", [(k, v) for k, v in f.items() if v is not None])


def decode_one(raw: bytes, begin=b"FIX.4.4"):
    c = codec(begin)
    status = c.decode(bytearray(raw), 0, NOW)
    return c, status


def command(raw: bytes):
    c, status = decode_one(raw)
    assert status == NEED_MORE and c.n_commands == 1, (c.reject_reason, c.ref_tag, c.text)
    return c.commands[0]


# -- DECODING ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tags, ord_type, price, stop", [
    (dict(t40="1"), OrdType.MARKET, 0, 0),
    (dict(t40="2", t44="190.05"), OrdType.LIMIT, 1_900_500, 0),
    (dict(t40="3", t99="189"), OrdType.STOP, 0, 1_890_000),
    (dict(t40="4", t44="188.5", t99="189"), OrdType.STOP_LIMIT, 1_885_000, 1_890_000),
    (dict(t40="J", t99="191.25"), OrdType.MARKET_IF_TOUCHED, 0, 1_912_500),
    (dict(t40="j", t44="191", t99="191.25"), OrdType.LIMIT_IF_TOUCHED, 1_910_000, 1_912_500),
    (dict(t40="P", t18="a", t211="0.5"), OrdType.TRAILING_STOP, 0, 0),
    (dict(t40="P"), 0, 0, 0),                        # a peg that is not a trailing stop
    (dict(t40="P", t18="6"), 0, 0, 0),
    (dict(t40="Z"), 0, 0, 0),
])
def test_every_order_type(tags, ord_type, price, stop):
    k = command(nos(**tags))
    assert (k["kind"], k["ord_type"], k["price"], k["stop_price"]) == (CommandType.NEW, ord_type,
                                                                       price, stop)


@pytest.mark.parametrize("tags, amount, bps", [
    (dict(t211="0.5"), 5_000, 0),
    (dict(t211="-1.25", t836="0"), 12_500, 0),     # the sign is ignored
    (dict(t211="25", t836="1"), 0, 25),
    (dict(t211="-25.0", t836="1"), 0, 25),
    (dict(t211="99999999999", t836="1"), 0, 0xFFFFFFFF),   # the engine rejects it
    (dict(t836="1"), 0, 0),                        # no offset: the engine rejects it
])
def test_trailing_offsets(tags, amount, bps):
    k = command(nos(t40="P", t18="a", **tags))
    assert (k["ord_type"], k["trail_amount"], k["trail_bps"]) == (OrdType.TRAILING_STOP, amount,
                                                                  bps)


@pytest.mark.parametrize("tags, reason, tag", [
    (dict(t836="2", t211="1"), 5, 836), (dict(t836="01", t211="1"), 5, 836),
    (dict(t836="1", t211="2.5"), 5, 211), (dict(t211="0.00001"), 5, 211),
    (dict(t211="abc"), 6, 211), (dict(t110="1.5"), 5, 110), (dict(t111="x"), 6, 111),
])
def test_unreadable_values_are_session_rejects(tags, reason, tag):
    c, status = decode_one(nos(t40="P", t18="a", **tags))
    assert status == REJECT and (c.reject_reason, c.ref_tag) == (reason, tag) and c.text
    assert c.n_commands == 0


@pytest.mark.parametrize("value, bits, ord_type", [
    ("6", ExecInst.POST_ONLY, OrdType.LIMIT), ("6 6", ExecInst.POST_ONLY, OrdType.LIMIT),
    ("G", 0x80, OrdType.LIMIT), ("6 G", ExecInst.POST_ONLY | 0x80, OrdType.LIMIT),
    ("a", 0x80, OrdType.LIMIT),                     # 'a' without OrdType P
    (" ", 0, OrdType.LIMIT),
])
def test_exec_inst(value, bits, ord_type):
    k = command(nos(t44="190", t18=value))
    assert (k["exec_inst"], k["ord_type"]) == (bits, ord_type)


def test_other_new_order_fields():
    k = command(nos(t44="190", t59="6", t126="20250601-13:30:00.5", t110="100", t111="300",
                    t38="1000", t7101="17", t7102="18"))
    assert k["tif"] == TimeInForce.GTD and k["expire_time_ns"] == 1_748_784_600_500_000_000
    assert (k["min_qty"], k["display_qty"], k["qty"]) == (100, 300, 1000)
    assert (k["parent_order_id"], k["oco_order_id"]) == (17, 18)
    k = command(nos(t44="190", t7101="abc", t7102="0"))
    assert (k["parent_order_id"], k["oco_order_id"]) == (UNKNOWN_ID, 0)
    for tif, value in [("2", TimeInForce.AT_OPEN), ("7", TimeInForce.AT_CLOSE),
                       ("4", TimeInForce.FOK)]:
        assert command(nos(t44="190", t59=tif))["tif"] == value


def test_replace_carries_price_quantity_and_stop_price_only():
    raw = message("G", [(11, "R1"), (41, "A1"), (55, "AAPL"), (54, 2), (40, "P"), (38, 50),
                        (99, "189.5"), (18, "6 a"), (211, "1"), (110, 5), (111, 10),
                        (126, "20250101-00:00:00"), (7101, 3), (7102, 4),
                        (60, "20250101-00:00:00")])
    k = command(raw)
    assert (k["kind"], k["qty"], k["price"], k["stop_price"]) == (CommandType.REPLACE, 50, 0,
                                                                  1_895_000)
    for name in ("ord_type", "tif", "side", "exec_inst", "trail_amount", "trail_bps", "min_qty",
                 "display_qty", "expire_time_ns", "parent_order_id", "oco_order_id"):
        assert k[name] == 0, name


# -- ENCODING ----------------------------------------------------------------------------------

def event(**fields) -> np.ndarray:
    ev = np.zeros(1, dtype=EVENT_DTYPE)
    base = dict(kind=EventType.EXEC_REPORT, exec_type=ExecType.NEW, status=OrdStatus.ACCEPTED,
                session_id=7, cl_ord_id=1, order_id=5, seq=42, account_id=1, side=Side.SELL,
                ord_type=OrdType.LIMIT, tif=TimeInForce.DAY, qty=100, leaves_qty=100,
                time_ns=NOW)
    base.update(fields)
    for name, v in base.items():
        ev[0][name] = v
    return ev


def report(c: FixCodec, ev, attrs=None) -> simplefix.FixMessage:
    assert c.encode_events(ev, len(ev), NOW, None, attrs) == len(ev)
    parser = simplefix.FixParser()
    parser.append_buffer(c.take())
    return parser.get_message()


@pytest.mark.parametrize("ord_type, ch, priced", [
    (OrdType.MARKET, b"1", False), (OrdType.LIMIT, b"2", True), (OrdType.STOP, b"3", False),
    (OrdType.STOP_LIMIT, b"4", True), (OrdType.MARKET_IF_TOUCHED, b"J", False),
    (OrdType.LIMIT_IF_TOUCHED, b"j", True), (OrdType.TRAILING_STOP, b"P", False),
])
def test_reports_name_every_order_type(ord_type, ch, priced):
    c = codec()
    c.decode(bytearray(nos()), 0, NOW)
    m = report(c, event(ord_type=ord_type, price=1_900_000 if priced else 0))
    assert m.get(40) == ch and (m.get(44) == b"190") == priced and (m.get(44) is None) != priced
    assert m.get(18) == (b"a" if ord_type == OrdType.TRAILING_STOP else None)
    assert m.get(99) is None                    # no attributes known


def test_reports_show_the_order_attributes():
    attrs = OrderAttrs()
    attrs.put(5, stop_price=1_890_000, display_qty=100, min_qty=10,
              expire_time_ns=1_748_871_000_123_000_000, parent_order_id=3, oco_order_id=4,
              exec_inst=ExecInst.POST_ONLY)
    attrs.put(6, trail_amount=12_500)
    attrs.put(7, trail_bps=25)
    c = codec()
    # StopPx(99) comes from the event (the engine's order fields), the rest from the table
    m = report(c, event(ord_type=OrdType.STOP_LIMIT, price=1_885_000, stop_price=1_890_000),
               attrs)
    assert (m.get(40), m.get(44), m.get(99), m.get(18), m.get(111), m.get(110)) == \
        (b"4", b"188.5", b"189", b"6", b"100", b"10")
    assert (m.get(126), m.get(7101), m.get(7102)) == (b"20250602-13:30:00.123", b"3", b"4")
    m = report(c, event(order_id=6, ord_type=OrdType.TRAILING_STOP), attrs)
    assert (m.get(40), m.get(18), m.get(211), m.get(836), m.get(99)) == (b"P", b"a", b"1.25",
                                                                         None, None)
    # a trailing stop's StopPx is where its trigger stands now (it moves with the market)
    m = report(c, event(order_id=6, ord_type=OrdType.TRAILING_STOP, trigger_px=1_877_500),
               attrs)
    assert m.get(99) == b"187.75"
    m = report(c, event(order_id=7, ord_type=OrdType.TRAILING_STOP), attrs)
    assert (m.get(211), m.get(836)) == (b"25", b"1")
    m = report(c, event(order_id=8), attrs)        # another order: nothing extra
    assert m.get(99) is None and m.get(7101) is None


@pytest.mark.parametrize("begin, exec_type, fix_type, restatement", [
    (b"FIX.4.4", ExecType.TRIGGERED, b"L", None), (b"FIX.4.2", ExecType.TRIGGERED, b"D", None),
    (b"FIX.4.4", ExecType.RESTATED, b"D", b"5"), (b"FIX.4.2", ExecType.RESTATED, b"D", None),
])
def test_triggered_and_restated_exec_types(begin, exec_type, fix_type, restatement):
    m = report(codec(begin), event(exec_type=exec_type, reject_code=(
        RejectCode.SELF_TRADE_PREVENTED if exec_type == ExecType.RESTATED else 0)))
    assert (m.get(150), m.get(378), m.get(39)) == (fix_type, restatement, b"0")
    if exec_type == ExecType.RESTATED:
        assert m.get(58).startswith(b"SELF_TRADE_PREVENTED") and m.get(103) is None


# -- ORDER ATTRIBUTES --------------------------------------------------------------------------

def commands(*rows) -> np.ndarray:
    out = np.zeros(len(rows), dtype=COMMAND_DTYPE)
    for i, row in enumerate(rows):
        for name, v in row.items():
            out[i][name] = v
    return out


def events(*rows) -> np.ndarray:
    out = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, row in enumerate(rows):
        row = dict(dict(kind=EventType.EXEC_REPORT, status=OrdStatus.ACCEPTED), **row)
        for name, v in row.items():
            out[i][name] = v
    return out


def test_order_attrs_follow_commands_to_their_orders():
    a = OrderAttrs()
    cmds = commands(dict(kind=CommandType.NEW, stop_price=100),               # seq 10
                    dict(kind=CommandType.NEW, price=5),                       # 11: nothing
                    dict(kind=CommandType.NEW, trail_bps=7),                   # 12: rejected
                    dict(kind=CommandType.NEW, display_qty=3, oco_order_id=1),  # 13
                    dict(kind=CommandType.REPLACE, stop_price=120),            # 14
                    dict(kind=CommandType.REPLACE, price=9))                   # 15: nothing
    a.note(cmds, 6, np.arange(10, 16))
    assert a.pending == 4 and len(a) == 0
    a.apply(events(dict(cmd_seq=10, exec_type=ExecType.NEW, order_id=1)), 1)
    assert a.get(1)["stop_price"] == 100 and a.pending == 3
    a.apply(events(dict(cmd_seq=11, exec_type=ExecType.NEW, order_id=2),
                   dict(cmd_seq=12, exec_type=ExecType.REJECTED, status=OrdStatus.REJECTED),
                   dict(cmd_seq=13, exec_type=ExecType.NEW, order_id=3),
                   dict(cmd_seq=13, exec_type=ExecType.TRADE, order_id=3),
                   dict(cmd_seq=14, exec_type=ExecType.REPLACED, order_id=1)), 5)
    assert a.get(2) is None and a.pending == 0 and len(a) == 2
    assert a.get(3)["display_qty"] == 3 and a.get(3)["oco_order_id"] == 1
    assert a.get(1)["stop_price"] == 120 and a.get(1)["oco_order_id"] == 3   # linked back
    a.retire(events(dict(order_id=1, status=OrdStatus.PARTIALLY_FILLED),
                    dict(order_id=3, status=OrdStatus.CANCELLED)), 2)
    assert a.get(3) is None and a.get(1) is not None and len(a) == 1
    a.note(commands(dict(kind=CommandType.NEW, min_qty=1)), 1, np.array([20]))
    a.apply(events(dict(cmd_seq=21, order_id=9, exec_type=ExecType.NEW)), 1)
    assert a.pending == 0 and a.get(9) is None   # seq 20 was answered by nothing usable
    with pytest.raises(ValueError):
        a.note(cmds, 7, np.arange(7))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 300)), max_size=400))
def test_order_attrs_table_matches_a_dict(ops):
    """Inserts and removals (linear probing, backward-shift deletion, growth) against a dict."""
    a, model = OrderAttrs(), {}
    for put, oid in ops:
        if put:
            a.put(oid, stop_price=oid * 3)
            model[oid] = oid * 3
        else:
            a.retire(events(dict(order_id=oid, status=OrdStatus.FILLED)), 1)
            model.pop(oid, None)
    assert len(a) == len(model)
    for oid in range(1, 301):
        got = a.get(oid)
        assert (got["stop_price"] if got else None) == model.get(oid)


# -- PROPERTIES --------------------------------------------------------------------------------

ORD_TYPE_CHARS = {"1": OrdType.MARKET, "2": OrdType.LIMIT, "3": OrdType.STOP,
                  "4": OrdType.STOP_LIMIT, "J": OrdType.MARKET_IF_TOUCHED,
                  "j": OrdType.LIMIT_IF_TOUCHED, "P": OrdType.TRAILING_STOP}


def expected(tags: dict):
    """The command a NewOrderSingle's tags give (docs/protocols.md), or (reason, tag) for a
    session Reject; a model of the mapping independent of the codec."""
    from decimal import Decimal, InvalidOperation
    ot = ORD_TYPE_CHARS.get(tags.get(40, ""), 0)
    inst = tags.get(18, "")
    bits, peg = 0, False
    for ch in inst.replace(" ", ""):
        if ch == "6":
            bits |= ExecInst.POST_ONLY
        elif ch == "a":
            peg = True
        else:
            bits |= 0x80
    if ot == OrdType.TRAILING_STOP and not peg:
        ot = 0
    elif peg and ot != OrdType.TRAILING_STOP:
        bits |= 0x80
    off_type = tags.get(836)
    if off_type is not None and off_type not in ("0", "1"):
        return 5, 836
    amount = bps = 0
    if 211 in tags:
        try:
            v = Decimal(tags[211])
        except InvalidOperation:
            return 6, 211
        if not all(c in "-.0123456789" for c in tags[211]):
            return 6, 211
        if off_type == "1":
            if v != v.to_integral_value():
                return 5, 211
            bps = min(abs(int(v)), 0xFFFFFFFF)
        else:
            if v * 10_000 != (v * 10_000).to_integral_value():
                return 5, 211
            amount = abs(int(v * 10_000))
    ref = {}
    for tag in (7101, 7102):
        if tag in tags:
            ref[tag] = int(tags[tag]) if tags[tag].isdigit() else UNKNOWN_ID
    return dict(ord_type=ot, exec_inst=bits, trail_amount=amount, trail_bps=bps,
                parent_order_id=ref.get(7101, 0), oco_order_id=ref.get(7102, 0))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({40: st.sampled_from(list(ORD_TYPE_CHARS) + ["5", "Z"])}, optional={
    18: st.sampled_from(["a", "6", "6 a", "a 6", "G", "a G", "  ", "b"]),
    211: st.sampled_from(["1", "0.5", "-2", "25", "2.5", "0.00001", "x", "1e3", "-0"]),
    836: st.sampled_from(["0", "1", "2", "10"]),
    7101: st.sampled_from(["1", "42", "abc", "0", "-1"]),
    7102: st.sampled_from(["7", "x1", "123456789012345678"]),
}))
def test_new_order_mapping_matches_the_documented_model(tags):
    want = expected(tags)
    c, status = decode_one(nos(t44=None, **{f"t{k}": v for k, v in tags.items()}))
    if isinstance(want, tuple):
        assert status == REJECT and (c.reject_reason, c.ref_tag) == want
        return
    assert status == NEED_MORE and c.n_commands == 1
    k = c.commands[0]
    assert {name: int(k[name]) for name in want} == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries(dict(
    exec_type=st.integers(0, 255), status=st.integers(0, 255), ord_type=st.integers(0, 255),
    tif=st.integers(0, 255), side=st.integers(0, 255), order_id=st.integers(0, 2**64 - 1),
    cl_ord_id=st.integers(0, 2**64 - 1), price=st.integers(-2**63, 2**63 - 1),
    qty=st.integers(-2**63, 2**63 - 1), reject_code=st.integers(0, 2**16 - 1),
    time_ns=st.integers(-2**63, 2**63 - 1))), min_size=1, max_size=6),
    st.sampled_from([b"FIX.4.2", b"FIX.4.4"]))
def test_any_event_encodes_to_well_formed_fix(rows, begin):
    """Whatever an event holds, with or without known attributes, the report is framed FIX
    with a right BodyLength and CheckSum."""
    attrs = OrderAttrs()
    ev = events(*[dict(r, session_id=7) for r in rows])
    for r in rows[::2]:
        if r["order_id"]:
            attrs.put(r["order_id"], stop_price=-r["price"] // 3, trail_amount=r["qty"] // 7,
                      trail_bps=r["tif"], display_qty=r["qty"], min_qty=1,
                      expire_time_ns=r["time_ns"], exec_inst=r["side"],
                      parent_order_id=r["cl_ord_id"], oco_order_id=r["order_id"])
    c = codec(begin)
    assert c.encode_events(ev, len(ev), NOW, None, attrs) == len(ev)
    parser = simplefix.FixParser()
    parser.append_buffer(c.take())
    for _ in rows:
        m = parser.get_message()
        assert m is not None and m.get(35) == b"8"
        raw = m.encode(raw=True)
        assert int(raw[raw.rindex(b"10=") + 3:-1]) == sum(raw[:raw.rindex(b"10=")]) % 256
    assert parser.get_message() is None
