"""The one declaration of every fixed-size record and enum the compiled core uses.

The business thread sees these records as C structs (``cext/oms/_layout.pxd``, generated from this
file by ``python -m oms.layout``) and Python sees them as numpy structured dtypes (built
below).  Declaring them once here means the two views cannot drift: ``tests/test_layout.py``
checks that the committed ``.pxd`` is exactly what this module generates, and the engine
checks at import that ``sizeof`` of each struct equals the dtype's itemsize.

Prices are fixed-point integers (``PRICE_SCALE`` units per currency unit); quantities are
integers.  There is no floating point in the core.
"""

from __future__ import annotations

import enum
import sys

import numpy as np

PRICE_SCALE = 10_000          # 4 decimal places: 101.25 -> 1_012_500
MAX_PRICE = 10**10            # 1,000,000.0000 — keeps qty * price inside int64
MAX_QTY = 10**8               # with MAX_PRICE, a single notional stays below 1e18
NS_PER_SEC = 1_000_000_000
IDEMPOTENCY_TTL_NS = 24 * 3600 * NS_PER_SEC
LIMIT_MAX = 4 * 10**16        # cap of every risk limit, so sums of usage stay inside int64


# ---------------------------------------------------------------------------------------------
# Enums.  Stable numbers: they are on the wire and in the journal.  Zero is never a valid
# value of a client-supplied enum, so an all-zero field is always caught by validation.
# ---------------------------------------------------------------------------------------------

class CommandType(enum.IntEnum):
    NEW = 1
    CANCEL = 2
    REPLACE = 3
    MASS_CANCEL = 4
    STATUS = 5
    MARKET_DATA = 6
    VENUE_EXEC = 7
    TIMER = 8
    ADMIN = 9


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2


class OrdType(enum.IntEnum):
    MARKET = 1
    LIMIT = 2
    STOP = 3
    STOP_LIMIT = 4
    MARKET_IF_TOUCHED = 5
    LIMIT_IF_TOUCHED = 6
    TRAILING_STOP = 7


class TimeInForce(enum.IntEnum):
    DAY = 1
    GTC = 2
    IOC = 3
    FOK = 4
    GTD = 5
    AT_OPEN = 6
    AT_CLOSE = 7


class ExecInst(enum.IntFlag):
    NONE = 0
    POST_ONLY = 1


class OrdStatus(enum.IntEnum):
    """The order lifecycle of the seed, plus the pending states of cancel and replace."""
    PENDING = 1
    VALIDATED = 2
    ROUTED = 3
    ACCEPTED = 4
    PARTIALLY_FILLED = 5
    FILLED = 6
    CANCELLED = 7
    REJECTED = 8
    EXPIRED = 9
    PENDING_CANCEL = 10
    PENDING_REPLACE = 11


class EventType(enum.IntEnum):
    EXEC_REPORT = 1
    CANCEL_REJECT = 2
    MASS_CANCEL_REPORT = 3
    ADMIN_REPORT = 4
    VENUE_REQUEST = 5                # for a venue adapter: send this to an external venue


class ExecType(enum.IntEnum):
    NEW = 1
    TRADE = 2
    CANCELED = 3
    REPLACED = 4
    REJECTED = 5
    EXPIRED = 6
    ORDER_STATUS = 7
    PENDING_CANCEL = 8
    PENDING_REPLACE = 9
    TRIGGERED = 10
    RESTATED = 11
    PENDING_NEW = 12                 # routed to an external venue, not acknowledged yet
    TRADE_CANCEL = 13                # a venue busted a trade (FIX ExecType H)
    TRADE_CORRECT = 14               # a venue corrected a trade (FIX ExecType G)


class StpMode(enum.IntEnum):
    NONE = 0
    CANCEL_NEWEST = 1
    CANCEL_OLDEST = 2
    DECREMENT = 3


class Matching(enum.IntEnum):
    PRICE_TIME = 0
    PRO_RATA = 1


class TriggerSource(enum.IntEnum):
    LAST = 0
    BID_ASK = 1
    MID = 2


class Held(enum.IntEnum):
    """Order.held: where a live order is that is not in the venue's book."""
    NO = 0
    FOR_TRIGGER = 1
    FOR_PARENT = 2
    FOR_AUCTION = 3


