"""FIX over TCP against a real `oms serve`: logon, every application message, the session
layer (heartbeats, TestRequest, gaps and resends, PossDup, SequenceReset, Reject, Logout)."""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from oms.client import ClientError, FixClient

NOW = "20250101-00:00:00"
ids = itertools.count(1)


def cl(prefix="o") -> str:
    return f"{prefix}-{next(ids)}-{time.time_ns() % 10**9}"


def nos(clordid, side=1, qty=100, price="190.00", symbol="AAPL", extra=()):
    fields = [(11, clordid), (55, symbol), (54, side), (40, 2 if price else 1), (38, qty)]
    if price:
        fields.append((44, price))
    return fields + [(60, NOW)] + list(extra)


def logged_on(server, comp="CLIENT1", **kw) -> FixClient:
    c = server.fix(comp, **kw)
    c.logon(reset=True)
    return c


def report(c: FixClient, clordid: str, exec_type: str | None = None, msg_type="8"):
    return c.expect(lambda m: m.msg_type == msg_type and m.get(11) == clordid
                    and (exec_type is None or m.get(150) == exec_type))


# -- LOGON -------------------------------------------------------------------------------------

def test_logon_and_logout_handshake(server):
    c = server.fix("CLIENT1")
    reply = c.logon(reset=True)
    assert reply.msg_type == "A" and reply[108] == "30" and reply[141] == "Y" and reply.seq == 1
    assert reply[49] == "OMS" and reply[56] == "CLIENT1"
    assert c.logout("bye").msg_type == "5"
    with pytest.raises(ClientError):
        c.read(2.0)                                  # the server closed the connection
    c.close()


@pytest.mark.parametrize("comp, kw, reason", [
    ("NOBODY", {}, "unknown SenderCompID/TargetCompID pair"),
    ("CLIENT2", dict(username="fix-fund", password="wrong"), "invalid username or password"),
    ("CLIENT2", dict(username="fix-fund"), "invalid username or password"),
    ("CLIENT1", dict(begin_string="FIX.4.2"), "BeginString must be FIX.4.4"),
])
def test_logon_failures(server, comp, kw, reason):
    c = server.fix(comp, **kw)
    with pytest.raises(ClientError, match=reason):
        c.logon(reset=True)
    with pytest.raises(ClientError):
        c.read(2.0)
    c.close()
    assert f'reason="{reason}"' in server.log_text()


def test_password_logon_fix42(server):
    c = server.fix("CLIENT2", username="fix-fund", password="fix-fund-pass")
    assert c.logon(reset=True)[8] == "FIX.4.2"
    c.send("D", nos(o := cl(), qty=10, price="180.00", extra=[(21, 1)]))
    new = report(c, o, "0")
    assert new[20] == "0" and new[39] == "0"               # 4.2: ExecTransType
    c.logout()
    c.close()


def test_second_logon_of_a_live_session_is_refused(server):
    a = logged_on(server)
    b = server.fix("CLIENT1")
    with pytest.raises(ClientError, match="already logged on"):
        b.logon(reset=False)
    a.send("1", [(112, "still-here")])                     # the first one is untouched
    assert a.expect(lambda m: m.msg_type == "0")[112] == "still-here"
    a.logout()
    a.close()
    b.close()


