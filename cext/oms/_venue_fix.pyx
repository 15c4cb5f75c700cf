# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The FIX 4.4 initiator codec towards external venues (docs/protocols.md, "External venues").

`VenueCodec.encode_requests` turns the engine's VENUE_REQUEST events of one venue into
NewOrderSingle (D), OrderCancelRequest (F) and OrderCancelReplaceRequest (G) messages in one
output buffer.  `VenueCodec.decode` walks a read of the venue's messages and turns every
in-sequence ExecutionReport (8) and OrderCancelReject (9) into a VENUE_EXEC command in a
preallocated array; it stops, like the acceptor's codec it extends (oms._fix.FixCodec), at
administrative messages, sequence gaps and malformed messages for the session layer
(src/oms/venues/session.py), and at order status reports (ExecType I: reconciliation).

The venue ClOrdID of request `n` of order `o` is the engine's `o << 16 | n`; on the wire it is
the text "<o>.<n>" (decimal), parsed back here.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memset

import numpy as np

from oms._layout cimport *
from oms._fix cimport FixCodec, StrMap, OrderAttrs, OrdAttr
from oms._fix_util cimport parse_decimal, format_uint

from oms._fix import NEED_MORE, BATCH_FULL, SESSION, REJECT, GARBLED
from oms.layout import COMMAND_DTYPE

# decode() results beyond oms._fix's (NEED_MORE, BATCH_FULL, SESSION, REJECT, GARBLED)
VENUE_STATUS = 7       # an order status report (ExecType I): the session layer reconciles
VENUE_OTHER = 8        # another application message (BusinessMessageReject...): counted in
                       # sequence, for the session layer to log or act on

ANSWER_DTYPE = np.dtype([("cl_ord_id", "<u8"), ("orig_cl_ord_id", "<u8"), ("msg_type", "u1"),
                         ("exec_type", "u1"), ("ord_status", "u1"), ("reserved", "u1", (5,))])

DEF SOH = 1
DEF NO_ID = 0xFFFFFFFF
DEF TRADE_ID_MAX = 63                # ExecIDs longer than this are not remembered


cdef inline int64_t parse_int(const uint8_t *p, int64_t n, int64_t *out) noexcept nogil:
    return parse_decimal(p, n, 0, out)


cdef uint64_t parse_venue_cl_ord_id(const uint8_t *p, int64_t n) noexcept nogil:
    """ "<order_id>.<n>" -> order_id << 16 | n; 0 when it is not one of ours."""
    cdef uint64_t o = 0, r = 0
    cdef int64_t i = 0, digits = 0
    while i < n and p[i] != 46:
        if p[i] < 48 or p[i] > 57 or digits >= 15:
            return 0
        o = o * 10 + (p[i] - 48)
        digits += 1
        i += 1
    if digits == 0 or i >= n - 1 or o >= (<uint64_t>1 << 48):
        return 0
    i += 1
    digits = 0
    while i < n:
        if p[i] < 48 or p[i] > 57 or digits >= 5:
            return 0
        r = r * 10 + (p[i] - 48)
        digits += 1
        i += 1
    if r == 0 or r > 0xFFFF:
        return 0
    return o << 16 | r


cdef inline char venue_ord_type(uint8_t t) noexcept nogil:
    """The type a venue sees: the OMS emulates the stop family and sends what a triggered
    order becomes (docs/engine.md, Venue type of an order)."""
    if t == ORD_TYPE_LIMIT or t == ORD_TYPE_STOP_LIMIT or t == ORD_TYPE_LIMIT_IF_TOUCHED:
        return 50
    return 49


