# cython: boundscheck=False, wraparound=False, cdivision=True
"""The router (docs/engine.md, External venues and routing): per NEW, the venue an order
goes to, or the code that says why none can take it."""
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint16_t, uint8_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy
from oms._layout cimport *

import oms.layout as _py_layout

if _py_layout.MAX_VENUES != ROUTER_MAX_VENUES:
    raise ImportError("oms._router was built for another MAX_VENUES than oms.layout's")


# -- LIFECYCLE --

cdef int router_init(RouteTable *rt, int64_t max_symbols) noexcept nogil:
    cdef int v
    for v in range(ROUTER_MAX_VENUES):
        rt.venues[v] = VenueRef(0, 0, 0, 0, 0, 0, VENUE_STATE_DOWN, 0, 0, [0, 0, 0, 0])
    rt.max_symbols = max_symbols
    rt.listings = <Listing *>calloc(max_symbols * ROUTER_MAX_VENUES, sizeof(Listing))
    rt.symbols = <SymbolRoute *>calloc(max_symbols, sizeof(SymbolRoute))
    if rt.listings == NULL or rt.symbols == NULL:
        router_free(rt)
        return -1
    return 0

cdef void router_free(RouteTable *rt) noexcept nogil:
    free(rt.listings)
    free(rt.symbols)
    rt.listings = NULL
    rt.symbols = NULL


# -- QUERIES --

cdef uint8_t venue_type(uint8_t ord_type) noexcept nogil:
    """The type the venue sees: the OMS holds the stop family and sends what a triggered
    order becomes."""
    if (ord_type == ORD_TYPE_LIMIT or ord_type == ORD_TYPE_STOP_LIMIT
            or ord_type == ORD_TYPE_LIMIT_IF_TOUCHED):
        return ORD_TYPE_LIMIT
    return ORD_TYPE_MARKET

cdef inline bint off_step(int64_t value, int64_t step) noexcept nogil:
    return step > 0 and value != 0 and value % step != 0

cdef uint16_t venue_check(RouteTable *rt, uint32_t symbol_id, int v, uint8_t ord_type,
                          uint8_t tif, uint8_t exec_inst, int64_t price, int64_t stop_price,
                          int64_t qty, int64_t display_qty, int64_t min_qty) noexcept nogil:
    """0 when venue v can take the order now, else the code that says why not."""
    cdef VenueRef *vr = &rt.venues[v]
    cdef Listing *li = &rt.listings[symbol_id * ROUTER_MAX_VENUES + v]
    if not li.listed:
        return REJECT_CODE_VENUE_NOT_LISTED
    if vr.state != VENUE_STATE_UP:
        return REJECT_CODE_VENUE_UNAVAILABLE
    if (not (vr.ord_type_mask >> venue_type(ord_type)) & 1 or not (vr.tif_mask >> tif) & 1
            or (display_qty > 0 and not vr.features & VENUE_FEATURE_ICEBERG)
            or (exec_inst & EXEC_INST_POST_ONLY and not vr.features & VENUE_FEATURE_POST_ONLY)
            or (min_qty > 0 and not vr.features & VENUE_FEATURE_MIN_QTY)):
        return REJECT_CODE_VENUE_UNSUPPORTED_ORDER
    if (off_step(price, li.tick_size) or off_step(stop_price, li.tick_size)
            or off_step(qty, li.lot_size) or off_step(display_qty, li.lot_size)
            or off_step(min_qty, li.lot_size)):
        return REJECT_CODE_VENUE_TICK_OR_LOT
    return 0

cdef bint router_has_venues(RouteTable *rt) noexcept nogil:
    """Whether any external venue is configured (without one, nothing routes out)."""
    cdef int v
    for v in range(1, ROUTER_MAX_VENUES):
        if rt.venues[v].defined:
            return True
    return False

