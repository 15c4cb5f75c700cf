"""The `oms` command line (`oms demo`, `oms version`) and the blotter formatting it uses."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import importlib.util

import numpy as np
import pytest

from oms import blotter
from oms.cli import main
from oms.codes import RejectCode, message
from oms.config import demo_config, px
from oms.demo import (SCRIPT, START_NS, VENUE_ACT_TITLE, EngineDriver, New, TcpDriver,
                      run_demo)
from oms.layout import (EVENT_DTYPE, CxlRejResponseTo, EventType, ExecType, OrdStatus, OrdType,
                        Side, TimeInForce)

# The blotter needs only the pure-Python modules; the demo needs the compiled core.
needs_engine = pytest.mark.skipif(importlib.util.find_spec("oms._engine") is None,
                                  reason="the compiled core is not built")

REJECTS_IN_DEMO = [RejectCode.PRICE_NOT_ON_TICK, RejectCode.PRICE_OUTSIDE_COLLAR,
                   RejectCode.RISK_MAX_ORDER_NOTIONAL, RejectCode.DUPLICATE_REQUEST,
                   RejectCode.UNKNOWN_ORDER, RejectCode.OCO_PEER_TRADED]


# ---------------------------------------------------------------------------------------------
# oms demo
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_output() -> str:
    lines: list[str] = []
    assert run_demo(lines.append) == 0
    return "\n".join(lines) + "\n"


def step_of(label: str) -> int:
    """The number of the step whose NEW is labelled `label`."""
    return next(number for number, step in enumerate(SCRIPT, 1)
                if any(isinstance(a, New) and a.label == label for a in step.actions))


def step_rows(output: str, number: int) -> list[str]:
    """The blotter rows printed under the narrative header `[number] ...`."""
    block = output.split(f"\n[{number}] ", 1)[1]
    rows = block.split("\n")[1:]
    out = []
    for row in rows:
        if not row.startswith("  ") or not row.strip():
            break
        out.append(row)
    return out


@needs_engine
def test_demo_in_process(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "PARTIALLY_FILLED" in out
    assert re.search(r"TRADE .* FILLED ", out)
    for word in ("CANCELED", "REPLACED", "TRIGGERED", "MASS_CANCEL_RPT", "ORDER_STATUS",
                 "Final book AAPL",
                 "Final book MSFT", "REALIZED P&L", "UNREALIZED P&L"):
        assert word in out, word
    for code in REJECTS_IN_DEMO:
        assert f"{code.name}: {message(code)}" in out


@needs_engine
def test_demo_subprocess_is_reproducible(demo_output):
    env = dict(os.environ, TZ="Pacific/Auckland")   # the output is UTC whatever the zone
    proc = subprocess.run([sys.executable, "-m", "oms.cli", "demo"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    # through oms serve the demo ends with the venue act, on the wall clock
    scripted, venue_act = proc.stdout.split("\n" + VENUE_ACT_TITLE, 1)
    assert scripted == demo_output
    rows = [r.split() for r in venue_act.splitlines() if r.startswith("  ") and r[2:3].isdigit()]
    assert [(r[1], r[-1]) for r in rows] == [
        ("PENDING_NEW", "SIM-B"), ("NEW", "SIM-B"), ("TRADE", "SIM-B"),     # by the table
        ("PENDING_NEW", "SIM-A"), ("NEW", "SIM-A"),                          # ExDestination
        ("PENDING_CANCEL", "SIM-A"), ("CANCELED", "SIM-A")]
    assert "100@140.01" in venue_act and " FILLED " in venue_act
    assert re.search(r"FUND-A\s+NVDA\s+100\s+140\.01", venue_act)


@needs_engine
def test_demo_narrates_every_step(demo_output):
    for number, step in enumerate(SCRIPT, 1):
        assert f"[{number}] {step.say}\n" in demo_output
        assert step_rows(demo_output, number), f"step {number} printed no event"


@needs_engine
def test_demo_partial_then_full_fill(demo_output):
    fund = [r for r in step_rows(demo_output, 3) if "FUND-A" in r]
    assert "PARTIALLY_FILLED" in fund[-1] and "200@190.05" in fund[-1]
    later = [r for r in step_rows(demo_output, 4) if "FUND-A" in r]
    assert len(later) == 1 and "TRADE" in later[0] and re.search(r"\bFILLED\b", later[0])
    assert "100@190.05" in later[0]


@needs_engine
def test_demo_replace_priority(demo_output):
    assert "REPLACED" in step_rows(demo_output, 8)[0]          # price change
    assert "REPLACED" in step_rows(demo_output, 9)[0]          # size reduction
    trades = [r for r in step_rows(demo_output, 10) if "TRADE" in r]
    resting = [r for r in trades if "RETAIL-7" not in r]
    # FUND-A reduced its size and kept its place; MM-DESK re-priced and queues behind it.
    assert "FUND-A" in resting[0] and "30@420.15" in resting[0]
    assert "MM-DESK" in resting[1] and "20@420.15" in resting[1]


@needs_engine
def test_demo_ioc_remainder_and_market_order(demo_output):
    ioc = step_rows(demo_output, 11)
    assert "500@190.10" in ioc[1]
    assert "CANCELED" in ioc[-1] and "FUND-A" in ioc[-1] and "CANCELLED" in ioc[-1]
    mkt = step_rows(demo_output, 12)
    assert "MKT" in mkt[0] and "200@189.95" in mkt[1]


@needs_engine
def test_demo_duplicate_key_creates_nothing(demo_output):
    original = step_rows(demo_output, 16)[0]
    resent = step_rows(demo_output, 17)
    assert len(resent) == 1 and "ORDER_STATUS" in resent[0] and "DUPLICATE_REQUEST" in resent[0]
    oid = original.split()[2]
    assert resent[0].split()[2] == oid                   # the original order, not a new one
    assert step_rows(demo_output, 19)[0].split()[2] == str(int(oid) + 1)


@needs_engine
def test_demo_mass_cancel_and_final_state(demo_output):
    rows = step_rows(demo_output, len(SCRIPT))
    assert all("MM-DESK" in r and "CANCELED" in r for r in rows[:-1])
    assert f"{len(rows) - 1} order(s) cancelled" in rows[-1]
    book = demo_output.split("Final book AAPL\n", 1)[1].split("\n\n", 1)[0]
    assert "189.00" in book and "MM-DESK" not in book
    positions = demo_output.split("Positions and P&L", 1)[1]
    assert re.search(r"FUND-A\s+AAPL\s+500\s+190\.0696\s+900\s+400\s+4\.84\s+-59\.80", positions)
    assert re.search(r"MM-DESK\s+AAPL\s+-500\s+190\.0696\s+400\s+900\s+50\.16\s+59\.80", positions)
    assert re.search(r"RETAIL-7\s+AAPL\s+0\s+100\s+100\s+-55\.00\s+0\.00", positions)


@needs_engine
def test_demo_bracket_rows(demo_output):
    placed = step_rows(demo_output, step_of("fund-entry"))
    assert len(placed) == 3 and all(r.split()[1] == "NEW" and "ACCEPTED" in r for r in placed)
    entry, take_profit, stop_loss = (r.split()[2] for r in placed)
    filled = step_rows(demo_output, step_of("mm-aapl-sell-2"))
    assert [r.split()[2] for r in filled if "TRIGGERED" in r] == [take_profit, stop_loss]
    assert any(r.split()[2] == entry and "100@190.00" in r and " FILLED " in r for r in filled)
    closed = step_rows(demo_output, step_of("retail-aapl-buy"))
    assert any(r.split()[2] == take_profit and "100@190.50" in r for r in closed)
    assert closed[-1].split()[1:3] == ["CANCELED", stop_loss]
    assert "OCO_PEER_TRADED" in closed[-1]


@needs_engine
def test_demo_stop_rows(demo_output):
    held = step_rows(demo_output, step_of("retail-aapl-stop"))
    assert len(held) == 1 and held[0].split()[1] == "NEW"
    stop = held[0].split()[2]
    fired = step_rows(demo_output, step_of("fund-aapl-mkt-2"))
    labels = [(r.split()[1], r.split()[2]) for r in fired]
    at = labels.index(("TRIGGERED", stop))
    assert ("TRADE", stop) in labels[at + 1:]
    assert any("100@189.95" in r for r in fired[:at])         # the trade that triggered it
    assert any(r.split()[2] == stop and "100@189.95" in r and " FILLED " in r for r in fired)


class Recorder:
    """A demo driver that remembers each action's events."""

    def __init__(self, inner):
        self.inner = inner
        self.events: dict[str, np.ndarray] = {}      # NEW label -> the events it produced

    def send(self, action, time_ns):
        events = self.inner.send(action, time_ns)
        if isinstance(action, New):
            self.events[action.label] = events
        return events

    def __getattr__(self, name):
        return getattr(self.inner, name)


