"""Python clients of `oms serve`: `BinaryClient` for the binary protocol and `FixClient`, a
small FIX initiator built on the same compiled codec as the server.

Both are blocking socket clients for tools, tests and scripts (`oms client`, `oms demo`).
Binary events arrive as EVENT_DTYPE records (the engine's own layout), so the blotter and any
numpy code read them directly.

    from oms.client import BinaryClient
    with BinaryClient("127.0.0.1", 9879, "fund-a", "fund-a-pass") as c:
        c.new_order(cl_ord_id=1, symbol=0, side=Side.BUY, qty=100, price=px("190.00"),
                    account=1)
        print(c.wait_for(lambda ev: ev["cl_ord_id"] == 1))
"""

from __future__ import annotations

import select
import socket
import threading
import time
import uuid
from typing import Callable

import numpy as np

from oms import _binary
from oms._binary import decode_server_frames, encode_commands
from oms._fix import FixCodec, StrMap, checksum
from oms.gateway.binary import (HEADER, LOGIN, LOGIN_ACCEPTED, LOGIN_FULL_EVENTS, REJECT,
                               VERSION)
from oms.gateway.store import split_messages
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, CommandType, OrdType, TimeInForce


class ClientError(Exception):
    """Login refused, connection lost, or no answer in time."""


def _recv_into(sock: socket.socket, buf: bytearray, timeout: float) -> bool:
    """Append whatever arrives within `timeout` to `buf`; False if nothing did."""
    r, _, _ = select.select([sock], [], [], max(0.0, timeout))
    if not r:
        return False
    data = sock.recv(1 << 20)
    if not data:
        raise ClientError("connection closed by the server")
    buf += data
    return True


# ---------------------------------------------------------------------------------------------
# Binary
# ---------------------------------------------------------------------------------------------

