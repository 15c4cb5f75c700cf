"""Generators of (EngineConfig, [command dict]) for the model/engine comparison.

The generator is written once against a tiny `Source` interface (int / pick / weighted /
chance) so that the same code serves hypothesis (`engine_scenarios()`, which shrinks well:
every choice is a small integer and the first alternative is the plain one) and a seeded
`random.Random` (`random_scenario()`, for the long single-sequence run, which would exceed
hypothesis' buffer).

Sizes are chosen so that every reject code and every capacity path is reachable: tiny
stores, idempotency tables and books; tight risk limits; prices clustered on the ticks
around the current reference price so that orders cross; re-used ClOrdIDs and idempotency
keys; jumps past 24h (and exactly 24h); times outside restricted trading hours and before the
epoch; invalid enums and zero fields.  Issue 3: every order type (stop prices near the
reference so that trades and market data trigger them, trailing by amount and by bps), every
time in force (GTD expiring seconds to a day after the command, or invalid), icebergs, minimum
quantities, post-only, market protection set by SET_SYMBOL, TIMER commands (jumps to just
before / at / after session closes and opens expire DAY and GTD orders and revalidate GTC
ones), replaces of held orders (new stop prices) and of resting ones (price worse / better /
crossing, quantity up / down), and invalid values of each new field.  A private
ReferenceModel follows the generated commands only to aim cancels / replaces / status at
orders that exist (live or terminal) and NEWs at resting orders (same account; joining
their level or crossing it at their price) so that self-trade prevention (accounts with each stp_mode, from config
and SET_ACCOUNT) and pro-rata symbols (various minimum allocations, from config and
SET_SYMBOL) see plenty of crossing; the comparison runs its own fresh model, so a model bug
cannot hide behind the generator.  Triggers and contingent orders: symbols compare their held
orders with the last trade, the bid/ask or the mid (config, and SET_SYMBOL's exec_inst with
invalid values too); NEWs link to recent orders of the same session and account as OTO
children (mostly exits on the other side: take-profit limits and stop-losses), OCO peers and
a bracket's second leg (the parent's waiting child as its OCO peer), and sometimes break a
link rule (unknown or foreign ids, ended or traded orders, already linked or waiting ones).
Auctions: AT_OPEN orders while their symbol's session is closed and AT_CLOSE orders while it
is open (MARKET and LIMIT, sometimes another type or the wrong phase), uncrossed with the book
by TIMER commands past the session's close and open.
External venues (issue 9): some configs have 1-3 venues (random type / tif masks, features,
fees, cancel-on-disconnect) listed by the symbols (random rule, primary, tick / lot
overrides); the venues are brought UP first; NEWs carry ex_destination (router, INTERNAL,
listed or unlisted venues, unknown ones); VENUE_EXEC commands answer the requests of the
private model's orders at a venue with the op that fits their venue state most of the time
(the right request number, fills within their leaves, the replace requested, busts and
corrections of booked fills), sometimes one that does not fit, another request or venue, and
session changes; venue_seq is unchecked, the next, a duplicate, stale or a gap.
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

from model import (AT_CLOSE, AT_OPEN, FOK, GTC, GTD, HELD_PARENT, IOC, LIMIT, LIT,
                   LIVE_STATUSES, MARKET, MIT, POST_ONLY, PRICED, ST_FILLED, STOP, STOP_LIMIT,
                   TRAILING, WITH_STOP_PRICE, ReferenceModel)
from model import DAY as TIF_DAY
from oms.codes import RejectCode as R
from oms.config import (LIMIT_MAX, AccountConfig, EngineConfig, SymbolConfig, VenueConfig,
                        VenueListing)
from oms.layout import (
    IDEMPOTENCY_TTL_NS,
    MAX_PRICE,
    MAX_QTY,
    MAX_VENUES,
    AdminOp,
    CommandType as K,
    EventType,
    ExecType,
    VenueExec,
    VenueRequest,
)

SEC = 10**9
HOUR = 3600 * SEC
DAY = 24 * HOUR
T_START = 20_000 * DAY            # midnight UTC, some day in 2024
U64 = 2**64 - 1


_INTEGERS: dict[tuple[int, int], st.SearchStrategy] = {}


def _integers(lo: int, hi: int) -> st.SearchStrategy:
    """st.integers(lo, hi), built once: building (and unwrapping) a strategy per draw costs
    more than the draw, and a scenario makes ~20 draws per command."""
    strat = _INTEGERS.get((lo, hi))
    if strat is None:
        strat = _INTEGERS[(lo, hi)] = st.integers(lo, hi)
    return strat


class HypothesisSource:
    def __init__(self, draw):
        self._draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self._draw(_integers(lo, hi))

    def pick(self, seq):
        return seq[self._draw(_integers(0, len(seq) - 1))]

    def weighted(self, pairs):
        """pairs: [(weight, value)]; shrinks towards the first value."""
        total = sum(w for w, _ in pairs)
        x = self._draw(_integers(0, total - 1))
        for w, v in pairs:
            if x < w:
                return v
            x -= w
        raise AssertionError

    def chance(self, pct: int) -> bool:
        """True with probability pct/100; shrinks towards False."""
        return self._draw(_integers(0, 99)) >= 100 - pct


class RandomSource(HypothesisSource):
    def __init__(self, rng: random.Random):
        self._rng = rng

    def int(self, lo, hi):
        return self._rng.randint(lo, hi)

    def pick(self, seq):
        return seq[self._rng.randrange(len(seq))]

    def weighted(self, pairs):
        return self._rng.choices([v for _, v in pairs], weights=[w for w, _ in pairs])[0]

    def chance(self, pct):
        return self._rng.randrange(100) < pct


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

REF_PRICES = [10_000, 5_000, 0, 250_000]
STP_MODES = ["none", "cancel_newest", "cancel_oldest", "decrement"]
MIN_ALLOCS = [1, 2, 5, 20]


def _stp_mode(src) -> str:
    """Venue rules: an account's self-trade prevention mode (half of them have one)."""
    return src.weighted([(6, "none"), (2, "cancel_newest"), (2, "cancel_oldest"),
                         (2, "decrement")])


def _venue_matching(src) -> dict:
    """Venue rules: a quarter of the symbols match pro-rata, with various minimum
    allocations."""
    if src.chance(25):
        return dict(matching="pro_rata", pro_rata_min_alloc=src.pick(MIN_ALLOCS))
    return {}


def _trigger_source(src) -> dict:
    """Triggers: the reference held orders compare with (half of the symbols the last trade)."""
    source = src.weighted([(4, "last"), (2, "bid_ask"), (2, "mid")])
    return {} if source == "last" else dict(trigger_source=source)


VENUE_IDS = [1, 2, 3, 7, 15]
ALL_TIFS = ["day", "gtc", "ioc", "fok", "gtd", "at_open", "at_close"]
DEFAULT_TIFS = ["day", "gtc", "ioc", "fok", "gtd"]
FEATURES = ["iceberg", "post_only", "min_qty"]


def _subset(src, items: list, keep_pct: int = 60) -> list:
    return [x for x in items if src.chance(keep_pct)]