@needs_engine
@pytest.mark.parametrize("driver_cls", [EngineDriver, TcpDriver])
def test_demo_contingent_events(driver_cls):
    """The stop and the bracket, event by event, in process and through oms serve."""
    config = demo_config()
    driver = Recorder(driver_cls(config))
    assert run_demo(lambda line: None, config=config, driver=driver) == 0
    ids = driver.inner.order_ids                # learnt from each NEW report
    ev = driver.events

    def reports(label):
        return [(int(e["exec_type"]), int(e["order_id"]), int(e["reject_code"]))
                for e in ev[label] if e["kind"] == EventType.EXEC_REPORT]

    entry, tp, sl = ids["fund-entry"], ids["fund-take-profit"], ids["fund-stop-loss"]
    assert reports("fund-take-profit") == [(ExecType.NEW, tp, 0)]          # waits for entry
    assert reports("fund-stop-loss") == [(ExecType.NEW, sl, 0)]
    assert ev["fund-stop-loss"][0]["ord_type"] == OrdType.STOP
    assert [r for r in reports("mm-aapl-sell-2") if r[0] == ExecType.TRIGGERED] == [
        (ExecType.TRIGGERED, tp, 0), (ExecType.TRIGGERED, sl, 0)]
    assert (ExecType.TRADE, entry, 0) in reports("mm-aapl-sell-2")
    assert RejectCode.OCO_PEER_TRADED == 406
    assert reports("retail-aapl-buy")[-1] == (ExecType.CANCELED, sl, 406)
    assert (ExecType.TRADE, tp, 0) in reports("retail-aapl-buy")

    stop = ids["retail-aapl-stop"]
    assert reports("retail-aapl-stop") == [(ExecType.NEW, stop, 0)]        # held, no trade
    fired = ev["fund-aapl-mkt-2"]
    kinds = [(int(e["exec_type"]), int(e["order_id"])) for e in fired]
    at = kinds.index((ExecType.TRIGGERED, stop))
    assert any(e["exec_type"] == ExecType.TRADE and e["last_px"] == px("189.95")
               for e in fired[:at])                                       # the trigger
    own = [e for e in fired[at + 1:] if e["order_id"] == stop]
    assert own and own[-1]["exec_type"] == ExecType.TRADE
    assert own[-1]["status"] == OrdStatus.FILLED and own[-1]["last_px"] == px("189.95")


