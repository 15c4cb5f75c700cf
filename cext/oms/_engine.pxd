# The business logic's state and its step function.  docs/engine.md is the behaviour contract;
# this file is the interface: what the state holds and which functions drive it.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t
from oms._layout cimport Command, Event, Order, SymbolRef, Account, Position
from oms._router cimport RouteTable

cdef extern from "ring.h" nogil:
    ctypedef struct oms_ring:
        int64_t capacity
    int oms_ring_init(oms_ring *r, int64_t capacity, int64_t slot_size)
    void oms_ring_free(oms_ring *r)
    char *oms_ring_slot(oms_ring *r, int64_t seq)
    int64_t oms_ring_try_claim(oms_ring *r, int64_t n)
    void oms_ring_publish(oms_ring *r, int64_t seq)
    int64_t oms_ring_available(oms_ring *r, int64_t next, int64_t limit)
    void oms_ring_release(oms_ring *r, int64_t next)
    int64_t oms_ring_consumed(oms_ring *r)
    int64_t oms_ring_claimed(oms_ring *r)
    void oms_wait(int strategy, int64_t idle_rounds)
    void oms_cpu_relax()
    int64_t oms_clock_ns()
    int oms_pin_current_thread(int cpu)
    void *oms_huge_calloc(size_t count, size_t size)
    void oms_huge_free(void *p)
    int oms_huge_populate(void *p)
    void oms_prefetch(const void *p)
    void oms_atomic_store_i32(int32_t *p, int32_t v)
    int32_t oms_atomic_exchange_i32(int32_t *p, int32_t v)
    void oms_notify_fd(int fd)
    int32_t oms_atomic_load_i32(int32_t *p)
    enum:
        OMS_WAIT_BUSY_SPIN
        OMS_WAIT_YIELD
        OMS_WAIT_SLEEP


from oms._journal cimport oms_journal, OMS_REC_COMMAND, OMS_REC_EVENT, oms_journal_append, \
    oms_journal_publish_written, oms_journal_durable, oms_crc32c, oms_record_size, \
    OMS_RECORD_HEADER


# -- BOOKS (the simulated venue) --

cdef struct Level:
    int64_t price
    int64_t qty            # sum of leaves_qty of the orders resting here
    int32_t head           # oldest order (slot), -1 if none
    int32_t tail
    int32_t count
    int32_t _pad

cdef struct BookSide:
    Level *levels          # sorted by key ascending, best level last (pop/push at the end)
    int32_t count
    int32_t sign           # +1 bids (key = price), -1 asks (key = -price)


# -- INDEXES --

cdef struct IdemFifoEntry:  # the idempotency FIFO; the hash table points at its entries
    uint64_t hi
    uint64_t lo
    int64_t time_ns
    uint64_t order_id


# -- THE OMS'S HELD ORDERS (untriggered stop family) AND ORDER EXPIRY --

cdef struct HeapEntry:      # a held order in its trigger group's binary min-heap
    int64_t key             # trigger_px for groups that fire upward, -trigger_px downward
    uint64_t order_id       # ties: lower order id first
    int32_t slot
    int32_t _pad

cdef struct Heap:
    HeapEntry *e            # grown by doubling (realloc), never shrunk
    int32_t count
    int32_t cap

cdef struct TriggerSet:     # per symbol: six trigger groups (docs/engine.md, Triggers)
    Heap groups[6]
    # trailing stops need no move while the reference stays on the near side of the mark:
    # every sell trailing stop has been moved at a reference >= sell_trail_mark (moving at a
    # lower one changes nothing), every buy trailing stop at one <= buy_trail_mark
    int64_t sell_trail_mark
    int64_t buy_trail_mark
    int32_t dirty           # on the dirty list: must be examined when the command settles
    int32_t _pad
    # orders waiting for the opening [0] and closing [1] auction: lists in order id order
    # through the orders' prev/next (free while an order is out of the book)
    int32_t auction_head[2]
    int32_t auction_tail[2]

cdef struct ExpiryEntry:    # lazily deleted: stale entries are skipped when popped
    int64_t expire_ns
    uint64_t order_id

