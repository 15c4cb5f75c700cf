"""Engine configuration: capacities, reference data and risk limits.

Typed with msgspec so that a bad value is reported with the exact path of the field
(``Expected `int` >= 1, got 0 - at `$.symbols[2].tick_size```).  Prices and notionals here
are already integers in price units (1/PRICE_SCALE); ``oms.prices`` converts decimals at the
edge.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from oms.layout import LIMIT_MAX, MAX_PRICE, MAX_QTY, MAX_VENUES, PRICE_SCALE

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Limit = Annotated[int, msgspec.Meta(ge=0, le=LIMIT_MAX)]
PowerOfTwo = Annotated[int, msgspec.Meta(ge=2, le=1 << 30)]


OrdTypeName = Literal["market", "limit"]
TifName = Literal["day", "gtc", "ioc", "fok", "gtd", "at_open", "at_close"]
FeatureName = Literal["iceberg", "post_only", "min_qty"]


class VenueConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An external venue as the router sees it (docs/engine.md, External venues).  How to
    reach it (host, port, CompIDs) is the gateway's business: `oms.gateway.config`."""
    venue_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_VENUES - 1)]
    name: str
    # the venue types it takes: the OMS holds stop-family orders and sends them as the market
    # or limit orders they become when triggered
    ord_types: list[OrdTypeName] = msgspec.field(default_factory=lambda: ["market", "limit"])
    tifs: list[TifName] = msgspec.field(
        default_factory=lambda: ["day", "gtc", "ioc", "fok", "gtd"])
    features: list[FeatureName] = []
    maker_fee: Annotated[int, msgspec.Meta(ge=-PRICE_SCALE, le=PRICE_SCALE)] = 0  # price units/share
    taker_fee: Annotated[int, msgspec.Meta(ge=-PRICE_SCALE, le=PRICE_SCALE)] = 0
    cancel_on_disconnect: bool = False


class VenueListing(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    venue: str                                    # a VenueConfig name
    tick_size: NonNegative = 0                    # 0: the symbol's own
    lot_size: NonNegative = 0


class SymbolConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    symbol_id: Annotated[int, msgspec.Meta(ge=0)]
    name: str
    tick_size: Positive = 100                     # 0.01
    lot_size: Positive = 1
    min_qty: Positive = 1
    max_qty: Annotated[int, msgspec.Meta(ge=1, le=MAX_QTY)] = 1_000_000
    ref_price: Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)] = 0
    collar_bps: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    open_sec: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 0
    close_sec: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 86_400
    halted: bool = False
    market_protection_bps: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    matching: Literal["price_time", "pro_rata"] = "price_time"
    pro_rata_min_alloc: Positive = 1
    # the reference a held (stop-family) order compares its trigger with: the last trade,
    # the best price of the opposite side (bid_ask: a BUY reads the ask, a SELL the bid), or
    # the mid of the two (docs/engine.md, Triggers)
    trigger_source: Literal["last", "bid_ask", "mid"] = "last"
    # routing: the external venues that list it (none: every order goes to INTERNAL unless a
    # client names a venue), and how the router picks one when the client does not
    venues: list[VenueListing] = []
    route_rule: Literal["primary", "cheapest"] = "primary"
    primary_venue: str | None = None              # default: the first listed


class AccountConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    account_id: Annotated[int, msgspec.Meta(ge=0)]
    name: str
    credit_limit: Limit = LIMIT_MAX
    max_order_qty: Limit = MAX_QTY
    max_order_notional: Limit = LIMIT_MAX
    max_position: Limit = LIMIT_MAX
    gross_limit: Limit = LIMIT_MAX
    concentration_pct: Annotated[int, msgspec.Meta(ge=0, le=100)] = 100
    enabled: bool = True
    stp_mode: Literal["none", "cancel_newest", "cancel_oldest", "decrement"] = "none"


