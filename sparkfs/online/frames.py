"""Whole-batch RESP framing with numpy for the common full-refresh case.

When the entity key is one integer, every feature is fixed-width and the target is one node,
every ``SET key value PXAT expiry`` command of a batch has the same length. The batch is then
one numpy structured array whose fields are the constant RESP framing, the key, the packed value
and the 13 ASCII digits of the expiry; ``tobytes()`` yields the payload without a Python loop
per entity. Anything else goes through the per-entity framing in ``writer.py``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fresh_set_frames"]

_MIN_MS, _MAX_MS = 10**12, 10**13 - 1  # 13-digit epoch milliseconds: 2001 .. 2286
_POWERS = 10 ** np.arange(12, -1, -1, dtype=np.int64)


def fresh_set_frames(prefix: bytes, ids: np.ndarray, values: np.ndarray,
                     expire_ms: np.ndarray) -> bytes | None:
    """RESP of ``SET <prefix><id as int64 LE> <value> PXAT <expire_ms>`` per row.

    ``values`` is a structured array (one packed value per row). Returns ``None`` when an expiry
    does not have 13 digits (the caller frames per entity instead).
    """
    if len(ids) and (expire_ms.min() < _MIN_MS or expire_ms.max() > _MAX_MS):
        return None
    width = values.dtype.itemsize
    head = b"*5\r\n$3\r\nSET\r\n$%d\r\n" % (len(prefix) + 8)
    mid = b"\r\n$%d\r\n" % width
    tail = b"\r\n$4\r\nPXAT\r\n$13\r\n"
    frame = np.zeros(len(ids), dtype=[
        ("head", f"S{len(head)}"), ("prefix", f"S{len(prefix)}"), ("id", "<i8"),
        ("mid", f"S{len(mid)}"), ("value", f"V{width}"), ("tail", f"S{len(tail)}"),
        ("exp", "u1", (13,)), ("crlf", "S2"),
    ])
    frame["head"], frame["prefix"], frame["id"] = head, prefix, ids
    frame["mid"], frame["tail"], frame["crlf"] = mid, tail, b"\r\n"
    frame["value"] = values.view(f"V{width}")
    frame["exp"] = (expire_ms[:, None] // _POWERS % 10 + 48).astype(np.uint8)
    return frame.tobytes()