cdef struct ContingentAction:
    uint64_t order_id
    uint16_t code           # cancel: its reject code; 0 = activate
    uint16_t _pad0
    uint32_t _pad1


# -- EVENT SINK --

cdef struct EventSink:
    oms_ring *ring         # threaded mode: the output ring (single producer: this thread)
    int64_t next_seq       # next output-ring sequence to write
    Event *buf             # direct mode: a growable buffer the caller drains
    int64_t count
    int64_t cap


cdef struct State:
    # capacities (from config)
    int64_t max_orders
    int64_t max_symbols
    int64_t max_accounts
    int64_t idem_capacity
    int64_t max_levels
    # counters
    int64_t cmd_seq
    int64_t event_seq
    uint64_t next_order_id
    uint64_t next_trade_id
    int32_t kill_switch
    int64_t illegal_transitions
    # reference data, risk and positions
    SymbolRef *symbols
    Account *accounts
    Position *positions    # [account * max_symbols + symbol]
    # order store: slots [0, high_water) hold orders; terminal ones form the closed FIFO
    Order *orders
    int64_t high_water
    int32_t closed_head
    int32_t closed_tail
    # open-addressing indexes (linear probing, backward-shift delete); entries are slot + 1,
    # the ClOrdID table's with a hash tag in the high half
    int32_t *oid_table
    uint64_t oid_mask
    uint64_t *clord_table
    uint64_t clord_mask
    # idempotency: table of (tag | FIFO position + 1); FIFO ring indexed by insertion % capacity
    uint64_t *idem_table
    uint64_t idem_mask
    IdemFifoEntry *idem_fifo
    uint64_t idem_first    # insertion number at the FIFO head
    uint64_t idem_next     # next insertion number
    # the OMS's held (untriggered stop-family) orders: six heaps per symbol; the symbols a
    # command touched (references, held orders) wait on the dirty list to be examined
    TriggerSet *triggers
    int32_t *dirty_list
    int32_t dirty_count
    # live GTD orders as a min-heap of (expire_ns, order_id), lazily deleted; DAY orders
    # expire at session closes, found by a scan of the store when one can be due
    ExpiryEntry *expiry
    int64_t expiry_count
    int64_t expiry_cap
    int64_t expiry_live     # live GTD orders (for compaction)
    int64_t day_expiry_min  # no live DAY order expires before this
    # contingent actions queued during a command, carried out when it settles (FIFO)
    ContingentAction *queue
    int64_t queue_head
    int64_t queue_count
    int64_t queue_cap
    int64_t alloc_failures  # a growable structure could not grow (the order was cancelled)
    uint64_t next_priority
    int64_t last_timer_ns
    # external venues: the router's venue rows, listings and rules (cext/oms/_router.pxd)
    RouteTable router
    # books: [symbol * 2 + 0] bids, [symbol * 2 + 1] asks
    BookSide *books
    Level *level_pool
    # mass-cancel scratch (allocated on first use)
    uint64_t *scratch
    EventSink sink
    # the write-ahead journal, when attached: every command before it is applied, every
    # event as it is emitted (journal.h; the business thread is its only writer)
    oms_journal *journal
    # snapshot policy of the threaded driver (0 = off) and its mailbox to the snapshot writer
    int64_t snapshot_every_events
    int64_t snapshot_every_ns
    int64_t snapshot_min_ns
    int64_t last_snapshot_event_seq
    int64_t last_snapshot_time_ns
    int64_t last_cmd_time_ns
    char *snapshot_buf          # set by the business thread, taken (and freed) by the writer
    int64_t snapshot_len
    int64_t snapshot_cmd_seq
    int32_t snapshot_ready


cdef int state_init(State *st, int64_t max_orders, int64_t max_symbols, int64_t max_accounts,
                    int64_t idem_capacity, int64_t max_levels) noexcept nogil
cdef void state_free(State *st) noexcept nogil
cdef void engine_apply(State *st, Command *cmd) noexcept nogil
cdef void engine_prefetch(State *st, Command *cmd) noexcept nogil
cdef int state_populate(State *st) noexcept nogil
