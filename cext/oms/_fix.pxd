# The FIX codec: framing, validation and translation of whole reads into engine commands, and
# engine events into FIX messages.  The session layer (src/oms/gateway/fix.py) drives it;
# docs/protocols.md lists the messages and tags.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from oms._layout cimport Command, Event

cdef enum:
    FIX_MAX_FIELDS = 512
    FIX_MAX_MESSAGE = 16384          # a message longer than this means framing is lost
    CL_ORD_ID_MAX = 39               # longest ClOrdID kept (a UUID is 36)
    SEEN_TAGS = 1024                 # duplicate-tag check covers tags below this

cdef struct FixField:
    int32_t tag
    int32_t off                      # offset of the value from the message start
    int32_t len

# -- STRING TABLES --

cdef class StrMap:
    """Short byte strings <-> dense indexes: an open-addressing table over fixed slots.
    ClOrdIDs are interned (index = order of first sight); account and symbol names are put at
    their configured ids."""
    cdef uint8_t *slots
    cdef int64_t slot_size
    cdef int64_t count
    cdef int64_t slot_cap
    cdef uint32_t *table
    cdef uint64_t mask
    cdef int64_t find(self, const uint8_t *p, int64_t n) noexcept nogil
    cdef int64_t intern(self, const uint8_t *p, int64_t n) noexcept nogil
    cdef int64_t put_at(self, const uint8_t *p, int64_t n, int64_t index) noexcept nogil
    cdef const uint8_t *key(self, int64_t index, int64_t *n) noexcept nogil
    cdef int _grow_table(self) noexcept nogil
    cdef int _ensure_slot(self, int64_t index) noexcept nogil

# -- ORDER ATTRIBUTES --

cdef struct OrdAttr:
    # what an ExecutionReport shows that an engine Event does not carry, kept per order id
    uint64_t order_id                # key (0: empty slot); pending: 0
    int64_t cmd_seq                  # pending: the command's input sequence
    int64_t stop_price
    int64_t trail_amount
    int64_t display_qty
    int64_t min_qty
    int64_t expire_time_ns
    uint64_t parent_order_id
    uint64_t oco_order_id
    uint32_t trail_bps
    uint8_t exec_inst
    uint8_t kind                     # pending: COMMAND_TYPE_NEW or COMMAND_TYPE_REPLACE

cdef class OrderAttrs:
    """Order id -> OrdAttr for the live orders that have any (stop price, trail, display or
    minimum quantity, expire time, exec_inst, links): the engine's events carry none of
    these, the FIX ExecutionReport does.  Filled from the commands as they are submitted
    (`note`, keyed by input sequence) and bound to order ids by their NEW / REPLACED events
    (`apply`); terminal orders are dropped (`retire`)."""
    cdef OrdAttr *slots
    cdef uint64_t mask
    cdef public int64_t count
    cdef OrdAttr *fifo                # pending commands, in input sequence
    cdef int64_t fifo_cap, fifo_head, fifo_len
    cdef const OrdAttr *find(self, uint64_t order_id) noexcept nogil
    cdef OrdAttr *_insert(self, uint64_t order_id) noexcept
    cdef void _remove(self, uint64_t order_id) noexcept nogil
    cdef int _push(self, const OrdAttr *a) except -1
