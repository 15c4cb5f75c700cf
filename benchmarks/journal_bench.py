#!/usr/bin/env python
"""The journal's costs (figures in BENCHMARKS.md, section "Journal"); medians of several runs.

    python benchmarks/journal_bench.py               # 3 runs, 1,000,000 commands (~3 min)
    python benchmarks/journal_bench.py --runs 5
    python benchmarks/journal_bench.py --quick       # 100,000 commands, 1 run: a smoke test
    python benchmarks/journal_bench.py --json        # the results as JSON on stdout

What it measures (the workload is tests/journal_workload.py: 45 % new resting orders, 15 %
marketable (crossing limits, IOC, market), 22 % cancels, 18 % replaces over 4 symbols):

  throughput  the threaded Engine driven with submit_batch (4,096 commands per call, events
              drained with poll_into as we go, then wait for the last command), from the
              first submit to the last event received, in four modes, each run in turn:
              no journal; journal `async` (events leave after the memory copy); journal
              `sync` (events leave after the group's fdatasync); `sync` with the default
              periodic snapshots (every 10,000 events, at most one a second).  Each journaled
              figure is also given relative to the no-journal figure of the same run.
  replay      `verify` of the `sync` run's journal (scan every segment, re-execute every
              command, compare every event), in events/s; and its parts: the scan, and the
              re-execution alone (Core.process over all the commands).
  recovery    Engine(config) on a journal holding a snapshot and a tail of 1,000,000
              records after it (the snapshot is loaded, the tail re-executed and verified).
  bytes       journal bytes per order (and per command) of the `sync` run.

The driving thread is pinned to core 0 and the business thread to core 1 (cpu=1); the
flusher and snapshot threads are not pinned.  The journal goes to a temporary directory on
the same disk as /tmp (or --dir).  This machine is a shared 2-core VM: before each measured
section the script waits (at most --quiet-wait s) for other processes to quieten, and each
figure reports how many cores others used meanwhile ("others"); compare figures only when
that is near 0.  Page cache is warm for replay and recovery (the journal was just written).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from journal_workload import mixed_commands, workload_config  # noqa: E402
from oms import Core, Engine  # noqa: E402
from oms._journal import JournalWriter  # noqa: E402
from oms.journal import SnapshotStore, scan_journal, verify, write_config  # noqa: E402
from oms.layout import EVENT_DTYPE  # noqa: E402

CORE_DRIVER, CORE_BUSINESS = 0, 1
CHUNK = 4096
MODES = ["none", "async", "sync", "sync+snapshots"]
REPLAY_TARGET = 2_000_000         # events/s (issue 4)


class BenchmarkError(Exception):
    pass


def check(cond, what):
    if not cond:
        raise BenchmarkError(what)


# -- the machine -------------------------------------------------------------------------------

_HZ = os.sysconf("SC_CLK_TCK")


def _cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    with open("/proc/self/stat") as f:
        s = f.read().rsplit(")", 1)[1].split()
    return v[0] + v[1] + v[2] + v[5] + v[6], int(s[11]) + int(s[12])


class Clock:
    """Wall time of a section and the cores other processes used meanwhile."""

    def __enter__(self):
        gc.collect()
        self._c = _cpu()
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t
        busy, own = (b - a for a, b in zip(self._c, _cpu()))
        self.others = max(0.0, (busy - own) / _HZ / max(self.seconds, 1e-9))
        return False


def wait_for_quiet(max_seconds, threshold=0.2, window=0.5):
    deadline = time.monotonic() + max_seconds
    while True:
        a, t = _cpu(), time.perf_counter()
        time.sleep(window)
        b, dt = _cpu(), time.perf_counter() - t
        load = max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / _HZ / dt)
        if load < threshold or time.monotonic() >= deadline:
            return load


def pin(cores):
    try:
        os.sched_setaffinity(0, cores)
    except (AttributeError, OSError):
        pass


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# -- throughput --------------------------------------------------------------------------------

def throughput(mode: str, commands: np.ndarray, base: str) -> dict:
    directory = None
    kw = dict(cpu=CORE_BUSINESS)
    if mode != "none":
        directory = tempfile.mkdtemp(prefix=f"journal-{mode}-", dir=base)
        kw.update(journal_dir=directory, durability="async" if mode == "async" else "sync")
        if mode != "sync+snapshots":
            kw.update(snapshot_every_events=0)
    n = len(commands)
    engine = Engine(workload_config(n, **kw))
    buf = np.empty(8192, dtype=EVENT_DTYPE)
    events = 0
    engine.start()                       # its threads keep the start-up affinity (both cores)
    pin({CORE_DRIVER})
    try:
        with Clock() as clk:
            last = -1
            for i in range(0, n, CHUNK):
                last = int(engine.submit_batch(commands[i:i + CHUNK])[-1])
                while True:
                    k = engine.poll_into(buf)
                    events += k
                    if k < len(buf):
                        break
            engine.wait(last, timeout=300.0)
            while True:
                k = engine.poll_into(buf)
                events += k
                if k < len(buf):
                    break
        counters = engine.core.counters()
        stats = engine.writer.stats() if engine.writer is not None else None
    finally:
        pin({CORE_DRIVER, CORE_BUSINESS})
        engine.close()
    check(last == n and counters["cmd_seq"] == n, f"{mode}: last input sequence {last}")
    check(events == counters["event_seq"], f"{mode}: {events} events, {counters}")
    check(engine.core.illegal_transitions == 0, f"{mode}: illegal transitions")
    out = dict(value=n / clk.seconds, seconds=clk.seconds, others=clk.others, events=events,
               orders=counters["next_order_id"] - 1, directory=directory)
    if stats is not None:
        out.update(bytes=stats["bytes"], records=stats["records"])
    return out


# -- replay ------------------------------------------------------------------------------------

def replay_speed(directory: str) -> dict:
    with Clock() as clk:
        commands, events = verify(directory)
    with Clock() as scan_clk:
        scans = scan_journal(directory)
    cmds = np.concatenate([s.commands for s in scans])
    del scans
    from oms.journal import read_config
    core = Core(read_config(directory))
    with Clock() as exec_clk:
        out = core.process(cmds)
    check(len(out) == events, f"replay: {len(out)} events re-executed, {events} verified")
    return dict(value=events / clk.seconds, seconds=clk.seconds, others=clk.others,
                commands=commands, events=events, commands_per_s=commands / clk.seconds,
                scan_seconds=scan_clk.seconds, execute_seconds=exec_clk.seconds,
                execute_events_per_s=events / exec_clk.seconds)


# -- recovery ----------------------------------------------------------------------------------

def build_recovery_journal(base: str, prefix: int, tail_records: int):
    """A journal of `prefix` commands, a snapshot there, then commands until at least
    `tail_records` records follow the snapshot (direct driver: no engine threads)."""
    directory = tempfile.mkdtemp(prefix="journal-recovery-", dir=base)
    commands = mixed_commands(prefix + tail_records, seed=5)     # more than enough
    cfg = workload_config(len(commands), journal_dir=directory)
    write_config(directory, cfg)
    core = Core(cfg)
    writer = JournalWriter(directory, segment_bytes=cfg.segment_bytes, now_ns=time.time_ns())
    core.attach_journal(writer)
    for i in range(0, prefix, CHUNK):
        core.process(commands[i:min(i + CHUNK, prefix)])
    store = SnapshotStore(directory, retention=cfg.snapshot_retention)
    store.put(prefix, core.snapshot())
    store.close()
    start_records = writer.stats()["records"]
    i = prefix
    while writer.stats()["records"] - start_records < tail_records:
        core.process(commands[i:i + 256])
        i += 256
    tail = writer.stats()["records"] - start_records
    core.attach_journal(None)
    writer.close()
    return directory, cfg, i - prefix, tail


def recovery_time(directory: str, cfg, prefix: int, tail_commands: int) -> dict:
    with Clock() as clk:
        engine = Engine(cfg)
    rep = engine.recovery
    engine.close()                 # stores a snapshot at the end: removed so the next run
    store = SnapshotStore(directory)   # recovers from the same point
    with store.env.begin(write=True) as txn:
        for key in [k for k, _ in txn.cursor() if struct.unpack(">Q", k)[0] > prefix]:
            txn.delete(key)
    store.close()
    check(rep.snapshot_seq == prefix and rep.replayed_commands == tail_commands,
          f"recovery: {rep}")
    return dict(value=clk.seconds, others=clk.others, report_seconds=rep.seconds,
                replayed=rep.replayed_commands, verified=rep.verified_events)


# -- driver ------------------------------------------------------------------------------------

QUIET = 0.2                       # cores used by other processes below which a run is "quiet"


def med(xs):
    return statistics.median(xs)


def summary(values, others) -> dict:
    """Median of every run, and median of the quiet runs (others < QUIET cores) if any."""
    quiet = [v for v, o in zip(values, others) if o < QUIET]
    return dict(median=med(values), runs=[round(v, 3) for v in values],
                others=[round(o, 2) for o in others],
                quiet_median=med(quiet) if quiet else None, quiet_runs=len(quiet))


def run(args) -> dict:
    n = 100_000 if args.quick else args.commands
    tail = 100_000 if args.quick else args.tail_records
    prefix = 20_000 if args.quick else args.prefix
    runs = 1 if args.quick else args.runs
    base = args.dir or tempfile.gettempdir()
    commands = mixed_commands(n, seed=3)
    results = {m: [] for m in MODES}
    ratios = {m: [] for m in MODES[1:]}
    replays, recoveries = [], []
    try:
        log(f"recovery journal: snapshot at {prefix:,} commands + {tail:,} records ...")
        rdir, rcfg, tail_commands, tail_records = build_recovery_journal(base, prefix, tail)
        for r in range(runs):
            got = {}
            for mode in MODES:
                load = wait_for_quiet(args.quiet_wait)
                res = throughput(mode, commands, base)
                got[mode] = res
                results[mode].append(res)
                log(f"run {r + 1}/{runs} {mode:<15} {res['value']:>12,.0f} commands/s "
                    f"({res['seconds']:.2f} s; others {res['others']:.2f}, before {load:.2f})")
            for mode in MODES[1:]:
                ratios[mode].append(got[mode]["value"] / got["none"]["value"])
            wait_for_quiet(args.quiet_wait)
            rep = replay_speed(got["sync"]["directory"])
            replays.append(rep)
            log(f"run {r + 1}/{runs} replay (verify)  {rep['value']:>12,.0f} events/s "
                f"({rep['seconds']:.2f} s for {rep['events']:,} events; scan "
                f"{rep['scan_seconds']:.2f} s, re-execution alone "
                f"{rep['execute_events_per_s']:,.0f} events/s; others {rep['others']:.2f})")
            wait_for_quiet(args.quiet_wait)
            rec = recovery_time(rdir, rcfg, prefix, tail_commands)
            recoveries.append(rec)
            log(f"run {r + 1}/{runs} recovery         {rec['value']:>12.3f} s "
                f"({rec['replayed']:,} commands, {rec['verified']:,} events verified; "
                f"others {rec['others']:.2f})")
            for res in got.values():
                if res["directory"]:
                    shutil.rmtree(res["directory"], ignore_errors=True)
    finally:
        shutil.rmtree(rdir, ignore_errors=True)
    sync = results["sync"]
    report = dict(
        commands=n, runs=runs,
        throughput={m: summary([x["value"] for x in results[m]],
                               [x["others"] for x in results[m]]) for m in MODES},
        ratio={m: summary(ratios[m], [max(got_o) for got_o in zip(
            [x["others"] for x in results["none"]], [x["others"] for x in results[m]])])
               for m in MODES[1:]},
        replay=dict(summary([x["value"] for x in replays], [x["others"] for x in replays]),
                    commands_per_s=med([x["commands_per_s"] for x in replays]),
                    scan_seconds=med([x["scan_seconds"] for x in replays]),
                    execute_events_per_s=med([x["execute_events_per_s"] for x in replays]),
                    events=replays[0]["events"], target=REPLAY_TARGET),
        recovery=dict(summary([x["value"] for x in recoveries],
                              [x["others"] for x in recoveries]),
                      snapshot_at=prefix, tail_records=tail_records,
                      tail_commands=tail_commands),
        bytes=dict(per_order=med([x["bytes"] / x["orders"] for x in sync]),
                   per_command=med([x["bytes"] / n for x in sync]),
                   per_record=sync[0]["bytes"] / sync[0]["records"],
                   records_per_command=sync[0]["records"] / n,
                   orders=sync[0]["orders"]),
    )
    return report


def _q(x, fmt):
    return (format(x["quiet_median"], fmt) + f" ({x['quiet_runs']})"
            if x["quiet_median"] is not None else "-")


def print_report(rep: dict) -> None:
    n, runs = rep["commands"], rep["runs"]
    print(f"\njournal benchmark: {n:,} mixed commands, {runs} run(s); median of all runs, and of "
          f"the quiet ones (others < {QUIET} cores; how many)")
    print(f"{'':<26}{'median':>12}{'quiet':>16}{'vs none':>8}{'quiet':>11}   runs / others")
    for m in MODES:
        t = rep["throughput"][m]
        r = rep["ratio"].get(m)
        ratio = f"{r['median']:.2f}x" if r else ""
        qratio = _q(r, ".2f") if r else ""
        print(f"{'throughput ' + m:<26}{t['median']:>10,.0f}/s{_q(t, ',.0f'):>16}{ratio:>8}"
              f"{qratio:>11}   {[round(v) for v in t['runs']]} / {t['others']}")
    r = rep["replay"]
    met = "met" if r["median"] >= r["target"] else "NOT met"
    print(f"{'replay (verify) events/s':<26}{r['median']:>10,.0f}/s{_q(r, ',.0f'):>16}   "
          f"target {r['target']:,}/s {met}; {[round(v) for v in r['runs']]} / {r['others']}")
    print(f"{'  re-execution alone':<26}{r['execute_events_per_s']:>10,.0f}/s   "
          f"(Core.process of all commands; scan {r['scan_seconds']:.2f} s; "
          f"{r['events']:,} events; verify {r['commands_per_s']:,.0f} commands/s)")
    c = rep["recovery"]
    print(f"{'recovery seconds':<26}{c['median']:>11.3f}s{_q(c, '.3f'):>16}   snapshot at "
          f"{c['snapshot_at']:,} + {c['tail_records']:,} records ({c['tail_commands']:,} "
          f"commands); {c['runs']} / {c['others']}")
    b = rep["bytes"]
    print(f"{'journal bytes per order':<26}{b['per_order']:>12,.0f}   "
          f"{b['per_command']:,.0f} per command, {b['per_record']:.0f} per record, "
          f"{b['records_per_command']:.2f} records per command")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="100,000 commands, one run")
    p.add_argument("--commands", type=int, default=1_000_000)
    p.add_argument("--prefix", type=int, default=200_000,
                   help="commands before the recovery snapshot")
    p.add_argument("--tail-records", type=int, default=1_000_000)
    p.add_argument("--dir", help="where the journals go (default: the temp directory)")
    p.add_argument("--quiet-wait", type=float, default=30.0,
                   help="seconds to wait at most for other processes to quieten")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rep = run(args)
    if args.json:
        json.dump(rep, sys.stdout, indent=1)
        print()
    else:
        print_report(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
