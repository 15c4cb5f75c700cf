"""End-to-end fixtures: a real `oms serve` subprocess on free localhost ports, configured by
a TOML file written for the test, and its FIX and binary clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("oms._fix")

from oms.client import BinaryClient, FixClient          # noqa: E402
from oms.gateway.config import _DEMO_USERS              # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def users_toml(tiers: dict[str, str] | None = None) -> str:
    tiers = tiers or {}
    return "".join(f'[[users]]\nname = "{n}"\npassword_hash = "{h}"\ntier = "{tiers.get(n, "default")}"\n\n'
                   for n, h in _DEMO_USERS.items())


SESSIONS = """
[[sessions]]
protocol = "fix"
session_id = 11
sender_comp_id = "CLIENT1"
accounts = ["FUND-A"]
tier = "unlimited"

[[sessions]]
protocol = "fix"
session_id = 12
sender_comp_id = "CLIENT2"
begin_string = "FIX.4.2"
user = "fix-fund"
accounts = ["FUND-A"]
tier = "unlimited"

[[sessions]]
protocol = "fix"
session_id = 13
sender_comp_id = "MMDESK"
accounts = ["MM-DESK"]
tier = "unlimited"

[[sessions]]
protocol = "fix"
session_id = 15
sender_comp_id = "SLOW"
accounts = ["RETAIL-7"]
tier = "tight"

[[sessions]]
protocol = "fix"
session_id = 19
sender_comp_id = "DROPCOPY"
user = "dropcopy"
accounts = ["MM-DESK", "FUND-A", "RETAIL-7"]
drop_copy = true

[[sessions]]
protocol = "binary"
session_id = 21
user = "fund-a"
accounts = ["FUND-A"]
tier = "unlimited"

[[sessions]]
protocol = "binary"
session_id = 22
user = "mm-desk"
accounts = ["MM-DESK"]
tier = "unlimited"

[[sessions]]
protocol = "binary"
session_id = 23
user = "retail-7"
accounts = ["RETAIL-7"]
tier = "tight"
"""


class Server:
    """An `oms serve` process."""

    def __init__(self, tmp: Path, extra_server: str = "", tiers: str = ""):
        self.dir = tmp
        self.fix_port, self.binary_port = free_port(), free_port()
        self.config = tmp / "oms.toml"
        self.config.write_text(
            f'[server]\nhost = "{HOST}"\nfix_port = {self.fix_port}\n'
            f'binary_port = {self.binary_port}\nstate_dir = "{tmp / "state"}"\n'
            f'log_level = "debug"\nlogon_timeout = 1.0\n{extra_server}\n'
            '[rate_limits.unlimited]\norders_per_second = 0\norders_per_minute = 0\n\n'
            '[rate_limits.tight]\norders_per_second = 5\nburst_multiplier = 1\n'
            'orders_per_minute = 1000\nabuse_threshold = 2\n\n'
            f'{tiers}\n{users_toml()}{SESSIONS}')
        self.log_path = tmp / "server.log"
        self.proc = None

    def start(self) -> "Server":
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()
        self.proc = subprocess.Popen([sys.executable, "-m", "oms.cli", "serve", "--config",
                                      str(self.config)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oms serve exited: {self.log_path.read_text()}")
            if b"event=listening" in self.log_path.read_bytes()[offset:]:
                return self
            time.sleep(0.02)
        raise RuntimeError("oms serve did not start")

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(15)
        finally:
            self.log.close()

    def log_text(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fix(self, comp_id: str = "CLIENT1", **kw) -> FixClient:
        kw.setdefault("begin_string", "FIX.4.2" if comp_id == "CLIENT2" else "FIX.4.4")
        kw.setdefault("timeout", 5.0)
        return FixClient(HOST, self.fix_port, comp_id, **kw)

    def binary(self, user: str = "fund-a", password: str | None = None, **kw) -> BinaryClient:
        return BinaryClient(HOST, self.binary_port, user,
                            password if password is not None else f"{user}-pass", **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("oms-e2e")).start()
    yield srv
    srv.stop()
