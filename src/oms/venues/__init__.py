"""External venues on the I/O side: the FIX 4.4 initiator sessions of `oms serve`
(`session.py`), their health (`health.py`) and the status table `oms venues` prints
(`status.py`).  docs/protocols.md, "External venues", describes the wire."""
