"""Bulk writes into Redis: rows rendered as RESP by DuckDB, streamed per node, applied atomically per key."""
