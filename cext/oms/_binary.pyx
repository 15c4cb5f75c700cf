# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The binary protocol codec (docs/protocols.md): whole reads of client frames (version 1 and
its extension frames `N` and `V`) become engine commands in a preallocated array; engine
events become 152-byte `E` execution frames, or 168-byte `F` frames (with the stop price and
trigger) for a session that asked for them at login.  The client side decodes execution
frames straight into EVENT_DTYPE records."""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset

import numpy as np

from oms._layout cimport *
from oms._codec_util cimport account_set, out_alloc, out_reserve
from oms.layout import COMMAND_DTYPE, EVENT_DTYPE

# decode() results (same meaning as the FIX codec's)
NEED_MORE = 0
BATCH_FULL = 1
SESSION = 2          # login, logout, heartbeat, or anything before login
REJECT = 3           # a reject frame answers it: reason, text (the frame is consumed)
FATAL = 4            # framing is lost: reject, then disconnect
THROTTLED = 6
OTHER = 7            # client side: a frame that is not an execution frame

# reject reasons of the 'R' frame
R_UNKNOWN_TYPE = 1
R_BAD_LENGTH = 2
R_BAD_VERSION = 3
R_NOT_LOGGED_IN = 4
R_THROTTLED = 5
R_CLIENT_TIME = 6
R_READ_ONLY = 7
R_LOGIN_FAILED = 8
R_ALREADY_LOGGED_IN = 9
R_FRAMING = 10

# 'L' login flags
LOGIN_FULL_EVENTS = LOGIN_FLAG_FULL_EVENTS    # send 'F' execution frames instead of 'E'

DEF NO_ID = 0xFFFFFFFF

# frame sizes by type (client -> server); 0 = not a client frame
cdef int client_size(uint8_t t) noexcept nogil:
    if t == 76:    # L
        return sizeof(LoginFrame)
    if t == 79:    # O
        return sizeof(NewOrderFrame)
    if t == 78:    # N
        return sizeof(NewOrderFullFrame)
    if t == 88:    # X
        return sizeof(CancelFrame)
    if t == 85:    # U
        return sizeof(ReplaceFrame)
    if t == 86:    # V
        return sizeof(ReplaceFullFrame)
    if t == 77:    # M
        return sizeof(MassCancelFrame)
    if t == 83:    # S
        return sizeof(StatusFrame)
    if t == 72 or t == 81:    # H, Q
        return sizeof(FrameHeader)
    return 0


SIZES = {"L": sizeof(LoginFrame), "O": sizeof(NewOrderFrame), "N": sizeof(NewOrderFullFrame),
         "X": sizeof(CancelFrame), "U": sizeof(ReplaceFrame), "V": sizeof(ReplaceFullFrame),
         "M": sizeof(MassCancelFrame), "S": sizeof(StatusFrame), "E": sizeof(ExecFrame),
         "F": sizeof(ExecFullFrame), "R": sizeof(RejectFrame), "H": sizeof(FrameHeader)}


cdef class BinaryCodec:
    """One binary session's codec state (server side)."""
    cdef Command *cmds
    cdef uint8_t *account_ok
    cdef int64_t account_ok_len
    cdef uint8_t *out
    cdef int64_t out_len, out_cap
    cdef public uint32_t session_id
    cdef public bint logged_on, allow_client_time, read_only
    cdef public bint full_events     # 'F' frames instead of 'E' (set at each login)
    cdef public int64_t order_budget
    cdef public int n_commands, cmd_capacity
    cdef public object commands
    cdef public Py_ssize_t pos
    # the frame decode() stopped at
    cdef public int msg_type, reject_reason
    cdef public uint64_t ref_cl_ord_id
    cdef public object text
    cdef public bytes cur

    def __cinit__(self):
        self.out = out_alloc(&self.out_cap)
        self.out_len = 0
        self.account_ok = NULL
        self.account_ok_len = 0

    def __init__(self, uint32_t session_id, accounts, int capacity=4096):
        self.session_id = session_id
        self.set_accounts(accounts)
        self.logged_on = False
        self.allow_client_time = False
        self.read_only = False
        self.full_events = False
        self.order_budget = 1 << 62
        self.cmd_capacity = capacity
        self.commands = np.zeros(capacity, dtype=COMMAND_DTYPE)
        cdef uint8_t[::1] view = self.commands.view(np.uint8)
        self.cmds = <Command *>&view[0]
        self.n_commands = 0
        self.pos = 0
        self.text = ""
        self.cur = b""

    def __dealloc__(self):
        free(self.out)
        free(self.account_ok)

    def set_accounts(self, account_ids):
        """The account ids this session may name (others are unknown to it)."""
        self.account_ok = account_set(account_ids, self.account_ok, &self.account_ok_len)

    cdef inline uint32_t _account(self, uint32_t a) noexcept nogil:
        if a < self.account_ok_len and self.account_ok[a]:
            return a
        return NO_ID

    cdef int _reject(self, int reason, uint64_t cl_ord_id, text) except -1:
        self.reject_reason = reason
        self.ref_cl_ord_id = cl_ord_id
        self.text = text
        return REJECT

    def decode(self, buf, Py_ssize_t pos, int64_t now_ns):
        """Decode client frames of `buf` from `pos` into commands; returns a status.
        `self.pos` is then past the last frame consumed."""
        cdef const uint8_t[::1] view = buf
        cdef Py_ssize_t end = view.shape[0]
        cdef const uint8_t *p
        cdef const FrameHeader *h
        cdef int size, status
        self.n_commands = 0
        while True:
            self.pos = pos
            if self.n_commands >= self.cmd_capacity:
                return BATCH_FULL
            if end - pos < <Py_ssize_t>sizeof(FrameHeader):
                return NEED_MORE
            p = &view[pos]
            h = <const FrameHeader *>p
            if h.length < sizeof(FrameHeader) or h.length > BIN_MAX_FRAME:
                self.msg_type = h.msg_type
                self._reject(R_FRAMING, 0, f"frame length {h.length} is outside 4..{BIN_MAX_FRAME}")
                return FATAL
            if end - pos < h.length:
                return NEED_MORE
            self.msg_type = h.msg_type
            self.pos = pos + h.length
            if h.version != BIN_VERSION:
                self.cur = PyBytes_FromStringAndSize(<const char *>p, h.length)
                return self._reject(R_BAD_VERSION, 0, f"protocol version {h.version} is not "
                                                      f"supported (this server speaks {BIN_VERSION})")
            size = client_size(h.msg_type)
            if size == 0:
                return self._reject(R_UNKNOWN_TYPE, 0, f"unknown message type {h.msg_type}")
            if h.length != size:
                return self._reject(R_BAD_LENGTH, 0, f"message type {chr(h.msg_type)} is "
                                                     f"{size} bytes, the frame says {h.length}")
            if not self.logged_on or h.msg_type == 76 or h.msg_type == 72 or h.msg_type == 81:
                self.cur = PyBytes_FromStringAndSize(<const char *>p, h.length)
                return SESSION
            status = self._command(p, now_ns)
            if status >= 0:
                return status
            pos = self.pos

    cdef int _command(self, const uint8_t *p, int64_t now_ns) except -2:
        cdef Command *c = self.cmds + self.n_commands
        cdef const NewOrderFrame *o
        cdef const NewOrderFullFrame *nf
        cdef const CancelFrame *x
        cdef const ReplaceFrame *u
        cdef const ReplaceFullFrame *v
        cdef const MassCancelFrame *m
        cdef const StatusFrame *s
        cdef uint8_t t = (<const FrameHeader *>p).msg_type
        cdef int64_t client_time = 0
        if self.read_only:
            return self._reject(R_READ_ONLY, 0, "drop copy session is read-only")
        memset(c, 0, sizeof(Command))
        c.session_id = self.session_id
        if t == 79:
            o = <const NewOrderFrame *>p
            if self.order_budget <= 0:
                self.ref_cl_ord_id = o.cl_ord_id
                return THROTTLED
            c.kind = COMMAND_TYPE_NEW
            c.side = o.side
            c.ord_type = o.ord_type
            c.tif = o.tif
            c.cl_ord_id = o.cl_ord_id
            c.account_id = self._account(o.account_id)
            c.symbol_id = o.symbol_id
            c.qty = o.qty
            c.price = o.price
            c.idem_hi = o.idem_hi
            c.idem_lo = o.idem_lo
            c.strategy_id = o.strategy_id
            client_time = o.time_ns
            self.order_budget -= 1
        elif t == 78:
            nf = <const NewOrderFullFrame *>p
            if self.order_budget <= 0:
                self.ref_cl_ord_id = nf.cl_ord_id
                return THROTTLED
            c.kind = COMMAND_TYPE_NEW
            c.side = nf.side
            c.ord_type = nf.ord_type
            c.tif = nf.tif
            c.exec_inst = nf.exec_inst
            c.cl_ord_id = nf.cl_ord_id
            c.account_id = self._account(nf.account_id)
            c.symbol_id = nf.symbol_id
            c.qty = nf.qty
            c.price = nf.price
            c.stop_price = nf.stop_price
            c.display_qty = nf.display_qty
            c.min_qty = nf.min_qty
            c.expire_time_ns = nf.expire_time_ns
            c.trail_amount = nf.trail_amount
            c.trail_bps = nf.trail_bps
            c.strategy_id = nf.strategy_id
            c.parent_order_id = nf.parent_order_id
            c.oco_order_id = nf.oco_order_id
            c.idem_hi = nf.idem_hi
            c.idem_lo = nf.idem_lo
            c.ex_destination = nf.ex_destination
            client_time = nf.time_ns
            self.order_budget -= 1
        elif t == 88:
            x = <const CancelFrame *>p
            c.kind = COMMAND_TYPE_CANCEL
            c.expected_version = x.expected_version
            c.cl_ord_id = x.cl_ord_id
            c.orig_cl_ord_id = x.orig_cl_ord_id
            c.order_id = x.order_id
            client_time = x.time_ns
        elif t == 85:
            u = <const ReplaceFrame *>p
            if self.order_budget <= 0:
                self.ref_cl_ord_id = u.cl_ord_id
                return THROTTLED
            c.kind = COMMAND_TYPE_REPLACE
            c.expected_version = u.expected_version
            c.cl_ord_id = u.cl_ord_id
            c.orig_cl_ord_id = u.orig_cl_ord_id
            c.order_id = u.order_id
            c.price = u.price
            c.qty = u.qty
            client_time = u.time_ns
            self.order_budget -= 1
        elif t == 86:
            v = <const ReplaceFullFrame *>p
            if self.order_budget <= 0:
                self.ref_cl_ord_id = v.cl_ord_id
                return THROTTLED
            c.kind = COMMAND_TYPE_REPLACE
            c.expected_version = v.expected_version
            c.cl_ord_id = v.cl_ord_id
            c.orig_cl_ord_id = v.orig_cl_ord_id
            c.order_id = v.order_id
            c.price = v.price
            c.qty = v.qty
            c.stop_price = v.stop_price
            client_time = v.time_ns
            self.order_budget -= 1
        elif t == 77:
            m = <const MassCancelFrame *>p
            c.kind = COMMAND_TYPE_MASS_CANCEL
            # a session mass-cancels only its own orders
            c.admin_op = (m.scope & (MASS_CANCEL_SCOPE_ACCOUNT | MASS_CANCEL_SCOPE_SYMBOL
                                     | MASS_CANCEL_SCOPE_SIDE | MASS_CANCEL_SCOPE_STRATEGY)) \
                | MASS_CANCEL_SCOPE_SESSION
            c.side = m.side
            c.cl_ord_id = m.cl_ord_id
            c.account_id = self._account(m.account_id)
            c.symbol_id = m.symbol_id
            c.strategy_id = m.strategy_id
            client_time = m.time_ns
        else:
            s = <const StatusFrame *>p
            c.kind = COMMAND_TYPE_STATUS
            c.orig_cl_ord_id = s.orig_cl_ord_id
            c.cl_ord_id = s.orig_cl_ord_id
            c.order_id = s.order_id
            client_time = s.time_ns
        if client_time != 0:
            if not self.allow_client_time:
                return self._reject(R_CLIENT_TIME, c.cl_ord_id,
                                    "this session may not set command time: send 0")
            c.time_ns = client_time
        else:
            c.time_ns = now_ns
        self.n_commands += 1
        return -1

    # -- ENCODING --

    def encode_events(self, events, Py_ssize_t n):
        """Append an execution frame (`E`, or `F` with `full_events`) for each of the first
        `n` events of this session (drop copy: of its accounts); returns how many."""
        cdef const uint8_t[::1] view = events.view(np.uint8)
        cdef const Event *ev = <const Event *>&view[0] if view.shape[0] else NULL
        cdef Py_ssize_t i
        cdef int count = 0
        cdef int64_t fs = sizeof(ExecFullFrame) if self.full_events else sizeof(ExecFrame)
        cdef ExecFullFrame *ff
        if n > len(events):
            raise ValueError("n is larger than the event array")
        for i in range(n):
            if self.read_only:
                if ev[i].account_id >= self.account_ok_len or not self.account_ok[ev[i].account_id] \
                        or ev[i].kind != EVENT_TYPE_EXEC_REPORT:
                    continue
            elif ev[i].session_id != self.session_id or ev[i].kind == EVENT_TYPE_VENUE_REQUEST:
                continue                # a venue request is for the venue adapter only
            out_reserve(&self.out, &self.out_cap, self.out_len, fs)
            if self.full_events:
                ff = <ExecFullFrame *>(self.out + self.out_len)
                event_to_frame(&ev[i], &ff.e)
                ff.e.h.length = sizeof(ExecFullFrame)
                ff.e.h.msg_type = 70
                ff.stop_price = ev[i].stop_price
                ff.trigger_px = ev[i].trigger_px
            else:
                event_to_frame(&ev[i], <ExecFrame *>(self.out + self.out_len))
            self.out_len += fs
            count += 1
        return count

    def take(self):
        out = PyBytes_FromStringAndSize(<const char *>self.out, self.out_len)
        self.out_len = 0
        return out


