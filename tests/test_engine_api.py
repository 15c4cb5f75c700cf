"""The threaded driver (`Engine`): lifetime, the command methods and the events they produce,
`poll()` semantics, equivalence with the direct driver, concurrency, misuse, positions."""

from __future__ import annotations

import threading
import time
import types
import uuid

import numpy as np
import pytest

from helpers import (DAY_NS, NS, PX, T0, cmds, config, new)
from oms import Core, Engine, EngineError
from oms.codes import RejectCode as R
from oms.config import AccountConfig, SymbolConfig, px
from oms.layout import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    IDEMPOTENCY_TTL_NS,
    AdminOp,
    CommandType as K,
    EventType as E,
    ExecType as X,
    MassCancelScope as Scope,
    OrdStatus as S,
    OrdType,
    Side,
    TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL
WAIT = 5.0                                   # seconds: every wait in this file is bounded

SYMBOLS = [SymbolConfig(0, "AAA", tick_size=100, ref_price=PX, collar_bps=2000),
           SymbolConfig(1, "BBB", tick_size=1, ref_price=px("10.00"))]


def engine_config(**kw):
    kw.setdefault("symbols", SYMBOLS)
    return config(**kw)


@pytest.fixture
def engine():
    e = Engine(engine_config())
    e.start()
    try:
        yield e
    finally:
        e.stop()


def fields(ev, *names):
    return tuple(int(ev[n]) for n in names)


# =============================================================================================
# Lifetime
# =============================================================================================

def test_start_stop():
    e = Engine(engine_config())
    try:
        assert not e.running
        assert e.start() is e and e.running
        with pytest.raises(EngineError, match="already started"):
            e.start()
        seq = e.submit("AAA", BUY, 10, price=PX, time_ns=T0)
        assert seq == 1
        e.stop()
        assert not e.running
        e.stop()                                                  # idempotent
        assert [int(x) for x in e.poll()["cmd_seq"]] == [1]
        assert len(e.poll()) == 0
    finally:
        e.stop()


def test_restart_keeps_the_state():
    e = Engine(engine_config())
    try:
        e.start()
        e.submit("AAA", BUY, 10, price=PX, time_ns=T0)
        e.stop()
        e.start()
        seq = e.submit("AAA", SELL, 4, price=PX, time_ns=T0)
        assert seq == 2                                           # input sequence continues
        e.wait(seq, timeout=WAIT)
    finally:
        e.stop()
    assert e.core.counters() == dict(cmd_seq=2, event_seq=4, next_order_id=3, next_trade_id=2,
                                     kill_switch=0)
    assert e.core.book(0) == ([(PX, 6, [1])], [])


def test_restart_after_stop_loses_no_events():
    e = Engine(engine_config())
    try:
        e.start()
        for i in range(5):
            e.submit("AAA", BUY, 1, price=PX - 100 * i, time_ns=T0)
        e.stop()
        assert e.poll()["seq"].tolist() == [1, 2, 3, 4, 5]
        e.start()
        seq = e.submit("AAA", SELL, 2, price=PX, time_ns=T0)
        evs = e.wait(seq, timeout=WAIT)
        assert [int(x) for x in evs["exec_type"]] == [X.NEW, X.TRADE, X.TRADE]
    finally:
        e.stop()
    assert e.poll()["seq"].tolist() == [6, 7, 8]


def test_context_manager_starts_and_stops():
    with Engine(engine_config()) as e:
        assert e.running
        seq = e.submit("AAA", BUY, 1, price=PX, time_ns=T0)
    assert not e.running
    evs = e.poll()                           # stop() processed everything submitted
    assert [int(x) for x in evs["cmd_seq"]] == [seq]


def test_context_manager_stops_on_exception():
    e = Engine(engine_config())
    with pytest.raises(RuntimeError, match="boom"):
        with e:
            raise RuntimeError("boom")
    assert not e.running


def test_stop_processes_everything_already_submitted():
    e = Engine(engine_config(input_ring=16, output_ring=16))
    e.start()
    try:
        seqs = [e.submit("AAA", BUY, 1, price=PX - 100 * (i % 5), time_ns=T0) for i in range(200)]
    finally:
        e.stop()
    evs = e.poll()
    assert len(evs) == 200 and [int(x) for x in evs["cmd_seq"]] == seqs
    assert e.core.counters()["cmd_seq"] == 200


# =============================================================================================
# Commands and their events
# =============================================================================================

