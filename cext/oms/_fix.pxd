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