def _gen_venues(src) -> list[VenueConfig]:
    """External venues (issue 9): none in most configs; else 1-3 with random masks, features,
    fees and cancel-on-disconnect.  Mostly permissive, so that orders route and flows happen."""
    if not src.chance(40):
        return []
    n = src.int(1, 3)
    ids = sorted({src.pick(VENUE_IDS) for _ in range(n)})
    venues = []
    for vid in ids:
        ord_types = src.weighted([(8, ["market", "limit"]), (2, ["limit"]), (1, ["market"])])
        how = src.weighted([(5, "default"), (3, "all"), (2, "some")])
        tifs = {"default": DEFAULT_TIFS, "all": ALL_TIFS}.get(how) or (
            _subset(src, ALL_TIFS, 70) or ["day"])
        how = src.weighted([(5, "all"), (2, "none"), (3, "some")])
        features = {"all": FEATURES, "none": []}.get(how)
        if features is None:
            features = _subset(src, FEATURES)
        venues.append(VenueConfig(
            vid, f"V{vid}", ord_types=ord_types, tifs=tifs, features=features,
            maker_fee=src.pick([0, -20, 10]), taker_fee=src.pick([0, 30, -10, 5]),
            cancel_on_disconnect=src.chance(40)))
    return venues


def _listings(src, venues: list[VenueConfig], tick: int, lot: int) -> dict:
    """A symbol's venue listings (issue 9): a random subset of the venues, with tick / lot
    overrides now and then, a random route rule and primary venue."""
    if not venues or not src.chance(75):
        return {}
    listed = [v for v in venues if src.chance(70)] or [src.pick(venues)]
    out = []
    for v in listed:
        out.append(VenueListing(
            v.name,
            tick_size=src.weighted([(12, 0), (2, tick * 2), (1, tick * 5), (1, 3)]),
            lot_size=src.weighted([(12, 0), (2, lot * 2), (1, lot * 10)])))
    extra = dict(venues=out, route_rule=src.pick(["primary", "cheapest"]))
    if src.chance(60):
        extra["primary_venue"] = src.pick(out).venue
    return extra


def gen_config(src) -> EngineConfig:
    venues = _gen_venues(src)
    max_symbols = src.int(2, 5)
    n_sym = src.int(2, min(3, max_symbols))
    first_sym = src.int(0, max_symbols - n_sym)
    symbols = []
    for sid in range(first_sym, first_sym + n_sym):
        tick = src.pick([100, 1, 25])
        lot = src.weighted([(6, 1), (1, 10)])
        min_qty = src.weighted([(6, 1), (1, 5), (1, 20)])
        max_qty = src.pick([1_000, 100, 40])
        ref = src.pick(REF_PRICES)
        collar = src.pick([0, 500, 2_000, 50])
        hours = src.weighted([(12, (0, 86_400)), (3, (9 * 3600, 17 * 3600)), (2, (0, 3_600))])
        symbols.append(SymbolConfig(
            sid, f"S{sid}", tick_size=tick, lot_size=lot, min_qty=min_qty,
            max_qty=max(max_qty, min_qty), ref_price=ref, collar_bps=collar,
            open_sec=hours[0], close_sec=hours[1], halted=src.chance(4),
            market_protection_bps=src.weighted([(6, 0), (2, 100), (1, 500), (1, 10_000)]),
            **_venue_matching(src), **_trigger_source(src), **_listings(src, venues, tick, lot)))
    max_accounts = src.int(2, 5)
    n_acc = src.int(2, min(4, max_accounts))
    first_acc = src.int(0, max_accounts - n_acc)
    accounts = []
    for aid in range(first_acc, first_acc + n_acc):
        if src.chance(50):
            accounts.append(AccountConfig(
                aid, f"A{aid}",
                credit_limit=src.pick([LIMIT_MAX, 500_000, 2_000_000, 60_000]),
                max_order_qty=src.pick([MAX_QTY, 50, 200]),
                max_order_notional=src.pick([LIMIT_MAX, 300_000, 1_000_000]),
                max_position=src.pick([LIMIT_MAX, 100, 30]),
                gross_limit=src.pick([LIMIT_MAX, 3_000_000, 1_000_000, 200_000]),
                concentration_pct=src.weighted([(5, 100), (5, 50), (5, 30), (1, 0)]),
                enabled=not src.chance(5), stp_mode=_stp_mode(src)))
        else:
            accounts.append(AccountConfig(aid, f"A{aid}", enabled=not src.chance(3),
                                          stp_mode=_stp_mode(src)))
    small = src.chance(50)
    return EngineConfig(
        max_orders=src.int(4, 64) if small and src.chance(70) else 4096,
        max_symbols=max_symbols,
        max_accounts=max_accounts,
        idem_capacity=src.int(2, 64) if small and src.chance(70) else 4096,
        max_levels=src.int(1, 8) if small and src.chance(70) else 64,
        symbols=symbols,
        accounts=accounts,
        venues=venues,
    )


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


