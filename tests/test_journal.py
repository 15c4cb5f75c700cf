"""The journal: on-disk format (checked byte by byte against journal/README.md and journal.h),
torn tails and corruption, `verify` (a million mixed commands; a deliberately altered event),
snapshots (restore + tail = full replay, retention, never ahead of the durable journal) and
replay to a point (`until_seq`, `until_time_ns`).

Journals are produced by the engine itself: `Core.process` with a `JournalWriter` attached
(the direct driver) or a journaled `Engine` (the threaded one).  The bugs found are at the end,
each kept as a regression test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import time

import msgspec
import numpy as np
import pytest

from helpers import PX, T0, new, cmds as make_cmds
from journal_workload import mixed_commands, workload_config
from oms import Core, Engine
from oms._journal import (COMMAND_RECORD, EVENT_RECORD, JournalError, JournalWriter,
                          scan_segment)
from oms.config import AccountConfig, EngineConfig, SymbolConfig
from oms.journal import (JournalCorruptError, JournalDivergenceError, SnapshotStore,
                         read_config, replay, replay_into, scan_journal, segment_files,
                         verify, write_config)
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, Side
from strategies import random_scenario

WAIT = 10.0                      # seconds: every wait for the engine is bounded
REC = 224                        # record size for either type (format version 1)
HDR = 64

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _CRC_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    """CRC32C as journal/README.md defines it, written independently of journal.h."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def same_records(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal field by field (every field: explicit pads and `_reserved` included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return all(np.array_equal(a[name], b[name]) for name in a.dtype.names)


def small_config(directory=None, **kw) -> EngineConfig:
    params = dict(max_orders=1 << 12, max_symbols=4, max_accounts=4, idem_capacity=1 << 12,
                  max_levels=64, input_ring=1 << 10, output_ring=1 << 12,
                  journal_dir=directory, segment_bytes=1 << 16,
                  snapshot_every_events=0, snapshot_min_interval_seconds=0,
                  symbols=[SymbolConfig(0, "AAA", tick_size=100, ref_price=PX),
                           SymbolConfig(1, "BBB", tick_size=100, ref_price=PX)],
                  accounts=[AccountConfig(0, "A0"), AccountConfig(1, "A1")])
    params.update(kw)
    return EngineConfig(**params)


