#!/usr/bin/env python
"""Orders routed out to external venues over loopback (see BENCHMARKS.md, "Routing to venues").

    python benchmarks/venue_routing.py              # everything, 3 runs each, medians
    python benchmarks/venue_routing.py --quick      # smoke run, small counts
    python benchmarks/venue_routing.py --only thr1,lat --runs 5

Processes: `oms serve` (the OMS), one or two `oms venue-sim` (the venues: each is our own
gateway and matching engine run as an exchange, a FIX 4.4 acceptor), and this client.  The
OMS routes every order to a venue by ExDestination(100) (binary `N` frames), sends it there as
a NewOrderSingle, and answers the client when the venue's ExecutionReport comes back.  Orders
alternate buy and sell of 1 unit at one price, each pair to the same venue, so the venue's
book stays small: each order is PENDING_NEW, then NEW (the venue's ack), then TRADE.

Benchmarks:

  thr1  sustained orders/s routed to one venue-sim: `--orders` orders pipelined in 256-order
        writes, at most `--window` unacknowledged; an order counts when the venue's
        acknowledgement (the client's NEW execution report) arrives.
  thr2  the same, the pairs alternating between two venue-sims.
  lat   wire-to-wire latency client -> OMS -> venue -> OMS -> client, open loop at
        `--rate` orders/s (default 10,000) to one venue-sim: from each order's *scheduled*
        send time to the arrival of its NEW (no coordinated omission), against the raw
        loopback round trip measured in the same run (a ping-pong of 64-byte messages with
        an echo process, at the same rate).

Each run checks that every order was acknowledged by its venue and none was rejected.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_load import (BENCH_BINARY_SESSION, HOST, PRICE, BenchmarkError,  # noqa: E402
                         free_port, median_of, open_loop, percentiles, pipelined,
                         process_cpu_seconds)
from oms._binary import decode_server_frames, encode_commands  # noqa: E402
from oms.client import BinaryClient  # noqa: E402
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE, CommandType, ExecType, OrdType  # noqa: E402
from oms.venue_sim import default_sim_config, start_venue_sim, stop_venue_sim  # noqa: E402
from oms.venue_sim.config import SimLiquidity  # noqa: E402

VENUES = ["SIM1", "SIM2"]


def oms_config(directory: Path, venue_ports: list[int], wait: str, wakeup: bool = True) -> Path:
    """`oms serve` with AAPL listed at every venue, and one [[venues]] session each."""
    fix_port, bin_port = free_port(), free_port()
    names = VENUES[:len(venue_ports)]
    venue_rows = ", ".join(f'{{venue_id = {i + 1}, name = "{n}"}}' for i, n in enumerate(names))
    listings = ", ".join(f'{{venue = "{n}"}}' for n in names)
    sessions = "".join(f"""
[[venues]]
name = "{n}"
host = "{HOST}"
port = {p}
target_comp_id = "{n}"
heartbeat = 30
response_timeout = 30.0
probe_interval = 0
""" for n, p in zip(names, venue_ports))
    text = f"""
[server]
host = "{HOST}"
fix_port = {fix_port}
binary_port = {bin_port}
state_dir = "{directory / 'oms-state'}"
journal = false
log_level = "warning"
output_buffer_limit = 268435456
egress_wakeup = {'true' if wakeup else 'false'}

[engine]
max_orders = 2097152
idem_capacity = 4194304
prefault = true
input_ring = 65536
output_ring = 262144
wait_strategy = "{wait}"
symbols = [{{symbol_id = 0, name = "AAPL", tick_size = 100, ref_price = {PRICE}, collar_bps = 1000, venues = [{listings}]}}]
accounts = [{{account_id = 0, name = "BENCH"}}]
venues = [{venue_rows}]

