"""The compiled binary codec: frames <-> commands and events (the extension frames N and V
included), rejects, and hypothesis fuzzing (no crash, no hang, every frame decoded or
rejected)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

binary = pytest.importorskip("oms._binary")
from oms._binary import (BATCH_FULL, FATAL, NEED_MORE, OTHER, REJECT, SESSION, SIZES,  # noqa: E402
                         THROTTLED, BinaryCodec, decode_server_frames, encode_commands)
from oms.layout import (COMMAND_DTYPE, EVENT_DTYPE, CommandType, MassCancelScope,  # noqa: E402
                        OrdType, TimeInForce)


def commands(n=3) -> np.ndarray:
    c = np.zeros(n, dtype=COMMAND_DTYPE)
    c["kind"] = [CommandType.NEW, CommandType.CANCEL, CommandType.MASS_CANCEL][:n]
    c["cl_ord_id"] = np.arange(1, n + 1)
    c["account_id"] = 1
    c["qty"] = 100
    c["price"] = 1_900_500
    c["side"] = 1
    c["ord_type"] = 2
    c["tif"] = 1
    c["orig_cl_ord_id"] = [0, 1, 0][:n]
    c["admin_op"] = [0, 0, MassCancelScope.SYMBOL][:n]
    return c


def logged_on(**kw) -> BinaryCodec:
    c = BinaryCodec(21, [1], **kw)
    c.logged_on = True
    return c


def test_frame_sizes_are_documented():
    assert SIZES == {"L": 68, "O": 72, "N": 136, "X": 40, "U": 56, "V": 64, "M": 40, "S": 32,
                     "E": 152, "F": 168, "R": 88, "H": 4}


def test_round_trip_commands():
    c = logged_on()
    data = encode_commands(commands())
    assert c.decode(data, 0, 1234) == NEED_MORE and c.pos == len(data) and c.n_commands == 3
    out = c.commands[:3]
    assert list(out["kind"]) == [CommandType.NEW, CommandType.CANCEL, CommandType.MASS_CANCEL]
    assert list(out["session_id"]) == [21] * 3 and list(out["time_ns"]) == [1234] * 3
    assert out[0]["price"] == 1_900_500 and out[0]["account_id"] == 1
    assert out[1]["orig_cl_ord_id"] == 1
    assert out[2]["admin_op"] == MassCancelScope.SYMBOL | MassCancelScope.SESSION


def test_account_binding_and_client_time():
    c = logged_on()
    cmd = commands(1)
    cmd["account_id"] = 0
    c.decode(encode_commands(cmd), 0, 1)
    assert c.commands[0]["account_id"] == 0xFFFFFFFF
    cmd["time_ns"] = 99
    assert c.decode(encode_commands(cmd), 0, 1) == REJECT and c.reject_reason == 6
    c.allow_client_time = True
    assert c.decode(encode_commands(cmd), 0, 1) == NEED_MORE and c.commands[0]["time_ns"] == 99


def test_rejects_session_and_throttle():
    c = logged_on()
    assert c.decode(struct.pack("<HBB", 4, ord("H"), 1), 0, 1) == SESSION
    assert c.decode(struct.pack("<HBB", 4, ord("Z"), 1), 0, 1) == REJECT and c.reject_reason == 1
    assert c.decode(struct.pack("<HBB", 4, ord("O"), 1), 0, 1) == REJECT and c.reject_reason == 2
    assert c.decode(struct.pack("<HBB", 4, ord("H"), 9), 0, 1) == REJECT and c.reject_reason == 3
    assert c.decode(struct.pack("<HBB", 3, ord("H"), 1), 0, 1) == FATAL
    c.order_budget = 0
    data = encode_commands(commands(1))
    assert c.decode(data, 0, 1) == THROTTLED and c.ref_cl_ord_id == 1 and c.pos == len(data)
    small = logged_on(capacity=2)
    data = encode_commands(commands(3))
    assert small.decode(data, 0, 1) == BATCH_FULL and small.n_commands == 2
    assert BinaryCodec(1, []).decode(data, 0, 1) == SESSION       # not logged on


def test_events_round_trip():
    ev = np.zeros(3, dtype=EVENT_DTYPE)
    ev["session_id"] = [21, 22, 21]
    ev["cl_ord_id"] = [1, 2, 3]
    ev["price"] = 5
    ev["kind"] = 1
    ev["account_id"] = 1
    c = logged_on()
    assert c.encode_events(ev, 3) == 2
    data = c.take() + struct.pack("<HBB", 4, ord("H"), 1)
    out = np.zeros(8, dtype=EVENT_DTYPE)
    status, n, pos = decode_server_frames(data, 0, out)
    assert (status, n, pos) == (OTHER, 2, 2 * 152)
    assert list(out[:2]["cl_ord_id"]) == [1, 3] and list(out[:2]["price"]) == [5, 5]
    drop = BinaryCodec(29, [1])
    drop.read_only = True
    assert drop.encode_events(ev, 3) == 3



# -- F: the execution frame with stop_price and trigger_px (login flag 1) ---------------------

# the documented `E` layout (docs/protocols.md), header included
E_LAYOUT = struct.Struct("<HBBBBBBBBBBHHqqqIIIIQQQqqqqqqqQII")
F_LAYOUT = struct.Struct(E_LAYOUT.format + "qq")


def full_event() -> np.ndarray:
    ev = np.zeros(1, dtype=EVENT_DTYPE)
    vals = dict(kind=1, exec_type=10, status=1, side=2, ord_type=OrdType.TRAILING_STOP,
                tif=TimeInForce.GTC, response_to=0, reject_code=7, seq=101, cmd_seq=99,
                time_ns=1_700_000_000_000_000_123, account_id=1, symbol_id=3, version=2,
                strategy_id=9, order_id=555, cl_ord_id=77, orig_cl_ord_id=76, price=0, qty=500,
                cum_qty=100, leaves_qty=400, avg_px=1_890_000, last_px=1_890_100, last_qty=100,
                trade_id=31, session_id=21, stop_price=1_880_000, trigger_px=1_885_500)
    for k, v in vals.items():
        ev[0][k] = v
    return ev


def test_full_events_flag_is_login_bit_1():
    assert binary.LOGIN_FULL_EVENTS == 1
    assert not logged_on().full_events


def test_e_frame_is_unchanged_without_the_flag():
    ev = full_event()
    c = logged_on()
    assert c.encode_events(ev, 1) == 1
    data = c.take()
    assert len(data) == 152 and data[2:4] == b"E\x01"
    e = ev[0]
    assert data == E_LAYOUT.pack(
        152, ord("E"), 1, e["kind"], e["exec_type"], e["status"], e["side"], e["ord_type"],
        e["tif"], e["response_to"], 0, e["reject_code"], 0, e["seq"], e["cmd_seq"], e["time_ns"],
        e["account_id"], e["symbol_id"], e["version"], e["strategy_id"], e["order_id"],
        e["cl_ord_id"], e["orig_cl_ord_id"], e["price"], e["qty"], e["cum_qty"], e["leaves_qty"],
        e["avg_px"], e["last_px"], e["last_qty"], e["trade_id"], e["session_id"], 0)
    out = np.zeros(1, dtype=EVENT_DTYPE)
    assert decode_server_frames(data, 0, out)[:2] == (NEED_MORE, 1)
    assert out[0]["stop_price"] == out[0]["trigger_px"] == 0     # `E` cannot carry them


def test_f_frame_layout_is_the_documented_one():
    ev = full_event()
    c = logged_on()
    c.full_events = True
    assert c.encode_events(ev, 1) == 1
    data = c.take()
    assert len(data) == 168 and len(data) % 8 == 0 and data[2:4] == b"F\x01"
    e = ev[0]
    assert data == F_LAYOUT.pack(
        168, ord("F"), 1, e["kind"], e["exec_type"], e["status"], e["side"], e["ord_type"],
        e["tif"], e["response_to"], 0, e["reject_code"], 0, e["seq"], e["cmd_seq"], e["time_ns"],
        e["account_id"], e["symbol_id"], e["version"], e["strategy_id"], e["order_id"],
        e["cl_ord_id"], e["orig_cl_ord_id"], e["price"], e["qty"], e["cum_qty"], e["leaves_qty"],
        e["avg_px"], e["last_px"], e["last_qty"], e["trade_id"], e["session_id"], 0,
        1_880_000, 1_885_500)
    assert struct.unpack_from("<qq", data, 152) == (1_880_000, 1_885_500)


def test_f_frames_decode_with_stop_price_and_trigger():
    ev = np.concatenate([full_event()] * 3)
    ev["cl_ord_id"] = [1, 2, 3]
    ev["trigger_px"] = [10, 20, 30]
    c = logged_on()
    c.full_events = True
    assert c.encode_events(ev, 3) == 3
    plain = logged_on()
    plain.encode_events(ev[:1], 1)
    data = c.take() + plain.take() + struct.pack("<HBB", 4, ord("H"), 1)
    out = np.zeros(8, dtype=EVENT_DTYPE)
    status, n, pos = decode_server_frames(data, 0, out)
    assert (status, n, pos) == (OTHER, 4, 3 * 168 + 152)
    for name in EVENT_DTYPE.names:
        if not name.startswith("_"):
            assert (out[:3][name] == ev[name]).all(), name
    assert list(out[:4]["trigger_px"]) == [10, 20, 30, 0]
    small = np.zeros(2, dtype=EVENT_DTYPE)
    assert decode_server_frames(data, 0, small) == (BATCH_FULL, 2, 2 * 168)
    bad = bytearray(data[:168])
    bad[0] = 160                     # an `F` of the wrong length is not an execution frame
    assert decode_server_frames(bytes(bad), 0, out)[0] == OTHER


# -- FULL FRAMES: N (new order, every field) and V (replace with a stop price) ----------------

FULL_NEW = dict(kind=CommandType.NEW, side=2, ord_type=OrdType.STOP_LIMIT, tif=TimeInForce.GTD,
                exec_inst=1, cl_ord_id=77, account_id=1, symbol_id=3, qty=500, price=1_885_000,
                stop_price=1_890_000, display_qty=100, min_qty=50,
                expire_time_ns=1_900_000_000_000_000_000, trail_amount=12_500, trail_bps=25,
                strategy_id=9, parent_order_id=11, oco_order_id=12, idem_hi=(1 << 64) - 1,
                idem_lo=5, time_ns=0)


def one(**fields) -> np.ndarray:
    c = np.zeros(1, dtype=COMMAND_DTYPE)
    for name, v in fields.items():
        c[0][name] = v
    return c


def test_full_new_order_round_trip():
    data = encode_commands(one(**FULL_NEW))
    assert len(data) == 136 and data[2:4] == b"N\x01"
    c = logged_on()
    assert c.decode(data, 0, 1234) == NEED_MORE and c.n_commands == 1
    got = c.commands[0]
    for name, v in FULL_NEW.items():
        if name != "time_ns":
            assert got[name] == v, name
    assert (got["session_id"], got["time_ns"]) == (21, 1234)


def test_full_new_order_layout_is_the_documented_one():
    f = FULL_NEW
    raw = struct.pack("<HBBBBBBQIIqqqqqqqIIQQQQqQ", 136, ord("N"), 1, f["side"], f["ord_type"],
                      f["tif"], f["exec_inst"], f["cl_ord_id"], f["account_id"], f["symbol_id"],
                      f["qty"], f["price"], f["stop_price"], f["display_qty"], f["min_qty"],
                      f["expire_time_ns"], f["trail_amount"], f["trail_bps"], f["strategy_id"],
                      f["parent_order_id"], f["oco_order_id"], f["idem_hi"], f["idem_lo"], 0, 0)
    assert raw == encode_commands(one(**FULL_NEW))
    raw = struct.pack("<HBBIQQQqqqq", 64, ord("V"), 1, 3, 8, 7, 0, 1_900_000, 20, 1_895_000, 0)
    rep = one(kind=CommandType.REPLACE, expected_version=3, cl_ord_id=8, orig_cl_ord_id=7,
              price=1_900_000, qty=20, stop_price=1_895_000)
    assert raw == encode_commands(rep)
    c = logged_on()
    assert c.decode(raw, 0, 1) == NEED_MORE
    got = c.commands[0]
    assert (got["kind"], got["stop_price"], got["price"], got["qty"], got["expected_version"]) \
        == (CommandType.REPLACE, 1_895_000, 1_900_000, 20, 3)


@pytest.mark.parametrize("fields, full, frame", [
    (dict(kind=CommandType.NEW, ord_type=OrdType.LIMIT, price=5), False, b"O"),
    (dict(kind=CommandType.NEW, ord_type=OrdType.LIMIT, price=5), True, b"N"),
    (dict(kind=CommandType.NEW, ord_type=OrdType.STOP, stop_price=5), False, b"N"),
    (dict(kind=CommandType.NEW, trail_bps=5), False, b"N"),
    (dict(kind=CommandType.NEW, exec_inst=1), False, b"N"),
    (dict(kind=CommandType.NEW, oco_order_id=1), False, b"N"),
    (dict(kind=CommandType.NEW, expire_time_ns=1), False, b"N"),
    (dict(kind=CommandType.REPLACE, price=5, qty=1), False, b"U"),
    (dict(kind=CommandType.REPLACE, price=5, qty=1), True, b"V"),
    (dict(kind=CommandType.REPLACE, stop_price=5, qty=1), False, b"V"),
    (dict(kind=CommandType.CANCEL), True, b"X"),
])
def test_encoder_picks_the_frame(fields, full, frame):
    data = encode_commands(one(**fields), full=full)
    assert data[2:3] == frame and len(data) == SIZES[frame.decode()]
    c = logged_on()
    assert c.decode(data, 0, 1) == NEED_MORE and c.n_commands == 1
    for name, v in fields.items():
        assert c.commands[0][name] == v


def test_full_frames_throttle_read_only_and_client_time():
    data = encode_commands(one(**FULL_NEW)) + encode_commands(
        one(kind=CommandType.REPLACE, cl_ord_id=9, stop_price=1), full=True)
    c = logged_on()
    c.order_budget = 1
    assert c.decode(data, 0, 1) == THROTTLED and c.n_commands == 1 and c.ref_cl_ord_id == 9
    c.order_budget = 0
    assert c.decode(data, 0, 1) == THROTTLED and c.ref_cl_ord_id == 77 and c.pos == 136
    drop = logged_on()
    drop.read_only = True
    assert drop.decode(data, 0, 1) == REJECT and drop.reject_reason == 7
    timed = one(**dict(FULL_NEW, time_ns=5))
    assert logged_on().decode(encode_commands(timed), 0, 1) == REJECT
    for t, size in ((b"N", 72), (b"V", 56)):          # an old frame's size is not enough
        bad = logged_on()
        assert bad.decode(struct.pack("<HBB", size, t[0], 1) + bytes(size - 4), 0, 1) == REJECT
        assert bad.reject_reason == 2


COMMAND_FIELDS = st.fixed_dictionaries(dict(
    kind=st.sampled_from([CommandType.NEW, CommandType.REPLACE]), side=st.integers(0, 255),
    ord_type=st.integers(0, 255), tif=st.integers(0, 255), exec_inst=st.integers(0, 255),
    cl_ord_id=st.integers(0, 2**64 - 1), account_id=st.sampled_from([0, 1, 2**32 - 1]),
    symbol_id=st.integers(0, 2**32 - 1), qty=st.integers(-2**63, 2**63 - 1),
    price=st.integers(-2**63, 2**63 - 1), stop_price=st.integers(-2**63, 2**63 - 1),
    display_qty=st.integers(-2**63, 2**63 - 1), min_qty=st.integers(-2**63, 2**63 - 1),
    expire_time_ns=st.integers(-2**63, 2**63 - 1), trail_amount=st.integers(-2**63, 2**63 - 1),
    trail_bps=st.integers(0, 2**32 - 1), parent_order_id=st.integers(0, 2**64 - 1),
    oco_order_id=st.integers(0, 2**64 - 1), expected_version=st.integers(0, 2**32 - 1),
    strategy_id=st.integers(0, 2**32 - 1)))


@settings(max_examples=300, deadline=None)
@given(COMMAND_FIELDS, st.booleans())
def test_full_frames_carry_every_value(fields, full):
    c = logged_on()
    assert c.decode(encode_commands(one(**fields), full=full), 0, 1) == NEED_MORE
    got = c.commands[0]
    new = fields["kind"] == CommandType.NEW
    carried = (["side", "ord_type", "tif", "cl_ord_id", "symbol_id", "qty", "price",
                "strategy_id"] if new else ["cl_ord_id", "price", "qty", "expected_version"])
    if new and (full or any(fields[k] for k in (
            "stop_price", "display_qty", "min_qty", "expire_time_ns", "trail_amount",
            "trail_bps", "exec_inst", "parent_order_id", "oco_order_id"))):
        carried += ["exec_inst", "stop_price", "display_qty", "min_qty", "expire_time_ns",
                    "trail_amount", "trail_bps", "parent_order_id", "oco_order_id"]
    if not new and (full or fields["stop_price"]):
        carried.append("stop_price")
    for name in carried:
        assert got[name] == fields[name], name
    assert got["account_id"] == (1 if fields["account_id"] == 1 else 0xFFFFFFFF) or not new


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=80),
    st.builds(lambda t, n, body: struct.pack("<HBB", n, t, 1) + body,
              st.sampled_from(b"LOXUMSHQZENVF"), st.integers(0, 200), st.binary(max_size=140)),
    st.builds(lambda f, full: encode_commands(one(**f), full=full), COMMAND_FIELDS,
              st.booleans()),
    st.just(encode_commands(commands()))), max_size=8))
def test_fuzz_decoder_never_crashes_or_hangs(parts):
    data = b"".join(parts)
    c = logged_on()
    pos, steps = 0, 0
    while steps < 1000:
        steps += 1
        status = c.decode(data, pos, 1)
        if status in (NEED_MORE, FATAL):
            break
        assert c.pos > pos or status == BATCH_FULL
        pos = c.pos
    assert steps < 1000
    out = np.zeros(4, dtype=EVENT_DTYPE)
    decode_server_frames(data, 0, out)
