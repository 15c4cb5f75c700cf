"""Order rate limits: token buckets per user and per CompID (or binary user).

A tier (config `rate_limits.<name>`) sets two buckets.  The per-second bucket refills at
`orders_per_second` and holds `orders_per_second * (1 + (burst_multiplier - 1) *
burst_seconds)` tokens: a client may go at `burst_multiplier` times the rate for
`burst_seconds`, then the rate itself.  The per-minute bucket refills at
`orders_per_minute / 60` per second and holds `orders_per_minute`.  An order takes one token
from every bucket of its session (its user's and its CompID's); an order that finds any
bucket empty is rejected with the time until a token returns.

Repeated abuse (`abuse_threshold` throttle rejects within `abuse_window` seconds) throttles
the key further: its rates are multiplied by `penalty_factor` for `penalty_seconds`, and the
event is logged.

Budgets are handed to the compiled decoders as a number of orders (`budget`), so a whole read
is checked with one call, not one per order.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from oms.gateway.config import RateTier

UNLIMITED = 1 << 62


@dataclass
class Bucket:
    rate: float                # tokens per second
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float, factor: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate * factor)
            self.stamp = now


@dataclass
class Limit:
    """The buckets of one key (a user or a CompID) under one tier."""
    key: str
    tier: RateTier
    buckets: list[Bucket]
    violations: deque = field(default_factory=deque)
    penalty_until: float = 0.0

    def factor(self, now: float) -> float:
        return self.tier.penalty_factor if now < self.penalty_until else 1.0


def make_limit(key: str, tier: RateTier, now: float) -> Limit:
    buckets = []
    if tier.orders_per_second > 0:
        cap = tier.orders_per_second * (1 + (tier.burst_multiplier - 1) * tier.burst_seconds)
        buckets.append(Bucket(tier.orders_per_second, cap, cap, now))
    if tier.orders_per_minute > 0:
        cap = tier.orders_per_minute
        buckets.append(Bucket(tier.orders_per_minute / 60.0, cap, cap, now))
    return Limit(key, tier, buckets)


class RateLimiter:
    """Every key's buckets.  Single-threaded: the I/O thread owns it."""

    def __init__(self, tiers: dict[str, RateTier]):
        self.tiers = tiers
        self.limits: dict[str, Limit] = {}

    def limit(self, key: str, tier: str, now: float) -> Limit:
        lim = self.limits.get(key)
        if lim is None:
            lim = self.limits[key] = make_limit(key, self.tiers[tier or "default"], now)
        return lim

    @staticmethod
    def budget(limits: list[Limit], now: float) -> int:
        """How many orders the keys allow right now."""
        best = UNLIMITED
        for lim in limits:
            f = lim.factor(now)
            for b in lim.buckets:
                b.refill(now, f)
                best = min(best, int(b.tokens))
        return best

    @staticmethod
    def consume(limits: list[Limit], n: int) -> None:
        if n:
            for lim in limits:
                for b in lim.buckets:
                    b.tokens -= n

    @staticmethod
    def retry_after(limits: list[Limit], now: float) -> float:
        """Seconds until every bucket holds a token again."""
        wait = 0.0
        for lim in limits:
            f = lim.factor(now)
            for b in lim.buckets:
                if b.tokens < 1:
                    wait = max(wait, (1 - b.tokens) / (b.rate * f))
        return wait

    @staticmethod
    def violation(limits: list[Limit], now: float) -> list[str]:
        """Record a throttle reject; returns the keys that just crossed into the penalty."""
        penalised = []
        for lim in limits:
            if not lim.buckets:
                continue
            v = lim.violations
            v.append(now)
            while v and v[0] < now - lim.tier.abuse_window:
                v.popleft()
            if len(v) >= lim.tier.abuse_threshold and now >= lim.penalty_until:
                lim.penalty_until = now + lim.tier.penalty_seconds
                v.clear()
                penalised.append(lim.key)
        return penalised


def retry_ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
