#!/usr/bin/env python
"""Load of `oms serve` over loopback, from a separate client process (see BENCHMARKS.md).

    python benchmarks/server_load.py                  # everything, 3 runs each, medians
    python benchmarks/server_load.py --quick          # smoke run, small counts
    python benchmarks/server_load.py --only bin,fix --runs 5
    python benchmarks/server_load.py --journal async  # engine journal on (default: off)

Benchmarks:

  bin   sustained orders/s over the binary protocol: one pipelined client session sends
        `--orders` new orders in 256-order writes, keeping at most `--window` orders
        unacknowledged; the clock stops when the last order's acknowledgement (its NEW
        execution report) arrives.
  fix   the same over FIX 4.4 (NewOrderSingle in, ExecutionReport out), messages encoded
        before the clock starts.
  lat   wire-to-wire latency over the binary protocol: orders are sent open-loop on a fixed
        schedule at 10,000 and 100,000 orders/s; each order's latency is the time from its
        *scheduled* send time to the receipt of its acknowledgement, so a stall on either side
        is charged to every order it delays (no coordinated omission).

Orders alternate buy and sell of 1 unit at one price on one symbol: every second order trades
with the one before, so the book stays small and each pair yields NEW, NEW, TRADE, TRADE.
The server runs as a subprocess (`oms serve --config <generated>`), a fresh one for each
measurement, warmed up with 20,000 orders; the client is this process.  Each run checks that
every order was acknowledged.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from oms._binary import decode_server_frames, encode_commands  # noqa: E402
from oms.client import BinaryClient, FixClient  # noqa: E402
from oms.gateway.config import _DEMO_USERS  # noqa: E402
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, CommandType, ExecType, OrdType  # noqa: E402

HOST = "127.0.0.1"
PRICE = 1_900_000          # AAPL at 190.00


class BenchmarkError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# the benchmark client's user and binary session, unthrottled (shared with venue_routing.py)
BENCH_BINARY_SESSION = f"""
[rate_limits.unlimited]
orders_per_second = 0
orders_per_minute = 0

[[users]]
name = "bench"
password_hash = "{_DEMO_USERS['bench']}"
tier = "unlimited"

[[sessions]]
protocol = "binary"
session_id = 25
user = "bench"
accounts = ["BENCH"]
tier = "unlimited"
"""


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def server_config(directory: Path, journal: str, wait: str) -> Path:
    fix_port, bin_port = free_port(), free_port()
    text = f"""
[server]
host = "{HOST}"
fix_port = {fix_port}
binary_port = {bin_port}
state_dir = "{directory / 'state'}"
journal = {'false' if journal == 'off' else 'true'}
log_level = "warning"
output_buffer_limit = 268435456

[engine]
max_orders = 2097152
idem_capacity = 4194304
prefault = true
snapshot_every_events = {0 if journal == 'off' else 100000}
input_ring = 65536
output_ring = 262144
wait_strategy = "{wait}"
durability = "{'async' if journal == 'off' else journal}"
symbols = [{{symbol_id = 0, name = "AAPL", tick_size = 100, ref_price = {PRICE}, collar_bps = 1000}}]
accounts = [{{account_id = 0, name = "BENCH"}}]

