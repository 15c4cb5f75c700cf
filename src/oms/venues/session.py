"""The FIX 4.4 initiator towards external venues: session layer over the compiled codec
(oms._venue_fix.VenueCodec), on the gateway's I/O thread.

`VenueSession` is one configured venue: codec, sequence numbers and message store
(`<state_dir>/sessions/venue-<name>/`, the acceptor's SessionStore) outlive connections; it
connects out, logs on, reconnects with backoff, tells the engine the venue's state with
VENUE_EXEC SESSION commands (UP on logon with the sequence base, DOWN on disconnect, DEGRADED
while unhealthy), tracks every request until it is answered (a TIMEOUT command after
`response_timeout`), and reconciles after each logon (OrderStatusRequest for every order the
engine has in flight at the venue; a NewOrderSingle the venue never received is sent again
with the same ClOrdID, a cancel still pending is sent again).

`VenueConnection` is one TCP connection.  It is the acceptor's FixConnection with the roles
turned: the sequence checks, ResendRequest and SequenceReset handling, heartbeats and
TestRequests, Logout and the garbage policy are the same code; the Logon goes the other way
and the application messages are the venue's reports.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from oms import _fix
from oms._venue_fix import (VENUE_OTHER, VENUE_STATUS, VenueCodec,
                            parse_venue_cl_ord_id_text, venue_cl_ord_id_text)
from oms.codes import RejectCode, from_venue_reason
from oms.gateway.config import VenueSessionConfig
from oms.gateway.fix import ADMIN_TYPES, FixConnection, message_body
from oms.gateway.store import SessionStore
from oms.layout import (COMMAND_DTYPE, CommandType, EventType, OrdStatus, VenueExec,
                        VenueOrderState, VenueRequest, VenueState)
from oms.venues.health import VenueHealth

if TYPE_CHECKING:
    from oms.gateway.gateway import Gateway

TERMINAL = [OrdStatus.FILLED, OrdStatus.CANCELLED, OrdStatus.REJECTED, OrdStatus.EXPIRED]
IN_FLIGHT = [VenueOrderState.NEW_SENT, VenueOrderState.CANCEL_SENT,
             VenueOrderState.REPLACE_SENT]
# ExecTypes (and '9', a cancel reject) that end each kind of request
FINAL = {VenueRequest.NEW_ORDER: frozenset(b"08F12C4"),
         VenueRequest.CANCEL: frozenset(b"49"),
         VenueRequest.REPLACE: frozenset(b"549")}
DONE_STATUSES = frozenset(b"248C")         # OrdStatus: the order is over at the venue
SENT_MEMORY = 1 << 20                       # request ClOrdIDs -> MsgSeqNum remembered
REQUEST_TYPES = {b"D": VenueRequest.NEW_ORDER, b"F": VenueRequest.CANCEL,
                 b"G": VenueRequest.REPLACE}


@dataclass
class Request:
    kind: int                               # VenueRequest
    sent: float                             # monotonic time it was (last) sent
    seq: int                                # its MsgSeqNum
    answered: bool = False                  # a first answer came (latency recorded)
    alerted: bool = False                   # a TIMEOUT was submitted


def venue_command(venue_id: int, op: int, cl_ord_id: int = 0, reason: int = 0,
                  venue_seq: int = 0, flags: int = 0) -> np.ndarray:
    c = np.zeros(1, dtype=COMMAND_DTYPE)
    c["kind"] = CommandType.VENUE_EXEC
    c["time_ns"] = time.time_ns()
    c["venue_id"] = venue_id
    c["admin_op"] = op
    c["cl_ord_id"] = cl_ord_id
    c["reason"] = reason
    c["venue_seq"] = venue_seq
    c["flags"] = flags
    return c


def _sod(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


def session_window(cfg: VenueSessionConfig, now: float) -> tuple[bool, int]:
    """(inside the session window now, start of the current or last window in epoch
    seconds).  No window configured: always inside, start 0."""
    if cfg.start_time is None:
        return True, 0
    start, end = _sod(cfg.start_time), _sod(cfg.end_time)
    t = int(now)
    day = t - t % 86400
    sod = t % 86400
    if start == end:                        # around the clock, a new session each day
        return True, day + start if sod >= start else day - 86400 + start
    if start < end:
        inside = start <= sod < end
        begin = day + start if sod >= start else day - 86400 + start
    else:                                   # overnight, e.g. 22:00 -> 06:00
        inside = sod >= start or sod < end
        begin = day + start if sod >= start else day - 86400 + start
    return inside, begin


class VenueSession:
    """One configured venue; lives as long as the server, across connections."""

    def __init__(self, gw: "Gateway", cfg: VenueSessionConfig, venue_id: int):
        self.gw = gw
        self.cfg = cfg
        self.venue_id = venue_id
        self.name = cfg.name
        self.session_id = f"venue:{cfg.name}"          # in logs
        self.log = gw.log
        self.dir = gw.state_dir / "sessions" / f"venue-{cfg.name}"
        self.store = SessionStore(self.dir)
        sender = (cfg.sender_comp_id or gw.settings.comp_id).encode()
        self.codec = VenueCodec(sender, cfg.target_comp_id.encode(), venue_id, gw.symbols,
                                from_venue_reason, lambda r: from_venue_reason(r, True),
                                account=cfg.account.encode())
        self.codec.in_seq, self.codec.out_seq = self.store.load_seqnums()
        if gw.config.engine.journal_dir is not None and not gw.engine.running:
            self._resume_after_journal(gw.engine.core.venues().get(venue_id))
        if cfg.check_latency:
            self.codec.max_latency_ns = int(cfg.max_latency * 1e9)
        trades = self.dir / "trades"
        self.codec.load_trades(trades.read_bytes() if trades.exists() else b"")
        self.trades_saved = len(self.codec.trades)
        self._trades = open(trades, "ab")
        self.symbol_names = {s.symbol_id: s.name for s in gw.config.engine.symbols}
        self.health = VenueHealth(cfg.health)
        self.conn: VenueConnection | None = None
        self.state = "DOWN"              # DOWN, CONNECTING, LOGON_SENT, UP
        self.engine_state = VenueState.DOWN      # what the engine was last told
        self.problems: list[str] = []
        self.since = time.time()
        self.outstanding: dict[int, Request] = {}
        self.by_order: dict[int, set[int]] = {}
        self.sent_seq: dict[int, int] = {}       # request ClOrdID -> MsgSeqNum
        self.seq_cl: dict[int, int] = {}         # MsgSeqNum -> request ClOrdID
        self.status_queries: dict[int, tuple[int, int, int]] = {}
        self.needs_reconcile = False
        self.logged_on_at = 0.0
        self.stopping = False
        self.task: asyncio.Task | None = None
        self.closed: asyncio.Event | None = None
        self.last_probe = 0.0
        self.probe: tuple[str, float] | None = None
        self.probes = 0
        self.counters = dict(connects=0, logons=0, disconnects=0, resent_orders=0,
                             resent_cancels=0, session_rejects=0)

    def _resume_after_journal(self, row: dict | None) -> None:
        """The inbound number to resume at is the journal's, not the store's: the store
        counts a venue message as soon as its command is on the input ring, the journal
        once the business thread has written it.  A server killed between the two would
        otherwise never ask for that message again (a fill lost for good).  The engine's
        `last_seq` is the last venue message it applied (SESSION commands set it too), so
        resuming just after it asks the venue to resend everything the journal lacks; what
        was only administrative comes back as a gap fill."""
        if row is None or self.codec.in_seq <= 1:
            return
        journal_next = int(row["last_seq"]) + 1
        if journal_next < self.codec.in_seq:
            self.log.warning("venue_resume_from_journal", venue=self.name,
                             store_in_seq=self.codec.in_seq, journal_in_seq=journal_next)
            self.codec.in_seq = journal_next

    # -- OUTPUT (the interface FixConnection expects of a session) --

    def flush(self) -> None:
        out = self.codec.take()
        if out:
            self.store.append(out)
            # on disk (page cache) before the bytes leave: a server killed after sending a
            # request must neither use its MsgSeqNum again nor miss it in the store when the
            # reconciliation resends it
            self.store.save(self.codec.in_seq, self.codec.out_seq)
            if self.conn is not None and self.codec.logged_on:
                self.conn.write(out)

    def send(self, msg_type: bytes, fields, **kw) -> None:
        self.codec.encode(msg_type, fields, time.time_ns(), **kw)
        self.flush()

    def persist(self) -> None:
        c = self.codec
        n = len(c.trades)
        if n > self.trades_saved:
            self._trades.write(c.export_trades(self.trades_saved))
            self._trades.flush()
            self.trades_saved = n
        self.store.save(c.in_seq, c.out_seq)

    def reset(self) -> None:
        self.codec.take()
        self.codec.in_seq = self.codec.out_seq = 1
        self.store.reset()
        self.sent_seq.clear()
        self.seq_cl.clear()

    def close(self) -> None:
        self.persist()
        self.store.close()
        self._trades.close()

    def submit(self, cmd: np.ndarray) -> None:
        self.gw.submit(cmd, len(cmd))

    # -- EGRESS: the engine's requests to this venue --

    def deliver(self, events, k: int, now_ns: int) -> None:
        c = self.codec
        first = c.out_seq
        n = c.encode_requests(events, k, now_ns, self.gw.attrs)
        if not n:
            return
        ev = events[:k]
        mask = ((ev["kind"] == EventType.VENUE_REQUEST) & (ev["venue_id"] == self.venue_id)
                & np.isin(ev["exec_type"], [1, 2, 3]))
        req = ev[mask]
        mono = time.monotonic()
        for i, (cl, kind) in enumerate(zip(req["venue_cl_ord_id"].tolist(),
                                           req["exec_type"].tolist())):
            self._track(cl, kind, first + i, mono)
        self.health.sent(n)
        self.flush()

    def _track(self, cl: int, kind: int, seq: int, mono: float) -> None:
        self.outstanding[cl] = Request(kind, mono, seq)
        self.by_order.setdefault(cl >> 16, set()).add(cl)
        self.sent_seq[cl] = seq
        self.seq_cl[seq] = cl
        if len(self.sent_seq) > SENT_MEMORY:            # the oldest go (dicts keep order)
            old = next(iter(self.sent_seq))
            self.seq_cl.pop(self.sent_seq.pop(old), None)

    def _untrack(self, cl: int) -> Request | None:
        r = self.outstanding.pop(cl, None)
        s = self.by_order.get(cl >> 16)
        if s is not None:
            s.discard(cl)
            if not s:
                del self.by_order[cl >> 16]
        return r

    # -- INGRESS: what the venue answered --

    def on_answers(self, answers, n: int) -> None:
        mono = time.monotonic()
        rows = answers[:n]
        for cl, et, st, mt in zip(rows["cl_ord_id"].tolist(), rows["exec_type"].tolist(),
                                  rows["ord_status"].tolist(), rows["msg_type"].tolist()):
            r = self.outstanding.get(cl)
            if r is not None:
                if not r.answered:
                    r.answered = True
                    self.health.ack_latency(mono - r.sent)
                if et in FINAL.get(r.kind, ()):
                    self._untrack(cl)
                    self.health.answered(rejected=et == 56 or et == 57)   # 8, or a 9
            if st in DONE_STATUSES and cl:
                for other in list(self.by_order.get(cl >> 16, ())):
                    self._untrack(other)

    def request_rejected(self, cl: int, text: str, venue_seq: int = 0) -> None:
        """A session Reject or BusinessMessageReject of one of our requests: the engine
        gets the venue's refusal (REJECT of a new order, CANCEL_REJECT of a cancel or
        replace)."""
        r = self._untrack(cl)
        if r is not None:
            kind = r.kind
        else:
            found = self._stored(cl)
            kind = found[0] if found else VenueRequest.NEW_ORDER
        op = VenueExec.REJECT if kind == VenueRequest.NEW_ORDER else VenueExec.CANCEL_REJECT
        self.health.answered(rejected=True)
        self.log.warning("venue_request_rejected", venue=self.name,
                         cl_ord_id=venue_cl_ord_id_text(cl).decode(), text=text)
        self.submit(venue_command(self.venue_id, op, cl, RejectCode.VENUE_REJECTED, venue_seq))

    # -- LIFETIME --

    def start(self) -> None:
        self.task = self.gw.loop.create_task(self.run())

    async def run(self) -> None:
        loop = self.gw.loop
        delay = self.cfg.reconnect_interval
        while self.gw.running and not self.stopping:
            inside, _ = session_window(self.cfg, time.time())
            if not inside:
                await asyncio.sleep(1.0)
                continue
            self.state = "CONNECTING"
            self.closed = asyncio.Event()
            self.counters["connects"] += 1
            try:
                await asyncio.wait_for(loop.create_connection(
                    lambda: VenueConnection(self.gw, self), self.cfg.host, self.cfg.port),
                    self.cfg.connect_timeout)
            except (OSError, asyncio.TimeoutError) as exc:
                self.state = "DOWN"
                self.log.warning("venue_connect_failed", venue=self.name, host=self.cfg.host,
                                 port=self.cfg.port, error=str(exc) or type(exc).__name__,
                                 retry_in=round(delay, 3))
                await self._sleep(delay)
                delay = min(delay * 2, self.cfg.reconnect_max)
                continue
            await self.closed.wait()
            if self.logged_on_at and time.monotonic() - self.logged_on_at > delay:
                delay = self.cfg.reconnect_interval     # it worked for a while: start over
            if self.stopping or not self.gw.running:
                break
            self.log.info("venue_reconnect", venue=self.name, retry_in=round(delay, 3))
            await self._sleep(delay)
            delay = min(delay * 2, self.cfg.reconnect_max)

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and self.gw.running and time.monotonic() < end:
            await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def logon(self, conn: "VenueConnection") -> None:
        """Connected: send our Logon (with ResetSeqNumFlag when configured or when a new
        session window began since the last logon)."""
        self.conn = conn
        self.state = "LOGON_SENT"
        reset = self.cfg.reset_on_logon
        _, begin = session_window(self.cfg, time.time())
        marker = self.dir / "window"
        if begin:
            last = marker.read_text().strip() if marker.exists() else ""
            if last and last != str(begin):
                reset = True
            marker.write_text(str(begin))
        if reset:
            self.reset()
        fields = [(98, 0), (108, self.cfg.heartbeat)]
        if reset:
            fields.append((141, "Y"))
        if self.cfg.username:
            fields.append((553, self.cfg.username))
        if self.cfg.password_env:
            fields.append((554, os.environ.get(self.cfg.password_env, "")))
        self.codec.encode(b"A", fields, time.time_ns())
        out = self.codec.take()
        self.store.append(out)
        conn.write(out)                          # before logged_on: flush() would not send
        self.persist()
        self.log.info("venue_logon_sent", venue=self.name, out_seq=self.codec.out_seq - 1,
                      reset=reset)

    def logged_on(self, conn: "VenueConnection", in_seq: int) -> None:
        self.state = "UP"
        self.logged_on_at = time.monotonic()
        self.counters["logons"] += 1
        self.since = time.time()
        self.problems = []
        self.last_probe = time.monotonic()
        self.probe = None
        self._tell_engine(VenueState.UP)
        self.needs_reconcile = True
        self.log.info("venue_logon", venue=self.name, peer=conn.peer, in_seq=in_seq,
                      out_seq=self.codec.out_seq - 1, heartbeat=self.cfg.heartbeat)
        self.flush()

    def disconnected(self, conn: "VenueConnection") -> None:
        if self.conn is conn:
            self.conn = None
        was_up = self.state == "UP"
        self.state = "DOWN"
        self.since = time.time()
        self.status_queries.clear()
        self.needs_reconcile = False
        self.probe = None
        self.counters["disconnects"] += 1
        if was_up or self.engine_state != VenueState.DOWN:
            self._tell_engine(VenueState.DOWN)
        self.persist()
        if self.closed is not None:
            self.closed.set()

    def _tell_engine(self, state: VenueState) -> None:
        """VENUE_EXEC SESSION: the venue's state and the sequence base (the last inbound
        number this side has processed: everything before it is in the ring already)."""
        self.engine_state = state
        self.submit(venue_command(self.venue_id, VenueExec.SESSION,
                                  venue_seq=self.codec.in_seq - 1, flags=int(state)))
        self.log.info("venue_state", venue=self.name, state=state.name,
                      venue_seq=self.codec.in_seq - 1)

    async def stop(self) -> None:
        self.stopping = True
        conn = self.conn
        if conn is not None and not conn.closing:
            if self.codec.logged_on:
                conn.logout("server shutting down")
            else:
                conn.close()
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 2.5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self.task.cancel()

    # -- TIMERS --

    def on_timer(self, now: float) -> None:
        """Every gateway tick: response timeouts, RTT probes, reconciliation, health."""
        cfg = self.cfg
        for cl, r in list(self.outstanding.items()):
            if not r.alerted and now - r.sent >= cfg.response_timeout:
                r.alerted = True
                self.health.timeout()
                self.log.warning("venue_timeout", venue=self.name,
                                 cl_ord_id=venue_cl_ord_id_text(cl).decode(),
                                 request=VenueRequest(r.kind).name,
                                 waited=round(now - r.sent, 3))
                self.submit(venue_command(self.venue_id, VenueExec.TIMEOUT, cl))
        conn = self.conn
        if self.state == "UP" and conn is not None and not conn.closing:
            if cfg.probe_interval and self.probe is None \
                    and now - self.last_probe >= cfg.probe_interval:
                self.probes += 1
                self.probe = (f"PROBE-{self.probes}", now)
                self.last_probe = now
                self.send(b"1", [(112, self.probe[0])])
            if self.needs_reconcile and not conn.resend_requested_upto:
                self.reconcile()
            inside, _ = session_window(cfg, time.time())
            if not inside and not conn.logout_sent_at:
                self.log.info("venue_session_end", venue=self.name)
                conn.logout("end of session")
        self.judge(now)

    def on_heartbeat(self, test_req_id: bytes | None, now: float) -> None:
        if self.probe is not None and test_req_id == self.probe[0].encode():
            self.health.rtt(now - self.probe[1])
            self.probe = None

    def judge(self, now: float) -> None:
        """Mark a connected venue DEGRADED while a health threshold is exceeded, UP again
        when none is."""
        problems = self.health.problems(len(self.outstanding), now)
        if self.state != "UP":
            return
        if problems and self.engine_state == VenueState.UP:
            self.problems = problems
            self.log.warning("venue_degraded", venue=self.name, problems="; ".join(problems))
            self._tell_engine(VenueState.DEGRADED)
        elif not problems and self.engine_state == VenueState.DEGRADED:
            self.problems = []
            self.log.info("venue_healthy", venue=self.name)
            self._tell_engine(VenueState.UP)
        elif problems:
            self.problems = problems

    # -- RECONCILIATION --

    def reconcile(self) -> None:
        """After a logon, once the inbound sequence is whole: an OrderStatusRequest for
        every order the engine has in flight at this venue.  After a restart the requests
        are tracked again, so a venue that stays silent still raises its timeouts."""
        self.needs_reconcile = False
        orders = self.gw.engine.core.orders()
        sel = orders[(orders["venue_id"] == self.venue_id)
                     & np.isin(orders["venue_state"], IN_FLIGHT)
                     & ~np.isin(orders["status"], TERMINAL)]
        mono = time.monotonic()
        for o in sel:
            oid = int(o["order_id"])
            live = oid << 16 | int(o["venue_live_req"])
            last = oid << 16 | int(o["venue_last_req"])
            state = int(o["venue_state"])
            self.status_queries[live] = (oid, state, last)
            if last not in self.outstanding:
                kind = {VenueOrderState.NEW_SENT: VenueRequest.NEW_ORDER,
                        VenueOrderState.CANCEL_SENT: VenueRequest.CANCEL}.get(
                            state, VenueRequest.REPLACE)
                r = Request(kind, mono, self.sent_seq.get(last, 0))
                self.outstanding[last] = r
                self.by_order.setdefault(oid, set()).add(last)
            self.send(b"H", [(11, venue_cl_ord_id_text(live)), (54, int(o["side"])),
                             (55, self.symbol_names.get(int(o["symbol_id"]),
                                                        str(int(o["symbol_id"]))))])
        self.log.info("venue_reconcile", venue=self.name, in_flight=len(sel))

    def on_status(self, c: VenueCodec) -> None:
        """An order status report (ExecType I), the answer to a reconciliation query."""
        cl = parse_venue_cl_ord_id_text(c.get(11) or b"")
        q = self.status_queries.pop(cl, None)
        status = c.get(39) or b""
        text = c.get(58) or b""
        if q is None:
            self.log.debug("venue_status", venue=self.name, cl_ord_id=(c.get(11) or b"").decode(
                errors="replace"), status=status.decode(errors="replace"))
            return
        oid, state, last = q
        unknown = status == b"8" and (c.get(37) in (None, b"NONE") or c.get(103) == b"5"
                                      or b"UNKNOWN" in text.upper())
        action = "none"
        if state == VenueOrderState.NEW_SENT and unknown:
            if self.resend_request(last, VenueRequest.NEW_ORDER):
                action = "resent_new_order"
                self.counters["resent_orders"] += 1
        elif state == VenueOrderState.NEW_SENT and status in (b"0", b"1"):
            # the venue holds the order but its acknowledgement never reached us (lost with
            # a reset store, or never resent): the status answer is the acknowledgement
            # (venue_seq 0: not a numbered report, so never mistaken for a duplicate)
            self.submit(venue_command(self.venue_id, VenueExec.ACK, last))
            action = "acknowledged"
        elif state == VenueOrderState.CANCEL_SENT and status in (b"0", b"1"):
            if self.resend_request(last, VenueRequest.CANCEL):
                action = "resent_cancel"
                self.counters["resent_cancels"] += 1
        self.log.info("venue_status", venue=self.name, order_id=oid,
                      venue_state=VenueOrderState(state).name,
                      status=status.decode(errors="replace"), unknown=unknown, action=action)

    def _stored(self, cl: int) -> tuple[int, bytes, bytes] | None:
        """(kind, msg_type, raw) of the request with this ClOrdID in the store (the last
        copy: a request sent again is the same message)."""
        seq = self.sent_seq.get(cl)
        if seq is not None:
            for _, mtype, raw in self.store.sent(seq, seq):
                if mtype in REQUEST_TYPES:
                    return REQUEST_TYPES[mtype], mtype, raw
        want = b"\x0111=" + venue_cl_ord_id_text(cl) + b"\x01"
        found = None
        for _, mtype, raw in self.store.sent(1, self.codec.out_seq):
            if mtype in REQUEST_TYPES and want in raw:
                found = REQUEST_TYPES[mtype], mtype, raw
        return found

    def resend_request(self, cl: int, kind: int) -> bool:
        """Send a request again as it was (same ClOrdID, PossResend(97)=Y, a new MsgSeqNum):
        only for what reconciliation found lost in transport."""
        found = self._stored(cl)
        if found is None or found[0] != kind:
            self.log.warning("venue_resend_missing", venue=self.name,
                             cl_ord_id=venue_cl_ord_id_text(cl).decode())
            return False
        _, mtype, raw = found
        _, body = message_body(raw)
        seq = self.codec.out_seq
        # PossResend(97) is a header field: first, so that it lands in the header (a
        # validating engine, QuickFIX with its DataDictionary, rejects a header tag after
        # the body's first field: 373=14 "Tag specified out of required order")
        self.send(mtype, [(97, "Y")] + body)
        self._track(cl, kind, seq, time.monotonic())
        self.health.sent(1)
        self.log.warning("venue_resend", venue=self.name, cl_ord_id=venue_cl_ord_id_text(cl).decode(),
                         msg_type=mtype.decode(), seq=seq)
        return True

    # -- STATUS --

    def status(self) -> dict:
        state = self.state
        if state == "UP" and self.engine_state == VenueState.DEGRADED:
            state = "DEGRADED"
        return dict(venue=self.name, venue_id=self.venue_id, state=state,
                    engine_state=self.engine_state.name, since=round(self.since, 3),
                    host=self.cfg.host, port=self.cfg.port,
                    sender_comp_id=self.codec.sender_comp_id.decode(),
                    target_comp_id=self.cfg.target_comp_id, in_seq=self.codec.in_seq,
                    out_seq=self.codec.out_seq, outstanding=len(self.outstanding),
                    problems=list(self.problems), **self.health.snapshot(), **self.counters)


class VenueConnection(FixConnection):
    """One TCP connection to a venue: the acceptor's FixConnection with the Logon reversed."""
    protocol = "venue"

    def __init__(self, gw: "Gateway", session: VenueSession):
        super().__init__(gw)
        self.venue = session
        self.hb = float(session.cfg.heartbeat)

    # -- asyncio.Protocol --

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.gw.connections.discard(self)         # the venue session times it, not the hub
        self.session = self.venue
        self.venue.logon(self)

    def connection_lost(self, exc) -> None:
        s = self.venue
        s.codec.logged_on = False
        if s.cfg.reset_on_disconnect:
            s.reset()
        self.session = None
        self.log.info("disconnect", protocol="venue", venue=s.name, peer=self.peer,
                      error=str(exc) if exc else "")
        s.disconnected(self)

    # -- INPUT --

    def process(self) -> None:
        s = self.venue
        c = s.codec
        pos = 0
        now = time.time_ns()
        try:
            while not self.closing:
                status = c.decode(self.buf, pos, now)
                if c.n_commands:
                    self.gw.submit(c.commands, c.n_commands)
                if c.n_answers:
                    s.on_answers(c.answers, c.n_answers)
                if status == _fix.GARBLED:
                    new, wait = self.skip_garbage(pos)
                    if new < 0:
                        return
                    pos = new
                    if wait:
                        break
                    continue
                pos = c.pos
                if status == _fix.NEED_MORE:
                    break
                if status != _fix.BATCH_FULL:
                    self.handle(status, c, now)
        finally:
            if pos > 0:
                del self.buf[:pos]
            s.flush()
            s.persist()

    def handle(self, status: int, codec, now: int) -> None:
        s = self.venue
        if not codec.logged_on:
            if status == _fix.SESSION and codec.msg_type == b"A":
                self.on_logon_answer(codec, now)
            else:
                text = codec.get(58) if status == _fix.SESSION else None
                self.log.warning("venue_logon_failed", venue=s.name, peer=self.peer,
                                 msg_type=codec.msg_type.decode("ascii", "replace"),
                                 text=(text or b"").decode(errors="replace")
                                 or (codec.text if status == _fix.REJECT else ""))
                self.close()
            return
        if status == VENUE_STATUS:
            s.on_status(codec)
        elif status == VENUE_OTHER:
            self.on_other(codec)
        elif status == _fix.SESSION:
            self.on_session_message(now)
        elif status == _fix.REJECT:
            s.counters["session_rejects"] += 1
            self.on_malformed()

    def on_logon_answer(self, c, now: int) -> None:
        s = self.venue
        if c.check_header(now) != 0:
            self.log.warning("venue_logon_failed", venue=s.name, peer=self.peer, reason=c.text)
            self.close()
            return
        if c.get(141) == b"Y":
            if c.msg_seq != 1:
                self.log.warning("venue_logon_failed", venue=s.name,
                                 reason="ResetSeqNumFlag(141)=Y needs MsgSeqNum 1")
                self.close()
                return
            c.in_seq = 1
        seq = c.msg_seq
        if seq < c.in_seq:
            c.logged_on = True                       # so that the Logout goes out
            self.logout(f"MsgSeqNum too low, expecting {c.in_seq} but received {seq}")
            self.log.error("venue_seq_too_low", venue=s.name, expected=c.in_seq, received=seq)
            self.close()
            return
        hb = c.get(108)
        if hb is not None and hb.isdigit() and int(hb) > 0:
            self.hb = float(int(hb))
        c.logged_on = True
        if seq > c.in_seq:
            self.request_resend(c.in_seq, seq)
        else:
            c.in_seq = seq + 1
        s.logged_on(self, seq)

    def on_session_message(self, now: int) -> None:
        c = self.venue.codec
        mt = c.msg_type
        test_req = c.get(112) if mt == b"0" else None
        ref = (c.get(45), c.get(58)) if mt == b"3" else None
        in_seq = c.in_seq
        super().on_session_message(now)
        if c.in_seq == in_seq + 1 and mt in ADMIN_TYPES:    # it was processed in sequence
            if mt == b"0":
                self.venue.on_heartbeat(test_req, time.monotonic())
            elif mt == b"3" and ref[0] and ref[0].isdigit():
                cl = self.venue.seq_cl.get(int(ref[0]))
                if cl is not None and cl in self.venue.outstanding:
                    self.venue.request_rejected(cl, (ref[1] or b"").decode(errors="replace"))

    def on_other(self, c) -> None:
        """BusinessMessageReject of one of our requests: the engine hears the refusal.
        Anything else is logged (the codec has counted it in sequence)."""
        s = self.venue
        if c.msg_type == b"j":
            cl = parse_venue_cl_ord_id_text(c.get(379) or b"")
            if not cl and (c.get(45) or b"").isdigit():
                cl = s.seq_cl.get(int(c.get(45)), 0)
            text = (c.get(58) or b"").decode(errors="replace")
            if cl and cl in s.outstanding:
                s.request_rejected(cl, text, venue_seq=c.msg_seq)
                return
            self.log.warning("venue_business_reject", venue=s.name, text=text,
                             ref_msg_type=(c.get(372) or b"").decode(errors="replace"))
            return
        self.log.info("venue_message_ignored", venue=s.name,
                      msg_type=c.msg_type.decode("ascii", "replace"), seq=c.msg_seq)

    # -- TIMERS --

    def on_timer(self, now: float) -> None:
        if self.closing:
            return
        if not self.venue.codec.logged_on:
            if now - self.opened > self.venue.cfg.logon_timeout:
                self.log.warning("venue_logon_timeout", venue=self.venue.name, peer=self.peer)
                self.close()
            return
        super().on_timer(now)

    def on_slow_consumer(self) -> None:
        self.venue.codec.logged_on = False
