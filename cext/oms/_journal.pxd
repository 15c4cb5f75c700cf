# The journal's C core (journal.h) and the Python-facing writer that owns one.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t

cdef extern from "journal.h" nogil:
    ctypedef struct oms_segment:
        int fd
        char *map
        int64_t size
        int64_t index
    ctypedef struct oms_journal:
        int64_t segment_size
        oms_segment cur
        int64_t pos
        int64_t records
        int64_t bytes
        int error
        int32_t flusher
        int64_t written_seq
        int64_t durable_seq
    enum:
        OMS_REC_COMMAND
        OMS_REC_EVENT
        OMS_SEGMENT_HEADER
        OMS_RECORD_HEADER
    uint32_t oms_crc32c(const void *data, size_t n)
    uint32_t oms_record_size(uint32_t payload_len)
    int oms_journal_open(oms_journal *j, const char *dir, int64_t segment_size, int64_t index,
                         int64_t pos, int64_t last_seq, int64_t first_seq, int64_t now_ns)
    int oms_journal_append(oms_journal *j, uint16_t type, int64_t seq, int64_t time_ns,
                           const void *payload, uint32_t payload_len)
    void oms_journal_publish_written(oms_journal *j, int64_t cmd_seq)
    int64_t oms_journal_durable(oms_journal *j)
    int oms_journal_flush_step(oms_journal *j, int do_sync)
    void oms_journal_close(oms_journal *j)


cdef class JournalWriter:
    cdef oms_journal *j
    cdef readonly object directory
    cdef readonly bint sync
    cdef int32_t stop_flag
    cdef object thread
    cdef readonly object flusher_error