{BENCH_BINARY_SESSION}
[[sessions]]
protocol = "fix"
session_id = 14
sender_comp_id = "BENCHFIX"
accounts = ["BENCH"]
tier = "unlimited"
check_latency = false
"""
    path = directory / "bench.toml"
    path.write_text(text)
    return path


class ServerProcess:
    def __init__(self, journal: str, wait: str = "yield"):
        self.tmp = tempfile.TemporaryDirectory(prefix="oms-bench-")
        self.config = server_config(Path(self.tmp.name), journal, wait)
        self.log = Path(self.tmp.name) / "server.log"

    def __enter__(self):
        import msgspec
        from oms.gateway.config import ServerConfig
        cfg = msgspec.toml.decode(self.config.read_bytes(), type=ServerConfig)
        self.fix_port, self.binary_port = cfg.server.fix_port, cfg.server.binary_port
        self.out = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "oms.cli", "serve", "--config",
                                      str(self.config)], stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.binary_port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise BenchmarkError(self.log.read_text())
                time.sleep(0.05)
        raise BenchmarkError("server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(30)
        self.out.close()
        self.tmp.cleanup()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)


def orders(n: int, first_id: int = 1) -> np.ndarray:
    c = np.zeros(n, dtype=COMMAND_DTYPE)
    c["kind"] = CommandType.NEW
    c["cl_ord_id"] = np.arange(first_id, first_id + n)
    c["side"] = 1 + (np.arange(n) % 2)
    c["ord_type"] = OrdType.LIMIT
    c["tif"] = 1
    c["qty"] = 1
    c["price"] = PRICE
    return c


def count_acks(events: np.ndarray) -> int:
    return int(np.count_nonzero(events["exec_type"] == ExecType.NEW))


# -- throughput --------------------------------------------------------------------------------

def pipelined(sock: socket.socket, chunks: list[bytes], per_chunk: int, total: int,
              window: int, acks_in) -> float:
    """Send chunks while at most `window` orders are unacknowledged; returns seconds until
    `total` acknowledgements."""
    buf = bytearray()
    acked = sent_orders = 0
    i = 0
    sock.setblocking(True)
    t0 = time.perf_counter()
    while acked < total:
        while i < len(chunks) and sent_orders - acked < window:
            sock.sendall(chunks[i])
            sent_orders += per_chunk
            i += 1
        data = sock.recv(1 << 22)
        if not data:
            raise BenchmarkError("server closed the connection")
        buf += data
        acked += acks_in(buf)
    return time.perf_counter() - t0


def bench_binary(srv: ServerProcess, n: int, window: int, first_id: int = 1) -> dict:
    c = BinaryClient(HOST, srv.binary_port, "bench", "bench", heartbeat_ms=60_000).connect()
    c._stop.set()                                   # no heartbeat thread writing concurrently
    per = 256
    cmds = orders(n, first_id)
    chunks = [encode_commands(cmds[i:i + per]) for i in range(0, n, per)]
    out = np.zeros(1 << 16, dtype=EVENT_DTYPE)

    def acks(buf: bytearray) -> int:
        got = 0
        pos = 0
        while True:
            status, k, pos = decode_server_frames(buf, pos, out)
            got += count_acks(out[:k])
            if status != 1:                          # BATCH_FULL: decode on
                break
        if status == 7:                              # a heartbeat or reject frame: skip it
            length = int.from_bytes(buf[pos:pos + 2], "little")
            if buf[pos + 2] == ord("R"):
                raise BenchmarkError(f"reject frame: {bytes(buf[pos:pos + length])!r}")
            pos += length
        del buf[:pos]
        return got

    cpu0 = srv.cpu_seconds()
    seconds = pipelined(c.sock, chunks, per, n, window, acks)
    cpu = srv.cpu_seconds() - cpu0
    c.close()
    return dict(orders_per_s=n / seconds, seconds=seconds, server_cores=cpu / seconds)


def bench_fix(srv: ServerProcess, n: int, window: int) -> dict:
    c = FixClient(HOST, srv.fix_port, "BENCHFIX", heartbeat=60)
    c.logon(reset=True)
    per = 256
    now = time.time_ns()
    seq0 = c.next_seq
    chunks = []
    for i in range(0, n, per):
        for j in range(i, min(n, i + per)):
            c.codec.encode(b"D", [(11, j + 1), (55, b"AAPL"), (54, b"1" if j % 2 == 0 else b"2"),
                                  (40, b"2"), (38, b"1"), (44, b"190"),
                                  (60, b"20250101-00:00:00")], now)
        chunks.append(c.codec.take())
    assert c.next_seq == seq0 + n

    def acks(buf: bytearray) -> int:
        end = buf.rfind(b"\x0110=")
        if end < 0 or len(buf) < end + 8:
            return 0
        end += 8
        got = buf.count(b"\x01150=0\x01", 0, end)
        del buf[:end]
        return got

    cpu0 = srv.cpu_seconds()
    seconds = pipelined(c.sock, chunks, per, n, window, acks)
    cpu = srv.cpu_seconds() - cpu0
    c.sock.setblocking(True)
    c.close()
    return dict(orders_per_s=n / seconds, seconds=seconds, server_cores=cpu / seconds)


# -- latency -----------------------------------------------------------------------------------

def bench_latency(srv: ServerProcess, rate: int, seconds: float, first_id: int) -> dict:
    """Open loop at `rate` orders/s: latency from each order's scheduled send time."""
    n = int(rate * seconds)
    c = BinaryClient(HOST, srv.binary_port, "bench", "bench", heartbeat_ms=60_000).connect()
    c._stop.set()
    cmds = orders(n, first_id)
    recv = np.zeros(n, dtype=np.int64)
    done = threading.Event()
    error: list[str] = []

    def receiver():
        buf = bytearray()
        out = np.zeros(1 << 16, dtype=EVENT_DTYPE)
        got = 0
        sock = c.sock
        while got < n:
            try:
                data = sock.recv(1 << 22)
            except OSError as exc:
                error.append(repr(exc))
                break
            t = time.perf_counter_ns()
            if not data:
                error.append("closed")
                break
            buf += data
            pos = 0
            while True:
                status, k, pos = decode_server_frames(buf, pos, out)
                ev = out[:k]
                new = ev["cl_ord_id"][ev["exec_type"] == ExecType.NEW] - first_id
                recv[new.astype(np.int64)] = t
                got += len(new)
                if status == 7:
                    pos += int.from_bytes(buf[pos:pos + 2], "little")
                    continue
                if status != 1:
                    break
            del buf[:pos]
        done.set()

    th = threading.Thread(target=receiver, daemon=True)
    th.start()
    sched = open_loop(rate, n, lambda i, j: c.sock.sendall(encode_commands(cmds[i:j])))
    if not done.wait(30):
        raise BenchmarkError(f"latency run: acknowledgements missing; {error}")
    c.close()
    if (recv == 0).any():
        raise BenchmarkError("latency run: some orders were never acknowledged")
    return percentiles((recv - sched) / 1000.0, rate=rate)


