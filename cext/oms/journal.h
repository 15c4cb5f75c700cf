/* The journal: segmented, preallocated, memory-mapped files of CRC-checked records.
 *
 * Format (journal/README.md has the full description):
 *   segment file  NNNNNNNNNNNNNNNNNNNN.seg  (20-digit index, from 0)
 *   segment header, 64 bytes: magic "OMSJRNL\0", u32 version, u32 header size, i64 first
 *     record sequence, i64 creation time (ns), i64 segment size, zero padding
 *   records, each 8-byte aligned:
 *     u32 length (of the whole record: header + payload + crc + padding)
 *     u16 type   (1 command, 2 event)
 *     u16 payload length
 *     i64 seq    (command: input sequence; event: event sequence)
 *     i64 time_ns (command time)
 *     payload    (the fixed-size Command or Event struct)
 *     u32 crc32c of everything from `length` to the end of the payload
 *     zero padding to 8 bytes
 *   a zero `length` ends the data of a segment (the rest is preallocated zeros).
 *
 * One writer (the business thread) appends with memcpy; a flusher thread makes the data
 * durable with fdatasync (group commit) and publishes how far it got.
 */
#ifndef OMS_JOURNAL_H
#define OMS_JOURNAL_H

#include "ring.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#define OMS_JOURNAL_MAGIC "OMSJRNL"
#define OMS_JOURNAL_VERSION 1u
#define OMS_SEGMENT_HEADER 64
#define OMS_RECORD_HEADER 24
#define OMS_REC_COMMAND 1
#define OMS_REC_EVENT 2

/* -- CRC32C (Castagnoli): SSE4.2 instruction where available, else a table -- */

static uint32_t oms_crc32c_table[256];
static int oms_crc32c_table_ready = 0;

static inline void oms_crc32c_init_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        oms_crc32c_table[i] = c;
    }
    oms_crc32c_table_ready = 1;
}

static inline uint32_t oms_crc32c(const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t crc = 0xFFFFFFFFu;
#if defined(__SSE4_2__)
    uint64_t c64 = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    crc = (uint32_t)c64;
    while (n--) crc = _mm_crc32_u8(crc, *p++);
#else
    if (!oms_crc32c_table_ready) oms_crc32c_init_table();
    while (n--) crc = oms_crc32c_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
#endif
    return crc ^ 0xFFFFFFFFu;
}

static inline uint32_t oms_record_size(uint32_t payload_len) {
    uint32_t n = OMS_RECORD_HEADER + payload_len + 4;
    return (n + 7u) & ~7u;
}

/* -- segments -- */

typedef struct {
    int fd;
    char *map;
    int64_t size;
    int64_t index;
} oms_segment;

static inline void oms_segment_path(char *out, size_t cap, const char *dir, int64_t index) {
    snprintf(out, cap, "%s/%020lld.seg", dir, (long long)index);
}

/* Create segment `index`, preallocated and mapped, header written.  The file is built under
 * a temporary name and renamed into place once its header is written, so a crash never
 * leaves a segment file without a valid header.  populate: fault its pages in now. */
static inline int oms_segment_create(oms_segment *s, const char *dir, int64_t index,
                                     int64_t size, int64_t first_seq, int64_t now_ns,
                                     int populate) {
    char path[4096], tmp[4200];
    oms_segment_path(path, sizeof path, dir, index);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -errno;
    if (posix_fallocate(fd, 0, size) != 0 && ftruncate(fd, size) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
    char *map = (char *)mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return -e;
    }
#ifdef MADV_POPULATE_WRITE
    if (populate) madvise(map, (size_t)size, MADV_POPULATE_WRITE);
#else
    (void)populate;
#endif
    memset(map, 0, OMS_SEGMENT_HEADER);
    memcpy(map, OMS_JOURNAL_MAGIC, 8);
    uint32_t version = OMS_JOURNAL_VERSION, hsize = OMS_SEGMENT_HEADER;
    memcpy(map + 8, &version, 4);
    memcpy(map + 12, &hsize, 4);
    memcpy(map + 16, &first_seq, 8);
    memcpy(map + 24, &now_ns, 8);
    memcpy(map + 32, &size, 8);
    if (rename(tmp, path) != 0) {
        int e = errno;
        munmap(map, (size_t)size);
        close(fd);
        unlink(tmp);
        return -e;
    }
    s->fd = fd;
    s->map = map;
    s->size = size;
    s->index = index;
    return 0;
}

