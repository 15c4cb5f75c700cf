# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The journal in compiled code: the writer (appended to by the business thread, made durable
by a flusher thread) and the segment scanner (recovery, replay, tools).  The on-disk format is
in journal/README.md and journal.h."""
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memcmp

import mmap
import os
import threading

import numpy as np

from oms.layout import COMMAND_DTYPE, EVENT_DTYPE

cdef extern from "ring.h" nogil:
    void oms_wait(int strategy, int64_t idle_rounds)
    int32_t oms_atomic_load_i32(int32_t *p)
    void oms_atomic_store_i32(int32_t *p, int32_t v)
    enum:
        OMS_WAIT_SLEEP

cdef extern from "journal.h" nogil:
    """
    static inline int oms_flusher_loop(oms_journal *j, int do_sync, int32_t *stop) {
        int64_t idle = 0;
        for (;;) {
            int rc = oms_journal_flush_step(j, do_sync);
            if (rc < 0) return rc;
            if (rc > 0) { idle = 0; continue; }
            if (__atomic_load_n(stop, __ATOMIC_ACQUIRE)) return 0;
            /* nothing to sync: a short sleep bounds the added latency to a wake-up (~30-40 us
               here) while commands arriving meanwhile join the next group commit */
            oms_wait(OMS_WAIT_SLEEP, 100 + idle++);
        }
    }
    """
    int oms_flusher_loop(oms_journal *j, int do_sync, int32_t *stop)


COMMAND_RECORD = OMS_REC_COMMAND
EVENT_RECORD = OMS_REC_EVENT
SEGMENT_HEADER_BYTES = OMS_SEGMENT_HEADER
RECORD_HEADER_BYTES = OMS_RECORD_HEADER


class JournalError(Exception):
    """The journal cannot be written or read as it stands."""


cdef class JournalWriter:
    """Appends records to segment files in `directory`, starting at segment `index`, byte
    `pos` (0: a new segment).  `start_flusher()` runs the group-commit thread; in `sync`
    mode a command is durable after fdatasync, in async mode once it is in the page cache."""

    def __cinit__(self, directory, int64_t segment_bytes=64 << 20, int64_t index=0,
                  int64_t pos=0, int64_t last_seq=0, int64_t first_seq=1, int64_t now_ns=0,
                  bint sync=True):
        self.j = <oms_journal *>calloc(1, sizeof(oms_journal))
        if self.j == NULL:
            raise MemoryError()
        self.directory = os.fspath(directory)
        self.sync = sync
        os.makedirs(self.directory, exist_ok=True)
        rc = oms_journal_open(self.j, os.fsencode(self.directory), segment_bytes, index, pos,
                              last_seq, first_seq, now_ns)
        if rc != 0:
            free(self.j)
            self.j = NULL
            raise JournalError(f"cannot open journal segment {index} in {self.directory}: "
                               f"{os.strerror(-rc)}")

    def __dealloc__(self):
        if self.j != NULL:
            oms_journal_close(self.j)
            free(self.j)

    def start_flusher(self):
        if self.thread is not None:
            return
        self.j.flusher = 1
        self.stop_flag = 0
        self.thread = threading.Thread(target=self._flusher, name="oms-journal-flusher",
                                       daemon=True)
        self.thread.start()

    def _flusher(self):
        cdef int rc
        cdef int do_sync = self.sync
        with nogil:
            rc = oms_flusher_loop(self.j, do_sync, &self.stop_flag)
        if rc < 0:
            self.flusher_error = JournalError(f"journal flush failed: {os.strerror(-rc)}")

    def stop_flusher(self):
        """Sync everything written, then stop the flusher thread."""
        if self.thread is None:
            return
        oms_atomic_store_i32(&self.stop_flag, 1)
        self.thread.join()
        self.thread = None
        self.j.flusher = 0
        with nogil:
            oms_journal_flush_step(self.j, self.sync)

    def close(self):
        self.stop_flusher()
        if self.j != NULL:
            with nogil:
                oms_journal_close(self.j)
            free(self.j)
            self.j = NULL

    def append_events(self, events):
        """Append event records (recovery writes the events of replayed commands that the
        journal was missing)."""
        if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
            raise TypeError("expected an EVENT_DTYPE array")
        cdef const uint8_t[::1] view = np.ascontiguousarray(events).view(np.uint8).reshape(-1)
        cdef int64_t i, n = len(events), size = EVENT_DTYPE.itemsize
        cdef int rc = 0
        cdef const int64_t *rec
        for i in range(n):
            rec = <const int64_t *>&view[i * size]
            rc = oms_journal_append(self.j, OMS_REC_EVENT, rec[0], rec[2], rec, <uint32_t>size)
            if rc:
                raise JournalError(f"journal append failed: {os.strerror(-rc)}")

    def publish_written(self, int64_t cmd_seq):
        oms_journal_publish_written(self.j, cmd_seq)

    def flush(self):
        """Sync now, from the calling thread (when no flusher thread runs)."""
        cdef int rc
        with nogil:
            rc = oms_journal_flush_step(self.j, self.sync)
        if rc < 0:
            raise JournalError(f"journal flush failed: {os.strerror(-rc)}")

    @property
    def durable_seq(self):
        return oms_journal_durable(self.j)

    @property
    def written_seq(self):
        return self.j.written_seq

    @property
    def error(self):
        return self.j.error

    def stats(self):
        return dict(records=self.j.records, bytes=self.j.bytes, segment=self.j.cur.index,
                    offset=self.j.pos, durable_seq=oms_journal_durable(self.j),
                    written_seq=self.j.written_seq)


# ============================================================================================
# -- SCANNING --
# ============================================================================================

cdef int64_t check_record(const uint8_t *base, int64_t off, int64_t size,
                          int64_t cmd_len, int64_t ev_len) noexcept nogil:
    """Length of the valid record at `off`, 0 at the end marker, or a negative reason."""
    cdef uint32_t length, crc
    cdef uint16_t rtype, plen
    if off + 4 > size:
        return 0
    memcpy(&length, base + off, 4)
    if length == 0:
        return 0
    if off + OMS_RECORD_HEADER > size:
        return -1                           # truncated header
    memcpy(&rtype, base + off + 4, 2)
    memcpy(&plen, base + off + 6, 2)
    if rtype == OMS_REC_COMMAND:
        if plen != cmd_len:
            return -2
    elif rtype == OMS_REC_EVENT:
        if plen != ev_len:
            return -2
    else:
        return -3                           # unknown record type
    if length != oms_record_size(plen):
        return -2                           # bad length
    if off + length > size:
        return -1                           # truncated record
    memcpy(&crc, base + off + OMS_RECORD_HEADER + plen, 4)
    if crc != oms_crc32c(base + off, OMS_RECORD_HEADER + plen):
        return -4
    return length

_REASONS = {-1: "truncated record", -2: "bad length", -3: "unknown record type",
            -4: "bad CRC32C"}


class SegmentScan:
    """One segment read back: its header, records and the first problem found, if any."""

    def __init__(self, path, index, first_seq, created_ns, size, commands, events, kinds,
                 offsets, end, error_offset, error_reason, valid_after_error):
        self.path = path
        self.index = index
        self.first_seq = first_seq
        self.created_ns = created_ns
        self.size = size
        self.commands = commands          # COMMAND_DTYPE records in order
        self.events = events              # EVENT_DTYPE records in order
        self.kinds = kinds                # per record: 1 command, 2 event
        self.offsets = offsets            # per record: byte offset in the segment
        self.end = end                    # offset just after the last valid record
        self.error_offset = error_offset  # -1 if the segment is clean
        self.error_reason = error_reason
        self.valid_after_error = valid_after_error  # a valid record follows the bad one

    @property
    def empty(self):
        return len(self.kinds) == 0 and self.error_offset < 0

    def __repr__(self):
        return (f"SegmentScan({self.path!r}, records={len(self.kinds)}, end={self.end}, "
                f"error={self.error_reason!r}@{self.error_offset})")


ARCHIVE_SUFFIX = ".zst"


def scan_segment(path, int64_t segment_index=-1, int64_t start=OMS_SEGMENT_HEADER):
    """Read and verify the records of a segment file from byte `start` on (the first record
    by default; a record boundary from an earlier scan's `end` to resume).  Archived segments
    (zstd-compressed, `.seg.zst`) read the same.  Compiled: no Python per record."""
    path = os.fspath(path)
    if path.endswith(ARCHIVE_SUFFIX):
        import zstandard
        with open(path, "rb") as fh:
            data = zstandard.ZstdDecompressor().stream_reader(fh).read()
        if len(data) < OMS_SEGMENT_HEADER:
            raise JournalError(f"{path}: archive holds {len(data)} bytes, no segment header")
        return _scan(path, segment_index, data, len(data), start)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < OMS_SEGMENT_HEADER:
            raise JournalError(f"{path}: {size} bytes, shorter than a segment header")
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _scan(path, segment_index, mm, size, start)
    finally:
        mm.close()


cdef object _scan(object path, int64_t segment_index, object mm, int64_t size, int64_t start):
    cdef const uint8_t[::1] view = mm
    cdef const uint8_t *base = &view[0]
    cdef int64_t cmd_len = COMMAND_DTYPE.itemsize, ev_len = EVENT_DTYPE.itemsize
    cdef int64_t off = start, r, n_cmd = 0, n_ev = 0, n = 0
    cdef int64_t err_off = -1, err_code = 0, probe
    cdef bint valid_after = False
    cdef uint32_t version
    cdef int64_t first_seq, created
    cdef uint16_t rtype
    if memcmp(base, b"OMSJRNL\0", 8) != 0:
        raise JournalError(f"{path}: not a journal segment (bad magic)")
    memcpy(&version, base + 8, 4)
    if version != 1:
        raise JournalError(f"{path}: journal format version {version}, this build reads 1")
    memcpy(&first_seq, base + 16, 8)
    memcpy(&created, base + 24, 8)
    with nogil:
        while True:
            r = check_record(base, off, size, cmd_len, ev_len)
            if r <= 0:
                break
            memcpy(&rtype, base + off + 4, 2)
            if rtype == OMS_REC_COMMAND:
                n_cmd += 1
            else:
                n_ev += 1
            n += 1
            off += r
        if r < 0:
            err_off = off
            err_code = r
            # is this the torn tail of the journal, or damage with good records after it?
            probe = off + 8
            while probe + OMS_RECORD_HEADER <= size:
                if check_record(base, probe, size, cmd_len, ev_len) > 0:
                    valid_after = True
                    break
                probe += 8
    commands = np.empty(n_cmd, dtype=COMMAND_DTYPE)
    events = np.empty(n_ev, dtype=EVENT_DTYPE)
    kinds = np.empty(n, dtype=np.uint8)
    offsets = np.empty(n, dtype=np.int64)
    cdef uint8_t[::1] cv = commands.view(np.uint8) if n_cmd else np.empty(1, np.uint8)
    cdef uint8_t[::1] ev = events.view(np.uint8) if n_ev else np.empty(1, np.uint8)
    cdef uint8_t[::1] kv = kinds if n else np.empty(1, np.uint8)
    cdef int64_t[::1] ov = offsets if n else np.empty(1, np.int64)
    cdef int64_t i = 0, ic = 0, ie = 0, end = start
    cdef uint32_t length
    if start < OMS_SEGMENT_HEADER or start % 8:
        raise JournalError(f"{path}: scan start {start} is not a record boundary")
    with nogil:
        off = start
        while i < n:
            memcpy(&length, base + off, 4)
            memcpy(&rtype, base + off + 4, 2)
            kv[i] = <uint8_t>rtype
            ov[i] = off
            if rtype == OMS_REC_COMMAND:
                memcpy(&cv[ic * cmd_len], base + off + OMS_RECORD_HEADER, cmd_len)
                ic += 1
            else:
                memcpy(&ev[ie * ev_len], base + off + OMS_RECORD_HEADER, ev_len)
                ie += 1
            off += length
            i += 1
        end = off
    return SegmentScan(path, segment_index, first_seq, created, size, commands, events, kinds,
                       offsets, end, err_off, _REASONS.get(err_code), valid_after)


def first_difference(a, b):
    """Index of the first record where two equally long record arrays of the same dtype
    differ, or -1: a memcmp, without the copies `tobytes()` would make."""
    if a.dtype != b.dtype or len(a) != len(b):
        raise ValueError("first_difference needs two record arrays of one dtype and length")
    if len(a) == 0:
        return -1
    cdef const uint8_t[::1] x = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
    cdef const uint8_t[::1] y = np.ascontiguousarray(b).view(np.uint8).reshape(-1)
    cdef int64_t size = a.dtype.itemsize, n = len(a), i
    cdef int64_t found = -1
    with nogil:
        if memcmp(&x[0], &y[0], n * size) != 0:
            for i in range(n):
                if memcmp(&x[i * size], &y[i * size], size) != 0:
                    found = i
                    break
    return found
