# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The business logic: one step function over commands, deterministic, nogil.

docs/engine.md is the contract, section by section; the banners below follow its order.  The
stages of an order's path read top to bottom in `on_new`: syntax → idempotency → semantic →
business → risk → capacity → accept → route to the venue → match → rest.
"""
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from libc.stdlib cimport calloc, malloc, realloc, free, qsort
from libc.string cimport memset, memmove, memcpy, memcmp

from oms._layout cimport *
from oms._hash cimport mix64
from oms._journal cimport JournalWriter
from oms._router cimport (RouteTable, VenueRef, Listing, SymbolRoute, ROUTER_MAX_VENUES,
                          VENUE_INTERNAL,
                          router_init, router_free, route_order, venue_type, router_has_venues,
                          router_snapshot_size, router_snapshot_write, router_snapshot_read)


# ============================================================================================
# -- SMALL HELPERS --
# ============================================================================================

cdef inline int64_t floor_div(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a / b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q

cdef inline int64_t floor_mod(int64_t a, int64_t b) noexcept nogil:
    return a - floor_div(a, b) * b

cdef int64_t INT64_MAX_VALUE = 0x7FFFFFFFFFFFFFFF

cdef inline int64_t iabs(int64_t a) noexcept nogil:
    return -a if a < 0 else a

cdef inline int64_t isign(int64_t a) noexcept nogil:
    return (a > 0) - (a < 0)

cdef inline uint64_t table_size(int64_t entries) noexcept nogil:
    # power of two, load factor at most 1/2: short probe sequences for linear probing
    cdef uint64_t n = 16
    while n < <uint64_t>(2 * entries):
        n <<= 1
    return n

cdef inline bint is_terminal(uint8_t status) noexcept nogil:
    return (status == ORD_STATUS_FILLED or status == ORD_STATUS_CANCELLED
            or status == ORD_STATUS_REJECTED or status == ORD_STATUS_EXPIRED)

cdef inline bint is_live(uint8_t status) noexcept nogil:
    return status == ORD_STATUS_ACCEPTED or status == ORD_STATUS_PARTIALLY_FILLED

cdef enum:
    VENUE_CANCEL_DEFERRED = 1   # Order.venue_flags: cancel as soon as the venue lets us

cdef inline bint is_cancellable(uint8_t status) noexcept nogil:
    """What the OMS's own cancels select: live orders, and orders at a venue that has not
    answered yet (ROUTED) or has a replace in flight (their cancel is deferred)."""
    return (is_live(status) or status == ORD_STATUS_ROUTED
            or status == ORD_STATUS_PENDING_REPLACE)


# ============================================================================================
# -- STATE MACHINE --
# ============================================================================================

cdef bint transition_allowed(uint8_t old, uint8_t new) noexcept nogil:
    if old == ORD_STATUS_PENDING:
        return new == ORD_STATUS_VALIDATED or new == ORD_STATUS_REJECTED
    if old == ORD_STATUS_VALIDATED:
        return new == ORD_STATUS_ROUTED or new == ORD_STATUS_REJECTED
    if old == ORD_STATUS_ROUTED:
        return new == ORD_STATUS_ACCEPTED or new == ORD_STATUS_REJECTED
    if old == ORD_STATUS_PARTIALLY_FILLED and new == ORD_STATUS_ACCEPTED:
        return True             # a venue busted its only fills
    if old == ORD_STATUS_ACCEPTED or old == ORD_STATUS_PARTIALLY_FILLED:
        return (new == ORD_STATUS_PARTIALLY_FILLED or new == ORD_STATUS_FILLED
                or new == ORD_STATUS_PENDING_CANCEL or new == ORD_STATUS_PENDING_REPLACE
                or new == ORD_STATUS_CANCELLED or new == ORD_STATUS_EXPIRED)
    if old == ORD_STATUS_PENDING_CANCEL:
        return (new == ORD_STATUS_CANCELLED or new == ORD_STATUS_ACCEPTED
                or new == ORD_STATUS_PARTIALLY_FILLED or new == ORD_STATUS_FILLED
                or new == ORD_STATUS_EXPIRED)
    if old == ORD_STATUS_PENDING_REPLACE:
        return (new == ORD_STATUS_ACCEPTED or new == ORD_STATUS_PARTIALLY_FILLED
                or new == ORD_STATUS_FILLED or new == ORD_STATUS_CANCELLED
                or new == ORD_STATUS_EXPIRED)
    return False

cdef inline void set_status(State *st, Order *o, uint8_t new) noexcept nogil:
    # Callers check the lifecycle before acting (and reject with a code), so a refusal here
    # means a bug in the engine; it is counted, never silently applied.
    if transition_allowed(o.status, new):
        o.status = new
    else:
        st.illegal_transitions += 1


# ============================================================================================
# -- INDEXES: order id -> slot, (session, ClOrdID) -> slot --
# Entries are slot + 1 (0 = empty); keys are read from the order itself, so a table entry is
# 4 bytes and 1M orders cost 16 MB of index, not 64.
# ============================================================================================

cdef inline uint64_t oid_hash(uint64_t order_id) noexcept nogil:
    # Mixed, not identity: ids are 1, 2, 3, ..., and identity hashing packs the live ids into
    # one run of consecutive entries, so every backward-shift delete (one per evicted order)
    # walked the whole run: measured 29x slower per order at 65,536 orders than at 16,384.
    return mix64(order_id)

cdef int32_t oid_get(State *st, uint64_t order_id) noexcept nogil:
    cdef uint64_t i = oid_hash(order_id) & st.oid_mask
    cdef int32_t e
    while True:
        e = st.oid_table[i]
        if e == 0:
            return -1
        if st.orders[e - 1].order_id == order_id:
            return e - 1
        i = (i + 1) & st.oid_mask

cdef void oid_put(State *st, int32_t slot) noexcept nogil:
    cdef uint64_t i = oid_hash(st.orders[slot].order_id) & st.oid_mask
    while st.oid_table[i] != 0:
        i = (i + 1) & st.oid_mask
    st.oid_table[i] = slot + 1

cdef void oid_del(State *st, uint64_t order_id) noexcept nogil:
    cdef uint64_t i = oid_hash(order_id) & st.oid_mask
    cdef uint64_t j, home
    cdef int32_t e
    while True:
        e = st.oid_table[i]
        if e == 0:
            return
        if st.orders[e - 1].order_id == order_id:
            break
        i = (i + 1) & st.oid_mask
    # backward-shift deletion keeps every probe sequence unbroken without tombstones
    j = i
    while True:
        j = (j + 1) & st.oid_mask
        e = st.oid_table[j]
        if e == 0:
            break
        home = oid_hash(st.orders[e - 1].order_id) & st.oid_mask
        if ((j - home) & st.oid_mask) >= ((j - i) & st.oid_mask):
            st.oid_table[i] = e
            i = j
    st.oid_table[i] = 0

# The ClOrdID table's entries are (hash tag << 32) | (slot + 1): a probe compares the tag and
# reads the order only on a tag match, so a lookup costs one cache miss, not one per probe.

cdef inline uint64_t clord_hash(uint32_t session_id, uint64_t cl_ord_id) noexcept nogil:
    return mix64(cl_ord_id ^ (<uint64_t>session_id * 0x9E3779B97F4A7C15ULL))

cdef inline uint64_t tag_of(uint64_t h) noexcept nogil:
    return (h >> 32) << 32

cdef int32_t clord_get(State *st, uint32_t session_id, uint64_t cl_ord_id) noexcept nogil:
    cdef uint64_t h = clord_hash(session_id, cl_ord_id)
    cdef uint64_t tag = tag_of(h)
    cdef uint64_t i = h & st.clord_mask
    cdef uint64_t e
    cdef Order *o
    while True:
        e = st.clord_table[i]
        if e == 0:
            return -1
        if tag_of(e) == tag:
            o = &st.orders[<uint32_t>e - 1]
            if o.cl_ord_id == cl_ord_id and o.session_id == session_id:
                return <uint32_t>e - 1
        i = (i + 1) & st.clord_mask

cdef void clord_put(State *st, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef uint64_t h = clord_hash(o.session_id, o.cl_ord_id)
    cdef uint64_t i = h & st.clord_mask
    while st.clord_table[i] != 0:
        i = (i + 1) & st.clord_mask
    st.clord_table[i] = tag_of(h) | <uint64_t>(slot + 1)

cdef void clord_del_slot(State *st, int32_t slot) noexcept nogil:
    """Remove the entry that points at `slot` (found by the order's current ClOrdID)."""
    cdef Order *o = &st.orders[slot]
    cdef uint64_t i = clord_hash(o.session_id, o.cl_ord_id) & st.clord_mask
    cdef uint64_t j, home, e
    while True:
        e = st.clord_table[i]
        if e == 0:
            return
        if <uint32_t>e == <uint32_t>(slot + 1):
            break
        i = (i + 1) & st.clord_mask
    # backward-shift deletion; the tag is the high half of the hash, so the home position of
    # an entry needs the full hash again: recompute it from its order
    j = i
    while True:
        j = (j + 1) & st.clord_mask
        e = st.clord_table[j]
        if e == 0:
            break
        o = &st.orders[<uint32_t>e - 1]
        home = clord_hash(o.session_id, o.cl_ord_id) & st.clord_mask
        if ((j - home) & st.clord_mask) >= ((j - i) & st.clord_mask):
            st.clord_table[i] = e
            i = j
    st.clord_table[i] = 0


# ============================================================================================
# -- IDEMPOTENCY KEYS --
# The FIFO is a ring of idem_capacity entries in insertion order; the table's entries are
# (hash tag << 32) | (FIFO position + 1) and compare keys through the FIFO entry only on a tag
# match.  Expiry pops at most two entries per NEW: no pauses.
# ============================================================================================

cdef inline uint64_t idem_hash(uint64_t hi, uint64_t lo) noexcept nogil:
    return mix64(hi ^ mix64(lo))

cdef inline uint64_t fifo_pos(State *st, uint64_t insertion) noexcept nogil:
    return insertion % <uint64_t>st.idem_capacity

cdef int64_t idem_find(State *st, uint64_t hi, uint64_t lo) noexcept nogil:
    """Table position of the key, or -1."""
    cdef uint64_t h = idem_hash(hi, lo)
    cdef uint64_t tag = tag_of(h)
    cdef uint64_t i = h & st.idem_mask
    cdef uint64_t e
    cdef IdemFifoEntry *f
    while True:
        e = st.idem_table[i]
        if e == 0:
            return -1
        if tag_of(e) == tag:
            f = &st.idem_fifo[<uint32_t>e - 1]
            if f.hi == hi and f.lo == lo:
                return <int64_t>i
        i = (i + 1) & st.idem_mask

cdef inline IdemFifoEntry *idem_entry_at(State *st, int64_t pos) noexcept nogil:
    return &st.idem_fifo[<uint32_t>st.idem_table[pos] - 1]

cdef void idem_delete_at(State *st, uint64_t i) noexcept nogil:
    cdef uint64_t j = i, home, e
    cdef IdemFifoEntry *f
    while True:
        j = (j + 1) & st.idem_mask
        e = st.idem_table[j]
        if e == 0:
            break
        f = &st.idem_fifo[<uint32_t>e - 1]
        home = idem_hash(f.hi, f.lo) & st.idem_mask
        if ((j - home) & st.idem_mask) >= ((j - i) & st.idem_mask):
            st.idem_table[i] = e
            i = j
    st.idem_table[i] = 0

cdef void idem_expire(State *st, int64_t now) noexcept nogil:
    cdef int popped = 0
    cdef IdemFifoEntry *f
    cdef int64_t pos
    cdef uint64_t head
    while popped < 2 and st.idem_first < st.idem_next:
        head = fifo_pos(st, st.idem_first)
        f = &st.idem_fifo[head]
        if key_live(f.time_ns, now):
            return
        # remove the key only if the table still points at this FIFO entry: a key re-used
        # after it expired was re-pointed at its newer entry
        pos = idem_find(st, f.hi, f.lo)
        if pos >= 0 and <uint32_t>st.idem_table[pos] == head + 1:
            idem_delete_at(st, <uint64_t>pos)
        st.idem_first += 1
        popped += 1

cdef inline bint key_live(int64_t stored, int64_t now) noexcept nogil:
    """stored + 24h > now, exactly, for any int64 times (the sum could overflow)."""
    if now < stored:
        return True
    return <uint64_t>now - <uint64_t>stored < <uint64_t>OMS_IDEMPOTENCY_TTL_NS

cdef inline bint idem_full(State *st) noexcept nogil:
    return st.idem_next - st.idem_first >= <uint64_t>st.idem_capacity

cdef void idem_store(State *st, int64_t pos, uint64_t hi, uint64_t lo, int64_t now,
                     uint64_t order_id) noexcept nogil:
    """Store a key (pos: its current table position if an expired entry exists, else -1)."""
    cdef uint64_t h = idem_hash(hi, lo)
    cdef uint64_t at = fifo_pos(st, st.idem_next)
    cdef IdemFifoEntry *f = &st.idem_fifo[at]
    cdef uint64_t i
    f.hi = hi
    f.lo = lo
    f.time_ns = now
    f.order_id = order_id
    st.idem_next += 1
    if pos >= 0:
        st.idem_table[pos] = tag_of(h) | (at + 1)
        return
    i = h & st.idem_mask
    while st.idem_table[i] != 0:
        i = (i + 1) & st.idem_mask
    st.idem_table[i] = tag_of(h) | (at + 1)


# ============================================================================================
# -- EVENTS --
# ============================================================================================

cdef Event *emit(State *st, Command *c, uint8_t kind) noexcept nogil:
    cdef EventSink *s = &st.sink
    cdef Event *ev
    cdef int64_t newcap
    cdef Event *grown
    if s.ring != NULL:
        # single producer: wait for the consumer to free a slot (backpressure, never a drop)
        while s.next_seq - oms_ring_consumed(s.ring) >= s.ring.capacity:
            oms_cpu_relax()
        ev = <Event *>oms_ring_slot(s.ring, s.next_seq)
    else:
        if s.count == s.cap:
            newcap = s.cap * 2 if s.cap else 1024
            grown = <Event *>realloc(s.buf, newcap * sizeof(Event))
            if grown == NULL:
                # out of memory in the direct driver: the event overwrites the last one
                s.count -= 1
            else:
                s.buf = grown
                s.cap = newcap
        ev = &s.buf[s.count]
    memset(ev, 0, sizeof(Event))
    st.event_seq += 1
    ev.seq = st.event_seq
    ev.cmd_seq = c.seq
    ev.time_ns = c.time_ns
    ev.kind = kind
    return ev

cdef inline void commit(State *st) noexcept nogil:
    cdef EventSink *s = &st.sink
    cdef Event *ev
    if st.journal != NULL:
        ev = <Event *>oms_ring_slot(s.ring, s.next_seq) if s.ring != NULL else &s.buf[s.count]
        oms_journal_append(st.journal, OMS_REC_EVENT, ev.seq, ev.time_ns, ev, sizeof(Event))
    if s.ring != NULL:
        oms_ring_publish(s.ring, s.next_seq)
        s.next_seq += 1
    else:
        s.count += 1

cdef void fill_from_order(Event *ev, Order *o) noexcept nogil:
    ev.order_id = o.order_id
    ev.cl_ord_id = o.cl_ord_id
    ev.orig_cl_ord_id = o.orig_cl_ord_id
    ev.session_id = o.session_id
    ev.account_id = o.account_id
    ev.symbol_id = o.symbol_id
    ev.side = o.side
    ev.ord_type = o.ord_type
    ev.tif = o.tif
    ev.price = o.price
    ev.qty = o.qty
    ev.cum_qty = o.cum_qty
    ev.leaves_qty = o.leaves_qty
    ev.avg_px = o.cum_notional / o.cum_qty if o.cum_qty > 0 else 0
    ev.version = o.version
    ev.status = o.status
    ev.strategy_id = o.strategy_id
    ev.stop_price = o.stop_price
    ev.trigger_px = o.trigger_px
    ev.venue_id = o.venue_id

cdef void fill_from_command(Event *ev, Command *c) noexcept nogil:
    ev.order_id = c.order_id
    ev.cl_ord_id = c.cl_ord_id
    ev.orig_cl_ord_id = c.orig_cl_ord_id
    ev.session_id = c.session_id
    ev.account_id = c.account_id
    ev.symbol_id = c.symbol_id
    ev.side = c.side
    ev.ord_type = c.ord_type
    ev.tif = c.tif
    ev.price = c.price
    ev.qty = c.qty
    ev.strategy_id = c.strategy_id
    ev.stop_price = c.stop_price
    ev.venue_id = c.venue_id

cdef void emit_exec(State *st, Command *c, Order *o, uint8_t exec_type,
                    uint16_t code) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_order(ev, o)
    ev.exec_type = exec_type
    ev.reject_code = code
    commit(st)

cdef void reject_new(State *st, Command *c, uint16_t code) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_command(ev, c)
    ev.order_id = 0
    ev.exec_type = EXEC_TYPE_REJECTED
    ev.status = ORD_STATUS_REJECTED
    ev.reject_code = code
    commit(st)

cdef void cancel_reject(State *st, Command *c, Order *o, uint8_t response_to,
                        uint16_t code) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_CANCEL_REJECT)
    if o != NULL:
        fill_from_order(ev, o)
        ev.cl_ord_id = c.cl_ord_id
        ev.orig_cl_ord_id = o.cl_ord_id
    else:
        fill_from_command(ev, c)
        ev.status = ORD_STATUS_REJECTED
    ev.response_to = response_to
    ev.reject_code = code
    commit(st)

cdef void admin_report(State *st, Command *c, uint8_t exec_type, uint16_t code,
                       uint64_t count) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_ADMIN_REPORT)
    fill_from_command(ev, c)
    ev.exec_type = exec_type
    ev.reject_code = code
    ev.trade_id = count
    commit(st)


# ============================================================================================
# -- ORDER STORE --
# ============================================================================================

cdef inline bint slot_available(State *st) noexcept nogil:
    return st.high_water < st.max_orders or st.closed_head >= 0

cdef int32_t alloc_slot(State *st) noexcept nogil:
    cdef int32_t slot
    cdef Order *o
    if st.high_water < st.max_orders:
        slot = <int32_t>st.high_water
        st.high_water += 1
        return slot
    slot = st.closed_head
    if slot < 0:
        return -1
    # evict the oldest terminal order: it stops being findable, its ClOrdID is free again
    o = &st.orders[slot]
    st.closed_head = o.next
    if st.closed_head < 0:
        st.closed_tail = -1
    else:
        st.orders[st.closed_head].prev = -1
    oid_del(st, o.order_id)
    clord_del_slot(st, slot)
    return slot

cdef void close_order(State *st, int32_t slot) noexcept nogil:
    """The order just became terminal (and is out of the book): queue it for eviction, and,
    if it ended unfilled, queue the cancels of its OCO peer and its child."""
    cdef Order *o = &st.orders[slot]
    cdef int32_t peer
    if o.tif == TIME_IN_FORCE_GTD and o.expire_time_ns > 0:
        st.expiry_live -= 1     # it has an entry in the expiry heap
    if o.status != ORD_STATUS_FILLED:
        if o.oco_order_id:
            # not a peer that traded: its first trade is what ended this order
            peer = oid_get(st, o.oco_order_id)
            if peer >= 0 and st.orders[peer].cum_qty == 0:
                queue_action(st, o.oco_order_id, REJECT_CODE_LINKED_ORDER_ENDED)
        if o.child_order_id:
            queue_action(st, o.child_order_id, REJECT_CODE_LINKED_ORDER_ENDED)
    o.next = -1
    o.prev = st.closed_tail
    if st.closed_tail >= 0:
        st.orders[st.closed_tail].next = slot
    else:
        st.closed_head = slot
    st.closed_tail = slot


# ============================================================================================
# -- RISK USAGE AND POSITIONS --
# ============================================================================================

cdef inline Position *position_of(State *st, uint32_t account_id, uint32_t symbol_id) noexcept nogil:
    return &st.positions[<int64_t>account_id * st.max_symbols + symbol_id]

cdef void usage_add(State *st, Order *o, int64_t sign) noexcept nogil:
    """Add (sign +1) or remove (-1) the order's current reservation from its account."""
    cdef Account *a = &st.accounts[o.account_id]
    cdef Position *p = position_of(st, o.account_id, o.symbol_id)
    a.open_notional += sign * o.reserved_notional
    p.open_notional += sign * o.reserved_notional
    if o.side == SIDE_BUY:
        p.open_buy_qty += sign * o.leaves_qty
    else:
        p.open_sell_qty += sign * o.leaves_qty

cdef inline void reserve(State *st, Order *o) noexcept nogil:
    """Recompute and add the reservation of an order whose leaves or price just changed."""
    o.reserved_notional = o.leaves_qty * o.risk_px
    usage_add(st, o, 1)

cdef void position_fill(State *st, Order *o, int64_t q, int64_t px) noexcept nogil:
    cdef Position *p = position_of(st, o.account_id, o.symbol_id)
    cdef Account *a = &st.accounts[o.account_id]
    cdef int64_t d = q if o.side == SIDE_BUY else -q
    cdef int64_t before = iabs(p.net_qty) * p.avg_px
    cdef int64_t closed, s
    if o.side == SIDE_BUY:
        p.bought_qty += q
    else:
        p.sold_qty += q
    if p.net_qty == 0 or isign(p.net_qty) == isign(d):
        p.avg_px = (p.avg_px * iabs(p.net_qty) + px * q) / (iabs(p.net_qty) + q)
        p.net_qty += d
    else:
        closed = q if q < iabs(p.net_qty) else iabs(p.net_qty)
        s = isign(p.net_qty)
        p.realized_pnl += (px - p.avg_px) * closed * s
        p.net_qty += isign(d) * closed
        if p.net_qty == 0:
            p.avg_px = 0
        if q > closed:
            p.net_qty = isign(d) * (q - closed)
            p.avg_px = px
    a.position_cost += iabs(p.net_qty) * p.avg_px - before

