"""FIX sequence-number resets against a real `oms serve`: the sessions' ResetOnLogon,
ResetOnLogout and ResetOnDisconnect settings, ResetSeqNumFlag(141) on Logon, and a Logon
whose MsgSeqNum is higher than expected (answered with a ResendRequest)."""

from __future__ import annotations

import pytest

from e2e.conftest import Server

RESET_SESSIONS = """
[[sessions]]
protocol = "fix"
session_id = 31
sender_comp_id = "ONLOGON"
accounts = ["FUND-A"]
tier = "unlimited"
reset_on_logon = true

[[sessions]]
protocol = "fix"
session_id = 32
sender_comp_id = "ONLOGOUT"
accounts = ["FUND-A"]
tier = "unlimited"
reset_on_logout = true

[[sessions]]
protocol = "fix"
session_id = 33
sender_comp_id = "ONDISCONNECT"
accounts = ["FUND-A"]
tier = "unlimited"
reset_on_disconnect = true

[[sessions]]
protocol = "fix"
session_id = 34
sender_comp_id = "KEEPSEQ"
accounts = ["FUND-A"]
tier = "unlimited"
"""


@pytest.fixture(scope="module")
def resets(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("oms-resets"))
    srv.config.write_text(srv.config.read_text() + RESET_SESSIONS)
    srv.start()
    yield srv
    srv.stop()


def chat(c, n: int = 2) -> None:
    """Exchange n TestRequest/Heartbeat pairs: both sides' sequence numbers move on."""
    for i in range(n):
        c.send("1", [(112, f"ping-{i}")])
        assert c.expect(lambda m, i=i: m.msg_type == "0" and m.get(112) == f"ping-{i}")


def first_session(server, comp: str):
    """A session that starts from 1 (141=Y) and moves both sequences past 1."""
    c = server.fix(comp)
    assert c.logon(reset=True).seq == 1
    chat(c)
    return c


def test_reset_on_logon_accepts_a_logon_at_one_without_the_flag(resets):
    c = first_session(resets, "ONLOGON")
    c.logout()
    c.close()
    again = resets.fix("ONLOGON")                    # a new client: its next MsgSeqNum is 1
    reply = again.logon(reset=False)
    assert reply.seq == 1                            # the server started over too
    chat(again, 1)
    again.logout()
    again.close()


def test_reset_on_logout_starts_the_next_session_at_one(resets):
    c = first_session(resets, "ONLOGOUT")
    assert c.logout().msg_type == "5"                # the Logout handshake completes
    c.close()
    again = resets.fix("ONLOGOUT")
    assert again.logon(reset=False).seq == 1
    again.logout()
    again.close()


def test_reset_on_disconnect_starts_over_after_a_dropped_connection(resets):
    c = first_session(resets, "ONDISCONNECT")
    c.close()                                        # no Logout: the connection just drops
    again = resets.fix("ONDISCONNECT")
    assert again.logon(reset=False).seq == 1
    again.logout()
    again.close()


def test_without_resets_sequences_carry_over_and_141_resets_them(resets):
    c = first_session(resets, "KEEPSEQ")             # client sent 1..3, server 1..3
    c.logout()
    client_next = c.next_seq
    c.close()
    # a Logon at 1 without 141=Y is too low: the server refuses it with a reason
    low = resets.fix("KEEPSEQ")
    with pytest.raises(Exception, match="too low"):
        low.logon(reset=False)
    low.close()
    # the expected number is accepted, and the server's numbers went on from where they were
    cont = resets.fix("KEEPSEQ")
    cont.next_seq = client_next
    reply = cont.logon(reset=False)
    assert reply.seq > 3
    server_last = reply.seq
    cont.logout()
    cont.close()
    # ResetSeqNumFlag(141)=Y: both sides start over at 1
    fresh = resets.fix("KEEPSEQ")
    reply = fresh.logon(reset=True)
    assert reply.seq == 1 and reply[141] == "Y" and server_last > 1
    fresh.logout()
    fresh.close()


def test_logon_with_a_sequence_gap_gets_a_resend_request(resets):
    c = first_session(resets, "KEEPSEQ")
    c.logout()
    expected = c.next_seq
    c.close()
    ahead = resets.fix("KEEPSEQ")
    ahead.next_seq = expected + 5                    # five messages the server never saw
    reply = ahead.logon(reset=False)
    assert reply.msg_type == "A"
    rr = ahead.expect(lambda m: m.msg_type == "2")
    assert int(rr[7]) == expected and int(rr[16]) in (0, expected + 4)
    ahead.close()
