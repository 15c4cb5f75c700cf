# The binary protocol, version 1 (with its extension frames N, V and F): fixed-layout
# little-endian frames (docs/protocols.md has every field's offset).  Each frame starts with
# the same 4-byte header.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t

cdef enum:
    BIN_VERSION = 1
    BIN_MAX_FRAME = 1024
    LOGIN_FLAG_FULL_EVENTS = 1       # 'L' flags: send 'F' execution frames instead of 'E'

cdef packed struct FrameHeader:
    uint16_t length                  # whole frame, header included
    uint8_t msg_type
    uint8_t version

# -- client -> server --

cdef packed struct LoginFrame:       # 'L', 68 bytes
    FrameHeader h
    char username[16]
    char password[32]
    uint32_t heartbeat_ms
    uint32_t flags
    uint64_t reserved

cdef packed struct NewOrderFrame:    # 'O', 72 bytes
    FrameHeader h
    uint8_t side
    uint8_t ord_type
    uint8_t tif
    uint8_t reserved
    uint64_t cl_ord_id
    uint32_t account_id
    uint32_t symbol_id
    int64_t qty
    int64_t price
    uint64_t idem_hi
    uint64_t idem_lo
    uint32_t strategy_id
    uint32_t reserved2
    int64_t time_ns                  # 0: stamped at ingress

cdef packed struct NewOrderFullFrame:    # 'N', 136 bytes: every field of a NEW command
    FrameHeader h
    uint8_t side
    uint8_t ord_type                 # OrdType, 1..7
    uint8_t tif                      # TimeInForce, 1..7
    uint8_t exec_inst                # ExecInst bits (1 post-only)
    uint64_t cl_ord_id
    uint32_t account_id
    uint32_t symbol_id
    int64_t qty
    int64_t price
    int64_t stop_price
    int64_t display_qty              # iceberg: the visible part (0: all)
    int64_t min_qty
    int64_t expire_time_ns           # GTD
    int64_t trail_amount             # trailing stop offset in price units ...
    uint32_t trail_bps               # ... or in basis points
    uint32_t strategy_id
    uint64_t parent_order_id         # OTO / bracket: the parent's order id
    uint64_t oco_order_id            # OCO: the peer's order id
    uint64_t idem_hi
    uint64_t idem_lo
    int64_t time_ns                  # 0: stamped at ingress
    uint16_t ex_destination          # 0 router, 1 INTERNAL, d: venue d - 1
    uint8_t reserved[6]

cdef packed struct CancelFrame:      # 'X', 40 bytes
    FrameHeader h
    uint32_t expected_version
    uint64_t cl_ord_id
    uint64_t orig_cl_ord_id
    uint64_t order_id
    int64_t time_ns

cdef packed struct ReplaceFrame:     # 'U', 56 bytes
    FrameHeader h
    uint32_t expected_version
    uint64_t cl_ord_id
    uint64_t orig_cl_ord_id
    uint64_t order_id
    int64_t price
    int64_t qty
    int64_t time_ns

cdef packed struct ReplaceFullFrame:  # 'V', 64 bytes: replace with a new stop price
    FrameHeader h
    uint32_t expected_version
    uint64_t cl_ord_id
    uint64_t orig_cl_ord_id
    uint64_t order_id
    int64_t price
    int64_t qty
    int64_t stop_price               # 0: the stop price is kept
    int64_t time_ns

cdef packed struct MassCancelFrame:  # 'M', 40 bytes
    FrameHeader h
    uint16_t scope
    uint8_t side
    uint8_t reserved
    uint64_t cl_ord_id
    uint32_t account_id
    uint32_t symbol_id
    uint32_t strategy_id
    uint32_t reserved2
    int64_t time_ns

cdef packed struct StatusFrame:      # 'S', 32 bytes
    FrameHeader h
    uint32_t reserved
    uint64_t orig_cl_ord_id
    uint64_t order_id
    int64_t time_ns

# -- server -> client --

cdef packed struct ExecFrame:        # 'E', 152 bytes: one engine event
    FrameHeader h
    uint8_t kind
    uint8_t exec_type
    uint8_t status
    uint8_t side
    uint8_t ord_type
    uint8_t tif
    uint8_t response_to
    uint8_t reserved
    uint16_t reject_code
    uint16_t venue_id                # 0 INTERNAL, else the external venue of the order
    int64_t seq
    int64_t cmd_seq
    int64_t time_ns
    uint32_t account_id
    uint32_t symbol_id
    uint32_t version
    uint32_t strategy_id
    uint64_t order_id
    uint64_t cl_ord_id
    uint64_t orig_cl_ord_id
    int64_t price
    int64_t qty
    int64_t cum_qty
    int64_t leaves_qty
    int64_t avg_px
    int64_t last_px
    int64_t last_qty
    uint64_t trade_id
    uint32_t session_id
    uint32_t reserved3

cdef packed struct ExecFullFrame:    # 'F', 168 bytes: the 'E' layout (header 'F'), then the
    ExecFrame e                      # fields 'E' cannot carry (login flag LOGIN_FLAG_FULL_EVENTS)
    int64_t stop_price               # the order's stop price (stop family)
    int64_t trigger_px               # its current trigger (a trailing stop's moves)

cdef packed struct RejectFrame:      # 'R', 88 bytes
    FrameHeader h
    uint16_t reason
    uint8_t ref_msg_type
    uint8_t reserved
    uint64_t ref_cl_ord_id
    uint32_t retry_after_ms
    uint32_t reserved2
    char text[64]