def direct_journal(directory: str, config: EngineConfig, commands: np.ndarray,
                   batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Drive `Core.process` with a JournalWriter attached (no flusher thread, no snapshot):
    the journal a crash leaves when no snapshot was taken.  Returns (commands as journaled,
    events).  The writer is not flushed before it rolls: see
    test_direct_writer_keeps_every_segment."""
    write_config(directory, config)
    core = Core(config)
    writer = JournalWriter(directory, segment_bytes=config.segment_bytes, now_ns=time.time_ns(),
                           sync=config.durability == "sync")
    core.attach_journal(writer)
    events = []
    commands = commands.copy()
    for i in range(0, len(commands), batch):
        events.append(core.process(commands[i:i + batch]))   # writes `seq` into `commands`
    core.attach_journal(None)
    writer.close()
    return commands, np.concatenate(events)


def engine_journal(directory: str, config: EngineConfig, batches,
                   pause: float = 0.0) -> list[np.ndarray]:
    """Drive a journaled Engine with explicit command times; every batch waited for, then
    `pause` seconds (the snapshot writer looks for a posted snapshot every 10 ms)."""
    engine = Engine(config)
    engine.start()
    events = []
    try:
        for b in batches:
            seqs = engine.submit_batch(b, stamp_time=False)
            engine.wait(int(seqs[-1]), timeout=WAIT)
            events.append(engine.poll())
            time.sleep(pause)
    finally:
        engine.close()
    return events


def resting_and_crossing(n: int, t0: int = T0, cl0: int = 1) -> np.ndarray:
    """n NEWs alternating sides around PX so that some cross (trades) and some rest."""
    return make_cmds([new(cl=cl0 + i, side=Side.BUY if i % 2 else Side.SELL,
                          price=PX + ((i * 7) % 5 - 2) * 100, qty=10 + i % 3 * 10,
                          symbol=i // 2 % 2, account=i % 2, t=t0 + i * 1000)
                      for i in range(n)])


def files_digest(directory: str) -> dict[str, str]:
    return {name: hashlib.sha256(open(os.path.join(directory, name), "rb").read()).hexdigest()
            for name in sorted(os.listdir(directory)) if name.endswith(".seg")}


def read_at(path: str, offset: int, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(n)


def write_at(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def flip(path: str, offset: int) -> None:
    write_at(path, offset, bytes([read_at(path, offset, 1)[0] ^ 0x5A]))


def all_records(directory: str):
    scans = scan_journal(directory)
    return (np.concatenate([s.commands for s in scans]),
            np.concatenate([s.events for s in scans]), scans)


# ---------------------------------------------------------------------------------------------
# 5. format
# ---------------------------------------------------------------------------------------------

def test_crc32c_reference_value():
    assert crc32c(b"123456789") == 0xE3069283           # the standard check value


def test_scan_returns_exactly_what_was_written(tmp_path):
    """A random command stream of every kind (tests/strategies.py), journaled by the direct
    driver over segments that roll: the scanner gives back the same commands and events."""
    cfg, records = random_scenario(seed=7, n=3000)
    cfg = msgspec.structs.replace(cfg, segment_bytes=1 << 16)
    written, events = direct_journal(str(tmp_path), cfg, make_cmds(records))
    commands, journaled, scans = all_records(str(tmp_path))
    assert len(scans) > 3, "segments should have rolled"
    assert same_records(commands, written)
    assert same_records(journaled, events)
    assert np.array_equal(commands["seq"], np.arange(1, len(written) + 1))
    assert np.array_equal(journaled["seq"], np.arange(1, len(events) + 1))
    for s in scans:
        assert s.error_offset == -1 and s.error_reason is None


def test_segment_headers(tmp_path):
    t_before = time.time_ns()
    cfg = small_config()
    written, events = direct_journal(str(tmp_path), cfg, resting_and_crossing(600))
    t_after = time.time_ns()
    files = segment_files(str(tmp_path))
    assert [i for i, _ in files] == list(range(len(files))) and len(files) >= 3
    for index, path in files:
        assert os.path.basename(path) == f"{index:020d}.seg"
        head = read_at(path, 0, HDR)
        magic, version, hsize, first_seq, created, size = struct.unpack_from("<8sIIqqq", head)
        assert magic == b"OMSJRNL\0"
        assert (version, hsize) == (1, HDR)
        assert size == cfg.segment_bytes == os.path.getsize(path)
        assert head[40:] == bytes(24)
        scan = scan_segment(path, index)
        # the sequence of the first record written into the segment (a command or an event)
        first = scan.kinds[0]
        rec = (scan.commands if first == COMMAND_RECORD else scan.events)[0]
        assert first_seq == rec["seq"] == scan.first_seq
        # creation time: the clock when the writer opened the first segment; a segment the
        # writer rolled into carries the time of the record that rolled it (the command time,
        # which the engine stamps from the clock at ingress; explicit here)
        if index == 0:
            assert t_before <= created <= t_after
        else:
            assert created == rec["time_ns"] == scan.created_ns


def test_record_layout_by_hand(tmp_path):
    """The first records of segment 0 decoded by hand from journal.h's comment: a command,
    then its events; 8-byte aligned, CRC32C over header + payload, zero padding, and a zero
    length after the last record."""
    cfg = small_config()
    written, events = direct_journal(str(tmp_path), cfg, resting_and_crossing(40))
    path = segment_files(str(tmp_path))[0][1]
    raw = open(path, "rb").read()
    expected = []                                       # (type, seq, time, payload) in order
    for c in written:
        expected.append((COMMAND_RECORD, int(c["seq"]), int(c["time_ns"]), c))
        for e in events[events["cmd_seq"] == c["seq"]]:
            expected.append((EVENT_RECORD, int(e["seq"]), int(c["time_ns"]), e))
    off = HDR
    for rtype, seq, t, payload in expected:
        assert off % 8 == 0
        length, typ, plen, rseq, rtime = struct.unpack_from("<IHHqq", raw, off)
        assert (length, typ, plen, rseq, rtime) == (REC, rtype, 192, seq, t)
        body = raw[off + 24:off + 24 + plen]
        dtype = COMMAND_DTYPE if rtype == COMMAND_RECORD else EVENT_DTYPE
        rec = np.frombuffer(body, dtype=dtype)
        assert same_records(rec, np.array([payload], dtype=dtype))
        assert body == np.ascontiguousarray(payload).tobytes()     # every byte is a field
        (crc,) = struct.unpack_from("<I", raw, off + 24 + plen)
        assert crc == crc32c(raw[off:off + 24 + plen])
        assert raw[off + 24 + plen + 4:off + length] == bytes(length - 24 - plen - 4)
        off += length
    assert struct.unpack_from("<I", raw, off)[0] == 0   # end of the segment's data
    assert raw[off:] == bytes(len(raw) - off)


# ---------------------------------------------------------------------------------------------
# 2. torn tail and corruption
# ---------------------------------------------------------------------------------------------

def _torn(path: str, off: int, how: str) -> None:
    """Damage the record at `off`, which is the journal's last."""
    if how == "truncated file":                        # the file ends inside the record
        os.truncate(path, off + 100)
    elif how == "half-written record":                 # preallocated file: the rest is zeros
        write_at(path, off + 100, bytes(REC - 100))
    elif how == "flipped payload byte":
        flip(path, off + 24 + 57)
    elif how == "flipped crc byte":
        flip(path, off + 24 + 192 + 1)
    elif how == "flipped length byte":
        flip(path, off)
    else:
        raise AssertionError(how)


TORN = ["truncated file", "half-written record", "flipped payload byte", "flipped crc byte",
        "flipped length byte"]


@pytest.mark.parametrize("how", TORN)
def test_torn_tail_is_reported_cut_and_appended_after(tmp_path, how):
    d = str(tmp_path)
    cfg = small_config(d)
    written, events = direct_journal(d, cfg, resting_and_crossing(500))
    last_path = segment_files(d)[-1][1]
    last = scan_segment(last_path)
    off = int(last.offsets[-1])                        # the last event of the last command
    assert last.kinds[-1] == EVENT_RECORD
    _torn(last_path, off, how)

    engine = Engine(cfg)
    try:
        rep = engine.recovery
        assert rep.torn_tail is not None, "the damaged tail was not reported"
        assert last_path in rep.torn_tail and f"offset {off}" in rep.torn_tail
        assert rep.snapshot_seq == 0 and rep.replayed_commands == len(written)
        assert rep.appended_events == 1                # the cut event, re-executed
        assert engine.core.counters()["event_seq"] == len(events)
        engine.start()
        more = resting_and_crossing(50, t0=T0 + 10**9, cl0=10_000)
        seqs = engine.submit_batch(more, stamp_time=False)
        engine.wait(int(seqs[-1]), timeout=WAIT)
        assert int(seqs[0]) == len(written) + 1
    finally:
        engine.close()

    commands, journaled, scans = all_records(d)
    assert all(s.error_offset == -1 for s in scans)
    # appending resumed at the cut: the re-executed event stands where the torn one stood
    # (or, when the file was truncated with no room left, first in the next segment)
    i = [s.path for s in scans].index(last_path)
    kept = len(last.offsets) - 1
    if len(scans[i].offsets) > kept:
        where = (last_path, int(scans[i].offsets[kept]), scans[i].kinds[kept])
        assert where == (last_path, off, EVENT_RECORD)
    else:
        assert how == "truncated file"
        assert (int(scans[i + 1].offsets[0]), scans[i + 1].kinds[0]) == (HDR, EVENT_RECORD)
    assert np.array_equal(commands["seq"], np.arange(1, len(written) + 51))
    assert np.array_equal(journaled["seq"], np.arange(1, len(journaled) + 1))
    assert same_records(journaled[:len(events)], events)        # the cut event came back
    assert verify(d) == (len(written) + 50, len(journaled))


def test_torn_command_record_is_cut_and_not_applied(tmp_path):
    """The last record is a command whose events were never written (the crash came between
    the two): a torn command is cut, so the command never happened."""
    d = str(tmp_path)
    cfg = small_config(d, segment_bytes=1 << 20)
    written, events = direct_journal(d, cfg, resting_and_crossing(100))
    path = segment_files(d)[-1][1]
    scan = scan_segment(path)
    end = scan.end
    # append a valid command record by hand (format version 1), then tear it
    cmd = resting_and_crossing(1, t0=T0 + 10**9, cl0=5000)
    cmd["seq"] = len(written) + 1
    head = struct.pack("<IHHqq", REC, COMMAND_RECORD, 192, len(written) + 1, int(cmd["time_ns"][0]))
    body = head + cmd.tobytes()
    write_at(path, end, body + struct.pack("<I", crc32c(body)) + bytes(4))
    assert scan_segment(path).kinds[-1] == COMMAND_RECORD       # well-formed before the tear
    write_at(path, end + 80, bytes(REC - 80))               # cut short after the price

    engine = Engine(cfg)
    try:
        assert f"offset {end}" in engine.recovery.torn_tail
        assert engine.core.counters()["cmd_seq"] == len(written)
        assert engine.recovery.appended_events == 0
    finally:
        engine.close()
    assert read_at(path, end, REC) == bytes(REC)
    assert verify(d) == (len(written), len(events))


def _corrupt_cases(d):
    files = segment_files(d)
    last = scan_segment(files[-1][1])
    prev = scan_segment(files[-2][1])
    return {
        # an earlier record of the last segment: valid records follow it in the same segment
        "earlier record, last segment": (files[-1][1], int(last.offsets[len(last.offsets) // 2])),
        # the last record of a full segment: valid records follow in the next segment
        "last record of an earlier segment": (files[-2][1], int(prev.offsets[-1])),
        # the very first record of the journal
        "first record": (files[0][1], HDR),
    }


@pytest.mark.parametrize("case", ["earlier record, last segment",
                                  "last record of an earlier segment", "first record"])
@pytest.mark.parametrize("how", ["flipped payload byte", "flipped length byte"])
def test_corruption_before_the_tail_stops_recovery(tmp_path, case, how):
    d = str(tmp_path)
    cfg = small_config(d)
    direct_journal(d, cfg, resting_and_crossing(600))
    path, off = _corrupt_cases(d)[case]
    flip(path, off + (24 + 57 if how == "flipped payload byte" else 0))
    before = files_digest(d)
    with pytest.raises(JournalCorruptError) as err:
        Engine(cfg)
    message = str(err.value)
    assert path in message and f"offset {off}" in message
    assert files_digest(d) == before, "recovery changed the journal it refused"
    for reader in (verify, replay):
        with pytest.raises(JournalCorruptError, match=f"offset {off}"):
            reader(d)
    assert files_digest(d) == before


# ---------------------------------------------------------------------------------------------
# 3. verify
# ---------------------------------------------------------------------------------------------

def test_verify_and_replay_a_session_with_external_venues(tmp_path):
    """Issue 9: venue answers are commands like any other, so a journal of a session with
    routed orders (VENUE_REQUEST events; acks, fills, cancel-rejects, busts, session changes
    as VENUE_EXEC commands) re-executes bit for bit, and replay rebuilds the same orders,
    positions and venue rows."""
    for seed in range(100, 200):
        cfg, records = random_scenario(seed=seed, n=3000)
        commands = make_cmds(records)
        if cfg.venues and (commands["kind"] == 7).sum() > 300:
            break
    else:
        pytest.fail("no generated scenario with venues and venue messages")
    d = str(tmp_path)
    written, events = direct_journal(d, cfg, commands)
    assert (events["kind"] == 5).sum() > 20                     # requests sent to venues
    assert verify(d) == (len(written), len(events))
    live = Core(cfg)
    live.process(commands)
    core, n = replay(d, use_snapshots=False)
    assert n == len(written)
    assert np.array_equal(core.orders(), live.orders())
    assert np.array_equal(core.positions(), live.positions())
    assert bytes(core.snapshot()) == bytes(live.snapshot())     # router rows included


def test_the_routing_decision_is_in_the_orders_history(tmp_path, capsys):
    """Issue 9: where the router sent an order is journaled (the venue on every event of
    the order, and the request sent) and `oms journal history` shows it."""
    from test_venue_lifecycle import config as venue_config
    from oms.cli import main
    from oms.layout import CommandType, VenueExec
    cfg = venue_config()
    t = T0
    recs = [dict(kind=CommandType.VENUE_EXEC, venue_id=1, admin_op=int(VenueExec.SESSION),
                 flags=1, time_ns=t),
            dict(kind=CommandType.NEW, session_id=1, cl_ord_id=1, side=1, qty=10, price=PX,
                 ord_type=2, tif=1, account_id=0, symbol_id=0, time_ns=t + 1),
            dict(kind=CommandType.VENUE_EXEC, venue_id=1, admin_op=int(VenueExec.FILL),
                 cl_ord_id=1 << 16 | 1, qty=10, price=PX, time_ns=t + 2)]
    commands = np.zeros(len(recs), dtype=COMMAND_DTYPE)
    for i, r in enumerate(recs):
        for k, v in r.items():
            commands[i][k] = v
    direct_journal(str(tmp_path), cfg, commands)
    assert main(["journal", "history", str(tmp_path), "--order-id", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [r.split()[1] for r in rows] == ["PENDING_NEW", "TO_VENUE/NEW_ORDER", "NEW", "TRADE"]
    assert all(r.endswith("at V1") or "at V1;" in r for r in rows), rows


@pytest.mark.slow
def test_verify_a_million_mixed_commands(tmp_path):
    n = 1_000_000
    d = str(tmp_path / "journal")
    try:
        cfg = workload_config(n, journal_dir=d)
        os.makedirs(d)
        written, events = direct_journal(d, cfg, mixed_commands(n, seed=11), batch=1 << 16)
        kinds = np.bincount(written["kind"], minlength=4)
        assert min(kinds[1], kinds[2], kinds[3]) > n // 10      # NEW, CANCEL, REPLACE
        assert (events["exec_type"] == 2).sum() > n // 10       # trades
        assert (events["kind"] == 2).sum() > n // 100           # cancel/replace rejects
        assert verify(d) == (n, len(events))
    finally:
        shutil.rmtree(d, ignore_errors=True)                    # 600 MB: not kept by pytest


def _alter_event(directory: str, index: int, field: str, delta: int):
    """Add `delta` to one event's field in its segment and rewrite its CRC32C, so that the
    record is valid and only re-execution can tell.  Returns (event seq, old, new)."""
    for scan in scan_journal(directory):
        offs = scan.offsets[scan.kinds == EVENT_RECORD]
        if index < len(offs):
            off = int(offs[index])
            payload = bytearray(read_at(scan.path, off + 24, 192))
            ev = np.frombuffer(bytes(payload), dtype=EVENT_DTYPE).copy()
            old = int(ev[field][0])
            ev[field] = old + delta
            fo = EVENT_DTYPE.fields[field][1]
            size = EVENT_DTYPE.fields[field][0].itemsize
            payload[fo:fo + size] = ev[field].tobytes()
            head = read_at(scan.path, off, 24)
            write_at(scan.path, off + 24, bytes(payload))
            write_at(scan.path, off + 24 + 192, struct.pack("<I", crc32c(head + bytes(payload))))
            return int(ev["seq"][0]), old, old + delta
        index -= len(offs)
    raise AssertionError("no such event")


def test_verify_catches_an_altered_event(tmp_path):
    d = str(tmp_path)
    cfg = small_config(d)
    written, events = direct_journal(d, cfg, resting_and_crossing(800))
    assert verify(d) == (len(written), len(events))            # sound before
    trades = np.flatnonzero(events["exec_type"] == 2)
    target = int(trades[len(trades) // 2])
    seq, old, new_value = _alter_event(d, target, "last_qty", 7)
    assert all(s.error_offset == -1 for s in scan_journal(d))  # a valid record: CRC fixed
    with pytest.raises(JournalDivergenceError) as err:
        verify(d)
    message = str(err.value)
    assert f"event {seq} differs" in message
    journal_line = next(l for l in message.splitlines() if "journal:" in l)
    replayed_line = next(l for l in message.splitlines() if "replayed:" in l)
    assert f"last_qty={new_value}," in journal_line
    assert f"last_qty={old}," in replayed_line
    assert f"journal:  seq={seq}," in journal_line and f"replayed: seq={seq}," in replayed_line
    # recovery re-executes the same journal and stops on it too
    with pytest.raises(JournalDivergenceError, match=f"event {seq} differs"):
        Engine(cfg)


# ---------------------------------------------------------------------------------------------
# 4. snapshots and replay to a point
# ---------------------------------------------------------------------------------------------

def _snapshotting_journal(d: str, n_batches: int = 30, per_batch: int = 40, **kw):
    cfg = small_config(d, snapshot_every_events=60, snapshot_retention=100, **kw)
    batches = [resting_and_crossing(per_batch, t0=T0 + b * 10**9, cl0=1 + b * per_batch)
               for b in range(n_batches)]
    engine_journal(d, cfg, batches, pause=0.012)
    return cfg, np.concatenate(batches)


def _state(core) -> bytes:
    return core.snapshot()


def _reference(cfg: EngineConfig, commands: np.ndarray) -> bytes:
    core = Core(msgspec.structs.replace(cfg, journal_dir=None))
    core.process(commands.copy())
    return core.snapshot()


def test_snapshot_plus_tail_equals_full_replay(tmp_path):
    d = str(tmp_path)
    cfg, commands = _snapshotting_journal(d)
    full, n = replay(d, use_snapshots=False)
    assert n == len(commands)
    assert _state(full) == _reference(cfg, commands)
    store = SnapshotStore(d, retention=100)
    try:
        seqs = store.sequences()
        assert len(seqs) >= 5
        scans = scan_journal(d)
        for seq in seqs:
            at, data = store.latest(at_most=seq)
            assert at == seq
            core = Core(read_config(d))
            core.restore(data)
            assert core.counters()["cmd_seq"] == seq
            assert _state(core) == _reference(cfg, commands[:seq])
            replayed, verified, extra = replay_into(core, scans)
            assert replayed == len(commands) - seq and len(extra) == 0
            assert _state(core) == _state(full)
    finally:
        store.close()
    latest, _ = replay(d)
    assert _state(latest) == _state(full)


def test_retention_prunes_old_snapshots(tmp_path):
    d = str(tmp_path)
    cfg = small_config(d, snapshot_every_events=50, snapshot_retention=3)
    batches = [resting_and_crossing(40, t0=T0 + b * 10**9, cl0=1 + b * 40) for b in range(25)]
    seen = []
    put = SnapshotStore.put

    def recording_put(self, cmd_seq, data):
        put(self, cmd_seq, data)
        seen.append((cmd_seq, self.sequences()))

    SnapshotStore.put = recording_put
    try:
        engine_journal(d, cfg, batches, pause=0.02)
    finally:
        SnapshotStore.put = put
    assert len(seen) > 5, "too few snapshots to see pruning"
    distinct = []
    for cmd_seq, kept in seen:
        if cmd_seq not in distinct:
            distinct.append(cmd_seq)
        assert distinct == sorted(distinct), "snapshots stored out of order"
        assert kept == distinct[-3:], (cmd_seq, kept)
    store = SnapshotStore(d, retention=3)
    try:
        assert store.sequences() == distinct[-3:]
        assert store.sequences()[-1] == 25 * 40                # the one taken at close
    finally:
        store.close()


def test_snapshot_is_never_stored_ahead_of_the_durable_journal(tmp_path):
    d = str(tmp_path)
    cfg = small_config(d, snapshot_every_events=20, snapshot_retention=2)
    engine = Engine(cfg)
    seen = []
    put = SnapshotStore.put

    def checking_put(self, cmd_seq, data):
        header_seq = struct.unpack_from("<q", data, 56)[0]     # SnapshotHeader.cmd_seq
        seen.append((cmd_seq, header_seq, engine.writer.durable_seq))
        put(self, cmd_seq, data)

    SnapshotStore.put = checking_put
    try:
        engine.start()
        for b in range(40):
            batch = resting_and_crossing(25, t0=T0 + b * 10**9, cl0=1 + b * 25)
            seqs = engine.submit_batch(batch, stamp_time=False)
            if b % 4 == 3:
                engine.wait(int(seqs[-1]), timeout=WAIT)
        engine.wait(40 * 25, timeout=WAIT)
        engine.close()
    finally:
        SnapshotStore.put = put
    assert len(seen) > 3
    for cmd_seq, header_seq, durable in seen:
        assert header_seq == cmd_seq
        assert cmd_seq <= durable, f"snapshot at {cmd_seq} stored with durable_seq {durable}"


def test_replay_until_seq_and_time(tmp_path):
    d = str(tmp_path)
    cfg, commands = _snapshotting_journal(d)
    store = SnapshotStore(d, retention=100)
    snaps = store.sequences()
    store.close()
    n = len(commands)
    points = sorted(p for p in {0, 1, 2, snaps[0] - 1, snaps[0], snaps[0] + 1, snaps[len(snaps) // 2] + 7,
                     n - 1, n} if 0 <= p <= n)
    times = commands["time_ns"]
    for seq in points:
        expected = _reference(cfg, commands[:seq])
        core, _ = replay(d, until_seq=seq)
        assert _state(core) == expected, f"until_seq={seq}"
        assert core.counters()["cmd_seq"] == seq
        core, _ = replay(d, until_seq=seq, use_snapshots=False)
        assert _state(core) == expected, f"until_seq={seq} without snapshots"
        if 0 < seq < n:
            # the time of command `seq`, and any time before the next command's
            for t in (int(times[seq - 1]), int(times[seq]) - 1):
                core, _ = replay(d, until_time_ns=t)
                assert _state(core) == expected, f"until_time_ns={t} (command {seq})"
    core, _ = replay(d, until_time_ns=int(times[0]) - 1)
    assert core.counters()["cmd_seq"] == 0
    core, _ = replay(d, until_time_ns=int(times[-1]) + 10**9)
    assert _state(core) == _reference(cfg, commands)


# ---------------------------------------------------------------------------------------------
# bugs found by these tests, fixed: each stays as a regression test
# ---------------------------------------------------------------------------------------------

def test_direct_writer_keeps_every_segment(tmp_path):
    d = str(tmp_path)
    cfg = small_config(d)
    write_config(d, cfg)
    core = Core(cfg)
    writer = JournalWriter(d, segment_bytes=cfg.segment_bytes)
    writer.flush()                          # what open_journal does before handing it over
    core.attach_journal(writer)
    core.process(resting_and_crossing(600))
    writer.close()
    indexes = [i for i, _ in segment_files(d)]
    assert indexes == list(range(len(indexes))), f"segments on disk: {indexes}"
    commands, _, _ = all_records(d)
    assert np.array_equal(commands["seq"], np.arange(1, 601))


@pytest.mark.parametrize("content", ["empty file", "zeros"])
def test_recovery_ignores_unwritten_segment_header(tmp_path, content):
    d = str(tmp_path)
    cfg = small_config(d)
    engine_journal(d, cfg, [resting_and_crossing(30)])
    last = segment_files(d)[-1][0]
    with open(os.path.join(d, f"{last + 1:020d}.seg"), "wb") as fh:
        fh.write(b"" if content == "empty file" else bytes(cfg.segment_bytes))
    engine = Engine(cfg)
    try:
        assert engine.core.counters()["cmd_seq"] == 30
    finally:
        engine.close()


@pytest.mark.parametrize("case", ["torn record under the snapshot",
                                  "journal shorter than the snapshot"])
def test_recovery_detects_a_journal_behind_its_snapshot(tmp_path, case):
    d = str(tmp_path)
    cfg = small_config(d, segment_bytes=1 << 20)
    engine_journal(d, cfg, [resting_and_crossing(20)])        # close() snapshots at 20
    path = segment_files(d)[-1][1]
    scan = scan_segment(path)
    if case == "torn record under the snapshot":
        flip(path, int(scan.offsets[-1]) + 24 + 57)
    else:                                     # the last 6 records never reached the disk
        off = int(scan.offsets[-6])
        write_at(path, off, bytes(scan.end - off))
    try:
        engine = Engine(cfg)
    except JournalDivergenceError:
        raise
    except JournalError:
        return                                # refusing is an acceptable answer
    try:
        engine.start()
        engine.wait(engine.submit(0, Side.BUY, 10, price=PX, cl_ord_id=999,
                                  time_ns=T0 + 10**9), timeout=WAIT)
    finally:
        engine.close()
    commands, events, _ = all_records(d)
    assert np.array_equal(commands["seq"], np.arange(1, len(commands) + 1)), \
        "the journal's commands have a gap"
    assert np.array_equal(events["seq"], np.arange(1, len(events) + 1)), \
        "the journal's events have a gap"


def test_recovery_skips_unreadable_snapshots(tmp_path):
    """A snapshot of another format version (or damaged) is skipped: recovery falls back to
    an older snapshot or to the journal, and says so."""
    d = str(tmp_path)
    cfg, commands = _snapshotting_journal(d, n_batches=6)
    full, _ = replay(d, use_snapshots=False)
    store = SnapshotStore(d, retention=100)
    try:
        newest = store.sequences()[-1]
        _, data = store.latest()
        old_format = data[:8] + struct.pack("<q", 2) + data[16:]      # format version 2
        store.put(newest, old_format)
    finally:
        store.close()
    latest, _ = replay(d)
    assert _state(latest) == _state(full)
    from oms.journal import open_journal
    core, writer, report, store = open_journal(cfg)
    try:
        assert report.unreadable_snapshots == 1
        assert 0 < report.snapshot_seq < newest            # the one before it
        assert "1 unreadable snapshot(s) skipped" in report.describe()
        assert _state(core) == _state(full)
    finally:
        writer.close()
        store.close()
