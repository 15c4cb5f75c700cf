"""`oms venue-sim` configuration: a TOML file validated with msgspec, in the style of
`oms serve`'s (src/oms/gateway/config.py): a bad value is reported with the exact path of the
field.  Every field is documented in `examples/venue-sim.toml`.

The simulator is `oms serve`'s gateway and engine configured as an exchange, so a
`VenueSimConfig` becomes an ordinary `ServerConfig` (`server_config()`): one FIX 4.4 session
per accepted CompID, an account per session named after its CompID, no rate limits, and the
market maker's account `SIM-MM`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from oms.config import AccountConfig, EngineConfig, SymbolConfig, demo_config
from oms.gateway.config import (CompId, FixSessionConfig, Port, RateTier, ServerConfig,
                                ServerSettings)

Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]
NonNegativeSeconds = Annotated[float, msgspec.Meta(ge=0)]

MM_ACCOUNT = "SIM-MM"               # the market maker's account in the simulator's engine
MM_SESSION_ID = 65535               # its session: reserved, never a configured FIX session


def _demo_symbols() -> list[SymbolConfig]:
    return list(demo_config().symbols)


class SimFaults(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Faults for fault tests, all off by default; each can be changed at run time over the
    control channel (`{"op": "faults", "set": {...}}`)."""
    ack_delay: NonNegativeSeconds = 0.0     # hold every outbound application message this long
    reject_ratio: Ratio = 0.0               # this fraction of NewOrderSingles rejected (39=8)
    reject_reason: Annotated[int, msgspec.Meta(ge=0, le=99)] = 0   # their OrdRejReason(103)
    reject_text: str = "simulated venue reject"                    # ... and Text(58)
    drop_ratio: Ratio = 0.0                 # this fraction of inbound application messages
                                            # not handled at all (their numbers still count)
    silent: bool = False                    # no inbound application message handled
    disconnect_after: Annotated[int, msgspec.Meta(ge=0)] = 0   # close a connection after this
                                            # many application messages on it; 0 = never
    cancel_on_disconnect: bool = False      # a session that drops has its live orders cancelled
    seed: int = 0                           # of the RNG behind reject_ratio and drop_ratio


