"""The journal directory: segments, snapshots, recovery and replay.

A journal directory holds
- ``engine.json``: the engine configuration the journal was written with (capacities and
  the reference data the engine started from), so that replay needs nothing else;
- ``NNNNNNNNNNNNNNNNNNNN.seg``: the segments (format: journal/README.md);
- ``snapshots/``: an LMDB environment of whole-engine snapshots keyed by command sequence.

Recovery (`open_journal`) loads the latest snapshot, replays the journal's commands after it
through the same step function the business thread runs, checks that every event the journal
holds is reproduced exactly, writes the events a crash kept out of the journal, and returns
a core ready to go on.  A torn tail is reported and cut; damage before the tail stops
recovery with the segment and offset named.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
import re
import struct
import time
from typing import Iterator

import lmdb
import msgspec
import numpy as np

from oms._engine import Core, EngineError
from oms._journal import JournalError, JournalWriter, first_difference, scan_segment
from oms.config import EngineConfig
from oms.layout import EVENT_DTYPE

CONFIG_FILE = "engine.json"
SNAPSHOT_DIR = "snapshots"
_SEGMENT_RE = re.compile(r"^(\d{20})\.seg(\.zst)?$")
_CAPACITIES = ("max_orders", "max_symbols", "max_accounts", "idem_capacity", "max_levels")


class JournalCorruptError(JournalError):
    """A damaged record with good records after it: not a torn tail, so not cut."""


class JournalDivergenceError(JournalError):
    """Re-executing the journal's commands did not reproduce its events."""


@dataclasses.dataclass
class RecoveryReport:
    snapshot_seq: int = 0                  # command sequence of the snapshot loaded (0: none)
    replayed_commands: int = 0
    verified_events: int = 0
    appended_events: int = 0               # events a crash kept out of the journal, rewritten
    torn_tail: str | None = None           # what was cut, where
    discarded_snapshots: int = 0           # snapshots ahead of what the journal holds
    unreadable_snapshots: int = 0          # damaged, or of another snapshot format version
    seconds: float = 0.0

    def describe(self) -> str:
        parts = [f"snapshot at command {self.snapshot_seq}" if self.snapshot_seq
                 else "no snapshot",
                 f"{self.replayed_commands} commands replayed",
                 f"{self.verified_events} events verified"]
        if self.appended_events:
            parts.append(f"{self.appended_events} missing events rewritten")
        if self.torn_tail:
            parts.append(f"torn tail cut: {self.torn_tail}")
        if self.unreadable_snapshots:
            parts.append(f"{self.unreadable_snapshots} unreadable snapshot(s) skipped")
        if self.discarded_snapshots:
            parts.append(f"{self.discarded_snapshots} snapshot(s) ahead of the journal "
                         f"discarded")
        return f"recovered in {self.seconds:.3f} s: " + ", ".join(parts)


# -- the directory --

def segment_files(directory: str) -> list[tuple[int, str]]:
    """(index, path) of every segment, plain or archived, in index order.  A segment caught
    mid-archive exists in both forms: the plain file is the one to read."""
    found: dict[int, str] = {}
    for name in os.listdir(directory):
        m = _SEGMENT_RE.match(name)
        if m:
            index = int(m.group(1))
            if index not in found or not m.group(2):
                found[index] = os.path.join(directory, name)
    return sorted(found.items())


def scan_journal(directory: str) -> list:
    """Every segment scanned, in order; trailing segments with no records are dropped (the
    flusher creates the next segment ahead of need)."""
    files = segment_files(directory)
    if files and _never_written(files[-1][1]):
        files.pop()         # a creation cut short by a crash, before segments were atomic
    scans = [scan_segment(path, index) for index, path in files]
    while scans and scans[-1].empty and len(scans) > 1:
        scans.pop()
    return scans


def _never_written(path: str) -> bool:
    """A plain segment file that is empty or has an all-zero header: no data was ever in it."""
    if path.endswith(".zst"):
        return False
    with open(path, "rb") as fh:
        head = fh.read(64)
    return len(head) < 64 or head == bytes(64)


