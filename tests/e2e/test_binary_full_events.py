"""The binary `F` execution frame against a real `oms serve`: a session that sets login flag 1
(`BinaryClient(full_events=True)`) receives `F` frames, whose events carry the order's
stop_price and trigger_px (a trailing stop's trigger as it follows the market); a session that
does not set it (an old client; unknown flag bits alike) keeps receiving the 152-byte `E`."""

from __future__ import annotations

import itertools
import socket
import struct
import time

import numpy as np
import pytest

from oms._binary import OTHER, NEED_MORE, decode_server_frames, encode_commands
from oms.client import BinaryClient, ClientError
from oms.config import px
from oms.gateway.binary import HEADER, LOGIN, LOGIN_ACCEPTED, VERSION
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, CommandType, ExecType, OrdType, Side

from .test_order_types_wire import AAPL, FUND_A, MM_DESK, BinTape

_ids = itertools.count(50_000)


def last(mm: BinTape, price: str) -> None:
    """Make `price` the last trade: MM-DESK buys 1 from itself."""
    mm.new(Side.BUY, 1, price=px(price), account=MM_DESK)
    c = next(_ids)
    mm.c.new_order(c, AAPL, Side.SELL, 1, px(price), account=MM_DESK)
    mm.get(lambda e: e["cl_ord_id"] == c and e["exec_type"] == ExecType.TRADE
           and e["leaves_qty"] == 0)


def new(t: BinTape, side, qty, ord_type=OrdType.LIMIT, price=0, account=FUND_A, **kw) -> dict:
    c = next(_ids)
    t.c.new_order(c, AAPL, side, qty, price, ord_type, account=account, **kw)
    return t.get(lambda e: e["cl_ord_id"] == c and e["exec_type"] in (ExecType.NEW,
                                                                      ExecType.REJECTED))


def status(t: BinTape, cl_ord_id: int, n: int) -> dict:
    t.c.status(orig_cl_ord_id=cl_ord_id)
    return t.ev(cl_ord_id, ExecType.ORDER_STATUS, n)


def raw_exec_frames(client: BinaryClient, n: int, timeout: float = 5.0) -> list[bytes]:
    """The next `n` execution frames (`E` or `F`) as they came off the wire."""
    deadline = time.monotonic() + timeout
    got = []
    while len(got) < n:
        frame = client._next_frame(deadline)
        if frame is None:
            raise AssertionError(f"only {len(got)} execution frames")
        if frame[2] in b"EF":
            got.append(frame)
    return got


def login(server, user: str, **kw) -> BinaryClient:
    """Log in, retrying while the server still holds the session's previous connection."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return server.binary(user, **kw).connect()
        except ClientError as e:
            if "already logged in" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def tapes(server):
    """(FUND-A with full events, MM-DESK without); both sessions' orders cancelled after."""
    f = login(server, "fund-a", full_events=True)
    mm = login(server, "mm-desk")
    tf, tm = BinTape(f), BinTape(mm)
    try:
        yield tf, tm
    finally:
        for t in (tf, tm):
            c = next(_ids)
            t.c.mass_cancel(c)
            t.get(lambda e: e["cl_ord_id"] == c)
            t.c.close()


def test_full_events_carry_stop_price_and_trailing_trigger(tapes):
    f, mm = tapes
    last(mm, "190.00")
    stop = new(f, Side.SELL, 5, OrdType.STOP, stop_price=px("189.00"))
    # the NEW report already shows the trigger (docs/engine.md, Acceptance)
    assert (stop["exec_type"], stop["stop_price"], stop["trigger_px"]) == \
        (ExecType.NEW, px("189.00"), px("189.00"))
    st = status(f, stop["cl_ord_id"], 1)     # a plain stop's trigger is its stop price
    assert (st["stop_price"], st["trigger_px"]) == (px("189.00"), px("189.00"))
    trail = new(f, Side.SELL, 5, OrdType.TRAILING_STOP, trail_amount=px("1.00"))
    assert (trail["exec_type"], trail["trigger_px"]) == (ExecType.NEW, px("189.00"))
    assert status(f, trail["cl_ord_id"], 1)["trigger_px"] == px("189.00")

    last(mm, "191.00")                       # the trailing stop follows: 190.00
    assert status(f, trail["cl_ord_id"], 2)["trigger_px"] == px("190.00")
    last(mm, "190.50")                       # it never moves back
    assert status(f, trail["cl_ord_id"], 3)["trigger_px"] == px("190.00")
    last(mm, "192.25")
    assert status(f, trail["cl_ord_id"], 4)["trigger_px"] == px("191.25")

    mm.new(Side.BUY, 5, price=px("191.10"), account=MM_DESK)
    last(mm, "191.20")                       # reaches 191.25: it fires, and trades
    trig = f.ev(trail["cl_ord_id"], ExecType.TRIGGERED)
    assert trig["trigger_px"] == px("191.25")
    assert f.ev(trail["cl_ord_id"], ExecType.TRADE)["last_px"] == px("191.10")


