"""Starting a venue simulator as its own process (tests, benchmarks, `oms serve`'s embedded
venues): `start_venue_sim(cfg)` writes the config as TOML, runs `python -m oms.cli venue-sim
--config FILE` and returns once its FIX port (and control port) accept connections."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from oms.venue_sim.config import VenueSimConfig, write_sim_config


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def start_venue_sim(cfg: VenueSimConfig, config_path: str | Path | None = None,
                    log_path: str | Path | None = None,
                    timeout: float = 30.0) -> subprocess.Popen:
    """The simulator of `cfg` in a subprocess, listening.  A `port` of 0 is replaced by a
    free port first; `proc.config` is the config it runs (ports included) and
    `proc.config_path` its file (default: a temporary file).  Output goes to `log_path`
    (default: inherited).  RuntimeError, with the log when there is one, if it exits or does
    not listen within `timeout`."""
    if cfg.port == 0:
        cfg = msgspec.structs.replace(cfg, port=free_port(cfg.host))
    if config_path is None:
        fd, config_path = tempfile.mkstemp(prefix=f"venue-sim-{cfg.name}-", suffix=".toml")
        os.close(fd)
    config_path = write_sim_config(cfg, config_path)
    out = open(log_path, "ab") if log_path is not None else None
    proc = subprocess.Popen([sys.executable, "-m", "oms.cli", "venue-sim", "--config",
                             str(config_path)], stdout=out, stderr=out)
    if out is not None:
        out.close()                          # the child has its own descriptor
    proc.config = cfg
    proc.config_path = config_path
    ports = [cfg.port] + ([cfg.control_port] if cfg.control_port else [])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = Path(log_path).read_text(errors="replace")[-4000:] if log_path else ""
            raise RuntimeError(f"oms venue-sim exited with {proc.returncode}: {log}")
        if all(_accepts(cfg.host, p) for p in ports):
            return proc
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"oms venue-sim did not listen on {cfg.host}:{ports} in {timeout} s")


def stop_venue_sim(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGTERM (a clean shutdown: sessions logged out), SIGKILL after `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