cdef uint16_t risk_check(State *st, uint32_t account_id, uint32_t symbol_id, uint8_t side,
                         int64_t total_qty, int64_t new_leaves, int64_t px,
                         Order *exclude) noexcept nogil:
    """Pre-trade checks (SEC 15c3-5 style).  `exclude`: an order whose reservation is
    replaced by this one (a replace), taken out of the usage first."""
    cdef Account *a = &st.accounts[account_id]
    cdef Position *p = position_of(st, account_id, symbol_id)
    cdef int64_t notional = new_leaves * px
    cdef int64_t open_notional = a.open_notional
    cdef int64_t sym_open_notional = p.open_notional
    cdef int64_t open_buy = p.open_buy_qty
    cdef int64_t open_sell = p.open_sell_qty
    if exclude != NULL:
        open_notional -= exclude.reserved_notional
        sym_open_notional -= exclude.reserved_notional
        if exclude.side == SIDE_BUY:
            open_buy -= exclude.leaves_qty
        else:
            open_sell -= exclude.leaves_qty
    if total_qty > a.max_order_qty:
        return REJECT_CODE_RISK_MAX_ORDER_QTY
    if notional > a.max_order_notional:
        return REJECT_CODE_RISK_MAX_ORDER_NOTIONAL
    if open_notional + notional > a.credit_limit:
        return REJECT_CODE_RISK_CREDIT_LIMIT
    if side == SIDE_BUY:
        if p.net_qty + open_buy + new_leaves > a.max_position:
            return REJECT_CODE_RISK_POSITION_LIMIT
    else:
        if open_sell + new_leaves - p.net_qty > a.max_position:
            return REJECT_CODE_RISK_POSITION_LIMIT
    if a.position_cost + open_notional + notional > a.gross_limit:
        return REJECT_CODE_RISK_GROSS_EXPOSURE
    if ((iabs(p.net_qty) * p.avg_px + sym_open_notional + notional) * 100
            > a.gross_limit * a.concentration_pct):
        return REJECT_CODE_RISK_CONCENTRATION
    return 0


# ============================================================================================
# -- VALIDATION --
# ============================================================================================

cdef inline bint is_priced(uint8_t t) noexcept nogil:
    """Carries a limit price."""
    return (t == ORD_TYPE_LIMIT or t == ORD_TYPE_STOP_LIMIT
            or t == ORD_TYPE_LIMIT_IF_TOUCHED)

cdef inline bint is_stop_family(uint8_t t) noexcept nogil:
    """Held by the OMS until its trigger price is reached."""
    return t >= ORD_TYPE_STOP and t <= ORD_TYPE_TRAILING_STOP

cdef inline bint has_stop_price(uint8_t t) noexcept nogil:
    return t >= ORD_TYPE_STOP and t <= ORD_TYPE_LIMIT_IF_TOUCHED

cdef inline bint is_auction(uint8_t tif) noexcept nogil:
    return tif == TIME_IN_FORCE_AT_OPEN or tif == TIME_IN_FORCE_AT_CLOSE

cdef inline bint is_immediate(uint8_t tif) noexcept nogil:
    return tif == TIME_IN_FORCE_IOC or tif == TIME_IN_FORCE_FOK

cdef uint16_t syntax_check(State *st, Command *c) noexcept nogil:
    if c.cl_ord_id == 0:
        return REJECT_CODE_MISSING_CL_ORD_ID
    if c.side != SIDE_BUY and c.side != SIDE_SELL:
        return REJECT_CODE_INVALID_SIDE
    if c.ord_type < ORD_TYPE_MARKET or c.ord_type > ORD_TYPE_TRAILING_STOP:
        return REJECT_CODE_INVALID_ORD_TYPE
    if c.tif < TIME_IN_FORCE_DAY or c.tif > TIME_IN_FORCE_AT_CLOSE:
        return REJECT_CODE_INVALID_TIF
    if is_auction(c.tif) and c.ord_type != ORD_TYPE_MARKET and c.ord_type != ORD_TYPE_LIMIT:
        return REJECT_CODE_UNSUPPORTED_TIF
    if c.qty < 1 or c.qty > OMS_MAX_QTY:
        return REJECT_CODE_INVALID_QTY
    if is_priced(c.ord_type):
        if c.price < 1 or c.price > OMS_MAX_PRICE:
            return REJECT_CODE_INVALID_PRICE
    elif c.price != 0:
        return REJECT_CODE_INVALID_PRICE
    if has_stop_price(c.ord_type):
        if c.stop_price < 1 or c.stop_price > OMS_MAX_PRICE:
            return REJECT_CODE_INVALID_STOP_PRICE
    elif c.stop_price != 0:
        return REJECT_CODE_INVALID_STOP_PRICE
    if c.ord_type == ORD_TYPE_TRAILING_STOP:
        if not ((1 <= c.trail_amount <= OMS_MAX_PRICE and c.trail_bps == 0)
                or (c.trail_amount == 0 and 1 <= c.trail_bps <= 10000)):
            return REJECT_CODE_INVALID_TRAIL
    elif c.trail_amount != 0 or c.trail_bps != 0:
        return REJECT_CODE_INVALID_TRAIL
    if c.display_qty != 0 and not (1 <= c.display_qty < c.qty and is_priced(c.ord_type)
                                   and not is_immediate(c.tif) and not is_auction(c.tif)):
        return REJECT_CODE_INVALID_DISPLAY_QTY
    if c.min_qty < 0 or c.min_qty > c.qty or (c.min_qty != 0 and is_auction(c.tif)):
        return REJECT_CODE_INVALID_MIN_QTY
    if c.tif == TIME_IN_FORCE_GTD:
        if c.expire_time_ns <= c.time_ns:
            return REJECT_CODE_INVALID_EXPIRE_TIME
    elif c.expire_time_ns != 0:
        return REJECT_CODE_INVALID_EXPIRE_TIME
    if c.exec_inst & ~EXEC_INST_POST_ONLY:
        return REJECT_CODE_INVALID_EXEC_INST
    if (c.exec_inst & EXEC_INST_POST_ONLY) and (c.ord_type != ORD_TYPE_LIMIT
                                                or is_immediate(c.tif) or is_auction(c.tif)):
        return REJECT_CODE_INVALID_EXEC_INST
    if c.account_id >= st.max_accounts or not st.accounts[c.account_id].defined:
        return REJECT_CODE_UNKNOWN_ACCOUNT
    if c.symbol_id >= st.max_symbols or not st.symbols[c.symbol_id].defined:
        return REJECT_CODE_UNKNOWN_SYMBOL
    return 0

cdef uint16_t semantic_check(SymbolRef *s, uint8_t ord_type, int64_t price, int64_t qty,
                             int64_t stop_price, int64_t trail_amount, int64_t display_qty,
                             int64_t min_qty) noexcept nogil:
    if is_priced(ord_type) and price % s.tick_size != 0:
        return REJECT_CODE_PRICE_NOT_ON_TICK
    if stop_price != 0 and stop_price % s.tick_size != 0:
        return REJECT_CODE_PRICE_NOT_ON_TICK
    if trail_amount != 0 and trail_amount % s.tick_size != 0:
        return REJECT_CODE_PRICE_NOT_ON_TICK
    if qty % s.lot_size != 0:
        return REJECT_CODE_QTY_NOT_ON_LOT
    if display_qty != 0 and display_qty % s.lot_size != 0:
        return REJECT_CODE_QTY_NOT_ON_LOT
    if min_qty != 0 and min_qty % s.lot_size != 0:
        return REJECT_CODE_QTY_NOT_ON_LOT
    if qty < s.min_qty:
        return REJECT_CODE_QTY_BELOW_MIN
    if qty > s.max_qty:
        return REJECT_CODE_QTY_ABOVE_MAX
    if is_priced(ord_type):
        if (s.collar_bps > 0 and s.ref_price > 0
                and iabs(price - s.ref_price) * 10000 > s.ref_price * s.collar_bps):
            return REJECT_CODE_PRICE_OUTSIDE_COLLAR
    elif s.ref_price == 0:
        return REJECT_CODE_NO_REFERENCE_PRICE
    return 0

cdef uint16_t business_check(State *st, Account *a, SymbolRef *s, int64_t time_ns,
                             uint8_t tif) noexcept nogil:
    cdef int64_t sec
    cdef bint open_now
    if st.kill_switch:
        return REJECT_CODE_KILL_SWITCH_ACTIVE
    if not a.enabled:
        return REJECT_CODE_ACCOUNT_DISABLED
    if s.halted:
        return REJECT_CODE_SYMBOL_HALTED
    sec = floor_mod(floor_div(time_ns, OMS_NS_PER_SEC), 86400)
    open_now = s.open_sec <= sec < s.close_sec
    if tif == TIME_IN_FORCE_AT_OPEN:
        # for the next opening auction: taken while the session is closed
        return REJECT_CODE_NOT_IN_AUCTION_PHASE if open_now else 0
    if not open_now:
        return REJECT_CODE_MARKET_CLOSED
    return 0


# ============================================================================================
# -- VENUE: the simulated exchange's books and matching --
# ============================================================================================

cdef inline BookSide *book_side(State *st, uint32_t symbol_id, uint8_t side) noexcept nogil:
    return &st.books[<int64_t>symbol_id * 2 + (1 if side == SIDE_SELL else 0)]

cdef int32_t level_search(BookSide *b, int64_t price) noexcept nogil:
    """Index of the level at `price`, or -(insertion point) - 1."""
    cdef int64_t key = price * b.sign
    cdef int32_t lo = 0, hi = b.count, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if b.levels[mid].price * b.sign < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < b.count and b.levels[lo].price == price:
        return lo
    return -lo - 1

cdef void level_insert(State *st, Level *lv, int32_t slot) noexcept nogil:
    """Link the order into the level after every order of lower priority (new orders have
    the highest priority number, so this is an append unless a replace kept an old one)."""
    cdef Order *o = &st.orders[slot]
    cdef int32_t after = lv.tail
    while after >= 0 and st.orders[after].priority > o.priority:
        after = st.orders[after].prev
    o.prev = after
    if after >= 0:
        o.next = st.orders[after].next
        st.orders[after].next = slot
    else:
        o.next = lv.head
        lv.head = slot
    if o.next >= 0:
        st.orders[o.next].prev = slot
    else:
        lv.tail = slot