static inline void oms_segment_close(oms_segment *s) {
    if (s->map) munmap(s->map, (size_t)s->size);
    if (s->fd >= 0) close(s->fd);
    s->map = NULL;
    s->fd = -1;
}

/* -- the writer: appends records; a flusher thread syncs them -- */

#define OMS_RETIRED_MAX 64

typedef struct {
    char dir[4096];
    int64_t segment_size;
    oms_segment cur;
    int64_t pos;                 /* write offset in cur */
    int64_t records;             /* records appended since open */
    int64_t bytes;               /* bytes appended since open */
    int error;                   /* first I/O error (negative errno), sticky */
    /* handed to the flusher: segments that are full and need a final sync and close */
    oms_segment retired[OMS_RETIRED_MAX];
    int64_t retired_head;        /* written by the writer */
    int64_t retired_tail;        /* written by the flusher */
    /* prepared by the flusher ahead of need: the next segment, pre-faulted.  The writer asks
     * for index `spare_wanted` (always above every existing segment, so the flusher can never
     * create over live data); the flusher sets spare_ready once it is mapped. */
    oms_segment spare;
    int64_t spare_wanted;
    int32_t spare_ready;
    int32_t spare_error;         /* negative errno if the flusher could not prepare it */
    int32_t flusher;             /* 1 while a flusher thread serves this journal */
    int64_t spare_populated;     /* flusher only: bytes of the spare already faulted in */
    char _pad0[64];
    int64_t written_seq;         /* last command seq whose records and events are written */
    char _pad1[56];
    int64_t durable_seq;         /* last command seq known to be on disk */
    char _pad2[56];
} oms_journal;

static inline int oms_journal_open(oms_journal *j, const char *dir, int64_t segment_size,
                                   int64_t index, int64_t pos, int64_t last_seq,
                                   int64_t first_seq, int64_t now_ns) {
    memset(j, 0, sizeof *j);
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    j->segment_size = segment_size;
    j->cur.fd = -1;
    j->spare.fd = -1;
    j->written_seq = last_seq;
    j->durable_seq = last_seq;
    j->spare_wanted = index + 1;
    if (pos <= 0) {
        int rc = oms_segment_create(&j->cur, dir, index, segment_size, first_seq, now_ns, 1);
        if (rc) return rc;
        j->pos = OMS_SEGMENT_HEADER;
        return 0;
    }
    /* continue an existing segment after its last valid record */
    char path[4096];
    oms_segment_path(path, sizeof path, dir, index);
    int fd = open(path, O_RDWR);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); return -e; }
    char *map = (char *)mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) { int e = errno; close(fd); return -e; }
    j->cur.fd = fd;
    j->cur.map = map;
    j->cur.size = st.st_size;
    j->cur.index = index;
    j->pos = pos;
    return 0;
}