@needs_engine
def test_demo_quiet(capsys):
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "TRADE" not in out and "[1]" not in out
    assert "Final book AAPL" in out and "REALIZED P&L" in out


def test_version(capsys):
    assert main(["version"]) == 0
    assert re.fullmatch(r"oms .+\n", capsys.readouterr().out)


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


# ---------------------------------------------------------------------------------------------
# Blotter formatting
# ---------------------------------------------------------------------------------------------

CONFIG = demo_config()           # AAPL=0 (tick 0.01), ESZ6=2 (tick 0.25), EURUSD=3 (0.0001)


def event(**fields):
    ev = np.zeros(1, dtype=EVENT_DTYPE)[0]
    defaults = dict(kind=EventType.EXEC_REPORT, time_ns=START_NS, side=Side.BUY,
                    ord_type=OrdType.LIMIT, tif=TimeInForce.DAY)
    for name, value in {**defaults, **fields}.items():
        ev[name] = value
    return ev


@pytest.mark.parametrize("units, tick, text", [
    (px("190.05"), 100, "190.05"),
    (px("190.00"), 100, "190.00"),
    (px("190.005"), 100, "190.005"),       # off tick: shown exactly, not rounded
    (px("6000.25"), 2500, "6000.25"),
    (px("1.085"), 1, "1.0850"),
    (px("42"), 10_000, "42"),
    (px("190.0812"), 100, "190.0812"),     # an average price
    (px("-3.5"), 100, "-3.50"),
    (px("0.01"), None, "0.01"),
])
def test_format_price(units, tick, text):
    assert blotter.format_price(units, tick) == text


