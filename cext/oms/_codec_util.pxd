# Helpers the FIX and binary codecs share: a session's account set and the output buffer that
# encoded messages go into.  Inline: no module of their own at run time.
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport calloc, free, malloc, realloc

cdef enum:
    OUT_INITIAL_BYTES = 1 << 16


cdef inline uint8_t *account_set(object account_ids, uint8_t *old, int64_t *length) except NULL:
    """A byte per account id up to the largest, 1 for the ids given; frees `old`."""
    ids = list(account_ids)
    cdef int64_t n = max(ids) + 1 if ids else 1
    cdef uint8_t *m = <uint8_t *>calloc(n, 1)
    if m == NULL:
        raise MemoryError()
    for a in ids:
        m[a] = 1
    free(old)
    length[0] = n
    return m


cdef inline uint8_t *out_alloc(int64_t *cap) except NULL:
    """A fresh output buffer of OUT_INITIAL_BYTES."""
    cdef uint8_t *out = <uint8_t *>malloc(OUT_INITIAL_BYTES)
    if out == NULL:
        raise MemoryError()
    cap[0] = OUT_INITIAL_BYTES
    return out


cdef inline int out_reserve(uint8_t **out, int64_t *cap, int64_t used, int64_t n) except -1:
    """Room for n more bytes after `used`: the buffer doubles until they fit."""
    cdef int64_t size = cap[0]
    cdef uint8_t *grown
    if used + n <= size:
        return 0
    while size < used + n:
        size *= 2
    grown = <uint8_t *>realloc(out[0], size)
    if grown == NULL:
        raise MemoryError()
    out[0] = grown
    cap[0] = size
    return 0