static inline int oms_journal_roll(oms_journal *j, int64_t first_seq, int64_t now_ns) {
    int flusher = __atomic_load_n(&j->flusher, __ATOMIC_ACQUIRE);
    int64_t next = j->cur.index + 1;
    /* end marker: a zero length (the file is preallocated with zeros; be explicit anyway) */
    if (j->pos + 4 <= j->cur.size) memset(j->cur.map + j->pos, 0, 4);
    if (flusher) {
        while (j->retired_head - __atomic_load_n(&j->retired_tail, __ATOMIC_ACQUIRE) >= OMS_RETIRED_MAX)
            sched_yield();      /* the flusher is far behind: wait rather than lose a segment */
        j->retired[j->retired_head % OMS_RETIRED_MAX] = j->cur;
        __atomic_store_n(&j->retired_head, j->retired_head + 1, __ATOMIC_RELEASE);
        /* the flusher prepares (and pre-faults) the next segment ahead of need: wait for it */
        while (!__atomic_load_n(&j->spare_ready, __ATOMIC_ACQUIRE)) {
            int err = __atomic_load_n(&j->spare_error, __ATOMIC_ACQUIRE);
            if (err) return err;
            sched_yield();
        }
    } else {
        /* no flusher thread (direct use, tools, after stop): sync and close here */
        fdatasync(j->cur.fd);
        oms_segment_close(&j->cur);
    }
    if (__atomic_load_n(&j->spare_ready, __ATOMIC_ACQUIRE) && j->spare.index == next) {
        /* a spare prepared while a flusher ran is the next segment: take it */
        __atomic_store_n(&j->cur.fd, j->spare.fd, __ATOMIC_RELEASE);
        j->cur.map = j->spare.map;
        j->cur.size = j->spare.size;
        j->cur.index = next;
        memcpy(j->cur.map + 16, &first_seq, 8);
        memcpy(j->cur.map + 24, &now_ns, 8);
        j->spare.map = NULL;
        j->spare.fd = -1;
    } else {
        int rc = oms_segment_create(&j->cur, j->dir, next, j->segment_size, first_seq, now_ns, 0);
        if (rc) return rc;
    }
    /* order matters: the flusher reads spare_wanted after it sees spare_ready == 0 */
    __atomic_store_n(&j->spare_wanted, next + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&j->spare_ready, 0, __ATOMIC_RELEASE);
    j->pos = OMS_SEGMENT_HEADER;
    return 0;
}

/* Append one record; returns 0 or a negative errno (then sticky in j->error). */
static inline int oms_journal_append(oms_journal *j, uint16_t type, int64_t seq, int64_t time_ns,
                                     const void *payload, uint32_t payload_len) {
    if (j->error) return j->error;
    uint32_t size = oms_record_size(payload_len);
    if (j->pos + size + 4 > j->cur.size) {
        int rc = oms_journal_roll(j, seq, time_ns);
        if (rc) { j->error = rc; return rc; }
    }
    char *p = j->cur.map + j->pos;
    uint16_t plen = (uint16_t)payload_len;
    memcpy(p + 4, &type, 2);
    memcpy(p + 6, &plen, 2);
    memcpy(p + 8, &seq, 8);
    memcpy(p + 16, &time_ns, 8);
    memcpy(p + OMS_RECORD_HEADER, payload, payload_len);
    memcpy(p, &size, 4);
    uint32_t crc = oms_crc32c(p, OMS_RECORD_HEADER + payload_len);
    memcpy(p + OMS_RECORD_HEADER + payload_len, &crc, 4);
    uint32_t pad = size - (OMS_RECORD_HEADER + payload_len + 4);
    if (pad) memset(p + OMS_RECORD_HEADER + payload_len + 4, 0, pad);
    j->pos += size;
    j->records += 1;
    j->bytes += size;
    return 0;
}

static inline void oms_journal_publish_written(oms_journal *j, int64_t cmd_seq) {
    __atomic_store_n(&j->written_seq, cmd_seq, __ATOMIC_RELEASE);
}

static inline int64_t oms_journal_durable(oms_journal *j) {
    return __atomic_load_n(&j->durable_seq, __ATOMIC_ACQUIRE);
}

/* The flusher's one step: sync what is written, publish it as durable.  Returns 1 if it did
 * work, 0 if there was nothing to do, negative errno on failure.  `do_sync` 0 is the async
 * mode: data is published as soon as it is in the page cache (it survives a process crash,
 * not a machine crash). */
