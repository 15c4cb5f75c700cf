"""Fixtures for the venue end-to-end tests (tests/e2e/test_venues.py): `oms venue-sim`
processes with control channels, `oms serve` configured to route to them, and helpers to
wait for venue session states (read from `<state_dir>/venues.json`) and to read the client's
execution reports."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from oms.client import FixClient
from oms.venue_sim import VenueSimControl, default_sim_config, start_venue_sim, stop_venue_sim
from oms.venue_sim.config import SimLiquidity
from oms.venue_sim.process import free_port
from oms.venues.status import read_status

from .conftest import HOST, Server

NOW = "20250101-00:00:00"
_ids = itertools.count(1)

# the demo accounts of every venue end-to-end test's engine (test_venue_quickfix.py too)
ACCOUNTS = """
[[engine.accounts]]
account_id = 0
name = "MM-DESK"

[[engine.accounts]]
account_id = 1
name = "FUND-A"
credit_limit = 50000000000
max_order_qty = 100000
max_order_notional = 10000000000
max_position = 200000
gross_limit = 100000000000
concentration_pct = 100

[[engine.accounts]]
account_id = 2
name = "RETAIL-7"
credit_limit = 500000000
max_order_qty = 1000
"""

# the OMS's engine: the demo accounts, AAPL listed at SIMA and SIMB (primary rule: SIMA
# first), MSFT listed at both (cheapest rule: SIMB's taker fee is lower); SIMA keeps its
# orders over a disconnect, SIMB's cancel-on-disconnect policy ends them
ENGINE = """
[engine]
max_orders = 65536
idem_capacity = 65536

[[engine.symbols]]
symbol_id = 0
name = "AAPL"
tick_size = 100
ref_price = 1900000
collar_bps = 1000
venues = [{venue = "SIMA"}, {venue = "SIMB"}]
route_rule = "primary"
primary_venue = "SIMA"

[[engine.symbols]]
symbol_id = 1
name = "MSFT"
tick_size = 100
ref_price = 4200000
collar_bps = 1000
venues = [{venue = "SIMA"}, {venue = "SIMB"}]
route_rule = "cheapest"

""" + ACCOUNTS + """
[[engine.venues]]
venue_id = 1
name = "SIMA"
taker_fee = 30
maker_fee = -20
cancel_on_disconnect = false

