"""The process that tests/test_crash_recovery.py kills: a journaled `Engine` with `sync`
durability, driven with a stream of NEW (resting and marketable), CANCEL and REPLACE.

    python tests/crash_driver.py JOURNAL_DIR RUN SEED RESEND_FILE

Protocol (stdout, one line per record, flushed after each batch; stdin for control):

    RECOVERED {json}       after recovery: the engine's counters, the recovery report and a
                           digest of the recovered state (sha256 of Core.snapshot()); the
                           driver then waits (bounded) for a line on stdin:
                             GO    start the engine and drive it until killed (or STOP);
                             QUIT  close without starting.
    S {json}               a NEW about to be submitted (its ClOrdID, idempotency key and
                           fields), so that the parent can resend it after a kill, as a client
                           that never heard back would
    A seq kind cl digest   an acknowledgement: the events of input command `seq` were received
                           (the engine releases events only once their command is durable);
                           `digest` is `event_digest` of those events
    DONE {json}            after STOP on stdin: the engine was closed cleanly

Everything the driver does is a function of (RUN, SEED, the recovered state), except where the
kill lands: ClOrdIDs are `(RUN + 1) << 32 | n`, idempotency keys are derived from them, and
command times are explicit (T0 + RUN * 10^12 + n * 10^6), so a restarted driver never reuses
an identifier and a resent NEW carries its original key.  Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import random
import select
import sys
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from oms.config import AccountConfig, EngineConfig, SymbolConfig  # noqa: E402
from oms.layout import (EVENT_DTYPE, CommandType as K, ExecType as X,  # noqa: E402
                        OrdStatus, OrdType, Side, TimeInForce)

PX = 1_000_000                    # 100.00
TICK = 100
T0 = 20_000 * 86_400 * 10**9 + 12 * 3600 * 10**9
IDEM_TAG = 0x1DE << 64            # high bits of every idempotency key the driver sends
SESSION = 1
LIVE = (OrdStatus.ACCEPTED, OrdStatus.PARTIALLY_FILLED)
WAIT_S = 10.0                     # bound of every wait for the engine
GO_WAIT_S = 60.0                  # bound of the wait for the parent's GO
MAX_COMMANDS = 200_000            # a run that is never killed still ends
MAX_SECONDS = 60.0

EVENT_FIELDS = [n for n in EVENT_DTYPE.names if not n.startswith("_")]


def crash_config(journal_dir: str) -> EngineConfig:
    """Small capacities (nothing is evicted in a test-sized run), small segments so that they
    roll, frequent snapshots so that recovery starts from one."""
    return EngineConfig(
        max_orders=1 << 16, max_symbols=4, max_accounts=4, idem_capacity=1 << 16,
        max_levels=128, input_ring=1 << 10, output_ring=1 << 12,
        journal_dir=journal_dir, durability="sync", segment_bytes=1 << 16,
        snapshot_every_events=300, snapshot_min_interval_seconds=0, snapshot_retention=3,
        symbols=[SymbolConfig(0, "AAA", tick_size=TICK, ref_price=PX),
                 SymbolConfig(1, "BBB", tick_size=TICK, ref_price=PX)],
        accounts=[AccountConfig(0, "A0"), AccountConfig(1, "A1")])


def event_digest(events) -> int:
    """CRC32 of every named field of the events, field by field (numpy copies of structured
    arrays do not preserve padding bytes, so raw bytes are not a stable digest)."""
    crc = 0
    for name in EVENT_FIELDS:
        crc = zlib.crc32(np.ascontiguousarray(events[name]).tobytes(), crc)
    return crc


def idem_key(cl: int) -> int:
    return IDEM_TAG | cl


def emit(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


def read_control(timeout: float) -> str | None:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready:
        return None
    return sys.stdin.readline().strip()


class Driver:
    def __init__(self, engine, run: int, seed: int):
        self.engine = engine
        self.run = run
        self.rng = random.Random(seed * 1_000_003 + run)
        self.n = 0                                  # ClOrdIDs and times of this run
        self.live: dict[int, dict] = {}             # order id -> side, price, qty, cum, cl
        for o in engine.core.orders():
            if o["status"] in LIVE:
                self.live[int(o["order_id"])] = dict(
                    side=int(o["side"]), price=int(o["price"]), qty=int(o["qty"]),
                    cum=int(o["cum_qty"]), symbol=int(o["symbol_id"]))

    def next_id(self) -> tuple[int, int]:
        self.n += 1
        return (self.run + 1) << 32 | self.n, T0 + self.run * 10**12 + self.n * 10**6

    def new_params(self) -> dict:
        r = self.rng
        cl, t = self.next_id()
        side = r.choice((Side.BUY, Side.SELL))
        sign = 1 if side == Side.BUY else -1
        p = dict(cl=cl, t=t, key=idem_key(cl), side=int(side), symbol=r.randrange(2),
                 account=r.randrange(2), qty=r.randrange(1, 50) * 10,
                 ord_type=int(OrdType.LIMIT), tif=int(TimeInForce.DAY))
        roll = r.random()
        if roll < 0.6:                              # resting, away from the touch
            p["price"] = PX - sign * r.randrange(1, 30) * TICK
        elif roll < 0.85:                           # marketable limit
            p["price"] = PX + sign * r.randrange(0, 30) * TICK
        elif roll < 0.95:                           # market
            p["price"] = 0
            p["ord_type"] = int(OrdType.MARKET)
        else:                                       # marketable IOC
            p["price"] = PX + sign * 5 * TICK
            p["tif"] = int(TimeInForce.IOC)
        return p

    def submit_new(self, p: dict) -> int:
        return self.engine.submit(p["symbol"], p["side"], p["qty"], price=p["price"],
                                  ord_type=p["ord_type"], tif=p["tif"], account=p["account"],
                                  cl_ord_id=p["cl"], session=SESSION, idem_key=p["key"],
                                  time_ns=p["t"])

    def batch(self, resend: list[dict]) -> tuple[list[str], dict[int, tuple[int, int]]]:
        """Submit one batch; returns the S lines printed before it and {seq: (kind, cl)}."""
        r = self.rng
        sent: dict[int, tuple[int, int]] = {}
        todo = []
        if resend:
            todo = [("resend", p) for p in resend]
        else:
            for _ in range(r.randrange(1, 24)):
                roll = r.random()
                if roll < 0.55 or not self.live:
                    todo.append(("new", self.new_params()))
                elif roll < 0.75:
                    todo.append(("cancel", None))
                else:
                    todo.append(("replace", None))
        emit(["S " + json.dumps(p) for kind, p in todo if p is not None])
        for kind, p in todo:
            if p is not None:
                sent[self.submit_new(p)] = (int(K.NEW), p["cl"])
                continue
            cl, t = self.next_id()
            if r.random() < 0.05:                    # an unknown order: a CANCEL_REJECT
                oid = 10**12 + self.n
            else:
                oid = r.choice(sorted(self.live))
            if kind == "cancel":
                seq = self.engine.cancel(order_id=oid, cl_ord_id=cl, session=SESSION,
                                         time_ns=t)
                sent[seq] = (int(K.CANCEL), cl)
            else:
                o = self.live.get(oid, dict(side=1, price=PX, qty=10, cum=0))
                sign = 1 if o["side"] == Side.BUY else -1
                price = o["price"] + r.choice((-1, 1, sign * 40)) * TICK
                price = min(max(price, PX - 40 * TICK), PX + 40 * TICK)
                qty = max(o["cum"] + 10, o["qty"] + r.choice((-10, 10, 20)))
                seq = self.engine.replace(order_id=oid, price=price, qty=qty, cl_ord_id=cl,
                                          session=SESSION, time_ns=t)
                sent[seq] = (int(K.REPLACE), cl)
        return sent

    def track(self, events) -> None:
        for ev in events:
            oid = int(ev["order_id"])
            if oid == 0 or ev["exec_type"] in (X.REJECTED,):
                continue
            if ev["status"] in LIVE:
                self.live[oid] = dict(side=int(ev["side"]), price=int(ev["price"]),
                                      qty=int(ev["qty"]), cum=int(ev["cum_qty"]),
                                      symbol=int(ev["symbol_id"]))
            elif ev["kind"] == 1 and ev["exec_type"] != X.ORDER_STATUS:
                self.live.pop(oid, None)


def main(argv: list[str]) -> int:
    directory, run, seed, resend_file = argv[1], int(argv[2]), int(argv[3]), argv[4]
    from oms import Engine
    engine = Engine(crash_config(directory))
    rep = engine.recovery
    emit(["RECOVERED " + json.dumps(dict(
        counters=engine.core.counters(), snapshot_seq=rep.snapshot_seq,
        replayed=rep.replayed_commands, verified=rep.verified_events,
        appended=rep.appended_events, torn_tail=rep.torn_tail,
        digest=__import__("hashlib").sha256(engine.core.snapshot()).hexdigest()))])
    control = read_control(GO_WAIT_S)
    if control != "GO":
        engine.close()
        return 0 if control == "QUIT" else 3
    resend = []
    if os.path.exists(resend_file):
        with open(resend_file) as fh:
            resend = json.load(fh)
    engine.start()
    driver = Driver(engine, run, seed)
    deadline = time.monotonic() + MAX_SECONDS
    submitted = 0
    while submitted < MAX_COMMANDS and time.monotonic() < deadline:
        sent = driver.batch(resend)
        resend = []
        submitted += len(sent)
        last = max(sent)
        engine.wait(last, timeout=WAIT_S)           # raises if not durable within WAIT_S
        events = engine.poll()
        driver.track(events)
        seqs = events["cmd_seq"]
        lines = []
        for seq, (kind, cl) in sorted(sent.items()):
            mine = events[seqs == seq]
            if len(mine) == 0:
                print(f"command {seq} acknowledged without events", file=sys.stderr)
                return 4
            lines.append(f"A {seq} {kind} {cl} {event_digest(mine)}")
        emit(lines)
        if read_control(0) == "STOP":
            break
    engine.close()
    emit(["DONE " + json.dumps(dict(submitted=submitted))])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