def test_submit_assigns_cl_ord_ids_and_reports_new(engine):
    seq = engine.submit("AAA", BUY, 10, price=PX, time_ns=T0, strategy=7)
    ev = engine.wait(seq, timeout=WAIT)[0]
    assert fields(ev, "kind", "exec_type", "status") == (E.EXEC_REPORT, X.NEW, S.ACCEPTED)
    assert fields(ev, "order_id", "cl_ord_id", "symbol_id", "side", "qty", "price",
                  "leaves_qty", "strategy_id", "cmd_seq", "time_ns", "version") == (
        1, 1, 0, BUY, 10, PX, 10, 7, seq, T0, 1)
    ev = engine.wait(engine.submit(1, SELL, 5, price=px("10.00"), account=1, session=3,
                                   cl_ord_id=500, time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "order_id", "cl_ord_id", "symbol_id", "account_id", "session_id") == (
        2, 500, 1, 1, 3)
    ev = engine.wait(engine.submit("AAA", BUY, 1, price=PX, time_ns=T0), timeout=WAIT)[0]
    assert ev["cl_ord_id"] == 2                       # auto ids keep counting


def test_submit_without_time_is_stamped_with_the_clock(engine):
    before = time.time_ns()
    ev = engine.wait(engine.submit("AAA", BUY, 1, price=PX), timeout=WAIT)[0]
    after = time.time_ns()
    assert before - NS <= ev["time_ns"] <= after + NS


def test_market_order_and_ioc(engine):
    engine.submit("AAA", SELL, 3, price=PX, account=1, session=2, time_ns=T0)
    seq = engine.submit("AAA", BUY, 5, ord_type=OrdType.MARKET, time_ns=T0)
    evs = engine.wait(seq, timeout=WAIT)
    assert [int(x) for x in evs["exec_type"]] == [X.NEW, X.TRADE, X.TRADE, X.CANCELED]
    assert fields(evs[-1], "cum_qty", "leaves_qty", "status") == (3, 0, S.CANCELLED)
    seq = engine.submit("AAA", BUY, 5, price=PX, tif=TimeInForce.IOC, time_ns=T0)
    assert [int(x) for x in engine.wait(seq, timeout=WAIT)["exec_type"]] == [X.NEW, X.CANCELED]


def test_rejected_order_is_an_event_not_an_exception(engine):
    seq = engine.submit("AAA", BUY, 0, price=PX, time_ns=T0)
    ev = engine.wait(seq, timeout=WAIT)[0]
    assert fields(ev, "exec_type", "status", "reject_code") == (X.REJECTED, S.REJECTED,
                                                                R.INVALID_QTY)
    for kw in (dict(price=PX + 1), dict(account=6), dict(tif=TimeInForce.AT_OPEN),
               dict(ord_type=OrdType.STOP)):
        args = dict(symbol="AAA", side=BUY, qty=1, price=PX, time_ns=T0)
        args.update(kw)
        ev = engine.wait(engine.submit(**args), timeout=WAIT)[0]
        assert ev["exec_type"] == X.REJECTED and ev["reject_code"] != 0
    assert len(engine.poll()) == 5


def test_duplicate_uuid_answers_with_the_original(engine):
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    first = engine.wait(engine.submit("AAA", BUY, 10, price=PX, idem_key=key, time_ns=T0),
                        timeout=WAIT)[0]
    again = engine.wait(engine.submit("AAA", BUY, 99, price=PX, idem_key=key, time_ns=T0 + 1),
                        timeout=WAIT)[0]
    assert fields(again, "exec_type", "reject_code", "order_id", "qty") == (
        X.ORDER_STATUS, R.DUPLICATE_REQUEST, first["order_id"], 10)
    # the same key as an int, after 24h: a new order
    later = engine.wait(engine.submit("AAA", BUY, 7, price=PX, idem_key=key.int,
                                      time_ns=T0 + IDEMPOTENCY_TTL_NS), timeout=WAIT)[0]
    assert fields(later, "exec_type", "qty") == (X.NEW, 7)
    assert later["order_id"] != first["order_id"]


def test_cancel_by_order_id_and_by_cl_ord_id(engine):
    engine.submit("AAA", BUY, 10, price=PX, cl_ord_id=10, session=4, time_ns=T0)
    engine.submit("AAA", BUY, 10, price=PX, cl_ord_id=11, session=4, time_ns=T0)
    ev = engine.wait(engine.cancel(order_id=1, session=4, time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "exec_type", "status", "order_id", "leaves_qty", "version") == (
        X.CANCELED, S.CANCELLED, 1, 0, 2)
    ev = engine.wait(engine.cancel(orig_cl_ord_id=11, cl_ord_id=12, session=4, time_ns=T0),
                     timeout=WAIT)[0]
    assert fields(ev, "exec_type", "order_id", "cl_ord_id", "orig_cl_ord_id") == (
        X.CANCELED, 2, 12, 11)
    ev = engine.wait(engine.cancel(order_id=2, session=4, time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "kind", "reject_code", "response_to") == (
        E.CANCEL_REJECT, R.ORDER_ALREADY_CLOSED, 1)


def test_replace_assigns_a_new_cl_ord_id(engine):
    engine.submit("AAA", BUY, 10, price=PX, cl_ord_id=1000, time_ns=T0)
    ev = engine.wait(engine.replace(order_id=1, price=PX - 100, qty=8, time_ns=T0),
                     timeout=WAIT)[0]
    assert fields(ev, "exec_type", "order_id", "orig_cl_ord_id", "price", "qty", "version") == (
        X.REPLACED, 1, 1000, PX - 100, 8, 2)
    new_cl = int(ev["cl_ord_id"])
    assert new_cl not in (0, 1000)
    ev = engine.wait(engine.replace(orig_cl_ord_id=new_cl, cl_ord_id=77, price=PX - 100,
                                    qty=6, expected_version=2, time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "exec_type", "cl_ord_id", "orig_cl_ord_id", "version") == (
        X.REPLACED, 77, new_cl, 3)
    ev = engine.wait(engine.replace(order_id=1, price=PX, qty=6, expected_version=2,
                                    time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "kind", "reject_code", "response_to") == (
        E.CANCEL_REJECT, R.STALE_VERSION, 2)


def test_status_returns_the_order_record(engine):
    engine.submit("AAA", BUY, 10, price=PX, cl_ord_id=5, time_ns=T0)
    rec = engine.status(order_id=1, timeout=WAIT)
    assert isinstance(rec, np.void) and rec.dtype == EVENT_DTYPE
    assert fields(rec, "exec_type", "status", "order_id", "leaves_qty", "reject_code") == (
        X.ORDER_STATUS, S.ACCEPTED, 1, 10, 0)
    assert engine.status(orig_cl_ord_id=5, timeout=WAIT)["order_id"] == 1
    missing = engine.status(order_id=99, timeout=WAIT)
    assert fields(missing, "status", "reject_code") == (S.REJECTED, R.UNKNOWN_ORDER)
    other = engine.status(order_id=1, session=9, timeout=WAIT)   # another session's order
    assert other["reject_code"] == R.UNKNOWN_ORDER


def test_mass_cancel_by_scope(engine):
    for session, symbol, side, price in [(1, "AAA", BUY, PX), (1, "AAA", SELL, PX + 500),
                                         (2, "AAA", BUY, PX - 100), (1, "BBB", BUY, 100_000)]:
        engine.submit(symbol, side, 5, price=price, session=session, time_ns=T0)
    seq = engine.mass_cancel(Scope.SESSION | Scope.SYMBOL, session=1, symbol="AAA",
                             time_ns=T0)
    evs = engine.wait(seq, timeout=WAIT)
    assert [(int(e["exec_type"]), int(e["order_id"])) for e in evs[:-1]] == [
        (X.CANCELED, 1), (X.CANCELED, 2)]
    assert fields(evs[-1], "kind", "trade_id", "session_id") == (E.MASS_CANCEL_REPORT, 2, 1)
    evs = engine.wait(engine.mass_cancel(time_ns=T0), timeout=WAIT)      # everything left
    assert [int(e["order_id"]) for e in evs[:-1]] == [3, 4] and evs[-1]["trade_id"] == 2


def test_market_data_sets_the_reference_price(engine):
    seq = engine.market_data("BBB", px("12.00"), time_ns=T0)
    assert len(engine.wait(seq, timeout=WAIT)) == 0
    assert engine.core.symbols()[1]["ref_price"] == px("12.00")
    ev = engine.wait(engine.market_data("BBB", 0, time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "kind", "reject_code") == (E.ADMIN_REPORT, R.INVALID_PRICE)
    ev = engine.wait(engine.market_data(7, PX, time_ns=T0), timeout=WAIT)[0]
    assert ev["reject_code"] == R.UNKNOWN_SYMBOL


def test_admin_operations(engine):
    ev = engine.wait(engine.admin(AdminOp.HALT_SYMBOL, symbol="AAA", time_ns=T0),
                     timeout=WAIT)[0]
    assert fields(ev, "kind", "exec_type", "reject_code", "symbol_id", "time_ns") == (
        E.ADMIN_REPORT, AdminOp.HALT_SYMBOL, 0, 0, T0)
    ev = engine.wait(engine.submit("AAA", BUY, 1, price=PX, time_ns=T0), timeout=WAIT)[0]
    assert ev["reject_code"] == R.SYMBOL_HALTED
    engine.wait(engine.admin(AdminOp.RESUME_SYMBOL, symbol="AAA", time_ns=T0), timeout=WAIT)
    # SET_ACCOUNT: max_order_qty travels in `qty`
    ev = engine.wait(engine.admin(AdminOp.SET_ACCOUNT, account=1, price=10**12, qty=5,
                                  stop_price=10**12, display_qty=10**6, min_qty=10**12,
                                  expire_time_ns=100, flags=1, time_ns=T0), timeout=WAIT)[0]
    assert fields(ev, "exec_type", "reject_code", "account_id") == (AdminOp.SET_ACCOUNT, 0, 1)
    assert engine.core.accounts()[1]["max_order_qty"] == 5
    ev = engine.wait(engine.submit("AAA", BUY, 6, price=PX, account=1, time_ns=T0),
                     timeout=WAIT)[0]
    assert ev["reject_code"] == R.RISK_MAX_ORDER_QTY
    ev = engine.wait(engine.admin(AdminOp.SET_ACCOUNT, account=1, flags=2, time_ns=T0),
                     timeout=WAIT)[0]
    assert ev["reject_code"] == R.INVALID_ADMIN
    # kill switch: cancels the live order, then blocks new ones
    engine.submit("AAA", BUY, 1, price=PX, time_ns=T0)
    evs = engine.wait(engine.admin(AdminOp.KILL_SWITCH_ON, time_ns=T0), timeout=WAIT)
    assert [(int(e["exec_type"]), int(e["reject_code"])) for e in evs] == [
        (X.CANCELED, R.KILL_SWITCH_ACTIVE), (AdminOp.KILL_SWITCH_ON, 0)]
    assert evs[-1]["trade_id"] == 1
    ev = engine.wait(engine.submit("AAA", BUY, 1, price=PX, time_ns=T0), timeout=WAIT)[0]
    assert ev["reject_code"] == R.KILL_SWITCH_ACTIVE
    engine.wait(engine.admin(AdminOp.KILL_SWITCH_OFF, time_ns=T0), timeout=WAIT)
    ev = engine.wait(engine.submit("AAA", BUY, 1, price=PX, time_ns=T0), timeout=WAIT)[0]
    assert ev["exec_type"] == X.NEW


def test_admin_without_time_is_stamped(engine):
    before = time.time_ns()
    ev = engine.wait(engine.admin(AdminOp.KILL_SWITCH_OFF), timeout=WAIT)[0]
    assert before - NS <= ev["time_ns"] <= time.time_ns() + NS


def test_submit_batch_returns_input_sequences(engine):
    batch = cmds([new(cl, price=PX - 100 * cl, t=T0) for cl in range(1, 6)])
    seqs = engine.submit_batch(batch, stamp_time=False)
    assert seqs.tolist() == [1, 2, 3, 4, 5]
    assert batch["seq"].tolist() == [0] * 5                  # the caller's array is a copy
    evs = engine.wait(int(seqs[-1]), timeout=WAIT)
    assert evs["cmd_seq"].tolist() == [5] and evs["time_ns"].tolist() == [T0]
    before = time.time_ns()
    seqs = engine.submit_batch(cmds([new(cl, price=PX - 100, t=T0) for cl in (6, 7)]))
    stamped = engine.wait(int(seqs[-1]), timeout=WAIT)[0]["time_ns"]
    assert stamped >= before - NS                            # stamp_time=True: the clock
    assert len(engine.submit_batch(np.zeros(0, COMMAND_DTYPE))) == 0


def test_wait_times_out_with_a_clear_error(engine):
    with pytest.raises(EngineError, match="not processed within"):
        engine.wait(1000, timeout=0.05)


# =============================================================================================
# poll(): every event exactly once, in order
# =============================================================================================

def test_poll_returns_every_event_exactly_once_in_seq_order():
    e = Engine(engine_config(input_ring=8, output_ring=16))    # rings wrap many times
    e.start()
    try:
        got = []
        total = 0
        for i in range(60):
            seq = e.submit("AAA", BUY if i % 2 else SELL, 3, price=PX + 100 * (i % 3 - 1),
                           session=1 + i % 2, time_ns=T0)
            if i % 7 == 0:
                assert len(e.wait(seq, timeout=WAIT)) >= 1     # kept for poll()
            if i % 11 == 0:
                e.status(order_id=1 + i // 2, session=1 + (i // 2) % 2, timeout=WAIT)
            if i % 5 == 0:
                got.append(e.poll())
        last = e.submit("AAA", BUY, 1, price=PX - 500, time_ns=T0)
        e.wait(last, timeout=WAIT)
        got.append(e.poll())
        assert len(e.poll()) == 0                               # nothing twice
        evs = np.concatenate(got)
        total = e.core.counters()["event_seq"]
        assert evs["seq"].tolist() == list(range(1, total + 1))
        assert (np.diff(evs["cmd_seq"]) >= 0).all()
        assert int(evs["cmd_seq"][-1]) == last
        # more work: only the new events come back
        seq = e.submit("AAA", BUY, 1, price=PX - 600, time_ns=T0)
        e.wait(seq, timeout=WAIT)
        assert e.poll()["seq"].tolist() == [total + 1]
    finally:
        e.stop()


def test_poll_on_an_idle_engine_is_empty(engine):
    out = engine.poll()
    assert out.dtype == EVENT_DTYPE and len(out) == 0


# =============================================================================================
# One code path, two drivers
# =============================================================================================

def random_batch(rng: np.random.Generator, n: int) -> np.ndarray:
    """A mixed command stream that exercises every handler, with collisions on purpose."""
    out = np.zeros(n, dtype=COMMAND_DTYPE)
    t = T0
    kinds = [K.NEW] * 50 + [K.CANCEL] * 12 + [K.REPLACE] * 12 + [K.STATUS] * 5 + \
        [K.MASS_CANCEL] * 3 + [K.MARKET_DATA] * 3 + [K.ADMIN] * 3 + [K.TIMER] * 1 + [0, 77]
    for i in range(n):
        c = out[i]
        t += int(rng.integers(0, 2_000_000))
        if rng.random() < 0.003:
            t += DAY_NS                               # idempotency keys expire
        c["time_ns"] = t
        kind = kinds[rng.integers(len(kinds))]
        c["kind"] = kind
        c["session_id"] = rng.integers(1, 4)
        sym = int(rng.integers(0, 2))
        tick = 100 if sym == 0 else 1
        ref = PX if sym == 0 else px("10.00")
        if kind == K.NEW:
            c["symbol_id"] = sym if rng.random() > 0.02 else 9
            c["account_id"] = rng.integers(0, 2) if rng.random() > 0.02 else 7
            c["side"] = rng.integers(1, 3) if rng.random() > 0.02 else 0
            c["tif"] = rng.choice([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC,
                                   TimeInForce.FOK])
            c["cl_ord_id"] = rng.integers(0, 400)
            c["qty"] = rng.integers(0, 30)
            c["strategy_id"] = rng.integers(0, 3)
            if rng.random() < 0.1:
                c["ord_type"] = OrdType.MARKET
            else:
                c["ord_type"] = OrdType.LIMIT if rng.random() > 0.02 else OrdType.STOP
                c["price"] = ref + tick * int(rng.integers(-8, 9)) + (rng.random() < 0.03)
            if rng.random() < 0.3:
                c["idem_hi"], c["idem_lo"] = 1, rng.integers(1, 200)
        elif kind in (K.CANCEL, K.REPLACE, K.STATUS):
            if rng.random() < 0.6:
                c["order_id"] = rng.integers(1, i + 2)
            else:
                c["orig_cl_ord_id"] = rng.integers(1, 400)
            c["cl_ord_id"] = rng.integers(0, 400)
            c["expected_version"] = rng.integers(0, 4) if rng.random() < 0.2 else 0
            if kind == K.REPLACE:
                c["price"] = ref + tick * int(rng.integers(-8, 9))
                c["qty"] = rng.integers(0, 30)
        elif kind == K.MASS_CANCEL:
            c["admin_op"] = rng.integers(0, 32)
            c["symbol_id"], c["side"] = sym, rng.integers(1, 3)
            c["account_id"], c["strategy_id"] = rng.integers(0, 2), rng.integers(0, 3)
        elif kind == K.MARKET_DATA:
            c["symbol_id"] = sym if rng.random() > 0.1 else 9
            c["price"] = ref + tick * int(rng.integers(-3, 4))
        elif kind == K.ADMIN:
            op = rng.choice([AdminOp.HALT_SYMBOL, AdminOp.RESUME_SYMBOL, AdminOp.RESUME_SYMBOL,
                             AdminOp.KILL_SWITCH_ON, AdminOp.KILL_SWITCH_OFF,
                             AdminOp.KILL_SWITCH_OFF, AdminOp.SET_ACCOUNT, 0])
            c["admin_op"] = op
            c["symbol_id"] = sym
            if op == AdminOp.SET_ACCOUNT:
                c["account_id"] = rng.integers(0, 2)
                c["price"] = c["stop_price"] = c["min_qty"] = 10**14
                c["qty"], c["display_qty"] = rng.integers(5, 50), rng.integers(20, 200)
                c["expire_time_ns"], c["flags"] = 100, rng.random() > 0.1
    return out


def final_state(core):
    books = [core.book(s) for s in range(2)]
    return (core.orders().tobytes(), core.accounts().tobytes(), core.positions().tobytes(),
            core.symbols().tobytes(), core.counters(), books, core.illegal_transitions)


def assert_same_events(a, b):
    assert a.dtype == b.dtype == EVENT_DTYPE
    assert len(a) == len(b), (len(a), len(b))
    if a.tobytes() != b.tobytes():
        i = next(k for k in range(len(a)) if a[k].tobytes() != b[k].tobytes())
        raise AssertionError(f"first difference at event {i}:\n{a[i]}\n{b[i]}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_batch_equals_core_process(seed):
    rng = np.random.default_rng(seed)
    batch = random_batch(rng, 1500)
    cfg = dict(max_orders=48, idem_capacity=96, max_levels=4, input_ring=64, output_ring=128)
    direct = Core(engine_config(**cfg))
    expected = direct.process(batch.copy())
    assert len(expected) > len(batch) // 2
    e = Engine(engine_config(**cfg))
    e.start()
    try:
        seqs = e.submit_batch(batch, stamp_time=False)
        assert seqs.tolist() == list(range(1, len(batch) + 1))
        e.wait(int(seqs[-1]), timeout=WAIT)
    finally:
        e.stop()
    got = e.poll()
    assert_same_events(got, expected)
    assert final_state(e.core) == final_state(direct)
    assert direct.illegal_transitions == 0
    # the stream really exercised the engine
    codes = set(expected["reject_code"].tolist())
    assert {R.DUPLICATE_CL_ORD_ID, R.UNKNOWN_ORDER, R.INVALID_QTY} <= codes
    assert X.TRADE in set(expected["exec_type"].tolist())


def test_engine_batches_in_pieces_equal_one_core_batch():
    rng = np.random.default_rng(7)
    batch = random_batch(rng, 600)
    direct = Core(engine_config())
    expected = direct.process(batch.copy())
    e = Engine(engine_config())
    e.start()
    try:
        for lo in range(0, len(batch), 97):
            seqs = e.submit_batch(batch[lo:lo + 97].copy(), stamp_time=False)
            assert seqs[0] == lo + 1
        e.wait(len(batch), timeout=WAIT)
    finally:
        e.stop()
    assert_same_events(e.poll(), expected)


# =============================================================================================
# Several producer threads
# =============================================================================================

def _submit_from_threads(e, n_threads, per_thread):
    """Every thread submits resting buys in its own session; returns the seqs of each."""
    seqs = [[] for _ in range(n_threads)]
    errors = []
    start = threading.Barrier(n_threads)

    def producer(i):
        try:
            start.wait(timeout=WAIT)
            for k in range(per_thread):
                seqs[i].append(e.submit("AAA", BUY, 1 + k % 3, price=PX - 100 * (i + 1),
                                        session=10 + i, time_ns=T0))
        except Exception as exc:                       # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(i,), daemon=True)
               for i in range(n_threads)]
    for t in threads:
        t.start()
    return threads, seqs, errors


def _check_all_events(evs, seqs, n_threads, per_thread):
    n = n_threads * per_thread
    assert len(evs) == n, f"{n - len(evs)} events lost"
    assert evs["seq"].tolist() == list(range(1, n + 1))
    assert sorted(evs["cmd_seq"].tolist()) == sorted(s for ss in seqs for s in ss)
    assert (evs["exec_type"] == X.NEW).all()
    assert len({(int(e["session_id"]), int(e["cl_ord_id"])) for e in evs}) == n
    for i in range(n_threads):                          # each thread's orders in its order
        mine = evs[evs["session_id"] == 10 + i]
        assert mine["cmd_seq"].tolist() == seqs[i]
        assert mine["qty"].tolist() == [1 + k % 3 for k in range(per_thread)]


@pytest.mark.parametrize("input_ring", [4, 1 << 10])
def test_concurrent_submitters_lose_nothing(input_ring):
    n_threads, per_thread = 4, 300
    e = Engine(engine_config(input_ring=input_ring, output_ring=1 << 12, max_orders=2048,
                             idem_capacity=2048))
    e.start()
    try:
        threads, seqs, errors = _submit_from_threads(e, n_threads, per_thread)
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads) and not errors, errors
        assert len({s for ss in seqs for s in ss}) == n_threads * per_thread
        e.wait(max(max(ss) for ss in seqs), timeout=WAIT)
    finally:
        e.stop()
    _check_all_events(e.poll(), seqs, n_threads, per_thread)


def test_consumer_polls_while_threads_submit():
    # rings larger than the whole run: producers never have to make room themselves
    n_threads, per_thread = 4, 300
    e = Engine(engine_config(input_ring=1 << 11, output_ring=1 << 12, max_orders=2048,
                             idem_capacity=2048))
    e.start()
    got = []
    try:
        threads, seqs, errors = _submit_from_threads(e, n_threads, per_thread)
        deadline = time.monotonic() + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            got.append(e.poll())
        for t in threads:
            t.join(timeout=WAIT)
        assert not any(t.is_alive() for t in threads) and not errors, errors
        e.wait(max(max(ss) for ss in seqs), timeout=WAIT)
        got.append(e.poll())
    finally:
        e.stop()
    got.append(e.poll())
    _check_all_events(np.concatenate(got), seqs, n_threads, per_thread)


class _ConcatenateWindow(types.ModuleType):
    """numpy, except that `concatenate` runs `during()` after reading its input and before
    returning.  The real np.concatenate releases the GIL while it copies each array, so
    another thread may run at exactly that point; this holds the window open so the
    interleaving happens every time instead of now and then."""

    def __init__(self, during):
        super().__init__("numpy")
        self._during = during

    def __getattr__(self, name):
        return getattr(np, name)

    def concatenate(self, arrays, *args, **kwargs):
        out = np.concatenate(arrays, *args, **kwargs)
        self._during()
        return out


def test_poll_loses_nothing_when_a_producer_drains_meanwhile(monkeypatch):
    import oms._engine as engine_module

    e = Engine(engine_config(input_ring=2, output_ring=2))
    e.start()
    try:
        # two chunks pending, so poll() concatenates
        e.wait(e.submit("AAA", BUY, 1, price=PX, time_ns=T0), timeout=WAIT)
        e.wait(e.submit("AAA", BUY, 1, price=PX, time_ns=T0), timeout=WAIT)

        def producer():         # 10 events cannot fit in 2 + 2 slots: it must drain
            for i in range(10):
                e.submit("AAA", BUY, 1, price=PX - 100 * (i % 4), session=2, time_ns=T0)

        def during():
            t = threading.Thread(target=producer, daemon=True)
            t.start()
            t.join(timeout=WAIT)
            assert not t.is_alive()

        monkeypatch.setattr(engine_module, "np", _ConcatenateWindow(during))
        got = [e.poll()]
        monkeypatch.undo()
        last = e.submit("AAA", BUY, 1, price=PX, time_ns=T0)
        e.wait(last, timeout=WAIT)
        got.append(e.poll())
    finally:
        monkeypatch.undo()
        e.stop()
    got.append(e.poll())
    seqs = np.concatenate(got)["seq"].tolist()
    assert seqs == list(range(1, e.core.counters()["event_seq"] + 1)), (
        f"poll() never returned events {sorted(set(range(1, seqs[-1])) - set(seqs))}")


# =============================================================================================
# Misuse
# =============================================================================================

@pytest.mark.parametrize("call", [
    lambda e: e.submit("AAA", BUY, 1, price=PX),
    lambda e: e.cancel(order_id=1),
    lambda e: e.replace(order_id=1, price=PX, qty=1),
    lambda e: e.status(order_id=1),
    lambda e: e.mass_cancel(),
    lambda e: e.market_data("AAA", PX),
    lambda e: e.admin(AdminOp.KILL_SWITCH_OFF),
    lambda e: e.submit_batch(np.zeros(1, COMMAND_DTYPE)),
    lambda e: e.wait(1, timeout=0.01),
], ids=["submit", "cancel", "replace", "status", "mass_cancel", "market_data", "admin",
        "submit_batch", "wait"])
def test_calls_before_start_or_after_stop_raise(call):
    e = Engine(engine_config())
    with pytest.raises(EngineError, match=r"start\(\)"):
        call(e)
    e.start()
    e.stop()
    with pytest.raises(EngineError, match=r"start\(\)"):
        call(e)
    assert e.core.counters()["cmd_seq"] == 0


@pytest.mark.parametrize("call", [
    lambda e: e.submit("ZZZ", BUY, 1, price=PX),
    lambda e: e.mass_cancel(Scope.SYMBOL, symbol="ZZZ"),
    lambda e: e.market_data("ZZZ", PX),
    lambda e: e.admin(AdminOp.HALT_SYMBOL, symbol="ZZZ"),
], ids=["submit", "mass_cancel", "market_data", "admin"])
def test_unknown_symbol_name_lists_the_known_ones(engine, call):
    with pytest.raises(EngineError) as info:
        call(engine)
    text = str(info.value)
    assert "'ZZZ'" in text and "AAA" in text and "BBB" in text
    assert engine.core.counters()["cmd_seq"] == 0        # nothing was submitted


@pytest.mark.parametrize("call", [
    lambda e: e.cancel(),
    lambda e: e.replace(price=PX, qty=1),
    lambda e: e.status(),
], ids=["cancel", "replace", "status"])
def test_commands_without_a_target_raise(engine, call):
    with pytest.raises(EngineError, match="order_id or orig_cl_ord_id"):
        call(engine)


@pytest.mark.parametrize("call", [
    lambda e: e.submit("AAA", "BUY", 1, price=PX),
    lambda e: e.submit("AAA", BUY, "10", price=PX),
    lambda e: e.submit("AAA", BUY, 1, price="100.00"),
    lambda e: e.submit("AAA", BUY, 1, price=PX, account="A0"),
    lambda e: e.submit(None, BUY, 1, price=PX),
    lambda e: e.cancel(order_id="1"),
    lambda e: e.replace(order_id=1, price=None, qty=1),
    lambda e: e.replace(order_id=1, price=PX),                  # qty is required
    lambda e: e.mass_cancel("SESSION"),
    lambda e: e.market_data("AAA", "100"),
    lambda e: e.submit_batch([new()]),
    lambda e: e.submit_batch(np.zeros(2, dtype=np.int64)),
    lambda e: e.submit_batch(np.zeros(2, dtype=EVENT_DTYPE)),
    lambda e: e.submit_batch(np.zeros(4, dtype=COMMAND_DTYPE)[::2]),
], ids=["side-str", "qty-str", "price-str", "account-str", "symbol-none", "cancel-id-str",
        "replace-price-none", "replace-missing-qty", "scope-str", "md-price-str",
        "batch-list", "batch-int64", "batch-event-dtype", "batch-strided"])
def test_wrong_argument_types_raise_type_error(engine, call):
    with pytest.raises(TypeError):
        call(engine)
    assert engine.core.counters()["cmd_seq"] == 0


@pytest.mark.parametrize("call", [
    lambda e: e.submit("AAA", BUY, 1, price=PX + 0.9),
    lambda e: e.submit("AAA", BUY, 10.7, price=PX),
    lambda e: e.cancel(order_id=1.0),
    lambda e: e.submit("AAA", BUY, 1, price=PX, idem_key="12345678-1234-5678-1234-5678"),
], ids=["float-price", "float-qty", "float-order-id", "str-idem-key"])
def test_lossy_argument_types_raise_type_error(engine, call):
    try:
        with pytest.raises(TypeError):
            call(engine)
    finally:
        engine.wait(engine.submit("AAA", BUY, 1, price=PX - 100, time_ns=T0), timeout=WAIT)
    assert engine.core.counters()["next_order_id"] == 2      # no order from the bad call


def test_admin_rejects_unknown_fields_and_ops(engine):
    with pytest.raises(EngineError, match="'bogus' is not a command field"):
        engine.admin(AdminOp.SET_ACCOUNT, bogus=1)
    with pytest.raises(EngineError, match="not a command field"):
        engine.admin(AdminOp.SET_ACCOUNT, _reserved=1)
    with pytest.raises(ValueError):
        engine.admin(99)
    assert engine.core.counters()["cmd_seq"] == 0


def test_book_query_checks_the_symbol_id():
    core = Core(engine_config())
    with pytest.raises(EngineError, match="max_symbols"):
        core.book(8)
    assert core.book(0) == ([], [])


# =============================================================================================
# Positions and P&L
# =============================================================================================

def test_positions_report_realized_and_unrealized_pnl():
    syms = [SymbolConfig(0, "XYZ", tick_size=100, ref_price=px("10.00"))]
    accs = [AccountConfig(0, "TRADER"), AccountConfig(1, "STREET")]
    e = Engine(config(symbols=syms, accounts=accs))
    e.start()
    try:
        p10, p12, p11 = px("10.00"), px("12.00"), px("11.00")
        e.submit("XYZ", SELL, 100, price=p10, account=1, session=2, time_ns=T0)
        e.submit("XYZ", BUY, 100, price=p10, account=0, time_ns=T0)        # buy 100 @ 10.00
        e.submit("XYZ", BUY, 40, price=p12, account=1, session=2, time_ns=T0)
        seq = e.submit("XYZ", SELL, 40, price=p12, account=0, time_ns=T0)  # sell 40 @ 12.00
        evs = e.wait(seq, timeout=WAIT)
        assert [int(x) for x in evs["exec_type"]] == [X.NEW, X.TRADE, X.TRADE]
        rows = {r["account_id"]: r for r in e.positions()}
        assert set(rows) == {0, 1}
        trader, street = rows[0], rows[1]
        assert trader == dict(account_id=0, symbol_id=0, net_qty=60, avg_px=p10,
                              realized_pnl=40 * (p12 - p10),           # 40 x 2.00
                              unrealized_pnl=60 * (p12 - p10),         # ref = last trade 12.00
                              bought_qty=100, sold_qty=40)
        assert trader["realized_pnl"] == 800_000                       # 80.00 in price units
        assert street == dict(account_id=1, symbol_id=0, net_qty=-60, avg_px=p10,
                              realized_pnl=-40 * (p12 - p10),
                              unrealized_pnl=-60 * (p12 - p10),
                              bought_qty=40, sold_qty=100)
        # the mark moves with market data; realized P&L does not
        e.wait(e.market_data("XYZ", p11, time_ns=T0), timeout=WAIT)
        rows = {r["account_id"]: r for r in e.positions()}
        assert rows[0]["unrealized_pnl"] == 60 * (p11 - p10) == 600_000
        assert rows[1]["unrealized_pnl"] == -600_000
        assert rows[0]["realized_pnl"] == 800_000
        # flatten: the row stays (there were fills), with no open P&L
        e.submit("XYZ", BUY, 60, price=p11, account=1, session=2, time_ns=T0)
        e.wait(e.submit("XYZ", SELL, 60, price=p11, account=0, time_ns=T0), timeout=WAIT)
        rows = {r["account_id"]: r for r in e.positions()}
        assert rows[0]["net_qty"] == 0 and rows[0]["avg_px"] == 0
        assert rows[0]["unrealized_pnl"] == 0
        assert rows[0]["realized_pnl"] == 800_000 + 60 * (p11 - p10)
        assert rows[1]["realized_pnl"] == -(800_000 + 60 * (p11 - p10))
        assert e.core.accounts()[0]["position_cost"] == 0
    finally:
        e.stop()


def test_positions_are_empty_without_fills(engine):
    engine.wait(engine.submit("AAA", BUY, 5, price=PX, time_ns=T0), timeout=WAIT)
    assert engine.positions() == []
