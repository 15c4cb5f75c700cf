# The router: which venue an order goes to (docs/engine.md, External venues and routing).
# It owns the venue rows, the (symbol, venue) listings and each symbol's rule; the engine
# asks it once per NEW, in the business thread, and tells it what venues said about their
# sessions.  Plain data, no allocation after init: a decision is a scan of at most
# MAX_VENUES rows.
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint16_t, uint8_t

cdef enum:
    ROUTER_MAX_VENUES = 16          # = oms.layout.MAX_VENUES (checked at import)
    VENUE_INTERNAL = 0              # the in-process venue (the engine's own matching)

cdef struct VenueRef:
    int64_t maker_fee               # price units per share (negative: a rebate)
    int64_t taker_fee
    uint64_t last_seq               # last venue message sequence applied (VENUE_EXEC)
    uint32_t ord_type_mask          # bit 1 << OrdType it takes
    uint32_t tif_mask               # bit 1 << TimeInForce it takes
    uint8_t defined
    uint8_t state                   # VenueState
    uint8_t features                # VenueFeature bits
    uint8_t cancel_on_disconnect
    uint8_t _pad[4]

cdef struct Listing:                # one (symbol, venue)
    int64_t tick_size               # 0: the symbol's own
    int64_t lot_size
    uint8_t listed
    uint8_t _pad[7]

cdef struct SymbolRoute:
    uint8_t rule                    # RouteRule
    uint8_t primary                 # venue id
    uint8_t n_listed
    uint8_t _pad[5]

cdef struct RouteTable:
    VenueRef venues[ROUTER_MAX_VENUES]   # [0] is INTERNAL, never defined here
    Listing *listings               # [symbol * ROUTER_MAX_VENUES + venue]
    SymbolRoute *symbols
    int64_t max_symbols

# -- LIFECYCLE --
cdef int router_init(RouteTable *rt, int64_t max_symbols) noexcept nogil
cdef void router_free(RouteTable *rt) noexcept nogil

# -- QUERIES --
cdef uint8_t venue_type(uint8_t ord_type) noexcept nogil
cdef bint router_has_venues(RouteTable *rt) noexcept nogil
cdef uint16_t route_order(RouteTable *rt, uint32_t symbol_id, uint16_t ex_destination,
                          uint8_t ord_type, uint8_t tif, uint8_t exec_inst, int64_t price,
                          int64_t stop_price, int64_t qty, int64_t display_qty,
                          int64_t min_qty, uint16_t *venue_out) noexcept nogil

# -- SNAPSHOTS: the whole table, verbatim --
cdef int64_t router_snapshot_size(RouteTable *rt) noexcept nogil
cdef char *router_snapshot_write(RouteTable *rt, char *p) noexcept nogil
cdef const char *router_snapshot_read(RouteTable *rt, const char *p,
                                      const char *end) noexcept nogil
