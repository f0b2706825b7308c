"""PostgreSQL's binary formats, read and written with numpy (no per-row Python):
the engine's bulk reads (``array_send`` of each column) and its binary COPY of
scores."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
# A missing time travels as -infinity (PostgreSQL's binary form of it is the least
# int64), so that an array of times has no NULLs on the way in or out.
NO_TIME = np.iinfo(np.int64).min
_ARRAY_HEAD = [("ndim", ">i4"), ("hasnull", ">i4"), ("oid", ">i4"), ("dim", ">i4"),
               ("lbound", ">i4")]


def array_field(element: str, size: int) -> np.dtype:
    """A binary COPY field: a one-dimensional array of ``size`` elements, no NULLs."""
    return np.dtype([("len", ">i4"), *_ARRAY_HEAD,
                     ("items", np.dtype([("len", ">i4"), ("v", element)]), (size,))])


def read_array(data: bytes, element: str) -> NDArray:
    """The elements, flattened, of an array without NULLs in PostgreSQL's binary format:
    ndim, flags, element type, (size, lower bound) per dimension, then each element
    after its 4-byte length."""
    ndim = int.from_bytes(data[:4], "big")
    items = np.dtype([("len", ">i4"), ("v", element)])
    return np.frombuffer(data, dtype=items, offset=12 + 8 * ndim)["v"]
