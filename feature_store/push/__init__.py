"""Push ingestion: rows sent to a push-fed view, checked against the registry, kept in the view's
durable push log (which its dbt model reads) and written to Redis without ever going backwards.

Nothing here imports DuckDB or pyarrow, so the API process can push; the offline side of the log
(compaction into Parquet, reading it) is `feature_store.offline.push_log`.
"""