static inline int oms_journal_flush_step(oms_journal *j, int do_sync) {
    int64_t target = __atomic_load_n(&j->written_seq, __ATOMIC_ACQUIRE);
    int64_t tail = __atomic_load_n(&j->retired_tail, __ATOMIC_RELAXED);
    int64_t head = __atomic_load_n(&j->retired_head, __ATOMIC_ACQUIRE);
    int worked = 0;
    while (tail < head) {
        oms_segment *s = &j->retired[tail % OMS_RETIRED_MAX];
        if (do_sync && fdatasync(s->fd) != 0) return -errno;
        oms_segment_close(s);
        tail += 1;
        __atomic_store_n(&j->retired_tail, tail, __ATOMIC_RELEASE);
        worked = 1;
    }
    if (target > __atomic_load_n(&j->durable_seq, __ATOMIC_RELAXED)) {
        /* the writer may roll at any time, but a segment it retires is synced above on the
         * next step before anything after it is published: read cur.fd only to sync */
        int fd = __atomic_load_n(&j->cur.fd, __ATOMIC_ACQUIRE);
        if (do_sync && fdatasync(fd) != 0 && errno != EBADF) return -errno;
        if (__atomic_load_n(&j->retired_head, __ATOMIC_ACQUIRE) != head) {
            /* a roll happened during the sync: the data may live in the retired segment,
             * which the next step syncs before publishing */
            return 1;
        }
        __atomic_store_n(&j->durable_seq, target, __ATOMIC_RELEASE);
        worked = 1;
    }
    /* only a flusher thread prepares the next segment: without one, the writer's roll
     * creates it, and a spare made here would be the same file */
    if (__atomic_load_n(&j->flusher, __ATOMIC_ACQUIRE)
            && !__atomic_load_n(&j->spare_ready, __ATOMIC_ACQUIRE) && j->spare.map == NULL) {
        int64_t wanted = __atomic_load_n(&j->spare_wanted, __ATOMIC_ACQUIRE);
        int rc = oms_segment_create(&j->spare, j->dir, wanted, j->segment_size, 0, 0, 0);
        if (rc) {
            __atomic_store_n(&j->spare_error, rc, __ATOMIC_RELEASE);
            return rc;
        }
        j->spare_populated = 0;
        __atomic_store_n(&j->spare_ready, 1, __ATOMIC_RELEASE);
        return 1;
    }
    /* when idle, fault the spare in 1 MiB at a time: a whole segment at once would hold up
     * durability for tens of ms (first writes into a new file run at ~0.34 GB/s here) */
    if (!worked && __atomic_load_n(&j->spare_ready, __ATOMIC_ACQUIRE)) {
        char *map = j->spare.map;
        int64_t size = j->spare.size, done = j->spare_populated;
        if (map != NULL && done < size) {
            int64_t chunk = size - done < (1 << 20) ? size - done : (1 << 20);
#ifdef MADV_POPULATE_WRITE
            madvise(map + done, (size_t)chunk, MADV_POPULATE_WRITE);
#endif
            j->spare_populated = done + chunk;
            worked = 1;
        }
    }
    return worked;
}

static inline void oms_journal_close(oms_journal *j) {
    if (j->cur.map) {
        msync(j->cur.map, (size_t)j->pos, MS_SYNC);
        oms_segment_close(&j->cur);
    }
    for (int64_t t = j->retired_tail; t < j->retired_head; t++) {
        oms_segment *s = &j->retired[t % OMS_RETIRED_MAX];
        fdatasync(s->fd);
        oms_segment_close(s);
    }
    j->retired_tail = j->retired_head;
    if (j->spare.map) {
        /* an unused pre-created segment: remove it so the directory holds only real data */
        char path[4096];
        oms_segment_path(path, sizeof path, j->dir, j->spare.index);
        oms_segment_close(&j->spare);
        unlink(path);
    }
}

#endif
