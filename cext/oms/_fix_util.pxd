# FIX field helpers the acceptor codec (_fix.pyx) and the venue initiator codec
# (_venue_fix.pyx) share: integers, decimals and UTCTimestamps in and out of FIX text.
# Inline: compiled into each module, no module of their own at run time.
from libc.stdint cimport int64_t, uint64_t, uint8_t

cdef enum:
    FIX_SOH = 1

cdef extern from *:
    """
    #define OMS_FIX_NS 1000000000LL
    """
    int64_t FIX_NS "OMS_FIX_NS"


cdef inline int parse_uint(const uint8_t *p, int64_t n, int64_t *out) noexcept nogil:
    """Digits only, at most 18 of them; 0 on success."""
    cdef int64_t v = 0, i
    if n < 1 or n > 18:
        return -1
    for i in range(n):
        if p[i] < 48 or p[i] > 57:
            return -1
        v = v * 10 + (p[i] - 48)
    out[0] = v
    return 0


cdef inline int parse_decimal(const uint8_t *p, int64_t n, int64_t scale_digits, int64_t *out) noexcept nogil:
    """A FIX decimal ("-190.05", "100", "1.50") as an integer in units of 10^-scale_digits,
    exactly.  0 on success, -1 bad format, -2 more precision than the scale holds or too
    large.  Extra decimal digits are accepted only when they are zeros."""
    cdef int64_t i = 0, v = 0, frac = 0, digits = 0, fd
    cdef bint neg = False, seen = False
    if n < 1 or n > 32:
        return -1
    if p[0] == 45:                      # '-'
        neg = True
        i = 1
    while i < n and p[i] != 46:         # '.'
        if p[i] < 48 or p[i] > 57:
            return -1
        v = v * 10 + (p[i] - 48)
        digits += 1
        seen = True
        if digits > 14:
            return -2
        i += 1
    if i < n:                           # the point
        i += 1
        fd = 0
        while i < n:
            if p[i] < 48 or p[i] > 57:
                return -1
            seen = True
            if fd < scale_digits:
                frac = frac * 10 + (p[i] - 48)
            elif p[i] != 48:
                return -2
            fd += 1
            i += 1
        while fd < scale_digits:
            frac *= 10
            fd += 1
    else:
        for fd in range(scale_digits):
            frac *= 10
    if not seen:
        return -1
    for fd in range(scale_digits):
        v *= 10
    v += frac
    out[0] = -v if neg else v
    return 0


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    # H. Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d) noexcept nogil:
    cdef int64_t era, doe, yoe, doy, mp
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d[0] = doy - (153 * mp + 2) // 5 + 1
    m[0] = mp + (3 if mp < 10 else -9)
    y[0] = yoe + era * 400 + (1 if m[0] <= 2 else 0)


cdef inline int two(const uint8_t *p) noexcept nogil:
    if p[0] < 48 or p[0] > 57 or p[1] < 48 or p[1] > 57:
        return -1
    return (p[0] - 48) * 10 + (p[1] - 48)


cdef inline int parse_utc_timestamp(const uint8_t *p, int64_t n, int64_t *out) noexcept nogil:
    """UTCTimestamp "YYYYMMDD-HH:MM:SS[.s{1,9}]" in ns since the epoch; 0 on success."""
    cdef int64_t y, mo, d, hh, mi, ss, frac = 0, k = 0, i
    if n < 17 or p[8] != 45 or p[11] != 58 or p[14] != 58:
        return -1
    if two(p) < 0 or two(p + 2) < 0:
        return -1
    y = two(p) * 100 + two(p + 2)
    mo = two(p + 4)
    d = two(p + 6)
    hh = two(p + 9)
    mi = two(p + 12)
    ss = two(p + 15)
    if mo < 1 or mo > 12 or d < 1 or d > 31 or hh < 0 or hh > 23 or mi < 0 or mi > 59 \
            or ss < 0 or ss > 60:
        return -1
    if n > 17:
        if p[17] != 46 or n == 18 or n > 27:
            return -1
        for i in range(18, n):
            if p[i] < 48 or p[i] > 57:
                return -1
            frac = frac * 10 + (p[i] - 48)
            k += 1
        while k < 9:
            frac *= 10
            k += 1
    out[0] = ((days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss) * FIX_NS) + frac
    return 0


cdef inline int format_utc_ms(int64_t t_ns, char *dst) noexcept nogil:
    """ns since the epoch as "YYYYMMDD-HH:MM:SS.sss" (21 chars)."""
    cdef int64_t secs = t_ns // FIX_NS, ms = (t_ns % FIX_NS) // 1000000
    cdef int64_t days = secs // 86400, sod = secs % 86400, y, m, d
    if t_ns < 0:
        secs = 0
        ms = 0
        days = 0
        sod = 0
    civil_from_days(days, &y, &m, &d)
    cdef int64_t vals[7]
    vals[0] = y // 100
    vals[1] = y % 100
    vals[2] = m
    vals[3] = d
    vals[4] = sod // 3600
    vals[5] = (sod // 60) % 60
    vals[6] = sod % 60
    cdef int i, j = 0
    for i in range(7):
        if i == 4:
            dst[j] = 45
            j += 1
        elif i > 4:
            dst[j] = 58
            j += 1
        dst[j] = 48 + vals[i] // 10
        dst[j + 1] = 48 + vals[i] % 10
        j += 2
    dst[j] = 46
    dst[j + 1] = 48 + ms // 100
    dst[j + 2] = 48 + (ms // 10) % 10
    dst[j + 3] = 48 + ms % 10
    return j + 4


cdef inline int format_uint(uint64_t v, char *dst) noexcept nogil:
    cdef char tmp[24]
    cdef int n = 0, i
    if v == 0:
        dst[0] = 48
        return 1
    while v:
        tmp[n] = 48 + (v % 10)
        v //= 10
        n += 1
    for i in range(n):
        dst[i] = tmp[n - 1 - i]
    return n


cdef inline int format_int(int64_t v, char *dst) noexcept nogil:
    if v < 0:
        dst[0] = 45
        return 1 + format_uint(<uint64_t>(-v), dst + 1)
    return format_uint(<uint64_t>v, dst)


cdef inline int format_price(int64_t v, char *dst) noexcept nogil:
    """Price units (1/10,000) as the shortest exact decimal: 1900500 -> "190.05"."""
    cdef int n = 0, digits = 4, i
    cdef int64_t whole, frac
    if v < 0:
        dst[0] = 45
        n = 1
        v = -v
    whole = v // 10000
    frac = v % 10000
    n += format_uint(<uint64_t>whole, dst + n)
    if frac:
        while frac % 10 == 0:
            frac //= 10
            digits -= 1
        dst[n] = 46
        n += 1
        for i in range(digits - 1, -1, -1):
            dst[n + i] = 48 + frac % 10
            frac //= 10
        n += digits
    return n
