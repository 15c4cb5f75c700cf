"""The gateway hub: listeners, sessions, the ingress path into the engine and the egress
path out of it, all on one I/O thread running uvloop.

Ingress: each connection's reads are decoded in compiled code into command arrays and
published with one `submit_batch` per read.  Egress: `Egress` is the single consumer of the
engine's output ring (`poll_into` into one reused array); it releases events up to the durable
sequence, encodes each session's events in one compiled call and writes them with one
`write` per session per poll, so writes coalesce as load grows.  On this 2-core machine a
separate egress thread would cost a thread wake-up (30-40 us) per hand-off and compete with the
business thread for the second core; one I/O thread that polls the engine while commands are
in flight, and on a timer when idle, keeps both cores for the business thread and I/O.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from oms._binary import BinaryCodec
from oms._fix import FixCodec, OrderAttrs, StrMap, configure_reject_codes
from oms.codes import CODE_INFO
from oms.gateway.auth import hash_password, verify_password
from oms.gateway.binary import BinaryConnection, BinarySession
from oms.gateway.config import FixSessionConfig, ServerConfig
from oms.gateway.fix import FixConnection, FixSession
from oms.gateway.log import Log
from oms.gateway.ratelimit import RateLimiter
from oms.layout import EVENT_DTYPE, EventType, OrdStatus, TimeInForce

configure_reject_codes({int(code): (f"{code.name}: {info.message}", info.ord_rej_reason,
                                    info.cxl_rej_reason)
                        for code, info in CODE_INFO.items()})

ALL_DURABLE = (1 << 63) - 1
TIMER_PERIOD = 0.1          # heartbeats, TestRequests, logon timeouts
STATUS_PERIOD = 1.0         # <state_dir>/venues.json rewritten (oms.venues.status)


class Egress:
    """The one consumer of the engine's events: durability gate, routing, encoding.

    `durable_seq` is consulted before any event is released: an event goes out only when its
    `cmd_seq <= durable_seq()`.  It defaults to "everything is durable"; the journal sets it
    to its durable sequence, and events of commands not yet durable wait here, in order.
    """

    def __init__(self, gw: "Gateway", capacity: int = 16384):
        self.gw = gw
        self.buf = np.zeros(capacity, dtype=EVENT_DTYPE)
        self.held = 0                   # events at the head of buf waiting for durability
        self.durable_seq: Callable[[], int] = lambda: ALL_DURABLE
        self.last_submitted = 0         # last input sequence published by the gateways
        self.last_released = 0          # cmd_seq of the last event released
        self.scheduled = False
        self.timer: asyncio.TimerHandle | None = None
        self.events_out = 0

    def submitted(self, cmd_seq: int) -> None:
        self.last_submitted = cmd_seq
        self.kick()

    def kick(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            self.gw.loop.call_soon(self.tick)

    def tick(self) -> None:
        self.scheduled = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        n = self.poll()
        if n or self.held:
            # events flowing (more may follow), or waiting for the journal's durability
            # (which signals nothing): poll again after this I/O round
            self.kick()
            return
        if self.last_released < self.last_submitted and self.gw.notify_fd < 0:
            self.kick()                 # commands in flight and no wake-up: keep polling
            return
        if self.last_released < self.last_submitted:
            # commands in flight: sleep until the business thread signals their events
            # (arm, then look once more: what it published just before is not signalled)
            self.gw.engine.arm_notify()
            if self.poll():
                self.kick()
                return
        if self.gw.running:
            self.timer = self.gw.loop.call_later(self.gw.settings.egress_idle_poll, self.tick)

    def on_notify(self) -> None:
        """The business thread published events while we slept (the eventfd)."""
        try:
            os.eventfd_read(self.gw.notify_fd)
        except BlockingIOError:
            pass
        self.kick()

    def poll(self) -> int:
        """Take what the engine has published, release what is durable; returns how many
        events were taken."""
        room = len(self.buf) - self.held
        n_new = self.gw.engine.poll_into(self.buf[self.held:]) if room else 0
        n = self.held + n_new
        if n == 0:
            return 0
        cmd_seqs = self.buf["cmd_seq"]
        durable = self.durable_seq()
        if cmd_seqs[n - 1] <= durable:
            k = n
        else:
            k = int(np.searchsorted(cmd_seqs[:n], durable, side="right"))
        if k:
            self.route(k)
            self.last_released = int(cmd_seqs[k - 1])
            self.events_out += k
        if k < n:
            self.buf[:n - k] = self.buf[k:n]
        self.held = n - k
        return n_new

    def route(self, k: int) -> None:
        now = time.time_ns()
        gw = self.gw
        gw.attrs.apply(self.buf, k)
        if gw.venue_sessions:
            kinds = self.buf["kind"][:k]
            requests = kinds == EventType.VENUE_REQUEST
            if requests.any():
                # VENUE_REQUEST events go to their venue only: the client codecs skip them
                for vid in np.unique(self.buf["venue_id"][:k][requests]).tolist():
                    vs = gw.venue_sessions.get(vid)
                    if vs is not None:
                        vs.deliver(self.buf, k, now)
                    elif vid not in gw.unreachable_venues:
                        gw.unreachable_venues.add(vid)
                        gw.log.error("venue_not_configured", venue_id=vid,
                                     reason="the engine sent a request to a venue with no "
                                            "[[venues]] session")
        for sid in np.unique(self.buf["session_id"][:k]).tolist():
            s = gw.sessions_by_id.get(sid)
            if s is not None and not s.cfg.drop_copy:
                s.deliver(self.buf, k, now, None)
        for s in gw.drop_copies:
            s.deliver(self.buf, k, now, gw.clordid_tables)
        gw.attrs.retire(self.buf, k)


def seed_order_attrs(attrs: OrderAttrs, orders) -> None:
    """The attributes of the live orders of a recovered engine (ORDER_DTYPE records)."""
    live = orders[np.isin(orders["status"], [OrdStatus.ROUTED, OrdStatus.ACCEPTED,
                                             OrdStatus.PARTIALLY_FILLED,
                                             OrdStatus.PENDING_CANCEL,
                                             OrdStatus.PENDING_REPLACE])]
    for o in live:
        expire = int(o["expire_time_ns"]) if o["tif"] == TimeInForce.GTD else 0
        fields = dict(stop_price=int(o["stop_price"]), trail_amount=int(o["trail_amount"]),
                      trail_bps=int(o["trail_bps"]), display_qty=int(o["display_qty"]),
                      min_qty=int(o["min_qty"]), expire_time_ns=expire,
                      exec_inst=int(o["exec_inst"]), parent_order_id=int(o["parent_order_id"]),
                      oco_order_id=int(o["oco_order_id"]))
        if any(fields.values()):
            attrs.put(int(o["order_id"]), **fields)


class Gateway:
    """Sessions, listeners and the engine they feed.  Everything here runs on the I/O
    thread (the loop's thread); only `submit_batch` crosses into the engine's ring."""

    # what a FIX session and a FIX listener connection are: the venue simulator
    # (oms.venue_sim) puts its fault-injecting subclasses here
    fix_session_type = FixSession
    fix_connection_type = FixConnection

    def __init__(self, config: ServerConfig, log: Log, engine=None):
        from oms._engine import Engine
        self.config = config
        self.settings = config.server
        self.log = log
        self.state_dir = Path(self.settings.state_dir)
        self.comp_id = self.settings.comp_id.encode()
        # ExecIDs must stay unique across restarts while event sequences restart with the
        # engine (until the journal): prefix them with the start time
        self.exec_id_prefix = f"{time.time_ns() // 1_000_000:x}-".encode()
        self.account_ids = {a.name: a.account_id for a in config.engine.accounts}
        self.account_names = StrMap(63)
        for a in config.engine.accounts:
            self.account_names.add(a.name.encode(), a.account_id)
        self.symbols = StrMap(63)
        for s in config.engine.symbols:
            self.symbols.add(s.name.encode(), s.symbol_id)
        # ExDestination(100) and LastMkt(30) names: index = ex_destination (venue id + 1)
        self.venue_names = StrMap(63)
        self.venue_names.add(b"INTERNAL", 1)
        for v in config.engine.venues:
            self.venue_names.add(v.name.encode(), v.venue_id + 1)
        self.limiter = RateLimiter(config.rate_limits)
        self.engine = engine if engine is not None else Engine(config.engine)
        # what FIX ExecutionReports show beyond the engine's events (StopPx, trails, ...)
        self.attrs = OrderAttrs()
        if not self.engine.running:
            seed_order_attrs(self.attrs, self.engine.core.orders())
        self.sessions_by_id: dict[int, FixSession | BinarySession] = {}
        self.fix_by_comp: dict[bytes, FixSession] = {}
        self.binary_by_user: dict[str, BinarySession] = {}
        for cfg in config.sessions:
            if isinstance(cfg, FixSessionConfig):
                s = self.fix_session_type(self, cfg)
                self.fix_by_comp[cfg.sender_comp_id.encode()] = s
            else:
                s = BinarySession(self, cfg)
                self.binary_by_user[cfg.user] = s
            self.sessions_by_id[cfg.session_id] = s
        self.drop_copies = [s for s in self.sessions_by_id.values() if s.cfg.drop_copy]
        for s in self.sessions_by_id.values():
            if isinstance(s, FixSession):
                s.codec.venues = self.venue_names
        from oms.config import venue_id_of
        from oms.venues.session import VenueSession
        self.venue_sessions: dict[int, VenueSession] = {}
        for vcfg in config.venues:
            vid = venue_id_of(config.engine, vcfg.name)
            self.venue_sessions[vid] = VenueSession(self, vcfg, vid)
        self.unreachable_venues: set[int] = set()
        self._status_at = 0.0
        top = max(self.sessions_by_id, default=0)
        self.clordid_tables = [None] * (top + 1)
        for sid, s in self.sessions_by_id.items():
            if isinstance(s, FixSession):
                self.clordid_tables[sid] = s.codec.clordids
        self.fix_prelogon = FixCodec(b"FIX.4.4", self.comp_id, b"?", 0, StrMap(), StrMap(),
                                     StrMap(), capacity=1)
        self.binary_prelogin = BinaryCodec(0, [], capacity=1)
        self.dummy_hash = hash_password("unknown user")
        self.executor = ThreadPoolExecutor(2, thread_name_prefix="oms-auth")
        self.connections: set = set()
        self.logon_failures = 0
        self.egress = Egress(self)
        self.notify_fd = -1             # the eventfd the business thread wakes egress with
        self.loop: asyncio.AbstractEventLoop | None = None
        self.servers: list[asyncio.AbstractServer] = []
        self.running = False
        self.fix_port = self.binary_port = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- INGRESS --

    def ingest(self, codec, session, buf, pos: int, now_ns: int) -> int:
        """Decode `buf` from `pos` with a session's codec (FIX or binary) under the session's
        order budget, publish the commands it produced, charge the rate limits; returns the
        codec's status (codec.pos says where it stopped)."""
        budget = RateLimiter.budget(session.limits, time.monotonic()) if session else 0
        codec.order_budget = budget
        status = codec.decode(buf, pos, now_ns)
        if codec.n_commands:
            self.submit(codec.commands, codec.n_commands)
        if session is not None:
            RateLimiter.consume(session.limits, budget - codec.order_budget)
        return status

    def submit(self, commands, n: int) -> None:
        seqs = self.engine.submit_batch(commands[:n], stamp_time=False)
        self.attrs.note(commands, n, seqs)
        self.egress.submitted(int(seqs[-1]))

    def write_venue_status(self) -> None:
        from oms.venues.status import write_status
        try:
            write_status(self.state_dir, [vs.status() for vs in self.venue_sessions.values()])
        except Exception as exc:
            self.log.warning("venue_status_failed", error=str(exc))

    def verify(self, password: str, stored: str) -> asyncio.Future:
        return self.loop.run_in_executor(self.executor, verify_password, password, stored)

    # -- LIFETIME --

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if not self.engine.running:
            if self.settings.egress_wakeup:
                self.notify_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                self.engine.set_notify_fd(self.notify_fd)
                self.loop.add_reader(self.notify_fd, self.egress.on_notify)
            self.engine.start()
        self.running = True
        host = self.settings.host
        fix = await self.loop.create_server(lambda: self.fix_connection_type(self), host,
                                            self.settings.fix_port)
        binary = await self.loop.create_server(lambda: BinaryConnection(self), host,
                                               self.settings.binary_port)
        self.servers = [fix, binary]
        self.fix_port = fix.sockets[0].getsockname()[1]
        self.binary_port = binary.sockets[0].getsockname()[1]
        self.egress.tick()
        for vs in self.venue_sessions.values():
            vs.start()
        self._timer = self.loop.call_later(TIMER_PERIOD, self._on_timer)
        self.log.info("listening", host=host, fix_port=self.fix_port,
                      binary_port=self.binary_port, sessions=len(self.sessions_by_id),
                      state_dir=str(self.state_dir))

    def _on_timer(self) -> None:
        now = time.monotonic()
        for conn in list(self.connections):
            conn.on_timer(now)
        for vs in self.venue_sessions.values():
            try:
                if vs.conn is not None:
                    vs.conn.on_timer(now)
                vs.on_timer(now)
            except Exception as exc:      # a bug must cost one venue's tick, not the timers
                self.log.error("internal_error", protocol="venue", venue=vs.name,
                               error=repr(exc))
        if self.venue_sessions and now - self._status_at >= STATUS_PERIOD:
            self._status_at = now
            self.write_venue_status()
        if self.running:
            self._timer = self.loop.call_later(TIMER_PERIOD, self._on_timer)

    async def stop(self, reason: str = "server shutting down") -> None:
        """Stop accepting, log every session out, deliver every event of what was accepted,
        stop the engine, persist the sessions."""
        self.log.info("shutdown", reason=reason)
        for server in self.servers:
            server.close()
        deadline = time.monotonic() + 2.0
        while self.egress.last_released < self.egress.last_submitted and time.monotonic() < deadline:
            self.egress.poll()
            await asyncio.sleep(0.001)
        for conn in list(self.connections):
            if conn.session is None:
                conn.close()
            elif isinstance(conn, BinaryConnection):
                conn.logout(reason)
                conn.close()
            else:
                conn.logout(reason)         # closes on the counterparty's Logout, or after 2 s
        deadline = time.monotonic() + 2.5
        while any(not c.closing for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        # venues last: what the clients' logouts and cancels sent them has gone out
        while self.egress.last_released < self.egress.last_submitted and time.monotonic() < deadline:
            self.egress.poll()
            await asyncio.sleep(0.001)
        await asyncio.gather(*(vs.stop() for vs in self.venue_sessions.values()))
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
        self.engine.stop()
        if self.notify_fd >= 0:
            self.loop.remove_reader(self.notify_fd)
            os.close(self.notify_fd)
            self.notify_fd = -1
        self.egress.durable_seq = lambda: ALL_DURABLE
        while self.egress.poll() or self.egress.held:
            pass
        for conn in list(self.connections):
            conn.close()
        for s in self.sessions_by_id.values():
            s.close()
        for vs in self.venue_sessions.values():
            if vs.conn is not None:
                vs.conn.close()
            vs.close()
        if self.venue_sessions:
            self.write_venue_status()
        await asyncio.sleep(0)
        self.executor.shutdown(wait=False)
        self.log.info("stopped", events_out=self.egress.events_out)
