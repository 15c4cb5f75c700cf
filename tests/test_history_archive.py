"""The order-history index and segment archiving over a journal the engine wrote."""
import os

import numpy as np
import pytest

from oms import Core, demo_config
from oms._journal import JournalWriter, scan_segment
from oms.history import HistoryIndex
from oms.journal import archive, replay, scan_journal, segment_files, verify, write_config
from oms.layout import COMMAND_DTYPE, CommandType, ExecType, OrdStatus, OrdType, Side, TimeInForce

T0 = 1_750_000_000 * 10**9


def _commands(n):
    """Alternating buys and sells around 190.00 on AAPL: rests, fills, a cancel every 10."""
    cmds = np.zeros(n, COMMAND_DTYPE)
    i = np.arange(n)
    cmds["kind"] = np.where(i % 10 == 9, CommandType.CANCEL, CommandType.NEW)
    cmds["side"] = np.where(i % 2 == 0, Side.BUY, Side.SELL)
    cmds["ord_type"] = OrdType.LIMIT
    cmds["tif"] = TimeInForce.DAY
    cmds["qty"] = 10
    cmds["price"] = 1_900_000 + (i % 7 - 3) * 100
    cmds["account_id"] = i % 3
    cmds["cl_ord_id"] = i + 1
    cmds["order_id"] = np.where(i % 10 == 9, i - 3, 0)       # cancel an earlier order
    cmds["time_ns"] = T0 + i * 1000
    return cmds


@pytest.fixture
def journal(tmp_path):
    directory = str(tmp_path / "journal")
    os.makedirs(directory)
    config = demo_config()
    write_config(directory, config)
    core = Core(config)
    writer = JournalWriter(directory, segment_bytes=1 << 17)
    core.attach_journal(writer)
    events = core.process(_commands(3000))
    writer.flush()
    writer.close()
    return directory, core, events


def test_history_finds_every_event_of_a_closed_order(journal):
    directory, core, events = journal
    index = HistoryIndex(directory)
    try:
        assert index.update() == len(events)
        assert index.update() == 0                      # incremental: nothing new
        filled = events[(events["exec_type"] == ExecType.TRADE)
                        & (events["status"] == OrdStatus.FILLED)]
        oid = int(filled["order_id"][0])
        want = events[events["order_id"] == oid]
        got = index.order_events(oid)
        assert got.tobytes() == want.tobytes()
        assert index.closed_order(oid)["status"] == OrdStatus.FILLED
        cl = int(want["cl_ord_id"][0])
        assert index.find_cl_ord_id(0, cl) == [oid]
        closed_for_account = index.closed_orders(account_id=int(want["account_id"][0]))
        assert oid in closed_for_account
        live = core.orders()
        live_ids = live["order_id"][np.isin(live["status"], [OrdStatus.ACCEPTED,
                                                             OrdStatus.PARTIALLY_FILLED])]
        assert not set(map(int, live_ids)) & set(index.closed_orders())
        assert index.order_events(10**9).size == 0
        assert index.closed_order(10**9) is None
    finally:
        index.close()


def test_archived_segments_replay_like_plain_ones(journal):
    directory, core, events = journal
    before = [s.commands.tobytes() + s.events.tobytes() for s in scan_journal(directory)]
    assert len(before) > 3
    actions = archive(directory, keep_plain=1)
    assert len(actions) == len(before) - 1
    paths = [p for _, p in segment_files(directory)]
    assert sum(p.endswith(".seg.zst") for p in paths) == len(before) - 1
    after = [s.commands.tobytes() + s.events.tobytes() for s in scan_journal(directory)]
    assert after == before
    assert verify(directory) == (3000, len(events))
    replayed, n = replay(directory)
    assert n == 3000 and replayed.snapshot() == core.snapshot()
    assert archive(directory, keep_plain=1) == []       # nothing left to do


def test_scan_resumes_at_a_record_boundary(journal):
    directory, _, _ = journal
    _, path = segment_files(directory)[0]
    whole = scan_segment(path)
    middle = int(whole.offsets[len(whole.offsets) // 2])
    tail = scan_segment(path, 0, middle)
    assert tail.offsets[0] == middle and tail.end == whole.end
    assert len(tail.commands) + len(tail.events) == len(whole.offsets) // 2 + len(whole.offsets) % 2


def test_engine_keeps_the_history_index_live_across_segment_rolls(tmp_path):
    from oms import Engine
    config = demo_config(journal_dir=str(tmp_path / "j"), history_index_seconds=0.05,
                         segment_bytes=1 << 17, durability="async")
    engine = Engine(config).start()
    try:
        for i in range(2000):
            seq = engine.submit("AAPL", Side.BUY if i % 2 else Side.SELL, 10, 1_900_000,
                                account=i % 3, time_ns=T0 + i)
        engine.wait(seq, timeout=30)
        assert len([p for _, p in segment_files(config.journal_dir)]) > 2
    finally:
        engine.close()
    index = HistoryIndex(config.journal_dir)
    try:
        closed = index.closed_orders()
        assert len(closed) == 2000                      # every order filled and is indexed
        assert [int(e["exec_type"]) for e in index.order_events(2000)] == [
            ExecType.NEW, ExecType.TRADE]
    finally:
        index.close()
