"""A mixed command stream generated with numpy (no Python per command), for the journal's
large tests and benchmarks/journal_bench.py: new resting orders, marketable orders (limit and
market), cancels and replaces, over a few symbols.

Every NEW is valid and accepted by `workload_config()` (unlimited risk, ample capacity), so
the k-th NEW gets order id k and cancels and replaces can aim at recent orders by id without
following the book; some of their targets are filled or cancelled by then (rejects are part
of the mix).  ClOrdIDs are the command's position + 1, so they never repeat.
"""

from __future__ import annotations

import numpy as np

from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.layout import COMMAND_DTYPE, CommandType as K, OrdType, Side, TimeInForce

PX = 1_000_000                 # 100.00
TICK = 100
T0 = 20_000 * 86_400 * 10**9 + 12 * 3600 * 10**9
N_SYMBOLS = 4
MIX = dict(resting=0.45, marketable=0.15, cancel=0.22, replace=0.18)


def workload_config(n_commands: int, **overrides) -> EngineConfig:
    cap = 1 << max(12, int(n_commands).bit_length())
    params = dict(max_orders=cap, max_symbols=N_SYMBOLS, max_accounts=4, idem_capacity=cap,
                  max_levels=256, input_ring=1 << 14, output_ring=1 << 16,
                  symbols=[SymbolConfig(i, f"S{i}", tick_size=TICK, ref_price=PX)
                           for i in range(N_SYMBOLS)],
                  accounts=[AccountConfig(0, "A0"), AccountConfig(1, "A1")])
    params.update(overrides)
    return EngineConfig(**params)


def mixed_commands(n: int, seed: int = 1, window: int = 64) -> np.ndarray:
    """`n` commands; cancels and replaces aim at one of the last `window` orders."""
    rng = np.random.default_rng(seed)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    u = rng.random(n)
    edges = np.cumsum([MIX["resting"], MIX["marketable"], MIX["cancel"]])
    kind = np.searchsorted(edges, u)            # 0 resting, 1 marketable, 2 cancel, 3 replace
    is_new = kind <= 1
    rank = np.cumsum(is_new)                    # NEWs so far, this one included
    side = rng.integers(Side.BUY, Side.SELL + 1, n).astype(np.uint8)
    sign = np.where(side == Side.BUY, 1, -1)
    ticks = rng.integers(1, 40, n)

    cmds["time_ns"] = T0 + np.arange(n, dtype=np.int64) * 1000
    cmds["session_id"] = 1
    cmds["account_id"] = rng.integers(0, 2, n)
    cmds["symbol_id"] = rng.integers(0, N_SYMBOLS, n)
    cmds["cl_ord_id"] = np.arange(1, n + 1, dtype=np.uint64)
    cmds["kind"] = np.where(is_new, K.NEW, np.where(kind == 2, K.CANCEL, K.REPLACE))
    cmds["side"] = np.where(is_new, side, 0)
    cmds["ord_type"] = np.where(is_new, OrdType.LIMIT, 0)
    cmds["tif"] = np.where(is_new, TimeInForce.DAY, 0)
    cmds["qty"] = rng.integers(1, 100, n) * 10

    price = np.where(kind == 0, PX - sign * ticks * TICK, PX + sign * ticks * TICK)
    market = (kind == 1) & (rng.random(n) < 0.3)
    cmds["price"] = np.where(market, 0, price)
    cmds["ord_type"] = np.where(market, OrdType.MARKET, cmds["ord_type"])
    ioc = (kind == 1) & ~market & (rng.random(n) < 0.5)
    cmds["tif"] = np.where(ioc, TimeInForce.IOC, cmds["tif"])

    # cancels / replaces: an order among the last `window` created (order id = NEW rank)
    back = rng.integers(0, window, n)
    target = np.maximum(rank - back, 1)
    cmds["order_id"] = np.where(is_new, 0, target)
    rep = kind == 3
    cmds["price"] = np.where(rep, PX + rng.integers(-40, 41, n) * TICK, cmds["price"])
    cmds["qty"] = np.where(rep, rng.integers(1, 120, n) * 10, cmds["qty"])
    return cmds
