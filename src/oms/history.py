"""The order-history index: a past order's events found without a replay.

An LMDB environment in ``<journal>/history`` built from the journal's event records:

- ``events``: (order id, event seq) → the event record (192 bytes), for every event of every
  order — the whole history of an order is one range scan;
- ``closed``: order id → its terminal event, once it is FILLED, CANCELLED or EXPIRED;
- ``by_clordid``: (session, ClOrdID, order id) → empty, every ClOrdID an order ever had;
- ``by_account``, ``by_symbol``: (account or symbol, close time, order id) → empty, closed
  orders only;
- ``by_time``: (close time, order id) → empty, closed orders only;
- ``meta``: where the indexer stopped (segment index, byte offset).

Keys are big-endian so LMDB's byte order is numeric order.  `update()` is incremental: it
resumes at the record where it stopped, so it can run after every batch of segments or from
a background thread of the engine.
"""

from __future__ import annotations

import os
import struct
from typing import Iterator

import lmdb
import numpy as np

from oms._journal import scan_segment
from oms.journal import segment_files
from oms.layout import EVENT_DTYPE, EventType, ExecType, OrdStatus

HISTORY_DIR = "history"
_TERMINAL = np.array([OrdStatus.FILLED, OrdStatus.CANCELLED, OrdStatus.EXPIRED], np.uint8)
# the exec types that can end an order (a status query of a closed order ends nothing)
_CLOSING = np.array([ExecType.TRADE, ExecType.CANCELED, ExecType.EXPIRED], np.uint8)
_Q = struct.Struct(">Q")
_QQ = struct.Struct(">QQ")
_IQQ = struct.Struct(">IQQ")


def _has_records(path: str) -> bool:
    """Whether a segment has a first record (archived segments are closed, so yes)."""
    if path.endswith(".zst"):
        return True
    with open(path, "rb") as fh:
        fh.seek(64)
        head = fh.read(4)
    return len(head) == 4 and head != b"\0\0\0\0"


class HistoryIndex:
    def __init__(self, journal_dir: str, map_size: int = 1 << 38):
        self.journal_dir = journal_dir
        path = os.path.join(journal_dir, HISTORY_DIR)
        os.makedirs(path, exist_ok=True)
        self.env = lmdb.open(path, map_size=map_size, max_dbs=8)
        self.db = {name: self.env.open_db(name.encode()) for name in
                   ("events", "closed", "by_clordid", "by_account", "by_symbol", "by_time",
                    "meta")}

    def close(self) -> None:
        self.env.close()

    # -- building --

    def _position(self, txn) -> tuple[int, int]:
        raw = txn.get(b"position", db=self.db["meta"])
        return _QQ.unpack(raw) if raw else (0, 0)

    def update(self) -> int:
        """Index the records written since the last update; returns events indexed.  Stops
        at the first damaged record (recovery's business, not the index's)."""
        with self.env.begin() as txn:
            seg_index, offset = self._position(txn)
        segments = [(i, p) for i, p in segment_files(self.journal_dir) if i >= seg_index]
        total = 0
        for k, (index, path) in enumerate(segments):
            # the writer appends only to the newest segment: this one is complete if the next
            # one already holds records *before* this one is read (checked first, so a roll
            # during the read cannot make us skip this segment's last records)
            later = k + 1 < len(segments) and _has_records(segments[k + 1][1])
            start = offset if index == seg_index and offset else 64
            scan = scan_segment(path, index, start)
            if len(scan.events):
                self._index_events(scan.events)
                total += len(scan.events)
            with self.env.begin(write=True) as txn:
                txn.put(b"position", _QQ.pack(index, scan.end), db=self.db["meta"])
            if scan.error_offset >= 0 or not later:
                break
        return total

    def _index_events(self, events: np.ndarray) -> None:
        has_order = events[events["order_id"] != 0]
        closed = has_order[(has_order["kind"] == EventType.EXEC_REPORT)
                           & np.isin(has_order["exec_type"], _CLOSING)
                           & np.isin(has_order["status"], _TERMINAL)]
        raw = has_order.view(np.uint8).reshape(len(has_order), -1)
        with self.env.begin(write=True) as txn:
            put = txn.put
            for ev, row in zip(has_order, raw):
                oid = int(ev["order_id"])
                put(_QQ.pack(oid, int(ev["seq"])), row.tobytes(), db=self.db["events"])
                put(_IQQ.pack(int(ev["session_id"]), int(ev["cl_ord_id"]), oid), b"",
                    db=self.db["by_clordid"])
            for ev in closed:
                oid, when = int(ev["order_id"]), int(ev["time_ns"])
                put(_Q.pack(oid), ev.tobytes(), db=self.db["closed"])
                put(_IQQ.pack(int(ev["account_id"]), when, oid), b"", db=self.db["by_account"])
                put(_IQQ.pack(int(ev["symbol_id"]), when, oid), b"", db=self.db["by_symbol"])
                put(_QQ.pack(when, oid), b"", db=self.db["by_time"])

    # -- queries --

    def order_events(self, order_id: int) -> np.ndarray:
        """Every event of the order, in sequence (EVENT_DTYPE); empty if unknown."""
        rows = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.db["events"])
            if cur.set_range(_QQ.pack(order_id, 0)):
                for key, value in cur:
                    if _QQ.unpack(key)[0] != order_id:
                        break
                    rows.append(value)
        return np.frombuffer(b"".join(rows), dtype=EVENT_DTYPE).copy()

    def closed_order(self, order_id: int):
        """The order's terminal event, or None if it is unknown or still live."""
        with self.env.begin() as txn:
            raw = txn.get(_Q.pack(order_id), db=self.db["closed"])
        return None if raw is None else np.frombuffer(raw, dtype=EVENT_DTYPE)[0]

    def find_cl_ord_id(self, session_id: int, cl_ord_id: int) -> list[int]:
        """Order ids that carried this ClOrdID in this session (one, unless it was reused
        after the first order closed)."""
        return [k[2] for k in self._range("by_clordid", _IQQ.pack(session_id, cl_ord_id, 0),
                                          lambda k: k[:2] == (session_id, cl_ord_id), _IQQ)]

    def closed_orders(self, account_id: int | None = None, symbol_id: int | None = None,
                      since_ns: int = 0, until_ns: int = 2**63 - 1) -> list[int]:
        """Ids of orders that closed in [since, until], by account or symbol or all."""
        if account_id is not None:
            return [k[2] for k in self._range(
                "by_account", _IQQ.pack(account_id, since_ns, 0),
                lambda k: k[0] == account_id and k[1] <= until_ns, _IQQ)]
        if symbol_id is not None:
            return [k[2] for k in self._range(
                "by_symbol", _IQQ.pack(symbol_id, since_ns, 0),
                lambda k: k[0] == symbol_id and k[1] <= until_ns, _IQQ)]
        return [k[1] for k in self._range("by_time", _QQ.pack(since_ns, 0),
                                          lambda k: k[0] <= until_ns, _QQ)]

    def _range(self, db: str, start: bytes, keep, layout: struct.Struct) -> Iterator[tuple]:
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.db[db])
            if not cur.set_range(start):
                return
            for key in cur.iternext(keys=True, values=False):
                fields = layout.unpack(key)
                if not keep(fields):
                    return
                yield fields