def check_scans(scans: list) -> str | None:
    """Raise on damage before the tail; return a description of a torn tail (not yet cut)."""
    for i, scan in enumerate(scans):
        if scan.error_offset < 0:
            continue
        last = i == len(scans) - 1
        if scan.valid_after_error or not last:
            raise JournalCorruptError(
                f"corrupt record in {scan.path} at offset {scan.error_offset}: "
                f"{scan.error_reason}; valid records follow it, so this is not a torn tail "
                f"and recovery stops here rather than skip data")
        return (f"{scan.path} at offset {scan.error_offset} ({scan.error_reason}, "
                f"{scan.size - scan.error_offset} bytes)")
    return None


def cut_tail(scan) -> None:
    """Zero the segment from its first bad record on, so appends continue there."""
    zeros = bytes(1 << 20)
    with open(scan.path, "r+b") as fh:
        pos = scan.error_offset
        while pos < scan.size:
            n = min(len(zeros), scan.size - pos)
            fh.seek(pos)
            fh.write(zeros[:n])
            pos += n
        fh.flush()
        os.fdatasync(fh.fileno())


def write_config(directory: str, config: EngineConfig) -> None:
    path = os.path.join(directory, CONFIG_FILE)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(msgspec.json.format(msgspec.json.encode(config)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_config(directory: str) -> EngineConfig:
    path = os.path.join(directory, CONFIG_FILE)
    try:
        with open(path, "rb") as fh:
            return msgspec.json.decode(fh.read(), type=EngineConfig)
    except FileNotFoundError:
        raise JournalError(f"{directory} has no {CONFIG_FILE}: not an oms journal") from None


# -- snapshots --

class SnapshotStore:
    """Snapshots in LMDB, keyed by the big-endian command sequence they were taken at."""

    def __init__(self, directory: str, retention: int = 3, map_size: int = 1 << 36):
        path = os.path.join(directory, SNAPSHOT_DIR)
        os.makedirs(path, exist_ok=True)
        self.retention = retention
        self.env = lmdb.open(path, map_size=map_size, subdir=True, max_dbs=0)

    def put(self, cmd_seq: int, data: bytes) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(struct.pack(">Q", cmd_seq), data)
            keys = [k for k, _ in txn.cursor()]
            for key in keys[:-self.retention] if self.retention > 0 else []:
                txn.delete(key)
        self.env.sync(True)

    def latest(self, at_most: int | None = None) -> tuple[int, bytes] | None:
        with self.env.begin() as txn:
            cur = txn.cursor()
            if at_most is None:
                found = cur.last()
            else:
                found = cur.set_range(struct.pack(">Q", at_most + 1))
                found = cur.prev() if found else cur.last()
            if not found:
                return None
            return struct.unpack(">Q", cur.key())[0], bytes(cur.value())

    def sequences(self) -> list[int]:
        with self.env.begin() as txn:
            return [struct.unpack(">Q", k)[0] for k, _ in txn.cursor()]

    def close(self) -> None:
        self.env.close()


# -- recovery --

def _compatible(stored: EngineConfig, config: EngineConfig) -> None:
    for name in _CAPACITIES:
        if getattr(stored, name) != getattr(config, name):
            raise JournalError(
                f"journal was written with {name}={getattr(stored, name)}, the config says "
                f"{getattr(config, name)}: capacities of a journal cannot change")


class _EventCursor:
    """The journal's events after a point, read in order across segments without copying
    them into one array (events are journaled in sequence order)."""

    def __init__(self, scans: list, after_seq: int):
        self.chunks = []
        for scan in scans:
            events = scan.events
            if len(events) == 0 or int(events["seq"][-1]) <= after_seq:
                continue
            if int(events["seq"][0]) <= after_seq:
                events = events[np.searchsorted(events["seq"], after_seq, side="right"):]
            self.chunks.append(events)
        self.chunk = 0
        self.offset = 0

    def take(self, n: int) -> np.ndarray:
        """Up to n next events (fewer at the end of the journal)."""
        parts = []
        while n > 0 and self.chunk < len(self.chunks):
            events = self.chunks[self.chunk]
            part = events[self.offset:self.offset + n]
            parts.append(part)
            n -= len(part)
            self.offset += len(part)
            if self.offset == len(events):
                self.chunk += 1
                self.offset = 0
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)


def replay_into(core: Core, scans: list, until_seq: int | None = None,
                progress=None) -> tuple[int, int, np.ndarray]:
    """Re-execute the journal's commands after the core's state; check every journaled event
    is reproduced.  Returns (commands replayed, events verified, events produced beyond the
    journal's).  `progress(commands_done)` is called after each segment."""
    counters = core.counters()
    start_cmd = counters["cmd_seq"]
    journaled = _EventCursor(scans, counters["event_seq"])
    replayed = verified = 0
    beyond = []
    for scan in scans:
        cmds = scan.commands
        if len(cmds) == 0 or int(cmds["seq"][-1]) <= start_cmd + replayed:
            continue
        if int(cmds["seq"][0]) <= start_cmd + replayed:
            cmds = cmds[np.searchsorted(cmds["seq"], start_cmd + replayed, side="right"):]
        if until_seq is not None and int(cmds["seq"][-1]) > until_seq:
            cmds = cmds[:np.searchsorted(cmds["seq"], until_seq, side="right")]
        if len(cmds) == 0:
            continue
        expected_first = start_cmd + replayed + 1
        if int(cmds["seq"][0]) != expected_first:
            raise JournalCorruptError(
                f"{scan.path}: command sequence jumps from {expected_first - 1} to "
                f"{int(cmds['seq'][0])}")
        # the scan's arrays are ours: process() may write the (identical) seq back into them;
        # its events are a view of the core's buffer: compared here, copied only past the end
        out = core.process(cmds, copy=False)
        replayed += len(cmds)
        expected = journaled.take(len(out))
        n = len(expected)
        i = first_difference(out[:n], expected)
        if i >= 0:
            raise JournalDivergenceError(
                f"event {int(expected[i]['seq'])} differs on re-execution:\n"
                f"  journal:  {_event_text(expected[i])}\n  replayed: {_event_text(out[i])}")
        verified += n
        if n < len(out):
            beyond.append(out[n:].copy())
        if progress is not None:
            progress(replayed)
    beyond = np.concatenate(beyond) if beyond else np.empty(0, EVENT_DTYPE)
    return replayed, verified, beyond


def _event_text(ev) -> str:
    return ", ".join(f"{name}={ev[name]}" for name in EVENT_DTYPE.names
                     if not name.startswith("_"))


def _journal_end(scans: list) -> tuple[int, int]:
    """(last command sequence, last event sequence) the journal holds."""
    last_cmd = last_ev = 0
    for scan in scans:
        if len(scan.commands):
            last_cmd = max(last_cmd, int(scan.commands["seq"][-1]))
        if len(scan.events):
            last_ev = max(last_ev, int(scan.events["seq"][-1]))
    return last_cmd, last_ev


def _restore_latest_behind(core_factory, store: SnapshotStore, last_cmd: int, last_ev: int,
                           report: RecoveryReport) -> Core:
    """A core restored from the newest snapshot the journal reaches (both its command and
    its event sequence); newer snapshots describe records the journal lost (a torn tail, or
    an async journal after a machine crash) and are deleted."""
    for seq in reversed(store.sequences()):
        snap = store.latest(at_most=seq)
        core = core_factory()
        try:
            core.restore(snap[1])
        except EngineError:
            # damaged, or written by another snapshot format version: an older snapshot or
            # the journal itself will do (a replay refuses a gap in command sequences, so it
            # cannot silently start from the wrong place)
            report.unreadable_snapshots += 1
            continue
        counters = core.counters()
        if counters["cmd_seq"] <= last_cmd and counters["event_seq"] <= last_ev:
            report.snapshot_seq = seq
            return core
        with store.env.begin(write=True) as txn:
            txn.delete(struct.pack(">Q", seq))
        report.discarded_snapshots += 1
    return core_factory()


def _remove_partial_segments(directory: str) -> None:
    """A segment is created under a temporary name and renamed once its header is written:
    a leftover temporary file is a creation a crash interrupted."""
    for name in os.listdir(directory):
        if name.endswith(".seg.tmp"):
            os.unlink(os.path.join(directory, name))


def open_journal(config: EngineConfig) -> tuple[Core, JournalWriter, RecoveryReport,
                                                 SnapshotStore]:
    """Open (or create) the journal of `config.journal_dir` and recover the engine state."""
    t0 = time.perf_counter()
    directory = config.journal_dir
    os.makedirs(directory, exist_ok=True)
    report = RecoveryReport()
    if os.path.exists(os.path.join(directory, CONFIG_FILE)):
        stored = read_config(directory)
        _compatible(stored, config)
        base_config = stored           # the reference data the journal started from
    else:
        write_config(directory, config)
        base_config = config
    _remove_partial_segments(directory)
    store = SnapshotStore(directory, retention=config.snapshot_retention)
    try:
        scans = scan_journal(directory)
        report.torn_tail = check_scans(scans)
        if report.torn_tail:
            cut_tail(scans[-1])
            scans[-1] = scan_segment(scans[-1].path, scans[-1].index)
        last_cmd, last_ev = _journal_end(scans)
        core = _restore_latest_behind(lambda: Core(base_config), store, last_cmd, last_ev,
                                      report)
        replayed, verified, missing = replay_into(core, scans)
    except BaseException:
        store.close()
        raise
    report.replayed_commands, report.verified_events = replayed, verified
    if scans:
        last = scans[-1]
        index, pos = last.index, last.end
    else:
        index, pos = 0, 0
    seq = core.counters()["cmd_seq"]
    writer = JournalWriter(directory, segment_bytes=config.segment_bytes, index=index, pos=pos,
                           last_seq=seq, first_seq=seq + 1, now_ns=time.time_ns(),
                           sync=config.durability == "sync")
    if len(missing):
        writer.append_events(missing)
        report.appended_events = len(missing)
    writer.publish_written(seq)
    writer.flush()
    core.attach_journal(writer)
    report.seconds = time.perf_counter() - t0
    return core, writer, report, store


def replay(directory: str, until_seq: int | None = None, until_time_ns: int | None = None,
           use_snapshots: bool = True, progress=None) -> tuple[Core, int]:
    """Rebuild the state at a point of the journal, read-only.  Returns (core, commands
    replayed).  With `until_time_ns`, stops before the first command later than it."""
    config = read_config(directory)
    scans = scan_journal(directory)
    check_scans(scans)
    if until_time_ns is not None:
        times = [s.commands[s.commands["time_ns"] > until_time_ns]["seq"] for s in scans]
        later = np.concatenate(times) if times else np.empty(0, np.int64)
        bound = int(later.min()) - 1 if len(later) else None
        until_seq = bound if until_seq is None else min(until_seq, bound if bound is not None
                                                        else until_seq)
    core = Core(config)
    if use_snapshots and os.path.isdir(os.path.join(directory, SNAPSHOT_DIR)):
        store = SnapshotStore(directory, retention=config.snapshot_retention)
        try:
            for seq in reversed(store.sequences()):
                if until_seq is not None and seq > until_seq:
                    continue
                try:
                    core.restore(store.latest(at_most=seq)[1])
                    break
                except EngineError:             # unreadable: an older one, or none
                    core = Core(config)
        finally:
            store.close()
    replayed, _, _ = replay_into(core, scans, until_seq=until_seq, progress=progress)
    return core, replayed


def _segment_bytes(path: str):
    """A segment's bytes: the file mapped read-only, or an archive decompressed."""
    if path.endswith(".zst"):
        import zstandard
        with open(path, "rb") as fh:
            return zstandard.ZstdDecompressor().stream_reader(fh).read()
    with open(path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def verify(directory: str, progress=None) -> tuple[int, int]:
    """Re-execute every command from the start and check every journaled event; returns
    (commands, events verified).  Raises JournalDivergenceError at the first difference.
    Segment by segment, straight from the mapped bytes (`Core.verify_segment`)."""
    config = read_config(directory)
    files = segment_files(directory)
    if files and _never_written(files[-1][1]):
        files.pop()
    core = Core(config)
    applied = compared = 0
    for index, path in files:
        data = _segment_bytes(path)
        try:
            if len(data) < 64 or bytes(data[:8]) != b"OMSJRNL\0":
                raise JournalError(f"{path}: not a journal segment (bad magic)")
            status, offset, n_cmd, n_ev = core.verify_segment(data, 64, 0)
            applied += n_cmd
            compared += n_ev
            if status == 1:
                # damage: the full scan tells a torn tail (the end) from corruption (an error)
                check_scans(scan_journal(directory))
                break
            if status == 2:
                raise JournalCorruptError(
                    f"{path}: command sequence jumps after {core.counters()['cmd_seq']} "
                    f"at offset {offset}")
            if status in (3, 4):
                journal_ev = np.frombuffer(bytes(data[offset + 24:offset + 24 + 192]),
                                           dtype=EVENT_DTYPE)[0]
                if status == 4:
                    raise JournalDivergenceError(
                        f"event {int(journal_ev['seq'])} differs on re-execution: the journal "
                        f"holds it, re-execution did not produce it:\n"
                        f"  journal:  {_event_text(journal_ev)}")
                produced = core.unverified_events()[0]
                raise JournalDivergenceError(
                    f"event {int(journal_ev['seq'])} differs on re-execution:\n"
                    f"  journal:  {_event_text(journal_ev)}\n  replayed: {_event_text(produced)}")
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
        if progress is not None:
            progress(applied)
    return applied, compared


def iter_records(directory: str) -> Iterator[tuple[str, int, int, np.void]]:
    """(segment path, offset, kind, record) for every valid record, in journal order."""
    for scan in scan_journal(directory):
        ic = ie = 0
        for kind, off in zip(scan.kinds, scan.offsets):
            if kind == 1:
                yield scan.path, int(off), 1, scan.commands[ic]
                ic += 1
            else:
                yield scan.path, int(off), 2, scan.events[ie]
                ie += 1


# -- archive --

def archive(directory: str, keep_plain: int = 2, level: int = 3,
            delete_older_than_days: float | None = None) -> list[str]:
    """Compress closed segments with zstd (all but the newest `keep_plain` segments holding
    data; the segment being written is never touched).  Each archive is read back and its
    records compared before the plain file is removed.  With `delete_older_than_days`,
    archives created before that are deleted, but only those wholly covered by the newest
    snapshot (the state stays rebuildable; a full `verify` then needs the deleted history).
    Returns a line per action."""
    import zstandard

    actions = []
    scans = scan_journal(directory)
    check_scans(scans)
    for scan in scans[:max(len(scans) - max(keep_plain, 1), 0)]:
        if scan.path.endswith(".zst"):
            continue
        target = scan.path + ".zst"
        with open(scan.path, "rb") as fh:
            data = fh.read(scan.end)
        tmp = scan.path + ".tmp.zst"       # read back below, as an archive
        with open(tmp, "wb") as out:
            out.write(zstandard.ZstdCompressor(level=level).compress(data))
            out.flush()
            os.fsync(out.fileno())
        check = scan_segment(tmp, scan.index)
        if (check.commands.tobytes() != scan.commands.tobytes()
                or check.events.tobytes() != scan.events.tobytes()):
            os.unlink(tmp)
            raise JournalError(f"archive of {scan.path} does not read back identically")
        os.replace(tmp, target)
        os.unlink(scan.path)
        actions.append(f"archived {os.path.basename(scan.path)}: {scan.end:,} -> "
                       f"{os.path.getsize(target):,} bytes")
    if delete_older_than_days is not None:
        store = SnapshotStore(directory)
        newest = store.latest()
        store.close()
        covered = newest[0] if newest else 0
        cutoff = time.time_ns() - int(delete_older_than_days * 86400e9)
        for scan in scan_journal(directory):
            last_cmd = int(scan.commands["seq"][-1]) if len(scan.commands) else 0
            if (scan.path.endswith(".zst") and scan.created_ns < cutoff
                    and 0 < last_cmd <= covered):
                os.unlink(scan.path)
                actions.append(f"deleted {os.path.basename(scan.path)} (created before the "
                               f"cutoff, covered by the snapshot at command {covered})")
    return actions
