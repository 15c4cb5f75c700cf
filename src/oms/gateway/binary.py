"""The binary gateway: login, heartbeats and order entry over the fixed-layout frames of
docs/protocols.md, decoded and encoded by the compiled codec (oms._binary).

A binary session is bound to one user; events reach it only while it is connected (a client
that reconnects asks for an order's status).  Malformed frames are answered with a reject
frame; a frame whose length cannot be trusted ends the connection, since framing is lost.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

from oms import _binary
from oms._binary import BinaryCodec
from oms.gateway.config import BinarySessionConfig
from oms.gateway.connection import Connection
from oms.gateway.ratelimit import RateLimiter, retry_ms

if TYPE_CHECKING:
    from oms.gateway.gateway import Gateway

VERSION = 1
HEADER = struct.Struct("<HBB")
LOGIN = struct.Struct("<HBB16s32sIIQ")              # 'L'
LOGIN_ACCEPTED = struct.Struct("<HBBIIQ")           # 'A': session id, heartbeat ms
REJECT = struct.Struct("<HBBHBBQII64s")             # 'R' reject, 'J' login rejected, 'Q' logout
DEFAULT_HEARTBEAT_MS = 1000
LOGIN_FULL_EVENTS = _binary.LOGIN_FULL_EVENTS   # 'L' flags bit: 'F' execution frames, not 'E'


def reject_frame(kind: bytes, reason: int, text: str, ref_type: int = 0, cl_ord_id: int = 0,
                 retry_after_ms: int = 0) -> bytes:
    return REJECT.pack(REJECT.size, kind[0], VERSION, reason, ref_type, 0, cl_ord_id,
                       retry_after_ms, 0, text.encode()[:64])


class BinarySession:
    """One configured binary session (a user's), across connections."""

    def __init__(self, gw: "Gateway", cfg: BinarySessionConfig):
        self.gw = gw
        self.cfg = cfg
        self.session_id = cfg.session_id
        ids = [gw.account_ids[a] for a in cfg.accounts]
        self.codec = BinaryCodec(cfg.session_id, ids)
        self.codec.allow_client_time = cfg.allow_client_time
        self.codec.read_only = cfg.drop_copy
        user = gw.config.user(cfg.user)
        self.limits = [gw.limiter.limit(f"user:{cfg.user}", cfg.tier or user.tier,
                                        time.monotonic())]
        self.conn: BinaryConnection | None = None

    def deliver(self, events, n: int, now_ns: int, tables) -> None:
        if self.conn is not None and self.codec.encode_events(events, n):
            self.conn.write(self.codec.take())

    def persist(self) -> None:
        pass

    def close(self) -> None:
        pass


class BinaryConnection(Connection):
    protocol = "binary"

    def __init__(self, gw: "Gateway"):
        super().__init__(gw)
        self.session: BinarySession | None = None
        self.failures = 0
        self.hb = DEFAULT_HEARTBEAT_MS / 1000

    def connection_lost(self, exc) -> None:
        self.gw.connections.discard(self)
        s = self.session
        if s is not None:
            s.conn = None
            s.codec.logged_on = False
            self.session = None
        self.log.info("disconnect", protocol="binary", peer=self.peer,
                      session=s.session_id if s else "")

    def process(self) -> None:
        pos = 0
        now = time.time_ns()
        try:
            while not self.closing and not self.auth_pending:
                s = self.session
                codec = s.codec if s is not None else self.gw.binary_prelogin
                status = self.gw.ingest(codec, s, self.buf, pos, now)
                pos = codec.pos
                if status == _binary.NEED_MORE:
                    break
                if status == _binary.BATCH_FULL:
                    continue
                if status == _binary.SESSION:
                    self.on_session_frame(codec.msg_type, codec.cur)
                elif status == _binary.REJECT:
                    self.reject(codec.reject_reason, codec.text, codec.msg_type,
                                codec.ref_cl_ord_id)
                    if s is None:
                        self.failed_attempt("frame before login was malformed")
                elif status == _binary.FATAL:
                    self.log.warning("garbled_input", protocol="binary", peer=self.peer,
                                     session=s.session_id if s else "", text=codec.text)
                    self.reject(codec.reject_reason, codec.text, codec.msg_type)
                    self.close()
                elif status == _binary.THROTTLED:
                    self.on_throttled(codec)
        finally:
            if pos > 0:
                del self.buf[:pos]

    def on_session_frame(self, msg_type: int, frame: bytes) -> None:
        if msg_type == ord("H"):
            return
        if msg_type == ord("Q"):
            self.write(reject_frame(b"Q", 0, "logout acknowledged"))
            self.log.info("logout_received", protocol="binary",
                          session=self.session.session_id if self.session else "")
            self.close()
            return
        if msg_type == ord("L"):
            if self.session is not None:
                self.reject(_binary.R_ALREADY_LOGGED_IN, "already logged in", msg_type)
                return
            _, _, _, user, password, hb_ms, flags, _ = LOGIN.unpack(frame)
            name = user.rstrip(b"\0").decode(errors="replace")
            s = self.gw.binary_by_user.get(name)
            if s is None:
                # same cost and answer as a wrong password: no probing for user names
                stored = self.gw.dummy_hash
            else:
                stored = self.gw.config.user(name).password_hash
            self.auth_pending = True
            fut = self.gw.verify(password.rstrip(b"\0").decode(errors="replace"), stored)
            fut.add_done_callback(
                lambda f: self.login_verified(s if f.result() else None, name, hb_ms, flags))
            return
        self.reject(_binary.R_NOT_LOGGED_IN, "log in first", msg_type)
        self.failed_attempt("message before login")

    def login_verified(self, s: BinarySession | None, name: str, hb_ms: int,
                       flags: int = 0) -> None:
        self.auth_pending = False
        if self.closing:
            return
        if s is None:
            self.write(reject_frame(b"J", _binary.R_LOGIN_FAILED, "invalid user or password"))
            self.failed_attempt("invalid user or password", user=name)
        elif s.conn is not None:
            self.write(reject_frame(b"J", _binary.R_ALREADY_LOGGED_IN,
                                    "session is already logged in"))
            self.failed_attempt("session is already logged in", user=name)
        else:
            self.session = s
            s.conn = self
            s.codec.logged_on = True
            # flags other than the known bits are ignored, as before they existed
            s.codec.full_events = bool(flags & LOGIN_FULL_EVENTS)
            self.hb = (hb_ms or DEFAULT_HEARTBEAT_MS) / 1000
            self.write(LOGIN_ACCEPTED.pack(LOGIN_ACCEPTED.size, ord("A"), VERSION,
                                           s.session_id, int(self.hb * 1000), 0))
            self.log.info("logon", protocol="binary", session=s.session_id, user=name,
                          peer=self.peer)
        if self.buf and not self.closing:
            self.process()

    def failed_attempt(self, reason: str, user: str = "") -> None:
        self.failures += 1
        self.gw.logon_failures += 1
        self.log.warning("logon_failed", protocol="binary", peer=self.peer, user=user,
                         reason=reason, attempt=self.failures)
        if self.failures >= self.gw.settings.max_logon_failures:
            self.close()

    def on_throttled(self, codec: BinaryCodec) -> None:
        s = self.session
        now = time.monotonic()
        wait = retry_ms(RateLimiter.retry_after(s.limits, now))
        self.reject(_binary.R_THROTTLED, f"THROTTLED: order rate limit exceeded; retry after "
                                         f"{wait} ms", codec.msg_type, codec.ref_cl_ord_id, wait)
        for key in RateLimiter.violation(s.limits, now):
            self.log.warning("rate_abuse", session=s.session_id, key=key,
                             penalty_seconds=s.limits[0].tier.penalty_seconds)

    def reject(self, reason: int, text: str, ref_type: int = 0, cl_ord_id: int = 0,
               retry_after_ms: int = 0) -> None:
        self.write(reject_frame(b"R", reason, text, ref_type, cl_ord_id, retry_after_ms))

    def logout(self, text: str) -> None:
        self.write(reject_frame(b"Q", 0, text))

    def on_timer(self, now: float) -> None:
        if self.closing:
            return
        if self.session is None:
            if not self.auth_pending and now - self.opened > self.gw.settings.logon_timeout:
                self.log.warning("logon_timeout", protocol="binary", peer=self.peer)
                self.close()
            return
        if now - self.last_sent >= self.hb:
            self.write(HEADER.pack(HEADER.size, ord("H"), VERSION))
        if now - self.last_recv >= 3 * self.hb:
            self.log.warning("heartbeat_timeout", protocol="binary",
                             session=self.session.session_id)
            self.logout("no heartbeat from the client")
            self.close()
