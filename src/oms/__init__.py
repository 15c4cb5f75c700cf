"""oms: an order management system with an LMAX-style compiled core.

`Engine` runs the business logic on its own pinned thread behind the input ring; `Core` is
the same logic driven directly (tests, replay).  Records and enums are in `oms.layout`,
reject codes in `oms.codes`, configuration in `oms.config`.
"""
from oms._engine import Core, Engine, EngineError
from oms.codes import RejectCode, message
from oms.config import AccountConfig, EngineConfig, SymbolConfig, demo_config, px
from oms.layout import (PRICE_SCALE, AdminOp, CommandType, EventType, ExecType,
                        MassCancelScope, OrdStatus, OrdType, Side, TimeInForce)

__all__ = [
    "Core", "Engine", "EngineError", "RejectCode", "message", "AccountConfig", "EngineConfig",
    "SymbolConfig", "demo_config", "px", "PRICE_SCALE", "AdminOp", "CommandType", "EventType",
    "ExecType", "MassCancelScope", "OrdStatus", "OrdType", "Side", "TimeInForce",
]
