# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The FIX codec: whole reads in, engine commands out; engine events in, FIX messages out.

`FixCodec.decode` walks every complete message of a read in C.  An application message that is
in sequence and valid becomes a `Command` written straight into a preallocated numpy array: no
Python object per message.  Anything the session layer must decide (administrative messages,
sequence gaps, PossDup resends, malformed messages, throttling) stops the walk and is handed
to Python with the parsed fields, which is rare by construction.

`FixCodec.encode_events` turns a batch of engine events into ExecutionReports,
OrderCancelRejects and OrderMassCancelReports for one session, in one output buffer.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memcmp, memset, memchr, memmove

import numpy as np

from oms._layout cimport *
from oms._codec_util cimport account_set, out_alloc, out_reserve
from oms._hash cimport mix64
from oms._fix_util cimport (parse_uint, parse_decimal, parse_utc_timestamp, format_utc_ms,
                            format_uint, format_int, format_price)
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE

# decode() results
NEED_MORE = 0          # no complete message left at `pos`
BATCH_FULL = 1         # the command array is full: submit it, then call decode() again
SESSION = 2            # a message for the session layer (admin, out of sequence, PossDup...)
REJECT = 3             # session-level Reject: reject_reason, ref_tag, text
GARBLED = 4            # `pos` is not at the start of a FIX message: framing is lost
BUSINESS_REJECT = 5    # BusinessMessageReject: bmr_reason, text
THROTTLED = 6          # an order over the session's budget: the session layer rejects it

DEF NO_ID = 0xFFFFFFFF      # an account or symbol the session may not name: "unknown" to the engine
DEF SOH = 1
DEF NS = 1000000000
DEF CODE_SLOTS = 1024
DEF CODE_TEXT = 120
DEF HEADER_ROOM = 24          # "8=FIX.4.x<SOH>9=nnnnn<SOH>" fits

# reject code -> Text, OrdRejReason, CxlRejReason (from oms.codes, set once at import)
cdef uint8_t g_text[CODE_SLOTS][CODE_TEXT]
cdef int g_text_len[CODE_SLOTS]
cdef int g_ord_rej[CODE_SLOTS]
cdef int g_cxl_rej[CODE_SLOTS]


def configure_reject_codes(table):
    """`table`: {code: (text, OrdRejReason, CxlRejReason)}; oms.gateway builds it from
    oms.codes, the one table of codes."""
    for code, (text, ord_rej, cxl_rej) in table.items():
        if not 0 <= code < CODE_SLOTS:
            raise ValueError(f"reject code {code} out of range")
        raw = text.encode()[:CODE_TEXT]
        memcpy(g_text[code], <const char *>raw, len(raw))
        g_text_len[code] = len(raw)
        g_ord_rej[code] = ord_rej
        g_cxl_rej[code] = cxl_rej


# ============================================================================================
# -- SMALL HELPERS --
# ============================================================================================

cdef inline uint64_t hash_bytes(const uint8_t *p, int64_t n) noexcept nogil:
    cdef uint64_t h = 0xcbf29ce484222325ULL
    cdef int64_t i
    for i in range(n):
        h = (h ^ p[i]) * 0x100000001b3ULL
    h ^= h >> 33
    h *= 0xff51afd7ed558ccdULL
    h ^= h >> 33
    return h


# ============================================================================================
# -- STRING TABLES --
# ============================================================================================

cdef class StrMap:
    """Short byte strings <-> dense indexes (see _fix.pxd)."""

    def __cinit__(self, int max_len=CL_ORD_ID_MAX):
        self.slot_size = max_len + 1
        self.count = 0
        self.slot_cap = 0
        self.slots = NULL
        self.mask = 15
        self.table = <uint32_t *>calloc(16, sizeof(uint32_t))
        if self.table == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.slots)
        free(self.table)

    cdef int64_t find(self, const uint8_t *p, int64_t n) noexcept nogil:
        cdef uint64_t i
        cdef uint32_t e
        cdef const uint8_t *s
        if n >= self.slot_size:
            return -1
        i = hash_bytes(p, n) & self.mask
        while True:
            e = self.table[i]
            if e == 0:
                return -1
            s = self.slots + (e - 1) * self.slot_size
            if s[0] == n and memcmp(s + 1, p, n) == 0:
                return e - 1
            i = (i + 1) & self.mask

    cdef int _grow_table(self) noexcept nogil:
        cdef uint64_t size = (self.mask + 1) * 2, i, j
        cdef uint32_t *t = <uint32_t *>calloc(size, sizeof(uint32_t))
        cdef const uint8_t *s
        if t == NULL:
            return -1
        for i in range(self.mask + 1):
            if self.table[i]:
                s = self.slots + (self.table[i] - 1) * self.slot_size
                j = hash_bytes(s + 1, s[0]) & (size - 1)
                while t[j]:
                    j = (j + 1) & (size - 1)
                t[j] = self.table[i]
        free(self.table)
        self.table = t
        self.mask = size - 1
        return 0

    cdef int _ensure_slot(self, int64_t index) noexcept nogil:
        cdef int64_t cap = self.slot_cap if self.slot_cap else 64
        cdef uint8_t *s
        if index < self.slot_cap:
            return 0
        while cap <= index:
            cap *= 2
        s = <uint8_t *>realloc(self.slots, cap * self.slot_size)
        if s == NULL:
            return -1
        memset(s + self.slot_cap * self.slot_size, 0, (cap - self.slot_cap) * self.slot_size)
        self.slots = s
        self.slot_cap = cap
        return 0

    cdef int64_t put_at(self, const uint8_t *p, int64_t n, int64_t index) noexcept nogil:
        cdef uint64_t i
        if n < 1 or n >= self.slot_size or index < 0 or index >= <int64_t>0xFFFFFFF0:
            return -1
        if self.find(p, n) >= 0:
            return -1
        if self._ensure_slot(index) != 0:
            return -1
        if <uint64_t>(self.count + 1) * 2 > self.mask + 1 and self._grow_table() != 0:
            return -1
        cdef uint8_t *s = self.slots + index * self.slot_size
        if s[0]:
            return -1
        s[0] = <uint8_t>n
        memcpy(s + 1, p, n)
        i = hash_bytes(p, n) & self.mask
        while self.table[i]:
            i = (i + 1) & self.mask
        self.table[i] = <uint32_t>(index + 1)
        if index >= self.count:
            self.count = index + 1
        return index

    cdef int64_t intern(self, const uint8_t *p, int64_t n) noexcept nogil:
        cdef int64_t found = self.find(p, n)
        if found >= 0:
            return found
        return self.put_at(p, n, self.count)

    cdef const uint8_t *key(self, int64_t index, int64_t *n) noexcept nogil:
        cdef const uint8_t *s
        if index < 0 or index >= self.count:
            n[0] = 0
            return NULL
        s = self.slots + index * self.slot_size
        n[0] = s[0]
        return s + 1

    # -- Python surface --

    def __len__(self):
        return self.count

    def get(self, bytes name):
        """Index of `name`, or -1."""
        return self.find(<const uint8_t *><const char *>name, len(name))

    def add(self, bytes name, index=None):
        """Put `name` at `index` (default: intern it); returns the index."""
        cdef int64_t r
        if index is None:
            r = self.intern(<const uint8_t *><const char *>name, len(name))
        else:
            r = self.put_at(<const uint8_t *><const char *>name, len(name), index)
        if r < 0:
            raise ValueError(f"cannot add {name!r} (empty, longer than {self.slot_size - 1}, "
                             f"or the index is taken)")
        return r

    def name(self, int64_t index):
        """The string at `index` (None if the slot is empty)."""
        cdef int64_t n
        cdef const uint8_t *p = self.key(index, &n)
        if p == NULL or n == 0:
            return None
        return PyBytes_FromStringAndSize(<const char *>p, n)

    def export(self, int64_t start):
        """Slots [start, count) as length-prefixed strings: the persisted form."""
        out = bytearray()
        cdef int64_t i, n
        cdef const uint8_t *p
        for i in range(start, self.count):
            p = self.key(i, &n)
            out.append(n)
            out += PyBytes_FromStringAndSize(<const char *>p, n)
        return bytes(out)

    def load(self, bytes data):
        """Intern every string of an `export()`; returns how many were read."""
        cdef const uint8_t *p = <const uint8_t *><const char *>data
        cdef int64_t i = 0, n = len(data), k = 0, m
        while i < n:
            m = p[i]
            if m == 0 or i + 1 + m > n:
                break
            self.intern(p + i + 1, m)
            i += 1 + m
            k += 1
        return k