[[engine.venues]]
venue_id = 2
name = "SIMB"
taker_fee = 20
maker_fee = -10
cancel_on_disconnect = true
"""

VENUE_SESSION = """
[[venues]]
name = "{name}"
host = "{host}"
port = {port}
target_comp_id = "{name}"
heartbeat = {heartbeat}
reconnect_interval = 0.2
reconnect_max = 0.5
logon_timeout = 3.0
response_timeout = 0.5
probe_interval = {probe}
reset_on_logon = {reset}
{health}
"""

# SIMB is judged unhealthy when more than half of its answers over the last 10 to 20 s were
# rejects (at least 2 answers): test_unhealthy_venue_is_skipped
SIMB_HEALTH = """
[venues.health]
window = 10.0
max_reject_rate = 0.5
min_answers = 2
"""

SIM_NAMES = ("SIMA", "SIMB")
OMS_COMP_IDS = ["OMS", "OMSK", "OMSK2", "OMSK3", "OMSK4"]   # the module's server, and those the
                                                   # SIGKILL tests kill


class Sim:
    """One `oms venue-sim` process with its control channel."""

    def __init__(self, name: str, tmp: Path):
        self.name = name
        cfg = default_sim_config(name, 0, name, OMS_COMP_IDS, control_port=free_port(),
                                 state_dir=str(tmp / f"{name}-state"), log_level="debug",
                                 liquidity=SimLiquidity(enabled=False))
        self.log_path = tmp / f"{name}.log"
        self.proc = start_venue_sim(cfg, tmp / f"{name}.toml", self.log_path)
        self.port = self.proc.config.port
        self.ctl = VenueSimControl(HOST, self.proc.config.control_port)

    def call(self, op: str, **kw) -> dict:
        return self.ctl.call(op, **kw)

    def reset_faults(self) -> None:
        self.ctl.call("faults", set=dict(ack_delay=0.0, reject_ratio=0.0, reject_reason=0,
                                         reject_text="simulated venue reject", drop_ratio=0.0,
                                         silent=False, disconnect_after=0,
                                         cancel_on_disconnect=False))

    def orders(self, order_id: str, comp_id: str | None = None) -> list[dict]:
        """The simulator's live orders for the OMS order `order_id` (its venue ClOrdIDs are
        "<order_id>.<request>")."""
        return [o for o in self.call("status")["orders"]
                if o["cl_ord_id"].split(".")[0] == order_id
                and (comp_id is None or o["comp_id"] == comp_id)]

    def trades_of(self, order_id: str) -> list[dict]:
        return [t for t in self.call("trades", last=1000)["trades"]
                if t["cl_ord_id"].split(".")[0] == order_id]

    def counter(self, name: str) -> int:
        return self.call("status")["counters"].get(name, 0)

    def stop(self) -> None:
        self.ctl.close()
        stop_venue_sim(self.proc)


def oms_server(tmp: Path, sims: dict[str, Sim], comp_id: str = "OMS", heartbeat: int = 2,
               probe: float = 0.5, reset_on_logon: bool = False) -> Server:
    """An `oms serve` (journal on, in tmp/state) routing to the simulators."""
    sessions = "".join(VENUE_SESSION.format(name=n, host=HOST, port=s.port, heartbeat=heartbeat,
                                            probe=probe,
                                            reset="true" if reset_on_logon else "false",
                                            health=SIMB_HEALTH if n == "SIMB" else "")
                       for n, s in sims.items())
    return Server(tmp, extra_server=f'comp_id = "{comp_id}"\njournal = true\n',
                  tiers=ENGINE + sessions)


# -- venue session states -----------------------------------------------------------------

def venue_row(srv: Server, name: str) -> dict | None:
    """The venue's row of venues.json, if the running server wrote it (a killed one leaves
    its last file behind)."""
    st = read_status(srv.dir / "state")
    if not st or st.get("pid") != srv.proc.pid:
        return None
    return {v["venue"]: v for v in st["venues"]}.get(name)


def wait_venue(srv: Server, name: str, pred, timeout: float = 15.0, what: str = "") -> dict:
    """The venue's row of venues.json once `pred(row)` holds (the file is rewritten every
    second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = venue_row(srv, name)
        if v is not None and pred(v):
            return v
        time.sleep(0.05)
    raise AssertionError(f"venue {name}: {what or 'condition'} not reached; now "
                         f"{venue_row(srv, name)}")


def wait_up(srv: Server, name: str, timeout: float = 15.0, min_logons: int = 1) -> dict:
    return wait_venue(srv, name, lambda v: v["state"] == "UP" and v["engine_state"] == "UP"
                      and v["logons"] >= min_logons, timeout, "UP")