def open_loop(rate: int, n: int, send) -> np.ndarray:
    """Call send(i, j) for the items due by now, on a fixed schedule; returns the schedule
    (perf_counter ns)."""
    interval = 1e9 / rate
    start = time.perf_counter_ns() + 10_000_000
    sched = start + (np.arange(n) * interval).astype(np.int64)
    i = 0
    while i < n:
        now = time.perf_counter_ns()
        if now < sched[i]:
            time.sleep(min(0.0005, (sched[i] - now) / 1e9))
            continue
        j = int(np.searchsorted(sched, now, side="right"))
        send(i, j)
        i = j
    return sched


def percentiles(lat_us: np.ndarray, **extra) -> dict:
    p = np.percentile(lat_us, [50, 90, 99, 99.9])
    return dict(extra, p50_us=p[0], p90_us=p[1], p99_us=p[2], p999_us=p[3],
                max_us=float(lat_us.max()))


# -- driver ------------------------------------------------------------------------------------

def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=65_536)
    ap.add_argument("--latency-seconds", type=float, default=3.0)
    ap.add_argument("--only", default="bin,fix,lat")
    ap.add_argument("--journal", choices=["off", "async", "sync"], default="off")
    ap.add_argument("--wait", choices=["busy-spin", "yield", "sleep"], default="yield",
                    help="the business thread's wait strategy (EngineConfig.wait_strategy)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.orders, args.latency_seconds = 1, 50_000, 0.5
    only = set(args.only.split(","))
    results: dict[str, list] = {"bin": [], "fix": [], "lat10k": [], "lat100k": []}
    next_id = 1_000_000
    for run in range(args.runs):
        # a fresh server for each measurement: every one starts from an empty engine
        if "bin" in only:
            with ServerProcess(args.journal, args.wait) as srv:
                bench_binary(srv, 20_000, args.window, 1)          # warm-up, not counted
                results["bin"].append(bench_binary(srv, args.orders, args.window, 100_000))
        if "fix" in only:
            with ServerProcess(args.journal, args.wait) as srv:
                bench_binary(srv, 20_000, args.window, 1)
                results["fix"].append(bench_fix(srv, args.orders, args.window))
        if "lat" in only:
            with ServerProcess(args.journal, args.wait) as srv:
                bench_binary(srv, 20_000, args.window, 1)
                for rate, key in ((10_000, "lat10k"), (100_000, "lat100k")):
                    results[key].append(bench_latency(srv, rate, args.latency_seconds, next_id))
                    next_id += int(rate * args.latency_seconds) + 1
        if not args.json:
            print(f"run {run + 1}: " + "; ".join(
                f"{k} {v[-1]}" for k, v in results.items() if v), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"\nmedians of {args.runs} run(s), journal {args.journal}, wait {args.wait}, "
          f"{args.orders:,} orders "
          f"per throughput run, window {args.window:,}")
    for key, label in (("bin", "binary"), ("fix", "FIX 4.4")):
        if results[key]:
            print(f"  {label:<8} {median_of(results[key], 'orders_per_s'):>12,.0f} orders/s"
                  f"   server CPU {median_of(results[key], 'server_cores'):.2f} cores")
    for key in ("lat10k", "lat100k"):
        if results[key]:
            r = results[key]
            print(f"  latency at {r[0]['rate']:>7,}/s  p50 {median_of(r, 'p50_us'):8.0f} us"
                  f"  p90 {median_of(r, 'p90_us'):8.0f}  p99 {median_of(r, 'p99_us'):8.0f}"
                  f"  p99.9 {median_of(r, 'p999_us'):8.0f}  max {median_of(r, 'max_us'):8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