cdef uint16_t route_order(RouteTable *rt, uint32_t symbol_id, uint16_t ex_destination,
                          uint8_t ord_type, uint8_t tif, uint8_t exec_inst, int64_t price,
                          int64_t stop_price, int64_t qty, int64_t display_qty,
                          int64_t min_qty, uint16_t *venue_out) noexcept nogil:
    """The venue for a NEW (into venue_out), or its reject code."""
    cdef SymbolRoute *sr = &rt.symbols[symbol_id]
    cdef int v, best, k
    cdef int order[ROUTER_MAX_VENUES]
    cdef int n = 0
    venue_out[0] = VENUE_INTERNAL
    if ex_destination >= 2:
        v = ex_destination - 1
        if v >= ROUTER_MAX_VENUES or not rt.venues[v].defined:
            # with no venues configured the field means nothing: INTERNAL (engine.md)
            return REJECT_CODE_UNKNOWN_DESTINATION if router_has_venues(rt) else 0
        venue_out[0] = <uint16_t>v
        return venue_check(rt, symbol_id, v, ord_type, tif, exec_inst, price, stop_price, qty,
                           display_qty, min_qty)
    if ex_destination == 1 or sr.n_listed == 0:
        return 0
    # the candidates in the rule's order
    if sr.rule == ROUTE_RULE_PRIMARY:
        if rt.listings[symbol_id * ROUTER_MAX_VENUES + sr.primary].listed:
            order[n] = sr.primary
            n += 1
        for v in range(1, ROUTER_MAX_VENUES):
            if v != sr.primary and rt.listings[symbol_id * ROUTER_MAX_VENUES + v].listed:
                order[n] = v
                n += 1
    else:
        # selection by (taker_fee, id): at most 15 venues, so a simple insertion sort
        for v in range(1, ROUTER_MAX_VENUES):
            if rt.listings[symbol_id * ROUTER_MAX_VENUES + v].listed:
                k = n
                while k > 0 and rt.venues[order[k - 1]].taker_fee > rt.venues[v].taker_fee:
                    order[k] = order[k - 1]
                    k -= 1
                order[k] = v
                n += 1
    for k in range(n):
        best = order[k]
        if venue_check(rt, symbol_id, best, ord_type, tif, exec_inst, price, stop_price, qty,
                       display_qty, min_qty) == 0:
            venue_out[0] = <uint16_t>best
            return 0
    return REJECT_CODE_NO_ROUTE


# -- SNAPSHOTS --

cdef int64_t router_snapshot_size(RouteTable *rt) noexcept nogil:
    return (sizeof(rt.venues) + rt.max_symbols * ROUTER_MAX_VENUES * sizeof(Listing)
            + rt.max_symbols * sizeof(SymbolRoute))

cdef char *router_snapshot_write(RouteTable *rt, char *p) noexcept nogil:
    memcpy(p, rt.venues, sizeof(rt.venues))
    p += sizeof(rt.venues)
    memcpy(p, rt.listings, rt.max_symbols * ROUTER_MAX_VENUES * sizeof(Listing))
    p += rt.max_symbols * ROUTER_MAX_VENUES * sizeof(Listing)
    memcpy(p, rt.symbols, rt.max_symbols * sizeof(SymbolRoute))
    return p + rt.max_symbols * sizeof(SymbolRoute)

cdef const char *router_snapshot_read(RouteTable *rt, const char *p,
                                      const char *end) noexcept nogil:
    """Load the table; NULL when the buffer is too short."""
    if p + router_snapshot_size(rt) > end:
        return NULL
    memcpy(rt.venues, p, sizeof(rt.venues))
    p += sizeof(rt.venues)
    memcpy(rt.listings, p, rt.max_symbols * ROUTER_MAX_VENUES * sizeof(Listing))
    p += rt.max_symbols * ROUTER_MAX_VENUES * sizeof(Listing)
    memcpy(rt.symbols, p, rt.max_symbols * sizeof(SymbolRoute))
    return p + rt.max_symbols * sizeof(SymbolRoute)
