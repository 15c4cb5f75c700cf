"""A snapshot taken at any point, restored into a fresh core, continues exactly as the core it
came from: same events, same state byte for byte.  Driven by the reference-model generators,
so the snapshot carries everything issue 3 added: the trigger heaps and trailing marks,
orders waiting for a parent or an auction, the expiry heap, contingent links."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import engine_scenarios, random_scenario
from test_model_equivalence import to_array

_engine = pytest.importorskip("oms._engine")
Core = _engine.Core


def check_roundtrip(cfg, commands: list[dict], cut: int) -> None:
    arr = to_array(commands)
    straight = Core(cfg)
    head = straight.process(arr[:cut].copy())
    tail_want = straight.process(arr[cut:].copy())

    before = Core(cfg)
    assert np.array_equal(before.process(arr[:cut].copy()), head)
    restored = Core(cfg)
    restored.restore(before.snapshot())
    assert restored.snapshot() == before.snapshot()
    tail_got = restored.process(arr[cut:].copy())
    assert np.array_equal(tail_got, tail_want), "events after the restore differ"
    assert restored.snapshot() == straight.snapshot(), "state after the restore differs"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=engine_scenarios(), cut_seed=st.integers(0, 2**32 - 1))
def test_snapshot_restore_continues_identically(scenario, cut_seed):
    cfg, commands = scenario
    check_roundtrip(cfg, commands, random.Random(cut_seed).randint(0, len(commands)))


@pytest.mark.parametrize("seed", range(6))
def test_snapshot_restore_long_sequences(seed):
    cfg, commands = random_scenario(1000 + seed, 600)
    for cut in (len(commands) // 3, 2 * len(commands) // 3):
        check_roundtrip(cfg, commands, cut)
