"""The venue simulator (`oms venue-sim`): `oms serve`'s FIX acceptor and matching engine run
as an exchange, with its own liquidity, fault injection and a control channel."""

from oms.venue_sim.config import (SimFaults, SimLiquidity, VenueSimConfig, default_sim_config,
                                  load_sim_config, server_config, to_toml, write_sim_config)
from oms.venue_sim.control import VenueSimControl, VenueSimError
from oms.venue_sim.process import start_venue_sim, stop_venue_sim

__all__ = ["SimFaults", "SimLiquidity", "VenueSimConfig", "VenueSimControl", "VenueSimError",
           "default_sim_config", "load_sim_config", "server_config", "start_venue_sim",
           "stop_venue_sim", "to_toml", "write_sim_config"]