def test_price_decimals():
    assert [blotter.price_decimals(t) for t in (1, 10, 100, 2500, 5000, 10_000, None)] == \
        [4, 3, 2, 2, 1, 0, 2]


def test_format_money_and_time():
    assert blotter.format_money(-262_400) == "-26.24"
    assert blotter.format_money(12_345_678_912) == "1,234,567.8912"
    assert blotter.format_money(0) == "0.00"
    assert blotter.format_time(START_NS + 12_345_678) == "13:30:00.012345"
    assert blotter.format_time(0) == "00:00:00.000000"


def test_reject_row_has_code_and_message():
    ev = event(exec_type=ExecType.REJECTED, status=OrdStatus.REJECTED, account_id=1,
               symbol_id=0, cl_ord_id=1017, price=px("190.005"), qty=100,
               reject_code=RejectCode.PRICE_NOT_ON_TICK)
    row = blotter.format_event(ev, CONFIG)
    assert "PRICE_NOT_ON_TICK: price is not a multiple of the symbol's tick size" in row
    for text in ("13:30:00.000000", "REJECTED", "FUND-A", "AAPL", "BUY", "190.005", "1017"):
        assert text in row
    assert blotter.reject_text(RejectCode.RISK_MAX_ORDER_NOTIONAL) == \
        "RISK_MAX_ORDER_NOTIONAL: " + message(RejectCode.RISK_MAX_ORDER_NOTIONAL)
    assert blotter.reject_text(0) == ""
    assert "unknown reject code 9999" in blotter.reject_text(9999)


def test_trade_row():
    ev = event(exec_type=ExecType.TRADE, status=OrdStatus.PARTIALLY_FILLED, order_id=7,
               cl_ord_id=1007, account_id=1, symbol_id=2, price=px("6000.25"), qty=300,
               cum_qty=200, leaves_qty=100, last_qty=200, last_px=px("6000.25"),
               avg_px=px("6000.25"), trade_id=1)
    cells = blotter.event_cells(ev, CONFIG)
    names = [name for name, _, _ in blotter.BLOTTER_COLUMNS]
    row = dict(zip(names, cells))
    assert row["EVENT"] == "TRADE" and row["OID"] == "7" and row["CLORDID"] == "1007"
    assert row["ACCOUNT"] == "FUND-A" and row["SYMBOL"] == "ESZ6" and row["SIDE"] == "BUY"
    assert (row["QTY"], row["PRICE"], row["CUM"], row["LEAVES"]) == ("300", "6000.25", "200", "100")
    assert row["LAST"] == "200@6000.25" and row["STATUS"] == "PARTIALLY_FILLED"
    assert "trade #1" in row["DETAIL"]


