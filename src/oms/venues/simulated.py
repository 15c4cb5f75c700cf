"""Venues `oms serve` simulates itself: each `[[venues]]` entry with `simulate = true` gets an
`oms venue-sim` process (src/oms/venue_sim) started before the gateway connects and stopped
after it has logged out.

The simulator lists the symbols the engine lists at that venue (names, ticks, lots and
reference prices as the OMS has them, so the orders it is sent are valid there), accepts our
CompID, quotes a market-maker ladder around each reference price so that orders fill, and
keeps its session store and logs under `<state_dir>/venue-sims/<name>/`: a restarted server
finds its venue's sequence numbers where both sides left them.  A port of 0 takes a free port;
the returned config names the ports actually used.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec

from oms.gateway.config import ServerConfig
from oms.gateway.log import Log


def venue_symbols(config: ServerConfig, venue: str) -> list:
    """The engine's symbols listed at `venue`, as the simulator should list them: with the
    listing's tick and lot where it overrides the symbol's, and no venues of their own."""
    out = []
    for s in config.engine.symbols:
        listing = next((li for li in s.venues if li.venue == venue), None)
        if listing is None:
            continue
        out.append(msgspec.structs.replace(
            s, venues=[], route_rule="primary", primary_venue=None,
            tick_size=listing.tick_size or s.tick_size, lot_size=listing.lot_size or s.lot_size))
    return out


class SimulatedVenues:
    """The venue-sim processes of one server."""

    def __init__(self, config: ServerConfig, log: Log):
        self.config = config
        self.log = log
        self.procs: list[subprocess.Popen] = []

    def start(self) -> ServerConfig:
        """Start every simulated venue; returns the server config with their real ports."""
        from oms.venue_sim import default_sim_config, start_venue_sim
        venues = []
        root = Path(self.config.server.state_dir) / "venue-sims"
        for v in self.config.venues:
            if not v.simulate:
                venues.append(v)
                continue
            d = root / v.name
            d.mkdir(parents=True, exist_ok=True)
            ours = v.sender_comp_id or self.config.server.comp_id
            sim = default_sim_config(v.name, v.port, v.target_comp_id, [ours],
                                     symbols=venue_symbols(self.config, v.name),
                                     host=v.host, state_dir=str(d / "state"),
                                     log_level="warning", log_file=str(d / "venue-sim.log"))
            try:
                proc = start_venue_sim(sim, d / "venue-sim.toml", d / "output.log")
            except RuntimeError as exc:
                self.log.error("venue_sim_failed", venue=v.name, error=str(exc)[-2000:])
                self.stop()
                raise
            self.procs.append(proc)
            self.log.info("venue_sim_started", venue=v.name, port=proc.config.port,
                          pid=proc.pid)
            venues.append(msgspec.structs.replace(v, port=proc.config.port))
        return msgspec.structs.replace(self.config, venues=venues)

    def stop(self) -> None:
        from oms.venue_sim import stop_venue_sim
        for proc in self.procs:
            stop_venue_sim(proc)
        self.procs.clear()
