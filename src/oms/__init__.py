"""oms: an order management system with an LMAX-style compiled core.

`Engine` runs the business logic on its own pinned thread behind the input ring; `Core` is
the same logic driven directly (tests, replay).  Records and enums are in `oms.layout`,
reject codes in `oms.codes`, configuration in `oms.config`.
"""
from oms.codes import RejectCode, message
from oms.config import AccountConfig, EngineConfig, SymbolConfig, demo_config, px
from oms.layout import (PRICE_SCALE, AdminOp, CommandType, EventType, ExecInst, ExecType,
                        MassCancelScope, OrdStatus, OrdType, Side, TimeInForce)

_COMPILED = ("Core", "Engine", "EngineError")


def __getattr__(name):
    # The compiled core loads on first use, so that the pure-Python modules (layout, codes,
    # config) import even when the extension is not built or is being regenerated.
    if name in _COMPILED:
        from oms import _engine
        return getattr(_engine, name)
    raise AttributeError(f"module 'oms' has no attribute {name!r}")


__all__ = [
    "Core", "Engine", "EngineError", "RejectCode", "message", "AccountConfig", "EngineConfig",
    "SymbolConfig", "demo_config", "px", "PRICE_SCALE", "AdminOp", "CommandType", "EventType",
    "ExecInst", "ExecType", "MassCancelScope", "OrdStatus", "OrdType", "Side", "TimeInForce",
]