# ============================================================================================
# -- ORDER ATTRIBUTES --
# ============================================================================================

cdef inline bint new_has_attrs(const Command *c) noexcept nogil:
    return (c.stop_price != 0 or c.trail_amount != 0 or c.trail_bps != 0 or c.display_qty != 0
            or c.min_qty != 0 or c.expire_time_ns != 0 or c.exec_inst != 0
            or c.parent_order_id != 0 or c.oco_order_id != 0)


cdef inline void copy_attrs(OrdAttr *dst, const OrdAttr *src) noexcept nogil:
    dst.stop_price = src.stop_price
    dst.trail_amount = src.trail_amount
    dst.trail_bps = src.trail_bps
    dst.display_qty = src.display_qty
    dst.min_qty = src.min_qty
    dst.expire_time_ns = src.expire_time_ns
    dst.exec_inst = src.exec_inst
    dst.parent_order_id = src.parent_order_id
    dst.oco_order_id = src.oco_order_id


cdef class OrderAttrs:
    """Order id -> what an ExecutionReport shows beyond the engine's event (see _fix.pxd).
    One per gateway: order ids are engine-wide, so a drop copy finds every session's orders.
    An open-addressing table (linear probing, backward-shift deletion) and a FIFO of the
    submitted commands that carry attributes, waiting for the event that names their order."""

    def __cinit__(self):
        self.mask = 63
        self.slots = <OrdAttr *>calloc(64, sizeof(OrdAttr))
        self.count = 0
        self.fifo_cap = 64
        self.fifo = <OrdAttr *>malloc(64 * sizeof(OrdAttr))
        self.fifo_head = 0
        self.fifo_len = 0
        if self.slots == NULL or self.fifo == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.slots)
        free(self.fifo)

    cdef const OrdAttr *find(self, uint64_t order_id) noexcept nogil:
        cdef uint64_t i
        if order_id == 0 or self.count == 0:
            return NULL
        i = mix64(order_id) & self.mask
        while True:
            if self.slots[i].order_id == order_id:
                return &self.slots[i]
            if self.slots[i].order_id == 0:
                return NULL
            i = (i + 1) & self.mask

    cdef OrdAttr *_insert(self, uint64_t order_id) noexcept:
        """The entry of `order_id`, created (zeroed) if absent; NULL if memory is exhausted
        (the order's reports then lack the attributes, nothing worse)."""
        cdef const OrdAttr *found = self.find(order_id)
        cdef uint64_t i, size, j
        cdef OrdAttr *t
        if found != NULL:
            return <OrdAttr *>found
        if order_id == 0:
            return NULL
        if <uint64_t>(self.count + 1) * 2 > self.mask + 1:
            size = (self.mask + 1) * 2
            t = <OrdAttr *>calloc(size, sizeof(OrdAttr))
            if t == NULL:
                return NULL
            for i in range(self.mask + 1):
                if self.slots[i].order_id:
                    j = mix64(self.slots[i].order_id) & (size - 1)
                    while t[j].order_id:
                        j = (j + 1) & (size - 1)
                    t[j] = self.slots[i]
            free(self.slots)
            self.slots = t
            self.mask = size - 1
        i = mix64(order_id) & self.mask
        while self.slots[i].order_id:
            i = (i + 1) & self.mask
        memset(&self.slots[i], 0, sizeof(OrdAttr))
        self.slots[i].order_id = order_id
        self.count += 1
        return &self.slots[i]

    cdef void _remove(self, uint64_t order_id) noexcept nogil:
        cdef uint64_t i, j, home
        cdef const OrdAttr *found = self.find(order_id)
        if found == NULL:
            return
        i = <uint64_t>(found - self.slots)
        j = i
        while True:
            j = (j + 1) & self.mask
            if self.slots[j].order_id == 0:
                break
            home = mix64(self.slots[j].order_id) & self.mask
            # the entry at j may move to the hole at i unless its home lies in (i, j]
            if (i <= j and i < home and home <= j) or (i > j and (home > i or home <= j)):
                continue
            self.slots[i] = self.slots[j]
            i = j
        memset(&self.slots[i], 0, sizeof(OrdAttr))
        self.count -= 1

    cdef int _push(self, const OrdAttr *a) except -1:
        cdef OrdAttr *f
        cdef int64_t k
        if self.fifo_len == self.fifo_cap:
            f = <OrdAttr *>malloc(2 * self.fifo_cap * sizeof(OrdAttr))
            if f == NULL:
                raise MemoryError()
            for k in range(self.fifo_len):
                f[k] = self.fifo[(self.fifo_head + k) % self.fifo_cap]
            free(self.fifo)
            self.fifo = f
            self.fifo_head = 0
            self.fifo_cap *= 2
        self.fifo[(self.fifo_head + self.fifo_len) % self.fifo_cap] = a[0]
        self.fifo_len += 1
        return 0

    def note(self, commands, Py_ssize_t n, seqs):
        """Commands just submitted (`seqs`: their input sequences, as submit_batch returns
        them): remember the attributes of each NEW that has any and the stop price of each
        REPLACE that sets one, until the event that names their order."""
        cdef const uint8_t[::1] view = commands.view(np.uint8)
        cdef const Command *cmds = <const Command *>&view[0] if view.shape[0] else NULL
        cdef const int64_t[::1] sv = np.ascontiguousarray(seqs, dtype=np.int64)
        cdef const Command *c
        cdef OrdAttr a
        cdef Py_ssize_t i
        if n > len(commands) or n > sv.shape[0]:
            raise ValueError("n is larger than the command or sequence array")
        for i in range(n):
            c = &cmds[i]
            if c.kind == COMMAND_TYPE_NEW and new_has_attrs(c):
                memset(&a, 0, sizeof(OrdAttr))
                a.kind = COMMAND_TYPE_NEW
                a.cmd_seq = sv[i]
                a.stop_price = c.stop_price
                a.trail_amount = c.trail_amount
                a.trail_bps = c.trail_bps
                a.display_qty = c.display_qty
                a.min_qty = c.min_qty
                a.expire_time_ns = c.expire_time_ns
                a.exec_inst = c.exec_inst
                a.parent_order_id = c.parent_order_id
                a.oco_order_id = c.oco_order_id
                self._push(&a)
            elif c.kind == COMMAND_TYPE_REPLACE and c.stop_price != 0:
                memset(&a, 0, sizeof(OrdAttr))
                a.kind = COMMAND_TYPE_REPLACE
                a.cmd_seq = sv[i]
                a.stop_price = c.stop_price
                self._push(&a)

    def apply(self, events, Py_ssize_t n):
        """Before a batch of events is encoded: bind each pending command to the order its
        NEW (or REPLACED) event names; commands answered otherwise (rejected, duplicate) are
        forgotten.  Events arrive in input-sequence order."""
        cdef const uint8_t[::1] view = events.view(np.uint8)
        cdef const Event *ev = <const Event *>&view[0] if view.shape[0] else NULL
        cdef const Event *e
        cdef OrdAttr *h
        cdef OrdAttr *s
        cdef Py_ssize_t i
        if n > len(events):
            raise ValueError("n is larger than the event array")
        for i in range(n):
            if self.fifo_len == 0:
                break
            e = &ev[i]
            while self.fifo_len and self.fifo[self.fifo_head].cmd_seq < e.cmd_seq:
                self.fifo_head = (self.fifo_head + 1) % self.fifo_cap
                self.fifo_len -= 1
            if self.fifo_len == 0 or e.kind != EVENT_TYPE_EXEC_REPORT or e.order_id == 0:
                continue
            h = &self.fifo[self.fifo_head]
            if h.cmd_seq != e.cmd_seq:
                continue
            if h.kind == COMMAND_TYPE_NEW and (e.exec_type == EXEC_TYPE_NEW
                                              or e.exec_type == EXEC_TYPE_PENDING_NEW):
                s = self._insert(e.order_id)
                if s != NULL:
                    copy_attrs(s, h)
                if h.oco_order_id:              # the engine links the peer back
                    s = self._insert(h.oco_order_id)
                    if s != NULL:
                        s.oco_order_id = e.order_id
            elif h.kind == COMMAND_TYPE_REPLACE and e.exec_type == EXEC_TYPE_REPLACED:
                s = self._insert(e.order_id)
                if s != NULL:
                    s.stop_price = h.stop_price
            else:
                continue
            self.fifo_head = (self.fifo_head + 1) % self.fifo_cap
            self.fifo_len -= 1

    def retire(self, events, Py_ssize_t n):
        """After a batch of events is encoded: forget the orders that became terminal."""
        cdef const uint8_t[::1] view = events.view(np.uint8)
        cdef const Event *ev = <const Event *>&view[0] if view.shape[0] else NULL
        cdef Py_ssize_t i
        cdef uint8_t st
        if n > len(events):
            raise ValueError("n is larger than the event array")
        if self.count == 0:
            return
        for i in range(n):
            st = ev[i].status
            if ev[i].kind == EVENT_TYPE_EXEC_REPORT and ev[i].order_id != 0 and (
                    st == ORD_STATUS_FILLED or st == ORD_STATUS_CANCELLED
                    or st == ORD_STATUS_EXPIRED or st == ORD_STATUS_REJECTED):
                self._remove(ev[i].order_id)

    def put(self, uint64_t order_id, int64_t stop_price=0, int64_t trail_amount=0,
            uint32_t trail_bps=0, int64_t display_qty=0, int64_t min_qty=0,
            int64_t expire_time_ns=0, uint8_t exec_inst=0, uint64_t parent_order_id=0,
            uint64_t oco_order_id=0):
        """Set an order's attributes (the gateway seeds the live orders of a recovered
        engine with it)."""
        cdef OrdAttr *s = self._insert(order_id)
        if s == NULL:
            raise MemoryError() if order_id else ValueError("order id 0")
        s.stop_price = stop_price
        s.trail_amount = trail_amount
        s.trail_bps = trail_bps
        s.display_qty = display_qty
        s.min_qty = min_qty
        s.expire_time_ns = expire_time_ns
        s.exec_inst = exec_inst
        s.parent_order_id = parent_order_id
        s.oco_order_id = oco_order_id

    def get(self, uint64_t order_id):
        """An order's attributes as a dict, or None."""
        cdef const OrdAttr *a = self.find(order_id)
        if a == NULL:
            return None
        return dict(stop_price=a.stop_price, trail_amount=a.trail_amount,
                    trail_bps=a.trail_bps, display_qty=a.display_qty, min_qty=a.min_qty,
                    expire_time_ns=a.expire_time_ns, exec_inst=a.exec_inst,
                    parent_order_id=a.parent_order_id, oco_order_id=a.oco_order_id)

    def __len__(self):
        return self.count

    @property
    def pending(self):
        """Submitted commands still waiting for the event that names their order."""
        return self.fifo_len


