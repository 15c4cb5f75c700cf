"""The FIX acceptor: session layer (FIX 4.2 and 4.4) over the compiled codec.

`FixSession` is one configured session (a CompID pair): its codec, sequence numbers and
message store outlive connections.  `FixConnection` is one TCP connection: it is anonymous
until a valid Logon binds it to a session.

The compiled codec turns every in-sequence application message of a read into an engine
command and stops only at what needs a decision here: administrative messages, sequence
gaps, PossDup resends, malformed messages (session Reject), unsupported messages
(BusinessMessageReject), throttled orders.  The rules followed are those of the FIX session
specification (FIX 4.4 Volume 2, "Session Protocol"); docs/protocols.md lists the choices.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

from oms import _fix
from oms._fix import FixCodec, StrMap, format_timestamp, parse_timestamp
from oms.gateway.config import FixSessionConfig
from oms.gateway.connection import Connection
from oms.gateway.ratelimit import RateLimiter, retry_ms
from oms.gateway.store import SessionStore

if TYPE_CHECKING:
    from oms.gateway.gateway import Gateway

ADMIN_TYPES = frozenset([b"0", b"1", b"2", b"3", b"4", b"5", b"A"])
NO_ID = 0xFFFFFFFF
MAX_GARBAGE = 1 << 16           # bytes of non-FIX data tolerated on a logged-on session
LOGOUT_WAIT = 2.0               # seconds to wait for the counterparty's Logout


RESEND_HEADER = frozenset([b"8", b"9", b"35", b"34", b"49", b"52", b"56", b"43", b"122",
                           b"97", b"10"])


def resend_from_store(codec: FixCodec, store: SessionStore, begin: int, end: int,
                      now: int) -> None:
    """Answer a ResendRequest for begin..end (the acceptor's sessions and the venue
    initiator's alike): application messages from the store again with PossDupFlag=Y,
    OrigSendingTime and their own numbers; administrative messages and numbers not in the
    store as SequenceReset-GapFill.  Encoded into `codec`'s output (not to be stored again)."""
    gap_start = None
    expected = begin
    for seq, mtype, raw in store.sent(begin, end):
        if seq > expected and gap_start is None:
            gap_start = expected
        if mtype in ADMIN_TYPES:
            if gap_start is None:
                gap_start = seq
        else:
            if gap_start is not None:
                gap_fill(codec, gap_start, seq, now)
                gap_start = None
            resend_message(codec, seq, mtype, raw, now)
        expected = seq + 1
    if gap_start is None and expected <= end:
        gap_start = expected
    if gap_start is not None:
        gap_fill(codec, gap_start, end + 1, now)


def gap_fill(codec: FixCodec, seq: int, new_seq: int, now: int) -> None:
    codec.encode(b"4", [(123, "Y"), (36, new_seq)], now, seq=seq, poss_dup=True,
                 orig_sending_time=format_timestamp(now))


def message_body(raw: bytes) -> tuple[bytes | None, list[tuple[int, bytes]]]:
    """(SendingTime, body fields) of a stored message, without its header, trailer and
    resend flags."""
    orig, body = None, []
    for field in raw.split(b"\x01")[:-1]:
        tag, _, value = field.partition(b"=")
        if tag == b"52":
            orig = value
        elif tag not in RESEND_HEADER:
            body.append((int(tag), value))
    return orig, body


def resend_message(codec: FixCodec, seq: int, mtype: bytes, raw: bytes, now: int) -> None:
    orig, body = message_body(raw)
    codec.encode(mtype, body, now, seq=seq, poss_dup=True, orig_sending_time=orig)


class FixSession:
    """One configured FIX session; lives as long as the server, across connections."""

    def __init__(self, gw: "Gateway", cfg: FixSessionConfig):
        self.gw = gw
        self.cfg = cfg
        self.session_id = cfg.session_id
        self.store = SessionStore(gw.state_dir / "sessions" / f"fix-{cfg.sender_comp_id}")
        accounts = StrMap()
        for name in cfg.accounts:
            accounts.add(name.encode(), gw.account_ids[name])
        clordids = StrMap()
        clordids.load(self.store.load_clordids())
        self.store.clordids_saved = len(clordids)
        default = gw.account_ids[cfg.accounts[0]] if cfg.accounts else NO_ID
        self.codec = FixCodec(cfg.begin_string.encode(), gw.comp_id,
                              cfg.sender_comp_id.encode(), cfg.session_id, accounts,
                              gw.account_names, gw.symbols, clordids, default,
                              exec_id_prefix=gw.exec_id_prefix)
        self.codec.in_seq, self.codec.out_seq = self.store.load_seqnums()
        if cfg.drop_copy:
            self.codec.set_drop_copy_accounts(gw.account_ids[a] for a in cfg.accounts)
        if cfg.check_latency:
            self.codec.max_latency_ns = int(cfg.max_latency * 1e9)
        now = time.monotonic()
        self.limits = [gw.limiter.limit(f"comp:{cfg.sender_comp_id}", cfg.tier, now)]
        if cfg.user:
            self.limits.append(gw.limiter.limit(f"user:{cfg.user}", gw.config.user(cfg.user).tier, now))
        self.conn: FixConnection | None = None
        self.rejects = itertools.count(1)

    @property
    def name(self) -> str:
        return f"{self.cfg.sender_comp_id}->{self.gw.comp_id.decode()}"

    # -- OUTPUT --

    def flush(self) -> None:
        """Store and send everything the codec has encoded."""
        out = self.codec.take()
        if out:
            self.store.append(out)
            # on disk (page cache) before the bytes leave: after a SIGKILL the restarted
            # server neither reuses these MsgSeqNums nor lacks these messages for a resend
            self.store.save(self.codec.in_seq, self.codec.out_seq)
            if self.conn is not None and self.codec.logged_on:
                self.conn.write(out)

    def send(self, msg_type: bytes, fields, **kw) -> None:
        self.codec.encode(msg_type, fields, time.time_ns(), **kw)
        self.flush()

    def deliver(self, events, n: int, now_ns: int, tables) -> None:
        """Egress: this session's events of the batch as FIX messages."""
        if self.codec.encode_events(events, n, now_ns, tables, self.gw.attrs):
            self.flush()

    def persist(self) -> None:
        c = self.codec
        if len(c.clordids) > self.store.clordids_saved:
            self.store.save_clordids(c.clordids.export(self.store.clordids_saved), len(c.clordids))
        self.store.save(c.in_seq, c.out_seq)

    def reset(self) -> None:
        self.codec.take()
        self.codec.in_seq = self.codec.out_seq = 1
        self.store.reset()

    def close(self) -> None:
        self.persist()
        self.store.close()


class FixConnection(Connection):
    """One TCP connection of the FIX listener."""
    protocol = "fix"

    def __init__(self, gw: "Gateway"):
        super().__init__(gw)
        self.session: FixSession | None = None
        self.logout_sent_at = 0.0
        self.hb = 30.0
        self.test_request: str | None = None
        self.resend_requested_upto = 0       # inbound gap being filled: ResendRequest sent
        self.garbage = 0

    # -- asyncio.Protocol --

    def connection_lost(self, exc) -> None:
        self.gw.connections.discard(self)
        s = self.session
        if s is not None:
            s.codec.logged_on = False
            s.conn = None
            if s.cfg.reset_on_disconnect:
                s.reset()
            s.persist()
            self.session = None
            self.log.info("disconnect", protocol="fix", session=s.session_id, peer=self.peer)
        else:
            self.log.info("disconnect", protocol="fix", peer=self.peer)

    # -- INPUT --

    def process(self) -> None:
        pos = 0
        now = time.time_ns()
        try:
            while not self.closing and not self.auth_pending:
                codec = self.session.codec if self.session else self.gw.fix_prelogon
                status = self.gw.ingest(codec, self.session, self.buf, pos, now)
                if status == _fix.GARBLED:
                    new, wait = self.skip_garbage(pos)
                    if new < 0:
                        return
                    pos = new
                    if wait:
                        break
                    continue
                pos = codec.pos
                if status == _fix.NEED_MORE:
                    break
                if status != _fix.BATCH_FULL:
                    self.handle(status, codec, now)
        finally:
            if pos > 0:
                del self.buf[:pos]
            if self.session is not None:
                self.session.flush()
                self.session.persist()

    def skip_garbage(self, pos: int) -> tuple[int, bool]:
        """Bytes at `pos` are not a FIX message.  Before logon that ends the connection;
        after, skip to the next BeginString (the counterparty's resend recovers any message
        lost with them), up to MAX_GARBAGE bytes in all.  Returns (new position, whether to
        wait for more data); position -1 when the connection is closing."""
        nxt = self.buf.find(b"8=FIX", pos + 1)
        end = nxt if nxt >= 0 else max(pos, len(self.buf) - 4)
        self.garbage += end - pos
        if self.session is None or self.garbage > MAX_GARBAGE:
            self.log.warning("garbled_input", protocol="fix", peer=self.peer,
                             session=self.session.session_id if self.session else "",
                             bytes=self.garbage)
            if self.session is not None:
                self.logout("framing lost: too much data that is not FIX")
            self.close()
            return -1, True
        return end, nxt < 0

    def handle(self, status: int, codec: FixCodec, now: int) -> None:
        s = self.session
        if s is None:
            if status == _fix.SESSION and codec.msg_type == b"A":
                self.on_logon(codec, now)
            else:
                self.log.warning("logon_failed", peer=self.peer,
                                 reason="first message is not a valid Logon",
                                 msg_type=codec.msg_type.decode("ascii", "replace"),
                                 detail=codec.text if status == _fix.REJECT else "")
                self.close()
            return
        if status == _fix.SESSION:
            self.on_session_message(now)
        elif status == _fix.REJECT:
            self.on_malformed()
        elif status == _fix.BUSINESS_REJECT:
            if self.check_sequence():
                cl = codec.get(11)
                fields = [(45, codec.msg_seq), (372, codec.msg_type), (380, codec.bmr_reason),
                          (58, codec.text)]
                if cl:
                    fields.insert(2, (379, cl))
                codec.in_seq += 1
                s.send(b"j", fields)
        elif status == _fix.THROTTLED:
            codec.in_seq += 1
            self.on_throttled(codec)

    def check_sequence(self) -> bool:
        """For a message the codec stopped at: True if it is the expected one; otherwise
        the gap or the too-low number is dealt with here and it is not processed."""
        c = self.session.codec
        seq, expected = c.msg_seq, c.in_seq
        if seq == expected:
            return True
        if seq > expected:
            self.request_resend(expected, seq)
            return False
        if c.poss_dup:
            return False                # already processed: a duplicate, ignored
        self.logout(f"MsgSeqNum too low, expecting {expected} but received {seq}")
        self.close_after_logout()
        return False

    def request_resend(self, expected: int, seq: int) -> None:
        if self.resend_requested_upto >= expected:
            return                      # one ResendRequest per gap
        self.resend_requested_upto = seq
        self.log.info("sequence_gap", session=self.session.session_id, expected=expected,
                      received=seq)
        self.session.send(b"2", [(7, expected), (16, 0)])

    def on_malformed(self) -> None:
        s = self.session
        c = s.codec
        if c.msg_seq == 0:
            self.logout(c.text)         # no usable MsgSeqNum: the spec's answer is Logout
            self.close_after_logout()
            return
        if not self.check_sequence():
            return
        c.in_seq += 1
        self.session_reject(c.reject_reason, c.ref_tag, c.text)
        if c.reject_reason in (9, 10):  # CompID or SendingTime problem: Reject, then Logout
            self.logout(c.text)
            self.close_after_logout()

    def session_reject(self, reason: int, ref_tag: int, text: str) -> None:
        c = self.session.codec
        fields = [(45, c.msg_seq)]
        if ref_tag:
            fields.append((371, ref_tag))
        if c.msg_type:
            fields.append((372, c.msg_type))
        fields += [(373, reason), (58, text)]
        self.log.info("session_reject", session=self.session.session_id, seq=c.msg_seq,
                      reason=reason, ref_tag=ref_tag, text=text)
        self.session.send(b"3", fields)

    def on_throttled(self, c: FixCodec) -> None:
        s = self.session
        now = time.monotonic()
        wait = retry_ms(RateLimiter.retry_after(s.limits, now))
        text = f"THROTTLED: order rate limit exceeded; retry after {wait} ms"
        exec_id = s.gw.exec_id_prefix + b"T%d" % next(s.rejects)
        if c.msg_type == b"D":
            fields = [(37, "NONE"), (11, c.get(11)), (17, exec_id)]
            if c.version == 42:
                fields.append((20, 0))
            fields += [(150, 8), (39, 8), (55, c.get(55) or b""), (54, c.get(54) or b"1"),
                       (38, c.get(38) or 0), (151, 0), (14, 0), (6, 0),
                       (60, format_timestamp(time.time_ns())), (103, 99), (58, text)]
            s.send(b"8", fields)
        else:
            s.send(b"9", [(37, c.get(37) or "NONE"), (11, c.get(11)), (41, c.get(41) or b""),
                          (39, 8), (434, 2), (102, 99), (58, text)])
        for key in RateLimiter.violation(s.limits, now):
            self.log.warning("rate_abuse", session=s.session_id, key=key,
                             penalty_seconds=s.limits[0].tier.penalty_seconds)

    # -- LOGON --

    def on_logon(self, pre: FixCodec, now: int) -> None:
        their, ours = pre.get(49) or b"", pre.get(56) or b""
        raw = pre.cur
        begin = raw[2:raw.index(b"\x01")]
        s = self.gw.fix_by_comp.get(their)
        if s is None or ours != self.gw.comp_id:
            return self.logon_failed("unknown SenderCompID/TargetCompID pair", their, ours, begin)
        if begin != s.cfg.begin_string.encode():
            return self.logon_failed(f"BeginString must be {s.cfg.begin_string}", their, ours, begin)
        if s.conn is not None:
            return self.logon_failed("session is already logged on", their, ours, begin)
        if pre.get(98) != b"0":
            return self.logon_failed("EncryptMethod(98) must be 0", their, ours, begin)
        hb = pre.get(108)
        if hb is None or not hb.isdigit() or not 1 <= int(hb) <= 3600:
            return self.logon_failed("HeartBtInt(108) must be 1..3600 seconds", their, ours, begin)
        info = dict(raw=raw, hb=int(hb), reset=pre.get(141) == b"Y", seq=pre.msg_seq)
        if s.cfg.user:
            user, password = pre.get(553), pre.get(554)
            if user is None or password is None or user.decode(errors="replace") != s.cfg.user:
                return self.logon_failed("invalid username or password", their, ours, begin)
            self.auth_pending = True
            stored = self.gw.config.user(s.cfg.user).password_hash
            fut = self.gw.verify(password.decode(errors="replace"), stored)
            fut.add_done_callback(lambda f: self.logon_verified(s, info, f.result(), True))
        else:
            self.logon_verified(s, info, True, False)

    def logon_verified(self, s: FixSession, info: dict, ok: bool, resume: bool) -> None:
        self.auth_pending = False
        if self.closing:
            return
        their, ours = s.cfg.sender_comp_id.encode(), self.gw.comp_id
        if not ok:
            self.logon_failed("invalid username or password", their, ours,
                              s.cfg.begin_string.encode())
            return
        if s.conn is not None:
            self.logon_failed("session is already logged on", their, ours,
                              s.cfg.begin_string.encode())
            return
        c = s.codec
        now = time.time_ns()
        c.decode(info["raw"], 0, now)       # the Logon again, in the session's own codec
        if c.check_header(now) != 0:
            self.logon_failed(c.text, their, ours, s.cfg.begin_string.encode())
            return
        if info["reset"] and info["seq"] != 1:
            self.logon_failed("ResetSeqNumFlag(141)=Y needs MsgSeqNum 1", their, ours,
                              s.cfg.begin_string.encode())
            return
        if s.cfg.reset_on_logon or info["reset"]:
            s.reset()
        if info["seq"] < c.in_seq:
            self.logon_failed(f"MsgSeqNum too low, expecting {c.in_seq} but received "
                              f"{info['seq']}", their, ours, s.cfg.begin_string.encode())
            return
        self.session = s
        s.conn = self
        self.hb = float(info["hb"])
        c.logged_on = True
        fields = [(98, 0), (108, info["hb"])]
        if info["reset"]:
            fields.append((141, "Y"))
        s.send(b"A", fields)
        self.log.info("logon", protocol="fix", session=s.session_id, comp_id=s.cfg.sender_comp_id,
                      peer=self.peer, in_seq=info["seq"], out_seq=c.out_seq - 1,
                      heartbeat=info["hb"], reset=info["reset"])
        if info["seq"] > c.in_seq:
            self.request_resend(c.in_seq, info["seq"])
        else:
            c.in_seq = info["seq"] + 1
        s.persist()
        if resume and self.buf:
            self.process()

    def logon_failed(self, reason: str, their: bytes, ours: bytes, begin: bytes) -> None:
        """Logout with the reason (the counterparty's engine logs it), then disconnect."""
        self.gw.logon_failures += 1
        self.log.warning("logon_failed", protocol="fix", peer=self.peer,
                         comp_id=their.decode(errors="replace"), reason=reason)
        if begin in (b"FIX.4.2", b"FIX.4.4") and their:
            tmp = FixCodec(begin, ours or self.gw.comp_id, their, 0, StrMap(), StrMap(),
                           StrMap(), capacity=1)
            tmp.encode(b"5", [(58, reason)], time.time_ns())
            self.write(tmp.take())
        self.close()

    # -- SESSION MESSAGES --

    def on_session_message(self, now: int) -> None:
        s = self.session
        c = s.codec
        mt = c.msg_type
        if c.check_header(now) != 0:
            if c.msg_seq >= c.in_seq:
                c.in_seq = max(c.in_seq, c.msg_seq + 1)
                self.session_reject(c.reject_reason, c.ref_tag, c.text)
                self.logout(c.text)
                self.close_after_logout()
            return
        if mt == b"4":
            return self.on_sequence_reset()
        if not self.check_sequence():
            if mt == b"2" and c.msg_seq > c.in_seq:
                self.on_resend_request()    # answered even when it arrives in a gap
            return
        if c.poss_dup:
            orig = c.get(122)
            if orig is None:
                c.in_seq += 1
                return self.session_reject(1, 122, "OrigSendingTime(122) is required with "
                                                   "PossDupFlag(43)=Y")
            t_orig, t_sent = parse_timestamp(orig), parse_timestamp(c.get(52))
            if t_orig is None or t_sent is None or t_orig > t_sent:
                c.in_seq += 1
                self.session_reject(10, 122, "OrigSendingTime(122) is later than SendingTime(52)")
                self.logout("OrigSendingTime(122) is later than SendingTime(52)")
                self.close_after_logout()
                return
            if mt not in ADMIN_TYPES:       # a vetted resend: the codec processes it
                c.accept_poss_dup = True
                try:
                    status = c.decode(c.cur, 0, now)
                    if c.n_commands:
                        self.gw.submit(c.commands, c.n_commands)
                    if status not in (_fix.NEED_MORE, _fix.BATCH_FULL) and status != -1:
                        self.handle(status, c, now)
                finally:
                    c.accept_poss_dup = False
                return
        c.in_seq += 1
        if c.msg_seq >= self.resend_requested_upto:
            self.resend_requested_upto = 0
        if mt == b"0":
            if self.test_request is not None and c.get(112) == self.test_request.encode():
                self.test_request = None
        elif mt == b"1":
            s.send(b"0", [(112, c.get(112) or b"")])
        elif mt == b"2":
            self.on_resend_request()
        elif mt == b"3":
            self.log.info("reject_received", session=s.session_id, ref_seq=c.get(45) or b"",
                          reason=c.get(373) or b"", text=c.get(58) or b"")
        elif mt == b"5":
            self.on_logout(c.get(58))
        elif mt == b"A":
            self.logout("Logon received on a logged-on session")
            self.close_after_logout()

    def on_sequence_reset(self) -> None:
        c = self.session.codec
        gap_fill = c.get(123) == b"Y"
        raw = c.get(36)
        if raw is None or not raw.isdigit():
            if self.check_sequence():
                c.in_seq += 1
                self.session_reject(1, 36, "NewSeqNo(36) missing or not a number")
            return
        new = int(raw)
        if gap_fill and not self.check_sequence():
            return
        if new < c.in_seq:
            if gap_fill:
                c.in_seq += 1
            self.session_reject(5, 36, f"NewSeqNo {new} would lower the expected sequence "
                                       f"number {c.in_seq}")
            return
        self.log.info("sequence_reset", session=self.session.session_id, gap_fill=gap_fill,
                      from_seq=c.in_seq, to_seq=new)
        c.in_seq = new
        if new > self.resend_requested_upto:
            self.resend_requested_upto = 0

    def on_resend_request(self) -> None:
        s = self.session
        c = s.codec
        b, e = c.get(7), c.get(16)
        if b is None or e is None or not b.isdigit() or not e.isdigit():
            return self.session_reject(1, 7, "BeginSeqNo(7) and EndSeqNo(16) are required")
        begin, end = int(b), int(e)
        last = c.out_seq - 1
        if end == 0 or end > last:
            end = last
        if begin < 1 or begin > end:
            return
        s.flush()
        self.log.info("resend", session=s.session_id, begin=begin, end=end)
        resend_from_store(c, s.store, begin, end, time.time_ns())
        out = c.take()                    # resends are not stored again
        if out:
            self.write(out)

    # -- LOGOUT AND TIMERS --

    def logout(self, text: str | None = None) -> None:
        if self.session is None or self.logout_sent_at:
            return
        self.logout_sent_at = time.monotonic()
        self.session.send(b"5", [(58, text)] if text else [])
        self.log.info("logout_sent", session=self.session.session_id, text=text or "")

    def on_logout(self, text) -> None:
        s = self.session
        self.log.info("logout_received", session=s.session_id,
                      text=text.decode(errors="replace") if text else "")
        if not self.logout_sent_at:
            s.send(b"5", [])
        if s.cfg.reset_on_logout:
            s.reset()
        self.close()

    def close_after_logout(self) -> None:
        self.close()

    def on_timer(self, now: float) -> None:
        if self.closing:
            return
        s = self.session
        if s is None:
            if not self.auth_pending and now - self.opened > self.gw.settings.logon_timeout:
                self.log.warning("logon_timeout", protocol="fix", peer=self.peer)
                self.close()
            return
        if self.logout_sent_at:
            if now - self.logout_sent_at > LOGOUT_WAIT:
                self.close()
            return
        if now - self.last_sent >= self.hb:
            s.send(b"0", [])
        silent = now - self.last_recv
        if self.test_request is None and silent >= self.hb * 1.2:
            self.test_request = f"TEST-{int(time.time() * 1000)}"
            s.send(b"1", [(112, self.test_request)])
        elif self.test_request is not None and silent >= self.hb * 2.4:
            self.log.warning("heartbeat_timeout", session=s.session_id, silent=round(silent, 3))
            self.logout("no answer to TestRequest")
            self.close()

    # -- TRANSPORT --

    def on_slow_consumer(self) -> None:
        # the messages are in the store: the client recovers them with a ResendRequest after
        # it logs on again
        if self.session is not None:
            self.session.codec.logged_on = False
