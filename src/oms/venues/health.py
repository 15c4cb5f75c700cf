"""Health of one venue session: latencies in HdrHistograms, answers, rejects, timeouts, and the
thresholds (`VenueHealthConfig`) that mark a connected venue DEGRADED.

Statistics are kept twice: since start (for the status table) and per window; a judgement
looks at the current and the previous window together, so a venue is judged on one to two
windows of recent traffic and recovers by itself once a bad window has rotated out.
"""

from __future__ import annotations

import time

from hdrh.histogram import HdrHistogram

from oms.gateway.config import VenueHealthConfig

_LOWEST_US, _HIGHEST_US, _DIGITS = 1, 3_600_000_000, 3


def _hist() -> HdrHistogram:
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)


class _Window:
    __slots__ = ("ack", "rtt", "answers", "rejects", "timeouts", "sent")

    def __init__(self):
        self.ack = _hist()
        self.rtt = _hist()
        self.answers = self.rejects = self.timeouts = self.sent = 0


def _us(seconds: float) -> int:
    return min(max(int(seconds * 1e6), _LOWEST_US), _HIGHEST_US)


def _ms(h: HdrHistogram, q: float) -> float | None:
    return round(h.get_value_at_percentile(q) / 1000.0, 3) if h.get_total_count() else None


def _worst(a: HdrHistogram, b: HdrHistogram) -> float | None:
    """The higher p99 of two windows (no merged copy: a histogram costs ~0.2 ms to make)."""
    vals = [v for v in (_ms(a, 99), _ms(b, 99)) if v is not None]
    return max(vals) if vals else None


class VenueHealth:
    def __init__(self, cfg: VenueHealthConfig):
        self.cfg = cfg
        self.total = _Window()
        self.cur = _Window()
        self.prev = _Window()
        self.window_start = time.monotonic()

    def _rotate(self, now: float) -> None:
        if now - self.window_start >= self.cfg.window:
            self.prev, self.cur = self.cur, _Window()
            if now - self.window_start >= 2 * self.cfg.window:
                self.prev = _Window()          # nothing happened for a whole window
            self.window_start = now

    # -- what happened --

    def sent(self, n: int = 1) -> None:
        self.total.sent += n
        self.cur.sent += n

    def ack_latency(self, seconds: float) -> None:
        v = _us(seconds)
        self.total.ack.record_value(v)
        self.cur.ack.record_value(v)

    def rtt(self, seconds: float) -> None:
        v = _us(seconds)
        self.total.rtt.record_value(v)
        self.cur.rtt.record_value(v)

    def answered(self, rejected: bool) -> None:
        for w in (self.total, self.cur):
            w.answers += 1
            w.rejects += rejected

    def timeout(self) -> None:
        self.total.timeouts += 1
        self.cur.timeouts += 1

    # -- judgement --

    def problems(self, outstanding: int, now: float | None = None) -> list[str]:
        """Why the venue is unhealthy now (empty: healthy)."""
        now = time.monotonic() if now is None else now
        self._rotate(now)
        cfg = self.cfg
        out = []
        if cfg.max_ack_latency_ms:
            p99 = _worst(self.prev.ack, self.cur.ack)
            if p99 is not None and p99 > cfg.max_ack_latency_ms:
                out.append(f"ack p99 {p99} ms > {cfg.max_ack_latency_ms}")
        if cfg.max_rtt_ms:
            p99 = _worst(self.prev.rtt, self.cur.rtt)
            if p99 is not None and p99 > cfg.max_rtt_ms:
                out.append(f"rtt p99 {p99} ms > {cfg.max_rtt_ms}")
        if cfg.max_reject_rate:
            answers = self.prev.answers + self.cur.answers
            rejects = self.prev.rejects + self.cur.rejects
            if answers >= cfg.min_answers and rejects / answers > cfg.max_reject_rate:
                out.append(f"reject rate {rejects / answers:.2f} > {cfg.max_reject_rate}")
        if cfg.max_outstanding and outstanding > cfg.max_outstanding:
            out.append(f"{outstanding} requests outstanding > {cfg.max_outstanding}")
        if cfg.max_timeouts:
            timeouts = self.prev.timeouts + self.cur.timeouts
            if timeouts >= cfg.max_timeouts:
                out.append(f"{timeouts} timeouts >= {cfg.max_timeouts}")
        return out

    def snapshot(self) -> dict:
        t = self.total
        return dict(sent=t.sent, answers=t.answers, rejects=t.rejects, timeouts=t.timeouts,
                    reject_rate=round(t.rejects / t.answers, 4) if t.answers else None,
                    ack_p50_ms=_ms(t.ack, 50), ack_p99_ms=_ms(t.ack, 99),
                    ack_max_ms=_ms(t.ack, 100), rtt_p50_ms=_ms(t.rtt, 50),
                    rtt_p99_ms=_ms(t.rtt, 99), rtt_samples=t.rtt.get_total_count())