{BENCH_BINARY_SESSION}{sessions}"""
    path = directory / "oms.toml"
    path.write_text(text)
    return path


class Deployment:
    """An OMS and `n_venues` venue-sims, fresh for each measurement; ready when every venue
    session is UP (read from the OMS's venues.json)."""

    def __init__(self, n_venues: int, wait: str, sim_wait: str, wakeup: bool = True):
        self.n = n_venues
        self.wait, self.sim_wait, self.wakeup = wait, sim_wait, wakeup

    def __enter__(self):
        import msgspec
        from oms.gateway.config import ServerConfig
        self.tmp = tempfile.TemporaryDirectory(prefix="oms-venue-bench-")
        d = Path(self.tmp.name)
        self.sims = []
        for name in VENUES[:self.n]:
            cfg = default_sim_config(name, 0, name, ["OMS"], state_dir=str(d / name),
                                     log_level="warning", wait_strategy=self.sim_wait,
                                     max_orders=1 << 22,
                                     liquidity=SimLiquidity(enabled=False))
            self.sims.append(start_venue_sim(cfg, d / f"{name}.toml", d / f"{name}.log"))
        self.config = oms_config(d, [s.config.port for s in self.sims], self.wait, self.wakeup)
        cfg = msgspec.toml.decode(self.config.read_bytes(), type=ServerConfig)
        self.binary_port = cfg.server.binary_port
        self.state_dir = Path(cfg.server.state_dir)
        self.log = d / "oms.log"
        self.out = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "oms.cli", "serve", "--config",
                                      str(self.config)], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchmarkError(self.log.read_text())
            if self._all_up():
                return self
            time.sleep(0.1)
        raise BenchmarkError("the venue sessions did not come up: " + self.log.read_text())

    def _all_up(self) -> bool:
        try:
            status = json.loads((self.state_dir / "venues.json").read_text())
        except (OSError, ValueError):
            return False
        up = [v for v in status.get("venues", []) if v.get("state") == "UP"]
        return len(up) == self.n

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(30)
        self.out.close()
        for s in self.sims:
            stop_venue_sim(s)
        self.tmp.cleanup()

    def cpu_seconds(self) -> dict[str, float]:
        return {"oms": process_cpu_seconds(self.proc.pid),
                "venues": sum(process_cpu_seconds(s.pid) for s in self.sims)}


