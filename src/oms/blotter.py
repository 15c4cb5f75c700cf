"""Events, books and positions as readable plain text.

Thin, pure functions over the engine's records (an EVENT_DTYPE row, or any mapping with the
same field names): nothing here talks to the engine, so the CLI, a future gateway log and the
tests share one formatting.  Prices are integers in 1/PRICE_SCALE units; they are shown as
decimals with the symbol's tick decimals (0.01 tick -> 2 decimals), widened when a value needs
more digits (an off-tick price or an average price is never rounded away).

    >>> format_price(1_900_500, tick_size=100)
    '190.05'
    >>> format_price(1_900_050, tick_size=100)
    '190.005'
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any, Iterable, Mapping, Sequence

from oms.codes import RejectCode, message
from oms.layout import (PRICE_SCALE, AdminOp, CxlRejResponseTo, EventType, ExecType, OrdStatus,
                        OrdType, Side, TimeInForce, VenueExec, VenueRequest)

_SCALE_DIGITS = len(str(PRICE_SCALE)) - 1          # 4: PRICE_SCALE is a power of ten
# the PRICE column of order types without a limit price: how they execute
_UNPRICED = {OrdType.MARKET: "MKT", OrdType.STOP: "STOP", OrdType.MARKET_IF_TOUCHED: "MIT",
             OrdType.TRAILING_STOP: "TRAIL"}
assert 10 ** _SCALE_DIGITS == PRICE_SCALE


# ---------------------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------------------

def enum_name(cls: type[enum.IntEnum], value: int, empty: str = "") -> str:
    """The member name of `value`, `empty` for 0 (never a valid enum value), else the number."""
    value = int(value)
    if value == 0:
        return empty
    try:
        return cls(value).name
    except ValueError:
        return f"?{value}"


def format_time(time_ns: int) -> str:
    """HH:MM:SS.ffffff, UTC, of a time in ns since the epoch (sub-microseconds truncated)."""
    secs, ns = divmod(int(time_ns), 1_000_000_000)
    t = _dt.datetime.fromtimestamp(secs, tz=_dt.timezone.utc)
    return f"{t:%H:%M:%S}.{ns // 1000:06d}"


def price_decimals(tick_size: int | None) -> int:
    """Decimals needed to show every multiple of `tick_size` price units: 100 -> 2
    (0.01), 2500 -> 2 (0.25), 1 -> 4 (0.0001), 10000 -> 0.  None (unknown) -> 2."""
    if tick_size is None or tick_size <= 0:
        return 2
    decimals = _SCALE_DIGITS
    while decimals > 0 and tick_size % 10 ** (_SCALE_DIGITS - decimals + 1) == 0:
        decimals -= 1
    return decimals


def format_decimal(units: int, decimals: int = 2, thousands: bool = False) -> str:
    """An integer amount of 1/PRICE_SCALE units as an exact decimal with at least
    `decimals` decimals (more when the value needs them)."""
    units = int(units)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), PRICE_SCALE)
    digits = f"{frac:0{_SCALE_DIGITS}d}"
    needed = len(digits.rstrip("0"))
    shown = max(decimals, needed)
    whole_s = f"{whole:,}" if thousands else str(whole)
    return f"{sign}{whole_s}.{digits[:shown]}" if shown else f"{sign}{whole_s}"


def format_price(units: int, tick_size: int | None = None) -> str:
    """A price in price units as a decimal with the tick's decimals (exact, see module doc)."""
    return format_decimal(units, price_decimals(tick_size))


def format_money(units: int) -> str:
    """A P&L or notional in price units x qty, as currency with 2+ decimals and separators."""
    return format_decimal(units, 2, thousands=True)


def reject_text(code: int) -> str:
    """`NAME: human-readable message` of a reject code ('' for 0)."""
    code = int(code)
    if code == 0:
        return ""
    try:
        name = RejectCode(code).name
    except ValueError:
        name = f"CODE_{code}"
    return f"{name}: {message(code)}"


# ---------------------------------------------------------------------------------------------
# Reference data lookups (any EngineConfig-like object with .symbols and .accounts)
# ---------------------------------------------------------------------------------------------

class Names:
    """Account and symbol names and tick sizes from a config; ids when there is none."""

    def __init__(self, config: Any = None):
        self.symbols = {s.symbol_id: s.name for s in getattr(config, "symbols", ())}
        self.ticks = {s.symbol_id: s.tick_size for s in getattr(config, "symbols", ())}
        self.accounts = {a.account_id: a.name for a in getattr(config, "accounts", ())}
        self.venues = {v.venue_id: v.name for v in getattr(config, "venues", ())}

    def symbol(self, symbol_id: int) -> str:
        return self.symbols.get(int(symbol_id), f"#{int(symbol_id)}")

    def account(self, account_id: int) -> str:
        return self.accounts.get(int(account_id), f"#{int(account_id)}")

    def venue(self, venue_id: int) -> str:
        return self.venues.get(int(venue_id), f"venue #{int(venue_id)}")

    def tick(self, symbol_id: int) -> int | None:
        return self.ticks.get(int(symbol_id))


