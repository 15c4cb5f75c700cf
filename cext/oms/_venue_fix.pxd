# The FIX 4.4 initiator codec towards external venues (docs/protocols.md, "External venues"):
# VENUE_REQUEST events out as NewOrderSingle / OrderCancelRequest / OrderCancelReplaceRequest,
# ExecutionReports and OrderCancelRejects in as VENUE_EXEC commands.  It extends the
# acceptor's FixCodec (framing, header checks, sequence and admin-message stops, encoder);
# src/oms/venues/session.py is its session layer.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint16_t, uint8_t
from oms._layout cimport Command, Event
from oms._fix cimport FixCodec, StrMap, OrderAttrs

cdef packed struct VenueAnswer:
    # what one decoded venue message answered, for the session layer's request tracking
    uint64_t cl_ord_id               # venue ClOrdID(11), parsed (0: none or not ours)
    uint64_t orig_cl_ord_id          # OrigClOrdID(41), parsed
    uint8_t msg_type                 # '8' or '9'
    uint8_t exec_type                # ExecType(150) character ('9': a cancel reject)
    uint8_t ord_status               # OrdStatus(39) character (0: absent)
    uint8_t reserved[5]

cdef class VenueCodec(FixCodec):
    cdef public uint16_t venue_id
    cdef public bytes account        # Account(1) on every order ("": none)
    cdef uint16_t ord_rej[256]       # OrdRejReason -> our code (oms.codes.from_venue_reason)
    cdef uint16_t cxl_rej[256]       # CxlRejReason -> our code
    cdef uint16_t ord_rej_absent, cxl_rej_absent
    # the venue's trades by ExecID: LastPx / LastQty, for busts and corrections
    cdef public StrMap trades
    cdef int64_t *trade_px
    cdef int64_t *trade_qty
    cdef int64_t trade_cap
    cdef public int64_t unresolved   # busts / corrections naming a trade we do not know
    cdef public object answers       # ANSWER_DTYPE array
    cdef VenueAnswer *ans
    cdef public int n_answers, answer_capacity
    cdef int _remember(self, const uint8_t *id, int64_t n, int64_t px, int64_t qty) except -1
    cdef int64_t _trade(self, const uint8_t *p, int32_t tag) noexcept
    cdef uint64_t _venue_id_of(self, const uint8_t *p, int32_t tag) noexcept
    cdef void _venue_cl_ord_id(self, const char *tag_eq, int tl, uint64_t v) noexcept
    cdef int _encode_request(self, const Event *e, OrderAttrs attrs) except -1