cdef class VenueCodec(FixCodec):
    """One venue session's codec: our CompID, the venue's, sequence numbers (inherited), the
    symbol table, the reason tables and the venue's trades by ExecID."""

    def __cinit__(self):
        self.trade_px = NULL
        self.trade_qty = NULL
        self.trade_cap = 0

    def __init__(self, bytes sender_comp_id, bytes target_comp_id, uint16_t venue_id,
                 StrMap symbols, ord_reasons, cxl_reasons, bytes account=b"",
                 bytes begin_string=b"FIX.4.4", int capacity=4096):
        """`ord_reasons` / `cxl_reasons`: a callable (OrdRejReason or None -> our code), e.g.
        oms.codes.from_venue_reason and its cancel-reject form: tabulated once here."""
        FixCodec.__init__(self, begin_string, sender_comp_id, target_comp_id, 0, StrMap(),
                          StrMap(), symbols, None, NO_ID, b"", capacity)
        self.venue_id = venue_id
        self.account = account
        self.accept_poss_dup = True     # a resend at the expected number is processed: the
                                        # engine drops what it applied already (venue_seq)
        cdef int i
        for i in range(256):
            self.ord_rej[i] = int(ord_reasons(i))
            self.cxl_rej[i] = int(cxl_reasons(i))
        self.ord_rej_absent = int(ord_reasons(None))
        self.cxl_rej_absent = int(cxl_reasons(None))
        self.trades = StrMap(TRADE_ID_MAX)
        self.unresolved = 0
        self.answer_capacity = capacity
        self.answers = np.zeros(capacity, dtype=ANSWER_DTYPE)
        cdef uint8_t[::1] view = self.answers.view(np.uint8)
        self.ans = <VenueAnswer *>&view[0]
        self.n_answers = 0

    def __dealloc__(self):
        free(self.trade_px)
        free(self.trade_qty)

    # -- DECODING --

    def decode(self, buf, Py_ssize_t pos, int64_t now_ns):
        """As FixCodec.decode, into VENUE_EXEC commands (`commands[:n_commands]`) and what
        each message answered (`answers[:n_answers]`)."""
        cdef const uint8_t[::1] view = buf
        cdef const uint8_t *base
        cdef Py_ssize_t end = view.shape[0]
        cdef int status
        self.n_commands = 0
        self.n_answers = 0
        if end == 0:
            self.pos = pos
            return NEED_MORE
        base = &view[0]
        while True:
            if self.n_commands >= self.cmd_capacity or self.n_answers >= self.answer_capacity:
                self.pos = pos
                status = BATCH_FULL
                break
            status = self._one(base, pos, end, now_ns)
            if status == NEED_MORE or status == GARBLED:
                self.pos = pos
                break
            pos = self.pos
            if status != -1:
                break
        return status

    cdef uint64_t _venue_id_of(self, const uint8_t *p, int32_t tag) noexcept:
        cdef int k = self._find(tag)
        if k < 0:
            return 0
        return parse_venue_cl_ord_id(p + self.fields[k].off, self.fields[k].len)

    cdef int _remember(self, const uint8_t *id, int64_t n, int64_t px, int64_t qty) except -1:
        cdef int64_t idx, cap
        cdef int64_t *a
        cdef int64_t *b
        if n < 1 or n > TRADE_ID_MAX:
            return 0
        idx = self.trades.intern(id, n)
        if idx < 0:
            return 0
        if idx >= self.trade_cap:
            cap = self.trade_cap * 2 if self.trade_cap else 1024
            while cap <= idx:
                cap *= 2
            a = <int64_t *>realloc(self.trade_px, cap * sizeof(int64_t))
            if a == NULL:
                raise MemoryError()
            self.trade_px = a
            b = <int64_t *>realloc(self.trade_qty, cap * sizeof(int64_t))
            if b == NULL:
                raise MemoryError()
            self.trade_qty = b
            self.trade_cap = cap
        self.trade_px[idx] = px
        self.trade_qty[idx] = qty
        return 0

    cdef int64_t _trade(self, const uint8_t *p, int32_t tag) noexcept:
        """Index of the remembered trade the ExecID in `tag` names, or -1."""
        cdef int k = self._find(tag)
        cdef int64_t idx
        if k < 0:
            return -1
        idx = self.trades.find(p + self.fields[k].off, self.fields[k].len)
        if idx < 0 or idx >= self.trade_cap:
            return -1
        return idx

    cdef int _application(self, const uint8_t *p, int64_t now_ns) except -2:
        cdef const uint8_t *mt = p + self.fields[0].off
        cdef int mtl = self.fields[0].len
        cdef Command *c
        cdef VenueAnswer *a
        cdef uint8_t et = 0, st = 0
        cdef int64_t v, t, px, qty
        cdef int k
        cdef bint is_er
        if self._check_header(p, now_ns) != 0:
            return REJECT
        if mtl != 1 or (mt[0] != 56 and mt[0] != 57):       # not 8 or 9
            self.in_seq += 1
            return VENUE_OTHER
        is_er = mt[0] == 56
        if self._require(11) or self._require(39):
            return REJECT
        if is_er:
            if self._require(150) or self._char(p, 150, &et):
                return REJECT
        else:
            et = 57                                         # '9': a cancel reject
        if self._char(p, 39, &st):
            return REJECT
        if et == 73:                                        # I: order status
            self.in_seq += 1
            return VENUE_STATUS
        a = self.ans + self.n_answers
        memset(a, 0, sizeof(VenueAnswer))
        a.cl_ord_id = self._venue_id_of(p, 11)
        a.orig_cl_ord_id = self._venue_id_of(p, 41)
        a.msg_type = mt[0]
        a.exec_type = et
        a.ord_status = st
        c = self.cmds + self.n_commands
        memset(c, 0, sizeof(Command))
        c.kind = COMMAND_TYPE_VENUE_EXEC
        c.time_ns = now_ns
        c.venue_id = self.venue_id
        c.venue_seq = <uint64_t>self.msg_seq
        c.cl_ord_id = a.cl_ord_id
        if et == 48:                                        # 0 new
            c.admin_op = VENUE_EXEC_ACK
        elif et == 56:                                      # 8 rejected
            c.admin_op = VENUE_EXEC_REJECT
            k = self._find(103)
            if k >= 0 and parse_int(p + self.fields[k].off, self.fields[k].len, &v) == 0 \
                    and 0 <= v < 256:
                c.reason = self.ord_rej[v]
            else:
                c.reason = self.ord_rej_absent
        elif et == 57:                                      # OrderCancelReject
            c.admin_op = VENUE_EXEC_CANCEL_REJECT
            k = self._find(102)
            if k >= 0 and parse_int(p + self.fields[k].off, self.fields[k].len, &v) == 0 \
                    and 0 <= v < 256:
                c.reason = self.cxl_rej[v]
            else:
                c.reason = self.cxl_rej_absent
        elif et == 70 or et == 49 or et == 50:              # F trade (4.2: 1, 2)
            c.admin_op = VENUE_EXEC_FILL
            if self._num(p, 31, 4, &c.price, True) or self._num(p, 32, 0, &c.qty, True):
                return REJECT
            k = self._find(17)
            if k >= 0:
                self._remember(p + self.fields[k].off, self.fields[k].len, c.price, c.qty)
        elif et == 52:                                      # 4 canceled
            c.admin_op = VENUE_EXEC_CANCELED
            c.reason = REJECT_CODE_VENUE_CANCELLED
        elif et == 53:                                      # 5 replaced
            c.admin_op = VENUE_EXEC_REPLACED
            if self._num(p, 44, 4, &c.price, False) or self._num(p, 38, 0, &c.qty, True):
                return REJECT
        elif et == 67:                                      # C expired
            c.admin_op = VENUE_EXEC_EXPIRED
        elif et == 72:                                      # H trade cancel
            c.admin_op = VENUE_EXEC_BUST
            t = self._trade(p, 19)
            if t >= 0:
                c.price = self.trade_px[t]
                c.qty = self.trade_qty[t]
            else:
                if self._num(p, 31, 4, &c.price, False) or self._num(p, 32, 0, &c.qty, False):
                    return REJECT
                if c.qty == 0:
                    self.unresolved += 1
        elif et == 71:                                      # G trade correct
            c.admin_op = VENUE_EXEC_CORRECT
            if self._num(p, 31, 4, &c.price, True) or self._num(p, 32, 0, &c.qty, True):
                return REJECT
            t = self._trade(p, 19)
            if t >= 0:
                c.stop_price = self.trade_px[t]
                c.display_qty = self.trade_qty[t]
                self.trade_px[t] = c.price                  # a later bust names the same trade
                self.trade_qty[t] = c.qty
            else:
                self.unresolved += 1
            k = self._find(17)
            if k >= 0:
                self._remember(p + self.fields[k].off, self.fields[k].len, c.price, c.qty)
        else:
            # A pending new, 6 pending cancel, E pending replace, D restated, ...: the venue
            # has the request; nothing for the engine (answers[] tells the session layer)
            self.n_answers += 1
            self.in_seq += 1
            return -1
        self.n_answers += 1
        self.n_commands += 1
        self.in_seq += 1
        return -1

    # -- ENCODING --

    cdef void _venue_cl_ord_id(self, const char *tag_eq, int tl, uint64_t v) noexcept:
        self._tag(tag_eq, tl)
        self.out_len += format_uint(v >> 16, <char *>self.out + self.out_len)
        self.out[self.out_len] = 46
        self.out_len += 1
        self.out_len += format_uint(v & 0xFFFF, <char *>self.out + self.out_len)
        self._soh()

    def encode_requests(self, events, Py_ssize_t n, int64_t now_ns, OrderAttrs attrs=None):
        """Append the message of each of the first `n` events that is a VENUE_REQUEST to
        this venue; returns how many (each took the next outbound number, in order).
        `attrs`: the orders' display / minimum quantity, post-only and expire time (the
        gateway's OrderAttrs): events do not carry them."""
        cdef const uint8_t[::1] view = events.view(np.uint8)
        cdef const Event *ev = <const Event *>&view[0] if view.shape[0] else NULL
        cdef Py_ssize_t i
        cdef int count = 0
        if n > len(events):
            raise ValueError("n is larger than the event array")
        self._stamp_time(now_ns)
        for i in range(n):
            if ev[i].kind != EVENT_TYPE_VENUE_REQUEST or ev[i].venue_id != self.venue_id:
                continue
            if self._encode_request(&ev[i], attrs):
                count += 1
        return count

    cdef int _encode_request(self, const Event *e, OrderAttrs attrs) except -1:
        cdef int64_t start
        cdef const OrdAttr *a = NULL
        cdef char ot = venue_ord_type(e.ord_type)
        cdef uint8_t r = e.exec_type
        if r != VENUE_REQUEST_NEW_ORDER and r != VENUE_REQUEST_CANCEL and r != VENUE_REQUEST_REPLACE:
            return 0
        if attrs is not None and e.order_id:
            a = attrs.find(e.order_id)
        if r == VENUE_REQUEST_NEW_ORDER:
            start = self._begin(b"D", 1, self.out_seq)
        elif r == VENUE_REQUEST_CANCEL:
            start = self._begin(b"F", 1, self.out_seq)
        else:
            start = self._begin(b"G", 1, self.out_seq)
        self._reserve(1024 + len(self.account))
        self._venue_cl_ord_id(b"11=", 3, e.venue_cl_ord_id)
        if r != VENUE_REQUEST_NEW_ORDER:
            self._venue_cl_ord_id(b"41=", 3, e.venue_orig_cl_ord_id)
        if len(self.account):
            self._s(b"1=", 2, <const uint8_t *><const char *>self.account, len(self.account))
        self._name(b"55=", 3, self.symbols, e.symbol_id, e.symbol_id)
        self._c(b"54=", 3, 48 + e.side)
        self._i(b"38=", 3, e.qty)
        if r != VENUE_REQUEST_CANCEL:
            self._c(b"40=", 3, ot)
            if ot == 50:
                self._px(b"44=", 3, e.price)
            if e.tif:
                self._c(b"59=", 3, self._tif(e.tif))
            if a != NULL:
                if a.exec_inst & EXEC_INST_POST_ONLY:
                    self._c(b"18=", 3, 54)                  # 6: participate don't initiate
                if a.display_qty:
                    self._i(b"111=", 4, a.display_qty)
                if a.min_qty:
                    self._i(b"110=", 4, a.min_qty)
                if a.expire_time_ns and e.tif == TIME_IN_FORCE_GTD:
                    self._ts(b"126=", 4, a.expire_time_ns)
        self._ts(b"60=", 3, e.time_ns)
        self._end(start)
        self.out_seq += 1
        return 1

    # -- TRADES (persisted by the session layer) --

    def export_trades(self, int64_t start):
        """Remembered trades [start, len(trades)) as records: u8 length, ExecID, i64 px,
        i64 qty (little-endian)."""
        out = bytearray()
        cdef int64_t i, n
        cdef const uint8_t *p
        for i in range(start, len(self.trades)):
            p = self.trades.key(i, &n)
            out.append(n)
            out += PyBytes_FromStringAndSize(<const char *>p, n)
            out += int(self.trade_px[i]).to_bytes(8, "little", signed=True)
            out += int(self.trade_qty[i]).to_bytes(8, "little", signed=True)
        return bytes(out)

    def load_trades(self, bytes data):
        """Read an `export_trades()`; returns how many records."""
        cdef const uint8_t *p = <const uint8_t *><const char *>data
        cdef int64_t i = 0, n = len(data), k = 0, m
        while i < n:
            m = p[i]
            if m == 0 or i + 1 + m + 16 > n:
                break
            self._remember(p + i + 1, m,
                           int.from_bytes(data[i + 1 + m:i + 9 + m], "little", signed=True),
                           int.from_bytes(data[i + 9 + m:i + 17 + m], "little", signed=True))
            i += 17 + m
            k += 1
        return k

    def trade(self, bytes exec_id):
        """(px, qty) of a remembered trade, or None."""
        cdef int64_t idx = self.trades.find(<const uint8_t *><const char *>exec_id, len(exec_id))
        if idx < 0 or idx >= self.trade_cap:
            return None
        return self.trade_px[idx], self.trade_qty[idx]


def venue_cl_ord_id_text(uint64_t v):
    """A venue ClOrdID as it goes on the wire: b"<order_id>.<n>"."""
    return b"%d.%d" % (v >> 16, v & 0xFFFF)


def parse_venue_cl_ord_id_text(bytes text):
    """The wire form back to `order_id << 16 | n`; 0 when it is not one of ours."""
    return parse_venue_cl_ord_id(<const uint8_t *><const char *>text, len(text))
