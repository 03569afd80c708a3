"""The feature store's core, one package per component the sync and the API share.

- `registry/`: what a feature is (frozen dataclasses, their JSON in Redis, context
  templates) and, apart, how it is read from dbt's manifest and checked;
- `offline/`: DuckDB over the Parquet history: latest rows, the history layout,
  and point-in-time training sets;
- `online/`: Redis: the key layout and text forms, one client factory, the
  writers and the reader, and the embedded servers for development.

`sync/` (materialization) and `api/` (retrieval) are built on these; neither
imports the other, and the API never imports `offline`.
"""
