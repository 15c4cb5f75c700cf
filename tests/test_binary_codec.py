"""The compiled binary codec: frames <-> commands and events, rejects, and hypothesis fuzzing
(no crash, no hang, every frame decoded or rejected)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

binary = pytest.importorskip("oms._binary")
from oms._binary import (BATCH_FULL, FATAL, NEED_MORE, OTHER, REJECT, SESSION, SIZES,  # noqa: E402
                         THROTTLED, BinaryCodec, decode_server_frames, encode_commands)
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, CommandType, MassCancelScope  # noqa: E402


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
    assert SIZES == {"L": 68, "O": 72, "X": 40, "U": 56, "M": 40, "S": 32, "E": 152, "R": 88,
                     "H": 4}


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


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=80),
    st.builds(lambda t, n, body: struct.pack("<HBB", n, t, 1) + body,
              st.sampled_from(b"LOXUMSHQZE"), st.integers(0, 200), st.binary(max_size=100)),
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