cdef void event_to_frame(const Event *e, ExecFrame *f) noexcept nogil:
    memset(f, 0, sizeof(ExecFrame))
    f.h.length = sizeof(ExecFrame)
    f.h.msg_type = 69
    f.h.version = BIN_VERSION
    f.kind = e.kind
    f.exec_type = e.exec_type
    f.status = e.status
    f.side = e.side
    f.ord_type = e.ord_type
    f.tif = e.tif
    f.response_to = e.response_to
    f.reject_code = e.reject_code
    f.venue_id = e.venue_id
    f.seq = e.seq
    f.cmd_seq = e.cmd_seq
    f.time_ns = e.time_ns
    f.account_id = e.account_id
    f.symbol_id = e.symbol_id
    f.version = e.version
    f.strategy_id = e.strategy_id
    f.order_id = e.order_id
    f.cl_ord_id = e.cl_ord_id
    f.orig_cl_ord_id = e.orig_cl_ord_id
    f.price = e.price
    f.qty = e.qty
    f.cum_qty = e.cum_qty
    f.leaves_qty = e.leaves_qty
    f.avg_px = e.avg_px
    f.last_px = e.last_px
    f.last_qty = e.last_qty
    f.trade_id = e.trade_id
    f.session_id = e.session_id


cdef void frame_to_event(const ExecFrame *f, Event *e) noexcept nogil:
    memset(e, 0, sizeof(Event))
    e.kind = f.kind
    e.exec_type = f.exec_type
    e.status = f.status
    e.side = f.side
    e.ord_type = f.ord_type
    e.tif = f.tif
    e.response_to = f.response_to
    e.reject_code = f.reject_code
    e.venue_id = f.venue_id
    e.seq = f.seq
    e.cmd_seq = f.cmd_seq
    e.time_ns = f.time_ns
    e.account_id = f.account_id
    e.symbol_id = f.symbol_id
    e.version = f.version
    e.strategy_id = f.strategy_id
    e.order_id = f.order_id
    e.cl_ord_id = f.cl_ord_id
    e.orig_cl_ord_id = f.orig_cl_ord_id
    e.price = f.price
    e.qty = f.qty
    e.cum_qty = f.cum_qty
    e.leaves_qty = f.leaves_qty
    e.avg_px = f.avg_px
    e.last_px = f.last_px
    e.last_qty = f.last_qty
    e.trade_id = f.trade_id
    e.session_id = f.session_id


