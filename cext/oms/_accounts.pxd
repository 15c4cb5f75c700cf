# The account set of a gateway session (a byte per account id), shared by the FIX and binary
# codecs: inline, so no module of its own at run time.
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport calloc, free


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