def oms_venues_table(srv: Server) -> dict[str, list[str]]:
    """`oms venues --config F`: its rows by venue name."""
    out = subprocess.run([sys.executable, "-m", "oms.cli", "venues", "--config",
                          str(srv.config)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["VENUE", "ID", "STATE"], out.stdout
    return {line.split()[0]: line.split() for line in lines[1:]}


def replay_verify(state_dir: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "oms.cli", "replay", str(state_dir),
                          "--verify"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("verified:"), out.stdout
    return out.stdout


# -- client messages ----------------------------------------------------------------------

def cl() -> str:
    return f"v{next(_ids)}-{time.time_ns() % 10**9}"


def nos(clordid: str, symbol: str = "AAPL", side: int = 1, qty: int = 100,
        price: str | None = "189.00", dest: str | None = None, extra=()) -> list:
    fields = [(11, clordid), (55, symbol), (54, side), (40, 2 if price else 1), (38, qty)]
    if price:
        fields.append((44, price))
    fields.append((60, NOW))
    if dest is not None:
        fields.append((100, dest))
    return fields + list(extra)


def er(c: FixClient, clordid: str, exec_type: str | None, msg_type: str = "8",
       timeout: float = 10.0):
    """The next ExecutionReport (or, with msg_type "9", OrderCancelReject) for `clordid`
    with that ExecType."""
    return take(c, lambda m: m.msg_type == msg_type and m.get(11) == clordid
                and (exec_type is None or m.get(150) == exec_type), timeout)


def take(c: FixClient, pred, timeout: float = 10.0):
    """The first message read (now or earlier) that satisfies `pred`, removed from
    `c.received`; unlike FixClient.expect, the messages before it stay there for later
    calls (reports of different orders interleave)."""
    deadline = time.monotonic() + timeout
    while True:
        for i, m in enumerate(c.received):
            if pred(m):
                del c.received[i]
                return m
        if time.monotonic() >= deadline:
            raise AssertionError("no such message; the last ones: " + "; ".join(
                m.raw.decode(errors="replace").replace("\x01", "|")
                for m in c.received[-6:]))
        c.read(min(0.05, max(0.0, deadline - time.monotonic())))


def routed(c: FixClient, clordid: str, **kw):
    """A NewOrderSingle routed to a venue: PENDING_NEW (150=A 39=A), then NEW (150=0 39=0)
    when the venue acknowledges it.  Returns (pending, new)."""
    c.send("D", nos(clordid, **kw))
    pending = er(c, clordid, "A")
    assert (pending[39], pending[14]) == ("A", "0"), pending
    new = er(c, clordid, "0")
    assert new[39] == "0" and new[37] == pending[37], new
    return pending, new


def cancel(c: FixClient, clordid: str, orig: str, symbol: str = "AAPL", side: int = 1,
           qty: int = 100) -> None:
    c.send("F", [(11, clordid), (41, orig), (55, symbol), (54, side), (38, qty), (60, NOW)])


def replace(c: FixClient, clordid: str, orig: str, qty: int, price: str,
            symbol: str = "AAPL", side: int = 1) -> None:
    c.send("G", [(11, clordid), (41, orig), (55, symbol), (54, side), (40, 2), (38, qty),
                 (44, price), (60, NOW)])


def status_request(c: FixClient, clordid: str, symbol: str = "AAPL", side: int = 1):
    """The answer to an OrderStatusRequest (an ExecutionReport 150=I; not a
    VENUE_NO_RESPONSE alert, which is one too)."""
    c.send("H", [(11, clordid), (55, symbol), (54, side)])
    return take(c, lambda m: m.msg_type == "8" and m.get(11) == clordid and m.get(150) == "I"
                and not m.get(58, "").startswith("VENUE_NO_RESPONSE"))


def quiet_for(c: FixClient, clordid: str, seconds: float) -> list:
    """Every message for `clordid` the client reads within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        c.read(min(0.1, max(0.0, deadline - time.monotonic())))
    return [m for m in c.received if m.get(11) == clordid]


def dec(v: str) -> Decimal:
    return Decimal(v)


def fresh_row(srv: Server, name: str, timeout: float = 5.0) -> dict:
    """The venue's row of a venues.json written after now."""
    t0 = time.time()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(srv.dir / "state")
        if st and st["time"] > t0 and st.get("pid") == srv.proc.pid:
            return {v["venue"]: v for v in st["venues"]}[name]
        time.sleep(0.05)
    raise AssertionError("venues.json not rewritten")


def wait_until(pred, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached in {timeout} s")


def status_until(c: FixClient, clordid: str, pred, symbol: str = "AAPL", side: int = 1,
                 timeout: float = 10.0):
    """OrderStatusRequests until the answer satisfies `pred` (a state reached by
    reconciliation after a restart)."""
    deadline = time.monotonic() + timeout
    while True:
        st = status_request(c, clordid, symbol, side)
        if pred(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.1)