def routed_orders(n: int, n_venues: int, first_id: int) -> np.ndarray:
    c = np.zeros(n, dtype=COMMAND_DTYPE)
    i = np.arange(n)
    c["kind"] = CommandType.NEW
    c["cl_ord_id"] = first_id + i
    c["side"] = 1 + i % 2
    c["ord_type"] = OrdType.LIMIT
    c["tif"] = 1
    c["qty"] = 1
    c["price"] = PRICE
    c["ex_destination"] = 2 + (i // 2) % n_venues          # venue id + 1; pairs together
    return c


class AckCounter:
    """Decodes server frames; counts venue acknowledgements (NEW) and fails on rejects."""

    def __init__(self):
        self.out = np.zeros(1 << 16, dtype=EVENT_DTYPE)

    def new_acks(self, buf: bytearray):
        ids = []
        pos = 0
        while True:
            status, k, pos = decode_server_frames(buf, pos, self.out)
            ev = self.out[:k]
            if (ev["exec_type"] == ExecType.REJECTED).any():
                code = int(ev["reject_code"][ev["exec_type"] == ExecType.REJECTED][0])
                raise BenchmarkError(f"an order was rejected, code {code}")
            ids.append(ev["cl_ord_id"][ev["exec_type"] == ExecType.NEW].copy())
            if status == 7:                              # a heartbeat or reject frame
                length = int.from_bytes(buf[pos:pos + 2], "little")
                if buf[pos + 2] == ord("R"):
                    raise BenchmarkError(f"reject frame: {bytes(buf[pos:pos + length])!r}")
                pos += length
                continue
            if status != 1:
                break
        del buf[:pos]
        return np.concatenate(ids) if ids else np.empty(0, np.uint64)


def bench_throughput(dep: Deployment, n: int, window: int, first_id: int) -> dict:
    c = BinaryClient(HOST, dep.binary_port, "bench", "bench", heartbeat_ms=60_000).connect()
    c._stop.set()                                   # no heartbeat thread writing concurrently
    per = 256
    cmds = routed_orders(n, dep.n, first_id)
    chunks = [encode_commands(cmds[i:i + per]) for i in range(0, n, per)]
    counter = AckCounter()
    cpu0 = dep.cpu_seconds()
    seconds = pipelined(c.sock, chunks, per, n, window, lambda b: len(counter.new_acks(b)))
    cpu1 = dep.cpu_seconds()
    c.close()
    return dict(orders_per_s=n / seconds, seconds=seconds,
                oms_cores=(cpu1["oms"] - cpu0["oms"]) / seconds,
                venue_cores=(cpu1["venues"] - cpu0["venues"]) / seconds)


def bench_latency(dep: Deployment, rate: int, seconds: float, first_id: int) -> dict:
    """Open loop at `rate` orders/s: each order's latency from its scheduled send time to
    its venue acknowledgement at the client."""
    n = int(rate * seconds)
    c = BinaryClient(HOST, dep.binary_port, "bench", "bench", heartbeat_ms=60_000).connect()
    c._stop.set()
    cmds = routed_orders(n, dep.n, first_id)
    recv = np.zeros(n, dtype=np.int64)
    done = threading.Event()
    error: list[str] = []

    def receiver():
        buf = bytearray()
        counter = AckCounter()
        got = 0
        while got < n:
            try:
                data = c.sock.recv(1 << 22)
            except OSError as exc:
                error.append(repr(exc))
                break
            t = time.perf_counter_ns()
            if not data:
                error.append("closed")
                break
            buf += data
            try:
                ids = counter.new_acks(buf)
            except BenchmarkError as exc:
                error.append(str(exc))
                break
            recv[(ids - first_id).astype(np.int64)] = t
            got += len(ids)
        done.set()

    th = threading.Thread(target=receiver, daemon=True)
    th.start()
    sched = open_loop(rate, n, lambda i, j: c.sock.sendall(encode_commands(cmds[i:j])))
    if not done.wait(60) or error:
        raise BenchmarkError(f"latency run: acknowledgements missing; {error}")
    c.close()
    return percentiles((recv - sched) / 1000.0, rate=rate)


ECHO = """
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept(); conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    data = conn.recv(65536)
    if not data:
        break
    conn.sendall(data)
"""


def bench_raw_rtt(rate: int, seconds: float) -> dict:
    """The loopback round trip of a 64-byte message through an echo process, open loop at
    `rate` messages/s, timed like the orders (scheduled send -> echo received)."""
    n = int(rate * seconds)
    echo = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    try:
        port = int(echo.stdout.readline())
        sock = socket.create_connection((HOST, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        recv = np.zeros(n, dtype=np.int64)
        msg = b"x" * 64

        def receiver():
            got = 0
            pending = 0
            while got < n:
                data = sock.recv(1 << 20)
                t = time.perf_counter_ns()
                if not data:
                    break
                pending += len(data)
                k = pending // 64
                recv[got:got + k] = t
                got += k
                pending -= k * 64

        th = threading.Thread(target=receiver, daemon=True)
        th.start()
        sched = open_loop(rate, n, lambda i, j: sock.sendall(msg * (j - i)))
        th.join(30)
        sock.close()
        if (recv == 0).any():
            raise BenchmarkError("raw round trip: echoes missing")
        return percentiles((recv - sched) / 1000.0, rate=rate)
    finally:
        echo.kill()
        echo.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--window", type=int, default=16_384)
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--latency-seconds", type=float, default=3.0)
    ap.add_argument("--only", default="thr1,thr2,lat")
    ap.add_argument("--wait", choices=["busy-spin", "yield", "sleep"], default="yield",
                    help="the OMS business thread's wait strategy")
    ap.add_argument("--sim-wait", choices=["busy-spin", "yield", "sleep"], default="sleep",
                    help="the venue-sims' business thread's wait strategy")
    ap.add_argument("--egress-poll", action="store_true",
                    help="the OMS's I/O thread polls the output ring while commands are in "
                         "flight (server.egress_wakeup = false) instead of sleeping on the "
                         "business thread's eventfd")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.orders, args.latency_seconds = 1, 20_000, 0.5
    only = set(args.only.split(","))
    results: dict[str, list] = {"thr1": [], "thr2": [], "lat": [], "raw": []}
    for run in range(args.runs):
        for key, n_venues in (("thr1", 1), ("thr2", 2)):
            if key in only:
                with Deployment(n_venues, args.wait, args.sim_wait, not args.egress_poll) as dep:
                    bench_throughput(dep, 10_000, args.window, 1)          # warm-up
                    results[key].append(bench_throughput(dep, args.orders, args.window,
                                                         100_000))
        if "lat" in only:
            with Deployment(1, args.wait, args.sim_wait, not args.egress_poll) as dep:
                bench_throughput(dep, 10_000, args.window, 1)
                results["lat"].append(bench_latency(dep, args.rate, args.latency_seconds,
                                                    100_000))
            results["raw"].append(bench_raw_rtt(args.rate, args.latency_seconds))
        if not args.json:
            print(f"run {run + 1}: " + "; ".join(
                f"{k} {v[-1]}" for k, v in results.items() if v), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"\nmedians of {args.runs} run(s), OMS wait {args.wait}, venue-sim wait "
          f"{args.sim_wait}, {args.orders:,} orders per throughput run, window {args.window:,}")
    for key, label in (("thr1", "one venue-sim"), ("thr2", "two venue-sims")):
        if results[key]:
            r = results[key]
            print(f"  routed to {label:<15} {median_of(r, 'orders_per_s'):>10,.0f} orders/s"
                  f"   OMS CPU {median_of(r, 'oms_cores'):.2f} cores, venues "
                  f"{median_of(r, 'venue_cores'):.2f}")
    for key, label in (("lat", "client->OMS->venue->OMS->client"), ("raw", "raw loopback RTT")):
        if results[key]:
            r = results[key]
            print(f"  {label:<32} at {r[0]['rate']:>6,}/s  p50 {median_of(r, 'p50_us'):8.0f} us"
                  f"  p90 {median_of(r, 'p90_us'):8.0f}  p99 {median_of(r, 'p99_us'):8.0f}"
                  f"  p99.9 {median_of(r, 'p999_us'):8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
