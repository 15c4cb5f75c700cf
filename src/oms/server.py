"""`oms serve`: one process, the engine on its business thread, the gateways on an I/O thread.

The I/O thread runs a uvloop event loop (the main thread when serving, so that SIGINT and
SIGTERM are handled on it: drain, log every session out, stop the engine, persist the
sessions).  `ServerThread` runs the same server on a background thread, for `oms demo` and for
embedding.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from pathlib import Path

import uvloop

from oms.gateway.config import ServerConfig, load_config
from oms.gateway.log import Log


def open_log(config: ServerConfig, stream=None) -> Log:
    s = config.server
    if stream is None and s.log_file:
        Path(s.log_file).parent.mkdir(parents=True, exist_ok=True)
        stream = open(s.log_file, "a", buffering=1)
    return Log(stream, s.log_level)


async def _serve(config: ServerConfig, log: Log, ready=None, stop_event=None) -> None:
    from oms.gateway.gateway import Gateway
    from oms.venues.simulated import SimulatedVenues
    sims = SimulatedVenues(config, log)
    # simulated venues first: the gateway connects to them as soon as it starts
    config = sims.start()
    try:
        gw = Gateway(config, log)
        stop = stop_event or asyncio.Event()
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(
                    sig, lambda s=sig: (log.info("signal", name=s.name), stop.set()))
        await gw.start()
        if ready is not None:
            ready(gw, loop, stop)
        await stop.wait()
        await gw.stop()
    finally:
        sims.stop()


def serve(config: ServerConfig, log: Log | None = None) -> int:
    """Run until SIGINT or SIGTERM; returns the exit code.  SIGUSR1 dumps every thread's
    stack to standard error (a stuck server explains itself)."""
    import faulthandler
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    log = log or open_log(config)
    try:
        uvloop.run(_serve(config, log))
    except OSError as exc:                 # e.g. the port is taken
        log.error("startup_failed", error=str(exc))
        return 1
    return 0


class ServerThread:
    """The server on a background thread: `start()` returns once it listens; `stop()` shuts
    it down as a signal would."""

    def __init__(self, config: ServerConfig, log: Log | None = None):
        self.config = config
        self.log = log or open_log(config)
        self.gateway = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="oms-io", daemon=True)

    def _run(self) -> None:
        def ready(gw, loop, stop):
            self.gateway, self._loop, self._stop = gw, loop, stop
            self._ready.set()
        try:
            uvloop.run(_serve(self.config, self.log, ready))
        except BaseException as exc:       # reported to the starting thread
            self._error = exc
            self._ready.set()

    def start(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    @property
    def fix_port(self) -> int:
        return self.gateway.fix_port

    @property
    def binary_port(self) -> int:
        return self.gateway.binary_port

    def stop(self) -> None:
        if self.gateway is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)


def main(config_path: str | None) -> int:
    import msgspec
    try:
        config = load_config(config_path)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        print(f"oms serve: bad config {config_path}: {exc}", file=sys.stderr)
        return 2
    return serve(config)
