/* A preallocated ring of fixed-size slots: many producers, one consumer (LMAX Disruptor style).
 *
 * Producers claim a run of sequence numbers with a CAS on `claim` (never blocking while
 * holding a claim, so a full ring is reported, not waited on inside the claim), write their
 * slots, then publish each slot by storing its sequence into `published[seq & mask]` with
 * release ordering.  The consumer reads slots in sequence order while `published` matches,
 * processes a whole batch, and only then moves `consumed` forward: one store per batch, which
 * is what makes the ring fast (DESIGN.md: 36M msg/s publishing each message, 136M/s per 64).
 *
 * The cursors sit on their own cache lines so producers and the consumer do not false-share.
 */
#ifndef OMS_RING_H
#define OMS_RING_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#define OMS_CACHE_LINE 64

typedef struct {
    char *slots;
    int64_t *published;      /* published[i] == seq once slot i holds message seq */
    int64_t slot_size;
    int64_t capacity;        /* power of two */
    int64_t mask;
    char _pad0[OMS_CACHE_LINE - 5 * 8];
    int64_t claim;           /* next sequence a producer will claim */
    char _pad1[OMS_CACHE_LINE - 8];
    int64_t consumed;        /* every sequence below this has been processed */
    char _pad2[OMS_CACHE_LINE - 8];
} oms_ring;

static inline int oms_ring_init(oms_ring *r, int64_t capacity, int64_t slot_size) {
    memset(r, 0, sizeof(*r));
    r->slots = (char *)aligned_alloc(OMS_CACHE_LINE, (size_t)(capacity * slot_size));
    r->published = (int64_t *)malloc((size_t)capacity * sizeof(int64_t));
    if (!r->slots || !r->published) {
        free(r->slots);
        free(r->published);
        r->slots = NULL;
        r->published = NULL;
        return -1;
    }
    memset(r->slots, 0, (size_t)(capacity * slot_size));
    for (int64_t i = 0; i < capacity; i++) r->published[i] = -1;
    r->slot_size = slot_size;
    r->capacity = capacity;
    r->mask = capacity - 1;
    return 0;
}

static inline void oms_ring_free(oms_ring *r) {
    free(r->slots);
    free(r->published);
    r->slots = NULL;
    r->published = NULL;
}

static inline char *oms_ring_slot(oms_ring *r, int64_t seq) {
    return r->slots + (seq & r->mask) * r->slot_size;
}

/* Claim n consecutive sequences; returns the first, or -1 if the ring has no room for n. */
static inline int64_t oms_ring_try_claim(oms_ring *r, int64_t n) {
    int64_t first = __atomic_load_n(&r->claim, __ATOMIC_RELAXED);
    for (;;) {
        int64_t consumed = __atomic_load_n(&r->consumed, __ATOMIC_ACQUIRE);
        if (first + n - consumed > r->capacity) return -1;
        if (__atomic_compare_exchange_n(&r->claim, &first, first + n, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return first;
    }
}

static inline void oms_ring_publish(oms_ring *r, int64_t seq) {
    __atomic_store_n(&r->published[seq & r->mask], seq, __ATOMIC_RELEASE);
}

/* Consumer: how many consecutive published messages start at `next` (at most `limit`). */
static inline int64_t oms_ring_available(oms_ring *r, int64_t next, int64_t limit) {
    int64_t n = 0;
    while (n < limit &&
           __atomic_load_n(&r->published[(next + n) & r->mask], __ATOMIC_ACQUIRE) == next + n)
        n++;
    return n;
}

/* Consumer: everything below `next` is processed; its slots may be reused. */
static inline void oms_ring_release(oms_ring *r, int64_t next) {
    __atomic_store_n(&r->consumed, next, __ATOMIC_RELEASE);
}

static inline int64_t oms_ring_consumed(oms_ring *r) {
    return __atomic_load_n(&r->consumed, __ATOMIC_ACQUIRE);
}

static inline int64_t oms_ring_claimed(oms_ring *r) {
    return __atomic_load_n(&r->claim, __ATOMIC_ACQUIRE);
}

/* Wait strategies of the business thread when the input ring is empty. */
enum { OMS_WAIT_BUSY_SPIN = 0, OMS_WAIT_YIELD = 1, OMS_WAIT_SLEEP = 2 };

static inline void oms_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void oms_wait(int strategy, int64_t idle_rounds) {
    if (strategy == OMS_WAIT_BUSY_SPIN) {
        oms_cpu_relax();
    } else if (strategy == OMS_WAIT_YIELD || idle_rounds < 100) {
        /* sleep only after a spell of yields: a sleeping consumer wakes in ~30-40 us here */
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

static inline int64_t oms_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int oms_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

/* Large zeroed arrays (order store, indexes, books) come from mmap with transparent huge pages
 * requested: the VM's first-touch page faults cost ~0.34 GB/s at 4 KiB pages (DESIGN.md), and
 * a 2 MiB page takes one fault instead of 512.  Memory is still only resident once touched.
 * The mapping's size is kept in the 64 bytes before the returned pointer, for oms_huge_free. */
static inline void *oms_huge_calloc(size_t count, size_t size) {
    size_t bytes = count * size + OMS_CACHE_LINE;
    char *base = (char *)mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(base, bytes, MADV_HUGEPAGE);
#endif
    *(size_t *)base = bytes;
    return base + OMS_CACHE_LINE;
}

/* Make a huge_calloc'ed block resident now (MADV_POPULATE_WRITE, Linux 5.14+), so the first
 * orders do not pay for page faults; contents are untouched.  Returns 0 or -1. */
static inline int oms_huge_populate(void *p) {
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    if (p == NULL) return 0;
    char *base = (char *)p - OMS_CACHE_LINE;
    return madvise(base, *(size_t *)base, MADV_POPULATE_WRITE);
}

static inline void oms_prefetch(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

static inline void oms_huge_free(void *p) {
    if (p == NULL) return;
    char *base = (char *)p - OMS_CACHE_LINE;
    munmap(base, *(size_t *)base);
}

static inline void oms_atomic_store_i32(int32_t *p, int32_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline int32_t oms_atomic_load_i32(int32_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* The consumer of the output ring may sleep on an eventfd instead of polling: it arms
 * `armed` (seq_cst, then polls once more), and the business thread, after a batch whose
 * events it published, takes the flag and writes the eventfd.  The two seq_cst operations
 * order "events published, then flag read" against "flag set, then ring read": a wake-up
 * is never lost, and an unarmed consumer costs the business thread one exchange per batch. */
static inline int32_t oms_atomic_exchange_i32(int32_t *p, int32_t v) {
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}

static inline void oms_notify_fd(int fd) {
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);   /* an eventfd: never blocks, never short */
    (void)r;
}

#endif