class EngineConfig(msgspec.Struct, forbid_unknown_fields=True):
    max_orders: Positive = 2_000_000
    max_symbols: Positive = 256
    max_accounts: Positive = 1024
    idem_capacity: Positive = 2_000_000
    max_levels: Positive = 4096              # price levels per book side
    input_ring: PowerOfTwo = 1 << 14
    output_ring: PowerOfTwo = 1 << 16
    prefault: bool = False                   # make every structure resident at start
    cpu: int = -1                            # core to pin the business thread to; -1 = none
    wait_strategy: str = "yield"             # busy-spin | yield | sleep
    journal_dir: str | None = None           # None: no journal (nothing survives a restart)
    durability: str = "sync"                 # sync: ack after fdatasync; async: after memcpy
    segment_bytes: Annotated[int, msgspec.Meta(ge=1 << 16)] = 64 << 20
    snapshot_every_events: NonNegative = 10_000   # 0: no periodic snapshots
    snapshot_every_seconds: Positive = 300
    snapshot_min_interval_seconds: NonNegative = 1  # the copy grows with the state
    snapshot_retention: Positive = 3
    history_index_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0  # live history index; 0 = off
    symbols: list[SymbolConfig] = []
    accounts: list[AccountConfig] = []
    venues: list[VenueConfig] = []

    def __post_init__(self) -> None:
        for name in ("input_ring", "output_ring"):
            value = getattr(self, name)
            if value & (value - 1):
                raise msgspec.ValidationError(f"Expected a power of two - at `$.{name}`")
        if self.durability not in ("sync", "async"):
            raise msgspec.ValidationError("Expected `sync` or `async` - at `$.durability`")
        if self.wait_strategy not in ("busy-spin", "yield", "sleep"):
            raise msgspec.ValidationError(
                "Expected one of busy-spin, yield, sleep - at `$.wait_strategy`")
        for i, sym in enumerate(self.symbols):
            if sym.symbol_id >= self.max_symbols:
                raise msgspec.ValidationError(
                    f"symbol_id must be < max_symbols ({self.max_symbols}) - at `$.symbols[{i}]`")
            if not (sym.min_qty <= sym.max_qty and sym.open_sec < sym.close_sec):
                raise msgspec.ValidationError(
                    f"need min_qty <= max_qty and open_sec < close_sec - at `$.symbols[{i}]`")
        names = {}
        for i, v in enumerate(self.venues):
            if v.name in names or v.venue_id in names.values() or v.name.upper() == "INTERNAL":
                raise msgspec.ValidationError(
                    f"venue names and ids must be unique and not INTERNAL - at `$.venues[{i}]`")
            names[v.name] = v.venue_id
        for i, sym in enumerate(self.symbols):
            for j, listing in enumerate(sym.venues):
                if listing.venue not in names:
                    raise msgspec.ValidationError(
                        f"unknown venue {listing.venue!r} - at `$.symbols[{i}].venues[{j}]`")
            if sym.primary_venue is not None and sym.primary_venue not in {
                    x.venue for x in sym.venues}:
                raise msgspec.ValidationError(
                    f"primary_venue must be one of the listed venues - at `$.symbols[{i}]`")
        for i, acc in enumerate(self.accounts):
            if acc.account_id >= self.max_accounts:
                raise msgspec.ValidationError(
                    f"account_id must be < max_accounts ({self.max_accounts}) - at `$.accounts[{i}]`")


def venue_id_of(config: EngineConfig, name: str) -> int:
    """The venue id of a venue name (INTERNAL is 0); KeyError when not configured."""
    if name.upper() == "INTERNAL":
        return 0
    for v in config.venues:
        if v.name == name:
            return v.venue_id
    raise KeyError(name)


def px(value: float | str | int) -> int:
    """A decimal price (e.g. ``"101.25"``) in integer price units, rounding to the nearest."""
    from decimal import Decimal
    return int((Decimal(str(value)) * PRICE_SCALE).to_integral_value())


def demo_config(**overrides) -> EngineConfig:
    """Built-in reference data: four symbols trading around the clock, three accounts."""
    symbols = [
        SymbolConfig(0, "AAPL", tick_size=100, ref_price=px("190.00"), collar_bps=1000),
        SymbolConfig(1, "MSFT", tick_size=100, ref_price=px("420.00"), collar_bps=1000),
        SymbolConfig(2, "ESZ6", tick_size=2500, lot_size=1, ref_price=px("6000.00"),
                     collar_bps=500),
        SymbolConfig(3, "EURUSD", tick_size=1, lot_size=1000, min_qty=1000,
                     max_qty=50_000_000, ref_price=px("1.0850"), collar_bps=200),
    ]
    accounts = [
        AccountConfig(0, "MM-DESK"),
        AccountConfig(1, "FUND-A", credit_limit=px(5_000_000), max_order_qty=100_000,
                      max_order_notional=px(1_000_000), max_position=200_000,
                      gross_limit=px(10_000_000), concentration_pct=60),
        AccountConfig(2, "RETAIL-7", credit_limit=px(50_000), max_order_qty=1_000,
                      max_order_notional=px(25_000), max_position=2_000,
                      gross_limit=px(100_000), concentration_pct=100),
    ]
    params = dict(max_orders=1 << 16, idem_capacity=1 << 16, symbols=symbols, accounts=accounts)
    params.update(overrides)
    return EngineConfig(**params)


DEMO_VENUES = ("SIM-A", "SIM-B")


def demo_venue_config(**overrides) -> EngineConfig:
    """The demo reference data with two external venues, SIM-A and SIM-B (the two
    `oms venue-sim` processes `oms serve` starts on its embedded defaults), and a fifth
    symbol, NVDA, listed at both and routed to the cheaper (SIM-B's taker fee is lower).
    The other four symbols list nowhere: they stay on the in-process venue."""
    base = demo_config()
    venues = [VenueConfig(1, "SIM-A", taker_fee=30, maker_fee=-20, cancel_on_disconnect=True),
              VenueConfig(2, "SIM-B", taker_fee=25, maker_fee=-15, cancel_on_disconnect=True)]
    nvda = SymbolConfig(4, "NVDA", tick_size=100, ref_price=px("140.00"), collar_bps=1000,
                        venues=[VenueListing(v) for v in DEMO_VENUES], route_rule="cheapest")
    params = dict(max_orders=1 << 16, idem_capacity=1 << 16, symbols=list(base.symbols) + [nvda],
                  accounts=list(base.accounts), venues=venues)
    params.update(overrides)
    return EngineConfig(**params)