class SimLiquidity(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The simulator's market maker: per symbol with a ref_price, `levels` bids and asks of
    `qty` each, the best `spread_ticks` ticks from ref_price and each further level
    `level_ticks` ticks out; a level filled completely is quoted again."""
    enabled: bool = True
    levels: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    qty: Annotated[int, msgspec.Meta(ge=1)] = 1000          # rounded up to lot and min_qty
    spread_ticks: Annotated[int, msgspec.Meta(ge=1)] = 1
    level_ticks: Annotated[int, msgspec.Meta(ge=1)] = 1


class VenueSimConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str = "SIM"                       # the venue's name, in logs and status
    host: str = "127.0.0.1"
    port: Port = 9900                       # the FIX 4.4 acceptor
    comp_id: CompId = "SIM"                 # our SenderCompID
    accept_comp_ids: list[CompId] = msgspec.field(default_factory=lambda: ["OMS"])
    accounts: list[str] = []                # Account(1) names taken on every session besides
                                            # the session's own (named after its CompID)
    control_port: Port = 0                  # newline-delimited JSON control channel; 0 = off
    state_dir: str = ""                     # session stores (and journal); "" = a temp dir
    journal: bool = False                   # journal the simulator's engine in state_dir
    max_orders: Annotated[int, msgspec.Meta(ge=1024)] = 1 << 18
    wait_strategy: Literal["busy-spin", "yield", "sleep"] = "sleep"   # the engine thread's
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_file: str = ""                      # "" = standard error
    symbols: list[SymbolConfig] = msgspec.field(default_factory=_demo_symbols)
    faults: SimFaults = msgspec.field(default_factory=SimFaults)
    liquidity: SimLiquidity = msgspec.field(default_factory=SimLiquidity)

    def __post_init__(self) -> None:
        def fail(msg: str, path: str):
            raise msgspec.ValidationError(f"{msg} - at `$.{path}`")

        if not self.accept_comp_ids:
            fail("at least one CompID to accept", "accept_comp_ids")
        if len(set(self.accept_comp_ids)) != len(self.accept_comp_ids):
            fail("duplicate CompID", "accept_comp_ids")
        if len(self.accept_comp_ids) >= MM_SESSION_ID:
            fail("too many sessions", "accept_comp_ids")
        names = set(self.accept_comp_ids)
        for i, a in enumerate(self.accounts):
            if a == MM_ACCOUNT or a in names:
                fail(f"account name {a!r} is taken", f"accounts[{i}]")
        if MM_ACCOUNT in names:
            fail(f"{MM_ACCOUNT} is the market maker's account", "accept_comp_ids")
        ids = set()
        for i, s in enumerate(self.symbols):
            if s.symbol_id in ids:
                fail(f"duplicate symbol_id {s.symbol_id}", f"symbols[{i}].symbol_id")
            ids.add(s.symbol_id)
            if s.venues:
                fail("a venue-sim symbol is listed on no external venue", f"symbols[{i}].venues")


def load_sim_config(path: str | Path) -> VenueSimConfig:
    """The config at `path`.  Raises msgspec.ValidationError / msgspec.DecodeError naming
    the bad field."""
    return msgspec.toml.decode(Path(path).read_bytes(), type=VenueSimConfig)


def default_sim_config(name: str, port: int, comp_id: str, accept_comp_ids: list[str],
                       symbols: list[SymbolConfig] | None = None, **fields) -> VenueSimConfig:
    """A simulator with the demo symbols (or `symbols`); `fields` sets any other field
    (`faults=SimFaults(...)`, `control_port=...`)."""
    if symbols is not None:
        fields["symbols"] = list(symbols)
    return VenueSimConfig(name=name, port=port, comp_id=comp_id,
                          accept_comp_ids=list(accept_comp_ids), **fields)


def server_config(cfg: VenueSimConfig) -> ServerConfig:
    """The `oms serve` configuration the simulator runs: session i + 1 for accepted CompID i,
    account 0 the market maker's, account i + 1 CompID i's, then the shared accounts."""
    state_dir = cfg.state_dir or tempfile.mkdtemp(prefix=f"venue-sim-{cfg.name}-")
    accounts = [AccountConfig(0, MM_ACCOUNT)]
    accounts += [AccountConfig(i + 1, c) for i, c in enumerate(cfg.accept_comp_ids)]
    base = len(accounts)
    accounts += [AccountConfig(base + i, a) for i, a in enumerate(cfg.accounts)]
    engine = EngineConfig(max_orders=cfg.max_orders, idem_capacity=cfg.max_orders * 2,
                          max_accounts=max(1024, len(accounts)),
                          max_symbols=max([256] + [s.symbol_id + 1 for s in cfg.symbols]),
                          wait_strategy=cfg.wait_strategy, symbols=list(cfg.symbols),
                          accounts=accounts)
    sessions = [FixSessionConfig(session_id=i + 1, sender_comp_id=c,
                                 accounts=[c] + list(cfg.accounts))
                for i, c in enumerate(cfg.accept_comp_ids)]
    settings = ServerSettings(host=cfg.host, fix_port=cfg.port, binary_port=0,
                              state_dir=state_dir, journal=cfg.journal, comp_id=cfg.comp_id,
                              log_level=cfg.log_level, log_file=cfg.log_file)
    # an exchange does not throttle its members here: the OMS's own limits are under test
    unlimited = RateTier(orders_per_second=0, orders_per_minute=0)
    return ServerConfig(server=settings, engine=engine, rate_limits={"default": unlimited},
                        sessions=sessions)


# -- TOML output (msgspec.toml.encode needs tomli_w, which oms does not depend on) --

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def _toml_table(d: dict, prefix: str, out: list[str]) -> None:
    tables = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append((k, v, False))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            tables.append((k, v, True))
        else:
            out.append(f"{k} = {_toml_value(v)}")
    for k, v, array in tables:
        name = f"{prefix}{k}"
        for item in (v if array else [v]):
            out.append("")
            out.append(f"[[{name}]]" if array else f"[{name}]")
            _toml_table(item, f"{name}.", out)


def to_toml(cfg: VenueSimConfig) -> str:
    out: list[str] = [f"# oms venue-sim: {cfg.name}"]
    _toml_table(msgspec.to_builtins(cfg), "", out)
    return "\n".join(out) + "\n"


def write_sim_config(cfg: VenueSimConfig, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(to_toml(cfg))
    return path
