# The FIX codec: framing, validation and translation of whole reads into engine commands, and
# engine events into FIX messages.  The session layer (src/oms/gateway/fix.py) drives it;
# docs/protocols.md lists the messages and tags.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
cimport cython
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

# -- CODEC --

cdef class FixCodec:
    """One FIX session's codec state (the acceptor's; oms._venue_fix.VenueCodec, the
    initiator towards external venues, extends it: same framing, header checks and
    encoder, its own application messages)."""
    cdef FixField fields[FIX_MAX_FIELDS]
    cdef int nfields
    cdef uint32_t seen[SEEN_TAGS]       # per-message stamps: duplicate-tag check
    cdef uint32_t stamp
    cdef uint8_t *out
    cdef int64_t out_len, out_cap
    cdef Command *cmds
    cdef uint8_t *account_ok            # drop copy: which account ids it receives
    cdef int64_t account_ok_len
    cdef char sending_time[32]
    cdef int sending_time_len
    cdef int64_t sending_time_ms
    cdef public bytes begin_string, sender_comp_id, target_comp_id, exec_id_prefix
    cdef public int version
    cdef public int64_t in_seq, out_seq
    cdef public uint32_t session_id, default_account
    cdef public bint logged_on, read_only
    cdef public bint accept_poss_dup      # the session layer has vetted a PossDup resend
    cdef public int64_t max_latency_ns, order_budget
    cdef public StrMap clordids, accounts, account_names, symbols
    cdef public StrMap venues           # ExDestination(100) names -> ex_destination values
    cdef public int n_commands, cmd_capacity
    cdef public object commands
    # the message decode() stopped at
    cdef public bytes msg_type, cur
    cdef public int64_t msg_seq
    cdef public bint poss_dup
    cdef public int reject_reason, ref_tag, bmr_reason
    cdef public object text
    cdef public Py_ssize_t pos

    # decoding: framing and fields, shared with the venue codec
    cdef int _fail(self, int reason, int tag, text) except -1
    @cython.final
    cdef inline int _find(self, int32_t tag) noexcept nogil
    cdef int _one(self, const uint8_t *base, Py_ssize_t s, Py_ssize_t end, int64_t now_ns) except -2
    cdef int _parse(self, const uint8_t *p, Py_ssize_t avail) except -2
    cdef int _check_header(self, const uint8_t *p, int64_t now_ns) except -2
    cdef int _require(self, int32_t tag) except -2
    cdef int _groups(self, const uint8_t *p) except -2
    cdef int _id(self, const uint8_t *p, int32_t tag, uint64_t *out, bint intern) except -2
    cdef int _num(self, const uint8_t *p, int32_t tag, int64_t scale, int64_t *out,
                  bint required) except -2
    cdef int _char(self, const uint8_t *p, int32_t tag, uint8_t *out) except -2
    cdef uint32_t _lookup(self, const uint8_t *p, StrMap table, int32_t tag,
                          uint32_t absent) noexcept
    # an in-sequence application message of a logged-on session: -1 when it became a
    # command, else a decode() status (the venue codec overrides it)
    cdef int _application(self, const uint8_t *p, int64_t now_ns) except -2
    cdef int _exec_inst(self, const uint8_t *p, Command *c) except -2
    cdef int _peg(self, const uint8_t *p, Command *c) except -2
    cdef uint64_t _order_ref(self, const uint8_t *p, int32_t tag) noexcept
    cdef int _target_order_id(self, const uint8_t *p, Command *c) except -2
    cdef int _ex_destination(self, const uint8_t *p, Command *c) except -2
    # encoding: header, fields, trailer
    cdef int _reserve(self, int64_t n) except -1
    cdef void _stamp_time(self, int64_t now_ns) noexcept
    cdef int64_t _begin(self, const char *msg_type, int mtl, int64_t seq) except -1
    cdef void _end(self, int64_t start) noexcept
    @cython.final
    cdef inline void _tag(self, const char *tag_eq, int tl) noexcept
    @cython.final
    cdef inline void _soh(self) noexcept
    @cython.final
    cdef inline void _u(self, const char *tag_eq, int tl, uint64_t v) noexcept
    @cython.final
    cdef inline void _i(self, const char *tag_eq, int tl, int64_t v) noexcept
    @cython.final
    cdef inline void _px(self, const char *tag_eq, int tl, int64_t v) noexcept
    @cython.final
    cdef inline void _c(self, const char *tag_eq, int tl, char v) noexcept
    @cython.final
    cdef inline void _s(self, const char *tag_eq, int tl, const uint8_t *v, int64_t n) noexcept
    @cython.final
    cdef inline void _ts(self, const char *tag_eq, int tl, int64_t t_ns) noexcept
    cdef void _name(self, const char *tag_eq, int tl, StrMap table, int64_t index,
                    uint64_t fallback) noexcept
    cdef void _cl_ord_id(self, const char *tag_eq, int tl, StrMap table, uint64_t v) noexcept
    cdef void _text(self, uint16_t code) noexcept
    cdef bint _event(self, const Event *e, StrMap table, OrderAttrs attrs) except -1
    cdef void _attrs(self, const OrdAttr *a, bint exec_inst) noexcept
    cdef void _order_id(self, uint64_t order_id) noexcept
    cdef char _ord_status(self, uint8_t status) noexcept
    cdef char _exec_type(self, const Event *e, char ord_status) noexcept
    cdef char _tif(self, uint8_t tif) noexcept