def test_rows_align_with_header():
    header = blotter.blotter_header()
    ev = event(exec_type=ExecType.NEW, status=OrdStatus.ACCEPTED, order_id=3, cl_ord_id=1003,
               symbol_id=3, price=px("1.0851"), qty=10_000, leaves_qty=10_000)
    row = blotter.format_event(ev, CONFIG)
    assert row.index("ACCEPTED") == header.index("STATUS")
    assert row.index("1.0851") + len("1.0851") == header.index("PRICE") + len("PRICE")
    assert row.index("EURUSD") == header.index("SYMBOL")


def test_market_ioc_and_reports():
    mkt = blotter.format_event(event(exec_type=ExecType.NEW, ord_type=OrdType.MARKET, qty=5,
                                     status=OrdStatus.ACCEPTED), CONFIG)
    assert " MKT " in mkt
    ioc = blotter.format_event(event(exec_type=ExecType.CANCELED, tif=TimeInForce.IOC,
                                     price=px("190.10"), status=OrdStatus.CANCELLED), CONFIG)
    assert "190.10 IOC" in ioc and "CANCELED" in ioc
    unknown = event(kind=EventType.CANCEL_REJECT, response_to=CxlRejResponseTo.REPLACE,
                    status=OrdStatus.REJECTED, side=0, ord_type=0, tif=0, cl_ord_id=5,
                    orig_cl_ord_id=999_999, reject_code=RejectCode.UNKNOWN_ORDER)
    row = blotter.format_event(unknown, CONFIG)
    assert "CXL_REJ/REPLACE" in row and "999999" in row and "no such order" in row
    assert "MM-DESK" not in row and "AAPL" not in row      # command fields: no account/symbol
    mass = blotter.format_event(event(kind=EventType.MASS_CANCEL_REPORT, side=0, ord_type=0,
                                      tif=0, trade_id=4), CONFIG)
    assert "MASS_CANCEL_RPT" in mass and "4 order(s) cancelled" in mass


def test_without_config_ids_are_shown():
    row = blotter.format_event(event(exec_type=ExecType.NEW, account_id=1, symbol_id=0,
                                     price=px("190.05"), status=OrdStatus.ACCEPTED))
    assert "#1" in row and "#0" in row and "190.05" in row
    assert blotter.enum_name(Side, 77) == "?77" and blotter.enum_name(Side, 0) == ""


def test_format_positions():
    rows = [dict(account_id=1, symbol_id=0, net_qty=600, avg_px=1_900_812,
                 realized_pnl=-262_400, unrealized_pnl=-787_200, bought_qty=800, sold_qty=200),
            dict(account_id=2, symbol_id=3, net_qty=-1_000_000, avg_px=px("1.0850"),
                 realized_pnl=px("12.5"), unrealized_pnl=0)]
    lines = blotter.format_positions(rows, CONFIG)
    assert lines[0].split() == ["ACCOUNT", "SYMBOL", "NET", "QTY", "AVG", "PX", "BOUGHT", "SOLD",
                                "REALIZED", "P&L", "UNREALIZED", "P&L"]
    assert lines[2].split() == ["FUND-A", "AAPL", "600", "190.0812", "800", "200", "-26.24",
                                "-78.72"]
    assert lines[3].split() == ["RETAIL-7", "EURUSD", "-1,000,000", "1.0850", "0", "0",
                                "12.50", "0.00"]
    assert lines[-1].split() == ["TOTAL", "-13.74", "-78.72"]
    assert len({len(line) for line in lines[:2]}) == 1           # header and rule line up
    assert blotter.format_positions([]) == ["(no positions)"]


def test_format_book():
    bids = [(px("189.95"), 300, [1, 7]), (px("189.90"), 1000, [2])]
    asks = [(px("190.10"), 500, [4])]
    lines = blotter.format_book(bids, asks, 100)
    assert lines[0].split() == ["BID", "ORDERS", "BID", "QTY", "BID", "PX", "ASK", "PX",
                                "ASK", "QTY", "ASK", "ORDERS"]
    assert lines[2].split() == ["1", "7", "300", "189.95", "190.10", "500", "4"]
    assert lines[3].split() == ["2", "1,000", "189.90"]
    assert blotter.format_book([], []) == ["(empty)"]