class CxlRejResponseTo(enum.IntEnum):
    CANCEL = 1
    REPLACE = 2


class AdminOp(enum.IntEnum):
    """Sub-operation of an ADMIN command; the field mapping of each is in docs/engine.md."""
    SET_SYMBOL = 1
    SET_ACCOUNT = 2
    HALT_SYMBOL = 3
    RESUME_SYMBOL = 4
    KILL_SWITCH_ON = 5
    KILL_SWITCH_OFF = 6


MAX_VENUES = 16                      # venue ids 0 (INTERNAL) .. 15
VENUE_INTERNAL = 0


class VenueRequest(enum.IntEnum):
    """Event.exec_type of a VENUE_REQUEST event: what to send the venue."""
    NEW_ORDER = 1
    CANCEL = 2
    REPLACE = 3


class VenueExec(enum.IntEnum):
    """Command.admin_op of a VENUE_EXEC command: what the venue said (docs/engine.md)."""
    ACK = 1
    REJECT = 2
    FILL = 3
    CANCELED = 4
    REPLACED = 5
    CANCEL_REJECT = 6
    EXPIRED = 7
    BUST = 8
    CORRECT = 9
    SESSION = 10
    TIMEOUT = 11


class VenueState(enum.IntEnum):
    """A venue's session as the router sees it (set by VENUE_EXEC SESSION)."""
    DOWN = 0
    UP = 1
    DEGRADED = 2                     # connected but unhealthy: the router passes it over


class VenueOrderState(enum.IntEnum):
    """Order.venue_state: where an order routed to an external venue stands with it."""
    NOT_SENT = 0
    NEW_SENT = 1
    LIVE = 2
    CANCEL_SENT = 3
    REPLACE_SENT = 4
    DONE = 5


class RouteRule(enum.IntEnum):
    PRIMARY = 0
    CHEAPEST = 1


class VenueFeature(enum.IntFlag):
    NONE = 0
    ICEBERG = 1
    POST_ONLY = 2
    MIN_QTY = 4


class MassCancelScope(enum.IntFlag):
    """Filters of a MASS_CANCEL command (a bit set means the field must match)."""
    ALL = 0
    SESSION = 1
    ACCOUNT = 2
    SYMBOL = 4
    SIDE = 8
    STRATEGY = 16


# ---------------------------------------------------------------------------------------------
# Records.  (field, C type).  `physical_fields` lays each out with natural alignment, explicit
# pad fields and a `_reserved` tail to a multiple of 64 bytes: whole cache lines, and room for
# later fields without a new size.
# ---------------------------------------------------------------------------------------------

_C_TO_NUMPY = {
    "int64_t": "<i8", "uint64_t": "<u8", "int32_t": "<i4", "uint32_t": "<u4",
    "uint16_t": "<u2", "uint8_t": "u1",
}

COMMAND_FIELDS = [
    ("seq", "int64_t"),              # input sequence, assigned by the engine on consumption
    ("time_ns", "int64_t"),          # command time (ns since the epoch), stamped at ingress
    ("kind", "uint8_t"),             # CommandType
    ("side", "uint8_t"),
    ("ord_type", "uint8_t"),
    ("tif", "uint8_t"),
    ("session_id", "uint32_t"),
    ("account_id", "uint32_t"),
    ("symbol_id", "uint32_t"),
    ("cl_ord_id", "uint64_t"),
    ("orig_cl_ord_id", "uint64_t"),
    ("order_id", "uint64_t"),
    ("price", "int64_t"),
    ("stop_price", "int64_t"),
    ("qty", "int64_t"),
    ("display_qty", "int64_t"),
    ("min_qty", "int64_t"),
    ("expire_time_ns", "int64_t"),
    ("idem_hi", "uint64_t"),         # client idempotency key (a UUID), high 64 bits
    ("idem_lo", "uint64_t"),
    ("expected_version", "uint32_t"),  # optimistic lock: 0 = do not check
    ("strategy_id", "uint32_t"),
    ("admin_op", "uint16_t"),        # AdminOp for ADMIN; MassCancelScope for MASS_CANCEL
    ("flags", "uint16_t"),
    ("trail_amount", "int64_t"),     # trailing stop offset in price units
    ("trail_bps", "uint32_t"),       # ... or in basis points of the reference price
    ("exec_inst", "uint8_t"),        # ExecInst bits
    ("parent_order_id", "uint64_t"),  # OTO: wait for this order to fill (0 = none)
    ("oco_order_id", "uint64_t"),    # OCO: the peer order (0 = none)
    ("ex_destination", "uint16_t"),  # NEW: 0 = router chooses, 1 = INTERNAL, d = venue d - 1
    ("venue_id", "uint16_t"),        # VENUE_EXEC: the venue that speaks
    ("reason", "uint16_t"),          # VENUE_EXEC: the venue's reason as one of our codes
    ("venue_seq", "uint64_t"),       # VENUE_EXEC: the venue session's MsgSeqNum (0 = unchecked)
]

