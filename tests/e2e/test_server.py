"""The binary protocol, rate limits, restart, shutdown and config errors of `oms serve`."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time

import pytest

from oms._binary import R_BAD_LENGTH, R_FRAMING, R_NOT_LOGGED_IN, R_THROTTLED
from oms.client import ClientError
from oms.codes import RejectCode
from oms.config import px
from oms.layout import (CxlRejResponseTo, EventType, ExecType, MassCancelScope, OrdStatus,
                        OrdType, Side, TimeInForce)

from .conftest import Server

NOW = "20250101-00:00:00"


def read_until_reject(client, reason: int, timeout: float = 3.0) -> dict:
    """Read until a reject frame with `reason` has arrived (events are read past)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in client.rejects:
            if r["reason"] == reason:
                return r
        client.read(0.1)
    raise AssertionError(f"no reject {reason}; got {client.rejects}")


def test_binary_order_lifecycle(server):
    with server.binary("fund-a") as c, server.binary("mm-desk") as mm:
        assert c.session_id == 21
        c.new_order(1, 0, Side.BUY, 300, px("181.00"), account=1)
        new = c.wait_for(lambda e: e["cl_ord_id"] == 1)[-1]
        assert (new["exec_type"], new["status"], new["leaves_qty"]) == (ExecType.NEW,
                                                                         OrdStatus.ACCEPTED, 300)
        mm.new_order(9, 0, Side.SELL, 100, px("181.00"), account=0)
        trade = c.wait_for(lambda e: e["exec_type"] == ExecType.TRADE)[-1]
        assert (trade["last_qty"], trade["last_px"], trade["cum_qty"]) == (100, px("181.00"), 100)
        c.replace(2, px("180.50"), 250, orig_cl_ord_id=1)
        rep = c.wait_for(lambda e: e["cl_ord_id"] == 2)[-1]
        assert rep["exec_type"] == ExecType.REPLACED and rep["leaves_qty"] == 150
        c.status(orig_cl_ord_id=2)
        st = c.wait_for(lambda e: e["exec_type"] == ExecType.ORDER_STATUS)[-1]
        assert st["status"] == OrdStatus.PARTIALLY_FILLED
        c.cancel(3, orig_cl_ord_id=777)
        rej = c.wait_for(lambda e: e["kind"] == EventType.CANCEL_REJECT)[-1]
        assert rej["reject_code"] == RejectCode.UNKNOWN_ORDER
        assert rej["response_to"] == CxlRejResponseTo.CANCEL
        c.new_order(4, 0, Side.BUY, 10, px("170.00"), account=0)     # MM-DESK: not bound
        bad = c.wait_for(lambda e: e["cl_ord_id"] == 4)[-1]
        assert bad["reject_code"] == RejectCode.UNKNOWN_ACCOUNT
        c.mass_cancel(5, scope=MassCancelScope.ACCOUNT, account=1)
        report = c.wait_for(lambda e: e["kind"] == EventType.MASS_CANCEL_REPORT)[-1]
        assert report["trade_id"] == 1
        mm.mass_cancel(10)
        mm.wait_for(lambda e: e["kind"] == EventType.MASS_CANCEL_REPORT)


def test_binary_client_time_needs_permission(server):
    with server.binary("fund-a") as c:
        c.new_order(50, 0, Side.BUY, 1, px("180.00"), account=1, time_ns=12345)
        assert read_until_reject(c, 6)["cl_ord_id"] == 50


def test_binary_login_failures_and_malformed_frames(server):
    with pytest.raises(ClientError, match="invalid user or password"):
        server.binary("fund-a", "nope").connect()
    with pytest.raises(ClientError, match="invalid user or password"):
        server.binary("nobody", "x").connect()
    s = socket.create_connection(("127.0.0.1", server.binary_port))
    s.settimeout(5)
    status = struct.pack("<HBBIQQq", 32, ord("S"), 1, 0, 1, 0, 0)
    for _ in range(3):                                  # anything before login: rejected, ...
        s.sendall(status)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break                                       # ... and the 3rd failure closes it
        data += chunk
    assert data[2:3] == b"R" and struct.unpack_from("<H", data, 4)[0] == R_NOT_LOGGED_IN
    s.close()
    with server.binary("fund-a") as c:
        c.send_raw(struct.pack("<HBB", 8, ord("X"), 1) + b"\0" * 4)     # wrong size for 'X'
        read_until_reject(c, R_BAD_LENGTH)
        c.send_raw(struct.pack("<HBB", 2, ord("O"), 1))                 # framing lost
        with pytest.raises(ClientError):
            c.read(2.0)
        assert c.rejects[-1]["reason"] == R_FRAMING
    assert server.alive()


