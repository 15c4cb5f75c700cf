"""The compiled core against the reference model (tests/model.py): same commands, identical
events (every field but the reserved bytes, in order) and identical final state.  When they
disagree, docs/engine.md decides which side is wrong."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import (ACCOUNT_NAMES, EVENT_NAMES, ORDER_NAMES, POSITION_NAMES, SYMBOL_NAMES,
                   ReferenceModel)
from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.layout import COMMAND_DTYPE, MAX_PRICE, MAX_QTY
from strategies import engine_scenarios, random_scenario

_engine = pytest.importorskip("oms._engine")
Core = _engine.Core


# ---------------------------------------------------------------------------------------------
# Conversion and comparison
# ---------------------------------------------------------------------------------------------


def to_array(commands: list[dict]) -> np.ndarray:
    arr = np.zeros(len(commands), dtype=COMMAND_DTYPE)
    for i, c in enumerate(commands):
        for name, value in c.items():
            arr[i][name] = value
    return arr


def _rows(arr, names) -> list[dict]:
    cols = {n: arr[n].tolist() for n in names}
    return [{n: cols[n][i] for n in names} for i in range(len(arr))]


def engine_state(core, cfg) -> dict:
    orders = {o["order_id"]: o for o in _rows(core.orders(), ORDER_NAMES)}
    pos = core.positions()
    positions = {}
    for a in range(pos.shape[0]):
        for s in range(pos.shape[1]):
            row = {n: int(pos[a, s][n]) for n in POSITION_NAMES}
            if any(row.values()):
                positions[(a, s)] = row
    accounts = {i: r for i, r in enumerate(_rows(core.accounts(), ACCOUNT_NAMES))
                if r["defined"]}
    symbols = {i: r for i, r in enumerate(_rows(core.symbols(), SYMBOL_NAMES)) if r["defined"]}
    return dict(orders=orders, positions=positions, accounts=accounts, symbols=symbols,
                books={s: _norm_book(core.book(s)) for s in range(cfg.max_symbols)},
                counters={k: int(v) for k, v in core.counters().items()
                          if k in ("cmd_seq", "event_seq", "next_order_id", "next_trade_id",
                                   "kill_switch")})


def model_state(model, cfg) -> dict:
    return dict(orders=model.orders(), positions=model.positions(), accounts=model.accounts(),
                symbols=model.symbols(),
                books={s: _norm_book(model.book(s)) for s in range(cfg.max_symbols)},
                counters=model.counters())


def _norm_book(book):
    return tuple([(int(p), int(q), [int(i) for i in ids]) for p, q, ids in side]
                 for side in book)


def _dict_diff(a: dict, b: dict) -> str:
    keys = list(dict.fromkeys([*a, *b]))
    return ", ".join(f"{k}: engine={a.get(k, '<missing>')!r} model={b.get(k, '<missing>')!r}"
                     for k in keys if a.get(k, "<missing>") != b.get(k, "<missing>"))


def _fmt_cmd(c: dict) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in c.items()) + "}"


def run_and_compare(cfg, commands: list[dict], chunk_rng: random.Random) -> None:
    """Feed the engine in random-sized chunks and the model command by command; compare."""
    core = Core(cfg)
    model = ReferenceModel(cfg)
    arr = to_array(commands)
    assert len(core.process(arr[:0].copy())) == 0          # an empty batch is a no-op
    got_parts = []
    i = 0
    while i < len(arr):
        n = chunk_rng.choice([1, 1, 2, 3, 5, 8, 17, 64, len(arr)])
        got_parts.append(core.process(arr[i:i + n].copy()))
        i += n
    got = []
    for part in got_parts:
        got.extend(_rows(part, EVENT_NAMES))

    want, origin = [], []
    for idx, c in enumerate(commands):
        evs = model.process(c)
        want.extend(evs)
        origin.extend([idx] * len(evs))

    for k in range(min(len(got), len(want))):
        if got[k] != want[k]:
            idx = origin[k]
            ctx = "\n".join(f"    [{j}] {_fmt_cmd(commands[j])}"
                            for j in range(max(0, idx - 3), idx + 1))
            pytest.fail(
                f"event #{k} differs (from command #{idx}):\n  {_dict_diff(got[k], want[k])}\n"
                f"  engine: {got[k]}\n  model:  {want[k]}\n  commands (last 4):\n{ctx}\n"
                f"  config: {cfg!r}")
    if len(got) != len(want):
        k = min(len(got), len(want))
        extra = got[k] if len(got) > len(want) else want[k]
        who = "engine" if len(got) > len(want) else "model"
        idx = origin[k] if k < len(origin) else (origin[-1] if origin else None)
        pytest.fail(f"engine emitted {len(got)} events, model {len(want)}; first extra "
                    f"({who}): {extra}; near command #{idx}: "
                    f"{_fmt_cmd(commands[idx]) if idx is not None else '-'}\n"
                    f"  config: {cfg!r}")

    e, m = engine_state(core, cfg), model_state(model, cfg)
    for part in ("counters", "symbols", "accounts", "positions", "books", "orders"):
        if e[part] != m[part]:
            ed, md = e[part], m[part]
            lines = []
            if isinstance(ed, dict):
                for key in sorted(set(ed) | set(md), key=repr):
                    if ed.get(key) != md.get(key):
                        if isinstance(ed.get(key), dict) and isinstance(md.get(key), dict):
                            lines.append(f"  {key}: {_dict_diff(ed[key], md[key])}")
                        else:
                            lines.append(f"  {key}: engine={ed.get(key)!r} model={md.get(key)!r}")
            pytest.fail(f"final {part} differ:\n" + "\n".join(lines[:20]) +
                        f"\n  config: {cfg!r}")
    if hasattr(core, "illegal_transitions"):
        assert int(core.illegal_transitions()
                   if callable(core.illegal_transitions) else core.illegal_transitions) == 0


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=engine_scenarios(), chunk_seed=st.integers(0, 2**32 - 1))
def test_engine_matches_model(scenario, chunk_seed):
    cfg, commands = scenario
    run_and_compare(cfg, commands, random.Random(chunk_seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_matches_model_long_sequence(seed):
    cfg, commands = random_scenario(seed, 4000)
    run_and_compare(cfg, commands, random.Random(seed))


# ---------------------------------------------------------------------------------------------
# Hand-written edge cases the generator does not reach (extreme values)
# ---------------------------------------------------------------------------------------------

T_MAX = 2**63 - 1
_EDGE_CFG = EngineConfig(
    max_orders=64, max_symbols=2, max_accounts=2, idem_capacity=64, max_levels=8,
    symbols=[SymbolConfig(0, "A", tick_size=1, ref_price=10_000, max_qty=MAX_QTY),
             SymbolConfig(1, "H", tick_size=1, ref_price=10_000, open_sec=1, close_sec=86_399)],
    accounts=[AccountConfig(0, "X"), AccountConfig(1, "Y")])


def _new(cl, t, **kw):
    c = dict(kind=1, time_ns=t, session_id=1, cl_ord_id=cl, side=1, ord_type=2, tif=1, qty=1,
             price=10_000)
    c.update(kw)
    return c


def _hours_sweep():
    times = []
    for base in [0, -86_400 * 10**9, 86_400 * 10**9, -2**63, T_MAX, -(2**63) + 86_400 * 10**9]:
        for d in [-10**9 - 1, -10**9, -10**9 + 1, -1, 0, 1, 10**9 - 1, 10**9, 10**9 + 1]:
            if -2**63 <= base + d <= T_MAX:
                times.append(base + d)
    return [_new(i + 1, t, symbol_id=1, tif=3) for i, t in enumerate(times)]


_BOOK1_CFG = EngineConfig(
    max_orders=64, max_symbols=1, max_accounts=1, idem_capacity=64, max_levels=1,
    symbols=[SymbolConfig(0, "A", tick_size=1, ref_price=10_000)],
    accounts=[AccountConfig(0, "X")])


def _replace(cl, orig, price, qty):
    return dict(kind=3, time_ns=0, session_id=1, cl_ord_id=cl, orig_cl_ord_id=orig,
                price=price, qty=qty)


BOOK1_CASES = {
    # a replace that moves to a new price without crossing, while the old level keeps other
    # orders and the side is at max_levels: REPLACED, then the leaves cancelled BOOK_FULL
    "replace to a new level, side full": [
        _new(1, 0, price=9_900), _new(2, 0, price=9_900), _new(3, 0, price=10_100, side=2),
        _replace(5, 1, 9_800, 1), _replace(6, 2, 9_800, 1)],
    "crossing replace, remainder needs a new level": [
        _new(1, 0, price=9_900, qty=5), _new(2, 0, price=9_900),
        _new(3, 0, price=10_100, side=2, qty=2), _replace(5, 1, 10_100, 5)],
}


@pytest.mark.parametrize("name", list(BOOK1_CASES))
def test_engine_matches_model_book_full_replace(name):
    run_and_compare(_BOOK1_CFG, BOOK1_CASES[name], random.Random(0))


EDGE_CASES = {
    # "live while stored_time + 24h > cmd.time_ns": near the end of int64 time the sum must
    # not wrap around
    "idempotency key near INT64_MAX": [_new(1, T_MAX - 10), _new(1, T_MAX)],
    "idempotency key at INT64_MAX": [_new(1, T_MAX), _new(1, T_MAX)],
    "expiry pop at INT64_MAX": [_new(1, 0), _new(2, T_MAX), _new(1, T_MAX)],
    "floor of negative times": _hours_sweep(),
    # issue 3: a DAY order's expiry (the close of its UTC day) is beyond INT64_MAX here; it
    # saturates, so a TIMER at INT64_MAX expires it (the exact close would never come)
    "DAY expiry past INT64_MAX": [_new(1, T_MAX - 10), dict(kind=8, time_ns=T_MAX - 1),
                                  dict(kind=8, time_ns=T_MAX)],
    # (last_timer_ns = 0, T] is empty for T < 0: no session open, no GTC revalidation, even
    # at the very start of int64 time (T - open_sec * 10^9 must not wrap around)
    "TIMER at INT64_MIN revalidates nothing": [
        _new(1, 3600 * 10**9, symbol_id=1, tif=2), dict(kind=9, time_ns=0, admin_op=3, symbol_id=1),
        dict(kind=8, time_ns=-2**63), dict(kind=8, time_ns=-2**63 + 10**9),
        dict(kind=8, time_ns=0), dict(kind=8, time_ns=T_MAX)],
    # issue 3: the last fill of a resting iceberg counts against display_leaves too (to 0)
    "iceberg filled by its last slice": [_new(1, 0, qty=3, display_qty=1),
                                         _new(2, 0, qty=3, side=2, account_id=1)],
    "largest price and quantity": [
        _new(1, 0, price=MAX_PRICE, qty=MAX_QTY // 10**4, side=2),
        _new(2, 0, price=MAX_PRICE, qty=MAX_QTY // 10**4, account_id=1),
        dict(kind=6, time_ns=0, symbol_id=0, price=MAX_PRICE),
        _new(3, 0, ord_type=1, price=0, qty=10, side=2),
    ],
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_engine_matches_model_edge_cases(name):
    run_and_compare(_EDGE_CFG, EDGE_CASES[name], random.Random(0))