def decode_server_frames(buf, Py_ssize_t pos, out):
    """Client side: decode execution frames (`E`, and `F` with its stop_price and trigger_px)
    of `buf` from `pos` into `out` (an EVENT_DTYPE array).  Returns (status, n_events, pos):
    status NEED_MORE, BATCH_FULL (out is full), OTHER (the frame at the returned pos is not
    an execution frame: the caller reads it) or FATAL (bad framing at pos)."""
    cdef const uint8_t[::1] view = buf
    cdef uint8_t[::1] outv = out.view(np.uint8)
    cdef Event *ev = <Event *>&outv[0] if outv.shape[0] else NULL
    cdef Py_ssize_t end = view.shape[0], room = len(out), n = 0
    cdef const FrameHeader *h
    if out.dtype != EVENT_DTYPE:
        raise TypeError("out must be an EVENT_DTYPE array")
    while True:
        if end - pos < <Py_ssize_t>sizeof(FrameHeader):
            return NEED_MORE, n, pos
        h = <const FrameHeader *>&view[pos]
        if h.length < sizeof(FrameHeader) or h.length > BIN_MAX_FRAME:
            return FATAL, n, pos
        if end - pos < h.length:
            return NEED_MORE, n, pos
        if h.msg_type == 69 and h.length == sizeof(ExecFrame):
            if n >= room:
                return BATCH_FULL, n, pos
            frame_to_event(<const ExecFrame *>h, &ev[n])
        elif h.msg_type == 70 and h.length == sizeof(ExecFullFrame):
            if n >= room:
                return BATCH_FULL, n, pos
            frame_to_event(<const ExecFrame *>h, &ev[n])
            ev[n].stop_price = (<const ExecFullFrame *>h).stop_price
            ev[n].trigger_px = (<const ExecFullFrame *>h).trigger_px
        else:
            return OTHER, n, pos
        n += 1
        pos += h.length


