"""Structured, greppable logs: one line per event, ``key=value`` pairs after a timestamp.

    2025-06-02T13:30:00.123Z level=info event=logon session=11 peer=127.0.0.1:50412

Values with spaces or quotes are quoted.  Nothing secret is ever passed here: passwords are
checked and dropped before logging.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _value(v) -> str:
    s = str(v)
    if not s or any(c in s for c in ' "=\n\t'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


class Log:
    def __init__(self, stream: TextIO | None = None, level: str = "info"):
        self.stream = stream or sys.stderr
        self.level = LEVELS[level]
        self.lock = threading.Lock()

    def _emit(self, level: str, event: str, fields: dict) -> None:
        if LEVELS[level] < self.level:
            return
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
        parts = [stamp, f"level={level}", f"event={_value(event)}"]
        parts += [f"{k}={_value(v)}" for k, v in fields.items()]
        with self.lock:
            self.stream.write(" ".join(parts) + "\n")
            self.stream.flush()

    def debug(self, event: str, **fields) -> None:
        self._emit("debug", event, fields)

    def info(self, event: str, **fields) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields) -> None:
        self._emit("error", event, fields)
