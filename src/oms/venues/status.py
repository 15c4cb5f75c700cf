"""The venue status of a running `oms serve`: a JSON file the server rewrites every second,
`<state_dir>/venues.json` (written to a temporary file and renamed, so a reader never sees a
torn one), and `oms venues`, which prints it as a table.

    {"time": 1750000000.0, "pid": 4242, "venues": [{"venue": "XNAS", "state": "UP", ...}]}
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

STATUS_FILE = "venues.json"
STALE_SECONDS = 5.0


def write_status(state_dir: Path, venues: list[dict]) -> None:
    path = Path(state_dir) / STATUS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(time=round(time.time(), 3), pid=os.getpid(),
                                   venues=venues), indent=1))
    os.replace(tmp, path)


def read_status(state_dir: Path) -> dict | None:
    try:
        return json.loads((Path(state_dir) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "; ".join(v) or "-"
    return str(v)


COLUMNS = [("venue", "VENUE"), ("venue_id", "ID"), ("state", "STATE"), ("in_seq", "IN"),
           ("out_seq", "OUT"), ("outstanding", "OUTST"), ("sent", "SENT"),
           ("rejects", "REJ"), ("reject_rate", "REJ%"), ("timeouts", "T/O"),
           ("ack_p50_ms", "ACK50ms"), ("ack_p99_ms", "ACK99ms"), ("rtt_p50_ms", "RTT50ms"),
           ("rtt_p99_ms", "RTT99ms"), ("disconnects", "DISC"), ("problems", "PROBLEMS")]


def format_table(status: dict) -> str:
    rows = [[h for _, h in COLUMNS]]
    for v in status.get("venues", []):
        row = []
        for key, _ in COLUMNS:
            val = v.get(key)
            if key == "reject_rate" and val is not None:
                val = f"{val * 100:.1f}"
            row.append(_cell(val))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def main(config_path: str | None, as_json: bool = False) -> int:
    import msgspec
    from oms.gateway.config import load_config
    try:
        config = load_config(config_path)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        print(f"oms venues: bad config {config_path}: {exc}", file=sys.stderr)
        return 2
    state_dir = Path(config.server.state_dir)
    status = read_status(state_dir)
    if status is None:
        if not config.venues:
            print("oms venues: no venues configured", file=sys.stderr)
        else:
            print(f"oms venues: no status in {state_dir / STATUS_FILE}: is oms serve running?",
                  file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(status, indent=1))
        return 0
    age = time.time() - status.get("time", 0)
    print(format_table(status))
    if age > STALE_SECONDS:
        print(f"(status is {age:.0f} s old: oms serve (pid {status.get('pid')}) may have "
              f"stopped)", file=sys.stderr)
        return 1
    return 0