def test_unauthenticated_connection_times_out_and_garbage_before_logon(server):
    s = socket.create_connection(("127.0.0.1", server.fix_port))
    s.settimeout(5)
    assert s.recv(100) == b""                              # closed after logon_timeout (1 s)
    s.close()
    s = socket.create_connection(("127.0.0.1", server.fix_port))
    s.settimeout(5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
    assert s.recv(100) == b""
    s.close()


# -- APPLICATION MESSAGES -----------------------------------------------------------------------

def test_orders_trade_cancel_replace_status_mass_cancel(server):
    fund, mm = logged_on(server, "CLIENT1"), logged_on(server, "MMDESK")
    drop = logged_on(server, "DROPCOPY", username="dropcopy", password="dropcopy-pass")
    buy = cl("buy")
    fund.send("D", nos(buy, side=1, qty=300, price="180.05"))
    new = report(fund, buy, "0")
    assert (new[39], new[14], new[151], new[6], new[1], new[55]) == ("0", "0", "300", "0",
                                                                      "FUND-A", "AAPL")
    assert new[44] == "180.05" and new[37].isdigit()
    sell = cl("sell")
    mm.send("D", nos(sell, side=2, qty=200, price="180.05"))
    t_sell = report(mm, sell, "F")
    assert (t_sell[39], t_sell[32], t_sell[31], t_sell[14], t_sell[151]) == ("2", "200", "180.05",
                                                                              "200", "0")
    t_buy = report(fund, buy, "F")
    assert (t_buy[39], t_buy[32], t_buy[14], t_buy[151], t_buy[6]) == ("1", "200", "200", "100",
                                                                        "180.05")
    # the drop copy sees both sides, with each side's own ClOrdID
    seen = {drop.expect(lambda m: m.msg_type == "8" and m.get(150) == "F")[11] for _ in range(2)}
    assert seen == {buy, sell}
    # replace: price and quantity, new ClOrdID
    rep = cl("rep")
    fund.send("G", [(11, rep), (41, buy), (55, "AAPL"), (54, 1), (40, 2), (38, 400),
                    (44, "180.00"), (60, NOW)])
    replaced = report(fund, rep, "5")
    assert (replaced[41], replaced[38], replaced[151], replaced[44]) == (buy, "400", "200", "180")
    # status by the current ClOrdID
    fund.send("H", [(11, rep), (55, "AAPL"), (54, 1)])
    status = report(fund, rep, "I")
    assert status[39] == "1" and status[14] == "200"
    # cancel
    cxl = cl("cxl")
    fund.send("F", [(11, cxl), (41, rep), (55, "AAPL"), (54, 1), (60, NOW)])
    cancelled = report(fund, cxl, "4")
    assert cancelled[39] == "4" and cancelled[41] == rep and cancelled[151] == "0"
    # mass cancel: two resting orders of this session
    a, b = cl("a"), cl("b")
    fund.send("D", nos(a, qty=10, price="170.00"))
    fund.send("D", nos(b, qty=10, price="170.10"))
    report(fund, a, "0"), report(fund, b, "0")
    mc = cl("mc")
    fund.send("q", [(11, mc), (530, 7), (60, NOW)])
    mcr = report(fund, mc, msg_type="r")
    assert (mcr[530], mcr[531], mcr[533]) == ("7", "7", "2")
    for c in (fund, mm, drop):
        c.logout()
        c.close()


def test_rejects_carry_engine_codes_and_text(server):
    c = logged_on(server)
    off = cl("tick")
    c.send("D", nos(off, price="190.005"))
    r = report(c, off, "8")
    assert r[39] == "8" and r[103] == "18" and r[58].startswith("PRICE_NOT_ON_TICK:")
    unknown = cl("x")
    c.send("F", [(11, unknown), (41, "never-sent"), (55, "AAPL"), (54, 1), (60, NOW)])
    cr = report(c, unknown, msg_type="9")
    assert cr[434] == "1" and cr[102] == "1" and cr[41] == "never-sent"
    assert "UNKNOWN_ORDER" in cr[58]
    # an account this session is not bound to is unknown, like one that does not exist
    other = cl("acct")
    c.send("D", nos(other, extra=[(1, "MM-DESK")]))
    r = report(c, other, "8")
    assert r[103] == "15" and "UNKNOWN_ACCOUNT" in r[58]
    # unsupported message type: BusinessMessageReject
    c.send("AE", [(571, "x")])
    bmr = c.expect(lambda m: m.msg_type == "j")
    assert bmr[380] == "3" and bmr[372] == "AE"
    c.logout()
    c.close()


def test_other_sessions_orders_are_invisible(server):
    fund, mm = logged_on(server, "CLIENT1"), logged_on(server, "MMDESK")
    mine = cl("mine")
    fund.send("D", nos(mine, qty=5, price="170.00"))
    order_id = report(fund, mine, "0")[37]
    mm.send("F", [(11, x := cl("x")), (41, mine), (55, "AAPL"), (54, 1), (60, NOW)])
    assert "UNKNOWN_ORDER" in report(mm, x, msg_type="9")[58]
    mm.send("F", [(11, y := cl("y")), (41, "zz"), (37, order_id), (55, "AAPL"), (54, 1),
                  (60, NOW)])
    assert report(mm, y, msg_type="9")[102] == "1"
    mm.send("H", [(11, mine), (55, "AAPL"), (54, 1)])
    st = report(mm, mine, "I")
    assert st[39] == "8" and "UNKNOWN_ORDER" in st[58] and st[37] == "NONE"
    fund.send("F", [(11, cl()), (41, mine), (55, "AAPL"), (54, 1), (60, NOW)])
    fund.expect(lambda m: m.get(150) == "4")
    for c in (fund, mm):
        c.logout()
        c.close()


def test_drop_copy_is_read_only(server):
    d = logged_on(server, "DROPCOPY", username="dropcopy", password="dropcopy-pass")
    d.send("D", nos(cl()))
    assert d.expect(lambda m: m.msg_type == "j")[380] == "6"
    d.logout()
    d.close()


# -- SESSION LAYER ------------------------------------------------------------------------------

def test_test_request_and_heartbeat(server):
    c = logged_on(server, heartbeat=1)
    c.send("1", [(112, "ping-1")])
    assert c.expect(lambda m: m.msg_type == "0")[112] == "ping-1"
    assert c.expect(lambda m: m.msg_type == "0", timeout=3)       # HeartBtInt heartbeats
    c.logout()
    c.close()


def test_silent_counterparty_gets_test_request_then_disconnect(server):
    c = logged_on(server, heartbeat=1)
    c.answer_test_requests = False
    assert c.expect(lambda m: m.msg_type == "1", timeout=3)
    assert "no answer to TestRequest" in c.expect(lambda m: m.msg_type == "5", timeout=4).get(58, "")
    c.close()


def test_gap_triggers_resend_request_then_gap_fill_closes_it(server):
    c = logged_on(server)                                 # next outbound from the client: 2
    lost = cl("lost")
    c.send("D", nos(lost, qty=1, price="180.00"), seq=5)
    rr = c.expect(lambda m: m.msg_type == "2")
    assert (rr[7], rr[16]) == ("2", "0")
    # the client fills 2..4 with a GapFill and resends 5 as a PossDup
    c.send("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True, orig_sending_time=b"20250101-00:00:00")
    c.send("D", nos(lost, qty=1, price="180.00"), seq=5, poss_dup=True,
           orig_sending_time=b"20250101-00:00:00")
    assert report(c, lost, "0")
    c.next_seq = 6
    c.send("1", [(112, "after-gap")])
    assert c.expect(lambda m: m.msg_type == "0")[112] == "after-gap"
    c.logout()
    c.close()


def test_resend_request_answered_from_store_with_gap_fill(server):
    c = logged_on(server)                                 # server's Logon is its seq 1
    o = cl("r")
    c.send("D", nos(o, qty=1, price="180.00"))
    first = report(c, o, "0")                              # seq 2
    c.send("1", [(112, "t")])
    c.expect(lambda m: m.msg_type == "0" and m.get(112) == "t")   # seq 3 (admin)
    c.send("2", [(7, 1), (16, 0)])
    gap1 = c.expect(lambda m: m.msg_type == "4")
    assert (gap1.seq, gap1[123], gap1[36], gap1[43]) == (1, "Y", "2", "Y")
    again = c.expect(lambda m: m.msg_type == "8")
    assert again.seq == first.seq and again[43] == "Y" and again[122] == first[52]
    assert again[11] == o and again[17] == first[17]
    gap2 = c.expect(lambda m: m.msg_type == "4")
    assert gap2.seq == 3 and int(gap2[36]) >= 4
    c.logout()
    c.close()


def test_seq_too_low_without_possdup_is_fatal(server):
    c = logged_on(server)
    c.send("0", [])
    c.send("0", [], seq=1)
    assert "MsgSeqNum too low" in c.expect(lambda m: m.msg_type == "5")[58]
    c.close()


def test_possdup_duplicate_ignored_and_needs_orig_sending_time(server):
    c = logged_on(server)
    c.send("0", [])                                                   # seq 2
    c.send("0", [], seq=2, poss_dup=True, orig_sending_time=b"20250101-00:00:00")   # ignored
    c.send("0", [], poss_dup=True)                                    # seq 3, no 122
    rej = c.expect(lambda m: m.msg_type == "3")
    assert (rej[45], rej[373], rej[371]) == ("3", "1", "122")
    c.send("1", [(112, "alive")])
    assert c.expect(lambda m: m.msg_type == "0" and m.get(112) == "alive")
    c.logout()
    c.close()


def test_sequence_reset_reset_mode(server):
    c = logged_on(server)
    c.send("4", [(36, 20)])                                           # SequenceReset-Reset
    c.next_seq = 20
    c.send("1", [(112, "at-20")])
    assert c.expect(lambda m: m.msg_type == "0")[112] == "at-20"
    c.send("4", [(36, 5)], seq=21)                                    # may not go back
    rej = c.expect(lambda m: m.msg_type == "3")
    assert rej[373] == "5" and rej[371] == "36"
    c.logout()
    c.close()


def raw_message(c: FixClient, msg_type: str, fields) -> bytes:
    c.codec.encode(msg_type.encode(), fields, time.time_ns())
    return c.codec.take()


@pytest.mark.parametrize("mangle, reason, ref_tag", [
    (lambda m: m[:-4] + b"000\x01", "5", "10"),                                 # checksum
    (lambda m: m.replace(b"\x019=", b"\x019=1", 1), "5", "9"),                  # body length
    (lambda m: m.replace(b"\x0138=100\x01", b"\x0138=1x0\x01"), "6", "38"),     # bad value
    (lambda m: m.replace(b"\x0155=AAPL\x01", b"\x01"), "1", "55"),              # missing tag
    (lambda m: m.replace(b"\x0138=100\x01", b"\x0138=100\x0138=100\x01"), "13", "38"),
    (lambda m: m.replace(b"\x0138=100\x01", b"\x01453=2\x01448=X\x01447=D\x01452=3\x0138=100\x01"),
     "16", "453"),                                                              # group count
    (lambda m: m.replace(b"\x0138=100\x01", b"\x0138=\x01"), "4", "38"),        # empty value
])
def test_malformed_messages_get_session_reject(server, mangle, reason, ref_tag):
    from oms._fix import checksum
    c = logged_on(server)
    seq = c.next_seq
    msg = mangle(raw_message(c, "D", nos(cl(), qty=100)))
    if ref_tag not in ("10", "9"):                       # keep framing valid: fix length, sum
        body = msg[msg.index(b"\x0135=") + 1:msg.rindex(b"10=")]
        head = msg[:msg.index(b"\x019=") + 1] + b"9=%d\x01" % len(body)
        msg = head + body
        msg += b"10=%03d\x01" % checksum(msg)
    c.send_raw(msg)
    rej = c.expect(lambda m: m.msg_type == "3")
    assert (rej[45], rej[373], rej[371]) == (str(seq), reason, ref_tag), rej.raw
    c.send("1", [(112, "still")])                        # the Reject consumed the number
    assert c.expect(lambda m: m.msg_type == "0")[112] == "still"
    c.logout()
    c.close()


def test_tags_out_of_order_and_sending_time_accuracy(server):
    from oms._fix import checksum
    c = logged_on(server)
    msg = raw_message(c, "0", [])
    body = msg[msg.index(b"\x0135=") + 1:msg.rindex(b"10=")]
    fields = body.split(b"\x01")[:-1]
    fields[0], fields[1] = fields[1], fields[0]          # MsgSeqNum before MsgType
    body = b"\x01".join(fields) + b"\x01"
    out = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    c.send_raw(out + b"10=%03d\x01" % checksum(out))
    assert c.expect(lambda m: m.msg_type == "3")[373] == "14"
    msg = raw_message(c, "0", []).replace(b"52=2", b"52=1", 1)    # a SendingTime from 1xxx
    body = msg[msg.index(b"\x0135=") + 1:msg.rindex(b"10=")]
    out = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    c.send_raw(out + b"10=%03d\x01" % checksum(out))
    assert c.expect(lambda m: m.msg_type == "3")[373] == "10"
    assert c.expect(lambda m: m.msg_type == "5")
    c.close()


def test_garbage_on_a_session_is_skipped_others_unaffected(server):
    c = logged_on(server)
    other = server.binary("mm-desk")
    other.connect()
    c.send_raw(b"\x00\xff garbage \x01\x02" * 50)
    c.send("1", [(112, "after-garbage")])
    assert c.expect(lambda m: m.msg_type == "0" and m.get(112) == "after-garbage")
    other.new_order(cl_ord_id=777001, symbol=1, side=2, qty=1, price=4_300_000, account=0)
    assert len(other.wait_for(lambda e: e["cl_ord_id"] == 777001))
    other.cancel(777002, orig_cl_ord_id=777001)
    other.wait_for(lambda e: e["cl_ord_id"] == 777002)
    other.close()
    c.logout()
    c.close()
    assert server.alive()
