"""The sync: dbt manifest -> feature registry -> latest rows from Parquet -> Redis."""