def _names(config: Any) -> Names:
    return config if isinstance(config, Names) else Names(config)


# ---------------------------------------------------------------------------------------------
# Blotter rows
# ---------------------------------------------------------------------------------------------

# (header, width, align); a value longer than its column pushes the rest of its row.
BLOTTER_COLUMNS: list[tuple[str, int, str]] = [
    ("TIME (UTC)", 15, "<"),
    ("EVENT", 15, "<"),
    ("OID", 4, ">"),
    ("CLORDID", 7, ">"),
    ("ORIG", 7, ">"),
    ("ACCOUNT", 8, "<"),
    ("SYMBOL", 6, "<"),
    ("SIDE", 4, "<"),
    ("QTY", 6, ">"),
    ("PRICE", 10, ">"),
    ("CUM", 6, ">"),
    ("LEAVES", 6, ">"),
    ("LAST", 14, ">"),
    ("STATUS", 16, "<"),
    ("DETAIL", 0, "<"),
]


def _row(cells: Sequence[str], columns=BLOTTER_COLUMNS) -> str:
    parts = [f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, columns)]
    return "  ".join(parts).rstrip()


def blotter_header() -> str:
    """The column headings of blotter rows."""
    return _row([name for name, _, _ in BLOTTER_COLUMNS])


def event_label(ev: Mapping[str, Any]) -> str:
    """What happened: the exec type of an execution report (NEW, TRADE, CANCELED, REPLACED,
    REJECTED, ORDER_STATUS...), CXL_REJ/CANCEL or /REPLACE, MASS_CANCEL_RPT, ADMIN/<op>, and
    for external venues TO_VENUE/<request> (what we sent) and VENUE/<op> (a venue message
    the engine reported on rather than applied, or a session change)."""
    kind = int(ev["kind"])
    if kind == EventType.VENUE_REQUEST:
        return "TO_VENUE/" + enum_name(VenueRequest, ev["exec_type"], "?")
    if kind == EventType.ADMIN_REPORT and int(ev["venue_id"]):
        return "VENUE/" + enum_name(VenueExec, ev["exec_type"], "?")
    if kind == EventType.EXEC_REPORT:
        return enum_name(ExecType, ev["exec_type"], "EXEC_REPORT")
    if kind == EventType.CANCEL_REJECT:
        return "CXL_REJ/" + enum_name(CxlRejResponseTo, ev["response_to"], "?")
    if kind == EventType.MASS_CANCEL_REPORT:
        return "MASS_CANCEL_RPT"
    if kind == EventType.ADMIN_REPORT:
        op = int(ev["exec_type"])
        return "ADMIN/" + enum_name(AdminOp, op, "?") if op else "ADMIN_REPORT"
    return enum_name(EventType, kind, "?")


def event_cells(ev: Mapping[str, Any], config: Any = None) -> list[str]:
    """The blotter cells of one event, in BLOTTER_COLUMNS order."""
    names = _names(config)
    kind = int(ev["kind"])
    symbol_id = int(ev["symbol_id"])
    tick = names.tick(symbol_id)
    is_order_event = kind in (EventType.EXEC_REPORT, EventType.CANCEL_REJECT)
    is_trade = kind == EventType.EXEC_REPORT and int(ev["exec_type"]) in (
        ExecType.TRADE, ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT)
    venue_id = int(ev["venue_id"])

    def num(value: Any) -> str:
        return str(int(value)) if int(value) else ""

    price = int(ev["price"])
    if price == 0 and int(ev["ord_type"]) in _UNPRICED:
        price_s = _UNPRICED[int(ev["ord_type"])]     # executes at market (once triggered)
    else:
        price_s = format_price(price, tick) if price else ""
    if int(ev["tif"]) not in (0, TimeInForce.DAY) and price_s:
        price_s += " " + enum_name(TimeInForce, ev["tif"])

    detail = []
    if kind == EventType.MASS_CANCEL_REPORT:
        detail.append(f"{int(ev['trade_id'])} order(s) cancelled")
    if is_trade:
        detail.append(f"trade #{int(ev['trade_id'])}, avg {format_price(ev['avg_px'], tick)}")
    if venue_id and kind in (EventType.EXEC_REPORT, EventType.CANCEL_REJECT,
                             EventType.VENUE_REQUEST):
        detail.append(f"at {names.venue(venue_id)}")     # the routing decision
    if kind == EventType.VENUE_REQUEST:
        detail.append(f"venue ClOrdID {int(ev['venue_cl_ord_id']) >> 16}."
                      f"{int(ev['venue_cl_ord_id']) & 0xFFFF}")
    if int(ev["reject_code"]):
        detail.append(reject_text(ev["reject_code"]))

    # Reports carry command fields: show an account or a symbol only where it means something
    # (a MASS_CANCEL_REPORT does not say which of its fields the scope used).
    op = int(ev["exec_type"]) if kind == EventType.ADMIN_REPORT else 0
    # A cancel reject for an order that was not found carries the command's fields: a cancel
    # names no account or symbol (and an order found never has status REJECTED).
    unknown_target = kind == EventType.CANCEL_REJECT and int(ev["status"]) == OrdStatus.REJECTED
    names_order = (is_order_event and not unknown_target) or kind == EventType.VENUE_REQUEST
    show_account = names_order or op == AdminOp.SET_ACCOUNT
    show_symbol = names_order or op in (AdminOp.SET_SYMBOL, AdminOp.HALT_SYMBOL,
                                        AdminOp.RESUME_SYMBOL)
    return [
        format_time(ev["time_ns"]),
        event_label(ev),
        num(ev["order_id"]),
        num(ev["cl_ord_id"]),
        num(ev["orig_cl_ord_id"]),
        names.account(ev["account_id"]) if show_account else "",
        names.symbol(symbol_id) if show_symbol else "",
        enum_name(Side, ev["side"]),
        num(ev["qty"]),
        price_s,
        str(int(ev["cum_qty"])) if is_order_event else "",
        str(int(ev["leaves_qty"])) if is_order_event else "",
        (f"{int(ev['last_qty'])}@{format_price(ev['last_px'], tick)}" if is_trade else ""),
        enum_name(OrdStatus, ev["status"]),
        "; ".join(detail),
    ]


