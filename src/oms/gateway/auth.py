"""Credentials: salted scrypt hashes in config, never the passwords themselves.

A hash reads ``scrypt$<log2 n>$<r>$<p>$<salt hex>$<key hex>``; `oms serve --hash-password`
prints one.  Verification costs ~50 ms on purpose (it slows guessing), so the gateways run it
on a worker thread, never on the I/O thread.
"""

from __future__ import annotations

import hashlib
import hmac
import os

SCHEME = "scrypt"
LOG2_N, R, P, KEY_LEN = 14, 8, 1, 32


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = os.urandom(16) if salt is None else salt
    key = hashlib.scrypt(password.encode(), salt=salt, n=1 << LOG2_N, r=R, p=P, dklen=KEY_LEN)
    return f"{SCHEME}${LOG2_N}${R}${P}${salt.hex()}${key.hex()}"


def check_hash_format(stored: str) -> str | None:
    """None if `stored` is a well-formed hash, else what is wrong with it."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return f"expected {SCHEME}$<log2 n>$<r>$<p>$<salt hex>$<key hex> (see oms serve --hash-password)"
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return "cost parameters must be integers and salt and key hexadecimal"
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        return "cost parameters out of range (log2 n 10..20, r 1..32, p 1..16)"
    return None


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison of `password` against a stored hash; False on any mismatch
    or malformed hash."""
    if check_hash_format(stored) is not None:
        return False
    _, log2_n, r, p, salt, key = stored.split("$")
    expected = bytes.fromhex(key)
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=1 << int(log2_n),
                         r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(got, expected)
