"""What the FIX and binary connections share: the transport, the slow-consumer policy,
reads handed to `process()`, and closing."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oms.gateway.gateway import Gateway


class Connection(asyncio.Protocol):
    protocol = "?"

    def __init__(self, gw: "Gateway"):
        self.gw = gw
        self.log = gw.log
        self.buf = bytearray()
        self.session = None
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.closing = False
        self.auth_pending = False
        self.last_recv = self.last_sent = self.opened = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.gw.connections.add(self)
        self.log.info("connect", protocol=self.protocol, peer=self.peer)

    def data_received(self, data: bytes) -> None:
        self.last_recv = time.monotonic()
        self.buf += data
        if not self.auth_pending and not self.closing:
            try:
                self.process()
            except Exception as exc:          # a bug must cost one connection, not the server
                self.log.error("internal_error", protocol=self.protocol, peer=self.peer,
                               error=repr(exc))
                self.close()

    def process(self) -> None:
        raise NotImplementedError

    def on_slow_consumer(self) -> None:
        """Called before a connection over its output limit is dropped."""

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        t.write(data)
        self.last_sent = time.monotonic()
        if t.get_write_buffer_size() > self.gw.settings.output_buffer_limit:
            self.log.warning("slow_consumer", protocol=self.protocol,
                             session=self.session.session_id if self.session else "",
                             buffered=t.get_write_buffer_size())
            self.on_slow_consumer()
            t.abort()

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        if self.transport is not None:
            self.transport.close()