def format_event(ev: Mapping[str, Any], config: Any = None) -> str:
    """One event as one aligned blotter row.  With `config` (an EngineConfig, or `Names`),
    accounts and symbols are named and prices use the symbol's tick decimals."""
    return _row(event_cells(ev, config))


def format_events(events: Iterable[Mapping[str, Any]], config: Any = None) -> list[str]:
    names = _names(config)
    return [format_event(ev, names) for ev in events]


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 align: str | None = None, indent: str = "") -> list[str]:
    """A plain-text table sized to its contents; `align` holds one '<' or '>' per column
    (default: first column left, the others right)."""
    align = align or "<" + ">" * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return indent + "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


POSITION_HEADERS = ["ACCOUNT", "SYMBOL", "NET QTY", "AVG PX", "BOUGHT", "SOLD",
                    "REALIZED P&L", "UNREALIZED P&L"]


def position_cells(row: Mapping[str, Any], config: Any = None) -> list[str]:
    names = _names(config)
    symbol_id = int(row["symbol_id"])
    net = int(row["net_qty"])
    return [
        names.account(row["account_id"]),
        names.symbol(symbol_id),
        f"{net:,}",
        format_price(row["avg_px"], names.tick(symbol_id)) if net else "",
        f"{int(row.get('bought_qty', 0)):,}",
        f"{int(row.get('sold_qty', 0)):,}",
        format_money(row["realized_pnl"]),
        format_money(row["unrealized_pnl"]),
    ]


def format_positions(rows: Iterable[Mapping[str, Any]], config: Any = None,
                     indent: str = "") -> list[str]:
    """Positions as a table: rows are dicts as returned by `Engine.positions()` (account_id,
    symbol_id, net_qty, avg_px, realized_pnl, unrealized_pnl; bought_qty/sold_qty optional).
    P&L is in price units x qty and shown as currency.  A TOTAL line sums the P&L."""
    names = _names(config)
    rows = list(rows)
    if not rows:
        return [indent + "(no positions)"]
    cells = [position_cells(r, names) for r in rows]
    total = ["TOTAL", "", "", "", "", "",
             format_money(sum(int(r["realized_pnl"]) for r in rows)),
             format_money(sum(int(r["unrealized_pnl"]) for r in rows))]
    lines = format_table(POSITION_HEADERS, cells + [total], "<<" + ">" * 6, indent)
    lines.insert(-1, lines[1])                 # a rule above the TOTAL line
    return lines


BOOK_HEADERS = ["BID ORDERS", "BID QTY", "BID PX", "ASK PX", "ASK QTY", "ASK ORDERS"]


def format_book(bids: Sequence, asks: Sequence, tick_size: int | None = None,
                indent: str = "") -> list[str]:
    """A book side by side, best level first: `bids`/`asks` are lists of
    (price, qty, [order ids oldest first]) as returned by `Core.book()`."""
    if not bids and not asks:
        return [indent + "(empty)"]
    rows = []
    for i in range(max(len(bids), len(asks))):
        row = ["", "", "", "", "", ""]
        if i < len(bids):
            price, qty, ids = bids[i]
            row[0:3] = [" ".join(map(str, ids)), f"{int(qty):,}", format_price(price, tick_size)]
        if i < len(asks):
            price, qty, ids = asks[i]
            row[3:6] = [format_price(price, tick_size), f"{int(qty):,}", " ".join(map(str, ids))]
        rows.append(row)
    return format_table(BOOK_HEADERS, rows, ">>>>><", indent)