def test_random_bytes_on_binary_port_leave_server_up(server):
    import random
    rnd = random.Random(5)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.binary_port))
        s.settimeout(5)
        s.sendall(bytes(rnd.randrange(256) for _ in range(500)))
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
    with server.binary("mm-desk") as c:
        c.status(orig_cl_ord_id=1)
        assert len(c.wait_for(lambda e: e["exec_type"] == ExecType.ORDER_STATUS))


def test_rate_limits_fix_and_binary(server):
    from oms.client import FixClient
    c = server.fix("SLOW")
    c.logon(reset=True)
    for i in range(12):
        c.send("D", [(11, f"rl-{i}-{time.time_ns()}"), (55, "AAPL"), (54, 1), (40, 2), (38, 1),
                     (44, "180.00"), (60, NOW)])
    reports = [c.expect(lambda m: m.msg_type == "8") for _ in range(12)]
    throttled = [r for r in reports if "THROTTLED" in r.get(58, "")]
    assert 5 <= len(throttled) <= 7, [r.get(58) for r in reports]
    assert "retry after" in throttled[0][58] and throttled[0][150] == "8"
    c.send("q", [(11, "mc"), (530, 7), (60, NOW)])
    c.expect(lambda m: m.msg_type == "r")
    c.logout()
    c.close()
    with server.binary("retail-7") as b:
        for i in range(12):
            b.new_order(100 + i, 0, Side.BUY, 1, px("180.00"), account=2)
        first = read_until_reject(b, R_THROTTLED)
        assert first["retry_after_ms"] > 0 and first["cl_ord_id"] >= 100
        b.mass_cancel(200)
    time.sleep(0.2)
    assert "event=rate_abuse" in server.log_text()


def test_restart_resumes_sequence_numbers_and_orders(tmp_path):
    srv = Server(tmp_path).start()
    try:
        c = srv.fix("CLIENT1")
        c.logon(reset=True)
        c.send("D", [(11, "keep-1"), (55, "AAPL"), (54, 1), (40, 2), (38, 5), (44, "175.00"),
                     (60, NOW)])
        first = c.expect(lambda m: m.msg_type == "8")
        c.logout()
        in_seq = c.next_seq
        c.close()
    finally:
        assert srv.stop() == 0
    srv.start()
    try:
        c2 = srv.fix("CLIENT1")
        c2.next_seq = in_seq
        reply = c2.logon(reset=False)
        assert reply.seq > first.seq                         # numbering went on
        c2.send("H", [(11, "keep-1"), (55, "AAPL"), (54, 1)])
        st = c2.expect(lambda m: m.msg_type == "8" and m.get(150) == "I")
        assert st[37] == first[37] and st[39] == "0"        # the order survived (journal)
        c2.send("2", [(7, first.seq), (16, first.seq)])       # and the message store
        again = c2.expect(lambda m: m.msg_type == "8" and m.get(43) == "Y")
        assert again[11] == "keep-1" and again.seq == first.seq
        c2.logout()
        c2.close()
    finally:
        srv.stop()


def test_sigterm_logs_sessions_out_and_exits_cleanly(tmp_path):
    srv = Server(tmp_path).start()
    c = srv.fix("CLIENT1")
    c.logon(reset=True)
    srv.proc.send_signal(15)
    bye = c.expect(lambda m: m.msg_type == "5", timeout=5)
    assert "shutting down" in bye[58]
    c.send("5", [])
    assert srv.proc.wait(10) == 0
    log = srv.log_text()
    assert "event=signal name=SIGTERM" in log and "event=stopped" in log
    assert "password" not in log.lower().replace("invalid username or password", "")


@pytest.mark.parametrize("toml, path", [
    ('[server]\nfix_port = -1\n', "$.server.fix_port"),
    ('[[sessions]]\nprotocol = "fix"\nsession_id = 3\nsender_comp_id = "A"\n'
     'accounts = ["NOPE"]\n', "$.sessions[0].accounts[0]"),
    ('[[users]]\nname = "u"\npassword_hash = "plain-text"\n', "$.users[0].password_hash"),
])
def test_config_errors_name_their_path(tmp_path, toml, path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    proc = subprocess.run([sys.executable, "-m", "oms.cli", "serve", "--config", str(cfg),
                           "--check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and path in proc.stderr, proc.stderr


def test_embedded_defaults_check():
    proc = subprocess.run([sys.executable, "-m", "oms.cli", "serve", "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "OK" in proc.stdout


def test_example_config_is_the_embedded_default():
    import msgspec
    from pathlib import Path
    from oms.gateway.config import default_config, load_config
    example = Path(__file__).parents[2] / "oms.toml.example"
    assert msgspec.to_builtins(load_config(example)) == msgspec.to_builtins(default_config())
