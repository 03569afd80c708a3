"""The buffers of an Arrow string array read in place: its offsets and its bytes, without a copy.

The sync's writes and the cluster's slot computation both work on a column's
bytes directly (a batch of ready-made commands, a batch of ids); this is the
one reader of Arrow's string layout they share.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def string_offsets(strings: pa.Array) -> np.ndarray:
    """Where each string starts in the data buffer, and where the last ends (len + 1 values, int64)."""
    _, offsets_buffer, _ = strings.buffers()
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    return np.frombuffer(offsets_buffer, dtype=width)[strings.offset:strings.offset + len(strings) + 1].astype(
        np.int64)


def string_data(strings: pa.Array) -> memoryview:
    """The bytes of every string of the array, back to back."""
    _, _, data = strings.buffers()
    offsets = string_offsets(strings)
    return memoryview(data if data is not None else b"")[int(offsets[0]):int(offsets[-1])]
