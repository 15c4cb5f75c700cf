"""The one table of reject and reason codes.

Numbers are stable (they are in the journal and on the wire); add new codes at the end of
their block, never renumber.  Each code has a human-readable message and its mapping to the
FIX field that carries it: OrdRejReason (103) for rejected orders, CxlRejReason (102) for
rejected cancels and replaces.  The gateways and tools take messages from here; the compiled
core only ever carries the number.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class RejectCode(enum.IntEnum):
    NONE = 0
    # -- syntax: the command itself is malformed (1xx) --
    MISSING_CL_ORD_ID = 100
    INVALID_SIDE = 101
    INVALID_ORD_TYPE = 102
    # 103 (UNSUPPORTED_ORD_TYPE) is retired: every order type is supported; never reuse it
    INVALID_TIF = 104
    UNSUPPORTED_TIF = 105
    INVALID_QTY = 106
    INVALID_PRICE = 107
    UNKNOWN_ACCOUNT = 108
    UNKNOWN_SYMBOL = 109
    UNKNOWN_COMMAND = 110
    INVALID_STOP_PRICE = 111
    INVALID_TRAIL = 112
    INVALID_DISPLAY_QTY = 113
    INVALID_MIN_QTY = 114
    INVALID_EXPIRE_TIME = 115
    INVALID_EXEC_INST = 116
    # -- identity: duplicates and lookups (2xx) --
    DUPLICATE_CL_ORD_ID = 200
    DUPLICATE_REQUEST = 201          # idempotency key seen: not an error, the original's status
    UNKNOWN_ORDER = 202
    STALE_VERSION = 203
    UNKNOWN_LINKED_ORDER = 204
    # -- semantic: reference data (3xx) --
    PRICE_NOT_ON_TICK = 300
    QTY_NOT_ON_LOT = 301
    QTY_BELOW_MIN = 302
    QTY_ABOVE_MAX = 303
    PRICE_OUTSIDE_COLLAR = 304
    NO_REFERENCE_PRICE = 305
    # -- business rules (4xx) --
    MARKET_CLOSED = 400
    SYMBOL_HALTED = 401
    KILL_SWITCH_ACTIVE = 402
    ACCOUNT_DISABLED = 403
    POST_ONLY_WOULD_TRADE = 404
    SELF_TRADE_PREVENTED = 405
    OCO_PEER_TRADED = 406
    LINKED_ORDER_ENDED = 407
    NOT_IN_AUCTION_PHASE = 408
    # -- pre-trade risk (5xx) --
    RISK_MAX_ORDER_QTY = 500
    RISK_MAX_ORDER_NOTIONAL = 501
    RISK_CREDIT_LIMIT = 502
    RISK_POSITION_LIMIT = 503
    RISK_GROSS_EXPOSURE = 504
    RISK_CONCENTRATION = 505
    # -- lifecycle: the order's state forbids the request (6xx) --
    ORDER_ALREADY_FILLED = 600
    ORDER_ALREADY_CLOSED = 601
    ORDER_PENDING = 602              # an external venue has not answered the last request
    REPLACE_QTY_BELOW_CUM = 603
    REPLACE_CHANGES_NOTHING = 604
    LINKED_ORDER_DONE = 605
    LINK_NOT_ALLOWED = 606
    # -- capacity: a preallocated structure is full (7xx) --
    ORDER_STORE_FULL = 700
    IDEMPOTENCY_TABLE_FULL = 701
    BOOK_FULL = 702
    # -- admin (8xx) --
    INVALID_ADMIN = 800
    # -- routing: no venue can take the order (90x) --
    NO_ROUTE = 900
    UNKNOWN_DESTINATION = 901
    VENUE_NOT_LISTED = 902
    VENUE_UNAVAILABLE = 903
    VENUE_UNSUPPORTED_ORDER = 904
    VENUE_TICK_OR_LOT = 905
    # -- what an external venue said or failed to say (95x); a venue's OrdRejReason /
    #    CxlRejReason arrives as one of these (oms.codes.from_venue_reason) --
    VENUE_REJECTED = 950
    VENUE_UNKNOWN_SYMBOL = 951
    VENUE_EXCHANGE_CLOSED = 952
    VENUE_ORDER_EXCEEDS_LIMIT = 953
    VENUE_TOO_LATE = 954
    VENUE_UNKNOWN_ORDER = 955
    VENUE_DUPLICATE_ORDER = 956
    VENUE_CANCELLED = 957
    VENUE_DISCONNECTED = 958
    VENUE_NO_RESPONSE = 959
    VENUE_DUPLICATE_MESSAGE = 960
    VENUE_OVERFILL = 961
    VENUE_LATE_FILL = 962
    VENUE_UNEXPECTED_REPORT = 963


class CodeInfo(NamedTuple):
    message: str
    ord_rej_reason: int    # FIX tag 103 when the code rejects an order
    cxl_rej_reason: int    # FIX tag 102 when the code rejects a cancel or replace


_C = RejectCode
_OTHER = 99

CODE_INFO: dict[RejectCode, CodeInfo] = {
    _C.NONE: CodeInfo("", 0, 0),
    _C.MISSING_CL_ORD_ID: CodeInfo("ClOrdID is missing (must be a non-zero id)", _OTHER, _OTHER),
    _C.INVALID_SIDE: CodeInfo("side must be BUY(1) or SELL(2)", _OTHER, _OTHER),
    _C.INVALID_ORD_TYPE: CodeInfo("order type is not a known value", 11, _OTHER),
    _C.INVALID_TIF: CodeInfo("time in force is not a known value", 11, _OTHER),
    _C.UNSUPPORTED_TIF: CodeInfo(
        "at-the-open and at-the-close orders must be market or limit orders", 11, _OTHER),
    _C.INVALID_QTY: CodeInfo("quantity must be between 1 and 100,000,000", 13, _OTHER),
    _C.INVALID_PRICE: CodeInfo(
        "limit price must be between 1 and 10^10 price units; a market order carries no price",
        _OTHER, _OTHER),
    _C.UNKNOWN_ACCOUNT: CodeInfo("account is not configured", 15, _OTHER),
    _C.UNKNOWN_SYMBOL: CodeInfo("symbol is not in the reference data", 1, _OTHER),
    _C.UNKNOWN_COMMAND: CodeInfo("command type is not a known value", _OTHER, _OTHER),
    _C.INVALID_STOP_PRICE: CodeInfo(
        "stop orders need a stop price between 1 and 10^10 price units; other types none",
        _OTHER, _OTHER),
    _C.INVALID_TRAIL: CodeInfo(
        "a trailing stop needs exactly one of trail amount (price units) or trail bps "
        "(1..10000); other types neither", 11, _OTHER),
    _C.INVALID_DISPLAY_QTY: CodeInfo(
        "display quantity must be below the order quantity, on a limit-priced order that "
        "can rest", 11, _OTHER),
    _C.INVALID_MIN_QTY: CodeInfo("minimum quantity must be between 0 and the order quantity",
                                 13, _OTHER),
    _C.INVALID_EXPIRE_TIME: CodeInfo(
        "GTD needs an expire time after the command time; other time in force none",
        _OTHER, _OTHER),
    _C.INVALID_EXEC_INST: CodeInfo(
        "exec instruction unknown, or post-only on an order that is not a resting limit",
        11, _OTHER),
    _C.DUPLICATE_CL_ORD_ID: CodeInfo("ClOrdID already used by an order of this session", 6, 6),
    _C.DUPLICATE_REQUEST: CodeInfo(
        "idempotency key already seen: this is the original order's status", 6, _OTHER),
    _C.UNKNOWN_ORDER: CodeInfo("no such order for this session", 5, 1),
    _C.STALE_VERSION: CodeInfo("order has moved on: expected version does not match", 8, 5),
    _C.UNKNOWN_LINKED_ORDER: CodeInfo(
        "parent or OCO order is unknown, or not of this session and account", 0, _OTHER),
    _C.PRICE_NOT_ON_TICK: CodeInfo("price is not a multiple of the symbol's tick size", 18, _OTHER),
    _C.QTY_NOT_ON_LOT: CodeInfo("quantity is not a multiple of the symbol's lot size", 13, _OTHER),
    _C.QTY_BELOW_MIN: CodeInfo("quantity is below the symbol's minimum", 13, _OTHER),
    _C.QTY_ABOVE_MAX: CodeInfo("quantity is above the symbol's maximum", 13, _OTHER),
    _C.PRICE_OUTSIDE_COLLAR: CodeInfo(
        "price is outside the collar around the reference price", 16, _OTHER),
    _C.NO_REFERENCE_PRICE: CodeInfo(
        "market order needs a reference price and the symbol has none", _OTHER, _OTHER),
    _C.MARKET_CLOSED: CodeInfo("symbol's trading session is closed at this time", 2, _OTHER),
    _C.SYMBOL_HALTED: CodeInfo("symbol is halted: cancels only", 2, _OTHER),
    _C.KILL_SWITCH_ACTIVE: CodeInfo("kill switch is on: no new orders", 0, _OTHER),
    _C.ACCOUNT_DISABLED: CodeInfo("account is disabled", 15, _OTHER),
    _C.POST_ONLY_WOULD_TRADE: CodeInfo("post-only order would trade on entry", 11, _OTHER),
    _C.SELF_TRADE_PREVENTED: CodeInfo(
        "self-trade prevented: the order would have traded with its own account", 0, _OTHER),
    _C.NOT_IN_AUCTION_PHASE: CodeInfo(
        "at-the-open orders are taken only while the session is closed", 2, _OTHER),
    _C.OCO_PEER_TRADED: CodeInfo(
        "cancelled: the other order of its OCO pair traded", 0, _OTHER),
    _C.LINKED_ORDER_ENDED: CodeInfo(
        "cancelled: its parent or OCO peer ended without filling", 0, _OTHER),
    _C.RISK_MAX_ORDER_QTY: CodeInfo("order quantity exceeds the account's maximum", 3, _OTHER),
    _C.RISK_MAX_ORDER_NOTIONAL: CodeInfo("order notional exceeds the account's maximum", 3, _OTHER),
    _C.RISK_CREDIT_LIMIT: CodeInfo(
        "open order notional would exceed the account's credit limit", 3, _OTHER),
    _C.RISK_POSITION_LIMIT: CodeInfo(
        "position including open orders would exceed the account's limit", 3, _OTHER),
    _C.RISK_GROSS_EXPOSURE: CodeInfo(
        "gross exposure would exceed the account's limit", 3, _OTHER),
    _C.RISK_CONCENTRATION: CodeInfo(
        "exposure in one symbol would exceed the account's concentration limit", 3, _OTHER),
    _C.ORDER_ALREADY_FILLED: CodeInfo("order is already filled: too late", 4, 0),
    _C.ORDER_ALREADY_CLOSED: CodeInfo("order is already cancelled, rejected or expired", 4, 0),
    _C.REPLACE_QTY_BELOW_CUM: CodeInfo(
        "new quantity must exceed the quantity already filled", _OTHER, _OTHER),
    _C.REPLACE_CHANGES_NOTHING: CodeInfo(
        "replace changes neither price nor quantity", _OTHER, _OTHER),
    _C.LINKED_ORDER_DONE: CodeInfo(
        "parent ended without filling, or the OCO peer has already traded or ended", 0, _OTHER),
    _C.LINK_NOT_ALLOWED: CodeInfo(
        "link not allowed: the order already has a child or peer, the legs wait for different "
        "parents, or the parent itself waits", 0, _OTHER),
    _C.ORDER_STORE_FULL: CodeInfo("order store is at capacity", 0, _OTHER),
    _C.IDEMPOTENCY_TABLE_FULL: CodeInfo("idempotency key table is at capacity", 0, _OTHER),
    _C.BOOK_FULL: CodeInfo("venue book has no free price level on this side", 0, _OTHER),
    _C.INVALID_ADMIN: CodeInfo("admin command has an unknown operation or bad values", _OTHER, _OTHER),
    _C.ORDER_PENDING: CodeInfo(
        "the venue has not answered the order's last request yet (new, cancel or replace)",
        _OTHER, 3),
    _C.NO_ROUTE: CodeInfo(
        "no venue listing the symbol is up and takes this order type, time in force, "
        "tick and lot", 0, _OTHER),
    _C.UNKNOWN_DESTINATION: CodeInfo("ExDestination names no configured venue", 0, _OTHER),
    _C.VENUE_NOT_LISTED: CodeInfo("the requested venue does not list this symbol", 1, _OTHER),
    _C.VENUE_UNAVAILABLE: CodeInfo(
        "the requested venue is disconnected or marked unhealthy", 0, _OTHER),
    _C.VENUE_UNSUPPORTED_ORDER: CodeInfo(
        "the venue does not take this order type, time in force or instruction "
        "(display quantity, post-only, minimum quantity)", 11, _OTHER),
    _C.VENUE_TICK_OR_LOT: CodeInfo(
        "price or quantity is off the venue's tick or lot size", 18, _OTHER),
    _C.VENUE_REJECTED: CodeInfo("rejected by the venue", 0, 0),
    _C.VENUE_UNKNOWN_SYMBOL: CodeInfo("the venue does not know the symbol", 1, _OTHER),
    _C.VENUE_EXCHANGE_CLOSED: CodeInfo("the venue is closed for trading", 2, _OTHER),
    _C.VENUE_ORDER_EXCEEDS_LIMIT: CodeInfo("the order exceeds a limit of the venue", 3, _OTHER),
    _C.VENUE_TOO_LATE: CodeInfo("the venue says too late: the order is already done", 4, 0),
    _C.VENUE_UNKNOWN_ORDER: CodeInfo("the venue does not know the order", 5, 1),
    _C.VENUE_DUPLICATE_ORDER: CodeInfo("the venue saw this ClOrdID already", 6, 6),
    _C.VENUE_CANCELLED: CodeInfo("cancelled by the venue", 0, _OTHER),
    _C.VENUE_DISCONNECTED: CodeInfo(
        "the venue session went down and the venue cancels on disconnect", 0, _OTHER),
    _C.VENUE_NO_RESPONSE: CodeInfo(
        "the venue has not answered in time: the order stands as it was last confirmed",
        0, _OTHER),
    _C.VENUE_DUPLICATE_MESSAGE: CodeInfo(
        "venue message already applied (sequence number seen): ignored", 0, _OTHER),
    _C.VENUE_OVERFILL: CodeInfo("the venue filled more than the order's leaves", 0, _OTHER),
    _C.VENUE_LATE_FILL: CodeInfo("the venue filled an order that had already ended", 0, _OTHER),
    _C.VENUE_UNEXPECTED_REPORT: CodeInfo(
        "venue report does not fit the order's state with the venue: ignored", 0, _OTHER),
}

assert set(CODE_INFO) == set(RejectCode), "every RejectCode needs a CodeInfo row"


def message(code: int) -> str:
    """Human-readable reason for a code number; unknown numbers are named, not raised."""
    try:
        return CODE_INFO[RejectCode(code)].message
    except ValueError:
        return f"unknown reject code {code}"


# FIX OrdRejReason (103) and CxlRejReason (102) of a venue, as our codes
_FROM_ORD_REJ = {0: _C.VENUE_REJECTED, 1: _C.VENUE_UNKNOWN_SYMBOL, 2: _C.VENUE_EXCHANGE_CLOSED,
                 3: _C.VENUE_ORDER_EXCEEDS_LIMIT, 4: _C.VENUE_TOO_LATE,
                 5: _C.VENUE_UNKNOWN_ORDER, 6: _C.VENUE_DUPLICATE_ORDER}
_FROM_CXL_REJ = {0: _C.VENUE_TOO_LATE, 1: _C.VENUE_UNKNOWN_ORDER, 6: _C.VENUE_DUPLICATE_ORDER}


def from_venue_reason(reason: int | None, cancel_reject: bool = False) -> RejectCode:
    """A venue's OrdRejReason (or, with `cancel_reject`, CxlRejReason) as our code."""
    table = _FROM_CXL_REJ if cancel_reject else _FROM_ORD_REJ
    return table.get(reason if reason is not None else -1, _C.VENUE_REJECTED)
