"""The offline store: DuckDB over each feature view's Parquet history.

`connection` is the one DuckDB connection factory; `schema` finds each view's
Parquet files and checks their columns against the registry; `history` reads
latest rows and fingerprints; `history_layout` and `group_keys` let an appended
history be read in part; `training_set` and `training_compile` are offline
retrieval (point-in-time training sets), `macro_render` renders dbt macros from
the manifest for them.
"""
