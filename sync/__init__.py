"""The materialization: the registry from dbt's manifest -> latest rows from the Parquet history -> Redis.

The command line (`cli`), one run (`materialize`), one view's share (`view_sync`)
and its workers, the diff against what was pushed (`changes`, `record`), the
quality gate, `verify` and progress.
"""
