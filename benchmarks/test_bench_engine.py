"""pytest-benchmark versions of benchmarks a, b and c of engine_throughput.py, small sizes.

    pytest benchmarks/                      # quick (a few seconds); not part of tests/
    pytest benchmarks/ --benchmark-json=out.json

Each round gets a fresh, started engine (setup, not timed) and times feeding the flow to it,
draining events as it goes, until the last command is processed; each round checks it did
the work.  The full-size figures are in BENCHMARKS.md (python benchmarks/engine_throughput.py).
"""

from __future__ import annotations

import os

import pytest

import engine_throughput as eb
from oms import Core

pytest.importorskip("pytest_benchmark")

N_RESTING = 20_000
N_MIXED = 20_000
N_EXCHANGE_CORE = 20_000
CHUNK = 4096
ROUNDS = 5


@pytest.fixture(scope="module", autouse=True)
def pinned_driver():
    """The driving thread on core 0 (the business thread pins itself to core 1)."""
    try:
        before = os.sched_getaffinity(0)
    except AttributeError:
        yield
        return
    eb.pin_driver()
    yield
    os.sched_setaffinity(0, before)


@pytest.fixture(scope="module")
def resting():
    return eb.resting_orders(N_RESTING)


@pytest.fixture(scope="module")
def mixed():
    return eb.mixed_flow(N_MIXED, prefill_per_side=20)


@pytest.fixture(scope="module")
def exchange_core():
    return eb.exchange_core_flow(N_EXCHANGE_CORE)


def _engine_rounds(benchmark, config, prefill, commands, check):
    """Time feed_engine(commands) on a fresh engine per round; `check(engine, result)`."""
    state = {}

    def setup():
        eng = eb.start_engine(config)
        buf = eb.event_buffer()
        if len(prefill):
            eb.feed_engine(eng, prefill, CHUNK, buf)
        state["eng"] = eng
        return (eng, commands, CHUNK, buf), {}

    def teardown(eng, *_):
        eng.stop()

    def target(eng, cmds, chunk, buf):
        result = eb.feed_engine(eng, cmds, chunk, buf)
        check(eng, result)
        return result

    benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=ROUNDS)
    benchmark.extra_info["commands"] = len(commands)
    benchmark.extra_info["commands_per_s_min_time"] = len(commands) / benchmark.stats.stats.min


def test_a_resting_orders_engine(benchmark, resting):
    n = len(resting)

    def check(eng, result):
        events, rejects, last = result
        eb.check(events == n and rejects == 0 and last == n, f"a: {result}")
        eb.check(eng.core.counters()["next_order_id"] == n + 1, "a: an order was rejected")

    _engine_rounds(benchmark, eb.make_config(64, 16), resting[:0], resting, check)


def test_a_resting_orders_core(benchmark, resting):
    n = len(resting)

    def setup():
        return (Core(eb.make_config(64, 16)),), {}

    def target(core):
        events, rejects = eb.feed_core(core, resting, CHUNK)
        eb.check(events == n and rejects == 0, f"a/core: {events} events, {rejects} rejects")
        eb.check(core.counters()["cmd_seq"] == n, "a/core: not every command was applied")

    benchmark.pedantic(target, setup=setup, rounds=ROUNDS)
    benchmark.extra_info["orders_per_s_min_time"] = n / benchmark.stats.stats.min


def _flow_test(benchmark, flow):
    def check(eng, result):
        events, rejects, last = result
        eb.check(last == len(flow.prefill) + len(flow.commands), f"{flow.name}: last {last}")
        eb._flow_checks(flow, eng.core, events, rejects, flow.name)

    _engine_rounds(benchmark, eb.make_config(**flow.config_args), flow.prefill, flow.commands,
                   check)
    benchmark.extra_info["reject_fraction"] = flow.expected["rejects"] / len(flow.commands)
    benchmark.extra_info["trades"] = flow.expected["trades"]


def test_b_mixed_flow_engine(benchmark, mixed):
    _flow_test(benchmark, mixed)


def test_c_exchange_core_mix_engine(benchmark, exchange_core):
    _flow_test(benchmark, exchange_core)