cdef void level_detach(State *st, Level *lv, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    if o.prev >= 0:
        st.orders[o.prev].next = o.next
    else:
        lv.head = o.next
    if o.next >= 0:
        st.orders[o.next].prev = o.prev
    else:
        lv.tail = o.prev
    o.prev = -1
    o.next = -1

cdef bint book_rest(State *st, int32_t slot) noexcept nogil:
    """Put the order into its price level by priority; False if the side has no room."""
    cdef Order *o = &st.orders[slot]
    cdef BookSide *b = book_side(st, o.symbol_id, o.side)
    cdef int32_t i = level_search(b, o.price)
    cdef Level *lv
    if i < 0:
        if b.count >= st.max_levels:
            return False
        i = -i - 1
        memmove(&b.levels[i + 1], &b.levels[i], (b.count - i) * sizeof(Level))
        b.count += 1
        lv = &b.levels[i]
        lv.price = o.price
        lv.qty = 0
        lv.head = -1
        lv.tail = -1
        lv.count = 0
        lv._pad = 0             # snapshots copy levels whole: no stale bytes
        book_changed(st, o.symbol_id)
    lv = &b.levels[i]
    if o.display_qty > 0:
        o.display_leaves = o.display_qty if o.display_qty < o.leaves_qty else o.leaves_qty
    level_insert(st, lv, slot)
    lv.count += 1
    lv.qty += o.leaves_qty
    return True

cdef void book_unlink(State *st, BookSide *b, int32_t li, int32_t slot,
                      int64_t qty) noexcept nogil:
    """Take the order out of level `li` (whose qty it held `qty` of); drop an empty level."""
    cdef Level *lv = &b.levels[li]
    level_detach(st, lv, slot)
    lv.count -= 1
    lv.qty -= qty
    if lv.count == 0:
        memmove(&b.levels[li], &b.levels[li + 1], (b.count - li - 1) * sizeof(Level))
        b.count -= 1
        book_changed(st, st.orders[slot].symbol_id)

cdef void book_remove(State *st, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef BookSide *b = book_side(st, o.symbol_id, o.side)
    cdef int32_t li = level_search(b, o.price)
    if li >= 0:
        book_unlink(st, b, li, slot, o.leaves_qty)

# -- the OMS's held orders: six trigger groups per symbol, each a binary min-heap ------------
# (docs/engine.md, Triggers).  Keys are oriented so that every group is a min-heap whose top
# is the order its reference reaches first: a trade or a book change looks at six tops, not
# at every held order.

cdef enum:
    GROUP_BUY_STOP = 0
    GROUP_BUY_TOUCH = 1
    GROUP_BUY_TRAIL = 2
    GROUP_SELL_STOP = 3
    GROUP_SELL_TOUCH = 4
    GROUP_SELL_TRAIL = 5
    N_GROUPS = 6

cdef inline int trigger_group(uint8_t side, uint8_t ord_type) noexcept nogil:
    cdef int g = GROUP_BUY_STOP if side == SIDE_BUY else GROUP_SELL_STOP
    if ord_type == ORD_TYPE_TRAILING_STOP:
        return g + 2
    if ord_type == ORD_TYPE_MARKET_IF_TOUCHED or ord_type == ORD_TYPE_LIMIT_IF_TOUCHED:
        return g + 1
    return g

cdef inline bint fires_upward(int g) noexcept nogil:
    """The group fires when the reference reaches the trigger from below (ref >= trigger)."""
    return g == GROUP_BUY_STOP or g == GROUP_BUY_TRAIL or g == GROUP_SELL_TOUCH

cdef inline int64_t group_key(int g, int64_t trigger_px) noexcept nogil:
    return trigger_px if fires_upward(g) else -trigger_px

cdef inline bint entry_before(HeapEntry *a, HeapEntry *b) noexcept nogil:
    return a.key < b.key or (a.key == b.key and a.order_id < b.order_id)

cdef inline void heap_place(State *st, Heap *h, int32_t i, HeapEntry e) noexcept nogil:
    h.e[i] = e
    st.orders[e.slot].trigger_heap_pos = i

cdef void heap_sift_up(State *st, Heap *h, int32_t i) noexcept nogil:
    cdef HeapEntry e = h.e[i]
    cdef int32_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not entry_before(&e, &h.e[parent]):
            break
        heap_place(st, h, i, h.e[parent])
        i = parent
    heap_place(st, h, i, e)

cdef void heap_sift_down(State *st, Heap *h, int32_t i) noexcept nogil:
    cdef HeapEntry e = h.e[i]
    cdef int32_t child
    while True:
        child = 2 * i + 1
        if child >= h.count:
            break
        if child + 1 < h.count and entry_before(&h.e[child + 1], &h.e[child]):
            child += 1
        if not entry_before(&h.e[child], &e):
            break
        heap_place(st, h, i, h.e[child])
        i = child
    heap_place(st, h, i, e)

cdef inline void heap_fix(State *st, Heap *h, int32_t i) noexcept nogil:
    """The entry at i changed its key (or replaced a removed one): restore heap order."""
    if i > 0 and entry_before(&h.e[i], &h.e[(i - 1) >> 1]):
        heap_sift_up(st, h, i)
    else:
        heap_sift_down(st, h, i)

cdef bint heap_reserve(Heap *h, int32_t need) noexcept nogil:
    cdef int32_t cap
    cdef HeapEntry *grown
    if need <= h.cap:
        return True
    cap = h.cap * 2 if h.cap else 16
    while cap < need:
        cap *= 2
    grown = <HeapEntry *>realloc(h.e, cap * sizeof(HeapEntry))
    if grown == NULL:
        return False
    h.e = grown
    h.cap = cap
    return True

cdef inline void mark_dirty(State *st, uint32_t sym) noexcept nogil:
    """The symbol's references or held orders changed: examine it when the command settles."""
    cdef TriggerSet *ts = &st.triggers[sym]
    if not ts.dirty:
        ts.dirty = 1
        st.dirty_list[st.dirty_count] = <int32_t>sym
        st.dirty_count += 1

cdef inline void book_changed(State *st, uint32_t sym) noexcept nogil:
    """A price level appeared or went: the best bid or ask may have moved."""
    if st.symbols[sym].trigger_source != TRIGGER_SOURCE_LAST:
        mark_dirty(st, sym)

cdef int64_t trigger_reference(State *st, uint32_t sym, uint8_t side) noexcept nogil:
    """The price a held order of this side compares its trigger with; 0 when absent."""
    cdef SymbolRef *s = &st.symbols[sym]
    cdef BookSide *bids
    cdef BookSide *asks
    cdef BookSide *b
    if s.trigger_source == TRIGGER_SOURCE_LAST:
        return s.ref_price
    bids = book_side(st, sym, SIDE_BUY)
    asks = book_side(st, sym, SIDE_SELL)
    if s.trigger_source == TRIGGER_SOURCE_BID_ASK:
        b = asks if side == SIDE_BUY else bids
        return b.levels[b.count - 1].price if b.count > 0 else 0
    if bids.count == 0 or asks.count == 0:
        return 0
    return (bids.levels[bids.count - 1].price + asks.levels[asks.count - 1].price) // 2

cdef bint held_make_room(State *st, Command *c) noexcept nogil:
    """Room in the heap a NEW stop-family order will join."""
    cdef Heap *h = &st.triggers[c.symbol_id].groups[trigger_group(c.side, c.ord_type)]
    if heap_reserve(h, h.count + 1):
        return True
    st.alloc_failures += 1
    return False

cdef bint held_add(State *st, int32_t slot) noexcept nogil:
    """Hold the order for its trigger (`trigger_px` set); False if its heap cannot grow."""
    cdef Order *o = &st.orders[slot]
    cdef int g = trigger_group(o.side, o.ord_type)
    cdef Heap *h = &st.triggers[o.symbol_id].groups[g]
    cdef HeapEntry e
    if not heap_reserve(h, h.count + 1):
        st.alloc_failures += 1
        return False
    o.held = HELD_FOR_TRIGGER
    e.key = group_key(g, o.trigger_px)
    e.order_id = o.order_id
    e.slot = slot
    e._pad = 0
    h.count += 1
    heap_place(st, h, h.count - 1, e)
    heap_sift_up(st, h, h.count - 1)
    mark_dirty(st, o.symbol_id)
    return True

cdef void held_remove(State *st, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef Heap *h = &st.triggers[o.symbol_id].groups[trigger_group(o.side, o.ord_type)]
    cdef int32_t i = o.trigger_heap_pos
    h.count -= 1
    if i != h.count:
        heap_place(st, h, i, h.e[h.count])
        heap_fix(st, h, i)
    o.held = HELD_NO

cdef void held_rekey(State *st, int32_t slot) noexcept nogil:
    """A held order's trigger_px changed (a replace with a new stop price)."""
    cdef Order *o = &st.orders[slot]
    cdef int g = trigger_group(o.side, o.ord_type)
    cdef Heap *h = &st.triggers[o.symbol_id].groups[g]
    h.e[o.trigger_heap_pos].key = group_key(g, o.trigger_px)
    heap_fix(st, h, o.trigger_heap_pos)
    mark_dirty(st, o.symbol_id)

cdef void move_trailing(State *st, Heap *h, bint sell, int64_t ref) noexcept nogil:
    """Move every trailing stop of the group towards `ref`.  A move only lowers a key, so an
    entry sifts up past entries already visited: one pass in array order sees each once."""
    cdef int32_t i
    cdef Order *o
    cdef int64_t offset, moved
    for i in range(h.count):
        o = &st.orders[h.e[i].slot]
        offset = o.trail_amount if o.trail_amount else ref * o.trail_bps // 10000
        if sell:
            moved = ref - offset
            if moved <= o.trigger_px:
                continue
            h.e[i].key = -moved
        else:
            moved = ref + offset
            if moved >= o.trigger_px:
                continue
            h.e[i].key = moved
        o.trigger_px = moved
        heap_sift_up(st, h, i)

cdef int32_t examine(State *st, uint32_t sym) noexcept nogil:
    """Move the symbol's trailing stops, then return the slot of its next order to trigger:
    of its groups' tops that fire, the lowest order id (-1: none)."""
    cdef TriggerSet *ts = &st.triggers[sym]
    cdef int64_t buy_ref, sell_ref, ref
    cdef int g
    cdef Heap *h
    cdef int32_t best = -1
    cdef uint64_t best_id = 0
    for g in range(N_GROUPS):
        if ts.groups[g].count:
            break
    else:
        return -1
    buy_ref = trigger_reference(st, sym, SIDE_BUY)
    sell_ref = trigger_reference(st, sym, SIDE_SELL)
    # moving at a reference on the near side of the mark would change nothing (the move is
    # monotonic in the reference): skip the pass
    if sell_ref > 0 and sell_ref > ts.sell_trail_mark:
        move_trailing(st, &ts.groups[GROUP_SELL_TRAIL], True, sell_ref)
        ts.sell_trail_mark = sell_ref
    if buy_ref > 0 and buy_ref < ts.buy_trail_mark:
        move_trailing(st, &ts.groups[GROUP_BUY_TRAIL], False, buy_ref)
        ts.buy_trail_mark = buy_ref
    for g in range(N_GROUPS):
        h = &ts.groups[g]
        ref = buy_ref if g < GROUP_SELL_STOP else sell_ref
        if h.count == 0 or ref <= 0:
            continue
        if h.e[0].key <= (ref if fires_upward(g) else -ref):
            if best < 0 or h.e[0].order_id < best_id:
                best = h.e[0].slot
                best_id = h.e[0].order_id
    return best

# -- orders waiting for an auction: a list per symbol and auction, in order id order ---------

cdef inline int auction_of(uint8_t tif) noexcept nogil:
    return 0 if tif == TIME_IN_FORCE_AT_OPEN else 1

cdef void auction_add(State *st, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef TriggerSet *ts = &st.triggers[o.symbol_id]
    cdef int a = auction_of(o.tif)
    o.held = HELD_FOR_AUCTION
    o.next = -1
    o.prev = ts.auction_tail[a]
    if o.prev >= 0:
        st.orders[o.prev].next = slot
    else:
        ts.auction_head[a] = slot
    ts.auction_tail[a] = slot

cdef void auction_remove(State *st, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef TriggerSet *ts = &st.triggers[o.symbol_id]
    cdef int a = auction_of(o.tif)
    if o.prev >= 0:
        st.orders[o.prev].next = o.next
    else:
        ts.auction_head[a] = o.next
    if o.next >= 0:
        st.orders[o.next].prev = o.prev
    else:
        ts.auction_tail[a] = o.prev
    o.prev = -1
    o.next = -1
    o.held = HELD_NO

cdef inline void unlink_order(State *st, int32_t slot) noexcept nogil:
    """Out of wherever a live order sits: the OMS's held set, waiting for its parent or its
    auction, or the venue's book."""
    cdef Order *o = &st.orders[slot]
    if o.held == HELD_FOR_TRIGGER:
        held_remove(st, slot)
    elif o.held == HELD_FOR_PARENT:
        o.held = HELD_NO
    elif o.held == HELD_FOR_AUCTION:
        auction_remove(st, slot)
    else:
        book_remove(st, slot)

# -- order expiry: a min-heap of (expire_ns, order id), lazily deleted ----------------------
# Orders end in many ways; rather than find and remove their entries each time, a TIMER
# skips entries whose order is no longer live.  Stale entries are purged when the array
# would otherwise grow past twice the live ones.

cdef inline bint expiry_before(ExpiryEntry *a, ExpiryEntry *b) noexcept nogil:
    return a.expire_ns < b.expire_ns or (a.expire_ns == b.expire_ns and a.order_id < b.order_id)

cdef void expiry_sift_down(ExpiryEntry *e, int64_t n, int64_t i) noexcept nogil:
    cdef ExpiryEntry x = e[i]
    cdef int64_t child
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and expiry_before(&e[child + 1], &e[child]):
            child += 1
        if not expiry_before(&e[child], &x):
            break
        e[i] = e[child]
        i = child
    e[i] = x

cdef void expiry_compact(State *st) noexcept nogil:
    cdef int64_t i, n = 0
    cdef int32_t slot
    cdef Order *o
    for i in range(st.expiry_count):
        slot = oid_get(st, st.expiry[i].order_id)
        if slot >= 0:
            o = &st.orders[slot]
            if is_live(o.status) and o.expire_time_ns == st.expiry[i].expire_ns:
                st.expiry[n] = st.expiry[i]
                n += 1
    st.expiry_count = n
    i = n // 2 - 1
    while i >= 0:
        expiry_sift_down(st.expiry, n, i)
        i -= 1

cdef inline void expiry_make_room(State *st) noexcept nogil:
    """Purge stale entries once they are as many as the live ones (plus slack): O(1) per
    push, amortized, and the array (preallocated at twice the order store plus the slack)
    never fills."""
    if st.expiry_count >= 2 * st.expiry_live + 1024:
        expiry_compact(st)

cdef void expiry_push(State *st, Order *o) noexcept nogil:
    cdef int64_t i, parent
    cdef ExpiryEntry x
    x.expire_ns = o.expire_time_ns
    x.order_id = o.order_id
    i = st.expiry_count
    st.expiry_count += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not expiry_before(&x, &st.expiry[parent]):
            break
        st.expiry[i] = st.expiry[parent]
        i = parent
    st.expiry[i] = x
    st.expiry_live += 1

cdef ExpiryEntry expiry_pop(State *st) noexcept nogil:
    cdef ExpiryEntry top = st.expiry[0]
    st.expiry_count -= 1
    if st.expiry_count > 0:
        st.expiry[0] = st.expiry[st.expiry_count]
        expiry_sift_down(st.expiry, st.expiry_count, 0)
    return top

# -- contingent orders: actions queued during a command, carried out when it settles --------

cdef void queue_action(State *st, uint64_t order_id, uint16_t code) noexcept nogil:
    """code: the reject code of a cancel; 0 = activate."""
    cdef int64_t cap
    cdef ContingentAction *grown
    if st.queue_count >= st.queue_cap:
        cap = st.queue_cap * 2 if st.queue_cap else 64
        grown = <ContingentAction *>realloc(st.queue, cap * sizeof(ContingentAction))
        if grown == NULL:
            st.alloc_failures += 1
            return
        st.queue = grown
        st.queue_cap = cap
    st.queue[st.queue_count].order_id = order_id
    st.queue[st.queue_count].code = code
    st.queue[st.queue_count]._pad0 = 0
    st.queue[st.queue_count]._pad1 = 0
    st.queue_count += 1

cdef void fill_order(State *st, Order *o, int64_t q, int64_t px, int64_t now) noexcept nogil:
    cdef bint first = o.cum_qty == 0
    usage_add(st, o, -1)
    o.cum_qty += q
    o.leaves_qty -= q
    if o.leaves_qty < 0:
        o.leaves_qty = 0        # a venue overfilled (VENUE_EXEC FILL): book what it says
    o.cum_notional += q * px
    o.version += 1
    o.updated_ns = now
    if o.leaves_qty == 0:
        set_status(st, o, ORD_STATUS_FILLED)
    elif o.status != ORD_STATUS_PENDING_CANCEL and o.status != ORD_STATUS_PENDING_REPLACE:
        # (a fill while a venue has a cancel or replace of the order keeps it pending)
        set_status(st, o, ORD_STATUS_PARTIALLY_FILLED)
    if o.leaves_qty == 0:
        o.reserved_notional = 0
    else:
        reserve(st, o)
    position_fill(st, o, q, px)
    if first and o.oco_order_id:
        queue_action(st, o.oco_order_id, REJECT_CODE_OCO_PEER_TRADED)
    if o.leaves_qty == 0 and o.child_order_id:
        queue_action(st, o.child_order_id, 0)

cdef inline bint crosses(uint8_t side, int64_t level_price, bint has_limit,
                         int64_t limit) noexcept nogil:
    if not has_limit:
        return True
    return level_price <= limit if side == SIDE_BUY else level_price >= limit

cdef int64_t available_qty(State *st, Order *o, bint has_limit, int64_t limit,
                           int64_t enough) noexcept nogil:
    """Opposite quantity that crosses `limit` (counted up to `enough`), leaving out the
    aggressor's own account when it has self-trade prevention."""
    cdef BookSide *opp = book_side(st, o.symbol_id, SIDE_SELL if o.side == SIDE_BUY else SIDE_BUY)
    cdef int32_t i = opp.count - 1, rslot
    cdef int64_t total = 0
    cdef bint stp = st.accounts[o.account_id].stp_mode != STP_MODE_NONE
    while i >= 0 and total < enough and crosses(o.side, opp.levels[i].price, has_limit, limit):
        if not stp:
            total += opp.levels[i].qty
        else:
            rslot = opp.levels[i].head
            while rslot >= 0:
                if st.orders[rslot].account_id != o.account_id:
                    total += st.orders[rslot].leaves_qty
                rslot = st.orders[rslot].next
        i -= 1
    return total

cdef void emit_trade(State *st, Command *c, Order *o, int64_t q, int64_t px) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_order(ev, o)
    ev.exec_type = EXEC_TYPE_TRADE
    ev.last_px = px
    ev.last_qty = q
    ev.trade_id = st.next_trade_id
    commit(st)

cdef void execute_trade(State *st, Command *c, int32_t slot, int32_t rslot, int64_t q,
                        int64_t px) noexcept nogil:
    """One match of q at px: both orders filled (aggressor first), the reference price moved,
    a TRADE report for each.  The caller takes the resting order out of its level."""
    cdef Order *o = &st.orders[slot]
    cdef Order *r = &st.orders[rslot]
    fill_order(st, o, q, px, c.time_ns)
    fill_order(st, r, q, px, c.time_ns)
    st.symbols[o.symbol_id].ref_price = px
    mark_dirty(st, o.symbol_id)
    emit_trade(st, c, o, q, px)
    emit_trade(st, c, r, q, px)
    st.next_trade_id += 1
    # the aggressor's fill is applied first, so when both fill it is terminal first
    if o.leaves_qty == 0:
        close_order(st, slot)

cdef void iceberg_consumed(State *st, Level *lv, int32_t rslot, int64_t q) noexcept nogil:
    """q of a resting iceberg's visible part is gone: refresh it at the back when empty."""
    cdef Order *r = &st.orders[rslot]
    r.display_leaves -= q
    if r.display_leaves == 0 and r.leaves_qty > 0:
        r.display_leaves = r.display_qty if r.display_qty < r.leaves_qty else r.leaves_qty
        r.priority = st.next_priority
        st.next_priority += 1
        level_detach(st, lv, rslot)
        level_insert(st, lv, rslot)

cdef void stp_reduce(State *st, Command *c, int32_t slot, int64_t d,
                     BookSide *book) noexcept nogil:
    """Self-trade prevention by decrement: the order loses d of its size.  `book` is the
    opposite side when the order rests at the head of its best level (NULL: the aggressor)."""
    cdef Order *o = &st.orders[slot]
    cdef Level *lv
    usage_add(st, o, -1)
    o.qty -= d
    o.leaves_qty -= d
    o.version += 1
    o.updated_ns = c.time_ns
    if o.leaves_qty == 0:
        o.reserved_notional = 0
        if book != NULL:
            if o.display_qty > 0:
                o.display_leaves -= d
            book_unlink(st, book, book.count - 1, slot, d)
        set_status(st, o, ORD_STATUS_CANCELLED)
        close_order(st, slot)
        emit_exec(st, c, o, EXEC_TYPE_CANCELED, REJECT_CODE_SELF_TRADE_PREVENTED)
    else:
        reserve(st, o)
        if book != NULL:
            lv = &book.levels[book.count - 1]
            lv.qty -= d
            if o.display_qty > 0:
                iceberg_consumed(st, lv, slot, d)
        emit_exec(st, c, o, EXEC_TYPE_RESTATED, REJECT_CODE_SELF_TRADE_PREVENTED)

cdef bint match(State *st, Command *c, int32_t slot, bint has_limit,
                int64_t limit) noexcept nogil:
    """Trade the aggressor in `slot` against the opposite side, best level first, up to
    `limit`; returns whether it traded."""
    cdef Order *o = &st.orders[slot]
    cdef BookSide *opp = book_side(st, o.symbol_id, SIDE_SELL if o.side == SIDE_BUY else SIDE_BUY)
    cdef uint8_t stp = st.accounts[o.account_id].stp_mode
    cdef Level *lv
    cdef int32_t rslot
    cdef Order *r
    cdef int64_t q, visible
    cdef bint traded = False
    if st.symbols[o.symbol_id].matching == MATCHING_PRO_RATA:
        return match_pro_rata(st, c, slot, has_limit, limit, stp)
    while o.leaves_qty > 0 and opp.count > 0:
        lv = &opp.levels[opp.count - 1]
        if not crosses(o.side, lv.price, has_limit, limit):
            break
        rslot = lv.head
        r = &st.orders[rslot]
        visible = r.display_leaves if r.display_qty > 0 else r.leaves_qty
        if stp != STP_MODE_NONE and r.account_id == o.account_id:
            if stp == STP_MODE_CANCEL_NEWEST:
                cancel_remainder(st, c, slot, REJECT_CODE_SELF_TRADE_PREVENTED)
                break
            if stp == STP_MODE_CANCEL_OLDEST:
                cancel_order(st, c, rslot, REJECT_CODE_SELF_TRADE_PREVENTED, False)
                continue
            q = o.leaves_qty if o.leaves_qty < visible else visible
            stp_reduce(st, c, slot, q, NULL)
            stp_reduce(st, c, rslot, q, opp)
            continue
        q = o.leaves_qty if o.leaves_qty < visible else visible
        execute_trade(st, c, slot, rslot, q, lv.price)
        traded = True
        if r.leaves_qty == 0:
            if r.display_qty > 0:
                r.display_leaves -= q
            book_unlink(st, opp, opp.count - 1, rslot, q)
            close_order(st, rslot)
            continue
        lv.qty -= q
        if r.display_qty > 0:
            iceberg_consumed(st, lv, rslot, q)
    return traded

cdef bint match_pro_rata(State *st, Command *c, int32_t slot, bint has_limit, int64_t limit,
                         uint8_t stp) noexcept nogil:
    """Pro-rata: each crossing level is shared out in proportion to the orders' leaves."""
    cdef Order *o = &st.orders[slot]
    cdef BookSide *opp = book_side(st, o.symbol_id, SIDE_SELL if o.side == SIDE_BUY else SIDE_BUY)
    cdef int64_t min_alloc = st.symbols[o.symbol_id].pro_rata_min_alloc
    cdef int32_t li = opp.count - 1, rslot
    cdef int64_t eligible, total, q, a, rest, extra, i, n, px
    cdef Level *lv
    cdef Order *r
    cdef bint traded = False
    if not ensure_scratch(st):
        return False
    while o.leaves_qty > 0 and li >= 0:
        lv = &opp.levels[li]
        if not crosses(o.side, lv.price, has_limit, limit):
            break
        px = lv.price
        n = 0
        eligible = 0
        rslot = lv.head
        while rslot >= 0:
            r = &st.orders[rslot]
            if not (stp != STP_MODE_NONE and r.account_id == o.account_id):
                st.scratch[2 * n] = <uint64_t>rslot
                n += 1
                eligible += r.leaves_qty
            rslot = r.next
        if eligible == 0:
            li -= 1
            continue
        q = o.leaves_qty if o.leaves_qty < eligible else eligible
        total = 0
        for i in range(n):
            r = &st.orders[st.scratch[2 * i]]
            a = q * r.leaves_qty // eligible
            if a < min_alloc:
                a = 0
            st.scratch[2 * i + 1] = <uint64_t>a
            total += a
        rest = q - total
        for i in range(n):
            if rest == 0:
                break
            r = &st.orders[st.scratch[2 * i]]
            extra = r.leaves_qty - <int64_t>st.scratch[2 * i + 1]
            if extra > rest:
                extra = rest
            st.scratch[2 * i + 1] += <uint64_t>extra
            rest -= extra
        for i in range(n):
            a = <int64_t>st.scratch[2 * i + 1]
            if a == 0:
                continue
            rslot = <int32_t>st.scratch[2 * i]
            r = &st.orders[rslot]
            execute_trade(st, c, slot, rslot, a, px)
            traded = True
            if r.display_qty > 0:
                r.display_leaves = r.display_qty if r.display_qty < r.leaves_qty else r.leaves_qty
            if r.leaves_qty == 0:
                book_unlink(st, opp, li, rslot, a)     # may drop the level: last use of lv
                close_order(st, rslot)
            else:
                lv.qty -= a
        li -= 1
    return traded

cdef void end_order(State *st, Command *c, int32_t slot, uint8_t status) noexcept nogil:
    """The order ends with leaves left (cancelled or expired), already out of the book or
    the held set: release its reservation and queue it for eviction."""
    cdef Order *o = &st.orders[slot]
    usage_add(st, o, -1)
    o.leaves_qty = 0
    o.reserved_notional = 0
    o.version += 1
    o.updated_ns = c.time_ns
    set_status(st, o, status)
    close_order(st, slot)

cdef void cancel_remainder(State *st, Command *c, int32_t slot, uint16_t code) noexcept nogil:
    """IOC/market remainder, or a remainder with no room in the book: cancel it."""
    end_order(st, c, slot, ORD_STATUS_CANCELLED)
    emit_exec(st, c, &st.orders[slot], EXEC_TYPE_CANCELED, code)

cdef void work_order(State *st, Command *c, int32_t slot, bint entry) noexcept nogil:
    """The order is live and out of the book: its aggressive phase (limit, market
    protection, FOK and minimum quantity on entry), then it rests or its rest is cancelled."""
    cdef Order *o = &st.orders[slot]
    cdef SymbolRef *s = &st.symbols[o.symbol_id]
    cdef bint market_like = not is_priced(o.ord_type)
    cdef bint has_limit = not market_like
    cdef int64_t limit = o.price
    cdef int64_t band, need
    cdef bint traded = False
    if o.venue_id != VENUE_INTERNAL:
        send_new(st, c, slot)
        return
    if market_like and s.market_protection_bps > 0:
        band = s.ref_price * s.market_protection_bps // 10000
        has_limit = True
        limit = s.ref_price + band if o.side == SIDE_BUY else s.ref_price - band
    if entry and o.tif == TIME_IN_FORCE_FOK:
        if available_qty(st, o, has_limit, limit, o.leaves_qty) < o.leaves_qty:
            cancel_remainder(st, c, slot, 0)
            return
    need = o.min_qty if o.min_qty < o.leaves_qty else o.leaves_qty
    if not entry or o.min_qty == 0 or available_qty(st, o, has_limit, limit, need) >= need:
        traded = match(st, c, slot, has_limit, limit)
    if o.leaves_qty > 0:
        if market_like or is_immediate(o.tif):
            cancel_remainder(st, c, slot, 0)
        elif not book_rest(st, slot):
            cancel_remainder(st, c, slot, REJECT_CODE_BOOK_FULL)

cdef bint arm_trigger(State *st, Order *o) noexcept nogil:
    """Set a stop-family order's trigger_px: its stop price, or for a trailing stop the offset
    from its side's reference; False when that reference is absent."""
    cdef TriggerSet *ts
    cdef int64_t ref
    o.trigger_px = o.stop_price
    if o.ord_type != ORD_TYPE_TRAILING_STOP:
        return True
    ref = trigger_reference(st, o.symbol_id, o.side)
    if ref <= 0:
        return False
    o.trigger_px = initial_trail(o, ref)
    # it has been moved at `ref`: keep the marks' promise (see TriggerSet)
    ts = &st.triggers[o.symbol_id]
    if o.side == SIDE_SELL:
        if ref < ts.sell_trail_mark:
            ts.sell_trail_mark = ref
    elif ref > ts.buy_trail_mark:
        ts.buy_trail_mark = ref
    return True

cdef void start_order(State *st, Command *c, int32_t slot, bint armed) noexcept nogil:
    """An accepted (or just activated) order goes to work: a stop-family order is held for
    its trigger (`armed`: its trigger_px is already set), any other order is worked as on
    entry."""
    cdef Order *o = &st.orders[slot]
    if is_auction(o.tif) and o.venue_id == VENUE_INTERNAL:
        auction_add(st, slot)
        return
    if not is_stop_family(o.ord_type):
        work_order(st, c, slot, True)
        return
    if not armed and not arm_trigger(st, o):
        # only on activation: a NEW without a reference is rejected before this
        cancel_remainder(st, c, slot, REJECT_CODE_NO_REFERENCE_PRICE)
        return
    if not held_add(st, slot):
        cancel_remainder(st, c, slot, REJECT_CODE_ORDER_STORE_FULL)

cdef void trigger_order(State *st, Command *c, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    held_remove(st, slot)
    o.priority = st.next_priority
    st.next_priority += 1
    o.version += 1
    o.updated_ns = c.time_ns
    emit_exec(st, c, o, EXEC_TYPE_TRIGGERED, 0)
    work_order(st, c, slot, True)

cdef void activate(State *st, Command *c, int32_t slot) noexcept nogil:
    """A waiting child goes live: its parent filled."""
    cdef Order *o = &st.orders[slot]
    o.held = HELD_NO
    o.priority = st.next_priority
    st.next_priority += 1
    o.version += 1
    o.updated_ns = c.time_ns
    emit_exec(st, c, o, EXEC_TYPE_TRIGGERED, 0)
    start_order(st, c, slot, False)

cdef void carry_out(State *st, Command *c, uint64_t order_id, uint16_t code) noexcept nogil:
    cdef int32_t slot = oid_get(st, order_id), peer
    cdef Order *o
    cdef Order *p
    if slot < 0 or not is_cancellable(st.orders[slot].status):
        return
    o = &st.orders[slot]
    if code:
        cancel_order(st, c, slot, code, False)
        return
    if o.held != HELD_FOR_PARENT:
        return
    activate(st, c, slot)
    # a bracket's other leg goes live with it, unless this leg already traded or ended
    # (then the cancel queued for the other leg takes it)
    o = &st.orders[slot]
    if o.oco_order_id and is_live(o.status) and o.cum_qty == 0:
        peer = oid_get(st, o.oco_order_id)
        if peer >= 0:
            p = &st.orders[peer]
            if (is_live(p.status) and p.held == HELD_FOR_PARENT
                    and p.parent_order_id == o.parent_order_id):
                activate(st, c, peer)

cdef void settle(State *st, Command *c) noexcept nogil:
    """The end of every command: contingent actions first, then one trigger at a time from
    the lowest symbol id that fires, until nothing is left (docs/engine.md, Settling)."""
    cdef int32_t i, slot, best_slot
    cdef uint32_t sym, best_sym = 0
    cdef ContingentAction act
    while True:
        if st.queue_head < st.queue_count:
            act = st.queue[st.queue_head]       # a copy: carrying it out may grow the queue
            st.queue_head += 1
            carry_out(st, c, act.order_id, act.code)
            continue
        st.queue_head = 0
        st.queue_count = 0
        best_slot = -1
        i = 0
        while i < st.dirty_count:
            sym = <uint32_t>st.dirty_list[i]
            slot = examine(st, sym)
            if slot < 0:
                st.triggers[sym].dirty = 0
                st.dirty_count -= 1
                st.dirty_list[i] = st.dirty_list[st.dirty_count]
                continue
            if best_slot < 0 or sym < best_sym:
                best_sym = sym
                best_slot = slot
            i += 1
        if best_slot < 0:
            return
        trigger_order(st, c, best_slot)


# ============================================================================================
# -- COMMAND HANDLERS --
# ============================================================================================

cdef void on_new(State *st, Command *c) noexcept nogil:
    cdef int64_t until_close
    cdef uint16_t code
    cdef uint64_t hi = c.idem_hi, lo = c.idem_lo
    cdef int64_t pos
    cdef IdemFifoEntry *f
    cdef int32_t slot
    cdef Order *o
    cdef Event *ev
    cdef SymbolRef *s
    cdef int64_t px
    cdef bint waits = False, goes_out
    cdef int32_t link_slot
    cdef uint16_t venue = VENUE_INTERNAL
    idem_expire(st, c.time_ns)
    # -- syntax --
    code = syntax_check(st, c)
    if code:
        reject_new(st, c, code)
        return
    # -- idempotency: a live key answers with the original order's status --
    if hi == 0 and lo == 0:
        hi = 0x8000000000000000ULL | c.session_id
        lo = c.cl_ord_id
    pos = idem_find(st, hi, lo)
    if pos >= 0:
        f = idem_entry_at(st, pos)
        if key_live(f.time_ns, c.time_ns):
            slot = oid_get(st, f.order_id)
            ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
            if slot >= 0:
                fill_from_order(ev, &st.orders[slot])
            else:
                fill_from_command(ev, c)
                ev.order_id = f.order_id
            ev.exec_type = EXEC_TYPE_ORDER_STATUS
            ev.reject_code = REJECT_CODE_DUPLICATE_REQUEST
            commit(st)
            return
    if clord_get(st, c.session_id, c.cl_ord_id) >= 0:
        reject_new(st, c, REJECT_CODE_DUPLICATE_CL_ORD_ID)
        return
    # -- contingent links --
    code = link_check(st, c, &waits)
    if code:
        reject_new(st, c, code)
        return
    # -- semantic, business, risk --
    s = &st.symbols[c.symbol_id]
    code = semantic_check(s, c.ord_type, c.price, c.qty, c.stop_price, c.trail_amount,
                          c.display_qty, c.min_qty)
    if (code == 0 and c.ord_type == ORD_TYPE_TRAILING_STOP
            and trigger_reference(st, c.symbol_id, c.side) <= 0):
        code = REJECT_CODE_NO_REFERENCE_PRICE
    if code == 0:
        code = business_check(st, &st.accounts[c.account_id], s, c.time_ns, c.tif)
    if code == 0 and (c.exec_inst & EXEC_INST_POST_ONLY) and would_trade(st, c):
        code = REJECT_CODE_POST_ONLY_WOULD_TRADE
    px = c.price if is_priced(c.ord_type) else s.ref_price
    if code == 0:
        code = risk_check(st, c.account_id, c.symbol_id, c.side, c.qty, c.qty, px, NULL)
    # -- route: INTERNAL or an external venue (cext/oms/_router.pyx) --
    if code == 0:
        code = route_order(&st.router, c.symbol_id, c.ex_destination, c.ord_type, c.tif,
                           c.exec_inst, c.price, c.stop_price, c.qty, c.display_qty,
                           c.min_qty, &venue)
    # -- capacity --
    if code == 0 and not slot_available(st):
        code = REJECT_CODE_ORDER_STORE_FULL
    # room for a stop that will be held at once
    if code == 0 and is_stop_family(c.ord_type) and not waits and not held_make_room(st, c):
        code = REJECT_CODE_ORDER_STORE_FULL
    if code == 0 and idem_full(st):
        code = REJECT_CODE_IDEMPOTENCY_TABLE_FULL
    if code:
        reject_new(st, c, code)
        return
    # -- accept: PENDING -> VALIDATED -> ROUTED -> ACCEPTED (an order sent to a venue at
    # once stays ROUTED until the venue acknowledges it) --
    goes_out = venue != VENUE_INTERNAL and not waits and not is_stop_family(c.ord_type)
    slot = alloc_slot(st)
    o = &st.orders[slot]
    memset(o, 0, sizeof(Order))
    o.order_id = st.next_order_id
    st.next_order_id += 1
    o.cl_ord_id = c.cl_ord_id
    o.price = c.price
    o.stop_price = c.stop_price
    o.qty = c.qty
    o.leaves_qty = c.qty
    o.display_qty = c.display_qty
    o.min_qty = c.min_qty
    o.expire_time_ns = c.expire_time_ns
    o.created_ns = c.time_ns
    o.updated_ns = c.time_ns
    o.session_id = c.session_id
    o.account_id = c.account_id
    o.symbol_id = c.symbol_id
    o.version = 1
    o.strategy_id = c.strategy_id
    o.prev = -1
    o.next = -1
    o.side = c.side
    o.ord_type = c.ord_type
    o.tif = c.tif
    o.priority = st.next_priority
    st.next_priority += 1
    o.risk_px = px
    o.trail_amount = c.trail_amount
    o.trail_bps = c.trail_bps
    o.exec_inst = c.exec_inst
    o.parent_order_id = c.parent_order_id
    o.oco_order_id = c.oco_order_id
    if c.tif == TIME_IN_FORCE_DAY:
        # a DAY order lives until its symbol's session closes on the day it was entered
        # (the session is open now, so the close is ahead: saturate rather than overflow)
        until_close = s.close_sec * OMS_NS_PER_SEC - floor_mod(c.time_ns, 86400 * OMS_NS_PER_SEC)
        if c.time_ns > INT64_MAX_VALUE - until_close:
            o.expire_time_ns = INT64_MAX_VALUE
        else:
            o.expire_time_ns = c.time_ns + until_close
    o.venue_id = venue
    o.status = ORD_STATUS_PENDING
    set_status(st, o, ORD_STATUS_VALIDATED)
    set_status(st, o, ORD_STATUS_ROUTED)
    if not goes_out:
        set_status(st, o, ORD_STATUS_ACCEPTED)
    oid_put(st, slot)
    clord_put(st, slot)
    idem_store(st, pos, hi, lo, c.time_ns, o.order_id)
    reserve(st, o)
    if o.tif == TIME_IN_FORCE_GTD and o.expire_time_ns > 0:      # 0 or less: never expires
        expiry_make_room(st)
        expiry_push(st, o)
    elif (o.tif == TIME_IN_FORCE_DAY and 0 < o.expire_time_ns < st.day_expiry_min):
        st.day_expiry_min = o.expire_time_ns
    # links: both linked orders are live (not evictable by this NEW's slot)
    if c.oco_order_id:
        link_slot = oid_get(st, c.oco_order_id)
        st.orders[link_slot].oco_order_id = o.order_id
    if waits:
        o.held = HELD_FOR_PARENT
        link_slot = oid_get(st, c.parent_order_id)
        if st.orders[link_slot].child_order_id == 0:
            st.orders[link_slot].child_order_id = o.order_id
    if not waits and is_stop_family(o.ord_type):
        arm_trigger(st, o)      # before the NEW report, which shows it (reference checked)
    emit_exec(st, c, o, EXEC_TYPE_PENDING_NEW if goes_out else EXEC_TYPE_NEW, 0)
    if not waits:
        start_order(st, c, slot, True)

cdef Order *linked_order(State *st, Command *c, uint64_t order_id) noexcept nogil:
    """The order a NEW links to, if known and of the NEW's session and account; else NULL."""
    cdef int32_t slot = oid_get(st, order_id)
    if (slot < 0 or st.orders[slot].session_id != c.session_id
            or st.orders[slot].account_id != c.account_id):
        return NULL
    return &st.orders[slot]

cdef uint16_t link_check(State *st, Command *c, bint *waits) noexcept nogil:
    """The NEW's parent (OTO) and OCO peer (docs/engine.md, Contingent orders); sets whether
    the new order will wait for its parent."""
    cdef Order *p
    cdef Order *x
    waits[0] = False
    if is_auction(c.tif) and (c.parent_order_id or c.oco_order_id):
        return REJECT_CODE_LINK_NOT_ALLOWED
    if c.parent_order_id:
        p = linked_order(st, c, c.parent_order_id)
        if p == NULL:
            return REJECT_CODE_UNKNOWN_LINKED_ORDER
        if is_terminal(p.status) and p.status != ORD_STATUS_FILLED:
            return REJECT_CODE_LINKED_ORDER_DONE
        if p.held == HELD_FOR_PARENT:
            return REJECT_CODE_LINK_NOT_ALLOWED
        waits[0] = not is_terminal(p.status)
        if waits[0] and p.child_order_id != 0 and c.oco_order_id != p.child_order_id:
            return REJECT_CODE_LINK_NOT_ALLOWED
    if c.oco_order_id:
        x = linked_order(st, c, c.oco_order_id)
        if x == NULL:
            return REJECT_CODE_UNKNOWN_LINKED_ORDER
        if is_terminal(x.status) or x.cum_qty > 0:
            return REJECT_CODE_LINKED_ORDER_DONE
        if x.oco_order_id != 0:
            return REJECT_CODE_LINK_NOT_ALLOWED
        if x.held == HELD_FOR_PARENT:
            if not waits[0] or x.parent_order_id != c.parent_order_id:
                return REJECT_CODE_LINK_NOT_ALLOWED
        elif waits[0]:
            return REJECT_CODE_LINK_NOT_ALLOWED
    return 0

cdef int64_t initial_trail(Order *o, int64_t ref) noexcept nogil:
    cdef int64_t offset = o.trail_amount if o.trail_amount else ref * o.trail_bps // 10000
    return ref - offset if o.side == SIDE_SELL else ref + offset

cdef bint would_trade(State *st, Command *c) noexcept nogil:
    """A limit order entering now would cross the opposite best (post-only check)."""
    cdef BookSide *opp = book_side(st, c.symbol_id, SIDE_SELL if c.side == SIDE_BUY else SIDE_BUY)
    if opp.count == 0:
        return False
    return crosses(c.side, opp.levels[opp.count - 1].price, True, c.price)

cdef int32_t find_target(State *st, Command *c) noexcept nogil:
    cdef int32_t slot
    if c.order_id != 0:
        slot = oid_get(st, c.order_id)
        if slot >= 0 and st.orders[slot].session_id != c.session_id:
            return -1       # another session's order is "not found", never a leak
        return slot
    return clord_get(st, c.session_id, c.orig_cl_ord_id)

cdef uint16_t lifecycle_check(Order *o, uint32_t expected_version) noexcept nogil:
    if o.status == ORD_STATUS_FILLED:
        return REJECT_CODE_ORDER_ALREADY_FILLED
    if is_terminal(o.status):
        return REJECT_CODE_ORDER_ALREADY_CLOSED
    if expected_version != 0 and expected_version != o.version:
        return REJECT_CODE_STALE_VERSION
    return 0

cdef void cancel_order(State *st, Command *c, int32_t slot, uint16_t code,
                       bint use_cmd_cl_ord_id) noexcept nogil:
    """Cancel an order now: out of the book, the held set or waiting.  An order at an
    external venue can only be asked for (the OMS's own cancels: venue_cancel)."""
    cdef Order *o = &st.orders[slot]
    cdef Event *ev
    if o.venue_state != VENUE_ORDER_STATE_NOT_SENT:
        venue_cancel(st, c, slot, code)
        return
    set_status(st, o, ORD_STATUS_PENDING_CANCEL)
    unlink_order(st, slot)
    end_order(st, c, slot, ORD_STATUS_CANCELLED)
    ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_order(ev, o)
    if use_cmd_cl_ord_id and c.cl_ord_id != 0:
        ev.cl_ord_id = c.cl_ord_id
        ev.orig_cl_ord_id = o.cl_ord_id
    ev.exec_type = EXEC_TYPE_CANCELED
    ev.reject_code = code
    commit(st)

cdef void on_cancel(State *st, Command *c) noexcept nogil:
    cdef int32_t slot = find_target(st, c)
    cdef uint16_t code
    if slot < 0:
        cancel_reject(st, c, NULL, CXL_REJ_RESPONSE_TO_CANCEL, REJECT_CODE_UNKNOWN_ORDER)
        return
    code = lifecycle_check(&st.orders[slot], c.expected_version)
    if code == 0 and not venue_can_modify(&st.orders[slot]):
        code = REJECT_CODE_ORDER_PENDING
    if code:
        cancel_reject(st, c, &st.orders[slot], CXL_REJ_RESPONSE_TO_CANCEL, code)
        return
    if st.orders[slot].venue_state == VENUE_ORDER_STATE_LIVE:
        send_cancel(st, c, slot, c.cl_ord_id, 0)
    else:
        cancel_order(st, c, slot, 0, True)

cdef void on_replace(State *st, Command *c) noexcept nogil:
    cdef int32_t slot = find_target(st, c)
    cdef Order *o
    cdef SymbolRef *s
    cdef uint16_t code = 0
    cdef bint new_stop, improves, lose_priority, moved
    cdef uint8_t back_to
    cdef int64_t px
    cdef BookSide *b
    cdef Level *lv
    if slot < 0:
        cancel_reject(st, c, NULL, CXL_REJ_RESPONSE_TO_REPLACE, REJECT_CODE_UNKNOWN_ORDER)
        return
    o = &st.orders[slot]
    s = &st.symbols[o.symbol_id]
    # a held stop may get a new stop price; a worked order never needs one
    new_stop = o.held and has_stop_price(o.ord_type) and c.stop_price != 0
    if c.cl_ord_id == 0:
        code = REJECT_CODE_MISSING_CL_ORD_ID
    if code == 0:
        code = lifecycle_check(o, c.expected_version)
    if code == 0 and not venue_can_modify(o):
        code = REJECT_CODE_ORDER_PENDING
    if code == 0 and (c.qty < 1 or c.qty > OMS_MAX_QTY):
        code = REJECT_CODE_INVALID_QTY
    if code == 0:
        if is_priced(o.ord_type):
            if c.price < 1 or c.price > OMS_MAX_PRICE:
                code = REJECT_CODE_INVALID_PRICE
        elif c.price != 0:
            code = REJECT_CODE_INVALID_PRICE
    if code == 0 and new_stop and (c.stop_price < 1 or c.stop_price > OMS_MAX_PRICE):
        code = REJECT_CODE_INVALID_STOP_PRICE
    if code == 0 and clord_get(st, o.session_id, c.cl_ord_id) >= 0:
        code = REJECT_CODE_DUPLICATE_CL_ORD_ID
    if code == 0 and c.qty <= o.cum_qty:
        code = REJECT_CODE_REPLACE_QTY_BELOW_CUM
    if (code == 0 and c.price == o.price and c.qty == o.qty
            and (not new_stop or c.stop_price == o.stop_price)):
        code = REJECT_CODE_REPLACE_CHANGES_NOTHING
    if code == 0:
        code = semantic_check(s, o.ord_type, c.price, c.qty, c.stop_price if new_stop else 0,
                              0, 0, 0)
    if code == 0:
        code = business_check(st, &st.accounts[o.account_id], s, c.time_ns, o.tif)
    px = c.price if is_priced(o.ord_type) else o.risk_px
    if code == 0:
        code = risk_check(st, o.account_id, o.symbol_id, o.side, c.qty, c.qty - o.cum_qty,
                          px, o)
    if code:
        cancel_reject(st, c, o, CXL_REJ_RESPONSE_TO_REPLACE, code)
        return
    if o.venue_state == VENUE_ORDER_STATE_LIVE:
        send_replace(st, c, slot)
        return
    # -- apply: the order keeps its id --
    back_to = o.status
    set_status(st, o, ORD_STATUS_PENDING_REPLACE)
    # the seed's priority rules: a better price or a larger size goes to the back
    improves = c.price > o.price if o.side == SIDE_BUY else c.price < o.price
    lose_priority = improves or c.qty > o.qty
    if not o.held and (c.price != o.price or lose_priority):
        book_remove(st, slot)
    elif not o.held:
        b = book_side(st, o.symbol_id, o.side)
        lv = &b.levels[level_search(b, o.price)]
        lv.qty -= o.qty - c.qty
    usage_add(st, o, -1)
    clord_del_slot(st, slot)
    o.orig_cl_ord_id = o.cl_ord_id
    o.cl_ord_id = c.cl_ord_id
    clord_put(st, slot)
    moved = c.price != o.price or lose_priority
    o.price = c.price
    o.qty = c.qty
    o.leaves_qty = c.qty - o.cum_qty
    o.risk_px = px
    if new_stop:
        o.stop_price = c.stop_price
        o.trigger_px = c.stop_price
        if o.held == HELD_FOR_TRIGGER:
            held_rekey(st, slot)
    if lose_priority:
        o.priority = st.next_priority
        st.next_priority += 1
    if o.display_qty > 0:
        o.display_leaves = o.display_qty if o.display_qty < o.leaves_qty else o.leaves_qty
    o.version += 1
    o.updated_ns = c.time_ns
    reserve(st, o)
    set_status(st, o, back_to)
    emit_exec(st, c, o, EXEC_TYPE_REPLACED, 0)
    if not o.held and moved:
        work_order(st, c, slot, False)

cdef void on_status(State *st, Command *c) noexcept nogil:
    cdef int32_t slot = find_target(st, c)
    cdef Event *ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    if slot >= 0:
        fill_from_order(ev, &st.orders[slot])
    else:
        fill_from_command(ev, c)
        ev.status = ORD_STATUS_REJECTED
        ev.reject_code = REJECT_CODE_UNKNOWN_ORDER
    ev.exec_type = EXEC_TYPE_ORDER_STATUS
    commit(st)

cdef int cmp_u64_pair(const void *a, const void *b) noexcept nogil:
    cdef uint64_t x = (<uint64_t *>a)[0], y = (<uint64_t *>b)[0]
    return (x > y) - (x < y)

cdef uint64_t cancel_matching(State *st, Command *c, uint16_t scope, uint16_t code) noexcept nogil:
    """Cancel every live order the scope selects, in increasing order id; returns the count."""
    cdef int64_t i, n = 0
    cdef Order *o
    if not ensure_scratch(st):
        return 0
    for i in range(st.high_water):
        o = &st.orders[i]
        # live, or at a venue without a cancel in flight (it is asked for, or deferred)
        if not is_cancellable(o.status):
            continue
        if (scope & MASS_CANCEL_SCOPE_SESSION) and o.session_id != c.session_id:
            continue
        if (scope & MASS_CANCEL_SCOPE_ACCOUNT) and o.account_id != c.account_id:
            continue
        if (scope & MASS_CANCEL_SCOPE_SYMBOL) and o.symbol_id != c.symbol_id:
            continue
        if (scope & MASS_CANCEL_SCOPE_SIDE) and o.side != c.side:
            continue
        if (scope & MASS_CANCEL_SCOPE_STRATEGY) and o.strategy_id != c.strategy_id:
            continue
        st.scratch[2 * n] = o.order_id
        st.scratch[2 * n + 1] = <uint64_t>i
        n += 1
    qsort(st.scratch, n, 2 * sizeof(uint64_t), cmp_u64_pair)
    for i in range(n):
        cancel_order(st, c, <int32_t>st.scratch[2 * i + 1], code, False)
    return <uint64_t>n

cdef void on_mass_cancel(State *st, Command *c) noexcept nogil:
    cdef uint64_t n = cancel_matching(st, c, c.admin_op, 0)
    cdef Event *ev = emit(st, c, EVENT_TYPE_MASS_CANCEL_REPORT)
    fill_from_command(ev, c)
    ev.trade_id = n
    commit(st)

cdef void on_market_data(State *st, Command *c) noexcept nogil:
    if c.symbol_id >= st.max_symbols or not st.symbols[c.symbol_id].defined:
        admin_report(st, c, 0, REJECT_CODE_UNKNOWN_SYMBOL, 0)
    elif c.price < 1 or c.price > OMS_MAX_PRICE:
        admin_report(st, c, 0, REJECT_CODE_INVALID_PRICE, 0)
    else:
        st.symbols[c.symbol_id].ref_price = c.price
        mark_dirty(st, c.symbol_id)

cdef void expire_order(State *st, Command *c, int32_t slot) noexcept nogil:
    unlink_order(st, slot)
    end_order(st, c, slot, ORD_STATUS_EXPIRED)
    emit_exec(st, c, &st.orders[slot], EXEC_TYPE_EXPIRED, 0)

cdef int cmp_key_then_id(const void *a, const void *b) noexcept nogil:
    """Records of u64 words sorted by word 0 as a signed key, then word 1 (an order id or a
    priority): expiries (expire, order id, slot), auction participants (key, priority, slot)."""
    cdef const uint64_t *x = <const uint64_t *>a
    cdef const uint64_t *y = <const uint64_t *>b
    cdef int64_t tx = <int64_t>x[0], ty = <int64_t>y[0]
    if tx != ty:
        return (tx > ty) - (tx < ty)
    return (x[1] > y[1]) - (x[1] < y[1])

cdef bint ensure_scratch(State *st) noexcept nogil:
    if st.scratch == NULL:
        st.scratch = <uint64_t *>malloc(st.max_orders * 3 * sizeof(uint64_t))
    return st.scratch != NULL

# -- auctions (docs/engine.md, Auctions): a uniform-price uncross of the orders waiting for
# the auction with the symbol's book --

cdef inline int64_t buy_limit(Order *o) noexcept nogil:
    return INT64_MAX_VALUE if o.ord_type == ORD_TYPE_MARKET else o.price

cdef inline int64_t sell_limit(Order *o) noexcept nogil:
    return -INT64_MAX_VALUE if o.ord_type == ORD_TYPE_MARKET else o.price

cdef int64_t gather_side(State *st, uint32_t sym, uint8_t side, int a,
                         uint64_t *out) noexcept nogil:
    """The side's participants as (key, priority, slot): key = -limit for buys (best
    first when ascending), limit for sells; sorted.  Returns their number."""
    cdef BookSide *b = book_side(st, sym, side)
    cdef int64_t n = 0, li
    cdef int32_t slot
    cdef Order *o
    for li in range(b.count):
        slot = b.levels[li].head
        while slot >= 0:
            o = &st.orders[slot]
            out[3 * n] = <uint64_t>(-buy_limit(o) if side == SIDE_BUY else sell_limit(o))
            out[3 * n + 1] = o.priority
            out[3 * n + 2] = <uint64_t>slot
            n += 1
            slot = o.next
    slot = st.triggers[sym].auction_head[a]
    while slot >= 0:
        o = &st.orders[slot]
        if o.side == side:
            out[3 * n] = <uint64_t>(-buy_limit(o) if side == SIDE_BUY else sell_limit(o))
            out[3 * n + 1] = o.priority
            out[3 * n + 2] = <uint64_t>slot
            n += 1
        slot = o.next
    qsort(out, n, 3 * sizeof(uint64_t), cmp_key_then_id)
    return n

cdef void auction_fill_done(State *st, int32_t slot, int64_t q) noexcept nogil:
    """After an auction fill of q: a waiting order leaves its list when filled; a book
    order leaves its level when filled, else its level loses q."""
    cdef Order *o = &st.orders[slot]
    cdef BookSide *b
    cdef int32_t li
    if o.held == HELD_FOR_AUCTION:
        if o.leaves_qty == 0:
            auction_remove(st, slot)
            close_order(st, slot)
        return
    b = book_side(st, o.symbol_id, o.side)
    li = level_search(b, o.price)
    if o.leaves_qty == 0:
        book_unlink(st, b, li, slot, q)
        close_order(st, slot)
        return
    b.levels[li].qty -= q
    if o.display_qty > 0:
        o.display_leaves = o.display_qty if o.display_qty < o.leaves_qty else o.leaves_qty

cdef void uncross(State *st, Command *c, uint32_t sym, int a) noexcept nogil:
    """Find the auction price (one pass over the candidate prices, ascending, with the
    demand D(p) and supply S(p) kept as running sums), then pair the eligible buys and sells
    off at that price, best first."""
    cdef uint64_t *buys = st.scratch
    cdef uint64_t *sells
    cdef int64_t nb, ns, ib, is_, jb, js, d = 0, sv = 0, v, imb, dist, ref, p
    cdef int64_t best_v = 0, best_imb = 0, best_dist = 0, best_p = 0, q, left
    cdef bint have_ref, more
    cdef int32_t bslot, sslot
    cdef Order *bo
    cdef Order *so
    nb = gather_side(st, sym, SIDE_BUY, a, buys)
    sells = buys + 3 * nb
    ns = gather_side(st, sym, SIDE_SELL, a, sells)
    if nb == 0 or ns == 0:
        return
    ref = st.symbols[sym].ref_price
    have_ref = ref > 0
    # candidates ascending: buy limits (read from the end of the buys), sell limits, ref
    for jb in range(nb):
        d += st.orders[buys[3 * jb + 2]].leaves_qty
    jb = nb                     # buys with limit >= p are buys[0, jb)
    js = 0                      # sells with limit <= p are sells[0, js)
    ib = nb - 1
    is_ = 0
    while True:
        more = False
        p = INT64_MAX_VALUE
        while ib >= 0 and -<int64_t>buys[3 * ib] == INT64_MAX_VALUE:
            ib -= 1             # market buys: no price of their own
        while is_ < ns and <int64_t>sells[3 * is_] == -INT64_MAX_VALUE:
            is_ += 1
        if ib >= 0:
            p = -<int64_t>buys[3 * ib]
            more = True
        if is_ < ns and <int64_t>sells[3 * is_] < p:
            p = <int64_t>sells[3 * is_]
            more = True
        if have_ref and ref < p:
            p = ref
            more = True
        if not more:
            break
        while ib >= 0 and -<int64_t>buys[3 * ib] == p:
            ib -= 1
        while is_ < ns and <int64_t>sells[3 * is_] == p:
            is_ += 1
        if have_ref and ref == p:
            have_ref = False    # consumed as a candidate (still used for the distance)
        while jb > 0 and -<int64_t>buys[3 * (jb - 1)] < p:
            jb -= 1
            d -= st.orders[buys[3 * jb + 2]].leaves_qty
        while js < ns and <int64_t>sells[3 * js] <= p:
            sv += st.orders[sells[3 * js + 2]].leaves_qty
            js += 1
        v = d if d < sv else sv
        imb = iabs(d - sv)
        dist = iabs(p - ref) if ref > 0 else 0
        if (v > best_v or (v == best_v and v > 0 and (imb < best_imb
                                                     or (imb == best_imb and dist < best_dist)))):
            best_v = v
            best_imb = imb
            best_dist = dist
            best_p = p
    if best_v == 0:
        return
    # pair the eligible buys and sells off from their heads at best_p
    ib = 0
    is_ = 0
    left = best_v
    while left > 0 and ib < nb and is_ < ns:
        bslot = <int32_t>buys[3 * ib + 2]
        sslot = <int32_t>sells[3 * is_ + 2]
        bo = &st.orders[bslot]
        so = &st.orders[sslot]
        q = bo.leaves_qty if bo.leaves_qty < so.leaves_qty else so.leaves_qty
        if q > left:
            q = left
        fill_order(st, bo, q, best_p, c.time_ns)
        fill_order(st, so, q, best_p, c.time_ns)
        st.symbols[sym].ref_price = best_p
        mark_dirty(st, sym)
        emit_trade(st, c, bo, q, best_p)
        emit_trade(st, c, so, q, best_p)
        st.next_trade_id += 1
        auction_fill_done(st, bslot, q)
        auction_fill_done(st, sslot, q)
        left -= q
        if bo.leaves_qty == 0:
            ib += 1
        if so.leaves_qty == 0:
            is_ += 1

cdef void run_auction(State *st, Command *c, uint32_t sym, int a) noexcept nogil:
    """The symbol's opening (a = 0) or closing (a = 1) auction: uncross, then cancel what
    is left of the orders that waited for it (all of them if the symbol is halted)."""
    cdef int32_t slot, nxt
    cdef uint16_t code = 0
    if st.triggers[sym].auction_head[a] < 0:
        return
    if st.symbols[sym].halted:
        code = REJECT_CODE_SYMBOL_HALTED
    elif ensure_scratch(st):
        uncross(st, c, sym, a)
    slot = st.triggers[sym].auction_head[a]
    while slot >= 0:
        nxt = st.orders[slot].next
        cancel_order(st, c, slot, code, False)
        slot = nxt

cdef bint instant_passed(int64_t last, int64_t now, int64_t sec) noexcept nogil:
    """Whether an instant `sec` seconds into a UTC day lies in (last, now].  Compared as a
    distance: the instants themselves can lie outside int64."""
    cdef int64_t tod, at, back
    if now <= last:
        return False
    tod = floor_mod(now, 86400 * OMS_NS_PER_SEC)
    at = floor_mod(sec * OMS_NS_PER_SEC, 86400 * OMS_NS_PER_SEC)
    back = tod - at if tod >= at else tod + 86400 * OMS_NS_PER_SEC - at
    return <uint64_t>now - <uint64_t>last > <uint64_t>back

cdef void on_timer(State *st, Command *c) noexcept nogil:
    """Closing auctions of the symbols whose session closed since the last timer; expiry of
    DAY and GTD orders that are due (from the expiry heap, in (expire time, order id)
    order); revalidation of the GTC orders of every symbol whose session opened since the
    last timer (a scan of the store, but once per symbol per session); then the opening
    auctions of those symbols."""
    cdef int64_t now = c.time_ns, i, n = 0, last = st.last_timer_ns
    cdef Order *o
    cdef uint32_t sym
    cdef uint16_t code
    cdef ExpiryEntry due
    cdef int32_t slot
    for sym in range(st.max_symbols):
        if st.symbols[sym].defined and instant_passed(last, now, st.symbols[sym].close_sec):
            run_auction(st, c, sym, 1)
    if not ensure_scratch(st):
        return
    # due GTD orders from the heap, due DAY orders from a scan of the store (only when one
    # can be due: DAY orders expire at session closes), together in (expire, order id) order
    n = 0
    while st.expiry_count > 0 and st.expiry[0].expire_ns <= now:
        due = expiry_pop(st)
        slot = oid_get(st, due.order_id)
        if (slot >= 0 and is_live(st.orders[slot].status)
                and st.orders[slot].venue_state == VENUE_ORDER_STATE_NOT_SENT):
            st.scratch[3 * n] = <uint64_t>due.expire_ns
            st.scratch[3 * n + 1] = due.order_id
            st.scratch[3 * n + 2] = <uint64_t>slot
            n += 1
    if now >= st.day_expiry_min:
        st.day_expiry_min = INT64_MAX_VALUE
        for i in range(st.high_water):
            o = &st.orders[i]
            if o.tif != TIME_IN_FORCE_DAY or not is_live(o.status) or o.expire_time_ns <= 0:
                continue                # (0 or less: never expires, see TIMER)
            if o.venue_state != VENUE_ORDER_STATE_NOT_SENT:
                continue                # the venue expires it and says so
            if o.expire_time_ns <= now:
                st.scratch[3 * n] = <uint64_t>o.expire_time_ns
                st.scratch[3 * n + 1] = o.order_id
                st.scratch[3 * n + 2] = <uint64_t>i
                n += 1
            elif o.expire_time_ns < st.day_expiry_min:
                st.day_expiry_min = o.expire_time_ns
    qsort(st.scratch, n, 3 * sizeof(uint64_t), cmp_key_then_id)
    for i in range(n):
        expire_order(st, c, <int32_t>st.scratch[3 * i + 2])
    # GTC revalidation at each session open instant in (last, now]
    for sym in range(st.max_symbols):
        if not st.symbols[sym].defined or not instant_passed(last, now, st.symbols[sym].open_sec):
            continue
        n = 0
        for i in range(st.high_water):
            o = &st.orders[i]
            if o.symbol_id == sym and o.tif == TIME_IN_FORCE_GTC and is_live(o.status):
                st.scratch[2 * n] = o.order_id
                st.scratch[2 * n + 1] = <uint64_t>i
                n += 1
        qsort(st.scratch, n, 2 * sizeof(uint64_t), cmp_u64_pair)
        for i in range(n):
            o = &st.orders[st.scratch[2 * i + 1]]
            code = 0
            if not st.accounts[o.account_id].enabled:
                code = REJECT_CODE_ACCOUNT_DISABLED
            elif st.symbols[sym].halted:
                code = REJECT_CODE_SYMBOL_HALTED
            if code:
                cancel_order(st, c, <int32_t>st.scratch[2 * i + 1], code, False)
    for sym in range(st.max_symbols):
        if st.symbols[sym].defined and instant_passed(last, now, st.symbols[sym].open_sec):
            run_auction(st, c, sym, 0)
    if now > st.last_timer_ns:
        st.last_timer_ns = now

cdef inline bint in_limit(int64_t v) noexcept nogil:
    return 0 <= v <= OMS_LIMIT_MAX

cdef void on_admin(State *st, Command *c) noexcept nogil:
    cdef uint16_t op = c.admin_op
    cdef uint16_t code = 0
    cdef uint64_t count = 0
    cdef SymbolRef *s
    cdef Account *a
    if op == ADMIN_OP_SET_SYMBOL:
        if (c.symbol_id >= st.max_symbols or c.price < 1 or c.qty < 1 or c.min_qty < 1
                or c.min_qty > c.display_qty or c.display_qty > OMS_MAX_QTY
                or c.stop_price < 0 or c.stop_price > OMS_MAX_PRICE
                or c.expire_time_ns < 0 or c.expire_time_ns > 10000
                or c.order_id >= c.orig_cl_ord_id or c.orig_cl_ord_id > 86400
                or c.trail_bps > 10000 or c.flags > 1 or c.exec_inst > 2):
            code = REJECT_CODE_INVALID_ADMIN
        else:
            s = &st.symbols[c.symbol_id]
            s.tick_size = c.price
            s.lot_size = c.qty
            s.min_qty = c.min_qty
            s.max_qty = c.display_qty
            s.ref_price = c.stop_price
            s.collar_bps = c.expire_time_ns
            s.open_sec = <int64_t>c.order_id
            s.close_sec = <int64_t>c.orig_cl_ord_id
            s.market_protection_bps = c.trail_bps
            s.matching = <uint8_t>c.flags
            s.pro_rata_min_alloc = c.strategy_id if c.strategy_id > 0 else 1
            s.trigger_source = c.exec_inst
            s.defined = 1
            mark_dirty(st, c.symbol_id)
    elif op == ADMIN_OP_SET_ACCOUNT:
        if (c.account_id >= st.max_accounts or not in_limit(c.price) or not in_limit(c.qty)
                or not in_limit(c.stop_price) or not in_limit(c.display_qty)
                or not in_limit(c.min_qty) or c.expire_time_ns < 0 or c.expire_time_ns > 100
                or c.flags > 1 or c.trail_bps > 3):
            code = REJECT_CODE_INVALID_ADMIN
        else:
            a = &st.accounts[c.account_id]
            a.credit_limit = c.price
            a.max_order_qty = c.qty
            a.max_order_notional = c.stop_price
            a.max_position = c.display_qty
            a.gross_limit = c.min_qty
            a.concentration_pct = c.expire_time_ns
            a.enabled = <uint8_t>c.flags
            a.stp_mode = <uint8_t>c.trail_bps
            a.defined = 1
    elif op == ADMIN_OP_HALT_SYMBOL or op == ADMIN_OP_RESUME_SYMBOL:
        if c.symbol_id >= st.max_symbols or not st.symbols[c.symbol_id].defined:
            code = REJECT_CODE_INVALID_ADMIN
        else:
            st.symbols[c.symbol_id].halted = 1 if op == ADMIN_OP_HALT_SYMBOL else 0
    elif op == ADMIN_OP_KILL_SWITCH_ON:
        st.kill_switch = 1
        count = cancel_matching(st, c, 0, REJECT_CODE_KILL_SWITCH_ACTIVE)
    elif op == ADMIN_OP_KILL_SWITCH_OFF:
        st.kill_switch = 0
    else:
        code = REJECT_CODE_INVALID_ADMIN
    admin_report(st, c, <uint8_t>op, code, count)


# ============================================================================================
# -- EXTERNAL VENUES (docs/engine.md, External venues and routing) --
# An order routed to a venue is never in the OMS's book: the engine sends requests as
# VENUE_REQUEST events and applies what the venue said when it arrives as a VENUE_EXEC
# command (journaled like every command, so replay sees the same answers at the same point).
# ============================================================================================

cdef inline uint64_t venue_cl_ord_id(Order *o, uint16_t n) noexcept nogil:
    # every request gets a new id, so a venue never sees one reused, and the order is found
    # from the id alone
    return (o.order_id << 16) | n

cdef inline bint venue_can_modify(Order *o) noexcept nogil:
    """A client may cancel or replace: in the OMS, or live at its venue with nothing in
    flight."""
    return (o.venue_state == VENUE_ORDER_STATE_NOT_SENT
            or o.venue_state == VENUE_ORDER_STATE_LIVE)

cdef Event *venue_request(State *st, Command *c, Order *o, uint8_t request,
                          uint64_t orig) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_VENUE_REQUEST)
    fill_from_order(ev, o)
    ev.exec_type = request
    ev.venue_cl_ord_id = venue_cl_ord_id(o, o.venue_last_req)
    ev.venue_orig_cl_ord_id = orig
    return ev

cdef void send_new(State *st, Command *c, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef Event *ev
    o.venue_last_req += 1
    o.venue_live_req = o.venue_last_req
    o.venue_state = VENUE_ORDER_STATE_NEW_SENT
    ev = venue_request(st, c, o, VENUE_REQUEST_NEW_ORDER, 0)
    ev.ord_type = venue_type(o.ord_type)
    if ev.ord_type != ORD_TYPE_LIMIT:
        ev.price = 0
    ev.qty = o.leaves_qty
    commit(st)

cdef void send_cancel(State *st, Command *c, int32_t slot, uint64_t cl,
                      uint16_t code) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    cdef Event *ev
    o.venue_last_req += 1
    o.venue_state = VENUE_ORDER_STATE_CANCEL_SENT
    o.pending_cl_ord_id = cl
    o.pending_code = code
    o.venue_flags &= ~VENUE_CANCEL_DEFERRED
    set_status(st, o, ORD_STATUS_PENDING_CANCEL)
    ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_order(ev, o)
    ev.exec_type = EXEC_TYPE_PENDING_CANCEL
    ev.reject_code = code
    if cl != 0:
        ev.cl_ord_id = cl
        ev.orig_cl_ord_id = o.cl_ord_id
    commit(st)
    venue_request(st, c, o, VENUE_REQUEST_CANCEL, venue_cl_ord_id(o, o.venue_live_req))
    commit(st)

cdef void send_replace(State *st, Command *c, int32_t slot) noexcept nogil:
    """A client's replace of an order live at its venue: checked already; nothing changes
    but the pending state until the venue answers."""
    cdef Order *o = &st.orders[slot]
    cdef Event *ev
    o.venue_last_req += 1
    o.venue_state = VENUE_ORDER_STATE_REPLACE_SENT
    o.pending_cl_ord_id = c.cl_ord_id
    set_status(st, o, ORD_STATUS_PENDING_REPLACE)
    ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_order(ev, o)
    ev.exec_type = EXEC_TYPE_PENDING_REPLACE
    ev.cl_ord_id = c.cl_ord_id
    ev.orig_cl_ord_id = o.cl_ord_id
    ev.price = c.price
    ev.qty = c.qty
    commit(st)
    ev = venue_request(st, c, o, VENUE_REQUEST_REPLACE, venue_cl_ord_id(o, o.venue_live_req))
    ev.price = c.price
    ev.qty = c.qty
    commit(st)

cdef void venue_cancel(State *st, Command *c, int32_t slot, uint16_t code) noexcept nogil:
    """The OMS's own cancel of an order at a venue: asked for now, or as soon as the venue
    has answered the request in flight."""
    cdef Order *o = &st.orders[slot]
    if o.venue_state == VENUE_ORDER_STATE_LIVE:
        send_cancel(st, c, slot, 0, code)
    elif (o.venue_state == VENUE_ORDER_STATE_NEW_SENT
            or o.venue_state == VENUE_ORDER_STATE_REPLACE_SENT):
        o.venue_flags |= VENUE_CANCEL_DEFERRED
        o.pending_code = code

cdef inline uint8_t status_by_fills(Order *o) noexcept nogil:
    return ORD_STATUS_ACCEPTED if o.cum_qty == 0 else ORD_STATUS_PARTIALLY_FILLED

cdef void venue_end(State *st, Command *c, int32_t slot, uint8_t status, uint8_t exec_type,
                    uint16_t code) noexcept nogil:
    """The venue ended the order (reject, cancel, expiry, disconnect)."""
    end_order(st, c, slot, status)
    st.orders[slot].venue_state = VENUE_ORDER_STATE_DONE
    emit_exec(st, c, &st.orders[slot], exec_type, code)

cdef void venue_ack(State *st, Command *c, int32_t slot) noexcept nogil:
    cdef Order *o = &st.orders[slot]
    o.venue_state = VENUE_ORDER_STATE_LIVE
    if o.status == ORD_STATUS_ROUTED:
        set_status(st, o, ORD_STATUS_ACCEPTED)
        emit_exec(st, c, o, EXEC_TYPE_NEW, 0)
    if o.venue_flags & VENUE_CANCEL_DEFERRED:
        send_cancel(st, c, slot, 0, o.pending_code)

cdef inline bint venue_request_in_flight(Order *o) noexcept nogil:
    return (o.venue_state == VENUE_ORDER_STATE_CANCEL_SENT
            or o.venue_state == VENUE_ORDER_STATE_REPLACE_SENT)

cdef void book_venue_fill(State *st, Order *o, int64_t q, int64_t px,
                          int64_t now) noexcept nogil:
    """A venue's fill of q at px: a live order as a match's fill, a terminal one only in
    its quantities and its position (the venue is the authority on what traded)."""
    if is_terminal(o.status):
        o.cum_qty += q
        o.cum_notional += q * px
        o.version += 1
        o.updated_ns = now
        position_fill(st, o, q, px)
    else:
        fill_order(st, o, q, px, now)
        if o.leaves_qty == 0 and not venue_request_in_flight(o):
            o.venue_state = VENUE_ORDER_STATE_DONE
    st.symbols[o.symbol_id].ref_price = px
    mark_dirty(st, o.symbol_id)

cdef void bust_venue_fill(State *st, Order *o, int64_t q, int64_t px) noexcept nogil:
    """A venue cancelled a trade of q at px: the quantities go back and the position books
    the opposite trade."""
    cdef bint live = not is_terminal(o.status)
    if live:
        usage_add(st, o, -1)
        o.leaves_qty += q
    o.cum_qty -= q
    o.cum_notional -= q * px
    o.version += 1
    o.side = SIDE_SELL if o.side == SIDE_BUY else SIDE_BUY
    position_fill(st, o, q, px)
    o.side = SIDE_SELL if o.side == SIDE_BUY else SIDE_BUY
    if live:
        reserve(st, o)
        if o.cum_qty == 0 and o.status == ORD_STATUS_PARTIALLY_FILLED:
            set_status(st, o, ORD_STATUS_ACCEPTED)

cdef uint16_t trade_check(int64_t q, int64_t px) noexcept nogil:
    if q < 1 or q > OMS_MAX_QTY:
        return REJECT_CODE_INVALID_QTY
    if px < 1 or px > OMS_MAX_PRICE:
        return REJECT_CODE_INVALID_PRICE
    return 0

cdef void emit_venue_trade(State *st, Command *c, Order *o, uint8_t exec_type, int64_t q,
                           int64_t px, uint16_t code) noexcept nogil:
    cdef Event *ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
    fill_from_order(ev, o)
    ev.exec_type = exec_type
    ev.last_px = px
    ev.last_qty = q
    ev.trade_id = st.next_trade_id
    ev.reject_code = code
    commit(st)
    st.next_trade_id += 1

cdef void venue_session(State *st, Command *c, VenueRef *vr) noexcept nogil:
    """The venue's session changed state; a venue that cancels on disconnect has ended
    every order it held."""
    cdef int64_t i
    cdef uint64_t n = 0
    cdef Order *o
    if c.flags > VENUE_STATE_DEGRADED:
        admin_report(st, c, <uint8_t>(c.admin_op & 0xFF), REJECT_CODE_INVALID_ADMIN, 0)
        return
    vr.state = <uint8_t>c.flags
    vr.last_seq = c.venue_seq
    if vr.state == VENUE_STATE_DOWN and vr.cancel_on_disconnect:
        # the store in slot order is not order-id order once slots are recycled: sort
        if ensure_scratch(st):
            for i in range(st.high_water):
                o = &st.orders[i]
                if (o.venue_id == c.venue_id and not is_terminal(o.status)
                        and o.venue_state >= VENUE_ORDER_STATE_NEW_SENT
                        and o.venue_state <= VENUE_ORDER_STATE_REPLACE_SENT):
                    st.scratch[2 * n] = o.order_id
                    st.scratch[2 * n + 1] = <uint64_t>i
                    n += 1
            qsort(st.scratch, n, 2 * sizeof(uint64_t), cmp_u64_pair)
            for i in range(<int64_t>n):
                o = &st.orders[st.scratch[2 * i + 1]]
                if o.status == ORD_STATUS_ROUTED:
                    venue_end(st, c, <int32_t>st.scratch[2 * i + 1], ORD_STATUS_REJECTED,
                              EXEC_TYPE_REJECTED, REJECT_CODE_VENUE_DISCONNECTED)
                else:
                    venue_end(st, c, <int32_t>st.scratch[2 * i + 1], ORD_STATUS_CANCELLED,
                              EXEC_TYPE_CANCELED, REJECT_CODE_VENUE_DISCONNECTED)
    admin_report(st, c, <uint8_t>(c.admin_op & 0xFF), 0, n)

cdef void on_venue_exec(State *st, Command *c) noexcept nogil:
    cdef uint8_t op = <uint8_t>(c.admin_op & 0xFF)
    cdef VenueRef *vr
    cdef int32_t slot
    cdef Order *o
    cdef Event *ev
    cdef uint16_t n, code
    cdef uint64_t oid
    cdef int64_t q, px
    cdef bint live
    if not router_has_venues(&st.router):
        # without venues the command does not exist (engine.md: nothing here applies)
        admin_report(st, c, 0, REJECT_CODE_UNKNOWN_COMMAND, 0)
        return
    if c.venue_id == VENUE_INTERNAL or c.venue_id >= ROUTER_MAX_VENUES \
            or not st.router.venues[c.venue_id].defined:
        admin_report(st, c, op, REJECT_CODE_UNKNOWN_DESTINATION, 0)
        return
    vr = &st.router.venues[c.venue_id]
    if c.admin_op == VENUE_EXEC_SESSION:
        venue_session(st, c, vr)
        return
    if c.venue_seq != 0:
        if c.venue_seq <= vr.last_seq:
            admin_report(st, c, op, REJECT_CODE_VENUE_DUPLICATE_MESSAGE, 0)
            return
        vr.last_seq = c.venue_seq
    oid = c.cl_ord_id >> 16
    n = <uint16_t>(c.cl_ord_id & 0xFFFF)
    slot = oid_get(st, oid)
    if slot < 0 or st.orders[slot].venue_id != c.venue_id or n == 0 \
            or n > st.orders[slot].venue_last_req:
        admin_report(st, c, op, REJECT_CODE_UNKNOWN_ORDER, 0)
        return
    o = &st.orders[slot]
    if (c.admin_op != VENUE_EXEC_ACK and c.admin_op != VENUE_EXEC_REJECT
            and c.admin_op != VENUE_EXEC_TIMEOUT
            and o.venue_state == VENUE_ORDER_STATE_NEW_SENT and n == o.venue_live_req):
        venue_ack(st, c, slot)           # whatever the venue says next, it has the order
    if c.admin_op == VENUE_EXEC_ACK:
        if o.venue_state != VENUE_ORDER_STATE_NEW_SENT or n != o.venue_live_req:
            admin_report(st, c, op, REJECT_CODE_VENUE_UNEXPECTED_REPORT, 0)
            return
        venue_ack(st, c, slot)
    elif c.admin_op == VENUE_EXEC_REJECT:
        if o.venue_state != VENUE_ORDER_STATE_NEW_SENT or n != o.venue_live_req:
            admin_report(st, c, op, REJECT_CODE_VENUE_UNEXPECTED_REPORT, 0)
            return
        code = c.reason if c.reason else REJECT_CODE_VENUE_REJECTED
        if o.status == ORD_STATUS_ROUTED:
            venue_end(st, c, slot, ORD_STATUS_REJECTED, EXEC_TYPE_REJECTED, code)
        else:
            venue_end(st, c, slot, ORD_STATUS_CANCELLED, EXEC_TYPE_CANCELED, code)
    elif c.admin_op == VENUE_EXEC_FILL:
        code = trade_check(c.qty, c.price)
        if code:
            admin_report(st, c, op, code, 0)
            return
        if is_terminal(o.status):
            code = REJECT_CODE_VENUE_LATE_FILL
        elif c.qty > o.leaves_qty:
            code = REJECT_CODE_VENUE_OVERFILL
        book_venue_fill(st, o, c.qty, c.price, c.time_ns)
        emit_venue_trade(st, c, o, EXEC_TYPE_TRADE, c.qty, c.price, code)
        if o.status == ORD_STATUS_FILLED and code != REJECT_CODE_VENUE_LATE_FILL:
            close_order(st, slot)
    elif c.admin_op == VENUE_EXEC_CANCELED or c.admin_op == VENUE_EXEC_EXPIRED:
        if is_terminal(o.status):
            admin_report(st, c, op, REJECT_CODE_VENUE_UNEXPECTED_REPORT, 0)
            return
        if c.admin_op == VENUE_EXEC_EXPIRED:
            venue_end(st, c, slot, ORD_STATUS_EXPIRED, EXEC_TYPE_EXPIRED, c.reason)
        elif o.venue_state == VENUE_ORDER_STATE_CANCEL_SENT and n == o.venue_last_req:
            end_order(st, c, slot, ORD_STATUS_CANCELLED)
            o.venue_state = VENUE_ORDER_STATE_DONE
            ev = emit(st, c, EVENT_TYPE_EXEC_REPORT)
            fill_from_order(ev, o)
            ev.exec_type = EXEC_TYPE_CANCELED
            ev.reject_code = o.pending_code
            if o.pending_cl_ord_id != 0:
                ev.cl_ord_id = o.pending_cl_ord_id
                ev.orig_cl_ord_id = o.cl_ord_id
            commit(st)
        else:
            venue_end(st, c, slot, ORD_STATUS_CANCELLED, EXEC_TYPE_CANCELED, c.reason)
    elif c.admin_op == VENUE_EXEC_REPLACED:
        # a terminal order (filled while the replace was in flight) cannot take the
        # venue's new terms: the report does not fit (docs/engine.md)
        if (o.venue_state != VENUE_ORDER_STATE_REPLACE_SENT or n != o.venue_last_req
                or is_terminal(o.status)):
            admin_report(st, c, op, REJECT_CODE_VENUE_UNEXPECTED_REPORT, 0)
            return
        code = trade_check(c.qty, c.price)
        if code:
            admin_report(st, c, op, code, 0)
            return
        venue_replaced(st, c, slot, n)
    elif c.admin_op == VENUE_EXEC_CANCEL_REJECT:
        if not venue_request_in_flight(o) or n != o.venue_last_req:
            admin_report(st, c, op, REJECT_CODE_VENUE_UNEXPECTED_REPORT, 0)
            return
        venue_cancel_rejected(st, c, slot)
    elif c.admin_op == VENUE_EXEC_BUST or c.admin_op == VENUE_EXEC_CORRECT:
        if c.admin_op == VENUE_EXEC_BUST:
            q = c.qty
            px = c.price
        else:
            q = c.display_qty
            px = c.stop_price
        code = trade_check(q, px)
        if code == 0 and q > o.cum_qty:
            code = REJECT_CODE_INVALID_QTY
        if code == 0 and c.admin_op == VENUE_EXEC_CORRECT:
            code = trade_check(c.qty, c.price)
        if code:
            admin_report(st, c, op, code, 0)
            return
        live = not is_terminal(o.status)
        bust_venue_fill(st, o, q, px)
        if c.admin_op == VENUE_EXEC_BUST:
            emit_venue_trade(st, c, o, EXEC_TYPE_TRADE_CANCEL, q, px, 0)
        else:
            book_venue_fill(st, o, c.qty, c.price, c.time_ns)
            emit_venue_trade(st, c, o, EXEC_TYPE_TRADE_CORRECT, c.qty, c.price, 0)
            if live and o.status == ORD_STATUS_FILLED:
                close_order(st, slot)
    elif c.admin_op == VENUE_EXEC_TIMEOUT:
        if ((o.venue_state != VENUE_ORDER_STATE_NEW_SENT
                and o.venue_state != VENUE_ORDER_STATE_CANCEL_SENT
                and o.venue_state != VENUE_ORDER_STATE_REPLACE_SENT) or n != o.venue_last_req):
            admin_report(st, c, op, REJECT_CODE_VENUE_UNEXPECTED_REPORT, 0)
            return
        emit_exec(st, c, o, EXEC_TYPE_ORDER_STATUS, REJECT_CODE_VENUE_NO_RESPONSE)
    else:
        admin_report(st, c, op, REJECT_CODE_INVALID_ADMIN, 0)

cdef void venue_replaced(State *st, Command *c, int32_t slot, uint16_t n) noexcept nogil:
    """The venue confirmed our replace: the order is as the venue says."""
    cdef Order *o = &st.orders[slot]
    usage_add(st, o, -1)
    clord_del_slot(st, slot)
    o.orig_cl_ord_id = o.cl_ord_id
    o.cl_ord_id = o.pending_cl_ord_id
    clord_put(st, slot)
    o.pending_cl_ord_id = 0
    o.price = c.price
    o.qty = c.qty
    o.leaves_qty = c.qty - o.cum_qty if c.qty > o.cum_qty else 0
    if is_priced(o.ord_type):
        o.risk_px = c.price
    o.version += 1
    o.updated_ns = c.time_ns
    o.venue_live_req = n
    if o.leaves_qty == 0:
        o.reserved_notional = 0
        set_status(st, o, ORD_STATUS_FILLED)
        o.venue_state = VENUE_ORDER_STATE_DONE
    else:
        reserve(st, o)
        set_status(st, o, status_by_fills(o))
        o.venue_state = VENUE_ORDER_STATE_LIVE
    emit_exec(st, c, o, EXEC_TYPE_REPLACED, 0)
    if o.leaves_qty == 0:
        close_order(st, slot)
    elif o.venue_flags & VENUE_CANCEL_DEFERRED:
        send_cancel(st, c, slot, 0, o.pending_code)

cdef void venue_cancel_rejected(State *st, Command *c, int32_t slot) noexcept nogil:
    """The venue refused our cancel or replace: the order goes back as it was."""
    cdef Order *o = &st.orders[slot]
    cdef bint was_replace = o.venue_state == VENUE_ORDER_STATE_REPLACE_SENT
    cdef Event *ev
    if not is_terminal(o.status):
        set_status(st, o, status_by_fills(o))
        o.venue_state = VENUE_ORDER_STATE_LIVE
    else:
        o.venue_state = VENUE_ORDER_STATE_DONE
    ev = emit(st, c, EVENT_TYPE_CANCEL_REJECT)
    fill_from_order(ev, o)
    ev.cl_ord_id = o.pending_cl_ord_id if o.pending_cl_ord_id != 0 else o.cl_ord_id
    ev.orig_cl_ord_id = o.cl_ord_id
    ev.response_to = CXL_REJ_RESPONSE_TO_REPLACE if was_replace else CXL_REJ_RESPONSE_TO_CANCEL
    ev.reject_code = c.reason if c.reason else REJECT_CODE_VENUE_REJECTED
    commit(st)
    o.pending_cl_ord_id = 0
    if (was_replace and o.venue_flags & VENUE_CANCEL_DEFERRED
            and o.venue_state == VENUE_ORDER_STATE_LIVE):
        send_cancel(st, c, slot, 0, o.pending_code)


# ============================================================================================
# -- THE STEP FUNCTION --
# ============================================================================================

cdef void engine_apply(State *st, Command *c) noexcept nogil:
    st.cmd_seq += 1
    c.seq = st.cmd_seq
    if st.journal != NULL:
        # write-ahead: the command is in the journal before any of its effects
        oms_journal_append(st.journal, OMS_REC_COMMAND, c.seq, c.time_ns, c, sizeof(Command))
    if c.kind == COMMAND_TYPE_NEW:
        on_new(st, c)
    elif c.kind == COMMAND_TYPE_CANCEL:
        on_cancel(st, c)
    elif c.kind == COMMAND_TYPE_REPLACE:
        on_replace(st, c)
    elif c.kind == COMMAND_TYPE_STATUS:
        on_status(st, c)
    elif c.kind == COMMAND_TYPE_MASS_CANCEL:
        on_mass_cancel(st, c)
    elif c.kind == COMMAND_TYPE_MARKET_DATA:
        on_market_data(st, c)
    elif c.kind == COMMAND_TYPE_TIMER:
        on_timer(st, c)
    elif c.kind == COMMAND_TYPE_ADMIN:
        on_admin(st, c)
    elif c.kind == COMMAND_TYPE_VENUE_EXEC:
        on_venue_exec(st, c)
    else:
        admin_report(st, c, 0, REJECT_CODE_UNKNOWN_COMMAND, 0)
    if st.queue_count or st.dirty_count:
        settle(st, c)


cdef enum:
    # how many commands ahead the drivers prefetch index entries: a miss costs ~100 ns on
    # this VM and a command ~300-400 ns, so a few commands of lead hide it
    PREFETCH_AHEAD = 4

cdef void engine_prefetch(State *st, Command *c) noexcept nogil:
    """Start the cache misses of the next command while this one is processed: the index
    entries a NEW will probe are random in tables of tens of MB."""
    cdef uint64_t hi = c.idem_hi, lo = c.idem_lo
    cdef BookSide *b
    cdef int32_t li
    if c.kind == COMMAND_TYPE_NEW:
        if hi == 0 and lo == 0:
            hi = 0x8000000000000000ULL | c.session_id
            lo = c.cl_ord_id
        oms_prefetch(&st.idem_table[idem_hash(hi, lo) & st.idem_mask])
        oms_prefetch(&st.clord_table[clord_hash(c.session_id, c.cl_ord_id) & st.clord_mask])
        # the order-id index entry the NEW this far ahead will take (if every NEW between is
        # accepted: a guess, and a wrong one costs one wasted prefetch)
        oms_prefetch(&st.oid_table[oid_hash(st.next_order_id + PREFETCH_AHEAD) & st.oid_mask])
        # the tail order of the level it would join: resting reads its priority (measured:
        # 65% of the rest path's samples sat on that load; with both prefetches resting
        # orders went from 1.4M to 2.1M/s)
        if (c.symbol_id < st.max_symbols and (c.side == SIDE_BUY or c.side == SIDE_SELL)
                and c.ord_type == ORD_TYPE_LIMIT):
            b = book_side(st, c.symbol_id, c.side)
            li = level_search(b, c.price)
            if li >= 0 and b.levels[li].tail >= 0:
                oms_prefetch(&st.orders[b.levels[li].tail])
    elif c.order_id != 0:
        oms_prefetch(&st.oid_table[oid_hash(c.order_id) & st.oid_mask])
    else:
        oms_prefetch(&st.clord_table[clord_hash(c.session_id, c.orig_cl_ord_id) & st.clord_mask])


# ============================================================================================
# -- LIFETIME --
# ============================================================================================

cdef int state_init(State *st, int64_t max_orders, int64_t max_symbols, int64_t max_accounts,
                    int64_t idem_capacity, int64_t max_levels) noexcept nogil:
    """Allocate every structure up front.  calloc'ed memory is only made resident when
    touched, so capacity costs address space, not RAM."""
    cdef uint64_t n
    cdef int64_t i
    memset(st, 0, sizeof(State))
    st.max_orders = max_orders
    st.max_symbols = max_symbols
    st.max_accounts = max_accounts
    st.idem_capacity = idem_capacity
    st.max_levels = max_levels
    st.next_order_id = 1
    st.next_trade_id = 1
    st.closed_head = -1
    st.closed_tail = -1
    st.symbols = <SymbolRef *>oms_huge_calloc(max_symbols, sizeof(SymbolRef))
    st.accounts = <Account *>oms_huge_calloc(max_accounts, sizeof(Account))
    st.positions = <Position *>oms_huge_calloc(max_accounts * max_symbols, sizeof(Position))
    st.orders = <Order *>oms_huge_calloc(max_orders, sizeof(Order))
    n = table_size(max_orders)
    st.oid_table = <int32_t *>oms_huge_calloc(n, sizeof(int32_t))
    st.oid_mask = n - 1
    st.clord_table = <uint64_t *>oms_huge_calloc(n, sizeof(uint64_t))
    st.clord_mask = n - 1
    n = table_size(idem_capacity)
    st.idem_table = <uint64_t *>oms_huge_calloc(n, sizeof(uint64_t))
    st.idem_mask = n - 1
    st.idem_fifo = <IdemFifoEntry *>oms_huge_calloc(idem_capacity, sizeof(IdemFifoEntry))
    st.books = <BookSide *>oms_huge_calloc(max_symbols * 2, sizeof(BookSide))
    st.expiry_cap = 2 * max_orders + 1024
    st.day_expiry_min = INT64_MAX_VALUE
    st.expiry = <ExpiryEntry *>oms_huge_calloc(st.expiry_cap, sizeof(ExpiryEntry))
    st.triggers = <TriggerSet *>calloc(max_symbols, sizeof(TriggerSet))
    st.dirty_list = <int32_t *>calloc(max_symbols, sizeof(int32_t))
    st.next_priority = 1
    st.level_pool = <Level *>oms_huge_calloc(max_symbols * 2 * max_levels, sizeof(Level))
    if (st.symbols == NULL or st.accounts == NULL or st.positions == NULL or st.orders == NULL
            or st.oid_table == NULL or st.clord_table == NULL or st.idem_table == NULL
            or st.idem_fifo == NULL or st.books == NULL or st.level_pool == NULL
            or st.triggers == NULL or st.dirty_list == NULL or st.expiry == NULL
            or router_init(&st.router, max_symbols) != 0):
        state_free(st)
        return -1
    for i in range(max_symbols * 2):
        st.books[i].levels = &st.level_pool[i * max_levels]
        st.books[i].sign = 1 if i % 2 == 0 else -1
    for i in range(max_symbols):
        st.triggers[i].sell_trail_mark = INT64_MAX_VALUE    # no trailing stop to move yet
        st.triggers[i].buy_trail_mark = 0
        st.triggers[i].auction_head[0] = st.triggers[i].auction_head[1] = -1
        st.triggers[i].auction_tail[0] = st.triggers[i].auction_tail[1] = -1
    return 0

cdef int state_populate(State *st) noexcept nogil:
    """Fault in every preallocated structure now rather than on the first orders."""
    cdef int rc = 0
    rc |= oms_huge_populate(st.orders)
    rc |= oms_huge_populate(st.oid_table)
    rc |= oms_huge_populate(st.clord_table)
    rc |= oms_huge_populate(st.idem_table)
    rc |= oms_huge_populate(st.idem_fifo)
    rc |= oms_huge_populate(st.level_pool)
    rc |= oms_huge_populate(st.positions)
    rc |= oms_huge_populate(st.expiry)
    return rc

# ============================================================================================
# -- SNAPSHOTS --
# The whole state in one buffer: header, reference data, accounts, non-zero positions, the
# used order slots, the live idempotency FIFO, and each book side's levels.  The hash tables
# are not saved: restore rebuilds them from the orders and the FIFO (lookups depend only on
# keys, never on where an entry sits, so behaviour after a restore is identical).
# ============================================================================================

cdef struct SnapshotHeader:
    char magic[8]
    int64_t version
    int64_t max_orders
    int64_t max_symbols
    int64_t max_accounts
    int64_t idem_capacity
    int64_t max_levels
    int64_t cmd_seq
    int64_t event_seq
    uint64_t next_order_id
    uint64_t next_trade_id
    int64_t kill_switch
    int64_t illegal_transitions
    int64_t high_water
    int64_t closed_head
    int64_t closed_tail
    uint64_t idem_first
    uint64_t idem_next
    int64_t n_positions
    int64_t n_levels
    uint64_t next_priority
    int64_t last_timer_ns

cdef enum:
    SNAPSHOT_VERSION = 4       # 3: trigger heaps and the expiry heap (issue 3); 4: the router

cdef inline bint position_used(Position *p) noexcept nogil:
    return (p.net_qty != 0 or p.avg_px != 0 or p.realized_pnl != 0 or p.open_buy_qty != 0
            or p.open_sell_qty != 0 or p.open_notional != 0 or p.bought_qty != 0
            or p.sold_qty != 0)

cdef int64_t snapshot_size(State *st) noexcept nogil:
    cdef int64_t i, n_pos = 0, n_lv = 0, n_held = 0
    cdef int g
    for i in range(st.max_accounts * st.max_symbols):
        if position_used(&st.positions[i]):
            n_pos += 1
    for i in range(st.max_symbols * 2):
        n_lv += st.books[i].count
    for i in range(st.max_symbols):
        for g in range(N_GROUPS):
            n_held += st.triggers[i].groups[g].count
    return (sizeof(SnapshotHeader) + st.max_symbols * sizeof(SymbolRef)
            + st.max_accounts * sizeof(Account) + n_pos * (8 + sizeof(Position))
            + st.high_water * sizeof(Order)
            + <int64_t>(st.idem_next - st.idem_first) * sizeof(IdemFifoEntry)
            + st.max_symbols * 2 * 4 + n_lv * sizeof(Level)
            + st.max_symbols * (32 + N_GROUPS * 4) + n_held * sizeof(HeapEntry)
            + 16 + st.expiry_count * sizeof(ExpiryEntry) + router_snapshot_size(&st.router))

cdef int64_t snapshot_write(State *st, char *out) noexcept nogil:
    """Serialise the state into `out` (snapshot_size bytes); returns the bytes written."""
    cdef SnapshotHeader *h = <SnapshotHeader *>out
    cdef char *p = out + sizeof(SnapshotHeader)
    cdef int64_t i, n_pos = 0, n_lv = 0
    cdef uint64_t ins
    cdef TriggerSet *ts
    cdef int g
    memset(h, 0, sizeof(SnapshotHeader))
    memcpy(h.magic, b"OMSSNAP1", 8)
    h.version = SNAPSHOT_VERSION
    h.max_orders = st.max_orders
    h.max_symbols = st.max_symbols
    h.max_accounts = st.max_accounts
    h.idem_capacity = st.idem_capacity
    h.max_levels = st.max_levels
    h.cmd_seq = st.cmd_seq
    h.event_seq = st.event_seq
    h.next_order_id = st.next_order_id
    h.next_trade_id = st.next_trade_id
    h.kill_switch = st.kill_switch
    h.illegal_transitions = st.illegal_transitions
    h.high_water = st.high_water
    h.closed_head = st.closed_head
    h.closed_tail = st.closed_tail
    h.idem_first = st.idem_first
    h.idem_next = st.idem_next
    h.next_priority = st.next_priority
    h.last_timer_ns = st.last_timer_ns
    memcpy(p, st.symbols, st.max_symbols * sizeof(SymbolRef))
    p += st.max_symbols * sizeof(SymbolRef)
    memcpy(p, st.accounts, st.max_accounts * sizeof(Account))
    p += st.max_accounts * sizeof(Account)
    for i in range(st.max_accounts * st.max_symbols):
        if position_used(&st.positions[i]):
            memcpy(p, &i, 8)
            memcpy(p + 8, &st.positions[i], sizeof(Position))
            p += 8 + sizeof(Position)
            n_pos += 1
    h.n_positions = n_pos
    memcpy(p, st.orders, st.high_water * sizeof(Order))
    p += st.high_water * sizeof(Order)
    ins = st.idem_first
    while ins < st.idem_next:
        memcpy(p, &st.idem_fifo[fifo_pos(st, ins)], sizeof(IdemFifoEntry))
        p += sizeof(IdemFifoEntry)
        ins += 1
    for i in range(st.max_symbols * 2):
        memcpy(p, &st.books[i].count, 4)
        p += 4
        memcpy(p, st.books[i].levels, st.books[i].count * sizeof(Level))
        p += st.books[i].count * sizeof(Level)
        n_lv += st.books[i].count
    h.n_levels = n_lv
    # the heaps verbatim: restored orders keep their heap positions
    for i in range(st.max_symbols):
        ts = &st.triggers[i]
        memcpy(p, &ts.sell_trail_mark, 8)
        memcpy(p + 8, &ts.buy_trail_mark, 8)
        memcpy(p + 16, ts.auction_head, 8)
        memcpy(p + 24, ts.auction_tail, 8)
        p += 32
        for g in range(N_GROUPS):
            memcpy(p, &ts.groups[g].count, 4)
            p += 4
            memcpy(p, ts.groups[g].e, ts.groups[g].count * sizeof(HeapEntry))
            p += ts.groups[g].count * sizeof(HeapEntry)
    memcpy(p, &st.expiry_count, 8)
    memcpy(p + 8, &st.expiry_live, 8)
    p += 16
    memcpy(p, st.expiry, st.expiry_count * sizeof(ExpiryEntry))
    p += st.expiry_count * sizeof(ExpiryEntry)
    p = router_snapshot_write(&st.router, p)
    return p - out

cdef int snapshot_read(State *st, const char *data, int64_t size) noexcept nogil:
    """Load a snapshot into a freshly initialised state of the same capacities.  Returns 0,
    -1 for a foreign or damaged buffer, -2 for different capacities."""
    cdef const SnapshotHeader *h = <const SnapshotHeader *>data
    cdef const char *p = data + sizeof(SnapshotHeader)
    cdef const char *end = data + size
    cdef int64_t i, idx, n
    cdef uint64_t ins
    cdef int32_t cnt
    cdef IdemFifoEntry *f
    cdef uint64_t h64, j
    cdef TriggerSet *ts
    cdef int g
    if size < <int64_t>sizeof(SnapshotHeader) or memcmp(h.magic, b"OMSSNAP1", 8) != 0:
        return -1
    if h.version != SNAPSHOT_VERSION:
        return -1
    if (h.max_orders != st.max_orders or h.max_symbols != st.max_symbols
            or h.max_accounts != st.max_accounts or h.idem_capacity != st.idem_capacity
            or h.max_levels != st.max_levels):
        return -2
    st.cmd_seq = h.cmd_seq
    st.event_seq = h.event_seq
    st.next_order_id = h.next_order_id
    st.next_trade_id = h.next_trade_id
    st.kill_switch = <int32_t>h.kill_switch
    st.illegal_transitions = h.illegal_transitions
    st.high_water = h.high_water
    st.closed_head = <int32_t>h.closed_head
    st.closed_tail = <int32_t>h.closed_tail
    st.idem_first = h.idem_first
    st.idem_next = h.idem_next
    st.next_priority = h.next_priority
    st.last_timer_ns = h.last_timer_ns
    n = st.max_symbols * sizeof(SymbolRef) + st.max_accounts * sizeof(Account)
    if p + n > end:
        return -1
    memcpy(st.symbols, p, st.max_symbols * sizeof(SymbolRef))
    p += st.max_symbols * sizeof(SymbolRef)
    memcpy(st.accounts, p, st.max_accounts * sizeof(Account))
    p += st.max_accounts * sizeof(Account)
    memset(st.positions, 0, st.max_accounts * st.max_symbols * sizeof(Position))
    for i in range(h.n_positions):
        if p + 8 + <int64_t>sizeof(Position) > end:
            return -1
        memcpy(&idx, p, 8)
        if idx < 0 or idx >= st.max_accounts * st.max_symbols:
            return -1
        memcpy(&st.positions[idx], p + 8, sizeof(Position))
        p += 8 + sizeof(Position)
    n = h.high_water * sizeof(Order) + <int64_t>(h.idem_next - h.idem_first) * sizeof(IdemFifoEntry)
    if h.high_water > st.max_orders or p + n > end:
        return -1
    memcpy(st.orders, p, h.high_water * sizeof(Order))
    p += h.high_water * sizeof(Order)
    memset(st.oid_table, 0, (st.oid_mask + 1) * sizeof(int32_t))
    memset(st.clord_table, 0, (st.clord_mask + 1) * sizeof(uint64_t))
    for i in range(st.high_water):
        oid_put(st, <int32_t>i)
        clord_put(st, <int32_t>i)
    memset(st.idem_table, 0, (st.idem_mask + 1) * sizeof(uint64_t))
    ins = st.idem_first
    while ins < st.idem_next:
        f = &st.idem_fifo[fifo_pos(st, ins)]
        memcpy(f, p, sizeof(IdemFifoEntry))
        p += sizeof(IdemFifoEntry)
        # a key stored again after it expired appears twice: the newer entry wins, as live
        idx = idem_find(st, f.hi, f.lo)
        h64 = idem_hash(f.hi, f.lo)
        if idx >= 0:
            st.idem_table[idx] = tag_of(h64) | (fifo_pos(st, ins) + 1)
        else:
            j = h64 & st.idem_mask
            while st.idem_table[j] != 0:
                j = (j + 1) & st.idem_mask
            st.idem_table[j] = tag_of(h64) | (fifo_pos(st, ins) + 1)
        ins += 1
    for i in range(st.max_symbols * 2):
        if p + 4 > end:
            return -1
        memcpy(&cnt, p, 4)
        p += 4
        if cnt < 0 or cnt > st.max_levels or p + cnt * <int64_t>sizeof(Level) > end:
            return -1
        st.books[i].count = cnt
        memcpy(st.books[i].levels, p, cnt * sizeof(Level))
        p += cnt * sizeof(Level)
    for i in range(st.max_symbols):
        ts = &st.triggers[i]
        if p + 32 > end:
            return -1
        memcpy(&ts.sell_trail_mark, p, 8)
        memcpy(&ts.buy_trail_mark, p + 8, 8)
        memcpy(ts.auction_head, p + 16, 8)
        memcpy(ts.auction_tail, p + 24, 8)
        p += 32
        for g in range(N_GROUPS):
            if p + 4 > end:
                return -1
            memcpy(&cnt, p, 4)
            p += 4
            if (cnt < 0 or cnt > st.max_orders or p + cnt * <int64_t>sizeof(HeapEntry) > end
                    or not heap_reserve(&ts.groups[g], cnt)):
                return -1
            ts.groups[g].count = cnt
            memcpy(ts.groups[g].e, p, cnt * sizeof(HeapEntry))
            p += cnt * sizeof(HeapEntry)
    if p + 16 > end:
        return -1
    memcpy(&n, p, 8)
    if n < 0 or n > st.expiry_cap or p + 16 + n * <int64_t>sizeof(ExpiryEntry) > end:
        return -1
    st.expiry_count = n
    st.day_expiry_min = -INT64_MAX_VALUE - 1    # not saved: the next TIMER rescans
    memcpy(&st.expiry_live, p + 8, 8)
    memcpy(st.expiry, p + 16, n * sizeof(ExpiryEntry))
    p += 16 + n * sizeof(ExpiryEntry)
    if router_snapshot_read(&st.router, p, end) == NULL:
        return -1
    return 0


cdef void state_free(State *st) noexcept nogil:
    cdef int64_t i
    cdef int g
    oms_huge_free(st.symbols)
    oms_huge_free(st.accounts)
    oms_huge_free(st.positions)
    oms_huge_free(st.orders)
    oms_huge_free(st.oid_table)
    oms_huge_free(st.clord_table)
    oms_huge_free(st.idem_table)
    oms_huge_free(st.idem_fifo)
    oms_huge_free(st.books)
    oms_huge_free(st.level_pool)
    if st.triggers != NULL:
        for i in range(st.max_symbols):
            for g in range(N_GROUPS):
                free(st.triggers[i].groups[g].e)
    free(st.triggers)
    free(st.dirty_list)
    oms_huge_free(st.expiry)
    free(st.queue)
    free(st.scratch)
    free(st.sink.buf)
    router_free(&st.router)
    memset(st, 0, sizeof(State))


# ============================================================================================
# -- PYTHON SURFACE --
# The direct driver (`Core.process`) and the threaded driver (`Engine`) call the same
# `engine_apply`: what the tests and replay run is what production runs.
# ============================================================================================

import threading
import time
import uuid

import numpy as np

from oms import layout as py_layout
from oms.layout import (COMMAND_DTYPE, EVENT_DTYPE, ORDER_DTYPE, SYMBOL_DTYPE, ACCOUNT_DTYPE,
                        POSITION_DTYPE)

if (sizeof(Command), sizeof(Event), sizeof(Order), sizeof(SymbolRef), sizeof(Account),
        sizeof(Position)) != (COMMAND_DTYPE.itemsize, EVENT_DTYPE.itemsize, ORDER_DTYPE.itemsize,
                              SYMBOL_DTYPE.itemsize, ACCOUNT_DTYPE.itemsize,
                              POSITION_DTYPE.itemsize):
    raise ImportError("cext/layout.pxd is out of date with oms.layout: rebuild the extension")


class EngineError(Exception):
    """Misuse of the engine API (not a rejected order: those are events)."""


cdef object copy_records(const void *src, int64_t n, object dtype):
    out = np.empty(n, dtype=dtype)
    cdef uint8_t[::1] dst
    if n:
        dst = out.view(np.uint8)
        memcpy(&dst[0], src, n * dtype.itemsize)
    return out


cdef const uint8_t *records_ptr(object arr, object dtype) except NULL:
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
        raise TypeError(f"expected a numpy array of dtype oms.layout.{dtype}")
    if not arr.flags.c_contiguous:
        raise TypeError("the command array must be C-contiguous")
    cdef const uint8_t[::1] view = arr.view(np.uint8).reshape(-1)
    if view.shape[0] == 0:
        return <const uint8_t *>""
    return &view[0]


cdef uint8_t *writable_records_ptr(object arr, object dtype) except NULL:
    records_ptr(arr, dtype)
    cdef uint8_t[::1] view = arr.view(np.uint8).reshape(-1)
    if view.shape[0] == 0:
        raise ValueError("the event buffer is empty")
    return &view[0]


_FEATURE_BITS = {"iceberg": VENUE_FEATURE_ICEBERG, "post_only": VENUE_FEATURE_POST_ONLY,
                 "min_qty": VENUE_FEATURE_MIN_QTY}

cdef void configure_router(RouteTable *rt, config) except *:
    """Venue rows, listings and rules from EngineConfig (validated there)."""
    cdef VenueRef *vr
    cdef Listing *li
    cdef SymbolRoute *sr
    ids = {}
    for v in config.venues:
        vr = &rt.venues[v.venue_id]
        vr.defined = 1
        vr.state = VENUE_STATE_DOWN
        vr.maker_fee = v.maker_fee
        vr.taker_fee = v.taker_fee
        vr.ord_type_mask = 0
        for t in v.ord_types:
            vr.ord_type_mask |= 1 << int(py_layout.OrdType[t.upper()])
        vr.tif_mask = 0
        for t in v.tifs:
            vr.tif_mask |= 1 << int(py_layout.TimeInForce[t.upper()])
        vr.features = 0
        for f in v.features:
            vr.features |= _FEATURE_BITS[f]
        vr.cancel_on_disconnect = v.cancel_on_disconnect
        ids[v.name] = v.venue_id
    for sym in config.symbols:
        sr = &rt.symbols[sym.symbol_id]
        sr.rule = py_layout.RouteRule[sym.route_rule.upper()]
        sr.n_listed = len(sym.venues)
        if sym.venues:
            sr.primary = ids[sym.primary_venue or sym.venues[0].venue]
        for listing in sym.venues:
            li = &rt.listings[sym.symbol_id * ROUTER_MAX_VENUES + ids[listing.venue]]
            li.listed = 1
            li.tick_size = listing.tick_size
            li.lot_size = listing.lot_size


cdef class Core:
    """The engine state and its direct, single-threaded driver.

    `process(commands)` applies a batch of commands (a numpy array of COMMAND_DTYPE) and
    returns the events they produced (EVENT_DTYPE).  Tests, replay and recovery use this; the
    threaded `Engine` wraps the same state.
    """
    cdef State st
    cdef readonly object config
    cdef readonly JournalWriter journal
    cdef int64_t verify_pos

    def __cinit__(self, config):
        if state_init(&self.st, config.max_orders, config.max_symbols, config.max_accounts,
                      config.idem_capacity, config.max_levels) != 0:
            raise MemoryError("cannot allocate the engine's preallocated structures")
        self.config = config
        if config.prefault and state_populate(&self.st) != 0:
            raise MemoryError("cannot make the engine's structures resident (prefault)")
        cdef SymbolRef *s
        cdef Account *a
        for sym in config.symbols:
            s = &self.st.symbols[sym.symbol_id]
            s.tick_size = sym.tick_size
            s.lot_size = sym.lot_size
            s.min_qty = sym.min_qty
            s.max_qty = sym.max_qty
            s.ref_price = sym.ref_price
            s.collar_bps = sym.collar_bps
            s.open_sec = sym.open_sec
            s.close_sec = sym.close_sec
            s.halted = sym.halted
            s.market_protection_bps = sym.market_protection_bps
            s.matching = py_layout.Matching[sym.matching.upper()]
            s.trigger_source = py_layout.TriggerSource[sym.trigger_source.upper()]
            s.pro_rata_min_alloc = sym.pro_rata_min_alloc
            s.defined = 1
        for acc in config.accounts:
            a = &self.st.accounts[acc.account_id]
            a.credit_limit = acc.credit_limit
            a.max_order_qty = acc.max_order_qty
            a.max_order_notional = acc.max_order_notional
            a.max_position = acc.max_position
            a.gross_limit = acc.gross_limit
            a.concentration_pct = acc.concentration_pct
            a.enabled = acc.enabled
            a.stp_mode = py_layout.StpMode[acc.stp_mode.upper()]
            a.defined = 1
        configure_router(&self.st.router, config)

    def __dealloc__(self):
        state_free(&self.st)

    def process(self, commands, bint copy=True):
        """Apply the commands in order; their `seq` fields are overwritten with the input
        sequence.  Returns the events as a new array, or with `copy=False` as a view of the
        core's own event buffer, valid only until the next call (replay compares and drops
        events without touching fresh memory: first writes cost ~0.34 GB/s here)."""
        cdef Command *cmds = <Command *>records_ptr(commands, COMMAND_DTYPE)
        cdef int64_t i, n = len(commands)
        self.st.sink.count = 0
        self.verify_pos = 0
        with nogil:
            for i in range(n):
                if i + PREFETCH_AHEAD < n:
                    engine_prefetch(&self.st, &cmds[i + PREFETCH_AHEAD])
                engine_apply(&self.st, &cmds[i])
            if self.st.journal != NULL:
                oms_journal_publish_written(self.st.journal, self.st.cmd_seq)
        if copy or self.st.sink.count == 0:
            return copy_records(self.st.sink.buf, self.st.sink.count, EVENT_DTYPE)
        cdef uint8_t[::1] view = <uint8_t[:self.st.sink.count * sizeof(Event)]> (
            <uint8_t *>self.st.sink.buf)
        return np.asarray(view).view(EVENT_DTYPE)

    def attach_journal(self, JournalWriter writer):
        """Journal every command before it is applied and every event as it is emitted
        (None detaches).  Attach between batches, never while a business thread runs."""
        self.journal = writer
        self.st.journal = writer.j if writer is not None else NULL

    def verify_segment(self, data, int64_t start, int64_t after_event_seq):
        """The fast path of `oms.journal.verify`: walk a segment's records straight from its
        bytes, re-executing each command after this state and comparing each event after
        `after_event_seq` with the one re-execution produced, with no record copied into an
        array (fresh arrays cost page faults: replay ran at half the re-execution rate).
        Produced events not yet compared carry over to the next segment.  Returns (status,
        offset, commands applied, events compared): status 0 at the end of the data, 1 a bad
        record at offset, 2 a command out of sequence, 3 an event that differs, 4 an event
        that re-execution did not produce."""
        cdef const uint8_t[::1] view = data
        cdef const uint8_t *base = &view[0]
        cdef int64_t size = view.shape[0], off = start, applied = 0, compared = 0
        cdef int status = 0
        cdef uint32_t length, crc
        cdef uint16_t rtype, plen
        cdef int64_t seq
        cdef Command cmd
        cdef EventSink *sink = &self.st.sink
        if sink.ring != NULL:
            raise EngineError("verify_segment needs the direct driver (engine not running)")
        with nogil:
            while off + 4 <= size:
                memcpy(&length, base + off, 4)
                if length == 0:
                    break
                if off + OMS_RECORD_HEADER > size:
                    status = 1
                    break
                memcpy(&rtype, base + off + 4, 2)
                memcpy(&plen, base + off + 6, 2)
                if ((rtype == OMS_REC_COMMAND and plen != sizeof(Command))
                        or (rtype == OMS_REC_EVENT and plen != sizeof(Event))
                        or (rtype != OMS_REC_COMMAND and rtype != OMS_REC_EVENT)
                        or length != oms_record_size(plen) or off + length > size):
                    status = 1
                    break
                memcpy(&crc, base + off + OMS_RECORD_HEADER + plen, 4)
                if crc != oms_crc32c(base + off, OMS_RECORD_HEADER + plen):
                    status = 1
                    break
                memcpy(&seq, base + off + 8, 8)
                if rtype == OMS_REC_COMMAND:
                    if seq > self.st.cmd_seq:
                        if seq != self.st.cmd_seq + 1:
                            status = 2
                            break
                        memcpy(&cmd, base + off + OMS_RECORD_HEADER, sizeof(Command))
                        engine_apply(&self.st, &cmd)
                        applied += 1
                elif seq > after_event_seq:
                    if self.verify_pos >= sink.count:
                        status = 4
                        break
                    if memcmp(base + off + OMS_RECORD_HEADER, &sink.buf[self.verify_pos],
                              sizeof(Event)) != 0:
                        status = 3
                        break
                    self.verify_pos += 1
                    compared += 1
                    if self.verify_pos == sink.count:
                        # everything produced so far is checked: reuse the buffer from the start
                        sink.count = 0
                        self.verify_pos = 0
                off += length
        return status, off, applied, compared

    def unverified_events(self):
        """Events re-execution produced that `verify_segment` has not compared yet."""
        return copy_records(&self.st.sink.buf[self.verify_pos],
                            self.st.sink.count - self.verify_pos, EVENT_DTYPE)

    # -- QUERIES (a copy of the state; call between batches) --

    def orders(self):
        """Every order in the store (live, or terminal and not yet evicted), in slot order."""
        return copy_records(self.st.orders, self.st.high_water, ORDER_DTYPE)

    def positions(self):
        out = copy_records(self.st.positions, self.st.max_accounts * self.st.max_symbols,
                           POSITION_DTYPE)
        return out.reshape(self.st.max_accounts, self.st.max_symbols)

    def accounts(self):
        return copy_records(self.st.accounts, self.st.max_accounts, ACCOUNT_DTYPE)

    def venues(self):
        """The external venues' rows as the router keeps them: {venue_id: dict(state,
        last_seq, cancel_on_disconnect, maker_fee, taker_fee)} (`last_seq`: the last venue
        message sequence applied, what a venue session resumes after on a restart)."""
        cdef int v
        cdef VenueRef *vr
        out = {}
        for v in range(1, ROUTER_MAX_VENUES):
            vr = &self.st.router.venues[v]
            if vr.defined:
                out[v] = dict(state=vr.state, last_seq=vr.last_seq,
                              cancel_on_disconnect=vr.cancel_on_disconnect,
                              maker_fee=vr.maker_fee, taker_fee=vr.taker_fee)
        return out

    def symbols(self):
        return copy_records(self.st.symbols, self.st.max_symbols, SYMBOL_DTYPE)

    def book(self, uint32_t symbol_id):
        """(bids, asks), each a list of (price, qty, [order ids oldest first]), best first."""
        if symbol_id >= self.st.max_symbols:
            raise EngineError(f"symbol id {symbol_id} is not below max_symbols")
        return (self._side(book_side(&self.st, symbol_id, SIDE_BUY)),
                self._side(book_side(&self.st, symbol_id, SIDE_SELL)))

    cdef list _side(self, BookSide *b):
        cdef list levels = []
        cdef int32_t i, slot
        for i in range(b.count - 1, -1, -1):
            ids = []
            slot = b.levels[i].head
            while slot >= 0:
                ids.append(self.st.orders[slot].order_id)
                slot = self.st.orders[slot].next
            levels.append((b.levels[i].price, b.levels[i].qty, ids))
        return levels

    def snapshot(self):
        """The whole state as bytes (see SNAPSHOTS in this file); `restore` loads it."""
        cdef int64_t n = snapshot_size(&self.st)
        buf = bytearray(n)
        cdef char *p = buf
        with nogil:
            snapshot_write(&self.st, p)
        return bytes(buf)

    def restore(self, snapshot):
        """Load a snapshot into this (fresh) core; capacities must equal the snapshot's."""
        cdef const unsigned char[::1] view = snapshot
        cdef int rc
        if self.st.cmd_seq != 0:
            raise EngineError("restore needs a fresh core (no commands processed yet)")
        rc = snapshot_read(&self.st, <const char *>&view[0], view.shape[0])
        if rc == -2:
            raise EngineError("snapshot was taken with different capacities than this config")
        if rc != 0:
            raise EngineError("snapshot is damaged or not an oms snapshot")

    def counters(self):
        return dict(cmd_seq=self.st.cmd_seq, event_seq=self.st.event_seq,
                    next_order_id=self.st.next_order_id, next_trade_id=self.st.next_trade_id,
                    kill_switch=self.st.kill_switch)

    @property
    def illegal_transitions(self):
        """State-machine refusals; non-zero means an engine bug (tests assert it stays 0)."""
        return self.st.illegal_transitions

    @property
    def alloc_failures(self):
        """Times a growable structure (trigger heap, expiry heap, contingent queue) could not
        grow; each cancelled the order concerned.  Non-zero only under memory exhaustion."""
        return self.st.alloc_failures

    @property
    def live_orders(self):
        return self.st.high_water

    def memory_layout(self):
        """Bytes reserved per structure (address space; RAM is used only as touched)."""
        return dict(
            orders=self.st.max_orders * sizeof(Order),
            order_id_index=(self.st.oid_mask + 1) * sizeof(int32_t),
            cl_ord_id_index=(self.st.clord_mask + 1) * sizeof(uint64_t),
            idempotency_table=(self.st.idem_mask + 1) * sizeof(uint64_t),
            idempotency_fifo=self.st.idem_capacity * sizeof(IdemFifoEntry),
            books=self.st.max_symbols * 2 * self.st.max_levels * sizeof(Level),
            positions=self.st.max_accounts * self.st.max_symbols * sizeof(Position),
            expiry_heap=self.st.expiry_cap * sizeof(ExpiryEntry),
        )


cdef void run_loop(State *st, oms_ring *inr, int32_t *stop, int wait_strategy,
                   int64_t max_batch, int32_t *notify_armed, int notify_fd) noexcept nogil:
    """The business thread: drain every available command, then release them at once;
    wake the event consumer when it sleeps on `notify_fd` (ring.h, oms_notify_fd)."""
    cdef int64_t next = oms_ring_consumed(inr)
    cdef int64_t n, i, idle = 0
    cdef int64_t events_before
    while True:
        n = oms_ring_available(inr, next, max_batch)
        if n == 0:
            if oms_atomic_load_i32(stop):
                return
            oms_wait(wait_strategy, idle)
            idle += 1
            continue
        idle = 0
        events_before = st.event_seq
        for i in range(n):
            if i + PREFETCH_AHEAD < n:
                engine_prefetch(st, <Command *>oms_ring_slot(inr, next + i + PREFETCH_AHEAD))
            engine_apply(st, <Command *>oms_ring_slot(inr, next + i))
        if st.journal != NULL:
            oms_journal_publish_written(st.journal, st.cmd_seq)
        next += n
        oms_ring_release(inr, next)
        if (notify_fd >= 0 and st.event_seq != events_before
                and oms_atomic_exchange_i32(notify_armed, 0)):
            oms_notify_fd(notify_fd)
        st.last_cmd_time_ns = (<Command *>oms_ring_slot(inr, next - 1)).time_ns
        if st.snapshot_every_events > 0 and snapshot_due(st):
            snapshot_post(st)


cdef bint snapshot_due(State *st) noexcept nogil:
    """Between batches: time for a snapshot?  By events or by command time, never closer
    than snapshot_min_ns (the copy grows with the state), and never while the writer still
    holds the previous one."""
    cdef int64_t since = st.last_cmd_time_ns - st.last_snapshot_time_ns
    if oms_atomic_load_i32(&st.snapshot_ready):
        return False
    if since < st.snapshot_min_ns:
        return False
    return (st.event_seq - st.last_snapshot_event_seq >= st.snapshot_every_events
            or since >= st.snapshot_every_ns)

cdef void snapshot_post(State *st) noexcept nogil:
    """Copy the state into a fresh buffer and hand it to the snapshot writer thread: the
    business thread pauses for the copy only."""
    cdef int64_t n = snapshot_size(st)
    cdef char *buf = <char *>malloc(n)
    if buf == NULL:
        return
    st.snapshot_len = snapshot_write(st, buf)
    st.snapshot_buf = buf
    st.snapshot_cmd_seq = st.cmd_seq
    st.last_snapshot_event_seq = st.event_seq
    st.last_snapshot_time_ns = st.last_cmd_time_ns
    oms_atomic_store_i32(&st.snapshot_ready, 1)


_WAIT_STRATEGIES = {"busy-spin": OMS_WAIT_BUSY_SPIN, "yield": OMS_WAIT_YIELD,
                    "sleep": OMS_WAIT_SLEEP}


cdef inline int64_t integer(object value, str name) except? -1:
    """Prices and quantities are exact integers: a float would be silently truncated."""
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int (prices in 1/10,000 units: oms.px), "
                        f"not {type(value).__name__}")
    return value


cdef inline uint64_t identifier(object value, str name) except? 0:
    """Order ids and ClOrdIDs are unsigned 64-bit integers, never floats or strings."""
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise OverflowError(f"{name} must not be negative")
    return value


cdef class Engine:
    """The engine on its own pinned business thread, fed through the input ring.

    Any thread may submit (the ring takes several producers); one consumer drains events with
    `poll()`.  Methods that wait for an answer (`status`, `wait`) keep the events they pass
    over, so `poll()` still returns every event exactly once, in order.
    """
    cdef readonly Core core
    cdef oms_ring inr
    cdef oms_ring outr
    cdef int32_t stop_flag
    cdef int32_t notify_armed           # the consumer sleeps on notify_fd: wake it
    cdef int notify_fd                  # an eventfd of the consumer's, or -1 (it polls)
    cdef int64_t seq_base
    cdef int64_t out_next
    cdef uint64_t next_cl_ord_id
    cdef object thread
    cdef list pending
    cdef dict symbol_ids
    cdef readonly bint running
    cdef readonly JournalWriter writer
    cdef object drain_lock
    cdef readonly object snapshots
    cdef readonly object history
    cdef readonly object recovery
    cdef object snapshot_thread

    def __cinit__(self, config):
        self.notify_fd = -1
        if config.journal_dir is not None:
            from oms.journal import open_journal
            self.core, self.writer, self.recovery, self.snapshots = open_journal(config)
            self.core.st.snapshot_every_events = config.snapshot_every_events
            self.core.st.snapshot_every_ns = config.snapshot_every_seconds * 1_000_000_000
            self.core.st.snapshot_min_ns = config.snapshot_min_interval_seconds * 1_000_000_000
            self.core.st.last_snapshot_event_seq = self.core.st.event_seq
            if config.history_index_seconds > 0:
                from oms.history import HistoryIndex
                self.history = HistoryIndex(config.journal_dir)
        else:
            self.core = Core(config)
        if oms_ring_init(&self.inr, config.input_ring, sizeof(Command)) != 0:
            raise MemoryError("cannot allocate the input ring")
        if oms_ring_init(&self.outr, config.output_ring, sizeof(Event)) != 0:
            oms_ring_free(&self.inr)
            raise MemoryError("cannot allocate the output ring")
        self.pending = []
        # producers drain too (when the input ring is full): one drainer at a time
        self.drain_lock = threading.Lock()
        self.symbol_ids = {s.name: s.symbol_id for s in config.symbols}
        self.next_cl_ord_id = 1
        self.running = False

    def __dealloc__(self):
        oms_ring_free(&self.inr)
        oms_ring_free(&self.outr)

    # -- LIFETIME --

    def set_notify_fd(self, int fd):
        """Before `start`: an eventfd the business thread writes after a batch that
        published events, when the consumer has armed it (`arm_notify`); -1: none."""
        if self.running:
            raise EngineError("set_notify_fd before start")
        self.notify_fd = fd

    def arm_notify(self):
        """The consumer is about to sleep on the eventfd: ask for a wake-up at the next
        batch that publishes events.  Poll once more after arming (events published just
        before it are not signalled)."""
        oms_atomic_exchange_i32(&self.notify_armed, 1)

    def start(self):
        if self.running:
            raise EngineError("engine already started")
        # sink.next_seq carries on from the previous run: the output ring is never reset
        self.core.st.sink.ring = &self.outr
        self.seq_base = self.core.st.cmd_seq - oms_ring_claimed(&self.inr)
        self.stop_flag = 0
        self.running = True
        if self.writer is not None:
            self.writer.start_flusher()
            self.snapshot_thread = threading.Thread(target=self._snapshot_writer,
                                                    name="oms-snapshots", daemon=True)
        self.thread = threading.Thread(target=self._business_thread, name="oms-business",
                                       daemon=True)
        self.thread.start()
        if self.snapshot_thread is not None:
            self.snapshot_thread.start()
        return self

    def _snapshot_writer(self):
        """Takes the snapshots the business thread posts and stores them once the journal
        is durable up to them (a snapshot must never be ahead of the journal)."""
        cdef State *st = &self.core.st
        cdef double next_index = time.monotonic()
        while self.running or oms_atomic_load_i32(&st.snapshot_ready):
            if self.history is not None and time.monotonic() >= next_index:
                # the order-history index follows the journal from this thread too
                self.history.update()
                next_index = time.monotonic() + self.core.config.history_index_seconds
            if not oms_atomic_load_i32(&st.snapshot_ready):
                time.sleep(0.01)
                continue
            while (oms_journal_durable(st.journal) < st.snapshot_cmd_seq
                   and self.writer.flusher_error is None):
                time.sleep(0.001)
            data = (<char *>st.snapshot_buf)[:st.snapshot_len]
            free(st.snapshot_buf)
            st.snapshot_buf = NULL
            seq = st.snapshot_cmd_seq
            oms_atomic_store_i32(&st.snapshot_ready, 0)
            self.snapshots.put(seq, data)

    def _business_thread(self):
        cdef int strategy = _WAIT_STRATEGIES[self.core.config.wait_strategy]
        cdef int cpu = self.core.config.cpu
        with nogil:
            if cpu >= 0:
                oms_pin_current_thread(cpu)
            run_loop(&self.core.st, &self.inr, &self.stop_flag, strategy, 4096,
                     &self.notify_armed, self.notify_fd)

    def stop(self):
        """Process everything already submitted, then stop the business thread."""
        if not self.running:
            return
        oms_atomic_store_i32(&self.stop_flag, 1)
        while self.thread.is_alive():
            self._drain()
            self.thread.join(0.001)
        self.running = False
        if self.writer is not None:
            self.snapshot_thread.join()
            self.snapshot_thread = None
            self.writer.stop_flusher()
        self._drain()
        self.core.st.sink.ring = NULL

    def close(self):
        """Stop, and close the journal and the snapshot store (a journaled engine's last
        call; its directory can then be opened again)."""
        self.stop()
        if self.writer is not None:
            # a snapshot at the end makes the next start a load, not a replay
            latest = self.snapshots.latest()
            if latest is None or latest[0] < self.core.st.cmd_seq:
                self.snapshots.put(self.core.st.cmd_seq, self.core.snapshot())
            self.core.attach_journal(None)
            self.writer.close()
            self.snapshots.close()
            self.writer = None
            if self.history is not None:
                self.history.update()
                self.history.close()
                self.history = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- COMMANDS --

    cdef inline void _check_running(self) except *:
        if not self.running:
            raise EngineError("engine is not started: call start() first")

    cdef int64_t _claim(self) except -1:
        cdef int64_t seq = oms_ring_try_claim(&self.inr, 1)
        while seq < 0:
            self._make_room()
            seq = oms_ring_try_claim(&self.inr, 1)
        return seq

    cdef void _make_room(self) except *:
        """The input ring is full.  The business thread may itself be waiting for room in
        the output ring, which only this thread drains: if that ring is half full, move its
        events to the pending list (no deadlock); otherwise just let the business thread
        catch up."""
        # the business thread publishes events in order, so one slot tells whether it is at
        # least half a ring ahead of this consumer
        if oms_ring_available(&self.outr, self.out_next + self.outr.capacity // 2, 1):
            self._drain()
        else:
            with nogil:
                oms_cpu_relax()

    cdef Command *_slot(self, int64_t seq) noexcept:
        cdef Command *c = <Command *>oms_ring_slot(&self.inr, seq)
        memset(c, 0, sizeof(Command))
        return c

    cdef int64_t _publish(self, int64_t seq, Command *c, int64_t time_ns) noexcept:
        c.time_ns = oms_clock_ns() if time_ns < 0 else time_ns
        oms_ring_publish(&self.inr, seq)
        return seq + 1 + self.seq_base

    cdef uint32_t _symbol(self, symbol) except? 0xFFFFFFFF:
        if isinstance(symbol, str):
            try:
                return self.symbol_ids[symbol]
            except KeyError:
                raise EngineError(f"unknown symbol {symbol!r}; known: "
                                  f"{', '.join(sorted(self.symbol_ids))}") from None
        return symbol

    def submit(self, symbol, side, qty, price=0, ord_type=py_layout.OrdType.LIMIT,
               tif=py_layout.TimeInForce.DAY, uint32_t account=0, uint64_t cl_ord_id=0,
               uint32_t session=0, idem_key=None, uint32_t strategy=0, int64_t time_ns=-1):
        """Submit a new order; returns the command's input sequence (events carry it as
        `cmd_seq`).  `price` is in integer price units (see oms.config.px).  A ClOrdID is
        assigned when none is given; `idem_key` is a UUID, a 128-bit int, or None."""
        self._check_running()
        cdef uint32_t symbol_id = self._symbol(symbol)
        cdef uint8_t side_v = side, ord_type_v = ord_type, tif_v = tif
        cdef int64_t qty_v = integer(qty, "qty"), price_v = integer(price, "price")
        cdef uint64_t hi = 0, lo = 0
        if idem_key is not None:
            if isinstance(idem_key, int):
                key = idem_key
            elif isinstance(idem_key, uuid.UUID):
                key = idem_key.int
            else:
                raise TypeError(f"idem_key must be a uuid.UUID, a 128-bit int or None, "
                                f"not {type(idem_key).__name__}")
            hi = (key >> 64) & 0xFFFFFFFFFFFFFFFF
            lo = key & 0xFFFFFFFFFFFFFFFF
        if cl_ord_id == 0:
            cl_ord_id = self.next_cl_ord_id
            self.next_cl_ord_id += 1
        cdef int64_t seq = self._claim()
        cdef Command *c = self._slot(seq)
        c.kind = COMMAND_TYPE_NEW
        c.side = side_v
        c.ord_type = ord_type_v
        c.tif = tif_v
        c.session_id = session
        c.account_id = account
        c.symbol_id = symbol_id
        c.cl_ord_id = cl_ord_id
        c.price = price_v
        c.qty = qty_v
        c.idem_hi = hi
        c.idem_lo = lo
        c.strategy_id = strategy
        return self._publish(seq, c, time_ns)

    def cancel(self, order_id=0, orig_cl_ord_id=0, cl_ord_id=0,
               uint32_t session=0, uint32_t expected_version=0, int64_t time_ns=-1):
        """Cancel by order id, or by the order's current ClOrdID (`orig_cl_ord_id`)."""
        self._check_running()
        order_id = identifier(order_id, "order_id")
        orig_cl_ord_id = identifier(orig_cl_ord_id, "orig_cl_ord_id")
        cl_ord_id = identifier(cl_ord_id, "cl_ord_id")
        if order_id == 0 and orig_cl_ord_id == 0:
            raise EngineError("cancel needs order_id or orig_cl_ord_id")
        cdef int64_t seq = self._claim()
        cdef Command *c = self._slot(seq)
        c.kind = COMMAND_TYPE_CANCEL
        c.order_id = order_id
        c.orig_cl_ord_id = orig_cl_ord_id
        c.cl_ord_id = cl_ord_id
        c.session_id = session
        c.expected_version = expected_version
        return self._publish(seq, c, time_ns)

    def replace(self, order_id=0, orig_cl_ord_id=0, *, price,
                qty, cl_ord_id=0, uint32_t session=0,
                uint32_t expected_version=0, int64_t time_ns=-1):
        """Cancel/replace: new price and total quantity; a new ClOrdID is assigned if none."""
        self._check_running()
        if order_id == 0 and orig_cl_ord_id == 0:
            raise EngineError("replace needs order_id or orig_cl_ord_id")
        cdef int64_t qty_v = integer(qty, "qty"), price_v = integer(price, "price")
        order_id = identifier(order_id, "order_id")
        orig_cl_ord_id = identifier(orig_cl_ord_id, "orig_cl_ord_id")
        cl_ord_id = identifier(cl_ord_id, "cl_ord_id")
        if cl_ord_id == 0:
            cl_ord_id = self.next_cl_ord_id
            self.next_cl_ord_id += 1
        cdef int64_t seq = self._claim()
        cdef Command *c = self._slot(seq)
        c.kind = COMMAND_TYPE_REPLACE
        c.order_id = order_id
        c.orig_cl_ord_id = orig_cl_ord_id
        c.cl_ord_id = cl_ord_id
        c.session_id = session
        c.price = price_v
        c.qty = qty_v
        c.expected_version = expected_version
        return self._publish(seq, c, time_ns)

    def mass_cancel(self, scope=0, uint32_t session=0, uint32_t account=0, symbol=0,
                    side=0, uint32_t strategy=0, int64_t time_ns=-1):
        """Cancel every live order the scope (oms.layout.MassCancelScope bits) selects."""
        self._check_running()
        cdef uint32_t symbol_id = self._symbol(symbol)
        cdef uint16_t scope_v = scope
        cdef uint8_t side_v = side
        cdef int64_t seq = self._claim()
        cdef Command *c = self._slot(seq)
        c.kind = COMMAND_TYPE_MASS_CANCEL
        c.admin_op = scope_v
        c.session_id = session
        c.account_id = account
        c.symbol_id = symbol_id
        c.side = side_v
        c.strategy_id = strategy
        return self._publish(seq, c, time_ns)

    def market_data(self, symbol, last_price, int64_t time_ns=-1):
        self._check_running()
        cdef uint32_t symbol_id = self._symbol(symbol)
        cdef int64_t price_v = integer(last_price, "last_price")
        cdef int64_t seq = self._claim()
        cdef Command *c = self._slot(seq)
        c.kind = COMMAND_TYPE_MARKET_DATA
        c.symbol_id = symbol_id
        c.price = price_v
        return self._publish(seq, c, time_ns)

    def admin(self, op, symbol=0, uint32_t account=0, int64_t time_ns=-1, **fields):
        """An ADMIN command; `fields` are Command fields (docs/engine.md maps each op)."""
        self._check_running()
        cmd = np.zeros(1, dtype=COMMAND_DTYPE)
        for name, value in fields.items():
            if name not in COMMAND_DTYPE.names or name.startswith("_"):
                raise EngineError(f"admin(): {name!r} is not a command field")
            cmd[name] = value
        cmd["kind"] = py_layout.CommandType.ADMIN
        cmd["admin_op"] = py_layout.AdminOp(op)
        cmd["symbol_id"] = self._symbol(symbol)
        cmd["account_id"] = account
        cmd["time_ns"] = max(time_ns, 0)
        return int(self.submit_batch(cmd, stamp_time=time_ns < 0)[0])

    def submit_batch(self, commands, bint stamp_time=True):
        """Publish a numpy array of commands in order; returns their input sequences.  With
        `stamp_time`, each batch claimed gets the current time in every command."""
        self._check_running()
        cdef const uint8_t *src = records_ptr(commands, COMMAND_DTYPE)
        cdef int64_t n = len(commands), done = 0, first, chunk, i, now
        cdef int64_t cap = self.inr.capacity
        cdef Command *c
        cdef int64_t base = self.seq_base
        seqs = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] seqv = seqs
        while done < n:
            chunk = min(n - done, cap // 4 if cap >= 4 else 1)
            first = oms_ring_try_claim(&self.inr, chunk)
            if first < 0:
                self._make_room()
                continue
            with nogil:
                now = oms_clock_ns()
                for i in range(chunk):
                    c = <Command *>oms_ring_slot(&self.inr, first + i)
                    memcpy(c, src + (done + i) * sizeof(Command), sizeof(Command))
                    if stamp_time:
                        c.time_ns = now
                    seqv[done + i] = first + i + 1 + base
                for i in range(chunk):
                    oms_ring_publish(&self.inr, first + i)
            done += chunk
        return seqs

    # -- EVENTS --

    cdef int64_t _releasable(self, int64_t n) noexcept:
        """How many of the next n events may leave: with a journal, only those whose command
        is durable (DESIGN: acknowledge only what is durable)."""
        cdef int64_t durable, k = 0
        if self.core.st.journal == NULL:
            return n
        durable = oms_journal_durable(self.core.st.journal)
        while k < n and (<Event *>oms_ring_slot(&self.outr, self.out_next + k)).cmd_seq <= durable:
            k += 1
        return k

    cdef void _drain(self) except *:
        with self.drain_lock:
            self._drain_locked()

    cdef void _drain_locked(self) except *:
        cdef int64_t n = self._releasable(
            oms_ring_available(&self.outr, self.out_next, self.outr.capacity))
        cdef int64_t first_part
        cdef int64_t idx
        if n == 0:
            return
        idx = self.out_next & (self.outr.capacity - 1)
        first_part = min(n, self.outr.capacity - idx)
        self.pending.append(copy_records(oms_ring_slot(&self.outr, self.out_next),
                                         first_part, EVENT_DTYPE))
        if first_part < n:
            self.pending.append(copy_records(oms_ring_slot(&self.outr, self.out_next + first_part),
                                             n - first_part, EVENT_DTYPE))
        self.out_next += n
        oms_ring_release(&self.outr, self.out_next)

    def poll(self):
        """Every event produced since the last poll, in order (EVENT_DTYPE array)."""
        with self.drain_lock:
            self._drain_locked()
            pending, self.pending = self.pending, []
        if not pending:
            return np.empty(0, dtype=EVENT_DTYPE)
        return pending[0] if len(pending) == 1 else np.concatenate(pending)

    def poll_into(self, out):
        """Copy up to len(out) pending events into `out` (an EVENT_DTYPE array the caller
        reuses, so a hot consumer allocates nothing); returns how many.  Events already
        queued by wait()/status() come first."""
        with self.drain_lock:
            return self._poll_into_locked(out)

    cdef int64_t _poll_into_locked(self, out) except -1:
        cdef uint8_t *dst = writable_records_ptr(out, EVENT_DTYPE)
        cdef int64_t room = len(out), n = 0, k, idx, avail
        while self.pending and n < room:
            chunk = self.pending[0]
            k = min(len(chunk), room - n)
            out[n:n + k] = chunk[:k]
            n += k
            if k == len(chunk):
                self.pending.pop(0)
            else:
                self.pending[0] = chunk[k:]
        if self.pending:
            return n
        avail = self._releasable(oms_ring_available(&self.outr, self.out_next, room - n))
        with nogil:
            while avail > 0:
                idx = self.out_next & (self.outr.capacity - 1)
                k = min(avail, self.outr.capacity - idx)
                memcpy(dst + n * sizeof(Event), oms_ring_slot(&self.outr, self.out_next),
                       k * sizeof(Event))
                n += k
                avail -= k
                self.out_next += k
            oms_ring_release(&self.outr, self.out_next)
        return n

    def wait(self, int64_t cmd_seq, double timeout=5.0):
        """Block until the business thread has processed command `cmd_seq` (its events are
        then all published); returns that command's events (they stay queued for poll())."""
        self._check_running()
        cdef int64_t ring_seq = cmd_seq - 1 - self.seq_base
        cdef int64_t deadline = oms_clock_ns() + <int64_t>(timeout * 1e9)
        while (oms_ring_consumed(&self.inr) <= ring_seq
               or (self.core.st.journal != NULL
                   and oms_journal_durable(self.core.st.journal) < cmd_seq)):
            self._drain()
            if oms_clock_ns() > deadline:
                raise EngineError(f"command {cmd_seq} not processed within {timeout} s")
            with nogil:
                oms_wait(OMS_WAIT_YIELD, 0)
        with self.drain_lock:
            self._drain_locked()
            found = [chunk[chunk["cmd_seq"] == cmd_seq] for chunk in self.pending]
        return np.concatenate(found) if found else np.empty(0, dtype=EVENT_DTYPE)

    def status(self, order_id=0, orig_cl_ord_id=0, uint32_t session=0,
               double timeout=5.0):
        """The order's current state, as its ORDER_STATUS event (a numpy record)."""
        self._check_running()
        order_id = identifier(order_id, "order_id")
        orig_cl_ord_id = identifier(orig_cl_ord_id, "orig_cl_ord_id")
        if order_id == 0 and orig_cl_ord_id == 0:
            raise EngineError("status needs order_id or orig_cl_ord_id")
        cdef int64_t seq = self._claim()
        cdef Command *c = self._slot(seq)
        c.kind = COMMAND_TYPE_STATUS
        c.order_id = order_id
        c.orig_cl_ord_id = orig_cl_ord_id
        c.session_id = session
        return self.wait(self._publish(seq, c, -1), timeout)[0]

    def positions(self):
        """Non-zero positions: a list of dicts with realized and unrealized P&L in price units
        x qty.  Read while the engine runs: each row is a consistent copy only between fills."""
        pos = self.core.positions()
        refs = self.core.symbols()["ref_price"]
        rows = []
        for account_id, symbol_id in zip(*np.nonzero(
                (pos["net_qty"] != 0) | (pos["bought_qty"] != 0) | (pos["sold_qty"] != 0))):
            p = pos[account_id, symbol_id]
            rows.append(dict(account_id=int(account_id), symbol_id=int(symbol_id),
                             net_qty=int(p["net_qty"]), avg_px=int(p["avg_px"]),
                             realized_pnl=int(p["realized_pnl"]),
                             unrealized_pnl=int((int(refs[symbol_id]) - int(p["avg_px"]))
                                                * int(p["net_qty"])),
                             bought_qty=int(p["bought_qty"]), sold_qty=int(p["sold_qty"])))
        return rows