EVENT_FIELDS = [
    ("seq", "int64_t"),              # event sequence, assigned by the engine
    ("cmd_seq", "int64_t"),          # input sequence of the command that produced it
    ("time_ns", "int64_t"),          # command time of that command
    ("kind", "uint8_t"),             # EventType
    ("exec_type", "uint8_t"),
    ("status", "uint8_t"),           # OrdStatus after the change
    ("side", "uint8_t"),
    ("ord_type", "uint8_t"),
    ("tif", "uint8_t"),
    ("reject_code", "uint16_t"),     # RejectCode (oms.codes); 0 = none
    ("session_id", "uint32_t"),
    ("account_id", "uint32_t"),
    ("symbol_id", "uint32_t"),
    ("version", "uint32_t"),
    ("order_id", "uint64_t"),
    ("cl_ord_id", "uint64_t"),
    ("orig_cl_ord_id", "uint64_t"),
    ("price", "int64_t"),
    ("qty", "int64_t"),
    ("cum_qty", "int64_t"),
    ("leaves_qty", "int64_t"),
    ("avg_px", "int64_t"),
    ("last_px", "int64_t"),
    ("last_qty", "int64_t"),
    ("trade_id", "uint64_t"),        # match id of a TRADE; count for MASS_CANCEL_REPORT
    ("response_to", "uint8_t"),      # CxlRejResponseTo for CANCEL_REJECT
    ("strategy_id", "uint32_t"),
    ("stop_price", "int64_t"),       # the order's stop price (stop family)
    ("trigger_px", "int64_t"),       # its trigger: a trailing stop's moves with the market
    ("venue_id", "uint16_t"),        # the venue the order was routed to (0 = INTERNAL)
    ("venue_cl_ord_id", "uint64_t"),  # VENUE_REQUEST: the ClOrdID this request carries
    ("venue_orig_cl_ord_id", "uint64_t"),  # ... and the one the venue holds (cancel/replace)
]

ORDER_FIELDS = [
    ("order_id", "uint64_t"),
    ("cl_ord_id", "uint64_t"),
    ("orig_cl_ord_id", "uint64_t"),
    ("price", "int64_t"),
    ("stop_price", "int64_t"),
    ("qty", "int64_t"),
    ("cum_qty", "int64_t"),
    ("leaves_qty", "int64_t"),
    ("cum_notional", "int64_t"),     # sum of last_px * last_qty, for avg_px
    ("display_qty", "int64_t"),
    ("min_qty", "int64_t"),
    ("expire_time_ns", "int64_t"),
    ("created_ns", "int64_t"),
    ("updated_ns", "int64_t"),
    ("reserved_notional", "int64_t"),  # leaves_qty * price counted in the account's risk usage
    ("session_id", "uint32_t"),
    ("account_id", "uint32_t"),
    ("symbol_id", "uint32_t"),
    ("version", "uint32_t"),
    ("strategy_id", "uint32_t"),
    ("prev", "int32_t"),             # intrusive links: book level FIFO while resting,
    ("next", "int32_t"),             # closed-order FIFO once terminal
    ("side", "uint8_t"),
    ("ord_type", "uint8_t"),
    ("tif", "uint8_t"),
    ("status", "uint8_t"),
    ("priority", "uint64_t"),        # time priority within a price level (lower first)
    ("display_leaves", "int64_t"),   # iceberg: the visible part of leaves_qty
    ("risk_px", "int64_t"),          # price the reservation is valued at
    ("trigger_px", "int64_t"),       # stop family: the price that triggers it
    ("trail_amount", "int64_t"),
    ("trail_bps", "uint32_t"),
    ("exec_inst", "uint8_t"),
    ("held", "uint8_t"),             # 1: untriggered stop family; 2: waits for its parent
    ("parent_order_id", "uint64_t"),  # contingent links (docs/engine.md, Contingent orders)
    ("oco_order_id", "uint64_t"),
    ("child_order_id", "uint64_t"),
    ("trigger_heap_pos", "int32_t"),  # engine-internal: index in its trigger group's heap
    ("pending_cl_ord_id", "uint64_t"),  # client ClOrdID of the cancel/replace at the venue
    ("venue_id", "uint16_t"),        # 0 = INTERNAL
    ("venue_live_req", "uint16_t"),  # request number of the order the venue holds
    ("venue_last_req", "uint16_t"),  # request number of the last request sent
    ("pending_code", "uint16_t"),    # reject code the OMS's own cancel in flight reports
    ("venue_state", "uint8_t"),      # VenueOrderState
    ("venue_flags", "uint8_t"),      # bit 1: CANCEL_DEFERRED
]