class BinaryClient:
    """A binary-protocol session.  Rejects ('R' frames) are collected in `rejects` as dicts;
    a Logout from the server sets `logged_out` to its text.

    `full_events` asks at login for `F` execution frames instead of `E`: events then carry
    the order's `stop_price` and `trigger_px` (a trailing stop's current trigger); without it
    both read 0.  A server older than the `F` frame ignores the flag and sends `E`."""

    def __init__(self, host: str, port: int, user: str, password: str,
                 heartbeat_ms: int = 1000, timeout: float = 5.0, full_events: bool = False):
        self.host, self.port = host, port
        self.full_events = full_events
        self.user, self.password = user, password
        self.heartbeat_ms = heartbeat_ms
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.events = np.zeros(4096, dtype=EVENT_DTYPE)
        self.backlog = np.zeros(0, dtype=EVENT_DTYPE)    # read ahead of a wait_for() match
        self.rejects: list[dict] = []
        self.logged_out: str | None = None
        self.session_id = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._hb: threading.Thread | None = None

    def __enter__(self) -> "BinaryClient":
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> "BinaryClient":
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_raw(LOGIN.pack(LOGIN.size, ord("L"), VERSION, self.user.encode()[:16],
                                 self.password.encode()[:32], self.heartbeat_ms,
                                 LOGIN_FULL_EVENTS if self.full_events else 0, 0))
        deadline = time.monotonic() + self.timeout
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                raise ClientError("no answer to login")
            if frame[2] == ord("A"):
                _, _, _, self.session_id, _, _ = LOGIN_ACCEPTED.unpack(frame)
                break
            if frame[2] in (ord("J"), ord("R"), ord("Q")):
                raise ClientError(f"login refused: {self._reject(frame)['text']}")
        self._hb = threading.Thread(target=self._heartbeat, daemon=True, name="oms-client-hb")
        self._hb.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_ms / 2000):
            try:
                self.send_raw(HEADER.pack(HEADER.size, ord("H"), VERSION))
            except OSError:
                return

    def send_raw(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def close(self) -> None:
        self._stop.set()
        if self.sock is not None:
            try:
                self.send_raw(HEADER.pack(HEADER.size, ord("Q"), VERSION))
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    # -- COMMANDS --

    def send_commands(self, commands: np.ndarray, full: bool = False) -> None:
        """Send COMMAND_DTYPE records (one frame each, one write).  A NEW that sets a field
        the `O` frame lacks goes as an `N` frame, a REPLACE with a stop price as `V`
        (`full`: always `N` / `V`)."""
        self.send_raw(encode_commands(commands, full=full))

    def _one(self, kind: int, full: bool = False, **fields) -> None:
        rec = np.zeros(1, dtype=COMMAND_DTYPE)
        rec["kind"] = kind
        for name, value in fields.items():
            rec[name] = value
        self.send_commands(rec, full)

    def new_order(self, cl_ord_id: int, symbol: int, side: int, qty: int, price: int = 0,
                  ord_type: int = OrdType.LIMIT, tif: int = TimeInForce.DAY, account: int = 0,
                  idem_key: uuid.UUID | None = None, strategy: int = 0, time_ns: int = 0, *,
                  stop_price: int = 0, display_qty: int = 0, min_qty: int = 0,
                  expire_time_ns: int = 0, trail_amount: int = 0, trail_bps: int = 0,
                  exec_inst: int = 0, parent_order_id: int = 0, oco_order_id: int = 0,
                  full: bool = False) -> None:
        """Every order type: `stop_price` for STOP, STOP_LIMIT, MARKET_IF_TOUCHED and
        LIMIT_IF_TOUCHED; `trail_amount` (price units) or `trail_bps` for TRAILING_STOP;
        `display_qty` (iceberg), `min_qty`, `expire_time_ns` (GTD), `exec_inst`
        (ExecInst.POST_ONLY); `parent_order_id` (OTO, bracket legs) and `oco_order_id` link
        to earlier orders of this session by their engine order ids."""
        key = idem_key.int if idem_key is not None else 0
        self._one(CommandType.NEW, full, cl_ord_id=cl_ord_id, symbol_id=symbol, side=side,
                  qty=qty, price=price, ord_type=ord_type, tif=tif, account_id=account,
                  idem_hi=key >> 64, idem_lo=key & ((1 << 64) - 1), strategy_id=strategy,
                  time_ns=time_ns, stop_price=stop_price, display_qty=display_qty,
                  min_qty=min_qty, expire_time_ns=expire_time_ns, trail_amount=trail_amount,
                  trail_bps=trail_bps, exec_inst=exec_inst, parent_order_id=parent_order_id,
                  oco_order_id=oco_order_id)

    def cancel(self, cl_ord_id: int, orig_cl_ord_id: int = 0, order_id: int = 0,
               expected_version: int = 0, time_ns: int = 0) -> None:
        self._one(CommandType.CANCEL, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id,
                  order_id=order_id, expected_version=expected_version, time_ns=time_ns)

    def replace(self, cl_ord_id: int, price: int, qty: int, orig_cl_ord_id: int = 0,
                order_id: int = 0, expected_version: int = 0, time_ns: int = 0, *,
                stop_price: int = 0, full: bool = False) -> None:
        """`stop_price` (non-zero) moves the stop of a held stop-family order (a `V` frame)."""
        self._one(CommandType.REPLACE, full, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id,
                  order_id=order_id, price=price, qty=qty, expected_version=expected_version,
                  time_ns=time_ns, stop_price=stop_price)

    def mass_cancel(self, cl_ord_id: int = 0, scope: int = 0, account: int = 0, symbol: int = 0,
                    side: int = 0, time_ns: int = 0) -> None:
        self._one(CommandType.MASS_CANCEL, cl_ord_id=cl_ord_id, admin_op=scope,
                  account_id=account, symbol_id=symbol, side=side, time_ns=time_ns)

    def status(self, orig_cl_ord_id: int = 0, order_id: int = 0, time_ns: int = 0) -> None:
        self._one(CommandType.STATUS, orig_cl_ord_id=orig_cl_ord_id, order_id=order_id,
                  time_ns=time_ns)

    # -- EVENTS --

    def _next_frame(self, deadline: float) -> bytes | None:
        while True:
            if len(self.buf) >= 4:
                length = HEADER.unpack_from(self.buf)[0]
                if length < 4:
                    raise ClientError("bad frame from the server")
                if len(self.buf) >= length:
                    frame = bytes(self.buf[:length])
                    del self.buf[:length]
                    return frame
            if not _recv_into(self.sock, self.buf, deadline - time.monotonic()):
                return None

    @staticmethod
    def _reject(frame: bytes) -> dict:
        _, kind, _, reason, ref_type, _, cl, retry, _, text = REJECT.unpack(frame[:REJECT.size])
        return dict(kind=chr(kind), reason=reason, ref_type=chr(ref_type) if ref_type else "",
                    cl_ord_id=cl, retry_after_ms=retry, text=text.rstrip(b"\0").decode())

    def read(self, timeout: float = 0.0) -> np.ndarray:
        """What is buffered, or else the first events that arrive within `timeout`."""
        deadline = time.monotonic() + timeout
        out = [self.backlog] if len(self.backlog) else []
        self.backlog = self.backlog[:0]
        while True:
            status, n, pos = decode_server_frames(self.buf, 0, self.events)
            if n:
                out.append(self.events[:n].copy())
            if status == _binary.OTHER:
                length = HEADER.unpack_from(self.buf, pos)[0]
                frame = bytes(self.buf[pos:pos + length])
                del self.buf[:pos + length]
                if frame[2] in (ord("R"), ord("Q")):
                    info = self._reject(frame)
                    if frame[2] == ord("Q"):
                        self.logged_out = info["text"]
                    else:
                        self.rejects.append(info)
                continue
            if status == _binary.FATAL:
                raise ClientError("bad frame from the server")
            del self.buf[:pos]
            if status == _binary.BATCH_FULL:
                continue
            if out:
                break
            try:
                if not _recv_into(self.sock, self.buf, deadline - time.monotonic()):
                    break
            except ClientError:
                if out:
                    break
                raise
        return np.concatenate(out) if out else np.zeros(0, dtype=EVENT_DTYPE)

    def wait_for(self, predicate: Callable, timeout: float | None = None) -> np.ndarray:
        """Every event read until one satisfies `predicate` (that one included)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = []
        while time.monotonic() < deadline:
            events = self.read(min(0.05, max(0.0, deadline - time.monotonic())))
            for i, ev in enumerate(events):
                if predicate(ev):
                    got.append(events[:i + 1])
                    self.backlog = events[i + 1:]
                    return np.concatenate(got)
            if len(events):
                got.append(events)
        raise ClientError("timed out waiting for an event")


# ---------------------------------------------------------------------------------------------
# FIX
# ---------------------------------------------------------------------------------------------

class FixMessage(dict):
    """A received FIX message: tag -> value (str); `fields` keeps every (tag, value) in
    order, repeats included; `raw` is the bytes as received."""

    def __init__(self, raw: bytes):
        self.raw = raw
        self.fields = []
        for part in raw.split(b"\x01")[:-1]:
            tag, _, value = part.partition(b"=")
            self.fields.append((int(tag), value.decode(errors="replace")))
        super().__init__(self.fields)

    @property
    def msg_type(self) -> str:
        return self.get(35, "")

    @property
    def seq(self) -> int:
        return int(self.get(34, 0))


class FixClient:
    """A FIX initiator on our codec: logon, heartbeats answered, messages parsed into
    `FixMessage`s.  `send` can also craft what a misbehaving counterparty would send (a given
    sequence number, PossDup), which the end-to-end tests use."""

    def __init__(self, host: str, port: int, sender_comp_id: str, target_comp_id: str = "OMS",
                 begin_string: str = "FIX.4.4", heartbeat: int = 30, username: str | None = None,
                 password: str | None = None, timeout: float = 5.0):
        self.host, self.port = host, port
        self.codec = FixCodec(begin_string.encode(), sender_comp_id.encode(),
                              target_comp_id.encode(), 0, StrMap(), StrMap(), StrMap(),
                              capacity=1)
        self.begin_string = begin_string
        self.heartbeat = heartbeat
        self.username, self.password = username, password
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.received: list[FixMessage] = []
        self.answer_test_requests = True

    @property
    def next_seq(self) -> int:
        return self.codec.out_seq

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        self.codec.out_seq = value

    def __enter__(self) -> "FixClient":
        self.logon()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> "FixClient":
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    def logon(self, reset: bool = False, extra=()) -> FixMessage:
        """Connect if needed, send Logon, return the server's Logon (ClientError with the
        server's text if it answers with a Logout)."""
        if self.sock is None:
            self.connect()
        if reset:
            self.codec.out_seq = 1
        fields = [(98, 0), (108, self.heartbeat)]
        if reset:
            fields.append((141, "Y"))
        if self.username is not None:
            fields.append((553, self.username))
        if self.password is not None:
            fields.append((554, self.password))
        self.send("A", fields + list(extra))
        reply = self.expect(lambda m: m.msg_type in ("A", "5"))
        if reply.msg_type == "5":
            raise ClientError(f"logon refused: {reply.get(58, '')}")
        return reply

    def send(self, msg_type: str, fields, seq: int = 0, poss_dup: bool = False,
             orig_sending_time: bytes | None = None) -> bytes:
        """Encode and send one message; returns its bytes."""
        self.codec.encode(msg_type.encode(), fields, time.time_ns(), seq=seq, poss_dup=poss_dup,
                          orig_sending_time=orig_sending_time)
        raw = self.codec.take()
        self.sock.sendall(raw)
        return raw

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float = 0.0) -> list[FixMessage]:
        """What is buffered, or else the first messages that arrive within `timeout`.
        TestRequests are answered."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            consumed = 0
            for _, _, raw in split_messages(bytes(self.buf)):
                consumed = self.buf.find(raw, consumed) + len(raw)
                if checksum(raw[:-7]) != int(raw[-4:-1]):
                    raise ClientError(f"bad checksum from the server: {raw!r}")
                msg = FixMessage(raw)
                out.append(msg)
                if msg.msg_type == "1" and self.answer_test_requests:
                    self.send("0", [(112, msg.get(112, ""))])
            del self.buf[:consumed]
            if out:
                break
            try:
                if not _recv_into(self.sock, self.buf, deadline - time.monotonic()):
                    break
            except ClientError:
                if out or timeout == 0:
                    break
                raise
        self.received += out
        return out

    def expect(self, predicate: Callable[[FixMessage], bool],
               timeout: float | None = None) -> FixMessage:
        """The first message (read from now on, or already read and not yet taken) that
        satisfies `predicate`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self.received):
                if predicate(m):
                    del self.received[:i + 1]
                    return m
            if time.monotonic() >= deadline:
                raise ClientError("timed out waiting for a message; got: "
                                  + "; ".join(m.raw.decode(errors="replace").replace("\x01", "|")
                                              for m in self.received[-5:]))
            self.read(min(0.05, deadline - time.monotonic()))

    def wait_for(self, predicate: Callable[[FixMessage], bool],
                 timeout: float | None = None) -> list[FixMessage]:
        """Every message (already read and not yet taken, or read from now on) up to the
        first that satisfies `predicate`, that one included."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self.received):
                if predicate(m):
                    got = self.received[:i + 1]
                    del self.received[:i + 1]
                    return got
            if time.monotonic() >= deadline:
                raise ClientError("timed out waiting for a message; got: "
                                  + "; ".join(m.raw.decode(errors="replace").replace("\x01", "|")
                                              for m in self.received[-5:]))
            self.read(min(0.05, deadline - time.monotonic()))

    def logout(self, text: str | None = None) -> FixMessage | None:
        self.send("5", [(58, text)] if text else [])
        try:
            return self.expect(lambda m: m.msg_type == "5", timeout=3)
        except ClientError:
            return None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
