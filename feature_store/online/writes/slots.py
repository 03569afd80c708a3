"""Redis Cluster hash slots of many keys at once: CRC16 (XMODEM) mod 16384, `{hash tags}` honoured.

The sync sends each cluster node the commands of the keys it owns, so it needs
the slot of every changed key: millions in a full sync. One key at a time that
is a Python call, a concatenation and a tag search per key; here a batch's ids
(an Arrow string column) become a zero-padded byte matrix and the CRC runs
column by column in numpy, table-driven, over all rows at once. Keys are
`prefix + id`; the CRC of the constant prefix is computed once and carried into
the rows (CRC16 continues from any state).
"""

from __future__ import annotations

from binascii import crc_hqx
from typing import cast

import numpy as np
import pyarrow as pa
from redis.crc import key_slot

from feature_store.online.writes.arrow_strings import string_offsets

SLOTS = 16384
OPEN, CLOSE = ord("{"), ord("}")
__all__ = ["SLOTS", "key_slot", "key_slots"]


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        table[byte] = crc_hqx(bytes([byte]), 0)  # CRC16/XMODEM of one byte from state 0
    return table


TABLE = _crc_table()


def _id_matrix(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(rows x longest id) bytes, zero-padded, and each id's length."""
    if ids.null_count:
        raise ValueError("an entity id is null: no Redis key")
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise TypeError(f"entity ids must be strings, not {ids.type}")
    _, _, data_buffer = ids.buffers()
    offsets = string_offsets(ids)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(1, np.uint8)
    if not len(data):
        data = np.zeros(1, np.uint8)
    lengths = offsets[1:] - offsets[:-1]
    longest = int(lengths.max()) if len(lengths) else 0
    columns = np.arange(longest, dtype=np.int64)
    matrix = data[np.minimum(offsets[:-1, None] + columns, len(data) - 1)]
    matrix[columns >= lengths[:, None]] = 0
    return matrix, lengths


def _crc_rows(matrix: np.ndarray, state: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Continue each row's CRC `state` over `length` bytes of its row from column `start`."""
    if start.any():  # some rows hash a tag: shift each row so its hashed bytes start at column 0
        columns = np.minimum(start[:, None] + np.arange(matrix.shape[1]), matrix.shape[1] - 1)
        matrix = np.take_along_axis(matrix, columns, axis=1)
    by_column = np.ascontiguousarray(matrix.T).astype(np.uint32)
    crc = state.astype(np.uint32)
    for step in range(int(length.max()) if len(length) else 0):
        stepped = ((crc << 8) & 0xFFFF) ^ TABLE[(crc >> 8) ^ by_column[step]]
        crc = np.where(step < length, stepped, crc)
    return crc


def _first(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether `mask` has a True, and the first column where it does."""
    return cast(np.ndarray, mask.any(axis=1)), mask.argmax(axis=1)  # numpy's stubs allow a scalar for any axis


def key_slots(prefix: str | bytes, ids: pa.Array) -> np.ndarray:
    """The slot of `prefix + id` for every id of an Arrow string array (uint16, one per id)."""
    head = prefix.encode() if isinstance(prefix, str) else prefix
    count = len(ids)
    if count == 0:
        return np.zeros(0, dtype=np.uint16)
    opening = head.find(b"{")
    if opening >= 0 and head.find(b"}", opening + 1) > opening + 1:  # the prefix's own tag decides every key
        return np.full(count, key_slot(head), dtype=np.uint16)
    matrix, lengths = _id_matrix(ids)
    columns = np.arange(matrix.shape[1])
    whole = np.full(count, crc_hqx(head, 0), dtype=np.uint32)  # no tag: the whole key, prefix state carried
    state, start, length = whole.copy(), np.zeros(count, np.int64), lengths.copy()
    if opening >= 0 and head.find(b"}", opening + 1) < 0:
        # A tag opened in the prefix: it closes at the id's first `}` (and must not be empty).
        tail = head[opening + 1:]
        has_close, close = _first(matrix == CLOSE)
        tagged = has_close & ((close > 0) | (len(tail) > 0))
        state = np.where(tagged, crc_hqx(tail, 0), state)
        length = np.where(tagged, close, length)
    elif opening < 0:
        has_open, first_open = _first(matrix == OPEN)
        if has_open.any():
            after_open = columns[None, :] > first_open[:, None]
            has_close, close = _first((matrix == CLOSE) & after_open & has_open[:, None])
            tagged = has_open & has_close & (close > first_open + 1)
            state = np.where(tagged, 0, state)
            start = np.where(tagged, first_open + 1, start)
            length = np.where(tagged, close - first_open - 1, length)
    # (an empty `{}` in the prefix: no tag at all, every key hashes whole)
    return (_crc_rows(matrix, state, start, length) % SLOTS).astype(np.uint16)
