"""Persistent state of a FIX session: sequence numbers, sent messages, ClOrdIDs.

One directory per session under ``<state_dir>/sessions/fix-<SenderCompID>``:

- ``seqnums``: ``<next inbound> <next outbound>``, rewritten after every batch;
- ``messages``: every message sent, appended as sent (ResendRequests are answered from it);
- ``clordids``: the ClOrdID table (length-prefixed strings in order of first sight), so the
  integer ids the engine knows orders by mean the same strings after a restart.

Messages are flushed before the sequence numbers are written, so ``messages`` always holds
every number ``seqnums`` claims.  Writes go to the page cache (no fsync): a server crash
loses nothing, a machine crash may lose the last batch; the journal (issue 4) is the durable
record of orders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_HEADER = re.compile(rb"8=FIX\.4\.[24]\x019=(\d{1,6})\x01")
_SEQ = re.compile(rb"\x0134=(\d{1,18})\x01")
_TYPE = re.compile(rb"\x0135=([^\x01]{1,8})\x01")


def split_messages(data: bytes):
    """(seq, msg_type, raw) of every well-framed message in `data`, in order."""
    pos = 0
    while True:
        m = _HEADER.search(data, pos)
        if m is None:
            return
        end = m.end() + int(m.group(1)) + 7
        raw = data[m.start():end]
        pos = end if len(raw) == end - m.start() else m.end()
        seq, mtype = _SEQ.search(raw), _TYPE.search(raw)
        if seq and mtype:
            yield int(seq.group(1)), mtype.group(1), raw


class SessionStore:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._messages = open(self.dir / "messages", "ab", buffering=1 << 16)
        self._clordids = open(self.dir / "clordids", "ab")
        self._seq_fd = os.open(self.dir / "seqnums", os.O_RDWR | os.O_CREAT, 0o600)
        self.saved: tuple[int, int] | None = None
        self.clordids_saved = 0

    def load_seqnums(self) -> tuple[int, int]:
        text = os.pread(self._seq_fd, 64, 0).decode(errors="replace").split()
        try:
            in_seq, out_seq = int(text[0]), int(text[1])
        except (IndexError, ValueError):
            return 1, 1
        self.saved = (in_seq, out_seq)
        return in_seq, out_seq

    def load_clordids(self) -> bytes:
        return (self.dir / "clordids").read_bytes()

    def append(self, raw: bytes) -> None:
        self._messages.write(raw)

    def save(self, in_seq: int, out_seq: int) -> None:
        if self.saved == (in_seq, out_seq):
            return
        self._messages.flush()
        text = f"{in_seq} {out_seq}".ljust(40).encode()
        os.pwrite(self._seq_fd, text, 0)
        self.saved = (in_seq, out_seq)

    def save_clordids(self, data: bytes, count: int) -> None:
        if data:
            self._clordids.write(data)
            self._clordids.flush()
        self.clordids_saved = count

    def sent(self, begin: int, end: int):
        """(seq, msg_type, raw) of the stored messages numbered begin..end, in order; the
        latest copy of a number wins (a number is reused only after a reset, which empties
        the store)."""
        self._messages.flush()
        found = {}
        for seq, mtype, raw in split_messages((self.dir / "messages").read_bytes()):
            if begin <= seq <= end:
                found[seq] = (seq, mtype, raw)
        return [found[s] for s in sorted(found)]

    def reset(self) -> None:
        """Sequence numbers back to 1 and the sent messages forgotten (ResetSeqNumFlag,
        ResetOnLogon/Logout/Disconnect).  ClOrdIDs are kept: orders outlive sequences."""
        self._messages.close()
        self._messages = open(self.dir / "messages", "wb", buffering=1 << 16)
        self.saved = None
        self.save(1, 1)

    def close(self) -> None:
        self._messages.close()
        self._clordids.close()
        os.close(self._seq_fd)