# ============================================================================================
# -- CODEC --
# ============================================================================================

# user-defined tags (docs/protocols.md): contingent links by the engine's OrderID(37)
DEF TAG_PARENT_ORDER_ID = 7101      # ParentOrderID: OTO / bracket leg, waits for this order
DEF TAG_OCO_ORDER_ID = 7102         # OCOOrderID: one-cancels-the-other peer
DEF EXEC_INST_UNSUPPORTED = 0x80    # an ExecInst we do not offer: the engine rejects the bit


cdef inline uint8_t fix_ord_type(uint8_t ch) noexcept nogil:
    """OrdType(40) -> OrdType.  'j' (limit if touched) is ours: FIX 4.4 has none; 'P'
    (pegged) is a trailing stop when ExecInst(18) has 'a' (checked by the caller)."""
    if ch == 49:
        return ORD_TYPE_MARKET
    if ch == 50:
        return ORD_TYPE_LIMIT
    if ch == 51:
        return ORD_TYPE_STOP
    if ch == 52:
        return ORD_TYPE_STOP_LIMIT
    if ch == 74:                        # J
        return ORD_TYPE_MARKET_IF_TOUCHED
    if ch == 106:                       # j
        return ORD_TYPE_LIMIT_IF_TOUCHED
    if ch == 80:                        # P
        return ORD_TYPE_TRAILING_STOP
    return 0


cdef inline char fix_ord_type_char(uint8_t t) noexcept nogil:
    if t == ORD_TYPE_MARKET:
        return 49
    if t == ORD_TYPE_LIMIT:
        return 50
    if t == ORD_TYPE_STOP:
        return 51
    if t == ORD_TYPE_STOP_LIMIT:
        return 52
    if t == ORD_TYPE_MARKET_IF_TOUCHED:
        return 74
    if t == ORD_TYPE_LIMIT_IF_TOUCHED:
        return 106
    if t == ORD_TYPE_TRAILING_STOP:
        return 80
    return 0


cdef inline bint is_priced(uint8_t t) noexcept nogil:
    return t == ORD_TYPE_LIMIT or t == ORD_TYPE_STOP_LIMIT or t == ORD_TYPE_LIMIT_IF_TOUCHED


cdef inline bint is_admin_type(const uint8_t *p, int n) noexcept nogil:
    return n == 1 and (p[0] == 65 or (p[0] >= 48 and p[0] <= 53))    # A, 0..5


cdef inline bint group_member(int32_t tag) noexcept nogil:
    # NoPartyIDs(453): 448 447 452 (802: NoPartySubIDs 523 803); NoTradingSessions(386): 336 625
    return tag == 448 or tag == 447 or tag == 452 or tag == 802 or tag == 523 or tag == 803 \
        or tag == 336 or tag == 625


cdef inline int32_t group_delimiter(int32_t count_tag) noexcept nogil:
    if count_tag == 453:
        return 448
    if count_tag == 386:
        return 336
    if count_tag == 802:
        return 523
    return 0


