"""The one declaration of records and enums (oms.layout) and its two views: the numpy dtypes
Python sees and the committed cext/oms/_layout.pxd the compiled core is built from."""

from __future__ import annotations

import enum
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from oms import layout
from oms.codes import RejectCode

PXD = pathlib.Path(__file__).resolve().parents[1] / "cext" / "oms" / "_layout.pxd"

DTYPES = {
    "Command": (layout.COMMAND_DTYPE, layout.COMMAND_FIELDS),
    "Event": (layout.EVENT_DTYPE, layout.EVENT_FIELDS),
    "Order": (layout.ORDER_DTYPE, layout.ORDER_FIELDS),
    "SymbolRef": (layout.SYMBOL_DTYPE, layout.SYMBOL_FIELDS),
    "Account": (layout.ACCOUNT_DTYPE, layout.ACCOUNT_FIELDS),
    "Position": (layout.POSITION_DTYPE, layout.POSITION_FIELDS),
}

# Enums whose zero is a meaningful value: "no filter" and "no reject".
ZERO_ALLOWED = {layout.MassCancelScope, layout.ExecInst, layout.StpMode, layout.Matching,
                layout.TriggerSource, layout.Held, layout.VenueState, layout.VenueOrderState,
                layout.RouteRule, layout.VenueFeature, RejectCode}   # config/state, 0 = the default
ALL_ENUMS = layout.ENUMS + [RejectCode]


def test_committed_pxd_is_exactly_the_generated_one():
    committed = PXD.read_text()
    generated = layout.generate_pxd()
    assert committed == generated, (
        "cext/oms/_layout.pxd is out of date: regenerate it with "
        "`python -m oms.layout > cext/oms/_layout.pxd`")


def test_module_entry_point_prints_the_pxd():
    out = subprocess.run([sys.executable, "-m", "oms.layout"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out == layout.generate_pxd()


def test_every_struct_and_enum_is_in_the_pxd():
    text = layout.generate_pxd()
    assert set(layout.STRUCTS) == set(DTYPES)
    for name, fields in layout.STRUCTS.items():
        block = text.split(f"cdef struct {name}:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        declared = [line.split() for line in block]
        expected = [[ctype, f"{fname}[{count}]" if count else fname]
                    for fname, ctype, count in layout.physical_fields(fields)]
        assert declared == expected, name
    for e in ALL_ENUMS:
        block = text.split(f"cdef enum {e.__name__}:\n", 1)[1].split("\n\n", 1)[0]
        assert len(block.splitlines()) == len(e.__members__), e.__name__
        for member in e.__members__.values():
            assert f"_{member.name} = {int(member.value)}\n" in block + "\n", member


@pytest.mark.parametrize("name", list(DTYPES))
def test_dtype_is_whole_cache_lines_with_no_implicit_padding(name):
    dtype, fields = DTYPES[name]
    assert dtype.itemsize % 64 == 0 and dtype.itemsize > 0
    # every byte belongs to a named field: a compiler may write garbage into padding
    assert sum(dtype.fields[f][0].itemsize for f in dtype.names) == dtype.itemsize
    names = [f for f, _ in fields]
    assert [f for f in dtype.names if not f.startswith("_")] == names
    assert all(f.startswith("_pad") or f == "_reserved" for f in dtype.names
               if f not in names)
    if "_reserved" in dtype.names:
        sub, offset = dtype.fields["_reserved"][:2]
        assert sub.base == np.uint8 and offset + sub.itemsize == dtype.itemsize
    for fname, ctype in fields:
        ftype, offset = dtype.fields[fname][:2]
        assert ftype == np.dtype(layout._C_TO_NUMPY[ctype]), fname
        assert offset % ftype.itemsize == 0, f"{name}.{fname} is not naturally aligned"
    assert len(set(names)) == len(names)


def test_dtypes_match_the_compiled_structs():
    # the engine refuses to import on a size mismatch; the queries hand back these dtypes
    from oms import Core
    from helpers import config
    core = Core(config())
    assert core.orders().dtype == layout.ORDER_DTYPE
    assert core.accounts().dtype == layout.ACCOUNT_DTYPE
    assert core.symbols().dtype == layout.SYMBOL_DTYPE
    assert core.positions().dtype == layout.POSITION_DTYPE
    assert core.process(np.zeros(0, layout.COMMAND_DTYPE)).dtype == layout.EVENT_DTYPE


@pytest.mark.parametrize("e", ALL_ENUMS, ids=lambda e: e.__name__)
def test_enum_values_are_unique(e):
    values = [int(m.value) for m in e.__members__.values()]      # aliases included
    assert len(values) == len(set(values)), e.__name__
    assert all(v >= 0 for v in values)


@pytest.mark.parametrize("e", [e for e in ALL_ENUMS if e not in ZERO_ALLOWED],
                         ids=lambda e: e.__name__)
def test_client_facing_enum_values_are_nonzero(e):
    # an all-zero field is never a valid value, so validation always catches it
    assert all(int(m.value) != 0 for m in e.__members__.values()), e.__name__


def test_zero_is_the_neutral_value_where_allowed():
    assert layout.MassCancelScope.ALL == 0 and RejectCode.NONE == 0
    flags = [int(m) for m in layout.MassCancelScope if m != 0]
    assert all(f & (f - 1) == 0 for f in flags)                   # one bit each


FIELD_ENUMS = [          # (dtype, field, enums whose values it carries)
    (layout.COMMAND_DTYPE, "kind", [layout.CommandType]),
    (layout.COMMAND_DTYPE, "side", [layout.Side]),
    (layout.COMMAND_DTYPE, "ord_type", [layout.OrdType]),
    (layout.COMMAND_DTYPE, "tif", [layout.TimeInForce]),
    (layout.COMMAND_DTYPE, "admin_op", [layout.AdminOp, layout.MassCancelScope]),
    (layout.EVENT_DTYPE, "kind", [layout.EventType]),
    (layout.EVENT_DTYPE, "exec_type", [layout.ExecType, layout.AdminOp]),   # admin reports
    (layout.EVENT_DTYPE, "status", [layout.OrdStatus]),
    (layout.EVENT_DTYPE, "side", [layout.Side]),
    (layout.EVENT_DTYPE, "reject_code", [RejectCode]),
    (layout.EVENT_DTYPE, "response_to", [layout.CxlRejResponseTo]),
    (layout.ORDER_DTYPE, "status", [layout.OrdStatus]),
]


_DTYPE_NAMES = {id(d): n for n, (d, _) in DTYPES.items()}


@pytest.mark.parametrize("dtype,field,enums", FIELD_ENUMS,
                         ids=[f"{_DTYPE_NAMES[id(d)]}.{f}" for d, f, _ in FIELD_ENUMS])
def test_enum_values_fit_their_fields(dtype, field, enums):
    info = np.iinfo(dtype.fields[field][0])
    for e in enums:
        top = max(int(m.value) for m in e.__members__.values())
        if issubclass(e, enum.IntFlag):
            top = sum(int(m.value) for m in e.__members__.values())
        assert top <= info.max, (e.__name__, field)


def test_constants_keep_single_notionals_and_limit_sums_inside_int64():
    i64 = np.iinfo(np.int64).max
    assert layout.MAX_QTY * layout.MAX_PRICE <= 10**18 < i64
    assert 100 * layout.LIMIT_MAX < i64              # concentration compares limit * pct
    assert layout.IDEMPOTENCY_TTL_NS == 24 * 3600 * layout.NS_PER_SEC