def test_full_events_come_as_f_frames_and_plain_sessions_as_e(tapes):
    f, mm = tapes
    last(mm, "190.00")
    # FUND-A (full events): a stop's NEW is an `F` frame with its stop price at offset 152
    c = next(_ids)
    f.c.new_order(c, AAPL, Side.SELL, 5, 0, OrdType.STOP, account=FUND_A,
                  stop_price=px("180.00"))
    (frame,) = raw_exec_frames(f.c, 1)
    assert (len(frame), frame[2:4]) == (168, b"F\x01")
    assert struct.unpack_from("<QQ", frame, 56)[1] == c
    assert struct.unpack_from("<q", frame, 152) == (px("180.00"),)
    # MM-DESK (no flag): the same kind of order still comes as the 152-byte `E` frame
    c = next(_ids)
    mm.c.new_order(c, AAPL, Side.SELL, 5, 0, OrdType.STOP, account=MM_DESK,
                   stop_price=px("180.00"))
    (frame,) = raw_exec_frames(mm.c, 1)
    assert (len(frame), frame[2:4]) == (152, b"E\x01")
    out = np.zeros(1, dtype=EVENT_DTYPE)
    assert decode_server_frames(frame, 0, out)[:2] == (NEED_MORE, 1)
    assert out[0]["cl_ord_id"] == c and out[0]["exec_type"] == ExecType.NEW
    assert out[0]["stop_price"] == out[0]["trigger_px"] == 0


def test_the_flag_holds_per_login(server):
    """A session that logged in with full events and then without gets `E` again."""
    for full, kind in ((True, b"F"), (False, b"E"), (True, b"F")):
        c = login(server, "fund-a", full_events=full)
        try:
            c.status(orig_cl_ord_id=next(_ids))           # unknown order: still an event
            assert raw_exec_frames(c, 1)[0][2:3] == kind
        finally:
            c.close()


def test_unknown_login_flags_are_ignored(server):
    """Flag bits other than 1 change nothing: the session gets `E` frames, as before."""
    deadline = time.monotonic() + 5
    while True:
        sock = socket.create_connection(("127.0.0.1", server.binary_port), timeout=5)
        sock.sendall(LOGIN.pack(LOGIN.size, ord("L"), VERSION, b"mm-desk", b"mm-desk-pass",
                                1000, 0xFFFF_FFFE, 0))
        buf = b""
        while len(buf) < 4 or len(buf) < HEADER.unpack_from(buf)[0]:
            data = sock.recv(4096)
            assert data, "connection closed"
            buf += data
        if buf[2:3] == b"A" or time.monotonic() > deadline:
            break
        sock.close()                          # the previous test's session is still open
        time.sleep(0.05)
    try:
        assert buf[2:3] == b"A"
        buf = buf[LOGIN_ACCEPTED.size:]
        cmd = np.zeros(1, dtype=COMMAND_DTYPE)
        cmd[0]["kind"] = CommandType.STATUS
        cmd[0]["orig_cl_ord_id"] = next(_ids)
        sock.sendall(encode_commands(cmd))
        out = np.zeros(1, dtype=EVENT_DTYPE)
        while True:
            status_, n, pos = decode_server_frames(buf, 0, out)
            if n:
                break
            if status_ == OTHER:                      # a heartbeat
                buf = buf[HEADER.unpack_from(buf, pos)[0]:]
                continue
            data = sock.recv(4096)
            assert data, "connection closed"
            buf += data
        assert buf[:4] == struct.pack("<HBB", 152, ord("E"), 1)
    finally:
        sock.sendall(HEADER.pack(HEADER.size, ord("Q"), VERSION))
        sock.close()
