"""Client of the venue simulator's control channel (newline-delimited JSON over TCP).

    from oms.venue_sim import VenueSimControl
    with VenueSimControl("127.0.0.1", 9901) as ctl:
        ctl.call("faults", set={"reject_ratio": 1.0})
        ctl.call("trade", symbol="AAPL", side="sell", qty=100, price="189.50")
        print(ctl.call("status")["sessions"])

Ops (src/oms/venue_sim/sim.py, ControlServer): status, faults (set={...}), trade (symbol,
side, qty, price: default a market order), trades (last=N), bust (exec_id), correct (exec_id,
price, qty), disconnect (comp_id: default every session), cancel_all (comp_id), quote.
"""

from __future__ import annotations

import json
import socket


class VenueSimError(Exception):
    """The simulator refused a control request; the text is its answer's `error`."""


class VenueSimControl:
    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def __enter__(self) -> "VenueSimControl":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, op: str, **kw) -> dict:
        """Send one request and return the answer (without its "ok"); VenueSimError when the
        simulator refused it."""
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.sendall(json.dumps({"op": op, **kw}).encode() + b"\n")
        while b"\n" not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                self.close()
                raise VenueSimError("control connection closed by the simulator")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        answer = json.loads(line)
        if not answer.pop("ok", False):
            raise VenueSimError(answer.get("error", "refused"))
        return answer

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.buf = b""