SYMBOL_FIELDS = [                    # reference data, one row per symbol id
    ("tick_size", "int64_t"),        # price units
    ("lot_size", "int64_t"),
    ("min_qty", "int64_t"),
    ("max_qty", "int64_t"),
    ("ref_price", "int64_t"),        # reference price: configured, then the last trade
    ("collar_bps", "int64_t"),       # price collar around ref_price; 0 = no collar
    ("open_sec", "int64_t"),         # trading session, seconds of the UTC day, [open, close)
    ("close_sec", "int64_t"),
    ("defined", "uint8_t"),
    ("halted", "uint8_t"),
    ("market_protection_bps", "int64_t"),  # market-like orders trade within ref +/- this
    ("pro_rata_min_alloc", "int64_t"),
    ("matching", "uint8_t"),         # Matching
    ("trigger_source", "uint8_t"),   # TriggerSource: the reference held orders compare with
]

ACCOUNT_FIELDS = [                   # risk limits and usage, one row per account id
    ("credit_limit", "int64_t"),     # notional of open orders (price units x qty)
    ("max_order_qty", "int64_t"),
    ("max_order_notional", "int64_t"),
    ("max_position", "int64_t"),     # per symbol, absolute net qty incl. open orders
    ("gross_limit", "int64_t"),      # position cost + open order notional
    ("concentration_pct", "int64_t"),  # one symbol's exposure as % of gross_limit
    ("open_notional", "int64_t"),    # usage: sum of reserved_notional of open orders
    ("position_cost", "int64_t"),    # usage: sum over symbols of |net_qty| * avg_px
    ("defined", "uint8_t"),
    ("enabled", "uint8_t"),
    ("stp_mode", "uint8_t"),         # StpMode: self-trade prevention of this account
]

POSITION_FIELDS = [                  # one row per (account, symbol)
    ("net_qty", "int64_t"),
    ("avg_px", "int64_t"),           # average entry price of the open position
    ("realized_pnl", "int64_t"),     # price units x qty
    ("open_buy_qty", "int64_t"),     # leaves of open buy orders
    ("open_sell_qty", "int64_t"),
    ("open_notional", "int64_t"),    # reserved notional of open orders in this symbol
    ("bought_qty", "int64_t"),
    ("sold_qty", "int64_t"),
]

STRUCTS = {
    "Command": COMMAND_FIELDS,
    "Event": EVENT_FIELDS,
    "Order": ORDER_FIELDS,
    "SymbolRef": SYMBOL_FIELDS,
    "Account": ACCOUNT_FIELDS,
    "Position": POSITION_FIELDS,
}

ENUMS = [CommandType, Side, OrdType, TimeInForce, ExecInst, OrdStatus, EventType, ExecType,
         CxlRejResponseTo, AdminOp, MassCancelScope, StpMode, Matching, TriggerSource, Held,
         VenueRequest, VenueExec, VenueState, VenueOrderState, RouteRule, VenueFeature]