def encode_commands(commands, int64_t time_ns=0, bint full=False):
    """Client side: COMMAND_DTYPE records (NEW, CANCEL, REPLACE, MASS_CANCEL, STATUS) as
    frames, in one bytes object: a pipelined client encodes a whole batch in one call.

    A NEW goes as an `O` frame, or as an `N` frame when it sets a field `O` cannot carry
    (stop price, display or minimum quantity, expire time, trail, exec_inst, links); a
    REPLACE goes as `U`, or as `V` when it sets a stop price.  `full` always uses `N` / `V`
    (a server older than the extension answers those with reject reason 1)."""
    cdef const uint8_t[::1] view = commands.view(np.uint8)
    cdef const Command *c = <const Command *>&view[0] if view.shape[0] else NULL
    cdef Py_ssize_t n = len(commands), i
    cdef int64_t size = 0
    cdef int fs
    cdef NewOrderFrame *o
    cdef NewOrderFullFrame *nf
    cdef CancelFrame *x
    cdef ReplaceFrame *u
    cdef ReplaceFullFrame *v
    cdef MassCancelFrame *m
    cdef StatusFrame *s
    if commands.dtype != COMMAND_DTYPE:
        raise TypeError("commands must be a COMMAND_DTYPE array")
    for i in range(n):
        fs = frame_size(&c[i], full)
        if fs == 0:
            raise ValueError(f"command {i}: kind {c[i].kind} has no client frame")
        size += fs
    out = bytearray(size)
    cdef uint8_t[::1] ov = out
    cdef uint8_t *p = &ov[0] if size else NULL
    for i in range(n):
        fs = frame_size(&c[i], full)
        memset(p, 0, fs)
        (<FrameHeader *>p).length = fs
        (<FrameHeader *>p).version = BIN_VERSION
        if c[i].kind == COMMAND_TYPE_NEW and fs == sizeof(NewOrderFullFrame):
            nf = <NewOrderFullFrame *>p
            nf.h.msg_type = 78
            nf.side = c[i].side
            nf.ord_type = c[i].ord_type
            nf.tif = c[i].tif
            nf.exec_inst = c[i].exec_inst
            nf.cl_ord_id = c[i].cl_ord_id
            nf.account_id = c[i].account_id
            nf.symbol_id = c[i].symbol_id
            nf.qty = c[i].qty
            nf.price = c[i].price
            nf.stop_price = c[i].stop_price
            nf.display_qty = c[i].display_qty
            nf.min_qty = c[i].min_qty
            nf.expire_time_ns = c[i].expire_time_ns
            nf.trail_amount = c[i].trail_amount
            nf.trail_bps = c[i].trail_bps
            nf.strategy_id = c[i].strategy_id
            nf.parent_order_id = c[i].parent_order_id
            nf.oco_order_id = c[i].oco_order_id
            nf.idem_hi = c[i].idem_hi
            nf.idem_lo = c[i].idem_lo
            nf.time_ns = c[i].time_ns if c[i].time_ns else time_ns
            nf.ex_destination = c[i].ex_destination
        elif c[i].kind == COMMAND_TYPE_NEW:
            o = <NewOrderFrame *>p
            o.h.msg_type = 79
            o.side = c[i].side
            o.ord_type = c[i].ord_type
            o.tif = c[i].tif
            o.cl_ord_id = c[i].cl_ord_id
            o.account_id = c[i].account_id
            o.symbol_id = c[i].symbol_id
            o.qty = c[i].qty
            o.price = c[i].price
            o.idem_hi = c[i].idem_hi
            o.idem_lo = c[i].idem_lo
            o.strategy_id = c[i].strategy_id
            o.time_ns = c[i].time_ns if c[i].time_ns else time_ns
        elif c[i].kind == COMMAND_TYPE_CANCEL:
            x = <CancelFrame *>p
            x.h.msg_type = 88
            x.expected_version = c[i].expected_version
            x.cl_ord_id = c[i].cl_ord_id
            x.orig_cl_ord_id = c[i].orig_cl_ord_id
            x.order_id = c[i].order_id
            x.time_ns = c[i].time_ns if c[i].time_ns else time_ns
        elif c[i].kind == COMMAND_TYPE_REPLACE and fs == sizeof(ReplaceFullFrame):
            v = <ReplaceFullFrame *>p
            v.h.msg_type = 86
            v.expected_version = c[i].expected_version
            v.cl_ord_id = c[i].cl_ord_id
            v.orig_cl_ord_id = c[i].orig_cl_ord_id
            v.order_id = c[i].order_id
            v.price = c[i].price
            v.qty = c[i].qty
            v.stop_price = c[i].stop_price
            v.time_ns = c[i].time_ns if c[i].time_ns else time_ns
        elif c[i].kind == COMMAND_TYPE_REPLACE:
            u = <ReplaceFrame *>p
            u.h.msg_type = 85
            u.expected_version = c[i].expected_version
            u.cl_ord_id = c[i].cl_ord_id
            u.orig_cl_ord_id = c[i].orig_cl_ord_id
            u.order_id = c[i].order_id
            u.price = c[i].price
            u.qty = c[i].qty
            u.time_ns = c[i].time_ns if c[i].time_ns else time_ns
        elif c[i].kind == COMMAND_TYPE_MASS_CANCEL:
            m = <MassCancelFrame *>p
            m.h.msg_type = 77
            m.scope = c[i].admin_op
            m.side = c[i].side
            m.cl_ord_id = c[i].cl_ord_id
            m.account_id = c[i].account_id
            m.symbol_id = c[i].symbol_id
            m.strategy_id = c[i].strategy_id
            m.time_ns = c[i].time_ns if c[i].time_ns else time_ns
        else:
            s = <StatusFrame *>p
            s.h.msg_type = 83
            s.orig_cl_ord_id = c[i].orig_cl_ord_id
            s.order_id = c[i].order_id
            s.time_ns = c[i].time_ns if c[i].time_ns else time_ns
        p += fs
    return bytes(out)


cdef inline bint needs_full_new(const Command *c) noexcept nogil:
    """A NEW with a field the `O` frame cannot carry."""
    return (c.stop_price != 0 or c.display_qty != 0 or c.min_qty != 0 or c.expire_time_ns != 0
            or c.trail_amount != 0 or c.trail_bps != 0 or c.exec_inst != 0
            or c.parent_order_id != 0 or c.oco_order_id != 0 or c.ex_destination != 0)


cdef int frame_size(const Command *c, bint full) noexcept nogil:
    if c.kind == COMMAND_TYPE_NEW:
        if full or needs_full_new(c):
            return sizeof(NewOrderFullFrame)
        return sizeof(NewOrderFrame)
    if c.kind == COMMAND_TYPE_CANCEL:
        return sizeof(CancelFrame)
    if c.kind == COMMAND_TYPE_REPLACE:
        if full or c.stop_price != 0:
            return sizeof(ReplaceFullFrame)
        return sizeof(ReplaceFrame)
    if c.kind == COMMAND_TYPE_MASS_CANCEL:
        return sizeof(MassCancelFrame)
    if c.kind == COMMAND_TYPE_STATUS:
        return sizeof(StatusFrame)
    return 0
