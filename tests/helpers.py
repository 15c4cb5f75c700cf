"""Small builders for command arrays and configs, shared by the engine tests.

`cmd(kind, **fields)` is one COMMAND_DTYPE record (an array of length 1, ready for
`Core.process`); `cmds([...])` a batch from dicts.  `new`, `cancel`, `replace`, `status`,
`admin`, ... are `cmd` with the fields of that command type and sensible defaults.
"""

from __future__ import annotations

import numpy as np

from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.layout import (
    COMMAND_DTYPE,
    AdminOp,
    CommandType as K,
    OrdType,
    Side,
    TimeInForce,
)

NS = 10**9
DAY_NS = 86_400 * NS
T0 = 20_000 * DAY_NS + 12 * 3600 * NS       # 12:00:00 UTC on some day
PX = 1_000_000                               # 100.00 in price units

# Command-field aliases, so builders read like the API (session=..., symbol=...).
_ALIASES = {"session": "session_id", "account": "account_id", "symbol": "symbol_id",
            "cl": "cl_ord_id", "orig": "orig_cl_ord_id", "t": "time_ns",
            "strategy": "strategy_id", "version": "expected_version"}


def _record(kind: int, fields: dict) -> np.ndarray:
    rec = np.zeros(1, dtype=COMMAND_DTYPE)
    rec["kind"] = int(kind)
    for name, value in fields.items():
        name = _ALIASES.get(name, name)
        if name not in COMMAND_DTYPE.names or name.startswith("_") or name == "kind":
            raise KeyError(f"{name!r} is not a command field")
        rec[name] = value
    return rec


def cmd(kind: int, **fields) -> np.ndarray:
    """One command record (array of length 1); `time_ns` defaults to T0."""
    fields.setdefault("time_ns", fields.pop("t", T0))
    return _record(kind, fields)


def cmds(records) -> np.ndarray:
    """A batch: each item is a dict (with a `kind` key) or an array made by `cmd`."""
    parts = []
    for r in records:
        if isinstance(r, np.ndarray):
            parts.append(r)
        else:
            r = dict(r)
            parts.append(cmd(r.pop("kind"), **r))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=COMMAND_DTYPE)


def new(cl=1, side=Side.BUY, qty=10, price=PX, ord_type=OrdType.LIMIT, tif=TimeInForce.DAY,
        session=1, account=0, symbol=0, **kw) -> np.ndarray:
    return cmd(K.NEW, cl_ord_id=cl, side=side, qty=qty, price=price, ord_type=ord_type,
               tif=tif, session_id=session, account_id=account, symbol_id=symbol, **kw)


def market(cl=1, side=Side.BUY, qty=10, **kw) -> np.ndarray:
    return new(cl, side=side, qty=qty, price=0, ord_type=OrdType.MARKET, **kw)


def cancel(order_id=0, orig=0, cl=0, session=1, **kw) -> np.ndarray:
    return cmd(K.CANCEL, order_id=order_id, orig_cl_ord_id=orig, cl_ord_id=cl,
               session_id=session, **kw)


def replace(order_id=0, orig=0, cl=0, price=PX, qty=10, session=1, **kw) -> np.ndarray:
    return cmd(K.REPLACE, order_id=order_id, orig_cl_ord_id=orig, cl_ord_id=cl, price=price,
               qty=qty, session_id=session, **kw)


def status(order_id=0, orig=0, session=1, **kw) -> np.ndarray:
    return cmd(K.STATUS, order_id=order_id, orig_cl_ord_id=orig, session_id=session, **kw)


def mass_cancel(scope=0, **kw) -> np.ndarray:
    return cmd(K.MASS_CANCEL, admin_op=int(scope), **kw)


def market_data(symbol=0, price=PX, **kw) -> np.ndarray:
    return cmd(K.MARKET_DATA, symbol_id=symbol, price=price, **kw)


def admin(op, **kw) -> np.ndarray:
    return cmd(K.ADMIN, admin_op=int(op), **kw)


def set_symbol(symbol, tick=100, lot=1, min_qty=1, max_qty=1_000_000, ref=0, collar=0,
               open_sec=0, close_sec=86_400, **kw) -> np.ndarray:
    """ADMIN SET_SYMBOL with its field mapping (docs/engine.md)."""
    return admin(AdminOp.SET_SYMBOL, symbol_id=symbol, price=tick, qty=lot, min_qty=min_qty,
                 display_qty=max_qty, stop_price=ref, expire_time_ns=collar, order_id=open_sec,
                 orig_cl_ord_id=close_sec, **kw)


def set_account(account, credit=0, max_order_qty=0, max_order_notional=0, max_position=0,
                gross=0, pct=0, enabled=1, **kw) -> np.ndarray:
    """ADMIN SET_ACCOUNT with its field mapping (docs/engine.md)."""
    return admin(AdminOp.SET_ACCOUNT, account_id=account, price=credit, qty=max_order_qty,
                 stop_price=max_order_notional, display_qty=max_position, min_qty=gross,
                 expire_time_ns=pct, flags=enabled, **kw)


def config(symbols=None, accounts=None, **capacities) -> EngineConfig:
    """A small engine: one plain symbol trading around the clock and two unlimited accounts
    unless given; small capacities so that a test allocates next to nothing."""
    if symbols is None:
        symbols = [SymbolConfig(0, "AAA", tick_size=100, ref_price=PX)]
    if accounts is None:
        accounts = [AccountConfig(0, "A0"), AccountConfig(1, "A1")]
    params = dict(max_orders=64, max_symbols=8, max_accounts=8, idem_capacity=64,
                  max_levels=16, input_ring=1 << 10, output_ring=1 << 12)
    params.update(capacities)
    return EngineConfig(symbols=symbols, accounts=accounts, **params)


def one(events):
    assert len(events) == 1, events
    return events[0]


def by_order(events, order_id):
    return [e for e in events if e["order_id"] == order_id]