_C_SIZES = {"int64_t": 8, "uint64_t": 8, "int32_t": 4, "uint32_t": 4, "uint16_t": 2,
            "uint8_t": 1}


def physical_fields(fields) -> list[tuple[str, str, int]]:
    """The record as laid out in memory: (name, C type, array length or 0), with explicit
    `_padN` byte arrays wherever alignment needs a gap and a `_reserved` tail up to a
    multiple of 64 bytes.  No padding is left implicit: the C standard lets a compiler
    store garbage into padding bytes when it writes a neighbouring member (GCC does, with
    wide stores), and the journal checksums and replay compares whole records."""
    out, offset, pads = [], 0, 0
    for name, ctype in fields:
        size = _C_SIZES[ctype]
        gap = -offset % size
        if gap:
            out.append((f"_pad{pads}", "uint8_t", gap))
            pads += 1
            offset += gap
        out.append((name, ctype, 0))
        offset += size
    tail = -offset % 64
    if tail:
        out.append(("_reserved", "uint8_t", tail))
    return out


def _dtype(fields) -> np.dtype:
    spec = []
    for name, ctype, count in physical_fields(fields):
        spec.append((name, "u1", (count,)) if count else (name, _C_TO_NUMPY[ctype]))
    dtype = np.dtype(spec)           # packed: every gap is an explicit field
    if dtype.itemsize % 64:
        raise AssertionError(f"record of {dtype.itemsize} bytes is not whole cache lines")
    return dtype


COMMAND_DTYPE = _dtype(COMMAND_FIELDS)
EVENT_DTYPE = _dtype(EVENT_FIELDS)
ORDER_DTYPE = _dtype(ORDER_FIELDS)
SYMBOL_DTYPE = _dtype(SYMBOL_FIELDS)
ACCOUNT_DTYPE = _dtype(ACCOUNT_FIELDS)
POSITION_DTYPE = _dtype(POSITION_FIELDS)


def _enum_prefix(e) -> str:
    name = e.__name__
    out = [name[0]]
    for ch in name[1:]:
        if ch.isupper():
            out.append("_")
        out.append(ch)
    return "".join(out).upper()


def generate_pxd() -> str:
    """The text of cext/oms/_layout.pxd."""
    from oms.codes import RejectCode

    lines = [
        "# Generated by `python -m oms.layout` from src/oms/layout.py and src/oms/codes.py.",
        "# Do not edit: change the Python declaration and regenerate.",
        "from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t",
        "",
        'cdef extern from *:',
        '    """',
        f"    #define OMS_PRICE_SCALE {PRICE_SCALE}LL",
        f"    #define OMS_MAX_PRICE {MAX_PRICE}LL",
        f"    #define OMS_MAX_QTY {MAX_QTY}LL",
        f"    #define OMS_NS_PER_SEC {NS_PER_SEC}LL",
        f"    #define OMS_IDEMPOTENCY_TTL_NS {IDEMPOTENCY_TTL_NS}LL",
        f"    #define OMS_LIMIT_MAX {LIMIT_MAX}LL",
        f"    #define OMS_MAX_VENUES {MAX_VENUES}",
        '    """',
        "    int64_t OMS_PRICE_SCALE",
        "    int64_t OMS_MAX_PRICE",
        "    int64_t OMS_MAX_QTY",
        "    int64_t OMS_NS_PER_SEC",
        "    int64_t OMS_IDEMPOTENCY_TTL_NS",
        "    int64_t OMS_LIMIT_MAX",
        "    int OMS_MAX_VENUES",
        "",
    ]
    for e in ENUMS + [RejectCode]:
        prefix = _enum_prefix(e)
        lines.append(f"cdef enum {e.__name__}:")
        for mname, member in e.__members__.items():
            lines.append(f"    {prefix}_{mname} = {int(member.value)}")
        lines.append("")
    for name, fields in STRUCTS.items():
        lines.append(f"cdef struct {name}:")
        for fname, ctype, count in physical_fields(fields):
            lines.append(f"    {ctype} {fname}[{count}]" if count else f"    {ctype} {fname}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(generate_pxd())