class _Gen:
    """Draws commands one by one.  A private ReferenceModel follows along so that cancels,
    replaces and status requests can aim at orders that exist (live or terminal) as well as
    at unknown ones, and prices follow the current reference price; the comparison itself
    runs a fresh model."""

    def __init__(self, src, cfg: EngineConfig):
        self.src = src
        self.cfg = cfg
        self.model = ReferenceModel(cfg)
        self.t = T_START + src.pick([10 * HOUR, 0, 17 * HOUR - 2 * SEC, 23 * HOUR])
        self.next_cl = 1
        self.used_cl: list[tuple[int, int]] = []      # (session, cl_ord_id) ever sent
        # issue 9: venues start DOWN, so most get a SESSION UP before anything else; the
        # replace requests sent (order id -> (price, qty)) and the fills booked (order id ->
        # [(qty, px)]) of orders at a venue, for plausible REPLACED, BUST and CORRECT messages
        self.session_up = [v for v in sorted(self.model._venues) if src.chance(90)]
        self.replace_req: dict[int, tuple[int, int]] = {}
        self.fills: dict[int, list[tuple[int, int]]] = {}

    # --- field pickers ---------------------------------------------------------------------

    def time(self) -> int:
        s = self.src
        step = s.weighted([
            (88, "small"), (2, "hours"), (2, "day"), (2, "ttl"), (2, "back"), (1, "neg"),
            (3, "boundary")])
        if step == "small":
            self.t += s.pick([0, SEC // 2, 1, SEC, 7 * SEC])
        elif step == "boundary":
            # to just before / at / after the next instant where a session opens or closes
            # (the symbols' hours are among 00:00, 01:00, 09:00, 17:00, 24:00 UTC)
            day0 = self.t // DAY * DAY
            marks = [day0 + h * HOUR for h in (1, 9, 17, 24, 25)]
            nxt = min(m for m in marks if m > self.t)
            self.t = max(self.t, nxt + s.pick([0, -1, 1, SEC]))
        elif step == "hours":
            self.t += s.int(1, 12) * HOUR + s.int(0, 59) * 60 * SEC
        elif step == "day":
            self.t += DAY + s.int(0, 3) * HOUR
        elif step == "ttl":
            self.t += IDEMPOTENCY_TTL_NS - s.pick([0, 1, SEC])
        elif step == "back":
            self.t -= s.pick([1, SEC, HOUR])
        else:
            return -s.pick([1, SEC, 10 * HOUR])      # one command before the epoch
        return self.t

    def session(self) -> int:
        return self.src.weighted([(12, 1), (4, 2), (3, 3), (1, 0)])

    def defined_symbols(self) -> list[int]:
        return sorted(self.model._symbols)

    def symbol_id(self) -> int:
        s = self.src
        kind = s.weighted([(80, "defined"), (1, "undefined"), (1, "out")])
        if kind == "defined":
            return s.pick(self.defined_symbols())
        if kind == "undefined":
            return s.int(0, self.cfg.max_symbols - 1)
        return s.pick([self.cfg.max_symbols, 2**32 - 1])

    def account_id(self) -> int:
        s = self.src
        kind = s.weighted([(80, "defined"), (1, "undefined"), (1, "out")])
        if kind == "defined":
            return s.pick(sorted(self.model._accounts))
        if kind == "undefined":
            return s.int(0, self.cfg.max_accounts - 1)
        return s.pick([self.cfg.max_accounts, 2**32 - 1])

    def _sym(self, sid) -> dict:
        syms = self.model._symbols
        return syms.get(sid) or syms[min(syms)]

    def limit_price(self, sid, around: int = 0) -> int:
        s = self.src
        sym = self._sym(sid)
        ref = around or sym["ref_price"] or 10_000
        tick = sym["tick_size"]
        kind = s.weighted([(95, "near"), (2, "offtick"), (1, "invalid"), (1, "far"),
                           (1, "any")])
        if kind == "near":
            return max(tick, ref - ref % tick + tick * s.int(-4, 4))
        if kind == "offtick":
            return ref + tick * s.int(-3, 3) + (1 if tick > 1 else 0)
        if kind == "invalid":
            return s.pick([0, -tick, MAX_PRICE + 1, MAX_PRICE, -(2**63)])
        if kind == "far":
            return s.pick([ref * 2, ref // 2 - (ref // 2) % tick, ref + 10 * tick])
        return s.int(1, 30_000)

    def reference_price(self, sid, side) -> int:
        """The trigger reference of `side` in symbol `sid` (0 if absent or not a bid_ask /
        mid symbol)."""
        m = self.model
        if sid not in m._symbols or m._symbols[sid]["trigger_source"] == 0 or side not in (1, 2):
            return 0
        return m._reference(sid, side) or 0

    def qty(self, sid) -> int:
        s = self.src
        sym = self._sym(sid)
        lot = sym["lot_size"]
        kind = s.weighted([(96, "lots"), (2, "raw"), (2, "edge")])
        if kind == "lots":
            lo = max(1, -(-sym["min_qty"] // lot))
            return lot * s.int(lo, lo + 11)
        if kind == "raw":
            return s.int(1, 60)
        return s.pick([0, -1, MAX_QTY, MAX_QTY + 1, sym["max_qty"] + lot, sym["min_qty"] - 1,
                       2**63 - 1])

    def side(self) -> int:
        return self.src.weighted([(100, 1), (100, 2), (1, 0), (1, 3), (1, 255)])

    def fresh_cl(self) -> int:
        cl = self.next_cl
        self.next_cl += 1
        return cl

    def reusable_cl(self) -> list[tuple[int, int]]:
        """Recent ClOrdIDs, but not one a replace in flight at a venue will take:
        docs/engine.md does not say what REPLACED does when its new ClOrdID has been taken
        meanwhile (the index holds one order per ClOrdID)."""
        pending = {o["pending_cl_ord_id"] for o in self.model._orders.values()
                   if o["venue_state"] == 4}
        return [x for x in self.used_cl[-12:] if x[1] not in pending]

    def new_cl(self) -> int:
        s = self.src
        kind = s.weighted([(85, "fresh"), (12, "reuse"), (1, "zero"), (2, "big")])
        if kind == "reuse" and self.reusable_cl():
            return s.pick(self.reusable_cl())[1]
        if kind == "zero":
            return 0
        if kind == "big":
            return s.pick([U64, 2**63, 12_345])
        return self.fresh_cl()

    def version(self, order) -> int:
        s = self.src
        kind = s.weighted([(80, "none"), (12, "right"), (8, "other")])
        if kind == "right" and order is not None:
            return order["version"]
        if kind == "none":
            return 0
        return s.int(1, 4)

    def target(self, cmd: dict):
        """Fill order_id or (session, orig_cl_ord_id) of CANCEL / REPLACE / STATUS; return
        the order aimed at (a model order dict) or None."""
        s = self.src
        m = self.model
        # issue 9: orders at a venue, live there (replaced / cancelled through the venue) or
        # not yet (ORDER_PENDING)
        at_venue = [i for i in sorted(m._live) if m._orders[i]["venue_state"]]
        how = s.weighted([(60, "live"), (12, "stored"), (18, "sent"), (10, "junk"),
                          (25 if at_venue else 0, "venue")])
        order = None
        if how == "venue":
            ready = [i for i in at_venue if m._orders[i]["venue_state"] == 2]
            order = m._orders[s.pick(ready if ready and s.chance(75) else at_venue)]
        elif how == "live" and m._live:
            order = m._orders[s.pick(sorted(m._live))]
        elif how == "stored" and m._orders:
            order = m._orders[s.pick(list(m._orders))]
        elif how == "sent" and self.used_cl:
            sess, cl = s.pick(self.used_cl)
            cmd["session_id"] = sess if s.chance(90) else self.session()
            cmd["orig_cl_ord_id"] = cl
            return None
        if order is not None:
            cmd["session_id"] = order["session_id"] if s.chance(95) else self.session()
            if s.chance(40):
                cmd["order_id"] = order["order_id"]
                if s.chance(10):
                    cmd["orig_cl_ord_id"] = s.int(0, self.next_cl)   # ignored
            else:
                cmd["orig_cl_ord_id"] = order["cl_ord_id"]
            return order
        cmd["session_id"] = self.session()
        if s.chance(50):
            cmd["order_id"] = s.int(1, m.next_order_id + 1)
        else:
            cmd["orig_cl_ord_id"] = s.pick([0, self.next_cl + 5, U64, 1])
        return None

    # --- commands -----------------------------------------------------------------------------

    def command(self) -> dict:
        cmd = self._command()
        for ev in self.model.process(cmd):
            if ev["venue_id"] and ev["kind"] == EventType.VENUE_REQUEST and \
                    ev["exec_type"] == VenueRequest.REPLACE:
                self.replace_req[ev["order_id"]] = (ev["price"], ev["qty"])
            elif ev["venue_id"] and ev["kind"] == EventType.EXEC_REPORT and ev["exec_type"] in (
                    ExecType.TRADE, ExecType.TRADE_CORRECT):
                self.fills.setdefault(ev["order_id"], []).append((ev["last_qty"], ev["last_px"]))
        return cmd

    def _command(self) -> dict:
        s = self.src
        if self.session_up:         # issue 9: bring the venues up first
            return dict(kind=int(K.VENUE_EXEC), time_ns=self.t, venue_id=self.session_up.pop(0),
                        admin_op=int(VenueExec.SESSION), flags=1,
                        venue_seq=s.weighted([(3, 0), (1, 1)]))
        m = self.model
        venue_w = 0
        if m._venues:               # more when orders at a venue wait for an answer
            waiting = any(m._orders[i]["venue_state"] in (1, 3, 4) for i in m._live)
            routed = waiting or any(m._orders[i]["venue_state"] for i in m._live)
            venue_w = 30 if waiting else 10 if routed else 2
        kind = s.weighted([
            (40, K.NEW), (12, K.CANCEL), (12, K.REPLACE), (4, K.STATUS), (3, K.MASS_CANCEL),
            (5, K.ADMIN), (6, K.MARKET_DATA), (6, K.TIMER), (1, "unknown"),
            (venue_w, K.VENUE_EXEC)])
        cmd = {"kind": int(kind) if kind != "unknown" else s.pick([0, 7, 10, 200, 255]),
               "time_ns": self.time()}
        if s.chance(3):
            cmd["seq"] = s.pick([99, -1, 2**63 - 1])     # producer junk: the engine overwrites
        if kind == K.NEW:
            self.new(cmd)
        elif kind in (K.CANCEL, K.REPLACE, K.STATUS):
            order = self.target(cmd)
            if kind == K.CANCEL:
                cmd["cl_ord_id"] = self.new_cl() if s.chance(50) else 0
                cmd["expected_version"] = self.version(order)
            elif kind == K.REPLACE:
                self.replace(cmd, order)
        elif kind == K.MASS_CANCEL:
            cmd["admin_op"] = s.int(0, 31) if s.chance(92) else s.pick([32, 64, 0xFFFF])
            cmd["session_id"] = self.session()
            cmd["account_id"] = self.account_id()
            cmd["symbol_id"] = self.symbol_id()
            cmd["side"] = self.side()
            cmd["strategy_id"] = s.pick([0, 1, 2])
        elif kind == K.ADMIN:
            self.admin(cmd)
        elif kind == K.VENUE_EXEC:
            self.venue_exec(cmd)
        elif kind == K.MARKET_DATA:
            sid = self.symbol_id()
            cmd["symbol_id"] = sid
            cmd["price"] = (self.limit_price(sid) if s.chance(90)
                            else s.pick([0, -1, MAX_PRICE + 1]))
        elif kind == "unknown":
            cmd["order_id"] = s.int(0, 3)
            cmd["cl_ord_id"] = s.int(0, 3)
        return {k: v for k, v in cmd.items() if v != 0 or k in ("kind", "time_ns")}

    # --- contingent links ---------------------------------------------------------------------

    def link(self):
        """Contingent orders: None (no link), or (parent order or None, OCO peer order or None,
        parent_order_id, oco_order_id, role).  Mostly valid links among the recent orders (the
        NEW then takes their session and account), sometimes a broken rule."""
        s = self.src
        m = self.model
        kind = s.weighted([(64, None), (12, "oto"), (7, "oco"), (10, "bracket"), (7, "bad")])
        if kind is None or not m._orders:
            return None
        recent = [m._orders[i] for i in sorted(m._orders)[-12:]]
        live = [o for o in recent if o["status"] in LIVE_STATUSES]
        free = [o for o in live if o["held"] != HELD_PARENT]
        if kind == "oto":
            # a live parent without a child yet (its child waits); sometimes a FILLED one (the
            # child is worked at once)
            cands = [o for o in free if o["child_order_id"] == 0]
            resting = [o for o in cands if not o["held"] and o["ord_type"] in PRICED]
            if resting and s.chance(60):
                cands = resting
            if s.chance(15) or not cands:
                cands = [o for o in recent if o["status"] == ST_FILLED] or cands
            if not cands:
                return None
            p = s.pick(cands)
            return p, None, p["order_id"], 0, "exit"
        if kind == "oco":
            cands = [o for o in free if o["cum_qty"] == 0 and o["oco_order_id"] == 0]
            if not cands:
                return None
            x = s.pick(cands)
            return x, x, 0, x["order_id"], "peer"
        if kind == "bracket":
            # the second leg: same parent, the parent's waiting child as OCO peer
            cands = [o for o in recent if o["held"] == HELD_PARENT and o["oco_order_id"] == 0
                     and m._orders.get(o["parent_order_id"]) is not None
                     and m._orders[o["parent_order_id"]]["child_order_id"] == o["order_id"]]
            if not cands:
                return None
            c = s.pick(cands)
            return (m._orders[c["parent_order_id"]], c, c["parent_order_id"], c["order_id"],
                    "stop_loss")
        # a broken rule
        how = s.pick(["unknown", "foreign", "ended", "traded", "linked", "waiting", "child",
                      "mixed", "any"])
        ids = sorted(m._orders)
        anyo = m._orders[s.pick(ids)]
        if how == "unknown":                        # UNKNOWN_LINKED_ORDER
            bad = s.pick([m.next_order_id, m.next_order_id + 3, U64])
            if s.chance(50):
                return anyo, None, bad, 0, "exit"
            return anyo, None, 0, bad, "peer"
        if how == "foreign":                        # another session or account
            return None, None, *s.pick([(anyo["order_id"], 0), (0, anyo["order_id"])]), "exit"
        if how == "ended":                          # a cancelled / expired parent or peer
            cands = [o for o in recent if o["status"] not in LIVE_STATUSES]
            o = s.pick(cands) if cands else anyo
            if s.chance(50):
                return o, None, o["order_id"], 0, "exit"
            return o, None, 0, o["order_id"], "peer"
        if how == "traded":                         # an OCO peer that has traded
            cands = [o for o in recent if o["cum_qty"] > 0]
            o = s.pick(cands) if cands else anyo
            return o, None, 0, o["order_id"], "peer"
        if how == "linked":                         # an OCO peer that has one already
            cands = [o for o in recent if o["oco_order_id"] != 0]
            o = s.pick(cands) if cands else anyo
            return o, None, 0, o["order_id"], "peer"
        if how == "waiting":                        # a waiting parent (no chains), or a
            cands = [o for o in recent if o["held"] == HELD_PARENT]     # waiting peer alone
            o = s.pick(cands) if cands else anyo
            if s.chance(50):
                return o, None, o["order_id"], 0, "exit"
            return o, None, 0, o["order_id"], "peer"
        if how == "child":                          # the parent has a child: X must be it
            cands = [o for o in live if o["child_order_id"] != 0]
            o = s.pick(cands) if cands else anyo
            x = s.pick([0, o["order_id"], anyo["order_id"]])
            return o, None, o["order_id"], x, "exit"
        if how == "mixed":                          # a waiting new order with a free peer
            p = s.pick(free) if free else anyo
            x = s.pick(free) if free else anyo
            return p, None, p["order_id"], x["order_id"], "exit"
        return anyo, None, s.pick([0] + ids), s.pick([0] + ids), "exit"

    def new(self, cmd: dict) -> None:
        s = self.src
        m = self.model
        # Venue rules: often aim at a resting order of the same account (self-trade
        # prevention) or of a pro-rata symbol: join its level, or cross it at its price.
        # Contingent orders: the parents of waiting children, to fill them (activations).
        target = None
        resting = [i for i in sorted(m._live)
                   if not m._orders[i]["held"] and m._orders[i]["ord_type"] in PRICED]
        parents = [i for i in resting
                   if m._orders.get(m._orders[i]["child_order_id"], {}).get("held")
                   == HELD_PARENT]
        link = None
        if parents and s.chance(35):
            target = m._orders[s.pick(parents)]
        else:
            link = self.link()
            if link is None and resting and s.chance(45):
                target = m._orders[s.pick(resting)]
        role = None
        if link is not None:
            base, peer, cmd["parent_order_id"], cmd["oco_order_id"], role = link
            if base is None:                        # foreign: same ids, other session/account
                base = m._orders[cmd["parent_order_id"] or cmd["oco_order_id"]]
                cmd["session_id"] = base["session_id"] + 1
                cmd["account_id"] = base["account_id"]
                if s.chance(50):
                    cmd["session_id"] = base["session_id"]
                    cmd["account_id"] = s.pick(sorted(m._accounts))
            else:
                cmd["session_id"] = base["session_id"]
                cmd["account_id"] = base["account_id"]
            sid = base["symbol_id"] if s.chance(85) else self.symbol_id()
            cmd["cl_ord_id"] = self.new_cl()
            cmd["symbol_id"] = sid
            if role == "peer":      # an OCO: usually the same side (a limit and a stop)
                cmd["side"] = base["side"] if s.chance(70) else 3 - base["side"]
            elif role == "stop_loss":               # on the take-profit's side
                cmd["side"] = peer["side"] if s.chance(85) else 3 - peer["side"]
            else:                   # an exit: the other side of its parent, usually
                cmd["side"] = 3 - base["side"] if s.chance(75) else base["side"]
        elif target is not None:
            sid = target["symbol_id"]
            cmd["session_id"] = self.session()
            cmd["cl_ord_id"] = self.new_cl()
            cmd["account_id"] = target["account_id"] if s.chance(80) else self.account_id()
            cmd["symbol_id"] = sid
            # join its level (multi-order levels for pro-rata and STP) or cross it
            join = s.chance(10 if target["order_id"] in parents else 35)
            cmd["side"] = target["side"] if join else 3 - target["side"]
        else:
            sid = self.symbol_id()
            cmd["session_id"] = self.session()
            cmd["cl_ord_id"] = self.new_cl()
            cmd["account_id"] = self.account_id()
            cmd["symbol_id"] = sid
            cmd["side"] = self.side()
        if role == "exit":          # take-profit limits and stop-losses, mostly
            ord_type = s.weighted([(40, LIMIT), (6, MARKET), (25, STOP), (8, STOP_LIMIT),
                                   (5, MIT), (5, LIT), (8, TRAILING), (1, "bad")])
        elif role in ("peer", "stop_loss"):
            ord_type = s.weighted([(25, LIMIT), (3, MARKET), (40, STOP), (10, STOP_LIMIT),
                                   (5, MIT), (5, LIT), (10, TRAILING), (1, "bad")])
        else:
            ord_type = s.weighted([(50, LIMIT), (9, MARKET), (6, STOP), (6, STOP_LIMIT),
                                   (5, MIT), (5, LIT), (7, TRAILING), (2, "bad")])
        if ord_type == "bad":
            ord_type = s.pick([0, 8, 99, 255])
        cmd["ord_type"] = ord_type
        tif = s.weighted([(40, TIF_DAY), (14, GTC), (12, IOC), (10, FOK), (12, GTD),
                          (8 if role is None else 1, "auction"), (1, "bad")])
        auction = tif == "auction"
        if auction:
            # Auctions: at the open while the session is closed, at the close while it is
            # open (mostly); MARKET or LIMIT (other types: UNSUPPORTED_TIF)
            sym = self._sym(sid)
            sec = (self.t // SEC) % 86_400
            open_now = sym["open_sec"] <= sec < sym["close_sec"]
            tif = (AT_CLOSE if open_now else AT_OPEN) if s.chance(85) else s.pick(
                [AT_OPEN, AT_CLOSE])
            if s.chance(90):
                ord_type = cmd["ord_type"] = s.weighted([(3, LIMIT), (1, MARKET)])
        elif tif == "bad":
            tif = s.pick([0, 8, 200])
        cmd["tif"] = tif
        qty = cmd["qty"] = self.qty(sid)
        if target is not None and not join and target["child_order_id"] and s.chance(60):
            qty = cmd["qty"] = max(qty, target["leaves_qty"])       # fill the parent
        sym = self._sym(sid)
        tick, lot = sym["tick_size"], sym["lot_size"]
        priced = ord_type in PRICED
        if priced:
            if target is not None and join:              # at the target's price
                cmd["price"] = target["price"]
            elif target is not None and s.chance(60):    # at (or through) the target's price
                cmd["price"] = target["price"] + tick * s.pick([0, 1]) * (
                    1 if cmd["side"] == 1 else -1)
            elif (sid in m._symbols and m._symbols[sid]["trigger_source"] != 0
                  and cmd["side"] in (1, 2) and s.chance(50)):
                # bid_ask / mid symbols need both sides of the book: a passive price
                ref = sym["ref_price"] or 10_000
                k = s.int(1, 4) * (-1 if cmd["side"] == 1 else 1)
                cmd["price"] = max(tick, ref - ref % tick + tick * k)
            else:
                cmd["price"] = self.limit_price(sid)
        else:
            cmd["price"] = 0 if s.chance(95) else self.limit_price(sid)     # INVALID_PRICE
        # stop_price: near the reference so that trades and market data cross it
        if ord_type in WITH_STOP_PRICE:
            near = self.reference_price(sid, cmd["side"])
            if near and s.chance(40):       # around its side's reference (bid_ask, mid)
                cmd["stop_price"] = self.limit_price(sid, around=near)
            elif s.chance(95):
                cmd["stop_price"] = self.limit_price(sid)
            else:
                cmd["stop_price"] = s.pick([0, -tick, MAX_PRICE + 1])
        elif s.chance(1):
            cmd["stop_price"] = self.limit_price(sid)                      # INVALID_STOP_PRICE
        # trailing offset: by amount (ticks) or by bps; sometimes both, neither or out of range
        if ord_type == TRAILING:
            how = s.weighted([(10, "amount"), (10, "bps"), (1, "both"), (1, "neither"),
                              (1, "bad")])
            if how in ("amount", "both"):
                cmd["trail_amount"] = tick * s.int(1, 4) + (1 if s.chance(3) and tick > 1 else 0)
            if how in ("bps", "both"):
                cmd["trail_bps"] = s.pick([10, 50, 100, 250, 10_000])
            if how == "bad":
                field, bad = s.pick([("trail_amount", -tick), ("trail_amount", MAX_PRICE + 1),
                                     ("trail_bps", 10_001), ("trail_bps", 2**32 - 1)])
                cmd[field] = bad
        elif s.chance(1):
            cmd[s.pick(["trail_amount", "trail_bps"])] = s.pick([1, tick])  # INVALID_TRAIL
        # iceberg: a displayed part below qty, on priced orders that can rest
        if s.chance(15) and (role is None or ord_type in PRICED or s.chance(10)) and (
                not auction or s.chance(10)):
            if s.chance(85) and qty > lot:
                cmd["display_qty"] = lot * s.int(1, max(1, (qty - 1) // lot // 2))
            else:
                cmd["display_qty"] = s.pick([qty, min(qty + 1, MAX_QTY + 1), -1, 1])
        # minimum quantity
        if s.chance(12) and (not auction or s.chance(10)):
            if s.chance(85):
                cmd["min_qty"] = s.pick([qty, lot * s.int(1, max(1, qty // lot)), 1])
            else:
                cmd["min_qty"] = s.pick([min(qty + 1, MAX_QTY + 1), -1,
                                         min(qty + lot, 2 * MAX_QTY)])
        # expire time: GTD around the command times (past, now, soon, later); others rarely
        if tif == GTD:
            when = s.weighted([(20, "soon"), (6, "later"), (3, "next ns"), (3, "now"),
                               (2, "past")])
            if when == "soon":
                dt = s.pick([SEC, 5 * SEC, 30 * SEC])
            elif when == "later":
                dt = s.pick([HOUR, 3 * HOUR, DAY])
            else:
                dt = {"next ns": 1, "now": 0, "past": -SEC}[when]
            cmd["expire_time_ns"] = self.t + dt
        elif s.chance(1):
            cmd["expire_time_ns"] = self.t + SEC                         # INVALID_EXPIRE_TIME
        # post-only (resting limits); sometimes on orders it does not fit, or unknown bits
        if s.chance(12) and (role is None or ord_type == LIMIT or s.chance(10)) and (
                not auction or s.chance(10)):
            cmd["exec_inst"] = POST_ONLY if s.chance(90) else s.pick([2, 3, 128])
        cmd["strategy_id"] = s.pick([0, 1, 2])
        cmd["ex_destination"] = self.ex_destination(sid)
        idem = s.weighted([(75, None), (25, "explicit")])
        if idem == "explicit":
            # 2**63 | session collides with the derived key of that session's ClOrdID
            cmd["idem_hi"] = s.pick([0, 1, 2**63, 2**63 | 1])
            cmd["idem_lo"] = s.int(1, 6) if cmd["idem_hi"] or s.chance(90) else 0
        if s.chance(4):      # fields a NEW does not use
            cmd["orig_cl_ord_id"] = s.int(1, 50)
            cmd["order_id"] = s.int(1, 50)
            cmd["expected_version"] = s.int(1, 3)
            cmd["admin_op"] = s.int(1, 6)
            cmd["flags"] = s.int(1, 3)
            if s.chance(30):        # issue 9: VENUE_EXEC's fields
                cmd["venue_id"] = s.int(1, 3)
                cmd["reason"] = s.pick([950, 954])
                cmd["venue_seq"] = s.int(1, 5)
        if cmd["cl_ord_id"]:
            self.used_cl.append((cmd["session_id"], cmd["cl_ord_id"]))

    # --- external venues (issue 9) -----------------------------------------------------------

    def ex_destination(self, sid) -> int:
        """NEW's ex_destination: mostly 0 (the router chooses), sometimes INTERNAL, a
        configured venue (listed for the symbol or not), or no venue at all.  With no venue
        configured, rarely anything but 0 (it is ignored then)."""
        s = self.src
        venues = sorted(self.model._venues)
        if not venues:
            return 0 if s.chance(97) else s.pick([1, 2, 17, 65535])
        how = s.weighted([(55, "router"), (8, "internal"), (30, "venue"), (4, "undefined"),
                          (3, "out")])
        if how == "router":
            return 0
        if how == "internal":
            return 1
        if how == "venue":
            listed = [v for v in venues if (sid, v) in self.model._listings]
            return 1 + s.pick(listed if listed and s.chance(85) else venues)
        if how == "undefined":
            free = [v for v in range(1, MAX_VENUES) if v not in self.model._venues]
            return 1 + s.pick(free)
        return s.pick([1 + MAX_VENUES, 65535])

    def venue_seq(self, vid) -> int:
        """A venue message's sequence number: unchecked (0), the next one, a repeat of the
        last (a duplicate), a stale one, or a gap."""
        s = self.src
        v = self.model._venues.get(vid)
        last = v["last_seq"] if v is not None else 0
        how = s.weighted([(45, "none"), (40, "next"), (7, "repeat"), (4, "stale"), (4, "gap")])
        if how == "none":
            return 0
        if how == "next":
            return last + 1
        if how == "repeat":
            return last if last else 1
        if how == "stale":
            return max(1, last - s.int(1, 3))
        return last + s.pick([2, 100])

    def venue_reason(self) -> int:
        return self.src.weighted([(4, 0), (2, R.VENUE_TOO_LATE), (1, R.VENUE_UNKNOWN_ORDER),
                                  (1, R.VENUE_EXCHANGE_CLOSED), (1, R.VENUE_CANCELLED),
                                  (1, R.VENUE_ORDER_EXCEEDS_LIMIT), (1, R.VENUE_UNKNOWN_SYMBOL),
                                  (1, R.VENUE_DUPLICATE_ORDER)])

    def venue_px(self, o) -> int:
        """A fill price for order o: at or better than its limit, on the symbol's tick; rarely
        out of range."""
        s = self.src
        if s.chance(2):
            return s.pick([0, -1, MAX_PRICE + 1])
        sym = self._sym(o["symbol_id"])
        tick = sym["tick_size"]
        base = o["price"] or sym["ref_price"] or 10_000
        better = -1 if o["side"] == 1 else 1
        return max(tick, base - base % tick + better * tick * s.pick([0, 0, 1, 2]))

    def venue_exec(self, cmd: dict) -> None:
        """VENUE_EXEC: mostly a plausible answer to an outstanding request of an order the
        model knows at a venue (the right op for its venue state, its request number, a
        quantity within its leaves, a price at its limit), sometimes an op that does not fit,
        another request number, another venue, an unknown ClOrdID, or a session change; the
        venue sequence number is unchecked, the next, a duplicate, stale or a gap."""
        s = self.src
        m = self.model
        venues = sorted(m._venues)
        not_up = [v for v in venues if m._venues[v]["state"] != 1]
        routed = [o for o in (m._orders[i] for i in sorted(m._orders))
                  if o["venue_id"] and o["venue_last_req"]]
        outstanding = [o for o in routed if o["venue_state"] in (1, 3, 4)]
        live = [o for o in routed if o["venue_state"] == 2]
        filled = [o for o in routed if o["cum_qty"] > 0]
        # a disconnect of a venue that cancels its orders, while it has some in flight
        cod = sorted({o["venue_id"] for o in outstanding
                      if m._venues[o["venue_id"]]["cancel_on_disconnect"]})
        what = s.weighted([(25 if not_up else 4, "session"), (8 if routed else 0, "any"),
                           (60 if outstanding else 0, "outstanding"),
                           (30 if live else 0, "live"), (15 if filled else 0, "filled"),
                           (3 if cod else 0, "disconnect"), (1, "junk")])
        cmd["admin_op"] = int(VenueExec.SESSION)
        if what == "disconnect":
            cmd["venue_id"] = s.pick(cod)
            cmd["flags"] = 0
            cmd["venue_seq"] = s.weighted([(3, 0), (1, 1)])
            return
        if what == "session":
            vid = s.pick(not_up) if not_up and s.chance(80) else s.pick(venues)
            cmd["venue_id"] = vid
            up = m._venues[vid]["state"] == 1
            cmd["flags"] = s.weighted([(2 if up else 8, 1), (3 if up else 1, 0),
                                       (3 if up else 1, 2), (1, s.pick([3, 255]))])
            last = m._venues[vid]["last_seq"]
            cmd["venue_seq"] = s.weighted([(5, 0), (2, 1), (2, last + 1), (1, last)])
            return
        if what == "junk":
            free = [v for v in range(1, MAX_VENUES) if v not in m._venues]
            cmd["venue_id"] = s.pick([0, MAX_VENUES, 65535, s.pick(free)])
            cmd["admin_op"] = s.int(1, 11)
            cmd["cl_ord_id"] = s.int(1, m.next_order_id + 1) << 16 | s.int(0, 2)
            cmd["qty"] = s.int(1, 10)
            cmd["price"] = s.int(1, 30_000)
            return
        o = s.pick({"any": routed, "outstanding": outstanding, "live": live,
                    "filled": filled}[what])
        oid, vs = o["order_id"], o["venue_state"]
        terminal = o["status"] in (6, 7, 8, 9)
        has_fills = o["cum_qty"] > 0
        V = VenueExec
        if vs == 1:
            ops = [(35, V.ACK), (10, V.REJECT), (20, V.FILL), (5, V.CANCELED), (4, V.EXPIRED),
                   (6, V.TIMEOUT), (2, V.BUST), (2, V.REPLACED), (2, V.CANCEL_REJECT)]
        elif vs == 2:
            ops = [(45, V.FILL), (6, V.CANCELED), (4, V.EXPIRED), (15 if has_fills else 1, V.BUST),
                   (15 if has_fills else 1, V.CORRECT), (2, V.ACK), (2, V.REJECT),
                   (2, V.REPLACED), (2, V.CANCEL_REJECT), (2, V.TIMEOUT)]
        elif vs == 3:
            ops = [(35, V.CANCELED), (25, V.CANCEL_REJECT), (15, V.FILL), (5, V.TIMEOUT),
                   (3, V.EXPIRED), (3 if has_fills else 0, V.BUST),
                   (3 if has_fills else 0, V.CORRECT), (2, V.ACK)]
            if not terminal:
                ops.append((2, V.REPLACED))
        elif vs == 4:
            ops = [(35, V.REPLACED), (20, V.CANCEL_REJECT), (15, V.FILL), (5, V.CANCELED),
                   (5, V.TIMEOUT), (3, V.EXPIRED), (3 if has_fills else 0, V.BUST), (2, V.ACK)]
            if terminal:        # docs/engine.md does not say what REPLACED does to a FILLED order
                ops = [x for x in ops if x[1] != V.REPLACED]
        else:                   # DONE
            ops = [(25 if has_fills else 2, V.BUST), (20 if has_fills else 2, V.CORRECT),
                   (15, V.FILL), (6, V.CANCELED), (4, V.ACK), (4, V.TIMEOUT),
                   (4, V.CANCEL_REJECT), (4, V.EXPIRED), (2, V.REJECT)]
        op = s.weighted(ops)
        cmd["admin_op"] = int(op)
        # the request it answers: ACK / REJECT the order the venue holds, others the last one
        n = o["venue_live_req"] if op in (V.ACK, V.REJECT) else o["venue_last_req"]
        how = s.weighted([(90, "right"), (4, "older"), (3, "zero"), (3, "ahead")])
        if how == "older" and o["venue_last_req"] > 1:
            n = s.int(1, o["venue_last_req"] - 1)
        elif how == "zero":
            n = 0
        elif how == "ahead":
            n = o["venue_last_req"] + 1
        cmd["cl_ord_id"] = oid << 16 | n
        vid = o["venue_id"]
        if s.chance(4) and len(venues) > 1:
            vid = s.pick([v for v in venues if v != vid])       # another venue: UNKNOWN_ORDER
        cmd["venue_id"] = vid
        cmd["venue_seq"] = self.venue_seq(vid)
        cmd["reason"] = self.venue_reason()
        sym = self._sym(o["symbol_id"])
        lot = sym["lot_size"]
        if op == V.FILL:
            leaves = o["leaves_qty"]
            how = s.weighted([(45, "part"), (30, "all"), (5, "over"), (3, "bad")])
            if leaves <= 0:
                q = lot * s.int(1, 3)
            elif how == "part":
                q = s.int(1, max(1, leaves - 1))
            elif how == "all":
                q = leaves
            elif how == "over":
                q = leaves + lot * s.int(1, 2)
            else:
                q = s.pick([0, -1, MAX_QTY + 1])
            cmd["qty"] = q
            cmd["price"] = self.venue_px(o)
        elif op == V.REPLACED:
            req = self.replace_req.get(oid)
            if req is not None and s.chance(85):
                cmd["price"], cmd["qty"] = req
            else:
                cmd["price"] = self.venue_px(o)
                cmd["qty"] = s.pick([o["qty"], o["cum_qty"], o["qty"] + lot, 0,
                                     max(1, o["cum_qty"] - 1)])
            if s.chance(3):
                cmd[s.pick(["price", "qty"])] = s.pick([0, -5])
        elif op in (V.BUST, V.CORRECT):
            fills = self.fills.get(oid) or [(max(1, o["cum_qty"]), self.venue_px(o))]
            q, px = s.pick(fills)
            if s.chance(8):
                q = o["cum_qty"] + s.pick([1, lot])                  # more than was filled
            if s.chance(3):
                px = s.pick([0, MAX_PRICE + 1])
            if op == V.BUST:
                cmd["qty"], cmd["price"] = q, px
            else:
                cmd["display_qty"], cmd["stop_price"] = q, px
                cmd["qty"] = max(1, q + s.pick([0, -1, 1, lot])) if s.chance(95) else 0
                cmd["price"] = self.venue_px(o) if s.chance(70) else px
        elif s.chance(10):      # fields the op does not use
            cmd["qty"] = s.int(1, 10)
            cmd["price"] = self.venue_px(o)

    def replace(self, cmd: dict, order) -> None:
        s = self.src
        kind = s.weighted([(84, "fresh"), (7, "reuse"), (2, "own"), (7, "zero")])
        if kind == "reuse" and self.reusable_cl():
            cl = s.pick(self.reusable_cl())[1]
        elif kind == "own" and order is not None:
            cl = order["cl_ord_id"]
        elif kind == "zero":
            cl = 0
        else:
            cl = self.fresh_cl()
        cmd["cl_ord_id"] = cl
        if order is not None:
            sym = self._sym(order["symbol_id"])
            tick = sym["tick_size"]
            how = s.weighted([(30, "qty"), (30, "both"), (14, "price"), (8, "same"),
                              (6, "below_cum"), (6, "any"), (6, "cross")])
            price, qty = order["price"], order["qty"]
            if how in ("both", "any"):
                price = self.limit_price(order["symbol_id"], around=order["price"])
            elif how == "price":        # worse or better by a few ticks
                price = max(tick, price + tick * s.pick([1, -1, 2, -2, 5]))
            elif how == "cross":        # to the opposite best (or through it)
                bids, asks = self.model.book(order["symbol_id"])
                opp = asks if order["side"] == 1 else bids
                if opp:
                    price = opp[0][0] + tick * s.pick([0, 1, -1]) * (
                        1 if order["side"] == 1 else -1)
            if how in ("qty", "both"):
                qty = max(1, qty + sym["lot_size"] * s.int(-3, 3))
            elif how == "below_cum":
                qty = order["cum_qty"] - s.int(0, 1)
            elif how == "any":
                qty = self.qty(order["symbol_id"])
            if order["held"]:
                if order["ord_type"] not in PRICED:      # unpriced: price 0 (else INVALID_PRICE)
                    price = 0 if s.chance(95) else self.limit_price(order["symbol_id"])
                if s.chance(40):                          # a new stop price (trailing ignores it)
                    if s.chance(92):
                        cmd["stop_price"] = self.limit_price(order["symbol_id"],
                                                             around=order["stop_price"])
                    else:
                        cmd["stop_price"] = s.pick([-tick, MAX_PRICE + tick, tick + 1])
            elif s.chance(3):
                cmd["stop_price"] = self.limit_price(order["symbol_id"])    # ignored
        else:
            sid = s.pick(self.defined_symbols())
            price, qty = self.limit_price(sid), self.qty(sid)
        cmd["price"] = price
        cmd["qty"] = qty
        cmd["expected_version"] = self.version(order)
        if s.chance(10):     # ignored by REPLACE
            cmd["side"] = self.side()
            cmd["symbol_id"] = self.symbol_id()
            cmd["account_id"] = self.account_id()
            cmd["ord_type"] = s.pick([1, 2, 9])
            cmd["tif"] = s.pick([1, 3, 9])
        if cl:
            self.used_cl.append((cmd.get("session_id", 0), cl))

    def admin(self, cmd: dict) -> None:
        s = self.src
        killed = self.model.kill_switch     # switch off again soon, usually
        op = s.weighted([
            (8, AdminOp.SET_SYMBOL), (6, AdminOp.SET_ACCOUNT), (4, AdminOp.HALT_SYMBOL),
            (6, AdminOp.RESUME_SYMBOL), (1, AdminOp.KILL_SWITCH_ON),
            (30 if killed else 2, AdminOp.KILL_SWITCH_OFF), (2, "bad")])
        cmd["admin_op"] = int(op) if op != "bad" else s.pick([0, 7, 8, 255, 300])
        if op == AdminOp.SET_SYMBOL:
            undefined = [i for i in range(self.cfg.max_symbols) if i not in self.model._symbols]
            cmd["symbol_id"] = (s.pick(undefined) if undefined and s.chance(30)
                                else self.symbol_id())
            open_sec, close_sec = s.weighted([(6, (0, 86_400)), (1, (9 * 3600, 17 * 3600)),
                                              (1, (0, 3_600))])
            vals = dict(price=s.pick([100, 1, 25]), qty=s.weighted([(5, 1), (1, 10)]),
                        min_qty=s.pick([1, 5]), display_qty=s.pick([1_000, 100]),
                        stop_price=s.pick(REF_PRICES), expire_time_ns=s.pick([0, 500, 2_000]),
                        order_id=open_sec, orig_cl_ord_id=close_sec,
                        trail_bps=s.weighted([(4, 0), (2, 100), (2, 500), (1, 20), (1, 10_000),
                                              (1, 2**32 - 1)]),
                        # venue rules: matching (0/1, else invalid), pro_rata_min_alloc
                        flags=s.weighted([(6, 0), (4, 1), (1, 2), (1, 255)]),
                        strategy_id=s.pick([0, 1, 2, 5, 20]),
                        # triggers: trigger_source (0..2, else invalid)
                        exec_inst=s.weighted([(4, 0), (3, 1), (3, 2), (1, 3), (1, 255)]))
            if s.chance(30):
                field, bad = s.pick([
                    ("price", 0), ("price", -100), ("qty", 0), ("min_qty", 0),
                    ("min_qty", 2_000), ("display_qty", MAX_QTY + 1), ("stop_price", -1),
                    ("stop_price", MAX_PRICE + 1), ("expire_time_ns", 10_001),
                    ("order_id", 86_400), ("orig_cl_ord_id", 86_401), ("order_id", U64),
                    ("expire_time_ns", -1), ("display_qty", 0)])
                vals[field] = bad
            cmd.update(vals)
        elif op == AdminOp.SET_ACCOUNT:
            undefined = [i for i in range(self.cfg.max_accounts) if i not in self.model._accounts]
            cmd["account_id"] = (s.pick(undefined) if undefined and s.chance(30)
                                 else self.account_id())
            vals = dict(price=s.pick([LIMIT_MAX, 500_000, 2_000_000]),
                        qty=s.pick([MAX_QTY, 50, 200]),
                        stop_price=s.pick([LIMIT_MAX, 300_000]),
                        display_qty=s.pick([LIMIT_MAX, 100, 30]),
                        min_qty=s.pick([LIMIT_MAX, 1_000_000]),
                        expire_time_ns=s.pick([100, 50, 0]),
                        flags=s.weighted([(6, 1), (2, 0)]),
                        # venue rules: stp_mode 0..3 (above 3 invalid)
                        trail_bps=s.weighted([(4, 0), (2, 1), (2, 2), (2, 3), (1, 4),
                                              (1, 2**32 - 1)]))
            if s.chance(30):
                field, bad = s.pick([
                    ("price", -1), ("qty", LIMIT_MAX + 1), ("stop_price", -5),
                    ("display_qty", 2**63 - 1), ("min_qty", -1), ("expire_time_ns", 101),
                    ("expire_time_ns", -1), ("flags", 2), ("flags", 0xFFFF)])
                vals[field] = bad
            cmd.update(vals)
        elif op in (AdminOp.HALT_SYMBOL, AdminOp.RESUME_SYMBOL):
            halted = [i for i, r in sorted(self.model._symbols.items()) if r["halted"]]
            if op == AdminOp.RESUME_SYMBOL and halted and s.chance(70):
                cmd["symbol_id"] = s.pick(halted)
            else:
                cmd["symbol_id"] = self.symbol_id()
        elif op == "bad":
            cmd["symbol_id"] = self.symbol_id()
            cmd["price"] = s.int(0, 100)


def gen_commands(src, cfg: EngineConfig, n: int) -> list[dict]:
    g = _Gen(src, cfg)
    return [g.command() for _ in range(n)]


@st.composite
def engine_scenarios(draw, max_commands: int = 200):
    """(EngineConfig, [command dict]) with up to `max_commands` commands."""
    src = HypothesisSource(draw)
    cfg = gen_config(src)
    n = draw(st.integers(0, max_commands))
    return cfg, gen_commands(src, cfg, n)


def random_scenario(seed: int, n: int):
    """The same generator driven by random.Random(seed): for runs too long for hypothesis."""
    src = RandomSource(random.Random(seed))
    cfg = gen_config(src)
    return cfg, gen_commands(src, cfg, n)