cdef class FixCodec:
    """One FIX session's codec state: CompIDs, sequence numbers, name tables, the command
    array decode() fills and the output buffer encode_events() fills."""

    def __cinit__(self):
        self.out = out_alloc(&self.out_cap)
        self.out_len = 0
        self.stamp = 0
        memset(self.seen, 0, sizeof(self.seen))
        self.account_ok = NULL
        self.account_ok_len = 0
        self.sending_time_ms = -1

    def __init__(self, bytes begin_string, bytes sender_comp_id, bytes target_comp_id,
                 uint32_t session_id, StrMap accounts, StrMap account_names, StrMap symbols,
                 StrMap clordids=None, uint32_t default_account=NO_ID,
                 bytes exec_id_prefix=b"", int capacity=4096):
        """`sender_comp_id` is ours (their TargetCompID); `accounts` maps the names this
        session may trade for to ids; `account_names` and `symbols` are the global tables."""
        if begin_string not in (b"FIX.4.2", b"FIX.4.4"):
            raise ValueError(f"unsupported BeginString {begin_string!r}")
        self.begin_string = begin_string
        self.version = 42 if begin_string == b"FIX.4.2" else 44
        self.sender_comp_id = sender_comp_id
        self.target_comp_id = target_comp_id
        self.session_id = session_id
        self.accounts = accounts
        self.account_names = account_names
        self.symbols = symbols
        self.clordids = clordids if clordids is not None else StrMap()
        self.default_account = default_account
        self.exec_id_prefix = exec_id_prefix
        self.in_seq = 1
        self.out_seq = 1
        self.logged_on = False
        self.read_only = False
        self.accept_poss_dup = False
        self.max_latency_ns = 0
        self.order_budget = 1 << 62
        self.cmd_capacity = capacity
        self.commands = np.zeros(capacity, dtype=COMMAND_DTYPE)
        cdef uint8_t[::1] view = self.commands.view(np.uint8)
        self.cmds = <Command *>&view[0]
        self.n_commands = 0
        self.msg_type = b""
        self.cur = b""
        self.text = ""
        self.pos = 0

    def __dealloc__(self):
        free(self.out)
        free(self.account_ok)

    def set_drop_copy_accounts(self, account_ids):
        """Make this a read-only session that receives every event of these accounts."""
        self.account_ok = account_set(account_ids, self.account_ok, &self.account_ok_len)
        self.read_only = True

    # -- DECODING --

    cdef int _fail(self, int reason, int tag, text) except -1:
        self.reject_reason = reason
        self.ref_tag = tag
        self.text = text
        return REJECT

    cdef inline int _find(self, int32_t tag) noexcept nogil:
        cdef int i
        for i in range(self.nfields):
            if self.fields[i].tag == tag:
                return i
        return -1

    def get(self, int tag):
        """Value of `tag` in the message decode() stopped at (bytes), or None."""
        cdef int i = self._find(tag)
        if i < 0:
            return None
        return self.cur[self.fields[i].off:self.fields[i].off + self.fields[i].len]

    def check_header(self, int64_t now_ns):
        """CompIDs and SendingTime of the message decode() stopped at: 0, or REJECT with
        reject_reason / ref_tag / text set."""
        return self._check_header(<const uint8_t *><const char *>self.cur, now_ns)

    def tags(self):
        """Tags of that message, in order."""
        return [self.fields[i].tag for i in range(self.nfields)]

    def decode(self, buf, Py_ssize_t pos, int64_t now_ns):
        """Decode messages of `buf` (bytes or bytearray) from `pos`; returns a status (module
        constants).  `self.pos` is then where decoding stopped: after the last message
        consumed, or at the message a SESSION / REJECT / BUSINESS_REJECT / THROTTLED result
        describes... which is consumed too (`self.pos` is past it)."""
        cdef const uint8_t[::1] view = buf
        cdef const uint8_t *base
        cdef Py_ssize_t end = view.shape[0]
        cdef int status
        self.n_commands = 0
        if end == 0:
            self.pos = pos
            return NEED_MORE
        base = &view[0]
        while True:
            if self.n_commands >= self.cmd_capacity:
                self.pos = pos
                status = BATCH_FULL
                break
            status = self._one(base, pos, end, now_ns)
            if status == NEED_MORE or status == GARBLED:
                self.pos = pos
                break
            pos = self.pos
            if status != -1:                    # -1: a command was written, go on
                break
        return status

    cdef int _one(self, const uint8_t *base, Py_ssize_t s, Py_ssize_t end, int64_t now_ns) except -2:
        """One message at `s`: -1 if it became a command, else a status."""
        cdef const uint8_t *p = base + s
        cdef int r = self._parse(p, end - s)
        if r == NEED_MORE or r == GARBLED:
            return r
        if r == -3:
            if not self.logged_on or (self.poss_dup and not self.accept_poss_dup) \
                    or self.msg_seq != self.in_seq \
                    or is_admin_type(p + self.fields[0].off, self.fields[0].len):
                r = SESSION
            else:
                r = self._application(p, now_ns)
        if r != -1:
            self.cur = PyBytes_FromStringAndSize(<const char *>p, self.pos)
        self.pos += s
        return r

    cdef int _parse(self, const uint8_t *p, Py_ssize_t avail) except -2:
        """Frame and split the message at `p`: NEED_MORE, GARBLED, REJECT, or -3 when it is
        well formed.  Sets self.pos to the message length (consumed) otherwise."""
        cdef Py_ssize_t i, j, body_start, t, msg_len, limit = min(avail, FIX_MAX_MESSAGE)
        cdef const uint8_t *q
        cdef int64_t body_len, checksum_given, seq
        cdef uint32_t sum = 0
        cdef int bad_len = 0, bad_sum = 0, err_reason = -1, err_tag = 0
        cdef int32_t tag
        cdef int k, nf
        if avail < 2:
            return NEED_MORE
        if p[0] != 56 or p[1] != 61:                        # "8="
            return GARBLED
        q = <const uint8_t *>memchr(p, SOH, min(avail, 16))   # BeginString
        if q == NULL:
            return NEED_MORE if avail < 16 else GARBLED
        i = q - p + 1
        if avail < i + 3:
            return NEED_MORE
        if p[i] != 57 or p[i + 1] != 61:                    # "9="
            return GARBLED
        q = <const uint8_t *>memchr(p + i + 2, SOH, min(avail - i - 2, 8))
        if q == NULL:
            return NEED_MORE if avail - i - 2 < 8 else GARBLED
        if parse_uint(p + i + 2, q - (p + i + 2), &body_len) != 0:
            return GARBLED
        body_start = q - p + 1
        # the trailer: where BodyLength says, else the first <SOH>10= after the header
        t = body_start + body_len - 1
        if not (body_len > 0 and t + 8 <= avail and p[t] == SOH and p[t + 1] == 49
                and p[t + 2] == 48 and p[t + 3] == 61):
            t = body_start - 1
            while True:
                q = NULL
                if t + 1 < limit:
                    q = <const uint8_t *>memchr(p + t + 1, SOH, limit - t - 1)
                if q == NULL:
                    return NEED_MORE if avail < FIX_MAX_MESSAGE else GARBLED
                t = q - p
                if t + 4 > avail:
                    return NEED_MORE
                if p[t + 1] == 49 and p[t + 2] == 48 and p[t + 3] == 61:
                    break
            if t + 8 > avail:
                return NEED_MORE
            bad_len = 1
        msg_len = t + 8
        if p[t + 7] != SOH or parse_uint(p + t + 4, 3, &checksum_given) != 0:
            # a trailer that is not "10=nnn<SOH>": the message ends at the next SOH
            q = NULL
            if t + 4 < limit:
                q = <const uint8_t *>memchr(p + t + 4, SOH, limit - t - 4)
            if q == NULL:
                return NEED_MORE if avail < FIX_MAX_MESSAGE else GARBLED
            msg_len = q - p + 1
            bad_sum = 1
        else:
            for j in range(t + 1):
                sum += p[j]
            bad_sum = (sum & 255) != checksum_given
        self.pos = msg_len
        # the fields between the header and the trailer
        self.stamp += 1
        if self.stamp == 0:
            memset(self.seen, 0, sizeof(self.seen))
            self.stamp = 1
        nf = 0
        i = body_start
        while i < t + 1:
            j = i
            tag = 0
            while j < t and p[j] >= 48 and p[j] <= 57 and j - i < 9:
                tag = tag * 10 + (p[j] - 48)
                j += 1
            if j == i or p[j] != 61:
                if err_reason < 0:
                    err_reason = 0
                    err_tag = tag
                q = <const uint8_t *>memchr(p + j, SOH, t + 1 - j)
                i = (q - p) + 1
                continue
            q = <const uint8_t *>memchr(p + j + 1, SOH, t - j)
            if nf >= FIX_MAX_FIELDS:
                if err_reason < 0:
                    err_reason = 99
                    err_tag = tag
                i = (q - p) + 1
                continue
            self.fields[nf].tag = tag
            self.fields[nf].off = <int32_t>(j + 1)
            self.fields[nf].len = <int32_t>((q - p) - j - 1)
            if self.fields[nf].len == 0 and err_reason < 0:
                err_reason = 4
                err_tag = tag
            if tag < SEEN_TAGS and not group_member(tag):
                if self.seen[tag] == self.stamp and err_reason < 0:
                    err_reason = 13
                    err_tag = tag
                self.seen[tag] = self.stamp
            nf += 1
            i = (q - p) + 1
        self.nfields = nf
        self.msg_seq = 0
        self.poss_dup = False
        k = self._find(34)
        if k >= 0 and parse_uint(p + self.fields[k].off, self.fields[k].len, &seq) == 0:
            self.msg_seq = seq
        k = self._find(43)
        if k >= 0 and self.fields[k].len == 1 and p[self.fields[k].off] == 89:
            self.poss_dup = True
        k = self._find(35)
        self.msg_type = PyBytes_FromStringAndSize(<const char *>p + self.fields[k].off,
                                                  self.fields[k].len) if k >= 0 else b""
        if bad_len:
            return self._fail(5, 9, f"BodyLength(9) is {body_len}, the body has "
                                    f"{t + 1 - body_start} bytes")
        if bad_sum:
            return self._fail(5, 10, f"CheckSum(10) does not match: computed {sum & 255:03d}")
        if nf == 0 or self.fields[0].tag != 35:
            return self._fail(14, 35, "MsgType(35) must be the third field")
        if err_reason >= 0:
            return self._fail(err_reason, err_tag, {
                0: "invalid tag number", 4: f"tag {err_tag} has no value",
                13: f"tag {err_tag} appears more than once",
                99: f"more than {FIX_MAX_FIELDS} fields"}.get(err_reason, ""))
        if self.msg_seq == 0:
            return self._fail(1, 34, "MsgSeqNum(34) missing or not a positive integer")
        for tag in (49, 56, 52):
            if self._find(tag) < 0:
                return self._fail(1, tag, f"required header tag {tag} missing")
        return -3

    cdef int _check_header(self, const uint8_t *p, int64_t now_ns) except -2:
        cdef int k
        cdef int64_t t
        k = self._find(49)
        if self.fields[k].len != len(self.target_comp_id) or memcmp(
                p + self.fields[k].off, <const char *>self.target_comp_id, self.fields[k].len):
            return self._fail(9, 49, "SenderCompID(49) does not match the session")
        k = self._find(56)
        if self.fields[k].len != len(self.sender_comp_id) or memcmp(
                p + self.fields[k].off, <const char *>self.sender_comp_id, self.fields[k].len):
            return self._fail(9, 56, "TargetCompID(56) does not match the session")
        k = self._find(52)
        if parse_utc_timestamp(p + self.fields[k].off, self.fields[k].len, &t) != 0:
            return self._fail(6, 52, "SendingTime(52) is not a UTCTimestamp")
        if self.max_latency_ns > 0 and (t - now_ns > self.max_latency_ns
                                        or now_ns - t > self.max_latency_ns):
            return self._fail(10, 52, f"SendingTime(52) is more than "
                                      f"{self.max_latency_ns // NS} s from the server's clock")
        return 0

    cdef int _require(self, int32_t tag) except -2:
        if self._find(tag) < 0:
            self._fail(1, tag, f"required tag {tag} missing")
            return -1
        return 0

    cdef int _groups(self, const uint8_t *p) except -2:
        cdef int i, k, instances
        cdef int32_t delim
        cdef int64_t count
        for i in range(self.nfields):
            delim = group_delimiter(self.fields[i].tag)
            if delim == 0:
                continue
            if parse_uint(p + self.fields[i].off, self.fields[i].len, &count) != 0:
                self._fail(6, self.fields[i].tag, "NumInGroup is not an integer")
                return -1
            instances = 0
            k = i + 1
            while k < self.nfields and (group_member(self.fields[k].tag)):
                if self.fields[k].tag == delim:
                    instances += 1
                k += 1
            if instances != count:
                self._fail(16, self.fields[i].tag,
                           f"NumInGroup({self.fields[i].tag}) is {count}, the group has "
                           f"{instances} entries")
                return -1
        return 0

    cdef int _id(self, const uint8_t *p, int32_t tag, uint64_t *out, bint intern) except -2:
        """A ClOrdID-like tag as the session's integer id (0 when absent)."""
        cdef int k = self._find(tag)
        cdef int64_t idx
        out[0] = 0
        if k < 0:
            return 0
        if self.fields[k].len > CL_ORD_ID_MAX:
            self._fail(5, tag, f"tag {tag} is longer than {CL_ORD_ID_MAX} characters")
            return -1
        if intern:
            idx = self.clordids.intern(p + self.fields[k].off, self.fields[k].len)
        else:
            idx = self.clordids.find(p + self.fields[k].off, self.fields[k].len)
        if idx < 0:
            if intern:
                self._fail(99, tag, "ClOrdID table is full")
                return -1
            return 0
        out[0] = <uint64_t>(idx + 1)
        return 0

    cdef int _num(self, const uint8_t *p, int32_t tag, int64_t scale, int64_t *out,
                  bint required) except -2:
        cdef int k = self._find(tag)
        cdef int r
        out[0] = 0
        if k < 0:
            if required:
                self._fail(1, tag, f"required tag {tag} missing")
                return -1
            return 0
        r = parse_decimal(p + self.fields[k].off, self.fields[k].len, scale, out)
        if r == -1:
            self._fail(6, tag, f"tag {tag} is not a number")
            return -1
        if r == -2:
            self._fail(5, tag, f"tag {tag} has more than {scale} decimals or is too large"
                       if scale else f"tag {tag} must be a whole number")
            return -1
        return 0

    cdef int _char(self, const uint8_t *p, int32_t tag, uint8_t *out) except -2:
        cdef int k = self._find(tag)
        out[0] = 0
        if k < 0:
            return 0
        if self.fields[k].len != 1:
            self._fail(5, tag, f"tag {tag} must be a single character")
            return -1
        out[0] = p[self.fields[k].off]
        return 0

    cdef uint32_t _lookup(self, const uint8_t *p, StrMap table, int32_t tag,
                          uint32_t absent) noexcept:
        cdef int k = self._find(tag)
        cdef int64_t idx
        if k < 0:
            return absent
        idx = table.find(p + self.fields[k].off, self.fields[k].len)
        return NO_ID if idx < 0 else <uint32_t>idx

    cdef int _application(self, const uint8_t *p, int64_t now_ns) except -2:
        cdef const uint8_t *mt = p + self.fields[0].off
        cdef int mtl = self.fields[0].len
        cdef Command *c
        cdef uint8_t ch, kind
        cdef int64_t v
        cdef int k
        if self._check_header(p, now_ns) != 0:
            return REJECT
        if mtl == 1 and (mt[0] == 68 or mt[0] == 70 or mt[0] == 71 or mt[0] == 72 or mt[0] == 113):
            kind = mt[0]
        else:
            if (mtl == 1 and ((mt[0] >= 48 and mt[0] <= 57) or (mt[0] >= 65 and mt[0] <= 90)
                              or (mt[0] >= 97 and mt[0] <= 122))) \
                    or (mtl == 2 and (mt[0] == 65 or mt[0] == 66)):
                self.bmr_reason = 3
                self.text = f"MsgType {self.msg_type.decode('ascii', 'replace')} is not supported"
                return BUSINESS_REJECT
            return self._fail(11, 35, "invalid MsgType")
        if self.read_only:
            self.bmr_reason = 6
            self.text = "drop copy session is read-only"
            return BUSINESS_REJECT
        # required tags of each message (FIX 4.2 / 4.4 standard dictionaries)
        if self._require(11) or self._groups(p):
            return REJECT
        if kind != 113 and self._require(54):
            return REJECT
        if (kind == 68 or kind == 70 or kind == 71 or kind == 113) and self._require(60):
            return REJECT
        if (kind == 68 or kind == 71) and (self._require(40) or self._require(55)):
            return REJECT
        if self.version == 42 and (kind == 68 or kind == 71) and self._require(21):
            return REJECT
        if (kind == 70 or kind == 71) and self._find(41) < 0 and self._find(37) < 0:
            return self._fail(1, 41, "OrigClOrdID(41) or OrderID(37) is required")
        if kind == 113 and self._require(530):
            return REJECT
        if (kind == 68 or kind == 71) and self.order_budget <= 0:
            return THROTTLED
        c = self.cmds + self.n_commands
        memset(c, 0, sizeof(Command))
        c.time_ns = now_ns
        c.session_id = self.session_id
        if kind == 68 or kind == 71:
            if self._char(p, 54, &ch):
                return REJECT
            c.side = SIDE_BUY if ch == 49 else (SIDE_SELL if ch == 50 else 0)
            if self._char(p, 40, &ch):
                return REJECT
            c.ord_type = fix_ord_type(ch)
            if self._char(p, 59, &ch):
                return REJECT
            c.tif = (TIME_IN_FORCE_DAY if ch == 0 or ch == 48 else
                     TIME_IN_FORCE_GTC if ch == 49 else TIME_IN_FORCE_AT_OPEN if ch == 50 else
                     TIME_IN_FORCE_IOC if ch == 51 else TIME_IN_FORCE_FOK if ch == 52 else
                     TIME_IN_FORCE_GTD if ch == 54 else TIME_IN_FORCE_AT_CLOSE if ch == 55 else 0)
            if (self._num(p, 38, 0, &c.qty, False) or self._num(p, 44, 4, &c.price, False)
                    or self._num(p, 99, 4, &c.stop_price, False)):
                return REJECT
        if kind == 68:
            c.kind = COMMAND_TYPE_NEW
            if (self._num(p, 110, 0, &c.min_qty, False)
                    or self._num(p, 111, 0, &c.display_qty, False)):
                return REJECT
            k = self._find(126)
            if k >= 0 and parse_utc_timestamp(p + self.fields[k].off, self.fields[k].len,
                                              &c.expire_time_ns) != 0:
                return self._fail(6, 126, "ExpireTime(126) is not a UTCTimestamp")
            if self._exec_inst(p, c) or self._peg(p, c):
                return REJECT
            if self._ex_destination(p, c):
                return REJECT
            c.parent_order_id = self._order_ref(p, TAG_PARENT_ORDER_ID)
            c.oco_order_id = self._order_ref(p, TAG_OCO_ORDER_ID)
            if self._id(p, 11, &c.cl_ord_id, True):
                return REJECT
            c.account_id = self._lookup(p, self.accounts, 1, self.default_account)
            c.symbol_id = self._lookup(p, self.symbols, 55, NO_ID)
            self.order_budget -= 1
        elif kind == 70 or kind == 71:
            c.kind = COMMAND_TYPE_CANCEL if kind == 70 else COMMAND_TYPE_REPLACE
            if self._id(p, 11, &c.cl_ord_id, True) or self._id(p, 41, &c.orig_cl_ord_id, True):
                return REJECT
            if self._target_order_id(p, c):
                return REJECT
            if kind == 71:
                c.side = 0
                c.ord_type = 0
                c.tif = 0
                self.order_budget -= 1
        elif kind == 72:
            c.kind = COMMAND_TYPE_STATUS
            if self._id(p, 11, &c.orig_cl_ord_id, True):
                return REJECT
            c.cl_ord_id = c.orig_cl_ord_id
            if self._target_order_id(p, c):
                return REJECT
        else:
            c.kind = COMMAND_TYPE_MASS_CANCEL
            if self._id(p, 11, &c.cl_ord_id, True) or self._char(p, 530, &ch):
                return REJECT
            # a session mass-cancels only its own orders; the request type rides in ord_type,
            # which MASS_CANCEL ignores and its report echoes
            c.admin_op = MASS_CANCEL_SCOPE_SESSION
            c.ord_type = ch
            if ch == 49:
                if self._require(55):
                    return REJECT
                c.symbol_id = self._lookup(p, self.symbols, 55, NO_ID)
                c.admin_op |= MASS_CANCEL_SCOPE_SYMBOL
            elif ch != 55:
                return self._fail(5, 530, "MassCancelRequestType(530) must be 1 (security) "
                                          "or 7 (all orders)")
            if self._char(p, 54, &ch):
                return REJECT
            if ch:
                c.side = SIDE_BUY if ch == 49 else (SIDE_SELL if ch == 50 else 0)
                c.admin_op |= MASS_CANCEL_SCOPE_SIDE
            if self._find(1) >= 0:
                c.account_id = self._lookup(p, self.accounts, 1, NO_ID)
                c.admin_op |= MASS_CANCEL_SCOPE_ACCOUNT
        self.n_commands += 1
        self.in_seq += 1
        return -1

    cdef int _exec_inst(self, const uint8_t *p, Command *c) except -2:
        """ExecInst(18), space-separated characters: '6' participate don't initiate
        (post-only), 'a' trailing stop peg (with OrdType P).  Any other instruction, or 'a'
        on another OrdType, sets a bit the engine rejects (INVALID_EXEC_INST); OrdType P
        without 'a' (a peg we do not offer) becomes an unknown type (INVALID_ORD_TYPE)."""
        cdef int k = self._find(18)
        cdef int32_t i
        cdef uint8_t ch
        cdef bint peg = False
        if k >= 0:
            for i in range(self.fields[k].len):
                ch = p[self.fields[k].off + i]
                if ch == 32:
                    continue
                if ch == 54:                              # '6'
                    c.exec_inst |= EXEC_INST_POST_ONLY
                elif ch == 97:                            # 'a'
                    peg = True
                else:
                    c.exec_inst |= EXEC_INST_UNSUPPORTED
        if c.ord_type == ORD_TYPE_TRAILING_STOP and not peg:
            c.ord_type = 0
        elif peg and c.ord_type != ORD_TYPE_TRAILING_STOP:
            c.exec_inst |= EXEC_INST_UNSUPPORTED
        return 0

    cdef int _peg(self, const uint8_t *p, Command *c) except -2:
        """PegOffsetValue(211) with PegOffsetType(836): 0 (default) a price offset ->
        trail_amount, 1 basis points -> trail_bps.  The sign is ignored (a trailing stop
        always trails on its protective side).  The engine checks the values (INVALID_TRAIL)."""
        cdef int k = self._find(836)
        cdef int64_t v
        cdef uint8_t kind = 48
        if k >= 0:
            if self.fields[k].len != 1 or (p[self.fields[k].off] != 48
                                           and p[self.fields[k].off] != 49):
                return self._fail(5, 836, "PegOffsetType(836) must be 0 (price) or 1 (basis "
                                          "points)")
            kind = p[self.fields[k].off]
        if kind == 48:
            if self._num(p, 211, 4, &v, False):
                return -1
            c.trail_amount = -v if v < 0 else v
        else:
            if self._num(p, 211, 0, &v, False):
                return -1
            if v < 0:
                v = -v
            c.trail_bps = <uint32_t>v if v <= 0xFFFFFFFF else 0xFFFFFFFF
        return 0

    cdef uint64_t _order_ref(self, const uint8_t *p, int32_t tag) noexcept:
        """A tag naming an engine OrderID(37): its value, or a value no order has."""
        cdef int k = self._find(tag)
        cdef int64_t v
        if k < 0:
            return 0
        if parse_uint(p + self.fields[k].off, self.fields[k].len, &v) != 0:
            return 0xFFFFFFFFFFFFFFFFULL
        return <uint64_t>v

    cdef int _ex_destination(self, const uint8_t *p, Command *c) except -2:
        """ExDestination(100): a venue name as `ex_destination` (its id + 1; INTERNAL 1).
        A name no venue has becomes 0xFFFF, a venue that is not defined: the engine rejects
        the order UNKNOWN_DESTINATION.  Absent: 0, the router chooses."""
        cdef int k = self._find(100)
        cdef int64_t idx = -1
        cdef const uint8_t *v
        if k < 0:
            return 0
        v = p + self.fields[k].off
        if self.venues is not None:
            idx = self.venues.find(v, self.fields[k].len)
        if idx < 0 and self.fields[k].len == 8 and memcmp(v, b"INTERNAL", 8) == 0:
            idx = 1
        c.ex_destination = <uint16_t>idx if 1 <= idx < 0xFFFF else 0xFFFF
        return 0

    cdef int _target_order_id(self, const uint8_t *p, Command *c) except -2:
        cdef int k = self._find(37)
        cdef int64_t v
        if k < 0:
            return 0
        if parse_uint(p + self.fields[k].off, self.fields[k].len, &v) != 0:
            c.order_id = 0xFFFFFFFFFFFFFFFFULL     # not one of ours: "unknown order"
        else:
            c.order_id = <uint64_t>v
        return 0

    # -- ENCODING --

    cdef int _reserve(self, int64_t n) except -1:
        return out_reserve(&self.out, &self.out_cap, self.out_len, n)

    cdef void _stamp_time(self, int64_t now_ns) noexcept:
        cdef int64_t ms = now_ns // 1000000
        if ms != self.sending_time_ms:
            self.sending_time_len = format_utc_ms(now_ns, self.sending_time)
            self.sending_time_ms = ms

    cdef int64_t _begin(self, const char *msg_type, int mtl, int64_t seq) except -1:
        """Start a message: leave room for BeginString and BodyLength, then write the header
        from MsgType to TargetCompID.  Returns the message start; the caller writes the body
        and calls _end(start)."""
        cdef int64_t start = self.out_len
        cdef char *o
        cdef int n = 0
        self._reserve(HEADER_ROOM + 96 + len(self.sender_comp_id) + len(self.target_comp_id))
        o = <char *>self.out + start + HEADER_ROOM
        memcpy(o, b"35=", 3)
        n = 3
        memcpy(o + n, msg_type, mtl)
        n += mtl
        memcpy(o + n, b"\x0134=", 4)
        n += 4
        n += format_uint(<uint64_t>seq, o + n)
        memcpy(o + n, b"\x0149=", 4)
        n += 4
        memcpy(o + n, <const char *>self.sender_comp_id, len(self.sender_comp_id))
        n += len(self.sender_comp_id)
        memcpy(o + n, b"\x0152=", 4)
        n += 4
        memcpy(o + n, self.sending_time, self.sending_time_len)
        n += self.sending_time_len
        memcpy(o + n, b"\x0156=", 4)
        n += 4
        memcpy(o + n, <const char *>self.target_comp_id, len(self.target_comp_id))
        n += len(self.target_comp_id)
        o[n] = SOH
        self.out_len = start + HEADER_ROOM + n + 1
        return start

    cdef void _end(self, int64_t start) noexcept:
        """Write BeginString and BodyLength in front of the body, then append CheckSum."""
        cdef int64_t body = self.out_len - start - HEADER_ROOM
        cdef char head[HEADER_ROOM]
        cdef int h, bl = len(self.begin_string), i
        cdef uint32_t sum = 0
        cdef char *o
        memcpy(head, b"8=", 2)
        memcpy(head + 2, <const char *>self.begin_string, bl)
        h = 2 + bl
        memcpy(head + h, b"\x019=", 3)
        h += 3
        h += format_uint(<uint64_t>body, head + h)
        head[h] = SOH
        h += 1
        memmove(self.out + start + h, self.out + start + HEADER_ROOM, body)
        memcpy(self.out + start, head, h)
        self.out_len = start + h + body
        for i in range(start, self.out_len):
            sum += self.out[i]
        sum &= 255
        o = <char *>self.out + self.out_len
        o[0] = 49
        o[1] = 48
        o[2] = 61
        o[3] = 48 + sum // 100
        o[4] = 48 + (sum // 10) % 10
        o[5] = 48 + sum % 10
        o[6] = SOH
        self.out_len += 7

    cdef inline void _tag(self, const char *tag_eq, int tl) noexcept:
        memcpy(self.out + self.out_len, tag_eq, tl)
        self.out_len += tl

    cdef inline void _soh(self) noexcept:
        self.out[self.out_len] = SOH
        self.out_len += 1

    cdef inline void _u(self, const char *tag_eq, int tl, uint64_t v) noexcept:
        self._tag(tag_eq, tl)
        self.out_len += format_uint(v, <char *>self.out + self.out_len)
        self._soh()

    cdef inline void _i(self, const char *tag_eq, int tl, int64_t v) noexcept:
        self._tag(tag_eq, tl)
        self.out_len += format_int(v, <char *>self.out + self.out_len)
        self._soh()

    cdef inline void _px(self, const char *tag_eq, int tl, int64_t v) noexcept:
        self._tag(tag_eq, tl)
        self.out_len += format_price(v, <char *>self.out + self.out_len)
        self._soh()

    cdef inline void _c(self, const char *tag_eq, int tl, char v) noexcept:
        self._tag(tag_eq, tl)
        self.out[self.out_len] = v
        self.out_len += 1
        self._soh()

    cdef inline void _s(self, const char *tag_eq, int tl, const uint8_t *v, int64_t n) noexcept:
        self._tag(tag_eq, tl)
        memcpy(self.out + self.out_len, v, n)
        self.out_len += n
        self._soh()

    cdef inline void _ts(self, const char *tag_eq, int tl, int64_t t_ns) noexcept:
        self._tag(tag_eq, tl)
        self.out_len += format_utc_ms(t_ns, <char *>self.out + self.out_len)
        self._soh()

    cdef void _name(self, const char *tag_eq, int tl, StrMap table, int64_t index,
                    uint64_t fallback) noexcept:
        cdef int64_t n = 0
        cdef const uint8_t *v = table.key(index, &n) if table is not None else NULL
        if v != NULL and n > 0:
            self._s(tag_eq, tl, v, n)
        else:
            self._u(tag_eq, tl, fallback)

    cdef void _cl_ord_id(self, const char *tag_eq, int tl, StrMap table, uint64_t v) noexcept:
        if v == 0 or v > 0xFFFFFFFF:
            self._u(tag_eq, tl, v)
        else:
            self._name(tag_eq, tl, table, <int64_t>v - 1, v)

    cdef void _text(self, uint16_t code) noexcept:
        if code and code < CODE_SLOTS and g_text_len[code]:
            self._s(b"58=", 3, g_text[code], g_text_len[code])

    def encode_events(self, events, Py_ssize_t n, int64_t now_ns, list tables=None,
                      OrderAttrs attrs=None):
        """Append the FIX message of each of the first `n` events that belongs to this
        session (drop copy: to its accounts); returns how many.  `tables[session_id]` gives
        other sessions' ClOrdID tables to a drop copy; `attrs` the orders' stop prices,
        trails and the like (the gateway's OrderAttrs)."""
        cdef const uint8_t[::1] view = events.view(np.uint8)
        cdef const Event *ev = <const Event *>&view[0] if view.shape[0] else NULL
        cdef Py_ssize_t i
        cdef int count = 0
        cdef StrMap table = self.clordids
        if n > len(events):
            raise ValueError("n is larger than the event array")
        self._stamp_time(now_ns)
        for i in range(n):
            if self.account_ok != NULL:
                if ev[i].account_id >= self.account_ok_len or not self.account_ok[ev[i].account_id]:
                    continue
                if ev[i].kind != EVENT_TYPE_EXEC_REPORT:
                    continue
                table = None
                if tables is not None and ev[i].session_id < len(tables):
                    table = tables[ev[i].session_id]
            elif ev[i].session_id != self.session_id:
                continue
            if self._event(&ev[i], table, attrs):
                count += 1
        return count

    cdef bint _event(self, const Event *e, StrMap table, OrderAttrs attrs) except -1:
        cdef int64_t start
        cdef char exec_type, ord_status, ot
        cdef uint16_t code = e.reject_code
        cdef const OrdAttr *a = NULL
        ord_status = self._ord_status(e.status)
        if e.kind == EVENT_TYPE_EXEC_REPORT:
            if attrs is not None and e.order_id:
                a = attrs.find(e.order_id)
            start = self._begin(b"8", 1, self.out_seq)
            self._reserve(2048)
            self._order_id(e.order_id)
            self._cl_ord_id(b"11=", 3, table, e.cl_ord_id)
            if e.orig_cl_ord_id:
                self._cl_ord_id(b"41=", 3, table, e.orig_cl_ord_id)
            self._tag(b"17=", 3)
            if len(self.exec_id_prefix):
                memcpy(self.out + self.out_len, <const char *>self.exec_id_prefix,
                       len(self.exec_id_prefix))
                self.out_len += len(self.exec_id_prefix)
            self.out_len += format_uint(<uint64_t>e.seq, <char *>self.out + self.out_len)
            self._soh()
            exec_type = self._exec_type(e, ord_status)
            if self.version == 42:
                self._c(b"20=", 3, 51 if e.exec_type == EXEC_TYPE_ORDER_STATUS else 48)
            self._c(b"150=", 4, exec_type)
            if exec_type == 68 and self.version == 44:      # Restated: 378 is required
                self._c(b"378=", 4, 53)                     # 5 partial decline of OrderQty
            self._c(b"39=", 3, ord_status)
            self._name(b"1=", 2, self.account_names, e.account_id, e.account_id)
            self._name(b"55=", 3, self.symbols, e.symbol_id, e.symbol_id)
            if e.side == SIDE_BUY or e.side == SIDE_SELL:   # a binary client may send any byte
                self._c(b"54=", 3, 48 + e.side)
            ot = fix_ord_type_char(e.ord_type)
            if ot:
                self._c(b"40=", 3, ot)
            self._i(b"38=", 3, e.qty)
            if is_priced(e.ord_type):
                self._px(b"44=", 3, e.price)
            if e.ord_type == ORD_TYPE_TRAILING_STOP:
                self._c(b"18=", 3, 97)                      # a: trailing stop peg
                if e.trigger_px:                            # where the stop stands now
                    self._px(b"99=", 3, e.trigger_px)
            elif e.stop_price:
                self._px(b"99=", 3, e.stop_price)
            if a != NULL:
                self._attrs(a, e.ord_type != ORD_TYPE_TRAILING_STOP)
            if e.tif:
                self._c(b"59=", 3, self._tif(e.tif))
            self._i(b"32=", 3, e.last_qty)
            self._px(b"31=", 3, e.last_px)
            self._i(b"151=", 4, e.leaves_qty)
            self._i(b"14=", 3, e.cum_qty)
            self._px(b"6=", 2, e.avg_px)
            if e.trade_id and (e.exec_type == EXEC_TYPE_TRADE
                               or e.exec_type == EXEC_TYPE_TRADE_CANCEL
                               or e.exec_type == EXEC_TYPE_TRADE_CORRECT):
                self._u(b"880=", 4, e.trade_id)
            if e.venue_id and e.last_qty and self.venues is not None:
                self._name(b"30=", 3, self.venues, <int64_t>e.venue_id + 1, e.venue_id)
            self._tag(b"60=", 3)
            self.out_len += format_utc_ms(e.time_ns, <char *>self.out + self.out_len)
            self._soh()
            if code and code < CODE_SLOTS and (e.exec_type == EXEC_TYPE_REJECTED
                                               or e.status == ORD_STATUS_REJECTED):
                self._u(b"103=", 4, g_ord_rej[code])
            self._text(code)
        elif e.kind == EVENT_TYPE_CANCEL_REJECT:
            start = self._begin(b"9", 1, self.out_seq)
            self._reserve(1024)
            self._order_id(e.order_id)
            self._cl_ord_id(b"11=", 3, table, e.cl_ord_id)
            self._cl_ord_id(b"41=", 3, table, e.orig_cl_ord_id)
            self._c(b"39=", 3, ord_status)
            self._c(b"434=", 4, 49 if e.response_to == CXL_REJ_RESPONSE_TO_CANCEL else 50)
            if code < CODE_SLOTS:
                self._u(b"102=", 4, g_cxl_rej[code])
            self._text(code)
        elif e.kind == EVENT_TYPE_MASS_CANCEL_REPORT:
            start = self._begin(b"r", 1, self.out_seq)
            self._reserve(512)
            self._cl_ord_id(b"11=", 3, table, e.cl_ord_id)
            self._tag(b"37=MC", 5)
            self.out_len += format_uint(<uint64_t>e.cmd_seq, <char *>self.out + self.out_len)
            self._soh()
            self._c(b"530=", 4, e.ord_type if e.ord_type else 55)
            self._c(b"531=", 4, e.ord_type if e.ord_type else 55)
            self._u(b"533=", 4, e.trade_id)
            self._text(code)
        else:
            return False
        self._end(start)
        self.out_seq += 1
        return True

    cdef void _attrs(self, const OrdAttr *a, bint exec_inst) noexcept:
        """The fields an ExecutionReport takes from the order's OrderAttrs (`exec_inst`:
        whether ExecInst(18) is still to be written); StopPx(99) comes from the event."""
        if a.trail_amount:
            self._px(b"211=", 4, a.trail_amount)
        elif a.trail_bps:
            self._u(b"211=", 4, a.trail_bps)
            self._c(b"836=", 4, 49)                         # basis points
        if exec_inst and a.exec_inst & EXEC_INST_POST_ONLY:
            self._c(b"18=", 3, 54)                          # 6: participate don't initiate
        if a.display_qty:
            self._i(b"111=", 4, a.display_qty)
        if a.min_qty:
            self._i(b"110=", 4, a.min_qty)
        if a.expire_time_ns:
            self._tag(b"126=", 4)
            self.out_len += format_utc_ms(a.expire_time_ns, <char *>self.out + self.out_len)
            self._soh()
        if a.parent_order_id:
            self._u(b"7101=", 5, a.parent_order_id)
        if a.oco_order_id:
            self._u(b"7102=", 5, a.oco_order_id)

    cdef void _order_id(self, uint64_t order_id) noexcept:
        if order_id and order_id != 0xFFFFFFFFFFFFFFFFULL:
            self._u(b"37=", 3, order_id)
        else:
            self._tag(b"37=NONE", 7)
            self._soh()

    cdef char _ord_status(self, uint8_t status) noexcept:
        if status == ORD_STATUS_ACCEPTED:
            return 48
        if status == ORD_STATUS_PARTIALLY_FILLED:
            return 49
        if status == ORD_STATUS_FILLED:
            return 50
        if status == ORD_STATUS_CANCELLED:
            return 52
        if status == ORD_STATUS_PENDING_CANCEL:
            return 54
        if status == ORD_STATUS_EXPIRED:
            return 67
        if status == ORD_STATUS_PENDING_REPLACE:
            return 69
        if status == ORD_STATUS_PENDING or status == ORD_STATUS_VALIDATED \
                or status == ORD_STATUS_ROUTED:
            return 65
        return 56                                       # REJECTED, or unknown (evicted)

    cdef char _exec_type(self, const Event *e, char ord_status) noexcept:
        cdef uint8_t t = e.exec_type
        if t == EXEC_TYPE_NEW:
            return 48
        if t == EXEC_TYPE_TRADE:
            if self.version == 42:
                return 50 if e.leaves_qty == 0 else 49
            return 70
        if t == EXEC_TYPE_CANCELED:
            return 52
        if t == EXEC_TYPE_REPLACED:
            return 53
        if t == EXEC_TYPE_REJECTED:
            return 56
        if t == EXEC_TYPE_EXPIRED:
            return 67
        if t == EXEC_TYPE_PENDING_CANCEL:
            return 54
        if t == EXEC_TYPE_PENDING_REPLACE:
            return 69
        if t == EXEC_TYPE_ORDER_STATUS:
            return ord_status if self.version == 42 else 73
        if t == EXEC_TYPE_TRIGGERED:
            # 4.4: L "triggered or activated by system"; 4.2 has no such value: D restated
            return 68 if self.version == 42 else 76
        if t == EXEC_TYPE_RESTATED:
            return 68
        if t == EXEC_TYPE_PENDING_NEW:
            return 65                                   # A
        if t == EXEC_TYPE_TRADE_CANCEL:
            return 72                                   # H
        if t == EXEC_TYPE_TRADE_CORRECT:
            return 71                                   # G
        return 73

    cdef char _tif(self, uint8_t tif) noexcept:
        if tif == TIME_IN_FORCE_DAY:
            return 48
        if tif == TIME_IN_FORCE_GTC:
            return 49
        if tif == TIME_IN_FORCE_AT_OPEN:
            return 50
        if tif == TIME_IN_FORCE_IOC:
            return 51
        if tif == TIME_IN_FORCE_FOK:
            return 52
        if tif == TIME_IN_FORCE_GTD:
            return 54
        return 55

    def encode(self, bytes msg_type, fields, int64_t now_ns, int64_t seq=0,
               bint poss_dup=False, bytes orig_sending_time=None):
        """Append one message built from `fields` [(tag, value), ...] (values str, bytes or
        int) with a full header; `seq` 0 takes the next outbound number.  For the session
        layer's own messages (admin messages, rejects, resends): not the hot path."""
        cdef int64_t start
        cdef bint fresh = seq == 0
        self._stamp_time(now_ns)
        start = self._begin(<const char *>msg_type, len(msg_type), self.out_seq if fresh else seq)
        if poss_dup:
            self._s(b"43=", 3, <const uint8_t *>b"Y", 1)
            if orig_sending_time is not None:
                self._reserve(len(orig_sending_time) + 8)
                self._s(b"122=", 4, <const uint8_t *><const char *>orig_sending_time,
                        len(orig_sending_time))
        for tag, value in fields:
            if isinstance(value, str):
                value = value.encode()
            elif not isinstance(value, bytes):
                value = str(value).encode()
            value = value.replace(b"\x01", b" ")
            raw = str(tag).encode() + b"=" + value + b"\x01"
            self._reserve(len(raw) + 16)
            memcpy(self.out + self.out_len, <const char *>raw, len(raw))
            self.out_len += len(raw)
        self._reserve(16)
        self._end(start)
        if fresh:
            self.out_seq += 1

    def take(self):
        """The bytes encoded since the last take()."""
        out = PyBytes_FromStringAndSize(<const char *>self.out, self.out_len)
        self.out_len = 0
        return out

    @property
    def pending_output(self):
        return self.out_len


def checksum(data):
    """FIX CheckSum of `data`: the byte sum modulo 256."""
    cdef const uint8_t[::1] view = data
    cdef uint32_t s = 0
    cdef Py_ssize_t i
    for i in range(view.shape[0]):
        s += view[i]
    return s & 255


def parse_timestamp(bytes value):
    """A UTCTimestamp as ns since the epoch, or None if malformed."""
    cdef int64_t t
    if parse_utc_timestamp(<const uint8_t *><const char *>value, len(value), &t) != 0:
        return None
    return t


def format_timestamp(int64_t t_ns):
    """ns since the epoch as a millisecond UTCTimestamp."""
    cdef char buf[32]
    cdef int n = format_utc_ms(t_ns, buf)
    return PyBytes_FromStringAndSize(buf, n)


def parse_price(bytes value):
    """A FIX decimal price as integer price units; ValueError if malformed or too precise."""
    cdef int64_t v
    cdef int r = parse_decimal(<const uint8_t *><const char *>value, len(value), 4, &v)
    if r != 0:
        raise ValueError(f"bad price {value!r}")
    return v


def format_price_units(int64_t v):
    cdef char buf[40]
    cdef int n = format_price(v, buf)
    return PyBytes_FromStringAndSize(buf, n)
