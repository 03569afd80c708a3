"""Data monitoring: per-sync statistics of every feature, drift against a reference, schema changes.

Plain data and arithmetic only (no DuckDB, no Redis), so the sync that computes the
figures and the API that serves them share one definition.
"""
